//! `store verify`: every index, alias, tombstone, listing and counter checked against the items.

use super::*;

/// For [`Store::verify`]: compares the keys of a derived tree with the keys its records imply,
/// reporting entries nothing implies (`{name}: entry … {unexpected}`) and implied entries that
/// are missing.
pub(super) fn reconcile_keys(
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

impl Store {
    /// Checks every index, alias, tombstone and counter against the items (and the items
    /// against them); returns one line per mismatch (empty: consistent).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let _shared = self.commit_lock.read().unwrap_or_else(|e| e.into_inner());
        let mut problems = Vec::new();
        let mut expected: BTreeMap<IndexEntry, Vec<u8>> = BTreeMap::new();
        let mut titles_expected: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut item_ids: HashSet<[u8; 16]> = HashSet::new();
        let mut item_sources: BTreeSet<String> = BTreeSet::new();
        let mut identities: HashMap<String, [u8; 16]> = HashMap::new();
        // Every record and index entry has moved by the time the store opens at layout 6.
        for (tree, name) in [
            (&self.items, "items"),
            (&self.by_time, "by_time"),
            (&self.by_label, "by_label"),
            (&self.by_source, "by_source"),
        ] {
            for key in tree.iter().keys() {
                problems.push(format!(
                    "{name}: layout 5 entry {} was not moved (its record does not decode)",
                    hex(&key?)
                ));
            }
        }
        let mut locations_expected: BTreeMap<[u8; 16], Vec<u8>> = BTreeMap::new();
        let mut counted: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for entry in self.stories.iter() {
            let (key, bytes) = entry?;
            if is_legacy_record(&bytes) {
                problems.push(format!(
                    "story {}: still in layout 4's JSON encoding",
                    hex(&key)
                ));
            }
            let Some(id) = id16(key.get(16..)) else {
                problems.push(format!("stories: key {} is not 32 bytes", hex(&key)));
                continue;
            };
            let item = match decode_item(&id, &bytes) {
                Ok(item) => item,
                Err(e) => {
                    problems.push(format!("item {}: {e}", hex(&id)));
                    continue;
                }
            };
            if let Some(counter) = count_key(TreeId::Stories, &key) {
                *counted.entry(counter).or_default() += 1;
            }
            let home = home_prefix(&item);
            if key.as_ref() != story_key(home, item.published, &id).as_slice() {
                problems.push(format!(
                    "stories: item {} is filed under {}, not under its home section and time",
                    hex(&id),
                    hex(&key)
                ));
            }
            if !item_ids.insert(id) {
                problems.push(format!("stories: item {} is stored twice", hex(&id)));
            }
            locations_expected.insert(id, location_value(home, item.published));
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
            let text = search_text(&item.title, item.summary.as_deref());
            expected.extend(index_entries_with_payloads(&item, &id, &text));
            item_sources.extend(item.sources.iter().cloned());
            titles_expected.insert(title_entry(&item.title_key, &id));
        }
        for entry in self.locations.iter() {
            let (key, value) = entry?;
            let Some(id) = id16(Some(key.as_ref())) else {
                problems.push(format!("locations: key {} is not 16 bytes", hex(&key)));
                continue;
            };
            match locations_expected.remove(&id) {
                Some(location) if location == value.as_ref() => {}
                Some(_) => problems.push(format!(
                    "locations: entry {} names another place than its story's",
                    hex(&id)
                )),
                None => problems.push(format!("locations: entry {} names no story", hex(&id))),
            }
        }
        for id in locations_expected.keys() {
            problems.push(format!("locations: missing entry {}", hex(id)));
        }
        // Packed indexes: every chunk decodes, keeps the chunk rules, and holds exactly the
        // entries the items imply, with their payloads.
        for tree in [TreeId::TimeIndex, TreeId::LabelIndex, TreeId::SourceIndex] {
            let name = tree.name();
            let group_len = if tree == TreeId::TimeIndex { 0 } else { 8 };
            let caps = chunk_caps(tree);
            let mut previous: Option<(Vec<u8>, Suffix)> = None;
            for chunk in self.tree(tree).iter() {
                let (key, value) = chunk?;
                let (Some(group), Some(bound)) = (
                    key.get(..group_len)
                        .filter(|_| key.len() == group_len + SUFFIX_LEN),
                    key.get(group_len..).and_then(|b| Suffix::try_from(b).ok()),
                ) else {
                    problems.push(format!("{name}: key {} has the wrong length", hex(&key)));
                    continue;
                };
                let entries = match chunk::decode_chunk(name, &value) {
                    Ok(entries) => entries,
                    Err(e) => {
                        problems.push(format!("{name}: chunk {}: {e}", hex(&key)));
                        continue;
                    }
                };
                let after = previous
                    .as_ref()
                    .filter(|(g, _)| g.as_slice() == group)
                    .map(|(_, b)| *b);
                let ordered = entries.windows(2).all(|w| w[0].suffix < w[1].suffix)
                    && entries.last().map(|e| e.suffix) == Some(bound)
                    && entries
                        .first()
                        .is_some_and(|e| after.is_none_or(|a| a < e.suffix));
                if !ordered {
                    problems.push(format!(
                        "{name}: chunk {} is empty, out of order or not under its last entry",
                        hex(&key)
                    ));
                }
                if entries.len() > caps.max_entries.max(1)
                    || (entries.len() > 1 && value.len() > caps.max_bytes)
                {
                    problems.push(format!("{name}: chunk {} is over its size caps", hex(&key)));
                }
                previous = Some((group.to_vec(), bound));
                for entry in entries {
                    if let Some(counter) = group_count_key(tree, group) {
                        *counted.entry(counter).or_default() += 1;
                    }
                    match expected.remove(&(tree, group.to_vec(), entry.suffix)) {
                        Some(payload) if payload == entry.payload => {}
                        Some(_) => problems.push(format!(
                            "{name}: entry {} does not hold its item's home and text",
                            hex(&entry.suffix)
                        )),
                        None => problems.push(format!(
                            "{name}: entry {} in group {} points at no matching item",
                            hex(&entry.suffix),
                            hex(group)
                        )),
                    }
                }
            }
        }
        for (tree, group, suffix) in expected.keys() {
            problems.push(format!(
                "{}: missing entry {} in group {} for a stored item",
                tree.name(),
                hex(suffix),
                hex(group)
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
        // Full text and fetch state: only for stored items, decodable, counted.
        for (tree, id_tree, name) in [
            (&self.content, TreeId::Content, "content"),
            (&self.text_state, TreeId::TextState, "text_state"),
        ] {
            for entry in tree.iter() {
                let (key, value) = entry?;
                if let Some(counter) = count_key(id_tree, &key) {
                    *counted.entry(counter).or_default() += 1;
                }
                if !id16(Some(key.as_ref())).is_some_and(|id| item_ids.contains(&id)) {
                    problems.push(format!("{name}: entry {} belongs to no item", hex(&key)));
                }
                if id_tree == TreeId::TextState {
                    if let Err(e) = content::decode_text_state(&value) {
                        problems.push(format!("{name}: entry {}: {e}", hex(&key)));
                    }
                } else if content::decompress_text(&value).is_err() {
                    problems.push(format!("{name}: entry {} does not decompress", hex(&key)));
                }
                if id_tree == TreeId::TextState && self.content.contains_key(&key)? {
                    problems.push(format!(
                        "{name}: entry {} is kept for an item whose text is stored",
                        hex(&key)
                    ));
                }
            }
        }
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
}
