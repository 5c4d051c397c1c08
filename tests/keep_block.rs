//! Keep/block rules end to end through `headwire check`: blocked headlines are dropped before
//! storing, and `check` says which rule dropped which headline.

mod common;
mod faults_support;

use std::time::{Duration, Instant};

use faults_support::{config_text, section_status, Fixture, Reply, Site};
use headwire::app;
use headwire::config::Config;

const PAGE: &str = "<html><head><meta charset=utf-8></head><body><ul class=list>\
    <li><a href=/a/1.html>市场消息：股市上涨</a> <span class=tag>財經</span></li>\
    <li><a href=/a/2.html>【廣告】买一送一</a></li>\
    <li><a href=/live/3.html>LIVE: election night</a></li>\
    <li><a href=/a/4.html>Weather tomorrow</a></li>\
    </ul></body></html>";

fn config(rules: &str) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feeds.toml");
    std::fs::write(
        &path,
        format!(
            "[[source]]\nid = \"demo\"\nblock = [\"广告\"]\n\n[[source.section]]\nid = \"news\"\n\
             url = \"https://news.example/\"\nitem = \"ul.list > li\"\ntitle = \"a\"\nlabel = \"span.tag\"\n{rules}"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("page.html"), PAGE).unwrap();
    let config = Config::load(&path).unwrap();
    (dir, config)
}

#[tokio::test]
async fn check_shows_which_rule_dropped_which_headline() {
    let (dir, config) = config("block = [\"re:^/?live/\", \"re:/live/\"]\n");
    let page = dir.path().join("page.html");
    let report = app::check(&config, "demo/news", Some(&page), None)
        .await
        .unwrap();
    let kept: Vec<&str> = report.rows.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(kept, ["市场消息：股市上涨", "Weather tomorrow"]);
    let blocked: Vec<(&str, &str)> = report
        .blocked
        .iter()
        .map(|b| (b.title.as_str(), b.reason.as_str()))
        .collect();
    assert_eq!(
        blocked,
        [
            ("【廣告】买一送一", "block rule `广告` matched the title"),
            (
                "LIVE: election night",
                "block rule `re:/live/` matched the link"
            ),
        ]
    );
}

#[tokio::test]
async fn keep_rules_match_labels_folded_to_simplified() {
    let (dir, config) = config("keep = [\"财经\"]\n");
    let page = dir.path().join("page.html");
    let report = app::check(&config, "demo/news", Some(&page), None)
        .await
        .unwrap();
    assert_eq!(report.rows.len(), 1, "{:?}", report.rows);
    assert_eq!(report.rows[0].labels, ["財經"]);
    assert_eq!(report.blocked.len(), 3);
    assert!(report
        .blocked
        .iter()
        .any(|b| b.reason == "no keep rule matched"));
}

#[test]
fn a_bad_regex_is_a_config_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feeds.toml");
    std::fs::write(
        &path,
        "[[source]]\nid = \"demo\"\n\n[[source.section]]\nid = \"news\"\nurl = \"https://x.example/\"\n\
         kind = \"feed\"\nblock = [\n  \"fine\",\n  \"re:[unclosed\",\n]\n",
    )
    .unwrap();
    let err = Config::load(&path).unwrap_err().to_string();
    let expected = format!("{}:10: ", path.display());
    assert!(err.starts_with(&expected), "{err}");
    assert!(
        err.contains("block[1]: `re:[unclosed` is not a valid regex"),
        "{err}"
    );
}

/// Under `serve`, blocked headlines are never stored and their count shows on `/api/status`.
#[test]
fn serve_stores_no_blocked_headline_and_counts_them_on_the_status_page() {
    let fixture = Fixture::start();
    fixture.set("/news/", Reply::html(PAGE));
    let sources = format!(
        "[[source]]\nid = \"demo\"\nblock = [\"广告\", \"re:^live:\"]\n\n[[source.section]]\n\
         id = \"news\"\nurl = \"{}\"\nitem = \"ul.list > li\"\ntitle = \"a\"\n",
        fixture.url("/news/")
    );
    let site = Site::new(&config_text(&sources));
    let served = site.serve();
    let deadline = Instant::now() + Duration::from_secs(60);
    let news = loop {
        let status = served.status();
        let news = section_status(&status, "demo/news").clone();
        if news["last_found"].as_u64().is_some() && news["last_success"].is_string() {
            break news;
        }
        assert!(Instant::now() < deadline, "never polled: {status}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(news["last_blocked"], 2, "{news}");
    assert_eq!(news["items_stored"], 2, "{news}");
    let feed = served.fetch("/feed.rss?section=demo/news").text();
    assert!(
        feed.contains("股市上涨") && feed.contains("Weather tomorrow"),
        "{feed}"
    );
    assert!(
        !feed.contains("买一送一") && !feed.contains("election"),
        "{feed}"
    );
}
