//! Where a printed local time lands on the UTC timeline.
//!
//! Owns the zone rules: RFC 822 abbreviations (`CST` means China Standard Time when the source
//! zone is at +08:00), numeric offsets, DST gaps (the offset before the gap) and folds (the
//! earliest instant), and the year a year-less date or a bare clock time belongs to.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc,
};
use chrono_tz::Tz;
use regex::Captures;

use super::{TimeContext, TimePrecision, FUTURE_TOLERANCE, TIME_ONLY_SKEW};

/// Where a local date-time's offset comes from.
#[derive(Debug, Clone, Copy)]
pub(super) enum TzSpec<'a> {
    /// No offset in the text: use the context zone.
    Local,
    /// A zone abbreviation or numeric offset from the text.
    Named(&'a str),
    /// Offset in seconds east of UTC (from a chrono format's `%z`).
    Fixed(i32),
}

pub(super) fn tz_spec<'t>(c: &Captures<'t>) -> TzSpec<'t> {
    c.name("tz")
        .map_or(TzSpec::Local, |m| TzSpec::Named(m.as_str()))
}

/// Offset in seconds east of UTC for a zone name or numeric offset.
/// `CST` means China Standard Time when the source zone is at +08:00
/// (Java's `Date.toString()` on Chinese servers), else US Central.
pub(super) fn tz_offset(name: &str, zone: Tz, naive: NaiveDateTime) -> Option<i32> {
    let t = name.trim();
    let named = |n: &str| t.eq_ignore_ascii_case(n);
    let hours = if named("z") || named("gmt") || named("ut") || named("utc") {
        0
    } else if named("est") || named("cdt") {
        -5
    } else if named("edt") {
        -4
    } else if named("cst") {
        let china = zone
            .offset_from_local_datetime(&naive)
            .earliest()
            .is_some_and(|o| o.fix().local_minus_utc() == 8 * 3600);
        if china {
            8
        } else {
            -6
        }
    } else if named("mst") {
        -7
    } else if named("mdt") {
        -6
    } else if named("pst") {
        -8
    } else if named("pdt") {
        -7
    } else {
        return numeric_offset(t);
    };
    Some(hours * 3600)
}

pub(super) fn numeric_offset(t: &str) -> Option<i32> {
    let mut rest = t;
    for prefix in ["gmt", "utc", "ut"] {
        // Compare bytes: `rest` may start with one ASCII letter followed by a
        // multi-byte character, where a `str` slice would not be a boundary.
        let matches = rest
            .as_bytes()
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()));
        if let (true, Some(after)) = (matches, rest.get(prefix.len()..)) {
            rest = after;
            break;
        }
    }
    let rest = rest.trim_start();
    let sign = match rest.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: Vec<u8> = rest.bytes().skip(1).filter(u8::is_ascii_digit).collect();
    let val = |b: &[u8]| b.iter().fold(0i32, |a, d| a * 10 + i32::from(d - b'0'));
    let (h, m) = match digits.len() {
        1 | 2 => (val(&digits), 0),
        4 => (val(&digits[..2]), val(&digits[2..])),
        _ => return None,
    };
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// Combine a date, optional time and offset source into a UTC instant.
pub(super) fn at(
    date: NaiveDate,
    time: Option<NaiveTime>,
    spec: TzSpec,
    zone: Tz,
) -> Option<(DateTime<Utc>, TimePrecision)> {
    let naive = date.and_time(time.unwrap_or(NaiveTime::MIN));
    let offset = match spec {
        TzSpec::Local => None,
        TzSpec::Named(name) => Some(tz_offset(name, zone, naive)?),
        TzSpec::Fixed(secs) => Some(secs),
    };
    let utc = match offset {
        Some(secs) => FixedOffset::east_opt(secs)?
            .from_local_datetime(&naive)
            .single()?
            .with_timezone(&Utc),
        None => local_to_utc(zone, naive)?,
    };
    let precision = if time.is_some() {
        TimePrecision::Exact
    } else {
        TimePrecision::Day
    };
    Some((utc, precision))
}

/// Local wall time in `zone` to UTC.  Ambiguous (fall-back) times take the
/// earliest instant; times in a spring-forward gap use the offset in force
/// before the gap (RFC 5545 §3.3.5), i.e. `02:30` becomes `03:30` DST.
pub(super) fn local_to_utc(zone: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(t) = zone.from_local_datetime(&naive).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    for back_hours in [6, 24, 48] {
        let probe = naive.checked_sub_signed(TimeDelta::try_hours(back_hours)?)?;
        if let Some(off) = zone.offset_from_local_datetime(&probe).earliest() {
            let secs = i64::from(off.fix().local_minus_utc());
            let utc = naive.checked_sub_signed(TimeDelta::try_seconds(secs)?)?;
            return Some(Utc.from_utc_datetime(&utc));
        }
    }
    None
}

/// Local calendar date of `utc` in `zone`; `None` only at the very ends of
/// chrono's range (where `with_timezone(..).date_naive()` would panic).
pub(super) fn local_date(utc: DateTime<Utc>, zone: Tz) -> Option<NaiveDate> {
    let naive = utc.naive_utc();
    let offset = zone.offset_from_utc_datetime(&naive).fix();
    Some(naive.checked_add_offset(offset)?.date())
}

pub(super) fn local_today(ctx: &TimeContext) -> Option<NaiveDate> {
    local_date(ctx.now, ctx.zone)
}

/// Most recent `month-day [time]` not more than [`FUTURE_TOLERANCE`] after now
/// (looks back up to 8 years so that Feb 29 finds a leap year).
pub(super) fn yearless(
    m: u32,
    d: u32,
    time: Option<NaiveTime>,
    spec: TzSpec,
    ctx: &TimeContext,
) -> Option<(DateTime<Utc>, TimePrecision)> {
    let limit = ctx.now.checked_add_signed(FUTURE_TOLERANCE)?;
    let this_year = local_today(ctx)?.year();
    for y in (this_year - 8..=this_year + 1).rev() {
        let Some(date) = NaiveDate::from_ymd_opt(y, m, d) else {
            continue;
        };
        let Some(hit) = at(date, time, spec, ctx.zone) else {
            continue;
        };
        if hit.0 <= limit {
            return Some(hit);
        }
    }
    None
}

/// A clock time without a date: today, or yesterday if that would be more
/// than [`TIME_ONLY_SKEW`] in the future.
pub(super) fn recent_time(
    time: NaiveTime,
    spec: TzSpec,
    ctx: &TimeContext,
) -> Option<DateTime<Utc>> {
    let today = local_today(ctx)?;
    let (utc, _) = at(today, Some(time), spec, ctx.zone)?;
    if utc <= ctx.now.checked_add_signed(TIME_ONLY_SKEW)? {
        return Some(utc);
    }
    let (utc, _) = at(today.pred_opt()?, Some(time), spec, ctx.zone)?;
    Some(utc)
}
