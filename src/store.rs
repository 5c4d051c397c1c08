//! The sled store: one item per story, a history that outlives the page, and indexes that keep
//! every filtered feed a short prefix scan.
//!
//! This is the only module that touches sled. Trees:
//! - `items`: item id (16 bytes) → [`Item`] (JSON)
//! - `by_time`: inverted published time (8 bytes, big-endian) + id → ()
//! - `by_label`: hash(folded label) + inverted time + id → () — section ids, names, page labels
//! - `by_source`: hash(source id) + inverted time + id → ()
//! - `titles`: hash(folded title) + id → published millis (cross-source near-duplicates)
//! - `tombstones`: id → deletion time (retention deletes are not resurrected by the portal)
//! - `status`: `source/section` → [`SectionStatus`] (JSON)
//! - `meta`: schema version and counters
//!
//! Rules owned here: the dedup rule (an identity hash, then a folded title from another source
//! within the window), published times never move once stored, labels only accumulate, and
//! every polled page is applied as one sled transaction across all trees, so no index ever
//! points at a missing item. Writers are serialised by a mutex; readers never block.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::normalize::text::fold_label;
use crate::normalize::Observed;

/// The layout version this code reads and writes.
pub const SCHEMA_VERSION: &str = "headwire-store/1";
const SCHEMA_KEY: &[u8] = b"schema";
const LAST_CHANGE_KEY: &[u8] = b"last_change";

/// A stored story.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    /// Stable id: hex of the 128-bit hash of the identity key.
    pub id: String,
    /// The identity key the id was derived from.
    pub identity: String,
    /// Canonical link (the first link seen stays).
    pub link: Option<String>,
    /// Current title.
    pub title: String,
    /// Current summary (sanitised HTML).
    #[serde(default)]
    pub summary: Option<String>,
    /// Author, when known.
    #[serde(default)]
    pub author: Option<String>,
    /// Image URL, when known.
    #[serde(default)]
    pub image: Option<String>,
    /// Published time: the source's own when believable, else first-seen. Never moves.
    pub published: DateTime<Utc>,
    /// When headwire first saw the story.
    pub first_seen: DateTime<Utc>,
    /// Last change of title/summary/labels (equals first_seen until then).
    pub updated: DateTime<Utc>,
    /// Source ids the story was seen in (first is where it was first seen).
    pub sources: Vec<String>,
    /// `source/section` keys it was seen under.
    pub sections: Vec<String>,
    /// Display labels: section names and page labels, in order first seen.
    pub labels: Vec<String>,
    /// Folded keys indexed in `by_label` (section ids, names, page labels).
    pub label_keys: Vec<String>,
    /// Folded title used for cross-source matching.
    pub title_key: String,
}

impl Item {
    /// Whether the item carries a label whose folded form is `key`.
    pub fn has_label_key(&self, key: &str) -> bool {
        self.label_keys.iter().any(|k| k == key)
    }
}

/// Poll state of one section, kept across restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SectionStatus {
    /// Validator for conditional GET.
    pub etag: Option<String>,
    /// Validator for conditional GET.
    pub last_modified: Option<String>,
    /// Hash of the last body parsed (an unchanged body is not parsed again).
    pub body_hash: Option<u64>,
    /// Last time a poll started.
    pub last_attempt: Option<DateTime<Utc>>,
    /// Last time a poll succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Kind of the last failure (dns, connect, timeout, http, too-large, decode, selector, parse).
    pub last_error_kind: Option<String>,
    /// Message of the last failure.
    pub last_error: Option<String>,
    /// Headlines found on the last successful poll.
    pub last_found: usize,
    /// New items stored by the last successful poll.
    pub last_new: usize,
}

/// Where one polled page's observations go.
#[derive(Debug, Clone)]
pub struct BatchContext<'a> {
    /// Source id.
    pub source_id: &'a str,
    /// `source/section` key.
    pub section_key: &'a str,
    /// Section id (indexed as a label).
    pub section_id: &'a str,
    /// Section name (a display label on every item seen here).
    pub section_name: &'a str,
    /// Cross-source title window; `None` disables title merging.
    pub title_window: Option<chrono::Duration>,
    /// The poll time (first-seen for new items).
    pub now: DateTime<Utc>,
}

/// What applying a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Distinct stories on the page.
    pub found: usize,
    /// Items created.
    pub new: usize,
    /// Existing items whose title, summary or labels changed.
    pub updated: usize,
    /// Stories skipped because retention deleted them (tombstoned).
    pub tombstoned: usize,
    /// Ids of every item the batch touched or created, in page order.
    pub ids: Vec<String>,
}

/// A feed query against the indexes.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Folded label keys; an item matches when it has any of them (empty: no label filter).
    pub labels: Vec<String>,
    /// Source ids; an item matches when it was seen in any of them (empty: no filter).
    pub sources: Vec<String>,
    /// Only items published at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many items.
    pub limit: usize,
}

/// Store errors: what went wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (disk, corruption, lock held by another process).
    #[error("store at {path}: {source}")]
    Sled {
        /// The store directory.
        path: String,
        /// The sled error.
        source: sled::Error,
    },
    /// The store was written by a different layout version.
    #[error("store at {path} has layout `{found}` but this headwire reads `{expected}`; use the matching headwire version or move the directory aside to start a new store")]
    Schema {
        /// The store directory.
        path: String,
        /// Version found on disk.
        found: String,
        /// Version this code expects.
        expected: String,
    },
    /// A stored value could not be decoded.
    #[error("store: corrupt record in tree `{tree}`: {message}")]
    Corrupt {
        /// Tree name.
        tree: &'static str,
        /// Decoder message.
        message: String,
    },
    /// An operation on sled failed.
    #[error("store: {0}")]
    Io(#[from] sled::Error),
}

/// The headwire store: sled trees plus a generation counter bumped on every committed change.
pub struct Store {
    db: sled::Db,
    path: String,
    items: sled::Tree,
    by_time: sled::Tree,
    by_label: sled::Tree,
    by_source: sled::Tree,
    titles: sled::Tree,
    tombstones: sled::Tree,
    status: sled::Tree,
    meta: sled::Tree,
    generation: AtomicU64,
    writer: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Maps a time to 8 bytes that sort newest-first.
fn inverted_time(t: DateTime<Utc>) -> [u8; 8] {
    let ms = t.timestamp_millis();
    let ordered = (ms as u64) ^ (1u64 << 63);
    (u64::MAX - ordered).to_be_bytes()
}

fn time_from_inverted(bytes: &[u8]) -> Option<DateTime<Utc>> {
    let raw: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    let ordered = u64::MAX - u64::from_be_bytes(raw);
    let ms = (ordered ^ (1u64 << 63)) as i64;
    Utc.timestamp_millis_opt(ms).single()
}

/// The 16-byte item id for an identity key.
pub fn item_id(identity: &str) -> [u8; 16] {
    xxh3_128(identity.as_bytes()).to_be_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

fn prefix8(text: &str) -> [u8; 8] {
    xxh3_64(text.as_bytes()).to_be_bytes()
}

fn index_key(prefix: Option<[u8; 8]>, published: DateTime<Utc>, id: &[u8; 16]) -> Vec<u8> {
    let mut key = Vec::with_capacity(32);
    if let Some(p) = prefix {
        key.extend_from_slice(&p);
    }
    key.extend_from_slice(&inverted_time(published));
    key.extend_from_slice(id);
    key
}

fn decode_item(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: "items",
        message: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).unwrap_or_default()
}

/// A planned write for one item: the new record and the index keys to add.
struct ItemWrite {
    id: [u8; 16],
    item: Item,
    new_index_keys: Vec<(IndexTree, Vec<u8>)>,
    title_entry: Option<Vec<u8>>,
}

#[derive(Clone, Copy)]
enum IndexTree {
    Time,
    Label,
    Source,
}

impl Store {
    /// Opens (or creates) the store at `path`, checking its layout version.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let path_text = path.display().to_string();
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(64 * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|source| StoreError::Sled {
                path: path_text.clone(),
                source,
            })?;
        Store::from_db(db, path_text)
    }

    /// Opens a throwaway in-memory store (tests, `check`).
    pub fn temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::from_db(db, "(temporary)".to_string())
    }

    fn from_db(db: sled::Db, path: String) -> Result<Store, StoreError> {
        let meta = db.open_tree("meta")?;
        let items = db.open_tree("items")?;
        match meta.get(SCHEMA_KEY)? {
            Some(found) if found.as_ref() == SCHEMA_VERSION.as_bytes() => {}
            Some(found) => {
                return Err(StoreError::Schema {
                    path,
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: SCHEMA_VERSION.to_string(),
                })
            }
            None if items.is_empty() => {
                meta.insert(SCHEMA_KEY, SCHEMA_VERSION.as_bytes())?;
            }
            None => {
                return Err(StoreError::Schema {
                    path,
                    found: "(no version key, but items present)".to_string(),
                    expected: SCHEMA_VERSION.to_string(),
                })
            }
        }
        Ok(Store {
            items,
            by_time: db.open_tree("by_time")?,
            by_label: db.open_tree("by_label")?,
            by_source: db.open_tree("by_source")?,
            titles: db.open_tree("titles")?,
            tombstones: db.open_tree("tombstones")?,
            status: db.open_tree("status")?,
            meta,
            db,
            path,
            generation: AtomicU64::new(1),
            writer: Mutex::new(()),
        })
    }

    /// A number that changes whenever committed data changes (render caches key on it).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The newest change to any item (for `Last-Modified`).
    pub fn last_change(&self) -> Option<DateTime<Utc>> {
        let raw = self.meta.get(LAST_CHANGE_KEY).ok()??;
        let ms = i64::from_be_bytes(raw.as_ref().try_into().ok()?);
        Utc.timestamp_millis_opt(ms).single()
    }

    /// Writes everything to disk now.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Number of stored items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the store holds no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Reads one item by its hex id.
    pub fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(None);
        };
        self.items
            .get(key)?
            .map(|bytes| decode_item(&bytes))
            .transpose()
    }

    /// Applies one polled page: creates new items, updates changed ones, adds labels and
    /// indexes — all in one transaction.
    pub fn apply_batch(
        &self,
        ctx: &BatchContext<'_>,
        observed: &[Observed],
    ) -> Result<BatchOutcome, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut outcome = BatchOutcome::default();
        // Merge repeats of one story on the page first (same identity, possibly other labels).
        let mut order: Vec<String> = Vec::new();
        let mut merged: HashMap<String, Observed> = HashMap::new();
        for obs in observed {
            match merged.get_mut(&obs.identity) {
                Some(existing) => {
                    for label in &obs.page_labels {
                        if !existing.page_labels.contains(label) {
                            existing.page_labels.push(label.clone());
                        }
                    }
                }
                None => {
                    order.push(obs.identity.clone());
                    merged.insert(obs.identity.clone(), obs.clone());
                }
            }
        }
        outcome.found = order.len();
        let mut writes: Vec<ItemWrite> = Vec::new();
        let mut planned: HashMap<[u8; 16], usize> = HashMap::new();
        for identity in &order {
            let Some(obs) = merged.get(identity) else {
                continue;
            };
            let mut id = item_id(&obs.identity);
            if self.tombstones.contains_key(id)? {
                outcome.tombstoned += 1;
                continue;
            }
            let mut existing = match planned.get(&id) {
                Some(&i) => Some(writes[i].item.clone()),
                None => self.items.get(id)?.map(|b| decode_item(&b)).transpose()?,
            };
            if existing.is_none() {
                if let Some(window) = ctx.title_window {
                    if let Some(other) = self.find_title_match(obs, ctx, window)? {
                        id = other;
                        existing = match planned.get(&id) {
                            Some(&i) => Some(writes[i].item.clone()),
                            None => self.items.get(id)?.map(|b| decode_item(&b)).transpose()?,
                        };
                    }
                }
            }
            let write = match existing {
                Some(item) => self.plan_update(id, item, obs, ctx),
                None => Some(self.plan_new(id, obs, ctx)),
            };
            let Some(write) = write else {
                outcome.ids.push(hex(&id));
                continue;
            };
            if !planned.contains_key(&id) {
                if write.title_entry.is_some() {
                    outcome.new += 1;
                } else {
                    outcome.updated += 1;
                }
            }
            outcome.ids.push(write.item.id.clone());
            match planned.get(&id) {
                Some(&i) => {
                    let previous = std::mem::replace(&mut writes[i], write);
                    writes[i].new_index_keys.extend(previous.new_index_keys);
                    if writes[i].title_entry.is_none() {
                        writes[i].title_entry = previous.title_entry;
                    }
                }
                None => {
                    planned.insert(id, writes.len());
                    writes.push(write);
                }
            }
        }
        if writes.is_empty() {
            return Ok(outcome);
        }
        self.commit(&writes, ctx.now)?;
        Ok(outcome)
    }

    /// Looks for an item with the same folded title from another source within the window.
    fn find_title_match(
        &self,
        obs: &Observed,
        ctx: &BatchContext<'_>,
        window: chrono::Duration,
    ) -> Result<Option<[u8; 16]>, StoreError> {
        if obs.title_key.chars().count() < 4 {
            return Ok(None);
        }
        let when = obs.published.unwrap_or(ctx.now);
        for entry in self.titles.scan_prefix(prefix8(&obs.title_key)) {
            let (key, _) = entry?;
            let Some(id) = key.get(8..24).and_then(|s| <[u8; 16]>::try_from(s).ok()) else {
                continue;
            };
            let Some(item) = self.items.get(id)?.map(|b| decode_item(&b)).transpose()? else {
                continue;
            };
            let from_other_source = !item.sources.iter().any(|s| s == ctx.source_id);
            let close = (item.published - when).abs() <= window;
            if from_other_source && close && item.title_key == obs.title_key {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    fn label_keys_for(obs: &Observed, ctx: &BatchContext<'_>) -> (Vec<String>, Vec<String>) {
        let mut labels = vec![ctx.section_name.to_string()];
        for label in &obs.page_labels {
            if !labels.contains(label) {
                labels.push(label.clone());
            }
        }
        let mut keys: Vec<String> = Vec::new();
        for text in [ctx.section_key, ctx.section_id]
            .into_iter()
            .chain(labels.iter().map(String::as_str))
        {
            let key = fold_label(text);
            if !key.is_empty() && !keys.contains(&key) {
                keys.push(key);
            }
        }
        (labels, keys)
    }

    fn plan_new(&self, id: [u8; 16], obs: &Observed, ctx: &BatchContext<'_>) -> ItemWrite {
        let published = obs.published.unwrap_or(ctx.now);
        let (labels, label_keys) = Self::label_keys_for(obs, ctx);
        let mut new_index_keys = vec![
            (IndexTree::Time, index_key(None, published, &id)),
            (
                IndexTree::Source,
                index_key(Some(prefix8(ctx.source_id)), published, &id),
            ),
        ];
        for key in &label_keys {
            new_index_keys.push((
                IndexTree::Label,
                index_key(Some(prefix8(key)), published, &id),
            ));
        }
        let mut title_entry = prefix8(&obs.title_key).to_vec();
        title_entry.extend_from_slice(&id);
        ItemWrite {
            id,
            item: Item {
                id: hex(&id),
                identity: obs.identity.clone(),
                link: obs.link.clone(),
                title: obs.title.clone(),
                summary: obs.summary.clone(),
                author: obs.author.clone(),
                image: obs.image.clone(),
                published,
                first_seen: ctx.now,
                updated: ctx.now,
                sources: vec![ctx.source_id.to_string()],
                sections: vec![ctx.section_key.to_string()],
                labels,
                label_keys,
                title_key: obs.title_key.clone(),
            },
            new_index_keys,
            title_entry: Some(title_entry),
        }
    }

    /// Plans an update of an existing item; `None` when nothing changes.
    fn plan_update(
        &self,
        id: [u8; 16],
        mut item: Item,
        obs: &Observed,
        ctx: &BatchContext<'_>,
    ) -> Option<ItemWrite> {
        let mut changed = false;
        let mut new_index_keys = Vec::new();
        let same_source = item.sources.iter().any(|s| s == ctx.source_id);
        // Content updates only come from the source that owns the story's identity; a
        // cross-source title match adds labels and sources but does not rewrite the text.
        if same_source && item.identity == obs.identity {
            if item.title != obs.title {
                item.title = obs.title.clone();
                changed = true;
            }
            if obs.summary.is_some() && item.summary != obs.summary {
                item.summary = obs.summary.clone();
                changed = true;
            }
        }
        if item.author.is_none() && obs.author.is_some() {
            item.author = obs.author.clone();
            changed = true;
        }
        if item.image.is_none() && obs.image.is_some() {
            item.image = obs.image.clone();
            changed = true;
        }
        if !same_source {
            item.sources.push(ctx.source_id.to_string());
            new_index_keys.push((
                IndexTree::Source,
                index_key(Some(prefix8(ctx.source_id)), item.published, &id),
            ));
            changed = true;
        }
        if !item.sections.iter().any(|s| s == ctx.section_key) {
            item.sections.push(ctx.section_key.to_string());
            changed = true;
        }
        let (labels, keys) = Self::label_keys_for(obs, ctx);
        for label in labels {
            if !item.labels.contains(&label) {
                item.labels.push(label);
                changed = true;
            }
        }
        for key in keys {
            if !item.has_label_key(&key) {
                new_index_keys.push((
                    IndexTree::Label,
                    index_key(Some(prefix8(&key)), item.published, &id),
                ));
                item.label_keys.push(key);
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        item.updated = ctx.now;
        Some(ItemWrite {
            id,
            item,
            new_index_keys,
            title_entry: None,
        })
    }

    fn commit(&self, writes: &[ItemWrite], now: DateTime<Utc>) -> Result<(), StoreError> {
        let result = (
            &self.items,
            &self.by_time,
            &self.by_label,
            &self.by_source,
            &self.titles,
            &self.meta,
        )
            .transaction(|(items, by_time, by_label, by_source, titles, meta)| {
                for write in writes {
                    items.insert(&write.id[..], encode(&write.item))?;
                    for (tree, key) in &write.new_index_keys {
                        let tree = match tree {
                            IndexTree::Time => by_time,
                            IndexTree::Label => by_label,
                            IndexTree::Source => by_source,
                        };
                        tree.insert(key.as_slice(), &[][..])?;
                    }
                    if let Some(entry) = &write.title_entry {
                        titles.insert(
                            entry.as_slice(),
                            &write.item.published.timestamp_millis().to_be_bytes()[..],
                        )?;
                    }
                }
                meta.insert(LAST_CHANGE_KEY, &now.timestamp_millis().to_be_bytes()[..])?;
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        match result {
            Ok(()) => {
                self.generation.fetch_add(1, Ordering::AcqRel);
                Ok(())
            }
            Err(TransactionError::Storage(e)) => Err(StoreError::Io(e)),
            Err(TransactionError::Abort(())) => Err(StoreError::Corrupt {
                tree: "items",
                message: "transaction aborted".into(),
            }),
        }
    }

    /// Runs a feed query: newest first, filtered, at most `limit` items; `keep` is an extra
    /// predicate (keywords) applied while scanning so the scan still stops at `limit`.
    pub fn query(
        &self,
        query: &Query,
        keep: &dyn Fn(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let limit = query.limit.max(1);
        let (tree, prefixes): (&sled::Tree, Vec<Vec<u8>>) = if !query.labels.is_empty() {
            (
                &self.by_label,
                query.labels.iter().map(|l| prefix8(l).to_vec()).collect(),
            )
        } else if !query.sources.is_empty() {
            (
                &self.by_source,
                query.sources.iter().map(|s| prefix8(s).to_vec()).collect(),
            )
        } else {
            (&self.by_time, vec![Vec::new()])
        };
        let mut scans: Vec<std::iter::Peekable<sled::Iter>> = prefixes
            .iter()
            .map(|p| tree.scan_prefix(p).peekable())
            .collect();
        let plen = prefixes.first().map_or(0, Vec::len);
        let mut out = Vec::new();
        let mut last_suffix: Option<Vec<u8>> = None;
        loop {
            // k-way merge on the (inverted time, id) suffix, newest first.
            let mut best: Option<(usize, Vec<u8>)> = None;
            for (i, scan) in scans.iter_mut().enumerate() {
                let suffix = match scan.peek() {
                    Some(Ok((key, _))) => key.get(plen..).map(<[u8]>::to_vec),
                    Some(Err(_)) => {
                        if let Some(Err(e)) = scan.next() {
                            return Err(e.into());
                        }
                        continue;
                    }
                    None => None,
                };
                if let Some(suffix) = suffix {
                    if best.as_ref().is_none_or(|(_, b)| suffix < *b) {
                        best = Some((i, suffix));
                    }
                }
            }
            let Some((i, suffix)) = best else { break };
            scans[i].next();
            if last_suffix.as_ref() == Some(&suffix) {
                continue;
            }
            last_suffix = Some(suffix.clone());
            if let Some(since) = query.since {
                if time_from_inverted(&suffix).is_some_and(|t| t < since) {
                    break;
                }
            }
            let Some(id) = suffix.get(8..24) else {
                continue;
            };
            let Some(bytes) = self.items.get(id)? else {
                continue;
            };
            let item = decode_item(&bytes)?;
            if !query.labels.is_empty() && !query.labels.iter().any(|l| item.has_label_key(l)) {
                continue;
            }
            if !query.sources.is_empty() && !query.sources.iter().any(|s| item.sources.contains(s))
            {
                continue;
            }
            if !keep(&item) {
                continue;
            }
            out.push(item);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Reads a section's poll status.
    pub fn section_status(&self, section_key: &str) -> Result<SectionStatus, StoreError> {
        match self.status.get(section_key.as_bytes())? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                tree: "status",
                message: e.to_string(),
            }),
            None => Ok(SectionStatus::default()),
        }
    }

    /// Replaces a section's poll status.
    pub fn set_section_status(
        &self,
        section_key: &str,
        status: &SectionStatus,
    ) -> Result<(), StoreError> {
        self.status.insert(section_key.as_bytes(), encode(status))?;
        Ok(())
    }

    /// Number of items indexed under a folded label key (a `source/section` key counts that
    /// section's items). Scans keys only.
    pub fn count_label(&self, label_key: &str) -> usize {
        self.by_label.scan_prefix(prefix8(label_key)).keys().count()
    }

    /// Number of items seen in a source. Scans keys only.
    pub fn count_source(&self, source_id: &str) -> usize {
        self.by_source
            .scan_prefix(prefix8(source_id))
            .keys()
            .count()
    }

    /// Tombstone count and on-disk size, for `store stats`.
    pub fn extra_stats(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(vec![
            ("tombstones".into(), self.tombstones.len().to_string()),
            ("disk bytes".into(), self.db.size_on_disk()?.to_string()),
            ("schema".into(), SCHEMA_VERSION.to_string()),
        ])
    }

    /// Item counts per source and per `source/section` key.
    pub fn counts(&self) -> Result<(BTreeSetCounts, BTreeSetCounts), StoreError> {
        let mut by_source = BTreeSetCounts::new();
        let mut by_section = BTreeSetCounts::new();
        for entry in self.items.iter() {
            let (_, bytes) = entry?;
            let item = decode_item(&bytes)?;
            for s in &item.sources {
                *by_source.entry(s.clone()).or_default() += 1;
            }
            for s in &item.sections {
                *by_section.entry(s.clone()).or_default() += 1;
            }
        }
        Ok((by_source, by_section))
    }

    /// Checks every index entry against the items and every item against its index entries;
    /// returns one line per mismatch (empty: consistent).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut expected: BTreeSet<(u8, Vec<u8>)> = BTreeSet::new();
        let mut titles_expected: BTreeSet<Vec<u8>> = BTreeSet::new();
        for entry in self.items.iter() {
            let (key, bytes) = entry?;
            let item = match decode_item(&bytes) {
                Ok(item) => item,
                Err(e) => {
                    problems.push(format!("item {}: {e}", hex(&key)));
                    continue;
                }
            };
            let Ok(id) = <[u8; 16]>::try_from(key.as_ref()) else {
                problems.push(format!("item key {} is not 16 bytes", hex(&key)));
                continue;
            };
            if item.id != hex(&id) {
                problems.push(format!("item {} records id {}", hex(&id), item.id));
            }
            expected.insert((0, index_key(None, item.published, &id)));
            for s in &item.sources {
                expected.insert((2, index_key(Some(prefix8(s)), item.published, &id)));
            }
            for l in &item.label_keys {
                expected.insert((1, index_key(Some(prefix8(l)), item.published, &id)));
            }
            let mut t = prefix8(&item.title_key).to_vec();
            t.extend_from_slice(&id);
            titles_expected.insert(t);
        }
        for (n, (name, tree)) in [
            ("by_time", &self.by_time),
            ("by_label", &self.by_label),
            ("by_source", &self.by_source),
        ]
        .into_iter()
        .enumerate()
        {
            let mut found = 0usize;
            for entry in tree.iter() {
                let (key, _) = entry?;
                found += 1;
                if !expected.remove(&(n as u8, key.to_vec())) {
                    problems.push(format!(
                        "{name}: entry {} points at no matching item",
                        hex(&key)
                    ));
                }
            }
            let _ = found;
        }
        for (tree, key) in &expected {
            let name = ["by_time", "by_label", "by_source"][*tree as usize];
            problems.push(format!(
                "{name}: missing entry {} for a stored item",
                hex(key)
            ));
        }
        for entry in self.titles.iter() {
            let (key, _) = entry?;
            if !titles_expected.remove(key.as_ref()) {
                problems.push(format!(
                    "titles: entry {} points at no matching item",
                    hex(&key)
                ));
            }
        }
        for key in titles_expected {
            problems.push(format!("titles: missing entry {}", hex(&key)));
        }
        Ok(problems)
    }
}

/// Counts keyed by name, sorted.
pub type BTreeSetCounts = std::collections::BTreeMap<String, usize>;

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(
        identity: &str,
        title: &str,
        published: Option<DateTime<Utc>>,
        labels: &[&str],
    ) -> Observed {
        Observed {
            identity: identity.to_string(),
            link: Some(format!("https://example.com/{identity}")),
            title: title.to_string(),
            title_key: crate::normalize::text::title_key(title),
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
            section_id: section,
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
        let items = store
            .query(
                &Query {
                    limit: 10,
                    ..Query::default()
                },
                &|_| true,
            )
            .unwrap();
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
            labels: vec!["even".into(), "news".into()],
            limit: 100,
            ..Query::default()
        };
        assert_eq!(store.query(&q, &|_| true).unwrap().len(), 10);
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
        let item = &store
            .query(
                &Query {
                    limit: 5,
                    ..Query::default()
                },
                &|_| true,
            )
            .unwrap()[0];
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
        let item = &store
            .query(
                &Query {
                    limit: 5,
                    ..Query::default()
                },
                &|_| true,
            )
            .unwrap()[0];
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
}
