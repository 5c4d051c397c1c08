//! Feed query parameters: parsed strictly, so a typo gets a `400` with a reason instead of a
//! silently different feed.

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

    /// Whether an item's title/summary passes the keyword filters.
    pub fn keeps(&self, title: &str, summary: Option<&str>) -> bool {
        if self.words.is_empty() && self.exclude.is_empty() {
            return true;
        }
        let haystack = format!("{} {}", title, summary.unwrap_or_default()).to_lowercase();
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
        match name.as_ref() {
            "section" => {
                for part in value.split(',') {
                    let key = fold_label(part);
                    if key.is_empty() {
                        return Err("`section` must not be empty".into());
                    }
                    if !query.sections.contains(&key) {
                        query.sections.push(key);
                    }
                }
            }
            "source" => {
                for part in value.split(',') {
                    let id = part.trim();
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
                query.since = Some(parse_since(&value, now)?);
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

fn words(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(fold_label)
        .filter(|w| !w.is_empty())
        .collect()
}

fn parse_since(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(d) = parse_duration(value) {
        if let Ok(d) = chrono::Duration::from_std(d) {
            if let Some(t) = now.checked_sub_signed(d) {
                return Ok(t);
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
            "source=nope",
            "section=",
        ] {
            let err = parse(raw).unwrap_err();
            assert!(!err.contains('\n'), "one line: {err}");
            assert!(!err.is_empty());
        }
        assert!(parse("since=2022-03-13T00:00:00Z").is_ok());
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
    }
}
