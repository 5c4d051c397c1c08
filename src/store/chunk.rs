//! Packed index chunks: the entries of one index group (a byte prefix, e.g. a tag byte and the
//! 8-byte hash of a label) packed into multi-entry values, so an index costs sled about one key
//! per chunk instead of one per entry (sled 0.34's memory follows its key count).
//!
//! ```text
//! key    = group suffix-of-the-chunk's-last-entry      (the chunk's bound)
//! value  = 0x01 (suffix:24 len:varint payload:len)*    entries ascending by suffix
//! suffix = inverted time:8 (big-endian, newest first) id:16
//! ```
//! The chunks of a group partition its entries: the chunk under bound `B` holds exactly the
//! entries with previous bound < suffix <= `B`, so the chunk that holds (or would hold) suffix `s`
//! is the first key >= `group ++ s` under the group; when there is none, `s` is older than every
//! entry. Suffixes are unique within a group. A chunk holds at most [`ChunkCaps::max_entries`]
//! entries and at most [`ChunkCaps::max_bytes`] encoded bytes (a single larger entry sits alone).
//!
//! A key under the group's prefix whose length is not the group's length + 24 belongs to another
//! group (a longer group whose bytes start with this one) and is skipped, so groups of different
//! lengths can share a tree without seeing each other's chunks.
//!
//! [`plan_group`] only reads: it returns the deletes and puts of one change to one group, which
//! the caller writes in its own transaction (under the writer mutex, so the read is current).
//! [`scan_group`] reads a group newest first, one chunk at a time. Decoding is total: any byte
//! string gives entries or [`StoreError::Corrupt`].

use super::*;

/// First byte of a chunk value.
pub(super) const CHUNK_V1: u8 = 0x01;

/// Length of an entry's suffix: 8-byte inverted time + 16-byte item id.
pub(super) const SUFFIX_LEN: usize = 24;

/// An entry's sort key within its group: inverted time (newest first) + item id.
pub(super) type Suffix = [u8; SUFFIX_LEN];

/// One index entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// Inverted time + item id; entries sort by it, ascending (newest first).
    pub(super) suffix: Suffix,
    /// What the entry carries (may be empty; `by_time` keeps the folded search text here).
    pub(super) payload: Vec<u8>,
}

/// The size limits of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChunkCaps {
    /// Most entries a chunk holds (0 is read as 1).
    pub(super) max_entries: usize,
    /// Most encoded bytes a chunk value takes, version byte included, unless it holds a single
    /// entry that alone is larger.
    pub(super) max_bytes: usize,
}

/// The writes one change to one group needs, and what it changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct GroupPlan {
    /// Chunk keys to delete.
    pub(super) deletes: Vec<Vec<u8>>,
    /// Chunk keys and values to write (no key is also in `deletes`).
    pub(super) puts: Vec<(Vec<u8>, Vec<u8>)>,
    /// Entries the change added that did not exist before (a replaced payload is not counted).
    pub(super) added: usize,
    /// Entries that existed and were removed.
    pub(super) removed: usize,
    /// Whether there is anything to write.
    pub(super) changed: bool,
}

/// The bytes one entry adds to a chunk value.
fn encoded_len(entry: &Entry) -> usize {
    SUFFIX_LEN + varint::len(entry.payload.len() as u64) + entry.payload.len()
}

/// Encodes entries as one chunk value (in the order given; chunks keep them ascending).
pub(super) fn encode_chunk(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + entries.iter().map(encoded_len).sum::<usize>());
    out.push(CHUNK_V1);
    for entry in entries {
        out.extend_from_slice(&entry.suffix);
        varint::put(&mut out, entry.payload.len() as u64);
        out.extend_from_slice(&entry.payload);
    }
    out
}

/// A cursor over chunk bytes; every read checks its bounds.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    /// The next byte.
    fn byte(&mut self) -> Result<u8, &'static str> {
        let (&first, rest) = self.bytes.split_first().ok_or("chunk ends early")?;
        self.bytes = rest;
        Ok(first)
    }

    /// The next LEB128 varint.
    fn varint(&mut self) -> Result<u64, &'static str> {
        varint::take(&mut self.bytes)
    }

    /// The next `len` bytes.
    fn take(&mut self, len: usize) -> Result<&[u8], &'static str> {
        if len > self.bytes.len() {
            return Err("entry runs past the chunk");
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }
}

/// Decodes a chunk value into its entries, in stored order. Any byte string gives entries or
/// [`StoreError::Corrupt`] naming `tree`; the order and the bound are checked by the readers.
pub(super) fn decode_chunk(tree: &'static str, bytes: &[u8]) -> Result<Vec<Entry>, StoreError> {
    decode_entries(bytes).map_err(|message| StoreError::Corrupt {
        tree,
        message: message.to_string(),
    })
}

/// [`decode_chunk`] with a plain message for the error.
fn decode_entries(bytes: &[u8]) -> Result<Vec<Entry>, &'static str> {
    let mut reader = Reader { bytes };
    match reader.byte() {
        Ok(CHUNK_V1) => {}
        Ok(_) => return Err("unknown chunk version"),
        Err(_) => return Err("empty chunk value"),
    }
    let mut entries = Vec::new();
    while !reader.bytes.is_empty() {
        let suffix: Suffix = reader
            .take(SUFFIX_LEN)?
            .try_into()
            .map_err(|_| "short entry suffix")?;
        let len = usize::try_from(reader.varint()?).map_err(|_| "payload length overflows")?;
        let payload = reader.take(len)?.to_vec();
        entries.push(Entry { suffix, payload });
    }
    Ok(entries)
}

/// The smallest key greater than every key starting with `prefix`, or `None` when there is none
/// (an empty or all-`0xff` prefix).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The group's key range from `start` (a key under the group, or the group itself) on.
fn group_range(
    tree: &sled::Tree,
    group: &[u8],
    start: Bound<Vec<u8>>,
    end: Option<Vec<u8>>,
) -> sled::Iter {
    let end = match end.or_else(|| prefix_end(group)) {
        Some(end) => Bound::Excluded(end),
        None => Bound::Unbounded,
    };
    tree.range((start, end))
}

/// Whether `key` is a chunk key of `group` (and not of a longer group that starts with it).
fn is_group_key(group: &[u8], key: &[u8]) -> bool {
    key.len() == group.len() + SUFFIX_LEN && key.starts_with(group)
}

/// The chunk key of `group` under bound `suffix`.
fn key_of(group: &[u8], suffix: &Suffix) -> Vec<u8> {
    let mut key = Vec::with_capacity(group.len() + SUFFIX_LEN);
    key.extend_from_slice(group);
    key.extend_from_slice(suffix);
    key
}

/// A stored chunk, checked: entries strictly ascending, all after `after` (the previous chunk's
/// bound, when known), the last one the key's bound.
struct Chunk {
    key: Vec<u8>,
    value: sled::IVec,
    bound: Suffix,
    entries: Vec<Entry>,
}

/// A [`StoreError::Corrupt`] in `tree`.
fn corrupt(tree: &'static str, message: &str) -> StoreError {
    StoreError::Corrupt {
        tree,
        message: message.to_string(),
    }
}

/// Decodes and checks the chunk stored under `key` (see [`Chunk`]).
fn load_chunk(
    name: &'static str,
    group: &[u8],
    key: sled::IVec,
    value: sled::IVec,
    after: Option<&Suffix>,
) -> Result<Chunk, StoreError> {
    let bound: Suffix = key
        .get(group.len()..)
        .and_then(|tail| tail.try_into().ok())
        .ok_or_else(|| corrupt(name, "chunk key is not group + 24-byte bound"))?;
    let entries = decode_chunk(name, &value)?;
    let Some(last) = entries.last() else {
        return Err(corrupt(name, "chunk holds no entries"));
    };
    if last.suffix != bound {
        return Err(corrupt(name, "chunk's last entry is not its key's bound"));
    }
    if entries.windows(2).any(|pair| match pair {
        [a, b] => a.suffix >= b.suffix,
        _ => false,
    }) {
        return Err(corrupt(name, "chunk entries are not strictly ascending"));
    }
    if let (Some(after), Some(first)) = (after, entries.first()) {
        if first.suffix <= *after {
            return Err(corrupt(name, "chunk overlaps the previous chunk"));
        }
    }
    Ok(Chunk {
        key: key.to_vec(),
        value,
        bound,
        entries,
    })
}

/// Splits ascending entries into chunks within `caps`, filling from the oldest end backwards
/// (so only the newest chunk can be short, and appends at the newest end leave full chunks).
/// Returns the chunks in ascending order, each ascending.
fn rechunk(entries: Vec<Entry>, caps: ChunkCaps) -> Vec<Vec<Entry>> {
    let max_entries = caps.max_entries.max(1);
    let mut chunks: Vec<Vec<Entry>> = Vec::new();
    let mut current: Vec<Entry> = Vec::new();
    let mut bytes = 1usize;
    for entry in entries.into_iter().rev() {
        let len = encoded_len(&entry);
        if !current.is_empty()
            && (current.len() >= max_entries || bytes.saturating_add(len) > caps.max_bytes)
        {
            current.reverse();
            chunks.push(std::mem::take(&mut current));
            bytes = 1;
        }
        bytes = bytes.saturating_add(len);
        current.push(entry);
    }
    if !current.is_empty() {
        current.reverse();
        chunks.push(current);
    }
    chunks.reverse();
    chunks
}

/// Plans one change to one group: reads only the chunks that hold (or would hold) a changed
/// suffix — the first chunk with bound >= it; for suffixes older than every entry, the group's
/// last chunk, which they extend — applies the change to each of them in memory (an add replaces
/// the payload of an existing suffix; a remove wins over an add of the same suffix; removing an
/// absent suffix does nothing), re-chunks each touched chunk on its own ([`rechunk`]: a chunk
/// that outgrows the caps splits within its own range) and returns the writes that differ from
/// what is stored. A page whose stories are spread over months touches one chunk per story,
/// never the run of chunks between them.
pub(super) fn plan_group(
    tree: &sled::Tree,
    name: &'static str,
    group: &[u8],
    adds: Vec<Entry>,
    removes: Vec<Suffix>,
    caps: ChunkCaps,
) -> Result<GroupPlan, StoreError> {
    let removes: BTreeSet<Suffix> = removes.into_iter().collect();
    let mut adds: BTreeMap<Suffix, Vec<u8>> = adds
        .into_iter()
        .map(|entry| (entry.suffix, entry.payload))
        .collect();
    for suffix in &removes {
        adds.remove(suffix);
    }
    let changed: BTreeSet<Suffix> = adds.keys().chain(removes.iter()).copied().collect();
    if changed.is_empty() {
        return Ok(GroupPlan::default());
    }
    // The touched chunks, ascending; `tail` is set when some change is older than every entry
    // (it then names the group's last chunk, if the group has any).
    let mut loaded: Vec<Chunk> = Vec::new();
    let mut older_than_all = false;
    for suffix in &changed {
        if loaded.last().is_some_and(|chunk| *suffix <= chunk.bound) {
            continue;
        }
        let holder =
            group_range(tree, group, Bound::Included(key_of(group, suffix)), None).find(|pair| {
                pair.as_ref()
                    .map_or(true, |(key, _)| is_group_key(group, key))
            });
        match holder {
            Some(pair) => {
                let (key, value) = pair?;
                loaded.push(load_chunk(name, group, key, value, None)?);
            }
            None => {
                older_than_all = true;
                break;
            }
        }
    }
    if older_than_all {
        let last = group_range(tree, group, Bound::Included(group.to_vec()), None)
            .rev()
            .find(|pair| {
                pair.as_ref()
                    .map_or(true, |(key, _)| is_group_key(group, key))
            });
        if let Some(pair) = last {
            let (key, value) = pair?;
            if loaded.last().map(|chunk| chunk.key.as_slice()) != Some(key.as_ref()) {
                loaded.push(load_chunk(name, group, key, value, None)?);
            }
        }
    }
    // Each change goes to the first touched chunk whose bound is >= it, else (older than every
    // entry) to the last one, or to a new chunk when the group is empty.
    let mut per_chunk: Vec<BTreeMap<Suffix, Option<Vec<u8>>>> = vec![BTreeMap::new(); loaded.len()];
    let mut fresh: BTreeMap<Suffix, Option<Vec<u8>>> = BTreeMap::new();
    let mut at = 0usize;
    for suffix in &changed {
        while loaded.get(at).is_some_and(|chunk| *suffix > chunk.bound) {
            at += 1;
        }
        let change = adds.get(suffix).cloned();
        let target = if at < loaded.len() {
            per_chunk.get_mut(at)
        } else {
            per_chunk.last_mut()
        };
        match target {
            Some(target) => {
                target.insert(*suffix, change);
            }
            None => {
                fresh.insert(*suffix, change);
            }
        }
    }
    let mut plan = GroupPlan::default();
    let mut new_keys: BTreeSet<Vec<u8>> = BTreeSet::new();
    for (chunk, changes) in loaded.iter().zip(&per_chunk) {
        let mut merged: BTreeMap<Suffix, Vec<u8>> = chunk
            .entries
            .iter()
            .map(|e| (e.suffix, e.payload.clone()))
            .collect();
        for (suffix, change) in changes {
            match change {
                Some(payload) => {
                    if merged.insert(*suffix, payload.clone()).is_none() {
                        plan.added += 1;
                    }
                }
                None => {
                    if merged.remove(suffix).is_some() {
                        plan.removed += 1;
                    }
                }
            }
        }
        let same = merged.len() == chunk.entries.len()
            && chunk
                .entries
                .iter()
                .all(|e| merged.get(&e.suffix) == Some(&e.payload));
        if same {
            // Nothing in this chunk changed: keep it as stored.
            new_keys.insert(chunk.key.clone());
            continue;
        }
        let entries: Vec<Entry> = merged
            .into_iter()
            .map(|(suffix, payload)| Entry { suffix, payload })
            .collect();
        emit_chunks(group, caps, entries, Some(chunk), &mut plan, &mut new_keys);
    }
    if !fresh.is_empty() {
        let entries: Vec<Entry> = fresh
            .into_iter()
            .filter_map(|(suffix, change)| change.map(|payload| Entry { suffix, payload }))
            .collect();
        plan.added += entries.len();
        emit_chunks(group, caps, entries, None, &mut plan, &mut new_keys);
    }
    plan.deletes = loaded
        .iter()
        .filter(|old| !new_keys.contains(&old.key))
        .map(|old| old.key.clone())
        .collect();
    plan.changed = !plan.deletes.is_empty() || !plan.puts.is_empty();
    Ok(plan)
}

/// Re-chunks `entries` (one touched chunk's, or new ones) into `plan`: a put for every chunk
/// that is not stored exactly so under `old`, and its key in `new_keys`.
fn emit_chunks(
    group: &[u8],
    caps: ChunkCaps,
    entries: Vec<Entry>,
    old: Option<&Chunk>,
    plan: &mut GroupPlan,
    new_keys: &mut BTreeSet<Vec<u8>>,
) {
    for piece in rechunk(entries, caps) {
        let Some(last) = piece.last() else { continue };
        let key = key_of(group, &last.suffix);
        let value = encode_chunk(&piece);
        let same = old.is_some_and(|c| c.key == key && c.value.as_ref() == value.as_slice());
        if !same {
            plan.puts.push((key.clone(), value));
        }
        new_keys.insert(key);
    }
}

/// The entries of one group, newest first, read one chunk at a time as they are consumed.
pub(super) struct GroupScan {
    name: &'static str,
    group: Vec<u8>,
    chunks: sled::Iter,
    current: std::vec::IntoIter<Entry>,
    bound: Option<Suffix>,
    failed: bool,
}

impl Iterator for GroupScan {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.current.next() {
                return Some(Ok(entry));
            }
            if self.failed {
                return None;
            }
            let loaded = match self.chunks.next()? {
                Ok((key, _)) if !is_group_key(&self.group, &key) => continue,
                Ok((key, value)) => {
                    load_chunk(self.name, &self.group, key, value, self.bound.as_ref())
                }
                Err(e) => Err(e.into()),
            };
            match loaded {
                Ok(chunk) => {
                    self.bound = Some(chunk.bound);
                    self.current = chunk.entries.into_iter();
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Reads the entries of `group` newest first (ascending suffix), decoding one chunk at a time;
/// after the first error it ends.
pub(super) fn scan_group(tree: &sled::Tree, name: &'static str, group: &[u8]) -> GroupScan {
    GroupScan {
        name,
        group: group.to_vec(),
        chunks: group_range(tree, group, Bound::Included(group.to_vec()), None),
        current: Vec::new().into_iter(),
        bound: None,
        failed: false,
    }
}

/// [`scan_group`] from the chunk that holds (or would hold) `from` on: entries older than or
/// equal to `from` and the rest of that chunk's entries (the caller skips those newer than
/// `from`), so a scan of old entries does not decode the group's newer chunks.
pub(super) fn scan_group_from(
    tree: &sled::Tree,
    name: &'static str,
    group: &[u8],
    from: &Suffix,
) -> GroupScan {
    GroupScan {
        name,
        group: group.to_vec(),
        chunks: group_range(tree, group, Bound::Included(key_of(group, from)), None),
        current: Vec::new().into_iter(),
        bound: None,
        failed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Small caps, so a handful of entries already splits.
    const CAPS: ChunkCaps = ChunkCaps {
        max_entries: 4,
        max_bytes: 200,
    };

    /// An empty tree in a temporary database.
    fn tree() -> sled::Tree {
        let db = sled::Config::new().temporary(true).open().unwrap();
        db.open_tree("test").unwrap()
    }

    /// A suffix whose time sorts by `age` (0 newest) and whose id is `id`.
    fn sfx(age: u64, id: u8) -> Suffix {
        let mut s = [0u8; 24];
        s[..8].copy_from_slice(&age.to_be_bytes());
        s[8..].copy_from_slice(&[id; 16]);
        s
    }

    /// An entry with id byte 1.
    fn entry(age: u64, payload: &[u8]) -> Entry {
        Entry {
            suffix: sfx(age, 1),
            payload: payload.to_vec(),
        }
    }

    /// Writes a plan the way a transaction would.
    fn apply(tree: &sled::Tree, plan: &GroupPlan) {
        for key in &plan.deletes {
            tree.remove(key).unwrap();
        }
        for (key, value) in &plan.puts {
            tree.insert(key, value.as_slice()).unwrap();
        }
    }

    /// Plans and applies one change with [`CAPS`].
    fn change(
        tree: &sled::Tree,
        group: &[u8],
        adds: Vec<Entry>,
        removes: Vec<Suffix>,
    ) -> GroupPlan {
        let plan = plan_group(tree, "test", group, adds, removes, CAPS).unwrap();
        apply(tree, &plan);
        plan
    }

    /// The group's chunks as (bound, entries), checked against the caps and the bound rule.
    fn chunks(tree: &sled::Tree, group: &[u8], caps: ChunkCaps) -> Vec<(Suffix, Vec<Entry>)> {
        let mut out: Vec<(Suffix, Vec<Entry>)> = Vec::new();
        for pair in tree.scan_prefix(group) {
            let (key, value) = pair.unwrap();
            if key.len() != group.len() + 24 {
                continue;
            }
            let bound: Suffix = key[group.len()..].try_into().unwrap();
            let entries = decode_chunk("test", &value).unwrap();
            assert!(!entries.is_empty());
            assert!(
                entries.len() <= caps.max_entries,
                "{} entries",
                entries.len()
            );
            assert!(
                value.len() <= caps.max_bytes || entries.len() == 1,
                "{} bytes in {} entries",
                value.len(),
                entries.len()
            );
            assert_eq!(entries.last().unwrap().suffix, bound);
            assert!(entries.windows(2).all(|p| p[0].suffix < p[1].suffix));
            if let Some((previous, _)) = out.last() {
                assert!(entries[0].suffix > *previous);
            }
            out.push((bound, entries));
        }
        out
    }

    /// Everything [`scan_group`] yields.
    fn scanned(tree: &sled::Tree, group: &[u8]) -> Vec<Entry> {
        scan_group(tree, "test", group)
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The entry count of each chunk, newest chunk first.
    fn sizes(tree: &sled::Tree, group: &[u8]) -> Vec<usize> {
        chunks(tree, group, CAPS)
            .iter()
            .map(|(_, e)| e.len())
            .collect()
    }

    #[test]
    fn appends_at_the_newest_end_leave_full_older_chunks() {
        let t = tree();
        let g = [b'l', 9];
        for age in (0..10u64).rev() {
            let plan = change(&t, &g, vec![entry(age, b"")], vec![]);
            assert_eq!((plan.added, plan.removed, plan.changed), (1, 0, true));
        }
        assert_eq!(sizes(&t, &g), vec![2, 4, 4]);
        let ages: Vec<Suffix> = scanned(&t, &g).iter().map(|e| e.suffix).collect();
        assert_eq!(ages, (0..10).map(|a| sfx(a, 1)).collect::<Vec<_>>());
        // A batch of appends too.
        let batch: Vec<Entry> = (0..5)
            .map(|i| Entry {
                suffix: sfx(0, 2 + i),
                payload: vec![],
            })
            .collect();
        change(&t, &g, batch, vec![]);
        assert_eq!(sizes(&t, &g), vec![3, 4, 4, 4]);
    }

    #[test]
    fn a_scan_from_a_suffix_starts_at_the_chunk_that_holds_it() {
        let t = tree();
        let g = [b's', 4];
        let other = [b's', 5];
        change(
            &t,
            &g,
            (0..10u64).map(|a| entry(a * 10, b"")).collect(),
            vec![],
        );
        change(&t, &other, vec![entry(1000, b"")], vec![]);
        for from in [0u64, 5, 30, 35, 90, 95] {
            let got: Vec<Suffix> = scan_group_from(&t, "test", &g, &sfx(from, 1))
                .map(|e| e.unwrap().suffix)
                .filter(|s| *s >= sfx(from, 1))
                .collect();
            let want: Vec<Suffix> = (0..10u64)
                .map(|a| sfx(a * 10, 1))
                .filter(|s| *s >= sfx(from, 1))
                .collect();
            assert_eq!(got, want, "from {from}");
            // Everything before the chunk that holds `from` is skipped.
            let first = scan_group_from(&t, "test", &g, &sfx(from, 1)).next();
            let first = first.map(|e| e.unwrap().suffix);
            assert!(
                first.is_none_or(|s| s >= sfx(from.saturating_sub(40), 1)),
                "from {from}"
            );
        }
    }

    #[test]
    fn inserting_in_the_middle() {
        let t = tree();
        let g = [3u8];
        change(&t, &g, (0..6).map(|a| entry(a * 10, b"")).collect(), vec![]);
        assert_eq!(sizes(&t, &g), vec![2, 4]);
        // Into the older, full chunk: it splits within its own range (the newer chunk is not
        // read or rewritten), its newest entry becoming a chunk of its own.
        let plan = change(&t, &g, vec![entry(45, b"x")], vec![]);
        assert_eq!((plan.added, plan.removed), (1, 0));
        assert!(plan.deletes.is_empty());
        assert_eq!(plan.puts.len(), 2);
        assert_eq!(sizes(&t, &g), vec![2, 1, 4]);
        // Later inserts in that range fill the small chunk.
        let plan = change(&t, &g, vec![entry(15, b"")], vec![]);
        assert_eq!((plan.puts.len(), plan.deletes.len()), (1, 0));
        assert_eq!(sizes(&t, &g), vec![2, 2, 4]);
        change(&t, &g, vec![entry(5, b"")], vec![]);
        assert_eq!(sizes(&t, &g), vec![3, 2, 4]);
        // Changes in two chunks far apart touch only those two.
        let plan = change(&t, &g, vec![entry(1, b""), entry(35, b"")], vec![]);
        assert_eq!((plan.added, plan.puts.len()), (2, 3));
        assert_eq!(sizes(&t, &g), vec![4, 2, 1, 4]);
        let got: Vec<Suffix> = scanned(&t, &g).iter().map(|e| e.suffix).collect();
        let mut want: Vec<u64> = (0..6).map(|a| a * 10).chain([45, 15, 5, 1, 35]).collect();
        want.sort();
        assert_eq!(got, want.iter().map(|&a| sfx(a, 1)).collect::<Vec<_>>());
    }

    #[test]
    fn adding_older_than_everything_extends_the_last_chunk() {
        let t = tree();
        let g = [7u8, 7];
        change(&t, &g, vec![entry(1, b""), entry(2, b"")], vec![]);
        let plan = change(&t, &g, vec![entry(3, b"")], vec![]);
        assert_eq!(plan.deletes, vec![key_of(&g, &sfx(2, 1))]);
        assert_eq!(plan.puts.len(), 1);
        assert_eq!(sizes(&t, &g), vec![3]);
        change(&t, &g, vec![entry(4, b""), entry(5, b"")], vec![]);
        assert_eq!(sizes(&t, &g), vec![1, 4]);
        assert_eq!(chunks(&t, &g, CAPS)[1].0, sfx(5, 1));
    }

    #[test]
    fn removes_rekey_and_empty_the_group() {
        let t = tree();
        let g = [4u8];
        change(&t, &g, (1..=8).map(|a| entry(a, b"")).collect(), vec![]);
        assert_eq!(sizes(&t, &g), vec![4, 4]);
        // Remove the first chunk's bound entry: that chunk is re-keyed.
        let plan = change(&t, &g, vec![], vec![sfx(4, 1)]);
        assert_eq!((plan.added, plan.removed), (0, 1));
        assert_eq!(plan.deletes, vec![key_of(&g, &sfx(4, 1))]);
        assert_eq!(plan.puts[0].0, key_of(&g, &sfx(3, 1)));
        assert_eq!(sizes(&t, &g), vec![3, 4]);
        // Removing an absent suffix is a no-op.
        let plan = change(&t, &g, vec![], vec![sfx(4, 1), sfx(99, 1)]);
        assert_eq!(plan, GroupPlan::default());
        // Remove everything.
        let all: Vec<Suffix> = scanned(&t, &g).iter().map(|e| e.suffix).collect();
        let plan = change(&t, &g, vec![], all);
        assert_eq!(
            (plan.removed, plan.deletes.len(), plan.puts.len()),
            (7, 2, 0)
        );
        assert!(t.is_empty());
        assert!(scanned(&t, &g).is_empty());
    }

    #[test]
    fn an_add_replaces_the_payload() {
        let t = tree();
        let g = [5u8];
        change(&t, &g, vec![entry(1, b"old"), entry(2, b"")], vec![]);
        let plan = change(&t, &g, vec![entry(1, b"new")], vec![]);
        assert_eq!((plan.added, plan.removed, plan.changed), (0, 0, true));
        assert_eq!(scanned(&t, &g), vec![entry(1, b"new"), entry(2, b"")]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_no_op_change_writes_nothing() {
        let t = tree();
        let g = [6u8];
        change(&t, &g, (1..=6).map(|a| entry(a, b"p")).collect(), vec![]);
        let plan = plan_group(&t, "test", &g, vec![entry(3, b"p")], vec![], CAPS).unwrap();
        assert_eq!(plan, GroupPlan::default());
        let plan = plan_group(&t, "test", &g, vec![], vec![], CAPS).unwrap();
        assert_eq!(plan, GroupPlan::default());
    }

    #[test]
    fn neighbouring_groups_never_see_each_other() {
        let t = tree();
        let groups: [&[u8]; 5] = [&[1, 2], &[1, 2, 0xff], &[1, 3], &[1, 2, 0], &[0xff, 0xff]];
        for (n, g) in groups.iter().enumerate() {
            let mut adds = Vec::new();
            for age in 0..6u64 {
                for first in [0x00u8, 0x80, 0xff] {
                    let mut s = sfx(age, n as u8);
                    s[0] = first;
                    adds.push(Entry {
                        suffix: s,
                        payload: vec![n as u8],
                    });
                }
            }
            let plan = plan_group(&t, "test", g, adds, vec![], CAPS).unwrap();
            assert_eq!(plan.added, 18, "group {g:?}");
            assert!(plan.deletes.is_empty());
            apply(&t, &plan);
        }
        for (n, g) in groups.iter().enumerate() {
            let got = scanned(&t, g);
            assert_eq!(got.len(), 18, "group {g:?}");
            assert!(got.iter().all(|e| e.payload == [n as u8]));
            assert_eq!(chunks(&t, g, CAPS).len(), 5);
            // An older-than-everything add extends this group's own last chunk.
            let plan = plan_group(&t, "test", g, vec![entry(u64::MAX, b"")], vec![], CAPS).unwrap();
            assert_eq!(plan.added, 1);
            for key in plan.deletes.iter().chain(plan.puts.iter().map(|(k, _)| k)) {
                assert!(is_group_key(g, key), "group {g:?} wrote {key:?}");
            }
        }
    }

    #[test]
    fn big_payloads_respect_the_byte_cap() {
        let t = tree();
        let g = [8u8];
        let adds: Vec<Entry> = (0..6).map(|a| entry(a, &[b'x'; 60])).collect();
        change(&t, &g, adds, vec![]);
        // 1 + 2 * 86 <= 200 < 1 + 3 * 86
        assert_eq!(sizes(&t, &g), vec![2, 2, 2]);
        change(
            &t,
            &g,
            vec![entry(10, &[b'y'; 500]), entry(11, b"")],
            vec![],
        );
        let s = sizes(&t, &g);
        assert_eq!(&s[s.len() - 2..], &[1, 1]);
        assert_eq!(scanned(&t, &g)[6].payload.len(), 500);
    }

    #[test]
    fn the_scan_reads_chunks_lazily_and_reports_corruption() {
        let t = tree();
        let g = [9u8];
        change(&t, &g, (0..12).map(|a| entry(a, b"")).collect(), vec![]);
        // Damage the last chunk: the first ones still come out before the error.
        let last = t.scan_prefix(g).keys().last().unwrap().unwrap();
        t.insert(&last, &[0x01, 0x02][..]).unwrap();
        let mut scan = scan_group(&t, "test", &g);
        for _ in 0..8 {
            assert!(scan.next().unwrap().is_ok());
        }
        assert!(matches!(scan.next(), Some(Err(StoreError::Corrupt { .. }))));
        assert!(scan.next().is_none());
        assert!(plan_group(&t, "test", &g, vec![entry(20, b"")], vec![], CAPS).is_err());
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(&[]), None);
    }

    /// One step of a random batch: add (or replace) or remove the suffix [`space`]`(i)`.
    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, Vec<u8>),
        Remove(usize),
    }

    /// Suffixes from a small space (so removes and replaces hit), with first bytes that straddle
    /// the neighbouring group's prefix.
    fn space(i: usize) -> Suffix {
        let mut s = sfx((i / 3) as u64, (i % 5) as u8);
        s[0] = [0x00, 0x80, 0xff][i % 3];
        s
    }

    /// A random step; payloads are sometimes large enough to hit the byte cap alone.
    fn op() -> impl Strategy<Value = Op> {
        let payload = prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..8),
            2 => proptest::collection::vec(any::<u8>(), 0..120),
            1 => proptest::collection::vec(any::<u8>(), 150..300),
        ];
        prop_oneof![
            3 => (0usize..60, payload).prop_map(|(i, p)| Op::Add(i, p)),
            1 => (0usize..60).prop_map(Op::Remove),
        ]
    }

    /// Arbitrary entries (any order, any suffixes) for the codec.
    fn entries_strategy() -> impl Strategy<Value = Vec<Entry>> {
        proptest::collection::vec(
            (
                any::<[u8; 24]>(),
                proptest::collection::vec(any::<u8>(), 0..200),
            )
                .prop_map(|(suffix, payload)| Entry { suffix, payload }),
            0..8,
        )
    }

    proptest! {
        #[test]
        fn random_changes_match_a_model(
            batches in proptest::collection::vec(
                (any::<bool>(), proptest::collection::vec(op(), 0..12)),
                1..16,
            ),
        ) {
            let t = tree();
            let groups: [&[u8]; 2] = [&[1, 2], &[1, 2, 0xff]];
            let mut models: [BTreeMap<Suffix, Vec<u8>>; 2] = [BTreeMap::new(), BTreeMap::new()];
            for (which, ops) in batches {
                let n = usize::from(which);
                let model = &mut models[n];
                let before = model.clone();
                let mut adds = Vec::new();
                let mut removes = Vec::new();
                for op in ops {
                    match op {
                        Op::Add(i, payload) => adds.push(Entry { suffix: space(i), payload }),
                        Op::Remove(i) => removes.push(space(i)),
                    }
                }
                // A later add of a suffix wins over an earlier one; a remove wins over both.
                for add in &adds {
                    model.insert(add.suffix, add.payload.clone());
                }
                for suffix in &removes {
                    model.remove(suffix);
                }
                let plan = plan_group(&t, "test", groups[n], adds, removes, CAPS).unwrap();
                let added = model.keys().filter(|s| !before.contains_key(*s)).count();
                let removed = before.keys().filter(|s| !model.contains_key(*s)).count();
                prop_assert_eq!((plan.added, plan.removed), (added, removed));
                prop_assert_eq!(plan.changed, *model != before);
                prop_assert_eq!(plan.changed, !plan.deletes.is_empty() || !plan.puts.is_empty());
                apply(&t, &plan);
                for (g, model) in groups.iter().zip(&models) {
                    let want: Vec<Entry> = model
                        .iter()
                        .map(|(s, p)| Entry { suffix: *s, payload: p.clone() })
                        .collect();
                    let stored: Vec<Entry> =
                        chunks(&t, g, CAPS).into_iter().flat_map(|(_, e)| e).collect();
                    prop_assert_eq!(&stored, &want);
                    prop_assert_eq!(&scanned(&t, g), &want);
                }
            }
        }

        #[test]
        fn chunks_round_trip(entries in entries_strategy()) {
            let bytes = encode_chunk(&entries);
            prop_assert_eq!(decode_chunk("test", &bytes).unwrap(), entries);
        }

        #[test]
        fn decoding_any_bytes_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_chunk("test", &bytes);
            let mut versioned = vec![CHUNK_V1];
            versioned.extend_from_slice(&bytes);
            let _ = decode_chunk("test", &versioned);
        }

        #[test]
        fn a_damaged_chunk_never_panics(entries in entries_strategy(), flip in 0usize..2000, bit in 0u8..8) {
            let mut bytes = encode_chunk(&entries);
            let n = bytes.len();
            if let Some(byte) = bytes.get_mut(flip % n) {
                *byte ^= 1 << bit;
            }
            let _ = decode_chunk("test", &bytes);
        }
    }
}
