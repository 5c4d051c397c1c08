//! Full article text and its fetch state, and named secrets.
//!
//! - `content`: item id → `0x01` + the article HTML, raw-deflate compressed (a story's text is
//!   fetched once and read rarely, so it is kept small rather than fast)
//! - `text_state`: item id → [`TextFetchState`] as a binary record (`0x01`, attempts varint,
//!   next attempt as zigzag varint milliseconds, error text length-prefixed): present only while
//!   the story has no text and at least one fetch failed
//! - `meta` `count/text`, `count/fail`: the two trees' entry counts, kept by the same
//!   transactions (so [`Store::text_counts`] is three reads)
//!
//! Both trees are written through [`Store::commit`] under the writer lock, so an entry never
//! outlives its item: retention deletes them with the item, and `store verify` reports orphans.

use std::io::{Read, Write};

use super::*;

/// First byte of a `content` value and of a `text_state` record.
const TEXT_RECORD_V1: u8 = 0x01;
/// Largest article text read back (the fetcher's body cap): a damaged value cannot make
/// decompression allocate without bound.
const MAX_TEXT_BYTES: u64 = 8 * 1024 * 1024;
/// How many of a section's newest items [`Store::items_needing_text`] looks at: older stories
/// are not worth fetching, and it bounds the scan of a section whose texts are all fetched.
pub const TEXT_SCAN_ITEMS: usize = 1000;

/// Why a story's full text is not stored yet: its failed fetch attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFetchState {
    /// Failed fetch attempts so far.
    pub attempts: u32,
    /// Not fetched again before this time.
    pub next_attempt: DateTime<Utc>,
    /// What the last attempt reported.
    pub last_error: String,
}

/// How many stored stories have their full text, still need it, or failed to get it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextCounts {
    /// Items whose text is stored.
    pub have: usize,
    /// Items with no text and no failed attempt.
    pub pending: usize,
    /// Items with no text whose last attempt failed (they are retried when due).
    pub failed: usize,
}

fn corrupt(tree: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        tree,
        message: message.into(),
    }
}

/// One varint, or `None` when the bytes are damaged.
fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    varint::take(bytes).ok()
}

pub(super) fn encode_text_state(state: &TextFetchState) -> Vec<u8> {
    let mut out = vec![TEXT_RECORD_V1];
    varint::put(&mut out, u64::from(state.attempts));
    varint::put(
        &mut out,
        varint::zigzag(state.next_attempt.timestamp_millis()),
    );
    varint::put(&mut out, state.last_error.len() as u64);
    out.extend_from_slice(state.last_error.as_bytes());
    out
}

/// Decodes a `text_state` record; any damage is an error, never a panic.
pub(super) fn decode_text_state(bytes: &[u8]) -> Result<TextFetchState, StoreError> {
    let bad = || corrupt("text_state", "malformed fetch state");
    let (&version, mut rest) = bytes.split_first().ok_or_else(bad)?;
    if version != TEXT_RECORD_V1 {
        return Err(bad());
    }
    let attempts = take_varint(&mut rest)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(bad)?;
    let zz = take_varint(&mut rest).ok_or_else(bad)?;
    let ms = varint::unzigzag(zz);
    let next_attempt = Utc.timestamp_millis_opt(ms).single().ok_or_else(bad)?;
    let len = take_varint(&mut rest)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(bad)?;
    if len != rest.len() {
        return Err(bad());
    }
    let last_error = String::from_utf8(rest.to_vec()).map_err(|_| bad())?;
    Ok(TextFetchState {
        attempts,
        next_attempt,
        last_error,
    })
}

fn compress_text(html: &str) -> Vec<u8> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(vec![TEXT_RECORD_V1], flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(html.as_bytes());
    encoder.finish().unwrap_or_default()
}

pub(super) fn decompress_text(bytes: &[u8]) -> Result<String, StoreError> {
    let (&version, deflated) = bytes
        .split_first()
        .ok_or_else(|| corrupt("content", "empty value"))?;
    if version != TEXT_RECORD_V1 {
        return Err(corrupt("content", "unknown content version"));
    }
    let mut html = Vec::new();
    flate2::read::DeflateDecoder::new(deflated)
        .take(MAX_TEXT_BYTES + 1)
        .read_to_end(&mut html)
        .map_err(|e| corrupt("content", e.to_string()))?;
    if html.len() as u64 > MAX_TEXT_BYTES {
        return Err(corrupt("content", "text beyond 8 MiB"));
    }
    String::from_utf8(html).map_err(|_| corrupt("content", "text is not UTF-8"))
}

impl Store {
    /// Stores the full article HTML of the item with this hex id (replacing any earlier text
    /// and clearing its failed-fetch state), compressed. Returns `false`, storing nothing, when
    /// no such item exists (e.g. retention deleted it while the text was fetched). Feeds that
    /// list the item count as changed.
    pub fn put_text(&self, id: &str, html: &str) -> Result<bool, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(false);
        };
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(item) = self.load(&key)? else {
            return Ok(false);
        };
        let mut m = Mutations::default();
        m.touch_item(&item);
        m.put(TreeId::Content, key.to_vec(), compress_text(html));
        m.del(TreeId::TextState, key.to_vec());
        self.commit(&m, Utc::now(), true)?;
        Ok(true)
    }

    /// The full article HTML stored for the item with this hex id, if any.
    pub fn text(&self, id: &str) -> Result<Option<String>, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(None);
        };
        self.content
            .get(key)?
            .map(|bytes| decompress_text(&bytes))
            .transpose()
    }

    /// Records a failed attempt to fetch the item's text: one more attempt, `error` as the last
    /// error, and no new attempt before `next_attempt(attempts)` (called with the count that
    /// includes this one, so the caller's backoff needs no read of its own). Returns the new
    /// state, or `None` when no such item exists or its text is already stored (nothing is
    /// recorded then).
    pub fn record_text_failure(
        &self,
        id: &str,
        error: &str,
        next_attempt: impl FnOnce(u32) -> DateTime<Utc>,
    ) -> Result<Option<TextFetchState>, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(None);
        };
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if !self.locations.contains_key(key)? || self.content.contains_key(key)? {
            return Ok(None);
        }
        let attempts = match self.text_state.get(key)? {
            Some(bytes) => decode_text_state(&bytes).map_or(0, |s| s.attempts),
            None => 0,
        };
        let attempts = attempts.saturating_add(1);
        let next_attempt = next_attempt(attempts);
        let state = TextFetchState {
            attempts,
            next_attempt,
            last_error: error.to_string(),
        };
        let mut m = Mutations::default();
        m.put(TreeId::TextState, key.to_vec(), encode_text_state(&state));
        // No feed shows fetch state: no new generation or Last-Modified.
        self.commit(&m, next_attempt, false)?;
        Ok(Some(state))
    }

    /// The failed-fetch state of the item with this hex id (`None`: never failed, or its text
    /// is stored).
    pub fn text_state(&self, id: &str) -> Result<Option<TextFetchState>, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(None);
        };
        self.text_state
            .get(key)?
            .map(|bytes| decode_text_state(&bytes))
            .transpose()
    }

    /// Hex ids of up to `limit` items seen under the `source/section` key `section_key` that
    /// have no text yet and are due at `now` (never attempted, or their next attempt is not
    /// after `now`), newest first, among the section's newest [`TEXT_SCAN_ITEMS`] items: one
    /// prefix scan of the section's index plus two point reads per item.
    pub fn items_needing_text(
        &self,
        section_key: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = prefix8(&fold_label(section_key));
        let mut out = Vec::new();
        for id in self.label_ids(prefix).take(TEXT_SCAN_ITEMS) {
            if out.len() >= limit {
                break;
            }
            let id = id?;
            if self.content.contains_key(id)? {
                continue;
            }
            if let Some(bytes) = self.text_state.get(id)? {
                // A damaged state does not block the story forever: it is due.
                if decode_text_state(&bytes).is_ok_and(|s| s.next_attempt > now) {
                    continue;
                }
            }
            out.push(hex(&id));
        }
        Ok(out)
    }

    /// How many items have their text, still need it, or failed to get it (counters kept in
    /// the same transactions as the trees: three reads).
    pub fn text_counts(&self) -> TextCounts {
        let read = |key: &[u8]| {
            self.meta
                .get(key)
                .ok()
                .flatten()
                .and_then(|raw| decode_u64(&raw))
                .map_or(0, |n| n as usize)
        };
        let have = read(TEXT_COUNT_KEY);
        let failed = read(FAILED_COUNT_KEY);
        TextCounts {
            have,
            failed,
            pending: self.len().saturating_sub(have).saturating_sub(failed),
        }
    }

    /// A 32-byte secret named `name` (e.g. the key that signs image-proxy URLs): random
    /// (from the operating system) on the first call, then the same for the life of the store,
    /// kept in `meta` and flushed before it is returned. Concurrent first calls agree on one
    /// value.
    pub fn secret(&self, name: &str) -> Result<[u8; 32], StoreError> {
        let mut key = SECRET_KEY_PREFIX.to_vec();
        key.extend_from_slice(name.as_bytes());
        let stored = |raw: &[u8]| {
            <[u8; 32]>::try_from(raw)
                .map_err(|_| corrupt("meta", format!("secret `{name}` is not 32 bytes")))
        };
        if let Some(raw) = self.meta.get(&key)? {
            return stored(&raw);
        }
        let mut fresh = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut fresh))
            .map_err(|e| StoreError::Io(sled::Error::Io(e)))?;
        match self
            .meta
            .compare_and_swap(&key, None as Option<&[u8]>, Some(&fresh[..]))?
        {
            Ok(()) => {
                self.db.flush()?;
                Ok(fresh)
            }
            Err(race) => match race.current {
                Some(raw) => stored(&raw),
                None => Err(corrupt("meta", format!("secret `{name}` vanished"))),
            },
        }
    }
}
