//! The sled store: one item per story, a history that outlives the page, and indexes that keep
//! every filtered feed a short prefix scan.
//!
//! This is the only module that touches sled. Layout `headwire-store/6`. Trees:
//! - `stories`: home prefix (8 bytes: hash of the folded key of the section that first saw the
//!   story, [`home_prefix`]) + inverted published time (8 bytes, big-endian) + item id (16
//!   bytes) → the item's binary record (`record.rs` gives the grammar: version byte `0x01`, a
//!   flag varint, times as zigzag varint milliseconds relative to first-seen, strings and lists
//!   varint-length-prefixed; the hex id, the identity's tail shared with the link and label keys
//!   equal to a section key or label are derived on decode). Items are clustered by section
//!   and time: a section's feed is one prefix scan over adjacent leaves, records included.
//!   Layouts 1–5 kept records in `items` (id → record, scattered over the whole tree); the
//!   5 → 6 upgrade moves them, 256 per transaction
//! - `locations`: item id → home prefix + inverted published time (16 bytes), the first half of
//!   its `stories` key (lookups by id: identity resolution, `/item`, full text)
//! - `time_index`, `label_index`, `source_index`: packed indexes (`chunk.rs`): each holds
//!   groups of entries (inverted published time + id, 24 bytes) packed into multi-entry chunks
//!   keyed by group + the suffix of the chunk's oldest entry (64 entries or 16 KiB per time
//!   chunk, 128 or 8 KiB per label or source chunk), so an index costs sled one key per chunk
//!   rather than one per entry. `time_index` has one group (the merged feed), whose entries
//!   carry the home prefix and the folded search text
//!   ([`crate::normalize::search::search_text`], written with the item), so `?q=` reads it
//!   without decoding or folding items. `label_index` groups by hash(folded label): page labels
//!   and the `source/section` keys of sections that saw the story after its home section (the
//!   home section's feed reads `stories`); section ids and names are not indexed, the server
//!   resolves them to section keys through the config. `source_index` groups by hash(source
//!   id). Label and source entries carry the home prefix, so a scan finds each record without a
//!   `locations` read. Layouts 1–5 kept one key per entry in `by_time`, `by_label` and
//!   `by_source` (emptied by the 5 → 6 upgrade)
//! - `titles`: hash(folded title) + id → published millis. The id is a stored item or, after
//!   retention deleted it, a tombstone (so a deleted story's title still blocks its return)
//! - `aliases`: id of an identity merged into another item by title → that item's id
//! - `aliases_by_item`: item id + alias id → () (the aliases to drop with the item)
//! - `tombstones`: id → `Tombstone` (JSON): deleted items and their aliases
//! - `tomb_expiry`: expiry time (8 bytes, big-endian, oldest first) + id → ()
//! - `status`: `source/section` → [`SectionStatus`] (JSON)
//! - `meta`: schema version, item count, last change, `source/<id>` for every source that
//!   has ever owned an item (so a sweep also reaches sources removed from the config), and
//!   `count/l|s` + 8-byte prefix → number of items under that label (its `stories` cluster plus
//!   its `label_index` entries) / in that source
//!   (so the index page and `/api/status` never scan an index), and `listed/` + `source/section`
//!   → the ids that section's latest successful poll listed (16 bytes each), `count/text` and
//!   `count/fail` (entries of `content` / `text_state`), and `secret/<name>` → 32 random bytes
//!   ([`Store::secret`])
//! - `content`: item id → the article's full HTML, `0x01` + raw deflate ([`Store::put_text`])
//! - `text_state`: item id → failed text fetches ([`TextFetchState`], binary: `0x01`, attempts
//!   varint, next attempt zigzag varint ms, error length-prefixed), only while there is no text.
//!   Retention deletes both with the item; `store verify` reports entries without an item
//!
//! **Identity.** An observation's id is the 128-bit hash of its identity key (one rule:
//! `normalize::url::identity_key`). It is resolved in this order: a tombstoned id is skipped;
//! a stored item with that id is updated; an alias leads to the item it was merged into; a
//! stored item with the same folded title from *another* source published within the title
//! window (default 48 h) absorbs it and the id becomes its alias — unless the match is a
//! tombstone, in which case the observation is skipped; otherwise a new item is created.
//! Published times never move; labels, sections and sources only accumulate; the section that
//! first saw a story owns its text, so a changed title or summary is taken from that section
//! only (a portal whose home page shortens headlines does not flip the title back and forth),
//! while a missing summary, author or image is filled from any observation of the same story.
//! Any change bumps `updated`.
//!
//! **Retention.** [`Store::sweep`] applies each source's [`RetentionPolicy`] (`keep_days`,
//! default 30, and/or `keep_items` newest). Age counts from when the story was first stored, and
//! a story that a configured section's latest successful poll listed is never removed by age
//! (the page still shows it, so the feed does too); `keep_items` is a hard cap, listed or not.
//! An item is deleted only when *every* source that saw it would drop it, so a story shared with
//! a source that keeps longer stays, listed in both. A deleted item and its aliases leave
//! tombstones for the longest `keep_days` among its sources (30 days when none is set), so a
//! portal that lists it again later does not bring it back as new; expired tombstones are purged
//! by the same sweep. Sources no longer configured get the default policy.
//!
//! **Believable times.** Every stored published time lies between [`EARLIEST_PUBLISHED`] (1990)
//! and [`PUBLISHED_TOLERANCE`] after first-seen (the normaliser says why it dropped others, and
//! the store enforces it for every caller), so every renderer can write every stored date.
//!
//! **Consistency.** Every write — one polled page, or one chunk of a sweep — is one sled
//! transaction across all trees; writers are serialised by a mutex, and the identity
//! decisions are read under that mutex, so two batches never race on a title match. sled
//! applies a transaction under its global write lock and seals it as one batch in its log, so
//! each individual read sees all of a transaction or none of it, and crash recovery replays all
//! of it or none: no index entry can point at a missing item. A scan is not a snapshot in
//! sled, so [`Store::query`] holds a read lock that commits take exclusively: a feed is never
//! rendered from half a batch. The query path still skips an index entry whose item is gone.
//!
//! **Durability.** [`Store::apply_batch`] and [`Store::sweep`] flush (write + fsync) before
//! returning when they changed anything, so a batch they returned for survives SIGKILL and power
//! loss. A crash can lose only work that had not returned yet (always whole transactions) and
//! poll status written after the last flush (sled also flushes every 500 ms); the next poll
//! re-applies the page, which is idempotent. [`Store::apply_batch_deferred`] skips the flush for
//! bulk loads: call [`Store::flush`] after the last batch.
//!
//! The module is split by concern: `layout` (keys and their encodings), `record` (the binary
//! item record), `chunk` (packed index chunks), `batch`
//! (applying a polled page and the one-transaction commit), `query` (feed scans), `retention`
//! (sweeps and tombstones), `migrate` (upgrades from older layouts) and `verify` (the
//! consistency check); this file holds the public types and opening the store.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::config::{Config, DEFAULT_STORE_CACHE_BYTES};
use crate::normalize::search::{matches as text_matches, search_text};
use crate::normalize::Observed;
use crate::text::fold_label;

mod batch;
mod chunk;
mod content;
mod layout;
mod migrate;
mod query;
mod record;
mod retention;
mod varint;
mod verify;

#[cfg(test)]
mod tests;

use chunk::{
    plan_group, scan_group, scan_group_from, ChunkCaps, Entry, GroupScan, Suffix, SUFFIX_LEN,
};
pub use content::{TextCounts, TextFetchState, TEXT_SCAN_ITEMS};
use layout::*;
pub use layout::{
    item_id, published_is_believable, DEFAULT_KEEP_DAYS, EARLIEST_PUBLISHED, PUBLISHED_TOLERANCE,
    SCHEMA_VERSION,
};
use record::*;
pub use retention::{Retention, RetentionPolicy, SweepReport};

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
    /// Folded label keys: the home section's first, then page labels and later sections (each
    /// but the home one has a `label_index` entry).
    pub label_keys: Vec<String>,
    /// Folded title used for cross-source matching.
    pub title_key: String,
    /// The story's full article text (sanitised HTML), filled only by a [`Query`] with
    /// `with_text` (it lives in the `content` tree, not in the item record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
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
    /// Fingerprint of the section's settings when the validators were stored: after a restart
    /// with other selectors the page is read afresh instead of revalidated to a `304`.
    #[serde(default)]
    pub settings: Option<u64>,
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
    /// Headlines the section's `keep`/`block` rules dropped on the last successful poll.
    #[serde(default)]
    pub last_blocked: usize,
}

/// Where one polled page's observations go.
#[derive(Debug, Clone)]
pub struct BatchContext<'a> {
    /// Source id.
    pub source_id: &'a str,
    /// `source/section` key.
    pub section_key: &'a str,
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
    /// Only items whose search text contains every one of these words (folded with
    /// [`fold_label`], as the stored text is).
    pub words: Vec<String>,
    /// Only items whose search text contains none of these (folded) words.
    pub exclude: Vec<String>,
    /// At most this many items.
    pub limit: usize,
    /// Give up with [`StoreError::OverBudget`] once this instant has passed (checked while
    /// scanning), so one expensive search cannot hold a worker for seconds.
    pub deadline: Option<std::time::Instant>,
    /// Fill each item's [`Item::content`] with its stored full text (one more point read per
    /// item; feeds of `full_text` sections that serve content).
    pub with_text: bool,
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
    /// Another process holds the store's lock.
    #[error("store at {path} is in use by another process (sled holds a lock on it); stop the other headwire or point [store] path elsewhere")]
    Locked {
        /// The store directory.
        path: String,
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
    /// A store transaction was aborted before it committed: nothing it planned was written
    /// (the stored data is intact, unlike [`StoreError::Corrupt`]); retrying the operation is
    /// safe.
    #[error("store: a transaction on tree `{tree}` was aborted before it committed; nothing was written, retry the operation")]
    Transaction {
        /// The first tree the transaction wrote.
        tree: &'static str,
    },
    /// A query ran past its [`Query::deadline`] before it found `limit` items.
    #[error("the query ran out of its time budget after examining {examined} items")]
    OverBudget {
        /// Index entries examined before the deadline passed.
        examined: usize,
    },
}

/// The headwire store: sled trees plus a generation counter bumped on every committed change.
pub struct Store {
    db: sled::Db,
    path: String,
    /// Layouts 1–5's id-keyed records: empty once the store is at layout 6 (upgrades only).
    items: sled::Tree,
    stories: sled::Tree,
    locations: sled::Tree,
    time_index: sled::Tree,
    label_index: sled::Tree,
    source_index: sled::Tree,
    by_time: sled::Tree,
    by_label: sled::Tree,
    by_source: sled::Tree,
    titles: sled::Tree,
    aliases: sled::Tree,
    aliases_by_item: sled::Tree,
    tombstones: sled::Tree,
    tomb_expiry: sled::Tree,
    status: sled::Tree,
    meta: sled::Tree,
    content: sled::Tree,
    text_state: sled::Tree,
    generation: AtomicU64,
    /// The generation at which each feed key last changed (keys not here have not changed since
    /// the store was opened): a filtered feed stays cached while none of its keys moved.
    feed_generations: RwLock<HashMap<FeedKey, u64>>,
    /// Serialises writers: identity decisions are read and committed under it.
    writer: Mutex<()>,
    /// Commits take it exclusively, multi-read queries shared: no reader sees half a batch.
    commit_lock: RwLock<()>,
    /// One sweep at a time.
    sweeping: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Whether sled failed to open because another handle (or process) holds the file lock.
fn is_lock_conflict(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(e) if e.to_string().contains("could not acquire lock"))
}

impl Store {
    /// Opens (or creates) the store at `path`, checking its layout version (a `headwire-store/1`
    /// store is migrated in place; any other version is refused).
    ///
    /// sled may hold its file lock for a moment after the last handle of a store is dropped
    /// (a background write finishing), so a lock conflict is retried for up to 2 s before it is
    /// reported as [`StoreError::Locked`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, DEFAULT_STORE_CACHE_BYTES)
    }

    /// [`Store::open`] with a page cache of `cache_bytes` (`[store] cache_mb`).
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let path_text = path.display().to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let opened = sled::Config::new()
                .path(path)
                .cache_capacity(cache_bytes)
                .flush_every_ms(Some(500))
                .open();
            match opened {
                Ok(db) => return Store::from_db(db, path_text),
                Err(e) if is_lock_conflict(&e) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Locked { path: path_text });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(source) => {
                    return Err(StoreError::Sled {
                        path: path_text,
                        source,
                    })
                }
            }
        }
    }

    /// Opens a throwaway in-memory store (tests, `check`).
    pub fn temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::from_db(db, "(temporary)".to_string())
    }

    fn from_db(db: sled::Db, path: String) -> Result<Store, StoreError> {
        let meta = db.open_tree("meta")?;
        let items = db.open_tree("items")?;
        let by_label = db.open_tree("by_label")?;
        let by_source = db.open_tree("by_source")?;
        // Older layouts step up one version at a time; each step writes its version key last, so
        // an interrupted upgrade resumes from the step it was in.
        let mut upgrade_from_v3 = false;
        let mut upgrade_from_v4 = false;
        let mut upgrade_from_v5 = false;
        let stories = db.open_tree("stories")?;
        match meta.get(SCHEMA_KEY)? {
            Some(found) if found.as_ref() == SCHEMA_VERSION.as_bytes() => {}
            Some(found) if found.as_ref() == SCHEMA_V5.as_bytes() => upgrade_from_v5 = true,
            Some(found) if found.as_ref() == SCHEMA_V4.as_bytes() => upgrade_from_v4 = true,
            Some(found) if found.as_ref() == SCHEMA_V3.as_bytes() => upgrade_from_v3 = true,
            Some(found) if found.as_ref() == SCHEMA_V2.as_bytes() => {
                Store::migrate_v2(&db, &meta, &by_label, &by_source)?;
                upgrade_from_v3 = true;
            }
            Some(found) if found.as_ref() == SCHEMA_V1.as_bytes() => {
                Store::migrate_v1(&db, &meta, &items)?;
                Store::migrate_v2(&db, &meta, &by_label, &by_source)?;
                upgrade_from_v3 = true;
            }
            Some(found) => {
                return Err(StoreError::Schema {
                    path,
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: SCHEMA_VERSION.to_string(),
                })
            }
            None if items.is_empty() && stories.is_empty() => {
                meta.insert(ITEM_COUNT_KEY, &0u64.to_be_bytes()[..])?;
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
        let store = Store {
            items,
            stories,
            locations: db.open_tree("locations")?,
            time_index: db.open_tree("time_index")?,
            label_index: db.open_tree("label_index")?,
            source_index: db.open_tree("source_index")?,
            by_time: db.open_tree("by_time")?,
            by_label,
            by_source,
            titles: db.open_tree("titles")?,
            aliases: db.open_tree("aliases")?,
            aliases_by_item: db.open_tree("aliases_by_item")?,
            tombstones: db.open_tree("tombstones")?,
            tomb_expiry: db.open_tree("tomb_expiry")?,
            status: db.open_tree("status")?,
            content: db.open_tree("content")?,
            text_state: db.open_tree("text_state")?,
            meta,
            db,
            path,
            generation: AtomicU64::new(1),
            feed_generations: RwLock::new(HashMap::new()),
            writer: Mutex::new(()),
            commit_lock: RwLock::new(()),
            sweeping: Mutex::new(()),
        };
        if upgrade_from_v3 {
            store.migrate_v3()?;
            upgrade_from_v4 = true;
        }
        if upgrade_from_v4 {
            store.migrate_v4()?;
            upgrade_from_v5 = true;
        }
        if upgrade_from_v5 {
            store.migrate_v5()?;
        }
        Ok(store)
    }

    /// The sled tree a [`TreeId`] names.
    fn tree(&self, id: TreeId) -> &sled::Tree {
        match id {
            TreeId::Items => &self.items,
            TreeId::ByTime => &self.by_time,
            TreeId::ByLabel => &self.by_label,
            TreeId::BySource => &self.by_source,
            TreeId::Titles => &self.titles,
            TreeId::Aliases => &self.aliases,
            TreeId::AliasesByItem => &self.aliases_by_item,
            TreeId::Tombstones => &self.tombstones,
            TreeId::TombExpiry => &self.tomb_expiry,
            TreeId::Meta => &self.meta,
            TreeId::Content => &self.content,
            TreeId::TextState => &self.text_state,
            TreeId::Stories => &self.stories,
            TreeId::Locations => &self.locations,
            TreeId::TimeIndex => &self.time_index,
            TreeId::LabelIndex => &self.label_index,
            TreeId::SourceIndex => &self.source_index,
        }
    }

    /// A number that changes whenever committed data changes (render caches key on it).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A number that changes whenever a feed filtered by these label keys (or, without labels,
    /// these source ids) may change: the newest generation at which a commit touched any of
    /// them. Without labels or sources the feed depends on everything: [`Store::generation`].
    /// Readers of a feed should take it *before* querying (a commit in between then only makes
    /// the next request render again).
    pub fn feed_generation(&self, labels: &[String], sources: &[String]) -> u64 {
        if labels.is_empty() && sources.is_empty() {
            return self.generation();
        }
        let feeds = self
            .feed_generations
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let labels = labels.iter().map(|l| (b'l', prefix8(l)));
        let sources = sources.iter().map(|s| (b's', prefix8(s)));
        labels
            .chain(sources)
            .map(|key| feeds.get(&key).copied().unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    /// The newest change to any item (for `Last-Modified`).
    pub fn last_change(&self) -> Option<DateTime<Utc>> {
        let raw = self.meta.get(LAST_CHANGE_KEY).ok()??;
        let ms = i64::from_be_bytes(raw.as_ref().try_into().ok()?);
        Utc.timestamp_millis_opt(ms).single()
    }

    /// Writes everything to disk now (write + fsync).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Number of stored items (a counter kept in the same transactions as the items).
    pub fn len(&self) -> usize {
        match self.meta.get(ITEM_COUNT_KEY) {
            Ok(Some(raw)) => decode_u64(&raw).map_or_else(|| self.locations.len(), |n| n as usize),
            _ => self.locations.len(),
        }
    }

    /// Whether the store holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads one item by its hex id.
    pub fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(None);
        };
        self.load(&key)
    }

    /// Whether retention deleted this hex id (an item or an identity merged into one) and the
    /// tombstone has not expired yet.
    pub fn is_tombstoned(&self, id: &str) -> Result<bool, StoreError> {
        match unhex(id) {
            Some(key) => Ok(self.tombstones.contains_key(key)?),
            None => Ok(false),
        }
    }

    fn load(&self, id: &[u8; 16]) -> Result<Option<Item>, StoreError> {
        let Some(location) = self.locations.get(id)? else {
            return Ok(None);
        };
        let key = story_key_at(&location, id).ok_or_else(|| StoreError::Corrupt {
            tree: "locations",
            message: format!("entry {} is not 16 bytes", hex(id)),
        })?;
        self.stories
            .get(key)?
            .map(|bytes| decode_item(id, &bytes))
            .transpose()
    }

    fn tombstone(&self, id: &[u8; 16]) -> Result<Option<Tombstone>, StoreError> {
        self.tombstones
            .get(id)?
            .map(|bytes| decode_tombstone(&bytes))
            .transpose()
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
    /// section's items): one read of a counter kept in the same transactions as the index.
    pub fn count_label(&self, label_key: &str) -> usize {
        self.read_counter(TreeId::ByLabel, &prefix8(label_key))
    }

    /// Number of items seen in a source (a counter, like [`Store::count_label`]).
    pub fn count_source(&self, source_id: &str) -> usize {
        self.read_counter(TreeId::BySource, &prefix8(source_id))
    }

    fn read_counter(&self, tree: TreeId, prefix: &[u8]) -> usize {
        count_key(tree, prefix)
            .and_then(|key| self.meta.get(key).ok().flatten())
            .and_then(|raw| decode_u64(&raw))
            .map_or(0, |n| n as usize)
    }

    /// Tombstone and alias counts, full-text counts, on-disk size and layout, for `store stats`.
    pub fn extra_stats(&self) -> Result<Vec<(String, String)>, StoreError> {
        let texts = self.text_counts();
        Ok(vec![
            ("tombstones".into(), self.tombstones.len().to_string()),
            ("aliases".into(), self.aliases.len().to_string()),
            ("texts stored".into(), texts.have.to_string()),
            ("texts pending".into(), texts.pending.to_string()),
            ("texts failed".into(), texts.failed.to_string()),
            ("disk bytes".into(), self.db.size_on_disk()?.to_string()),
            ("schema".into(), SCHEMA_VERSION.to_string()),
        ])
    }

    /// Item counts per source and per `source/section` key (every source and section an item
    /// was seen in counts it once).
    pub fn counts(&self) -> Result<(BTreeSetCounts, BTreeSetCounts), StoreError> {
        let _shared = self.commit_lock.read().unwrap_or_else(|e| e.into_inner());
        let mut by_source = BTreeSetCounts::new();
        let mut by_section = BTreeSetCounts::new();
        for entry in self.stories.iter() {
            let (key, bytes) = entry?;
            let item = decode_item(&id_of(key.get(16..).unwrap_or_default()), &bytes)?;
            for s in &item.sources {
                *by_source.entry(s.clone()).or_default() += 1;
            }
            for s in &item.sections {
                *by_section.entry(s.clone()).or_default() += 1;
            }
        }
        Ok((by_source, by_section))
    }

    /// Test support for upgrade tests: rewrites an item's published time (index entries moved
    /// with it, in one transaction) without the believability rule, as an older headwire could
    /// have stored it. Returns whether the item exists.
    #[doc(hidden)]
    pub fn debug_set_published(
        &self,
        id: &str,
        published: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(false);
        };
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut item) = self.load(&key)? else {
            return Ok(false);
        };
        let mut m = Mutations::default();
        let home = home_prefix(&item);
        for entry in index_entries(&item, &key) {
            m.index_del(entry);
        }
        m.del(TreeId::Stories, story_key(home, item.published, &key));
        let text = search_text(&item.title, item.summary.as_deref());
        item.published = published;
        for (entry, payload) in index_entries_with_payloads(&item, &key, &text) {
            m.index_put(entry, payload);
        }
        m.put(
            TreeId::Titles,
            title_entry(&item.title_key, &key),
            published.timestamp_millis().to_be_bytes().to_vec(),
        );
        m.put(
            TreeId::Stories,
            story_key(home, published, &key),
            encode_item(&item),
        );
        m.put(
            TreeId::Locations,
            key.to_vec(),
            location_value(home, published),
        );
        self.commit(&m, published, false)?;
        Ok(true)
    }

    /// Test support for upgrade tests: marks the store as written by layout `version` (e.g.
    /// `headwire-store/3`), so the next open runs that version's upgrade.
    #[doc(hidden)]
    pub fn debug_set_layout(&self, version: &str) -> Result<(), StoreError> {
        if version != SCHEMA_VERSION {
            // Layouts before 6 keep their records in `items`.
            let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            self.to_layout_v5()?;
        }
        self.meta.insert(SCHEMA_KEY, version.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Test support for upgrade tests: rewrites every item record in layout 4's JSON encoding
    /// and marks the store `headwire-store/4`, so the next open runs the 4 → 5 upgrade on a
    /// store exactly as layout 4 left it. Returns the number of records rewritten.
    #[doc(hidden)]
    pub fn debug_downgrade_to_v4(&self) -> Result<usize, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.to_layout_v5()?;
        let mut rewritten = 0;
        for entry in self.items.iter() {
            let (key, bytes) = entry?;
            let item = decode_item(&id_of(&key), &bytes)?;
            self.items.insert(key, encode_legacy_item(&item))?;
            rewritten += 1;
        }
        self.meta.insert(SCHEMA_KEY, SCHEMA_V4.as_bytes())?;
        self.db.flush()?;
        Ok(rewritten)
    }

    /// Test support for upgrade tests: puts every item back into layout 5 (id-keyed `items`,
    /// index values without the home prefix) and marks the store `headwire-store/5`, so the
    /// next open runs the 5 → 6 upgrade. Returns the number of items moved.
    #[doc(hidden)]
    pub fn debug_downgrade_to_v5(&self) -> Result<usize, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.to_layout_v5()
    }

    /// Tombstones held (for `store stats` and upgrade tests).
    pub fn tombstone_count(&self) -> usize {
        self.tombstones.len()
    }

    /// The layout version the store's meta records.
    pub fn layout(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get(SCHEMA_KEY)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Test support: removes the time-index entry of the item with this hex id (in a
    /// transaction of its own, bypassing the item), to prove that `verify` notices. Returns
    /// whether the item exists.
    #[doc(hidden)]
    pub fn debug_remove_index_entry(&self, id: &str) -> Result<bool, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(false);
        };
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(item) = self.load(&key)? else {
            return Ok(false);
        };
        let mut m = Mutations::default();
        m.index_del((
            TreeId::TimeIndex,
            Vec::new(),
            suffix_of(item.published, &key),
        ));
        self.commit(&m, item.first_seen, false)?;
        self.db.flush()?;
        Ok(true)
    }
}

/// Counts keyed by name, sorted.
pub type BTreeSetCounts = BTreeMap<String, usize>;
