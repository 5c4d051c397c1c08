//! End to end: a fixture portal with two section pages → poll → sled → HTTP feeds, then a
//! restart on the same store.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use headwire::config::Config;
use headwire::store::Store;

fn write_config(dir: &Path, portal: &str, dead_port: u16) -> std::path::PathBuf {
    let head = config_head("http://feeds.test", "", "");
    let source = portal_source(portal, "interval = \"1h\"\nstrip_params = [\"s\"]");
    let politics = portal_section(portal, "politics", "时政", "");
    let world = portal_section(portal, "world", "国际", "");
    let text = format!(
        r#"{head}{source}{politics}{world}

[[source.section]]
id = "broken"
name = "坏掉"
url = "{portal}/broken/"
item = "ul.list > li"
title = "a"

[[source.section]]
id = "gone"
name = "离线"
url = "http://127.0.0.1:{dead_port}/"
item = "li"
title = "a"
"#
    );
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn serve_pages(portal: &Portal) {
    portal.set(
        "/politics/",
        Reply::html(list_page(
            "时政",
            &[
                Story::new(
                    "上海新增本土确诊病例",
                    "/politics/2022_03_13_1.shtml?s=abc",
                    "2022-03-13 09:27",
                )
                .label("抗疫进行时"),
                Story::new(
                    "两会闭幕 & <要点>",
                    "/politics/2022_03_13_2.shtml",
                    "2022-03-13 08:15",
                ),
                Story::new(
                    "同一条新闻链接两次",
                    "/politics/2022_03_13_3.shtml?s=x1",
                    "2022-03-12 22:00",
                ),
                Story::new(
                    "同一条新闻链接两次",
                    "/politics/2022_03_13_3.shtml?s=x2#comments",
                    "2022-03-12 22:00",
                ),
            ],
        )),
    );
    portal.set(
        "/world/",
        Reply::html(list_page(
            "国际",
            &[
                Story::new(
                    "上海新增本土确诊病例",
                    "/politics/2022_03_13_1.shtml?s=zzz",
                    "2022-03-13 09:27",
                ),
                Story::new(
                    "国际要闻一则",
                    "https://www.example.org/world/4.html",
                    "2022-03-13T07:00:00+08:00",
                ),
            ],
        )),
    );
    portal.set("/broken/", Reply::Status(500));
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_dedupes_serves_and_survives_restart() {
    let portal = Portal::default();
    serve_pages(&portal);
    let base = portal.start();
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &base, closed_port());
    let config = Arc::new(
        Config::parse(
            &std::fs::read_to_string(&config_path).unwrap(),
            &config_path,
        )
        .unwrap(),
    );
    let clock = fixed_clock(fixture_now());

    {
        let store = Arc::new(Store::open(&config.store_path).unwrap());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let running =
            headwire::app::start(config.clone(), store.clone(), clock.clone(), listener).unwrap();
        let reports = running.poller.poll_all_once().await;
        let by_key: std::collections::HashMap<_, _> =
            reports.iter().map(|r| (r.key.as_str(), r)).collect();
        assert_eq!(
            by_key["portal/politics"].found, 3,
            "the twice-linked story is one"
        );
        assert_eq!(by_key["portal/world"].found, 2);
        // Sections are polled concurrently, so whichever sees the shared story first creates it.
        assert_eq!(
            by_key["portal/politics"].new + by_key["portal/world"].new,
            4,
            "the shared story is new only once"
        );
        assert!(by_key["portal/broken"].error.is_some(), "500 is an error");
        assert_eq!(
            by_key["portal/broken"].error.as_ref().unwrap().kind(),
            "http"
        );
        assert_eq!(
            by_key["portal/gone"].error.as_ref().unwrap().kind(),
            "connect"
        );
        assert_eq!(store.len(), 4);

        let http = reqwest::Client::new();
        let root = format!("http://{}", running.addr);
        let (status, body) = get(&http, &format!("{root}/healthz")).await;
        assert_eq!((status, body.trim()), (200, "ok"));

        // Merged Atom feed: newest first, UTC times, both labels on the shared story.
        let (status, body) = get(&http, &format!("{root}/feed.atom")).await;
        assert_eq!(status, 200);
        let feed: atom_syndication::Feed = body.parse().unwrap();
        let titles: Vec<&str> = feed.entries().iter().map(|e| e.title().as_str()).collect();
        assert_eq!(
            titles,
            vec![
                "上海新增本土确诊病例",
                "两会闭幕 & <要点>",
                "国际要闻一则",
                "同一条新闻链接两次"
            ]
        );
        let shared = &feed.entries()[0];
        assert_eq!(
            shared.published().unwrap().to_rfc3339(),
            "2022-03-13T01:27:00+00:00"
        );
        // Sections are polled concurrently: the labels' order depends on which was stored first.
        let mut terms: Vec<&str> = shared.categories().iter().map(|c| c.term()).collect();
        terms.sort_unstable();
        let mut expected = vec!["时政", "抗疫进行时", "国际"];
        expected.sort_unstable();
        assert_eq!(terms, expected);
        assert_eq!(
            shared.links()[0].href(),
            format!("{base}/politics/2022_03_13_1.shtml")
        );
        assert_eq!(feed.links()[0].href(), "http://feeds.test/feed.atom");

        // RSS parses back with the rss crate and carries the same items.
        let (status, body) = get(&http, &format!("{root}/feed.rss?limit=10")).await;
        assert_eq!(status, 200);
        let channel = rss::Channel::read_from(body.as_bytes()).unwrap();
        assert_eq!(channel.items().len(), 4);
        let first = &channel.items()[0];
        assert_eq!(first.pub_date(), Some("Sun, 13 Mar 2022 01:27:00 +0000"));
        assert_eq!(first.categories().len(), 3);
        assert_eq!(first.source().unwrap().title(), Some("观察者网测试"));
        let guid = first.guid().unwrap().value().to_string();

        // Section filter by id, by name, by page label, several at once, and by source.
        for (query, expected) in [
            ("section=politics", 3),
            ("section=%E6%97%B6%E6%94%BF", 3),
            ("section=%E6%8A%97%E7%96%AB%E8%BF%9B%E8%A1%8C%E6%97%B6", 1),
            ("section=WORLD", 2),
            ("section=world&section=politics", 4),
            ("section=portal/world", 2),
            ("source=portal", 4),
            ("section=nothing-here", 0),
            ("limit=2", 2),
        ] {
            let (status, body) = get(&http, &format!("{root}/feed.atom?{query}")).await;
            assert_eq!(status, 200, "{query}: {body}");
            let feed: atom_syndication::Feed = body.parse().unwrap();
            assert_eq!(feed.entries().len(), expected, "{query}");
        }

        // Bad requests get a one-line 400.
        for query in ["limit=0", "limit=501", "color=red", "source=unknown"] {
            let (status, body) = get(&http, &format!("{root}/feed.rss?{query}")).await;
            assert_eq!(status, 400, "{query}");
            assert_eq!(body.trim().lines().count(), 1, "{query}: {body}");
        }

        // Polling the same pages again adds nothing and moves nothing.
        let reports = running.poller.poll_all_once().await;
        assert!(reports.iter().all(|r| r.new == 0));
        let (_, again) = get(&http, &format!("{root}/feed.rss?limit=10")).await;
        let again = rss::Channel::read_from(again.as_bytes()).unwrap();
        assert_eq!(again.items()[0].guid().unwrap().value(), guid);
        assert_eq!(
            again.items()[0].pub_date(),
            Some("Sun, 13 Mar 2022 01:27:00 +0000")
        );

        running.stop().await;
        store.flush().unwrap();
    }

    // Restart: reopen the same store; nothing lost, nothing duplicated, indexes consistent.
    let store = Store::open(&config.store_path).unwrap();
    assert_eq!(store.len(), 4);
    assert!(store.verify().unwrap().is_empty());
    let items = store
        .query(
            &headwire::store::Query {
                limit: 50,
                ..Default::default()
            },
            &|_| true,
        )
        .unwrap();
    let mut titles: Vec<String> = items.iter().map(|i| i.title.clone()).collect();
    titles.dedup();
    assert_eq!(titles.len(), 4);
}
