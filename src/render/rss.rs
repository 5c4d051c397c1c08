//! RSS 2.0 documents, written directly as text so every rule the W3C Feed Validator checks is
//! ours to see: an `atom:link rel="self"`, `<ttl>` from the poll interval, RFC 822 dates, a
//! non-permalink `<guid>` per item, `<source url>` naming the portal, `dc:creator` for authors
//! (RSS `<author>` must be an e-mail address), every label as a `<category>`, an image as an
//! `<enclosure>` plus `<media:content>`, and the summary as escaped, sanitised HTML in
//! `<description>`.

use super::{entry_urn, primary_source, push_xml_escaped, summary_html, FeedMeta, SourceLookup};
use crate::store::Item;

fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    push_xml_escaped(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// Renders items as an RSS 2.0 document.
pub fn render(items: &[Item], meta: &FeedMeta, lookup: SourceLookup<'_>) -> String {
    let mut out = String::with_capacity(1024 + items.len() * 1024);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:media=\"http://search.yahoo.com/mrss/\">\n\
         <channel>\n",
    );
    element(&mut out, "title", &meta.title);
    element(&mut out, "link", &meta.site_url);
    element(
        &mut out,
        "description",
        &format!("{} — merged by headwire", meta.title),
    );
    out.push_str("<atom:link href=\"");
    push_xml_escaped(&mut out, &meta.self_url);
    out.push_str("\" rel=\"self\" type=\"application/rss+xml\"/>\n");
    element(&mut out, "lastBuildDate", &super::rfc822(meta.updated));
    element(
        &mut out,
        "generator",
        concat!("headwire ", env!("CARGO_PKG_VERSION")),
    );
    element(
        &mut out,
        "docs",
        "https://www.rssboard.org/rss-specification",
    );
    element(&mut out, "ttl", &meta.ttl_minutes.max(1).to_string());
    for item in items {
        let source = primary_source(item, lookup);
        out.push_str("<item>\n");
        element(&mut out, "title", super::display_title(item));
        if let Some(link) = &item.link {
            element(&mut out, "link", link);
        }
        if let Some(summary) = &item.summary {
            element(
                &mut out,
                "description",
                &summary_html(summary, item.link.as_deref()),
            );
        }
        if let Some(author) = &item.author {
            element(&mut out, "dc:creator", author);
        }
        for label in &item.labels {
            element(&mut out, "category", label);
        }
        if let Some(image) = &item.image {
            let mime = image_mime(image);
            out.push_str("<enclosure url=\"");
            push_xml_escaped(&mut out, image);
            out.push_str("\" length=\"0\" type=\"");
            out.push_str(mime);
            out.push_str("\"/>\n<media:content url=\"");
            push_xml_escaped(&mut out, image);
            out.push_str("\" medium=\"image\" type=\"");
            out.push_str(mime);
            out.push_str("\"/>\n");
        }
        out.push_str("<guid isPermaLink=\"false\">");
        out.push_str(&entry_urn(item));
        out.push_str("</guid>\n");
        element(&mut out, "pubDate", &super::rfc822(item.published));
        out.push_str("<source url=\"");
        push_xml_escaped(
            &mut out,
            source.url.as_deref().unwrap_or(meta.site_url.as_str()),
        );
        out.push_str("\">");
        push_xml_escaped(&mut out, &source.name);
        out.push_str("</source>\n</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
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
        // Escaped HTML, not CDATA.
        assert!(!xml.contains("<![CDATA["));
        assert!(xml.contains("&lt;p&gt;"));
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
