//! Atom 1.0 documents, written with the shared [`super::xml`] writer (see there why not
//! `atom_syndication`): one `<entry>` per item with a stable id, both times, every label as a
//! category, an author on every entry (the story's author, else its portal), an
//! `<atom:source>` naming the portal, the image as an enclosure link plus `<media:content>`,
//! the summary as sanitised `type="html"` text, and the full article text, when stored and
//! asked for, as `<content type="html">`.

use super::xml::XmlWriter;
use super::{
    entry_urn_parts, primary_source, summary_html, FeedMeta, Rfc3339, SourceInfo, SourceLookup,
    MEDIA_NS,
};
use crate::store::Item;

/// Renders items as an Atom 1.0 document.
pub fn render(items: &[Item], meta: &FeedMeta, lookup: SourceLookup<'_>) -> String {
    let mut w = XmlWriter::new(1024 + items.len() * 1024);
    let media = items.iter().any(|i| i.image.is_some());
    let mut feed_attrs = vec![("xmlns", "http://www.w3.org/2005/Atom")];
    if media {
        feed_attrs.push(("xmlns:media", MEDIA_NS));
    }
    w.open("feed", &feed_attrs);
    w.text("title", &[], &meta.title);
    w.text("id", &[], &meta.id);
    w.text("updated", &[], Rfc3339::new(meta.updated).as_str());
    w.empty(
        "link",
        &[
            ("href", &meta.self_url),
            ("rel", "self"),
            ("type", "application/atom+xml"),
        ],
    );
    alternate(&mut w, &meta.site_url);
    w.text(
        "generator",
        &[("version", env!("CARGO_PKG_VERSION"))],
        "headwire",
    );
    for item in items {
        entry(&mut w, item, &primary_source(item, lookup));
    }
    w.close("feed");
    w.finish()
}

/// `<link rel="alternate" type="text/html">`.
fn alternate(w: &mut XmlWriter, href: &str) {
    w.empty(
        "link",
        &[("href", href), ("rel", "alternate"), ("type", "text/html")],
    );
}

/// One stored item as an `<entry>`.
fn entry(w: &mut XmlWriter, item: &Item, source: &SourceInfo) {
    let title = super::display_title(item);
    let updated = Rfc3339::new(item.updated.max(item.published));
    let updated = updated.as_str();
    w.open("entry", &[]);
    w.text("title", &[], title);
    w.text_parts("id", &[], &entry_urn_parts(item));
    w.text("updated", &[], updated);
    w.text("published", &[], Rfc3339::new(item.published).as_str());
    if let Some(link) = &item.link {
        alternate(w, link);
    }
    if let Some(image) = &item.image {
        let mime = super::rss::image_mime(image);
        w.empty(
            "link",
            &[("href", image), ("rel", "enclosure"), ("type", mime)],
        );
    }
    w.open("author", &[]);
    match &item.author {
        Some(author) => w.text("name", &[], author),
        None => {
            w.text("name", &[], &source.name);
            if let Some(url) = &source.url {
                w.text("uri", &[], url);
            }
        }
    }
    w.close("author");
    for label in &item.labels {
        w.empty("category", &[("term", label)]);
    }
    if let Some(summary) = &item.summary {
        let html = summary_html(summary, item.link.as_deref());
        w.text("summary", &[("type", "html")], &html);
    }
    // The full text when stored. Otherwise an entry without an alternate link must still carry
    // content (RFC 4287 §4.1.2): a story whose only link was unusable shows its summary, else
    // its title.
    match (&item.content, &item.link, &item.summary) {
        (Some(content), link, _) => {
            let html = summary_html(content, link.as_deref());
            w.text("content", &[("type", "html")], &html);
        }
        (None, None, Some(summary)) => {
            w.text("content", &[("type", "html")], &summary_html(summary, None))
        }
        (None, None, None) => w.text("content", &[("type", "text")], title),
        (None, Some(_), _) => {}
    }
    w.open("source", &[]);
    match &source.url {
        Some(url) => w.text("id", &[], url),
        None => w.text_parts("id", &[], &["urn:headwire:source:", &source.id]),
    }
    w.text("title", &[], &source.name);
    w.text("updated", &[], updated);
    if let Some(url) = &source.url {
        alternate(w, url);
    }
    w.close("source");
    if let Some(image) = &item.image {
        let mime = super::rss::image_mime(image);
        w.empty(
            "media:content",
            &[("url", image), ("medium", "image"), ("type", mime)],
        );
    }
    w.close("entry");
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
