//! The proxy's bounded image cache: in memory only, bounded by the total bytes it holds,
//! least-recently-used entries evicted first. Entries carry what the route needs to answer
//! without refetching: the bytes, their content type and a strong ETag (a hash of the bytes).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// One cached image, cheap to clone (the bytes are shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedImage {
    /// The image bytes exactly as the origin sent them.
    pub bytes: Arc<[u8]>,
    /// The origin's `Content-Type` (always `image/*`, parameters dropped).
    pub content_type: String,
    /// Strong ETag, quoted: `"` + xxh3-128 of the bytes in hex + `"`. Identical bytes give the
    /// same ETag whichever URL they came from.
    pub etag: String,
}

impl CachedImage {
    /// Wraps fetched bytes, computing the ETag.
    #[must_use]
    pub fn new(bytes: Vec<u8>, content_type: String) -> CachedImage {
        let hash = xxhash_rust::xxh3::xxh3_128(&bytes);
        CachedImage {
            bytes: bytes.into(),
            content_type,
            etag: format!("\"{hash:032x}\""),
        }
    }

    /// Bytes this entry counts against the cache limit (payload plus its strings).
    #[must_use]
    pub fn cost(&self) -> usize {
        self.bytes
            .len()
            .saturating_add(self.content_type.len())
            .saturating_add(self.etag.len())
    }
}

struct Entry {
    image: CachedImage,
    tick: u64,
    cost: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    by_age: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
}

impl Inner {
    fn next_tick(&mut self) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.by_age.remove(&old.tick);
            self.bytes = self.bytes.saturating_sub(old.cost);
        }
    }
}

/// A thread-safe LRU cache of images keyed by a string (the proxied image URL), holding at
/// most `max_bytes` in total. An image bigger than the whole limit is not cached at all.
pub struct ImageCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl ImageCache {
    /// An empty cache holding at most `max_bytes` (0 disables caching).
    #[must_use]
    pub fn new(max_bytes: usize) -> ImageCache {
        ImageCache {
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters more than losing the cache; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry for `key`, marking it most recently used.
    pub fn get(&self, key: &str) -> Option<CachedImage> {
        let mut inner = self.lock();
        let tick = inner.next_tick();
        let entry = inner.entries.get_mut(key)?;
        let old = std::mem::replace(&mut entry.tick, tick);
        let image = entry.image.clone();
        inner.by_age.remove(&old);
        inner.by_age.insert(tick, key.to_owned());
        Some(image)
    }

    /// Stores `image` under `key` (replacing any previous entry), evicting least recently
    /// used entries until the total fits. Returns false when the image alone exceeds the limit.
    pub fn insert(&self, key: &str, image: CachedImage) -> bool {
        let cost = image.cost().saturating_add(key.len());
        let mut inner = self.lock();
        inner.remove(key);
        if cost > self.max_bytes {
            return false;
        }
        while inner.bytes.saturating_add(cost) > self.max_bytes {
            let Some((_, oldest)) = inner.by_age.pop_first() else {
                break;
            };
            inner.remove(&oldest);
        }
        let tick = inner.next_tick();
        inner.by_age.insert(tick, key.to_owned());
        inner
            .entries
            .insert(key.to_owned(), Entry { image, tick, cost });
        inner.bytes = inner.bytes.saturating_add(cost);
        true
    }

    /// Total bytes currently held (always ≤ the limit).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Number of entries currently held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(n: usize, byte: u8) -> CachedImage {
        CachedImage::new(vec![byte; n], "image/png".into())
    }

    #[test]
    fn etag_is_a_strong_hash_of_the_bytes() {
        let a = img(10, 1);
        assert_eq!(a.etag, img(10, 1).etag);
        assert_ne!(a.etag, img(10, 2).etag);
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"') && !a.etag.starts_with("W/"));
    }

    #[test]
    fn least_recently_used_goes_first_and_the_bound_holds() {
        let one = img(1000, 1).cost() + 1;
        let cache = ImageCache::new(one * 3);
        assert!(cache.insert("a", img(1000, 1)));
        assert!(cache.insert("b", img(1000, 2)));
        assert!(cache.insert("c", img(1000, 3)));
        assert!(cache.get("a").is_some()); // a is now the newest
        assert!(cache.insert("d", img(1000, 4)));
        assert!(cache.get("b").is_none(), "b was least recently used");
        assert!(cache.get("a").is_some() && cache.get("c").is_some() && cache.get("d").is_some());
        assert!(cache.bytes() <= one * 3);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn too_big_is_not_cached_and_replacing_keeps_the_count() {
        let cache = ImageCache::new(500);
        assert!(!cache.insert("big", img(1000, 1)));
        assert!(cache.is_empty());
        assert!(cache.insert("x", img(100, 1)));
        assert!(cache.insert("x", img(200, 2)));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.bytes(), img(200, 2).cost() + 1);
        assert_eq!(cache.get("x").unwrap().bytes.len(), 200);
    }
}
