//! Upgrades from older layouts, one version step at a time, each resumable after a crash.

use super::*;

/// The next [`SWEEP_CHUNK`] entries of `tree` after the key `start` names (from the first when
/// `None`), moving `start` to the last one returned: an upgrade's resumable walk.
fn next_entries(
    tree: &sled::Tree,
    start: &mut Option<sled::IVec>,
) -> Result<Vec<(sled::IVec, sled::IVec)>, StoreError> {
    let range = match start.as_ref() {
        Some(after) => tree.range::<&[u8], _>((Bound::Excluded(after.as_ref()), Bound::Unbounded)),
        None => tree.iter(),
    };
    let chunk = range.take(SWEEP_CHUNK).collect::<Result<Vec<_>, _>>()?;
    if let Some((last, _)) = chunk.last() {
        *start = Some(last.clone());
    }
    Ok(chunk)
}

/// Counts the entries of an index tree per 8-byte prefix, keyed by their `meta` counter key.
pub(super) fn scan_counts(
    tree: &sled::Tree,
    id: TreeId,
) -> Result<BTreeMap<Vec<u8>, u64>, StoreError> {
    let mut counts = BTreeMap::new();
    for key in tree.iter().keys() {
        if let Some(counter) = count_key(id, &key?) {
            *counts.entry(counter).or_insert(0u64) += 1;
        }
    }
    Ok(counts)
}

impl Store {
    /// `headwire-store/3` → 4 (then 4 → 5), for the rule that retention ages a story from when it was first
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
    pub(super) fn migrate_v3(&self) -> Result<(), StoreError> {
        let items = self.items.len();
        let tombstones = self.tombstones.len();
        tracing::info!(
            items,
            tombstones,
            "upgrading the store from {SCHEMA_V3} to {SCHEMA_V4}: lifting tombstones left by \
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
            let (Some(id), Ok(item)) =
                (id16(Some(key.as_ref())), decode_item(&id_of(&key), &bytes))
            else {
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
                for (tree, key) in legacy_index_entries(&item, &id) {
                    m.del(tree, key);
                }
                for (tree, key) in legacy_index_entries(&fixed, &id) {
                    m.put(tree, key, Vec::new());
                }
                m.put(
                    TreeId::Titles,
                    title_entry(&fixed.title_key, &id),
                    fixed.published.timestamp_millis().to_be_bytes().to_vec(),
                );
            }
            m.put(
                TreeId::ByTime,
                index_key(None, fixed.published, &id),
                search_text(&fixed.title, fixed.summary.as_deref()).into_bytes(),
            );
            m.put(TreeId::Items, id.to_vec(), encode_item(&fixed));
            self.commit(&m, now, true)?;
            repaired += 1;
        }
        self.meta.insert(SCHEMA_KEY, SCHEMA_V4.as_bytes())?;
        self.db.flush()?;
        tracing::info!(
            lifted,
            repaired,
            "store migrated from {SCHEMA_V3} to {SCHEMA_V4}"
        );
        Ok(())
    }

    /// `headwire-store/4` → 5 (then 5 → 6): every JSON item record is rewritten as a binary record
    /// ([`encode_item`]), [`SWEEP_CHUNK`] items per transaction under the writer lock, and its
    /// `by_time` value set to its folded search text (empty for items stored before the text
    /// was kept). Only values change (keys, indexes and counters stay), and [`decode_item`] reads both
    /// encodings, so a store killed mid-upgrade opens, verifies and resumes where it stopped;
    /// the version key is written last. A record that does not decode is left for `store
    /// verify` to report.
    pub(super) fn migrate_v4(&self) -> Result<(), StoreError> {
        let total = self.len();
        tracing::info!(
            items = total,
            "upgrading the store from {SCHEMA_V4} to {SCHEMA_V5}: rewriting item records \
             in the binary encoding (about half a minute per million items)"
        );
        let now = Utc::now();
        let mut converted = 0usize;
        let mut examined = 0usize;
        let mut start: Option<sled::IVec> = None;
        loop {
            let chunk = next_entries(&self.items, &mut start)?;
            if chunk.is_empty() {
                break;
            }
            examined += chunk.len();
            let mut m = Mutations::default();
            let mut rewritten = 0usize;
            for (key, bytes) in &chunk {
                if !is_legacy_record(bytes) {
                    continue;
                }
                let Ok(item) = decode_item(&id_of(key), bytes) else {
                    continue;
                };
                m.put(TreeId::Items, key.to_vec(), encode_item(&item));
                rewritten += 1;
                // Items stored before the folded search text was kept have an empty `by_time`
                // value (searches folded them at query time): every item gets its text now.
                if let Ok(id) = <[u8; 16]>::try_from(key.as_ref()) {
                    m.put(
                        TreeId::ByTime,
                        index_key(None, item.published, &id),
                        search_text(&item.title, item.summary.as_deref()).into_bytes(),
                    );
                }
            }
            if !m.ops.is_empty() {
                let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                converted += rewritten;
                // Same items, same feeds: no new generation or Last-Modified.
                self.commit(&m, now, false)?;
            }
            if examined % 100_000 < SWEEP_CHUNK {
                tracing::info!(
                    examined,
                    of = total,
                    converted,
                    "store upgrade: item records"
                );
            }
        }
        self.meta.insert(SCHEMA_KEY, SCHEMA_V5.as_bytes())?;
        self.db.flush()?;
        tracing::info!(converted, "store migrated from {SCHEMA_V4} to {SCHEMA_V5}");
        Ok(())
    }

    /// `headwire-store/5` → 6: each item record moves from the id-keyed `items` tree into the
    /// `stories` cluster of its home section ([`story_key`]), with a `locations` entry, and its
    /// one-key-per-entry index entries (`by_time`, `by_label`, `by_source`) become entries of the
    /// packed `time_index`, `label_index` and `source_index` (the home label's entry goes: its
    /// feed reads the cluster; a label's counter covers both, so counters do not move).
    /// Items are taken newest first through the old `by_time`, [`SWEEP_CHUNK`] per transaction
    /// under the writer lock (so each transaction extends the oldest chunks instead of touching
    /// every chunk), each item moved whole: a store killed mid-upgrade opens, verifies and
    /// resumes with the rest still in the old trees; the version key is written last. A record
    /// that does not decode (or has no `by_time` entry) stays in `items` for `store verify` to
    /// report.
    pub(super) fn migrate_v5(&self) -> Result<(), StoreError> {
        let total = self.items.len();
        tracing::info!(
            items = total,
            "upgrading the store from {SCHEMA_V5} to {SCHEMA_VERSION}: clustering item records \
             by section and packing the indexes (about 30 s per 100k items)"
        );
        let now = Utc::now();
        let mut moved = 0usize;
        let mut start: Option<sled::IVec> = None;
        loop {
            let chunk = next_entries(&self.by_time, &mut start)?;
            if chunk.is_empty() {
                break;
            }
            let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let mut m = Mutations::default();
            for (key, text) in &chunk {
                let Some(id) = id16(key.get(8..24)) else {
                    continue;
                };
                let Some(bytes) = self.items.get(id)? else {
                    continue;
                };
                let Ok(item) = decode_item(&id, &bytes) else {
                    continue;
                };
                let text = match std::str::from_utf8(text) {
                    Ok(text) if !text.is_empty() => text.to_string(),
                    _ => search_text(&item.title, item.summary.as_deref()),
                };
                plan_cluster_move(&mut m, &id, &item, &text);
                moved += 1;
            }
            // Same items, same feeds: no new generation or Last-Modified.
            self.commit(&m, now, false)?;
            if moved % 100_000 < SWEEP_CHUNK {
                tracing::info!(moved, of = total, "store upgrade: clustering item records");
            }
        }
        self.meta.insert(SCHEMA_KEY, SCHEMA_VERSION.as_bytes())?;
        self.db.flush()?;
        tracing::info!(moved, "store migrated from {SCHEMA_V5} to {SCHEMA_VERSION}");
        Ok(())
    }

    /// Test support: the exact inverse of [`Store::migrate_v5`] (records back into `items`,
    /// one key per index entry without the home prefix, the home label's `by_label` entries
    /// back, the packed indexes emptied), with the layout recorded as 5. Not one transaction:
    /// for tests on a store nothing else uses.
    pub(super) fn to_layout_v5(&self) -> Result<usize, StoreError> {
        let mut texts: HashMap<Suffix, Vec<u8>> = HashMap::new();
        for entry in scan_group(&self.time_index, "time_index", &[]) {
            let entry = entry?;
            texts.insert(
                entry.suffix,
                entry.payload.get(8..).unwrap_or_default().to_vec(),
            );
        }
        let mut moved = 0;
        for entry in self.stories.iter() {
            let (key, bytes) = entry?;
            let id = id_of(key.get(16..).unwrap_or_default());
            let item = decode_item(&id, &bytes)?;
            self.items.insert(id, bytes)?;
            for (tree, index) in legacy_index_entries(&item, &id) {
                match tree {
                    TreeId::ByTime => {
                        let text = texts
                            .get(&suffix_of(item.published, &id))
                            .cloned()
                            .unwrap_or_default();
                        self.by_time.insert(index, text)?;
                    }
                    TreeId::ByLabel => {
                        self.by_label.insert(index, &[][..])?;
                    }
                    _ => {
                        self.by_source.insert(index, &[][..])?;
                    }
                }
            }
            moved += 1;
        }
        for tree in [
            &self.stories,
            &self.locations,
            &self.time_index,
            &self.label_index,
            &self.source_index,
        ] {
            tree.clear()?;
        }
        self.meta.insert(SCHEMA_KEY, SCHEMA_V5.as_bytes())?;
        self.db.flush()?;
        Ok(moved)
    }

    /// `headwire-store/1` → 2: the same items and indexes; adds the item count and the source
    /// registry (v1 never wrote aliases or tombstones). The version key is written last, so an
    /// interrupted migration simply runs again.
    pub(super) fn migrate_v1(
        db: &sled::Db,
        meta: &sled::Tree,
        items: &sled::Tree,
    ) -> Result<(), StoreError> {
        let mut count = 0u64;
        let mut sources = BTreeSet::new();
        for entry in items.iter() {
            let (key, bytes) = entry?;
            let item = decode_item(&id_of(&key), &bytes)?;
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
    pub(super) fn migrate_v2(
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
}

/// The writes that move one layout-5 item into layout 6 (see [`Store::migrate_v5`]).
fn plan_cluster_move(m: &mut Mutations, id: &[u8; 16], item: &Item, text: &str) {
    let home = home_prefix(item);
    m.del(TreeId::Items, id.to_vec());
    for (tree, key) in legacy_index_entries(item, id) {
        m.del(tree, key);
    }
    m.put(
        TreeId::Stories,
        story_key(home, item.published, id),
        encode_item(item),
    );
    m.put(
        TreeId::Locations,
        id.to_vec(),
        location_value(home, item.published),
    );
    for (entry, payload) in index_entries_with_payloads(item, id, text) {
        m.index_put(entry, payload);
    }
}
