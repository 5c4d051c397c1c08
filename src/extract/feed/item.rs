//! The format-independent item: what one RSS item, Atom entry or JSON Feed item says, and the
//! one mapping into [`Headline`] (titles as plain text, summaries sanitised with ammonia and
//! cut, authors cleaned, dates kept as printed, labels deduplicated and capped).

use crate::extract::Headline;
use crate::text::{clean_text, html_to_text, looks_like_markup, resolve_link};
use url::Url;

use super::repair::repair_text;
use super::{
    FeedFormat, ParsedFeed, MAX_SUMMARY_BYTES, MAX_TEXT_INPUT_BYTES, SYNTHETIC_TITLE_CHARS,
};

/// What one item says, before cleaning. Links are already absolute.
#[derive(Debug)]
pub(super) struct RawItem {
    pub(super) base: Url,
    /// Title as text that may contain HTML (markup and entities are removed later).
    pub(super) title: Option<String>,
    pub(super) link: Option<String>,
    pub(super) guid: Option<String>,
    /// The guid as a link, when it is a permalink that looks like a URL.
    pub(super) guid_link: Option<String>,
    pub(super) time: Option<String>,
    pub(super) updated: Option<String>,
    pub(super) labels: Vec<String>,
    /// The short form (RSS description, Atom summary), as HTML.
    pub(super) description: Option<String>,
    /// The long form (content:encoded, Atom content, JSON content), as HTML.
    pub(super) content: Option<String>,
    pub(super) author: Option<String>,
    pub(super) image: Option<String>,
}

impl RawItem {
    pub(super) fn new(base: Url) -> Self {
        RawItem {
            base,
            title: None,
            link: None,
            guid: None,
            guid_link: None,
            time: None,
            updated: None,
            labels: Vec::new(),
            description: None,
            content: None,
            author: None,
            image: None,
        }
    }

    pub(super) fn into_headline(self) -> Option<Headline> {
        let mut title = self.title.as_deref().map(plain_text).unwrap_or_default();
        let link = self.link.or(self.guid_link);
        let summary = [self.description.as_deref(), self.content.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|html| sanitize_summary(html, &self.base));
        if title.is_empty() {
            if let Some(s) = &summary {
                title = title_from_summary(s);
            }
        }
        if title.is_empty() && link.is_none() {
            return None;
        }
        // Deduplicated case-insensitively through a set (a feed can repeat a category 100,000
        // times) and capped like page labels.
        let mut labels: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for label in self.labels.iter().map(|l| plain_text(l)) {
            if labels.len() >= crate::extract::MAX_LABELS {
                break;
            }
            if !label.is_empty() && seen.insert(label.to_ascii_lowercase()) {
                labels.push(label);
            }
        }
        Some(Headline {
            title,
            link,
            guid: self.guid.and_then(|g| non_empty(g.trim())),
            time_text: self.time.and_then(|t| non_empty(&collapse_ws(&t))),
            updated_text: self.updated.and_then(|t| non_empty(&collapse_ws(&t))),
            labels,
            summary,
            author: self.author.as_deref().and_then(clean_author),
            image: self.image,
        })
    }
}

pub(super) fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A guid that is a permalink and looks like a URL, resolved.
pub(super) fn guid_as_link(base: &Url, guid: &str, is_permalink: bool) -> Option<String> {
    let g = guid.trim();
    let looks_like_url = g.starts_with("http://") || g.starts_with("https://");
    if is_permalink && looks_like_url {
        resolve_link(g, base)
    } else {
        None
    }
}

/// Authors: `"jo@example.com (Jo Bloggs)"` becomes `"Jo Bloggs"`; markup and entities go.
pub(super) fn clean_author(raw: &str) -> Option<String> {
    let t = raw.trim();
    if let (Some(open), true) = (t.find('('), t.ends_with(')')) {
        if t[..open].contains('@') && open + 1 < t.len() - 1 {
            let name = plain_text(&t[open + 1..t.len() - 1]);
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
    non_empty(&plain_text(t))
}

pub(super) fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns title-like text into plain text: strips markup and decodes entities (repeatedly, for
/// double-escaped sources), repairs mis-decoded characters, then cleans it for display
/// ([`clean_text`]: invisible characters removed, white space collapsed).
pub fn plain_text(raw: &str) -> String {
    // HTML tree building is superlinear in nesting depth: keep hostile input bounded.
    let mut s = truncate_at_char(raw, MAX_TEXT_INPUT_BYTES).to_owned();
    for _ in 0..3 {
        if !looks_like_markup(&s) {
            break;
        }
        let next = html_to_text(&s);
        if next == s {
            break;
        }
        s = next;
    }
    clean_text(&repair_text(&s))
}

/// Sanitises summary HTML: no script/style/event handlers/`javascript:` URLs, relative URLs
/// made absolute against `base`, cut to about [`MAX_SUMMARY_BYTES`]. `None` when nothing
/// visible is left.
pub(super) fn sanitize_summary(html: &str, base: &Url) -> Option<String> {
    if html.trim().is_empty() {
        return None;
    }
    // Repairs run on the sanitised output so that they also see characters the HTML parser
    // produced from references (`&#226;&#128;&#166;`).
    let clean = |s: &str| {
        let out = ammonia::Builder::default()
            .url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()))
            .clean(s)
            .to_string();
        repair_text(&out).into_owned()
    };
    // Cut very long input before the (linear but not free) sanitiser sees it.
    let html = truncate_at_char(html, MAX_SUMMARY_BYTES * 8);
    let mut out = clean(html.trim()).trim().to_owned();
    if out.len() > MAX_SUMMARY_BYTES {
        let mut cut = truncate_at_char(&out, MAX_SUMMARY_BYTES - 64);
        // Do not leave half a tag behind.
        if let Some(lt) = cut.rfind('<') {
            if !cut[lt..].contains('>') {
                cut = &cut[..lt];
            }
        }
        out = clean(&format!("{cut}…")).trim().to_owned();
    }
    let visible = !plain_text(&out).is_empty() || out.contains("<img");
    visible.then_some(out)
}

pub(super) fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A title made from the first words of a (sanitised) summary.
pub(super) fn title_from_summary(summary_html: &str) -> String {
    let text = plain_text(&html_to_text(summary_html));
    if text.chars().count() <= SYNTHETIC_TITLE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(SYNTHETIC_TITLE_CHARS).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > SYNTHETIC_TITLE_CHARS / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!(
        "{}…",
        cut.trim_end_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
    )
}

pub(super) fn finish(
    format: FeedFormat,
    title: Option<String>,
    link: Option<String>,
    items: Vec<RawItem>,
) -> ParsedFeed {
    ParsedFeed {
        format,
        title: title.map(|t| plain_text(&t)).filter(|t| !t.is_empty()),
        link,
        headlines: items
            .into_iter()
            .filter_map(RawItem::into_headline)
            .collect(),
    }
}

pub(super) fn is_image_type(mime: &str) -> bool {
    mime.trim().to_ascii_lowercase().starts_with("image/")
}

pub(super) fn looks_like_image_url(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg"]
        .iter()
        .any(|ext| path.ends_with(ext))
}
