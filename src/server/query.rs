//! Feed query parameters: parsed strictly, so a typo gets a `400` with a reason instead of a
//! silently different feed.
//!
//! All parameters combine with AND; repeated or comma-separated values of one parameter with
//! OR (`q` is the exception: every word must appear). Section values are folded with
//! `fold_label` (case, width, traditional/simplified) exactly as the store folded the labels
//! it indexed. An empty value (what an HTML form sends for an empty field) means "no filter".

use chrono::{DateTime, Utc};

use crate::normalize::text::fold_label;
use crate::normalize::time::parse_duration;

/// The largest `limit` a reader may ask for.
pub const MAX_LIMIT: usize = 500;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 50;

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
            "s={}|src={}|q={}|x={}|since={}|l={}",
            sections.join(","),
            sources.join(","),
            words.join(" "),
            exclude.join(" "),
            self.since.map(|t| t.timestamp()).unwrap_or(0),
            self.limit
        )
    }

    /// Whether an item's title/summary passes the keyword filters. The summary's markup is
    /// not searched (a keyword `span` must not match every summary with a `<span>`), and
    /// CJK words match as substrings after the same folding as labels.
    pub fn keeps(&self, title: &str, summary: Option<&str>) -> bool {
        if self.words.is_empty() && self.exclude.is_empty() {
            return true;
        }
        let mut haystack = String::with_capacity(title.len() + 64);
        haystack.push_str(title);
        if let Some(summary) = summary {
            haystack.push(' ');
            push_visible_text(&mut haystack, summary);
        }
        let haystack = fold_label(&haystack);
        self.words.iter().all(|w| haystack.contains(w.as_str()))
            && !self.exclude.iter().any(|w| haystack.contains(w.as_str()))
    }
}

/// Parses a raw query string; `now` anchors relative `since` values; `known_source` says
/// whether a source id exists.
pub fn parse_query(
    raw: &str,
    now: DateTime<Utc>,
    known_source: &dyn Fn(&str) -> bool,
) -> Result<FeedQuery, String> {
    let mut query = FeedQuery {
        limit: DEFAULT_LIMIT,
        ..FeedQuery::default()
    };
    let mut seen_limit = false;
    let mut seen_since = false;
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let known = matches!(
            name.as_ref(),
            "section" | "source" | "q" | "exclude" | "since" | "limit" | "token"
        );
        if known && name != "token" && value.trim().is_empty() {
            // An empty form field: no filter.
            continue;
        }
        match name.as_ref() {
            "section" => {
                for part in value.split(',') {
                    let key = fold_label(part);
                    if key.is_empty() {
                        continue;
                    }
                    if !query.sections.contains(&key) {
                        query.sections.push(key);
                    }
                }
            }
            "source" => {
                for part in value.split(',') {
                    let id = part.trim();
                    if id.is_empty() {
                        continue;
                    }
                    if !known_source(id) {
                        return Err(format!("`source={id}`: no source has this id"));
                    }
                    if !query.sources.iter().any(|s| s == id) {
                        query.sources.push(id.to_string());
                    }
                }
            }
            "q" => query.words.extend(words(&value)),
            "exclude" => query.exclude.extend(words(&value)),
            "since" => {
                if seen_since {
                    return Err("`since` given more than once".into());
                }
                seen_since = true;
                let (since, relative) = parse_since(&value, now)?;
                query.since = Some(since);
                query.since_relative = relative;
            }
            "limit" => {
                if seen_limit {
                    return Err("`limit` given more than once".into());
                }
                seen_limit = true;
                query.limit = match value.trim().parse::<usize>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                    _ => {
                        return Err(format!(
                            "`limit={value}`: use a whole number from 1 to {MAX_LIMIT}"
                        ))
                    }
                };
            }
            "token" => query.token = Some(value.into_owned()),
            other => {
                return Err(format!(
                    "unknown query parameter `{other}`; use section, source, q, exclude, since or limit"
                ))
            }
        }
    }
    Ok(query)
}

/// Appends the text of an HTML fragment: tags dropped, the common entities decoded.
fn push_visible_text(out: &mut String, html: &str) {
    let mut in_tag = false;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if in_tag {
            in_tag = c != '>';
        } else if c == '<' {
            // Tags vanish without a space: matching is by substring, so `<b>新</b>增` must
            // still contain 新增.
            in_tag = true;
        } else if c == '&' {
            let entity = [
                ("&amp;", '&'),
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&quot;", '"'),
                ("&#39;", '\''),
                ("&nbsp;", ' '),
            ]
            .into_iter()
            .find(|(name, _)| rest.starts_with(name));
            if let Some((name, decoded)) = entity {
                out.push(decoded);
                rest = &rest[name.len()..];
                continue;
            }
            out.push(c);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
}

fn words(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(fold_label)
        .filter(|w| !w.is_empty())
        .collect()
}

/// `since` as a time, and whether it was relative to `now`.
fn parse_since(value: &str, now: DateTime<Utc>) -> Result<(DateTime<Utc>, bool), String> {
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
    Err(format!(
        "`since={value}`: use an RFC 3339 time (2022-03-13T09:27:00+08:00) or a duration (6h, 7d)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 3, 13, 12, 0, 0).unwrap()
    }

    fn parse(raw: &str) -> Result<FeedQuery, String> {
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
            let err = parse(raw).unwrap_err();
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
}
