//! Full text and the image proxy, end to end: a fixture portal whose list page links to article
//! pages, one of which fails, and whose image host answers only requests that name the story
//! page as `Referer` → `serve` → the feeds carry the article text with images that load.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use common::*;
use headwire::config::Config;
use headwire::store::Store;

/// A one-pixel PNG.
const PIXEL: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// An article page: navigation, a share bar and a script around the body paragraphs, the
/// picture lazily loaded from the image host.
fn article(n: u32, images: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>第{n}篇</title>\
         <script>track()</script></head><body><div class=\"nav\"><a href=\"/\">首页</a>\
         <a href=\"/world/\">国际</a></div><div class=\"share\">分享到微博 微信</div>\
         <div class=\"content\"><p>第{n}篇正文第一段：国务院联防联控机制今日召开新闻发布会，\
         介绍进一步做好疫情防控工作的有关情况，并回答记者提问。</p>\
         <p><img data-src=\"{images}/pic/{n}.png\" src=\"/blank.gif\" alt=\"图\"></p>\
         <p>第{n}篇正文第二段：各地要坚持科学精准防控，统筹疫情防控和经济社会发展，\
         切实保障人民群众生命安全和身体健康。</p><script>alert(1)</script></div>\
         <div class=\"footer\">版权所有</div></body></html>"
    )
}

/// The fixture portal: list page, articles (`/a/3.html` answers 500), and an image host that
/// refuses requests whose `Referer` is not the story page. Records each image request's referer.
#[derive(Clone, Default)]
struct Site {
    pages: Arc<Mutex<HashMap<String, (u16, String)>>>,
    image_referers: Arc<Mutex<Vec<String>>>,
    article_hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Site {
    fn start(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let site = self.clone();
        let server = HttpServer::new(move || {
            let site = site.clone();
            App::new().default_service(web::to(move |req: HttpRequest| {
                let site = site.clone();
                async move { site.answer(&req, &format!("http://{addr}")) }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        format!("http://{addr}")
    }

    fn answer(&self, req: &HttpRequest, base: &str) -> HttpResponse {
        let path = req.path().to_string();
        if let Some(n) = path
            .strip_prefix("/pic/")
            .and_then(|p| p.strip_suffix(".png"))
        {
            let referer = req
                .headers()
                .get("referer")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            self.image_referers.lock().unwrap().push(referer.clone());
            return if referer == format!("{base}/a/{n}.html") {
                HttpResponse::Ok().content_type("image/png").body(PIXEL)
            } else {
                HttpResponse::Forbidden().body("hotlinking refused")
            };
        }
        if path.starts_with("/a/") {
            *self
                .article_hits
                .lock()
                .unwrap()
                .entry(path.clone())
                .or_default() += 1;
        }
        match self.pages.lock().unwrap().get(&path) {
            Some((200, body)) => HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(body.clone()),
            Some((status, _)) => {
                HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).unwrap())
                    .finish()
            }
            None => HttpResponse::NotFound().finish(),
        }
    }

    fn hits(&self, path: &str) -> usize {
        self.article_hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

fn write_config(dir: &Path, portal: &str, base_url: &str, per_poll: usize) -> std::path::PathBuf {
    let head = config_head(
        base_url,
        "image_proxy = true\nimage_proxy_private = true",
        &format!("full_text_per_poll = {per_poll}"),
    );
    let source = portal_source(portal, "interval = \"1h\"\nfull_text = true");
    let world = portal_section(
        portal,
        "world",
        "国际",
        "content = [\"div.missing\", \"div.content\"]",
    );
    let path = dir.join("feeds.toml");
    std::fs::write(&path, format!("{head}{source}{world}")).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_text_is_fetched_once_served_in_every_format_and_its_images_load() {
    let site = Site::default();
    let portal = site.start();
    let stories: Vec<Story> = (1..=3)
        .map(|n| {
            Story::new(
                &format!("第{n}篇新闻标题"),
                &format!("/a/{n}.html"),
                &format!("2022-03-13 1{n}:00"),
            )
        })
        .collect();
    {
        let mut pages = site.pages.lock().unwrap();
        pages.insert("/world/".into(), (200, list_page("国际", &stories)));
        for n in 1..=2 {
            pages.insert(format!("/a/{n}.html"), (200, article(n, &portal)));
        }
        pages.insert("/a/3.html".into(), (500, String::new()));
    }

    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    // Two texts per poll: the first poll fetches the two newest stories, the next the rest.
    let config = Arc::new(Config::load(&write_config(dir.path(), &portal, &base, 2)).unwrap());
    let store = Arc::new(Store::open(&config.store_path).unwrap());
    let clock = fixed_clock(fixture_now());
    let poller = headwire::poll::Poller::new(config.clone(), store.clone(), clock.clone()).unwrap();
    let (source, section) = config.sections().next().unwrap();

    let first = poller.poll_section(source, section).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    assert_eq!(first.new, 3);
    // Newest first: stories 3 (fails: 500) and 2 (stored).
    assert_eq!((first.texts.fetched, first.texts.failed), (1, 1));
    assert_eq!(site.hits("/a/3.html"), 1);
    assert_eq!(site.hits("/a/2.html"), 1);
    assert_eq!(
        site.hits("/a/1.html"),
        0,
        "the per-poll budget holds story 1 back"
    );

    // The page is unchanged, but texts still follow: the failed story is not due yet, so the
    // second poll fetches story 1 only, and story 2 is never fetched again.
    let second = poller.poll_section(source, section).await;
    assert!(second.error.is_none(), "{:?}", second.error);
    assert_eq!((second.texts.fetched, second.texts.failed), (1, 0));
    assert_eq!(site.hits("/a/1.html"), 1);
    assert_eq!(site.hits("/a/2.html"), 1);
    assert_eq!(
        site.hits("/a/3.html"),
        1,
        "a failed story waits for its retry time"
    );
    let counts = store.text_counts();
    assert_eq!((counts.have, counts.failed, counts.pending), (2, 1, 0));

    let running = headwire::app::start(config.clone(), store.clone(), clock, listener).unwrap();
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let r = client.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };

    let (status, rss) = get("/feed.rss").await;
    assert_eq!(status, 200);
    let channel = rss::Channel::read_from(rss.as_bytes()).unwrap();
    let texts: Vec<Option<&str>> = channel.items().iter().map(|i| i.content()).collect();
    assert_eq!(texts.len(), 3);
    assert!(texts[0].is_none(), "story 3 has no text");
    for text in [texts[1], texts[2]] {
        let text = text.expect("content:encoded");
        assert!(
            text.contains("正文第一段") && text.contains("正文第二段"),
            "{text}"
        );
        assert!(
            !text.contains("script") && !text.contains("alert"),
            "{text}"
        );
        assert!(
            !text.contains("分享到") && !text.contains("版权所有"),
            "{text}"
        );
        assert!(
            !text.contains(&portal),
            "images go through the proxy: {text}"
        );
        assert!(text.contains(&format!("{base}/img/")), "{text}");
    }

    let (_, atom) = get("/feed.atom").await;
    let feed = atom_syndication::Feed::read_from(atom.as_bytes()).unwrap();
    let content = feed.entries()[1].content().expect("atom content");
    assert_eq!(content.content_type(), Some("html"));
    assert!(content.value().unwrap_or_default().contains("正文第二段"));

    let (_, json) = get("/feed.json").await;
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(doc["items"][1]["content_html"]
        .as_str()
        .unwrap()
        .contains("正文第一段"));

    let (_, summary_only) = get("/feed.rss?content=summary").await;
    assert!(!summary_only.contains("正文第一段"), "{summary_only}");
    assert!(summary_only.contains("第1篇新闻标题"));
    let (status, bad) = get("/feed.rss?content=everything").await;
    assert_eq!(status, 400);
    assert!(bad.contains("content"), "{bad}");

    // The image: straight from the portal it is refused; through the proxy it loads, with the
    // story page as referer, and is cached with a strong ETag.
    let direct = client
        .get(format!("{portal}/pic/1.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status().as_u16(), 403);
    let text = texts[2].unwrap();
    let start = text.find(&format!("{base}/img/")).unwrap();
    let proxied: String = text[start..]
        .chars()
        .take_while(|c| *c != '"' && *c != '\'' && !c.is_whitespace())
        .collect();
    let proxied = proxied.replace("&amp;", "&");
    let image = client.get(&proxied).send().await.unwrap();
    assert_eq!(image.status().as_u16(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert!(image.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = image.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(image.bytes().await.unwrap().as_ref(), PIXEL);
    assert_eq!(
        site.image_referers.lock().unwrap().last().unwrap(),
        &format!("{portal}/a/1.html")
    );
    let fetched_before = site.image_referers.lock().unwrap().len();
    let again = client
        .get(&proxied)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(
        site.image_referers.lock().unwrap().len(),
        fetched_before,
        "served from the cache"
    );

    // Never an open proxy: an altered token or a made-up one is refused.
    let mut altered = proxied.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for url in [
        altered,
        format!("{base}/img/aGVsbG8.aHR0cDovL2V4YW1wbGUuY29tL3guanBn.aHR0cDovL2V4YW1wbGUuY29t"),
    ] {
        let refused = client.get(&url).send().await.unwrap();
        assert_eq!(refused.status().as_u16(), 403, "{url}");
    }

    let (_, status_doc) = get("/api/status").await;
    let status_doc: serde_json::Value = serde_json::from_str(&status_doc).unwrap();
    assert_eq!(status_doc["full_text"]["stored"], 2);
    assert_eq!(status_doc["full_text"]["failed"], 1);
    assert_eq!(status_doc["sections"][0]["full_text"], true);
    running.stop().await;

    let state = store
        .text_state(&store_id_of(&store, "第3篇新闻标题"))
        .unwrap()
        .unwrap();
    assert_eq!(state.attempts, 1);
    assert!(state.last_error.contains("500"), "{}", state.last_error);
    assert!(state.next_attempt > fixture_now());
}

/// The id of the stored story with this title.
fn store_id_of(store: &Store, title: &str) -> String {
    store
        .query(
            &headwire::store::Query {
                limit: 100,
                ..Default::default()
            },
            &|_| true,
        )
        .unwrap()
        .into_iter()
        .find(|i| i.title == title)
        .unwrap()
        .id
}

#[test]
fn a_bad_content_selector_is_a_config_error_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let head = config_head("http://feeds.test", "", "");
    let source = portal_source(
        "http://127.0.0.1:9",
        "full_text = true\ncontent = \"div..x\"",
    );
    let world = portal_section("http://127.0.0.1:9", "world", "国际", "");
    let path = dir.path().join("feeds.toml");
    std::fs::write(&path, format!("{head}{source}{world}")).unwrap();
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("content") && err.contains("div..x"), "{err}");
    assert!(err.contains("feeds.toml:"), "says where: {err}");
}
