//! The layout upgrades under SIGKILL. 3 → 4 (then 4 → 5): a `headwire-store/3` store holding tombstones left by
//! the old retention rule and items whose published times an older parser let through (year 1,
//! 1900) is opened by a child process, which the parent kills at spread-out moments of the
//! upgrade. After every kill the store must open, finish the upgrade, verify clean, hold every
//! item, and have lifted every tombstone — whichever step the kill interrupted.
//!
//! The 4 → 5 upgrade (JSON item records rewritten as binary ones) gets the same treatment, and
//! after every kill each item must read back exactly as before the upgrade; so does the 5 → 6
//! upgrade (records moved from the id-keyed `items` tree into per-section `stories` clusters).
//!
//! The child is this test binary re-executed with `HEADWIRE_UPGRADE_CHILD` set to the store path
//! and the test's name.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use headwire::normalize::Observed;
use headwire::store::{BatchContext, Query, Retention, RetentionPolicy, Store, SCHEMA_VERSION};
use headwire::text::title_key;

const TEST_NAME: &str = "a_kill_at_any_moment_of_the_upgrade_leaves_a_store_that_finishes_it";
const CHILD_ENV: &str = "HEADWIRE_UPGRADE_CHILD";
const STORIES: usize = 4_000;
/// `keep_items` under the old rule: the rest were swept into tombstones.
const KEPT: usize = 2_500;
/// Items whose published time is rewritten to an unbelievable one.
const DAMAGED: usize = 1_500;
const KILLS: usize = 8;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

fn story(i: usize) -> Observed {
    let title = format!("第{i}号公告：关于某事的通知");
    Observed {
        identity: format!("link:example.com/notice/{i}"),
        link: Some(format!("https://example.com/notice/{i}")),
        title_key: title_key(&title),
        title,
        summary: None,
        author: None,
        image: None,
        guid: None,
        published: Some(now() - chrono::Duration::minutes(i as i64)),
        page_labels: vec!["公告".into()],
    }
}

/// Builds the layout-3 store the upgrade starts from.
fn build_v3_store(path: &Path) {
    let store = Store::open(path).unwrap();
    let stories: Vec<Observed> = (0..STORIES).map(story).collect();
    for chunk in stories.chunks(200) {
        let ctx = BatchContext {
            source_id: "a",
            section_key: "a/x",
            section_name: "x",
            title_window: None,
            now: now(),
        };
        store.apply_batch_deferred(&ctx, chunk).unwrap();
    }
    let mut retention = Retention::default();
    retention
        .sources
        .insert("a".into(), RetentionPolicy::new(None, Some(KEPT)));
    let report = store.sweep(&retention, now()).unwrap();
    assert_eq!(report.deleted.len(), STORIES - KEPT);
    let ids: Vec<String> = store
        .query(
            &Query {
                limit: KEPT,
                ..Query::default()
            },
            &|_| true,
        )
        .unwrap()
        .into_iter()
        .map(|item| item.id)
        .collect();
    assert_eq!(ids.len(), KEPT);
    for (n, id) in ids.iter().take(DAMAGED).enumerate() {
        let year = if n % 2 == 0 { 1 } else { 1900 };
        let bad = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
        assert!(store.debug_set_published(id, bad).unwrap());
    }
    store.flush().unwrap();
    store.debug_set_layout("headwire-store/3").unwrap();
    assert_eq!(store.tombstone_count(), STORIES - KEPT);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Opens the store until sled's lock is free (a killed child's lock goes with its process).
fn reopen(path: &Path) -> Store {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Ok(store) => return store,
            Err(e) if Instant::now() < deadline => {
                eprintln!("reopen: {e}; again");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("the store does not open after a kill: {e}"),
        }
    }
}

/// Everything the upgrade promises, checked on a store that has finished it.
fn assert_upgraded(store: &Store, life: &str) {
    let problems = store.verify().unwrap();
    assert!(
        problems.is_empty(),
        "{life}: {} problems, e.g. {:?}",
        problems.len(),
        &problems[..problems.len().min(3)]
    );
    assert_eq!(store.len(), KEPT, "{life}: every item is still there");
    assert_eq!(
        store.tombstone_count(),
        0,
        "{life}: every tombstone is lifted"
    );
    assert_eq!(
        store.layout().unwrap().as_deref(),
        Some(SCHEMA_VERSION),
        "{life}"
    );
    // A story the old rule swept comes back when its page lists it again.
    let ctx = BatchContext {
        source_id: "a",
        section_key: "a/x",
        section_name: "x",
        title_window: None,
        now: now() + chrono::Duration::days(1),
    };
    let out = store.apply_batch(&ctx, &[story(STORIES - 1)]).unwrap();
    assert_eq!((out.new, out.tombstoned), (1, 0), "{life}");
}

fn spawn_child(path: &Path, test: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_kill_at_any_moment_of_the_upgrade_leaves_a_store_that_finishes_it() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        // Child: open (which upgrades), then exit.
        drop(Store::open(Path::new(&path)).unwrap());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("v3");
    build_v3_store(&fixture);

    // One uninterrupted upgrade in a child: how long the kills have to spread over.
    let whole = dir.path().join("whole");
    copy_dir(&fixture, &whole);
    let started = Instant::now();
    let status = spawn_child(&whole, TEST_NAME).wait().unwrap();
    let span = started.elapsed();
    assert!(status.success(), "the upgrade itself succeeds");
    assert_upgraded(&reopen(&whole), "uninterrupted");

    for kill in 0..KILLS {
        let path = dir.path().join(format!("kill{kill}"));
        copy_dir(&fixture, &path);
        let mut child = spawn_child(&path, TEST_NAME);
        // Spread over the whole run, start-up included, and a little past it.
        let at = span.mul_f64((kill as f64 + 0.5) / KILLS as f64 * 1.1);
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        let store = reopen(&path);
        assert_upgraded(&store, &format!("kill {kill} at {at:?} of {span:?}"));
    }
}

const V4_TEST_NAME: &str = "a_kill_during_the_binary_record_upgrade_leaves_every_item_readable";
const V5_TEST_NAME: &str = "a_kill_during_the_clustering_upgrade_leaves_every_item_readable";
const V4_STORIES: usize = 12_000;

/// Builds a layout-4 store (JSON item records) and returns every item as it reads before the
/// upgrade, newest first.
fn build_v4_store(path: &Path) -> Vec<headwire::store::Item> {
    build_old_store(path, false)
}

/// Builds a layout-5 (`to_v5`) or layout-4 store and returns every item as it reads before the
/// upgrade, newest first.
fn build_old_store(path: &Path, to_v5: bool) -> Vec<headwire::store::Item> {
    let store = Store::open(path).unwrap();
    let stories: Vec<Observed> = (0..V4_STORIES)
        .map(|i| {
            let mut story = story(i);
            if i % 3 == 0 {
                story.summary = Some(format!("<p>第{i}号摘要</p>"));
                story.page_labels.push("World".into());
            }
            if i % 7 == 0 {
                story.link = None;
                story.identity = format!("title:a:{}", story.title_key);
            }
            story
        })
        .collect();
    for (n, chunk) in stories.chunks(300).enumerate() {
        let key = format!("a/s{}", n % 3);
        let ctx = BatchContext {
            source_id: "a",
            section_key: &key,
            section_name: "x",
            title_window: None,
            now: now(),
        };
        store.apply_batch_deferred(&ctx, chunk).unwrap();
    }
    let all = store
        .query(
            &Query {
                limit: V4_STORIES,
                ..Query::default()
            },
            &|_| true,
        )
        .unwrap();
    assert_eq!(all.len(), V4_STORIES);
    if to_v5 {
        assert_eq!(store.debug_downgrade_to_v5().unwrap(), V4_STORIES);
    } else {
        assert_eq!(store.debug_downgrade_to_v4().unwrap(), V4_STORIES);
    }
    all
}

fn assert_v5(store: &Store, before: &[headwire::store::Item], life: &str) {
    let problems = store.verify().unwrap();
    assert!(
        problems.is_empty(),
        "{life}: {} problems, e.g. {:?}",
        problems.len(),
        &problems[..problems.len().min(3)]
    );
    assert_eq!(
        store.layout().unwrap().as_deref(),
        Some(SCHEMA_VERSION),
        "{life}"
    );
    let after = store
        .query(
            &Query {
                limit: V4_STORIES,
                ..Query::default()
            },
            &|_| true,
        )
        .unwrap();
    assert!(after == before, "{life}: every item reads back as it was");
    let section = store
        .query(
            &Query {
                labels: vec!["world".into()],
                limit: 10,
                ..Query::default()
            },
            &|_| true,
        )
        .unwrap();
    assert_eq!(section.len(), 10, "{life}: label index still answers");
}

#[test]
fn a_kill_during_the_binary_record_upgrade_leaves_every_item_readable() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        drop(Store::open(Path::new(&path)).unwrap());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("v4");
    let before = build_v4_store(&fixture);
    {
        let raw = reopen_raw_layout(&fixture);
        assert_eq!(raw.as_deref(), Some("headwire-store/4"));
    }
    let whole = dir.path().join("whole");
    copy_dir(&fixture, &whole);
    let started = Instant::now();
    let status = spawn_child(&whole, V4_TEST_NAME).wait().unwrap();
    let span = started.elapsed();
    assert!(status.success(), "the upgrade itself succeeds");
    assert_v5(&reopen(&whole), &before, "uninterrupted");

    for kill in 0..KILLS {
        let path = dir.path().join(format!("kill{kill}"));
        copy_dir(&fixture, &path);
        let mut child = spawn_child(&path, V4_TEST_NAME);
        let at = span.mul_f64((kill as f64 + 0.5) / KILLS as f64 * 1.1);
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        let (layout, json) = raw_progress(&path);
        eprintln!("kill {kill} at {at:?} of {span:?}: layout {layout:?}, {json} JSON records left");
        assert_v5(
            &reopen(&path),
            &before,
            &format!("kill {kill} at {at:?} of {span:?}"),
        );
    }
}

#[test]
fn a_kill_during_the_clustering_upgrade_leaves_every_item_readable() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        drop(Store::open(Path::new(&path)).unwrap());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("v5");
    let before = build_old_store(&fixture, true);
    assert_eq!(
        reopen_raw_layout(&fixture).as_deref(),
        Some("headwire-store/5")
    );
    assert_eq!(unmoved_records(&fixture), V4_STORIES);
    let whole = dir.path().join("whole");
    copy_dir(&fixture, &whole);
    let started = Instant::now();
    let status = spawn_child(&whole, V5_TEST_NAME).wait().unwrap();
    let span = started.elapsed();
    assert!(status.success(), "the upgrade itself succeeds");
    assert_eq!(unmoved_records(&whole), 0, "every record left `items`");
    assert_v5(&reopen(&whole), &before, "uninterrupted");
    let mut interrupted = 0;
    for kill in 0..KILLS {
        let path = dir.path().join(format!("kill{kill}"));
        copy_dir(&fixture, &path);
        let mut child = spawn_child(&path, V5_TEST_NAME);
        let at = span.mul_f64((kill as f64 + 0.5) / KILLS as f64 * 1.1);
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        let left = unmoved_records(&path);
        if left > 0 && left < V4_STORIES {
            interrupted += 1;
        }
        eprintln!(
            "kill {kill} at {at:?} of {span:?}: layout {:?}, {left} records not moved yet",
            reopen_raw_layout(&path)
        );
        assert_v5(
            &reopen(&path),
            &before,
            &format!("kill {kill} at {at:?} of {span:?}"),
        );
    }
    eprintln!("{interrupted} of {KILLS} kills landed mid-upgrade");
}

/// Item records still in layout 5's id-keyed `items` tree (read with sled directly).
fn unmoved_records(path: &Path) -> usize {
    let db = sled::open(path).unwrap();
    db.open_tree("items").unwrap().len()
}

/// The layout a killed child left and how many item records are still JSON.
fn raw_progress(path: &Path) -> (Option<String>, usize) {
    let layout = reopen_raw_layout(path);
    let db = sled::open(path).unwrap();
    let items = db.open_tree("items").unwrap();
    let json = items
        .iter()
        .values()
        .filter(|v| v.as_ref().unwrap().first() == Some(&b'{'))
        .count();
    (layout, json)
}

/// The layout a store's files record, read with sled directly (opening a `Store` would upgrade).
fn reopen_raw_layout(path: &Path) -> Option<String> {
    let db = sled::open(path).unwrap();
    let meta = db.open_tree("meta").unwrap();
    let raw = meta.get("schema").unwrap();
    raw.map(|v| String::from_utf8_lossy(&v).into_owned())
}
