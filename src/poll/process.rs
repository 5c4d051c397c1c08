//! What a fetched body becomes: the section's headlines (HTML selectors or a feed parser),
//! normalised stories, the `keep`/`block` verdicts, and the batch the store commits. Shared with
//! `headwire check` and `suggest` through [`process_body`], so what they show is what polling
//! stores.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use super::PollError;
use crate::config::{Config, Section, SectionKind, Source};
use crate::decode::{decode_document, Decoded, Expect};
use crate::extract::{feed, html};
use crate::fetch::Fetched;
use crate::metrics::PollMetrics;
use crate::normalize::{normalize_headlines, NormalizeNotes, Observed};
use crate::store::{BatchContext, Store};

/// What processing a body produced, before storing (shared with `headwire check`).
#[derive(Debug, Default)]
pub struct Processed {
    /// Normalised stories.
    pub observed: Vec<Observed>,
    /// Item-selector matches (HTML) or feed entries.
    pub matched: usize,
    /// Skipped for lack of title.
    pub skipped_no_title: usize,
    /// Skipped for lack of link.
    pub skipped_no_link: usize,
    /// Optional fields that matched nothing.
    pub unmatched_fields: Vec<&'static str>,
    /// Time texts that were not understood or not believed.
    pub notes: NormalizeNotes,
    /// Raw time text per observed story, same order (for `check`).
    pub raw_times: Vec<Option<String>>,
    /// How the charset was decided.
    pub charset: String,
    /// Headlines `keep`/`block` rules dropped, in page order, with the reason (for `check`).
    pub blocked: Vec<(Observed, crate::rules::Dropped)>,
}

/// What a section's page is expected to be.
pub fn expected(section: &Section) -> Expect {
    match section.kind {
        SectionKind::Html(_) => Expect::Html,
        SectionKind::Feed => Expect::Feed,
    }
}

/// Decodes, extracts and normalises a body for a section (see [`process_document`]); for
/// callers that hold bytes rather than a fetch (`headwire check`, `suggest`, tests).
pub fn process_body(
    bytes: &[u8],
    content_type: Option<&str>,
    page_url: &url::Url,
    source: &Source,
    section: &Section,
    now: DateTime<Utc>,
) -> Result<Processed, PollError> {
    let document = decode_document(bytes, content_type, expected(section));
    process_document(&document, page_url, source, section, now)
}

/// Extracts and normalises a decoded page or feed for a section, then applies the source's and
/// section's `keep`/`block` rules (pure apart from logging).
pub fn process_document(
    document: &Decoded,
    page_url: &url::Url,
    source: &Source,
    section: &Section,
    now: DateTime<Utc>,
) -> Result<Processed, PollError> {
    let (headlines, mut processed) = match &section.kind {
        SectionKind::Html(rules) => {
            let page = html::extract_page(&document.text, page_url, rules, section.limit)?;
            let processed = Processed {
                matched: page.matched,
                skipped_no_title: page.skipped_no_title,
                skipped_no_link: page.skipped_no_link,
                unmatched_fields: page.unmatched_fields,
                charset: document.explain(),
                ..Processed::default()
            };
            (page.headlines, processed)
        }
        SectionKind::Feed => {
            let parsed = feed::parse_feed_limited(&document.text, page_url, section.limit)?;
            let mut headlines = parsed.headlines;
            if let Some(limit) = section.limit {
                headlines.truncate(limit);
            }
            let processed = Processed {
                matched: headlines.len(),
                charset: document.explain(),
                ..Processed::default()
            };
            (headlines, processed)
        }
    };
    let raw_times: Vec<Option<String>> = headlines.iter().map(|h| h.time_text.clone()).collect();
    let (observed, mut notes) = normalize_headlines(headlines, source, section, now);
    let rules = &section.rules;
    if rules.is_empty() {
        processed.raw_times = raw_times;
        processed.observed = observed;
    } else {
        // Observed stories, raw times and time reasons are parallel lists: filter them together.
        let mut reasons = std::mem::take(&mut notes.time_reasons).into_iter();
        let mut raw_times = raw_times.into_iter();
        for story in observed {
            let (raw, reason) = (raw_times.next().flatten(), reasons.next().flatten());
            match rules.verdict(&story) {
                None => {
                    processed.observed.push(story);
                    processed.raw_times.push(raw);
                    notes.time_reasons.push(reason);
                }
                Some(why) => processed.blocked.push((story, why)),
            }
        }
    }
    processed.notes = notes;
    Ok(processed)
}

/// Decodes (through the fetch), extracts, normalises and stores one body; returns (found, new,
/// blocked).
pub(super) fn process_and_store(
    store: &Store,
    metrics: &PollMetrics,
    config: &Config,
    body: &Fetched,
    source: &Source,
    section: &Section,
    now: DateTime<Utc>,
) -> Result<(usize, usize, usize), PollError> {
    inject_test_panic(&section.key(source));
    let document = body.document(expected(section));
    let processed = process_document(&document, &body.final_url, source, section, now)?;
    // One line per page and kind, not per headline: an archive page prints the same old
    // dates on every poll.
    let notes = &processed.notes;
    for (times, what) in [
        (&notes.times_not_understood, "not understood"),
        (&notes.times_too_old, "before 1990, not believed"),
        (
            &notes.times_in_future,
            "more than a day in the future, not believed",
        ),
    ] {
        if !times.is_empty() {
            tracing::info!(
                section = %section.key(source),
                examples = ?times.iter().take(3).collect::<Vec<_>>(),
                "{} time texts {what}; first-seen time used",
                times.len()
            );
        }
    }
    let key = section.key(source);
    let ctx = BatchContext {
        source_id: &source.id,
        section_key: &key,
        section_name: &section.name,
        title_window: config
            .store
            .title_window
            .and_then(|w| chrono::Duration::from_std(w).ok()),
        now,
    };
    let outcome = store.apply_batch(&ctx, &processed.observed)?;
    metrics
        .new_items
        .fetch_add(outcome.new as u64, Ordering::Relaxed);
    let blocked = processed.blocked.len();
    tracing::info!(section = %key, found = outcome.found, new = outcome.new, updated = outcome.updated, blocked, "polled");
    Ok((outcome.found, outcome.new, blocked))
}

/// Fault injection for tests of the supervision path, compiled into debug builds only:
/// `HEADWIRE_INJECT_PANIC=source/section[,…]` makes processing those sections panic, as a bug
/// on odd input would.
fn inject_test_panic(key: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("HEADWIRE_INJECT_PANIC").is_ok_and(|keys| keys.split(',').any(|k| k == key)) {
        panic!("injected panic for {key} (HEADWIRE_INJECT_PANIC)");
    }
    #[cfg(not(debug_assertions))]
    let _ = key;
}
