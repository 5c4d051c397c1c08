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

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::config::{Config, PollSettings, Section, SectionKind, Source};
use crate::decode::{decode_document, Decoded, Expect};
use crate::extract::{feed, html};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Validators};
use crate::normalize::{normalize_headlines, NormalizeNotes, Observed};
use crate::store::{BatchContext, SectionStatus, Store, StoreError};

// moved: re-export for callers outside this change
pub use crate::clock::{system_clock, Clock};
// moved: re-export for callers outside this change
pub use crate::metrics::PollMetrics;

/// Backoff after consecutive failures never waits longer than this many intervals: long enough
/// to stop hammering a broken site, short enough that a fixed site is noticed within hours.
pub const BACKOFF_CAP: u32 = 6;

/// Each next poll is delayed by up to this fraction of the interval, so sections that happen to
/// share a phase drift apart instead of hitting a host together forever.
pub const JITTER_FRACTION: f64 = 0.1;

/// Sections added or changed by a reload are first polled within this window (or their interval,
/// if shorter): the user just edited them and wants to see the result, and the per-host and global
/// caps still space the requests out.
pub const RELOAD_SPREAD: Duration = Duration::from_secs(10);

/// Sections never polled before (a fresh install, or new since the last run) are first polled
/// within this window of `serve` starting, or their interval if shorter: a newcomer sees
/// headlines in seconds, while the per-host and global caps still space the requests out.
/// Sections polled by an earlier run keep their spread over the first interval.
pub const FIRST_POLL_SPREAD: Duration = Duration::from_secs(30);

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
        }
    }
}

/// Records a failed poll in the section's status and the metrics: one more failure in a row,
/// with its kind and message.
fn note_failure(key: &str, status: &mut SectionStatus, error: &PollError, metrics: &PollMetrics) {
    metrics.failures.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(section = %key, kind = error.kind(), "poll failed: {error}");
    status.consecutive_failures = status.consecutive_failures.saturating_add(1);
    status.last_error_kind = Some(error.kind().to_string());
    status.last_error = Some(error.to_string());
}

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

/// Per-host politeness: a concurrency cap and a minimum spacing between request starts.
struct HostGate {
    permits: Semaphore,
    /// The earliest moment the next request to this host may start.
    next_start: tokio::sync::Mutex<Option<Instant>>,
}

/// The HTTP client and caps built from `[poll]`; replaced as a whole when a reload changes
/// `[poll]` (polls already in flight finish under the old one).
struct Limits {
    settings: PollSettings,
    fetcher: Fetcher,
    global: Semaphore,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
}

impl Limits {
    fn new(settings: &PollSettings) -> Result<Limits, FetchError> {
        Ok(Limits {
            fetcher: Fetcher::new(settings)?,
            global: Semaphore::new(settings.concurrency),
            settings: settings.clone(),
            hosts: Mutex::new(HashMap::new()),
        })
    }

    fn host_gate(&self, url: &url::Url) -> Arc<HostGate> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| {
                Arc::new(HostGate {
                    permits: Semaphore::new(self.settings.per_host),
                    next_start: tokio::sync::Mutex::new(None),
                })
            })
            .clone()
    }
}

/// A poll that did not start because the engine is stopping.
struct Stopped;

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
    fn between(old: &Config, new: &Config) -> ReloadSummary {
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

/// The running per-section tasks; dropping this (e.g. when `run` is cancelled) aborts them all.
#[derive(Default)]
struct SectionTasks(HashMap<String, SectionTask>);

struct SectionTask {
    fingerprint: u64,
    handle: JoinHandle<()>,
}

impl Drop for SectionTasks {
    fn drop(&mut self) {
        for task in self.0.values() {
            task.handle.abort();
        }
    }
}

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

    /// [`Poller::poll_inner`] in a task of its own: whatever goes wrong inside it, a panic
    /// included, ends as this section's `internal` error (recorded in its status, so `/` and
    /// `/api/status` show it) and the caller schedules the retry with backoff as for any failure.
    async fn poll_guarded(
        self: &Arc<Self>,
        source: Arc<Source>,
        section: Arc<Section>,
        fingerprint: u64,
        stop: Option<watch::Receiver<bool>>,
    ) -> Result<SectionReport, Stopped> {
        let poller = self.clone();
        let (task_source, task_section) = (source.clone(), section.clone());
        let mut task = AbortOnDrop(tokio::spawn(async move {
            let mut stop = stop;
            poller
                .poll_inner(&task_source, &task_section, fingerprint, stop.as_mut())
                .await
        }));
        match (&mut task.0).await {
            Ok(result) => result,
            Err(e) if e.is_cancelled() => Err(Stopped),
            Err(e) => Ok(self.record_internal_failure(&source, &section, join_error_message(e))),
        }
    }

    /// Records a poll that failed inside headwire as the section's `internal` error.
    fn record_internal_failure(
        &self,
        source: &Source,
        section: &Section,
        message: String,
    ) -> SectionReport {
        let key = section.key(source);
        let error = PollError::Internal(message);
        let mut status = self.store.section_status(&key).unwrap_or_default();
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
    async fn poll_inner(
        &self,
        source: &Source,
        section: &Section,
        fingerprint: u64,
        stop: Option<&mut watch::Receiver<bool>>,
    ) -> Result<SectionReport, Stopped> {
        let key = section.key(source);
        let limits = self.limits();
        let gate = limits.host_gate(&section.url);
        // Host first, then global: a poll queued behind a busy host holds no global permit, so
        // one slow host cannot starve the others. The host spacing is measured on request start.
        let admission = async {
            let host = gate.permits.acquire().await.ok();
            let global = limits.global.acquire().await.ok();
            let mut next = gate.next_start.lock().await;
            if let Some(at) = *next {
                tokio::time::sleep_until(at).await;
            }
            *next = Some(Instant::now() + limits.settings.host_delay);
            (host, global)
        };
        let permits = match stop {
            Some(stop) => tokio::select! {
                permits = admission => permits,
                _ = stop.wait_for(|stopping| *stopping) => return Err(Stopped),
            },
            None => admission.await,
        };

        let mut report = SectionReport::empty(key.clone());
        let mut status = self.store.section_status(&key).unwrap_or_default();
        self.metrics.polls.fetch_add(1, Ordering::Relaxed);
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
        Ok(report)
    }

    /// Parses and stores a fetched body on the blocking pool: a large page takes CPU for a
    /// while (async workers stay free meanwhile), and a panic on odd input becomes this
    /// section's `internal` error instead of ending its task.
    async fn process_and_store_blocking(
        &self,
        body: crate::fetch::Fetched,
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

    /// Runs the schedule until `shutdown` turns true: one task per section on its own interval,
    /// first polls spread over the first interval, jitter after each poll, backoff after
    /// failures, and the task set kept in step with [`Poller::reload`]. On shutdown it stops
    /// scheduling and returns once polls already in flight have finished.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut configs = self.config.subscribe();
        let mut stop = shutdown.clone();
        let mut tasks = SectionTasks::default();
        let mut at_start = true;
        loop {
            let config = configs.borrow_and_update().clone();
            self.reconcile(&config, &mut tasks, at_start, &shutdown)
                .await;
            at_start = false;
            tokio::select! {
                changed = configs.changed() => if changed.is_err() { break },
                _ = stop.wait_for(|stopping| *stopping) => break,
            }
        }
        let running: Vec<SectionTask> = tasks.0.drain().map(|(_, task)| task).collect();
        for task in running {
            let _ = task.handle.await;
        }
    }

    /// Makes the running tasks match `config`: stops removed and changed sections, starts new
    /// and changed ones.
    async fn reconcile(
        self: &Arc<Self>,
        config: &Config,
        tasks: &mut SectionTasks,
        at_start: bool,
        shutdown: &watch::Receiver<bool>,
    ) {
        let wanted: HashMap<String, (u64, &Source, &Section)> = config
            .sections()
            .map(|(source, section)| {
                (
                    section.key(source),
                    (section_fingerprint(source, section), source, section),
                )
            })
            .collect();
        let stale: Vec<String> = tasks
            .0
            .iter()
            .filter(|(key, task)| {
                wanted
                    .get(*key)
                    .is_none_or(|(fingerprint, ..)| *fingerprint != task.fingerprint)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            if let Some(task) = tasks.0.remove(&key) {
                task.handle.abort();
                let _ = task.handle.await;
                tracing::debug!(section = %key, "section task stopped");
            }
        }
        for (key, (fingerprint, source, section)) in wanted {
            if tasks.0.contains_key(&key) {
                continue;
            }
            // Validators earned under other settings are not sent (see `poll_inner`), so a
            // changed section's first poll reads the page with its new rules.
            let first = if at_start {
                self.startup_delay(&key, section)
            } else {
                initial_delay(&key, section.interval.min(RELOAD_SPREAD))
            };
            // The task needs the source's settings, not its sibling sections: a full copy per
            // task kept N copies of N sections alive (~130 MB of RSS at 1,000 sections).
            let settings = source.without_sections();
            let handle = tokio::spawn(self.clone().section_loop(
                settings,
                section.clone(),
                fingerprint,
                first,
                shutdown.clone(),
            ));
            tasks.0.insert(
                key,
                SectionTask {
                    fingerprint,
                    handle,
                },
            );
        }
    }

    /// One section's schedule: sleep, poll, compute the next delay; stops on shutdown.
    async fn section_loop(
        self: Arc<Self>,
        source: Source,
        section: Section,
        fingerprint: u64,
        first: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let key = section.key(&source);
        let (source, section) = (Arc::new(source), Arc::new(section));
        let mut delay = first;
        let mut attempt: u64 = 0;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait_for(|stopping| *stopping) => break,
            }
            let report = match self
                .poll_guarded(
                    source.clone(),
                    section.clone(),
                    fingerprint,
                    Some(shutdown.clone()),
                )
                .await
            {
                Ok(report) => report,
                Err(Stopped) => break,
            };
            attempt += 1;
            delay = next_delay(
                &key,
                section.interval,
                report.consecutive_failures,
                report.retry_after,
                attempt,
            );
            tracing::debug!(section = %key, next_in = ?delay, "next poll scheduled");
        }
    }

    /// First delay after start: a section never polled before is polled within
    /// [`FIRST_POLL_SPREAD`]; one polled recently resumes when it is next due (a quick restart,
    /// or a crash loop, never polls early and keeps any backoff); otherwise its first poll is
    /// spread over the first interval.
    fn startup_delay(&self, key: &str, section: &Section) -> Duration {
        let spread = initial_delay(key, section.interval);
        let Ok(status) = self.store.section_status(key) else {
            return spread;
        };
        let Some(last) = status.last_attempt else {
            return initial_delay(key, section.interval.min(FIRST_POLL_SPREAD));
        };
        let due_after = backoff_base(section.interval, status.consecutive_failures);
        let elapsed = ((self.clock)() - last).to_std().unwrap_or(Duration::ZERO);
        match due_after.checked_sub(elapsed) {
            Some(remaining) if !remaining.is_zero() => remaining,
            _ => spread,
        }
    }
}

/// Decodes (through the fetch), extracts, normalises and stores one body; returns (found, new,
/// blocked).
fn process_and_store(
    store: &Store,
    metrics: &PollMetrics,
    config: &Config,
    body: &crate::fetch::Fetched,
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

/// What a failed poll task says: the panic message when it panicked.
fn join_error_message(error: tokio::task::JoinError) -> String {
    if error.is_cancelled() {
        return "the poll was cancelled".into();
    }
    let payload = error.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("panicked: {text}")
}

/// Aborts the task when dropped, so a poll started for a section task that is itself stopped
/// (reload, shutdown) does not run on detached.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where in `window` a section's first poll falls: spread evenly by a hash of its key, so a
/// restart does not hit every portal at once.
pub fn initial_delay(key: &str, window: Duration) -> Duration {
    let fraction = (xxh3_64(key.as_bytes()) % 10_000) as f64 / 10_000.0;
    window.mul_f64(fraction)
}

/// The wait after `failures` consecutive failures, before jitter: the interval, doubled per
/// failure after the first, capped at [`BACKOFF_CAP`]× the interval.
pub fn backoff_base(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    interval
        .saturating_mul(factor)
        .min(interval.saturating_mul(BACKOFF_CAP))
}

/// Delay before the next poll: [`backoff_base`] plus up to [`JITTER_FRACTION`] of the interval;
/// a server's `Retry-After` is honoured within the backoff cap (a server cannot park a section
/// for longer than [`BACKOFF_CAP`] intervals).
pub fn next_delay(
    key: &str,
    interval: Duration,
    failures: u32,
    retry_after: Option<u64>,
    attempt: u64,
) -> Duration {
    let jitter = (xxh3_64(format!("{key}#{attempt}").as_bytes()) % 1000) as f64 / 1000.0;
    let mut delay = backoff_base(interval, failures) + interval.mul_f64(jitter * JITTER_FRACTION);
    if let Some(seconds) = retry_after {
        let asked = Duration::from_secs(seconds).min(interval.saturating_mul(BACKOFF_CAP));
        delay = delay.max(asked);
    }
    delay
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_polls_spread_within_interval() {
        let interval = Duration::from_secs(600);
        let delays: Vec<Duration> = (0..50)
            .map(|i| initial_delay(&format!("s/sec{i}"), interval))
            .collect();
        assert!(delays.iter().all(|d| *d < interval));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 40, "first polls must not bunch up");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let i = Duration::from_secs(100);
        let d0 = next_delay("k", i, 0, None, 1);
        assert!(d0 >= i && d0 <= i.mul_f64(1.1));
        let d1 = next_delay("k", i, 1, None, 1);
        assert!(d1 >= i && d1 < Duration::from_secs(200));
        let d2 = next_delay("k", i, 2, None, 1);
        assert!(d2 >= Duration::from_secs(200));
        let d10 = next_delay("k", i, 10, None, 1);
        assert!(d10 >= Duration::from_secs(600) && d10 <= Duration::from_secs(610));
        let r = next_delay("k", i, 1, Some(400), 1);
        assert!(r >= Duration::from_secs(400));
        let capped = next_delay("k", i, 1, Some(100_000), 1);
        assert!(capped <= Duration::from_secs(600));
    }
}
