//! Feed queries: a k-way merge over the index prefixes a filter names, newest first, stopping at
//! the limit or the deadline.

use super::*;

/// The ids of one label's items, newest first: a merge of its home `stories` cluster and its
/// packed `label_index` group.
pub(super) struct LabelIds {
    home: std::iter::Peekable<sled::Iter>,
    elsewhere: std::iter::Peekable<GroupScan>,
}

impl Iterator for LabelIds {
    type Item = Result<[u8; 16], StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let home = match self.home.peek() {
                Some(Ok((key, _))) => key.get(8..).map(<[u8]>::to_vec),
                Some(Err(_)) => match self.home.next() {
                    Some(Err(e)) => return Some(Err(e.into())),
                    _ => continue,
                },
                None => None,
            };
            let elsewhere = match self.elsewhere.peek() {
                Some(Ok(entry)) => Some(entry.suffix.to_vec()),
                Some(Err(_)) => match self.elsewhere.next() {
                    Some(Err(e)) => return Some(Err(e)),
                    _ => continue,
                },
                None => None,
            };
            let suffix = match (home, elsewhere) {
                (Some(a), Some(b)) if a <= b => {
                    self.home.next();
                    a
                }
                (Some(a), None) => {
                    self.home.next();
                    a
                }
                (_, Some(b)) => {
                    self.elsewhere.next();
                    b
                }
                (None, None) => return None,
            };
            if let Some(id) = id16(suffix.get(8..24)) {
                return Some(Ok(id));
            }
        }
    }
}

/// One scan of a feed query: the records of a `stories` cluster, or a packed index group.
enum FeedScan {
    Records(std::iter::Peekable<sled::Iter>),
    Index(std::iter::Peekable<GroupScan>),
}

/// What a scan hands out: the entry's suffix, its record's cluster, and the record itself
/// (`stories`) or the index payload (the home prefix, then for the time index the search text).
struct Scanned {
    suffix: Suffix,
    home: [u8; 8],
    record: Option<sled::IVec>,
    payload: Vec<u8>,
}

impl Scanned {
    /// The search text an index payload carries after its home prefix.
    fn text(&self) -> &[u8] {
        self.payload.get(8..).unwrap_or_default()
    }
}

impl FeedScan {
    /// The suffix of the next entry; `Err` when the next entry is an error.
    fn peek_suffix(&mut self) -> Option<Result<Suffix, ()>> {
        match self {
            FeedScan::Records(scan) => match scan.peek()? {
                Ok((key, _)) => Some(
                    key.get(8..)
                        .and_then(|s| Suffix::try_from(s).ok())
                        .ok_or(()),
                ),
                Err(_) => Some(Err(())),
            },
            FeedScan::Index(scan) => match scan.peek()? {
                Ok(entry) => Some(Ok(entry.suffix)),
                Err(_) => Some(Err(())),
            },
        }
    }

    /// The next entry; `Ok(None)` for one that names no cluster (what `store verify` reports).
    fn take(&mut self) -> Result<Option<Scanned>, StoreError> {
        match self {
            FeedScan::Records(scan) => {
                let Some(entry) = scan.next() else {
                    return Ok(None);
                };
                let (key, value) = entry?;
                let (Some(home), Some(suffix)) = (
                    key.get(..8).and_then(|h| <[u8; 8]>::try_from(h).ok()),
                    key.get(8..).and_then(|s| Suffix::try_from(s).ok()),
                ) else {
                    return Ok(None);
                };
                Ok(Some(Scanned {
                    suffix,
                    home,
                    record: Some(value),
                    payload: Vec::new(),
                }))
            }
            FeedScan::Index(scan) => {
                let Some(entry) = scan.next() else {
                    return Ok(None);
                };
                let entry = entry?;
                let Some(home) = entry
                    .payload
                    .get(..8)
                    .and_then(|h| <[u8; 8]>::try_from(h).ok())
                else {
                    return Ok(None);
                };
                Ok(Some(Scanned {
                    suffix: entry.suffix,
                    home,
                    record: None,
                    payload: entry.payload,
                }))
            }
        }
    }
}

/// Reads search texts from the time index for suffixes asked in ascending order, keeping the
/// last chunk read (consecutive items of a feed mostly share one).
struct TimeTexts<'a> {
    tree: &'a sled::Tree,
    /// The suffix the cached chunk was found for, its bound, and its entries.
    cached: Option<(Suffix, Suffix, Vec<Entry>)>,
}

impl TimeTexts<'_> {
    /// The search text stored for `suffix` (after its home prefix), if any.
    fn text(&mut self, suffix: &Suffix) -> Result<Option<Vec<u8>>, StoreError> {
        let hit = self
            .cached
            .as_ref()
            .is_some_and(|(from, bound, _)| from <= suffix && suffix <= bound);
        if !hit {
            self.cached = None;
            if let Some(entry) = self.tree.range(suffix.as_slice()..).next() {
                let (key, value) = entry?;
                if let Ok(bound) = Suffix::try_from(key.as_ref()) {
                    let entries = chunk::decode_chunk("time_index", &value)?;
                    self.cached = Some((*suffix, bound, entries));
                }
            }
        }
        let Some((_, _, entries)) = &self.cached else {
            return Ok(None);
        };
        Ok(entries
            .binary_search_by(|e| e.suffix.cmp(suffix))
            .ok()
            .and_then(|i| entries.get(i))
            .and_then(|e| e.payload.get(8..).map(<[u8]>::to_vec)))
    }
}

impl Store {
    /// The ids of the items under one label key's 8-byte prefix, newest first.
    pub(super) fn label_ids(&self, prefix: [u8; 8]) -> LabelIds {
        LabelIds {
            home: self.stories.scan_prefix(prefix).peekable(),
            elsewhere: scan_group(&self.label_index, "label_index", &prefix).peekable(),
        }
    }

    /// Runs a feed query: newest first, filtered (labels or sources by index, words against the
    /// stored search text), at most `limit` items; `keep` is an extra predicate applied while
    /// scanning so the scan still stops at `limit`. The whole scan sees one committed state
    /// (commits wait for it), so `keep` must not call back into the store.
    pub fn query(
        &self,
        query: &Query,
        keep: &dyn Fn(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let limit = query.limit.max(1);
        // Held for the whole scan so a commit lands entirely before or after it.
        let _shared = self.commit_lock.read().unwrap_or_else(|e| e.into_inner());
        // Each scan yields (8-byte prefix or none) + inverted time + id keys, newest first. A
        // label's own stories are one scan of their `stories` cluster (records, no further
        // read); items indexed under it from elsewhere, a source's or the merged feed's items
        // come from an index whose value names the record's cluster.
        let mut scans: Vec<FeedScan> = Vec::with_capacity(query.labels.len() * 2 + 1);
        if !query.labels.is_empty() {
            for label in &query.labels {
                let prefix = prefix8(label);
                scans.push(FeedScan::Records(
                    self.stories.scan_prefix(prefix).peekable(),
                ));
                scans.push(FeedScan::Index(
                    scan_group(&self.label_index, "label_index", &prefix).peekable(),
                ));
            }
        } else if !query.sources.is_empty() {
            for source in &query.sources {
                let prefix = prefix8(source);
                scans.push(FeedScan::Index(
                    scan_group(&self.source_index, "source_index", &prefix).peekable(),
                ));
            }
        } else {
            scans.push(FeedScan::Index(
                scan_group(&self.time_index, "time_index", &[]).peekable(),
            ));
        }
        let merged_feed = query.labels.is_empty() && query.sources.is_empty();
        let mut texts = TimeTexts {
            tree: &self.time_index,
            cached: None,
        };
        let mut out = Vec::new();
        let mut last_suffix: Option<Suffix> = None;
        let mut examined = 0usize;
        let searching = !query.words.is_empty() || !query.exclude.is_empty();
        loop {
            if let Some(deadline) = query.deadline {
                // Reading the clock costs ~20 ns; every 64 entries keeps it out of the profile.
                if examined % 64 == 0 && std::time::Instant::now() >= deadline {
                    return Err(StoreError::OverBudget { examined });
                }
            }
            examined += 1;
            // k-way merge on the (inverted time, id) suffix, newest first.
            let mut best: Option<(usize, Suffix)> = None;
            for (i, scan) in scans.iter_mut().enumerate() {
                match scan.peek_suffix() {
                    Some(Ok(suffix)) if best.as_ref().is_none_or(|(_, b)| suffix < *b) => {
                        best = Some((i, suffix));
                    }
                    Some(Ok(_)) | None => {}
                    // An error or a malformed key: `take` hands out the error or skips it.
                    Some(Err(())) => {
                        best = Some((i, [0; SUFFIX_LEN]));
                        break;
                    }
                }
            }
            let Some((i, _)) = best else { break };
            let Some(scanned) = scans[i].take()? else {
                continue;
            };
            let suffix = scanned.suffix;
            if last_suffix.as_ref() == Some(&suffix) {
                continue;
            }
            last_suffix = Some(suffix);
            if let Some(since) = query.since {
                if time_from_inverted(&suffix).is_some_and(|t| t < since) {
                    break;
                }
            }
            let Some(id) = id16(suffix.get(8..24)) else {
                continue;
            };
            // Words are matched against the folded text kept in the time index (the scanned
            // entry itself for the merged feed): most items are rejected without being read.
            if searching {
                let matches = |t: &[u8]| {
                    text_matches(
                        std::str::from_utf8(t).unwrap_or_default(),
                        &query.words,
                        &query.exclude,
                    )
                };
                let verdict = if merged_feed {
                    matches(scanned.text())
                } else {
                    texts.text(&suffix)?.is_some_and(|t| matches(&t))
                };
                if !verdict {
                    continue;
                }
            }
            let bytes = match scanned.record {
                Some(bytes) => bytes,
                None => {
                    let mut story = scanned.home.to_vec();
                    story.extend_from_slice(&suffix);
                    match self.stories.get(story)? {
                        Some(bytes) => bytes,
                        None => continue,
                    }
                }
            };
            let item = decode_item(&id, &bytes)?;
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
            let mut item = item;
            if query.with_text {
                item.content = self
                    .content
                    .get(id)?
                    .map(|v| content::decompress_text(&v))
                    .transpose()?;
            }
            out.push(item);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}
