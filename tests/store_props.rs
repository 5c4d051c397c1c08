//! Property tests: random sequences of polls (overlapping sections and sources, repeated and
//! retitled stories, changed summaries and page labels, cross-source title merges), restarts
//! (close and reopen the store on disk) and retention sweeps with an injected clock, run against
//! a simple in-memory model of the store's rules. After every step the store must hold exactly
//! the model's items — same labels, sources, sections, text, published and updated times —
//! answer label and source queries from its indexes with exactly the model's items in order,
//! know the model's tombstones, hold exactly the model's full texts and fetch failures (which
//! retention deletes with their items), and `verify()` must find nothing.
//!
//! `PROPTEST_CASES` overrides the default of 64 cases.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use headwire::normalize::Observed;
use headwire::store::{
    item_id, BatchContext, Query, Retention, RetentionPolicy, Store, DEFAULT_KEEP_DAYS,
};
use headwire::text::{fold_label, title_key};
use proptest::prelude::*;

const SOURCES: [&str; 3] = ["a", "b", "c"];
const SECTIONS: [(&str, &str); 2] = [("one", "要闻"), ("two", "Two")];
const PAGE_LABELS: [&str; 2] = ["抗疫进行时", "World"];

/// One headline on a polled page, as indexes into small pools so stories collide often.
#[derive(Debug, Clone)]
struct Entry {
    story: u8,
    /// 0: a link shared by every source; 1: the source's own link; 2: another link of the source.
    link: u8,
    /// 0, 1: two wordings of the story's title; 2: a title too short to match across sources.
    title: u8,
    /// 0: none; else one of two summaries.
    summary: u8,
    /// 0: no time (first-seen); else hours before the poll.
    age: u8,
    /// Bit set over [`PAGE_LABELS`].
    labels: u8,
}

#[derive(Debug, Clone)]
enum Op {
    Poll {
        source: usize,
        section: usize,
        entries: Vec<Entry>,
        advance_hours: i64,
    },
    Restart,
    Sweep {
        advance_days: i64,
    },
    /// Store full text for the `nth` stored item (by id, wrapping), or record a failed fetch.
    Text {
        nth: usize,
        fail: bool,
    },
}

fn entry() -> impl Strategy<Value = Entry> {
    (0u8..6, 0u8..3, 0u8..3, 0u8..3, 0u8..5, 0u8..4).prop_map(
        |(story, link, title, summary, age, labels)| Entry {
            story,
            link,
            title,
            summary,
            age,
            labels,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..3, 0usize..2, prop::collection::vec(entry(), 1..6), 0i64..4).prop_map(
            |(source, section, entries, advance_hours)| Op::Poll {
                source,
                section,
                entries,
                advance_hours,
            }
        ),
        1 => Just(Op::Restart),
        2 => prop::sample::select(vec![0i64, 1, 2, 4, 8, 35]).prop_map(|advance_days| Op::Sweep {
            advance_days
        }),
        2 => (0usize..8, any::<bool>()).prop_map(|(nth, fail)| Op::Text { nth, fail }),
    ]
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 13, 6, 0, 0).unwrap()
}

/// a keeps 3 days, b its newest 3 items, c the default 30 days.
fn retention() -> Retention {
    let mut retention = Retention::default();
    retention
        .sources
        .insert("a".into(), RetentionPolicy::new(Some(3), None));
    retention
        .sources
        .insert("b".into(), RetentionPolicy::new(None, Some(3)));
    retention
        .sources
        .insert("c".into(), RetentionPolicy::new(None, None));
    // Sections of a and b are configured (their listings protect stories); c's are not.
    for source in ["a", "b"] {
        for (section, _) in SECTIONS {
            retention.sections.insert(format!("{source}/{section}"));
        }
    }
    retention
}

fn observation(e: &Entry, source: &str, now: DateTime<Utc>) -> Observed {
    let k = e.story;
    let identity = match e.link {
        0 => format!("link:example.com/{k}"),
        1 => format!("link:{source}.example/{k}"),
        _ => format!("link:{source}.example/{k}-alt"),
    };
    let title = match e.title {
        0 => format!("Story {k} headline"),
        1 => format!("Story {k} headline, updated"),
        _ => format!("k{k}"),
    };
    Observed {
        link: Some(format!("https://{}", identity.trim_start_matches("link:"))),
        identity,
        title_key: title_key(&title),
        title,
        summary: (e.summary > 0).then(|| format!("<p>summary {}</p>", e.summary)),
        author: None,
        image: None,
        guid: None,
        published: [None, Some(0), Some(20), Some(50), Some(200)][e.age as usize]
            .map(|h| now - Duration::hours(h)),
        page_labels: PAGE_LABELS
            .iter()
            .enumerate()
            .filter(|(i, _)| e.labels & (1 << i) != 0)
            .map(|(_, l)| l.to_string())
            .collect(),
    }
}

#[derive(Debug, Clone, PartialEq)]
struct MItem {
    identity: String,
    link: Option<String>,
    title: String,
    summary: Option<String>,
    published: DateTime<Utc>,
    first_seen: DateTime<Utc>,
    updated: DateTime<Utc>,
    sources: Vec<String>,
    sections: Vec<String>,
    labels: Vec<String>,
    label_keys: Vec<String>,
    title_key: String,
}

#[derive(Debug, Clone)]
struct MTomb {
    expires: DateTime<Utc>,
    published: DateTime<Utc>,
    sources: Vec<String>,
    title_key: Option<String>,
}

/// The store's rules, written as plainly as possible over ordered maps.
#[derive(Default)]
struct Model {
    items: BTreeMap<[u8; 16], MItem>,
    aliases: BTreeMap<[u8; 16], [u8; 16]>,
    tombs: BTreeMap<[u8; 16], MTomb>,
    /// What each section's latest poll listed (the items its stories resolved to).
    listed: BTreeMap<String, BTreeSet<[u8; 16]>>,
    /// Full text stored per item, and items whose last text fetch failed (without text).
    texts: BTreeMap<[u8; 16], String>,
    text_failures: BTreeMap<[u8; 16], u32>,
}

/// What a batch did, to compare with `BatchOutcome`.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    found: usize,
    new: usize,
    updated: usize,
    tombstoned: usize,
}

struct Ctx<'a> {
    source: &'a str,
    section_key: String,
    section_name: &'a str,
    window: Option<Duration>,
    now: DateTime<Utc>,
}

impl Model {
    fn labels_for(obs: &Observed, ctx: &Ctx) -> (Vec<String>, Vec<String>) {
        let mut labels = vec![ctx.section_name.to_string()];
        for l in &obs.page_labels {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
        // Indexed: the section key and the page labels (ids and names are resolved to section
        // keys by the server, not indexed).
        let mut keys = Vec::new();
        for text in std::iter::once(ctx.section_key.as_str())
            .chain(obs.page_labels.iter().map(String::as_str))
        {
            let key = fold_label(text);
            if !key.is_empty() && !keys.contains(&key) {
                keys.push(key);
            }
        }
        (labels, keys)
    }

    fn apply(&mut self, ctx: &Ctx, observed: &[Observed]) -> Counts {
        // Repeats of one identity on the page are one story with the union of page labels.
        let mut page: Vec<Observed> = Vec::new();
        for obs in observed {
            match page.iter_mut().find(|o| o.identity == obs.identity) {
                Some(first) => {
                    for l in &obs.page_labels {
                        if !first.page_labels.contains(l) {
                            first.page_labels.push(l.clone());
                        }
                    }
                }
                None => page.push(obs.clone()),
            }
        }
        let mut counts = Counts {
            found: page.len(),
            ..Counts::default()
        };
        let mut touched: BTreeMap<[u8; 16], bool> = BTreeMap::new(); // id → created here
        let mut listing: BTreeSet<[u8; 16]> = BTreeSet::new();
        for obs in &page {
            let own = item_id(&obs.identity);
            if self.tombs.contains_key(&own) {
                counts.tombstoned += 1;
                continue;
            }
            let target = if self.items.contains_key(&own) {
                Some(own)
            } else if let Some(t) = self.aliases.get(&own) {
                Some(*t)
            } else {
                match self.title_match(obs, ctx) {
                    TitleHit::Item(t) => {
                        self.aliases.insert(own, t);
                        Some(t)
                    }
                    TitleHit::Tomb => {
                        counts.tombstoned += 1;
                        continue;
                    }
                    TitleHit::None => None,
                }
            };
            match target {
                None => {
                    let published = obs.published.unwrap_or(ctx.now);
                    let (labels, label_keys) = Self::labels_for(obs, ctx);
                    self.items.insert(
                        own,
                        MItem {
                            identity: obs.identity.clone(),
                            link: obs.link.clone(),
                            title: obs.title.clone(),
                            summary: obs.summary.clone(),
                            published,
                            first_seen: ctx.now,
                            updated: ctx.now,
                            sources: vec![ctx.source.to_string()],
                            sections: vec![ctx.section_key.clone()],
                            labels,
                            label_keys,
                            title_key: obs.title_key.clone(),
                        },
                    );
                    touched.insert(own, true);
                    listing.insert(own);
                }
                Some(id) => {
                    let item = self.items.get_mut(&id).expect("model alias target exists");
                    if Self::update(item, obs, ctx) {
                        touched.entry(id).or_insert(false);
                    }
                    listing.insert(id);
                }
            }
        }
        self.listed.insert(ctx.section_key.clone(), listing);
        counts.new = touched.values().filter(|&&created| created).count();
        counts.updated = touched.len() - counts.new;
        counts
    }

    fn update(item: &mut MItem, obs: &Observed, ctx: &Ctx) -> bool {
        let mut changed = false;
        let same_story = item.identity == obs.identity;
        let owner = same_story && item.sections.first() == Some(&ctx.section_key);
        if owner && item.title != obs.title {
            item.title = obs.title.clone();
            changed = true;
        }
        if obs.summary.is_some()
            && item.summary != obs.summary
            && (owner || (same_story && item.summary.is_none()))
        {
            item.summary = obs.summary.clone();
            changed = true;
        }
        if !item.sources.iter().any(|s| s == ctx.source) {
            item.sources.push(ctx.source.to_string());
            changed = true;
        }
        if !item.sections.contains(&ctx.section_key) {
            item.sections.push(ctx.section_key.clone());
            changed = true;
        }
        let (labels, keys) = Self::labels_for(obs, ctx);
        for l in labels {
            if !item.labels.contains(&l) {
                item.labels.push(l);
                changed = true;
            }
        }
        for k in keys {
            if !item.label_keys.contains(&k) {
                item.label_keys.push(k);
                changed = true;
            }
        }
        if changed {
            item.updated = ctx.now;
        }
        changed
    }

    /// The first story by id (live or tombstoned) with the same folded title from another
    /// source within the window.
    fn title_match(&self, obs: &Observed, ctx: &Ctx) -> TitleHit {
        let Some(window) = ctx.window else {
            return TitleHit::None;
        };
        if obs.title_key.chars().count() < 4 {
            return TitleHit::None;
        }
        let when = obs.published.unwrap_or(ctx.now);
        let fits = |published: DateTime<Utc>, sources: &[String]| {
            (published - when).abs() <= window && !sources.iter().any(|s| s == ctx.source)
        };
        let mut candidates: Vec<([u8; 16], TitleHit, bool)> = Vec::new();
        for (id, item) in &self.items {
            if item.title_key == obs.title_key {
                candidates.push((
                    *id,
                    TitleHit::Item(*id),
                    fits(item.published, &item.sources),
                ));
            }
        }
        for (id, tomb) in &self.tombs {
            if tomb.title_key.as_deref() == Some(obs.title_key.as_str()) {
                candidates.push((*id, TitleHit::Tomb, fits(tomb.published, &tomb.sources)));
            }
        }
        candidates.sort_by_key(|(id, _, _)| *id);
        candidates
            .into_iter()
            .find(|(_, _, fits)| *fits)
            .map_or(TitleHit::None, |(_, hit, _)| hit)
    }

    fn sweep(&mut self, retention: &Retention, now: DateTime<Utc>) -> usize {
        let mut sources: BTreeSet<String> = retention.sources.keys().cloned().collect();
        for item in self.items.values() {
            sources.extend(item.sources.iter().cloned());
        }
        let mut beyond: BTreeMap<String, BTreeSet<[u8; 16]>> = BTreeMap::new();
        for s in &sources {
            if let Some(n) = retention.policy(s).keep_items {
                let mut mine: Vec<(DateTime<Utc>, [u8; 16])> = self
                    .items
                    .iter()
                    .filter(|(_, i)| i.sources.contains(s))
                    .map(|(id, i)| (i.published, *id))
                    .collect();
                mine.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
                beyond.insert(
                    s.clone(),
                    mine.into_iter().skip(n).map(|(_, id)| id).collect(),
                );
            }
        }
        // Age counts from first-seen; what a configured section's latest poll listed stays.
        let listed: BTreeSet<[u8; 16]> = self
            .listed
            .iter()
            .filter(|(section, _)| retention.sections.contains(*section))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        let drops = |s: &str, id: &[u8; 16], item: &MItem| {
            let p = retention.policy(s);
            (p.keep_days
                .is_some_and(|d| item.first_seen < now - Duration::days(i64::from(d)))
                && !listed.contains(id))
                || beyond.get(s).is_some_and(|b| b.contains(id))
        };
        let doomed: Vec<[u8; 16]> = self
            .items
            .iter()
            .filter(|(id, item)| item.sources.iter().all(|s| drops(s, id, item)))
            .map(|(id, _)| *id)
            .collect();
        for id in &doomed {
            let item = self.items.remove(id).expect("doomed item exists");
            let days = item
                .sources
                .iter()
                .map(|s| retention.policy(s).keep_days.unwrap_or(DEFAULT_KEEP_DAYS))
                .max()
                .unwrap_or(DEFAULT_KEEP_DAYS);
            let tomb = MTomb {
                expires: now + Duration::days(i64::from(days)),
                published: item.published,
                sources: item.sources.clone(),
                title_key: Some(item.title_key.clone()),
            };
            let aliases: Vec<[u8; 16]> = self
                .aliases
                .iter()
                .filter(|(_, t)| *t == id)
                .map(|(a, _)| *a)
                .collect();
            for alias in aliases {
                self.aliases.remove(&alias);
                self.tombs.insert(
                    alias,
                    MTomb {
                        title_key: None,
                        ..tomb.clone()
                    },
                );
            }
            self.tombs.insert(*id, tomb);
        }
        self.tombs.retain(|_, t| t.expires > now);
        doomed.len()
    }
}

enum TitleHit {
    Item([u8; 16]),
    Tomb,
    None,
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every way the store must agree with the model.
fn check(store: &Store, model: &Model, step: usize) -> Result<(), TestCaseError> {
    let problems = store
        .verify()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(problems.is_empty(), "step {step}: verify: {problems:?}");
    prop_assert_eq!(store.len(), model.items.len(), "step {}: len", step);
    for id in model.items.keys() {
        prop_assert_eq!(
            store.text(&hex(id)).unwrap(),
            model.texts.get(id).cloned(),
            "step {}: text",
            step
        );
    }
    let texts = store.text_counts();
    prop_assert_eq!(
        (texts.have, texts.failed, texts.pending),
        (
            model.texts.len(),
            model.text_failures.len(),
            model.items.len() - model.texts.len() - model.text_failures.len()
        ),
        "step {}: text counts",
        step
    );
    for (id, m) in &model.items {
        let item = store.get(&hex(id)).unwrap();
        prop_assert!(item.is_some(), "step {step}: item {} missing", m.identity);
        let item = item.unwrap();
        let got = MItem {
            identity: item.identity,
            link: item.link,
            title: item.title,
            summary: item.summary,
            published: item.published,
            first_seen: item.first_seen,
            updated: item.updated,
            sources: item.sources,
            sections: item.sections,
            labels: item.labels,
            label_keys: item.label_keys,
            title_key: item.title_key,
        };
        prop_assert_eq!(&got, m, "step {}", step);
    }
    // The indexes answer with exactly the model's items, newest first (then by id).
    let order = |filter: &dyn Fn(&MItem) -> bool| -> Vec<String> {
        let mut v: Vec<(DateTime<Utc>, [u8; 16])> = model
            .items
            .iter()
            .filter(|(_, i)| filter(i))
            .map(|(id, i)| (i.published, *id))
            .collect();
        v.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        v.into_iter().map(|(_, id)| hex(&id)).collect()
    };
    let run = |q: Query| -> Vec<String> {
        store
            .query(&q, &|_| true)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect()
    };
    let everything = Query {
        limit: 1000,
        ..Query::default()
    };
    prop_assert_eq!(run(everything), order(&|_| true), "step {}: by_time", step);
    let mut label_keys: BTreeSet<String> = PAGE_LABELS.iter().map(|l| fold_label(l)).collect();
    for s in SOURCES {
        for (id, name) in SECTIONS {
            label_keys.insert(fold_label(&format!("{s}/{id}")));
            label_keys.insert(fold_label(id));
            label_keys.insert(fold_label(name));
        }
        let q = Query {
            sources: vec![s.to_string()],
            limit: 1000,
            ..Query::default()
        };
        prop_assert_eq!(
            run(q),
            order(&|i: &MItem| i.sources.iter().any(|x| x == s)),
            "step {}: source {}",
            step,
            s
        );
    }
    for key in label_keys {
        let q = Query {
            labels: vec![key.clone()],
            limit: 1000,
            ..Query::default()
        };
        prop_assert_eq!(
            run(q),
            order(&|i: &MItem| i.label_keys.contains(&key)),
            "step {}: label {}",
            step,
            key
        );
    }
    for id in model.tombs.keys() {
        prop_assert!(
            store.is_tombstoned(&hex(id)).unwrap(),
            "step {step}: tombstone"
        );
    }
    let tombstones = store
        .extra_stats()
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "tombstones")
        .map(|(_, v)| v);
    prop_assert_eq!(
        tombstones,
        Some(model.tombs.len().to_string()),
        "step {}",
        step
    );
    Ok(())
}

fn run_case(window: Option<Duration>, ops: &[Op]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Some(Store::open(dir.path()).unwrap());
    let mut model = Model::default();
    let retention = retention();
    let mut now = start();
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Poll {
                source,
                section,
                entries,
                advance_hours,
            } => {
                now += Duration::hours(*advance_hours);
                let source = SOURCES[*source];
                let (section_id, section_name) = SECTIONS[*section];
                let observed: Vec<Observed> = entries
                    .iter()
                    .map(|e| observation(e, source, now))
                    .collect();
                let ctx = Ctx {
                    source,
                    section_key: format!("{source}/{section_id}"),
                    section_name,
                    window,
                    now,
                };
                let expected = model.apply(&ctx, &observed);
                let batch = BatchContext {
                    source_id: source,
                    section_key: &ctx.section_key,
                    section_name,
                    title_window: window,
                    now,
                };
                let got = store
                    .as_ref()
                    .unwrap()
                    .apply_batch(&batch, &observed)
                    .unwrap();
                prop_assert_eq!(
                    Counts {
                        found: got.found,
                        new: got.new,
                        updated: got.updated,
                        tombstoned: got.tombstoned,
                    },
                    expected,
                    "step {}: outcome",
                    step
                );
            }
            Op::Restart => {
                drop(store.take());
                store = Some(Store::open(dir.path()).unwrap());
            }
            Op::Sweep { advance_days } => {
                now += Duration::days(*advance_days);
                let expected = model.sweep(&retention, now);
                let report = store.as_ref().unwrap().sweep(&retention, now).unwrap();
                prop_assert_eq!(report.deleted.len(), expected, "step {}: deleted", step);
                // Retention takes an item's text and fetch state with it.
                let Model {
                    items,
                    texts,
                    text_failures,
                    ..
                } = &mut model;
                texts.retain(|id, _| items.contains_key(id));
                text_failures.retain(|id, _| items.contains_key(id));
            }
            Op::Text { nth, fail } => {
                let store = store.as_ref().unwrap();
                if let Some(id) = model.items.keys().cycle().nth(*nth).copied() {
                    if *fail {
                        let got = store
                            .record_text_failure(&hex(&id), "timeout", |_| now + Duration::hours(1))
                            .unwrap();
                        if model.texts.contains_key(&id) {
                            prop_assert!(got.is_none(), "step {}: failure after text", step);
                        } else {
                            let attempts = model.text_failures.entry(id).or_default();
                            *attempts += 1;
                            prop_assert_eq!(got.map(|s| s.attempts), Some(*attempts));
                        }
                    } else {
                        let html = format!("<p>{} at step {step}</p>", hex(&id));
                        prop_assert!(store.put_text(&hex(&id), &html).unwrap());
                        model.text_failures.remove(&id);
                        model.texts.insert(id, html);
                    }
                }
            }
        }
        check(store.as_ref().unwrap(), &model, step)?;
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn store_matches_the_model(
        window in prop_oneof![4 => Just(Some(Duration::hours(48))), 1 => Just(None)],
        ops in prop::collection::vec(op(), 1..30),
    ) {
        run_case(window, &ops)?;
    }
}
