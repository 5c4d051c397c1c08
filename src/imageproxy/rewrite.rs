//! Rewriting image references to go through headwire's image route: every `<img src>` and
//! every `srcset` candidate in a summary or article body, and enclosure URLs, become
//! `{route base}{signed token}` so a reader's request carries no foreign `Referer` problem.

use std::borrow::Cow;

use url::Url;

use super::sign::{sign, MAX_TOKEN_LEN};

/// Why a [`ProxyRoute`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The base URL is not http/https, or cannot be a base (e.g. `mailto:`).
    #[error("image proxy base {0:?} must be an absolute http(s) URL")]
    BadBase(String),
}

/// Where headwire's image route lives and the key that signs its tokens. Cheap to clone;
/// build it once from `[server]` settings and share it with the renderer.
#[derive(Clone)]
pub struct ProxyRoute {
    base: Url,
    key: [u8; 32],
}

impl std::fmt::Debug for ProxyRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ProxyRoute")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl ProxyRoute {
    /// A route at `base` (e.g. `https://news.example/img/`; a missing trailing `/` is added,
    /// query and fragment dropped), signing with `key`.
    pub fn new(base: &Url, key: [u8; 32]) -> Result<ProxyRoute, RouteError> {
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(RouteError::BadBase(base.to_string()));
        }
        let mut base = base.clone();
        base.set_query(None);
        base.set_fragment(None);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(ProxyRoute { base, key })
    }

    /// The route's base URL (ends with `/`).
    #[must_use]
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The signing key (for the route handler's `verify`).
    #[must_use]
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The proxy URL for an absolute image URL fetched on behalf of `page_url`.
    #[must_use]
    pub fn proxy_url(&self, image_url: &Url, page_url: &Url) -> String {
        format!("{}{}", self.base, sign(&self.key, image_url, page_url))
    }

    /// Rewrites one image reference (absolute, or relative to `page_url`) to its proxy URL.
    /// `None` for what must not be proxied: non-http(s) schemes (`data:`, `javascript:`),
    /// unparsable references, URLs already on this route (rewriting is idempotent), and pairs
    /// so long that their token would exceed [`MAX_TOKEN_LEN`] (the route could not verify it).
    #[must_use]
    pub fn rewrite_url(&self, raw: &str, page_url: &Url) -> Option<String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let abs = page_url.join(raw).ok()?;
        if !matches!(abs.scheme(), "http" | "https") || abs.as_str().starts_with(self.base.as_str())
        {
            return None;
        }
        let token = sign(&self.key, &abs, page_url);
        (token.len() <= MAX_TOKEN_LEN).then(|| format!("{}{token}", self.base))
    }

    /// Rewrites a `srcset` value candidate by candidate (`url [descriptor], ...`); candidates
    /// that cannot be proxied are dropped, `None` when none is left.
    #[must_use]
    pub fn rewrite_srcset(&self, srcset: &str, page_url: &Url) -> Option<String> {
        let out: Vec<String> = srcset
            .split(',')
            .filter_map(|candidate| {
                let mut parts = candidate.split_whitespace();
                let url = parts.next()?;
                let proxied = if url.starts_with(self.base.as_str()) {
                    url.to_owned()
                } else {
                    self.rewrite_url(url, page_url)?
                };
                let descriptor: Vec<&str> = parts.collect();
                Some(if descriptor.is_empty() {
                    proxied
                } else {
                    format!("{proxied} {}", descriptor.join(" "))
                })
            })
            .collect();
        (!out.is_empty()).then(|| out.join(", "))
    }

    /// Rewrites every `<img src>` and `srcset` in sanitised HTML (a summary or an article body
    /// from [`crate::fulltext`]) to proxy URLs, resolving relative references against
    /// `page_url`, which also becomes the signed `Referer`. The HTML is re-serialised through
    /// ammonia's default policy (plus `srcset`), so input that was already sanitised comes out
    /// with the same markup and only image URLs changed; images whose `src` cannot be proxied
    /// (`data:`) lose it. HTML without an `<img>` is returned as it is (feeds sanitise every
    /// summary and text when they render it).
    #[must_use]
    pub fn rewrite_html(&self, html: &str, page_url: &Url) -> String {
        // Most summaries hold no image: nothing to rewrite, and the renderer sanitises anyway,
        // so the parse and re-serialise (most of a feed render's cost) is skipped.
        let has_img = html
            .as_bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"<img"));
        if !has_img {
            return html.to_string();
        }
        let route = self.clone();
        let page = page_url.clone();
        let mut builder = ammonia::Builder::default();
        builder
            .add_tag_attributes("img", &["srcset", "loading"])
            .add_generic_attributes(&["class"])
            .attribute_filter(
                move |element, attribute, value| match (element, attribute) {
                    ("img", "src") => {
                        if value.starts_with(route.base.as_str()) {
                            return Some(Cow::Borrowed(value));
                        }
                        route.rewrite_url(value, &page).map(Cow::Owned)
                    }
                    ("img", "srcset") => route.rewrite_srcset(value, &page).map(Cow::Owned),
                    _ => Some(Cow::Borrowed(value)),
                },
            );
        builder.clean(html).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imageproxy::sign::verify;

    fn route() -> ProxyRoute {
        ProxyRoute::new(&Url::parse("https://hw.example/img").unwrap(), [3; 32]).unwrap()
    }

    fn page() -> Url {
        Url::parse("http://culture.people.com.cn/n1/2019/0615/c1013-31153719.html").unwrap()
    }

    fn token_of(proxied: &str) -> crate::imageproxy::sign::ProxyTarget {
        let token = proxied.strip_prefix("https://hw.example/img/").unwrap();
        verify(&[3; 32], token).unwrap()
    }

    #[test]
    fn img_src_and_srcset_become_signed_proxy_urls() {
        let html = r#"<p>文<img src="/NMediaFile/a.jpg" alt="图" srcset="b.jpg 2x, https://x.cn/c.jpg 600w"></p>"#;
        let out = route().rewrite_html(html, &page());
        let doc = scraper::Html::parse_fragment(&out);
        let sel = scraper::Selector::parse("img").unwrap();
        let img = doc.select(&sel).next().unwrap();
        let src = img.value().attr("src").unwrap();
        let target = token_of(src);
        assert_eq!(
            target.image_url.as_str(),
            "http://culture.people.com.cn/NMediaFile/a.jpg"
        );
        assert_eq!(target.referer, page());
        let srcset = img.value().attr("srcset").unwrap();
        let cands: Vec<&str> = srcset.split(", ").collect();
        assert_eq!(cands.len(), 2);
        assert!(cands[0].ends_with(" 2x") && cands[1].ends_with(" 600w"));
        let second = token_of(cands[1].split(' ').next().unwrap());
        assert_eq!(second.image_url.as_str(), "https://x.cn/c.jpg");
        assert_eq!(img.value().attr("alt"), Some("图"));
        assert!(out.contains("<p>文"));
    }

    #[test]
    fn idempotent_and_refuses_data_urls() {
        let r = route();
        let once = r.rewrite_html(r#"<img src="https://x.cn/a.png">"#, &page());
        assert_eq!(r.rewrite_html(&once, &page()), once);
        let data = r.rewrite_html(r#"<img src="data:image/png;base64,AAAA">"#, &page());
        assert!(!data.contains("data:"));
        assert_eq!(r.rewrite_url("javascript:alert(1)", &page()), None);
        assert_eq!(r.rewrite_url("  ", &page()), None);
        let huge = format!("https://x.cn/{}.png", "a".repeat(9000));
        assert_eq!(
            r.rewrite_url(&huge, &page()),
            None,
            "token too long to verify"
        );
        let enclosure = r.rewrite_url("https://x.cn/a.png", &page()).unwrap();
        assert_eq!(
            token_of(&enclosure).image_url.as_str(),
            "https://x.cn/a.png"
        );
    }

    #[test]
    fn base_must_be_http() {
        assert!(ProxyRoute::new(&Url::parse("mailto:a@b").unwrap(), [0; 32]).is_err());
        assert!(ProxyRoute::new(&Url::parse("ftp://a/b/").unwrap(), [0; 32]).is_err());
        let r =
            ProxyRoute::new(&Url::parse("https://a.example/x/img?q=1").unwrap(), [0; 32]).unwrap();
        assert_eq!(r.base().as_str(), "https://a.example/x/img/");
        assert!(!format!("{r:?}").contains('['), "key not printed");
    }
}
