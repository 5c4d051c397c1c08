//! Atom 1.0 documents: one `<entry>` per item with a stable id, both times, every label as a
//! category, and an author on every entry (the story's author, else its portal).

use chrono::FixedOffset;

use super::{entry_urn, primary_source, xml_text, FeedMeta, SourceLookup};
use crate::store::Item;

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
            atom_syndication::Entry {
                id: entry_urn(item),
                title: atom_syndication::Text::plain(xml_text(&item.title)),
                updated: item.updated.max(item.published).with_timezone(&utc),
                published: Some(item.published.with_timezone(&utc)),
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
                    .map(|s| atom_syndication::Text::html(xml_text(s))),
                ..Default::default()
            }
        })
        .collect();
    let feed = atom_syndication::Feed {
        id: xml_text(&meta.id),
        title: atom_syndication::Text::plain(xml_text(&meta.title)),
        updated: meta.updated.with_timezone(&utc),
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
        let items = vec![item(1, NASTY), item(2, "普通标题")];
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
    }
}
