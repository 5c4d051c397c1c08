//! Counters the poller writes and the server's `/metrics` reads.
//!
//! A leaf type shared by both sides, so the server does not depend on the poller to show what it
//! did: the poller holds an `Arc<PollMetrics>` and bumps the counters, the server renders them.

use std::sync::atomic::AtomicU64;

/// Polling counters exported on `/metrics`.
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
    /// Full article texts fetched and stored.
    pub texts_fetched: AtomicU64,
    /// Full article text fetches that failed.
    pub texts_failed: AtomicU64,
}
