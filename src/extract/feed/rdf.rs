//! RSS through the element tree: RSS 1.0 / RDF (items are siblings of the channel) and the
//! lenient fallback for RSS 0.9x / 2.0 documents the `rss` crate will not read.

use crate::text::resolve_link;
use url::Url;

use super::item::{finish, guid_as_link, is_image_type, looks_like_image_url, non_empty, RawItem};
use super::xml::Elem;
use super::{
    FeedFormat, ParsedFeed, NS_ATOM10, NS_CONTENT, NS_DC, NS_DCTERMS, NS_MEDIA, NS_RDF, RSS_CORE_NS,
};

pub(super) fn map_rss_dom(root: &Elem, format: FeedFormat, feed_url: &Url) -> ParsedFeed {
    let root_ns = root.ns.clone();
    let is_core = |e: &Elem, local: &str| {
        e.local == local
            && match e.ns.as_deref() {
                None => true,
                Some(ns) => RSS_CORE_NS.contains(&ns) || root_ns.as_deref() == Some(ns),
            }
    };
    let root_base = root.base_from(feed_url);
    let channel = if root.local == "channel" {
        Some(root)
    } else {
        root.elems().find(|e| is_core(e, "channel"))
    };
    let channel_base = channel.map_or(root_base.clone(), |c| c.base_from(&root_base));
    let mut items = Vec::new();
    let mut title = None;
    let mut link = None;
    if let Some(ch) = channel {
        title = ch
            .elems()
            .find(|e| is_core(e, "title"))
            .and_then(Elem::text_opt);
        link = ch
            .elems()
            .find(|e| is_core(e, "link"))
            .and_then(|l| resolve_link(&l.text(), &channel_base));
        for it in ch.elems().filter(|e| is_core(e, "item")) {
            items.push(map_rss_dom_item(it, &channel_base, &is_core));
        }
    }
    if root.local != "channel" {
        // RSS 0.90/1.0 put items beside the channel; some 0.9x feeds do too.
        for it in root.elems().filter(|e| is_core(e, "item")) {
            items.push(map_rss_dom_item(it, &root_base, &is_core));
        }
    }
    finish(format, title, link, items)
}

pub(super) fn map_rss_dom_item(
    it: &Elem,
    parent_base: &Url,
    is_core: &dyn Fn(&Elem, &str) -> bool,
) -> RawItem {
    let base = it.base_from(parent_base);
    let mut raw = RawItem::new(base.clone());
    let core = |local: &str| it.elems().find(|e| is_core(e, local));
    let ext = |ns: &str, local: &str| it.child(ns, local);
    raw.title = core("title").map(Elem::text);
    raw.link = core("link")
        .and_then(|l| resolve_link(&l.text(), &l.base_from(&base)))
        .or_else(|| {
            // Some feeds only give an atom:link (or put the link in rdf:about).
            it.elems()
                .filter(|e| e.is(NS_ATOM10, "link"))
                .find(|l| l.attr("rel").is_none_or(|r| r.trim() == "alternate"))
                .and_then(|l| resolve_link(l.attr("href")?, &l.base_from(&base)))
        });
    if let Some(g) = core("guid") {
        let value = g.text();
        raw.guid = non_empty(value.trim());
        let permalink = g
            .attr("isPermaLink")
            .is_none_or(|p| !p.trim().eq_ignore_ascii_case("false"));
        raw.guid_link = guid_as_link(&base, &value, permalink);
    }
    if raw.guid.is_none() {
        raw.guid = it
            .attr_ns(NS_RDF, "about")
            .and_then(|a| non_empty(a.trim()));
    }
    if raw.link.is_none() {
        raw.link = it
            .attr_ns(NS_RDF, "about")
            .filter(|a| a.trim().starts_with("http"))
            .and_then(|a| resolve_link(a, &base));
    }
    raw.time = core("pubDate")
        .or_else(|| ext(NS_DC, "date"))
        .or_else(|| ext(NS_DCTERMS, "issued"))
        .or_else(|| ext(NS_DCTERMS, "created"))
        .and_then(Elem::text_opt);
    raw.updated = ext(NS_DCTERMS, "modified")
        .or_else(|| ext(NS_ATOM10, "updated"))
        .and_then(Elem::text_opt);
    for e in it.elems() {
        if is_core(e, "category") || e.is(NS_DC, "subject") {
            raw.labels.push(e.text());
        }
    }
    raw.description = core("description").map(|d| {
        if d.has_elem_children() {
            d.inner_markup()
        } else {
            d.text()
        }
    });
    raw.content = ext(NS_CONTENT, "encoded").map(Elem::text);
    raw.author = core("author")
        .or_else(|| ext(NS_DC, "creator"))
        .and_then(|a| match a.child(NS_ATOM10, "name") {
            Some(n) => n.text_opt(),
            None => a.text_opt(),
        });
    raw.image = it
        .elems()
        .filter(|e| is_core(e, "enclosure"))
        .find(|e| e.attr("type").is_some_and(is_image_type))
        .and_then(|e| resolve_link(e.attr("url")?, &base))
        .or_else(|| media_image(it, &base));
    raw
}

/// `media:thumbnail`, then an image `media:content`, then the same inside `media:group`.
pub(super) fn media_image(parent: &Elem, base: &Url) -> Option<String> {
    let direct = |p: &Elem| {
        let thumb = p
            .elems()
            .filter(|e| e.is(NS_MEDIA, "thumbnail"))
            .find_map(|e| e.attr("url"));
        let content = || {
            p.elems()
                .filter(|e| e.is(NS_MEDIA, "content"))
                .find(|e| {
                    e.attr("medium").is_some_and(|m| m == "image")
                        || e.attr("type").is_some_and(is_image_type)
                        || (e.attr("medium").is_none()
                            && e.attr("type").is_none()
                            && e.attr("url").is_some_and(looks_like_image_url))
                })
                .and_then(|e| e.attr("url"))
        };
        thumb.or_else(content).map(str::to_owned)
    };
    direct(parent)
        .or_else(|| {
            parent
                .elems()
                .filter(|e| e.is(NS_MEDIA, "group"))
                .find_map(direct)
        })
        .and_then(|u| resolve_link(&u, base))
}
