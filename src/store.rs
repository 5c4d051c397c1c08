//! The sled store: one item per story, a history that outlives the page, and indexes that keep
//! every filtered feed a short prefix scan.
//!
//! This is the only module that touches sled. Trees:
//! - `items`: item id (16 bytes) → [`Item`] (JSON)
//! - `by_time`: inverted published time (8 bytes, big-endian) + id → ()
//! - `by_label`: hash(folded label) + inverted time + id → () — `source/section` keys and page
//!   labels. Section ids and names are not indexed: the server resolves them to section keys
//!   through the config, which saves two keys per item (sled's memory follows the key count)
//! - `by_source`: hash(source id) + inverted time + id → ()
//! - `titles`: hash(folded title) + id → published millis. The id is a stored item or, after
//!   retention deleted it, a tombstone (so a deleted story's title still blocks its return)
//! - `aliases`: id of an identity merged into another item by title → that item's id
//! - `aliases_by_item`: item id + alias id → () (the aliases to drop with the item)
//! - `tombstones`: id → `Tombstone` (JSON): deleted items and their aliases
//! - `tomb_expiry`: expiry time (8 bytes, big-endian, oldest first) + id → ()
//! - `status`: `source/section` → [`SectionStatus`] (JSON)
//! - `meta`: schema version, item count, last change, `source/<id>` for every source that
//!   has ever owned an item (so a sweep also reaches sources removed from the config), and
//!   `count/l|s` + 8-byte prefix → number of `by_label` / `by_source` entries under that prefix
//!   (so the index page and `/api/status` never scan an index)
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
//! default 30, and/or `keep_items` newest): an item is deleted only when *every* source that saw
//! it would drop it, so a story shared with a source that keeps longer stays, listed in both.
//! A deleted item and its aliases leave tombstones for the longest `keep_days` among its
//! sources (30 days when none is set), so a portal that still lists it does not bring it back
//! as new; expired tombstones are purged by the same sweep. Sources no longer configured get
//! the default policy.
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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::config::Config;
use crate::normalize::text::fold_label;
use crate::normalize::Observed;

/// The layout version this code reads and writes.
pub const SCHEMA_VERSION: &str = "headwire-store/4";
/// The layout before retention counted age from first-seen.
const SCHEMA_V3: &str = "headwire-store/3";
/// The layout before index counters, migrated in place on open.
const SCHEMA_V2: &str = "headwire-store/2";
/// The first layout, migrated in place on open (it had no aliases, tombstones or counters).
const SCHEMA_V1: &str = "headwire-store/1";
const SCHEMA_KEY: &[u8] = b"schema";
const LAST_CHANGE_KEY: &[u8] = b"last_change";
const ITEM_COUNT_KEY: &[u8] = b"item_count";
const SOURCE_KEY_PREFIX: &[u8] = b"source/";
/// Prefix of the per-prefix index counters in `meta` (see the module doc).
const COUNT_KEY_PREFIX: &[u8] = b"count/";
/// `meta` prefix of each section's latest listing: `listed/` + `source/section` key → the 16-byte
/// ids the section's latest successful poll listed, concatenated (retention never ages them out).
const LISTED_KEY_PREFIX: &[u8] = b"listed/";
/// Items deleted per sweep transaction (bounds how long a sweep holds the writer lock).
const SWEEP_CHUNK: usize = 256;
/// Folded titles shorter than this never merge across sources (too likely to collide).
const MIN_TITLE_MATCH_CHARS: usize = 4;

/// sled's page cache when `[store] cache_mb` is not set: past this, uncached feed renders got
/// little faster while peak memory kept growing (BENCHMARKS.md).
pub const DEFAULT_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Retention when a source sets neither `keep_days` nor `keep_items`, and the tombstone window
/// for sources without `keep_days`.
pub const DEFAULT_KEEP_DAYS: u32 = 30;
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
    /// At most this many items.
    pub limit: usize,
    /// Give up with [`StoreError::OverBudget`] once this instant has passed (checked while
    /// scanning), so one expensive search cannot hold a worker for seconds.
    pub deadline: Option<std::time::Instant>,
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
    /// A query ran past its [`Query::deadline`] before it found `limit` items.
    #[error("the query ran out of its time budget after examining {examined} items")]
    OverBudget {
        /// Index entries examined before the deadline passed.
        examined: usize,
    },
}

/// How long one source keeps its items: a story first stored more than `keep_days` ago that the
/// source's sections no longer list, or beyond the newest `keep_items` (a hard cap, listed or
/// not), is dropped. Both may apply; [`RetentionPolicy::new`] applies the 30-day default when
/// neither is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Drop items first stored more than this many days ago, unless a section still lists them.
    pub keep_days: Option<u32>,
    /// Drop items beyond the newest this many (by published time, then id).
    pub keep_items: Option<usize>,
}

impl RetentionPolicy {
    /// A policy from a source's settings; neither set means [`DEFAULT_KEEP_DAYS`].
    pub fn new(keep_days: Option<u32>, keep_items: Option<usize>) -> RetentionPolicy {
        match (keep_days, keep_items) {
            (None, None) => RetentionPolicy::default(),
            _ => RetentionPolicy {
                keep_days,
                keep_items,
            },
        }
    }

    /// How long a tombstone left by this source's deletions is remembered.
    fn tombstone_days(&self) -> u32 {
        self.keep_days.unwrap_or(DEFAULT_KEEP_DAYS)
    }
}

impl Default for RetentionPolicy {
    fn default() -> RetentionPolicy {
        RetentionPolicy {
            keep_days: Some(DEFAULT_KEEP_DAYS),
            keep_items: None,
        }
    }
}

/// Retention for every source; a source not listed (e.g. removed from the config) gets the
/// default policy.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Policy per source id.
    pub sources: HashMap<String, RetentionPolicy>,
    /// `source/section` keys of the configured sections: what their latest successful poll
    /// listed is never aged out (a removed section's last listing protects nothing).
    pub sections: BTreeSet<String>,
}

impl Retention {
    /// The policies named by a validated config (`keep_days` / `keep_items` per source).
    pub fn from_config(config: &Config) -> Retention {
        Retention {
            sources: config
                .sources
                .iter()
                .map(|s| {
                    (
                        s.id.clone(),
                        RetentionPolicy::new(s.keep_days, s.keep_items),
                    )
                })
                .collect(),
            sections: config
                .sections()
                .map(|(source, section)| section.key(source))
                .collect(),
        }
    }

    /// The policy that applies to `source`.
    pub fn policy(&self, source: &str) -> RetentionPolicy {
        self.sources.get(source).copied().unwrap_or_default()
    }
}

/// What one retention sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Hex ids of the items deleted (each is now a tombstone).
    pub deleted: Vec<String>,
    /// Items some source would drop but another source that saw them still keeps.
    pub kept_shared: usize,
    /// Stories the configured sections' latest polls list (never aged out).
    pub listed: usize,
    /// Tombstones whose window had passed and that were forgotten.
    pub purged: usize,
}

/// What a deleted item (or an identity merged into it) leaves behind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Tombstone {
    /// When the sweep deleted it.
    deleted: DateTime<Utc>,
    /// When the tombstone is forgotten.
    expires: DateTime<Utc>,
    /// The deleted item's published time (title matches use the same window as live items).
    published: DateTime<Utc>,
    /// Sources the item had been seen in.
    sources: Vec<String>,
    /// The deleted item's folded title (its `titles` entry stays until expiry); `None` for an
    /// alias.
    title_key: Option<String>,
    /// For an alias: hex id of the item it had been merged into.
    alias_of: Option<String>,
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
    aliases: sled::Tree,
    aliases_by_item: sled::Tree,
    tombstones: sled::Tree,
    tomb_expiry: sled::Tree,
    status: sled::Tree,
    meta: sled::Tree,
    generation: AtomicU64,
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

/// Maps a time to 8 bytes that sort newest-first.
fn inverted_time(t: DateTime<Utc>) -> [u8; 8] {
    (u64::MAX - ordered_millis(t)).to_be_bytes()
}

/// Maps a time to a u64 that sorts like the time (oldest first).
fn ordered_millis(t: DateTime<Utc>) -> u64 {
    (t.timestamp_millis() as u64) ^ (1u64 << 63)
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

fn id16(bytes: Option<&[u8]>) -> Option<[u8; 16]> {
    bytes.and_then(|b| <[u8; 16]>::try_from(b).ok())
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

/// The first-seen time before which a source keeping `days` days drops a story.
fn age_cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now.checked_sub_signed(chrono::Duration::days(i64::from(days)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Every index entry that points at `item` (by time, by each source, by each label key).
fn index_entries(item: &Item, id: &[u8; 16]) -> Vec<(TreeId, Vec<u8>)> {
    let mut entries = vec![(TreeId::ByTime, index_key(None, item.published, id))];
    for source in &item.sources {
        entries.push((
            TreeId::BySource,
            index_key(Some(prefix8(source)), item.published, id),
        ));
    }
    for key in &item.label_keys {
        entries.push((
            TreeId::ByLabel,
            index_key(Some(prefix8(key)), item.published, id),
        ));
    }
    entries
}

/// Published times before this are not believed (no portal headline predates it; parsers that
/// read a stray number as a year produce such times): the first-seen time is used instead.
pub const EARLIEST_PUBLISHED: DateTime<Utc> =
    DateTime::from_timestamp_nanos(631_152_000_000_000_000);

/// How far after first-seen a published time may lie (a portal's clock or zone a little off).
pub const PUBLISHED_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Whether `published` can be stored for a story first seen at `first_seen`: not before
/// [`EARLIEST_PUBLISHED`] and not more than [`PUBLISHED_TOLERANCE`] after first-seen. Every
/// stored item satisfies it (checked by `store verify`), so rendering never meets a year that
/// RFC 822 or RFC 3339 cannot write.
pub fn published_is_believable(published: DateTime<Utc>, first_seen: DateTime<Utc>) -> bool {
    published >= EARLIEST_PUBLISHED
        && first_seen
            .checked_add_signed(PUBLISHED_TOLERANCE)
            .is_some_and(|latest| published <= latest)
}

fn title_entry(title_key: &str, id: &[u8; 16]) -> Vec<u8> {
    let mut key = prefix8(title_key).to_vec();
    key.extend_from_slice(id);
    key
}

fn pair_key(first: &[u8; 16], second: &[u8; 16]) -> Vec<u8> {
    let mut key = first.to_vec();
    key.extend_from_slice(second);
    key
}

fn expiry_key(expires: DateTime<Utc>, id: &[u8; 16]) -> Vec<u8> {
    let mut key = ordered_millis(expires).to_be_bytes().to_vec();
    key.extend_from_slice(id);
    key
}

/// The `meta` key counting the entries of an index tree under one 8-byte prefix; `None` for
/// trees without counters.
fn count_key(tree: TreeId, prefix: &[u8]) -> Option<Vec<u8>> {
    let tag = match tree {
        TreeId::ByLabel => b'l',
        TreeId::BySource => b's',
        _ => return None,
    };
    let mut key = COUNT_KEY_PREFIX.to_vec();
    key.push(tag);
    key.extend_from_slice(prefix.get(..8)?);
    Some(key)
}

/// Counts the entries of an index tree per 8-byte prefix, keyed by their `meta` counter key.
fn scan_counts(tree: &sled::Tree, id: TreeId) -> Result<BTreeMap<Vec<u8>, u64>, StoreError> {
    let mut counts = BTreeMap::new();
    for key in tree.iter().keys() {
        if let Some(counter) = count_key(id, &key?) {
            *counts.entry(counter).or_insert(0u64) += 1;
        }
    }
    Ok(counts)
}

fn listed_key(section_key: &str) -> Vec<u8> {
    let mut key = LISTED_KEY_PREFIX.to_vec();
    key.extend_from_slice(section_key.as_bytes());
    key
}

fn source_key(source: &str) -> Vec<u8> {
    let mut key = SOURCE_KEY_PREFIX.to_vec();
    key.extend_from_slice(source.as_bytes());
    key
}

/// Whether sled failed to open because another handle (or process) holds the file lock.
fn is_lock_conflict(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(e) if e.to_string().contains("could not acquire lock"))
}

/// For [`Store::verify`]: compares the keys of a derived tree with the keys its records imply,
/// reporting entries nothing implies (`{name}: entry … {unexpected}`) and implied entries that
/// are missing.
fn reconcile_keys(
    tree: &sled::Tree,
    name: &str,
    unexpected: &str,
    mut expected: BTreeSet<Vec<u8>>,
    problems: &mut Vec<String>,
) -> Result<(), StoreError> {
    for key in tree.iter().keys() {
        let key = key?;
        if !expected.remove(key.as_ref()) {
            problems.push(format!("{name}: entry {} {unexpected}", hex(&key)));
        }
    }
    for key in expected {
        problems.push(format!("{name}: missing entry {}", hex(&key)));
    }
    Ok(())
}

fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn decode_item(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: "items",
        message: e.to_string(),
    })
}

fn decode_tombstone(bytes: &[u8]) -> Result<Tombstone, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: "tombstones",
        message: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).unwrap_or_default()
}

/// The trees a transaction writes, in the order [`Store::commit`] opens them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TreeId {
    Items,
    ByTime,
    ByLabel,
    BySource,
    Titles,
    Aliases,
    AliasesByItem,
    Tombstones,
    TombExpiry,
    Meta,
}

/// Writes to apply as one transaction, plus the change in item count.
#[derive(Default)]
struct Mutations {
    ops: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>,
    item_delta: i64,
}

impl Mutations {
    fn put(&mut self, tree: TreeId, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((tree, key, Some(value)));
    }

    fn del(&mut self, tree: TreeId, key: Vec<u8>) {
        self.ops.push((tree, key, None));
    }
}

/// A planned write for one item: the new record and the index keys to add.
struct ItemWrite {
    id: [u8; 16],
    item: Item,
    new_index_keys: Vec<(TreeId, Vec<u8>)>,
    /// Set for a new item: its `titles` entry.
    title_entry: Option<Vec<u8>>,
}

/// Everything one batch will write, built up while resolving its observations.
#[derive(Default)]
struct BatchPlan {
    writes: Vec<ItemWrite>,
    planned: HashMap<[u8; 16], usize>,
    /// New aliases: merged id → item id.
    aliases: HashMap<[u8; 16], [u8; 16]>,
    /// Aliases whose item is gone (only after outside damage): (alias, old target) to drop.
    dangling: Vec<([u8; 16], [u8; 16])>,
}

/// Where an observation goes.
enum Resolved {
    /// Skipped: retention deleted it (or the story it matches by title).
    Tombstoned,
    /// An existing (stored or planned) item, found by id or alias.
    Existing([u8; 16], Item),
    /// An item from another source with the same folded title; the observation's id becomes
    /// an alias.
    Merged([u8; 16], Item),
    /// A new story.
    New,
}

/// What a title lookup found.
enum TitleMatch {
    Item([u8; 16], Box<Item>),
    Tombstone,
    None,
}

impl Store {
    /// Opens (or creates) the store at `path`, checking its layout version (a `headwire-store/1`
    /// store is migrated in place; any other version is refused).
    ///
    /// sled may hold its file lock for a moment after the last handle of a store is dropped
    /// (a background write finishing), so a lock conflict is retried for up to 2 s before it is
    /// reported as [`StoreError::Locked`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, DEFAULT_CACHE_BYTES)
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
        match meta.get(SCHEMA_KEY)? {
            Some(found) if found.as_ref() == SCHEMA_VERSION.as_bytes() => {}
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
            None if items.is_empty() => {
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
            by_time: db.open_tree("by_time")?,
            by_label,
            by_source,
            titles: db.open_tree("titles")?,
            aliases: db.open_tree("aliases")?,
            aliases_by_item: db.open_tree("aliases_by_item")?,
            tombstones: db.open_tree("tombstones")?,
            tomb_expiry: db.open_tree("tomb_expiry")?,
            status: db.open_tree("status")?,
            meta,
            db,
            path,
            generation: AtomicU64::new(1),
            writer: Mutex::new(()),
            commit_lock: RwLock::new(()),
            sweeping: Mutex::new(()),
        };
        if upgrade_from_v3 {
            store.migrate_v3()?;
        }
        Ok(store)
    }

    /// `headwire-store/3` → 4, for the rule that retention ages a story from when it was first
    /// stored and never removes one its section still lists:
    /// - every tombstone is lifted (with its expiry entry and its `titles` entry): the old rule
    ///   deleted stories by their *published* age, so pages that still list them bring them back
    ///   on their next poll;
    /// - a published time that is not believable (before [`EARLIEST_PUBLISHED`] or more than
    ///   [`PUBLISHED_TOLERANCE`] after first-seen; older parsers let such times through) becomes
    ///   the first-seen time, with its index entries moved;
    /// - text fields beyond the caps of [`crate::normalize::bounds`] are clipped.
    ///
    /// Each step is idempotent and each item is fixed in one transaction; the version key is
    /// written last, so a kill mid-upgrade leaves a store that opens, verifies and resumes.
    fn migrate_v3(&self) -> Result<(), StoreError> {
        let items = self.items.len();
        let tombstones = self.tombstones.len();
        tracing::info!(
            items,
            tombstones,
            "upgrading the store from {SCHEMA_V3} to {SCHEMA_VERSION}: lifting tombstones left by \
             the old retention rule and checking every item's published time"
        );
        let now = Utc::now();
        let mut lifted = 0usize;
        loop {
            let due: Vec<(sled::IVec, sled::IVec)> = self
                .tombstones
                .iter()
                .take(SWEEP_CHUNK)
                .collect::<Result<_, _>>()?;
            if due.is_empty() {
                break;
            }
            let mut m = Mutations::default();
            for (key, bytes) in &due {
                m.del(TreeId::Tombstones, key.to_vec());
                let (Some(id), Ok(tomb)) = (id16(Some(key.as_ref())), decode_tombstone(bytes))
                else {
                    continue;
                };
                m.del(TreeId::TombExpiry, expiry_key(tomb.expires, &id));
                if let Some(title_key) = &tomb.title_key {
                    m.del(TreeId::Titles, title_entry(title_key, &id));
                }
                lifted += 1;
            }
            self.commit(&m, now, false)?;
        }
        // Expiry entries whose tombstone was already gone (none in a consistent store).
        for key in self.tomb_expiry.iter().keys() {
            self.tomb_expiry.remove(key?)?;
        }
        let mut repaired = 0usize;
        let mut examined = 0usize;
        for entry in self.items.iter() {
            let (key, bytes) = entry?;
            examined += 1;
            if examined % 100_000 == 0 {
                tracing::info!(examined, of = items, "store upgrade: checking items");
            }
            let (Some(id), Ok(item)) = (id16(Some(key.as_ref())), decode_item(&bytes)) else {
                continue; // `store verify` reports undecodable records; the upgrade leaves them.
            };
            let mut fixed = item.clone();
            crate::normalize::bounds::clip_item_text(
                &mut fixed.title,
                &mut fixed.summary,
                &mut fixed.author,
                &mut fixed.labels,
            );
            if !published_is_believable(fixed.published, fixed.first_seen) {
                fixed.published = fixed.first_seen;
            }
            if fixed == item {
                continue;
            }
            let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let mut m = Mutations::default();
            if fixed.published != item.published {
                for (tree, key) in index_entries(&item, &id) {
                    m.del(tree, key);
                }
                for (tree, key) in index_entries(&fixed, &id) {
                    m.put(tree, key, Vec::new());
                }
                m.put(
                    TreeId::Titles,
                    title_entry(&fixed.title_key, &id),
                    fixed.published.timestamp_millis().to_be_bytes().to_vec(),
                );
            }
            m.put(TreeId::Items, id.to_vec(), encode(&fixed));
            self.commit(&m, now, true)?;
            repaired += 1;
        }
        self.meta.insert(SCHEMA_KEY, SCHEMA_VERSION.as_bytes())?;
        self.db.flush()?;
        tracing::info!(
            lifted,
            repaired,
            "store migrated from {SCHEMA_V3} to {SCHEMA_VERSION}"
        );
        Ok(())
    }

    /// `headwire-store/1` → 2: the same items and indexes; adds the item count and the source
    /// registry (v1 never wrote aliases or tombstones). The version key is written last, so an
    /// interrupted migration simply runs again.
    fn migrate_v1(db: &sled::Db, meta: &sled::Tree, items: &sled::Tree) -> Result<(), StoreError> {
        let mut count = 0u64;
        let mut sources = BTreeSet::new();
        for entry in items.iter() {
            let (_, bytes) = entry?;
            let item = decode_item(&bytes)?;
            count += 1;
            sources.extend(item.sources);
        }
        for source in &sources {
            meta.insert(source_key(source), &[][..])?;
        }
        meta.insert(ITEM_COUNT_KEY, &count.to_be_bytes()[..])?;
        meta.insert(SCHEMA_KEY, SCHEMA_V2.as_bytes())?;
        db.flush()?;
        tracing::info!(
            items = count,
            "store migrated from {SCHEMA_V1} to {SCHEMA_V2}"
        );
        Ok(())
    }

    /// `headwire-store/2` → 3: adds the per-prefix counters of `by_label` and `by_source`,
    /// counted once by scanning both (seconds at a million items). The version key is written
    /// last, so an interrupted migration simply runs again.
    fn migrate_v2(
        db: &sled::Db,
        meta: &sled::Tree,
        by_label: &sled::Tree,
        by_source: &sled::Tree,
    ) -> Result<(), StoreError> {
        tracing::info!(
            "upgrading the store from {SCHEMA_V2} to {SCHEMA_V3}: counting the label and \
             source indexes once (about a minute per million items)"
        );
        for key in meta.scan_prefix(COUNT_KEY_PREFIX).keys() {
            meta.remove(key?)?;
        }
        let mut counters = 0usize;
        for (tree, id) in [(by_label, TreeId::ByLabel), (by_source, TreeId::BySource)] {
            for (key, count) in scan_counts(tree, id)? {
                meta.insert(key, &count.to_be_bytes()[..])?;
                counters += 1;
            }
        }
        meta.insert(SCHEMA_KEY, SCHEMA_V3.as_bytes())?;
        db.flush()?;
        tracing::info!(counters, "store migrated from {SCHEMA_V2} to {SCHEMA_V3}");
        Ok(())
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

    /// Writes everything to disk now (write + fsync).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Number of stored items (a counter kept in the same transactions as the items).
    pub fn len(&self) -> usize {
        match self.meta.get(ITEM_COUNT_KEY) {
            Ok(Some(raw)) => decode_u64(&raw).map_or_else(|| self.items.len(), |n| n as usize),
            _ => self.items.len(),
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
        self.items
            .get(id)?
            .map(|bytes| decode_item(&bytes))
            .transpose()
    }

    fn tombstone(&self, id: &[u8; 16]) -> Result<Option<Tombstone>, StoreError> {
        self.tombstones
            .get(id)?
            .map(|bytes| decode_tombstone(&bytes))
            .transpose()
    }

    /// The item as this batch will leave it: planned if planned, else stored.
    fn current(&self, id: &[u8; 16], plan: &BatchPlan) -> Result<Option<Item>, StoreError> {
        match plan.planned.get(id) {
            Some(&i) => Ok(Some(plan.writes[i].item.clone())),
            None => self.load(id),
        }
    }

    /// Applies one polled page — creates new items, updates changed ones, adds labels and
    /// indexes, all in one transaction — and flushes it to disk before returning, so a
    /// returned batch survives a crash.
    pub fn apply_batch(
        &self,
        ctx: &BatchContext<'_>,
        observed: &[Observed],
    ) -> Result<BatchOutcome, StoreError> {
        let (outcome, committed) = self.apply_inner(ctx, observed)?;
        if committed {
            self.db.flush()?;
        }
        Ok(outcome)
    }

    /// [`Store::apply_batch`] without the flush, for bulk loads (imports, benchmarks): the
    /// batch is still one transaction, but only [`Store::flush`] (or sled's flush every 500 ms)
    /// makes it durable.
    pub fn apply_batch_deferred(
        &self,
        ctx: &BatchContext<'_>,
        observed: &[Observed],
    ) -> Result<BatchOutcome, StoreError> {
        Ok(self.apply_inner(ctx, observed)?.0)
    }

    fn apply_inner(
        &self,
        ctx: &BatchContext<'_>,
        observed: &[Observed],
    ) -> Result<(BatchOutcome, bool), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut outcome = BatchOutcome::default();
        // Merge repeats of one story on the page first (same identity, possibly other labels).
        let mut order: Vec<&str> = Vec::new();
        let mut merged: HashMap<&str, Observed> = HashMap::new();
        for obs in observed {
            match merged.get_mut(obs.identity.as_str()) {
                Some(existing) => {
                    for label in &obs.page_labels {
                        if !existing.page_labels.contains(label) {
                            existing.page_labels.push(label.clone());
                        }
                    }
                }
                None => {
                    order.push(&obs.identity);
                    merged.insert(&obs.identity, obs.clone());
                }
            }
        }
        outcome.found = order.len();
        let mut plan = BatchPlan::default();
        for identity in order {
            let Some(obs) = merged.get(identity) else {
                continue;
            };
            let own_id = item_id(&obs.identity);
            if self.tombstones.contains_key(own_id)? {
                outcome.tombstoned += 1;
                continue;
            }
            let (id, write) = match self.resolve(own_id, obs, ctx, &mut plan)? {
                Resolved::Tombstoned => {
                    outcome.tombstoned += 1;
                    continue;
                }
                Resolved::Existing(id, item) => (id, self.plan_update(id, item, obs, ctx)),
                Resolved::Merged(id, item) => {
                    plan.aliases.insert(own_id, id);
                    (id, self.plan_update(id, item, obs, ctx))
                }
                Resolved::New => (own_id, Some(self.plan_new(own_id, obs, ctx))),
            };
            outcome.ids.push(hex(&id));
            let Some(write) = write else {
                continue;
            };
            match plan.planned.get(&id) {
                Some(&i) => {
                    let previous = std::mem::replace(&mut plan.writes[i], write);
                    plan.writes[i]
                        .new_index_keys
                        .extend(previous.new_index_keys);
                    if plan.writes[i].title_entry.is_none() {
                        plan.writes[i].title_entry = previous.title_entry;
                    }
                }
                None => {
                    if write.title_entry.is_some() {
                        outcome.new += 1;
                    } else {
                        outcome.updated += 1;
                    }
                    plan.planned.insert(id, plan.writes.len());
                    plan.writes.push(write);
                }
            }
        }
        // The page's listing, kept so retention never ages out a story the page still lists.
        let mut listing: Vec<u8> = Vec::with_capacity(outcome.ids.len() * 16);
        let mut listed_ids: HashSet<[u8; 16]> = HashSet::new();
        for id in outcome.ids.iter().filter_map(|id| unhex(id)) {
            if listed_ids.insert(id) {
                listing.extend_from_slice(&id);
            }
        }
        let listed_key = listed_key(ctx.section_key);
        let listing_changed = self.meta.get(&listed_key)?.as_deref() != Some(listing.as_slice());
        let items_changed =
            !(plan.writes.is_empty() && plan.aliases.is_empty() && plan.dangling.is_empty());
        if !items_changed && !listing_changed {
            return Ok((outcome, false));
        }
        let mut m = Mutations::default();
        if listing_changed {
            m.put(TreeId::Meta, listed_key, listing);
        }
        for write in &plan.writes {
            m.put(TreeId::Items, write.id.to_vec(), encode(&write.item));
            for (tree, key) in &write.new_index_keys {
                m.put(*tree, key.clone(), Vec::new());
            }
            if let Some(entry) = &write.title_entry {
                m.put(
                    TreeId::Titles,
                    entry.clone(),
                    write
                        .item
                        .published
                        .timestamp_millis()
                        .to_be_bytes()
                        .to_vec(),
                );
                m.item_delta += 1;
            }
        }
        for (alias, target) in &plan.aliases {
            m.put(TreeId::Aliases, alias.to_vec(), target.to_vec());
            m.put(TreeId::AliasesByItem, pair_key(target, alias), Vec::new());
        }
        for (alias, old_target) in &plan.dangling {
            m.del(TreeId::Aliases, alias.to_vec());
            m.del(TreeId::AliasesByItem, pair_key(old_target, alias));
        }
        if !plan.writes.is_empty() && !self.meta.contains_key(source_key(ctx.source_id))? {
            m.put(TreeId::Meta, source_key(ctx.source_id), Vec::new());
        }
        // A listing alone changes no feed: no new generation or Last-Modified for it.
        self.commit(&m, ctx.now, items_changed)?;
        Ok((outcome, true))
    }

    /// Decides which item an observation belongs to (see the module doc for the order).
    fn resolve(
        &self,
        own_id: [u8; 16],
        obs: &Observed,
        ctx: &BatchContext<'_>,
        plan: &mut BatchPlan,
    ) -> Result<Resolved, StoreError> {
        if let Some(item) = self.current(&own_id, plan)? {
            return Ok(Resolved::Existing(own_id, item));
        }
        let alias_target = match plan.aliases.get(&own_id) {
            Some(target) => Some(*target),
            None => id16(self.aliases.get(own_id)?.as_deref()),
        };
        if let Some(target) = alias_target {
            if let Some(item) = self.current(&target, plan)? {
                return Ok(Resolved::Existing(target, item));
            }
            // The alias outlived its item (only possible after outside damage): drop it.
            plan.dangling.push((own_id, target));
        }
        if let Some(window) = ctx.title_window {
            match self.find_title_match(obs, ctx, window, plan)? {
                TitleMatch::Item(id, item) => return Ok(Resolved::Merged(id, *item)),
                TitleMatch::Tombstone => return Ok(Resolved::Tombstoned),
                TitleMatch::None => {}
            }
        }
        Ok(Resolved::New)
    }

    /// Looks for a story with the same folded title from another source within the window:
    /// the first one by id among live items (as this batch leaves them) and tombstones.
    fn find_title_match(
        &self,
        obs: &Observed,
        ctx: &BatchContext<'_>,
        window: chrono::Duration,
        plan: &BatchPlan,
    ) -> Result<TitleMatch, StoreError> {
        if obs.title_key.chars().count() < MIN_TITLE_MATCH_CHARS {
            return Ok(TitleMatch::None);
        }
        let when = obs.published.unwrap_or(ctx.now);
        let close = |published: DateTime<Utc>| (published - when).abs() <= window;
        let other_source = |sources: &[String]| !sources.iter().any(|s| s == ctx.source_id);
        for entry in self.titles.scan_prefix(prefix8(&obs.title_key)) {
            let (key, _) = entry?;
            let Some(id) = id16(key.get(8..24)) else {
                continue;
            };
            if let Some(item) = self.current(&id, plan)? {
                if item.title_key == obs.title_key
                    && other_source(&item.sources)
                    && close(item.published)
                {
                    return Ok(TitleMatch::Item(id, Box::new(item)));
                }
                continue;
            }
            if let Some(tomb) = self.tombstone(&id)? {
                if tomb.title_key.as_deref() == Some(obs.title_key.as_str())
                    && other_source(&tomb.sources)
                    && close(tomb.published)
                {
                    return Ok(TitleMatch::Tombstone);
                }
            }
        }
        Ok(TitleMatch::None)
    }

    fn label_keys_for(obs: &Observed, ctx: &BatchContext<'_>) -> (Vec<String>, Vec<String>) {
        let mut labels = vec![ctx.section_name.to_string()];
        for label in &obs.page_labels {
            if !labels.contains(label) {
                labels.push(label.clone());
            }
        }
        let mut keys: Vec<String> = Vec::new();
        for text in
            std::iter::once(ctx.section_key).chain(obs.page_labels.iter().map(String::as_str))
        {
            let key = fold_label(text);
            if !key.is_empty() && !keys.contains(&key) {
                keys.push(key);
            }
        }
        (labels, keys)
    }

    fn plan_new(&self, id: [u8; 16], obs: &Observed, ctx: &BatchContext<'_>) -> ItemWrite {
        // The normalizer already drops unbelievable times (and says why); this keeps the
        // invariant for every caller.
        let published = obs
            .published
            .filter(|t| published_is_believable(*t, ctx.now))
            .unwrap_or(ctx.now);
        let (labels, label_keys) = Self::label_keys_for(obs, ctx);
        let mut new_index_keys = vec![
            (TreeId::ByTime, index_key(None, published, &id)),
            (
                TreeId::BySource,
                index_key(Some(prefix8(ctx.source_id)), published, &id),
            ),
        ];
        for key in &label_keys {
            new_index_keys.push((
                TreeId::ByLabel,
                index_key(Some(prefix8(key)), published, &id),
            ));
        }
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
            title_entry: Some(title_entry(&obs.title_key, &id)),
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
        let same_story = item.identity == obs.identity;
        // The section that first saw the story owns its text; a cross-source title match adds
        // labels and sources but never rewrites it.
        let owner =
            same_story && item.sections.first().map(String::as_str) == Some(ctx.section_key);
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
        if item.author.is_none() && obs.author.is_some() {
            item.author = obs.author.clone();
            changed = true;
        }
        if item.image.is_none() && obs.image.is_some() {
            item.image = obs.image.clone();
            changed = true;
        }
        if !item.sources.iter().any(|s| s == ctx.source_id) {
            item.sources.push(ctx.source_id.to_string());
            new_index_keys.push((
                TreeId::BySource,
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
                    TreeId::ByLabel,
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

    /// Applies `m` as one transaction across every tree, with the item count; when `visible`
    /// (feeds change) also stamps the last change and bumps the generation. Readers in
    /// [`Store::query`] wait for it.
    fn commit(&self, m: &Mutations, now: DateTime<Utc>, visible: bool) -> Result<(), StoreError> {
        if m.ops.is_empty() && m.item_delta == 0 {
            return Ok(());
        }
        let _exclusive = self.commit_lock.write().unwrap_or_else(|e| e.into_inner());
        let result = (
            &self.items,
            &self.by_time,
            &self.by_label,
            &self.by_source,
            &self.titles,
            &self.aliases,
            &self.aliases_by_item,
            &self.tombstones,
            &self.tomb_expiry,
            &self.meta,
        )
            .transaction(
                |(
                    items,
                    by_time,
                    by_label,
                    by_source,
                    titles,
                    aliases,
                    aliases_by_item,
                    tombstones,
                    tomb_expiry,
                    meta,
                )| {
                    let trees = [
                        items,
                        by_time,
                        by_label,
                        by_source,
                        titles,
                        aliases,
                        aliases_by_item,
                        tombstones,
                        tomb_expiry,
                        meta,
                    ];
                    // Index counters move by what actually changed (an insert over an existing
                    // key or a remove of a missing one counts nothing).
                    let mut count_deltas: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
                    for (tree_id, key, value) in &m.ops {
                        let tree = trees[*tree_id as usize];
                        let previous = match value {
                            Some(value) => tree.insert(key.as_slice(), value.as_slice())?,
                            None => tree.remove(key.as_slice())?,
                        };
                        let delta = match (value, previous) {
                            (Some(_), None) => 1,
                            (None, Some(_)) => -1,
                            _ => continue,
                        };
                        if let Some(counter) = count_key(*tree_id, key) {
                            *count_deltas.entry(counter).or_default() += delta;
                        }
                    }
                    for (counter, delta) in count_deltas {
                        let current = meta
                            .get(&counter)?
                            .and_then(|raw| decode_u64(&raw))
                            .unwrap_or(0);
                        match current.saturating_add_signed(delta) {
                            0 => meta.remove(counter)?,
                            next => meta.insert(counter, &next.to_be_bytes()[..])?,
                        };
                    }
                    if m.item_delta != 0 {
                        let current = meta
                            .get(ITEM_COUNT_KEY)?
                            .and_then(|raw| decode_u64(&raw))
                            .unwrap_or(0);
                        let next = current.saturating_add_signed(m.item_delta);
                        meta.insert(ITEM_COUNT_KEY, &next.to_be_bytes()[..])?;
                    }
                    if visible {
                        meta.insert(LAST_CHANGE_KEY, &now.timestamp_millis().to_be_bytes()[..])?;
                    }
                    Ok::<(), ConflictableTransactionError<()>>(())
                },
            );
        match result {
            Ok(()) => {
                if visible {
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                Ok(())
            }
            Err(TransactionError::Storage(e)) => Err(StoreError::Io(e)),
            Err(TransactionError::Abort(())) => Err(StoreError::Corrupt {
                tree: "items",
                message: "transaction aborted".into(),
            }),
        }
    }

    /// Deletes what `retention` no longer keeps as of `now`, leaving tombstones, and forgets
    /// expired tombstones; flushes when it changed anything. Safe to run while polls write: it
    /// works in transactions of at most 256 items, re-reading each item under the writer lock.
    pub fn sweep(
        &self,
        retention: &Retention,
        now: DateTime<Utc>,
    ) -> Result<SweepReport, StoreError> {
        let _sweeping = self.sweeping.lock().unwrap_or_else(|e| e.into_inner());
        let mut report = SweepReport::default();
        let mut sources: BTreeSet<String> = retention.sources.keys().cloned().collect();
        for entry in self.meta.scan_prefix(SOURCE_KEY_PREFIX).keys() {
            let key = entry?;
            if let Some(id) = key.get(SOURCE_KEY_PREFIX.len()..) {
                sources.insert(String::from_utf8_lossy(id).into_owned());
            }
        }
        // Stories the configured sections' latest successful polls listed: never aged out.
        let mut listed: HashSet<[u8; 16]> = HashSet::new();
        for section in &retention.sections {
            if let Some(ids) = self.meta.get(listed_key(section))? {
                listed.extend(ids.chunks_exact(16).filter_map(|id| id16(Some(id))));
            }
        }
        // Candidates: items that at least one of their sources would drop.
        let mut candidates: BTreeSet<[u8; 16]> = BTreeSet::new();
        let mut beyond_rank: HashMap<&str, HashSet<[u8; 16]>> = HashMap::new();
        for source in &sources {
            let policy = retention.policy(source);
            let prefix = prefix8(source);
            if let Some(keep) = policy.keep_items {
                let dropped = beyond_rank.entry(source.as_str()).or_default();
                for key in self.by_source.scan_prefix(prefix).keys().skip(keep) {
                    if let Some(id) = id16(key?.get(16..32)) {
                        dropped.insert(id);
                        candidates.insert(id);
                    }
                }
            }
            if let Some(days) = policy.keep_days {
                // Age counts from first-seen, but the index is ordered by published time, which
                // is never later than first-seen plus the tolerance: every item first seen
                // before the cutoff was published before cutoff + tolerance.
                let cutoff = age_cutoff(now, days)
                    .checked_add_signed(PUBLISHED_TOLERANCE)
                    .unwrap_or(now);
                let start = index_key(Some(prefix), cutoff, &[0xff; 16]);
                let older = self
                    .by_source
                    .range::<&[u8], _>((Bound::Excluded(start.as_slice()), Bound::Unbounded));
                for key in older.keys() {
                    let key = key?;
                    if !key.starts_with(&prefix) {
                        break;
                    }
                    if let Some(id) = id16(key.get(16..32)) {
                        if !listed.contains(&id) {
                            candidates.insert(id);
                        }
                    }
                }
            }
        }
        // Why a source drops an item: first stored before its cutoff and no longer listed, or
        // beyond its newest `keep_items`. A source that gained the item after the scan above
        // keeps it (the next sweep decides).
        let drops = |source: &str, id: &[u8; 16], item: &Item| {
            let policy = retention.policy(source);
            let too_old = policy
                .keep_days
                .is_some_and(|days| item.first_seen < age_cutoff(now, days))
                && !listed.contains(id);
            let beyond = policy.keep_items.is_some()
                && beyond_rank.get(source).is_some_and(|s| s.contains(id));
            too_old || beyond
        };
        report.listed = listed.len();
        let candidates: Vec<[u8; 16]> = candidates.into_iter().collect();
        for chunk in candidates.chunks(SWEEP_CHUNK) {
            let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let mut m = Mutations::default();
            for id in chunk {
                let Some(item) = self.load(id)? else {
                    continue;
                };
                let dropping = item.sources.iter().filter(|s| drops(s, id, &item)).count();
                if dropping == 0 {
                    continue; // published long ago, but first stored recently
                }
                if dropping < item.sources.len() {
                    report.kept_shared += 1;
                    continue;
                }
                let days = item
                    .sources
                    .iter()
                    .map(|s| retention.policy(s).tombstone_days())
                    .max()
                    .unwrap_or(DEFAULT_KEEP_DAYS);
                let expires = now
                    .checked_add_signed(chrono::Duration::days(i64::from(days)))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                self.plan_delete(&mut m, id, &item, now, expires)?;
                report.deleted.push(item.id);
            }
            self.commit(&m, now, true)?;
        }
        report.purged = self.purge_tombstones(now)?;
        // Forget sources that are no longer configured and own nothing.
        {
            let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            for source in &sources {
                if !retention.sources.contains_key(source)
                    && self.by_source.scan_prefix(prefix8(source)).next().is_none()
                {
                    self.meta.remove(source_key(source))?;
                }
            }
        }
        if !report.deleted.is_empty() || report.purged > 0 {
            self.db.flush()?;
        }
        Ok(report)
    }

    /// Plans the deletion of one item: every index entry, its aliases, and tombstones for it and
    /// for each alias. Its `titles` entry stays and now names the tombstone.
    fn plan_delete(
        &self,
        m: &mut Mutations,
        id: &[u8; 16],
        item: &Item,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        m.del(TreeId::Items, id.to_vec());
        m.item_delta -= 1;
        for (tree, key) in index_entries(item, id) {
            m.del(tree, key);
        }
        let mut tomb = Tombstone {
            deleted: now,
            expires,
            published: item.published,
            sources: item.sources.clone(),
            title_key: Some(item.title_key.clone()),
            alias_of: None,
        };
        self.plan_tombstone(m, id, &tomb)?;
        tomb.title_key = None;
        tomb.alias_of = Some(item.id.clone());
        for key in self.aliases_by_item.scan_prefix(id).keys() {
            let key = key?;
            let Some(alias) = id16(key.get(16..32)) else {
                continue;
            };
            m.del(TreeId::AliasesByItem, key.to_vec());
            m.del(TreeId::Aliases, alias.to_vec());
            self.plan_tombstone(m, &alias, &tomb)?;
        }
        Ok(())
    }

    fn plan_tombstone(
        &self,
        m: &mut Mutations,
        id: &[u8; 16],
        tomb: &Tombstone,
    ) -> Result<(), StoreError> {
        if let Some(old) = self.tombstone(id)? {
            m.del(TreeId::TombExpiry, expiry_key(old.expires, id));
        }
        m.put(TreeId::Tombstones, id.to_vec(), encode(tomb));
        m.put(TreeId::TombExpiry, expiry_key(tomb.expires, id), Vec::new());
        Ok(())
    }

    /// Forgets tombstones that expired at or before `now`, with their `titles` entries.
    fn purge_tombstones(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let end = expiry_key(now, &[0xff; 16]);
        let mut purged = 0;
        loop {
            let due: Vec<sled::IVec> = self
                .tomb_expiry
                .range::<&[u8], _>(..=end.as_slice())
                .keys()
                .take(SWEEP_CHUNK)
                .collect::<Result<_, _>>()?;
            if due.is_empty() {
                return Ok(purged);
            }
            let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let mut m = Mutations::default();
            for key in &due {
                m.del(TreeId::TombExpiry, key.to_vec());
                let Some(id) = id16(key.get(8..24)) else {
                    continue;
                };
                if let Some(tomb) = self.tombstone(&id)? {
                    m.del(TreeId::Tombstones, id.to_vec());
                    if let Some(title_key) = &tomb.title_key {
                        m.del(TreeId::Titles, title_entry(title_key, &id));
                    }
                    purged += 1;
                }
            }
            // Forgetting tombstones changes no feed: no new generation or Last-Modified.
            self.commit(&m, now, false)?;
        }
    }
    /// Runs a feed query: newest first, filtered, at most `limit` items; `keep` is an extra
    /// predicate (keywords) applied while scanning so the scan still stops at `limit`. The
    /// whole scan sees one committed state (commits wait for it), so `keep` must not call
    /// back into the store.
    pub fn query(
        &self,
        query: &Query,
        keep: &dyn Fn(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let limit = query.limit.max(1);
        // Held for the whole scan so a commit lands entirely before or after it.
        let _shared = self.commit_lock.read().unwrap_or_else(|e| e.into_inner());
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
        let mut examined = 0usize;
        loop {
            if let Some(deadline) = query.deadline {
                // Reading the clock costs ~20 ns; every 64 entries keeps it out of the profile.
                if examined % 64 == 0 && std::time::Instant::now() >= deadline {
                    return Err(StoreError::OverBudget { examined });
                }
            }
            examined += 1;
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

    /// Tombstone and alias counts, on-disk size and layout, for `store stats`.
    pub fn extra_stats(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(vec![
            ("tombstones".into(), self.tombstones.len().to_string()),
            ("aliases".into(), self.aliases.len().to_string()),
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

    /// Checks every index, alias, tombstone and counter against the items (and the items
    /// against them); returns one line per mismatch (empty: consistent).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let _shared = self.commit_lock.read().unwrap_or_else(|e| e.into_inner());
        let mut problems = Vec::new();
        let mut expected: BTreeSet<(usize, Vec<u8>)> = BTreeSet::new();
        let mut titles_expected: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut item_ids: HashSet<[u8; 16]> = HashSet::new();
        let mut item_sources: BTreeSet<String> = BTreeSet::new();
        let mut identities: HashMap<String, [u8; 16]> = HashMap::new();
        for entry in self.items.iter() {
            let (key, bytes) = entry?;
            let item = match decode_item(&bytes) {
                Ok(item) => item,
                Err(e) => {
                    problems.push(format!("item {}: {e}", hex(&key)));
                    continue;
                }
            };
            let Some(id) = id16(Some(key.as_ref())) else {
                problems.push(format!("item key {} is not 16 bytes", hex(&key)));
                continue;
            };
            item_ids.insert(id);
            if item.id != hex(&id) {
                problems.push(format!("item {} records id {}", hex(&id), item.id));
            }
            if item_id(&item.identity) != id {
                problems.push(format!(
                    "item {}: identity `{}` hashes to another id",
                    hex(&id),
                    item.identity
                ));
            }
            if let Some(other) = identities.insert(item.identity.clone(), id) {
                problems.push(format!(
                    "items {} and {} share identity `{}`",
                    hex(&other),
                    hex(&id),
                    item.identity
                ));
            }
            if !published_is_believable(item.published, item.first_seen) {
                problems.push(format!(
                    "item {}: published {} is not believable for first-seen {}",
                    hex(&id),
                    item.published,
                    item.first_seen
                ));
            }
            expected.insert((0, index_key(None, item.published, &id)));
            for l in &item.label_keys {
                expected.insert((1, index_key(Some(prefix8(l)), item.published, &id)));
            }
            for s in &item.sources {
                expected.insert((2, index_key(Some(prefix8(s)), item.published, &id)));
                item_sources.insert(s.clone());
            }
            titles_expected.insert(title_entry(&item.title_key, &id));
        }
        let names = ["by_time", "by_label", "by_source"];
        let ids = [TreeId::ByTime, TreeId::ByLabel, TreeId::BySource];
        let mut counted: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for (n, tree) in [&self.by_time, &self.by_label, &self.by_source]
            .into_iter()
            .enumerate()
        {
            for entry in tree.iter() {
                let (key, _) = entry?;
                if let Some(counter) = count_key(ids[n], &key) {
                    *counted.entry(counter).or_default() += 1;
                }
                if !expected.remove(&(n, key.to_vec())) {
                    problems.push(format!(
                        "{}: entry {} points at no matching item",
                        names[n],
                        hex(&key)
                    ));
                }
            }
        }
        for (tree, key) in &expected {
            problems.push(format!(
                "{}: missing entry {} for a stored item",
                names[*tree],
                hex(key)
            ));
        }
        // Tombstones: each decodes, is no live item, and has exactly its expiry entry (and, for
        // a deleted item, its `titles` entry).
        let mut expiry_expected: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut tomb_titles: BTreeSet<Vec<u8>> = BTreeSet::new();
        for entry in self.tombstones.iter() {
            let (key, bytes) = entry?;
            let Some(id) = id16(Some(key.as_ref())) else {
                problems.push(format!("tombstone key {} is not 16 bytes", hex(&key)));
                continue;
            };
            let tomb = match decode_tombstone(&bytes) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("tombstone {}: {e}", hex(&id)));
                    continue;
                }
            };
            if item_ids.contains(&id) {
                problems.push(format!("{} is both an item and a tombstone", hex(&id)));
            }
            expiry_expected.insert(expiry_key(tomb.expires, &id));
            if let Some(title_key) = &tomb.title_key {
                tomb_titles.insert(title_entry(title_key, &id));
            }
        }
        reconcile_keys(
            &self.tomb_expiry,
            "tomb_expiry",
            "matches no tombstone",
            expiry_expected,
            &mut problems,
        )?;
        for entry in self.titles.iter() {
            let (key, _) = entry?;
            if !titles_expected.remove(key.as_ref()) && !tomb_titles.remove(key.as_ref()) {
                problems.push(format!(
                    "titles: entry {} points at no matching item or tombstone",
                    hex(&key)
                ));
            }
        }
        for key in titles_expected.into_iter().chain(tomb_titles) {
            problems.push(format!("titles: missing entry {}", hex(&key)));
        }
        // Aliases: each leads to a live item, is not an item itself, and is mirrored exactly.
        let mut reverse_expected: BTreeSet<Vec<u8>> = BTreeSet::new();
        for entry in self.aliases.iter() {
            let (key, value) = entry?;
            let (Some(alias), Some(target)) =
                (id16(Some(key.as_ref())), id16(Some(value.as_ref())))
            else {
                problems.push(format!("aliases: malformed entry {}", hex(&key)));
                continue;
            };
            if !item_ids.contains(&target) {
                problems.push(format!(
                    "aliases: {} points at missing item {}",
                    hex(&alias),
                    hex(&target)
                ));
            }
            if item_ids.contains(&alias) {
                problems.push(format!("aliases: {} is also an item", hex(&alias)));
            }
            reverse_expected.insert(pair_key(&target, &alias));
        }
        reconcile_keys(
            &self.aliases_by_item,
            "aliases_by_item",
            "matches no alias",
            reverse_expected,
            &mut problems,
        )?;
        // Index counters: one per prefix in use, equal to its entries.
        for entry in self.meta.scan_prefix(COUNT_KEY_PREFIX) {
            let (key, raw) = entry?;
            let stored = decode_u64(&raw);
            let actual = counted.remove(key.as_ref());
            if stored != actual {
                problems.push(format!(
                    "meta: counter {} says {stored:?} but the index holds {actual:?}",
                    hex(&key)
                ));
            }
        }
        for (key, actual) in counted {
            problems.push(format!(
                "meta: no counter {} for {actual} index entries",
                hex(&key)
            ));
        }
        for entry in self.meta.scan_prefix(LISTED_KEY_PREFIX) {
            let (key, ids) = entry?;
            if ids.len() % 16 != 0 {
                problems.push(format!(
                    "meta: listing {} is {} bytes, not a whole number of ids",
                    String::from_utf8_lossy(&key),
                    ids.len()
                ));
            }
        }
        // Counters and the source registry.
        let counted = self
            .meta
            .get(ITEM_COUNT_KEY)?
            .and_then(|raw| decode_u64(&raw));
        if counted != Some(item_ids.len() as u64) {
            problems.push(format!(
                "meta: item count {counted:?} but {} items stored",
                item_ids.len()
            ));
        }
        for source in item_sources {
            if !self.meta.contains_key(source_key(&source))? {
                problems.push(format!("meta: source `{source}` is not registered"));
            }
        }
        Ok(problems)
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
        for (tree, entry) in index_entries(&item, &key) {
            m.del(tree, entry);
        }
        item.published = published;
        for (tree, entry) in index_entries(&item, &key) {
            m.put(tree, entry, Vec::new());
        }
        m.put(
            TreeId::Titles,
            title_entry(&item.title_key, &key),
            published.timestamp_millis().to_be_bytes().to_vec(),
        );
        m.put(TreeId::Items, key.to_vec(), encode(&item));
        self.commit(&m, published, false)?;
        Ok(true)
    }

    /// Test support for upgrade tests: marks the store as written by layout `version` (e.g.
    /// `headwire-store/3`), so the next open runs that version's upgrade.
    #[doc(hidden)]
    pub fn debug_set_layout(&self, version: &str) -> Result<(), StoreError> {
        self.meta.insert(SCHEMA_KEY, version.as_bytes())?;
        self.db.flush()?;
        Ok(())
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

    /// Test support: removes the `by_time` entry of the item with this hex id outside any
    /// transaction, to prove that `verify` notices. Returns whether an entry was removed.
    #[doc(hidden)]
    pub fn debug_remove_index_entry(&self, id: &str) -> Result<bool, StoreError> {
        let Some(key) = unhex(id) else {
            return Ok(false);
        };
        let Some(item) = self.load(&key)? else {
            return Ok(false);
        };
        let removed = self
            .by_time
            .remove(index_key(None, item.published, &key))?
            .is_some();
        self.db.flush()?;
        Ok(removed)
    }
}

/// Counts keyed by name, sorted.
pub type BTreeSetCounts = BTreeMap<String, usize>;

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
        renamed.title_key = crate::normalize::text::title_key(&renamed.title);
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
            // And what an older parser let through: a published time before 1990.
            let kept = item_id("link:kept");
            let mut bad = store.load(&kept).unwrap().unwrap();
            for (tree, key) in index_entries(&bad, &kept) {
                m.del(tree, key);
            }
            bad.published = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap();
            for (tree, key) in index_entries(&bad, &kept) {
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
            problems[0].starts_with("by_time: missing entry"),
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
}
