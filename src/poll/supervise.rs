//! The supervisor: one task per section, keyed by `source/section` and the section's
//! fingerprint, kept in step with the config. A poll runs in a task of its own so a panic becomes
//! the section's `internal` error; dropping the task set (shutdown, cancelled `run`) aborts them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::schedule::{backoff_base, initial_delay, next_delay, FIRST_POLL_SPREAD, RELOAD_SPREAD};
use super::{section_fingerprint, Poller, SectionReport, Stopped};
use crate::config::{Config, Section, Source};

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

impl Poller {
    /// [`Poller::poll_inner`] in a task of its own: whatever goes wrong inside it, a panic
    /// included, ends as this section's `internal` error (recorded in its status, so `/` and
    /// `/api/status` show it) and the caller schedules the retry with backoff as for any failure.
    pub(super) async fn poll_guarded(
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
        let status = match self.store.section_status(key) {
            Ok(status) => status,
            Err(e) => {
                tracing::warn!(section = %key, "cannot read poll status ({e}); first poll spread over the interval");
                return spread;
            }
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

/// What a failed poll task says: the panic message when it panicked.
pub(super) fn join_error_message(error: tokio::task::JoinError) -> String {
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
