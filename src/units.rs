//! Durations and sizes as people write them in `feeds.toml` and query strings.
//!
//! A leaf module: `config` reads `interval = "10m"` and `max_body = "8MiB"` with it, the
//! server reads `?since=6h`. Rules owned here: a unit is always required for a duration (a bare
//! `10` could be seconds or minutes), sizes are binary (`k` = 1024), and zero, negative,
//! fractional or overflowing values are not values.

use std::time::Duration;

/// Parse a duration like `90s`, `10m`, `6h`, `7d` (used by config and query
/// params).  Also accepts `ms`, `w`, long unit names (`5 minutes`) and sums
/// (`1h30m`).  A unit is required; negative, fractional or overflowing values
/// give `None`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    const UNITS: &[(&str, u64)] = &[
        ("ms", 1),
        ("msec", 1),
        ("msecs", 1),
        ("millis", 1),
        ("s", 1_000),
        ("sec", 1_000),
        ("secs", 1_000),
        ("second", 1_000),
        ("seconds", 1_000),
        ("m", 60_000),
        ("min", 60_000),
        ("mins", 60_000),
        ("minute", 60_000),
        ("minutes", 60_000),
        ("h", 3_600_000),
        ("hr", 3_600_000),
        ("hrs", 3_600_000),
        ("hour", 3_600_000),
        ("hours", 3_600_000),
        ("d", 86_400_000),
        ("day", 86_400_000),
        ("days", 86_400_000),
        ("w", 604_800_000),
        ("wk", 604_800_000),
        ("wks", 604_800_000),
        ("week", 604_800_000),
        ("weeks", 604_800_000),
    ];
    let s = text.trim().as_bytes();
    if s.is_empty() {
        return None;
    }
    let mut i = 0;
    let mut total_ms: u64 = 0;
    while i < s.len() {
        while i < s.len() && s[i] == b' ' {
            i += 1;
        }
        let num_start = i;
        let mut n: u64 = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            n = n.checked_mul(10)?.checked_add(u64::from(s[i] - b'0'))?;
            i += 1;
        }
        if i == num_start {
            return None;
        }
        while i < s.len() && s[i] == b' ' {
            i += 1;
        }
        let unit_start = i;
        while i < s.len() && s[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let mult = UNITS
            .iter()
            .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(unit))?
            .1;
        total_ms = total_ms.checked_add(n.checked_mul(mult)?)?;
        while i < s.len() && s[i] == b' ' {
            i += 1;
        }
    }
    Some(Duration::from_millis(total_ms))
}

/// Parse a size like `8MiB`, `512 kb` or `4096` (bytes); `k`, `m` and `g` are powers of 1024.
/// Zero, unknown units and overflow give `None`.
pub fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_cases() {
        let s = Duration::from_secs;
        let cases: &[(&str, Option<Duration>)] = &[
            ("90s", Some(s(90))),
            ("10m", Some(s(600))),
            ("6h", Some(s(21_600))),
            ("7d", Some(s(604_800))),
            ("1w", Some(s(604_800))),
            ("500ms", Some(Duration::from_millis(500))),
            ("1h30m", Some(s(5_400))),
            (" 5 minutes ", Some(s(300))),
            ("2 Hours", Some(s(7_200))),
            ("0s", Some(s(0))),
            ("", None),
            ("   ", None),
            ("abc", None),
            ("10", None),
            ("-5s", None),
            ("1.5h", None),
            ("5x", None),
            ("h", None),
            ("5h junk", None),
            ("１０m", None),
            ("99999999999999999999d", None),
            ("9999999999999999d", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), *want, "{input:?}");
        }
    }

    #[test]
    fn size_cases() {
        assert_eq!(parse_size("8MiB"), Some(8 * 1024 * 1024));
        assert_eq!(parse_size("512 kb"), Some(512 * 1024));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("99999999999999999999g"), None);
    }
}
