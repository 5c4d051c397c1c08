//! Reading numbers out of a match: day, month (numeric, English, CJK), clock time with its
//! day-part words, and the counts and units of relative times (`3小时前`, `2 hours ago`).

use chrono::NaiveTime;
use regex::Captures;

pub(super) fn num(c: &Captures, name: &str) -> Option<u32> {
    c.name(name)?.as_str().parse().ok()
}

pub(super) fn month(c: &Captures) -> Option<u32> {
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
pub(super) fn clock(c: &Captures) -> Option<Option<NaiveTime>> {
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

/// `3`, `一`, `两`, `a`, `an`, `one`, `einer` → count.
pub(super) fn count(n: &str) -> Option<i64> {
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
pub(super) fn unit_seconds(u: &str) -> Option<i64> {
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
