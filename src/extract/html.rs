//! HTML list pages → headlines, driven by the CSS selectors a section configures.
//!
//! A section names an `item` selector (one match per headline) and field selectors evaluated
//! inside each item. Every field accepts fallbacks (first selector that matches wins) and the
//! `selector@attribute` form; a bare `@attribute` reads the item element itself. Links resolve
//! against `<base href>` or the page URL. Rules owned here: a headline without a title or link is
//! skipped and counted, and an `item` selector that matches nothing is an error, never an empty
//! success (a silently empty feed is the worst failure a reader can get).

use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::{Headline, MAX_LABELS};
use crate::config::HtmlRules;
use crate::selector::{FieldSelector, FIELDS};
use crate::text::{clean_text, escape_html, resolve_link};

/// Text read for one field of one item is cut after this many bytes (at a character
/// boundary) before it is cleaned: an `item` selector that matches an element holding the whole
/// page (or every level of a deeply nested one) must not copy the page once per item.
pub const MAX_FIELD_BYTES: usize = 16 * 1024;

/// A field selector looks at no more than this many nodes below an item (in document order),
/// and reading an element's text visits no more than this many nodes: an item that holds the
/// whole page costs a bounded amount, not a walk over the page per item. A real list item has
/// tens of nodes.
pub const MAX_FIELD_NODES: usize = 20_000;

/// Pages nested deeper than this are made shallower before selectors run (see [`cap_depth`]):
/// selector matching walks ancestors, so without a cap a page of 100,000 nested elements costs
/// 100,000² steps per selector. Real pages nest a few dozen levels; browsers cap at 512.
pub const MAX_DOM_DEPTH: usize = 256;

/// A page is parsed only up to its this-many-th start tag: html5ever's DOM costs 100-250 bytes
/// per element, so 8 MiB of `<i>` (2.8 million elements) would take 390 MB, while a real list
/// page of 100,000 headlines has about 300,000 tags. With this cap the DOM of any page stays
/// around 150 MB at most.
pub const MAX_PAGE_TAGS: usize = 500_000;

/// A page is parsed only up to the point where this many formatting elements (`b`, `i`,
/// `font`, …) are open at once. The HTML tree builder compares every new formatting element
/// with each open one that differs from it (the "Noah's Ark" check), so 8 MiB of nested
/// `<i class="aN">` costs 400,000² comparisons: hours. Real pages keep a handful open.
pub const MAX_OPEN_FORMATTING: usize = 512;

/// A page is parsed only up to a start tag with more attributes than this: the tokenizer
/// checks each new attribute against the tag's earlier ones, so one tag with a million
/// attributes costs 10¹² comparisons.
pub const MAX_TAG_ATTRIBUTES: usize = 1_000;

/// Below [`MAX_DOM_DEPTH`], every this many levels a subtree is moved up (see [`cap_depth`]),
/// so the local structure of deep items (`div > a`) survives.
const DEPTH_STEP: usize = 16;

/// Lazy-load attributes tried before `src` when reading an image.
const LAZY_IMAGE_ATTRS: &[&str] = &[
    "data-src",
    "data-original",
    "data-lazy-src",
    "data-url",
    "data-echo",
    "src",
];

/// How extraction evaluates a parsed selector against one item.
impl FieldSelector {
    /// Elements this selector designates inside `item`, in document order, matched lazily so
    /// that a caller that wants the first one stops there, among the first
    /// [`MAX_FIELD_NODES`] nodes below the item.
    fn elements<'a>(&'a self, item: ElementRef<'a>) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        let (select, own) = match self.css() {
            Some(css) => (Some(select_below(item, css)), None),
            None => (None, Some(item)),
        };
        select.into_iter().flatten().chain(own)
    }

    /// The value this selector reads from one element (attribute or text, at most
    /// [`MAX_FIELD_BYTES`] of it), cleaned.
    fn value_of(&self, element: ElementRef<'_>) -> Option<String> {
        let raw = match self.attr() {
            Some(attr) => {
                truncate_at_char(element.value().attr(attr)?, MAX_FIELD_BYTES).to_string()
            }
            None => bounded_text(element, MAX_FIELD_BYTES),
        };
        let cleaned = clean_text(&raw);
        (!cleaned.is_empty()).then_some(cleaned)
    }

    /// First non-empty value among the matches.
    fn first_value(&self, item: ElementRef<'_>) -> Option<String> {
        self.elements(item)
            .find_map(|element| self.value_of(element))
    }

    /// Every non-empty value among the matches (at most [`MAX_LABELS`]).
    fn all_values(&self, item: ElementRef<'_>) -> Vec<String> {
        self.elements(item)
            .filter_map(|element| self.value_of(element))
            .take(MAX_LABELS)
            .collect()
    }
}

/// Elements left open before the parser stops reading a page: html5ever checks the stack of
/// open elements on every start tag, so a page of N nested `<div>`s costs N² steps to parse
/// (100,000 of them: minutes). Real pages nest a few dozen levels; browsers cap at 512.
pub const MAX_OPEN_ELEMENTS: usize = 2_048;

/// Where to stop reading `html` (a byte offset at a `<`, so a character boundary), if
/// anywhere: at its `max_tags + 1`-th start tag, at the start tag that would leave more than
/// `max_formatting` formatting elements or [`MAX_OPEN_ELEMENTS`] other elements open, or at a
/// start tag with more than [`MAX_TAG_ATTRIBUTES`] attributes. One linear scan that reads tags the way the HTML
/// tokenizer does (attribute values quoted only right after `=`); a `<` inside a script or
/// comment counts as a tag too, which only errs on the side of stopping early on pages that
/// are far beyond real ones anyway.
fn parse_cut(html: &str, max_tags: usize, max_formatting: usize) -> Option<usize> {
    const FORMATTING: [&[u8]; 14] = [
        b"a", b"b", b"big", b"code", b"em", b"font", b"i", b"nobr", b"s", b"small", b"strike",
        b"strong", b"tt", b"u",
    ];
    // Elements that hold nothing, or that the parser closes by itself (`<p>`, `<li>`, table
    // parts): they never deepen the stack for long, so they are not counted as open.
    const NOT_NESTING: [&[u8]; 37] = [
        b"area",
        b"base",
        b"br",
        b"col",
        b"embed",
        b"hr",
        b"img",
        b"input",
        b"link",
        b"meta",
        b"source",
        b"track",
        b"wbr",
        b"param",
        b"keygen",
        b"p",
        b"li",
        b"dt",
        b"dd",
        b"option",
        b"optgroup",
        b"tr",
        b"td",
        b"th",
        b"tbody",
        b"thead",
        b"tfoot",
        b"colgroup",
        b"caption",
        b"rb",
        b"rt",
        b"rp",
        b"rtc",
        b"html",
        b"head",
        b"body",
        b"frame",
    ];
    let bytes = html.as_bytes();
    let mut tags = 0usize;
    let mut open = [0usize; 14];
    let mut nested = 0usize;
    let mut i = 0;
    while let Some(lt) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| b == b'<'))
    {
        let at = i + lt;
        let closing = bytes.get(at + 1) == Some(&b'/');
        let name_start = at + 1 + usize::from(closing);
        let name_len = bytes.get(name_start..).map_or(0, |rest| {
            rest.iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count()
        });
        i = name_start + name_len;
        let Some(name) = bytes.get(name_start..i) else {
            break;
        };
        if !name.first().is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let kind = FORMATTING.iter().position(|f| f.eq_ignore_ascii_case(name));
        let nests = kind.is_none() && !NOT_NESTING.iter().any(|n| n.eq_ignore_ascii_case(name));
        if closing {
            if let Some(slot) = kind.and_then(|k| open.get_mut(k)) {
                *slot = slot.saturating_sub(1);
            }
            if nests {
                nested = nested.saturating_sub(1);
            }
            continue;
        }
        tags += 1;
        if tags > max_tags {
            return Some(at);
        }
        let (attributes, end) = scan_attributes(bytes, i);
        if attributes > MAX_TAG_ATTRIBUTES {
            return Some(at);
        }
        let self_closing = end >= 2 && bytes.get(end.saturating_sub(2)) == Some(&b'/');
        if nests && !self_closing {
            nested += 1;
            if nested > MAX_OPEN_ELEMENTS {
                return Some(at);
            }
        }
        i = end;
        if let Some(slot) = kind.and_then(|k| open.get_mut(k)) {
            // A new `<a>` closes the open one.
            *slot = if kind == Some(0) {
                1
            } else {
                slot.saturating_add(1)
            };
            if open.iter().sum::<usize>() > max_formatting {
                return Some(at);
            }
        }
    }
    None
}

/// Reads the attributes of a start tag whose name ends at `from`, as the HTML tokenizer does:
/// how many there are, and the offset just after the tag's `>` (or the end of the text).
fn scan_attributes(bytes: &[u8], from: usize) -> (usize, usize) {
    let at = |i: usize| bytes.get(i).copied();
    let space = |b: u8| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let mut i = from;
    let mut count = 0usize;
    loop {
        while at(i).is_some_and(|b| space(b) || b == b'/') {
            i += 1;
        }
        match at(i) {
            None => return (count, i),
            Some(b'>') => return (count, i + 1),
            Some(_) => {}
        }
        // An attribute name: up to a space, `/`, `>` or `=` (its first character may be `=`).
        count += 1;
        i += 1;
        while at(i).is_some_and(|b| !space(b) && !matches!(b, b'/' | b'>' | b'=')) {
            i += 1;
        }
        while at(i).is_some_and(space) {
            i += 1;
        }
        if at(i) != Some(b'=') {
            continue;
        }
        i += 1;
        while at(i).is_some_and(space) {
            i += 1;
        }
        match at(i) {
            Some(q @ (b'"' | b'\'')) => {
                i += 1;
                i += bytes.get(i..).map_or(0, |rest| {
                    rest.iter()
                        .position(|&b| b == q)
                        .map_or(rest.len(), |p| p + 1)
                });
            }
            _ => {
                while at(i).is_some_and(|b| !space(b) && b != b'>') {
                    i += 1;
                }
            }
        }
    }
}

/// Elements below `item` (not `item` itself) that match `css` with `item` as `:scope`, among
/// the first [`MAX_FIELD_NODES`] nodes in document order.
fn select_below<'a>(
    item: ElementRef<'a>,
    css: &'a Selector,
) -> impl Iterator<Item = ElementRef<'a>> + 'a {
    item.descendants()
        .skip(1)
        .take(MAX_FIELD_NODES)
        .filter_map(ElementRef::wrap)
        .filter(move |element| css.matches_with_scope(element, Some(item)))
}

/// The descendant text of `element` (from at most [`MAX_FIELD_NODES`] nodes), cut after `max`
/// bytes at a character boundary.
fn bounded_text(element: ElementRef<'_>, max: usize) -> String {
    let mut out = String::new();
    let texts = element
        .descendants()
        .take(MAX_FIELD_NODES)
        .filter_map(|node| node.value().as_text().map(|t| &**t));
    for piece in texts {
        let room = max.saturating_sub(out.len());
        if piece.len() > room {
            out.push_str(truncate_at_char(piece, room));
            break;
        }
        out.push_str(piece);
    }
    out
}

/// Makes a page that nests deeper than [`MAX_DOM_DEPTH`] shallow enough for selectors: below
/// that depth, every element at every [`DEPTH_STEP`]-th level that has element children is
/// moved up, with the subtree it keeps, to follow its ancestor at depth `MAX_DOM_DEPTH + 1` (or
/// the subtree moved before it) as a sibling, in document order. Afterwards no node is deeper
/// than `MAX_DOM_DEPTH + DEPTH_STEP + 2`; items keep their first [`DEPTH_STEP`] levels (and a
/// moved element's text after a moved child now precedes that child's text). Pages within the
/// cap are not touched; the cost is one walk over the tree.
fn cap_depth(document: &mut Html) {
    // (subtree to move, the node it goes after): computed first, applied after the walk.
    let mut moves = Vec::new();
    {
        let mut chain = Vec::new(); // the current node and its ancestors, the document first
        let mut group = None; // the ancestor at MAX_DOM_DEPTH + 1 of the current node
        let mut last = None; // where the next moved subtree of that group goes
        for node in document.tree.root().descendants() {
            let parent = node.parent().map(|p| p.id());
            while chain.last().copied() != parent && chain.pop().is_some() {}
            chain.push(node.id());
            // The document is at index 0, so a node's depth is its index.
            let depth = chain.len() - 1;
            let Some(below) = depth.checked_sub(MAX_DOM_DEPTH + 1) else {
                continue;
            };
            let step = below > 0 && below % DEPTH_STEP == 0;
            if !step || !node.children().any(|c| c.value().is_element()) {
                continue;
            }
            let Some(&top) = chain.get(MAX_DOM_DEPTH + 1) else {
                continue;
            };
            if group != Some(top) {
                group = Some(top);
                last = Some(top);
            }
            if let Some(after) = last {
                moves.push((node.id(), after));
            }
            last = Some(node.id());
        }
    }
    for (moved, after) in moves {
        if moved == after {
            continue;
        }
        if let Some(mut anchor) = document.tree.get_mut(after) {
            if anchor.parent().is_some() {
                anchor.insert_id_after(moved);
            }
        }
    }
}

/// The longest prefix of `s` that is at most `max` bytes and ends at a character boundary.
fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// What extraction found on one page.
#[derive(Debug, Clone, Default)]
pub struct PageExtract {
    /// Headlines with a title and a link, in page order (capped by the section limit).
    pub headlines: Vec<Headline>,
    /// How many elements of the item selector's matches were examined: all of them, or
    /// fewer when the limit was reached first (then `capped` is true).
    pub matched: usize,
    /// True when extraction stopped at the limit with item elements left unexamined.
    pub capped: bool,
    /// True when the page had more than [`MAX_PAGE_TAGS`] start tags and was read only up to
    /// that many (later items were not seen).
    pub truncated: bool,
    /// Items skipped because no title was found.
    pub skipped_no_title: usize,
    /// Items skipped because no usable link was found.
    pub skipped_no_link: usize,
    /// Optional fields whose selectors matched nothing in any item (for `check`).
    pub unmatched_fields: Vec<&'static str>,
}

/// Why a page yielded nothing.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    /// The item selector matched no element: the page changed or the selector is wrong.
    #[error("selector matched nothing: item selector `{selector}` found no element on the page")]
    NoItems {
        /// The item selector(s) as configured.
        selector: String,
    },
}

/// Extracts headlines from an HTML page fetched from `page_url`.
///
/// With `limit = Some(n)` extraction stops as soon as `n` headlines are collected: the item
/// selector is matched lazily, so later items are never matched, read or allocated (the
/// parsed document itself is the only cost proportional to the page). `None` reads every item.
pub fn extract_page(
    html: &str,
    page_url: &Url,
    rules: &HtmlRules,
    limit: Option<usize>,
) -> Result<PageExtract, ExtractError> {
    let cut = parse_cut(html, MAX_PAGE_TAGS, MAX_OPEN_FORMATTING);
    let mut document = Html::parse_document(cut.and_then(|at| html.get(..at)).unwrap_or(html));
    cap_depth(&mut document);
    let base = base_url(&document, page_url);
    let items = rules
        .item
        .selectors()
        .map(|selector| document.select(selector).peekable())
        .find_map(|mut found| found.peek().is_some().then_some(found));
    let Some(items) = items else {
        return Err(ExtractError::NoItems {
            selector: rules.item.describe(),
        });
    };
    let mut out = PageExtract {
        truncated: cut.is_some(),
        ..PageExtract::default()
    };
    let mut seen_field = [false; FIELDS.len()];
    for item in items {
        if limit.is_some_and(|limit| out.headlines.len() >= limit) {
            out.capped = true;
            break;
        }
        out.matched += 1;
        let Some(title) = first_of(&rules.title, item) else {
            out.skipped_no_title += 1;
            continue;
        };
        let link = first_link(&rules.link, item, &base);
        let Some(link) = link else {
            out.skipped_no_link += 1;
            continue;
        };
        let time_text = first_of(&rules.time, item);
        let labels = labels_of(&rules.label, item);
        let summary = first_of(&rules.summary, item).map(|s| escape_html(&s));
        let image = first_image(&rules.image, item, &base);
        let author = first_of(&rules.author, item);
        let headline = Headline {
            title,
            link: Some(link),
            guid: None,
            time_text,
            updated_text: None,
            labels,
            summary,
            author,
            image,
        };
        for (seen, field) in seen_field.iter_mut().zip(&FIELDS) {
            *seen |= headline.has(field.name);
        }
        out.headlines.push(headline);
    }
    for (field, seen) in FIELDS.iter().zip(seen_field) {
        if !field.required && !seen && !rules.field(field.name).is_empty() {
            out.unmatched_fields.push(field.name);
        }
    }
    Ok(out)
}

/// The document's `<base href>` resolved against the page URL, else the page URL.
fn base_url(document: &Html, page_url: &Url) -> Url {
    static BASE: std::sync::LazyLock<Option<Selector>> =
        std::sync::LazyLock::new(|| Selector::parse("base[href]").ok());
    BASE.as_ref()
        .and_then(|selector| document.select(selector).next())
        .and_then(|base| base.value().attr("href"))
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone())
}

fn first_of(selectors: &[FieldSelector], item: ElementRef<'_>) -> Option<String> {
    selectors.iter().find_map(|s| s.first_value(item))
}

fn labels_of(selectors: &[FieldSelector], item: ElementRef<'_>) -> Vec<String> {
    for selector in selectors {
        let mut values = selector.all_values(item);
        if !values.is_empty() {
            let mut seen = std::collections::HashSet::new();
            values.retain(|v| seen.insert(v.clone()));
            return values;
        }
    }
    Vec::new()
}

fn first_link(selectors: &[FieldSelector], item: ElementRef<'_>, base: &Url) -> Option<String> {
    let configured = selectors.iter().find_map(|selector| {
        selector.elements(item).find_map(|element| {
            let href = match selector.attr() {
                Some(attr) => element.value().attr(attr)?,
                None => element.value().attr("href")?,
            };
            resolve_link(href, base)
        })
    });
    configured.or_else(|| {
        static ANCHOR: std::sync::LazyLock<Option<Selector>> =
            std::sync::LazyLock::new(|| Selector::parse("a[href]").ok());
        let own = item
            .value()
            .attr("href")
            .and_then(|h| resolve_link(h, base));
        own.or_else(|| {
            ANCHOR.as_ref().and_then(|anchor| {
                select_below(item, anchor)
                    .find_map(|a| a.value().attr("href").and_then(|h| resolve_link(h, base)))
            })
        })
    })
}

fn first_image(selectors: &[FieldSelector], item: ElementRef<'_>, base: &Url) -> Option<String> {
    selectors.iter().find_map(|selector| {
        selector.elements(item).find_map(|element| {
            let candidates: Vec<&str> = match selector.attr() {
                Some("src") | None => LAZY_IMAGE_ATTRS.to_vec(),
                Some(attr) => vec![attr],
            };
            candidates.into_iter().find_map(|attr| {
                let value = element.value().attr(attr)?.trim();
                if value.is_empty() || value.starts_with("data:") {
                    return None;
                }
                resolve_link(value, base)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::ItemSelector;

    fn rules(
        item: &str,
        title: &[&str],
        link: &[&str],
        time: &[&str],
        label: &[&str],
    ) -> HtmlRules {
        let f = |list: &[&str]| -> Vec<FieldSelector> {
            list.iter()
                .map(|s| FieldSelector::parse(s).unwrap_or_else(|e| panic!("{e}")))
                .collect()
        };
        HtmlRules {
            item: ItemSelector::parse(&[item]).unwrap_or_else(|e| panic!("{e}")),
            title: f(title),
            link: f(link),
            time: f(time),
            label: f(label),
            summary: Vec::new(),
            image: Vec::new(),
            author: Vec::new(),
        }
    }

    fn page_url() -> Url {
        Url::parse("https://news.example.cn/list/index.html").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn extracts_fields_labels_and_resolves_links() {
        let html = r#"<html><head><base href="/news/"></head><body><ul class="list">
          <li><h4><a href="a/1.html?s=x">标题 &amp; 一</a></h4><span class="t">2022-03-13 09:27</span>
              <a class="k">抗疫进行时</a><a class="k">国内</a><a class="k">国内</a></li>
          <li><h4><a href="javascript:void(0)">no link</a></h4></li>
          <li><h4></h4><a href="/x">untitled</a></li>
          <li><h4><a href="https://other.example.com/b">  Two
              lines&#8203;</a></h4></li>
        </ul></body></html>"#;
        let r = rules(
            "ul.list > li",
            &["h4 a"],
            &["h4 a@href"],
            &["span.t"],
            &["a.k"],
        );
        let out = extract_page(html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.matched, 4);
        assert_eq!(out.skipped_no_link, 1);
        assert_eq!(out.skipped_no_title, 1);
        assert_eq!(out.headlines.len(), 2);
        let first = &out.headlines[0];
        assert_eq!(first.title, "标题 & 一");
        assert_eq!(
            first.link.as_deref(),
            Some("https://news.example.cn/news/a/1.html?s=x")
        );
        assert_eq!(first.time_text.as_deref(), Some("2022-03-13 09:27"));
        assert_eq!(first.labels, vec!["抗疫进行时", "国内"]);
        assert_eq!(out.headlines[1].title, "Two lines");
    }

    #[test]
    fn fallbacks_item_attr_and_default_link() {
        let html =
            r#"<div><a class="row" href="/p/9" data-ts="1647134820"><b>Bold</b> title</a></div>"#;
        let r = rules("a.row", &["span.none", "b"], &[], &["@data-ts"], &[]);
        let out = extract_page(html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.headlines.len(), 1);
        assert_eq!(out.headlines[0].title, "Bold");
        assert_eq!(
            out.headlines[0].link.as_deref(),
            Some("https://news.example.cn/p/9")
        );
        assert_eq!(out.headlines[0].time_text.as_deref(), Some("1647134820"));
    }

    #[test]
    fn no_items_is_an_error_and_limit_caps() {
        let r = rules("li.nothing", &["a"], &[], &[], &[]);
        let err = extract_page("<ul><li>x</li></ul>", &page_url(), &r, None);
        assert!(matches!(err, Err(ExtractError::NoItems { .. })));
        let html = "<ul><li><a href='/1'>1</a></li><li><a href='/2'>2</a></li><li><a href='/3'>3</a></li></ul>";
        let r = rules("li", &["a"], &[], &["span.time"], &[]);
        let out = extract_page(html, &page_url(), &r, Some(2)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.headlines.len(), 2);
        assert_eq!(out.unmatched_fields, vec!["time"]);
    }

    #[test]
    fn lazy_images_are_preferred_over_placeholders() {
        let html = r#"<ul><li><a href="/1">t</a><img src="data:image/gif;base64,AAAA" data-original="//img.example.cn/1.jpg"></li></ul>"#;
        let mut r = rules("li", &["a"], &[], &[], &[]);
        r.image = vec![FieldSelector::parse("img@src").unwrap_or_else(|e| panic!("{e}"))];
        let out = extract_page(html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out.headlines[0].image.as_deref(),
            Some("https://img.example.cn/1.jpg")
        );
    }

    #[test]
    fn limit_stops_matching_early() {
        let items: String = (0..10)
            .map(|i| format!("<li><a href='/{i}'>t{i}</a></li>"))
            .collect();
        let html = format!("<ul>{items}</ul>");
        let r = rules("li", &["a"], &[], &[], &[]);
        let all = extract_page(&html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (all.matched, all.capped, all.headlines.len()),
            (10, false, 10)
        );
        let some = extract_page(&html, &page_url(), &r, Some(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((some.matched, some.capped), (3, true));
        assert_eq!(some.headlines, all.headlines[..3]);
        // Items without a link do not count towards the limit.
        let html =
            "<ul><li><b>x</b></li><li><a href='/1'>1</a></li><li><a href='/2'>2</a></li></ul>";
        let r = rules("li", &["*"], &["a@href"], &[], &[]);
        let out = extract_page(html, &page_url(), &r, Some(1)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (out.matched, out.skipped_no_link, out.headlines.len()),
            (2, 1, 1)
        );
        assert_eq!(out.headlines[0].title, "1");
    }

    #[test]
    fn field_text_is_bounded() {
        let long = "长".repeat(MAX_FIELD_BYTES);
        let html = format!("<ul><li><a href='/1' title='{long}'>{long}</a></li></ul>");
        let r = rules("li", &["a", "a@title"], &[], &[], &[]);
        let out = extract_page(&html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        let title = &out.headlines[0].title;
        assert!(title.len() <= MAX_FIELD_BYTES && title.len() > MAX_FIELD_BYTES - 4);
        assert!(title.chars().all(|c| c == '长'));
        let r = rules("li", &["a@title"], &[], &[], &[]);
        let out = extract_page(&html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.headlines[0].title.len() <= MAX_FIELD_BYTES);
    }

    #[test]
    fn deep_pages_are_flattened_below_the_depth_cap() {
        let depth = MAX_DOM_DEPTH * 4;
        let html = format!(
            "<html><body>{}{}</body></html>",
            (0..depth)
                .map(|i| format!("<div><a href='/{i}'>t{i}</a>"))
                .collect::<String>(),
            "</div>".repeat(depth)
        );
        let mut document = Html::parse_document(&html);
        let deepest = |d: &Html| d.tree.nodes().map(|n| n.ancestors().count()).max();
        assert!(deepest(&document) > Some(depth));
        cap_depth(&mut document);
        let limit = MAX_DOM_DEPTH + DEPTH_STEP + 2;
        assert!(
            deepest(&document) <= Some(limit),
            "{:?}",
            deepest(&document)
        );
        // Document order of the elements is kept.
        let a = Selector::parse("a").unwrap_or_else(|e| panic!("{e}"));
        let hrefs: Vec<&str> = document
            .root_element()
            .select(&a)
            .filter_map(|a| a.value().attr("href"))
            .collect();
        let want: Vec<String> = (0..depth).map(|i| format!("/{i}")).collect();
        assert_eq!(hrefs, want);
        // Every div is still an item, with its own link.
        let r = rules("div", &["a"], &["a@href"], &[], &[]);
        let out = extract_page(&html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.headlines.len(), depth);
        assert_eq!(out.headlines[depth - 1].title, format!("t{}", depth - 1));
        // A shallow page is left alone.
        let mut shallow = Html::parse_document("<ul><li><a href='/1'>1</a></li></ul>");
        let before = shallow.root_element().html();
        cap_depth(&mut shallow);
        assert_eq!(shallow.root_element().html(), before);
    }

    #[test]
    fn pages_are_read_up_to_the_tag_cap() {
        // Nesting: N open `<div>`s stop the read at the one past the cap; closed siblings,
        // self-closing tags and elements the parser closes itself never add up.
        let deep = "<div>".repeat(MAX_OPEN_ELEMENTS + 5);
        assert_eq!(
            parse_cut(&deep, usize::MAX, usize::MAX),
            Some(MAX_OPEN_ELEMENTS * 5)
        );
        let siblings = "<div><span>x</span></div>".repeat(MAX_OPEN_ELEMENTS * 2);
        assert_eq!(parse_cut(&siblings, usize::MAX, usize::MAX), None);
        let sloppy = "<li><p>item<br><img src=x><x-y/>".repeat(MAX_OPEN_ELEMENTS * 2);
        assert_eq!(parse_cut(&sloppy, usize::MAX, usize::MAX), None);
        assert_eq!(parse_cut("<p><q></q>< c><d>", 2, 9), Some(14));
        assert_eq!(parse_cut("<p><q>", 2, 9), None);
        assert_eq!(parse_cut("", 0, 0), None);
        assert_eq!(parse_cut("<", 0, 0), None);
        assert_eq!(parse_cut("<b></B><I><b>", 9, 1), Some(10));
        assert_eq!(parse_cut("<b></b><i></I><b>", 9, 1), None);
        assert_eq!(parse_cut("<a><a><a><a>", 9, 1), None);
        assert_eq!(parse_cut("<bx><by><bz>", 9, 0), None);
        // Tags inside quoted attribute values are not tags; unquoted quotes do not quote.
        assert_eq!(parse_cut("<p title='<q><q>'><q>", 2, 9), None);
        assert_eq!(parse_cut("<p title=it's><q><q>", 2, 9), Some(17));
        assert_eq!(scan_attributes(b" a=1 b = \"x>y\" c d/>z", 0), (4, 20));
        assert_eq!(scan_attributes(b" =a", 0), (1, 3));
        assert_eq!(scan_attributes(b"", 0), (0, 0));
        let many: String = (0..MAX_TAG_ATTRIBUTES + 1)
            .map(|i| format!(" a{i}"))
            .collect();
        assert_eq!(parse_cut(&format!("<p><i{many}><b>"), 9, 9), Some(3));
        let html = format!(
            "<ul><li><a href='/1'>1</a></li>{}<li><a href='/2'>2</a></li></ul>",
            "<i>".repeat(MAX_PAGE_TAGS)
        );
        let r = rules("li", &["a"], &[], &[], &[]);
        let out = extract_page(&html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.truncated);
        assert_eq!(out.headlines.len(), 1);
        let out = extract_page(
            "<ul><li><a href='/1'>1</a></li></ul>",
            &page_url(),
            &r,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.truncated);
        // Formatting elements left open, all different: read up to the cap.
        let html = format!(
            "<ul><li><a href='/1'>1</a></li>{}<li><a href='/2'>2</a></li></ul>",
            (0..MAX_OPEN_FORMATTING * 2)
                .map(|i| format!("<i class='c{i}'>"))
                .collect::<String>()
        );
        let out = extract_page(&html, &page_url(), &r, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.truncated);
        assert_eq!(out.headlines.len(), 1);
    }
}
