//! Retention: which stories a source no longer keeps (first stored more than `keep_days` ago and
//! no longer listed, or beyond `keep_items`), their deletion into tombstones, and forgetting
//! tombstones whose window has passed.

use super::*;

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
    pub(super) fn tombstone_days(&self) -> u32 {
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

/// The first-seen time before which a source keeping `days` days drops a story.
pub(super) fn age_cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now.checked_sub_signed(chrono::Duration::days(i64::from(days)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Store {
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
                for entry in scan_group(&self.source_index, "source_index", &prefix).skip(keep) {
                    if let Some(id) = id16(entry?.suffix.get(8..24)) {
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
                let start = suffix_of(cutoff, &[0xff; 16]);
                let older = scan_group_from(&self.source_index, "source_index", &prefix, &start);
                for entry in older {
                    let entry = entry?;
                    if entry.suffix <= start {
                        continue;
                    }
                    if let Some(id) = id16(entry.suffix.get(8..24)) {
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
                    && scan_group(&self.source_index, "source_index", &prefix8(source))
                        .next()
                        .is_none()
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
    pub(super) fn plan_delete(
        &self,
        m: &mut Mutations,
        id: &[u8; 16],
        item: &Item,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        m.del(
            TreeId::Stories,
            story_key(home_prefix(item), item.published, id),
        );
        m.del(TreeId::Locations, id.to_vec());
        m.del(TreeId::Content, id.to_vec());
        m.del(TreeId::TextState, id.to_vec());
        m.item_delta -= 1;
        for entry in index_entries(item, id) {
            m.index_del(entry);
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

    pub(super) fn plan_tombstone(
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
    pub(super) fn purge_tombstones(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
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
}
