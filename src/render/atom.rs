//! Atom 1.0 documents: one `<entry>` per item with a stable id, both times, every label as a
//! category, an author on every entry (the story's author, else its portal), an
//! `<atom:source>` naming the portal, the image as an enclosure link plus `<media:content>`,
//! and the summary as sanitised `type="html"` text.

use std::collections::BTreeMap;

use atom_syndication::extension::{Extension, ExtensionMap};
use chrono::FixedOffset;

use super::{
    entry_urn, primary_source, push_xml_escaped, summary_html, xml_text, FeedMeta, SourceLookup,
};
use crate::store::Item;

/// The Media RSS namespace (`media:content` for images).
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// `<media:content>` for an image. atom_syndication writes extension attributes verbatim
/// (unlike its own elements), so the URL is escaped here.
fn media_content(image: &str) -> ExtensionMap {
    let mut url = String::with_capacity(image.len() + 8);
    push_xml_escaped(&mut url, image);
    let mut attrs = BTreeMap::new();
    attrs.insert("url".to_string(), url);
    attrs.insert("medium".to_string(), "image".to_string());
    attrs.insert(
        "type".to_string(),
        super::rss::image_mime(image).to_string(),
    );
    let content = Extension {
        name: "media:content".into(),
        attrs,
        ..Default::default()
    };
    let mut by_name = BTreeMap::new();
    by_name.insert("content".to_string(), vec![content]);
    let mut map = ExtensionMap::new();
    map.insert("media".to_string(), by_name);
    map
}

/// Renders items as an Atom 1.0 document.
pub fn render(items: &[Item], meta: &FeedMeta, lookup: SourceLookup<'_>) -> String {
    let utc = FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero offset is valid"));
    let entries: Vec<atom_syndication::Entry> = items
        .iter()
        .map(|item| {
            let source = primary_source(item, lookup);
            let mut links = Vec::new();
            if let Some(link) = &item.link {
                links.push(atom_syndication::Link {
                    href: xml_text(link),
                    rel: "alternate".into(),
                    mime_type: Some("text/html".into()),
                    ..Default::default()
                });
            }
            if let Some(image) = &item.image {
                links.push(atom_syndication::Link {
                    href: xml_text(image),
                    rel: "enclosure".into(),
                    mime_type: Some(super::rss::image_mime(image).into()),
                    ..Default::default()
                });
            }
            let author_name = item.author.clone().unwrap_or_else(|| source.name.clone());
            let updated = super::feed_time(item.updated.max(item.published)).with_timezone(&utc);
            let portal = atom_syndication::Source {
                title: atom_syndication::Text::plain(xml_text(&source.name)),
                id: source
                    .url
                    .as_deref()
                    .map(xml_text)
                    .unwrap_or_else(|| format!("urn:headwire:source:{}", xml_text(&source.id))),
                updated,
                links: source
                    .url
                    .as_deref()
                    .map(|url| {
                        vec![atom_syndication::Link {
                            href: xml_text(url),
                            rel: "alternate".into(),
                            mime_type: Some("text/html".into()),
                            ..Default::default()
                        }]
                    })
                    .unwrap_or_default(),
                ..Default::default()
            };
            atom_syndication::Entry {
                id: entry_urn(item),
                title: atom_syndication::Text::plain(xml_text(super::display_title(item))),
                updated,
                published: Some(super::feed_time(item.published).with_timezone(&utc)),
                // An entry without an alternate link must carry content (RFC 4287 §4.1.2):
                // a story whose only link was unusable shows its summary, else its title.
                content: item.link.is_none().then(|| atom_syndication::Content {
                    value: Some(match &item.summary {
                        Some(s) => summary_html(s, None),
                        None => xml_text(super::display_title(item)),
                    }),
                    content_type: Some(
                        if item.summary.is_some() {
                            "html"
                        } else {
                            "text"
                        }
                        .into(),
                    ),
                    ..Default::default()
                }),
                links,
                categories: item
                    .labels
                    .iter()
                    .map(|label| atom_syndication::Category {
                        term: xml_text(label),
                        ..Default::default()
                    })
                    .collect(),
                authors: vec![atom_syndication::Person {
                    name: xml_text(&author_name),
                    uri: if item.author.is_none() {
                        source.url.as_deref().map(xml_text)
                    } else {
                        None
                    },
                    ..Default::default()
                }],
                summary: item
                    .summary
                    .as_deref()
                    .map(|s| atom_syndication::Text::html(summary_html(s, item.link.as_deref()))),
                source: Some(portal),
                extensions: item.image.as_deref().map(media_content).unwrap_or_default(),
                ..Default::default()
            }
        })
        .collect();
    let feed = atom_syndication::Feed {
        id: xml_text(&meta.id),
        title: atom_syndication::Text::plain(xml_text(&meta.title)),
        updated: super::feed_time(meta.updated).with_timezone(&utc),
        links: vec![
            atom_syndication::Link {
                href: xml_text(&meta.self_url),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            },
            atom_syndication::Link {
                href: xml_text(&meta.site_url),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            },
        ],
        generator: Some(atom_syndication::Generator {
            value: "headwire".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        entries,
        namespaces: if items.iter().any(|i| i.image.is_some()) {
            BTreeMap::from([("media".to_string(), MEDIA_NS.to_string())])
        } else {
            BTreeMap::new()
        },
        ..Default::default()
    };
    feed.to_string()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn renders_parseable_atom_with_escapes() {
        let mut first = item(1, NASTY);
        first.summary = Some(HOSTILE_SUMMARY.into());
        first.image = Some("https://img.example.com/p.jpg?a=1&b=\"2\"".into());
        let items = vec![first, item(2, "普通标题")];
        let xml = render(&items, &meta(), &lookup);
        let feed: atom_syndication::Feed = xml.parse().unwrap();
        assert_eq!(feed.entries().len(), 2);
        let first = &feed.entries()[0];
        assert_eq!(first.title().as_str(), "A & B <c> ]]> ctrl \"q\"");
        assert_eq!(
            first.published().map(|p| p.to_rfc3339()),
            Some("2022-03-13T01:28:00+00:00".to_string())
        );
        assert_eq!(first.categories().len(), 2);
        assert_eq!(first.authors()[0].name(), "观察者网");
        assert!(first.id().starts_with("urn:uuid:"));
        assert_ne!(first.id(), feed.entries()[1].id());
        assert_eq!(feed.links()[0].rel(), "self");
        assert_eq!(
            first.links()[0].href(),
            "https://example.com/a/1.html?x=1&y=2"
        );
        let summary = first.summary().unwrap();
        assert_eq!(summary.r#type, atom_syndication::TextType::Html);
        assert_inert(&summary.value);
        assert!(xml.contains("<summary type=\"html\">&lt;p&gt;"), "{xml}");
        let source = first.source().unwrap();
        assert_eq!(source.title().as_str(), "观察者网");
        assert_eq!(source.links()[0].href(), "https://www.guancha.cn/");
        assert_eq!(first.links()[1].rel(), "enclosure");
        assert_eq!(
            first.extensions()["media"]["content"][0].attrs()["url"],
            "https://img.example.com/p.jpg?a=1&b=\"2\""
        );
        assert!(xml.contains("xmlns:media=\"http://search.yahoo.com/mrss/\""));
    }
}
