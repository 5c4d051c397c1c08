//! Atom 1.0 and the pre-standard Atom 0.3, through the element tree.
//!
//! Not `atom_syndication`: it turns dates into `DateTime`s (headwire keeps the source's text),
//! fails a whole feed on one bad date, and ignores `xml:base` below the feed element. Text
//! constructs (`text`, `html`, `xhtml`, 0.3's `mode="escaped"`/`base64`) become HTML.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use crate::text::{escape_html, resolve_link};
use url::Url;

use super::item::{finish, is_image_type, RawItem};
use super::rdf::media_image;
use super::xml::{Elem, XNode};
use super::{FeedFormat, ParsedFeed, NS_DC};

/// A text or content construct as HTML: `type="text"` is escaped, `html` kept, `xhtml` (or
/// Atom 0.3 `mode="xml"` with markup) serialised, Atom 0.3 `mode="base64"` decoded.
pub(super) fn atom_construct_html(e: &Elem, v03: bool) -> Option<String> {
    let ty = e.attr("type").unwrap_or("").trim().to_ascii_lowercase();
    if e.attr("src").is_some() && e.text().trim().is_empty() {
        return None;
    }
    if v03 {
        let mode = e.attr("mode").unwrap_or("xml").trim().to_ascii_lowercase();
        let is_html = ty.contains("html");
        return match mode.as_str() {
            "base64" => {
                let bytes = base64_decode(&e.text())?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                Some(if is_html { text } else { escape_html(&text) })
            }
            "escaped" => Some(if is_html || ty.is_empty() {
                e.text()
            } else {
                escape_html(&e.text())
            }),
            _ => Some(if e.has_elem_children() {
                unwrap_xhtml_div(e)
            } else if ty == "text/html" {
                e.text()
            } else {
                escape_html(&e.text())
            }),
        };
    }
    match ty.as_str() {
        "" | "text" | "text/plain" => Some(escape_html(&e.text())),
        "html" | "text/html" => Some(e.text()),
        "xhtml" | "application/xhtml+xml" => Some(unwrap_xhtml_div(e)),
        t if t.starts_with("text/") || t.ends_with("+xml") || t.ends_with("/xml") => {
            Some(escape_html(&e.text()))
        }
        _ => None, // base64-encoded media of some other type: nothing to show
    }
}

/// The markup inside an XHTML construct, without the wrapping `<div>` the spec requires.
pub(super) fn unwrap_xhtml_div(e: &Elem) -> String {
    let mut elems = e.elems();
    let only_div = match (elems.next(), elems.next()) {
        (Some(d), None) if d.local == "div" => {
            let stray_text = e
                .children
                .iter()
                .any(|c| matches!(c, XNode::Text(t) if !t.trim().is_empty()));
            (!stray_text).then_some(d)
        }
        _ => None,
    };
    match only_div {
        Some(div) => div.inner_markup(),
        None => e.inner_markup(),
    }
}

pub(super) fn map_atom(root: &Elem, format: FeedFormat, feed_url: &Url) -> ParsedFeed {
    let v03 = format == FeedFormat::Atom03;
    let ns = root.ns.clone().unwrap_or_default();
    let base = root.base_from(feed_url);
    let ns = ns.as_str();
    fn child_in<'e>(e: &'e Elem, ns: &str, local: &str) -> Option<&'e Elem> {
        e.elems()
            .find(|c| c.local == local && c.ns.as_deref().unwrap_or("") == ns)
    }
    let title = child_in(root, ns, "title").and_then(|t| atom_construct_html(t, v03));
    let link = atom_alternate(root, ns, &base);
    let feed_author = child_in(root, ns, "author")
        .and_then(|a| child_in(a, ns, "name"))
        .and_then(Elem::text_opt);
    let mut items = Vec::new();
    for entry in root
        .elems()
        .filter(|c| c.local == "entry" && c.ns.as_deref().unwrap_or("") == ns)
    {
        let ebase = entry.base_from(&base);
        let mut raw = RawItem::new(ebase.clone());
        raw.title = child_in(entry, ns, "title").and_then(|t| atom_construct_html(t, v03));
        raw.link = atom_alternate(entry, ns, &ebase);
        raw.guid = child_in(entry, ns, "id").and_then(Elem::text_opt);
        let first_text = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| child_in(entry, ns, n).and_then(Elem::text_opt))
        };
        if v03 {
            raw.time = first_text(&["issued", "created", "modified"])
                .or_else(|| entry.child(NS_DC, "date").and_then(Elem::text_opt));
            raw.updated = first_text(&["modified"]);
        } else {
            raw.time = first_text(&["published"])
                .or_else(|| entry.child(NS_DC, "date").and_then(Elem::text_opt))
                .or_else(|| first_text(&["updated"]));
            raw.updated = first_text(&["updated"]);
        }
        for e in entry.elems() {
            if e.local == "category" && e.ns.as_deref().unwrap_or("") == ns {
                let label = e
                    .attr("label")
                    .filter(|l| !l.trim().is_empty())
                    .or_else(|| e.attr("term"))
                    .map(str::to_owned)
                    .or_else(|| e.text_opt());
                raw.labels.extend(label);
            } else if e.is(NS_DC, "subject") {
                raw.labels.push(e.text());
            }
        }
        raw.description = child_in(entry, ns, "summary").and_then(|s| atom_construct_html(s, v03));
        raw.content = child_in(entry, ns, "content").and_then(|c| atom_construct_html(c, v03));
        raw.author = child_in(entry, ns, "author")
            .or_else(|| child_in(entry, ns, "source").and_then(|s| child_in(s, ns, "author")))
            .and_then(|a| child_in(a, ns, "name"))
            .and_then(Elem::text_opt)
            .or_else(|| entry.child(NS_DC, "creator").and_then(Elem::text_opt))
            .or_else(|| feed_author.clone());
        raw.image = entry
            .elems()
            .filter(|l| l.local == "link" && l.ns.as_deref().unwrap_or("") == ns)
            .filter(|l| l.attr("rel").is_some_and(|r| r.trim() == "enclosure"))
            .find(|l| l.attr("type").is_some_and(is_image_type))
            .and_then(|l| resolve_link(l.attr("href")?, &l.base_from(&ebase)))
            .or_else(|| media_image(entry, &ebase));
        items.push(raw);
    }
    finish(format, title, link, items)
}

/// The `rel="alternate"` (or rel-less) link, preferring an HTML one; resolved against the
/// link's own `xml:base`.
pub(super) fn atom_alternate(parent: &Elem, ns: &str, base: &Url) -> Option<String> {
    // `href`, or (invalid but seen) the URL as the element's text.
    let href = |l: &Elem| {
        l.attr("href")
            .map(str::to_owned)
            .or_else(|| l.text_opt())
            .filter(|h| !h.trim().is_empty())
    };
    let alternates: Vec<&Elem> = parent
        .elems()
        .filter(|l| l.local == "link" && l.ns.as_deref().unwrap_or("") == ns)
        .filter(|l| l.attr("rel").is_none_or(|r| r.trim() == "alternate"))
        .filter(|l| href(l).is_some())
        .collect();
    let html = alternates.iter().find(|l| {
        l.attr("type")
            .is_none_or(|t| t.contains("html") || t.trim().is_empty())
    });
    html.or(alternates.first())
        .and_then(|l| resolve_link(&href(l)?, &l.base_from(base)))
}

/// Base64 as Atom 0.3 feeds write it: the standard alphabet (the URL-safe `-` and `_` read
/// as `+` and `/`), whitespace ignored, padding optional and nothing read past the first `=`.
/// `None` on any other character.
pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let data = text.split('=').next().unwrap_or_default();
    let mut bytes: Vec<u8> = data
        .bytes()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            b'-' => b'+',
            b'_' => b'/',
            c => c,
        })
        .collect();
    // A lone last character carries no whole byte: checked, then dropped.
    if bytes.len() % 4 == 1 {
        let last = bytes.pop()?;
        if !(last.is_ascii_alphanumeric() || last == b'+' || last == b'/') {
            return None;
        }
    }
    LENIENT.decode(bytes).ok()
}
