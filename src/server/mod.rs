//! The serve stage: actix-web routes over the store.
//!
//! Feeds (`/feed.rss`, `/feed.atom`, `/feed.json`) are merged, newest first, filtered by the
//! query (see `query`), rendered once per store generation (see `cache`) and answered with strong
//! ETags, `Last-Modified` and `304`s. People get an index page, OPML, a JSON status and
//! Prometheus metrics. Routes only read the store; they never fetch.
//!
//! Every known route answers `GET` and `HEAD` and `405` (with `Allow`) for any other method.
//! Work that reads the store at length — a feed render on a cache miss, the index page,
//! `/api/status`, OPML — runs on the blocking pool, never on the async workers, so `/healthz`,
//! `/metrics` and cached feeds answer while heavy searches run. Feed renders take a slot
//! (searches with `q`/`exclude` from a smaller pool than plain feeds) and run under a time
//! budget; a request that cannot get a slot in time, or whose scan exhausts the budget, gets a
//! `503` with `Retry-After` and a reason.
//!
//! The files: [`paths`] is the one table of routes; [`routes`] builds the router from it (with
//! `405`s and `/healthz`); [`access`] checks the token; [`feeds`] answers the three feed formats
//! (cache hit, or a render in a slot under a budget); `pages` serves the index page, OPML and
//! `/api/status`; [`metrics`] counts requests and writes `/metrics`, with the poller's counters
//! read from [`crate::metrics`] (the server never imports the poller); [`lookup`] resolves
//! `?section=` values; [`query`], [`headers`] and [`cache`] parse the request and keep rendered
//! feeds. This file holds the shared state and builds the server.

pub mod access;
pub mod cache;
pub mod feeds;
pub mod headers;
pub mod images;
pub mod lookup;
pub mod metrics;
mod pages;
pub mod paths;
pub mod query;
pub mod routes;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::PollMetrics;
use crate::store::Store;
use cache::RenderCache;
use feeds::{RenderSlots, FEED_BUDGET};
use images::ImageService;
use lookup::SectionLookup;
use metrics::ServerMetrics;

pub use access::constant_time_eq;
pub use feeds::{FeedError, RENDER_WAIT, RETRY_AFTER_SECS};
pub use paths::{Format, Route, ROUTES};
pub use routes::{routes, ALLOW};

/// Everything the routes share.
pub struct AppState {
    config: RwLock<(Arc<Config>, Arc<SectionLookup>)>,
    /// The store feeds are read from.
    pub store: Arc<Store>,
    /// Rendered feeds by request.
    pub cache: RenderCache,
    /// Where "now" comes from.
    pub clock: Clock,
    /// Request counters.
    pub metrics: ServerMetrics,
    /// Poller counters, when a poller runs in this process.
    pub poll_metrics: Option<Arc<PollMetrics>>,
    /// When this state was built: the `updated` time of a feed over an empty store, which has
    /// no newer fact to report (rather than 1970).
    started: DateTime<Utc>,
    /// The time budget of one feed's store scan ([`FEED_BUDGET`] unless changed).
    feed_budget: Duration,
    /// Render slots and how long a request waits for one.
    slots: RenderSlots,
    /// Runs on the blocking thread before every feed render (tests use it to hold renders).
    render_hook: Option<RenderHook>,
    /// The image proxy, when `[server] image_proxy` is on (set at start; a reload that turns
    /// it on or off takes effect at the next start).
    pub(crate) images: Option<Arc<ImageService>>,
}

/// A function run before each feed render (see [`AppState::with_render_hook`]).
pub type RenderHook = Arc<dyn Fn() + Send + Sync>;

impl AppState {
    /// State for a config and store.
    pub fn new(config: Arc<Config>, store: Arc<Store>, clock: Clock) -> AppState {
        crate::text::warm_up();
        let started = clock();
        AppState {
            config: RwLock::new((config.clone(), Arc::new(SectionLookup::new(&config)))),
            store,
            cache: RenderCache::new(config.server.render_cache_bytes),
            clock,
            metrics: ServerMetrics::default(),
            poll_metrics: None,
            started,
            feed_budget: FEED_BUDGET,
            slots: RenderSlots::for_this_machine(),
            render_hook: None,
            images: None,
        }
    }

    /// Serves `/img/` and rewrites feed images through `images` (see [`ImageService`]).
    pub fn with_images(mut self, images: Option<ImageService>) -> AppState {
        self.images = images.map(Arc::new);
        self
    }

    /// Replaces the per-feed scan budget (tests use a zero budget to see the `503`).
    pub fn with_feed_budget(mut self, budget: Duration) -> AppState {
        self.feed_budget = budget;
        self
    }

    /// Replaces the render slots: `searches` concurrent keyword searches, `feeds` concurrent
    /// plain renders, each request waiting at most `wait` for one.
    pub fn with_render_slots(mut self, searches: usize, feeds: usize, wait: Duration) -> AppState {
        self.slots = RenderSlots::new(searches, feeds, wait);
        self
    }

    /// Runs `hook` on the blocking thread, holding the render slot, before each feed render:
    /// lets a test hold renders in flight deterministically (no sleeps) while it checks that
    /// other routes still answer.
    pub fn with_render_hook(mut self, hook: RenderHook) -> AppState {
        self.render_hook = Some(hook);
        self
    }

    /// Exposes a poller's counters on `/metrics`.
    pub fn with_poll_metrics(mut self, metrics: Arc<PollMetrics>) -> AppState {
        self.poll_metrics = Some(metrics);
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .map(|c| c.0.clone())
            .unwrap_or_else(|e| e.into_inner().0.clone())
    }

    /// The folded section labels of the configuration in force, computed once per config.
    fn lookup(&self) -> Arc<SectionLookup> {
        self.config
            .read()
            .map(|c| c.1.clone())
            .unwrap_or_else(|e| e.into_inner().1.clone())
    }

    /// Replaces the configuration (reload) and forgets every cached rendering, since titles,
    /// sources and the token may have changed.
    pub fn set_config(&self, config: Arc<Config>) {
        let lookup = Arc::new(SectionLookup::new(&config));
        match self.config.write() {
            Ok(mut guard) => *guard = (config, lookup),
            Err(e) => *e.into_inner() = (config, lookup),
        }
        self.cache.clear();
    }
}

/// Time a new connection has to deliver its first request head. A slowloris client that
/// trickles header bytes is disconnected after this, so idle sockets cannot pile up. Five
/// seconds is generous for any real client on any network.
pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an idle keep-alive connection stays open between requests. Feed readers poll
/// minutes apart, so a long keep-alive only lets idle sockets hold connection slots.
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Time a closing connection gets to finish its shutdown before it is dropped.
pub const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Connections one worker serves at once; further connections wait in the kernel's accept
/// backlog. Bounded well below the file-descriptor limit so a flood of sockets cannot make
/// `accept` fail for everyone (`/healthz` included) or exhaust memory.
pub const MAX_CONNECTIONS_PER_WORKER: usize = 4096;

/// The listen backlog: connections the kernel queues while every worker is at
/// [`MAX_CONNECTIONS_PER_WORKER`]. The listener arrives bound (by the caller, with std's
/// default backlog), so [`build`] re-issues `listen` with this value (Linux adjusts the queue
/// of a listening socket in place).
pub const BACKLOG: i32 = 1024;

/// Builds the HTTP server on an already-bound listener (port 0 in tests); the caller drives
/// it and stops it through its handle. The bounds against slow or idle clients are the
/// constants above ([`CLIENT_REQUEST_TIMEOUT`], [`KEEP_ALIVE`], [`CLIENT_DISCONNECT_TIMEOUT`],
/// [`MAX_CONNECTIONS_PER_WORKER`], [`BACKLOG`]); at least two workers run, so one busy worker
/// never leaves a connection unserved.
pub fn build(
    state: web::Data<AppState>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    socket2::SockRef::from(&listener).listen(BACKLOG)?;
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .configure(routes)
    })
    .workers(
        std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8),
    )
    .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
    .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
    .keep_alive(actix_web::http::KeepAlive::Timeout(KEEP_ALIVE))
    .max_connections(MAX_CONNECTIONS_PER_WORKER)
    .shutdown_timeout(5)
    .disable_signals()
    .listen(listener)?
    .run())
}

#[cfg(test)]
mod tests {
    use super::cache::{FeedDeps, Rendered};
    use super::feeds::uri_safe;
    use super::lookup::SectionLookup;
    use super::*;
    use actix_web::http::header::{self, HeaderValue};
    use actix_web::web::{self, Bytes};
    use chrono::TimeZone;
    use chrono::Utc;

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq("secret", "secret"));
        assert!(!constant_time_eq("secret", "secreT"));
        assert!(!constant_time_eq("secret", "secret2"));
        assert!(!constant_time_eq("", "x"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn a_config_change_forgets_cached_renderings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        let text = "[[source]]\nid = \"s\"\nname = \"S\"\n[[source.section]]\nid = \"a\"\nname = \"A\"\nurl = \"http://127.0.0.1:9/\"\nitem = \"li\"\ntitle = \"a\"\n";
        let config = Arc::new(Config::parse(text, &path).unwrap());
        let store = Arc::new(Store::temporary().unwrap());
        let state = AppState::new(config.clone(), store, crate::clock::system_clock());
        let rendered = Arc::new(Rendered::new(
            Bytes::from_static(b"x"),
            HeaderValue::from_static("\"e\""),
            HeaderValue::from_static("x"),
            0,
            HeaderValue::from_static("x"),
        ));
        state.cache.put(
            0,
            "",
            FeedDeps::default(),
            1,
            None,
            rendered,
            1,
            |_: &FeedDeps| 1,
        );
        assert_eq!(state.cache.len(), 1);
        state.set_config(config);
        assert!(state.cache.is_empty());
    }

    #[actix_web::test]
    async fn a_feed_over_an_empty_store_is_dated_when_serving_began() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        let text = "[[source]]\nid = \"s\"\nname = \"S\"\n[[source.section]]\nid = \"a\"\nname = \"A\"\nurl = \"http://127.0.0.1:9/\"\nitem = \"li\"\ntitle = \"a\"\n";
        let config = Arc::new(Config::parse(text, &path).unwrap());
        let started = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
        let now = std::sync::Mutex::new(started);
        let clock_now = Arc::new(now);
        let reading = clock_now.clone();
        let clock: Clock = Arc::new(move || *reading.lock().unwrap());
        let state = AppState::new(config, Arc::new(Store::temporary().unwrap()), clock);
        // Later requests still report when serving began, so the document stays the same.
        *clock_now.lock().unwrap() = started + chrono::Duration::hours(5);
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .app_data(web::Data::new(state))
                .configure(routes),
        )
        .await;
        let request = actix_web::test::TestRequest::get()
            .uri("/feed.atom")
            .to_request();
        let response = actix_web::test::call_service(&app, request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get(header::LAST_MODIFIED).unwrap(),
            "Sun, 01 Mar 2026 08:00:00 GMT"
        );
        let body = actix_web::test::read_body(response).await;
        let feed: atom_syndication::Feed = std::str::from_utf8(&body).unwrap().parse().unwrap();
        assert!(feed.entries().is_empty());
        assert_eq!(feed.updated().to_rfc3339(), "2026-03-01T08:00:00+00:00");
    }

    #[test]
    fn section_values_resolve_to_the_section_keys_the_store_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let section = |id: &str, name: &str| {
            format!("[[source.section]]\nid = \"{id}\"\nname = \"{name}\"\nurl = \"http://127.0.0.1:9/\"\nitem = \"li\"\ntitle = \"a\"\n")
        };
        let text = format!(
            "[[source]]\nid = \"a\"\nname = \"A\"\n{}{}[[source]]\nid = \"b\"\nname = \"B\"\n{}",
            section("politics", "时政"),
            section("world", "国际"),
            section("politics", "政治"),
        );
        let config = Config::parse(&text, &dir.path().join("feeds.toml")).unwrap();
        let lookup = SectionLookup::new(&config);
        use crate::text::fold_label;
        // An id shared by two sources reads both sections; the value itself stays (a page label
        // or a section no longer configured).
        assert_eq!(
            lookup.index_keys(&fold_label("Politics")),
            vec!["politics", "a/politics", "b/politics"]
        );
        // A name, in either script, reads its section.
        assert_eq!(
            lookup.index_keys(&fold_label("時政")),
            vec!["时政", "a/politics"]
        );
        assert_eq!(
            lookup.index_keys(&fold_label("b/politics")),
            vec!["b/politics"]
        );
        assert_eq!(lookup.index_keys("突发"), vec!["突发"]);
    }

    #[test]
    fn self_links_are_valid_uris() {
        assert_eq!(
            uri_safe("section=%E6%97%B6&limit=5"),
            "section=%E6%97%B6&limit=5"
        );
        assert_eq!(uri_safe("section=时 政"), "section=%E6%97%B6%20%E6%94%BF");
        assert_eq!(uri_safe("q=\"<x>\""), "q=%22%3Cx%3E%22");
    }
}
