//! Where "now" comes from.
//!
//! Every stage that stamps a time (the poller's attempts and successes, the server's `updated`
//! and cache ages) reads it through a [`Clock`], so tests can pin time to a fixed instant. This
//! module depends on nothing else in the crate: the poller and the server both read it without
//! reading each other.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Where "now" comes from; tests inject a fixed clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}
