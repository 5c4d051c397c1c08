//! The store's on-disk layout: tree keys (newest-first times, 8-byte prefixes, ids), the records
//! kept under them and their encodings, and the batch of writes one transaction applies.

use super::*;

/// The layout version this code reads and writes.
pub const SCHEMA_VERSION: &str = "headwire-store/6";
/// The layout whose `items` tree was keyed by id (records scattered over the whole tree),
/// migrated in place on open into the clustered `stories` tree.
pub(super) const SCHEMA_V5: &str = "headwire-store/5";
/// The layout with JSON item records, migrated in place on open.
pub(super) const SCHEMA_V4: &str = "headwire-store/4";
/// The layout before retention counted age from first-seen.
pub(super) const SCHEMA_V3: &str = "headwire-store/3";
/// The layout before index counters, migrated in place on open.
pub(super) const SCHEMA_V2: &str = "headwire-store/2";
/// The first layout, migrated in place on open (it had no aliases, tombstones or counters).
pub(super) const SCHEMA_V1: &str = "headwire-store/1";
pub(super) const SCHEMA_KEY: &[u8] = b"schema";
pub(super) const LAST_CHANGE_KEY: &[u8] = b"last_change";
pub(super) const ITEM_COUNT_KEY: &[u8] = b"item_count";
pub(super) const SOURCE_KEY_PREFIX: &[u8] = b"source/";
/// Prefix of the per-prefix index counters in `meta` (see the module doc).
pub(super) const COUNT_KEY_PREFIX: &[u8] = b"count/";
/// `meta` counter of the `content` tree's entries.
pub(super) const TEXT_COUNT_KEY: &[u8] = b"count/text";
/// `meta` counter of the `text_state` tree's entries.
pub(super) const FAILED_COUNT_KEY: &[u8] = b"count/fail";
/// `meta` prefix of the named secrets ([`Store::secret`]).
pub(super) const SECRET_KEY_PREFIX: &[u8] = b"secret/";
/// `meta` prefix of each section's latest listing: `listed/` + `source/section` key → the 16-byte
/// ids the section's latest successful poll listed, concatenated (retention never ages them out).
pub(super) const LISTED_KEY_PREFIX: &[u8] = b"listed/";
/// Items deleted per sweep transaction (bounds how long a sweep holds the writer lock).
pub(super) const SWEEP_CHUNK: usize = 256;
/// Folded titles shorter than this never merge across sources (too likely to collide).
pub(super) const MIN_TITLE_MATCH_CHARS: usize = 4;

/// Retention when a source sets neither `keep_days` nor `keep_items`, and the tombstone window
/// for sources without `keep_days`.
pub const DEFAULT_KEEP_DAYS: u32 = 30;

/// Maps a time to 8 bytes that sort newest-first.
pub(super) fn inverted_time(t: DateTime<Utc>) -> [u8; 8] {
    (u64::MAX - ordered_millis(t)).to_be_bytes()
}

/// Maps a time to a u64 that sorts like the time (oldest first).
pub(super) fn ordered_millis(t: DateTime<Utc>) -> u64 {
    (t.timestamp_millis() as u64) ^ (1u64 << 63)
}

pub(super) fn time_from_inverted(bytes: &[u8]) -> Option<DateTime<Utc>> {
    let raw: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    let ordered = u64::MAX - u64::from_be_bytes(raw);
    let ms = (ordered ^ (1u64 << 63)) as i64;
    Utc.timestamp_millis_opt(ms).single()
}

/// The 16-byte item id for an identity key.
pub fn item_id(identity: &str) -> [u8; 16] {
    xxh3_128(identity.as_bytes()).to_be_bytes()
}

/// Lower-case hex of `bytes` (every decoded item's id: one allocation, no formatting).
pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

pub(super) fn unhex(text: &str) -> Option<[u8; 16]> {
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

pub(super) fn id16(bytes: Option<&[u8]>) -> Option<[u8; 16]> {
    bytes.and_then(|b| <[u8; 16]>::try_from(b).ok())
}

pub(super) fn prefix8(text: &str) -> [u8; 8] {
    xxh3_64(text.as_bytes()).to_be_bytes()
}

pub(super) fn index_key(
    prefix: Option<[u8; 8]>,
    published: DateTime<Utc>,
    id: &[u8; 16],
) -> Vec<u8> {
    let mut key = Vec::with_capacity(32);
    if let Some(p) = prefix {
        key.extend_from_slice(&p);
    }
    key.extend_from_slice(&inverted_time(published));
    key.extend_from_slice(id);
    key
}

/// The cluster an item's record lives in: the 8-byte hash of its home label key, the folded
/// key of the section that first saw it (`sections[0]`, which never changes). A feed of that
/// section reads its records in one prefix scan of `stories`.
pub(super) fn home_prefix(item: &Item) -> [u8; 8] {
    home_prefix_of(item.sections.first().map_or("", String::as_str))
}

/// [`home_prefix`] for a story first seen under `section_key`.
pub(super) fn home_prefix_of(section_key: &str) -> [u8; 8] {
    prefix8(&fold_label(section_key))
}

/// The `stories` key of an item: home prefix + inverted published time + id.
pub(super) fn story_key(home: [u8; 8], published: DateTime<Utc>, id: &[u8; 16]) -> Vec<u8> {
    index_key(Some(home), published, id)
}

/// The `locations` value of an item: home prefix + inverted published time (16 bytes), the
/// first half of its `stories` key.
pub(super) fn location_value(home: [u8; 8], published: DateTime<Utc>) -> Vec<u8> {
    let mut value = home.to_vec();
    value.extend_from_slice(&inverted_time(published));
    value
}

/// The `stories` key a `locations` value names for `id`; `None` when the value is not 16 bytes.
pub(super) fn story_key_at(location: &[u8], id: &[u8; 16]) -> Option<Vec<u8>> {
    if location.len() != 16 {
        return None;
    }
    let mut key = location.to_vec();
    key.extend_from_slice(id);
    Some(key)
}

/// A `by_time` value: the item's home prefix, then its folded search text.
pub(super) fn by_time_value(home: [u8; 8], search_text: &str) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + search_text.len());
    value.extend_from_slice(&home);
    value.extend_from_slice(search_text.as_bytes());
    value
}

/// One packed index entry of an item: the chunked tree, the group (empty for the merged time
/// index, else the 8-byte hash of a label key or source id) and the entry's suffix.
pub(super) type IndexEntry = (TreeId, Vec<u8>, Suffix);

/// The suffix of an item's index entries: inverted published time + id.
pub(super) fn suffix_of(published: DateTime<Utc>, id: &[u8; 16]) -> Suffix {
    let mut suffix = [0u8; SUFFIX_LEN];
    suffix[..8].copy_from_slice(&inverted_time(published));
    suffix[8..].copy_from_slice(id);
    suffix
}

/// Every packed index entry of `item` (the merged time index, each source, each label key other
/// than its home, whose feed reads `stories` directly). The time entry's payload is the home
/// prefix and the search text, the others' the home prefix, so a scan finds each record without
/// a `locations` read.
pub(super) fn index_entries(item: &Item, id: &[u8; 16]) -> Vec<IndexEntry> {
    let home = home_prefix(item);
    let suffix = suffix_of(item.published, id);
    let mut entries = vec![(TreeId::TimeIndex, Vec::new(), suffix)];
    for source in &item.sources {
        entries.push((TreeId::SourceIndex, prefix8(source).to_vec(), suffix));
    }
    for key in &item.label_keys {
        let prefix = prefix8(key);
        if prefix != home {
            entries.push((TreeId::LabelIndex, prefix.to_vec(), suffix));
        }
    }
    entries
}

/// [`index_entries`] with the payload each carries: the home prefix, and for the time index
/// also `search_text` (the item's folded text).
pub(super) fn index_entries_with_payloads(
    item: &Item,
    id: &[u8; 16],
    search_text: &str,
) -> Vec<(IndexEntry, Vec<u8>)> {
    let home = home_prefix(item);
    index_entries(item, id)
        .into_iter()
        .map(|entry| {
            let payload = if entry.0 == TreeId::TimeIndex {
                by_time_value(home, search_text)
            } else {
                home.to_vec()
            };
            (entry, payload)
        })
        .collect()
}

/// The chunk size limits of a packed index tree: the time index carries search texts, so its
/// chunks hold fewer entries.
pub(super) fn chunk_caps(tree: TreeId) -> ChunkCaps {
    match tree {
        TreeId::TimeIndex => ChunkCaps {
            max_entries: 16,
            max_bytes: 4 * 1024,
        },
        _ => ChunkCaps {
            max_entries: 64,
            max_bytes: 4 * 1024,
        },
    }
}

/// The `meta` counter of a packed index group (labels and sources; the time index has none).
pub(super) fn group_count_key(tree: TreeId, group: &[u8]) -> Option<Vec<u8>> {
    let tag = match tree {
        TreeId::LabelIndex => b'l',
        TreeId::SourceIndex => b's',
        _ => return None,
    };
    let mut key = COUNT_KEY_PREFIX.to_vec();
    key.push(tag);
    key.extend_from_slice(group.get(..8)?);
    Some(key)
}

/// The index entries layouts 1–5 kept for `item`, one key each in `by_time`, `by_source` and
/// `by_label` (every label key, empty values), for the upgrades that still run on those layouts.
pub(super) fn legacy_index_entries(item: &Item, id: &[u8; 16]) -> Vec<(TreeId, Vec<u8>)> {
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

/// Published times before this are not believed: the time parser's own bound, so the store
/// holds exactly what the normaliser believes.
pub const EARLIEST_PUBLISHED: DateTime<Utc> = crate::normalize::time::EARLIEST_BELIEVABLE;

/// How far after first-seen a published time may lie: the time parser's future tolerance.
pub const PUBLISHED_TOLERANCE: chrono::TimeDelta = crate::normalize::time::FUTURE_TOLERANCE;

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

pub(super) fn title_entry(title_key: &str, id: &[u8; 16]) -> Vec<u8> {
    let mut key = prefix8(title_key).to_vec();
    key.extend_from_slice(id);
    key
}

pub(super) fn pair_key(first: &[u8; 16], second: &[u8; 16]) -> Vec<u8> {
    let mut key = first.to_vec();
    key.extend_from_slice(second);
    key
}

pub(super) fn expiry_key(expires: DateTime<Utc>, id: &[u8; 16]) -> Vec<u8> {
    let mut key = ordered_millis(expires).to_be_bytes().to_vec();
    key.extend_from_slice(id);
    key
}

/// The `meta` key counting the entries of an index tree under one 8-byte prefix; `None` for
/// trees without counters.
pub(super) fn count_key(tree: TreeId, prefix: &[u8]) -> Option<Vec<u8>> {
    let tag = match tree {
        // A label's count covers its home stories and the items indexed under it elsewhere.
        TreeId::ByLabel | TreeId::Stories => b'l',
        TreeId::BySource => b's',
        // One counter for the whole tree: stories with text, stories with a failed fetch.
        TreeId::Content => return Some(TEXT_COUNT_KEY.to_vec()),
        TreeId::TextState => return Some(FAILED_COUNT_KEY.to_vec()),
        _ => return None,
    };
    let mut key = COUNT_KEY_PREFIX.to_vec();
    key.push(tag);
    key.extend_from_slice(prefix.get(..8)?);
    Some(key)
}

pub(super) fn listed_key(section_key: &str) -> Vec<u8> {
    let mut key = LISTED_KEY_PREFIX.to_vec();
    key.extend_from_slice(section_key.as_bytes());
    key
}

pub(super) fn source_key(source: &str) -> Vec<u8> {
    let mut key = SOURCE_KEY_PREFIX.to_vec();
    key.extend_from_slice(source.as_bytes());
    key
}

pub(super) fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

pub(super) fn decode_tombstone(bytes: &[u8]) -> Result<Tombstone, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: "tombstones",
        message: e.to_string(),
    })
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).unwrap_or_default()
}

/// The trees a transaction writes, in the order [`Store::commit`] opens them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TreeId {
    /// Layouts 1–5's id-keyed records (only the upgrades write it).
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
    Content,
    TextState,
    Stories,
    Locations,
    TimeIndex,
    LabelIndex,
    SourceIndex,
}

impl TreeId {
    /// Every tree, in the order of the discriminants (a commit's transaction opens them so).
    pub(super) const ALL: [TreeId; 17] = [
        TreeId::Items,
        TreeId::ByTime,
        TreeId::ByLabel,
        TreeId::BySource,
        TreeId::Titles,
        TreeId::Aliases,
        TreeId::AliasesByItem,
        TreeId::Tombstones,
        TreeId::TombExpiry,
        TreeId::Meta,
        TreeId::Content,
        TreeId::TextState,
        TreeId::Stories,
        TreeId::Locations,
        TreeId::TimeIndex,
        TreeId::LabelIndex,
        TreeId::SourceIndex,
    ];
}

impl TreeId {
    /// The sled tree's name (for error messages).
    pub(super) fn name(self) -> &'static str {
        match self {
            TreeId::Items => "items",
            TreeId::ByTime => "by_time",
            TreeId::ByLabel => "by_label",
            TreeId::BySource => "by_source",
            TreeId::Titles => "titles",
            TreeId::Aliases => "aliases",
            TreeId::AliasesByItem => "aliases_by_item",
            TreeId::Tombstones => "tombstones",
            TreeId::TombExpiry => "tomb_expiry",
            TreeId::Meta => "meta",
            TreeId::Content => "content",
            TreeId::TextState => "text_state",
            TreeId::Stories => "stories",
            TreeId::Locations => "locations",
            TreeId::TimeIndex => "time_index",
            TreeId::LabelIndex => "label_index",
            TreeId::SourceIndex => "source_index",
        }
    }
}

/// Writes to apply as one transaction, plus the change in item count.
#[derive(Default)]
pub(super) struct Mutations {
    pub(super) ops: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>,
    pub(super) item_delta: i64,
    /// Feed keys whose feeds this transaction changes beyond its index writes (an item whose
    /// text changed is in every feed of its labels and sources).
    pub(super) touched: BTreeSet<FeedKey>,
    /// Changes to packed index groups, turned into chunk writes by [`Store::commit`] (which
    /// reads the chunks they land in; callers hold the writer lock).
    pub(super) index: BTreeMap<(TreeId, Vec<u8>), IndexChange>,
}

/// The entries one commit adds to (or replaces in) and removes from one packed index group.
#[derive(Default)]
pub(super) struct IndexChange {
    pub(super) adds: Vec<Entry>,
    pub(super) removes: Vec<Suffix>,
}

/// What a feed's contents depend on: one label key or one source id, as its 8-byte index prefix
/// tagged by tree. A commit moves the generation of every key it touched.
pub(super) type FeedKey = (u8, [u8; 8]);

/// The feed key of an index entry (`by_label` / `by_source` key), if it is one.
pub(super) fn feed_key_of(tree: TreeId, key: &[u8]) -> Option<FeedKey> {
    let tag = match tree {
        TreeId::ByLabel | TreeId::Stories | TreeId::LabelIndex => b'l',
        TreeId::BySource | TreeId::SourceIndex => b's',
        _ => return None,
    };
    let prefix: [u8; 8] = key.get(..8)?.try_into().ok()?;
    Some((tag, prefix))
}

impl Mutations {
    /// Marks every feed `item` appears in as changed.
    pub(super) fn touch_item(&mut self, item: &Item) {
        for key in &item.label_keys {
            self.touched.insert((b'l', prefix8(key)));
        }
        for source in &item.sources {
            self.touched.insert((b's', prefix8(source)));
        }
    }

    /// Adds (or replaces the payload of) one packed index entry.
    pub(super) fn index_put(&mut self, entry: IndexEntry, payload: Vec<u8>) {
        let (tree, group, suffix) = entry;
        let change = self.index.entry((tree, group)).or_default();
        change.adds.push(Entry { suffix, payload });
    }

    /// Removes one packed index entry.
    pub(super) fn index_del(&mut self, entry: IndexEntry) {
        let (tree, group, suffix) = entry;
        self.index
            .entry((tree, group))
            .or_default()
            .removes
            .push(suffix);
    }

    pub(super) fn put(&mut self, tree: TreeId, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((tree, key, Some(value)));
    }

    pub(super) fn del(&mut self, tree: TreeId, key: Vec<u8>) {
        self.ops.push((tree, key, None));
    }
}

/// What a deleted item (or an identity merged into it) leaves behind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct Tombstone {
    /// When the sweep deleted it.
    pub(super) deleted: DateTime<Utc>,
    /// When the tombstone is forgotten.
    pub(super) expires: DateTime<Utc>,
    /// The deleted item's published time (title matches use the same window as live items).
    pub(super) published: DateTime<Utc>,
    /// Sources the item had been seen in.
    pub(super) sources: Vec<String>,
    /// The deleted item's folded title (its `titles` entry stays until expiry); `None` for an
    /// alias.
    pub(super) title_key: Option<String>,
    /// For an alias: hex id of the item it had been merged into.
    pub(super) alias_of: Option<String>,
}

/// The 16-byte id a key names (all zeros when it is not 16 bytes long: such a key is what
/// `store verify` reports, and decoding under it still never panics).
pub(super) fn id_of(key: &[u8]) -> [u8; 16] {
    id16(Some(key)).unwrap_or([0; 16])
}
