//! The store from the outside: `headwire store stats` prints the right numbers, `headwire store
//! verify` exits non-zero on a damaged index, a store of another layout is refused by every
//! command, and `serve` sweeps retention once at start and then periodically until stopped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::closed_port;
use headwire::config::Config;
use headwire::normalize::Observed;
use headwire::store::{BatchContext, Retention, Store};
use headwire::text::title_key;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 13, 6, 0, 0).unwrap()
}

fn write_config(dir: &Path) -> PathBuf {
    let text = format!(
        r#"
[store]
path = "data"

[[source]]
id = "a"
[[source.section]]
id = "x"
url = "http://127.0.0.1:{port}/x"
item = "li"
title = "a"
[[source.section]]
id = "y"
url = "http://127.0.0.1:{port}/y"
item = "li"
title = "a"

[[source]]
id = "b"
keep_days = 10
[[source.section]]
id = "z"
url = "http://127.0.0.1:{port}/z"
item = "li"
title = "a"
"#,
        port = closed_port()
    );
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load(path: &Path) -> Config {
    Config::parse(&std::fs::read_to_string(path).unwrap(), path).unwrap()
}

fn story(link: &str, title: &str, published: DateTime<Utc>) -> Observed {
    Observed {
        identity: format!("link:example.com/{link}"),
        link: Some(format!("https://example.com/{link}")),
        title: title.into(),
        title_key: title_key(title),
        summary: None,
        author: None,
        image: None,
        guid: None,
        published: Some(published),
        page_labels: Vec::new(),
    }
}

fn apply(store: &Store, source: &str, section: &str, at: DateTime<Utc>, stories: &[Observed]) {
    let key = format!("{source}/{section}");
    let ctx = BatchContext {
        source_id: source,
        section_key: &key,
        section_name: section,
        title_window: Some(chrono::Duration::hours(48)),
        now: at,
    };
    store.apply_batch(&ctx, stories).unwrap();
}

/// Three live stories (one also merged from source b by title) and one swept into a tombstone.
fn fill(config: &Config) -> Vec<String> {
    let store = Store::open(&config.store_path).unwrap();
    let day = chrono::Duration::days(1);
    let s1 = story("1", "First story of the day", now() - day);
    let s2 = story("2", "Second story of the day", now() - day);
    let s3 = story("3", "Third story of the day", now() - day);
    let b1 = story("b1", "First story of the day!", now() - day);
    let old = story("old", "A story long ago", now() - day * 40);
    apply(&store, "a", "x", now() - day, &[s1, s2.clone()]);
    apply(&store, "a", "y", now() - day, &[s2, s3]);
    // First stored 40 days ago, and no longer on the page since: retention removes it.
    apply(&store, "b", "z", now() - day * 40, &[old]);
    apply(&store, "b", "z", now() - day, &[b1]);
    let report = store.sweep(&Retention::from_config(config), now()).unwrap();
    assert_eq!(report.deleted.len(), 1);
    let ids = store
        .query(
            &headwire::store::Query {
                limit: 10,
                ..Default::default()
            },
            &|_| true,
        )
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    store.flush().unwrap();
    ids
}

fn headwire(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_headwire"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stats_counts_items_per_source_and_section() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path());
    fill(&load(&config_path));
    let (code, stdout, stderr) = headwire(&config_path, &["store", "stats"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "items: 3",
        "source a: 3 items",
        "source b: 1 items",
        "section a/x: 2 items",
        "section a/y: 2 items",
        "section b/z: 1 items",
        "tombstones: 1",
        "aliases: 1",
        "schema: headwire-store/6",
        "texts stored: 0",
        "texts pending: 3",
        "texts failed: 0",
    ] {
        assert!(
            lines.contains(&expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    let disk: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("disk bytes: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(disk > 0, "{stdout}");
}

#[test]
fn verify_exits_non_zero_on_a_damaged_index() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path());
    let config = load(&config_path);
    let ids = fill(&config);
    let (code, stdout, _) = headwire(&config_path, &["store", "verify"]);
    assert_eq!((code, stdout.trim()), (0, "store is consistent"));
    {
        let store = Store::open(&config.store_path).unwrap();
        assert!(store.debug_remove_index_entry(&ids[1]).unwrap());
    }
    let (code, stdout, _) = headwire(&config_path, &["store", "verify"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("time_index: missing entry"), "{stdout}");
    assert!(stdout.trim_end().ends_with("1 problems"), "{stdout}");
}

#[test]
fn another_layout_version_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path());
    let config = load(&config_path);
    fill(&config);
    {
        // What a future headwire would leave behind: same trees, another layout key.
        let db = sled::open(&config.store_path).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema", "headwire-store/9")
            .unwrap();
        db.flush().unwrap();
    }
    for args in [
        &["store", "stats"][..],
        &["store", "verify"],
        &["poll", "--once"],
    ] {
        let (code, stdout, stderr) = headwire(&config_path, args);
        assert_eq!(code, 1, "{args:?}: {stdout}");
        assert!(
            stderr.contains("has layout `headwire-store/9`")
                && stderr.contains("reads `headwire-store/6`")
                && stderr.contains("move the directory aside"),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn serve_sweeps_at_start_and_every_ten_minutes_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path());
    let config = Arc::new(load(&config_path));
    let store = Arc::new(Store::open(&config.store_path).unwrap());
    let day = chrono::Duration::days(1);
    // Age counts from first-seen: the stale story was stored 31 days ago and the page has not
    // listed it since; the fresh one is on today's page.
    apply(
        &store,
        "a",
        "x",
        now() - day * 31,
        &[story("stale", "A stale story here", now() - day * 31)],
    );
    apply(
        &store,
        "a",
        "x",
        now(),
        &[story("fresh", "A fresh story today", now() - day)],
    );
    assert_eq!(store.len(), 2);
    let clock_ms = Arc::new(AtomicI64::new(now().timestamp_millis()));
    let clock: headwire::clock::Clock = {
        let clock_ms = clock_ms.clone();
        Arc::new(move || {
            Utc.timestamp_millis_opt(clock_ms.load(Ordering::SeqCst))
                .unwrap()
        })
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let running = headwire::app::start(config, store.clone(), clock, listener).unwrap();
    assert_eq!(
        store.len(),
        1,
        "the stale story is swept before start returns"
    );
    let stale = headwire::store::item_id("link:example.com/stale");
    let stale: String = stale.iter().map(|b| format!("{b:02x}")).collect();
    assert!(store.is_tombstoned(&stale).unwrap());

    // The page stops listing the fresh story, and thirty days later (by the injected clock) it
    // is due too; the next periodic sweep, ten minutes on, deletes it.
    apply(&store, "a", "x", now() + day, &[]);
    clock_ms.store(
        (now() + day * 30 + chrono::Duration::hours(1)).timestamp_millis(),
        Ordering::SeqCst,
    );
    tokio::time::sleep(Duration::from_secs(599)).await;
    assert_eq!(store.len(), 1, "no sweep before ten minutes");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..500 {
        if store.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        tokio::task::yield_now().await;
    }
    assert!(store.is_empty(), "the periodic sweep ran");
    // Paused time races ahead while actix's worker threads shut down in real time, so wait for
    // `stop` by the wall clock (10 s at most).
    let stopping = tokio::spawn(running.stop());
    for _ in 0..1000 {
        if stopping.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        tokio::task::yield_now().await;
    }
    assert!(
        stopping.is_finished(),
        "stop returns with the sweeper stopped"
    );
    stopping.await.unwrap();
    assert!(store.verify().unwrap().is_empty());
}
