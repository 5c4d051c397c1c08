//! Feed sections merge with scraped sections: a story that is both in a portal's RSS feed and on
//! its scraped list page is one item with both labels; a malformed feed is that section's error
//! and never touches stored items.

mod common;

use std::sync::Arc;

use common::*;
use headwire::config::Config;
use headwire::store::{Query, Store};

fn rss_feed(portal: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Portal RSS</title><link>{portal}/</link><description>d</description>
<item><title><![CDATA[上海新增本土确诊病例]]></title>
  <link>{portal}/politics/2022_03_13_1.shtml?utm_source=rss</link>
  <guid isPermaLink="false">p-1</guid>
  <pubDate>Sun, 13 Mar 2022 09:27:00 +0800</pubDate>
  <category>抗疫进行时</category><category>国内</category>
  <description>&lt;p&gt;摘要 &lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;重点&lt;/b&gt;&lt;/p&gt;</description>
  <dc:creator>记者甲</dc:creator></item>
<item><title>Only &amp;amp; in the feed</title>
  <guid isPermaLink="false">p-2</guid>
  <pubDate>Sun, 13 Mar 2022 08:00:00 +0800</pubDate></item>
</channel></rss>"#
    )
}

fn atom_feed(portal: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{portal}/world/">
<title>World</title><id>urn:x</id><updated>2022-03-13T02:00:00Z</updated>
<entry><title type="html">国际 &lt;em&gt;要闻&lt;/em&gt;</title><id>urn:w1</id>
  <link rel="alternate" href="4.html"/><updated>2022-03-13T01:00:00Z</updated>
  <published>2022-03-13T07:00:00+08:00</published><category term="国际"/></entry>
</feed>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_and_pages_merge_into_one_story() {
    let portal = Portal::default();
    let base = portal.start();
    portal.set(
        "/politics/",
        Reply::html(list_page(
            "时政",
            &[Story::new(
                "上海新增本土确诊病例",
                "/politics/2022_03_13_1.shtml?s=abc",
                "2022-03-13 09:27",
            )],
        )),
    );
    portal.set(
        "/rss.xml",
        Reply::Page {
            body: rss_feed(&base).into_bytes(),
            content_type: "text/html".into(),
        },
    );
    portal.set(
        "/world.atom",
        Reply::Page {
            body: atom_feed(&base).into_bytes(),
            content_type: "application/octet-stream".into(),
        },
    );
    portal.set(
        "/broken.xml",
        Reply::Page {
            body: b"<rss version=\"2.0\"><channel><item><title>x</item></channel>".to_vec(),
            content_type: "application/rss+xml".into(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[poll]
host_delay = "0"
[[source]]
id = "portal"
name = "Portal"
timezone = "Asia/Shanghai"
strip_params = ["s"]
[[source.section]]
id = "politics"
name = "时政"
url = "{base}/politics/"
item = "ul.list > li"
title = "h4 a"
time = ".module-interact span"
[[source.section]]
id = "rss"
name = "RSS"
kind = "feed"
url = "{base}/rss.xml"
[[source.section]]
id = "world"
name = "国际"
kind = "feed"
url = "{base}/world.atom"
[[source.section]]
id = "broken"
name = "Broken"
kind = "feed"
url = "{base}/broken.xml"
"#
    );
    let path = dir.path().join("feeds.toml");
    std::fs::write(&path, &text).unwrap();
    let config = Arc::new(Config::parse(&text, &path).unwrap());
    let store = Arc::new(Store::open(&config.store_path).unwrap());
    let poller = Arc::new(
        headwire::poll::Poller::new(config.clone(), store.clone(), fixed_clock(fixture_now()))
            .unwrap(),
    );

    let reports = poller.poll_all_once().await;
    let report = |key: &str| reports.iter().find(|r| r.key == key).unwrap();
    assert!(report("portal/politics").error.is_none());
    assert_eq!(report("portal/rss").found, 2);
    // Sections poll concurrently: whichever sees the shared story first creates it.
    assert_eq!(report("portal/politics").new + report("portal/rss").new, 2);
    assert_eq!(report("portal/world").new, 1);
    let broken = report("portal/broken").error.as_ref().unwrap();
    assert_eq!(broken.kind(), "feed");
    assert!(
        broken.to_string().contains("line"),
        "malformed feed error names a line: {broken}"
    );
    assert_eq!(store.len(), 3);

    let items = store
        .query(
            &Query {
                limit: 10,
                ..Query::default()
            },
            &|_| true,
        )
        .unwrap();
    let shared = items
        .iter()
        .find(|i| i.title == "上海新增本土确诊病例")
        .unwrap();
    let mut labels = shared.labels.clone();
    labels.sort();
    let mut expected = vec!["时政", "RSS", "抗疫进行时", "国内"];
    expected.sort();
    assert_eq!(labels, expected);
    assert_eq!(shared.published.to_rfc3339(), "2022-03-13T01:27:00+00:00");
    assert_eq!(shared.author.as_deref(), Some("记者甲"));
    let summary = shared.summary.as_deref().unwrap();
    assert!(summary.contains("<b>重点</b>"), "{summary}");
    assert!(
        !summary.contains("script") && !summary.contains("alert"),
        "sanitised: {summary}"
    );
    let only_feed = items
        .iter()
        .find(|i| i.title == "Only & in the feed")
        .unwrap();
    assert!(only_feed.link.is_none(), "no link: identity from the guid");
    let world = items.iter().find(|i| i.title == "国际 要闻").unwrap();
    assert_eq!(
        world.link.as_deref(),
        Some(format!("{base}/world/4.html").as_str())
    );
    assert_eq!(world.published.to_rfc3339(), "2022-03-12T23:00:00+00:00");

    // The broken feed turning valid later does not disturb what is stored; polling again adds nothing.
    let before = store.generation();
    let again = poller.poll_all_once().await;
    assert!(again.iter().all(|r| r.new == 0));
    assert_eq!(store.len(), 3);
    assert!(store.generation() >= before);
    assert!(store.verify().unwrap().is_empty());
}
