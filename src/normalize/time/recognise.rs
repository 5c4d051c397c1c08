//! The recognisers, tried in a fixed order; the first whose pattern matches decides.
//!
//! Each returns an [`Attempt`]: the pattern is absent (try the next), present with values out
//! of range (reject, never guess), or parsed. A per-section chrono format, when configured,
//! runs before all of them.

use chrono::format::{Parsed, StrftimeItems};
use chrono::{DateTime, Days, NaiveDate, TimeDelta, TimeZone, Utc};
use regex::Captures;

use super::fields::{clock, count, month, num, unit_seconds};
use super::patterns::{
    AGO_CJK, AGO_DE, AGO_EN, ASCTIME, BARE_TIME, DAY_WORD, DMY_DOT, DMY_EN, DM_EN, JUST_NOW,
    MDY_EN, MD_CJK, MD_EN, MD_NUM, YMD,
};
use super::zone::{at, local_today, recent_time, tz_spec, yearless, TzSpec};
use super::{ParsedTime, TimeContext, TimeKind, TimePrecision};

/// Outcome of one recogniser: `None` = pattern absent, `Some(None)` = pattern
/// present but values invalid (stop, reject), `Some(Some(_))` = parsed.
pub(super) type Attempt = Option<Option<ParsedTime>>;
pub(super) type Recogniser = fn(&str, &TimeContext) -> Attempt;

pub(super) const RECOGNISERS: &[Recogniser] = &[
    machine,
    ymd,
    english_dated,
    dmy_dot,
    just_now,
    ago,
    day_word,
    yearless_numeric,
    yearless_english,
    bare_time,
];

pub(super) fn parse_builtin(s: &str, ctx: &TimeContext) -> Option<ParsedTime> {
    RECOGNISERS.iter().find_map(|r| r(s, ctx)).flatten()
}

pub(super) fn machine(s: &str, _ctx: &TimeContext) -> Attempt {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let utc = match s.len() {
        10 => DateTime::from_timestamp(s.parse().ok()?, 0),
        13 => DateTime::from_timestamp_millis(s.parse().ok()?),
        _ => return None,
    };
    Some(utc.map(|utc| ParsedTime {
        utc,
        precision: TimePrecision::Exact,
        kind: TimeKind::Machine,
    }))
}

pub(super) fn ymd(s: &str, ctx: &TimeContext) -> Attempt {
    let c = YMD.captures(s)?;
    Some(dated(&c, year4(&c), ctx))
}

pub(super) fn dmy_dot(s: &str, ctx: &TimeContext) -> Attempt {
    let c = DMY_DOT.captures(s)?;
    Some(dated(&c, year4(&c), ctx))
}

pub(super) fn english_dated(s: &str, ctx: &TimeContext) -> Attempt {
    if !s.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let c = DMY_EN
        .captures(s)
        .or_else(|| MDY_EN.captures(s))
        .or_else(|| ASCTIME.captures(s))?;
    let year = c.name("y").and_then(|y| {
        let v: i32 = y.as_str().parse().ok()?;
        Some(match y.len() {
            2 if v < 50 => 2000 + v,
            2 => 1900 + v,
            _ => v,
        })
    });
    Some(dated(&c, year, ctx))
}

pub(super) fn year4(c: &Captures) -> Option<i32> {
    c.name("y")?.as_str().parse().ok()
}

/// Build a full-date result from captures holding m|mon, d and the time groups.
pub(super) fn dated(c: &Captures, year: Option<i32>, ctx: &TimeContext) -> Option<ParsedTime> {
    let date = NaiveDate::from_ymd_opt(year?, month(c)?, num(c, "d")?)?;
    let time = clock(c)?;
    let (utc, precision) = at(date, time, tz_spec(c), ctx.zone)?;
    let kind = match precision {
        TimePrecision::Exact => TimeKind::Absolute,
        TimePrecision::Day => TimeKind::DateOnly,
    };
    Some(ParsedTime {
        utc,
        precision,
        kind,
    })
}

pub(super) fn yearless_numeric(s: &str, ctx: &TimeContext) -> Attempt {
    let c = MD_CJK.captures(s).or_else(|| MD_NUM.captures(s))?;
    Some(yearless_from(&c, ctx))
}

pub(super) fn yearless_english(s: &str, ctx: &TimeContext) -> Attempt {
    if !s.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let c = MD_EN.captures(s).or_else(|| DM_EN.captures(s))?;
    Some(yearless_from(&c, ctx))
}

pub(super) fn yearless_from(c: &Captures, ctx: &TimeContext) -> Option<ParsedTime> {
    let (utc, precision) = yearless(month(c)?, num(c, "d")?, clock(c)?, tz_spec(c), ctx)?;
    Some(ParsedTime {
        utc,
        precision,
        kind: TimeKind::YearLess,
    })
}

pub(super) fn just_now(s: &str, ctx: &TimeContext) -> Attempt {
    JUST_NOW.is_match(s).then_some(Some(ParsedTime {
        utc: ctx.now,
        precision: TimePrecision::Exact,
        kind: TimeKind::Relative,
    }))
}

pub(super) fn ago(s: &str, ctx: &TimeContext) -> Attempt {
    let c = AGO_CJK
        .captures(s)
        .or_else(|| AGO_EN.captures(s))
        .or_else(|| AGO_DE.captures(s))?;
    let amount = |c: &Captures| -> Option<ParsedTime> {
        let n = c.name("n")?.as_str();
        let unit = unit_seconds(c.name("u")?.as_str())?;
        let secs = match n {
            "半" => unit / 2,
            _ => count(n)?.checked_mul(unit)?,
        };
        let utc = ctx.now.checked_sub_signed(TimeDelta::try_seconds(secs)?)?;
        Some(ParsedTime {
            utc,
            precision: TimePrecision::Exact,
            kind: TimeKind::Relative,
        })
    };
    Some(amount(&c))
}

pub(super) fn day_word(s: &str, ctx: &TimeContext) -> Attempt {
    let c = DAY_WORD.captures(s)?;
    let build = |c: &Captures| -> Option<ParsedTime> {
        let w = c.name("w")?.as_str();
        let named = |n: &str| w.eq_ignore_ascii_case(n);
        let back = match w {
            "今天" | "今日" => 0,
            "昨天" | "昨日" => 1,
            "前天" | "一昨日" => 2,
            _ if named("today") || named("heute") => 0,
            _ if named("yesterday") || named("gestern") => 1,
            _ if named("vorgestern") => 2,
            _ => return None,
        };
        let date = local_today(ctx)?.checked_sub_days(Days::new(back))?;
        let (utc, precision) = at(date, clock(c)?, tz_spec(c), ctx.zone)?;
        Some(ParsedTime {
            utc,
            precision,
            kind: TimeKind::Relative,
        })
    };
    Some(build(&c))
}

pub(super) fn bare_time(s: &str, ctx: &TimeContext) -> Attempt {
    let c = BARE_TIME.captures(s)?;
    let build = |c: &Captures| -> Option<ParsedTime> {
        let time = clock(c)??;
        Some(ParsedTime {
            utc: recent_time(time, tz_spec(c), ctx)?,
            precision: TimePrecision::Exact,
            kind: TimeKind::YearLess,
        })
    };
    Some(build(&c))
}

/// Try `fmt` at the start of the text and at each later token start (so
/// surrounding noise such as `发布时间：` is skipped).
pub(super) fn parse_with_format(s: &str, fmt: &str, ctx: &TimeContext) -> Option<ParsedTime> {
    let mut prev_alnum = false;
    let starts = s.char_indices().filter_map(move |(i, ch)| {
        let alnum = ch.is_ascii_alphanumeric();
        let start = i == 0 || (alnum && !prev_alnum);
        prev_alnum = alnum;
        start.then_some(i)
    });
    for start in starts.take(16) {
        let mut parsed = Parsed::new();
        let rest = &s[start..];
        if chrono::format::parse_and_remainder(&mut parsed, rest, StrftimeItems::new(fmt)).is_err()
        {
            continue;
        }
        if let Some(p) = from_parsed(&parsed, ctx) {
            return Some(p);
        }
    }
    None
}

pub(super) fn from_parsed(p: &Parsed, ctx: &TimeContext) -> Option<ParsedTime> {
    let done = |(utc, precision): (DateTime<Utc>, TimePrecision)| ParsedTime {
        utc,
        precision,
        kind: TimeKind::CustomFormat,
    };
    if p.timestamp().is_some() {
        let ndt = p.to_naive_datetime_with_offset(0).ok()?;
        return Some(done((Utc.from_utc_datetime(&ndt), TimePrecision::Exact)));
    }
    let time = p.to_naive_time().ok();
    let spec = p.offset().map_or(TzSpec::Local, TzSpec::Fixed);
    if let Ok(date) = p.to_naive_date() {
        return at(date, time, spec, ctx.zone).map(done);
    }
    let has_year = p.year().is_some() || p.year_mod_100().is_some() || p.isoyear().is_some();
    if let (false, Some(m), Some(d)) = (has_year, p.month(), p.day()) {
        return yearless(m, d, time, spec, ctx).map(done);
    }
    let has_date_part = has_year
        || p.month().is_some()
        || p.day().is_some()
        || p.ordinal().is_some()
        || p.weekday().is_some()
        || p.isoweek().is_some();
    if !has_date_part {
        return Some(done((recent_time(time?, spec, ctx)?, TimePrecision::Exact)));
    }
    None
}
