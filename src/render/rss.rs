//! RSS 2.0 documents with the `atom:link rel="self"` readers and validators expect.

use super::{entry_urn, primary_source, xml_text, FeedMeta, SourceLookup};
use crate::store::Item;

/// Renders items as an RSS 2.0 document.
pub fn render(items: &[Item], meta: &FeedMeta, lookup: SourceLookup<'_>) -> String {
    let entries: Vec<rss::Item> = items
        .iter()
        .map(|item| {
            let source = primary_source(item, lookup);
            let categories = item
                .labels
                .iter()
                .map(|label| rss::Category {
                    name: xml_text(label),
                    domain: None,
                })
                .collect();
            let enclosure = item.image.as_ref().map(|url| rss::Enclosure {
                url: xml_text(url),
                length: "0".into(),
                mime_type: image_mime(url).into(),
            });
            rss::Item {
                title: Some(xml_text(&item.title)),
                link: item.link.as_deref().map(xml_text),
                description: item.summary.as_deref().map(xml_text),
                author: None,
                categories,
                guid: Some(rss::Guid {
                    value: entry_urn(item),
                    permalink: false,
                }),
                pub_date: Some(item.published.to_rfc2822()),
                source: Some(rss::Source {
                    url: xml_text(source.url.as_deref().unwrap_or(&meta.site_url)),
                    title: Some(xml_text(&source.name)),
                }),
                enclosure,
                dublin_core_ext: item.author.as_ref().map(|author| {
                    let mut dc = rss::extension::dublincore::DublinCoreExtension::default();
                    dc.set_creators(vec![xml_text(author)]);
                    dc
                }),
                ..Default::default()
            }
        })
        .collect();
    let mut namespaces = std::collections::BTreeMap::new();
    namespaces.insert(
        "atom".to_string(),
        "http://www.w3.org/2005/Atom".to_string(),
    );
    namespaces.insert(
        "dc".to_string(),
        "http://purl.org/dc/elements/1.1/".to_string(),
    );
    let self_link = rss::extension::atom::AtomExtension {
        links: vec![atom_syndication::Link {
            href: xml_text(&meta.self_url),
            rel: "self".into(),
            mime_type: Some("application/rss+xml".into()),
            ..Default::default()
        }],
    };
    let channel = rss::Channel {
        title: xml_text(&meta.title),
        link: xml_text(&meta.site_url),
        description: xml_text(&format!("{} — merged by headwire", meta.title)),
        last_build_date: Some(meta.updated.to_rfc2822()),
        generator: Some(format!("headwire {}", env!("CARGO_PKG_VERSION"))),
        ttl: Some(meta.ttl_minutes.max(1).to_string()),
        items: entries,
        namespaces,
        atom_ext: Some(self_link),
        ..Default::default()
    };
    channel.to_string()
}

/// A MIME type for an image URL, from its extension.
pub fn image_mime(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if path.ends_with(".png") {
        "image/png"
    } else if path.ends_with(".gif") {
        "image/gif"
    } else if path.ends_with(".webp") {
        "image/webp"
    } else {
        "image/jpeg"
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn renders_parseable_rss_with_escapes() {
        let items = vec![item(1, NASTY), item(2, "普通标题")];
        let xml = render(&items, &meta(), &lookup);
        let channel = rss::Channel::read_from(xml.as_bytes()).unwrap();
        assert_eq!(channel.items().len(), 2);
        let first = &channel.items()[0];
        assert_eq!(first.title(), Some("A & B <c> ]]> ctrl \"q\""));
        assert_eq!(first.pub_date(), Some("Sun, 13 Mar 2022 01:28:00 +0000"));
        assert_eq!(first.categories().len(), 2);
        assert_eq!(
            first.source().map(|s| s.url()),
            Some("https://www.guancha.cn/")
        );
        assert_eq!(first.guid().map(|g| g.is_permalink()), Some(false));
        assert!(xml.contains("rel=\"self\""));
        assert!(xml.contains("<ttl>10</ttl>"));
        assert_eq!(first.link(), Some("https://example.com/a/1.html?x=1&y=2"));
    }
}
