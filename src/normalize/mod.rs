//! The normalize stage: raw [`Headline`]s → [`Observed`] stories ready for the store.
//!
//! It owns three rules that must be decided in exactly one place: what a story's identity is
//! (`url::identity_key`), how printed times become UTC (`time`), and which stories a section
//! keeps (its keep/block rules, through [`crate::rules`]). Cleaning and folding text are
//! [`crate::text`]'s, shared with extract and render. Everything here is pure; the clock is
//! passed in.

pub mod bounds;
pub mod search;
pub mod time;
pub mod url;

use chrono::{DateTime, Utc};

use crate::config::{Section, Source};
use crate::extract::Headline;
use crate::rules::StoryText;
use crate::text::{clean_text, title_key};

/// A headline after normalisation: identity decided, link canonical, time parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The identity key the store hashes into the item id (one rule: [`url::identity_key`]).
    pub identity: String,
    /// The canonical link served to readers.
    pub link: Option<String>,
    /// Clean title.
    pub title: String,
    /// Folded title used for cross-source matching.
    pub title_key: String,
    /// Sanitised HTML summary.
    pub summary: Option<String>,
    /// Author name.
    pub author: Option<String>,
    /// Image URL.
    pub image: Option<String>,
    /// The source's guid, kept for reference.
    pub guid: Option<String>,
    /// Published time in UTC when the source gave a believable one.
    pub published: Option<DateTime<Utc>>,
    /// Page labels (feed categories, on-page section labels), without the section name.
    pub page_labels: Vec<String>,
}

/// What keep/block rules read of a story.
impl<'a> From<&'a Observed> for StoryText<'a> {
    fn from(story: &'a Observed) -> Self {
        StoryText {
            title: &story.title,
            summary: story.summary.as_deref(),
            link: story.link.as_deref(),
            labels: &story.page_labels,
        }
    }
}

/// Problems noticed while normalising that do not stop the headline (for logs and `check`).
#[derive(Debug, Clone, Default)]
pub struct NormalizeNotes {
    /// Time texts that were not understood (examples; the headline falls back to first-seen).
    pub times_not_understood: Vec<String>,
    /// Times more than a day in the future that were not believed.
    pub times_in_future: Vec<String>,
    /// Times before 1990 that were not believed.
    pub times_too_old: Vec<String>,
    /// For each returned story, in order: why its printed time was not used (`None` when it was
    /// used or there was none), for `check`.
    pub time_reasons: Vec<Option<&'static str>>,
}

/// Longest time text kept in the notes (examples for logs and `check`).
const MAX_NOTE_CHARS: usize = 120;

/// Normalises one page's headlines for `source`/`section`, as seen at `now`.
pub fn normalize_headlines(
    headlines: Vec<Headline>,
    source: &Source,
    section: &Section,
    now: DateTime<Utc>,
) -> (Vec<Observed>, NormalizeNotes) {
    let mut notes = NormalizeNotes::default();
    let ctx = time::TimeContext {
        zone: source.timezone,
        now,
        format: section.time_format.as_deref(),
    };
    let observed = headlines
        .into_iter()
        .filter_map(|headline| {
            // Clipped before its key is taken, so the key matches what is stored.
            let mut title =
                bounds::clip_chars(&clean_text(&headline.title), bounds::MAX_TITLE_CHARS)
                    .into_owned();
            if title.is_empty() {
                return None;
            }
            let link = bounds::bounded_url(
                headline
                    .link
                    .as_deref()
                    .and_then(|l| url::canonical_link(l, &source.strip_params)),
            );
            let guid = headline.guid.filter(|g| g.len() <= bounds::MAX_URL_BYTES);
            let title_key = title_key(&title);
            let identity = url::identity_key(link.as_deref(), guid.as_deref(), &title_key, source);
            let mut reason = None;
            let published = headline.time_text.as_deref().and_then(|raw| {
                let example = bounds::clip_chars(raw, MAX_NOTE_CHARS).into_owned();
                match time::parse_time(raw, &ctx) {
                    Ok(parsed) => Some(time::resolve_published(&parsed, now, source.timezone)),
                    Err(time::TimeError::TooOld { .. }) => {
                        notes.times_too_old.push(example);
                        reason = Some("before 1990, not believed");
                        None
                    }
                    Err(time::TimeError::InFuture { .. }) => {
                        notes.times_in_future.push(example);
                        reason = Some("more than a day in the future, not believed");
                        None
                    }
                    Err(_) => {
                        notes.times_not_understood.push(example);
                        reason = Some("not understood");
                        None
                    }
                }
            });
            notes.time_reasons.push(reason);
            let mut page_labels: Vec<String> = Vec::new();
            for label in headline.labels {
                let label = clean_text(&label);
                if !label.is_empty() && !page_labels.contains(&label) {
                    page_labels.push(label);
                }
            }
            let mut summary = headline.summary.filter(|s| !s.trim().is_empty());
            let mut author = headline
                .author
                .map(|a| clean_text(&a))
                .filter(|a| !a.is_empty());
            bounds::clip_item_text(&mut title, &mut summary, &mut author, &mut page_labels);
            Some(Observed {
                identity,
                link,
                title,
                title_key,
                summary,
                author,
                image: bounds::bounded_url(headline.image),
                guid,
                published,
                page_labels,
            })
        })
        .collect();
    (observed, notes)
}
