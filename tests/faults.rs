//! Black-box fault suite: the real `headwire` binary against fixture servers on 127.0.0.1 that
//! misbehave (hang, trickle, 5xx, 404, redirect loops, oversized and compressed-bomb bodies,
//! truncated bodies, random bytes, deep nesting, entity bombs, external entities, a page of
//! 100,000 items), hostile content (script, `]]>`, control characters, bidi overrides,
//! `javascript:`/`data:` links, 1 MB fields), HTTP abuse (huge and malformed queries, odd methods,
//! many idle and slow connections) and SIGKILL during polling followed by `store verify`.
//!
//! For each: the faulty section's error is recorded (in `poll --once` output and
//! `/api/status`), healthy sections in the same config still land, memory stays bounded
//! (peak RSS read from `/proc/<pid>/status`), and nothing reported stored is lost.
//!
//! Assertions marked `// needs: …` cover behaviour that lands with other branches; those marked
//! `// bug: …` fail today on bugs this suite found; every other assertion holds today and must
//! keep holding. Timeouts are configured small (2 s) so the
//! suite never waits on wall-clock luck: every bound asserted is generous.

mod common;
mod faults_support;
mod serving_support;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{list_page, Story};
use faults_support::*;
use serving_support::{assert_inert_html, assert_well_formed_xml};

/// Peak RSS allowed for any `poll --once` in this suite.
const PEAK_RSS_LIMIT_KIB: u64 = 200 * 1024;
/// No served title or summary may come near the 1 MB the hostile source sends.
const FIELD_BOUND: usize = 100_000;
/// The generous bound for `/healthz` under load (it answers in milliseconds when healthy).
const HEALTHZ_BOUND: Duration = Duration::from_secs(2);
const POLL_LIMIT: Duration = Duration::from_secs(60);

// ---- pages -------------------------------------------------------------------------------------

/// An hour ago: fixture stories must be recent, or `serve`'s start-up retention sweep (30 days by
/// published time) deletes them before the test looks.
fn recent() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::hours(1)
}

/// [`recent`] as a portal prints it in the sources' zone (Asia/Shanghai, UTC+8).
fn recent_time() -> String {
    (recent() + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A guancha-style list page with `n` stories whose links and titles carry `tag`.
fn page(tag: &str, n: usize) -> String {
    let stories: Vec<Story> = (0..n)
        .map(|i| {
            Story::new(
                &format!("{tag} 新闻 {i}"),
                &format!("/a/{tag}-{i}.html"),
                &recent_time(),
            )
        })
        .collect();
    list_page(tag, &stories)
}

fn titles(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag} 新闻 {i}")).collect()
}

/// An RSS 2.0 document; `doctype` goes before the root, `items` inside the channel.
fn rss(base: &str, doctype: &str, items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{doctype}\n<rss version=\"2.0\"><channel>\
         <title>fixture</title><link>{base}/</link><description>fixture</description>\
         {items}</channel></rss>"
    )
}

fn rss_item(title: &str, link: &str, extra: &str) -> String {
    format!(
        "<item><title>{title}</title><link>{link}</link>{extra}\
         <pubDate>{}</pubDate></item>",
        recent().to_rfc2822()
    )
}

/// Items of `/feed.json?limit=500` as title → item.
fn json_items(served: &Served) -> HashMap<String, serde_json::Value> {
    let response = served.fetch("/feed.json?limit=500");
    assert_eq!(response.status, 200, "/feed.json: {}", response.text());
    let doc: serde_json::Value =
        serde_json::from_slice(&response.body).expect("/feed.json is JSON");
    doc["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|item| {
            (
                item["title"].as_str().unwrap_or_default().to_string(),
                item.clone(),
            )
        })
        .collect()
}

fn assert_peak_bounded(run: &Run, what: &str) {
    assert!(
        run.peak_kib > 0,
        "{what}: no VmHWM sample (is /proc mounted?)"
    );
    assert!(
        run.peak_kib < PEAK_RSS_LIMIT_KIB,
        "{what}: peak RSS {} MiB over {} MiB",
        run.peak_kib / 1024,
        PEAK_RSS_LIMIT_KIB / 1024
    );
}

// ---- faulty sources ----------------------------------------------------------------------------

/// What a faulty section must end as.
#[derive(Debug)]
enum Expect {
    /// The section's error, with its kind (`*`: any kind) and a part of its message.
    Error(&'static str, &'static str),
    /// The section lands exactly this many items.
    Lands(usize),
}

struct Fault {
    id: &'static str,
    feed: bool,
    reply: Reply,
    expect: Expect,
}

const MIB: usize = 1024 * 1024;

fn deeply_nested(levels: usize) -> String {
    let mut html = String::from("<!DOCTYPE html><html><body>");
    html.push_str(&"<div>".repeat(levels));
    html.push_str(&page("deep", 3));
    html.push_str(&"</div>".repeat(levels));
    html.push_str("</body></html>");
    html
}

fn entity_bomb(base: &str) -> String {
    let mut doctype = String::from("<!DOCTYPE rss [\n<!ENTITY lol0 \"lol\">\n");
    for level in 1..=9 {
        let refs = format!("&lol{};", level - 1).repeat(10);
        doctype.push_str(&format!("<!ENTITY lol{level} \"{refs}\">\n"));
    }
    doctype.push(']');
    doctype.push('>');
    let items = rss_item("Bomb &lol9;", &format!("{base}/bomb/1.html"), "")
        + &rss_item("Bomb plain", &format!("{base}/bomb/2.html"), "");
    rss(base, &doctype, &items)
}

fn xxe(base: &str, secret: &std::path::Path) -> String {
    let doctype = format!(
        "<!DOCTYPE rss [\n<!ENTITY passwd SYSTEM \"file:///etc/passwd\">\n\
         <!ENTITY secret SYSTEM \"file://{}\">\n<!ENTITY % remote SYSTEM \"file://{}\">\n%remote;\n]>",
        secret.display(),
        secret.display()
    );
    let items = rss_item(
        "XXE &passwd; &secret;",
        &format!("{base}/xxe/1.html"),
        "<description>&passwd;&secret;</description>",
    );
    rss(base, &doctype, &items)
}

/// Invalid UTF-8 inside otherwise good markup, declared as UTF-8.
fn bad_utf8_page() -> Vec<u8> {
    let html = page("badutf", 3);
    let at = html.find("badutf 新闻 1").expect("a title to break");
    let mut bytes = html.into_bytes();
    bytes.splice(at..at, [0xff, 0xfe, 0xc3, 0x28, 0xa0]);
    bytes
}

/// A chunked body cut off mid-chunk (no terminating chunk), then the connection closes.
fn truncated_chunked(body: &[u8]) -> Vec<u8> {
    let mut out = faults_support::head(
        200,
        &[
            ("Content-Type", "text/html; charset=utf-8".to_string()),
            ("Transfer-Encoding", "chunked".to_string()),
        ],
    );
    out.extend_from_slice(format!("{:x}\r\n", body.len() + 5000).as_bytes());
    out.extend_from_slice(body);
    out
}

fn faults(fixture: &Fixture, secret: &std::path::Path) -> Vec<Fault> {
    let base = &fixture.base;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let random = rng.bytes(64 * 1024);
    let unit = page("huge", 3).into_bytes();
    let oversized = unit.repeat(9 * MIB / unit.len() + 1);
    assert!(oversized.len() > 9 * MIB, "over the 8 MiB cap");
    let fault = |id, feed, reply, expect| Fault {
        id,
        feed,
        reply,
        expect,
    };
    vec![
        fault(
            "hang",
            false,
            Reply::Hang,
            Expect::Error("timeout", "request took longer than 2s"),
        ),
        fault(
            "trickle",
            false,
            Reply::trickle(page("trickle", 3).as_bytes(), Duration::from_secs(1)),
            Expect::Error("timeout", "request took longer than 2s"),
        ),
        fault(
            "status-500",
            false,
            Reply::status(500, &[]),
            Expect::Error("http", "http status 500"),
        ),
        fault(
            "status-503",
            false,
            Reply::status(503, &[("Retry-After", "120".into())]),
            Expect::Error("http", "http status 503 (retry after 120s)"),
        ),
        fault(
            "not-found",
            false,
            Reply::status(404, &[]),
            Expect::Error("http", "http status 404"),
        ),
        fault(
            "redirect-loop",
            false,
            Reply::redirect(&format!("{base}/redirect-loop")),
            Expect::Error("redirect", "more than 5 redirects"),
        ),
        fault(
            "oversized",
            false,
            Reply::html(&oversized),
            Expect::Error("too-large", "body over 8388608 bytes"),
        ),
        fault(
            "oversized-chunked",
            false,
            Reply::chunked("text/html; charset=utf-8", &oversized),
            Expect::Error("too-large", "body over 8388608 bytes"),
        ),
        fault(
            "gzip-bomb",
            false,
            Reply::gzip_bomb(256 * MIB),
            Expect::Error("too-large", "body over 8388608 bytes"),
        ),
        fault(
            "truncated",
            false,
            Reply::truncated(page("truncated", 3).as_bytes(), 100_000),
            Expect::Error("truncated", "end of file before message length reached"),
        ),
        fault(
            "random-html",
            false,
            Reply::full(200, "text/html", &random),
            Expect::Error("selector", "selector matched nothing"),
        ),
        fault(
            "random-feed",
            true,
            Reply::full(200, "application/rss+xml", &random),
            Expect::Error("feed", ""),
        ),
        fault(
            "bad-utf8",
            false,
            Reply::html(bad_utf8_page()),
            Expect::Lands(3),
        ),
        fault(
            "entity-bomb",
            true,
            Reply::rss(entity_bomb(base)),
            Expect::Lands(2),
        ),
        fault("xxe", true, Reply::rss(xxe(base, secret)), Expect::Lands(1)),
        fault(
            "truncated-chunked",
            false,
            Reply::Raw(Arc::new(truncated_chunked(page("cut", 3).as_bytes()))),
            Expect::Error("truncated", "body"),
        ),
        fault(
            "deep-json",
            true,
            Reply::full(
                200,
                "application/feed+json",
                format!(
                    "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"x\",\"items\":[{}]}}",
                    "[".repeat(100_000)
                )
                .as_bytes(),
            ),
            Expect::Error("feed", ""),
        ),
        fault(
            "deep-xml",
            true,
            Reply::rss(rss(
                base,
                "",
                &rss_item(
                    "Deep XML",
                    &format!("{base}/deepxml/1.html"),
                    &format!("{}{}", "<x>".repeat(100_000), "</x>".repeat(100_000)),
                ),
            )),
            // Refused whole, with the reason: no feed nests that deep, and the XML reader's
            // depth counter would overflow.
            Expect::Error("feed", "levels deep"),
        ),
    ]
}

/// Every fault in one config next to two healthy sections: each fault is recorded with its
/// kind and message, in `poll --once` output and in `/api/status`; the healthy sections land
/// and are served; the run stays under the memory bound; nothing leaks from external entities.
#[test]
fn faulty_sources_record_their_error_and_healthy_sections_land() {
    let fixture = Fixture::start();
    let secrets = tempfile::tempdir().expect("temp dir");
    let secret_path = secrets.path().join("secret.txt");
    let secret = "HEADWIRE-XXE-SECRET-5f2c9a";
    std::fs::write(&secret_path, secret).expect("write the secret");
    let passwd_line = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| p.lines().next().map(str::to_string))
        .filter(|l| l.len() > 8);

    fixture.set("/healthy/", Reply::html(page("healthy", 3)));
    let base = fixture.base.clone();
    fixture.set(
        "/healthy.xml",
        Reply::rss(rss(
            &base,
            "",
            &(rss_item("Healthy feed one", &format!("{base}/hf/1.html"), "")
                + &rss_item("Healthy feed two", &format!("{base}/hf/2.html"), "")),
        )),
    );
    let faults = faults(&fixture, &secret_path);
    let mut sources = source("healthy", &fixture)
        + &html_section("page", &fixture, "/healthy/", "")
        + &feed_section("feed", &fixture, "/healthy.xml", "")
        + &source("faulty", &fixture);
    for fault in &faults {
        let path = format!("/{}", fault.id);
        sources += &if fault.feed {
            feed_section(fault.id, &fixture, &path, "")
        } else {
            html_section(fault.id, &fixture, &path, "")
        };
        fixture.set(&path, fault.reply.clone());
    }
    let site = Site::new(&config_text(&sources));
    let keys = section_keys(&site.config);

    let run = site.poll_once(POLL_LIMIT);
    println!(
        "faulty sources: poll --once took {:?}, peak RSS {} MiB",
        run.run.elapsed,
        run.run.peak_kib / 1024
    );
    assert!(
        run.run.status.success(),
        "some sections succeeded, so poll --once exits 0: {:?}\n{}\n{}",
        run.run.status,
        run.run.stdout,
        run.run.stderr
    );
    run.assert_complete(&keys);
    assert_eq!(run.found("healthy/page"), (3, 3));
    assert_eq!(run.found("healthy/feed"), (2, 2));
    let mut wrong = Vec::new();
    for fault in &faults {
        let key = format!("faulty/{}", fault.id);
        let line = run.line(&key);
        let ok = match (&fault.expect, line) {
            (Expect::Error(kind, part), Line::Error { kind: k, message }) => {
                (*kind == "*" || k == kind) && message.contains(part)
            }
            (Expect::Lands(n), Line::Found { found, new }) => found == n && new == n,
            _ => false,
        };
        if !ok {
            wrong.push(format!("{key}: expected {:?}, got {line:?}", fault.expect));
        }
    }
    assert!(
        wrong.is_empty(),
        "poll --once output:\n{}\n{}",
        wrong.join("\n"),
        run.run.stdout
    );
    assert_peak_bounded(&run.run, "poll --once over every fault");
    for leaked in [Some(secret.to_string()), passwd_line.clone()]
        .into_iter()
        .flatten()
    {
        assert!(
            !run.run.stdout.contains(&leaked) && !run.run.stderr.contains(&leaked),
            "poll output leaks {leaked}"
        );
    }

    // The same story in /api/status, and the healthy items in every feed format.
    let served = site.serve();
    let status = served.status();
    for fault in &faults {
        let key = format!("faulty/{}", fault.id);
        let entry = section_status(&status, &key);
        match fault.expect {
            Expect::Error(kind, part) => {
                if kind != "*" {
                    assert_eq!(entry["last_error_kind"], kind, "{key}: {entry}");
                }
                let message = entry["last_error"].as_str().unwrap_or_default();
                assert!(message.contains(part), "{key}: {entry}");
                assert_eq!(entry["consecutive_failures"], 1, "{key}: {entry}");
                assert_eq!(entry["items_stored"], 0, "{key}: {entry}");
            }
            Expect::Lands(n) => {
                assert!(entry["last_error"].is_null(), "{key}: {entry}");
                assert_eq!(entry["items_stored"], n, "{key}: {entry}");
            }
        }
    }
    for (key, n) in [("healthy/page", 3), ("healthy/feed", 2)] {
        let entry = section_status(&status, key);
        assert!(entry["last_error"].is_null(), "{key}: {entry}");
        assert_eq!(entry["items_stored"], n, "{key}: {entry}");
        assert!(entry["last_success"].is_string(), "{key}: {entry}");
    }
    let items = json_items(&served);
    for title in titles("healthy", 3)
        .into_iter()
        .chain(["Healthy feed one".into(), "Healthy feed two".into()])
    {
        assert!(items.contains_key(&title), "{title} not served");
    }
    for item in items.values() {
        let title = item["title"].as_str().unwrap_or_default();
        assert!(
            title.len() < 1000,
            "an entity expanded into a title: {} bytes",
            title.len()
        );
    }
    for path in [
        "/feed.rss?limit=500",
        "/feed.atom?limit=500",
        "/feed.json?limit=500",
    ] {
        let body = served.fetch(path).text();
        assert!(
            !body.contains("lollollol"),
            "{path}: an entity bomb expanded"
        );
        for leaked in [Some(secret.to_string()), passwd_line.clone()]
            .into_iter()
            .flatten()
        {
            assert!(!body.contains(&leaked), "{path} leaks {leaked}");
        }
    }
    drop(served);
    site.assert_store_consistent();
}

/// A page nested 100,000 elements deep is parsed in bounded time (it lands, or fails with a
/// recorded error) and the healthy section beside it lands.
///
/// Today this fails: html5ever's scope checks make each `<div>` scan the stack of open
/// elements, so the parse is quadratic (10k levels: ~2 s, 30k: ~12 s in a debug build; 100k
/// takes minutes), and `poll --once` is killed at the limit.
#[test]
fn a_deeply_nested_page_is_parsed_in_bounded_time() {
    let fixture = Fixture::start();
    fixture.set("/deep/", Reply::html(deeply_nested(100_000)));
    fixture.set("/healthy/", Reply::html(page("healthy", 3)));
    let sources = source("n", &fixture)
        + &html_section("deep", &fixture, "/deep/", "")
        + &html_section("healthy", &fixture, "/healthy/", "");
    let site = Site::new(&config_text(&sources));
    let run = site.poll_once(Duration::from_secs(10));
    println!(
        "100k-deep page: poll --once took {:?}, peak RSS {} MiB",
        run.run.elapsed,
        run.run.peak_kib / 1024
    );
    // bug: deeply nested HTML parses in quadratic time (found by this suite; see above)
    assert!(
        !run.run.timed_out,
        "poll --once of a 100k-deep page ran past 10 s (killed)"
    );
    run.assert_complete(&section_keys(&site.config));
    assert_eq!(run.found("n/healthy"), (3, 3));
    match run.line("n/deep") {
        Line::Found { found, .. } => assert_eq!(*found, 3, "{}", run.run.stdout),
        Line::Error { kind, message } => assert!(!kind.is_empty() && !message.is_empty()),
        Line::Unchanged => panic!("a first poll cannot be unchanged"),
    }
    assert_peak_bounded(&run.run, "poll --once of a 100k-deep page");
    site.assert_store_consistent();
}

/// Sections whose pages are expensive to parse and store must not make their small
/// neighbours time out: the neighbours answer after 0.5 s (while the big pages are being
/// processed), well within their 2 s timeout, so any `timeout` on them is the poller's own
/// doing.
///
/// Today this fails in a debug build: parsing and storing run on the async workers, so one
/// big page per worker (20,000 items, ~3 MB) keeps every worker busy for seconds and the
/// small feeds' 2 s request timeouts fire although their bytes are waiting in the socket. (A
/// fixed poller passes whatever the machine's speed: it has 1.5 s to read a 300-byte answer.)
#[test]
fn heavy_pages_do_not_time_out_their_neighbours() {
    let fixture = Fixture::start();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let mut sources = source("w", &fixture);
    for k in 0..workers {
        let path = format!("/heavy{k}/");
        fixture.set(&path, Reply::html(page(&format!("heavy{k}"), 20_000)));
        sources += &html_section(&format!("heavy{k}"), &fixture, &path, "limit = 10000");
    }
    let base = fixture.base.clone();
    for k in 0..3 {
        let path = format!("/small{k}.xml");
        fixture.set(
            &path,
            Reply::rss(rss(
                &base,
                "",
                &rss_item(&format!("small {k}"), &format!("{base}/small/{k}.html"), ""),
            ))
            .late(Duration::from_millis(500)),
        );
        sources += &feed_section(&format!("small{k}"), &fixture, &path, "");
    }
    let site = Site::new(&config_text(&sources));
    let run = site.poll_once(POLL_LIMIT);
    println!(
        "{workers} heavy pages beside 3 small feeds: poll --once took {:?}, peak RSS {} MiB",
        run.run.elapsed,
        run.run.peak_kib / 1024
    );
    run.assert_complete(&section_keys(&site.config));
    for k in 0..workers {
        assert_eq!(run.found(&format!("w/heavy{k}")).0, 10_000);
    }
    let starved: Vec<String> = (0..3)
        .map(|k| format!("w/small{k}"))
        .filter(|key| !matches!(run.line(key), Line::Found { found: 1, new: 1 }))
        .map(|key| format!("{key}: {:?}", run.line(&key)))
        .collect();
    // bug: parsing and storing run on the async workers (found by this suite; see above)
    assert!(
        starved.is_empty(),
        "small feeds starved:\n{}",
        starved.join("\n")
    );
}

/// `poll --once` prints every section and exits non-zero only when every section failed.
#[test]
fn poll_once_fails_only_when_every_section_fails() {
    let fixture = Fixture::start();
    fixture.set("/down", Reply::status(500, &[]));
    fixture.set("/gone", Reply::status(410, &[]));
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let sources = source("dead", &fixture)
        + &html_section("down", &fixture, "/down", "")
        + &html_section("gone", &fixture, "/gone", "")
        + &format!(
            "\n[[source.section]]\nid = \"closed\"\nurl = \"http://127.0.0.1:{closed}/\"\nitem = \"li\"\ntitle = \"a\"\n"
        );
    let site = Site::new(&config_text(&sources));
    let run = site.poll_once(POLL_LIMIT);
    run.assert_complete(&section_keys(&site.config));
    assert_eq!(run.summary, Some((3, 0, 3)));
    assert_eq!(
        run.run.status.code(),
        Some(1),
        "every section failed: {}",
        run.run.stdout
    );
    assert!(matches!(run.line("dead/closed"), Line::Error { kind, .. } if kind == "connect"));
    assert!(
        matches!(run.line("dead/gone"), Line::Error { message, .. } if message.contains("410"))
    );
}

/// A section whose poll fails inside headwire (a panic, injected through the debug-build switch
/// `HEADWIRE_INJECT_PANIC`, as a bug on odd input would) is that section's `internal` error:
/// `poll --once` prints it and counts it failed, `serve` shows it on `/` and `/api/status`,
/// keeps polling it with backoff, and the healthy section beside it lands.
#[test]
fn a_panic_in_one_section_is_its_internal_error_and_the_rest_lands() {
    let fixture = Fixture::start();
    fixture.set("/boom/", Reply::html(page("boom", 3)));
    fixture.set("/healthy/", Reply::html(page("healthy", 3)));
    let sources = source("p", &fixture)
        + &html_section("boom", &fixture, "/boom/", "")
        + &html_section("healthy", &fixture, "/healthy/", "");
    let mut site = Site::new(&config_text(&sources));
    site.env
        .push(("HEADWIRE_INJECT_PANIC".into(), "p/boom".into()));
    let run = site.poll_once(POLL_LIMIT);
    run.assert_complete(&section_keys(&site.config));
    assert_eq!(run.summary, Some((2, 1, 1)), "{}", run.run.stdout);
    assert_eq!(
        run.run.status.code(),
        Some(0),
        "one section still succeeded"
    );
    match run.line("p/boom") {
        Line::Error { kind, message } => {
            assert_eq!(kind, "internal");
            assert!(message.contains("injected panic"), "{message}");
        }
        other => panic!("p/boom: {other:?}"),
    }
    assert_eq!(run.found("p/healthy"), (3, 3));

    // A fresh install under `serve`: every section is first polled within 30 s, the panicking
    // one shows as `internal` on `/api/status` and `/`, the healthy one's items are served.
    let mut fresh = Site::new(&config_text(&sources));
    fresh
        .env
        .push(("HEADWIRE_INJECT_PANIC".into(), "p/boom".into()));
    let served = fresh.serve();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = served.status();
        let boom = section_status(&status, "p/boom");
        let healthy = section_status(&status, "p/healthy");
        if boom["last_error_kind"] == "internal" && healthy["last_found"].as_u64() == Some(3) {
            assert!(
                boom["last_error"]
                    .as_str()
                    .is_some_and(|m| m.contains("injected panic")),
                "{boom}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not poll both sections within 30 s: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let index = served.fetch("/").text();
    assert!(index.contains("internal"), "the index page shows the error");
    let feed = served.fetch("/feed.rss?section=p/healthy").text();
    assert_eq!(feed.matches("<item>").count(), 3, "{feed}");
    assert_eq!(served.fetch("/healthz").status, 200);
}

/// `headwire check` against faulty sources exits non-zero with the reason, bounded in time,
/// and never shows what an external entity points at.
#[test]
fn check_reports_faulty_sources_and_leaks_nothing() {
    let fixture = Fixture::start();
    let secrets = tempfile::tempdir().expect("temp dir");
    let secret_path = secrets.path().join("secret.txt");
    let secret = "HEADWIRE-CHECK-SECRET-77a1";
    std::fs::write(&secret_path, secret).expect("write the secret");
    fixture.set("/hang", Reply::Hang);
    fixture.set("/down", Reply::status(503, &[("Retry-After", "30".into())]));
    fixture.set("/bomb", Reply::gzip_bomb(64 * MIB));
    fixture.set("/loop", Reply::redirect(&fixture.url("/loop")));
    fixture.set("/xxe", Reply::rss(xxe(&fixture.base, &secret_path)));
    let sources = source("c", &fixture)
        + &html_section("hang", &fixture, "/hang", "")
        + &html_section("down", &fixture, "/down", "")
        + &html_section("bomb", &fixture, "/bomb", "")
        + &html_section("loop", &fixture, "/loop", "")
        + &feed_section("xxe", &fixture, "/xxe", "");
    let site = Site::new(&config_text(&sources));
    let cases: [(&str, Option<&str>); 5] = [
        ("c/hang", Some("timeout: request took longer than 2s")),
        ("c/down", Some("http status 503 (retry after 30s)")),
        ("c/bomb", Some("too large")),
        ("c/loop", Some("redirect")),
        ("c/xxe", None),
    ];
    let runs: Vec<(&str, Option<&str>, Run)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(key, expect)| {
                let site = &site;
                scope.spawn(move || (*key, *expect, site.run(&["check", key], POLL_LIMIT)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("check thread"))
            .collect()
    });
    for (key, expect, run) in runs {
        assert!(!run.timed_out, "{key}: check ran past its limit");
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !all.contains(secret),
            "{key}: check shows the secret:\n{all}"
        );
        match expect {
            Some(reason) => {
                assert_eq!(run.status.code(), Some(1), "{key}: {all}");
                assert!(all.contains(reason), "{key}: wanted {reason:?} in\n{all}");
            }
            None => {
                assert!(run.status.success(), "{key}: {all}");
                assert!(all.contains("1 items extracted"), "{key}: {all}");
            }
        }
    }
}

// ---- hostile content ---------------------------------------------------------------------------

fn hostile_html() -> String {
    let li = |href: Option<&str>, title: &str, extra: &str| {
        let a = match href {
            Some(href) => format!("<a href=\"{href}\" {extra}>{title}</a>"),
            None => format!("<a>{title}</a>"),
        };
        format!(
            "<li><h4 class=\"module-title\">{a}</h4>\
             <div class=\"module-interact\"><span>{}</span></div></li>",
            recent_time()
        )
    };
    let long = format!("标题七 {}", "长".repeat(350_000));
    let rows = [
        li(
            Some("/h/1.html"),
            "&lt;script&gt;alert(1)&lt;/script&gt; 标题一",
            "",
        ),
        li(Some("/h/2.html"), "标题二 ]]&gt; 与 ]]> 结束", ""),
        li(
            Some("/h/3.html"),
            "标题三 控制\u{1}\u{7}\u{1b}\u{7f}字符",
            "",
        ),
        li(Some("/h/4.html"), "标题四 \u{202E}txt.exe", ""),
        li(Some("javascript:alert(1)"), "标题五 javascript 链接", ""),
        li(
            Some("data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"),
            "标题六 data 链接",
            "",
        ),
        li(Some("/h/7.html"), &long, ""),
        li(None, "标题八 没有链接", ""),
        li(
            Some("/h/9.html"),
            "标题九 <img src=x onerror=alert(9)><script>alert(9)</script>",
            "onclick=\"alert(9)\"",
        ),
    ];
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><ul class=\"list\">{}</ul></body></html>",
        rows.concat()
    )
}

fn hostile_rss(base: &str) -> String {
    let bad_html = "<![CDATA[<p onclick=\"x()\">hi<script>alert(1)</script>\
        <img src=\"x\" onerror=\"alert(2)\"><a href=\"javascript:alert(3)\">j</a>\
        <a href=\"data:text/html,x\">d</a><iframe src=\"/evil\"></iframe><style>p{}</style></p>]]>";
    let items = [
        rss_item(
            "&lt;script&gt;alert(1)&lt;/script&gt; 条目一",
            &format!("{base}/f/1.html"),
            &format!("<description>{bad_html}</description>"),
        ),
        rss_item(
            "条目二 ]]&gt; 结束",
            &format!("{base}/f/2.html"),
            "<description><![CDATA[before ]]]]><![CDATA[> after]]></description>",
        ),
        rss_item(
            "条目三 javascript 链接",
            "javascript:alert(1)",
            "<guid isPermaLink=\"false\">urn:x:3</guid>",
        ),
        rss_item(
            "条目四 data 链接",
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "<guid isPermaLink=\"false\">urn:x:4</guid>",
        ),
        rss_item(
            &format!("条目五 {}", "长".repeat(350_000)),
            &format!("{base}/f/5.html"),
            "",
        ),
        rss_item(
            "条目六 长摘要",
            &format!("{base}/f/6.html"),
            &format!("<description>{}</description>", "x ".repeat(500_000)),
        ),
        rss_item("条目七 \u{202E}gpj.exe", &format!("{base}/f/7.html"), ""),
    ];
    rss(base, "", &items.concat())
}

fn control_rss(base: &str) -> String {
    rss(
        base,
        "",
        &rss_item(
            "条目八 \u{1}\u{8}控制 &#x1b;字符",
            &format!("{base}/f/8.html"),
            "<description>a\u{1}b &#x7; c</description>",
        ),
    )
}

fn hostile_json(base: &str) -> String {
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "hostile json",
        "items": [
            {
                "id": "j1",
                "url": format!("{base}/j/1.html"),
                "title": "JSON 一 <script>alert(1)</script>",
                "content_html": "<p>x<script>alert(1)</script><a href=\"javascript:alert(2)\">y</a></p>",
                "date_published": recent().to_rfc3339(),
            },
            {
                "id": "j2",
                "url": "javascript:alert(1)",
                "title": format!("JSON 二 {}\u{202E}\u{1}", "长".repeat(350_000)),
                "date_published": recent().to_rfc3339(),
            },
        ],
    })
    .to_string()
}

fn assert_link_is_web(link: &str, what: &str) {
    let url = url::Url::parse(link).unwrap_or_else(|e| panic!("{what}: link {link:?}: {e}"));
    assert!(
        matches!(url.scheme(), "http" | "https"),
        "{what}: link {link:?} is no web link"
    );
}

fn assert_bounded(text: &str, what: &str) {
    assert!(
        text.len() < FIELD_BOUND,
        "{what}: {} bytes served (bound {FIELD_BOUND})",
        text.len()
    );
}

/// Hostile headlines and feed entries are stored and served as well-formed, inert and bounded
/// RSS, Atom and JSON; items without a usable link are skipped, the rest land.
#[test]
fn hostile_content_is_served_well_formed_inert_and_bounded() {
    let fixture = Fixture::start();
    let base = fixture.base.clone();
    fixture.set("/hostile/", Reply::html(hostile_html()));
    fixture.set("/hostile.xml", Reply::rss(hostile_rss(&base)));
    fixture.set("/control.xml", Reply::rss(control_rss(&base)));
    fixture.set(
        "/hostile.json",
        Reply::full(200, "application/feed+json", hostile_json(&base).as_bytes()),
    );
    fixture.set("/healthy/", Reply::html(page("healthy", 2)));
    let sources = source("h", &fixture)
        + &html_section("page", &fixture, "/hostile/", "")
        + &feed_section("rss", &fixture, "/hostile.xml", "")
        + &feed_section("control", &fixture, "/control.xml", "")
        + &feed_section("json", &fixture, "/hostile.json", "")
        + &html_section("healthy", &fixture, "/healthy/", "");
    let site = Site::new(&config_text(&sources));
    let run = site.poll_once(POLL_LIMIT);
    run.assert_complete(&section_keys(&site.config));
    assert!(run.run.status.success(), "{}", run.run.stderr);
    // Items 5 (javascript:), 6 (data:) and 8 (no link) have no usable link and are skipped.
    assert_eq!(run.found("h/page"), (6, 6), "{}", run.run.stdout);
    assert_eq!(run.found("h/healthy"), (2, 2));
    assert_eq!(run.found("h/rss").0, 7, "{}", run.run.stdout);
    assert_eq!(run.found("h/control").0, 1, "{}", run.run.stdout);
    assert_eq!(run.found("h/json").0, 2, "{}", run.run.stdout);
    assert_peak_bounded(&run.run, "poll --once of hostile content");

    let served = site.serve();
    // RSS: well-formed, no live markup, web links only.
    let response = served.fetch("/feed.rss?limit=500");
    assert_eq!(response.status, 200, "{}", response.text());
    let xml = response.text();
    assert_well_formed_xml(&xml);
    assert!(
        !xml.to_ascii_lowercase().contains("<script"),
        "live <script> in RSS"
    );
    let channel = rss::Channel::read_from(xml.as_bytes()).expect("RSS parses");
    let mut rss_titles = Vec::new();
    for item in channel.items() {
        let title = item.title().unwrap_or_default();
        rss_titles.push(title.to_string());
        if let Some(link) = item.link() {
            assert_link_is_web(link, title);
        }
        if let Some(description) = item.description() {
            assert_inert_html(description);
        }
    }
    for wanted in [
        "标题一",
        "标题二",
        "标题三",
        "标题四",
        "标题九",
        "条目一",
        "条目二",
        "条目八",
        "JSON 一",
        "healthy 新闻 1",
    ] {
        assert!(
            rss_titles.iter().any(|t| t.contains(wanted)),
            "{wanted} not served: {rss_titles:?}"
        );
    }
    for skipped in ["标题五", "标题六", "标题八"] {
        assert!(
            !rss_titles.iter().any(|t| t.contains(skipped)),
            "{skipped} had no usable link but was served"
        );
    }
    let script_title = rss_titles
        .iter()
        .find(|t| t.contains("标题一"))
        .expect("标题一");
    assert!(
        script_title.contains("<script>alert(1)</script>"),
        "the title's text is kept as text: {script_title:?}"
    );

    // Atom: well-formed, text titles, inert summaries, web links only.
    let response = served.fetch("/feed.atom?limit=500");
    assert_eq!(response.status, 200, "{}", response.text());
    let xml = response.text();
    assert_well_formed_xml(&xml);
    assert!(
        !xml.to_ascii_lowercase().contains("<script"),
        "live <script> in Atom"
    );
    let feed: atom_syndication::Feed = xml.parse().expect("Atom parses");
    for entry in feed.entries() {
        let title = entry.title();
        if title.r#type == atom_syndication::TextType::Html {
            assert_inert_html(&title.value);
        }
        for link in entry.links() {
            assert_link_is_web(link.href(), &title.value);
        }
        if let Some(summary) = entry.summary() {
            assert_inert_html(&summary.value);
        }
        if let Some(content) = entry.content().and_then(|c| c.value()) {
            assert_inert_html(content);
        }
    }

    // JSON: parses, inert HTML, web links only, no control characters in titles.
    let items = json_items(&served);
    for (title, item) in &items {
        assert!(
            !title.chars().any(|c| c.is_control()),
            "control characters in a served title: {title:?}"
        );
        for key in ["url", "external_url"] {
            if let Some(link) = item[key].as_str() {
                assert_link_is_web(link, title);
            }
        }
        if let Some(html) = item["content_html"].as_str() {
            assert_inert_html(html);
        }
    }

    // needs: stored fields bounded at write time (a 1 MB headline is not served whole)
    for path in ["/feed.rss?limit=500", "/feed.atom?limit=500"] {
        let xml = served.fetch(path).text();
        for name in ["title", "description", "summary", "content"] {
            let mut reader = quick_xml::Reader::from_str(&xml);
            let mut inside = false;
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Start(e)) => {
                        inside = e.local_name().as_ref() == name.as_bytes();
                    }
                    Ok(quick_xml::events::Event::Text(t)) if inside => {
                        assert_bounded(&String::from_utf8_lossy(&t), &format!("{path} <{name}>"));
                    }
                    Ok(quick_xml::events::Event::CData(t)) if inside => {
                        assert_bounded(&String::from_utf8_lossy(&t), &format!("{path} <{name}>"));
                    }
                    Ok(quick_xml::events::Event::Eof) => break,
                    Err(e) => panic!("{path}: {e}"),
                    _ => {}
                }
            }
        }
    }
    for (title, item) in &items {
        assert_bounded(title, "JSON title");
        for key in ["content_html", "content_text"] {
            if let Some(text) = item[key].as_str() {
                assert_bounded(text, &format!("JSON {key}"));
            }
        }
    }
    drop(served);
    site.assert_store_consistent();
}

// ---- big pages, limits and heavy searches ------------------------------------------------------

/// A page of `n` items, each exactly `width` bytes (padded in an attribute).
fn big_page(n: usize, width: usize) -> Vec<u8> {
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><ul class=\"list\">",
    );
    for i in 0..n {
        let row = format!("<li><a href=\"/big/{i}.html\">大页面 {i}</a><b class=\"\"></b></li>");
        let pad = width.saturating_sub(row.len());
        html.push_str(&row.replace("class=\"\"", &format!("class=\"{}\"", "p".repeat(pad))));
    }
    html.push_str("</ul></body></html>");
    html.into_bytes()
}

/// A page of 100,000 items (just under the 8 MiB cap) is capped at 500 headlines by default and
/// polled under 200 MB peak RSS; the healthy section beside it lands.
#[test]
fn a_page_of_100k_items_is_capped_and_memory_stays_bounded() {
    let fixture = Fixture::start();
    let body = big_page(100_000, 83);
    assert!(
        body.len() > 8 * MIB - 100_000 && body.len() < 8 * MIB,
        "the page is just under 8 MiB: {}",
        body.len()
    );
    fixture.set("/big/", Reply::html(&body));
    fixture.set("/healthy/", Reply::html(page("healthy", 2)));
    let sources = source("big", &fixture)
        + "\n[[source.section]]\nid = \"page\"\n"
        + &format!(
            "url = \"{}\"\nitem = \"ul.list > li\"\ntitle = \"a\"\nlink = \"a@href\"\n",
            fixture.url("/big/")
        )
        + &html_section("healthy", &fixture, "/healthy/", "");
    let site = Site::new(&config_text(&sources));
    let run = site.poll_once(POLL_LIMIT);
    println!(
        "100k items ({} bytes): poll --once took {:?}, peak RSS {} MiB ({} KiB)",
        body.len(),
        run.run.elapsed,
        run.run.peak_kib / 1024,
        run.run.peak_kib
    );
    let mut problems = Vec::new();
    // needs: polling an 8 MiB page with 100,000 items stays under 200 MB peak RSS
    if run.run.over_ceiling || run.run.peak_kib >= PEAK_RSS_LIMIT_KIB {
        problems.push(format!(
            "peak RSS {} MiB{} (bound {} MiB)",
            run.run.peak_kib / 1024,
            if run.run.over_ceiling {
                ", killed at the ceiling"
            } else {
                ""
            },
            PEAK_RSS_LIMIT_KIB / 1024
        ));
    } else {
        run.assert_complete(&section_keys(&site.config));
        assert_eq!(run.found("big/healthy"), (2, 2));
        // needs: headlines per page capped by default (500)
        if run.found("big/page") != (500, 500) {
            problems.push(format!("not capped at 500:\n{}", run.run.stdout));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    site.assert_store_consistent();
}

/// `limit` lowers and raises the per-page cap; a heavy `q=` search over the stored items stays
/// within its budget and `/healthz` keeps answering meanwhile.
#[test]
fn limit_moves_the_cap_and_a_heavy_search_leaves_healthz_fast() {
    let fixture = Fixture::start();
    // 10,000 items with 200-character titles: each search folds about 6 MB of text.
    let long_title = "新".repeat(200);
    let stories: Vec<Story> = (0..10_000)
        .map(|i| {
            Story::new(
                &format!("{long_title} {i}"),
                &format!("/many/{i}.html"),
                &recent_time(),
            )
        })
        .collect();
    let many = list_page("many", &stories);
    assert!(many.len() < 8 * MIB, "{} bytes", many.len());
    fixture.set("/many/", Reply::html(&many));
    fixture.set("/few/", Reply::html(page("few", 10)));
    let sources = source("l", &fixture)
        + &html_section("many", &fixture, "/many/", "limit = 10000")
        + &html_section("few", &fixture, "/few/", "limit = 3");
    let site = Site::new(&config_text(&sources));
    let run = site.poll_once(POLL_LIMIT);
    println!(
        "10k items: poll --once took {:?}, peak RSS {} MiB",
        run.run.elapsed,
        run.run.peak_kib / 1024
    );
    run.assert_complete(&section_keys(&site.config));
    assert_eq!(run.found("l/few"), (3, 3), "limit lowers the cap");
    // needs: `limit` raises the default cap of 500
    assert_eq!(
        run.found("l/many"),
        (10_000, 10_000),
        "limit raises the cap"
    );

    let served = site.serve();
    let addr = served.addr;
    // Four concurrent searches that match nothing (every item is scanned), each a cache miss.
    let searches: Vec<_> = ["不存在", "没有的词", "找不到", "无此"]
        .into_iter()
        .map(|word| {
            std::thread::spawn(move || {
                let started = Instant::now();
                let target = format!("/feed.rss?limit=500&q={}", encode(word));
                let response = request(addr, "GET", &target, Duration::from_secs(60));
                (started.elapsed(), response.map(|r| r.status))
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let healthz: Vec<Result<Duration, String>> = (0..3)
        .map(|_| {
            let started = Instant::now();
            match request(addr, "GET", "/healthz", HEALTHZ_BOUND) {
                Ok(r) if r.status == 200 => Ok(started.elapsed()),
                Ok(r) => Err(format!("status {}", r.status)),
                Err(e) => Err(e.to_string()),
            }
        })
        .collect();
    let searched: Vec<(Duration, std::io::Result<u16>)> = searches
        .into_iter()
        .map(|s| s.join().expect("search thread"))
        .collect();
    println!("heavy searches: {searched:?}; /healthz meanwhile: {healthz:?}");
    // needs: a heavy `q=` search has a time budget; /healthz answers in milliseconds meanwhile
    for answer in &healthz {
        assert!(
            answer.as_ref().is_ok_and(|took| *took < HEALTHZ_BOUND),
            "/healthz beside heavy searches: {answer:?}"
        );
    }
    for (took, status) in searched {
        let status = status.unwrap_or_else(|e| panic!("heavy search: {e}"));
        assert!(
            matches!(status, 200 | 503 | 504),
            "heavy search answered {status}"
        );
        // needs: a heavy `q=` search has a time budget
        assert!(took < Duration::from_secs(10), "heavy search took {took:?}");
    }
}

// ---- HTTP abuse --------------------------------------------------------------------------------

fn small_site() -> (Fixture, Site) {
    let fixture = Fixture::start();
    fixture.set("/healthy/", Reply::html(page("healthy", 3)));
    let sources = source("s", &fixture) + &html_section("healthy", &fixture, "/healthy/", "");
    let site = Site::new(&config_text(&sources));
    let run = site.poll_once(POLL_LIMIT);
    assert_eq!(run.found("s/healthy"), (3, 3), "{}", run.run.stderr);
    (fixture, site)
}

/// Huge and malformed queries and odd methods get a 4xx with a reason; the server keeps
/// serving.
#[test]
fn abusive_requests_get_a_4xx_and_the_server_keeps_serving() {
    let (_fixture, site) = small_site();
    let served = site.serve();
    let long_q = format!("/feed.rss?q={}", "a".repeat(100 * 1024));
    let answer = served.get(&long_q);
    println!(
        "100 KB query: {:?}",
        answer.as_ref().map(|r| (r.status, r.text()))
    );
    match answer {
        Ok(response) => assert!(
            (400..500).contains(&response.status),
            "100 KB query answered {}",
            response.status
        ),
        // Refusing the connection before a response is also a refusal.
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "100 KB query: {e}"
        ),
    }
    served.assert_healthy_within(HEALTHZ_BOUND);

    let mut wrong = Vec::new();
    // needs: malformed percent-encoding answers 400 with a reason
    for target in [
        "/feed.rss?section=%zz",
        "/feed.atom?section=%",
        "/feed.json?q=%E4%B8",
        "/feed.rss?q=abc%2",
        "/feed.rss?%zz=1",
    ] {
        let response = served.fetch(target);
        let reason = response.text();
        if response.status != 400 || reason.trim().is_empty() || reason.trim().lines().count() != 1
        {
            wrong.push(format!("{target}: {} {reason:?}", response.status));
        }
    }
    // needs: unsupported methods answer 405 with `Allow`
    for (method, target) in [
        ("POST", "/feed.rss"),
        ("PUT", "/feed.atom"),
        ("DELETE", "/healthz"),
        ("PATCH", "/api/status"),
    ] {
        let response = request(served.addr, method, target, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{method} {target}: {e}"));
        let allow = response.header("allow").unwrap_or_default().to_string();
        if response.status != 405 || !allow.contains("GET") {
            wrong.push(format!(
                "{method} {target}: {} allow={allow:?}",
                response.status
            ));
        }
    }
    // HEAD works on every route.
    let head =
        request(served.addr, "HEAD", "/feed.rss", Duration::from_secs(30)).expect("HEAD /feed.rss");
    assert_eq!(head.status, 200);
    served.assert_healthy_within(HEALTHZ_BOUND);
    let feed = served.fetch("/feed.rss");
    assert_eq!(feed.status, 200);
    assert!(feed.text().contains("healthy 新闻 2"));
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
}

/// 200 idle connections and a slowloris client (one header byte every 100 ms) do not keep
/// `/healthz` or a feed from answering.
#[test]
fn idle_and_slow_connections_do_not_starve_healthz() {
    let (_fixture, site) = small_site();
    let served = site.serve();
    let idle: Vec<TcpStream> = (0..200)
        .map(|i| TcpStream::connect(served.addr).unwrap_or_else(|e| panic!("idle {i}: {e}")))
        .collect();
    let addr = served.addr;
    let slowloris = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("slowloris connects");
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
        let mut sent = 0;
        for byte in b"X-Slow: ".iter().chain([b'a'; 32].iter()) {
            std::thread::sleep(Duration::from_millis(100));
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    let mut took = Vec::new();
    for _ in 0..5 {
        took.push(served.assert_healthy_within(HEALTHZ_BOUND));
        let started = Instant::now();
        let feed = request(served.addr, "GET", "/feed.json", HEALTHZ_BOUND)
            .unwrap_or_else(|e| panic!("/feed.json beside idle connections: {e}"));
        assert_eq!(feed.status, 200);
        took.push(started.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    let sent = slowloris.join().expect("slowloris thread");
    println!("beside 200 idle connections and a slowloris ({sent} bytes sent): {took:?}");
    // The server is still fine once they go.
    drop(idle);
    served.assert_healthy_within(HEALTHZ_BOUND);
}

// ---- SIGKILL during polling --------------------------------------------------------------------

const CRASH_SECTIONS: usize = 4;
const CRASH_STORIES: usize = 150;

fn crash_title(section: usize, round: usize, i: usize) -> String {
    format!("s{section}-r{round}-n{i} 某地发生一件重要的事情")
}

fn set_crash_round(fixture: &Fixture, round: usize) {
    for section in 0..CRASH_SECTIONS {
        let stories: Vec<Story> = (0..CRASH_STORIES)
            .map(|i| {
                Story::new(
                    &crash_title(section, round, i),
                    &format!("/story/{section}-{round}-{i}.html"),
                    &recent_time(),
                )
            })
            .collect();
        fixture.set(
            &format!("/s{section}/"),
            Reply::html(list_page("crash", &stories)),
        );
    }
}

/// `poll --once` is SIGKILLed at moments spread over a poll's run time; after every life
/// `store verify` passes, the counts never shrink, and every round a completed run reported
/// stored is still served in full.
#[test]
fn sigkill_during_polling_loses_nothing_reported_stored() {
    let fixture = Fixture::start();
    let mut sources = source("crash", &fixture);
    for section in 0..CRASH_SECTIONS {
        sources += &html_section(
            &format!("s{section}"),
            &fixture,
            &format!("/s{section}/"),
            "",
        );
    }
    let site = Site::new(&config_text(&sources));
    let keys = section_keys(&site.config);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut rng = Rng(seed);
    let mut reported: Vec<usize> = Vec::new();
    let mut last_items = 0;
    let mut run_time = Duration::from_millis(500);
    let mut kills = Vec::new();
    for round in 0..9 {
        set_crash_round(&fixture, round);
        if round % 2 == 0 {
            let run = site.poll_once(POLL_LIMIT);
            run.assert_complete(&keys);
            for key in &keys {
                assert_eq!(
                    run.found(key),
                    (CRASH_STORIES, CRASH_STORIES),
                    "round {round}"
                );
            }
            run_time = run.run.elapsed;
            reported.push(round);
        } else {
            let mut child = site
                .command(&["poll", "--once"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn poll --once");
            // Somewhere in the last three quarters of a run: past start-up, mostly while the
            // sections' batches commit.
            let span = (run_time.as_millis() as u64).max(4);
            let at = Duration::from_millis(span / 4 + rng.next() % (span * 3 / 4));
            std::thread::sleep(at);
            let finished = child.try_wait().expect("try_wait").is_some();
            let _ = child.kill();
            child.wait().expect("wait for the killed child");
            kills.push((at, finished, round));
        }
        site.assert_store_consistent();
        let stats = site.stats();
        let items = stats.get("items").copied().unwrap_or(0);
        assert!(
            items >= last_items,
            "round {round}: items went from {last_items} to {items}"
        );
        let floor = (reported.len() * CRASH_SECTIONS * CRASH_STORIES) as u64;
        assert!(
            items >= floor,
            "round {round}: {items} items, {floor} reported stored"
        );
        if let Some(kill) = kills.last_mut().filter(|k| k.2 == round) {
            // Items the killed life committed before it died.
            kill.2 = (items - last_items) as usize;
        }
        last_items = items;
    }
    println!(
        "sigkill (seed {seed}): kills at {kills:?} (moment, finished before the kill, items it \
         committed), \
         {last_items} items, rounds {reported:?} reported"
    );
    // Every story of every reported round is served, found by its round's prefix.
    let served = site.serve();
    for &round in &reported {
        for section in 0..CRASH_SECTIONS {
            let prefix = format!("s{section}-r{round}-");
            let response = served.fetch(&format!(
                "/feed.json?limit=500&section=crash/s{section}&q={prefix}"
            ));
            assert_eq!(response.status, 200, "{}", response.text());
            let doc: serde_json::Value =
                serde_json::from_slice(&response.body).expect("/feed.json is JSON");
            let got: HashSet<String> = doc["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|i| i["title"].as_str().map(str::to_string))
                .collect();
            let missing: Vec<String> = (0..CRASH_STORIES)
                .map(|i| crash_title(section, round, i))
                .filter(|t| !got.contains(t))
                .collect();
            assert!(
                missing.is_empty(),
                "round {round} section {section}: {} reported stories missing, e.g. {:?}",
                missing.len(),
                missing.first()
            );
        }
    }
}
