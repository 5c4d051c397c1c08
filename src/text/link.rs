//! Link resolution: a link as a page or feed printed it → an absolute URL a reader can open.
//!
//! One rule for HTML pages and feeds alike: the href is trimmed and resolved against the base
//! (`<base href>`, `xml:base`, or the document URL); empty and fragment-only hrefs, and
//! anything that is not http(s) after resolution (`javascript:`, `mailto:`, a `tag:` id), are
//! not links.

use url::Url;

/// `href` resolved against `base`, if it is a link a reader can open.
pub fn resolve_link(href: &str, base: &Url) -> Option<String> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let url = base.join(href).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_and_drops_what_is_not_a_link() {
        let base = Url::parse("https://news.example/world/index.html").expect("a valid base");
        let cases = [
            (" a.html ", Some("https://news.example/world/a.html")),
            ("/b?x=1", Some("https://news.example/b?x=1")),
            ("//cdn.example/c", Some("https://cdn.example/c")),
            ("", None),
            ("#top", None),
            ("javascript:alert(1)", None),
            ("mailto:desk@news.example", None),
            ("tag:news.example,2024:1", None),
        ];
        for (href, want) in cases {
            assert_eq!(resolve_link(href, &base).as_deref(), want, "{href:?}");
        }
    }
}
