//! Feed queries: a k-way merge over the index prefixes a filter names, newest first, stopping at
//! the limit or the deadline.

use super::*;

impl Store {
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
            let value = match scans[i].next() {
                Some(Ok((_, value))) => value,
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
            let Some(id) = suffix.get(8..24) else {
                continue;
            };
            // Words are matched against the folded text kept in `by_time` (the scanned entry
            // itself for the merged feed; its key is this suffix): most items are rejected
            // without being read.
            // `None`: stored before the text was kept, so the item's own text decides below.
            let verdict = if searching {
                let stored = if plen == 0 {
                    Some(value)
                } else {
                    self.by_time.get(&suffix)?
                };
                stored.filter(|v| !v.is_empty()).map(|v| {
                    text_matches(
                        std::str::from_utf8(&v).unwrap_or_default(),
                        &query.words,
                        &query.exclude,
                    )
                })
            } else {
                Some(true)
            };
            if verdict == Some(false) {
                continue;
            }
            let Some(bytes) = self.items.get(id)? else {
                continue;
            };
            let item = decode_item(&id_of(id), &bytes)?;
            if verdict.is_none()
                && !text_matches(
                    &search_text(&item.title, item.summary.as_deref()),
                    &query.words,
                    &query.exclude,
                )
            {
                continue;
            }
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
