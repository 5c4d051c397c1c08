//! Feed query parameters: parsed strictly, so a typo gets a `400` with a reason instead of a
//! silently different feed.
//!
//! All parameters combine with AND; repeated or comma-separated values of one parameter with
//! OR (`q` is the exception: every word must appear). Section values are folded with
//! `fold_label` (case, width, traditional/simplified) exactly as the store folded the labels
//! it indexed. An empty value (what an HTML form sends for an empty field) means "no filter".

use chrono::{DateTime, Utc};

use crate::normalize::search;
use crate::text::fold_label;
use crate::units::parse_duration;

/// The largest `limit` a reader may ask for.
pub const MAX_LIMIT: usize = 500;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 50;
/// The most `section` plus `source` values one query may name: each is one more index scan
/// merged for every item read, so an unbounded list would make one request arbitrarily slow.
pub const MAX_FILTER_VALUES: usize = 64;
/// The most `q` plus `exclude` words one query may carry (each is searched in every item).
pub const MAX_WORDS: usize = 32;
/// The longest value quoted back in a `400` reason (longer ones are cut, marked with `…`).
const SHOWN_CHARS: usize = 48;

/// A parsed feed query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedQuery {
    /// Folded section keys (any of).
    pub sections: Vec<String>,
    /// Source ids (any of).
    pub sources: Vec<String>,
    /// Words that must all appear (lower-cased).
    pub words: Vec<String>,
    /// Words of which none may appear (lower-cased).
    pub exclude: Vec<String>,
    /// Only items published at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Whether `since` was a duration (relative to now), so the result changes with time.
    pub since_relative: bool,
    /// At most this many items.
    pub limit: usize,
    /// The token given, if any.
    pub token: Option<String>,
    /// `content=summary`: serve summaries only, never the stored full text (smaller feeds for
    /// readers that open the story page themselves).
    pub summary_only: bool,
}

impl FeedQuery {
    /// A canonical text for cache keys: same meaning → same key (token excluded).
    pub fn cache_key(&self) -> String {
        let mut sections = self.sections.clone();
        sections.sort();
        sections.dedup();
        let mut sources = self.sources.clone();
        sources.sort();
        sources.dedup();
        let mut words = self.words.clone();
        words.sort();
        let mut exclude = self.exclude.clone();
        exclude.sort();
        format!(
            "s={}|src={}|q={}|x={}|since={}|l={}|c={}",
            sections.join(","),
            sources.join(","),
            words.join(" "),
            exclude.join(" "),
            self.since.map(|t| t.timestamp()).unwrap_or(0),
            self.limit,
            u8::from(self.summary_only)
        )
    }

    /// Whether a story with this title and summary passes the keyword filters: the rule the
    /// store applies to its stored search text ([`crate::normalize::search`]: markup not
    /// searched, CJK words matched as substrings after the same folding as labels).
    pub fn keeps(&self, title: &str, summary: Option<&str>) -> bool {
        if self.words.is_empty() && self.exclude.is_empty() {
            return true;
        }
        search::matches(
            &search::search_text(title, summary),
            &self.words,
            &self.exclude,
        )
    }
}

/// Why a query string was refused: each reason is one line that names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `%` not followed by two hex digits (`%zz`, `%f`, a trailing `%`).
    #[error("query parameter {param}: `{escape}` is not a percent-escape (a `%` must be followed by two hex digits)")]
    BadEscape {
        /// The parameter, as `` `name` `` (or "name `…`" when the name itself is malformed).
        param: String,
        /// The malformed escape as it appeared.
        escape: String,
    },
    /// The decoded bytes are not UTF-8 (`%ff`, a lone `%e6`).
    #[error("query parameter {param}: the percent-escapes do not decode to UTF-8 text")]
    NotUtf8 {
        /// The parameter, as in [`QueryError::BadEscape`].
        param: String,
    },
    /// A parameter this server does not read (names are case-sensitive).
    #[error("unknown query parameter `{name}`; use {allowed}")]
    Unknown {
        /// The name given.
        name: String,
        /// The parameters the route reads.
        allowed: &'static str,
    },
    /// A parameter that takes one value was given twice.
    #[error("query parameter `{name}` given more than once")]
    Repeated {
        /// The parameter.
        name: &'static str,
    },
    /// `limit` is not a whole number in range.
    #[error("`limit={value}`: use a whole number from 1 to {MAX_LIMIT} in ASCII digits")]
    Limit {
        /// The value given (shortened).
        value: String,
    },
    /// `content` is neither `full` nor `summary`.
    #[error("`content={value}`: use `full` (the stored article text, the default) or `summary`")]
    Content {
        /// The value given (shortened).
        value: String,
    },
    /// `since` is neither an RFC 3339 time nor a duration.
    #[error(
        "`since={value}`: use an RFC 3339 time (2022-03-13T09:27:00+08:00) or a duration (6h, 7d)"
    )]
    Since {
        /// The value given (shortened).
        value: String,
    },
    /// `source` names no configured source.
    #[error("`source={id}`: no source has this id")]
    UnknownSource {
        /// The id given (shortened).
        id: String,
    },
    /// Too many `section`/`source` values or `q`/`exclude` words.
    #[error("too many {what}: at most {max} per query")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The bound.
        max: usize,
    },
}

/// A value quoted in a reason: at most [`SHOWN_CHARS`] characters, control characters
/// escaped, so a reason stays one short line whatever the request carried.
fn shown(value: &str) -> String {
    let mut out = String::new();
    for (n, c) in value.chars().enumerate() {
        if n >= SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`shown`] for other modules: text from a request, safe to quote in a one-line reason.
pub fn shown_text(value: &str) -> String {
    shown(value)
}

/// Splits a raw query string into decoded `(name, value)` pairs, in order. Pairs are separated
/// by `&` (empty pairs are skipped), a pair without `=` has an empty value, `+` is a space, and
/// every `%` must start a two-digit hex escape; the decoded bytes must be UTF-8. Unlike
/// `application/x-www-form-urlencoded` parsing (which keeps a bad escape literally and replaces
/// invalid UTF-8 with U+FFFD), a malformed pair is an error that names its parameter, so a
/// mistyped link gets a reason instead of a silently different feed.
pub fn decode_pairs(raw: &str) -> Result<Vec<(String, String)>, QueryError> {
    let mut pairs = Vec::new();
    for pair in raw.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode_component(raw_name)
            .map_err(|problem| problem.into_error(format!("name `{}`", shown(raw_name))))?;
        let value = decode_component(raw_value)
            .map_err(|problem| problem.into_error(format!("`{}`", shown(&name))))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// What was wrong with one percent-encoded component (the caller knows which parameter).
enum Malformed {
    Escape(String),
    NotUtf8,
}

impl Malformed {
    fn into_error(self, param: String) -> QueryError {
        match self {
            Malformed::Escape(escape) => QueryError::BadEscape { param, escape },
            Malformed::NotUtf8 => QueryError::NotUtf8 { param },
        }
    }
}

/// Percent-decodes one component strictly (`+` is a space): every `%` must start a two-digit
/// hex escape (the `percent-encoding` crate would keep a bad one literally), then the crate
/// decodes and the bytes must be UTF-8.
fn decode_component(raw: &str) -> Result<String, Malformed> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(raw.to_string());
    }
    let bytes = raw.as_bytes();
    for (i, _) in raw.match_indices('%') {
        let hex_at = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_hexdigit);
        if !(hex_at(i + 1) && hex_at(i + 2)) {
            // `%` is ASCII, so `i` is a char boundary of `raw`; quote it and the (at most two)
            // characters after it.
            let escape: String = raw.get(i..).unwrap_or("%").chars().take(3).collect();
            return Err(Malformed::Escape(shown(&escape)));
        }
    }
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| Malformed::NotUtf8)
}

/// Parses a whole number of ASCII digits (surrounding whitespace allowed, no sign), saturating
/// far above any bound so twenty-digit values are "too large" rather than unparseable.
fn ascii_number(value: &str) -> Option<u64> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Parses a raw query string; `now` anchors relative `since` values; `known_source` says
/// whether a source id exists. Unknown parameters, malformed encoding, repeated single-valued
/// parameters (`since`, `limit`, `token`) and out-of-range values are errors.
pub fn parse_query(
    raw: &str,
    now: DateTime<Utc>,
    known_source: &dyn Fn(&str) -> bool,
) -> Result<FeedQuery, QueryError> {
    let mut query = FeedQuery {
        limit: DEFAULT_LIMIT,
        ..FeedQuery::default()
    };
    let mut seen_limit = false;
    let mut seen_since = false;
    let mut seen_content = false;
    for (name, value) in decode_pairs(raw)? {
        let once = |seen: &mut bool, name: &'static str| {
            if std::mem::replace(seen, true) {
                Err(QueryError::Repeated { name })
            } else {
                Ok(())
            }
        };
        match name.as_str() {
            "token" => {
                if query.token.is_some() {
                    return Err(QueryError::Repeated { name: "token" });
                }
                query.token = Some(value);
                continue;
            }
            "section" | "source" | "q" | "exclude" | "since" | "limit" | "content" => {}
            _ => {
                return Err(QueryError::Unknown {
                    name: shown(&name),
                    allowed: "section, source, q, exclude, since, limit, content or token",
                })
            }
        }
        if value.trim().is_empty() {
            // An empty form field: no filter.
            continue;
        }
        match name.as_str() {
            "section" => {
                for part in value.split(',') {
                    let key = fold_label(part);
                    if key.is_empty() || query.sections.contains(&key) {
                        continue;
                    }
                    query.sections.push(key);
                }
            }
            "source" => {
                for part in value.split(',') {
                    let id = part.trim();
                    if id.is_empty() || query.sources.iter().any(|s| s == id) {
                        continue;
                    }
                    if !known_source(id) {
                        return Err(QueryError::UnknownSource { id: shown(id) });
                    }
                    query.sources.push(id.to_string());
                }
            }
            "q" => query.words.extend(words(&value)),
            "exclude" => query.exclude.extend(words(&value)),
            "content" => {
                once(&mut seen_content, "content")?;
                query.summary_only = match value.trim() {
                    "summary" => true,
                    "full" => false,
                    _ => {
                        return Err(QueryError::Content {
                            value: shown(&value),
                        })
                    }
                };
            }
            "since" => {
                once(&mut seen_since, "since")?;
                let (since, relative) = parse_since(&value, now)?;
                query.since = Some(since);
                query.since_relative = relative;
            }
            _ => {
                once(&mut seen_limit, "limit")?;
                query.limit = match ascii_number(&value) {
                    Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
                    _ => {
                        return Err(QueryError::Limit {
                            value: shown(&value),
                        })
                    }
                };
            }
        }
        if query.sections.len() + query.sources.len() > MAX_FILTER_VALUES {
            return Err(QueryError::TooMany {
                what: "`section` and `source` values",
                max: MAX_FILTER_VALUES,
            });
        }
        if query.words.len() + query.exclude.len() > MAX_WORDS {
            return Err(QueryError::TooMany {
                what: "`q` and `exclude` words",
                max: MAX_WORDS,
            });
        }
    }
    Ok(query)
}

/// The `token` of a page's query string (`/`, `/opml`, `/api/status` read nothing else):
/// malformed encoding, any other parameter or a repeated token is an error.
pub fn page_token(raw: &str) -> Result<Option<String>, QueryError> {
    let mut token = None;
    for (name, value) in decode_pairs(raw)? {
        if name != "token" {
            return Err(QueryError::Unknown {
                name: shown(&name),
                allowed: "only token",
            });
        }
        if token.replace(value).is_some() {
            return Err(QueryError::Repeated { name: "token" });
        }
    }
    Ok(token)
}

fn words(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(fold_label)
        .filter(|w| !w.is_empty())
        .collect()
}

/// `since` as a time, and whether it was relative to `now`.
fn parse_since(value: &str, now: DateTime<Utc>) -> Result<(DateTime<Utc>, bool), QueryError> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok((t.with_timezone(&Utc), false));
    }
    if let Some(d) = parse_duration(value) {
        if let Ok(d) = chrono::Duration::from_std(d) {
            if let Some(t) = now.checked_sub_signed(d) {
                return Ok((t, true));
            }
        }
    }
    Err(QueryError::Since {
        value: shown(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 3, 13, 12, 0, 0).unwrap()
    }

    fn parse(raw: &str) -> Result<FeedQuery, QueryError> {
        parse_query(raw, now(), &|id| id == "guancha" || id == "163")
    }

    #[test]
    fn parses_every_parameter() {
        let q = parse("section=%E6%97%B6%E6%94%BF,Politics&section=x&source=guancha&q=a+B&exclude=ad&since=6h&limit=5&token=t").unwrap();
        assert_eq!(q.sections, vec!["时政", "politics", "x"]);
        assert_eq!(q.sources, vec!["guancha"]);
        assert_eq!(q.words, vec!["a", "b"]);
        assert_eq!(q.exclude, vec!["ad"]);
        assert_eq!(
            q.since,
            Some(Utc.with_ymd_and_hms(2022, 3, 13, 6, 0, 0).unwrap())
        );
        assert_eq!(q.limit, 5);
        assert_eq!(q.token.as_deref(), Some("t"));
        assert_eq!(parse("").unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn rejects_bad_values_with_reasons() {
        for raw in [
            "limit=0",
            "limit=501",
            "limit=abc",
            "limit=5&limit=6",
            "foo=1",
            "since=yesterday",
            "since=6h&since=1d",
            "source=nope",
            "source=guancha,nope",
            "limit=-1",
            "limit=1.5",
            "q=a&Section=x",
        ] {
            let err = parse(raw).unwrap_err().to_string();
            assert!(!err.contains('\n'), "one line: {err}");
            assert!(!err.is_empty());
        }
        assert!(parse("since=2022-03-13T00:00:00Z").is_ok());
    }

    #[test]
    fn empty_form_fields_mean_no_filter() {
        let q = parse("section=&q=&exclude=&since=&limit=&source=").unwrap();
        assert_eq!(q, parse("").unwrap());
        let q = parse("section=,a,,").unwrap();
        assert_eq!(q.sections, vec!["a"]);
    }

    #[test]
    fn since_knows_whether_it_is_relative() {
        let q = parse("since=6h").unwrap();
        assert!(q.since_relative);
        let q = parse("since=2022-03-13T08:00:00%2B08:00").unwrap();
        assert!(!q.since_relative);
        assert_eq!(
            q.since,
            Some(Utc.with_ymd_and_hms(2022, 3, 13, 0, 0, 0).unwrap())
        );
    }

    #[test]
    fn sections_fold_script_width_and_case() {
        let q = parse("section=%E5%9C%8B%E9%9A%9B,%EF%BC%B0%EF%BD%8F%EF%BD%8C").unwrap();
        // 國際 → 国际, ＰＯＬ → pol
        assert_eq!(q.sections, vec!["国际", "pol"]);
    }

    #[test]
    fn cache_key_ignores_order_and_token() {
        let a = parse("section=a&section=b&token=1").unwrap();
        let b = parse("section=b,a").unwrap();
        assert_eq!(a.cache_key(), b.cache_key());
    }

    #[test]
    fn keyword_filters() {
        let q = parse("q=上海+新增&exclude=广告").unwrap();
        assert!(q.keeps("上海新增病例", None));
        assert!(!q.keeps("上海病例", None));
        assert!(!q.keeps("上海新增病例 广告", None));
        assert!(q.keeps("上海", Some("新增")));
        // Traditional text matches simplified keywords, and markup is not searched.
        assert!(!q.keeps("上海新增病例", Some("<p>廣告</p>")));
        assert!(
            q.keeps("上海", Some("<b>新</b>增")),
            "inline tags do not split words"
        );
        let q = parse("q=span").unwrap();
        assert!(!q.keeps("标题", Some("<span>x</span>")));
        let q = parse("q=%E7%A1%AE%E8%AF%8A").unwrap(); // 确诊
        assert!(q.keeps("上海新增本土確診病例", None));
        let q = parse("q=a%26b").unwrap();
        assert!(q.keeps("x", Some("A &amp; B and a&amp;b")));
    }

    #[test]
    fn malformed_encoding_is_refused_naming_the_parameter() {
        for (raw, param, needle) in [
            ("section=%zz", "`section`", "`%zz`"),
            ("section=a%f", "`section`", "`%f`"),
            ("q=abc%", "`q`", "`%`"),
            ("q=%e6%97", "`q`", "UTF-8"),
            ("section=%ff", "`section`", "UTF-8"),
            ("sec%zztion=a", "name `sec%zztion`", "`%zz`"),
            ("limit=%G1", "`limit`", "`%G1`"),
            ("q=%\u{65f6}x", "`q`", "`%\u{65f6}x`"),
        ] {
            let err = parse(raw).unwrap_err().to_string();
            assert!(err.contains(param), "{raw}: {err}");
            assert!(err.contains(needle), "{raw}: {err}");
            assert!(!err.contains('\n'), "{raw}: {err}");
        }
        // Escaped names and separators still decode.
        let q = parse("%73ection=a%2Cb&q=x%2By").unwrap();
        assert_eq!(q.sections, vec!["a", "b"]);
        assert_eq!(q.words, vec!["x+y"]);
    }

    #[test]
    fn numbers_are_ascii_and_in_range() {
        assert_eq!(parse("limit=007").unwrap().limit, 7);
        assert_eq!(
            parse("limit=+5").unwrap().limit,
            5,
            "`+` is a space in a query"
        );
        for raw in [
            "limit=99999999999999999999",
            "limit=%EF%BC%95",
            "limit=%2B5",
            "limit=5e1",
            "limit=%E0%A5%AB",
        ] {
            let err = parse(raw).unwrap_err();
            assert!(matches!(err, QueryError::Limit { .. }), "{raw}: {err}");
        }
    }

    #[test]
    fn reasons_quote_values_on_one_short_line() {
        let long = "x".repeat(5000);
        let err = parse(&format!("limit={long}")).unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
        let err = parse("source=a%0Ab").unwrap_err().to_string();
        assert!(err.contains("a\\nb") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn repeated_single_values_and_too_many_filters_are_refused() {
        assert_eq!(
            parse("token=a&token=b").unwrap_err(),
            QueryError::Repeated { name: "token" }
        );
        let many: Vec<String> = (0..=MAX_FILTER_VALUES).map(|i| format!("s{i}")).collect();
        let raw = format!("section={}", many.join(","));
        assert!(matches!(parse(&raw), Err(QueryError::TooMany { .. })));
        let raw = format!("section={}", many[..MAX_FILTER_VALUES].join(","));
        assert_eq!(parse(&raw).unwrap().sections.len(), MAX_FILTER_VALUES);
        let words: Vec<String> = (0..=MAX_WORDS).map(|i| format!("w{i}")).collect();
        assert!(matches!(
            parse(&format!("q={}", words.join("+"))),
            Err(QueryError::TooMany { .. })
        ));
    }

    #[test]
    fn pages_read_only_a_token() {
        assert_eq!(page_token("").unwrap(), None);
        assert_eq!(page_token("token=a%20b").unwrap().as_deref(), Some("a b"));
        assert!(matches!(page_token("q=x"), Err(QueryError::Unknown { .. })));
        assert!(matches!(
            page_token("token=%zz"),
            Err(QueryError::BadEscape { .. })
        ));
        assert!(matches!(
            page_token("token=a&token=b"),
            Err(QueryError::Repeated { .. })
        ));
    }
}
