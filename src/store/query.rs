//! Feed queries: a k-way merge over the index prefixes a filter names, newest first, stopping at
//! the limit or the deadline.

use super::*;

/// The ids of one label's items, newest first: a merge of its home `stories` cluster and its
/// `by_label` entries (keys only; both are prefix + inverted time + id).
pub(super) struct LabelIds {
    home: std::iter::Peekable<sled::Iter>,
    elsewhere: std::iter::Peekable<sled::Iter>,
}

impl Iterator for LabelIds {
    type Item = Result<[u8; 16], StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let suffix = |entry: Option<&Result<(sled::IVec, sled::IVec), sled::Error>>| {
                entry.and_then(|e| {
                    e.as_ref()
                        .ok()
                        .and_then(|(k, _)| k.get(8..).map(<[u8]>::to_vec))
                })
            };
            let take_home = match (suffix(self.home.peek()), suffix(self.elsewhere.peek())) {
                (Some(a), Some(b)) => a <= b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                // Both ended, or one holds an error: hand out the error (or end).
                (None, None) => match (self.home.next(), self.elsewhere.next()) {
                    (Some(Err(e)), _) | (_, Some(Err(e))) => return Some(Err(e.into())),
                    _ => return None,
                },
            };
            let scan = if take_home {
                &mut self.home
            } else {
                &mut self.elsewhere
            };
            match scan.next() {
                Some(Ok((key, _))) => {
                    if let Some(id) = id16(key.get(16..32)) {
                        return Some(Ok(id));
                    }
                }
                Some(Err(e)) => return Some(Err(e.into())),
                None => return None,
            }
        }
    }
}

impl Store {
    /// The ids of the items under one label key's 8-byte prefix, newest first.
    pub(super) fn label_ids(&self, prefix: [u8; 8]) -> LabelIds {
        LabelIds {
            home: self.stories.scan_prefix(prefix).peekable(),
            elsewhere: self.by_label.scan_prefix(prefix).peekable(),
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
        let mut scans: Vec<(bool, std::iter::Peekable<sled::Iter>)> = Vec::new();
        let plen = if !query.labels.is_empty() {
            for label in &query.labels {
                let prefix = prefix8(label);
                scans.push((true, self.stories.scan_prefix(prefix).peekable()));
                scans.push((false, self.by_label.scan_prefix(prefix).peekable()));
            }
            8
        } else if !query.sources.is_empty() {
            for source in &query.sources {
                let prefix = prefix8(source);
                scans.push((false, self.by_source.scan_prefix(prefix).peekable()));
            }
            8
        } else {
            scans.push((false, self.by_time.iter().peekable()));
            0
        };
        let mut out = Vec::new();
        let mut last_suffix: Option<Vec<u8>> = None;
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
            let mut best: Option<(usize, Vec<u8>)> = None;
            for (i, (_, scan)) in scans.iter_mut().enumerate() {
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
            let (is_record, scan) = &mut scans[i];
            let is_record = *is_record;
            let (key, value) = match scan.next() {
                Some(Ok(entry)) => entry,
                _ => continue,
            };
            if last_suffix.as_ref() == Some(&suffix) {
                continue;
            }
            last_suffix = Some(suffix.clone());
            if let Some(since) = query.since {
                if time_from_inverted(&suffix).is_some_and(|t| t < since) {
                    break;
                }
            }
            let Some(id) = suffix
                .get(8..24)
                .and_then(|id| <[u8; 16]>::try_from(id).ok())
            else {
                continue;
            };
            // The record's cluster: the scanned key's prefix, or the first 8 bytes of an index
            // value (an entry without one is what `store verify` reports; it is skipped).
            let home = if is_record {
                key.get(..8)
            } else {
                value.get(..8)
            };
            let Some(home) = home.and_then(|h| <[u8; 8]>::try_from(h).ok()) else {
                continue;
            };
            // Words are matched against the folded text kept in `by_time` (the scanned entry
            // itself for the merged feed; its key is this suffix): most items are rejected
            // without being read.
            if searching {
                let stored = if plen == 0 {
                    Some(value.clone())
                } else {
                    self.by_time.get(&suffix)?
                };
                let verdict = stored.as_deref().and_then(|v| v.get(8..)).is_some_and(|t| {
                    text_matches(
                        std::str::from_utf8(t).unwrap_or_default(),
                        &query.words,
                        &query.exclude,
                    )
                });
                if !verdict {
                    continue;
                }
            }
            let bytes = if is_record {
                value
            } else {
                let mut story = home.to_vec();
                story.extend_from_slice(&suffix);
                match self.stories.get(story)? {
                    Some(bytes) => bytes,
                    None => continue,
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
