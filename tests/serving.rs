//! Serving end to end, through HTTP: the three formats and the W3C Feed Validator's rules,
//! every filter alone and combined, `400`s, `304`s on both validators, compression, the token,
//! the render cache and its invalidation, OPML, `/api/status` and `/metrics`.

mod common;
mod serving_support;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serving_support::*;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_follow_validator_rules_and_agree_across_formats() {
    let h = Harness::start(None).await;

    let rss = h.get("/feed.rss").await;
    assert_eq!(rss.status, 200);
    assert_eq!(
        rss.header("content-type"),
        "application/rss+xml; charset=utf-8"
    );
    let channel = check_rss_rules(&rss.body, &h.url("/feed.rss"), 1440);

    let atom = h.get("/feed.atom").await;
    assert_eq!(atom.status, 200);
    assert_eq!(
        atom.header("content-type"),
        "application/atom+xml; charset=utf-8"
    );
    let feed = check_atom_rules(&atom.body, &h.url("/feed.atom"));

    let json = h.get("/feed.json").await;
    assert_eq!(json.status, 200);
    assert!(json
        .header("content-type")
        .starts_with("application/feed+json"));
    let doc = check_json_rules(&json.body, &h.url("/feed.json"));

    // Same items, same order, same times, same categories in all three.
    let expected: Vec<String> = ALL_TITLES.iter().map(|t| t.to_string()).collect();
    assert_eq!(atom_titles(&feed), expected);
    let rss_titles: Vec<String> = channel
        .items()
        .iter()
        .map(|i| i.title().unwrap().to_string())
        .collect();
    assert_eq!(rss_titles, expected);
    let json_items = doc["items"].as_array().unwrap();
    let json_titles: Vec<String> = json_items
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(json_titles, expected);
    for (i, title) in ALL_TITLES.iter().enumerate() {
        let when = published(title);
        let entry = &feed.entries()[i];
        let item = &channel.items()[i];
        let json_item = &json_items[i];
        assert_eq!(
            entry.published().unwrap().with_timezone(&Utc),
            when,
            "{title}"
        );
        assert_eq!(
            DateTime::parse_from_rfc2822(item.pub_date().unwrap()).unwrap(),
            when,
            "{title}"
        );
        assert_eq!(
            DateTime::parse_from_rfc3339(json_item["date_published"].as_str().unwrap()).unwrap(),
            when,
            "{title}"
        );
        let atom_cats = sorted(
            entry
                .categories()
                .iter()
                .map(|c| c.term().to_string())
                .collect(),
        );
        let rss_cats = sorted(
            item.categories()
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
        );
        let json_cats = sorted(
            json_item["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect(),
        );
        assert_eq!(atom_cats, labels(title), "{title}");
        assert_eq!(rss_cats, atom_cats, "{title}");
        assert_eq!(json_cats, atom_cats, "{title}");
        // The same stable id everywhere.
        assert_eq!(item.guid().unwrap().value(), entry.id());
        assert_eq!(json_item["id"], entry.id());
    }

    // Author, image, source and summary, where the pages had them.
    let shanghai = &feed.entries()[1];
    assert_eq!(shanghai.authors()[0].name(), "记者 张三");
    let enclosure = shanghai
        .links()
        .iter()
        .find(|l| l.rel() == "enclosure")
        .unwrap();
    assert_eq!(enclosure.href(), format!("{}/img/p1.jpg", h.portal_base));
    assert_eq!(shanghai.source().unwrap().title().as_str(), "观察者网测试");
    assert_eq!(
        shanghai.summary().unwrap().value,
        "新增 &amp; &lt;病例&gt; 详情",
        "page text stays text (escaped HTML)"
    );
    let rust_item = &channel.items()[0];
    assert_eq!(
        rust_item.dublin_core_ext().unwrap().creators(),
        ["Jane Doe".to_string()]
    );
    assert_eq!(
        rust_item.enclosure().unwrap().url(),
        format!("{}/img/rust.png", h.portal_base)
    );
    assert_eq!(rust_item.enclosure().unwrap().mime_type(), "image/png");
    assert_eq!(rust_item.source().unwrap().title(), Some("Wire 通讯社"));
    assert_eq!(
        rust_item.source().unwrap().url(),
        format!("{}/wire/", h.portal_base)
    );
    let description = rust_item.description().unwrap();
    assert!(description.contains("Fast"), "{description}");
    assert!(!description.contains("alert"), "{description}");
    assert_eq!(
        json_items[0]["image"],
        format!("{}/img/rust.png", h.portal_base)
    );
    assert_eq!(json_items[0]["authors"][0]["name"], "Jane Doe");
    assert_eq!(json_items[0]["_source"]["name"], "Wire 通讯社");
    // Items without an author name their portal, so every Atom entry has one.
    assert_eq!(feed.entries()[2].authors()[0].name(), "观察者网测试");

    // ttl / max-age follow the shortest poll interval behind the response.
    assert_eq!(
        rss.header("cache-control"),
        "public, max-age=86400, stale-while-revalidate=86400"
    );
    let world = h.get("/feed.rss?section=world").await;
    let world_channel = check_rss_rules(&world.body, &h.url("/feed.rss?section=world"), 1440);
    // The shared story was also seen in politics (1d), so the world feed still says 1d …
    assert_eq!(world_channel.items().len(), 3);
    // … while a world-only story list says 2d.
    let world_only = h
        .get("/feed.rss?section=world&exclude=%E4%B8%8A%E6%B5%B7")
        .await;
    check_rss_rules(
        &world_only.body,
        &h.url("/feed.rss?section=world&exclude=%E4%B8%8A%E6%B5%B7"),
        2880,
    );
    assert_eq!(
        world_only.header("cache-control"),
        "public, max-age=172800, stale-while-revalidate=172800"
    );

    // Self links repeat the request exactly, query included.
    let query = "/feed.atom?section=%E6%97%B6%E6%94%BF&limit=3&q=%E4%B8%8A%E6%B5%B7";
    let filtered = h.get(query).await;
    check_atom_rules(&filtered.body, &h.url(query));
    let query = "/feed.json?source=wire";
    check_json_rules(&h.get(query).await.body, &h.url(query));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_alone_and_combined() {
    let h = Harness::start(None).await;
    let politics = [
        "上海新增本土确诊病例",
        "两会闭幕 & <要点>",
        "引号\"与]]>及&符号的标题",
        "广告：特价促销",
    ];
    let world = [
        "俄乌局势最新",
        "美国 Stocks fall 纳斯达克",
        "上海新增本土确诊病例",
    ];
    let wire = ["Rust 1.95 released", "台灣半導體出口創新高"];
    let both: Vec<&str> = politics.iter().chain(world.iter()).copied().collect();
    let everything: Vec<&str> = ALL_TITLES.to_vec();
    let not_ad: Vec<&str> = everything
        .iter()
        .copied()
        .filter(|t| *t != "广告：特价促销")
        .collect();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // section by id, name, key, page label; case, width and script variants.
        ("section=politics", politics.to_vec()),
        ("section=POLITICS", politics.to_vec()),
        (
            "section=%EF%BD%90%EF%BD%8F%EF%BD%8C%EF%BD%89%EF%BD%94%EF%BD%89%EF%BD%83%EF%BD%93",
            politics.to_vec(),
        ), // ｐｏｌｉｔｉｃｓ
        ("section=%E6%97%B6%E6%94%BF", politics.to_vec()), // 时政
        ("section=%E6%99%82%E6%94%BF", politics.to_vec()), // 時政 (traditional)
        ("section=portal/politics", politics.to_vec()),
        ("section=world", world.to_vec()),
        ("section=%E5%9B%BD%E9%99%85", world.to_vec()), // 国际 (page said 國際)
        ("section=%E5%9C%8B%E9%9A%9B", world.to_vec()), // 國際
        ("section=%E6%AC%A7%E6%B4%B2", vec!["俄乌局势最新"]), // 欧洲 (label 歐洲)
        (
            "section=%E6%8A%97%E7%96%AB%E8%BF%9B%E8%A1%8C%E6%97%B6",
            vec!["上海新增本土确诊病例"],
        ), // 抗疫进行时 (label 抗疫進行時)
        ("section=%E5%8F%B0%E6%B9%BE", vec!["台灣半導體出口創新高"]), // 台湾 (category 臺灣)
        ("section=programming", vec!["Rust 1.95 released"]),
        ("section=tech", wire.to_vec()),
        ("section=%E7%A7%91%E6%8A%80", wire.to_vec()), // 科技
        ("section=nothing-here", vec![]),
        // OR within a parameter (repeated or comma-separated).
        ("section=politics,world", both.clone()),
        ("section=politics&section=world", both.clone()),
        (
            "section=politics&section=tech",
            politics.iter().chain(wire.iter()).copied().collect(),
        ),
        // source
        ("source=wire", wire.to_vec()),
        ("source=portal", both.clone()),
        ("source=portal,wire", everything.clone()),
        // q: every word, CJK as substrings, either script, case-insensitive, summary too.
        ("q=%E4%B8%8A%E6%B5%B7", vec!["上海新增本土确诊病例"]), // 上海
        ("q=%E7%A1%AE%E8%AF%8A", vec!["上海新增本土确诊病例"]), // 确诊
        ("q=%E7%A2%BA%E8%A8%BA", vec!["上海新增本土确诊病例"]), // 確診 (traditional)
        (
            "q=%E5%8F%B0%E6%B9%BE+%E5%8D%8A%E5%AF%BC%E4%BD%93",
            vec!["台灣半導體出口創新高"],
        ), // 台湾 半导体
        ("q=%E4%B8%8A%E6%B5%B7+%E8%82%A1%E7%A5%A8", vec![]),    // 上海 股票
        ("q=RUST", vec!["Rust 1.95 released"]),
        ("q=stocks", vec!["美国 Stocks fall 纳斯达克"]),
        ("q=fast", vec!["Rust 1.95 released"]), // in the summary only
        ("q=%E8%AF%A6%E6%83%85", vec!["上海新增本土确诊病例"]), // 详情, summary only
        ("q=script", vec![]),                   // markup is not text
        // exclude
        ("exclude=%E5%B9%BF%E5%91%8A", not_ad.clone()), // 广告
        (
            "exclude=%E5%BB%A3%E5%91%8A,rust", // 廣告 (traditional), rust
            not_ad
                .iter()
                .copied()
                .filter(|t| !t.starts_with("Rust"))
                .collect(),
        ),
        // since: RFC 3339 (inclusive) and durations against the fixed clock (06:00 UTC).
        (
            "since=6h",
            vec![
                "Rust 1.95 released",
                "上海新增本土确诊病例",
                "两会闭幕 & <要点>",
            ],
        ),
        (
            "since=2022-03-13T07:00:00%2B08:00",
            vec![
                "Rust 1.95 released",
                "上海新增本土确诊病例",
                "两会闭幕 & <要点>",
                "引号\"与]]>及&符号的标题",
                "俄乌局势最新",
            ],
        ),
        ("since=2022-03-12T18:00:00Z", everything[..6].to_vec()),
        ("since=7d", everything.clone()),
        // limit
        ("limit=2", everything[..2].to_vec()),
        ("limit=500", everything.clone()),
        // Combined: AND across parameters.
        (
            "section=politics&q=%E4%B8%8A%E6%B5%B7&since=1d",
            vec!["上海新增本土确诊病例"],
        ),
        (
            "source=portal&exclude=%E5%B9%BF%E5%91%8A&limit=3",
            vec![
                "上海新增本土确诊病例",
                "两会闭幕 & <要点>",
                "引号\"与]]>及&符号的标题",
            ],
        ),
        (
            "section=%E5%9B%BD%E9%99%85&since=12h",
            vec!["上海新增本土确诊病例", "俄乌局势最新"],
        ),
        ("section=world&source=wire", vec![]),
        (
            "section=tech,world&q=%E7%BE%8E%E5%9B%BD&exclude=rust",
            vec!["美国 Stocks fall 纳斯达克"],
        ),
        // Empty form fields are "no filter".
        (
            "section=&q=&exclude=&since=&source=&limit=",
            everything.clone(),
        ),
    ];
    for (query, wanted) in cases {
        let path = format!("/feed.atom?{query}");
        let response = h.get(&path).await;
        assert_eq!(response.status, 200, "{query}: {}", response.body);
        let feed = check_atom_rules(&response.body, &h.url(&path));
        assert_eq!(atom_titles(&feed), titles(&wanted), "{query}");
    }
    // The same filter gives the same items in every format.
    let query = "section=%E5%9B%BD%E9%99%85&q=%E4%B8%8A%E6%B5%B7";
    let rss = h.get(&format!("/feed.rss?{query}")).await;
    let channel = check_rss_rules(&rss.body, &h.url(&format!("/feed.rss?{query}")), 1440);
    assert_eq!(channel.items().len(), 1);
    let json = h.get(&format!("/feed.json?{query}")).await;
    let doc = check_json_rules(&json.body, &h.url(&format!("/feed.json?{query}")));
    assert_eq!(doc["items"].as_array().unwrap().len(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_one_line_400() {
    let h = Harness::start(None).await;
    for query in [
        "limit=0",
        "limit=501",
        "limit=abc",
        "limit=-3",
        "limit=5&limit=6",
        "since=yesterday",
        "since=6h&since=1d",
        "since=2022-13-01T00:00:00Z",
        "source=unknown",
        "source=wire,unknown",
        "color=red",
        "Section=politics",
        "q=a&foo",
    ] {
        for format in ["rss", "atom", "json"] {
            let response = h.get(&format!("/feed.{format}?{query}")).await;
            assert_eq!(response.status, 400, "{query}");
            assert!(response.header("content-type").starts_with("text/plain"));
            let body = response.body.trim_end_matches('\n');
            assert!(
                !body.is_empty() && !body.contains('\n'),
                "{query}: {body:?}"
            );
        }
    }
    // The reason names the culprit.
    assert!(h.get("/feed.rss?limit=0").await.body.contains("limit"));
    assert!(h.get("/feed.rss?color=red").await.body.contains("color"));
    assert!(h.get("/feed.rss?source=nope").await.body.contains("nope"));
    // 400s are never cached: a bad request after a good one is still a 400 and vice versa.
    assert_eq!(h.get("/feed.rss?limit=5").await.status, 200);
    assert_eq!(h.get("/feed.rss?limit=0").await.status, 400);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_answer_304_and_bodies_compress() {
    let h = Harness::start(None).await;
    for format in ["rss", "atom", "json"] {
        let path = format!("/feed.{format}?limit=5");
        let first = h.get(&path).await;
        assert_eq!(first.status, 200);
        let etag = first.header("etag").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
        let last_modified = first.header("last-modified").to_string();
        // Newest item change: the poll at the fixed clock time.
        assert_eq!(last_modified, "Sun, 13 Mar 2022 06:00:00 GMT");
        assert_eq!(first.header("vary"), "Accept-Encoding");

        let by_etag = h.get_with(&path, &[("if-none-match", &etag)]).await;
        assert_eq!(by_etag.status, 304, "{format}");
        assert!(by_etag.raw.is_empty());
        assert_eq!(by_etag.header("etag"), etag);
        let listed = format!("\"nope\", {etag}");
        assert_eq!(
            h.get_with(&path, &[("if-none-match", &listed)])
                .await
                .status,
            304
        );
        let other = h.get_with(&path, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(other.status, 200);
        assert_eq!(other.body, first.body);

        let by_date = h
            .get_with(&path, &[("if-modified-since", &last_modified)])
            .await;
        assert_eq!(by_date.status, 304, "{format}");
        assert!(by_date.raw.is_empty());
        let later = h
            .get_with(
                &path,
                &[("if-modified-since", "Mon, 14 Mar 2022 00:00:00 GMT")],
            )
            .await;
        assert_eq!(later.status, 304);
        let earlier = h
            .get_with(
                &path,
                &[("if-modified-since", "Sun, 13 Mar 2022 05:59:59 GMT")],
            )
            .await;
        assert_eq!(earlier.status, 200);
        // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
        let both = h
            .get_with(
                &path,
                &[
                    ("if-none-match", "\"other\""),
                    ("if-modified-since", &last_modified),
                ],
            )
            .await;
        assert_eq!(both.status, 200);

        for (accept, coding) in [
            ("gzip", "gzip"),
            ("br", "br"),
            ("gzip, deflate, br", "br"),
            ("br;q=0, gzip", "gzip"),
        ] {
            let compressed = h.get_with(&path, &[("accept-encoding", accept)]).await;
            assert_eq!(compressed.status, 200);
            assert_eq!(compressed.header("content-encoding"), coding, "{accept}");
            assert_eq!(
                compressed.body, first.body,
                "{accept} decodes to the same body"
            );
            assert!(compressed.raw.len() < first.raw.len());
            assert_eq!(compressed.header("etag"), etag);
        }
        let identity = h.get_with(&path, &[("accept-encoding", "identity")]).await;
        assert_eq!(identity.header("content-encoding"), "");
        assert_eq!(identity.raw, first.raw);
    }
    // HEAD answers like GET without a body (link checkers, some readers).
    let head = h
        .http
        .head(h.url("/feed.atom?limit=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let head_etag = head.headers()["etag"].to_str().unwrap().to_string();
    assert!(head.bytes().await.unwrap().is_empty());
    assert_eq!(head_etag, h.get("/feed.atom?limit=5").await.header("etag"));
    assert_eq!(h.http.head(h.url("/")).send().await.unwrap().status(), 200);
    assert_eq!(
        h.http
            .post(h.url("/feed.rss"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    // Pages are compressed too (by the middleware).
    let index = h.get_with("/", &[("accept-encoding", "gzip")]).await;
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-encoding"), "gzip");
    assert!(index.body.contains("<!DOCTYPE html>"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_cache_serves_repeats_and_follows_new_polls() {
    let h = Harness::start(None).await;
    let path = "/feed.rss?section=politics";
    let first = h.get(path).await;
    let renders = h.metric("headwire_feed_renders_total").await;
    let hits = h.metric("headwire_feed_cache_hits_total").await;
    let generation = h.store.generation();
    for _ in 0..5 {
        let again = h.get(path).await;
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("etag"), first.header("etag"));
    }
    // Revalidations and compressed requests are hits too.
    let etag = first.header("etag").to_string();
    assert_eq!(
        h.get_with(path, &[("if-none-match", &etag)]).await.status,
        304
    );
    h.get_with(path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(
        h.metric("headwire_feed_renders_total").await,
        renders,
        "no render"
    );
    assert_eq!(h.metric("headwire_feed_cache_hits_total").await, hits + 7.0);
    assert_eq!(h.store.generation(), generation);
    assert!(h.metric("headwire_feed_cache_bytes").await > first.raw.len() as f64);
    // Another query is another entry; the same query in another format too.
    h.get("/feed.atom?section=politics").await;
    assert_eq!(h.metric("headwire_feed_renders_total").await, renders + 1.0);

    // A new poll that stores something invalidates every rendering.
    let mut stories = POLITICS.to_vec();
    stories.insert(
        0,
        RichStory::new(
            "新闻发布会举行",
            "/politics/2022_03_13_9.shtml",
            "2022-03-13 13:30",
        ),
    );
    h.portal
        .set("/politics/", Reply::html(rich_page("时政", &stories)));
    let reports = h.running.as_ref().unwrap().poller.poll_all_once().await;
    assert_eq!(
        reports
            .iter()
            .find(|r| r.key == "portal/politics")
            .unwrap()
            .new,
        1
    );
    assert!(h.store.generation() > generation);
    let fresh = h.get(path).await;
    assert_ne!(fresh.header("etag"), first.header("etag"));
    let channel = check_rss_rules(&fresh.body, &h.url(path), 1440);
    assert_eq!(channel.items()[0].title(), Some("新闻发布会举行"));
    assert_eq!(h.metric("headwire_feed_renders_total").await, renders + 2.0);
    // The old ETag no longer revalidates.
    assert_eq!(
        h.get_with(path, &[("if-none-match", &etag)]).await.status,
        200
    );
    // And the new rendering is cached again.
    h.get(path).await;
    assert_eq!(h.metric("headwire_feed_renders_total").await, renders + 2.0);
    // A poll that changes nothing keeps the cache.
    let generation = h.store.generation();
    let reports = h.running.as_ref().unwrap().poller.poll_all_once().await;
    assert!(reports.iter().all(|r| r.new == 0));
    assert_eq!(h.store.generation(), generation);
    h.get(path).await;
    assert_eq!(h.metric("headwire_feed_renders_total").await, renders + 2.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_guards_feeds_and_travels_with_every_link() {
    let token = "s3cr3t t&k";
    let encoded = "s3cr3t+t%26k";
    let h = Harness::start(Some(token)).await;
    for path in [
        "/feed.rss",
        "/feed.atom",
        "/feed.json",
        "/",
        "/opml",
        "/api/status",
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        assert_eq!(h.get(path).await.status, 401, "{path} without token");
        assert_eq!(
            h.get(&format!("{path}{sep}token=wrong")).await.status,
            403,
            "{path} with a wrong token"
        );
        assert_eq!(
            h.get(&format!("{path}{sep}token={encoded}")).await.status,
            200,
            "{path} with the token"
        );
    }
    // A cached rendering never lets a tokenless request through.
    assert_eq!(h.get("/feed.rss").await.status, 401);
    assert_eq!(
        h.get("/feed.rss?token=s3cr3t").await.status,
        403,
        "a prefix is wrong"
    );
    assert_eq!(h.get("/healthz").await.status, 200, "/healthz stays open");

    // Self links carry the token (they repeat the request).
    let path = format!("/feed.atom?section=world&token={encoded}");
    let feed = check_atom_rules(&h.get(&path).await.body, &h.url(&path));
    assert_eq!(feed.entries().len(), 3);
    let path = format!("/feed.rss?token={encoded}");
    check_rss_rules(&h.get(&path).await.body, &h.url(&path), 1440);

    // Every feed link on the index page and in the OPML carries it and works.
    let index = h.get(&format!("/?token={encoded}")).await.body;
    let links = feed_links(&index);
    assert!(links.len() >= 3 * (1 + 2 + 4), "{links:?}");
    for link in &links {
        assert!(link.contains(&format!("token={encoded}")), "{link}");
        let path = link.strip_prefix(&h.root).unwrap();
        assert_eq!(h.get(path).await.status, 200, "{link}");
    }
    assert!(index.contains(&format!("{}/opml?token={encoded}", h.root)));
    assert!(index.contains("<input type=\"hidden\" name=\"token\" value=\"s3cr3t t&amp;k\">"));
    let opml = h.get(&format!("/opml?token={encoded}")).await.body;
    let outlines = opml_feeds(&opml);
    assert_eq!(outlines.len(), 4);
    for (_, _, xml_url) in &outlines {
        assert!(xml_url.ends_with(&format!("&token={encoded}")), "{xml_url}");
        let path = xml_url.strip_prefix(&h.root).unwrap();
        assert_eq!(h.get(path).await.status, 200);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_everything_is_open_and_links_are_clean() {
    let h = Harness::start(None).await;
    for path in [
        "/feed.rss",
        "/feed.atom",
        "/feed.json",
        "/",
        "/opml",
        "/api/status",
        "/metrics",
        "/healthz",
    ] {
        assert_eq!(h.get(path).await.status, 200, "{path}");
    }
    // A token given to a server without one is ignored (not an error).
    assert_eq!(h.get("/feed.rss?token=x").await.status, 200);
    let index = h.get("/").await.body;
    assert!(!index.contains("token"), "no token anywhere on the page");
    assert!(!h.get("/opml").await.body.contains("token"));
    h.stop().await;
}

/// Every `href` of a subscribe link (`a.fmt`) on the index page, unescaped.
pub fn feed_links(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"<a class="fmt" href="([^"]+)">(RSS|Atom|JSON)</a>"#).unwrap();
    re.captures_iter(html)
        .map(|c| c[1].replace("&amp;", "&"))
        .collect()
}

/// (source outline text, feed outline text, xmlUrl) for every feed outline in an OPML file,
/// read with quick-xml.
fn opml_feeds(opml: &str) -> Vec<(String, String, String)> {
    assert_well_formed_xml(opml);
    let mut reader = quick_xml::Reader::from_str(opml);
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut saw_version = false;
    loop {
        let event = reader.read_event().unwrap();
        let attr = |e: &quick_xml::events::BytesStart, name: &str| {
            e.attributes()
                .flatten()
                .find(|a| a.key.as_ref() == name.as_bytes())
                .map(|a| {
                    a.normalized_value(quick_xml::XmlVersion::default())
                        .unwrap()
                        .into_owned()
                })
        };
        match event {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"opml" => {
                assert_eq!(attr(&e, "version").as_deref(), Some("2.0"));
                saw_version = true;
            }
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"outline" => {
                assert!(attr(&e, "xmlUrl").is_none(), "groups are not feeds");
                stack.push(attr(&e, "text").unwrap());
            }
            quick_xml::events::Event::End(e) if e.name().as_ref() == b"outline" => {
                stack.pop();
            }
            quick_xml::events::Event::Empty(e) if e.name().as_ref() == b"outline" => {
                assert_eq!(attr(&e, "type").as_deref(), Some("rss"));
                assert!(attr(&e, "htmlUrl").is_some());
                out.push((
                    stack
                        .last()
                        .cloned()
                        .expect("feed outlines sit inside a source"),
                    attr(&e, "text").unwrap(),
                    attr(&e, "xmlUrl").unwrap(),
                ));
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert!(saw_version);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opml_status_and_metrics_describe_the_service() {
    let h = Harness::start(None).await;

    // OPML 2.0: one outline per section feed, grouped by source, each a working feed.
    let opml = h.get("/opml").await;
    assert_eq!(opml.status, 200);
    assert!(opml.header("content-type").starts_with("text/x-opml"));
    let outlines = opml_feeds(&opml.body);
    let grouped: Vec<(String, String)> = outlines
        .iter()
        .map(|(source, feed, _)| (source.clone(), feed.clone()))
        .collect();
    assert_eq!(
        grouped,
        vec![
            (
                "观察者网测试".to_string(),
                "观察者网测试 · 时政".to_string()
            ),
            (
                "观察者网测试".to_string(),
                "观察者网测试 · 國際".to_string()
            ),
            (
                "观察者网测试".to_string(),
                "观察者网测试 · 坏掉".to_string()
            ),
            ("Wire 通讯社".to_string(), "Wire 通讯社 · 科技".to_string()),
        ]
    );
    let counts = [4, 3, 0, 2];
    for ((_, _, xml_url), count) in outlines.iter().zip(counts) {
        let path = xml_url.strip_prefix(&h.root).unwrap();
        let feed = check_atom_rules(&h.get(path).await.body, xml_url);
        assert_eq!(feed.entries().len(), count, "{xml_url}");
    }

    // /api/status: per-section poll state.
    let status = h.get("/api/status").await;
    assert_eq!(status.status, 200);
    let doc: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    assert_eq!(doc["items"], ALL_TITLES.len());
    let sections = doc["sections"].as_array().unwrap();
    let keys: Vec<&str> = sections
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "portal/politics",
            "portal/world",
            "portal/broken",
            "wire/tech"
        ]
    );
    let now = fixture_now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (section, stored) in sections.iter().zip(counts) {
        let key = section["key"].as_str().unwrap();
        assert_eq!(section["items_stored"], stored, "{key}");
        let attempt: DateTime<Utc> =
            serde_json::from_value(section["last_attempt"].clone()).unwrap();
        assert_eq!(
            attempt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            now
        );
        for field in [
            "last_success",
            "consecutive_failures",
            "last_error",
            "source",
            "name",
        ] {
            assert!(section.get(field).is_some(), "{key}: {field}");
        }
        if key == "portal/broken" {
            assert!(section["last_success"].is_null());
            assert_eq!(section["consecutive_failures"], 1);
            assert!(section["last_error"].as_str().unwrap().contains("500"));
        } else {
            assert!(section["last_success"].is_string(), "{key}");
            assert_eq!(section["consecutive_failures"], 0, "{key}");
            assert!(section["last_error"].is_null(), "{key}");
        }
    }

    // /metrics: Prometheus text with polls, failures, items, requests and latency by route.
    h.get("/feed.rss").await;
    h.get("/feed.rss").await;
    h.get("/feed.json?limit=1").await;
    let metrics = h.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .starts_with("text/plain; version=0.0.4"));
    let sample = regex::Regex::new(
        r#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.e+-]+$"#,
    )
    .unwrap();
    let mut names = BTreeSet::new();
    for line in metrics.body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            names.insert(parts.next().unwrap().to_string());
            assert!(matches!(
                parts.next(),
                Some("counter" | "gauge" | "summary" | "histogram")
            ));
        } else if !line.starts_with("# HELP ") {
            assert!(sample.is_match(line), "not a Prometheus sample: {line:?}");
        }
    }
    for name in [
        "headwire_http_requests_total",
        "headwire_http_request_duration_seconds",
        "headwire_polls_total",
        "headwire_poll_failures_total",
        "headwire_items",
        "headwire_feed_renders_total",
        "headwire_feed_cache_hits_total",
    ] {
        assert!(names.contains(name), "{name} missing:\n{}", metrics.body);
    }
    let m = &metrics.body;
    assert_eq!(
        metric_value(m, "headwire_http_requests_total{route=\"/feed.rss\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric_value(m, "headwire_http_requests_total{route=\"/feed.json\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric_value(
            m,
            "headwire_http_request_duration_seconds_count{route=\"/feed.rss\"}"
        ),
        Some(2.0)
    );
    assert!(
        metric_value(
            m,
            "headwire_http_request_duration_seconds_sum{route=\"/feed.rss\"}"
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        metric_value(m, "headwire_items"),
        Some(ALL_TITLES.len() as f64)
    );
    assert_eq!(metric_value(m, "headwire_polls_total"), Some(4.0));
    assert_eq!(metric_value(m, "headwire_poll_failures_total"), Some(1.0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_stored_content_still_renders_valid_inert_documents() {
    use headwire::normalize::Observed;
    use headwire::store::BatchContext;

    let h = Harness::start(None).await;
    // Written straight into the store, bypassing extraction, as an old or foreign store might
    // hold it: render-time escaping and sanitising must still protect every reader.
    let hostile = Observed {
        identity: "link:hostile".into(),
        link: Some("https://evil.example/a?x=1&y=<2>&z=\"3\"".into()),
        title: "Nul\u{0}and\u{1}ctrl ]]> & <b>not bold</b> \u{FFFE}end".into(),
        title_key: "hostile".into(),
        summary: Some(
            "<p onmouseover=\"x()\">ok</p><script>alert(1)</script><style>p{}</style>\
             <a href=\"javascript:alert(1)\">j</a><iframe src=\"https://evil.example\"></iframe>\
             <img src=\"x\" onerror=\"alert(1)\">]]>\u{7}"
                .into(),
        ),
        author: Some("Mallory <m@evil.example> & co\u{8}".into()),
        image: Some("https://img.example/a.png?x=1&y=\"2\"".into()),
        guid: None,
        published: Some(fixture_now()),
        page_labels: vec!["]]> & <label>".into(), "ctrl\u{1b}label".into()],
    };
    h.store
        .apply_batch(
            &BatchContext {
                source_id: "wire",
                section_key: "wire/tech",
                section_name: "科技",
                title_window: None,
                now: fixture_now(),
            },
            &[hostile],
        )
        .unwrap();
    let rss = h.get("/feed.rss?source=wire").await;
    let channel = check_rss_rules(&rss.body, &h.url("/feed.rss?source=wire"), 1440);
    let item = &channel.items()[0];
    assert_eq!(item.title(), Some("Nulandctrl ]]> & <b>not bold</b> end"));
    assert_eq!(
        item.link(),
        Some("https://evil.example/a?x=1&y=<2>&z=\"3\"")
    );
    let description = item.description().unwrap();
    assert!(description.contains("<p>ok</p>"), "{description}");
    assert!(!description.contains("iframe"), "{description}");
    let atom = h.get("/feed.atom?source=wire").await;
    let feed = check_atom_rules(&atom.body, &h.url("/feed.atom?source=wire"));
    assert_eq!(
        feed.entries()[0].authors()[0].name(),
        "Mallory <m@evil.example> & co"
    );
    let json = h.get("/feed.json?source=wire").await;
    let doc = check_json_rules(&json.body, &h.url("/feed.json?source=wire"));
    assert!(!doc["items"][0]["content_html"]
        .as_str()
        .unwrap()
        .contains("iframe"));
    // The hostile label is still a filter that works.
    let path = "/feed.atom?section=%5D%5D%3E+%26+%3Clabel%3E";
    let feed = check_atom_rules(&h.get(path).await.body, &h.url(path));
    assert_eq!(feed.entries().len(), 1);
    h.stop().await;
}

/// A commit makes stale only the feeds built from what it touched: other sections' feeds stay
/// cached (no render), the touched section and the merged feed render again, and a feed whose
/// items did not change keeps its ETag, so a reader's revalidation still gets a 304.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_re_renders_only_the_feeds_it_touched() {
    use headwire::normalize::Observed;
    use headwire::store::BatchContext;
    use headwire::text::title_key;
    let h = Harness::start(None).await;
    let politics = "/feed.atom?section=politics";
    let top_world = "/feed.atom?section=world&limit=1";
    let merged = "/feed.atom";
    for path in [politics, top_world, merged] {
        assert_eq!(h.get(path).await.status, 200);
    }
    let world_etag = h.get(top_world).await.header("etag").to_string();
    let renders = h.metric("headwire_feed_renders_total").await;
    // A story first seen in world, published long before its newest one.
    let title = "一则较早的国际新闻";
    let old = Observed {
        identity: "link:example.com/late-world".into(),
        link: Some("https://example.com/late-world".into()),
        title: title.into(),
        title_key: title_key(title),
        summary: None,
        author: None,
        image: None,
        guid: None,
        published: Some(
            DateTime::parse_from_rfc3339("2022-03-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        ),
        page_labels: Vec::new(),
    };
    let ctx = BatchContext {
        source_id: "portal",
        section_key: "portal/world",
        section_name: "World",
        title_window: None,
        now: DateTime::parse_from_rfc3339("2022-03-13T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    };
    let out = h.store.apply_batch(&ctx, &[old]).unwrap();
    assert_eq!(out.new, 1);
    // politics: untouched, served from the cache.
    assert_eq!(h.get(politics).await.status, 200);
    assert_eq!(h.metric("headwire_feed_renders_total").await, renders);
    // world: touched, rendered again — but its newest item is the same, so is its ETag.
    let again = h
        .get_with(top_world, &[("if-none-match", &world_etag)])
        .await;
    assert_eq!(again.status, 304, "same items, same ETag");
    assert_eq!(h.metric("headwire_feed_renders_total").await, renders + 1.0);
    // The merged feed depends on every commit.
    let merged_now = h.get(merged).await;
    assert!(merged_now.body.contains(title));
    assert_eq!(h.metric("headwire_feed_renders_total").await, renders + 2.0);
    h.stop().await;
}
