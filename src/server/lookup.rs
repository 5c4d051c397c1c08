//! Which configured sections a `?section=` value names: every section's folded labels (its
//! `source/section` key, id and name), computed once per configuration, and the store label keys
//! and poll intervals they lead to.

use crate::config::Config;

/// Whether a configured section answers a folded `?section=` value (its key, id or name).
/// Every configured section's folded labels (`source/section` key, id, name), computed once per
/// configuration: folding runs the traditional→simplified tables, far too slow to repeat for
/// every section on every rendered feed.
pub struct SectionLookup {
    /// Folded label → indexes into `sections`.
    by_label: std::collections::HashMap<String, Vec<usize>>,
    /// `source/section` key → index into `sections`.
    by_key: std::collections::HashMap<String, usize>,
    /// (source id, section name, poll interval) in config order.
    sections: Vec<(String, String, std::time::Duration)>,
    /// The folded `source/section` key of each entry of `sections`: what the store indexes.
    folded_keys: Vec<String>,
    /// Whether any section stores full text (feeds then read it with their items).
    pub(super) any_full_text: bool,
}

impl SectionLookup {
    /// Folds every section's labels of `config`.
    pub fn new(config: &Config) -> SectionLookup {
        use crate::text::fold_label;
        let mut lookup = SectionLookup {
            by_label: std::collections::HashMap::new(),
            by_key: std::collections::HashMap::new(),
            sections: Vec::new(),
            folded_keys: Vec::new(),
            any_full_text: config.sections().any(|(_, section)| section.full_text),
        };
        for (i, (source, section)) in config.sections().enumerate() {
            let key = section.key(source);
            for label in [
                fold_label(&key),
                fold_label(&section.id),
                fold_label(&section.name),
            ] {
                let entry = lookup.by_label.entry(label).or_default();
                if !entry.contains(&i) {
                    entry.push(i);
                }
            }
            lookup.folded_keys.push(fold_label(&key));
            lookup.by_key.insert(key, i);
            lookup
                .sections
                .push((source.id.clone(), section.name.clone(), section.interval));
        }
        lookup
    }

    /// Sections whose key, id or name folds to `label`.
    pub(super) fn matching(
        &self,
        label: &str,
    ) -> impl Iterator<Item = &(String, String, std::time::Duration)> {
        self.by_label
            .get(label)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.sections.get(i))
    }

    /// The store label keys a folded `?section=` value reads: the value itself (a page label, or
    /// the key of a section no longer configured) and the key of every configured section whose
    /// key, id or name folds to it. The store indexes only section keys and page labels.
    pub fn index_keys(&self, label: &str) -> Vec<String> {
        let mut keys = vec![label.to_string()];
        for &i in self.by_label.get(label).into_iter().flatten() {
            if let Some(key) = self.folded_keys.get(i) {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        keys
    }

    /// The poll interval of the section with this `source/section` key.
    pub(super) fn interval_of(&self, key: &str) -> Option<std::time::Duration> {
        self.by_key
            .get(key)
            .and_then(|&i| self.sections.get(i))
            .map(|s| s.2)
    }
}
