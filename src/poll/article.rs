//! Full text: after a `full_text` section's headlines are stored, the pages of a few of its
//! stories that have no text yet are fetched (newest first, at most
//! [`crate::config::PollSettings::full_text_per_poll`] per poll, through the same per-host cap,
//! host delay, timeouts, body cap and charset detection as the section's own page), their
//! article bodies extracted ([`crate::fulltext`]) and stored with the item. Headlines never wait
//! for their text: the rest follow on later polls. A failed fetch is recorded on the item and
//! retried after [`TEXT_RETRY_BASE`], four times longer after each further failure; after
//! [`TEXT_ATTEMPTS`] failures the story is left without text.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::supervise::join_error_message;
use super::Poller;
use crate::config::{Section, Source};
use crate::decode::Expect;
use crate::fetch::{FetchError, FetchOutcome, Validators};
use crate::fulltext::{self, ArticleError};
use crate::store::StoreError;

/// Failed text fetches after which a story is left without text.
pub const TEXT_ATTEMPTS: u32 = 4;
/// The wait after a story's first failed text fetch; each further failure waits four times as
/// long (15 min, 1 h, 4 h).
pub const TEXT_RETRY_BASE: Duration = Duration::from_secs(15 * 60);
/// How far ahead a story that used up its attempts is parked (effectively: never again).
const GIVE_UP: chrono::Duration = chrono::Duration::days(3650);

/// What one poll's text fetching did, for the section's status and `poll --once`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TextReport {
    /// Stories whose text was fetched and stored.
    pub fetched: usize,
    /// Stories whose fetch failed (recorded on the item, retried later or given up).
    pub failed: usize,
}

/// Why one story's text could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The story has no http(s) link to fetch.
    #[error("the story has no link to fetch")]
    NoLink,
    /// The request failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The server answered 304 to an unconditional request.
    #[error("the server answered 304 Not Modified to a request without validators")]
    NotModified,
    /// No article body was found on the page.
    #[error(transparent)]
    Article(#[from] ArticleError),
    /// Extraction failed inside headwire (e.g. a panic on odd input).
    #[error("internal error while extracting the text: {0}")]
    Internal(String),
    /// The story could not be read from the store: not the story's fault, so nothing is
    /// recorded on it and the round ends.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TextError {
    /// Whether a later attempt could succeed (a page without a link never gets one; a page
    /// whose body no selector matches may change, so extraction failures are retried too).
    fn retryable(&self) -> bool {
        !matches!(self, TextError::NoLink)
    }
}

/// When a story whose text fetch failed for the `attempts`-th time is tried again: the base
/// wait times 4^(attempts − 1), or never once [`TEXT_ATTEMPTS`] are used up.
pub fn next_text_attempt(now: DateTime<Utc>, attempts: u32) -> DateTime<Utc> {
    if attempts >= TEXT_ATTEMPTS {
        return now.checked_add_signed(GIVE_UP).unwrap_or(now);
    }
    let factor = 4u32.saturating_pow(attempts.saturating_sub(1));
    let wait = TEXT_RETRY_BASE.saturating_mul(factor);
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .unwrap_or(now)
}

impl Poller {
    /// Fetches and stores the text of up to `full_text_per_poll` of the section's stories that
    /// need it and are due; stops early (between fetches) when `stop` turns true. Store errors
    /// end the round and are logged: the headlines are already stored, and the next poll tries
    /// again.
    pub(super) async fn fetch_texts(
        &self,
        source: &Source,
        section: &Section,
        mut stop: Option<&mut watch::Receiver<bool>>,
    ) -> TextReport {
        let mut report = TextReport::default();
        if !section.full_text {
            return report;
        }
        let key = section.key(source);
        let budget = self.config().poll.full_text_per_poll;
        let due = match self.store.items_needing_text(&key, (self.clock)(), budget) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(section = %key, "cannot list stories that need their text: {e}");
                return report;
            }
        };
        for id in due {
            if stop.as_deref_mut().is_some_and(|s| *s.borrow()) {
                break;
            }
            let outcome = self.fetch_text(source, section, &id).await;
            if let Err(e) = self.record_text(&key, &id, outcome, &mut report) {
                tracing::error!(section = %key, "cannot store a story's text: {e}");
                break;
            }
        }
        report
    }

    /// Stores a fetched text, or the failed attempt with its retry time.
    fn record_text(
        &self,
        key: &str,
        id: &str,
        outcome: Result<String, TextError>,
        report: &mut TextReport,
    ) -> Result<(), StoreError> {
        match outcome {
            Ok(html) => {
                if self.store.put_text(id, &html)? {
                    report.fetched += 1;
                }
            }
            Err(TextError::Store(e)) => return Err(e),
            Err(e) => {
                report.failed += 1;
                let now = (self.clock)();
                let retry = e.retryable();
                let state = self
                    .store
                    .record_text_failure(id, &e.to_string(), |attempts| {
                        next_text_attempt(now, if retry { attempts } else { TEXT_ATTEMPTS })
                    })?;
                if let Some(state) = state {
                    tracing::info!(section = %key, item = %id, attempt = state.attempts, "full text not stored: {e}");
                }
            }
        }
        Ok(())
    }

    /// Fetches one story's page under the poll caps and extracts its article body.
    async fn fetch_text(
        &self,
        source: &Source,
        section: &Section,
        id: &str,
    ) -> Result<String, TextError> {
        let link = self
            .store
            .get(id)?
            .and_then(|item| item.link)
            .and_then(|link| url::Url::parse(&link).ok())
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or(TextError::NoLink)?;
        let limits = self.limits();
        let permits = limits.admit(&link).await;
        let fetched = limits
            .fetcher
            .fetch(&link, &source.headers, &Validators::default())
            .await;
        drop(permits);
        let body = match fetched? {
            FetchOutcome::Body(body) => body,
            FetchOutcome::NotModified => return Err(TextError::NotModified),
        };
        let selectors = section.content.clone();
        let work = tokio::task::spawn_blocking(move || {
            let page = body.document(Expect::Html);
            let selectors = (!selectors.is_empty()).then_some(selectors.as_slice());
            fulltext::extract_article(&page.text, &body.final_url, selectors)
        });
        match work.await {
            Ok(article) => Ok(article?.html),
            Err(e) => Err(TextError::Internal(join_error_message(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retries_wait_four_times_longer_then_give_up() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let wait = |attempts| next_text_attempt(now, attempts) - now;
        assert_eq!(wait(1), chrono::Duration::minutes(15));
        assert_eq!(wait(2), chrono::Duration::hours(1));
        assert_eq!(wait(3), chrono::Duration::hours(4));
        assert!(wait(TEXT_ATTEMPTS) > chrono::Duration::days(365));
        assert!(wait(u32::MAX) > chrono::Duration::days(365));
    }
}
