//! Shared harness for the serving tests: a fixture portal with two HTML sections (one named in
//! traditional characters) and one RSS feed section, headwire started in-process on a port
//! bound in advance (so `server.base_url` is the real address and every self link and
//! subscribe link can be fetched), and checks for the rules the W3C Feed Validator applies.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use headwire::config::Config;
use headwire::store::Store;

pub use crate::common::{fixed_clock, fixture_now, Portal, Reply};

/// One story on a fixture page, with the optional fields headwire can extract.
#[derive(Clone, Debug)]
pub struct RichStory {
    pub title: &'static str,
    pub href: &'static str,
    pub time: &'static str,
    pub label: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub author: Option<&'static str>,
    pub image: Option<&'static str>,
}

impl RichStory {
    pub const fn new(title: &'static str, href: &'static str, time: &'static str) -> RichStory {
        RichStory {
            title,
            href,
            time,
            label: None,
            summary: None,
            author: None,
            image: None,
        }
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A portal list page (guancha-like markup) with summaries, authors and images.
pub fn rich_page(title: &str, stories: &[RichStory]) -> String {
    let mut html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><ul class=\"list\">"
    );
    for s in stories {
        html.push_str(&format!(
            "<li><h4 class=\"module-title\"><a href=\"{}\">{}</a></h4>",
            esc(s.href),
            esc(s.title)
        ));
        if let Some(summary) = s.summary {
            html.push_str(&format!("<p class=\"summary\">{}</p>", esc(summary)));
        }
        if let Some(author) = s.author {
            html.push_str(&format!("<span class=\"author\">{}</span>", esc(author)));
        }
        if let Some(image) = s.image {
            html.push_str(&format!("<img src=\"{}\">", esc(image)));
        }
        html.push_str(&format!(
            "<div class=\"module-interact\"><span>{}</span>{}</div></li>",
            s.time,
            s.label
                .map(|l| format!("<a class=\"interact-key\" href=\"/topic\">{l}</a>"))
                .unwrap_or_default()
        ));
    }
    html.push_str("</ul></body></html>");
    html
}

/// The politics page: 时政, interval 1d.
pub const POLITICS: &[RichStory] = &[
    RichStory {
        title: "上海新增本土确诊病例",
        href: "/politics/2022_03_13_1.shtml",
        time: "2022-03-13 09:27",
        label: Some("抗疫進行時"),
        summary: Some("新增 & <病例> 详情"),
        author: Some("记者 张三"),
        image: Some("/img/p1.jpg"),
    },
    RichStory::new(
        "两会闭幕 & <要点>",
        "/politics/2022_03_13_2.shtml",
        "2022-03-13 08:15",
    ),
    RichStory::new(
        "引号\"与]]>及&符号的标题",
        "/politics/2022_03_12_3.shtml?a=1&b=2",
        "2022-03-13 07:30",
    ),
    RichStory::new(
        "广告：特价促销",
        "/politics/2022_03_12_4.shtml",
        "2022-03-12 20:00",
    ),
];

/// The world page: named 國際 (traditional), interval 2d. Its last story is the first politics
/// story again (same link), so that item carries both sections' labels.
pub const WORLD: &[RichStory] = &[
    RichStory {
        title: "俄乌局势最新",
        href: "/world/1.html",
        time: "2022-03-13 07:00",
        label: Some("歐洲"),
        summary: None,
        author: None,
        image: None,
    },
    RichStory::new(
        "美国 Stocks fall 纳斯达克",
        "/world/2.html",
        "2022-03-12 10:00",
    ),
    RichStory::new(
        "上海新增本土确诊病例",
        "/politics/2022_03_13_1.shtml",
        "2022-03-13 09:27",
    ),
];

/// The wire feed: RSS 2.0 with categories, an author, an enclosure and a hostile description.
pub fn wire_feed(portal: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Wire</title><link>{portal}/wire/</link><description>wire</description>
<item><title>Rust 1.95 released</title><link>{portal}/wire/rust.html</link>
<description>&lt;p onclick="x()"&gt;Fast &lt;script&gt;alert(1)&lt;/script&gt;&lt;a href="javascript:alert(2)"&gt;more&lt;/a&gt;&lt;/p&gt;</description>
<category>Programming</category><dc:creator>Jane Doe</dc:creator>
<enclosure url="{portal}/img/rust.png" length="1234" type="image/png"/>
<pubDate>Sun, 13 Mar 2022 03:00:00 +0000</pubDate><guid>{portal}/wire/rust.html</guid></item>
<item><title>台灣半導體出口創新高</title><link>{portal}/wire/tw.html</link>
<category>臺灣</category><category>經濟</category>
<pubDate>Sat, 12 Mar 2022 18:00:00 +0000</pubDate></item>
</channel></rss>"#
    )
}

/// Titles newest first, as every merged feed must list them.
pub const ALL_TITLES: [&str; 8] = [
    "Rust 1.95 released",
    "上海新增本土确诊病例",
    "两会闭幕 & <要点>",
    "引号\"与]]>及&符号的标题",
    "俄乌局势最新",
    "台灣半導體出口創新高",
    "广告：特价促销",
    "美国 Stocks fall 纳斯达克",
];

pub fn config_text(portal: &str, base_url: &str, token: Option<&str>) -> String {
    let token = token
        .map(|t| format!("token = {}\n", toml_string(t)))
        .unwrap_or_default();
    let fields = r#"summary = "p.summary"
author = "span.author"
image = "img@src""#;
    let head = crate::common::config_head(base_url, &token, "");
    let source = crate::common::portal_source(portal, "interval = \"1d\"");
    let politics = crate::common::portal_section(portal, "politics", "时政", fields);
    let world_fields = format!("interval = \"2d\"\n{fields}");
    let world = crate::common::portal_section(portal, "world", "國際", &world_fields);
    format!(
        r#"{head}{source}{politics}{world}
[[source.section]]
id = "broken"
name = "坏掉"
url = "{portal}/broken/"
interval = "3d"
item = "li"
title = "a"

[[source]]
id = "wire"
name = "Wire 通讯社"
url = "{portal}/wire/"
interval = "1d"

[[source.section]]
id = "tech"
name = "科技"
url = "{portal}/wire.xml"
kind = "feed"
"#
    )
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A running headwire with the fixture portal polled once.
pub struct Harness {
    pub portal: Portal,
    pub portal_base: String,
    pub running: Option<headwire::app::Running>,
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    /// `http://127.0.0.1:PORT` — also `server.base_url`.
    pub root: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl Harness {
    /// Starts the portal and headwire (optionally with a token) and polls every section once.
    pub async fn start(token: Option<&str>) -> Harness {
        let portal = Portal::default();
        portal.set("/politics/", Reply::html(rich_page("时政", POLITICS)));
        portal.set("/world/", Reply::html(rich_page("國際", WORLD)));
        portal.set("/broken/", Reply::Status(500));
        let portal_base = portal.start();
        portal.set(
            "/wire.xml",
            Reply::Page {
                body: wire_feed(&portal_base).into_bytes(),
                content_type: "application/rss+xml; charset=utf-8".into(),
            },
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let root = format!("http://{}", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, config_text(&portal_base, &root, token)).unwrap();
        let config =
            Arc::new(Config::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap());
        // The background scheduler must not poll during a test (it would change the store
        // generation under the cache assertions): every first poll is hours away.
        for (source, section) in config.sections() {
            let key = section.key(source);
            let delay = headwire::poll::initial_delay(&key, section.interval);
            assert!(
                delay > Duration::from_secs(1800),
                "{key}: first scheduled poll after {delay:?}; pick another section id"
            );
        }
        let store = Arc::new(Store::open(&config.store_path).unwrap());
        let running = headwire::app::start(
            config.clone(),
            store.clone(),
            fixed_clock(fixture_now()),
            listener,
        )
        .unwrap();
        let reports = running.poller.poll_all_once().await;
        for report in &reports {
            if report.key != "portal/broken" {
                assert!(report.error.is_none(), "{}: {:?}", report.key, report.error);
            }
        }
        assert_eq!(store.len(), ALL_TITLES.len(), "fixture items stored");
        let http = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .build()
            .unwrap();
        Harness {
            portal,
            portal_base,
            running: Some(running),
            store,
            config,
            root,
            http,
            dir,
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.root, path_and_query)
    }

    /// GET with extra headers; returns status, headers and the (decoded) body text.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers: HashMap<String, String> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let raw = response.bytes().await.unwrap().to_vec();
        let body = match headers.get("content-encoding").map(String::as_str) {
            Some("gzip") => {
                let mut out = String::new();
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_string(&mut out)
                    .unwrap();
                out
            }
            Some("br") => {
                let mut out = String::new();
                brotli::Decompressor::new(&raw[..], 4096)
                    .read_to_string(&mut out)
                    .unwrap();
                out
            }
            _ => String::from_utf8(raw.clone()).unwrap(),
        };
        Response {
            status,
            headers,
            raw,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_with(path, &[]).await
    }

    /// A counter or gauge from `/metrics` (the first sample whose name and labels match).
    pub async fn metric(&self, sample: &str) -> f64 {
        let metrics = self.get("/metrics").await.body;
        metric_value(&metrics, sample).unwrap_or_else(|| panic!("{sample} not in\n{metrics}"))
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}

pub fn metric_value(metrics: &str, sample: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == sample).then(|| value.parse().ok())?
    })
}

pub struct Response {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub raw: Vec<u8>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Well-formedness under a strict XML reader (the same check the validator starts with).
pub fn assert_well_formed_xml(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut depth = 0i32;
    let mut roots = 0;
    let check_attributes = |e: &quick_xml::events::BytesStart| {
        for attribute in e.attributes().with_checks(true) {
            let attribute = attribute.unwrap_or_else(|err| panic!("bad attribute: {err}\n{xml}"));
            attribute
                .normalized_value(quick_xml::XmlVersion::default())
                .unwrap_or_else(|err| panic!("bad attribute value: {err}\n{xml}"));
        }
    };
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                check_attributes(&e);
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Empty(e)) => {
                check_attributes(&e);
                if depth == 0 {
                    roots += 1;
                }
            }
            Ok(quick_xml::events::Event::Text(t)) => {
                // Every entity must resolve: decode the text strictly.
                let text = t.decode().unwrap();
                quick_xml::escape::unescape(&text)
                    .unwrap_or_else(|e| panic!("bad entity in {text:?}: {e}"));
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at {}: {e}\n{xml}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    assert_eq!(roots, 1, "exactly one root element");
    for c in xml.chars() {
        assert!(
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}'),
            "character {c:?} is not allowed in XML 1.0"
        );
    }
}

/// RFC 822 date-time as RSS 2.0 requires (four-digit years, as the validator recommends).
pub fn assert_rfc822(date: &str) {
    let re = regex::Regex::new(
        r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} (\+0000|GMT|[+-]\d{4})$",
    )
    .unwrap();
    assert!(re.is_match(date), "not an RFC 822 date: {date:?}");
    assert!(DateTime::parse_from_rfc2822(date).is_ok(), "{date}");
}

/// Checks the W3C Feed Validator's RSS rules we rely on; returns the parsed channel.
pub fn check_rss_rules(xml: &str, requested: &str, ttl_minutes: u64) -> rss::Channel {
    assert_well_formed_xml(xml);
    assert!(!xml.contains("<![CDATA["), "descriptions are escaped HTML");
    let channel = rss::Channel::read_from(xml.as_bytes()).unwrap();
    assert!(!channel.title().is_empty());
    assert!(url::Url::parse(channel.link()).is_ok(), "channel link");
    assert!(!channel.description().is_empty());
    let self_links: Vec<_> = channel
        .atom_ext()
        .map(|a| a.links().iter().filter(|l| l.rel() == "self").collect())
        .unwrap_or_default();
    assert_eq!(self_links.len(), 1, "one atom:link rel=self");
    assert_eq!(
        self_links[0].href(),
        requested,
        "self link is the requested URL"
    );
    assert_eq!(self_links[0].mime_type(), Some("application/rss+xml"));
    assert_eq!(channel.ttl(), Some(ttl_minutes.to_string().as_str()), "ttl");
    assert_rfc822(channel.last_build_date().unwrap());
    let mut guids = BTreeSet::new();
    for item in channel.items() {
        assert!(item.title().is_some() || item.description().is_some());
        let guid = item.guid().expect("guid on every item");
        assert!(!guid.is_permalink());
        assert!(guids.insert(guid.value().to_string()), "duplicate guid");
        assert_rfc822(item.pub_date().expect("pubDate on every item"));
        if let Some(link) = item.link() {
            assert!(url::Url::parse(link).is_ok(), "item link {link}");
        }
        let source = item.source().expect("source on every item");
        assert!(url::Url::parse(source.url()).is_ok(), "source url");
        assert!(source.title().is_some_and(|t| !t.is_empty()));
        assert!(
            item.author().is_none(),
            "RSS author must be an e-mail; we use dc:creator"
        );
        if let Some(enclosure) = item.enclosure() {
            assert!(url::Url::parse(enclosure.url()).is_ok());
            assert!(enclosure.length().parse::<u64>().is_ok());
            assert!(enclosure.mime_type().starts_with("image/"));
        }
        if let Some(description) = item.description() {
            assert_inert_html(description);
        }
    }
    channel
}

/// Checks the W3C Feed Validator's Atom rules we rely on; returns the parsed feed.
pub fn check_atom_rules(xml: &str, requested: &str) -> atom_syndication::Feed {
    assert_well_formed_xml(xml);
    let feed: atom_syndication::Feed = xml.parse().unwrap();
    assert!(feed.id().starts_with("urn:"), "feed id is an IRI");
    assert!(!feed.title().as_str().is_empty());
    assert!(xml.contains("<updated>"), "feed updated present");
    let self_links: Vec<_> = feed.links().iter().filter(|l| l.rel() == "self").collect();
    assert_eq!(self_links.len(), 1);
    assert_eq!(
        self_links[0].href(),
        requested,
        "self link is the requested URL"
    );
    let uuid = regex::Regex::new(
        r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )
    .unwrap();
    let mut ids = BTreeSet::new();
    let entries_xml = xml.matches("<entry>").count();
    assert_eq!(entries_xml, feed.entries().len());
    assert_eq!(
        xml.matches("<updated>").count(),
        1 + 2 * feed.entries().len(),
        "updated on the feed, every entry and every entry's source"
    );
    for entry in feed.entries() {
        assert!(uuid.is_match(entry.id()), "entry id {}", entry.id());
        assert!(ids.insert(entry.id().to_string()), "duplicate atom:id");
        assert!(!entry.title().as_str().is_empty());
        let has_author = entry.authors().iter().any(|a| !a.name().is_empty());
        assert!(has_author || entry.source().is_some(), "author or source");
        assert!(has_author, "we always name an author");
        assert!(entry.source().is_some(), "and the portal as atom:source");
        assert!(entry.published().is_some());
        if let Some(summary) = entry.summary() {
            assert_eq!(summary.r#type, atom_syndication::TextType::Html);
            assert_inert_html(&summary.value);
        }
        for link in entry.links() {
            assert!(url::Url::parse(link.href()).is_ok(), "link {}", link.href());
        }
    }
    feed
}

/// Checks the JSON Feed 1.1 rules; returns the document.
pub fn check_json_rules(body: &str, requested: &str) -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(doc["version"], "https://jsonfeed.org/version/1.1");
    assert!(doc["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(doc["feed_url"], requested);
    let mut ids = BTreeSet::new();
    for item in doc["items"].as_array().unwrap() {
        assert!(ids.insert(item["id"].as_str().unwrap().to_string()));
        let published = item["date_published"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(published).is_ok());
        assert!(item["content_html"].is_string() || item["content_text"].is_string());
        if let Some(html) = item["content_html"].as_str() {
            assert_inert_html(html);
        }
        assert!(item["authors"][0]["name"].is_string());
    }
    doc
}

pub fn assert_inert_html(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in ["<script", "<style", "onclick", "onerror", "javascript:"] {
        assert!(!lower.contains(bad), "{bad} in {html}");
    }
}

/// Titles of an Atom feed.
pub fn atom_titles(feed: &atom_syndication::Feed) -> Vec<String> {
    feed.entries()
        .iter()
        .map(|e| e.title().as_str().to_string())
        .collect()
}

/// The expected titles, newest first, among `ALL_TITLES`.
pub fn titles(wanted: &[&str]) -> Vec<String> {
    ALL_TITLES
        .iter()
        .filter(|t| wanted.contains(t))
        .map(|t| t.to_string())
        .collect()
}

/// Published time of a fixture title, UTC.
pub fn published(title: &str) -> DateTime<Utc> {
    let text = match title {
        "Rust 1.95 released" => "2022-03-13T03:00:00Z",
        "上海新增本土确诊病例" => "2022-03-13T01:27:00Z",
        "两会闭幕 & <要点>" => "2022-03-13T00:15:00Z",
        "引号\"与]]>及&符号的标题" => "2022-03-12T23:30:00Z",
        "俄乌局势最新" => "2022-03-12T23:00:00Z",
        "台灣半導體出口創新高" => "2022-03-12T18:00:00Z",
        "广告：特价促销" => "2022-03-12T12:00:00Z",
        "美国 Stocks fall 纳斯达克" => "2022-03-12T02:00:00Z",
        other => panic!("no fixture {other}"),
    };
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Labels each fixture item must carry, sorted (the order depends on which section was
/// polled first).
pub fn labels(title: &str) -> Vec<String> {
    let mut labels: Vec<String> = match title {
        "Rust 1.95 released" => vec!["科技", "Programming"],
        "上海新增本土确诊病例" => vec!["时政", "抗疫進行時", "國際"],
        "俄乌局势最新" => vec!["國際", "歐洲"],
        "美国 Stocks fall 纳斯达克" => vec!["國際"],
        "台灣半導體出口創新高" => vec!["科技", "臺灣", "經濟"],
        _ => vec!["时政"],
    }
    .into_iter()
    .map(String::from)
    .collect();
    labels.sort();
    labels
}
