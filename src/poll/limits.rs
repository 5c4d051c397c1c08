//! The HTTP client and the caps built from `[poll]`: a global concurrency cap and, per host, a
//! concurrency cap and a minimum delay between request starts. Replaced as a whole when a reload
//! changes `[poll]`; polls already in flight finish under the old one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::PollSettings;
use crate::fetch::{FetchError, Fetcher};

/// Per-host politeness: a concurrency cap and a minimum spacing between request starts.
pub(super) struct HostGate {
    pub(super) permits: Arc<Semaphore>,
    /// The earliest moment the next request to this host may start.
    pub(super) next_start: tokio::sync::Mutex<Option<Instant>>,
}

/// The HTTP client and caps built from `[poll]`; replaced as a whole when a reload changes
/// `[poll]` (polls already in flight finish under the old one).
pub(super) struct Limits {
    pub(super) settings: PollSettings,
    pub(super) fetcher: Fetcher,
    pub(super) global: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
}

impl Limits {
    pub(super) fn new(settings: &PollSettings) -> Result<Limits, FetchError> {
        Ok(Limits {
            fetcher: Fetcher::new(settings)?,
            global: Arc::new(Semaphore::new(settings.concurrency)),
            settings: settings.clone(),
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// Waits until a request to `url` may start: host first, then global (a request queued
    /// behind a busy host holds no global permit, so one slow host cannot starve the others),
    /// then the host's spacing, measured on request start. The request runs while the returned
    /// permits are held.
    pub(super) async fn admit(&self, url: &url::Url) -> Admission {
        let gate = self.host_gate(url);
        let host = gate.permits.clone().acquire_owned().await.ok();
        let global = self.global.clone().acquire_owned().await.ok();
        let mut next = gate.next_start.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        *next = Some(Instant::now() + self.settings.host_delay);
        Admission {
            _host: host,
            _global: global,
        }
    }

    fn host_gate(&self, url: &url::Url) -> Arc<HostGate> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| {
                Arc::new(HostGate {
                    permits: Arc::new(Semaphore::new(self.settings.per_host)),
                    next_start: tokio::sync::Mutex::new(None),
                })
            })
            .clone()
    }
}

/// The permits one request holds while it runs (see [`Limits::admit`]).
pub(super) struct Admission {
    _host: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}
