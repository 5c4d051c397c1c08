//! One poll of one section: wait for the host and global caps, send a conditional GET with the
//! validators earned under the same settings, skip an unchanged body by its hash, process and
//! store the rest on the blocking pool, and record the outcome in the section's status.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::process::process_and_store;
use super::supervise::join_error_message;
use super::{PollError, Poller, SectionReport, Stopped};
use crate::config::{Section, Source};
use crate::fetch::{FetchError, FetchOutcome, Fetched, Validators};
use crate::metrics::PollMetrics;
use crate::store::SectionStatus;

/// Records a failed poll in the section's status and the metrics: one more failure in a row,
/// with its kind and message.
fn note_failure(key: &str, status: &mut SectionStatus, error: &PollError, metrics: &PollMetrics) {
    metrics.failures.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(section = %key, kind = error.kind(), "poll failed: {error}");
    status.consecutive_failures = status.consecutive_failures.saturating_add(1);
    status.last_error_kind = Some(error.kind().to_string());
    status.last_error = Some(error.to_string());
}

impl Poller {
    /// Records a poll that failed inside headwire as the section's `internal` error.
    pub(super) fn record_internal_failure(
        &self,
        source: &Source,
        section: &Section,
        message: String,
    ) -> SectionReport {
        let key = section.key(source);
        let error = PollError::Internal(message);
        let mut status = self.store.section_status(&key).unwrap_or_else(|e| {
            tracing::error!(section = %key, "cannot read poll status ({e}); its failure count starts again");
            SectionStatus::default()
        });
        status.last_attempt = Some((self.clock)());
        note_failure(&key, &mut status, &error, &self.metrics);
        if let Err(e) = self.store.set_section_status(&key, &status) {
            tracing::error!(section = %key, "cannot record poll status: {e}");
        }
        SectionReport {
            error: Some(error),
            consecutive_failures: status.consecutive_failures,
            ..SectionReport::empty(key)
        }
    }

    /// The poll itself. Waiting for the caps is cancelled by `stop`; once the request is sent,
    /// the poll runs to completion (bounded by the request timeout).
    pub(super) async fn poll_inner(
        &self,
        source: &Source,
        section: &Section,
        fingerprint: u64,
        mut stop: Option<&mut watch::Receiver<bool>>,
    ) -> Result<SectionReport, Stopped> {
        let key = section.key(source);
        let limits = self.limits();
        let admission = limits.admit(&section.url);
        let permits = match stop.as_deref_mut() {
            Some(stop) => tokio::select! {
                permits = admission => permits,
                _ = stop.wait_for(|stopping| *stopping) => return Err(Stopped),
            },
            None => admission.await,
        };

        let mut report = SectionReport::empty(key.clone());
        self.metrics.polls.fetch_add(1, Ordering::Relaxed);
        let mut status = match self.store.section_status(&key) {
            Ok(status) => status,
            // Without its status a poll cannot send its validators or count its failures, and
            // writing a fresh one would erase them: the poll fails with the store's error.
            Err(e) => {
                let error = PollError::Store(e);
                let mut unread = SectionStatus::default();
                note_failure(&key, &mut unread, &error, &self.metrics);
                report.error = Some(error);
                report.consecutive_failures = unread.consecutive_failures;
                return Ok(report);
            }
        };
        status.last_attempt = Some((self.clock)());
        // Validators earned under other settings (selectors edited while headwire was stopped)
        // would let the portal answer 304 to a page the new rules never read.
        let validators = if status.settings == Some(fingerprint) {
            Validators {
                etag: status.etag.clone(),
                last_modified: status.last_modified.clone(),
            }
        } else {
            Validators::default()
        };
        let fetched = limits
            .fetcher
            .fetch(&section.url, &source.headers, &validators)
            .await;
        drop(permits);

        // On success: the validators and body hash to remember (None after a 304: keep them).
        let result = match fetched {
            Ok(FetchOutcome::NotModified) => {
                report.unchanged = true;
                Ok(None)
            }
            Ok(FetchOutcome::Body(body)) => {
                let hash = xxh3_64_with_seed(&body.bytes, fingerprint);
                if status.body_hash == Some(hash) && status.consecutive_failures == 0 {
                    report.unchanged = true;
                    Ok(Some((body.validators, hash)))
                } else {
                    let now = (self.clock)();
                    let validators = body.validators.clone();
                    self.process_and_store_blocking(body, source, section, now, &mut report)
                        .await
                        .map(|()| Some((validators, hash)))
                }
            }
            Err(e) => Err(PollError::Fetch(e)),
        };
        match result {
            Ok(fresh) => {
                // Validators are kept only for a body that was read successfully: a page whose
                // selectors failed must not be answered `304` and counted as fine next time.
                if let Some((validators, hash)) = fresh {
                    status.etag = validators.etag;
                    status.last_modified = validators.last_modified;
                    status.body_hash = Some(hash);
                    status.settings = Some(fingerprint);
                }
                if report.unchanged {
                    self.metrics.unchanged.fetch_add(1, Ordering::Relaxed);
                } else {
                    status.last_found = report.found;
                    status.last_new = report.new;
                    status.last_blocked = report.blocked;
                }
                status.last_success = Some((self.clock)());
                status.consecutive_failures = 0;
                status.last_error = None;
                status.last_error_kind = None;
            }
            Err(e) => {
                if let PollError::Fetch(FetchError::Status { retry_after, .. }) = &e {
                    report.retry_after = *retry_after;
                }
                note_failure(&key, &mut status, &e, &self.metrics);
                report.error = Some(e);
            }
        }
        report.consecutive_failures = status.consecutive_failures;
        if let Err(e) = self.store.set_section_status(&key, &status) {
            tracing::error!(section = %key, "cannot record poll status: {e}");
        }
        if report.error.is_none() {
            report.texts = self.fetch_texts(source, section, stop).await;
            let texts = report.texts;
            let count = |n: usize| n.try_into().unwrap_or(u64::MAX);
            (self.metrics.texts_fetched).fetch_add(count(texts.fetched), Ordering::Relaxed);
            (self.metrics.texts_failed).fetch_add(count(texts.failed), Ordering::Relaxed);
        }
        Ok(report)
    }

    /// Parses and stores a fetched body on the blocking pool: a large page takes CPU for a
    /// while (async workers stay free meanwhile), and a panic on odd input becomes this
    /// section's `internal` error instead of ending its task.
    pub(super) async fn process_and_store_blocking(
        &self,
        body: Fetched,
        source: &Source,
        section: &Section,
        now: DateTime<Utc>,
        report: &mut SectionReport,
    ) -> Result<(), PollError> {
        let store = self.store.clone();
        let metrics = self.metrics.clone();
        let config = self.config();
        let source = source.without_sections();
        let section = section.clone();
        let work = tokio::task::spawn_blocking(move || {
            process_and_store(&store, &metrics, &config, &body, &source, &section, now)
        });
        let (found, new, blocked) = match work.await {
            Ok(result) => result?,
            Err(e) => return Err(PollError::Internal(join_error_message(e))),
        };
        report.found = found;
        report.new = new;
        report.blocked = blocked;
        Ok(())
    }
}
