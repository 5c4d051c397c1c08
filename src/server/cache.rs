//! The render cache: identical feed requests between two store changes are answered from memory.
//!
//! Entries are keyed by (format, canonical query) and remember the store generation they were
//! rendered at; a changed generation makes them stale. The cache is bounded in bytes and evicts
//! the least recently used entries first.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web::Bytes;

/// A rendered response ready to send again.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The body.
    pub body: Bytes,
    /// Strong ETag (quoted).
    pub etag: String,
    /// `Last-Modified` as an HTTP date.
    pub last_modified: String,
    /// Seconds for `Cache-Control: max-age`.
    pub max_age: u64,
}

struct Entry {
    generation: u64,
    rendered: Rendered,
    last_used: u64,
}

struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
    tick: u64,
}

/// A byte-bounded LRU of rendered feeds.
pub struct RenderCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl RenderCache {
    /// A cache holding at most `capacity` body bytes.
    pub fn new(capacity: usize) -> RenderCache {
        RenderCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
                tick: 0,
            }),
            capacity,
        }
    }

    /// The cached rendering for `key` if it was made at `generation`.
    pub fn get(&self, key: &str, generation: u64) -> Option<Rendered> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(key)?;
        if entry.generation != generation {
            return None;
        }
        entry.last_used = tick;
        Some(entry.rendered.clone())
    }

    /// Stores a rendering made at `generation`, evicting old entries to stay within capacity.
    pub fn put(&self, key: String, generation: u64, rendered: Rendered) {
        let size = rendered.body.len() + key.len();
        if size > self.capacity {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= old.rendered.body.len() + key.len();
        }
        // Drop stale generations first, then least recently used, until the new entry fits.
        if inner.bytes + size > self.capacity {
            let stale: Vec<String> = inner
                .entries
                .iter()
                .filter(|(_, e)| e.generation != generation)
                .map(|(k, _)| k.clone())
                .collect();
            for k in stale {
                if let Some(old) = inner.entries.remove(&k) {
                    inner.bytes -= old.rendered.body.len() + k.len();
                }
            }
        }
        while inner.bytes + size > self.capacity {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(old) = inner.entries.remove(&oldest) {
                inner.bytes -= old.rendered.body.len() + oldest.len();
            }
        }
        inner.bytes += size;
        inner.entries.insert(
            key,
            Entry {
                generation,
                rendered,
                last_used: tick,
            },
        );
    }

    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().map(|i| i.bytes).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: usize) -> Rendered {
        Rendered {
            body: Bytes::from(vec![b'x'; n]),
            etag: "\"e\"".into(),
            last_modified: String::new(),
            max_age: 60,
        }
    }

    #[test]
    fn generation_and_capacity_are_respected() {
        let cache = RenderCache::new(100);
        cache.put("a".into(), 1, r(40));
        cache.put("b".into(), 1, r(40));
        assert!(cache.get("a", 1).is_some());
        assert!(cache.get("a", 2).is_none(), "stale after a store change");
        cache.put("c".into(), 1, r(40)); // evicts b (least recently used)
        assert!(cache.get("b", 1).is_none());
        assert!(cache.get("a", 1).is_some());
        assert!(cache.bytes() <= 100);
        cache.put("huge".into(), 1, r(1000));
        assert!(cache.get("huge", 1).is_none());
    }
}
