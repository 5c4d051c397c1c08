//! When each section is polled: the first poll after a start or a reload, spread by a hash of
//! the section's key; the interval after a success; exponential backoff after failures, capped at
//! [`BACKOFF_CAP`] intervals; jitter so sections drift apart; `Retry-After` honoured within the
//! cap. Pure functions of the key, the interval and the failure count.

use std::time::Duration;

use xxhash_rust::xxh3::xxh3_64;

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
