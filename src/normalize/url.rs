//! Canonical links and story identity — the one place that decides when two links are one story.
//!
//! `canonical_link` is the link readers get: fragment dropped, tracking (`utm_*`) and the
//! source's `strip_params` removed, scheme and host lower-cased. `identity_key` goes further for
//! matching only: `http`/`https` and a leading `www.` are the same story, query parameters are
//! order-independent, and a source's `canonical` regex can reduce a link to its article id.
//! Links without a usable URL fall back to the source's guid, then to source + folded title.

use url::Url;

use crate::config::Source;

/// The link served to readers: fragment, `utm_*` and `strip_params` removed. `None` when the
/// text is not an absolute http(s) URL.
pub fn canonical_link(link: &str, strip_params: &[String]) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !is_tracking_param(name, strip_params))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}

fn is_tracking_param(name: &str, strip_params: &[String]) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || strip_params.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// The identity of a story: what the store hashes into an item id.
pub fn identity_key(
    canonical_link: Option<&str>,
    guid: Option<&str>,
    title_key: &str,
    source: &Source,
) -> String {
    if let Some(link) = canonical_link {
        if let Some(rule) = &source.canonical {
            if let Some(caps) = rule.pattern.captures(link) {
                let id = caps
                    .get(1)
                    .or_else(|| caps.get(0))
                    .map(|m| m.as_str())
                    .unwrap_or_default();
                let host = Url::parse(link)
                    .ok()
                    .and_then(|u| u.host_str().map(strip_www))
                    .unwrap_or_default();
                return format!("id:{host}:{id}");
            }
        }
        if let Some(key) = link_identity(link) {
            return key;
        }
    }
    if let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) {
        return format!("guid:{}:{guid}", source.id);
    }
    format!("title:{}:{title_key}", source.id)
}

fn strip_www(host: &str) -> String {
    host.strip_prefix("www.").unwrap_or(host).to_string()
}

/// `link:` + host without `www.` + port + path + sorted query; scheme-less.
fn link_identity(link: &str) -> Option<String> {
    let url = Url::parse(link).ok()?;
    let host = strip_www(url.host_str()?);
    let mut key = format!("link:{host}");
    if let Some(port) = url.port() {
        key.push(':');
        key.push_str(&port.to_string());
    }
    key.push_str(url.path());
    if url.query().is_some() {
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        pairs.sort();
        let query: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        key.push('?');
        key.push_str(&query.join("&"));
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CanonicalRule, Source};

    fn source(canonical: Option<&str>) -> Source {
        Source {
            id: "s".into(),
            name: "S".into(),
            url: None,
            timezone: chrono_tz::Tz::UTC,
            interval: std::time::Duration::from_secs(60),
            strip_params: vec!["s".into()],
            headers: Vec::new(),
            keep_days: None,
            keep_items: None,
            canonical: canonical.map(|p| CanonicalRule {
                pattern: regex::Regex::new(p).unwrap(),
            }),
            sections: Vec::new(),
        }
    }

    #[test]
    fn canonical_links() {
        let strip = vec!["s".to_string()];
        let cases = [
            (
                "HTTPS://WWW.Example.COM/a/1.html#top",
                Some("https://www.example.com/a/1.html"),
            ),
            (
                "https://example.com/a?s=abc&id=3&utm_source=x",
                Some("https://example.com/a?id=3"),
            ),
            ("https://example.com/a?s=abc", Some("https://example.com/a")),
            (
                "https://example.com/a?S=abc&UTM_medium=y",
                Some("https://example.com/a"),
            ),
            ("javascript:void(0)", None),
            ("/relative", None),
            ("mailto:a@b.c", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                canonical_link(input, &strip).as_deref(),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn identity_folds_scheme_www_and_param_order() {
        let s = source(None);
        let a = identity_key(Some("http://www.example.com/a?x=1&y=2"), None, "t", &s);
        let b = identity_key(Some("https://example.com/a?y=2&x=1"), None, "t", &s);
        assert_eq!(a, b);
        let c = identity_key(Some("https://example.com/b"), None, "t", &s);
        assert_ne!(a, c);
    }

    #[test]
    fn identity_falls_back_to_guid_then_title() {
        let s = source(None);
        assert_eq!(identity_key(None, Some(" g1 "), "t", &s), "guid:s:g1");
        assert_eq!(identity_key(None, None, "title", &s), "title:s:title");
    }

    #[test]
    fn canonical_rule_keeps_article_id() {
        let s = source(Some(r"/(\d+)\.s?html"));
        let a = identity_key(
            Some("https://m.example.com/news/2022/123.shtml"),
            None,
            "t",
            &s,
        );
        let b = identity_key(Some("https://example.com/a/123.html"), None, "t", &s);
        assert_ne!(a, b, "different hosts stay different stories");
        let c = identity_key(Some("https://www.example.com/x/y/123.html"), None, "t", &s);
        assert_eq!(b, c);
    }
}
