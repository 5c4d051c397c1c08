//! The render cache: identical feed requests between two store changes are answered from memory.
//!
//! Entries are keyed by (format, raw query string) — exactly what decides the body, self link
//! included — and remember what they were built from ([`FeedDeps`]: the label keys or source
//! ids the store query read) and that feed's generation at render time
//! ([`crate::store::Store::feed_generation`]). A commit that touched none of an entry's keys
//! leaves it valid, so a live store that commits a page every second only re-renders the feeds
//! of the sections that changed; a feed over everything (no filter) depends on every commit. A
//! re-render whose items did not change gets the same ETag (it is the body's hash), so readers
//! keep getting `304`s. The first insert after a commit drops every stale entry (an insert
//! with no commit since the last sweep skips it: nothing can have gone stale). A feed filtered
//! by a relative `since` (`6h`) also expires when the minute changes. Only requests that passed parsing and
//! the token check are ever inserted, so a hit needs neither (the cache is cleared when the
//! configuration changes). The cache is bounded in bytes (bodies, compressed copies and keys)
//! and evicts the least recently used entries first.
//!
//! The hit path is the one nginx is measured against: one hash of the query, a read lock, an
//! atomic "last used" stamp and an `Arc` clone; gzip and brotli copies are made once per entry,
//! on the first request that asks for them.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::headers::Coding;

/// A rendered response ready to send again: body plus prebuilt header values.
#[derive(Debug)]
pub struct Rendered {
    /// The body.
    pub body: Bytes,
    /// Strong ETag (quoted).
    pub etag: HeaderValue,
    /// `Last-Modified` as an HTTP date.
    pub last_modified: HeaderValue,
    /// `Last-Modified` in Unix seconds, for `If-Modified-Since`.
    pub modified_unix: i64,
    /// `Cache-Control` value (`public, max-age=N`).
    pub cache_control: HeaderValue,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
    /// Bytes of compressed copies made so far (charged to the cache lazily).
    compressed_bytes: AtomicUsize,
}

impl Rendered {
    /// A rendering with its validators and freshness.
    pub fn new(
        body: Bytes,
        etag: HeaderValue,
        last_modified: HeaderValue,
        modified_unix: i64,
        cache_control: HeaderValue,
    ) -> Rendered {
        Rendered {
            body,
            etag,
            last_modified,
            modified_unix,
            cache_control,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
            compressed_bytes: AtomicUsize::new(0),
        }
    }

    /// The body in `coding`, compressing it the first time a coding is asked for. Falls back
    /// to identity if compression fails (it cannot for in-memory writers, but we never panic).
    pub fn body_in(&self, coding: Coding) -> (Bytes, Coding) {
        let slot = match coding {
            Coding::Identity => return (self.body.clone(), Coding::Identity),
            Coding::Gzip => &self.gzip,
            Coding::Brotli => &self.brotli,
        };
        if let Some(bytes) = slot.get() {
            return (bytes.clone(), coding);
        }
        let Some(compressed) = compress(&self.body, coding) else {
            return (self.body.clone(), Coding::Identity);
        };
        let stored = slot.get_or_init(|| {
            self.compressed_bytes
                .fetch_add(compressed.len(), Ordering::Relaxed);
            compressed
        });
        (stored.clone(), coding)
    }

    fn size(&self) -> usize {
        self.body.len() + self.compressed_bytes.load(Ordering::Relaxed)
    }
}

fn compress(body: &[u8], coding: Coding) -> Option<Bytes> {
    match coding {
        Coding::Identity => None,
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::default(),
            );
            encoder.write_all(body).ok()?;
            encoder.finish().ok().map(Bytes::from)
        }
        Coding::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 4);
            {
                let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                writer.write_all(body).ok()?;
                writer.flush().ok()?;
            }
            Some(Bytes::from(out))
        }
    }
}

/// What a cached feed was built from: the folded label keys its store query read or, without
/// labels, its source ids; both empty means every item (the merged feed, or `q=` alone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedDeps {
    /// Label keys (`source/section` keys and page labels), folded.
    pub labels: Vec<String>,
    /// Source ids.
    pub sources: Vec<String>,
}

struct Entry {
    format: u8,
    query: Box<str>,
    deps: FeedDeps,
    /// The feed's generation (of its `deps`) when it was rendered.
    generation: u64,
    /// For relative `since`: the Unix minute the rendering is valid in.
    minute: Option<i64>,
    rendered: Arc<Rendered>,
    charged: usize,
    last_used: AtomicU64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<u64, Entry>,
    bytes: usize,
    /// The store generation ([`crate::store::Store::generation`]) of the last sweep for stale
    /// entries: while it has not changed, no feed generation has, so no entry went stale.
    swept_at: Option<u64>,
}

/// A byte-bounded LRU of rendered feeds.
pub struct RenderCache {
    inner: RwLock<Inner>,
    tick: AtomicU64,
    capacity: usize,
}

fn hash(format: u8, query: &str) -> u64 {
    xxh3_64_with_seed(query.as_bytes(), u64::from(format))
}

impl RenderCache {
    /// A cache holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> RenderCache {
        RenderCache {
            inner: RwLock::new(Inner::default()),
            tick: AtomicU64::new(0),
            capacity,
        }
    }

    /// The rendering of (`format`, `query`) if none of what it was built from changed since
    /// (`generation_of` gives a feed's current generation) and, for a relative `since`, it was
    /// made in the current minute (read from `now_minute` only then).
    pub fn get(
        &self,
        format: u8,
        query: &str,
        generation_of: impl Fn(&FeedDeps) -> u64,
        now_minute: impl FnOnce() -> i64,
    ) -> Option<Arc<Rendered>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let entry = inner.entries.get(&hash(format, query))?;
        if entry.format != format
            || &*entry.query != query
            || generation_of(&entry.deps) != entry.generation
        {
            return None;
        }
        if let Some(minute) = entry.minute {
            if minute != now_minute() {
                return None;
            }
        }
        entry
            .last_used
            .store(self.tick.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        Some(entry.rendered.clone())
    }

    /// Stores a rendering built from `deps` at their `generation`: drops every entry that is
    /// stale by `generation_of`, then the least recently used ones until everything fits.
    ///
    /// `store_generation` is the store's generation ([`crate::store::Store::generation`]),
    /// read before the call: it changes with every commit, so when it is the one the last
    /// sweep saw, no entry can have gone stale since and the sweep (one `generation_of` per
    /// entry) is skipped.
    #[allow(clippy::too_many_arguments)] // each argument is one fact about the rendering
    pub fn put(
        &self,
        format: u8,
        query: &str,
        deps: FeedDeps,
        generation: u64,
        minute: Option<i64>,
        rendered: Arc<Rendered>,
        store_generation: u64,
        generation_of: impl Fn(&FeedDeps) -> u64,
    ) {
        // Compressed copies grow an entry after insertion; budget for them up front.
        let charged = rendered.size() * 2 + query.len() + 64;
        if charged > self.capacity {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let Inner {
            entries,
            bytes,
            swept_at,
        } = &mut *inner;
        if *swept_at != Some(store_generation) {
            entries.retain(|_, e| {
                let keep = generation_of(&e.deps) == e.generation;
                if !keep {
                    *bytes -= e.charged;
                }
                keep
            });
            *swept_at = Some(store_generation);
        }
        let key = hash(format, query);
        if let Some(old) = entries.remove(&key) {
            *bytes -= old.charged;
        }
        while *bytes + charged > self.capacity {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(old) = entries.remove(&oldest) {
                *bytes -= old.charged;
            }
        }
        if generation_of(&deps) != generation {
            // A commit touched this feed while it was being rendered: it is stale already, and
            // the next insert must drop it as before.
            *swept_at = None;
        }
        *bytes += charged;
        entries.insert(
            key,
            Entry {
                format,
                query: query.into(),
                deps,
                generation,
                minute,
                rendered,
                charged,
                last_used: AtomicU64::new(self.tick.fetch_add(1, Ordering::Relaxed)),
            },
        );
    }

    /// Forgets everything (the configuration changed).
    pub fn clear(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.entries.clear();
        inner.bytes = 0;
        inner.swept_at = None;
    }

    /// Bytes currently charged.
    pub fn bytes(&self) -> usize {
        self.inner.read().map(|i| i.bytes).unwrap_or(0)
    }

    /// Entries currently held.
    pub fn len(&self) -> usize {
        self.inner.read().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn r(n: usize) -> Arc<Rendered> {
        Arc::new(Rendered::new(
            Bytes::from(vec![b'x'; n]),
            HeaderValue::from_static("\"e\""),
            HeaderValue::from_static("Sun, 13 Mar 2022 01:27:00 GMT"),
            0,
            HeaderValue::from_static("public, max-age=60"),
        ))
    }

    /// Feed generations as a test controls them: `labels[0]` names the feed.
    fn generations(
        map: &std::cell::RefCell<HashMap<String, u64>>,
    ) -> impl Fn(&FeedDeps) -> u64 + '_ {
        move |deps: &FeedDeps| {
            let name = deps.labels.first().cloned().unwrap_or_default();
            map.borrow().get(&name).copied().unwrap_or(0)
        }
    }

    /// The store generation those feed generations imply: it changes with every one of them.
    fn store_gen(map: &std::cell::RefCell<HashMap<String, u64>>) -> u64 {
        map.borrow().values().sum()
    }

    fn deps(name: &str) -> FeedDeps {
        FeedDeps {
            labels: vec![name.to_string()],
            sources: Vec::new(),
        }
    }

    #[test]
    fn generation_and_capacity_are_respected() {
        let gens = std::cell::RefCell::new(HashMap::from([("a".to_string(), 1u64)]));
        let now = generations(&gens);
        // Each entry is charged 2 × 100 body bytes + key + 64 = 265: two fit in 700, not three.
        let cache = RenderCache::new(700);
        cache.put(0, "a", deps("a"), 1, None, r(100), store_gen(&gens), &now);
        cache.put(0, "b", deps("b"), 0, None, r(100), store_gen(&gens), &now);
        assert!(cache.get(0, "a", &now, || 0).is_some());
        assert!(
            cache.get(1, "a", &now, || 0).is_none(),
            "format is part of the key"
        );
        cache.put(0, "c", deps("c"), 0, None, r(100), store_gen(&gens), &now); // evicts b (least recently used)
        assert!(cache.get(0, "b", &now, || 0).is_none());
        assert!(cache.get(0, "a", &now, || 0).is_some());
        assert!(cache.bytes() <= 700);
        cache.put(
            0,
            "huge",
            deps("h"),
            0,
            None,
            r(10_000),
            store_gen(&gens),
            &now,
        );
        assert!(cache.get(0, "huge", &now, || 0).is_none());
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_change_makes_stale_only_the_feeds_built_from_what_it_touched() {
        let gens = std::cell::RefCell::new(HashMap::new());
        let now = generations(&gens);
        let cache = RenderCache::new(10_000);
        cache.put(
            0,
            "section=a",
            deps("a"),
            0,
            None,
            r(10),
            store_gen(&gens),
            &now,
        );
        cache.put(
            0,
            "section=b",
            deps("b"),
            0,
            None,
            r(10),
            store_gen(&gens),
            &now,
        );
        // A commit touches b only.
        gens.borrow_mut().insert("b".into(), 7);
        assert!(
            cache.get(0, "section=a", &now, || 0).is_some(),
            "a stays valid"
        );
        assert!(
            cache.get(0, "section=b", &now, || 0).is_none(),
            "b is stale"
        );
        // The next insert drops the stale entry and keeps the valid one.
        cache.put(
            0,
            "section=c",
            deps("c"),
            0,
            None,
            r(10),
            store_gen(&gens),
            &now,
        );
        assert_eq!(cache.len(), 2);
        assert!(cache.get(0, "section=a", &now, || 0).is_some());
        // Re-rendered at b's new generation, it is valid again.
        cache.put(
            0,
            "section=b",
            deps("b"),
            7,
            None,
            r(10),
            store_gen(&gens),
            &now,
        );
        assert!(cache.get(0, "section=b", &now, || 0).is_some());
    }

    #[test]
    fn inserts_without_a_commit_skip_the_sweep_but_never_keep_stale_entries_past_one() {
        let gens = std::cell::RefCell::new(HashMap::new());
        let now = generations(&gens);
        let cache = RenderCache::new(100_000);
        let calls = std::cell::Cell::new(0);
        let counted = |d: &FeedDeps| {
            calls.set(calls.get() + 1);
            now(d)
        };
        for name in ["a", "b", "c", "d"] {
            cache.put(0, name, deps(name), 0, None, r(10), 5, counted);
        }
        // One sweep of the empty cache on the first insert, then one check of each new entry.
        assert_eq!(calls.get(), 4);
        assert_eq!(cache.len(), 4);
        // A rendering that a commit overtook (its generation is older than its feed's) is
        // stale at birth: never served, and dropped by the next insert although the caller's
        // store generation did not move.
        gens.borrow_mut().insert("e".into(), 3);
        cache.put(0, "e", deps("e"), 0, None, r(10), 5, &now);
        assert!(cache.get(0, "e", &now, || 0).is_none());
        cache.put(0, "f", deps("f"), 0, None, r(10), 5, &now);
        assert!(cache.get(0, "e", &now, || 0).is_none());
        assert_eq!(cache.len(), 5);
        // A commit (the store generation moves) makes the next insert sweep.
        gens.borrow_mut().insert("a".into(), 9);
        assert!(cache.get(0, "a", &now, || 0).is_none());
        cache.put(0, "g", deps("g"), 0, None, r(10), 6, &now);
        assert_eq!(cache.len(), 5);
        assert!(cache.get(0, "b", &now, || 0).is_some());
        // Clearing forgets the sweep too.
        cache.clear();
        gens.borrow_mut().insert("h".into(), 1);
        cache.put(0, "h", deps("h"), 1, None, r(10), 6, &now);
        assert!(cache.get(0, "h", &now, || 0).is_some());
    }

    /// What an insert into a full cache costs: `cargo test --release -- --ignored put_cost`.
    #[test]
    #[ignore]
    fn put_cost() {
        let gens = std::cell::RefCell::new(HashMap::new());
        let now = generations(&gens);
        // About what the default 32 MB holds of 42 KB Atom bodies.
        let cache = RenderCache::new(32 << 20);
        let body = r(42_000);
        let n = 20_000u32;
        // A store generation that moves on every insert makes every insert sweep, as all did
        // before the sweep was skipped between commits.
        for (label, moving) in [
            ("no commit between inserts", false),
            ("a commit before every insert", true),
        ] {
            cache.clear();
            let started = std::time::Instant::now();
            for i in 0..n {
                let name = format!("sec{i}");
                let store = if moving { u64::from(i) } else { 1 };
                cache.put(0, &name, deps(&name), 0, None, body.clone(), store, &now);
            }
            let per_put = started.elapsed() / n;
            eprintln!(
                "put_cost ({label}): {per_put:?} per insert, {} entries held",
                cache.len()
            );
        }
    }

    #[test]
    fn relative_since_expires_with_the_minute() {
        let gens = std::cell::RefCell::new(HashMap::new());
        let now = generations(&gens);
        let cache = RenderCache::new(1000);
        cache.put(
            0,
            "since=6h",
            FeedDeps::default(),
            0,
            Some(100),
            r(10),
            store_gen(&gens),
            &now,
        );
        assert!(cache.get(0, "since=6h", &now, || 100).is_some());
        assert!(cache.get(0, "since=6h", &now, || 101).is_none());
    }

    #[test]
    fn negotiates_codings() {
        let cases: [(Option<&str>, Coding); 9] = [
            (None, Coding::Identity),
            (Some(""), Coding::Identity),
            (Some("gzip"), Coding::Gzip),
            (Some("gzip, deflate, br"), Coding::Brotli),
            (Some("br;q=0, gzip;q=0.5"), Coding::Gzip),
            (Some("BR ; q=1.0"), Coding::Brotli),
            (Some("identity"), Coding::Identity),
            (Some("*"), Coding::Brotli),
            (Some("*;q=0, gzip"), Coding::Gzip),
        ];
        for (header, expected) in cases {
            assert_eq!(
                Coding::negotiate(header.map(str::as_bytes)),
                expected,
                "{header:?}"
            );
        }
    }

    #[test]
    fn compressed_copies_round_trip() {
        let body = "<rss>标题 & more</rss>".repeat(100);
        let rendered = Rendered::new(
            Bytes::from(body.clone()),
            HeaderValue::from_static("\"e\""),
            HeaderValue::from_static("x"),
            0,
            HeaderValue::from_static("x"),
        );
        let (gz, coding) = rendered.body_in(Coding::Gzip);
        assert_eq!(coding, Coding::Gzip);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, body);
        let (br, coding) = rendered.body_in(Coding::Brotli);
        assert_eq!(coding, Coding::Brotli);
        let mut text = String::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, body);
        assert!(rendered.size() > body.len());
        // The second request reuses the same bytes.
        assert_eq!(rendered.body_in(Coding::Gzip).0.as_ptr(), gz.as_ptr());
    }
}
