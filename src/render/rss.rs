//! RSS 2.0 documents, written with the shared [`super::xml`] writer (see there why not the
//! `rss` crate), with what the W3C Feed Validator asks for: an `atom:link rel="self"`,
//! `<ttl>` from the poll interval, RFC 822 dates, a non-permalink `<guid>` per item,
//! `<source url>` naming the portal, `dc:creator` for authors (RSS `<author>` must be an
//! e-mail address), every label as a `<category>`, an image as an `<enclosure>` plus
//! `<media:content>`, the summary as escaped, sanitised HTML in `<description>`, and the full
//! article text, when stored and asked for, in `<content:encoded>`.

use super::xml::XmlWriter;
use super::{entry_urn_parts, primary_source, summary_html, FeedMeta, SourceLookup, MEDIA_NS};

/// The RSS content module's namespace (`content:encoded`: the full article text).
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";
use crate::store::Item;

/// Renders items as an RSS 2.0 document.
pub fn render(items: &[Item], meta: &FeedMeta, lookup: SourceLookup<'_>) -> String {
    let mut w = XmlWriter::new(1024 + items.len() * 1024);
    w.open(
        "rss",
        &[
            ("version", "2.0"),
            ("xmlns:atom", "http://www.w3.org/2005/Atom"),
            ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
            ("xmlns:media", MEDIA_NS),
            ("xmlns:content", CONTENT_NS),
        ],
    );
    w.open("channel", &[]);
    w.text("title", &[], &meta.title);
    w.text("link", &[], &meta.site_url);
    w.text(
        "description",
        &[],
        &format!("{} — merged by headwire", meta.title),
    );
    w.empty(
        "atom:link",
        &[
            ("href", &meta.self_url),
            ("rel", "self"),
            ("type", "application/rss+xml"),
        ],
    );
    w.text("lastBuildDate", &[], &super::rfc822(meta.updated));
    w.text(
        "generator",
        &[],
        concat!("headwire ", env!("CARGO_PKG_VERSION")),
    );
    w.text("docs", &[], "https://www.rssboard.org/rss-specification");
    w.text("ttl", &[], &meta.ttl_minutes.max(1).to_string());
    for item in items {
        let source = primary_source(item, lookup);
        w.open("item", &[]);
        w.text("title", &[], super::display_title(item));
        if let Some(link) = &item.link {
            w.text("link", &[], link);
        }
        if let Some(summary) = &item.summary {
            w.text(
                "description",
                &[],
                &summary_html(summary, item.link.as_deref()),
            );
        }
        if let Some(content) = &item.content {
            w.text(
                "content:encoded",
                &[],
                &summary_html(content, item.link.as_deref()),
            );
        }
        if let Some(author) = &item.author {
            w.text("dc:creator", &[], author);
        }
        for label in &item.labels {
            w.text("category", &[], label);
        }
        if let Some(image) = &item.image {
            let mime = image_mime(image);
            w.empty(
                "enclosure",
                &[("url", image), ("length", "0"), ("type", mime)],
            );
            w.empty(
                "media:content",
                &[("url", image), ("medium", "image"), ("type", mime)],
            );
        }
        w.text_parts("guid", &[("isPermaLink", "false")], &entry_urn_parts(item));
        w.text("pubDate", &[], &super::rfc822(item.published));
        let source_url = source.url.as_deref().unwrap_or(meta.site_url.as_str());
        w.text("source", &[("url", source_url)], &source.name);
        w.close("item");
    }
    w.close("channel");
    w.close("rss");
    w.finish()
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
    } else if path.ends_with(".svg") {
        "image/svg+xml"
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
        let mut first = item(1, NASTY);
        first.author = Some("记者 <张三> & 李四".into());
        first.image = Some("https://img.example.com/p.png?a=1&b=2".into());
        first.summary = Some(HOSTILE_SUMMARY.into());
        let items = vec![first, item(2, "普通标题")];
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
        assert_eq!(first.source().and_then(|s| s.title()), Some("观察者网"));
        assert_eq!(first.guid().map(|g| g.is_permalink()), Some(false));
        assert_eq!(
            first.dublin_core_ext().map(|dc| dc.creators().to_vec()),
            Some(vec!["记者 <张三> & 李四".to_string()])
        );
        let enclosure = first.enclosure().unwrap();
        assert_eq!(enclosure.url(), "https://img.example.com/p.png?a=1&b=2");
        assert_eq!(enclosure.mime_type(), "image/png");
        assert!(first.extensions().contains_key("media"));
        let description = first.description().unwrap();
        assert_inert(description);
        assert!(description.contains("<p>"), "HTML kept: {description}");
        // The sanitised HTML, whole: a `]]>` in it does not end the CDATA section early.
        assert_eq!(
            description,
            summary_html(
                HOSTILE_SUMMARY,
                Some("https://example.com/a/1.html?x=1&y=2")
            )
        );
        assert_eq!(channel.ttl(), Some("10"));
        let self_link = &channel.atom_ext().unwrap().links()[0];
        assert_eq!(self_link.rel(), "self");
        assert_eq!(self_link.href(), meta().self_url);
        assert_eq!(first.link(), Some("https://example.com/a/1.html?x=1&y=2"));
    }

    #[test]
    fn image_types_from_extensions() {
        for (url, mime) in [
            ("https://x/a.PNG", "image/png"),
            ("https://x/a.gif?x=1", "image/gif"),
            ("https://x/a.webp#f", "image/webp"),
            ("https://x/a", "image/jpeg"),
        ] {
            assert_eq!(image_mime(url), mime, "{url}");
        }
    }
}
