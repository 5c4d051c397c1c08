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

pub mod cache;
pub mod headers;
mod pages;
pub mod query;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{guard, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::xxh3_64;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::PollMetrics;
use crate::render::{self, FeedMeta, SourceInfo};
use crate::store::{Item, Query, Store, StoreError};
use actix_web::web::Bytes;
use cache::{FeedDeps, RenderCache, Rendered};
use query::{parse_query, FeedQuery, QueryError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long one feed's store scan may run. A plain section feed at a million items renders in
/// milliseconds; only a keyword search that matches little scans the whole index (about 100 µs
/// per item, so ~10 s at 100k items). Two seconds is long past any feed reader's patience for
/// a good answer and short enough that a handful of such searches cannot occupy the machine.
pub const FEED_BUDGET: Duration = Duration::from_secs(2);

/// How long a feed request waits for a render slot before it is told the server is busy.
pub const RENDER_WAIT: Duration = Duration::from_secs(3);

/// `Retry-After` (seconds) on a `503`: about one budget plus a queue's worth of waiting.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The methods every route answers (the `Allow` header of a `405`).
pub const ALLOW: &str = "GET, HEAD";

/// Why a feed request got no rendering: each variant is the response's one-line reason.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The query string was refused (`400`).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The store scan passed its deadline (`503`).
    #[error("the search ran out of its {} time budget after examining {examined} items; narrow it with section= or since=", human_duration(*budget))]
    OverBudget {
        /// The budget that ran out.
        budget: Duration,
        /// Index entries examined before it did.
        examined: usize,
    },
    /// Every render slot of the query's kind stayed taken (`503`).
    #[error("the server is busy: all {slots} {kind} render slots stayed taken for {}; retry shortly", human_duration(*waited))]
    Busy {
        /// "search" or "feed".
        kind: &'static str,
        /// Slots of that kind.
        slots: usize,
        /// How long the request waited.
        waited: Duration,
    },
    /// The store failed (`500`; the detail goes to the log, not to the client).
    #[error("the store could not be read; see the server log")]
    Store(#[source] StoreError),
    /// The render produced a header value that cannot be sent (`500`).
    #[error("the feed could not be rendered; see the server log")]
    Render(String),
    /// The blocking task died before it answered (`500`).
    #[error("the render task stopped before it finished; see the server log")]
    Task,
}

impl FeedError {
    fn response(&self) -> HttpResponse {
        let mut builder = match self {
            FeedError::Query(_) => HttpResponse::BadRequest(),
            FeedError::OverBudget { .. } | FeedError::Busy { .. } => {
                let mut b = HttpResponse::ServiceUnavailable();
                b.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
                b
            }
            FeedError::Store(e) => {
                tracing::error!("feed render failed: {e}");
                HttpResponse::InternalServerError()
            }
            FeedError::Render(e) => {
                tracing::error!("feed render failed: {e}");
                HttpResponse::InternalServerError()
            }
            FeedError::Task => {
                tracing::error!("a feed render task panicked or was cancelled");
                HttpResponse::InternalServerError()
            }
        };
        builder
            .content_type("text/plain; charset=utf-8")
            .body(format!("{self}\n"))
    }
}

/// `2 s`, `250 ms`: durations in reasons, for people.
fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Bounded pools of feed renders: keyword searches (which may scan the whole index) and plain
/// feeds (which stop after `limit` items) queue separately, so searches cannot take every
/// slot a cheap feed needs, nor every core.
struct RenderSlots {
    searches: Arc<Semaphore>,
    search_count: usize,
    feeds: Arc<Semaphore>,
    feed_count: usize,
    wait: Duration,
}

impl RenderSlots {
    fn new(searches: usize, feeds: usize, wait: Duration) -> RenderSlots {
        let (searches, feeds) = (searches.max(1), feeds.max(1));
        RenderSlots {
            searches: Arc::new(Semaphore::new(searches)),
            search_count: searches,
            feeds: Arc::new(Semaphore::new(feeds)),
            feed_count: feeds,
            wait,
        }
    }

    /// Defaults for this machine: half the cores for searches (at least one), four feed
    /// renders per core.
    fn for_this_machine() -> RenderSlots {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        RenderSlots::new(cores / 2, cores * 4, RENDER_WAIT)
    }

    async fn acquire(&self, search: bool) -> Result<OwnedSemaphorePermit, FeedError> {
        let (pool, slots, kind) = if search {
            (&self.searches, self.search_count, "search")
        } else {
            (&self.feeds, self.feed_count, "feed")
        };
        let busy = FeedError::Busy {
            kind,
            slots,
            waited: self.wait,
        };
        match tokio::time::timeout(self.wait, pool.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // A closed semaphore (never closed here) or the wait ran out.
            Ok(Err(_)) | Err(_) => Err(busy),
        }
    }
}

/// The feed formats served (the discriminant is the route's index in `ROUTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RSS 2.0.
    Rss,
    /// Atom 1.0.
    Atom,
    /// JSON Feed 1.1.
    Json,
}

impl Format {
    /// The path that serves this format.
    pub fn path(self) -> &'static str {
        match self {
            Format::Rss => "/feed.rss",
            Format::Atom => "/feed.atom",
            Format::Json => "/feed.json",
        }
    }

    /// The response content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// Request counters by route, for `/metrics`.
#[derive(Debug, Default)]
pub struct ServerMetrics {
    routes: [RouteMetrics; ROUTES.len()],
    /// Feed renders (cache misses).
    pub renders: AtomicU64,
    /// Feed cache hits.
    pub cache_hits: AtomicU64,
    /// Feed renders that ran out of their time budget.
    pub over_budget: AtomicU64,
    /// Feed requests that found no free render slot in time.
    pub busy: AtomicU64,
}

#[derive(Debug, Default)]
struct RouteMetrics {
    requests: AtomicU64,
    micros: AtomicU64,
}

const ROUTES: [&str; 8] = [
    "/feed.rss",
    "/feed.atom",
    "/feed.json",
    "/",
    "/opml",
    "/api/status",
    "/healthz",
    "/metrics",
];

impl ServerMetrics {
    fn record(&self, route: &str, started: Instant) {
        if let Some(i) = ROUTES.iter().position(|r| *r == route) {
            self.record_at(i, started);
        }
    }

    /// Counts a request for `ROUTES[index]` (feeds pass their index: no string search).
    fn record_at(&self, index: usize, started: Instant) {
        if let Some(route) = self.routes.get(index) {
            route.requests.fetch_add(1, Ordering::Relaxed);
            route
                .micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
    }
}

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
}

/// A function run before each feed render (see [`AppState::with_render_hook`]).
pub type RenderHook = Arc<dyn Fn() + Send + Sync>;

impl AppState {
    /// State for a config and store.
    pub fn new(config: Arc<Config>, store: Arc<Store>, clock: Clock) -> AppState {
        crate::normalize::text::warm_up();
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
        }
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

/// Registers every route (GET, and HEAD for link checkers; any other method gets `405` with
/// `Allow`). Feeds negotiate their own compression (cached compressed copies); every other
/// route goes through actix's `Compress` middleware.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let get_or_head = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
    let resource =
        |path: &str| web::resource(path.to_string()).default_service(web::to(method_not_allowed));
    cfg.service(resource("/feed.rss").route(get_or_head().to(feed_rss)))
        .service(resource("/feed.atom").route(get_or_head().to(feed_atom)))
        .service(resource("/feed.json").route(get_or_head().to(feed_json)))
        .service(
            web::scope("")
                .wrap(actix_web::middleware::Compress::default())
                .service(resource("/healthz").route(get_or_head().to(healthz)))
                .service(resource("/").route(get_or_head().to(pages::index)))
                .service(resource("/opml").route(get_or_head().to(pages::opml)))
                .service(resource("/api/status").route(get_or_head().to(pages::status)))
                .service(resource("/metrics").route(get_or_head().to(pages::metrics))),
        );
}

/// `405` for a known path asked with a method other than GET or HEAD.
async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, ALLOW))
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "method {} is not allowed on {}; use GET or HEAD\n",
            query::shown_text(req.method().as_str()),
            query::shown_text(req.path())
        ))
}

async fn feed_rss(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    feed(&req, &state, Format::Rss).await
}

async fn feed_atom(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    feed(&req, &state, Format::Atom).await
}

async fn feed_json(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    feed(&req, &state, Format::Json).await
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let response = HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n");
    state.metrics.record("/healthz", started);
    response
}

/// A one-line plain-text `400`.
fn bad_request(reason: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/plain; charset=utf-8")
        .body(format!("{reason}\n"))
}

/// Constant-time string comparison (token checks must not leak a prefix through timing).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// Checks the optional `server.token`; `None` when access is allowed.
fn token_denied(config: &Config, given: Option<&str>) -> Option<HttpResponse> {
    let expected = config.server.token.as_deref()?;
    match given {
        Some(token) if constant_time_eq(token, expected) => None,
        Some(_) => Some(
            HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .body("`token` is wrong\n"),
        ),
        None => Some(
            HttpResponse::Unauthorized()
                .content_type("text/plain; charset=utf-8")
                .body("this server needs `?token=` on feed URLs\n"),
        ),
    }
}

/// Formats a time as an HTTP date.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn unix_minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

/// Serves one feed request. The hit path (the common case) is a cache lookup keyed by the
/// raw query string and a write of shared bytes, on the async worker; parsing, the token check
/// and rendering happen only on a miss, the render on the blocking pool, and only successful
/// renderings are cached.
async fn feed(req: &HttpRequest, state: &web::Data<AppState>, format: Format) -> HttpResponse {
    let started = Instant::now();
    let raw_query = req.query_string();
    let hit = state.cache.get(
        format as u8,
        raw_query,
        |deps| state.store.feed_generation(&deps.labels, &deps.sources),
        || unix_minute((state.clock)()),
    );
    let rendered = match hit {
        Some(hit) => {
            state.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
            hit
        }
        None => match render_miss(req, state, format).await {
            Ok(rendered) => rendered,
            Err(response) => {
                state.metrics.record_at(format as usize, started);
                return response;
            }
        },
    };
    let response = respond(req, format, &rendered);
    state.metrics.record_at(format as usize, started);
    response
}

/// What a render needs of the request (an `HttpRequest` cannot leave its worker thread).
struct RequestParts {
    path: String,
    query: String,
}

/// Parses, checks the token, renders (off the worker, in a slot, under the budget) and caches
/// a feed that was not in the cache.
#[allow(clippy::result_large_err)] // the error is the response to send
async fn render_miss(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    format: Format,
) -> Result<Arc<Rendered>, HttpResponse> {
    let config = state.config();
    let now = (state.clock)();
    let known = |id: &str| config.sources.iter().any(|s| s.id == id);
    let query =
        parse_query(req.query_string(), now, &known).map_err(|e| FeedError::from(e).response())?;
    if let Some(denied) = token_denied(&config, query.token.as_deref()) {
        return Err(denied);
    }
    let search = !query.words.is_empty() || !query.exclude.is_empty();
    let permit = state.slots.acquire(search).await.map_err(|e| {
        state.metrics.busy.fetch_add(1, Ordering::Relaxed);
        e.response()
    })?;
    let parts = RequestParts {
        path: req.path().to_string(),
        query: req.query_string().to_string(),
    };
    let task_state = state.clone();
    let outcome = web::block(move || {
        // The permit moves here so the slot stays taken until the render really ends, even
        // if the client goes away and this request's future is dropped.
        let _permit = permit;
        if let Some(hook) = &task_state.render_hook {
            hook();
        }
        let (rendered, deps, generation) =
            render_feed(&parts, &task_state, &config, &query, format)?;
        let rendered = Arc::new(rendered);
        task_state.metrics.renders.fetch_add(1, Ordering::Relaxed);
        let store = &task_state.store;
        task_state.cache.put(
            format as u8,
            &parts.query,
            deps,
            generation,
            query.since_relative.then(|| unix_minute(now)),
            rendered.clone(),
            |deps| store.feed_generation(&deps.labels, &deps.sources),
        );
        Ok::<_, FeedError>(rendered)
    })
    .await
    .unwrap_or(Err(FeedError::Task));
    outcome.map_err(|e| {
        if matches!(e, FeedError::OverBudget { .. }) {
            state.metrics.over_budget.fetch_add(1, Ordering::Relaxed);
        }
        e.response()
    })
}

fn respond(req: &HttpRequest, format: Format, rendered: &Rendered) -> HttpResponse {
    let headers = req.headers();
    let bytes = |name| headers.get_all(name).map(HeaderValue::as_bytes);
    // If-None-Match, when sent, decides alone (RFC 9110 §13.2.2); a malformed one is ignored
    // in the safe direction (a full answer).
    let not_modified = if headers.contains_key(header::IF_NONE_MATCH) {
        headers::if_none_match(bytes(header::IF_NONE_MATCH), rendered.etag.as_bytes())
            == headers::NoneMatch::Matches
    } else {
        headers::if_modified_since(bytes(header::IF_MODIFIED_SINCE))
            .is_some_and(|since| rendered.modified_unix <= since)
    };
    let mut builder = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    builder
        .insert_header((header::ETAG, rendered.etag.clone()))
        .insert_header((header::LAST_MODIFIED, rendered.last_modified.clone()))
        .insert_header((header::CACHE_CONTROL, rendered.cache_control.clone()))
        .insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
    if not_modified {
        return builder.finish();
    }
    let coding = headers::negotiate_coding(bytes(header::ACCEPT_ENCODING));
    let (body, coding) = rendered.body_in(coding);
    if let Some(value) = coding.header() {
        builder.insert_header((header::CONTENT_ENCODING, value));
    }
    builder
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        ))
        .body(body)
}

/// Renders a feed; returns it with what it was built from and that feed's generation, taken
/// before the store was read (a commit in between only makes the next request render again).
fn render_feed(
    req: &RequestParts,
    state: &AppState,
    config: &Config,
    query: &FeedQuery,
    format: Format,
) -> Result<(Rendered, FeedDeps, u64), FeedError> {
    let lookup_sections = state.lookup();
    let mut labels: Vec<String> = Vec::new();
    for key in query
        .sections
        .iter()
        .flat_map(|s| lookup_sections.index_keys(s))
    {
        if !labels.contains(&key) {
            labels.push(key);
        }
    }
    let deps = FeedDeps {
        labels: labels.clone(),
        sources: query.sources.clone(),
    };
    let generation = state.store.feed_generation(&deps.labels, &deps.sources);
    let budget = state.feed_budget;
    let store_query = Query {
        labels,
        sources: query.sources.clone(),
        since: query.since,
        words: query.words.clone(),
        exclude: query.exclude.clone(),
        limit: query.limit,
        deadline: Instant::now().checked_add(budget),
    };
    let items = state
        .store
        .query(&store_query, &|_: &Item| true)
        .map_err(|e| match e {
            StoreError::OverBudget { examined } => FeedError::OverBudget { budget, examined },
            other => FeedError::Store(other),
        })?;
    let lookup = |id: &str| {
        config
            .sources
            .iter()
            .find(|s| s.id == id)
            .map(|s| SourceInfo {
                id: s.id.clone(),
                name: s.name.clone(),
                url: s.url.as_ref().map(|u| u.to_string()),
            })
    };
    let updated = items
        .iter()
        .map(|i| i.updated.max(i.published))
        .max()
        .or_else(|| state.store.last_change())
        .unwrap_or(state.started);
    let interval = min_interval(config, &lookup_sections, &items, query);
    let base = config.server.base_url.as_str().trim_end_matches('/');
    let path = &req.path;
    let self_url = if req.query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{}", uri_safe(&req.query))
    };
    let token_suffix = match (&config.server.token, &query.token) {
        (Some(_), Some(token)) => format!(
            "?token={}",
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        ),
        _ => String::new(),
    };
    let meta = FeedMeta {
        title: feed_title(config, &lookup_sections, query),
        site_url: format!("{base}/{token_suffix}"),
        self_url,
        id: format!(
            "urn:headwire:feed:{:016x}",
            xxh3_64(query.cache_key().as_bytes())
        ),
        updated,
        ttl_minutes: interval.as_secs().div_ceil(60),
    };
    let body = match format {
        Format::Rss => render::rss::render(&items, &meta, &lookup),
        Format::Atom => render::atom::render(&items, &meta, &lookup),
        Format::Json => render::json::render(&items, &meta, &lookup),
    };
    let header = |text: String| {
        HeaderValue::from_str(&text)
            .map_err(|e| FeedError::Render(format!("header value {text:?}: {e}")))
    };
    // The body's hash: a re-render with the same items keeps its ETag, so readers keep
    // getting 304s however often other feeds change.
    let etag = header(format!("\"{:016x}\"", xxh3_64(body.as_bytes())))?;
    let max_age = interval.as_secs().max(1);
    let rendered = Rendered::new(
        Bytes::from(body),
        etag,
        header(http_date(updated))?,
        updated.timestamp(),
        header(cache_control(max_age))?,
    );
    Ok((rendered, deps, generation))
}

/// `Cache-Control` for a feed: any shared cache may keep it (`public`) for `max_age` seconds
/// (the shortest poll interval among its sections, so nothing is missed for longer than the
/// poll itself would miss it), and may serve it stale for as long again while it revalidates in
/// the background (`stale-while-revalidate`, RFC 5861), so a reverse proxy in front never makes
/// a reader wait for headwire.
fn cache_control(max_age: u64) -> String {
    format!("public, max-age={max_age}, stale-while-revalidate={max_age}")
}

/// The request's query as it appeared, with any byte a URI may not carry (non-ASCII text sent
/// raw by a lenient client, spaces, quotes, angle brackets) percent-encoded, so the self link
/// is the requested URL and still a valid URI.
fn uri_safe(query: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_byte = |b: u8| {
        b <= b' '
            || b >= 0x7F
            || matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
    };
    if !query.bytes().any(unsafe_byte) {
        return std::borrow::Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len() * 3);
    for b in query.bytes() {
        if unsafe_byte(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether a configured section answers a folded `?section=` value (its key, id or name).
/// Every configured section's folded labels (`source/section` key, id, name), computed once per
/// configuration: folding runs the traditional→simplified tables, far too slow to repeat for
/// every section on every rendered feed.
pub struct SectionLookup {
    /// Folded label → indexes into `sections`.
    by_label: std::collections::HashMap<String, Vec<usize>>,
    /// `source/section` key → index into `sections`.
    by_key: std::collections::HashMap<String, usize>,
    /// (source id, section name, poll interval) in config order.
    sections: Vec<(String, String, std::time::Duration)>,
    /// The folded `source/section` key of each entry of `sections`: what the store indexes.
    folded_keys: Vec<String>,
}

impl SectionLookup {
    /// Folds every section's labels of `config`.
    pub fn new(config: &Config) -> SectionLookup {
        use crate::normalize::text::fold_label;
        let mut lookup = SectionLookup {
            by_label: std::collections::HashMap::new(),
            by_key: std::collections::HashMap::new(),
            sections: Vec::new(),
            folded_keys: Vec::new(),
        };
        for (i, (source, section)) in config.sections().enumerate() {
            let key = section.key(source);
            for label in [
                fold_label(&key),
                fold_label(&section.id),
                fold_label(&section.name),
            ] {
                let entry = lookup.by_label.entry(label).or_default();
                if !entry.contains(&i) {
                    entry.push(i);
                }
            }
            lookup.folded_keys.push(fold_label(&key));
            lookup.by_key.insert(key, i);
            lookup
                .sections
                .push((source.id.clone(), section.name.clone(), section.interval));
        }
        lookup
    }

    /// Sections whose key, id or name folds to `label`.
    fn matching(
        &self,
        label: &str,
    ) -> impl Iterator<Item = &(String, String, std::time::Duration)> {
        self.by_label
            .get(label)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.sections.get(i))
    }

    /// The store label keys a folded `?section=` value reads: the value itself (a page label, or
    /// the key of a section no longer configured) and the key of every configured section whose
    /// key, id or name folds to it. The store indexes only section keys and page labels.
    pub fn index_keys(&self, label: &str) -> Vec<String> {
        let mut keys = vec![label.to_string()];
        for &i in self.by_label.get(label).into_iter().flatten() {
            if let Some(key) = self.folded_keys.get(i) {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        keys
    }

    /// The poll interval of the section with this `source/section` key.
    fn interval_of(&self, key: &str) -> Option<std::time::Duration> {
        self.by_key
            .get(key)
            .and_then(|&i| self.sections.get(i))
            .map(|s| s.2)
    }
}

/// The shortest poll interval among the sections behind a response: the sections its items
/// were seen in, else (an empty response) the sections the query names, else every section of
/// the requested sources — so readers are told to come back no sooner than new items can
/// appear.
fn min_interval(
    config: &Config,
    lookup: &SectionLookup,
    items: &[Item],
    query: &FeedQuery,
) -> std::time::Duration {
    let from_items = items
        .iter()
        .flat_map(|i| i.sections.iter())
        .filter_map(|key| lookup.interval_of(key))
        .min();
    let in_sources =
        |source_id: &str| query.sources.is_empty() || query.sources.iter().any(|s| s == source_id);
    let named = || {
        query
            .sections
            .iter()
            .flat_map(|label| lookup.matching(label))
            .filter(|(source_id, _, _)| in_sources(source_id))
            .map(|(_, _, interval)| *interval)
            .min()
    };
    let all = || {
        config
            .sections()
            .filter(|(source, _)| in_sources(&source.id))
            .map(|(_, s)| s.interval)
            .min()
    };
    from_items
        .or_else(named)
        .or_else(all)
        .unwrap_or(crate::config::DEFAULT_INTERVAL)
}

fn feed_title(config: &Config, lookup: &SectionLookup, query: &FeedQuery) -> String {
    let mut parts = Vec::new();
    for id in &query.sources {
        if let Some(source) = config.sources.iter().find(|s| &s.id == id) {
            parts.push(source.name.clone());
        }
    }
    for section in &query.sections {
        let name = lookup
            .matching(section)
            .next()
            .map(|(_, name, _)| name.clone())
            .unwrap_or_else(|| section.clone());
        parts.push(name);
    }
    if !query.words.is_empty() {
        parts.push(format!("“{}”", query.words.join(" ")));
    }
    if parts.is_empty() {
        "headwire — all sections".to_string()
    } else {
        format!("headwire — {}", parts.join(" · "))
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
    use super::*;
    use chrono::TimeZone;

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
        use crate::normalize::text::fold_label;
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
        assert!(
            ROUTES[Format::Rss as usize] == Format::Rss.path()
                && ROUTES[Format::Atom as usize] == Format::Atom.path()
                && ROUTES[Format::Json as usize] == Format::Json.path()
        );
    }
}
