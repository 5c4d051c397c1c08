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
//! Nothing in here panics on input: all arithmetic is checked, text is only
//! sliced at boundaries computed on the same string, and every regex is
//! compiled once from a constant pattern.

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::format::{Parsed, StrftimeItems};
use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc,
};
use chrono_tz::Tz;
use regex::{Captures, Regex};

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

// moved: re-export for callers outside this change
pub use crate::units::parse_duration;

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------

/// Map full-width forms to ASCII, unify dashes, drop zero-width characters,
/// read `ſ`/`K` as `s`/`K` (their NFKC forms), collapse every kind of whitespace to single
/// spaces and trim.
///
/// `ſ` (U+017F) and `K` (U+212A) are the only non-ASCII characters whose
/// simple case folding is an ASCII letter, so without this step a
/// case-insensitive pattern such as `[ecmp][sd]t` or `yesterday` would match
/// multi-byte text, and byte offsets taken from the ASCII spelling would
/// land inside a character.
fn normalize(s: &str) -> String {
    let s: Cow<str> = if s.contains('&') {
        Cow::Owned(s.replace("&nbsp;", " ").replace("&#160;", " "))
    } else {
        Cow::Borrowed(s)
    };
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for ch in s.chars() {
        let mapped = match ch {
            // Full-width ASCII block: digits, colon, slash, parentheses, letters…
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            '\u{017F}' => 's',
            '\u{212A}' => 'K',
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' => '-',
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => continue,
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if mapped == ' ' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(mapped);
    }
    out
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_ERROR_TEXT) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Regexes
// ---------------------------------------------------------------------------

/// Clock time with optional seconds, fraction, Chinese day-part prefix,
/// AM/PM suffix and zone.  Named groups: cnap H M S f S2 ap tz.
const TIME: &str = r"(?:(?P<cnap>上午|下午|晚上|凌晨|早上|中午|傍晚|午前|午後)\s*)?(?P<H>\d{1,2})\s*[:时時点點]\s*(?P<M>\d{1,2})(?::(?P<S>\d{1,2})(?:[.,](?P<f>\d+))?|\s*分(?:\s*(?P<S2>\d{1,2})\s*秒)?)?(?:\s*(?P<ap>[ap]\.?\s?m\b\.?))?(?:\s*(?P<tz>z\b|(?:gmt|utc|ut)?\s?[+-]\d{2}:?\d{2}\b|(?:gmt|utc|ut)[+-]\d{1,2}\b|(?:gmt|utc|ut|[ecmp][sd]t)\b))?";

/// Optional weekday after a date: `星期日`, `周一`, `(木)`, `(周三)`.
const WEEKDAY: &str = r"(?:\s*(?:\((?:星期|周|週)?[一二三四五六日天月火水木金土]\)|(?:星期|周|週|礼拜|禮拜)[一二三四五六日天]))?";

/// English month name or abbreviation.  Named group: mon.
const MONTH: &str = r"\b(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?";

/// Separator between an English date and its time: `, ` ` at ` ` • ` ` - `.
const CONNECT: &str = r"(?:\s*[,•·@|-]?\s*(?:at\s+)?)";

/// Compile a constant pattern: `{T}`, `{W}`, `{MON}`, `{C}` are expanded,
/// `\d` means ASCII digits only, matching is case-insensitive.
fn re(pattern: &str) -> Regex {
    let full = format!(
        "(?i){}",
        pattern
            .replace("{T}", TIME)
            .replace("{W}", WEEKDAY)
            .replace("{MON}", MONTH)
            .replace("{C}", CONNECT)
            .replace(r"\d", "[0-9]")
    );
    Regex::new(&full).expect("time.rs: constant regex must compile")
}

/// `2022-03-13T09:27:00+08:00`, `2022/3/13 9:05`, `2022年3月13日 9时27分`, `2022.03.13`,
/// and `2020_07_18` as portals put it in article URLs.
static YMD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9])(?P<y>\d{4})\s*(?:[-/._]|年)\s*(?P<m>\d{1,2})\s*(?:[-/._]|月)\s*(?P<d>\d{1,2})(?:\s*日)?{W}(?:(?:\s*t\s*|[\s,]*){T})?(?:[^0-9]|$)",
    )
});
/// German `13.11.2020, 18:00 Uhr`.
static DMY_DOT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9.])(?P<d>\d{1,2})\.\s?(?P<m>\d{1,2})\.\s?(?P<y>\d{4})(?:[\s,]*(?:um\s*)?{T}(?:\s*uhr)?)?(?:[^0-9]|$)",
    )
});
/// RFC 2822 and friends: `Sun, 13 Mar 2022 09:27:00 +0800`, `13 March 2022`.
static DMY_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9])(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s-]*{MON},?[\s-]*(?P<y>\d{4}|\d{2})(?:{C}{T})?(?:[^0-9:]|$)",
    )
});
/// `Mar 13, 2022 09:27`, `September 3, 2019 at 6:09 AM`, `May 3, 2024 • 8:00 AM EDT`.
static MDY_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"{MON}\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?\s*,?\s*(?P<y>\d{4})(?:{C}{T})?(?:[^0-9]|$)")
});
/// asctime / Unix `date` / Java `Date.toString()`: `Mon Jan 11 12:48:13 EST 2010`.
static ASCTIME: LazyLock<Regex> =
    LazyLock::new(|| re(r"{MON}\s+(?P<d>\d{1,2})\s+{T}\s+(?P<y>\d{4})(?:[^0-9]|$)"));
/// Year-less CJK: `3月13日 09:27`, `10月23日17:26`, `3月13号`.
static MD_CJK: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:^|[^0-9])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号號]?{W}(?:[\s,]*{T})?(?:[^0-9]|$)")
});
/// Year-less numeric: `03-13 09:27`, `07/14`, `[03-13]`, `7/18(月)23:59`.
/// Without a clock time the date must not run into a letter, so headline
/// fragments such as `2-1法国`, `8-10岁`, `10-15万` are not taken for dates.
static MD_NUM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9])(?P<m>\d{1,2})\s*[-/]\s*(?P<d>\d{1,2}){W}(?:[\s,]*{T}(?:[^0-9]|$)|(?:[^0-9\p{L}]|$))",
    )
});
/// Year-less English: `Mar 13`, `Mar 13, 09:27`.
static MD_EN: LazyLock<Regex> =
    LazyLock::new(|| re(r"{MON}\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:{C}{T})?(?:[^0-9]|$)"));
/// Year-less English: `13 Mar`, `13 March 09:27`.
static DM_EN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|[^0-9])(?P<d>\d{1,2})(?:st|nd|rd|th)?\s*{MON}(?:{C}{T})?"));
/// `刚刚`, `just now`.
static JUST_NOW: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"刚刚|剛剛|刚才|剛才|たった今|\bjust now\b|\bmoments? ago\b|\ba moment ago\b|\bgerade eben\b",
    )
});
/// `3小时前`, `半小时前`, `5分前` (Japanese), `1周前`.
static AGO_CJK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?P<n>\d+|[半一二两兩三四五六七八九十])\s*(?P<u>秒钟|秒鐘|秒|分钟|分鐘|分|个小时|個小時|個鐘|小时|小時|時間|天|日|个星期|個星期|星期|周|週|个月|個月|ヶ月|か月|カ月|年)\s*(?:之|以)?前",
    )
});
/// `5 minutes ago`, `an hour ago`, `2h ago`.
static AGO_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9a-z])(?P<n>\d+|an?|one)\s*(?P<u>seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|years?|yrs?|y)\s+ago\b",
    )
});
/// German `vor 5 Minuten`.
static AGO_DE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bvor\s+(?P<n>\d+|einer|einem|einen|eine)\s+(?P<u>sekunden?|minuten?|stunden?|tagen?|tag|wochen?|monaten?|monat|jahren?|jahr)\b",
    )
});
/// `今天 09:27`, `昨天`, `yesterday at 3:04 PM`, `heute, 18:00 Uhr`.
static DAY_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?P<w>前天|昨天|今天|一昨日|昨日|今日|\byesterday\b|\btoday\b|\bvorgestern\b|\bgestern\b|\bheute\b)(?:[\s,]*(?:at\s+|um\s+)?{T}(?:\s*uhr)?)?",
    )
});
/// A clock time with nothing else numeric around it: `18:00`, `12:05PM`, `下午 3:27`.
static BARE_TIME: LazyLock<Regex> = LazyLock::new(|| re(r"^[^0-9]*?{T}(?:\s*uhr)?[^0-9]*$"));

// ---------------------------------------------------------------------------
// Recognisers
// ---------------------------------------------------------------------------

/// Outcome of one recogniser: `None` = pattern absent, `Some(None)` = pattern
/// present but values invalid (stop, reject), `Some(Some(_))` = parsed.
type Attempt = Option<Option<ParsedTime>>;
type Recogniser = fn(&str, &TimeContext) -> Attempt;

const RECOGNISERS: &[Recogniser] = &[
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

fn parse_builtin(s: &str, ctx: &TimeContext) -> Option<ParsedTime> {
    RECOGNISERS.iter().find_map(|r| r(s, ctx)).flatten()
}

fn machine(s: &str, _ctx: &TimeContext) -> Attempt {
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

fn ymd(s: &str, ctx: &TimeContext) -> Attempt {
    let c = YMD.captures(s)?;
    Some(dated(&c, year4(&c), ctx))
}

fn dmy_dot(s: &str, ctx: &TimeContext) -> Attempt {
    let c = DMY_DOT.captures(s)?;
    Some(dated(&c, year4(&c), ctx))
}

fn english_dated(s: &str, ctx: &TimeContext) -> Attempt {
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

fn year4(c: &Captures) -> Option<i32> {
    c.name("y")?.as_str().parse().ok()
}

/// Build a full-date result from captures holding m|mon, d and the time groups.
fn dated(c: &Captures, year: Option<i32>, ctx: &TimeContext) -> Option<ParsedTime> {
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

fn yearless_numeric(s: &str, ctx: &TimeContext) -> Attempt {
    let c = MD_CJK.captures(s).or_else(|| MD_NUM.captures(s))?;
    Some(yearless_from(&c, ctx))
}

fn yearless_english(s: &str, ctx: &TimeContext) -> Attempt {
    if !s.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let c = MD_EN.captures(s).or_else(|| DM_EN.captures(s))?;
    Some(yearless_from(&c, ctx))
}

fn yearless_from(c: &Captures, ctx: &TimeContext) -> Option<ParsedTime> {
    let (utc, precision) = yearless(month(c)?, num(c, "d")?, clock(c)?, tz_spec(c), ctx)?;
    Some(ParsedTime {
        utc,
        precision,
        kind: TimeKind::YearLess,
    })
}

fn just_now(s: &str, ctx: &TimeContext) -> Attempt {
    JUST_NOW.is_match(s).then_some(Some(ParsedTime {
        utc: ctx.now,
        precision: TimePrecision::Exact,
        kind: TimeKind::Relative,
    }))
}

fn ago(s: &str, ctx: &TimeContext) -> Attempt {
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

fn day_word(s: &str, ctx: &TimeContext) -> Attempt {
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

fn bare_time(s: &str, ctx: &TimeContext) -> Attempt {
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
fn parse_with_format(s: &str, fmt: &str, ctx: &TimeContext) -> Option<ParsedTime> {
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

fn from_parsed(p: &Parsed, ctx: &TimeContext) -> Option<ParsedTime> {
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

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Where a local date-time's offset comes from.
#[derive(Debug, Clone, Copy)]
enum TzSpec<'a> {
    /// No offset in the text: use the context zone.
    Local,
    /// A zone abbreviation or numeric offset from the text.
    Named(&'a str),
    /// Offset in seconds east of UTC (from a chrono format's `%z`).
    Fixed(i32),
}

fn tz_spec<'t>(c: &Captures<'t>) -> TzSpec<'t> {
    c.name("tz")
        .map_or(TzSpec::Local, |m| TzSpec::Named(m.as_str()))
}

fn num(c: &Captures, name: &str) -> Option<u32> {
    c.name(name)?.as_str().parse().ok()
}

fn month(c: &Captures) -> Option<u32> {
    if let Some(m) = c.name("m") {
        return m.as_str().parse().ok();
    }
    let name = c.name("mon")?.as_str().as_bytes();
    const NAMES: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let prefix = name.get(..3)?;
    let idx = NAMES.iter().position(|n| n.eq_ignore_ascii_case(prefix))?;
    u32::try_from(idx + 1).ok()
}

/// The clock time in the captures: `Some(None)` when there is none,
/// `None` when present but invalid.
fn clock(c: &Captures) -> Option<Option<NaiveTime>> {
    let Some(h) = c.name("H") else {
        return Some(None);
    };
    let mut hour: u32 = h.as_str().parse().ok()?;
    let minute = num(c, "M")?;
    let second = match c.name("S").or_else(|| c.name("S2")) {
        Some(s) => s.as_str().parse::<u32>().ok()?.min(59), // leap second → :59
        None => 0,
    };
    let nanos = match c.name("f") {
        Some(f) => {
            // Keep nanosecond precision: pad or truncate to 9 digits.
            let digits = f.as_str().bytes().chain(std::iter::repeat(b'0'));
            digits
                .take(9)
                .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
        }
        None => 0,
    };
    let pm = match (c.name("ap"), c.name("cnap")) {
        (Some(ap), _) => Some(ap.as_str().starts_with(['p', 'P'])),
        (None, Some(cn)) => match cn.as_str() {
            "下午" | "晚上" | "傍晚" | "午後" => Some(true),
            "中午" => Some(hour < 11),
            _ => Some(false),
        },
        (None, None) => None,
    };
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).map(Some)
}

/// Offset in seconds east of UTC for a zone name or numeric offset.
/// `CST` means China Standard Time when the source zone is at +08:00
/// (Java's `Date.toString()` on Chinese servers), else US Central.
fn tz_offset(name: &str, zone: Tz, naive: NaiveDateTime) -> Option<i32> {
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

fn numeric_offset(t: &str) -> Option<i32> {
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
fn at(
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
fn local_to_utc(zone: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
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
fn local_date(utc: DateTime<Utc>, zone: Tz) -> Option<NaiveDate> {
    let naive = utc.naive_utc();
    let offset = zone.offset_from_utc_datetime(&naive).fix();
    Some(naive.checked_add_offset(offset)?.date())
}

fn local_today(ctx: &TimeContext) -> Option<NaiveDate> {
    local_date(ctx.now, ctx.zone)
}

/// Most recent `month-day [time]` not more than [`FUTURE_TOLERANCE`] after now
/// (looks back up to 8 years so that Feb 29 finds a leap year).
fn yearless(
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
fn recent_time(time: NaiveTime, spec: TzSpec, ctx: &TimeContext) -> Option<DateTime<Utc>> {
    let today = local_today(ctx)?;
    let (utc, _) = at(today, Some(time), spec, ctx.zone)?;
    if utc <= ctx.now.checked_add_signed(TIME_ONLY_SKEW)? {
        return Some(utc);
    }
    let (utc, _) = at(today.pred_opt()?, Some(time), spec, ctx.zone)?;
    Some(utc)
}

/// `3`, `一`, `两`, `a`, `an`, `one`, `einer` → count.
fn count(n: &str) -> Option<i64> {
    if n.bytes().all(|b| b.is_ascii_digit()) {
        return n.parse().ok();
    }
    let v = match n {
        "一" => 1,
        "二" | "两" | "兩" => 2,
        "三" => 3,
        "四" => 4,
        "五" => 5,
        "六" => 6,
        "七" => 7,
        "八" => 8,
        "九" => 9,
        "十" => 10,
        _ if ["a", "an", "one", "ein", "eine", "einer", "einem", "einen"]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(n)) =>
        {
            1
        }
        _ => return None,
    };
    Some(v)
}

/// Seconds in a relative-time unit (months/years approximated as 30/365 days).
fn unit_seconds(u: &str) -> Option<i64> {
    const MIN: i64 = 60;
    const HOUR: i64 = 3_600;
    const DAY: i64 = 86_400;
    let lower = u.to_lowercase();
    let secs = match lower.as_str() {
        "秒" | "秒钟" | "秒鐘" | "s" | "sec" | "secs" | "second" | "seconds" | "sekunde"
        | "sekunden" => 1,
        "分" | "分钟" | "分鐘" | "m" | "min" | "mins" | "minute" | "minutes" | "minuten" => {
            MIN
        }
        "小时" | "小時" | "个小时" | "個小時" | "個鐘" | "時間" | "h" | "hr" | "hrs" | "hour"
        | "hours" | "stunde" | "stunden" => HOUR,
        "天" | "日" | "d" | "day" | "days" | "tag" | "tage" | "tagen" => DAY,
        "周" | "週" | "星期" | "个星期" | "個星期" | "w" | "wk" | "wks" | "week" | "weeks"
        | "woche" | "wochen" => 7 * DAY,
        "个月" | "個月" | "ヶ月" | "か月" | "カ月" | "mo" | "mos" | "month" | "months"
        | "monat" | "monate" | "monaten" => 30 * DAY,
        "年" | "y" | "yr" | "yrs" | "year" | "years" | "jahr" | "jahre" | "jahren" => 365 * DAY,
        _ => return None,
    };
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York as NY;
    use chrono_tz::Asia::Shanghai as SH;
    use chrono_tz::Europe::Berlin as BE;
    use TimeKind::*;
    use TimePrecision::*;

    /// Mon 2022-03-14 06:00 UTC = 14:00 in Shanghai, 02:00 EDT in New York,
    /// 07:00 CET in Berlin (US DST began 2022-03-13 02:00 local).
    const NOW: &str = "2022-03-14T06:00:00Z";

    #[derive(Debug, Clone, Copy)]
    enum Exp {
        Ok(&'static str, TimePrecision, TimeKind),
        Future,
        Old,
        Bad,
        Empty,
    }

    struct Row {
        input: &'static str,
        zone: Tz,
        now: &'static str,
        format: Option<&'static str>,
        exp: Exp,
    }

    const fn r(input: &'static str, zone: Tz, exp: Exp) -> Row {
        Row {
            input,
            zone,
            now: NOW,
            format: None,
            exp,
        }
    }
    const fn rn(input: &'static str, zone: Tz, now: &'static str, exp: Exp) -> Row {
        Row {
            input,
            zone,
            now,
            format: None,
            exp,
        }
    }
    const fn rf(input: &'static str, zone: Tz, format: &'static str, exp: Exp) -> Row {
        Row {
            input,
            zone,
            now: NOW,
            format: Some(format),
            exp,
        }
    }
    const fn ok(utc: &'static str, p: TimePrecision, k: TimeKind) -> Exp {
        Exp::Ok(utc, p, k)
    }

    const ROWS: &[Row] = &[
        // --- RFC 3339 / ISO ---
        r(
            "2022-03-13T09:27:00+08:00",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2022-03-13T01:27:00Z",
            NY,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2022-03-13T09:27:00.123456+08:00",
            NY,
            ok("2022-03-13T01:27:00.123456Z", Exact, Absolute),
        ),
        r(
            "2022-03-13T01:27:00.5Z",
            SH,
            ok("2022-03-13T01:27:00.5Z", Exact, Absolute),
        ),
        r(
            "2022-03-13T01:27:00.1234567891Z",
            SH,
            ok("2022-03-13T01:27:00.123456789Z", Exact, Absolute),
        ),
        r(
            "2021-12-23T18:54:10",
            NY,
            ok("2021-12-23T23:54:10Z", Exact, Absolute),
        ),
        rn(
            "2022-12-23T18:54:10",
            NY,
            "2022-12-24T00:30:00Z",
            ok("2022-12-23T23:54:10Z", Exact, Absolute),
        ),
        r(
            "2019-08-21T03:01:36-07:00",
            SH,
            ok("2019-08-21T10:01:36Z", Exact, Absolute),
        ),
        r(
            "2018-04-09T13:46:28.000Z",
            SH,
            ok("2018-04-09T13:46:28Z", Exact, Absolute),
        ),
        // --- numeric Chinese-portal forms ---
        r(
            "2022-03-13 09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2022-03-13 09:42:07",
            SH,
            ok("2022-03-13T01:42:07Z", Exact, Absolute),
        ),
        r(
            "2022/03/13 09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2022.03.13 09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        // Dates carried in article URLs (guancha: `/politics/2020_07_18_558136.shtml`).
        r(
            "/politics/2020_07_18_558136.shtml",
            SH,
            ok("2020-07-17T16:00:00Z", Day, DateOnly),
        ),
        r(
            "https://news.sina.com.cn/c/2019-11-24/doc-iihnzahi2943593.shtml",
            SH,
            ok("2019-11-23T16:00:00Z", Day, DateOnly),
        ),
        r(
            "2022-3-3 9:05",
            SH,
            ok("2022-03-03T01:05:00Z", Exact, Absolute),
        ),
        r(
            "2022-3-3 9:05",
            NY,
            ok("2022-03-03T14:05:00Z", Exact, Absolute),
        ),
        r(
            "2022年3月13日 09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2022年03月13日09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2022年3月13日 9时27分",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2022年3月13日 9时27分30秒",
            SH,
            ok("2022-03-13T01:27:30Z", Exact, Absolute),
        ),
        r(
            "2022年3月13日 下午3:27",
            SH,
            ok("2022-03-13T07:27:00Z", Exact, Absolute),
        ),
        r(
            "2022年03月13日 星期日 09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2016年7月14日(木) 09:27",
            SH,
            ok("2016-07-14T01:27:00Z", Exact, Absolute),
        ),
        r(
            "2019年06月15日08:18\u{a0}\u{a0}来源：人民网",
            SH,
            ok("2019-06-15T00:18:00Z", Exact, Absolute),
        ),
        r(
            "2019年06月15日08:18&nbsp;&nbsp;来源：",
            SH,
            ok("2019-06-15T00:18:00Z", Exact, Absolute),
        ),
        // --- with noise ---
        r(
            "最后更新: 2022-03-13 09:42:07",
            SH,
            ok("2022-03-13T01:42:07Z", Exact, Absolute),
        ),
        r(
            "(2020-08-16 22:26:38)",
            SH,
            ok("2020-08-16T14:26:38Z", Exact, Absolute),
        ),
        r(
            "发布时间：2022-03-13 09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "来源：新华社 2022-03-13",
            SH,
            ok("2022-03-12T16:00:00Z", Day, DateOnly),
        ),
        r("[03-13]", SH, ok("2022-03-12T16:00:00Z", Day, YearLess)),
        r(
            "  2022-03-13 09:27  阅读(123) ",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        // --- RFC 2822 / 822 with deviations ---
        r(
            "Sun, 13 Mar 2022 09:27:00 +0800",
            NY,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00 GMT",
            SH,
            ok("2022-03-13T09:27:00Z", Exact, Absolute),
        ),
        r(
            "13 Mar 2022 09:27:00 +0800",
            NY,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "Fri, 13 Mar 2022 09:27:00 GMT",
            SH,
            ok("2022-03-13T09:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 6 Mar 2022 09:27:00 EST",
            SH,
            ok("2022-03-06T14:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 22 09:27:00 PST",
            SH,
            ok("2022-03-13T17:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27 EDT",
            SH,
            ok("2022-03-13T13:27:00Z", Exact, Absolute),
        ),
        r(
            "Mon, 13 Sept 2021 09:27:00 UT",
            SH,
            ok("2021-09-13T09:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 June 2021 09:27:00 CDT",
            SH,
            ok("2021-06-13T14:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 February 2022 09:27:00 MST",
            SH,
            ok("2022-02-13T16:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00 MDT",
            SH,
            ok("2022-03-13T15:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00 PDT",
            SH,
            ok("2022-03-13T16:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00 Z",
            NY,
            ok("2022-03-13T09:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00 UTC",
            NY,
            ok("2022-03-13T09:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun,  13  Mar   2022  09:27:00   +08:00  ",
            NY,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00 +0000 (UTC) trailing junk",
            SH,
            ok("2022-03-13T09:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00 CST",
            NY,
            ok("2022-03-13T15:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00 CST",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "Sun, 13 Mar 2022 09:27:00",
            NY,
            ok("2022-03-13T13:27:00Z", Exact, Absolute),
        ),
        r(
            "13-Mar-2022 09:27 GMT+8",
            NY,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        // --- English prose dates ---
        r(
            "Mar 13, 2022 09:27",
            NY,
            ok("2022-03-13T13:27:00Z", Exact, Absolute),
        ),
        r(
            "13 March 2022",
            SH,
            ok("2022-03-12T16:00:00Z", Day, DateOnly),
        ),
        r(
            "March 13th, 2022",
            NY,
            ok("2022-03-13T05:00:00Z", Day, DateOnly),
        ),
        r(
            "Posted on September 3, 2019 at 6:09 AM",
            NY,
            ok("2019-09-03T10:09:00Z", Exact, Absolute),
        ),
        r(
            "May 3, 2021 • 8:00 AM EDT",
            SH,
            ok("2021-05-03T12:00:00Z", Exact, Absolute),
        ),
        r(
            "Mon Jan 11 12:48:13 EST 2010",
            SH,
            ok("2010-01-11T17:48:13Z", Exact, Absolute),
        ),
        r(
            "Sun Mar 13 09:27:00 CST 2022",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "13.11.2020, 18:00 Uhr",
            BE,
            ok("2020-11-13T17:00:00Z", Exact, Absolute),
        ),
        // --- date only ---
        r("2022-03-13", SH, ok("2022-03-12T16:00:00Z", Day, DateOnly)),
        r(
            "2022年3月13日",
            SH,
            ok("2022-03-12T16:00:00Z", Day, DateOnly),
        ),
        r("2022/3/13", NY, ok("2022-03-13T05:00:00Z", Day, DateOnly)),
        r("3月13日", SH, ok("2022-03-12T16:00:00Z", Day, YearLess)),
        // --- year-less ---
        r(
            "03-13 09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, YearLess),
        ),
        r(
            "3月13日 09:27",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, YearLess),
        ),
        r(
            "10月23日17:26",
            SH,
            ok("2021-10-23T09:26:00Z", Exact, YearLess),
        ),
        r("07/14", SH, ok("2021-07-13T16:00:00Z", Day, YearLess)),
        r("03-13", NY, ok("2022-03-13T05:00:00Z", Day, YearLess)),
        r(
            "7/18(月)23:59",
            SH,
            ok("2021-07-18T15:59:00Z", Exact, YearLess),
        ),
        r(
            "03-15 09:00",
            SH,
            ok("2022-03-15T01:00:00Z", Exact, YearLess),
        ),
        r("02-29", SH, ok("2020-02-28T16:00:00Z", Day, YearLess)),
        r("3月13号", SH, ok("2022-03-12T16:00:00Z", Day, YearLess)),
        r("7/19(火)", SH, ok("2021-07-18T16:00:00Z", Day, YearLess)),
        r("德国2-1法国", SH, Exp::Bad),
        r("8-10岁", SH, Exp::Bad),
        r("Mar 13", SH, ok("2022-03-12T16:00:00Z", Day, YearLess)),
        rn(
            "12-31 23:00",
            SH,
            "2022-01-02T04:00:00Z",
            ok("2021-12-31T15:00:00Z", Exact, YearLess),
        ),
        rn(
            "12-31 23:00",
            NY,
            "2022-01-02T04:00:00Z",
            ok("2022-01-01T04:00:00Z", Exact, YearLess),
        ),
        // --- relative ---
        r("刚刚", SH, ok("2022-03-14T06:00:00Z", Exact, Relative)),
        r("30秒前", SH, ok("2022-03-14T05:59:30Z", Exact, Relative)),
        r("5分钟前", NY, ok("2022-03-14T05:55:00Z", Exact, Relative)),
        r("3小时前", SH, ok("2022-03-14T03:00:00Z", Exact, Relative)),
        r("半小时前", SH, ok("2022-03-14T05:30:00Z", Exact, Relative)),
        r("2天前", SH, ok("2022-03-12T06:00:00Z", Exact, Relative)),
        r("1周前", SH, ok("2022-03-07T06:00:00Z", Exact, Relative)),
        r(
            "今天 09:27",
            SH,
            ok("2022-03-14T01:27:00Z", Exact, Relative),
        ),
        rn(
            "昨天 23:50",
            SH,
            "2022-03-14T16:05:00Z",
            ok("2022-03-14T15:50:00Z", Exact, Relative),
        ),
        r(
            "前天 08:00",
            SH,
            ok("2022-03-12T00:00:00Z", Exact, Relative),
        ),
        r("今天", SH, ok("2022-03-13T16:00:00Z", Day, Relative)),
        r("昨天", NY, ok("2022-03-13T05:00:00Z", Day, Relative)),
        r(
            "5 minutes ago",
            NY,
            ok("2022-03-14T05:55:00Z", Exact, Relative),
        ),
        r("1 min ago", SH, ok("2022-03-14T05:59:00Z", Exact, Relative)),
        r(
            "an hour ago",
            SH,
            ok("2022-03-14T05:00:00Z", Exact, Relative),
        ),
        r(
            "3 hours ago",
            NY,
            ok("2022-03-14T03:00:00Z", Exact, Relative),
        ),
        r(
            "2 days ago",
            SH,
            ok("2022-03-12T06:00:00Z", Exact, Relative),
        ),
        r("2h ago", SH, ok("2022-03-14T04:00:00Z", Exact, Relative)),
        r("yesterday", SH, ok("2022-03-12T16:00:00Z", Day, Relative)),
        r(
            "today 09:27",
            NY,
            ok("2022-03-14T13:27:00Z", Exact, Relative),
        ),
        r(
            "Yesterday at 3:04 PM",
            NY,
            ok("2022-03-13T19:04:00Z", Exact, Relative),
        ),
        r("just now", NY, ok("2022-03-14T06:00:00Z", Exact, Relative)),
        r(
            "gestern, 17:35 Uhr",
            BE,
            ok("2022-03-13T16:35:00Z", Exact, Relative),
        ),
        r(
            "vor 5 Minuten",
            BE,
            ok("2022-03-14T05:55:00Z", Exact, Relative),
        ),
        // --- full-width ---
        r(
            "１２：３０",
            SH,
            ok("2022-03-14T04:30:00Z", Exact, YearLess),
        ),
        r(
            "今天 １２：３０",
            SH,
            ok("2022-03-14T04:30:00Z", Exact, Relative),
        ),
        r("３小时前", SH, ok("2022-03-14T03:00:00Z", Exact, Relative)),
        r(
            "２０２２年３月１３日　０９：２７",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        r(
            "２０２２－０３－１３",
            SH,
            ok("2022-03-12T16:00:00Z", Day, DateOnly),
        ),
        // --- bare clock times ---
        r("12:05PM", NY, ok("2022-03-13T16:05:00Z", Exact, YearLess)),
        r("01:30", NY, ok("2022-03-14T05:30:00Z", Exact, YearLess)),
        r("下午 3:27", SH, ok("2022-03-13T07:27:00Z", Exact, YearLess)),
        // --- machine ---
        r("1647134820", SH, ok("2022-03-13T01:27:00Z", Exact, Machine)),
        r(
            "1647134820123",
            NY,
            ok("2022-03-13T01:27:00.123Z", Exact, Machine),
        ),
        r(
            "１６４７１３４８２０",
            SH,
            ok("2022-03-13T01:27:00Z", Exact, Machine),
        ),
        r("9999999999", SH, Exp::Future),
        r("9999999999999999999", SH, Exp::Bad),
        // --- per-section format ---
        rf(
            "发布于 2022年03月13日 09:27 来源",
            SH,
            "%Y年%m月%d日 %H:%M",
            ok("2022-03-13T01:27:00Z", Exact, CustomFormat),
        ),
        rf(
            "2022/13/03",
            SH,
            "%Y/%d/%m",
            ok("2022-03-12T16:00:00Z", Day, CustomFormat),
        ),
        rf(
            "09:27",
            SH,
            "%H:%M",
            ok("2022-03-14T01:27:00Z", Exact, CustomFormat),
        ),
        rf(
            "03-13 09:27",
            SH,
            "%m-%d %H:%M",
            ok("2022-03-13T01:27:00Z", Exact, CustomFormat),
        ),
        rf(
            "2022-03-13 09:27 +0000",
            NY,
            "%Y-%m-%d %H:%M %z",
            ok("2022-03-13T09:27:00Z", Exact, CustomFormat),
        ),
        rf(
            "2022-03-13 09:27",
            SH,
            "%d.%m.%Y",
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        rf(
            "2022-03-13 09:27",
            SH,
            "",
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        rf(
            "2022-03-13 09:27",
            SH,
            "%Q%",
            ok("2022-03-13T01:27:00Z", Exact, Absolute),
        ),
        // --- DST edges ---
        r(
            "2022-03-13 02:30",
            NY,
            ok("2022-03-13T07:30:00Z", Exact, Absolute),
        ),
        r(
            "2021-11-07 01:30",
            NY,
            ok("2021-11-07T05:30:00Z", Exact, Absolute),
        ),
        r("2022-03-27 02:30", BE, Exp::Future),
        r(
            "2021-03-28 02:30",
            BE,
            ok("2021-03-28T01:30:00Z", Exact, Absolute),
        ),
        // --- future ---
        r("2022-03-16 09:00", SH, Exp::Future),
        r("2023-01-01", SH, Exp::Future),
        r(
            "2022-03-15 01:59",
            NY,
            ok("2022-03-15T05:59:00Z", Exact, Absolute),
        ),
        r("2022-03-15 02:01", NY, Exp::Future),
        // --- too old: placeholders, wrong centuries, absurd relative counts ---
        r("0000000000", SH, Exp::Old),
        r("0000000000000", SH, Exp::Old),
        r("631151999", SH, Exp::Bad),
        r("0631151999", NY, Exp::Old),
        r("0631152000", NY, ok("1990-01-01T00:00:00Z", Exact, Machine)),
        r("1970-01-01 08:00", SH, Exp::Old),
        r("0000-01-01", SH, Exp::Old),
        r("0001-01-01 00:00", SH, Exp::Old),
        r(
            "1990-01-01 00:00 +0000",
            SH,
            ok("1990-01-01T00:00:00Z", Exact, Absolute),
        ),
        r("1990-01-01 07:59", SH, Exp::Old),
        r("Sun, 13 Mar 89 09:27:00 GMT", SH, Exp::Old),
        r("99999年前", SH, Exp::Old),
        r("36年前", SH, Exp::Old),
        r("30年前", SH, ok("1992-03-21T06:00:00Z", Exact, Relative)),
        r("9999 years ago", NY, Exp::Old),
        r("vor 100 Jahren", BE, Exp::Old),
        rf("0000|01|01", SH, "%Y|%m|%d", Exp::Old),
        rf("-0044|03|15", SH, "%Y|%m|%d", Exp::Old),
        rf("+12000|03|15", SH, "%Y|%m|%d", Exp::Future),
        rf("1", SH, "%s", Exp::Old),
        // --- characters whose case folding is ASCII: `ſ` is `s`, `K` (Kelvin) is `K` ---
        r(
            "Sun, 13 Mar 2022 09:27:00 Pſt",
            SH,
            ok("2022-03-13T17:27:00Z", Exact, Absolute),
        ),
        r(
            "13 Mar 2022 09:27 eſt",
            SH,
            ok("2022-03-13T14:27:00Z", Exact, Absolute),
        ),
        r("yeſterday", SH, ok("2022-03-12T16:00:00Z", Day, Relative)),
        r("2 wKs ago", SH, ok("2022-02-28T06:00:00Z", Exact, Relative)),
        r("vorgeſtern", BE, ok("2022-03-11T23:00:00Z", Day, Relative)),
        // --- huge numbers ---
        r("99999999999天前", SH, Exp::Bad),
        r("9223372036854775807秒前", SH, Exp::Bad),
        r("18446744073709551616 hours ago", SH, Exp::Bad),
        r("99999999999999999999", SH, Exp::Bad),
        r("９９９９９９９９９９９天前", SH, Exp::Bad),
        // --- rejects ---
        r("", SH, Exp::Empty),
        r(" \u{3000}\t\n", SH, Exp::Empty),
        r("abc", SH, Exp::Bad),
        r("2022-13-45 99:99", SH, Exp::Bad),
        r("2022-02-30", SH, Exp::Bad),
        r("发布时间：", SH, Exp::Bad),
        r("25:61", SH, Exp::Bad),
        r("Sun, 13 Foo 2022 09:27:00 GMT", SH, Exp::Bad),
        r("明天", SH, Exp::Bad),
    ];

    fn dt(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("bad test timestamp {s}: {e}"))
    }

    #[test]
    fn table() {
        let mut failures = Vec::new();
        for row in ROWS {
            let ctx = TimeContext {
                zone: row.zone,
                now: dt(row.now),
                format: row.format,
            };
            let got = parse_time(row.input, &ctx);
            let good = match (row.exp, &got) {
                (Exp::Ok(utc, p, k), Ok(pt)) => {
                    pt.utc == dt(utc) && pt.precision == p && pt.kind == k
                }
                (Exp::Future, Err(TimeError::InFuture { .. })) => true,
                (Exp::Old, Err(TimeError::TooOld { .. })) => true,
                (Exp::Bad, Err(TimeError::NotUnderstood(_))) => true,
                (Exp::Empty, Err(TimeError::Empty)) => true,
                _ => false,
            };
            if !good {
                failures.push(format!(
                    "{:?} in {} (format {:?}): expected {:?}, got {:?}",
                    row.input, row.zone, row.format, row.exp, got
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert!(ROWS.len() >= 70, "only {} rows", ROWS.len());
    }

    #[test]
    fn errors_carry_text() {
        let ctx = TimeContext::new(SH, dt(NOW));
        assert_eq!(
            parse_time("  abc ", &ctx),
            Err(TimeError::NotUnderstood("abc".into()))
        );
        assert_eq!(
            parse_time("2022-03-16 09:00", &ctx),
            Err(TimeError::InFuture {
                text: "2022-03-16 09:00".into(),
                utc: dt("2022-03-16T01:00:00Z")
            })
        );
        let long = "x".repeat(1000);
        match parse_time(&long, &ctx) {
            Err(TimeError::NotUnderstood(t)) => assert_eq!(t.chars().count(), MAX_ERROR_TEXT),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn context_helpers() {
        let ctx = TimeContext::new(SH, dt(NOW)).with_format("%Y|%m|%d");
        assert_eq!(ctx.format, Some("%Y|%m|%d"));
        let p = parse_time("2022|03|13", &ctx).map(|p| (p.utc, p.kind));
        assert_eq!(p, Ok((dt("2022-03-12T16:00:00Z"), CustomFormat)));
    }

    #[test]
    fn resolve_published_cases() {
        let day = ParsedTime {
            utc: dt("2022-03-12T16:00:00Z"), // 2022-03-13 00:00 in Shanghai
            precision: Day,
            kind: DateOnly,
        };
        // first seen on the same Shanghai day → first_seen wins
        for seen in [
            "2022-03-13T05:00:00Z",
            "2022-03-12T16:30:00Z",
            "2022-03-13T15:59:59Z",
        ] {
            assert_eq!(resolve_published(&day, dt(seen), SH), dt(seen), "{seen}");
        }
        // different local day → midnight
        for seen in [
            "2022-03-12T15:59:00Z",
            "2022-03-13T16:00:00Z",
            "2022-03-20T00:00:00Z",
        ] {
            assert_eq!(resolve_published(&day, dt(seen), SH), day.utc, "{seen}");
        }
        // same UTC instant but judged in New York the day differs
        // (day.utc is 2022-03-12 11:00 in New York)
        assert_eq!(
            resolve_published(&day, dt("2022-03-12T20:00:00Z"), NY),
            dt("2022-03-12T20:00:00Z")
        );
        assert_eq!(
            resolve_published(&day, dt("2022-03-13T05:00:00Z"), NY),
            day.utc
        );
        // exact times are kept as they are
        let exact = ParsedTime {
            utc: dt("2022-03-13T01:27:00Z"),
            precision: Exact,
            kind: Absolute,
        };
        assert_eq!(
            resolve_published(&exact, dt("2022-03-13T05:00:00Z"), SH),
            exact.utc
        );
        // end to end
        let ctx = TimeContext::new(SH, dt(NOW));
        let p = parse_time("今天", &ctx).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resolve_published(&p, ctx.now, SH), ctx.now);
    }

    #[test]
    fn each_regex_recognises_its_example() {
        let cases: [(&LazyLock<Regex>, &str); 15] = [
            (&YMD, "2022-03-13 09:27"),
            (&DMY_DOT, "13.11.2020, 18:00 Uhr"),
            (&DMY_EN, "Sun, 13 Mar 2022 09:27:00 GMT"),
            (&MDY_EN, "Mar 13, 2022 09:27"),
            (&ASCTIME, "Mon Jan 11 12:48:13 EST 2010"),
            (&MD_CJK, "3月13日 09:27"),
            (&MD_NUM, "03-13 09:27"),
            (&MD_EN, "Mar 13"),
            (&DM_EN, "13 March"),
            (&JUST_NOW, "刚刚"),
            (&AGO_CJK, "3小时前"),
            (&AGO_EN, "5 minutes ago"),
            (&AGO_DE, "vor 5 Minuten"),
            (&DAY_WORD, "昨天 23:50"),
            (&BARE_TIME, "12:05PM"),
        ];
        for (regex, example) in cases {
            assert!(regex.is_match(example), "{} / {example}", regex.as_str());
            assert!(!regex.is_match("headline"), "{}", regex.as_str());
        }
    }

    #[test]
    fn normalize_full_width_and_space() {
        assert_eq!(
            normalize("\u{200B} ２０２２－０３－１３　１２：３０ "),
            "2022-03-13 12:30"
        );
        assert_eq!(normalize("a&nbsp;&nbsp;b\t\nc"), "a b c");
    }

    #[test]
    fn zone_prefix_and_folded_letters_stay_on_char_boundaries() {
        // One ASCII letter, then a multi-byte character: slicing two bytes would split it.
        for tz in ["pſt", "uſ", "gſt", "u\u{212A}", "+08:00", "ut", "g", ""] {
            let _ = numeric_offset(tz);
            let _ = tz_offset(tz, SH, NaiveDateTime::MIN);
        }
        assert_eq!(numeric_offset("utc+8"), Some(8 * 3600));
        assert_eq!(numeric_offset("GMT-05:30"), Some(-(5 * 3600 + 30 * 60)));
        assert_eq!(numeric_offset("pſt"), None);
        assert_eq!(normalize("Pſt \u{212A}"), "Pst K");
    }

    #[test]
    fn results_are_within_believable_years() {
        let early = EARLIEST_BELIEVABLE;
        assert_eq!(early, dt("1990-01-01T00:00:00Z"));
        assert_eq!(LATEST_PRINTABLE.year(), 9999);
        // With an absurd clock, printable years still bound the result.
        let ctx = TimeContext::new(SH, DateTime::<Utc>::MAX_UTC).with_format("%Y|%m|%d");
        assert!(matches!(
            parse_time("+20000|01|01", &ctx),
            Err(TimeError::InFuture { .. })
        ));
        assert!(parse_time("9999|01|01", &ctx).is_ok());
        let ctx = TimeContext::new(SH, DateTime::<Utc>::MIN_UTC);
        assert!(matches!(
            parse_time("2022-03-13", &ctx),
            Err(TimeError::InFuture { .. })
        ));
        let ctx = TimeContext::new(SH, dt(NOW));
        assert_eq!(
            parse_time(" 1970-01-01 ", &ctx),
            Err(TimeError::TooOld {
                text: "1970-01-01".into(),
                utc: dt("1969-12-31T16:00:00Z"),
            })
        );
    }

    #[test]
    fn samoa_skipped_day_does_not_panic() {
        // Pacific/Apia skipped 2011-12-30 entirely.
        let ctx = TimeContext::new(chrono_tz::Pacific::Apia, dt("2012-01-05T00:00:00Z"));
        let p = parse_time("2011-12-30 12:00", &ctx);
        assert!(p.is_ok(), "{p:?}");
    }
}
