//! Cleaning an extracted article body into HTML that is safe to put in a feed: one DOM pass
//! (dom_query, the tree dom_smoothie already builds on) that drops scripts, embeds, forms and
//! boilerplate blocks (share bars, ads, related links, comments: by class/id pattern) and
//! resolves lazy-loaded images, then ammonia with a fixed policy: absolute links and images
//! against the page URL, http/https/mailto only, no attributes beyond the safe few.

use std::collections::HashSet;

use dom_query::{Document, NodeRef};
use url::Url;

/// Elements removed with everything inside them.
const DROP_SELECTOR: &str = "script, style, noscript, template, iframe, frame, frameset, object, \
    embed, applet, form, input, button, select, textarea, svg, math, canvas, link, meta, \
    audio, video";

/// Attributes that lazy-loading scripts read the real image URL from, most specific first.
const LAZY_ATTRS: &[&str] = &[
    "data-src",
    "data-original",
    "data-lazy-src",
    "data-lazyload",
    "data-actualsrc",
    "data-echo",
    "data-url",
    "original",
    "file",
];

/// Attributes holding `srcset`-style candidate lists (first candidate used when no single URL).
const LAZY_SRCSET_ATTRS: &[&str] = &["data-srcset", "data-lazy-srcset", "srcset"];

/// Class/id tokens (split on whitespace, `-` and `_`) that mark boilerplate inside an article:
/// share bars (incl. Baidu/JiaThis widgets), ads, related/recommended links, comments, tools.
const BOILERPLATE_TOKENS: &[&str] = &[
    "share",
    "sharing",
    "bdshare",
    "bdsharebuttonbox",
    "jiathis",
    "social",
    "ad",
    "ads",
    "adv",
    "advert",
    "advertisement",
    "adword",
    "sponsor",
    "promo",
    "banner",
    "related",
    "relation",
    "recommend",
    "comment",
    "comments",
    "cmt",
    "reply",
    "toolbar",
    "print",
    "qrcode",
    "erweima",
    "hidden",
    "hide",
];

/// A boilerplate-looking block is kept anyway when it holds more than this share (in percent)
/// of the body's text: then it is the article wrapper, not a share bar.
const KEEP_IF_TEXT_PERCENT: usize = 50;

/// Blocks to test for "a list of dated headlines" (related/recommended stories, member
/// promos): portals append them to the article's container, so Readability keeps them.
const LIST_BLOCK_SELECTOR: &str = "div, ul, ol, section, aside, table, dl";

/// A block with at least this many dates...
const LIST_MIN_DATES: usize = 3;

/// ...and fewer visible characters than this per date is a headline list, not prose.
const LIST_MAX_CHARS_PER_DATE: usize = 60;

/// `2019-09-09`, `2019/9/9`, `2019.09.09`, `2019年9月9日`. `None` only if the constant
/// pattern failed to compile, which disables the headline-list rule instead of panicking.
fn date_pattern() -> Option<&'static regex::Regex> {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}").ok()
    })
    .as_ref()
}

/// The clean result: sanitised HTML and the number of visible characters in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// Sanitised HTML fragment.
    pub html: String,
    /// Characters of visible text (whitespace runs count as one).
    pub text_len: usize,
}

fn is_boilerplate(node: &NodeRef<'_>) -> bool {
    let mut tokens = String::new();
    for name in ["class", "id"] {
        if let Some(v) = node.attr(name) {
            tokens.push(' ');
            tokens.push_str(&v.to_ascii_lowercase());
        }
    }
    if node.attr("style").is_some_and(|s| {
        let s = s.to_ascii_lowercase().replace(' ', "");
        s.contains("display:none") || s.contains("visibility:hidden")
    }) || node.has_attr("hidden")
    {
        return true;
    }
    tokens
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .any(|t| BOILERPLATE_TOKENS.contains(&t))
}

/// Visible characters with whitespace runs counted once.
pub(crate) fn visible_len(text: &str) -> usize {
    let mut n = 0usize;
    let mut in_space = true;
    for c in text.chars() {
        if c.is_whitespace() || c == '\u{a0}' || c == '\u{3000}' {
            if !in_space {
                n = n.saturating_add(1);
                in_space = true;
            }
        } else {
            n = n.saturating_add(1);
            in_space = false;
        }
    }
    if in_space && n > 0 {
        n.saturating_sub(1)
    } else {
        n
    }
}

/// Removes blocks that read as lists of dated headlines (see [`LIST_MIN_DATES`]) unless they
/// hold most of the text.
fn drop_headline_lists(doc: &Document, total: usize) {
    let (Some(dates_re), Some(blocks)) = (date_pattern(), doc.try_select(LIST_BLOCK_SELECTOR))
    else {
        return;
    };
    for node in blocks.nodes() {
        let text = node.text();
        let dates = dates_re.find_iter(&text).count();
        if dates < LIST_MIN_DATES {
            continue;
        }
        let own = visible_len(&text);
        if own.saturating_mul(100) > total.saturating_mul(KEEP_IF_TEXT_PERCENT) {
            continue;
        }
        if own / dates < LIST_MAX_CHARS_PER_DATE {
            node.remove_from_parent();
        }
    }
}

fn first_srcset_url(value: &str) -> Option<String> {
    value
        .split(',')
        .filter_map(|c| c.split_whitespace().next())
        .find(|u| !u.is_empty() && !u.starts_with("data:"))
        .map(str::to_owned)
}

fn is_placeholder(src: &str) -> bool {
    let s = src.trim().to_ascii_lowercase();
    s.is_empty()
        || s.starts_with("data:")
        || s.starts_with("about:")
        || s.starts_with("javascript:")
        || [
            "blank.",
            "placeholder",
            "loading.",
            "lazy.",
            "grey.",
            "spacer.",
            "pixel.",
        ]
        .iter()
        .any(|p| s.contains(p))
}

fn resolve_lazy_images(doc: &Document) {
    let Some(images) = doc.try_select("img") else {
        return;
    };
    for img in images.nodes() {
        let lazy = LAZY_ATTRS
            .iter()
            .filter_map(|a| img.attr(a))
            .map(|v| v.trim().to_owned())
            .find(|v| !v.is_empty() && !is_placeholder(v))
            .or_else(|| {
                LAZY_SRCSET_ATTRS
                    .iter()
                    .filter_map(|a| img.attr(a))
                    .find_map(|v| first_srcset_url(&v))
            });
        let src = img.attr("src").map(|s| s.to_string()).unwrap_or_default();
        match lazy {
            Some(real) if is_placeholder(&src) || img.has_attr("data-src") => {
                img.set_attr("src", &real);
            }
            None if is_placeholder(&src) => img.remove_from_parent(),
            _ => {}
        }
    }
}

fn sanitizer(page_url: &Url) -> ammonia::Builder<'_> {
    let mut b = ammonia::Builder::default();
    b.url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::RewriteWithBase(page_url.clone()))
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tags(&["figure", "figcaption", "picture"])
        .rm_tags(&["area", "map"])
        .clean_content_tags(HashSet::from([
            "script", "style", "noscript", "template", "iframe", "object", "embed", "form",
            "button", "select", "textarea", "svg", "math", "canvas", "audio", "video",
        ]))
        .strip_comments(true);
    b
}

/// Cleans an article body fragment: drops unsafe and boilerplate elements, resolves lazy
/// images, then sanitises with links and images made absolute against `page_url`. Pure and
/// total: any input gives well-formed, sanitised HTML.
#[must_use]
pub fn clean_fragment(html: &str, page_url: &Url) -> Cleaned {
    let doc = Document::fragment(html);
    if let Some(drop) = doc.try_select(DROP_SELECTOR) {
        drop.remove();
    }
    let total = visible_len(&doc.text());
    if let Some(candidates) = doc.try_select("[class], [id], [style], [hidden]") {
        for node in candidates.nodes() {
            if !is_boilerplate(node) {
                continue;
            }
            let own = visible_len(&node.text());
            if own.saturating_mul(100) > total.saturating_mul(KEEP_IF_TEXT_PERCENT) {
                continue;
            }
            node.remove_from_parent();
        }
    }
    drop_headline_lists(&doc, total);
    resolve_lazy_images(&doc);
    let text_len = visible_len(&doc.text());
    let html = sanitizer(page_url).clean(&doc.html()).to_string();
    Cleaned { html, text_len }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://www.guancha.cn/economy/2019_09_09_517286.shtml").unwrap()
    }

    #[test]
    fn drops_scripts_forms_share_bars_and_bad_links() {
        let html = r#"<div><p>正文第一段<a href="/x.shtml">链接</a><a href="javascript:alert(1)">坏</a></p>
            <script>alert(1)</script><style>p{}</style><iframe src="https://ad.cn"></iframe>
            <div class="share fix"><a href="https://s.cn">分享到微博</a></div>
            <div id="ad_box">广告</div><form><button>提交评论</button></form>
            <p style="display:none">隐藏</p><img src="data:image/gif;base64,R0lG" data-original="//i.guancha.cn/a.jpg"></div>"#;
        let out = clean_fragment(html, &page());
        assert!(out.html.contains("正文第一段"));
        assert!(
            out.html
                .contains(r#"href="https://www.guancha.cn/x.shtml""#),
            "{}",
            out.html
        );
        assert!(
            out.html.contains(r#"src="https://i.guancha.cn/a.jpg""#),
            "{}",
            out.html
        );
        for gone in [
            "alert",
            "p{}",
            "iframe",
            "分享",
            "广告",
            "提交",
            "隐藏",
            "javascript",
            "data:",
        ] {
            assert!(!out.html.contains(gone), "{gone} in {}", out.html);
        }
        assert_eq!(out.text_len, visible_len("正文第一段链接坏"));
    }

    #[test]
    fn wrapper_with_a_boilerplate_name_is_kept_when_it_holds_the_text() {
        let html = r#"<div class="article-ad-wrap"><p>这是全文，这是全文，这是全文。</p></div>"#;
        let out = clean_fragment(html, &page());
        assert!(out.html.contains("这是全文"));
    }

    #[test]
    fn lazy_srcset_and_missing_images() {
        let out = clean_fragment(
            r#"<p><img data-srcset="/a.jpg 1x, /b.jpg 2x"><img src=""><img src="/ok.png"></p>"#,
            &page(),
        );
        assert!(
            out.html.contains(r#"src="https://www.guancha.cn/a.jpg""#),
            "{}",
            out.html
        );
        assert!(out.html.contains(r#"src="https://www.guancha.cn/ok.png""#));
        assert_eq!(out.html.matches("<img").count(), 2, "{}", out.html);
    }

    #[test]
    fn dated_headline_lists_go_prose_with_dates_stays() {
        let prose = "2019年9月9日，苹果公司表示调查了相关说法，并在2019年9月10日再次回应，称将与供应商合作解决问题，立即采取纠正措施。";
        let html = format!(
            r#"<div><div><p>{prose}</p></div><p>{prose}</p><p>{prose}</p>
            <div id="post-member"><div><span>察话会回顾</span><span>2019-09-09</span></div><div><span>美国农民警告白宫</span><span>2019-09-09</span></div>
            <div><span>金政委答观察员</span><span>2019-09-09</span></div></div></div>"#
        );
        let out = clean_fragment(&html, &page());
        assert_eq!(out.html.matches(prose).count(), 3, "{}", out.html);
        assert!(
            !out.html.contains("农民") && !out.html.contains("察话会"),
            "{}",
            out.html
        );
    }

    #[test]
    fn visible_length_collapses_whitespace() {
        assert_eq!(visible_len("  a \n\t b  "), 3);
        assert_eq!(visible_len(""), 0);
        assert_eq!(visible_len("中\u{3000}文"), 3);
    }
}
