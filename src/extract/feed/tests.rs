//! Tests of the feed readers, format by format, on small documents written inline.

use super::atom::base64_decode;
use super::item::clean_author;
use super::sniff::scan_shape;
use super::xml::{line_col, unescape_lenient};
use super::*;
use crate::text::escape_html;

fn url() -> Url {
    Url::parse("https://news.example.com/feeds/main.xml").expect("test URL")
}

fn parse(text: &str) -> ParsedFeed {
    match parse_feed(text, &url()) {
        Ok(f) => f,
        Err(e) => panic!("parse failed: {e}\n{text}"),
    }
}

/// An RSS 2.0 document around the given items.
fn rss2(items: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Example News</title><link>https://news.example.com/</link>
<description>All the news</description>
{items}
</channel></rss>"#
    )
}

fn one(text: &str) -> Headline {
    let feed = parse(text);
    assert_eq!(feed.headlines.len(), 1, "{feed:#?}");
    feed.headlines.into_iter().next().expect("one headline")
}

#[test]
fn rss_091() {
    let text = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel>
<title>WriteTheWeb</title><link>http://writetheweb.com</link>
<description>News for web users that write back</description><language>en-us</language>
<item><title>Giving the world a pluggable Gnutella</title>
<link>http://writetheweb.com/read.php?item=24</link>
<description>WorldOS is a framework on which to build programs that work like Freenet or Gnutella&nbsp;-allowing distributed applications using peer-to-peer routing.</description></item>
<item><title>Syndication discussions hot up</title>
<link>http://writetheweb.com/read.php?item=23</link></item>
</channel></rss>"#;
    let feed = parse(text);
    assert_eq!(feed.format, FeedFormat::Rss2);
    assert_eq!(feed.title.as_deref(), Some("WriteTheWeb"));
    assert_eq!(feed.link.as_deref(), Some("http://writetheweb.com/"));
    assert_eq!(feed.headlines.len(), 2);
    let h = &feed.headlines[0];
    assert_eq!(h.title, "Giving the world a pluggable Gnutella");
    assert_eq!(
        h.link.as_deref(),
        Some("http://writetheweb.com/read.php?item=24")
    );
    assert!(h.summary.as_deref().is_some_and(|s| s.contains("Freenet")));
}

#[test]
fn rss_20_full_item() {
    let h = one(&rss2(
        r#"<item>
  <title>Council approves  new
  budget</title>
  <link>/2024/05/budget.html</link>
  <guid isPermaLink="false">budget-2024-05</guid>
  <pubDate>Tue, 14 May 2024 09:30:00 +0200</pubDate>
  <category> Politics </category><category>Local</category><category>politics</category>
  <author>desk@example.com (City Desk)</author>
  <description>The council &lt;b&gt;approved&lt;/b&gt; the budget.</description>
  <content:encoded><![CDATA[<p>Long story</p>]]></content:encoded>
  <enclosure url="/img/budget.jpg" length="1234" type="image/jpeg"/>
</item>"#,
    ));
    assert_eq!(h.title, "Council approves new budget");
    assert_eq!(
        h.link.as_deref(),
        Some("https://news.example.com/2024/05/budget.html")
    );
    assert_eq!(h.guid.as_deref(), Some("budget-2024-05"));
    assert_eq!(
        h.time_text.as_deref(),
        Some("Tue, 14 May 2024 09:30:00 +0200")
    );
    assert_eq!(h.labels, vec!["Politics", "Local"]);
    assert_eq!(h.author.as_deref(), Some("City Desk"));
    assert_eq!(
        h.summary.as_deref(),
        Some("The council <b>approved</b> the budget.")
    );
    assert_eq!(
        h.image.as_deref(),
        Some("https://news.example.com/img/budget.jpg")
    );
}

#[test]
fn rss_media_thumbnail_and_dc_creator() {
    let h = one(&rss2(
        r#"<item><title>Pic</title><link>https://news.example.com/p</link>
<dc:creator>Ann Author</dc:creator><dc:date>2024-05-14T09:30:00Z</dc:date>
<media:thumbnail url="https://cdn.example.com/t.jpg"/></item>"#,
    ));
    assert_eq!(h.author.as_deref(), Some("Ann Author"));
    assert_eq!(h.time_text.as_deref(), Some("2024-05-14T09:30:00Z"));
    assert_eq!(h.image.as_deref(), Some("https://cdn.example.com/t.jpg"));
}

#[test]
fn rdf_10_with_dc() {
    let text = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://example.org/rss">
    <title>RDF Site</title><link>http://example.org/</link><description>d</description>
    <items><rdf:Seq><rdf:li resource="http://example.org/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="http://example.org/a">
    <title>First &amp; foremost</title><link>http://example.org/a</link>
    <dc:date>2003-12-13T18:30:02+01:00</dc:date>
    <dc:subject>Science</dc:subject><dc:subject>Space</dc:subject>
    <dc:creator>Rita</dc:creator>
  </item>
  <item rdf:about="http://example.org/b"><title>Second</title></item>
</rdf:RDF>"#;
    let feed = parse(text);
    assert_eq!(feed.format, FeedFormat::Rss1Rdf);
    assert_eq!(feed.title.as_deref(), Some("RDF Site"));
    assert_eq!(feed.headlines.len(), 2);
    let h = &feed.headlines[0];
    assert_eq!(h.title, "First & foremost");
    assert_eq!(h.link.as_deref(), Some("http://example.org/a"));
    assert_eq!(h.guid.as_deref(), Some("http://example.org/a"));
    assert_eq!(h.time_text.as_deref(), Some("2003-12-13T18:30:02+01:00"));
    assert_eq!(h.labels, vec!["Science", "Space"]);
    assert_eq!(h.author.as_deref(), Some("Rita"));
    // No <link>: rdf:about stands in.
    assert_eq!(
        feed.headlines[1].link.as_deref(),
        Some("http://example.org/b")
    );
}

#[test]
fn atom_10_xml_base_and_links() {
    let text = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/">
  <title type="text">Example Blog</title>
  <link href="/" /><link rel="self" href="/atom.xml"/>
  <id>urn:uuid:60a76c80</id><updated>2024-01-02T00:00:00Z</updated>
  <author><name>Feed Owner</name></author>
  <entry xml:base="/2024/">
    <title type="html">Hello &lt;em&gt;world&lt;/em&gt;</title>
    <link rel="edit" href="/edit/1"/>
    <link rel="alternate" type="application/pdf" href="post.pdf"/>
    <link rel="alternate" type="text/html" href="post.html"/>
    <link rel="enclosure" type="image/png" href="pic.png"/>
    <id>tag:blog.example.org,2024:1</id>
    <published>2024-01-01T10:00:00+01:00</published>
    <updated>2024-01-02T10:00:00+01:00</updated>
    <category term="rust" label="Rust"/><category term="web"/>
    <summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Short <a href="more.html">more</a></p></div></summary>
    <content type="html">&lt;p&gt;The long version&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>No rel</title><link href="plain"/><id>tag:2</id><updated>2024-01-03T00:00:00Z</updated>
    <author><name>Guest</name></author>
  </entry>
</feed>"#;
    let feed = parse(text);
    assert_eq!(feed.format, FeedFormat::Atom1);
    assert_eq!(feed.title.as_deref(), Some("Example Blog"));
    assert_eq!(feed.link.as_deref(), Some("https://blog.example.org/"));
    let h = &feed.headlines[0];
    assert_eq!(h.title, "Hello world");
    assert_eq!(
        h.link.as_deref(),
        Some("https://blog.example.org/2024/post.html")
    );
    assert_eq!(h.guid.as_deref(), Some("tag:blog.example.org,2024:1"));
    assert_eq!(h.time_text.as_deref(), Some("2024-01-01T10:00:00+01:00"));
    assert_eq!(h.updated_text.as_deref(), Some("2024-01-02T10:00:00+01:00"));
    assert_eq!(h.labels, vec!["Rust", "web"]);
    assert_eq!(h.author.as_deref(), Some("Feed Owner"));
    assert_eq!(
        h.image.as_deref(),
        Some("https://blog.example.org/2024/pic.png")
    );
    let summary = h.summary.as_deref().unwrap_or_default();
    assert!(summary.contains("Short"), "{summary}");
    assert!(
        summary.contains("https://blog.example.org/2024/more.html"),
        "{summary}"
    );
    assert!(!summary.contains("<div"), "{summary}");
    let h2 = &feed.headlines[1];
    assert_eq!(h2.link.as_deref(), Some("https://blog.example.org/plain"));
    assert_eq!(h2.author.as_deref(), Some("Guest"));
    assert_eq!(h2.time_text.as_deref(), Some("2024-01-03T00:00:00Z"));
}

#[test]
fn atom_03_escaped_and_base64() {
    let b64 = "PHA+SGVsbG8gPGI+YmFzZTY0PC9iPjwvcD4="; // <p>Hello <b>base64</b></p>
    let text = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <title mode="escaped" type="text/html">Old &amp;lt;i&amp;gt;Atom&amp;lt;/i&amp;gt;</title>
  <link rel="alternate" type="text/html" href="http://old.example.net/"/>
  <modified>2004-06-01T00:00:00Z</modified>
  <author><name>Blogger</name></author>
  <entry>
    <title mode="escaped" type="text/html">Escaped &lt;b&gt;one&lt;/b&gt;</title>
    <link rel="alternate" type="text/html" href="http://old.example.net/1.html"/>
    <id>tag:old.example.net,2004:1</id>
    <issued>2004-05-31T20:00:00-04:00</issued><modified>2004-06-01T00:00:00Z</modified>
    <content type="text/html" mode="escaped">&lt;p&gt;Escaped body&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Base64</title>
    <link rel="alternate" type="text/html" href="2.html"/>
    <id>tag:old.example.net,2004:2</id>
    <created>2004-05-30T00:00:00Z</created>
    <dc:subject>Old stuff</dc:subject>
    <content type="text/html" mode="base64">{b64}</content>
  </entry>
</feed>"#
    );
    let feed = parse(&text);
    assert_eq!(feed.format, FeedFormat::Atom03);
    assert_eq!(feed.title.as_deref(), Some("Old Atom"));
    let h = &feed.headlines[0];
    assert_eq!(h.title, "Escaped one");
    assert_eq!(h.time_text.as_deref(), Some("2004-05-31T20:00:00-04:00"));
    assert_eq!(h.updated_text.as_deref(), Some("2004-06-01T00:00:00Z"));
    assert_eq!(h.author.as_deref(), Some("Blogger"));
    assert_eq!(h.summary.as_deref(), Some("<p>Escaped body</p>"));
    let h2 = &feed.headlines[1];
    assert_eq!(
        h2.link.as_deref(),
        Some("https://news.example.com/feeds/2.html")
    );
    assert_eq!(h2.time_text.as_deref(), Some("2004-05-30T00:00:00Z"));
    assert_eq!(h2.labels, vec!["Old stuff"]);
    assert_eq!(h2.summary.as_deref(), Some("<p>Hello <b>base64</b></p>"));
}

#[test]
fn json_feed_10() {
    let text = r#"{
  "version": "https://jsonfeed.org/version/1",
  "title": "JSON Blog", "home_page_url": "https://json.example.com/",
  "author": {"name": "Jay"},
  "items": [
    {"id": 42, "url": "/posts/42", "title": "Answer &amp; everything",
     "content_text": "Plain <text> body", "date_published": "2020-01-01T00:00:00Z",
     "tags": ["meaning", " life ", "meaning"], "image": "/img/42.png"},
    {"id": "no-title", "content_html": "<p>Only a <em>body</em> here</p>",
     "external_url": "https://elsewhere.example.org/x"},
    "not an object"
  ]
}"#;
    let feed = parse(text);
    assert_eq!(feed.format, FeedFormat::JsonFeed);
    assert_eq!(feed.title.as_deref(), Some("JSON Blog"));
    assert_eq!(feed.headlines.len(), 2);
    let h = &feed.headlines[0];
    assert_eq!(h.title, "Answer & everything");
    assert_eq!(h.guid.as_deref(), Some("42"));
    assert_eq!(h.link.as_deref(), Some("https://news.example.com/posts/42"));
    assert_eq!(h.labels, vec!["meaning", "life"]);
    assert_eq!(h.author.as_deref(), Some("Jay"));
    assert_eq!(h.summary.as_deref(), Some("Plain &lt;text&gt; body"));
    assert_eq!(
        h.image.as_deref(),
        Some("https://news.example.com/img/42.png")
    );
    let h2 = &feed.headlines[1];
    assert_eq!(h2.title, "Only a body here");
    assert_eq!(h2.link.as_deref(), Some("https://elsewhere.example.org/x"));
}

#[test]
fn json_feed_11() {
    let text = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "T",
  "authors": [{"name": "Feed Author"}],
  "items": [{"id": "1", "url": "https://j.example.com/1", "title": "One",
             "summary": "Short summary", "content_html": "<p>Long</p>",
             "date_published": "2021-02-03T04:05:06+00:00", "date_modified": "2021-02-04T00:00:00Z",
             "authors": [{"url": "https://x"}, {"name": "Item Author"}],
             "banner_image": "https://j.example.com/b.jpg"}]}"#;
    let h = one(text);
    assert_eq!(h.summary.as_deref(), Some("Short summary"));
    assert_eq!(h.author.as_deref(), Some("Item Author"));
    assert_eq!(h.updated_text.as_deref(), Some("2021-02-04T00:00:00Z"));
    assert_eq!(h.image.as_deref(), Some("https://j.example.com/b.jpg"));
}

#[test]
fn cdata_and_html_titles() {
    let feed = parse(&rss2(
        r#"<item><title><![CDATA[Breaking: <b>Big</b> news &amp; more]]></title><link>https://n.example/1</link></item>
<item><title>Markets &lt;i&gt;rally&lt;/i&gt;</title><link>https://n.example/2</link></item>
<item><title>Tom &amp;amp; Jerry &amp;lt;3 &amp;#8220;cheese&amp;#8221;</title><link>https://n.example/3</link></item>
<item><title>Zero&#8203;width&#x7;	tabs&#160;and nbsp</title><link>https://n.example/4</link></item>"#,
    ));
    let titles: Vec<&str> = feed.headlines.iter().map(|h| h.title.as_str()).collect();
    assert_eq!(
        titles,
        vec![
            "Breaking: Big news & more",
            "Markets rally",
            "Tom & Jerry <3 \u{201c}cheese\u{201d}",
            "Zerowidth tabs and nbsp"
        ]
    );
}

#[test]
fn guid_without_link_and_not_permalink() {
    let feed = parse(&rss2(
        r#"<item><title>Perma</title><guid>https://n.example/perma</guid></item>
<item><title>Not perma</title><guid isPermaLink="false">https://n.example/not</guid></item>
<item><title>Opaque</title><guid>12345</guid></item>"#,
    ));
    let links: Vec<Option<&str>> = feed.headlines.iter().map(|h| h.link.as_deref()).collect();
    assert_eq!(links, vec![Some("https://n.example/perma"), None, None]);
    assert_eq!(
        feed.headlines[1].guid.as_deref(),
        Some("https://n.example/not")
    );
}

#[test]
fn missing_title() {
    let long = "word ".repeat(40);
    let feed = parse(&rss2(&format!(
        r#"<item><description>&lt;p&gt;Summary &lt;b&gt;only&lt;/b&gt; item&lt;/p&gt;</description></item>
<item><link>https://n.example/link-only</link></item>
<item><description>{long}</description></item>
<item><category>nothing else</category></item>"#
    )));
    assert_eq!(feed.headlines.len(), 3);
    assert_eq!(feed.headlines[0].title, "Summary only item");
    assert_eq!(feed.headlines[1].title, "");
    assert_eq!(
        feed.headlines[1].link.as_deref(),
        Some("https://n.example/link-only")
    );
    let t = &feed.headlines[2].title;
    assert!(
        t.ends_with('…') && t.chars().count() <= SYNTHETIC_TITLE_CHARS + 1,
        "{t}"
    );
}

#[test]
fn script_in_description_is_sanitised() {
    let h = one(&rss2(
        r#"<item><title>X</title><link>https://n.example/x</link>
<description><![CDATA[<p onclick="evil()">Hi<script>alert('x')</script><style>p{}</style>
<a href="javascript:alert(1)">bad</a> <a href="/rel">good</a></p>]]></description></item>"#,
    ));
    let s = h.summary.unwrap_or_default();
    assert!(
        !s.contains("script") && !s.contains("alert") && !s.contains("onclick"),
        "{s}"
    );
    assert!(!s.contains("javascript:") && !s.contains("p{}"), "{s}");
    assert!(s.contains(r#"href="https://news.example.com/rel""#), "{s}");
}

#[test]
fn long_summary_is_cut() {
    let body = "<p>".to_owned() + &"lorem ipsum ".repeat(2000) + "</p>";
    let h = one(&rss2(&format!(
            "<item><title>Long</title><link>https://n.example/l</link><description>{}</description></item>",
            escape_html(&body)
        )));
    let s = h.summary.unwrap_or_default();
    assert!(
        s.len() <= MAX_SUMMARY_BYTES + 16 && s.ends_with("…</p>"),
        "{}",
        s.len()
    );
}

#[test]
fn malformed_xml_reports_line() {
    let text = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\">\n<channel>\n<title>x</title>\n<item><title>a</b></item>\n</channel></rss>";
    match parse_feed(text, &url()) {
        Err(FeedError::Malformed {
            format,
            line,
            column,
            ..
        }) => {
            assert_eq!(format, FeedFormat::Rss2);
            assert_eq!(line, 5);
            assert!(column > 1);
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    let truncated = "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<entry><title>t</title>";
    assert!(matches!(
        parse_feed(truncated, &url()),
        Err(FeedError::Malformed {
            line: 2,
            format: FeedFormat::Atom1,
            ..
        })
    ));
    assert!(matches!(
        parse_feed("{\"version\": ", &url()),
        Err(FeedError::Json(_))
    ));
}

#[test]
fn not_a_feed() {
    let html = "<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>Home</title></head><body><p>Hi<br></body></html>";
    assert!(matches!(
        parse_feed(html, &url()),
        Err(FeedError::NotAFeed { .. })
    ));
    for text in [
        "",
        "plain text",
        "<svg xmlns='http://www.w3.org/2000/svg'/>",
        "{\"a\": 1}",
        "[1]",
    ] {
        assert!(
            matches!(parse_feed(text, &url()), Err(FeedError::NotAFeed { .. })),
            "{text}"
        );
    }
    assert_eq!(detect_format(html), None);
    assert_eq!(detect_format("<rss/>"), Some(FeedFormat::Rss2));
}

#[test]
fn empty_channel() {
    let feed = parse(&rss2(""));
    assert!(feed.headlines.is_empty());
    assert_eq!(feed.title.as_deref(), Some("Example News"));
    let atom = parse("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed>");
    assert!(atom.headlines.is_empty());
    let json = parse(r#"{"version":"https://jsonfeed.org/version/1.1","items":[]}"#);
    assert!(json.headlines.is_empty());
}

#[test]
fn lenient_fallback_for_bare_ampersand() {
    // The rss crate rejects a bare `&`; the own reader takes it.
    let feed = parse(&rss2(
        "<item><title>Fish & chips</title><link>https://n.example/f?a=1&b=2</link></item>",
    ));
    assert_eq!(feed.headlines[0].title, "Fish & chips");
    assert_eq!(
        feed.headlines[0].link.as_deref(),
        Some("https://n.example/f?a=1&b=2")
    );
}

#[test]
fn deep_nesting_and_garbage_do_not_panic() {
    let deep = format!(
        "<rss><channel><item><title>{}x{}</title></item></channel></rss>",
        "<b>".repeat(5000),
        "</b>".repeat(5000)
    );
    let feed = parse(&deep);
    assert_eq!(feed.headlines[0].title, "x");
    for text in [
        "<",
        "<rss",
        "<rss><channel><item>",
        "<feed",
        "{",
        "\u{feff}",
        "<rss>&#0;</rss>",
    ] {
        let _ = parse_feed(text, &url());
    }
    let _ = parse_feed(&"[".repeat(10_000), &url());
    let _ = parse_feed(
        &format!(
            "{{\"version\":\"jsonfeed.org\",\"items\":{}",
            "[".repeat(10_000)
        ),
        &url(),
    );
}

#[test]
fn windows_1252_references_and_mojibake_are_repaired() {
    let feed = parse(&rss2(
            "<item><title>don&#146;t</title><link>https://n.example/a</link>\
             <description>&#226;&#128;&#166;</description></item>\
             <item><title>Caf\u{e9} cr\u{e8}me, l\u{2019}\u{e9}t\u{e9}, \u{c3}\u{a9}t\u{c3}\u{a9} \u{e2}\u{20ac}\u{153}q\u{e2}\u{20ac}\u{9d}</title>\
             <link>https://n.example/b</link></item>",
        ));
    assert_eq!(feed.headlines[0].title, "don\u{2019}t");
    assert_eq!(feed.headlines[0].summary.as_deref(), Some("\u{2026}"));
    assert_eq!(
        feed.headlines[1].title,
        "Caf\u{e9} cr\u{e8}me, l\u{2019}\u{e9}t\u{e9}, \u{e9}t\u{e9} \u{201c}q\u{201d}"
    );
}

#[test]
fn atom_link_as_text_and_prefixed_atom() {
    let feed = parse(
        r#"<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:entry>
<a:link rel="enclosure" type="text/html">http://x.example/enc</a:link>
<a:link rel="alternate" type="text/html">http://x.example/alt</a:link>
<a:title>Prefixed</a:title></a:entry></a:feed>"#,
    );
    assert_eq!(feed.format, FeedFormat::Atom1);
    assert_eq!(feed.headlines[0].title, "Prefixed");
    assert_eq!(
        feed.headlines[0].link.as_deref(),
        Some("http://x.example/alt")
    );
}

#[test]
fn helpers() {
    assert_eq!(line_col("ab\ncdé\nf", 7), (2, 4));
    assert_eq!(line_col("é", 1), (1, 1));
    assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
    assert_eq!(base64_decode("a*"), None);
    assert_eq!(base64_decode(" aG\nk ").as_deref(), Some(&b"hi"[..]));
    assert_eq!(
        base64_decode("-_8=ignored").as_deref(),
        Some(&[0xfb, 0xff][..])
    );
    assert_eq!(base64_decode("aGkY").as_deref(), Some(&b"hi\x18"[..]));
    assert_eq!(base64_decode("aGkYa").as_deref(), Some(&b"hi\x18"[..]));
    assert_eq!(base64_decode("aGkY*"), None);
    assert_eq!(unescape_lenient("a&amp;b&c&#65;&nbsp;"), "a&b&cA&nbsp;");
    assert_eq!(
        clean_author("jo@example.com (Jo Bloggs)").as_deref(),
        Some("Jo Bloggs")
    );
    assert_eq!(clean_author("  ").as_deref(), None);
}

#[test]
fn limited_parse_keeps_the_first_entries() {
    let items: String = (0..10)
        .map(|i| format!("<item><title>t{i}</title><link>/a/{i}</link></item>"))
        .collect();
    let atom: String = (0..10)
        .map(|i| format!("<entry><title>t{i}</title><link href=\"/a/{i}\"/></entry>"))
        .collect();
    let json: Vec<String> = (0..10)
        .map(|i| format!("{{\"url\":\"/a/{i}\",\"title\":\"t{i}\"}}"))
        .collect();
    let docs = [
            rss2(&items),
            format!("<rdf:RDF xmlns:rdf=\"{NS_RDF}\" xmlns=\"{NS_RSS10}\"><channel><title>Example News</title></channel>{items}</rdf:RDF>"),
            format!("<feed xmlns=\"{NS_ATOM10}\"><title>Example News</title>{atom}</feed>"),
            format!("{{\"version\":\"https://jsonfeed.org/version/1\",\"title\":\"Example News\",\"items\":[1,[2],{}]}}", json.join(",")),
        ];
    for doc in &docs {
        let all = parse(doc);
        assert_eq!(all.headlines.len(), 10, "{doc}");
        for k in [0, 1, 3, 10, 11] {
            let some =
                parse_feed_limited(doc, &url(), Some(k)).unwrap_or_else(|e| panic!("{e}: {doc}"));
            assert_eq!(some.headlines, all.headlines[..k.min(10)], "{k}: {doc}");
            assert_eq!(some.title.as_deref(), Some("Example News"));
            assert_eq!(some.format, all.format);
        }
    }
    // The cut document is closed where it was cut.
    let shape = scan_shape(&docs[0], Some(2));
    let cut = shape.cut.unwrap_or_default();
    assert!(
        cut.ends_with("<link>/a/1</link></item></channel></rss>"),
        "{cut}"
    );
    assert!(::rss::Channel::read_from(cut.as_bytes()).is_ok());
    // `items` that is not an array is still an error, limited or not.
    let bad = r#"{"version":"https://jsonfeed.org/version/1","items":{"a":1}}"#;
    assert!(matches!(
        parse_feed_limited(bad, &url(), Some(1)),
        Err(FeedError::Invalid { .. })
    ));
    assert!(detect_format(bad).is_some());
}

#[test]
fn nesting_beyond_the_reader_limit_is_invalid() {
    let doc = |depth: usize| {
        format!(
            "<rss><channel><item><title>t</title><link>/1</link>{}{}</item></channel></rss>",
            "<x>".repeat(depth),
            "</x>".repeat(depth)
        )
    };
    assert_eq!(scan_shape(&doc(10), None).max_depth, 13);
    assert_eq!(parse(&doc(MAX_NESTING - 4)).headlines.len(), 1);
    assert!(matches!(
        parse_feed(&doc(MAX_NESTING), &url()),
        Err(FeedError::Invalid { .. })
    ));
    // quick-xml's u16 level counter would overflow here.
    assert!(matches!(
        parse_feed(&doc(70_000), &url()),
        Err(FeedError::Invalid { .. })
    ));
}

#[test]
fn labels_are_deduplicated_and_capped() {
    let cats: String = (0..200)
        .map(|i| format!("<category>C{}</category><category>c{}</category>", i, i))
        .collect();
    let h = one(&rss2(&format!(
        "<item><title>t</title><link>/1</link>{cats}</item>"
    )));
    assert_eq!(h.labels.len(), crate::extract::MAX_LABELS);
    assert_eq!(h.labels[..3], ["C0", "C1", "C2"]);
}
