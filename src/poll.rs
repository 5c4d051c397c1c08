//! The polling engine: when each section is fetched, how many at once, and what happens to the
//! result.
//!
//! One task per section sleeps until its next due time, then fetches under a global concurrency
//! cap and a per-host cap with a minimum delay between requests to one host. A page goes
//! fetch → decode → extract → normalize → store in [`Poller::poll_section`]; a `304` or an
//! unchanged body stops right after the fetch. Failures back off exponentially per section (capped
//! at 6× the interval, `Retry-After` honoured within that bound) and never touch stored items.
//! `headwire poll --once` runs the same per-section code, once, under the same caps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Config, Section, SectionKind, Source};
use crate::extract::{feed, html};
use crate::fetch::charset::{self, DocKind};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Validators};
use crate::normalize::{normalize_headlines, NormalizeNotes, Observed};
use crate::store::{BatchContext, Store, StoreError};

/// Where "now" comes from; tests inject a fixed clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

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
}

impl PollError {
    /// Short kind for status and metrics: dns, connect, timeout, http, too-large, request,
    /// selector, feed, store.
    pub fn kind(&self) -> &'static str {
        match self {
            PollError::Fetch(e) => e.kind(),
            PollError::Extract(_) => "selector",
            PollError::Feed(_) => "feed",
            PollError::Store(_) => "store",
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
    /// The server answered 304 or the body was unchanged: nothing was parsed.
    pub unchanged: bool,
    /// The failure, if any.
    pub error: Option<PollError>,
    /// `Retry-After` the server asked for, in seconds.
    pub retry_after: Option<u64>,
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
}

/// Decodes, extracts and normalises a fetched body for a section (pure apart from logging).
pub fn process_body(
    bytes: &[u8],
    content_type: Option<&str>,
    page_url: &url::Url,
    source: &Source,
    section: &Section,
    now: DateTime<Utc>,
) -> Result<Processed, PollError> {
    let (headlines, mut processed) = match &section.kind {
        SectionKind::Html(rules) => {
            let decoded = charset::decode(bytes, content_type, DocKind::Html);
            let page = html::extract_page(&decoded.text, page_url, rules, section.limit)?;
            let processed = Processed {
                matched: page.matched,
                skipped_no_title: page.skipped_no_title,
                skipped_no_link: page.skipped_no_link,
                unmatched_fields: page.unmatched_fields,
                charset: decoded.explain(),
                ..Processed::default()
            };
            (page.headlines, processed)
        }
        SectionKind::Feed => {
            let trimmed = bytes
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .map_or(bytes, |start| &bytes[start..]);
            let kind = if trimmed.starts_with(b"{") {
                DocKind::Json
            } else {
                DocKind::Xml
            };
            let decoded = charset::decode(bytes, content_type, kind);
            let text = charset::strip_xml_encoding_declaration(&decoded.text);
            let parsed = feed::parse_feed(&text, page_url)?;
            let mut headlines = parsed.headlines;
            if let Some(limit) = section.limit {
                headlines.truncate(limit);
            }
            let processed = Processed {
                matched: headlines.len(),
                charset: decoded.explain(),
                ..Processed::default()
            };
            (headlines, processed)
        }
    };
    let raw_times: Vec<Option<String>> = headlines.iter().map(|h| h.time_text.clone()).collect();
    let (observed, notes) = normalize_headlines(headlines, source, section, now);
    processed.raw_times = raw_times;
    processed.observed = observed;
    processed.notes = notes;
    Ok(processed)
}

/// Counters exported on `/metrics`.
#[derive(Debug, Default)]
pub struct PollMetrics {
    /// Polls attempted.
    pub polls: AtomicU64,
    /// Polls that failed.
    pub failures: AtomicU64,
    /// Polls answered 304 or with an unchanged body.
    pub unchanged: AtomicU64,
    /// Items created.
    pub new_items: AtomicU64,
}

/// Per-host politeness: a concurrency cap and a minimum spacing between requests.
struct HostGate {
    permits: Semaphore,
    next_start: tokio::sync::Mutex<Instant>,
}

/// The polling engine shared by `serve` and `poll --once`.
pub struct Poller {
    config: Arc<Config>,
    store: Arc<Store>,
    fetcher: Fetcher,
    clock: Clock,
    global: Semaphore,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
    /// Counters for `/metrics`.
    pub metrics: Arc<PollMetrics>,
}

impl Poller {
    /// Builds an engine for a validated config and an open store.
    pub fn new(config: Arc<Config>, store: Arc<Store>, clock: Clock) -> Result<Poller, FetchError> {
        let fetcher = Fetcher::new(&config.poll)?;
        Ok(Poller {
            global: Semaphore::new(config.poll.concurrency),
            config,
            store,
            fetcher,
            clock,
            hosts: Mutex::new(HashMap::new()),
            metrics: Arc::new(PollMetrics::default()),
        })
    }

    /// The configuration this engine runs.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    fn host_gate(&self, url: &url::Url) -> Arc<HostGate> {
        let host = url.host_str().unwrap_or_default().to_string();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| {
                Arc::new(HostGate {
                    permits: Semaphore::new(self.config.poll.per_host),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    /// Polls one section once: fetch (conditional), process, store, record status.
    pub async fn poll_section(&self, source: &Source, section: &Section) -> SectionReport {
        let key = section.key(source);
        let mut report = SectionReport {
            key: key.clone(),
            found: 0,
            new: 0,
            unchanged: false,
            error: None,
            retry_after: None,
        };
        let mut status = self.store.section_status(&key).unwrap_or_default();
        self.metrics.polls.fetch_add(1, Ordering::Relaxed);
        let validators = Validators {
            etag: status.etag.clone(),
            last_modified: status.last_modified.clone(),
        };
        let fetched = {
            let _global = self.global.acquire().await;
            let gate = self.host_gate(&section.url);
            let _host = gate.permits.acquire().await;
            {
                let mut next = gate.next_start.lock().await;
                let now = Instant::now();
                if *next > now {
                    tokio::time::sleep_until(*next).await;
                }
                *next = Instant::now() + self.config.poll.host_delay;
            }
            status.last_attempt = Some((self.clock)());
            self.fetcher
                .fetch(&section.url, &source.headers, &validators)
                .await
        };
        let result = match fetched {
            Ok(FetchOutcome::NotModified) => {
                report.unchanged = true;
                Ok(())
            }
            Ok(FetchOutcome::Body(body)) => {
                let hash = xxh3_64(&body.bytes);
                status.etag = body.validators.etag.clone();
                status.last_modified = body.validators.last_modified.clone();
                if status.body_hash == Some(hash) && status.consecutive_failures == 0 {
                    report.unchanged = true;
                    Ok(())
                } else {
                    let now = (self.clock)();
                    self.process_and_store(&body, source, section, now, &mut report)
                        .map(|()| status.body_hash = Some(hash))
                }
            }
            Err(e) => Err(PollError::Fetch(e)),
        };
        match result {
            Ok(()) => {
                if report.unchanged {
                    self.metrics.unchanged.fetch_add(1, Ordering::Relaxed);
                } else {
                    status.last_found = report.found;
                    status.last_new = report.new;
                }
                status.last_success = Some((self.clock)());
                status.consecutive_failures = 0;
                status.last_error = None;
                status.last_error_kind = None;
            }
            Err(e) => {
                self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(section = %key, kind = e.kind(), "poll failed: {e}");
                if let PollError::Fetch(FetchError::Status { retry_after, .. }) = &e {
                    report.retry_after = *retry_after;
                }
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
                status.last_error_kind = Some(e.kind().to_string());
                status.last_error = Some(e.to_string());
                report.error = Some(e);
            }
        }
        if let Err(e) = self.store.set_section_status(&key, &status) {
            tracing::error!(section = %key, "cannot record poll status: {e}");
        }
        report
    }

    fn process_and_store(
        &self,
        body: &crate::fetch::Fetched,
        source: &Source,
        section: &Section,
        now: DateTime<Utc>,
        report: &mut SectionReport,
    ) -> Result<(), PollError> {
        let processed = process_body(
            &body.bytes,
            body.content_type.as_deref(),
            &body.final_url,
            source,
            section,
            now,
        )?;
        if !processed.notes.times_not_understood.is_empty() {
            tracing::info!(
                section = %section.key(source),
                examples = ?processed.notes.times_not_understood.iter().take(3).collect::<Vec<_>>(),
                "{} time texts not understood; first-seen time used",
                processed.notes.times_not_understood.len()
            );
        }
        let key = section.key(source);
        let ctx = BatchContext {
            source_id: &source.id,
            section_key: &key,
            section_id: &section.id,
            section_name: &section.name,
            title_window: self
                .config
                .store
                .title_window
                .and_then(|w| chrono::Duration::from_std(w).ok()),
            now,
        };
        let outcome = self.store.apply_batch(&ctx, &processed.observed)?;
        self.metrics
            .new_items
            .fetch_add(outcome.new as u64, Ordering::Relaxed);
        report.found = outcome.found;
        report.new = outcome.new;
        tracing::info!(section = %key, found = outcome.found, new = outcome.new, updated = outcome.updated, "polled");
        Ok(())
    }

    /// Polls every section once, concurrently under the configured caps.
    pub async fn poll_all_once(self: &Arc<Self>) -> Vec<SectionReport> {
        let mut tasks = tokio::task::JoinSet::new();
        let config = self.config.clone();
        for (i, (source, section)) in config.sections().enumerate() {
            let poller = self.clone();
            let (source, section) = (source.clone(), section.clone());
            tasks.spawn(async move { (i, poller.poll_section(&source, &section).await) });
        }
        let mut reports: Vec<(usize, SectionReport)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(report) => reports.push(report),
                Err(e) => tracing::error!("a poll task failed: {e}"),
            }
        }
        reports.sort_by_key(|(i, _)| *i);
        reports.into_iter().map(|(_, r)| r).collect()
    }

    /// Runs the schedule until `shutdown` turns true: each section on its own interval, first
    /// polls spread over the first interval, jitter after each poll, backoff after failures.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        let config = self.config.clone();
        for (source, section) in config.sections() {
            let poller = self.clone();
            let (source, section) = (source.clone(), section.clone());
            let mut shutdown = shutdown.clone();
            tasks.spawn(async move {
                let key = section.key(&source);
                let mut delay = initial_delay(&key, section.interval);
                let mut attempt: u64 = 0;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.wait_for(|stop| *stop) => break,
                    }
                    let report = tokio::select! {
                        report = poller.poll_section(&source, &section) => report,
                        _ = shutdown.wait_for(|stop| *stop) => break,
                    };
                    attempt += 1;
                    let failures = poller
                        .store
                        .section_status(&key)
                        .map(|s| s.consecutive_failures)
                        .unwrap_or(0);
                    delay = next_delay(
                        &key,
                        section.interval,
                        failures,
                        report.retry_after,
                        attempt,
                    );
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// Where in the first interval a section's first poll falls: spread evenly by a hash of its key,
/// so a restart does not hit every portal at once.
pub fn initial_delay(key: &str, interval: Duration) -> Duration {
    let fraction = (xxh3_64(key.as_bytes()) % 10_000) as f64 / 10_000.0;
    interval.mul_f64(fraction)
}

/// Delay before the next poll: the interval plus up to 10% jitter, doubled per consecutive
/// failure up to 6× the interval; a server's `Retry-After` is honoured within that cap.
pub fn next_delay(
    key: &str,
    interval: Duration,
    failures: u32,
    retry_after: Option<u64>,
    attempt: u64,
) -> Duration {
    let jitter_fraction = (xxh3_64(format!("{key}#{attempt}").as_bytes()) % 1000) as f64 / 10_000.0;
    let base = if failures == 0 {
        interval
    } else {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
        interval
            .saturating_mul(factor)
            .min(interval.saturating_mul(6))
    };
    let mut delay = base + interval.mul_f64(jitter_fraction);
    if let Some(seconds) = retry_after {
        let asked = Duration::from_secs(seconds).min(interval.saturating_mul(6));
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
