//! RSS 0.9x / 2.0 through the `rss` crate, the first reader tried for an `<rss>` document.
//!
//! When the crate rejects a document, or leaves an item empty (it drops child elements inside
//! `<title>`/`<description>`), [`super::rdf`] reads the same document with the element tree.

use crate::text::resolve_link;
use url::Url;

use super::item::{finish, guid_as_link, is_image_type, looks_like_image_url, non_empty, RawItem};
use super::{FeedFormat, ParsedFeed, NS_MEDIA};

pub(super) fn rss_item_is_empty(item: &rss::Item) -> bool {
    item.title().is_none() && item.link().is_none() && item.description().is_none()
}

pub(super) fn map_rss_channel(channel: &rss::Channel, feed_url: &Url) -> ParsedFeed {
    let media_prefix = channel
        .namespaces()
        .iter()
        .find(|(_, uri)| uri.trim_end_matches('/') == NS_MEDIA.trim_end_matches('/'))
        .map_or("media", |(prefix, _)| prefix.as_str());
    let items = channel
        .items()
        .iter()
        .map(|item| map_rss_item(item, feed_url, media_prefix))
        .collect();
    let title = non_empty(channel.title().trim());
    let link = resolve_link(channel.link(), feed_url);
    finish(FeedFormat::Rss2, title, link, items)
}

pub(super) fn map_rss_item(item: &rss::Item, base: &Url, media_prefix: &str) -> RawItem {
    let mut raw = RawItem::new(base.clone());
    let dc = item.dublin_core_ext();
    raw.title = item.title().map(str::to_owned);
    raw.link = item.link().and_then(|l| resolve_link(l, base));
    if let Some(guid) = item.guid() {
        raw.guid = non_empty(guid.value().trim());
        raw.guid_link = guid_as_link(base, guid.value(), guid.is_permalink());
    }
    raw.time = item
        .pub_date()
        .map(str::to_owned)
        .or_else(|| dc.and_then(|d| d.dates().first().cloned()));
    raw.labels = item
        .categories()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    if let Some(dc) = dc {
        raw.labels.extend(dc.subjects().iter().cloned());
    }
    raw.description = item.description().map(str::to_owned);
    raw.content = item.content().map(str::to_owned);
    raw.author = item
        .author()
        .map(str::to_owned)
        .or_else(|| dc.and_then(|d| d.creators().first().cloned()));
    raw.image = item
        .enclosure()
        .filter(|e| is_image_type(e.mime_type()))
        .and_then(|e| resolve_link(e.url(), base))
        .or_else(|| {
            let media = item.extensions().get(media_prefix)?;
            media_image_from_ext(media, base)
        });
    raw
}

pub(super) fn media_image_from_ext(
    media: &std::collections::BTreeMap<String, Vec<rss::extension::Extension>>,
    base: &Url,
) -> Option<String> {
    let url_of = |e: &rss::extension::Extension| e.attrs().get("url").cloned();
    let is_image = |e: &rss::extension::Extension| {
        let a = e.attrs();
        a.get("medium").is_some_and(|m| m == "image")
            || a.get("type").is_some_and(|t| is_image_type(t))
            || (a.get("medium").is_none()
                && a.get("type").is_none()
                && a.get("url").is_some_and(|u| looks_like_image_url(u)))
    };
    let direct = media
        .get("thumbnail")
        .into_iter()
        .flatten()
        .find_map(url_of)
        .or_else(|| {
            media
                .get("content")
                .into_iter()
                .flatten()
                .filter(|e| is_image(e))
                .find_map(url_of)
        });
    let from_group = || {
        media.get("group").into_iter().flatten().find_map(|g| {
            let ch = g.children();
            ch.get("thumbnail")
                .into_iter()
                .flatten()
                .find_map(url_of)
                .or_else(|| {
                    ch.get("content")
                        .into_iter()
                        .flatten()
                        .filter(|e| is_image(e))
                        .find_map(url_of)
                })
        })
    };
    direct
        .or_else(from_group)
        .and_then(|u| resolve_link(&u, base))
}
