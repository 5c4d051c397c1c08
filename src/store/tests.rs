//! Unit tests of the store: dedup, merging, retention, upgrades, verify.

use super::*;

fn obs(identity: &str, title: &str, published: Option<DateTime<Utc>>, labels: &[&str]) -> Observed {
    Observed {
        identity: identity.to_string(),
        link: Some(format!("https://example.com/{identity}")),
        title: title.to_string(),
        title_key: crate::text::title_key(title),
        summary: None,
        author: None,
        image: None,
        guid: None,
        published,
        page_labels: labels.iter().map(|s| s.to_string()).collect(),
    }
}

fn ctx<'a>(
    source: &'a str,
    section: &'a str,
    key: &'a str,
    now: DateTime<Utc>,
) -> BatchContext<'a> {
    BatchContext {
        source_id: source,
        section_key: key,
        section_name: section,
        title_window: Some(chrono::Duration::hours(48)),
        now,
    }
}

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 13, h, 0, 0).unwrap()
}

#[test]
fn inverted_time_sorts_newest_first_and_round_trips() {
    let old = Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap();
    let new = t(5);
    assert!(inverted_time(new) < inverted_time(old));
    assert_eq!(time_from_inverted(&inverted_time(old)), Some(old));
    assert_eq!(time_from_inverted(&inverted_time(new)), Some(new));
}

#[test]
fn dedups_merges_labels_and_keeps_published() {
    let store = Store::temporary().unwrap();
    let a = obs("link:a", "Story A", Some(t(1)), &["国内"]);
    let out = store
        .apply_batch(&ctx("s", "one", "s/one", t(2)), &[a.clone(), a.clone()])
        .unwrap();
    assert_eq!((out.found, out.new), (1, 1));
    // Same story again in another section, with a different time text: one item, two labels.
    let mut again = a.clone();
    again.published = Some(t(0));
    let out = store
        .apply_batch(&ctx("s", "two", "s/two", t(3)), &[again])
        .unwrap();
    assert_eq!((out.found, out.new, out.updated), (1, 0, 1));
    assert_eq!(store.len(), 1);
    let items = all(&store);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].published, t(1));
    assert_eq!(items[0].labels, vec!["one", "国内", "two"]);
    // Re-polling the same page changes nothing.
    let gen = store.generation();
    let out = store
        .apply_batch(&ctx("s", "two", "s/two", t(4)), &[a])
        .unwrap();
    assert_eq!((out.new, out.updated), (0, 0));
    assert_eq!(store.generation(), gen);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn label_and_source_filters_use_indexes() {
    let store = Store::temporary().unwrap();
    let batch: Vec<Observed> = (0..10)
        .map(|i| {
            obs(
                &format!("link:{i}"),
                &format!("Story number {i}"),
                Some(t(i)),
                if i % 2 == 0 { &["even"] } else { &[] },
            )
        })
        .collect();
    store
        .apply_batch(&ctx("s", "news", "s/news", t(20)), &batch)
        .unwrap();
    let q = Query {
        labels: vec!["even".into()],
        limit: 3,
        ..Query::default()
    };
    let got: Vec<String> = store
        .query(&q, &|_| true)
        .unwrap()
        .into_iter()
        .map(|i| i.title)
        .collect();
    assert_eq!(
        got,
        vec!["Story number 8", "Story number 6", "Story number 4"]
    );
    let q = Query {
        labels: vec!["even".into(), "s/news".into()],
        limit: 100,
        ..Query::default()
    };
    assert_eq!(store.query(&q, &|_| true).unwrap().len(), 10);
    // Section ids and names are not indexed (the server resolves them to section keys).
    let q = Query {
        labels: vec!["news".into()],
        limit: 100,
        ..Query::default()
    };
    assert!(store.query(&q, &|_| true).unwrap().is_empty());
    let q = Query {
        sources: vec!["other".into()],
        limit: 100,
        ..Query::default()
    };
    assert!(store.query(&q, &|_| true).unwrap().is_empty());
    let q = Query {
        since: Some(t(7)),
        limit: 100,
        ..Query::default()
    };
    assert_eq!(store.query(&q, &|_| true).unwrap().len(), 3);
}

#[test]
fn cross_source_titles_merge_within_window() {
    let store = Store::temporary().unwrap();
    store
        .apply_batch(
            &ctx("a", "x", "a/x", t(2)),
            &[obs("link:a1", "上海新增本土病例", Some(t(1)), &[])],
        )
        .unwrap();
    let out = store
        .apply_batch(
            &ctx("b", "y", "b/y", t(3)),
            &[obs("link:b1", "上海新增本土病例！", Some(t(2)), &["疫情"])],
        )
        .unwrap();
    assert_eq!(out.new, 0);
    assert_eq!(store.len(), 1);
    let item = &all(&store)[0];
    assert_eq!(item.sources, vec!["a", "b"]);
    assert_eq!(item.link.as_deref(), Some("https://example.com/link:a1"));
    assert!(item.labels.contains(&"疫情".to_string()));
    assert_eq!(
        store
            .query(
                &Query {
                    sources: vec!["b".into()],
                    limit: 5,
                    ..Query::default()
                },
                &|_| true
            )
            .unwrap()
            .len(),
        1
    );
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn changed_title_updates_without_new_item() {
    let store = Store::temporary().unwrap();
    store
        .apply_batch(
            &ctx("s", "x", "s/x", t(2)),
            &[obs("link:1", "Old title", Some(t(1)), &[])],
        )
        .unwrap();
    let out = store
        .apply_batch(
            &ctx("s", "x", "s/x", t(5)),
            &[obs("link:1", "New title", Some(t(4)), &[])],
        )
        .unwrap();
    assert_eq!((out.new, out.updated), (0, 1));
    let item = &all(&store)[0];
    assert_eq!(item.title, "New title");
    assert_eq!(item.published, t(1));
    assert_eq!(item.updated, t(5));
}

#[test]
fn schema_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .meta
            .insert(SCHEMA_KEY, b"headwire-store/0".as_ref())
            .unwrap();
        store.flush().unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("headwire-store/0"), "{err}");
}
fn all(store: &Store) -> Vec<Item> {
    store
        .query(
            &Query {
                limit: 1000,
                ..Query::default()
            },
            &|_| true,
        )
        .unwrap()
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

#[test]
fn merged_story_stays_one_item_when_its_source_polls_again() {
    // Regression: the second poll of source b used to miss the title match (b was already
    // among the item's sources) and created a duplicate.
    let store = Store::temporary().unwrap();
    let a = obs("link:a1", "上海新增本土病例", Some(t(1)), &[]);
    let b = obs("link:b1", "上海新增本土病例", Some(t(2)), &[]);
    store
        .apply_batch(&ctx("a", "x", "a/x", t(2)), &[a])
        .unwrap();
    for hour in [3, 4] {
        let out = store
            .apply_batch(&ctx("b", "y", "b/y", t(hour)), std::slice::from_ref(&b))
            .unwrap();
        assert_eq!(out.new, 0, "poll at {hour}h");
    }
    // Even with another title, b's link still leads to the merged item (by alias) and does
    // not rewrite a's text.
    let mut renamed = b.clone();
    renamed.title = "完全不同的标题".into();
    renamed.title_key = crate::text::title_key(&renamed.title);
    let out = store
        .apply_batch(&ctx("b", "y", "b/y", t(5)), &[renamed])
        .unwrap();
    assert_eq!((out.new, out.updated), (0, 0));
    let items = all(&store);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].title, "上海新增本土病例");
    assert_eq!(items[0].sources, vec!["a", "b"]);
    assert_eq!(store.len(), 1);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn owner_section_keeps_the_text_and_others_fill_gaps() {
    let store = Store::temporary().unwrap();
    let home = obs("link:1", "短标题", Some(t(1)), &[]);
    let mut full = obs("link:1", "完整的长标题", Some(t(1)), &[]);
    full.summary = Some("<p>摘要</p>".into());
    store
        .apply_batch(
            &ctx("s", "home", "s/home", t(2)),
            std::slice::from_ref(&home),
        )
        .unwrap();
    for hour in 3..6 {
        store
            .apply_batch(&ctx("s", "news", "s/news", t(hour)), &[full.clone()])
            .unwrap();
        store
            .apply_batch(
                &ctx("s", "home", "s/home", t(hour)),
                std::slice::from_ref(&home),
            )
            .unwrap();
    }
    let item = &all(&store)[0];
    assert_eq!(item.title, "短标题", "no flip-flop between sections");
    assert_eq!(item.summary.as_deref(), Some("<p>摘要</p>"), "gap filled");
    assert_eq!(item.updated, t(3), "nothing changed after the first fill");
    // A real edit in the owning section is taken.
    let mut edited = home;
    edited.title = "短标题（更新）".into();
    store
        .apply_batch(&ctx("s", "home", "s/home", t(7)), &[edited])
        .unwrap();
    let item = &all(&store)[0];
    assert_eq!(
        (item.title.as_str(), item.updated),
        ("短标题（更新）", t(7))
    );
    assert_eq!(item.published, t(1));
}

#[test]
fn retention_deletes_old_items_and_tombstones_keep_them_out() {
    let store = Store::temporary().unwrap();
    let now = t(0) + days(40);
    let old = obs("link:old", "Old story here", Some(t(0)), &["旧闻"]);
    let fresh = obs("link:new", "New story here", Some(now - days(1)), &[]);
    // Age counts from first-seen: the old story was stored 40 days ago, the fresh one
    // yesterday.
    store
        .apply_batch(
            &ctx("a", "x", "a/x", t(0) + chrono::Duration::hours(2)),
            std::slice::from_ref(&old),
        )
        .unwrap();
    store
        .apply_batch(&ctx("a", "x", "a/x", now - days(1)), &[fresh])
        .unwrap();
    // b merged the old story by title: its own link becomes an alias.
    let merged = obs("link:b-old", "Old story here!", Some(t(1)), &[]);
    store
        .apply_batch(
            &ctx("b", "y", "b/y", t(0) + chrono::Duration::hours(3)),
            std::slice::from_ref(&merged),
        )
        .unwrap();
    assert_eq!(store.len(), 2);
    let report = store.sweep(&Retention::default(), now).unwrap();
    assert_eq!(report.deleted, vec![hex(&item_id("link:old"))]);
    assert_eq!(store.len(), 1);
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
    assert!(store.is_tombstoned(&hex(&item_id("link:old"))).unwrap());
    assert!(store.is_tombstoned(&hex(&item_id("link:b-old"))).unwrap());
    // Identity path, alias path and title path (a third source) all stay out.
    let third = obs("link:c-old", "OLD STORY HERE", Some(t(0)), &[]);
    for (source, o) in [("a", old.clone()), ("b", merged), ("c", third)] {
        let out = store
            .apply_batch(&ctx(source, "z", &format!("{source}/z"), now), &[o])
            .unwrap();
        assert_eq!((out.new, out.tombstoned), (0, 1), "{source}");
    }
    assert_eq!(store.len(), 1);
    assert_eq!(
        store.count_label("旧闻"),
        0,
        "the label index lost the deleted item too"
    );
    // After the tombstone window the story may come back (and would be swept again).
    let later = now + days(DEFAULT_KEEP_DAYS as i64) + chrono::Duration::minutes(1);
    let report = store.sweep(&Retention::default(), later).unwrap();
    assert_eq!(report.purged, 2);
    assert!(!store.is_tombstoned(&hex(&item_id("link:old"))).unwrap());
    assert!(store.verify().unwrap().is_empty());
    let out = store
        .apply_batch(&ctx("a", "x", "a/x", later), &[old])
        .unwrap();
    assert_eq!(out.new, 1);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn age_counts_from_first_seen_and_listed_stories_stay() {
    // An announcements page: every story on it is years old when first polled.
    let store = Store::temporary().unwrap();
    let first_poll = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let page: Vec<Observed> = (0..7)
        .map(|i| {
            obs(
                &format!("link:notice{i}"),
                &format!("Notice number {i}"),
                Some(t(i)),
                &[],
            )
        })
        .collect();
    let out = store
        .apply_batch(&ctx("a", "x", "a/x", first_poll), &page)
        .unwrap();
    assert_eq!(out.new, 7);
    let mut retention = Retention::default();
    retention.sections.insert("a/x".into());
    // The old rule (age from published, 2022) deleted all seven here.
    let report = store.sweep(&retention, first_poll + days(1)).unwrap();
    assert!(report.deleted.is_empty(), "{report:?}");
    assert_eq!(store.len(), 7);
    // Forty days on, the page still lists all seven: nothing is aged out.
    let later = first_poll + days(40);
    store
        .apply_batch(&ctx("a", "x", "a/x", later - days(1)), &page)
        .unwrap();
    let report = store.sweep(&retention, later).unwrap();
    assert!(report.deleted.is_empty(), "{report:?}");
    assert_eq!(report.listed, 7);
    // The page drops two stories: they go once they are old, the listed five stay.
    store
        .apply_batch(&ctx("a", "x", "a/x", later), &page[..5])
        .unwrap();
    let report = store
        .sweep(&retention, later + chrono::Duration::hours(1))
        .unwrap();
    let mut deleted = report.deleted.clone();
    deleted.sort();
    let mut expected = vec![hex(&item_id("link:notice5")), hex(&item_id("link:notice6"))];
    expected.sort();
    assert_eq!(deleted, expected);
    assert_eq!(store.len(), 5);
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
    // A section no longer configured protects nothing.
    let report = store
        .sweep(&Retention::default(), later + chrono::Duration::hours(2))
        .unwrap();
    assert_eq!(report.deleted.len(), 5);
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
}

#[test]
fn a_listing_alone_is_kept_without_a_new_generation() {
    let store = Store::temporary().unwrap();
    let page = vec![
        obs("link:1", "Story one here", Some(t(1)), &[]),
        obs("link:2", "Story two here", Some(t(1)), &[]),
    ];
    store
        .apply_batch(&ctx("a", "x", "a/x", t(2)), &page)
        .unwrap();
    let generation = store.generation();
    // The same stories again: nothing to write.
    store
        .apply_batch(&ctx("a", "x", "a/x", t(3)), &page)
        .unwrap();
    assert_eq!(store.generation(), generation);
    // One fewer: only the listing changes, which no feed shows.
    store
        .apply_batch(&ctx("a", "x", "a/x", t(4)), &page[..1])
        .unwrap();
    assert_eq!(store.generation(), generation);
    let listed = store.meta.get(listed_key("a/x")).unwrap().unwrap();
    assert_eq!(listed.as_ref(), item_id("link:1").as_slice());
}

#[test]
fn unbelievable_published_times_become_first_seen() {
    let store = Store::temporary().unwrap();
    let now = t(5);
    let ancient = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
    let far_future = now + days(400);
    store
        .apply_batch(
            &ctx("a", "x", "a/x", now),
            &[
                obs("link:1", "Ancient story", Some(ancient), &[]),
                obs("link:2", "Future story", Some(far_future), &[]),
                obs("link:3", "Fine story", Some(t(4)), &[]),
            ],
        )
        .unwrap();
    let times: Vec<DateTime<Utc>> = ["link:1", "link:2", "link:3"]
        .iter()
        .map(|k| store.get(&hex(&item_id(k))).unwrap().unwrap().published)
        .collect();
    assert_eq!(times, vec![now, now, t(4)]);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn version_3_store_lifts_tombstones_and_repairs_times() {
    let dir = tempfile::tempdir().unwrap();
    let first_seen = t(2);
    let big_title = "标".repeat(crate::normalize::bounds::MAX_TITLE_CHARS * 3);
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .apply_batch(
                &ctx("s", "x", "s/x", first_seen),
                &[
                    obs("link:old", "An old notice", Some(t(1)), &["公告"]),
                    obs("link:kept", "A kept story", Some(t(1)), &[]),
                    obs("link:big", &big_title, Some(t(1)), &[]),
                ],
            )
            .unwrap();
        // What the old rule did: swept by published age, tombstoned.
        let report = store
            .sweep(&Retention::default(), first_seen + days(1))
            .unwrap();
        assert!(report.deleted.is_empty());
        let id = item_id("link:old");
        let item = store.load(&id).unwrap().unwrap();
        let mut m = Mutations::default();
        store
            .plan_delete(&mut m, &id, &item, first_seen, first_seen + days(30))
            .unwrap();
        store.commit(&m, first_seen, true).unwrap();
        // And what an older parser let through: a published time before 1990, written in the
        // layout such a store had.
        let kept = item_id("link:kept");
        let mut bad = store.load(&kept).unwrap().unwrap();
        store.to_layout_v5().unwrap();
        let mut m = Mutations::default();
        for (tree, key) in legacy_index_entries(&bad, &kept) {
            m.del(tree, key);
        }
        bad.published = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap();
        for (tree, key) in legacy_index_entries(&bad, &kept) {
            m.put(tree, key, Vec::new());
        }
        m.put(
            TreeId::Titles,
            title_entry(&bad.title_key, &kept),
            bad.published.timestamp_millis().to_be_bytes().to_vec(),
        );
        m.put(TreeId::Items, kept.to_vec(), encode(&bad));
        store.commit(&m, first_seen, true).unwrap();
        store.meta.insert(SCHEMA_KEY, SCHEMA_V3.as_bytes()).unwrap();
        store.flush().unwrap();
        assert_eq!(store.tombstones.len(), 1);
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
    assert_eq!(store.tombstones.len(), 0);
    assert_eq!(store.tomb_expiry.len(), 0);
    assert_eq!(
        store.meta.get(SCHEMA_KEY).unwrap().unwrap().as_ref(),
        SCHEMA_VERSION.as_bytes()
    );
    let kept = store.get(&hex(&item_id("link:kept"))).unwrap().unwrap();
    assert_eq!(kept.published, first_seen);
    let big = store.get(&hex(&item_id("link:big"))).unwrap().unwrap();
    assert_eq!(
        big.title.chars().count(),
        crate::normalize::bounds::MAX_TITLE_CHARS
    );
    // The page still lists the old notice: it comes back on the next poll.
    let out = store
        .apply_batch(
            &ctx("s", "x", "s/x", first_seen + days(2)),
            &[obs("link:old", "An old notice", Some(t(1)), &["公告"])],
        )
        .unwrap();
    assert_eq!((out.new, out.tombstoned), (1, 0));
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
}

#[test]
fn shared_items_stay_while_any_source_keeps_them() {
    let store = Store::temporary().unwrap();
    let now = t(0) + days(10);
    // a keeps 2 days, b keeps 30 (default); the story is on both.
    store
        .apply_batch(
            &ctx("a", "x", "a/x", t(1)),
            &[obs("link:s", "Shared story", Some(t(0)), &[])],
        )
        .unwrap();
    store
        .apply_batch(
            &ctx("b", "y", "b/y", t(2)),
            &[obs("link:s", "Shared story", Some(t(0)), &[])],
        )
        .unwrap();
    let mut retention = Retention::default();
    retention
        .sources
        .insert("a".into(), RetentionPolicy::new(Some(2), None));
    retention
        .sources
        .insert("b".into(), RetentionPolicy::new(None, None));
    let report = store.sweep(&retention, now).unwrap();
    assert_eq!((report.deleted.len(), report.kept_shared), (0, 1));
    assert_eq!(
        store.count_source("a"),
        1,
        "still listed under both sources"
    );
    retention
        .sources
        .insert("b".into(), RetentionPolicy::new(Some(5), None));
    let report = store.sweep(&retention, now).unwrap();
    assert_eq!(report.deleted.len(), 1);
    assert!(store.is_empty());
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn keep_items_keeps_the_newest_per_source() {
    let store = Store::temporary().unwrap();
    let batch: Vec<Observed> = (0..6)
        .map(|i| obs(&format!("link:{i}"), &format!("Story {i}"), Some(t(i)), &[]))
        .collect();
    store
        .apply_batch(&ctx("a", "x", "a/x", t(10)), &batch)
        .unwrap();
    let mut retention = Retention::default();
    retention
        .sources
        .insert("a".into(), RetentionPolicy::new(None, Some(4)));
    // `keep_items` is a hard cap: stories the page still lists count too.
    retention.sections.insert("a/x".into());
    let report = store.sweep(&retention, t(11)).unwrap();
    assert_eq!(report.deleted.len(), 2);
    let titles: Vec<String> = all(&store).into_iter().map(|i| i.title).collect();
    assert_eq!(titles, vec!["Story 5", "Story 4", "Story 3", "Story 2"]);
    assert_eq!(store.len(), 4);
    assert!(store.verify().unwrap().is_empty());
    // Unconfigured sources get the 30-day default: nothing here is that old.
    let report = store.sweep(&Retention::default(), t(11)).unwrap();
    assert!(report.deleted.is_empty());
}

#[test]
fn verify_notices_a_missing_index_entry() {
    let store = Store::temporary().unwrap();
    let out = store
        .apply_batch(
            &ctx("s", "x", "s/x", t(2)),
            &[obs("link:1", "Story one", Some(t(1)), &[])],
        )
        .unwrap();
    assert!(store.verify().unwrap().is_empty());
    assert!(store.debug_remove_index_entry(&out.ids[0]).unwrap());
    let problems = store.verify().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("time_index: missing entry"),
        "{problems:?}"
    );
}

#[test]
fn version_1_store_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .apply_batch(
                &ctx("s", "x", "s/x", t(2)),
                &[
                    obs("link:1", "Story one", Some(t(1)), &[]),
                    obs("link:2", "Story two", Some(t(1)), &[]),
                ],
            )
            .unwrap();
        // What a version-1 store looked like: no counter, no source registry.
        store.meta.remove(ITEM_COUNT_KEY).unwrap();
        store.meta.remove(source_key("s")).unwrap();
        remove_counters(&store);
        store.to_layout_v5().unwrap();
        store.meta.insert(SCHEMA_KEY, SCHEMA_V1.as_bytes()).unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.len(), 2);
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
    assert_eq!(
        store.meta.get(SCHEMA_KEY).unwrap().unwrap().as_ref(),
        SCHEMA_VERSION.as_bytes()
    );
}

fn remove_counters(store: &Store) {
    for key in store.meta.scan_prefix(COUNT_KEY_PREFIX).keys() {
        store.meta.remove(key.unwrap()).unwrap();
    }
}

#[test]
fn version_2_store_gains_index_counters() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .apply_batch(
                &ctx("s", "x", "s/x", t(2)),
                &[
                    obs("link:1", "Story one", Some(t(1)), &["时政"]),
                    obs("link:2", "Story two", Some(t(1)), &[]),
                ],
            )
            .unwrap();
        remove_counters(&store);
        assert_eq!(store.count_label("s/x"), 0);
        store.to_layout_v5().unwrap();
        store.meta.insert(SCHEMA_KEY, SCHEMA_V2.as_bytes()).unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
    assert_eq!(store.count_label("s/x"), 2);
    assert_eq!(store.count_label(&fold_label("时政")), 1);
    assert_eq!(store.count_source("s"), 2);
    assert_eq!(
        store.meta.get(SCHEMA_KEY).unwrap().unwrap().as_ref(),
        SCHEMA_VERSION.as_bytes()
    );
}

#[test]
fn readers_never_see_half_a_batch() {
    // Each batch holds a newest and an oldest story, so a scan that overlapped a commit
    // without the commit lock could see one without the other.
    let store = std::sync::Arc::new(Store::temporary().unwrap());
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for i in 0..150i64 {
                let newest = t(12) + chrono::Duration::minutes(i);
                let oldest = t(0) - chrono::Duration::minutes(i);
                store
                    .apply_batch_deferred(
                        &ctx("s", "x", "s/x", newest),
                        &[
                            obs(
                                &format!("link:n{i}"),
                                &format!("New {i}"),
                                Some(newest),
                                &[],
                            ),
                            obs(
                                &format!("link:o{i}"),
                                &format!("Old {i}"),
                                Some(oldest),
                                &[],
                            ),
                        ],
                    )
                    .unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads == 0 {
        let n = all(&store).len();
        assert_eq!(n % 2, 0, "a query saw half a batch ({n} items)");
        reads += 1;
    }
    writer.join().unwrap();
    assert_eq!(all(&store).len(), 300);
}
#[test]
fn a_store_in_use_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    drop(first);
    // Once the holder is gone the store opens again (waiting out sled's background writes).
    assert!(Store::open(dir.path()).is_ok());
}

#[test]
fn a_commit_moves_only_the_feeds_it_touched() {
    let store = Store::temporary().unwrap();
    let (a, b) = (fold_label("a/x"), fold_label("b/y"));
    store
        .apply_batch(
            &ctx("a", "x", "a/x", t(2)),
            &[obs("link:1", "Story one here", Some(t(1)), &["要闻"])],
        )
        .unwrap();
    let (ga, gb) = (
        store.feed_generation(std::slice::from_ref(&a), &[]),
        store.feed_generation(std::slice::from_ref(&b), &[]),
    );
    assert!(ga > 0);
    assert_eq!(gb, 0, "nothing touched b yet");
    // A new story in b moves b's feeds, its source's and the merged feed, not a's.
    let before = store.generation();
    store
        .apply_batch(
            &ctx("b", "y", "b/y", t(3)),
            &[obs("link:2", "Story two here", Some(t(2)), &[])],
        )
        .unwrap();
    assert!(store.generation() > before);
    assert_eq!(store.feed_generation(std::slice::from_ref(&a), &[]), ga);
    assert!(store.feed_generation(std::slice::from_ref(&b), &[]) > gb);
    assert!(store.feed_generation(&[], &["b".to_string()]) > gb);
    assert_eq!(store.feed_generation(&[], &["a".to_string()]), ga);
    assert_eq!(store.feed_generation(&[], &[]), store.generation());
    // A changed title writes no index entry, but every feed of the item moves.
    store
        .apply_batch(
            &ctx("a", "x", "a/x", t(4)),
            &[obs("link:1", "Story one, updated", Some(t(1)), &["要闻"])],
        )
        .unwrap();
    let moved = store.feed_generation(std::slice::from_ref(&a), &[]);
    assert!(moved > ga);
    assert_eq!(
        store.feed_generation(&[fold_label("要闻")], &[]),
        moved,
        "the page label's feed moved with it"
    );
    // Unchanged pages move nothing.
    let now = store.generation();
    store
        .apply_batch(
            &ctx("a", "x", "a/x", t(5)),
            &[obs("link:1", "Story one, updated", Some(t(1)), &["要闻"])],
        )
        .unwrap();
    assert_eq!(store.generation(), now);
    // Retention moves the feeds of what it deleted.
    let mut retention = Retention::default();
    retention
        .sources
        .insert("b".into(), RetentionPolicy::new(None, Some(0)));
    let gb = store.feed_generation(std::slice::from_ref(&b), &[]);
    let report = store.sweep(&retention, t(6)).unwrap();
    assert_eq!(report.deleted.len(), 1);
    assert!(store.feed_generation(std::slice::from_ref(&b), &[]) > gb);
    assert_eq!(store.feed_generation(std::slice::from_ref(&a), &[]), moved);
}

#[test]
fn words_match_the_search_text_kept_at_write_time() {
    let store = Store::temporary().unwrap();
    let mut first = obs("link:1", "上海新增本土確診病例", Some(t(1)), &["要闻"]);
    first.summary = Some("<p>市卫健委<b>通报</b></p>".into());
    store
        .apply_batch(
            &ctx("a", "x", "a/x", t(2)),
            &[first, obs("link:2", "Weather tomorrow", Some(t(1)), &[])],
        )
        .unwrap();
    let find = |words: &[&str], exclude: &[&str], labels: &[String]| -> Vec<String> {
        store
            .query(
                &Query {
                    words: words.iter().map(|w| fold_label(w)).collect(),
                    exclude: exclude.iter().map(|w| fold_label(w)).collect(),
                    labels: labels.to_vec(),
                    limit: 10,
                    ..Query::default()
                },
                &|_| true,
            )
            .unwrap()
            .into_iter()
            .map(|i| i.title)
            .collect()
    };
    assert_eq!(
        find(&["确诊", "通报"], &[], &[]),
        vec!["上海新增本土確診病例"]
    );
    assert_eq!(find(&["WEATHER"], &[], &[]), vec!["Weather tomorrow"]);
    assert_eq!(find(&["上海"], &["通报"], &[]), Vec::<String>::new());
    // Through a label index, the text comes from the item's by_time entry.
    let section = vec![fold_label("a/x")];
    assert_eq!(find(&["确诊"], &[], &section), vec!["上海新增本土確診病例"]);
    // A changed title changes what it is found by.
    store
        .apply_batch(
            &ctx("a", "x", "a/x", t(3)),
            &[obs("link:2", "Rain tomorrow", Some(t(1)), &[])],
        )
        .unwrap();
    assert!(find(&["weather"], &[], &[]).is_empty());
    assert_eq!(find(&["rain"], &[], &section), vec!["Rain tomorrow"]);
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
    // A time-index payload without its home prefix and text is damage: the search skips the
    // item, and verify reports it.
    let id = item_id("link:2");
    let item = store.load(&id).unwrap().unwrap();
    let damage = |payload: &[u8]| {
        let mut m = Mutations::default();
        m.index_put(
            (
                TreeId::TimeIndex,
                Vec::new(),
                suffix_of(item.published, &id),
            ),
            payload.to_vec(),
        );
        store.commit(&m, t(3), false).unwrap();
    };
    damage(b"");
    assert!(find(&["rain"], &[], &[]).is_empty());
    assert!(find(&["rain"], &[], &section).is_empty());
    assert_eq!(store.verify().unwrap().len(), 1);
    // A wrong text is reported.
    damage(b"12345678something else");
    assert_eq!(store.verify().unwrap().len(), 1);
}

#[test]
fn full_text_is_stored_compressed_read_back_and_counted() {
    let store = Store::temporary().unwrap();
    let page: Vec<Observed> = (0..4)
        .map(|i| {
            obs(
                &format!("link:t{i}"),
                &format!("Story {i}"),
                Some(t(i)),
                &[],
            )
        })
        .collect();
    let out = store
        .apply_batch(&ctx("s", "one", "s/one", t(6)), &page)
        .unwrap();
    let ids = out.ids;
    assert_eq!(
        store.text_counts(),
        TextCounts {
            have: 0,
            pending: 4,
            failed: 0
        }
    );
    let html = format!("<article>{}</article>", "正文段落。".repeat(2000));
    let generation = store.feed_generation(&[fold_label("s/one")], &[]);
    assert!(store.put_text(&ids[0], &html).unwrap());
    assert!(
        store.feed_generation(&[fold_label("s/one")], &[]) > generation,
        "a feed listing the story may show its text"
    );
    assert_eq!(store.text(&ids[0]).unwrap().as_deref(), Some(html.as_str()));
    let stored = store.content.get(unhex(&ids[0]).unwrap()).unwrap().unwrap();
    assert!(
        stored.len() * 20 < html.len(),
        "{} bytes stored",
        stored.len()
    );
    assert_eq!(store.text(&ids[1]).unwrap(), None);
    // No text for an id that is no item.
    assert!(!store.put_text(&hex(&[9; 16]), "x").unwrap());
    assert!(!store.put_text("not hex", "x").unwrap());

    // Failures count attempts; a failed item is not due before its next attempt.
    let first = store
        .record_text_failure(&ids[1], "timeout", |_| t(8))
        .unwrap()
        .unwrap();
    assert_eq!((first.attempts, first.last_error.as_str()), (1, "timeout"));
    let second = store
        .record_text_failure(&ids[1], "http 503", |_| t(10))
        .unwrap()
        .unwrap();
    assert_eq!(
        second,
        TextFetchState {
            attempts: 2,
            next_attempt: t(10),
            last_error: "http 503".into()
        }
    );
    assert_eq!(store.text_state(&ids[1]).unwrap(), Some(second));
    // A story with text records no failure.
    assert_eq!(
        store.record_text_failure(&ids[0], "x", |_| t(8)).unwrap(),
        None
    );
    assert_eq!(
        store.text_counts(),
        TextCounts {
            have: 1,
            pending: 2,
            failed: 1
        }
    );
    // Due at 09:00: the never-attempted ones, newest first; at 10:00 the failed one too.
    assert_eq!(
        store.items_needing_text("s/one", t(9), 10).unwrap(),
        vec![ids[3].clone(), ids[2].clone()]
    );
    assert_eq!(
        store.items_needing_text("s/one", t(10), 10).unwrap(),
        vec![ids[3].clone(), ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(
        store.items_needing_text("s/one", t(10), 1).unwrap(),
        vec![ids[3].clone()]
    );
    assert!(store
        .items_needing_text("s/other", t(10), 10)
        .unwrap()
        .is_empty());
    // Text after failures clears the state.
    assert!(store.put_text(&ids[1], "<p>late</p>").unwrap());
    assert_eq!(store.text_state(&ids[1]).unwrap(), None);
    assert_eq!(
        store.text_counts(),
        TextCounts {
            have: 2,
            pending: 2,
            failed: 0
        }
    );
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
}

#[test]
fn retention_deletes_text_with_the_item_and_verify_reports_orphans() {
    let store = Store::temporary().unwrap();
    let page = [
        obs("link:old", "Old story", Some(t(0)), &[]),
        obs("link:new", "New story", Some(t(1)), &[]),
    ];
    let ids = store
        .apply_batch(&ctx("s", "one", "s/one", t(2)), &page)
        .unwrap()
        .ids;
    assert!(store.put_text(&ids[0], "<p>old</p>").unwrap());
    assert!(store
        .record_text_failure(&ids[1], "dns", |_| t(3))
        .unwrap()
        .is_some());
    let mut retention = Retention::default();
    retention
        .sources
        .insert("s".into(), RetentionPolicy::new(None, Some(0)));
    let report = store.sweep(&retention, t(5)).unwrap();
    assert_eq!(report.deleted.len(), 2);
    assert_eq!(store.text(&ids[0]).unwrap(), None);
    assert_eq!(store.text_state(&ids[1]).unwrap(), None);
    assert_eq!(store.text_counts(), TextCounts::default());
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());

    // Damage from outside: text for no item, an undecodable state.
    store.content.insert([7u8; 16], &b"\x01junk"[..]).unwrap();
    store.text_state.insert([8u8; 16], &b"\x09"[..]).unwrap();
    let problems = store.verify().unwrap();
    let joined = problems.join("\n");
    assert!(joined.contains("content: entry 07070707"), "{joined}");
    assert!(joined.contains("does not decompress"), "{joined}");
    assert!(joined.contains("text_state: entry 08080808"), "{joined}");
    assert!(joined.contains("malformed fetch state"), "{joined}");
    assert!(joined.contains("counter"), "{joined}");
}

#[test]
fn a_secret_is_random_once_and_then_the_same_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (first, other) = {
        let store = Store::open(dir.path()).unwrap();
        let first = store.secret("image-proxy").unwrap();
        assert_eq!(store.secret("image-proxy").unwrap(), first);
        let other = store.secret("another").unwrap();
        (first, other)
    };
    assert_ne!(first, other, "each name has its own secret");
    assert_ne!(first, [0u8; 32]);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.secret("image-proxy").unwrap(), first);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn version_4_store_gets_the_search_text_of_items_stored_before_it_was_kept() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let stories = [
            obs("link:a", "国务院联防联控机制发布会", Some(t(1)), &[]),
            obs("link:b", "上海新增确诊病例", Some(t(2)), &[]),
        ];
        store
            .apply_batch(&ctx("s", "one", "s/one", t(3)), &stories)
            .unwrap();
        store.debug_downgrade_to_v4().unwrap();
        // What a store written before the search text was kept looks like.
        for entry in store.by_time.iter() {
            let (key, _) = entry.unwrap();
            store.by_time.insert(key, Vec::<u8>::new()).unwrap();
        }
        store.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.layout().unwrap().as_deref(), Some(SCHEMA_VERSION));
    let texts: Vec<String> = scan_group(&store.time_index, "time_index", &[])
        .map(|e| String::from_utf8(e.unwrap().payload[8..].to_vec()).unwrap())
        .collect();
    assert_eq!(texts.len(), 2);
    assert!(texts.iter().all(|t| !t.is_empty()), "{texts:?}");
    let found = store
        .query(
            &Query {
                words: vec![fold_label("確診")],
                limit: 10,
                ..Query::default()
            },
            &|_| true,
        )
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].title, "上海新增确诊病例");
}

#[test]
fn hex_writes_lower_case_pairs_that_unhex_reads_back() {
    for seed in ["", "a", "link:1", "另一个"] {
        let id = item_id(seed);
        let text = hex(&id);
        let formatted: String = id.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(text, formatted);
        assert_eq!(unhex(&text), Some(id));
    }
    assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff]), "000ff0ff");
}
