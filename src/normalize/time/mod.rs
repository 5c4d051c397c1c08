//! Timestamp parsing for scraped list pages and syndication feeds.
//!
//! News portals print times in many shapes: RFC 3339 / RFC 2822 (often
//! malformed) in feeds, `2022-03-13 09:27` or `2022年3月13日 09:27` on Chinese
//! list pages, year-less `03-13 09:27`, relative `3小时前` / `2 hours ago`,
//! Unix timestamps in data attributes, and so on.  [`parse_time`] turns any of
//! those into a UTC instant.
//!
//! Rules:
//! * Text without an explicit offset is interpreted in the source's IANA zone
//!   ([`TimeContext::zone`]); results are always UTC.
//! * The clock is injected ([`TimeContext::now`]); parsing never reads the
//!   system clock, so results are reproducible and testable.
//! * Input is normalised first (full-width digits/colons/punctuation to ASCII,
//!   all whitespace kinds collapsed), then a per-section chrono format is tried
//!   (if configured), then a fixed sequence of recognisers.  The first
//!   recogniser whose pattern matches decides; if its numbers are out of range
//!   the text is rejected as [`TimeError::NotUnderstood`] rather than guessed.
//! * Order: format, Unix timestamp, `Y-M-D` numeric/CJK (incl. RFC 3339),
//!   English month-name dates (RFC 2822, `Mar 13, 2022`, asctime), German
//!   `D.M.Y`, `刚刚`/`just now`, `N…前`/`N … ago`/`vor N …`, day words
//!   (`今天`/`昨天`/`前天`, `today`/`yesterday`, `heute`/`gestern`), year-less
//!   dates, and finally a bare clock time.
//! * Year-less dates resolve to the most recent year in which they are not
//!   more than [`FUTURE_TOLERANCE`] ahead of `now` (so `12-31` read on Jan 2 is
//!   last year); a bare clock time (`12:05PM`) is today, or yesterday if it
//!   would be more than an hour ahead.
//! * Zone abbreviations follow RFC 822 (`EST` = -05:00 …), except `CST`,
//!   which means China Standard Time when the source zone is at +08:00.
//! * Local times falling into a DST gap use the offset in force before the
//!   gap (as RFC 5545 does); ambiguous local times take the earliest instant.
//! * Results more than [`FUTURE_TOLERANCE`] after `now` (or after the year
//!   9999, which RFC 2822 and RFC 3339 cannot print) are rejected with
//!   [`TimeError::InFuture`]; results before [`EARLIEST_BELIEVABLE`] are
//!   rejected with [`TimeError::TooOld`] (a zero timestamp, a `0000-00-00`
//!   placeholder, `36年前`, a year that went negative).  Either way the caller
//!   should fall back to first-seen time.  Every `Ok` therefore has a year in
//!   1990..=9999.
//! * The two non-ASCII characters that case-fold onto ASCII letters, `ſ`
//!   (U+017F) and `K` (U+212A KELVIN SIGN), are read as `s` and `K` (as NFKC
//!   does), so a case-insensitive match on an ASCII word is always ASCII.
//!
//! Files: [`input`] (normalising the text), [`patterns`] (the regexes), [`recognise`] (the
//! ordered recognisers), [`fields`] (numbers, months, clock times and units out of a match)
//! and [`zone`] (local readings → UTC, and the year of a year-less date).
//!
//! Nothing in here panics on input: all arithmetic is checked, text is only
//! sliced at boundaries computed on the same string, and every regex is
//! compiled once from a constant pattern.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use input::{clip, normalize};
use recognise::{parse_builtin, parse_with_format};
use zone::local_date;

mod fields;
mod input;
mod patterns;
mod recognise;
#[cfg(test)]
mod tests;
mod zone;

/// How far after `now` a parsed time may lie before it is rejected as
/// [`TimeError::InFuture`].  Generous because list pages with a misconfigured
/// zone are common; a whole day of slack still catches wrong-year guesses.
pub const FUTURE_TOLERANCE: TimeDelta = TimeDelta::hours(24);

/// The earliest instant a parsed time may be: 1990-01-01T00:00:00Z.
///
/// No portal or feed that headwire reads printed headlines before the web
/// existed; earlier results are placeholders (`0`, `1970-01-01`, `0000-00-00`),
/// two-digit years read in the wrong century, or relative forms with absurd
/// counts (`99999年前`, which would even give a negative year and make the
/// item unrenderable in RSS).  They are rejected as [`TimeError::TooOld`].
pub const EARLIEST_BELIEVABLE: DateTime<Utc> = match DateTime::from_timestamp(631_152_000, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::UNIX_EPOCH,
};

/// The latest instant any feed format can print: 9999-12-31T23:59:59.999999999Z.
/// Later results are [`TimeError::InFuture`] whatever the injected clock says.
const LATEST_PRINTABLE: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 999_999_999)
{
    Some(t) => t,
    None => DateTime::<Utc>::UNIX_EPOCH,
};

/// A bare clock time (`18:00`, `12:05PM`) later than `now` by more than this
/// is taken to mean yesterday rather than later today.
const TIME_ONLY_SKEW: TimeDelta = TimeDelta::hours(1);

/// Longest slice of the offending text kept in [`TimeError::NotUnderstood`].
const MAX_ERROR_TEXT: usize = 120;

/// Normalised text longer than this (in bytes) is not a time string but a
/// paragraph; it is rejected without running the recognisers, bounding cost.
pub const MAX_INPUT_BYTES: usize = 1024;

/// Everything parsing needs besides the text: the source's zone, the injected
/// clock and an optional per-section format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeContext<'a> {
    /// IANA zone in which offset-less times printed by the source are meant.
    pub zone: Tz,
    /// The current instant; relative and year-less forms are resolved against it.
    pub now: DateTime<Utc>,
    /// Per-section chrono strftime format (e.g. `%Y年%m月%d日 %H:%M`), tried
    /// before the built-in recognisers at the start of the text and at each
    /// later token start (skipping noise).  Formats without a year are
    /// year-less, without a date are clock-only, without a time give
    /// [`TimePrecision::Day`]; a result is used as is.  If it does not match,
    /// the built-in recognisers run.
    pub format: Option<&'a str>,
}

impl<'a> TimeContext<'a> {
    /// Context without a per-section format.
    pub fn new(zone: Tz, now: DateTime<Utc>) -> Self {
        TimeContext {
            zone,
            now,
            format: None,
        }
    }

    /// The same context with a per-section format that is tried first.
    pub fn with_format(self, format: &'a str) -> Self {
        TimeContext {
            format: Some(format),
            ..self
        }
    }
}

/// How precise a parsed time is, so callers can prefer better information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimePrecision {
    /// A clock time (or an instant) was given.
    Exact,
    /// Only a date was given; the instant is local midnight of that date.
    Day,
}

/// Which family of notation the text was recognised as (for diagnostics and
/// for callers that trust some forms more than others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeKind {
    /// Full date and time, e.g. RFC 3339, RFC 2822, `2022-03-13 09:27`.
    Absolute,
    /// Full date without a time, e.g. `2022-03-13`, `13 March 2022`.
    DateOnly,
    /// Date without a year (`03-13 09:27`, `3月13日`) or a bare clock time
    /// (`18:00`, `12:05PM`): resolved to the most recent matching moment.
    YearLess,
    /// Relative to `now`: `3小时前`, `昨天 23:50`, `2 hours ago`, `heute, 18:00 Uhr`.
    Relative,
    /// Unix seconds (10 digits) or milliseconds (13 digits).
    Machine,
    /// Matched the per-section [`TimeContext::format`].
    CustomFormat,
}

/// A successfully parsed time: the UTC instant plus how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParsedTime {
    /// The instant, in UTC.
    pub utc: DateTime<Utc>,
    /// Whether a clock time was known or only a date.
    pub precision: TimePrecision,
    /// Which notation the text was recognised as.
    pub kind: TimeKind,
}

/// Why a time string could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text was empty or whitespace only.
    #[error("empty time string")]
    Empty,
    /// No recogniser accepted the text (or its numbers were out of range);
    /// carries the trimmed text, clipped to 120 characters.
    #[error("time not understood: {0:?}")]
    NotUnderstood(String),
    /// The text parsed, but to an instant more than [`FUTURE_TOLERANCE`]
    /// after `now`; the caller should use the first-seen time instead.
    #[error("time {text:?} resolves to {utc}, which is in the future")]
    InFuture {
        /// The trimmed input text (clipped to 120 characters).
        text: String,
        /// The instant it resolved to.
        utc: DateTime<Utc>,
    },
    /// The text parsed, but to an instant before [`EARLIEST_BELIEVABLE`]
    /// (1990-01-01): a placeholder, a wrong century or an absurd relative
    /// count; the caller should use the first-seen time instead.
    #[error("time {text:?} resolves to {utc}, which is before 1990")]
    TooOld {
        /// The trimmed input text (clipped to 120 characters).
        text: String,
        /// The instant it resolved to.
        utc: DateTime<Utc>,
    },
}

/// Parse a scraped or feed-supplied time string into UTC.
///
/// Offset-less times are read in `ctx.zone`; relative and year-less forms are
/// resolved against `ctx.now`; `ctx.format` is tried first when set.  See the
/// module docs for the accepted forms.  Text longer than [`MAX_INPUT_BYTES`]
/// after normalisation is rejected as not understood; results after
/// `now + FUTURE_TOLERANCE` (or after 9999) are [`TimeError::InFuture`],
/// results before [`EARLIEST_BELIEVABLE`] are [`TimeError::TooOld`].
pub fn parse_time(text: &str, ctx: &TimeContext) -> Result<ParsedTime, TimeError> {
    let trimmed = text.trim();
    let norm = normalize(trimmed);
    if norm.is_empty() {
        return Err(TimeError::Empty);
    }
    if norm.len() > MAX_INPUT_BYTES {
        return Err(TimeError::NotUnderstood(clip(trimmed)));
    }
    let parsed = ctx
        .format
        .and_then(|fmt| parse_with_format(&norm, fmt, ctx))
        .or_else(|| parse_builtin(&norm, ctx))
        .ok_or_else(|| TimeError::NotUnderstood(clip(trimmed)))?;
    let limit = ctx
        .now
        .checked_add_signed(FUTURE_TOLERANCE)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .min(LATEST_PRINTABLE);
    if parsed.utc > limit {
        return Err(TimeError::InFuture {
            text: clip(trimmed),
            utc: parsed.utc,
        });
    }
    if parsed.utc < EARLIEST_BELIEVABLE {
        return Err(TimeError::TooOld {
            text: clip(trimmed),
            utc: parsed.utc,
        });
    }
    Ok(parsed)
}

/// Pick the published time to store: date-only times are local midnight,
/// unless `first_seen` is on that same local day (then `first_seen` is better,
/// as it is closer to the real publication time).
pub fn resolve_published(
    parsed: &ParsedTime,
    first_seen: DateTime<Utc>,
    zone: Tz,
) -> DateTime<Utc> {
    match parsed.precision {
        TimePrecision::Exact => parsed.utc,
        TimePrecision::Day => {
            let day = local_date(parsed.utc, zone);
            if day.is_some() && local_date(first_seen, zone) == day {
                first_seen
            } else {
                parsed.utc
            }
        }
    }
}
