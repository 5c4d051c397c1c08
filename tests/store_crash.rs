//! Crash test: a child process polls a fixture portal in a tight loop — four sections over two
//! sources, stories shared between sections and merged across sources by title, retitled
//! stories, an archive section that keeps listing what retention deleted — and runs a retention
//! sweep every few rounds. It reports every item id on stdout only after `apply_batch` returned
//! (the store flushes before returning), and every id a sweep deleted after `sweep` returned.
//!
//! The parent SIGKILLs the child at random moments (some during start-up, i.e. while sled
//! recovers), reopens the store each time, runs `verify`, and checks that every id reported as
//! committed is present exactly once (or, when the kill hit a sweep, tombstoned by it), that no
//! story is stored twice, and that every feed scan lists each item once.
//!
//! The child is this test binary re-executed with `HEADWIRE_CRASH_CHILD` set.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, TimeZone, Utc};
use common::{list_page, Story};
use headwire::config::Config;
use headwire::fetch::{FetchOutcome, Fetcher, Validators};
use headwire::poll::process_body;
use headwire::store::{BatchContext, Query, Retention, Store};

const TEST_NAME: &str = "sigkill_never_loses_or_duplicates_an_item";
const CHILD_ENV: &str = "HEADWIRE_CRASH_CHILD";
const KILLS: usize = 24;
/// Rounds between retention sweeps in the child.
const SWEEP_EVERY_ROUNDS: i64 = 4;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 13, 0, 0, 0).unwrap()
}

/// Story `i` is published at base + 10 min × i; round `r` polls at base + 10 min × r + 5 min.
fn published(i: i64) -> DateTime<Utc> {
    base() + chrono::Duration::minutes(10 * i)
}

fn clock(round: i64) -> DateTime<Utc> {
    published(round) + chrono::Duration::minutes(5)
}

/// Stories from 10 on (the first round polled) are retitled three rounds after they appear;
/// the mirror keeps the original title, which still matches the item's first title.
fn portal_title(i: i64, round: i64) -> String {
    let title = format!("第{i}号新闻：某地发生一件重要的事情");
    if i >= 10 && round >= i + 3 {
        format!("{title}（更新）")
    } else {
        title
    }
}

fn time_text(i: i64) -> String {
    published(i).format("%Y-%m-%d %H:%M").to_string()
}

/// The page a section shows in a round.
fn page(section: &str, round: i64) -> Option<String> {
    let portal = |i: i64| {
        let story = Story::new(
            &portal_title(i, round),
            &format!("/news/{i}.html?s=list"),
            &time_text(i),
        );
        if i % 2 == 0 {
            story.label("要闻")
        } else {
            story
        }
    };
    let recent = |n: i64| (round - n..=round).rev().filter(|i| *i >= 0);
    let stories: Vec<Story> = match section {
        "politics" => recent(7).filter(|i| i % 3 != 2).map(portal).collect(),
        "world" => recent(7).filter(|i| i % 3 != 0).map(portal).collect(),
        // Long gone from the portal's other pages and beyond `keep_items`: deleted, then
        // skipped as tombstoned while still listed here (story 0 until round 37).
        "archive" => ((round - 45).max(0)..=(round - 37).max(0))
            .rev()
            .map(portal)
            .collect(),
        // Another source with its own links and the original titles: merged by title.
        "mirror" => recent(5)
            .filter(|i| i % 2 == 0)
            .map(|i| {
                Story::new(
                    &format!("第{i}号新闻：某地发生一件重要的事情"),
                    &format!("http://mirror.example/{i}.html"),
                    &time_text(i),
                )
            })
            .collect(),
        _ => return None,
    };
    Some(list_page(section, &stories))
}

fn config_text(portal: &str) -> String {
    let section = |id: &str, path: &str| {
        format!(
            r#"
[[source.section]]
id = "{id}"
url = "{portal}/{path}/"
item = "ul.list > li"
title = "h4.module-title a"
link = "h4.module-title a@href"
time = ".module-interact span"
label = "a.interact-key"
"#
        )
    };
    format!(
        r#"
[poll]
host_delay = "0"

[[source]]
id = "portal"
timezone = "UTC"
strip_params = ["s"]
keep_items = 30
{}{}{}
[[source]]
id = "mirror"
timezone = "UTC"
keep_days = 1
{}"#,
        section("politics", "politics"),
        section("world", "world"),
        section("archive", "archive"),
        section("home", "mirror"),
    )
}

/// Starts the fixture portal on 127.0.0.1:0: `/{section}/{round}` → that round's page.
fn start_portal() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|req: HttpRequest| async move {
            let mut parts = req.path().trim_matches('/').split('/');
            let section = parts.next().unwrap_or_default().to_string();
            let round = parts.next().and_then(|r| r.parse::<i64>().ok());
            match round.and_then(|r| page(&section, r)) {
                Some(body) => HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(body),
                None => HttpResponse::NotFound().finish(),
            }
        }))
    })
    .workers(2)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://{addr}")
}

fn say(lines: &[String]) {
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "HW {line}");
    }
    let _ = out.flush();
}

/// Child mode: poll round after round until killed.
fn child(portal: &str, dir: &Path, first_round: i64) {
    let config = Config::parse(&config_text(portal), &dir.join("feeds.toml")).unwrap();
    let store = Store::open(&dir.join("store")).unwrap();
    say(&["OPEN".into()]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fetcher = Fetcher::new(&config.poll).unwrap();
    let retention = Retention::from_config(&config);
    let window = config
        .store
        .title_window
        .and_then(|w| chrono::Duration::from_std(w).ok());
    for round in first_round.. {
        say(&[format!("R {round}")]);
        let now = clock(round);
        // The sections of a round are polled concurrently, like the poller does.
        std::thread::scope(|scope| {
            for (source, section) in config.sections() {
                let (store, fetcher, runtime) = (&store, &fetcher, &runtime);
                scope.spawn(move || {
                    let url = section.url.join(&round.to_string()).unwrap();
                    // A slow fixture on a busy machine is no store problem: retry the fetch.
                    let mut attempts = 0;
                    let body = loop {
                        attempts += 1;
                        match runtime.block_on(fetcher.fetch(
                            &url,
                            &source.headers,
                            &Validators::default(),
                        )) {
                            Ok(FetchOutcome::Body(body)) => break body,
                            other if attempts < 5 => eprintln!("fetch {url}: {other:?}; again"),
                            other => panic!("fetch {url}: {other:?}"),
                        }
                    };
                    let processed = process_body(
                        &body.bytes,
                        body.content_type.as_deref(),
                        &body.final_url,
                        source,
                        section,
                        now,
                    )
                    .unwrap();
                    let key = section.key(source);
                    let ctx = BatchContext {
                        source_id: &source.id,
                        section_key: &key,
                        section_name: &section.name,
                        title_window: window,
                        now,
                    };
                    let outcome = store.apply_batch(&ctx, &processed.observed).unwrap();
                    // Only now, with the batch durable, is it reported.
                    let lines: Vec<String> =
                        outcome.ids.iter().map(|id| format!("C {id}")).collect();
                    say(&lines);
                });
            }
        });
        if round % SWEEP_EVERY_ROUNDS == 0 {
            say(&["S".into()]);
            let report = store.sweep(&retention, now).unwrap();
            let mut lines: Vec<String> =
                report.deleted.iter().map(|id| format!("D {id}")).collect();
            lines.push("E".into());
            say(&lines);
        }
    }
}

/// What the parent learned from a child's reports.
#[derive(Default)]
struct Ledger {
    /// Last report per id: true = committed, false = deleted by a sweep.
    last: HashMap<String, bool>,
    round: i64,
    sweep_in_flight: bool,
    rounds_seen: HashSet<i64>,
    deleted_reports: usize,
}

impl Ledger {
    fn take(&mut self, line: &str) {
        let mut parts = line.splitn(2, ' ');
        match (parts.next(), parts.next()) {
            (Some("R"), Some(n)) => {
                self.round = n.parse().unwrap();
                self.rounds_seen.insert(self.round);
            }
            (Some("C"), Some(id)) => {
                self.last.insert(id.to_string(), true);
            }
            (Some("D"), Some(id)) => {
                self.deleted_reports += 1;
                self.last.insert(id.to_string(), false);
            }
            (Some("S"), None) => self.sweep_in_flight = true,
            (Some("E"), None) => self.sweep_in_flight = false,
            _ => {}
        }
    }
}

/// A tiny xorshift generator; the seed is printed so a run can be repeated.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Reopens the store and checks it against the ledger; returns (ids checked, anomalies). A
/// kill during a sweep leaves its deletions unreported: ids that are gone and tombstoned are
/// then recorded as deleted.
fn check(dir: &Path, ledger: &mut Ledger, life: usize) -> (usize, Vec<String>) {
    let mut anomalies = Vec::new();
    let store = match Store::open(&dir.join("store")) {
        Ok(store) => store,
        Err(e) => return (0, vec![format!("life {life}: reopen failed: {e}")]),
    };
    for problem in store.verify().unwrap() {
        anomalies.push(format!("life {life}: verify: {problem}"));
    }
    let mut checked = 0;
    let mut swept = Vec::new();
    for (id, committed) in &ledger.last {
        if !committed {
            continue;
        }
        checked += 1;
        if store.get(id).unwrap().is_none() {
            if ledger.sweep_in_flight && store.is_tombstoned(id).unwrap() {
                swept.push(id.clone());
            } else {
                anomalies.push(format!("life {life}: committed item {id} is missing"));
            }
        }
    }
    for id in swept {
        ledger.last.insert(id, false);
    }
    ledger.sweep_in_flight = false;
    // Exactly once: each id once in a full scan, and each story (by number) in one item.
    let items = store
        .query(
            &Query {
                limit: usize::MAX,
                ..Query::default()
            },
            &|_| true,
        )
        .unwrap();
    if items.len() != store.len() {
        anomalies.push(format!(
            "life {life}: scan lists {} items, store counts {}",
            items.len(),
            store.len()
        ));
    }
    let mut ids = HashSet::new();
    let mut stories: HashMap<String, String> = HashMap::new();
    for item in &items {
        if !ids.insert(item.id.clone()) {
            anomalies.push(format!("life {life}: {} listed twice", item.id));
        }
        let link = item.link.clone().unwrap_or_default();
        let story = link
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".html")
            .to_string();
        if let Some(other) = stories.insert(story.clone(), item.id.clone()) {
            anomalies.push(format!(
                "life {life}: story {story} stored twice ({other}, {})",
                item.id
            ));
        }
    }
    (checked, anomalies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_never_loses_or_duplicates_an_item() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let portal = std::env::var("HEADWIRE_CRASH_PORTAL").unwrap();
        let dir = PathBuf::from(std::env::var("HEADWIRE_CRASH_DIR").unwrap());
        let round: i64 = std::env::var("HEADWIRE_CRASH_ROUND")
            .unwrap()
            .parse()
            .unwrap();
        tokio::task::spawn_blocking(move || child(&portal, &dir, round))
            .await
            .unwrap();
        return;
    }
    let portal = start_portal();
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    // From round 10 on every section lists something.
    let mut ledger = Ledger {
        round: 10,
        ..Ledger::default()
    };
    let mut anomalies: Vec<String> = Vec::new();
    let (mut kills, mut early_kills, mut checks) = (0usize, 0usize, 0usize);
    for life in 0..KILLS {
        let stderr_path = dir.path().join(format!("child-{life}.log"));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .env("HEADWIRE_CRASH_PORTAL", &portal)
            .env("HEADWIRE_CRASH_DIR", dir.path())
            .env("HEADWIRE_CRASH_ROUND", ledger.round.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            // Only complete lines count: a line cut by the kill was never fully reported.
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                if line.ends_with(b"\n") {
                    let text = String::from_utf8_lossy(&line);
                    if let Some(report) = text.trim_end().strip_prefix("HW ") {
                        let _ = tx.send(report.to_string());
                    }
                }
                line.clear();
            }
        });
        let started_round = ledger.round;
        let early = life % 5 == 4;
        if early {
            // Kill during start-up: while sled recovers the previous crash, or just after.
            std::thread::sleep(Duration::from_millis(rng.below(80)));
            early_kills += 1;
        } else {
            // Let it make progress, then kill at a random moment within the next rounds.
            let deadline = Instant::now() + Duration::from_secs(60);
            while ledger.round <= started_round + 1 && Instant::now() < deadline {
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(line) => ledger.take(&line),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            std::thread::sleep(Duration::from_millis(rng.below(400)));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            anomalies.push(format!(
                "life {life}: child exited by itself ({status}):\n{log}"
            ));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        reader.join().unwrap();
        for line in rx.try_iter() {
            ledger.take(&line);
        }
        let (checked, found) = check(dir.path(), &mut ledger, life);
        checks += checked;
        anomalies.extend(found);
    }
    let committed = ledger.last.values().filter(|c| **c).count();
    println!(
        "crash test (seed {seed}): {kills} kills ({early_kills} during start-up), {} rounds \
         polled, {} distinct ids reported committed ({committed} still live by the reports, \
         {} deletions reported), {checks} presence checks after reopening, {} anomalies",
        ledger.rounds_seen.len(),
        ledger.last.len(),
        ledger.deleted_reports,
        anomalies.len()
    );
    for anomaly in &anomalies {
        println!("anomaly: {anomaly}");
    }
    assert!(anomalies.is_empty(), "{} anomalies", anomalies.len());
    assert!(kills >= 20);
    assert!(
        ledger.rounds_seen.len() >= 2 * (KILLS - early_kills),
        "the child made progress in every life"
    );
    assert!(
        ledger.deleted_reports > 0,
        "retention deleted something along the way"
    );
}
