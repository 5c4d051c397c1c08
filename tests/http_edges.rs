//! The HTTP edge, through real sockets on 127.0.0.1: malformed queries get `400` with a reason
//! naming the parameter, other methods `405` with `Allow`, HEAD answers like GET, conditional
//! GETs follow RFC 9110 (entity-tag lists, the three HTTP-date forms), Accept-Encoding follows
//! q-values, a search past its time budget gets `503` with `Retry-After`, a request without a
//! render slot gets `503`, `/healthz` and cached feeds answer while renders are held on the
//! blocking pool, and a client that trickles its request head is cut off.
//!
//! Requests are written by hand over `std::net::TcpStream` so the tests control every byte
//! (repeated header lines, `%zz`, methods a client library would refuse).

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use actix_web::web;
use chrono::{DateTime, TimeZone, Utc};
use headwire::config::Config;
use headwire::normalize::Observed;
use headwire::server::{self, AppState};
use headwire::store::{BatchContext, Store};
use headwire::text::title_key;

/// 2022-03-13 06:00 UTC: the server's clock.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 13, 6, 0, 0).unwrap()
}

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
base_url = "http://127.0.0.1:9/"

[[source]]
id = "portal"
name = "Portal"

[[source.section]]
id = "politics"
name = "时政"
url = "http://127.0.0.1:9/politics/"
item = "li"
title = "a"
"#;

/// A server over a store holding `ITEMS` items of `portal/politics`.
struct Server {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

const ITEMS: usize = 12;

fn fill(store: &Store) {
    let batch: Vec<Observed> = (0..ITEMS)
        .map(|n| {
            let title = format!("上海新增病例 第{n}条");
            Observed {
                identity: format!("link:example.cn/{n}.html"),
                link: Some(format!("https://example.cn/{n}.html")),
                title_key: title_key(&title),
                title,
                summary: None,
                author: None,
                image: None,
                guid: None,
                published: Some(now() - chrono::Duration::minutes(10 * n as i64 + 10)),
                page_labels: vec![],
            }
        })
        .collect();
    let ctx = BatchContext {
        source_id: "portal",
        section_key: "portal/politics",
        section_name: "时政",
        title_window: Some(chrono::Duration::hours(48)),
        now: now(),
    };
    let outcome = store.apply_batch_deferred(&ctx, &batch).unwrap();
    assert_eq!(outcome.new, ITEMS);
}

impl Server {
    async fn start(adjust: impl FnOnce(AppState) -> AppState) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        let config = Arc::new(Config::parse(CONFIG, &path).unwrap());
        let store = Arc::new(Store::temporary().unwrap());
        fill(&store);
        let clock: headwire::clock::Clock = Arc::new(now);
        let state = web::Data::new(adjust(AppState::new(config, store, clock)));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = server::build(state, listener).unwrap();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Server {
            addr,
            handle,
            task,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.task.await;
    }

    /// Sends `method target` with extra header lines and `Connection: close`.
    async fn send(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("Connection: close\r\n\r\n");
        exchange(self.addr, request.into_bytes()).await
    }

    async fn get(&self, target: &str) -> Reply {
        self.send("GET", target, &[]).await
    }

    async fn get_with(&self, target: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", target, headers).await
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Writes `request`, reads until the server closes, parses status, headers and body.
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> Reply {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        parse_reply(&raw)
    })
    .await
    .unwrap()
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let mut headers = HashMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Reply {
        status: status.parse().unwrap(),
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

const ROUTES: [&str; 8] = [
    "/feed.rss",
    "/feed.atom",
    "/feed.json",
    "/",
    "/opml",
    "/api/status",
    "/healthz",
    "/metrics",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries_answer_400_with_a_reason_naming_the_parameter() {
    let s = Server::start(|state| state).await;
    for (target, names) in [
        ("/feed.atom?section=%zz", &["`section`", "`%zz`"][..]),
        ("/feed.atom?section=ab%f", &["`section`", "`%f`"]),
        ("/feed.rss?q=x%", &["`q`", "`%`"]),
        ("/feed.json?section=%ff", &["`section`", "UTF-8"]),
        ("/feed.atom?q=%E6%97", &["`q`", "UTF-8"]),
        ("/feed.atom?sec%zztion=a", &["name `sec%zztion`"]),
        (
            "/feed.atom?limit=99999999999999999999",
            &["`limit=99999999999999999999`"],
        ),
        (
            "/feed.atom?limit=%EF%BC%95",
            &["`limit=５`", "ASCII digits"],
        ),
        ("/feed.atom?limit=5&limit=6", &["`limit`", "more than once"]),
        ("/feed.atom?token=a&token=b", &["`token`", "more than once"]),
        ("/feed.atom?utm_source=x", &["`utm_source`"]),
        ("/feed.atom?Section=politics", &["`Section`"]),
        ("/feed.atom?source=nope", &["`source=nope`"]),
        ("/feed.atom?source=a%0Ab", &["`source=a\\nb`"]),
        ("/?foo=1", &["`foo`", "only token"]),
        ("/opml?token=%zz", &["`token`", "`%zz`"]),
        ("/api/status?token=%C0%AF", &["`token`", "UTF-8"]),
    ] {
        let reply = s.get(target).await;
        assert_eq!(reply.status, 400, "{target}: {}", reply.text());
        let text = reply.text();
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "{target}: one line: {text:?}"
        );
        for name in names {
            assert!(text.contains(name), "{target}: {name} in {text:?}");
        }
        assert!(reply.header("content-type").starts_with("text/plain"));
    }
    // The same feed, well formed, is served; a 400 is never cached in its place.
    assert_eq!(
        s.get("/feed.atom?section=%E6%97%B6%E6%94%BF").await.status,
        200
    );
    assert_eq!(s.get("/feed.atom?section=%zz").await.status, 400);
    assert_eq!(s.get("/feed.atom?limit=5").await.status, 200);
    assert_eq!(s.get("/?").await.status, 200, "an empty query is no query");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_answer_405_with_allow_and_head_answers_like_get() {
    let s = Server::start(|state| state).await;
    for route in ROUTES {
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"] {
            let reply = s.send(method, route, &[("Content-Length", "0")]).await;
            assert_eq!(reply.status, 405, "{method} {route}");
            assert_eq!(reply.header("allow"), "GET, HEAD", "{method} {route}");
            let text = reply.text();
            assert!(text.contains(method) && text.contains(route), "{text}");
        }
        let get = s.get(route).await;
        let head = s.send("HEAD", route, &[]).await;
        assert_eq!(get.status, 200, "GET {route}");
        assert_eq!(head.status, 200, "HEAD {route}");
        assert!(head.body.is_empty(), "HEAD {route} has no body");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{route}"
        );
    }
    // Unknown paths stay 404, whatever the method.
    assert_eq!(s.get("/nope").await.status, 404);
    assert_eq!(s.send("POST", "/nope", &[]).await.status, 404);
    assert_eq!(s.get("/feed.xml").await.status, 404);
    s.stop().await;
}

/// `t` in RFC 850 form (`Sunday, 13-Mar-22 06:00:00 GMT`) and asctime form.
fn rfc850(t: DateTime<Utc>) -> String {
    t.format("%A, %d-%b-%y %H:%M:%S GMT").to_string()
}

fn asctime(t: DateTime<Utc>) -> String {
    t.format("%a %b %e %H:%M:%S %Y").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_gets_follow_rfc_9110() {
    let s = Server::start(|state| state).await;
    let path = "/feed.atom?limit=5";
    let first = s.get(path).await;
    assert_eq!(first.status, 200);
    let etag = first.header("etag").to_string();
    let opaque = etag.trim_matches('"').to_string();
    let last_modified = first.header("last-modified").to_string();
    let modified = DateTime::parse_from_rfc2822(&last_modified)
        .unwrap()
        .with_timezone(&Utc);

    let status = |headers: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let borrowed: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            s.get_with(path, &borrowed).await.status
        }
    };
    let inm = |v: String| vec![("If-None-Match", v)];
    // Entity-tag lists: weak comparison, commas inside quotes, `*`, empty elements.
    assert_eq!(status(inm(etag.clone())).await, 304);
    assert_eq!(status(inm(format!("W/{etag}"))).await, 304);
    assert_eq!(status(inm(format!("\"a,b\", {etag}"))).await, 304);
    assert_eq!(status(inm(format!(" ,, \"x\" ,{etag},"))).await, 304);
    assert_eq!(status(inm("*".into())).await, 304);
    assert_eq!(status(inm(format!("\"{opaque},x\""))).await, 200);
    assert_eq!(status(inm(format!("\"x,{opaque}\""))).await, 200);
    assert_eq!(status(inm("\"other\"".into())).await, 200);
    // Garbage is ignored in the safe direction: a full answer.
    assert_eq!(status(inm(opaque.clone())).await, 200);
    assert_eq!(status(inm(format!("{etag} junk"))).await, 200);
    assert_eq!(status(inm(format!("*, {etag}"))).await, 200);
    // Two field lines are one list.
    let two = vec![
        ("If-None-Match", "\"x\"".to_string()),
        ("If-None-Match", etag.clone()),
    ];
    assert_eq!(status(two).await, 304);

    // The three HTTP-date forms.
    let ims = |v: String| vec![("If-Modified-Since", v)];
    for form in [last_modified.clone(), rfc850(modified), asctime(modified)] {
        assert_eq!(status(ims(form.clone())).await, 304, "{form}");
    }
    let earlier = modified - chrono::Duration::seconds(1);
    for form in [
        earlier.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        rfc850(earlier),
        asctime(earlier),
    ] {
        assert_eq!(status(ims(form.clone())).await, 200, "{form}");
    }
    for garbage in [
        "yesterday".to_string(),
        modified.to_rfc2822(),
        format!("{last_modified}, {last_modified}"),
        "Sun, 99 Mar 2022 06:00:00 GMT".into(),
    ] {
        assert_eq!(status(ims(garbage.clone())).await, 200, "{garbage}");
    }
    // If-None-Match decides alone when present (RFC 9110 §13.2.2).
    let both = vec![
        ("If-None-Match", "\"other\"".to_string()),
        ("If-Modified-Since", last_modified.clone()),
    ];
    assert_eq!(status(both).await, 200);

    // Accept-Encoding q-values.
    for (accept, coding) in [
        ("br;q=0.1, gzip", "gzip"),
        ("gzip, br", "br"),
        ("identity;q=0", ""),
        ("gzip;q=0", ""),
        ("*;q=0.5, br;q=0", "gzip"),
        ("br;q=2", ""),
        ("garbage;;;==,;q=,", ""),
    ] {
        let reply = s.get_with(path, &[("Accept-Encoding", accept)]).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-encoding"), coding, "{accept:?}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_past_its_budget_answers_503_with_retry_after() {
    let s = Server::start(|state| state.with_feed_budget(Duration::ZERO)).await;
    let reply = s.get("/feed.atom?q=%E4%B8%8A%E6%B5%B7").await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("retry-after"),
        server::RETRY_AFTER_SECS.to_string()
    );
    let text = reply.text();
    assert_eq!(
        text,
        "the search ran out of its 0 ms time budget after examining 0 items; \
         narrow it with section= or since=\n"
    );
    // Not cached: the same request runs (and fails) again, and is counted each time.
    assert_eq!(s.get("/feed.atom?q=%E4%B8%8A%E6%B5%B7").await.status, 503);
    let metrics = s.get("/metrics").await.text();
    assert!(
        metrics.contains("headwire_feed_over_budget_total 2\n"),
        "{metrics}"
    );
    // Other routes are unaffected.
    assert_eq!(s.get("/healthz").await.status, 200);
    assert_eq!(s.get("/api/status").await.status, 200);
    s.stop().await;
}

/// A gate renders wait at while it is closed, counting how many are waiting.
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
    waiting: AtomicUsize,
}

impl Gate {
    fn hook(self: &Arc<Self>) -> server::RenderHook {
        let gate = self.clone();
        Arc::new(move || {
            let mut closed = gate.closed.lock().unwrap();
            gate.waiting.fetch_add(1, Ordering::SeqCst);
            while *closed {
                closed = gate.opened.wait(closed).unwrap();
            }
            gate.waiting.fetch_sub(1, Ordering::SeqCst);
        })
    }

    fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.opened.notify_all();
    }

    async fn wait_for(&self, n: usize) {
        let started = Instant::now();
        while self.waiting.load(Ordering::SeqCst) < n {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "only {} renders reached the gate",
                self.waiting.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_cached_feeds_answer_while_renders_are_held() {
    let gate = Arc::new(Gate::default());
    let hook = gate.hook();
    let s = Server::start(move |state| {
        state
            .with_render_hook(hook)
            .with_render_slots(1, 8, Duration::from_secs(60))
    })
    .await;
    assert_eq!(s.get("/feed.atom?limit=3").await.status, 200, "cached now");

    gate.set(true);
    // More held renders than the server has workers (two to eight).
    let held = 8;
    let mut renders = Vec::new();
    for limit in 10..10 + held {
        let addr = s.addr;
        let request =
            format!("GET /feed.rss?limit={limit} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        renders.push(tokio::spawn(exchange(addr, request.into_bytes())));
    }
    // And searches beyond their one slot: one is held, the other queues.
    for word in ["a", "b"] {
        let request =
            format!("GET /feed.json?q={word} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        renders.push(tokio::spawn(exchange(s.addr, request.into_bytes())));
    }
    gate.wait_for(held + 1).await;

    for target in ["/healthz", "/feed.atom?limit=3", "/metrics"] {
        let started = Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(5), s.get(target))
            .await
            .unwrap_or_else(|_| panic!("{target} stalled behind held renders"));
        assert_eq!(reply.status, 200, "{target}");
        assert!(started.elapsed() < Duration::from_secs(2), "{target}");
    }
    // The index and status pages read the store on the blocking pool too.
    assert_eq!(s.get("/").await.status, 200);
    assert_eq!(s.get("/api/status").await.status, 200);
    let metrics = s.get("/metrics").await.text();
    assert!(
        metrics.contains("headwire_feed_busy_total 0\n"),
        "{metrics}"
    );
    assert_eq!(
        gate.waiting.load(Ordering::SeqCst),
        held + 1,
        "the second search waits for the only search slot"
    );

    gate.set(false);
    for render in renders {
        assert_eq!(render.await.unwrap().status, 200);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_free_render_slot_answers_503() {
    let gate = Arc::new(Gate::default());
    let hook = gate.hook();
    let s = Server::start(move |state| {
        state
            .with_render_hook(hook)
            .with_render_slots(1, 1, Duration::from_millis(200))
    })
    .await;
    gate.set(true);
    let held = tokio::spawn(exchange(
        s.addr,
        b"GET /feed.atom?limit=7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    ));
    gate.wait_for(1).await;
    let reply = s.get("/feed.atom?limit=8").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.header("retry-after"),
        server::RETRY_AFTER_SECS.to_string()
    );
    assert_eq!(
        reply.text(),
        "the server is busy: all 1 feed render slots stayed taken for 200 ms; retry shortly\n"
    );
    gate.set(false);
    assert_eq!(held.await.unwrap().status, 200);
    assert_eq!(s.get("/feed.atom?limit=8").await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_do_not_starve_healthz() {
    let s = Server::start(|state| state).await;
    // Idle sockets and sockets trickling a request head.
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut stream = TcpStream::connect(s.addr).unwrap();
        if i % 2 == 0 {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
        }
        idle.push(stream);
    }
    let started = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(3), s.get("/healthz"))
        .await
        .expect("/healthz stalled behind idle connections");
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() < Duration::from_secs(2));

    // A trickled head is cut off once the request timeout passes.
    let mut slow = TcpStream::connect(s.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let closed = tokio::task::spawn_blocking(move || {
        let mut raw = Vec::new();
        let _ = slow.read_to_end(&mut raw);
        raw
    })
    .await
    .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= server::CLIENT_REQUEST_TIMEOUT - Duration::from_millis(500)
            && waited < server::CLIENT_REQUEST_TIMEOUT + Duration::from_secs(5),
        "closed after {waited:?}"
    );
    let text = String::from_utf8_lossy(&closed);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    drop(idle);
    s.stop().await;
}
