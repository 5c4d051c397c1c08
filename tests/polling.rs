//! The polling engine against a scriptable fixture server, on tokio's paused clock: conditional
//! GET and unchanged bodies cost no parsing, every failure is recorded with its kind, a hung
//! server costs one section its timeout, backoff grows, caps and resets, `Retry-After` is
//! honoured within the cap, per-host and global caps and the per-host spacing hold, first polls
//! are spread over the interval, reloads start, stop and restart the right sections, and shutdown
//! lets polls in flight finish while queued ones never start.
//!
//! The fixture runs in the test's own runtime, so its timestamps, its slow answers and the
//! client's timeouts all use the same virtual clock: assertions on times are exact, not lucky.

mod common;
mod polling_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{fixed_clock, fixture_now, list_page, list_section, Story};
use headwire::config::Config;
use headwire::fetch::MAX_REDIRECTS;
use headwire::poll::{
    initial_delay, Poller, ReloadSummary, BACKOFF_CAP, FIRST_POLL_SPREAD, RELOAD_SPREAD,
};
use headwire::store::Store;
use headwire::text::fold_label;
use polling_support::{Fixture, Route};
use tokio::sync::watch;
use tokio::time::Instant;

// ---- helpers -----------------------------------------------------------------------------------

/// A list page with `n` stories whose links carry `tag`.
fn page(tag: &str, n: usize) -> String {
    let stories: Vec<Story> = (0..n)
        .map(|i| {
            Story::new(
                &format!("{tag} 新闻 {i}"),
                &format!("/a/{tag}-{i}.html"),
                "2022-03-13 09:27",
            )
        })
        .collect();
    list_page(tag, &stories)
}

/// A config with one source `site` polling `sections` every `interval`, with `[poll]` lines.
fn config(poll: &str, interval: &str, sections: &[String]) -> Arc<Config> {
    let text = format!(
        "[poll]\n{poll}\n\n[[source]]\nid = \"site\"\ntimezone = \"Asia/Shanghai\"\ninterval = \"{interval}\"\n{}",
        sections.concat()
    );
    Arc::new(Config::parse(&text, Path::new("/srv/headwire/feeds.toml")).unwrap())
}

fn poller(config: Arc<Config>) -> (Arc<Poller>, Arc<Store>) {
    let store = Arc::new(Store::temporary().unwrap());
    let poller = Arc::new(Poller::new(config, store.clone(), fixed_clock(fixture_now())).unwrap());
    (poller, store)
}

/// Polls one configured section by key.
async fn poll(poller: &Poller, key: &str) -> headwire::poll::SectionReport {
    let config = poller.config();
    let (source, section) = config.section(key).unwrap();
    poller.poll_section(source, section).await
}

/// Advances virtual time in 1 s steps until `path` has `n` hits (at most `limit`).
async fn wait_hits(fixture: &Fixture, path: &str, n: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while fixture.count(path) < n {
        assert!(
            Instant::now() < deadline,
            "{path}: {} hits, wanted {n}",
            fixture.count(path)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Seconds between consecutive hits on `path`.
fn gaps(fixture: &Fixture, path: &str) -> Vec<f64> {
    let hits = fixture.hits_on(path);
    hits.windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64())
        .collect()
}

fn assert_between(value: f64, low: f64, high: f64, what: &str) {
    assert!(
        (low..high).contains(&value),
        "{what}: {value} not in [{low}, {high})"
    );
}

// ---- defaults ----------------------------------------------------------------------------------

#[test]
fn defaults_are_the_documented_ones() {
    let config = config("", "10m", &[list_section("s", "http://example.com/", "")]);
    let poll = &config.poll;
    assert_eq!(poll.concurrency, 16);
    assert_eq!(poll.per_host, 2);
    assert_eq!(poll.host_delay, Duration::from_secs(1));
    assert_eq!(poll.connect_timeout, Duration::from_secs(10));
    assert_eq!(poll.request_timeout, Duration::from_secs(30));
    assert_eq!(poll.max_body_bytes, 8 * 1024 * 1024);
    assert!(
        poll.user_agent.starts_with("headwire/"),
        "{}",
        poll.user_agent
    );
    assert_eq!(MAX_REDIRECTS, 5);
    assert_eq!(BACKOFF_CAP, 6);
}

#[test]
fn a_user_agent_that_is_no_header_value_is_a_config_problem() {
    let text = "[poll]\nuser_agent = \"bad\\nagent\"\n\n[[source]]\nid = \"s\"\n[[source.section]]\nid = \"x\"\nurl = \"http://example.com/\"\nkind = \"feed\"\n";
    let err = Config::parse(text, Path::new("/srv/feeds.toml")).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(
        err.to_string()
            .starts_with("/srv/feeds.toml:2: poll.user_agent"),
        "{err}"
    );
}

// ---- conditional GET and unchanged bodies --------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_304_costs_no_parsing_and_updates_only_the_status() {
    let fx = Fixture::start().await;
    fx.set("/etag", Route::html(page("e", 3)).etag("\"v1\"").route());
    fx.set(
        "/lm",
        Route::html(page("l", 2))
            .last_modified("Sun, 13 Mar 2022 06:00:00 GMT")
            .route(),
    );
    let (poller, store) = poller(config(
        "host_delay = \"0\"",
        "10m",
        &[
            list_section("etag", &fx.url("/etag"), ""),
            list_section("lm", &fx.url("/lm"), ""),
        ],
    ));
    assert_eq!(poll(&poller, "site/etag").await.new, 3);
    assert_eq!(poll(&poller, "site/lm").await.new, 2);
    let generation = store.generation();

    for key in ["site/etag", "site/lm"] {
        let report = poll(&poller, key).await;
        assert!(report.error.is_none(), "{key}: {:?}", report.error);
        assert!(report.unchanged, "{key} answered 304");
        assert_eq!((report.found, report.new), (0, 0), "{key}: nothing parsed");
    }
    let second_etag = &fx.hits_on("/etag")[1];
    assert_eq!(second_etag.headers["if-none-match"], "\"v1\"");
    let second_lm = &fx.hits_on("/lm")[1];
    assert_eq!(
        second_lm.headers["if-modified-since"],
        "Sun, 13 Mar 2022 06:00:00 GMT"
    );
    assert!(!second_lm.headers.contains_key("if-none-match"));
    assert_eq!(store.generation(), generation, "a 304 writes no items");
    assert_eq!(store.len(), 5);
    let status = store.section_status("site/etag").unwrap();
    assert!(status.last_success.is_some());
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.last_found, 3, "the last parse's counts stay");
    assert_eq!(
        poller
            .metrics
            .unchanged
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );

    // A new version is fetched and parsed again.
    fx.set("/etag", Route::html(page("e", 4)).etag("\"v2\"").route());
    let report = poll(&poller, "site/etag").await;
    assert_eq!((report.unchanged, report.found, report.new), (false, 4, 1));
    assert!(store.generation() > generation);
    assert_eq!(
        store.section_status("site/etag").unwrap().etag.as_deref(),
        Some("\"v2\"")
    );
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_body_is_not_parsed_but_new_rules_read_it_again() {
    let fx = Fixture::start().await;
    fx.set("/plain", Route::html(page("p", 3)).route());
    let (poller, store) = poller(config(
        "host_delay = \"0\"",
        "10m",
        &[list_section("plain", &fx.url("/plain"), "")],
    ));
    assert_eq!(poll(&poller, "site/plain").await.new, 3);
    let generation = store.generation();
    let again = poll(&poller, "site/plain").await;
    assert!(again.unchanged && again.error.is_none());
    assert_eq!(store.generation(), generation);
    assert_eq!(fx.count("/plain"), 2, "the body was fetched, not parsed");

    // Same page, same key, different rules: the body hash is keyed by the settings.
    let limited = Arc::new(
        Poller::new(
            config(
                "host_delay = \"0\"",
                "10m",
                &[list_section("plain", &fx.url("/plain"), "limit = 1")],
            ),
            store.clone(),
            fixed_clock(fixture_now()),
        )
        .unwrap(),
    );
    let report = poll(&limited, "site/plain").await;
    assert!(!report.unchanged, "new selectors must read the page again");
    assert_eq!((report.found, report.new), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn validators_are_kept_only_after_a_page_was_read() {
    let fx = Fixture::start().await;
    // Served with an ETag, but the selectors match nothing on it.
    fx.set(
        "/odd",
        Route::html("<html><body><p>redesigned</p></body></html>")
            .etag("\"odd\"")
            .route(),
    );
    let (poller, store) = poller(config(
        "host_delay = \"0\"",
        "10m",
        &[list_section("odd", &fx.url("/odd"), "")],
    ));
    for round in 1..=2u32 {
        let report = poll(&poller, "site/odd").await;
        assert_eq!(
            report.error.as_ref().map(|e| e.kind()),
            Some("selector"),
            "round {round}"
        );
        assert_eq!(report.consecutive_failures, round);
    }
    for hit in fx.hits_on("/odd") {
        assert!(
            !hit.headers.contains_key("if-none-match"),
            "a page that failed to read must not be revalidated into a fake success"
        );
    }
    let status = store.section_status("site/odd").unwrap();
    assert_eq!(status.etag, None);
    assert_eq!(status.last_error_kind.as_deref(), Some("selector"));
}

// ---- failures ----------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn every_failure_is_recorded_with_its_kind() {
    let fx = Fixture::start().await;
    let cap = 64 * 1024;
    let big = page("big", 2) + &" ".repeat(2 * cap);
    // Highly compressible: far under the cap on the wire, far over it decompressed.
    let bomb = Route::html(page("bomb", 2) + &"<p>x</p>".repeat(200_000)).gzip();
    assert!(
        bomb.wire_body().len() < cap / 4,
        "the bomb is small on the wire"
    );
    fx.set("/500", Route::status(500));
    fx.set("/429", Route::retry_after(429, "120"));
    fx.set("/hang", Route::Hang);
    fx.set("/big", Route::html(big.clone()).route());
    fx.set("/big-chunked", Route::html(big).chunked().route());
    fx.set("/bomb", bomb.route());
    fx.set(
        "/broken-gzip",
        Route::html(page("bg", 2)).broken_gzip().route(),
    );
    fx.set("/gzip", Route::html(page("gz", 2)).gzip().route());
    fx.set("/deflate", Route::html(page("df", 2)).deflate().route());
    for hop in 0..6 {
        fx.set(
            &format!("/r5/{hop}"),
            Route::Redirect(format!("/r5/{}", hop + 1)),
        );
        fx.set(
            &format!("/r6/{hop}"),
            Route::Redirect(format!("/r6/{}", hop + 1)),
        );
    }
    // Five hops end on a page; the sixth redirect is one too many.
    fx.set("/r5/5", Route::html(page("r5", 2)).route());
    fx.set("/r6/6", Route::html(page("r6", 2)).route());
    let closed = format!("http://127.0.0.1:{}/", common::closed_port());
    let cases: &[(&str, String, Option<&str>)] = &[
        ("e500", fx.url("/500"), Some("http")),
        ("e429", fx.url("/429"), Some("http")),
        ("hang", fx.url("/hang"), Some("timeout")),
        ("closed", closed, Some("connect")),
        ("big", fx.url("/big"), Some("too-large")),
        ("chunked", fx.url("/big-chunked"), Some("too-large")),
        ("bomb", fx.url("/bomb"), Some("too-large")),
        ("broken", fx.url("/broken-gzip"), Some("decode")),
        ("gzip", fx.url("/gzip"), None),
        ("deflate", fx.url("/deflate"), None),
        ("r5", fx.url("/r5/0"), None),
        ("r6", fx.url("/r6/0"), Some("redirect")),
        ("missing", fx.url("/nothing-here"), Some("http")),
    ];
    let sections: Vec<String> = cases
        .iter()
        .map(|(id, url, _)| list_section(id, url, ""))
        .collect();
    let (poller, store) = poller(config(
        "host_delay = \"0\"\nper_host = 16\nrequest_timeout = \"5s\"\nmax_body = \"64KiB\"",
        "10m",
        &sections,
    ));
    let started = Instant::now();
    let reports = poller.poll_all_once().await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the hung section costs its 5 s timeout, nothing more: {:?}",
        started.elapsed()
    );
    for ((id, _, kind), report) in cases.iter().zip(&reports) {
        let key = format!("site/{id}");
        assert_eq!(report.key, key);
        assert_eq!(
            report.error.as_ref().map(|e| e.kind()),
            *kind,
            "{key}: {:?}",
            report.error
        );
        let status = store.section_status(&key).unwrap();
        assert_eq!(status.last_error_kind.as_deref(), *kind, "{key}");
        assert_eq!(status.consecutive_failures, u32::from(kind.is_some()));
        if kind.is_none() {
            assert_eq!(report.new, 2, "{key} was read");
        }
    }
    let message = |key: &str| store.section_status(key).unwrap().last_error.unwrap();
    assert!(
        message("site/e500").contains("500"),
        "{}",
        message("site/e500")
    );
    assert!(message("site/e429").contains("retry after 120s"));
    assert_eq!(reports[1].retry_after, Some(120));
    assert!(
        message("site/big").contains("65536"),
        "{}",
        message("site/big")
    );
    assert!(message("site/r6").contains("redirect"));
    // The redirect chains: every hop requested once, the seventh URL never.
    for hop in 0..6 {
        assert_eq!(fx.count(&format!("/r5/{hop}")), 1, "r5 hop {hop}");
        assert_eq!(fx.count(&format!("/r6/{hop}")), 1, "r6 hop {hop}");
    }
    assert_eq!(fx.count("/r6/6"), 0);
    // Only the readable sections stored anything: gzip, deflate, five redirects.
    assert_eq!(store.len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_hung_server_costs_one_section_its_timeout_and_nothing_more() {
    let fx = Fixture::start().await;
    fx.set("/hang", Route::Hang);
    for path in ["/a", "/b", "/c"] {
        fx.set(path, Route::html(page(&path[1..], 2)).route());
    }
    let (poller, _store) = poller(config(
        "host_delay = \"0\"\nrequest_timeout = \"30s\"",
        "10m",
        &[
            list_section("hang", &fx.url("/hang"), ""),
            list_section("a", &fx.url("/a"), ""),
            list_section("b", &fx.url("/b"), ""),
            list_section("c", &fx.url("/c"), ""),
        ],
    ));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for key in ["site/hang", "site/a", "site/b", "site/c"] {
        let poller = poller.clone();
        tasks.spawn(async move {
            let report = poll(&poller, key).await;
            (key, report, started.elapsed())
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        done.push(joined.unwrap());
    }
    for (key, report, took) in &done {
        if *key == "site/hang" {
            assert_eq!(report.error.as_ref().map(|e| e.kind()), Some("timeout"));
            assert!(
                *took >= Duration::from_secs(30) && *took < Duration::from_secs(31),
                "{took:?}"
            );
        } else {
            assert!(report.error.is_none(), "{key}: {:?}", report.error);
            assert!(*took < Duration::from_secs(1), "{key} waited {took:?}");
        }
    }
    // Finishing order: every healthy section before the hung one.
    assert_eq!(
        done.last().map(|(key, ..)| *key),
        Some("site/hang"),
        "{:?}",
        done.iter().map(|(k, _, t)| (*k, *t)).collect::<Vec<_>>()
    );
}

// ---- schedule ----------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn backoff_doubles_caps_at_six_intervals_and_resets_on_success() {
    let fx = Fixture::start().await;
    fx.set("/flaky", Route::status(500));
    let (poller, store) = poller(config(
        "host_delay = \"0\"",
        "60s",
        &[list_section("flaky", &fx.url("/flaky"), "")],
    ));
    let (stop_tx, stop) = watch::channel(false);
    let run = tokio::spawn(poller.clone().run(stop));
    let started = Instant::now();
    wait_hits(&fx, "/flaky", 1, Duration::from_secs(61)).await;
    let first = fx.hits_on("/flaky")[0].at - started;
    assert!(
        first < Duration::from_secs(60),
        "the first poll falls in the first interval: {first:?}"
    );
    // Six failures: waits of 1, 2, 4, 6 (cap), 6 intervals (+ up to 10% jitter).
    wait_hits(&fx, "/flaky", 6, Duration::from_secs(2000)).await;
    assert_eq!(
        store
            .section_status("site/flaky")
            .unwrap()
            .consecutive_failures,
        6
    );
    let expected = [60.0, 120.0, 240.0, 360.0, 360.0];
    for (gap, base) in gaps(&fx, "/flaky").iter().zip(expected) {
        assert_between(*gap, base, base + 6.0, "backoff gap");
    }
    // Fixed: the next (capped) poll succeeds and the schedule is back to the interval.
    fx.set("/flaky", Route::html(page("f", 2)).route());
    wait_hits(&fx, "/flaky", 9, Duration::from_secs(1000)).await;
    let all = gaps(&fx, "/flaky");
    assert_between(all[5], 360.0, 366.0, "the failure before the fix");
    assert_between(all[6], 60.0, 66.0, "after a success");
    assert_between(all[7], 60.0, 66.0, "after a success");
    let status = store.section_status("site/flaky").unwrap();
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.last_error_kind, None);
    stop_tx.send(true).unwrap();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_within_the_backoff_cap() {
    let fx = Fixture::start().await;
    fx.set("/busy", Route::retry_after(429, "300"));
    let (poller, _store) = poller(config(
        "host_delay = \"0\"",
        "60s",
        &[list_section("busy", &fx.url("/busy"), "")],
    ));
    let (stop_tx, stop) = watch::channel(false);
    let run = tokio::spawn(poller.clone().run(stop));
    wait_hits(&fx, "/busy", 1, Duration::from_secs(61)).await;
    // The next answer asks for more than a day: capped at six intervals.
    fx.set("/busy", Route::retry_after(503, "100000"));
    wait_hits(&fx, "/busy", 2, Duration::from_secs(400)).await;
    fx.set("/busy", Route::html(page("b", 1)).route());
    wait_hits(&fx, "/busy", 4, Duration::from_secs(1000)).await;
    let gaps = gaps(&fx, "/busy");
    assert_between(gaps[0], 300.0, 301.0, "Retry-After: 300 on a 60 s interval");
    assert_between(
        gaps[1],
        60.0 * f64::from(BACKOFF_CAP),
        60.0 * f64::from(BACKOFF_CAP) + 1.0,
        "Retry-After: 100000 capped at 6 intervals",
    );
    assert_between(gaps[2], 60.0, 66.0, "back to the interval after a success");
    stop_tx.send(true).unwrap();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn per_host_cap_and_spacing_hold_and_other_hosts_are_not_held_up() {
    let fx = Fixture::start().await;
    let other = Fixture::start_on("127.0.0.2").await;
    let mut sections = Vec::new();
    for i in 0..6 {
        let path = format!("/p{i}");
        fx.set(
            &path,
            Route::html(page(&format!("p{i}"), 1))
                .after(Duration::from_secs(5))
                .route(),
        );
        sections.push(list_section(&format!("p{i}"), &fx.url(&path), ""));
    }
    other.set("/q", Route::html(page("q", 1)).route());
    sections.push(list_section("q", &other.url("/q"), ""));
    let (poller, _store) = poller(config(
        "per_host = 2\nhost_delay = \"1s\"",
        "10m",
        &sections,
    ));
    let started = Instant::now();
    let reports = poller.poll_all_once().await;
    assert!(reports.iter().all(|r| r.error.is_none()), "{reports:?}");
    assert_eq!(fx.max_in_flight(), 2, "at most two requests to one host");
    let starts: Vec<f64> = fx
        .hits()
        .iter()
        .map(|h| (h.at - started).as_secs_f64())
        .collect();
    // Two at once, one second apart; the next pair when the first answers (5 s later).
    let expected = [0.0, 1.0, 5.0, 6.0, 10.0, 11.0];
    for (start, want) in starts.iter().zip(expected) {
        assert_between(*start, want, want + 0.1, "request start");
    }
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= 1.0, "host spacing: {starts:?}");
    }
    let q = (other.hits()[0].at - started).as_secs_f64();
    assert!(q < 0.1, "another host is not queued behind a busy one: {q}");
}

#[tokio::test(start_paused = true)]
async fn the_global_cap_bounds_requests_in_flight() {
    let fx = Fixture::start().await;
    let mut sections = Vec::new();
    for i in 0..7 {
        let path = format!("/g{i}");
        fx.set(
            &path,
            Route::html(page(&format!("g{i}"), 1))
                .after(Duration::from_secs(5))
                .route(),
        );
        sections.push(list_section(&format!("g{i}"), &fx.url(&path), ""));
    }
    let (poller, _store) = poller(config(
        "concurrency = 3\nper_host = 100\nhost_delay = \"0\"",
        "10m",
        &sections,
    ));
    let started = Instant::now();
    let reports = poller.poll_all_once().await;
    assert!(reports.iter().all(|r| r.error.is_none()));
    assert_eq!(fx.max_in_flight(), 3);
    let starts: Vec<u64> = fx
        .hits()
        .iter()
        .map(|h| (h.at - started).as_secs())
        .collect();
    assert_eq!(starts, vec![0, 0, 0, 5, 5, 5, 10]);
}

#[tokio::test(start_paused = true)]
async fn first_polls_are_spread_over_the_first_interval() {
    // A store that has polled these sections before (long enough ago that all are due): their
    // first polls are spread over the first interval, as a restart should.
    let fx = Fixture::start().await;
    let interval = Duration::from_secs(3600);
    let ids: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    let sections: Vec<String> = ids
        .iter()
        .map(|id| {
            fx.set(&format!("/{id}"), Route::html(page(id, 1)).route());
            list_section(id, &fx.url(&format!("/{id}")), "")
        })
        .collect();
    let (poller, store) = poller(config("host_delay = \"0\"", "1h", &sections));
    for id in &ids {
        let status = headwire::store::SectionStatus {
            last_attempt: Some(fixture_now() - chrono::Duration::days(2)),
            ..Default::default()
        };
        store
            .set_section_status(&format!("site/{id}"), &status)
            .unwrap();
    }
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    let run = tokio::spawn(poller.clone().run(stop));
    tokio::time::sleep(Duration::from_secs(7600)).await;
    let mut firsts = Vec::new();
    for id in &ids {
        let hits = fx.hits_on(&format!("/{id}"));
        assert!(hits.len() >= 2, "{id}: {} polls", hits.len());
        let first = hits[0].at - started;
        let planned = initial_delay(&format!("site/{id}"), interval);
        assert!(first < interval, "{id}: {first:?}");
        assert_between(
            first.as_secs_f64(),
            planned.as_secs_f64(),
            planned.as_secs_f64() + 0.1,
            "first poll at its planned spot",
        );
        let again = (hits[1].at - hits[0].at).as_secs_f64();
        assert_between(again, 3600.0, 3960.0, "the next poll: interval + jitter");
        firsts.push(first.as_secs());
    }
    firsts.sort_unstable();
    firsts.dedup();
    assert_eq!(firsts.len(), 12, "no two first polls in the same second");
    let span = firsts[11] - firsts[0];
    assert!(
        span > 1800,
        "spread over the interval, not bunched: {firsts:?}"
    );
    stop_tx.send(true).unwrap();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_fresh_install_polls_every_section_within_thirty_seconds() {
    // Never polled: the shipped 10-minute interval must not keep a newcomer waiting.
    let fx = Fixture::start().await;
    let ids: Vec<String> = (0..12).map(|i| format!("n{i}")).collect();
    let sections: Vec<String> = ids
        .iter()
        .map(|id| {
            fx.set(&format!("/{id}"), Route::html(page(id, 1)).route());
            list_section(id, &fx.url(&format!("/{id}")), "")
        })
        .collect();
    let (poller, store) = poller(config("host_delay = \"0\"", "10m", &sections));
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    let run = tokio::spawn(poller.clone().run(stop));
    tokio::time::sleep(FIRST_POLL_SPREAD + Duration::from_secs(1)).await;
    let mut firsts = Vec::new();
    for id in &ids {
        let hits = fx.hits_on(&format!("/{id}"));
        assert_eq!(hits.len(), 1, "{id} polled once within the first 30 s");
        let first = hits[0].at - started;
        let planned = initial_delay(&format!("site/{id}"), FIRST_POLL_SPREAD);
        assert_between(
            first.as_secs_f64(),
            planned.as_secs_f64(),
            planned.as_secs_f64() + 0.1,
            "first poll at its planned spot within 30 s",
        );
        firsts.push(first.as_millis());
    }
    firsts.sort_unstable();
    firsts.dedup();
    assert!(firsts.len() >= 10, "spread, not bunched: {firsts:?}");
    assert_eq!(store.len(), 12, "every section's headline is stored");
    stop_tx.send(true).unwrap();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_panic_while_polling_becomes_the_sections_internal_error_and_is_retried() {
    // Debug builds read this fault-injection switch; the section key is unique to this test.
    std::env::set_var("HEADWIRE_INJECT_PANIC", "site/boom-a,site/boom-b");
    let fx = Fixture::start().await;
    for id in ["ok", "boom-a", "boom-b"] {
        fx.set(&format!("/{id}"), Route::html(page(id, 2)).route());
    }
    let sections: Vec<String> = ["ok", "boom-a", "boom-b"]
        .iter()
        .map(|id| list_section(id, &fx.url(&format!("/{id}")), ""))
        .collect();
    let (poller, store) = poller(config("host_delay = \"0\"", "10m", &sections));
    // poll --once: every configured section reports, the panicking ones as `internal`.
    let reports = poller.poll_all_once().await;
    let keys: Vec<&str> = reports.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, vec!["site/ok", "site/boom-a", "site/boom-b"]);
    assert!(reports[0].error.is_none());
    assert_eq!(reports[0].new, 2);
    for report in &reports[1..] {
        assert_eq!(report.error.as_ref().map(|e| e.kind()), Some("internal"));
        let status = store.section_status(&report.key).unwrap();
        assert_eq!(status.last_error_kind.as_deref(), Some("internal"));
        assert!(
            status
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("injected panic"),
            "{status:?}"
        );
        assert_eq!(status.consecutive_failures, 1);
    }
    // serve: the section's task survives and retries with backoff (10 min, then 20 min).
    let (stop_tx, stop) = watch::channel(false);
    let run = tokio::spawn(poller.clone().run(stop));
    tokio::time::sleep(Duration::from_secs(60 * 60)).await;
    let hits = fx.hits_on("/boom-a");
    assert!(
        hits.len() >= 3,
        "retried after the panic: {} polls",
        hits.len()
    );
    let status = store.section_status("site/boom-a").unwrap();
    assert_eq!(status.last_error_kind.as_deref(), Some("internal"));
    assert!(status.consecutive_failures >= 3, "{status:?}");
    let waits: Vec<f64> = gaps(&fx, "/boom-a");
    assert!(
        waits.windows(2).all(|w| w[1] >= w[0]),
        "backoff does not shrink: {waits:?}"
    );
    stop_tx.send(true).unwrap();
    run.await.unwrap();
}

// ---- reload and shutdown -----------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn selectors_edited_while_stopped_read_the_page_afresh() {
    let fx = Fixture::start().await;
    fx.set("/list", Route::html(page("p", 3)).etag("\"same\"").route());
    let store = Arc::new(Store::temporary().unwrap());
    let run = |extra: &str| {
        let config = config(
            "host_delay = \"0\"",
            "10m",
            &[list_section("a", &fx.url("/list"), extra)],
        );
        Arc::new(Poller::new(config, store.clone(), fixed_clock(fixture_now())).unwrap())
    };
    // First life: only the first headline is read (limit = 1).
    let first = run("limit = 1");
    assert_eq!(poll(&first, "site/a").await.new, 1);
    let report = poll(&first, "site/a").await;
    assert!(report.unchanged, "same settings revalidate: {report:?}");
    assert_eq!(fx.hits_on("/list")[1].headers["if-none-match"], "\"same\"");
    drop(first);

    // "Restart" with the limit removed: the page is unchanged (it would answer 304), but the
    // new rules have never read it, so it is fetched without validators and parsed.
    let second = run("");
    let report = poll(&second, "site/a").await;
    assert!(!fx.hits_on("/list")[2].headers.contains_key("if-none-match"));
    assert_eq!((report.unchanged, report.found, report.new), (false, 3, 2));
    assert_eq!(store.len(), 3);
    // From then on it revalidates again.
    assert!(poll(&second, "site/a").await.unchanged);
    assert_eq!(fx.hits_on("/list")[3].headers["if-none-match"], "\"same\"");
}

#[tokio::test(start_paused = true)]
async fn reload_stops_removed_restarts_changed_and_starts_new_sections() {
    let fx = Fixture::start().await;
    fx.set("/one", Route::html(page("one", 2)).route());
    fx.set("/two", Route::html(page("two", 3)).etag("\"t\"").route());
    fx.set("/three", Route::html(page("three", 1)).route());
    let before = config(
        "host_delay = \"0\"",
        "60s",
        &[
            list_section("one", &fx.url("/one"), ""),
            list_section("two", &fx.url("/two"), ""),
        ],
    );
    let (poller, store) = poller(before.clone());
    let (stop_tx, stop) = watch::channel(false);
    let run = tokio::spawn(poller.clone().run(stop));
    wait_hits(&fx, "/one", 1, Duration::from_secs(61)).await;
    wait_hits(&fx, "/two", 1, Duration::from_secs(61)).await;
    assert_eq!(store.len(), 5);

    // Reloading the same settings changes nothing.
    assert!(poller.reload(before.clone()).unwrap().is_empty());

    let after = config(
        "host_delay = \"0\"\nuser_agent = \"reloaded-agent/1\"",
        "60s",
        &[
            list_section("two", &fx.url("/two"), "limit = 1"),
            list_section("three", &fx.url("/three"), ""),
        ],
    );
    let summary = poller.reload(after).unwrap();
    assert_eq!(
        summary,
        ReloadSummary {
            added: vec!["site/three".into()],
            removed: vec!["site/one".into()],
            changed: vec!["site/two".into()],
            poll_settings_changed: true,
        }
    );
    let (one_before, two_before) = (fx.count("/one"), fx.count("/two"));
    let reloaded = Instant::now();
    tokio::time::sleep(RELOAD_SPREAD + Duration::from_secs(1)).await;
    assert_eq!(
        fx.count("/three"),
        1,
        "a new section is polled within the spread"
    );
    assert_eq!(fx.count("/two"), two_before + 1, "a changed one too");
    let two = fx.hits_on("/two").pop().unwrap();
    assert!(two.at - reloaded <= RELOAD_SPREAD);
    assert!(
        !two.headers.contains_key("if-none-match"),
        "changed rules read the page afresh instead of revalidating"
    );
    assert_eq!(two.headers["user-agent"], "reloaded-agent/1");
    assert_eq!(store.section_status("site/two").unwrap().last_found, 1);

    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        fx.count("/one"),
        one_before,
        "a removed section is not polled"
    );
    assert!(fx.count("/three") >= 8, "new sections keep their schedule");
    // Nothing stored is lost: the removed section's items are all still there.
    assert_eq!(store.len(), 6);
    assert_eq!(store.count_label(&fold_label("site/one")), 2);
    stop_tx.send(true).unwrap();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_polls_in_flight_finish_and_starts_no_new_ones() {
    let fx = Fixture::start().await;
    for path in ["/x", "/y"] {
        fx.set(
            path,
            Route::html(page(&path[1..], 2))
                .after(Duration::from_secs(100))
                .route(),
        );
    }
    // One request per host at a time: whichever section comes second queues behind the first.
    let (poller, store) = poller(config(
        "per_host = 1\nhost_delay = \"0\"\nrequest_timeout = \"200s\"",
        "60s",
        &[
            list_section("x", &fx.url("/x"), ""),
            list_section("y", &fx.url("/y"), ""),
        ],
    ));
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    let run = tokio::spawn(poller.clone().run(stop));
    tokio::time::sleep(Duration::from_secs(61)).await;
    let hits = fx.hits();
    assert_eq!(hits.len(), 1, "one poll in flight, one queued");
    let in_flight = format!("site{}", hits[0].path);
    let queued = if in_flight == "site/x" {
        "site/y"
    } else {
        "site/x"
    };

    stop_tx.send(true).unwrap();
    run.await.unwrap();
    let finished = Instant::now();
    assert!(
        finished - hits[0].at >= Duration::from_secs(100),
        "the poll in flight was allowed to finish"
    );
    assert!(finished - started < Duration::from_secs(170));
    assert!(store
        .section_status(&in_flight)
        .unwrap()
        .last_success
        .is_some());
    assert_eq!(store.len(), 2, "its items are stored");
    let queued_status = store.section_status(queued).unwrap();
    assert_eq!(
        queued_status.last_attempt, None,
        "the queued poll never started"
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(fx.hits().len(), 1, "nothing is scheduled after shutdown");
}

// ---- what goes on the wire -----------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn requests_name_headwire_accept_compression_and_carry_source_headers() {
    let fx = Fixture::start().await;
    fx.set("/h", Route::html(page("h", 1)).route());
    let text = format!(
        "[poll]\nhost_delay = \"0\"\n\n[[source]]\nid = \"site\"\nheaders = {{ Referer = \"https://portal.example/\", Cookie = \"consent=yes\" }}\n{}",
        list_section("h", &fx.url("/h"), "")
    );
    let config = Arc::new(Config::parse(&text, Path::new("/srv/feeds.toml")).unwrap());
    let (poller, _store) = poller(config);
    assert!(poll(&poller, "site/h").await.error.is_none());
    let hit = &fx.hits_on("/h")[0];
    assert!(
        hit.headers["user-agent"].starts_with("headwire/"),
        "{:?}",
        hit.headers
    );
    let accepted: Vec<&str> = hit.headers["accept-encoding"]
        .split(',')
        .map(str::trim)
        .collect();
    for encoding in ["gzip", "br", "deflate"] {
        assert!(accepted.contains(&encoding), "{accepted:?}");
    }
    assert_eq!(hit.headers["referer"], "https://portal.example/");
    assert_eq!(hit.headers["cookie"], "consent=yes");
}

#[tokio::test(start_paused = true)]
async fn a_restart_resumes_each_section_when_it_is_due_keeping_its_backoff() {
    let fx = Fixture::start().await;
    fx.set("/fresh", Route::html(page("fresh", 1)).route());
    fx.set("/failing", Route::status(500));
    let (poller, store) = poller(config(
        "host_delay = \"0\"",
        "60s",
        &[
            list_section("fresh", &fx.url("/fresh"), ""),
            list_section("failing", &fx.url("/failing"), ""),
        ],
    ));
    // As left by a previous run: polled 20 s ago; the failing one after three failures in a row.
    let before = fixture_now() - chrono::Duration::seconds(20);
    let polled = headwire::store::SectionStatus {
        last_attempt: Some(before),
        ..Default::default()
    };
    store.set_section_status("site/fresh", &polled).unwrap();
    let failing = headwire::store::SectionStatus {
        consecutive_failures: 3,
        ..polled
    };
    store.set_section_status("site/failing", &failing).unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    let run = tokio::spawn(poller.clone().run(stop));
    wait_hits(&fx, "/failing", 1, Duration::from_secs(300)).await;
    let first = |path: &str| (fx.hits_on(path)[0].at - started).as_secs_f64();
    assert_between(
        first("/fresh"),
        40.0,
        40.1,
        "due one interval after the last poll",
    );
    assert_between(
        first("/failing"),
        220.0,
        220.1,
        "backoff (4 intervals) survives a restart",
    );
    stop_tx.send(true).unwrap();
    run.await.unwrap();
}
