//! Full-text extraction: given an article page's decoded HTML and its URL, find the
//! article body and return it as sanitised HTML, so feeds can carry full text like RSSHub's
//! `mode=fulltext` or Miniflux's scraper.
//!
//! This module owns: the `content` selector list syntax and its fallback rule (the first
//! selector whose matches hold non-trivial text wins), the automatic path when no selector
//! matches (a Readability port, [`dom_smoothie`], chosen by measurement: see
//! `docs/fulltext.md`), the limits that bound the work on hostile input, and the cleaning
//! policy ([`sanitize`]). It is pure: no network, no store; the poller fetches and decodes the
//! page (`fetch` decodes it through `decode`) and stores what this returns.

pub mod sanitize;

use scraper::{ElementRef, Html, Selector};
use url::Url;

pub use sanitize::{clean_fragment, Cleaned};

/// Bounds on the work one extraction may do; `Default` suits real portal pages (the largest
/// Chinese article page in the test corpus is 220 KB with ~5,000 elements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Pages longer than this (bytes of decoded HTML) are refused, not parsed.
    pub max_input_bytes: usize,
    /// Pages with more start tags than this are refused, not parsed.
    pub max_elements: usize,
    /// A selector's matches (or the automatic result) must hold at least this many visible
    /// characters to count as the article; shorter is "matched nothing" (e.g. an empty
    /// placeholder `div` with the right class).
    pub min_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 4 * 1024 * 1024,
            max_elements: 60_000,
            min_text_chars: 50,
        }
    }
}

/// How the body was found, for logs and the section status ("selector 2 of 3 matched").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// The configured selector at this index (0-based) in the list matched.
    Selector(usize),
    /// No selector was configured, or none matched non-trivial text: the Readability port.
    Readability,
}

/// An extracted article body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Sanitised HTML fragment: absolute http(s) links and images, no scripts, styles,
    /// iframes, forms or boilerplate blocks. Safe to embed in RSS/Atom/JSON content.
    pub html: String,
    /// Visible characters in `html` (whitespace runs count once), to judge "is this the full
    /// text or a teaser" against the summary.
    pub text_len: usize,
    /// Which path produced it.
    pub method: Method,
}

/// Why no article body was returned. None of these is a bug: the poller logs it and keeps the
/// item without full text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArticleError {
    /// The page exceeds [`Limits::max_input_bytes`].
    #[error("page is {len} bytes, more than the {max} allowed for extraction")]
    TooLarge {
        /// Bytes of decoded HTML.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The page has more start tags than [`Limits::max_elements`].
    #[error("page has more than {max} elements")]
    TooManyElements {
        /// The limit.
        max: usize,
    },
    /// A `content` selector does not parse (config validation reports this at load time).
    #[error("content selector {selector:?} is invalid: {message}")]
    BadSelector {
        /// The selector as written.
        selector: String,
        /// The parser's reason.
        message: String,
    },
    /// Neither a selector nor the automatic algorithm found non-trivial text.
    #[error("no article body found")]
    NotFound,
}

/// Splits a `content = "sel1, sel2"` value into its fallback selectors at top-level commas
/// (commas inside `()`, `[]` or quotes, as in `:is(a, b)` or `[title="a,b"]`, do not split),
/// and checks that each one parses. Config validation should call this at load time.
pub fn parse_selector_list(list: &str) -> Result<Vec<String>, ArticleError> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut current = String::new();
    for c in list.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[') => depth = depth.saturating_add(1),
            (None, ')' | ']') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    let out: Vec<String> = out
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    for s in &out {
        compile(s)?;
    }
    Ok(out)
}

fn compile(selector: &str) -> Result<Selector, ArticleError> {
    Selector::parse(selector).map_err(|e| ArticleError::BadSelector {
        selector: selector.to_owned(),
        message: e.to_string(),
    })
}

/// Upper bound on the number of elements: `<` followed by a letter.
fn count_start_tags(html: &str) -> usize {
    html.as_bytes()
        .windows(2)
        .filter(|w| w.first() == Some(&b'<') && w.get(1).is_some_and(u8::is_ascii_alphabetic))
        .count()
}

/// Extracts the article body of `html` (the decoded page at `page_url`) with default
/// [`Limits`]. `selectors` are the section's `content` fallbacks, already split (see
/// [`parse_selector_list`]); `None` or an empty list means automatic extraction.
pub fn extract_article(
    html: &str,
    page_url: &Url,
    selectors: Option<&[String]>,
) -> Result<Article, ArticleError> {
    extract_article_with(html, page_url, selectors, &Limits::default())
}

/// [`extract_article`] with explicit limits. Tries each selector in order; the first whose
/// matches (all of them, in document order, nested matches once) clean up to at least
/// `min_text_chars` visible characters wins. When none does, falls back to the automatic
/// algorithm, so a redesigned page degrades to a best guess rather than to nothing.
pub fn extract_article_with(
    html: &str,
    page_url: &Url,
    selectors: Option<&[String]>,
    limits: &Limits,
) -> Result<Article, ArticleError> {
    if html.len() > limits.max_input_bytes {
        return Err(ArticleError::TooLarge {
            len: html.len(),
            max: limits.max_input_bytes,
        });
    }
    if count_start_tags(html) > limits.max_elements {
        return Err(ArticleError::TooManyElements {
            max: limits.max_elements,
        });
    }
    let selectors = selectors.unwrap_or_default();
    if !selectors.is_empty() {
        let compiled = selectors
            .iter()
            .map(|s| compile(s))
            .collect::<Result<Vec<_>, _>>()?;
        let doc = Html::parse_document(html);
        for (index, selector) in compiled.iter().enumerate() {
            let fragment = matched_html(&doc, selector);
            if fragment.is_empty() {
                continue;
            }
            let cleaned = clean_fragment(&fragment, page_url);
            if cleaned.text_len >= limits.min_text_chars {
                return Ok(Article {
                    html: cleaned.html,
                    text_len: cleaned.text_len,
                    method: Method::Selector(index),
                });
            }
        }
    }
    readable(html, page_url, limits)
}

/// Outer HTML of every element `selector` matches, in document order, skipping matches inside
/// an earlier match (so `div, div p` does not repeat paragraphs).
fn matched_html(doc: &Html, selector: &Selector) -> String {
    let matches: Vec<ElementRef<'_>> = doc.select(selector).collect();
    let ids: std::collections::HashSet<_> = matches.iter().map(|e| e.id()).collect();
    let mut out = String::new();
    for element in &matches {
        let nested = element.ancestors().any(|a| ids.contains(&a.id()));
        if !nested {
            out.push_str(&element.html());
            out.push('\n');
        }
    }
    out
}

/// The automatic path: dom_smoothie in its Readability.js-compatible candidate mode (the mode
/// that measured best on the corpus), then the same cleaning as the selector path.
fn readable(html: &str, page_url: &Url, limits: &Limits) -> Result<Article, ArticleError> {
    let config = dom_smoothie::Config {
        max_elements_to_parse: limits.max_elements,
        disable_json_ld: true,
        candidate_select_mode: dom_smoothie::CandidateSelectMode::Readability,
        ..dom_smoothie::Config::default()
    };
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dom_smoothie::Readability::new(html, Some(page_url.as_str()), Some(config))
            .and_then(|mut r| r.parse())
    }));
    let article = match parsed {
        Ok(Ok(article)) => article,
        Ok(Err(dom_smoothie::ReadabilityError::TooManyElements(..))) => {
            return Err(ArticleError::TooManyElements {
                max: limits.max_elements,
            })
        }
        // GrabFailed, a URL it refuses, or a panic inside the crate: nothing usable.
        Ok(Err(_)) | Err(_) => return Err(ArticleError::NotFound),
    };
    let cleaned = clean_fragment(&article.content, page_url);
    if cleaned.text_len < limits.min_text_chars {
        return Err(ArticleError::NotFound);
    }
    Ok(Article {
        html: cleaned.html,
        text_len: cleaned.text_len,
        method: Method::Readability,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://news.example.cn/a/1.html").unwrap()
    }

    const BODY: &str =
        "这是一篇很长的新闻正文，用来检验提取是否拿到了文章本身的段落内容，而不是导航或分享栏。";

    fn html() -> String {
        format!(
            r#"<html><head><title>t</title></head><body><div class="nav"><a href="/">首页</a></div>
            <div class="empty"></div>
            <div class="article"><p>{BODY}</p><p>{BODY}</p><div class="share">分享到</div></div>
            <div class="footer">版权所有</div></body></html>"#
        )
    }

    #[test]
    fn selector_list_splits_at_top_level_commas() {
        assert_eq!(
            parse_selector_list(r#"div.a p, :is(h1, h2), [title="a,b"] ,"#).unwrap(),
            vec!["div.a p", ":is(h1, h2)", r#"[title="a,b"]"#]
        );
        assert!(matches!(
            parse_selector_list("div..x"),
            Err(ArticleError::BadSelector { .. })
        ));
        assert!(parse_selector_list("").unwrap().is_empty());
    }

    #[test]
    fn first_selector_with_text_wins() {
        let sels = parse_selector_list("div.missing, div.empty, div.article").unwrap();
        let a = extract_article(&html(), &page(), Some(&sels)).unwrap();
        assert_eq!(a.method, Method::Selector(2));
        assert!(a.html.contains(BODY));
        assert!(
            !a.html.contains("分享到") && !a.html.contains("首页"),
            "{}",
            a.html
        );
        assert_eq!(a.text_len, BODY.chars().count() * 2);
    }

    #[test]
    fn nested_matches_are_not_repeated() {
        let sels = vec!["div.article, div.article p".to_owned()];
        let a = extract_article(&html(), &page(), Some(&sels)).unwrap();
        assert_eq!(a.html.matches(BODY).count(), 2);
    }

    #[test]
    fn no_selector_match_falls_back_to_readability() {
        let sels = vec!["div.gone".to_owned()];
        let long = format!(
            "<html><body><div id=\"main\">{}</div><div class=\"footer\">版权</div></body></html>",
            format!("<p>{BODY}{BODY}{BODY}</p>").repeat(5)
        );
        let a = extract_article(&long, &page(), Some(&sels)).unwrap();
        assert_eq!(a.method, Method::Readability);
        assert!(a.html.contains(BODY));
    }

    #[test]
    fn limits_and_empty_pages() {
        let small = Limits {
            max_input_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            extract_article_with(&html(), &page(), None, &small),
            Err(ArticleError::TooLarge { .. })
        ));
        let few = Limits {
            max_elements: 3,
            ..Limits::default()
        };
        assert_eq!(
            extract_article_with(&html(), &page(), None, &few),
            Err(ArticleError::TooManyElements { max: 3 })
        );
        assert_eq!(
            extract_article("", &page(), None),
            Err(ArticleError::NotFound)
        );
        assert_eq!(
            extract_article("<p>短</p>", &page(), None),
            Err(ArticleError::NotFound)
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn assert_safe(html: &str) {
        let doc = Html::parse_fragment(html);
        for node in doc.root_element().descendants() {
            if let Some(e) = node.value().as_element() {
                assert!(
                    !matches!(e.name(), "script" | "style" | "iframe" | "form" | "object"),
                    "{html}"
                );
                for (name, value) in e.attrs() {
                    assert!(!name.starts_with("on"), "{name} in {html}");
                    if matches!(name, "href" | "src") {
                        let v = value.trim_start().to_ascii_lowercase();
                        assert!(
                            v.starts_with("http://")
                                || v.starts_with("https://")
                                || v.starts_with("mailto:"),
                            "{name}={value} in {html}"
                        );
                    }
                }
            }
        }
        // Well-formed: sanitising the output again changes nothing.
        let url = Url::parse("https://news.example.cn/a/1.html").unwrap();
        assert_eq!(clean_fragment(html, &url).html, html);
    }

    fn tag_soup() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("<p>".to_owned()),
            Just("</p>".to_owned()),
            Just("<div class=\"share\">".to_owned()),
            Just("<div id=\"content\">".to_owned()),
            Just("</div>".to_owned()),
            Just("<script>alert(1)</script>".to_owned()),
            Just("<a href=\"javascript:alert(1)\">".to_owned()),
            Just("<a href=\"/rel\" onclick=\"x()\">".to_owned()),
            Just("<img src=\"data:image/png;base64,AA\" data-src=\"/lazy.jpg\">".to_owned()),
            Just("<img data-original=\"//cdn.example/a.jpg\">".to_owned()),
            Just("<iframe src=\"https://e.example\">".to_owned()),
            Just("<form><input name=q>".to_owned()),
            Just("<!--".to_owned()),
            Just("<table><tr><td>".to_owned()),
            Just("&amp;&#0;&#x110000;".to_owned()),
            "[\u{4e00}-\u{4e50}，。 ]{0,40}",
            "[a-z<>/=\"' ]{0,12}",
        ];
        proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4000)) {
            let text = String::from_utf8_lossy(&bytes);
            let url = Url::parse("https://news.example.cn/a/1.html").unwrap();
            let sels = ["p".to_owned(), "div".to_owned()];
            for s in [None, Some(&sels[..])] {
                if let Ok(a) = extract_article(&text, &url, s) {
                    assert_safe(&a.html);
                }
            }
        }

        #[test]
        fn tag_soup_gives_safe_well_formed_html(html in tag_soup()) {
            let url = Url::parse("https://news.example.cn/a/1.html").unwrap();
            let sels = ["#content".to_owned(), "p".to_owned()];
            for s in [None, Some(&sels[..])] {
                if let Ok(a) = extract_article(&html, &url, s) {
                    assert_safe(&a.html);
                }
            }
            assert_safe(&clean_fragment(&html, &url).html);
        }
    }
}
