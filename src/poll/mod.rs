//! The polling engine: when each section is fetched, how many at once, and what happens to the
//! result.
//!
//! [`Poller::run`] supervises one task per section, keyed by the section's `source/section` key
//! and a fingerprint of its settings. Each task sleeps until its next due time, then fetches under
//! a per-host cap with a minimum delay between requests to one host and a global concurrency cap.
//! A page goes fetch (which decodes) → extract → normalize → store in [`Poller::poll_section`]; a `304`
//! or an unchanged body (hashed together with the section's settings) stops right after the fetch
//! and touches only the section's status. Failures back off exponentially per section (capped at
//! [`BACKOFF_CAP`]× the interval, `Retry-After` honoured within that bound) and never touch stored
//! items. First polls after a start are spread over the first interval; a section polled recently
//! (by the previous run) resumes when it is due instead, so restarts never poll early.
//!
//! [`Poller::reload`] swaps in a new validated config: the supervisor stops the tasks of removed
//! or changed sections, starts tasks for new or changed ones (first poll within
//! [`RELOAD_SPREAD`]), and rebuilds the HTTP client and caps only when `[poll]` changed. Stored
//! items are never touched by a reload. On shutdown, sleeping and queued polls stop at once and
//! polls already talking to a server are allowed to finish (the caller bounds that wait).
//! `headwire poll --once` runs the same per-section code, once, under the same caps.
//!
//! The files, top-down: [`schedule`] owns the delays (first poll, backoff, jitter),
//! [`limits`] the HTTP client and the caps built from `[poll]`, [`section`] one poll of one
//! section (admission, conditional fetch, status), [`process`] what a fetched body becomes
//! (extract → normalize → rules → store), [`supervise`] the per-section tasks, and [`reload`]
//! what a new config changes.

pub mod article;
mod limits;
pub mod process;
pub mod reload;
pub mod schedule;
mod section;
mod supervise;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::{Config, Section, Source};
use crate::extract::{feed, html};
use crate::fetch::FetchError;
use crate::metrics::PollMetrics;
use crate::store::{Store, StoreError};
use limits::Limits;
use supervise::join_error_message;

pub use article::TextReport;
pub use process::{expected, process_body, process_document, Processed};
pub use reload::{section_fingerprint, ReloadSummary};
pub use schedule::{
    backoff_base, initial_delay, next_delay, BACKOFF_CAP, FIRST_POLL_SPREAD, JITTER_FRACTION,
    RELOAD_SPREAD,
};

/// Why a section's poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The HTTP request failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The page yielded no items.
    #[error(transparent)]
    Extract(#[from] html::ExtractError),
    /// The feed could not be read.
    #[error("{0}")]
    Feed(#[from] feed::FeedError),
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// headwire itself failed while polling (a bug, e.g. a panic on odd input): the section is
    /// retried with backoff like any other failure, and the message says what to report.
    #[error("internal error while polling: {0} (please report this with the page that caused it)")]
    Internal(String),
}

impl PollError {
    /// Short kind for status and metrics: dns, connect, timeout, http, too-large, redirect,
    /// decode, truncated, request, selector, feed, store, internal.
    pub fn kind(&self) -> &'static str {
        match self {
            PollError::Fetch(e) => e.kind(),
            PollError::Extract(_) => "selector",
            PollError::Feed(_) => "feed",
            PollError::Store(_) => "store",
            PollError::Internal(_) => "internal",
        }
    }
}

/// What one poll of one section did.
#[derive(Debug)]
pub struct SectionReport {
    /// `source/section`.
    pub key: String,
    /// Headlines found on the page (0 when not parsed).
    pub found: usize,
    /// New items stored.
    pub new: usize,
    /// Headlines the section's `keep`/`block` rules dropped (never stored).
    pub blocked: usize,
    /// The server answered 304 or the body was unchanged: nothing was parsed.
    pub unchanged: bool,
    /// The failure, if any.
    pub error: Option<PollError>,
    /// `Retry-After` the server asked for, in seconds.
    pub retry_after: Option<u64>,
    /// Failures in a row including this poll (0 after a success); drives the backoff.
    pub consecutive_failures: u32,
    /// Full texts fetched after the headlines were stored (`full_text` sections only).
    pub texts: TextReport,
}

impl SectionReport {
    /// A report of nothing done yet for section `key`.
    fn empty(key: String) -> SectionReport {
        SectionReport {
            key,
            found: 0,
            new: 0,
            blocked: 0,
            unchanged: false,
            error: None,
            retry_after: None,
            consecutive_failures: 0,
            texts: TextReport::default(),
        }
    }
}

/// A poll that did not start because the engine is stopping.
struct Stopped;

/// The polling engine shared by `serve` and `poll --once`.
pub struct Poller {
    config: watch::Sender<Arc<Config>>,
    limits: RwLock<Arc<Limits>>,
    store: Arc<Store>,
    clock: Clock,
    /// Counters for `/metrics`.
    pub metrics: Arc<PollMetrics>,
}

impl Poller {
    /// Builds an engine for a validated config and an open store.
    pub fn new(config: Arc<Config>, store: Arc<Store>, clock: Clock) -> Result<Poller, FetchError> {
        let limits = Limits::new(&config.poll)?;
        Ok(Poller {
            config: watch::Sender::new(config),
            limits: RwLock::new(Arc::new(limits)),
            store,
            clock,
            metrics: Arc::new(PollMetrics::default()),
        })
    }

    /// The configuration this engine runs now.
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    fn limits(&self) -> Arc<Limits> {
        self.limits
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Switches to a new validated config. [`Poller::run`] then stops the tasks of removed and
    /// changed sections and starts new ones; `[poll]` changes rebuild the HTTP client and caps.
    /// Fails (and keeps the running config) only when the new HTTP client cannot be built.
    pub fn reload(&self, config: Arc<Config>) -> Result<ReloadSummary, FetchError> {
        let old = self.config();
        let summary = ReloadSummary::between(&old, &config);
        if summary.poll_settings_changed {
            let limits = Arc::new(Limits::new(&config.poll)?);
            match self.limits.write() {
                Ok(mut guard) => *guard = limits,
                Err(e) => *e.into_inner() = limits,
            }
        }
        self.config.send_replace(config);
        Ok(summary)
    }

    /// Polls one section once: fetch (conditional), process, store, record status.
    pub async fn poll_section(&self, source: &Source, section: &Section) -> SectionReport {
        let fingerprint = section_fingerprint(source, section);
        match self.poll_inner(source, section, fingerprint, None).await {
            Ok(report) => report,
            // Only a stop signal yields `Stopped`, and there is none here.
            Err(Stopped) => SectionReport::empty(section.key(source)),
        }
    }

    /// Polls every section once, concurrently under the configured caps, and returns when every
    /// section finished, with one report per configured section (in config order): a section
    /// whose poll failed inside headwire reports an `internal` error.
    pub async fn poll_all_once(self: &Arc<Self>) -> Vec<SectionReport> {
        let mut tasks = tokio::task::JoinSet::new();
        let config = self.config();
        let mut keys: HashMap<tokio::task::Id, (usize, Arc<Source>, Arc<Section>)> = HashMap::new();
        let sections = config.sections().enumerate();
        for (i, (source, section)) in sections {
            // Each task gets the source's settings, not a copy of all its sections (that made a
            // poll of N sections of one source O(N²) in CPU and memory).
            let source = Arc::new(source.without_sections());
            let section = Arc::new(section.clone());
            let poller = self.clone();
            let fingerprint = section_fingerprint(&source, &section);
            let (task_source, task_section) = (source.clone(), section.clone());
            let handle = tasks.spawn(async move {
                poller
                    .poll_guarded(task_source, task_section, fingerprint, None)
                    .await
            });
            keys.insert(handle.id(), (i, source, section));
        }
        let mut reports: Vec<(usize, SectionReport)> = Vec::new();
        while let Some(joined) = tasks.join_next_with_id().await {
            let (id, outcome) = match joined {
                Ok((id, outcome)) => (id, Ok(outcome)),
                Err(e) => (e.id(), Err(e)),
            };
            let Some((i, source, section)) = keys.remove(&id) else {
                continue;
            };
            let report = match outcome {
                Ok(Ok(report)) => report,
                // Only a stop signal yields `Stopped`, and there is none here.
                Ok(Err(Stopped)) => continue,
                Err(e) => self.record_internal_failure(&source, &section, join_error_message(e)),
            };
            reports.push((i, report));
        }
        reports.sort_by_key(|(i, _)| *i);
        reports.into_iter().map(|(_, r)| r).collect()
    }
}
