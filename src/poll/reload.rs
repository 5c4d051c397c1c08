//! What a reload changes: sections added, removed or changed (by a fingerprint of their settings
//! and their source's), and whether `[poll]` changed. The supervisor acts on the fingerprints; the
//! summary is for the log.

use std::collections::HashMap;
use std::fmt;

use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Config, Section, Source};

/// What a reload changed, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Keys of sections that are new.
    pub added: Vec<String>,
    /// Keys of sections that are gone (their stored items stay).
    pub removed: Vec<String>,
    /// Keys of sections whose settings (or their source's) changed.
    pub changed: Vec<String>,
    /// `[poll]` changed: the HTTP client and caps were rebuilt.
    pub poll_settings_changed: bool,
}

impl ReloadSummary {
    pub(super) fn between(old: &Config, new: &Config) -> ReloadSummary {
        let old_sections: HashMap<String, u64> = old
            .sections()
            .map(|(so, se)| (se.key(so), section_fingerprint(so, se)))
            .collect();
        let mut summary = ReloadSummary {
            poll_settings_changed: old.poll != new.poll,
            ..ReloadSummary::default()
        };
        let mut seen = std::collections::HashSet::new();
        for (source, section) in new.sections() {
            let key = section.key(source);
            match old_sections.get(&key) {
                None => summary.added.push(key.clone()),
                Some(fp) if *fp != section_fingerprint(source, section) => {
                    summary.changed.push(key.clone())
                }
                Some(_) => {}
            }
            seen.insert(key);
        }
        summary.removed = old_sections
            .into_keys()
            .filter(|key| !seen.contains(key))
            .collect();
        summary.added.sort();
        summary.removed.sort();
        summary.changed.sort();
        summary
    }

    /// True when the reload changed nothing the poller acts on.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.poll_settings_changed
    }
}

impl fmt::Display for ReloadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "no section or [poll] changes");
        }
        let mut parts = Vec::new();
        for (what, keys) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
        ] {
            if !keys.is_empty() {
                parts.push(format!("{} {what} ({})", keys.len(), keys.join(", ")));
            }
        }
        if self.poll_settings_changed {
            parts.push("[poll] settings changed".into());
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// A hash of everything that shapes how a section is fetched and read: its own settings and its
/// source's (everything but the sibling sections). A change restarts the section's task, and the
/// unchanged-body check is keyed by it so new selectors re-read an old page.
pub fn section_fingerprint(source: &Source, section: &Section) -> u64 {
    // Hashes the source without its sections (so a sibling's edit does not restart this one).
    let source_settings = source.without_sections();
    xxh3_64(format!("{source_settings:?}\u{0}{section:?}").as_bytes())
}
