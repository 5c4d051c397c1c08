//! Applying one polled page: each observation resolved to an item (by id, alias or title), the
//! writes planned, and all of them committed in one sled transaction with the index counters.

use super::*;

/// A planned write for one item: the new record and the index keys to add.
pub(super) struct ItemWrite {
    pub(super) id: [u8; 16],
    pub(super) item: Item,
    /// The item's home prefix ([`home_prefix`]): its `stories` cluster, the value of its
    /// index entries.
    pub(super) home: [u8; 8],
    pub(super) new_index_keys: Vec<IndexEntry>,
    /// Set for a new item: its `titles` entry.
    pub(super) title_entry: Option<Vec<u8>>,
    /// Set when the title or summary is new: the folded search text for the `by_time` value.
    pub(super) search_text: Option<String>,
}

/// Everything one batch will write, built up while resolving its observations.
#[derive(Default)]
pub(super) struct BatchPlan {
    pub(super) writes: Vec<ItemWrite>,
    pub(super) planned: HashMap<[u8; 16], usize>,
    /// New aliases: merged id → item id.
    pub(super) aliases: HashMap<[u8; 16], [u8; 16]>,
    /// Aliases whose item is gone (only after outside damage): (alias, old target) to drop.
    pub(super) dangling: Vec<([u8; 16], [u8; 16])>,
}

/// Where an observation goes.
pub(super) enum Resolved {
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
pub(super) enum TitleMatch {
    Item([u8; 16], Box<Item>),
    Tombstone,
    None,
}

impl Store {
    /// The item as this batch will leave it: planned if planned, else stored.
    pub(super) fn current(
        &self,
        id: &[u8; 16],
        plan: &BatchPlan,
    ) -> Result<Option<Item>, StoreError> {
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

    pub(super) fn apply_inner(
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
                    if plan.writes[i].search_text.is_none() {
                        plan.writes[i].search_text = previous.search_text;
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
            m.touch_item(&write.item);
            let published = write.item.published;
            m.put(
                TreeId::Stories,
                story_key(write.home, published, &write.id),
                encode_item(&write.item),
            );
            for entry in &write.new_index_keys {
                m.index_put(entry.clone(), write.home.to_vec());
            }
            if let Some(text) = &write.search_text {
                m.index_put(
                    (
                        TreeId::TimeIndex,
                        Vec::new(),
                        suffix_of(published, &write.id),
                    ),
                    by_time_value(write.home, text),
                );
            }
            if let Some(entry) = &write.title_entry {
                m.put(
                    TreeId::Locations,
                    write.id.to_vec(),
                    location_value(write.home, published),
                );
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
    pub(super) fn resolve(
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
    pub(super) fn find_title_match(
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

    /// The display labels and folded label keys an observation in `ctx` carries, and the home
    /// prefix of a story first seen there ([`home_prefix_of`] of the section key).
    pub(super) fn label_keys_for(
        obs: &Observed,
        ctx: &BatchContext<'_>,
    ) -> (Vec<String>, Vec<String>, [u8; 8]) {
        let mut labels = vec![ctx.section_name.to_string()];
        for label in &obs.page_labels {
            if !labels.contains(label) {
                labels.push(label.clone());
            }
        }
        let section = fold_label(ctx.section_key);
        let home = prefix8(&section);
        let mut keys: Vec<String> = Vec::new();
        for key in std::iter::once(section).chain(obs.page_labels.iter().map(|l| fold_label(l))) {
            if !key.is_empty() && !keys.contains(&key) {
                keys.push(key);
            }
        }
        (labels, keys, home)
    }

    pub(super) fn plan_new(
        &self,
        id: [u8; 16],
        obs: &Observed,
        ctx: &BatchContext<'_>,
    ) -> ItemWrite {
        // The normalizer already drops unbelievable times (and says why); this keeps the
        // invariant for every caller.
        let published = obs
            .published
            .filter(|t| published_is_believable(*t, ctx.now))
            .unwrap_or(ctx.now);
        let (labels, label_keys, home) = Self::label_keys_for(obs, ctx);
        // The time index is written with the search text; the home label's feed reads
        // `stories`.
        let suffix = suffix_of(published, &id);
        let mut new_index_keys =
            vec![(TreeId::SourceIndex, prefix8(ctx.source_id).to_vec(), suffix)];
        for key in &label_keys {
            let prefix = prefix8(key);
            if prefix != home {
                new_index_keys.push((TreeId::LabelIndex, prefix.to_vec(), suffix));
            }
        }
        ItemWrite {
            id,
            home,
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
                content: None,
            },
            new_index_keys,
            title_entry: Some(title_entry(&obs.title_key, &id)),
            search_text: Some(search_text(&obs.title, obs.summary.as_deref())),
        }
    }

    /// Plans an update of an existing item; `None` when nothing changes.
    pub(super) fn plan_update(
        &self,
        id: [u8; 16],
        mut item: Item,
        obs: &Observed,
        ctx: &BatchContext<'_>,
    ) -> Option<ItemWrite> {
        let mut changed = false;
        let mut text_changed = false;
        let mut new_index_keys = Vec::new();
        let same_story = item.identity == obs.identity;
        // The section that first saw the story owns its text; a cross-source title match adds
        // labels and sources but never rewrites it.
        let owner =
            same_story && item.sections.first().map(String::as_str) == Some(ctx.section_key);
        if owner && item.title != obs.title {
            item.title = obs.title.clone();
            text_changed = true;
        }
        if obs.summary.is_some()
            && item.summary != obs.summary
            && (owner || (same_story && item.summary.is_none()))
        {
            item.summary = obs.summary.clone();
            text_changed = true;
        }
        changed |= text_changed;
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
                TreeId::SourceIndex,
                prefix8(ctx.source_id).to_vec(),
                suffix_of(item.published, &id),
            ));
            changed = true;
        }
        if !item.sections.iter().any(|s| s == ctx.section_key) {
            item.sections.push(ctx.section_key.to_string());
            changed = true;
        }
        let (labels, keys, here) = Self::label_keys_for(obs, ctx);
        let home = if item.sections.first().map(String::as_str) == Some(ctx.section_key) {
            here
        } else {
            home_prefix(&item)
        };
        for label in labels {
            if !item.labels.contains(&label) {
                item.labels.push(label);
                changed = true;
            }
        }
        for key in keys {
            if !item.has_label_key(&key) {
                let prefix = prefix8(&key);
                if prefix != home {
                    new_index_keys.push((
                        TreeId::LabelIndex,
                        prefix.to_vec(),
                        suffix_of(item.published, &id),
                    ));
                }
                item.label_keys.push(key);
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        item.updated = ctx.now;
        let search_text = text_changed.then(|| search_text(&item.title, item.summary.as_deref()));
        Some(ItemWrite {
            id,
            home,
            item,
            new_index_keys,
            title_entry: None,
            search_text,
        })
    }

    /// Applies `m` as one transaction across every tree, with the item count; when `visible`
    /// (feeds change) also stamps the last change and bumps the generation. Its packed index
    /// changes are first turned into chunk writes, reading the chunks they land in: the caller
    /// holds the writer lock, so nothing else writes them in between. Readers in
    /// [`Store::query`] wait for the transaction.
    pub(super) fn commit(
        &self,
        m: &Mutations,
        now: DateTime<Utc>,
        visible: bool,
    ) -> Result<(), StoreError> {
        if m.ops.is_empty() && m.item_delta == 0 && m.index.is_empty() {
            return Ok(());
        }
        let mut chunk_ops: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        // Counters of packed groups move by the entries added and removed, not by keys.
        let mut group_deltas: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        for ((tree, group), change) in &m.index {
            let plan = plan_group(
                self.tree(*tree),
                tree.name(),
                group,
                change.adds.clone(),
                change.removes.clone(),
                chunk_caps(*tree),
            )?;
            if let Some(counter) = group_count_key(*tree, group) {
                let delta = plan.added as i64 - plan.removed as i64;
                if delta != 0 {
                    *group_deltas.entry(counter).or_default() += delta;
                }
            }
            chunk_ops.extend(plan.deletes.into_iter().map(|key| (*tree, key, None)));
            chunk_ops.extend(
                plan.puts
                    .into_iter()
                    .map(|(key, value)| (*tree, key, Some(value))),
            );
        }
        let _exclusive = self.commit_lock.write().unwrap_or_else(|e| e.into_inner());
        let trees: Vec<&sled::Tree> = TreeId::ALL.iter().map(|id| self.tree(*id)).collect();
        let result = trees.as_slice().transaction(|t| {
            // Indexed by `TreeId`, in the order of `TreeId::ALL`.
            let tree_of = |id: TreeId| {
                t.get(id as usize)
                    .ok_or(ConflictableTransactionError::Abort(()))
            };
            let meta = tree_of(TreeId::Meta)?;
            // Index counters move by what actually changed (an insert over an existing
            // key or a remove of a missing one counts nothing).
            let mut count_deltas: BTreeMap<Vec<u8>, i64> = group_deltas.clone();
            for (tree_id, key, value) in m.ops.iter().chain(chunk_ops.iter()) {
                let tree = tree_of(*tree_id)?;
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
                if delta == 0 {
                    continue;
                }
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
        });
        match result {
            Ok(()) => {
                if visible {
                    // After the transaction landed, so a reader that sees the new generation of
                    // a feed key also sees the data that moved it.
                    let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
                    let keys = m
                        .ops
                        .iter()
                        .chain(chunk_ops.iter())
                        .filter_map(|(tree, key, _)| feed_key_of(*tree, key))
                        .chain(m.touched.iter().copied());
                    let mut feeds = self
                        .feed_generations
                        .write()
                        .unwrap_or_else(|e| e.into_inner());
                    for key in keys {
                        feeds.insert(key, generation);
                    }
                }
                Ok(())
            }
            Err(TransactionError::Storage(e)) => Err(StoreError::Io(e)),
            Err(TransactionError::Abort(())) => Err(StoreError::Transaction {
                tree: m.ops.first().map_or("meta", |(tree, _, _)| tree.name()),
            }),
        }
    }
}
