//! The feeds: `/feed.rss`, `/feed.atom` and `/feed.json`, merged newest first and filtered by
//! the query.
//!
//! A request that repeats one already answered is a cache lookup keyed by the raw query string
//! and a write of shared bytes ([`super::cache`]); anything else is parsed, token-checked, then
//! rendered on the blocking pool in a render slot (keyword searches from a smaller pool than
//! plain feeds) under a time budget, and cached when it succeeds. Every answer carries a strong
//! `ETag` (the body's hash), `Last-Modified` and `Cache-Control`, and a revalidation that
//! matches gets a `304`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use xxhash_rust::xxh3::xxh3_64;

use super::access::token_denied;
use super::cache::{FeedDeps, Rendered};
use super::headers;
use super::lookup::SectionLookup;
use super::paths::{Format, Route};
use super::query::{parse_query, FeedQuery, QueryError};
use super::AppState;
use crate::config::Config;
use crate::render::{self, FeedMeta, SourceInfo};
use crate::store::{Item, Query, StoreError};

/// How long one feed's store scan may run. A plain section feed at a million items renders in
/// milliseconds; only a keyword search that matches little scans the whole index (about 100 µs
/// per item, so ~10 s at 100k items). Two seconds is long past any feed reader's patience for
/// a good answer and short enough that a handful of such searches cannot occupy the machine.
pub const FEED_BUDGET: Duration = Duration::from_secs(2);

/// How long a feed request waits for a render slot before it is told the server is busy.
pub const RENDER_WAIT: Duration = Duration::from_secs(3);

/// `Retry-After` (seconds) on a `503`: about one budget plus a queue's worth of waiting.
pub const RETRY_AFTER_SECS: u64 = 5;

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
    Render {
        /// The header value.
        value: String,
        /// Why it cannot be sent.
        #[source]
        source: header::InvalidHeaderValue,
    },
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
            FeedError::Render { value, source } => {
                tracing::error!("feed render failed: header value {value:?}: {source}");
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
pub(super) struct RenderSlots {
    searches: Arc<Semaphore>,
    search_count: usize,
    feeds: Arc<Semaphore>,
    feed_count: usize,
    wait: Duration,
}

impl RenderSlots {
    pub(super) fn new(searches: usize, feeds: usize, wait: Duration) -> RenderSlots {
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
    pub(super) fn for_this_machine() -> RenderSlots {
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

fn unix_minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

pub(super) async fn feed_rss(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    feed(&req, &state, Format::Rss).await
}

pub(super) async fn feed_atom(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    feed(&req, &state, Format::Atom).await
}

pub(super) async fn feed_json(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    feed(&req, &state, Format::Json).await
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
                state.metrics.record(Route::Feed(format), started);
                return response;
            }
        },
    };
    let response = respond(req, format, &rendered);
    state.metrics.record(Route::Feed(format), started);
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
            store.generation(),
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
        with_text: !query.summary_only && lookup_sections.any_full_text,
        labels,
        sources: query.sources.clone(),
        since: query.since,
        words: query.words.clone(),
        exclude: query.exclude.clone(),
        limit: query.limit,
        deadline: Instant::now().checked_add(budget),
    };
    let mut items = state
        .store
        .query(&store_query, &|_: &Item| true)
        .map_err(|e| match e {
            StoreError::OverBudget { examined } => FeedError::OverBudget { budget, examined },
            other => FeedError::Store(other),
        })?;
    if let Some(images) = &state.images {
        items.iter_mut().for_each(|item| images.rewrite(item));
    }
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
        HeaderValue::from_str(&text).map_err(|source| FeedError::Render {
            value: text.clone(),
            source,
        })
    };
    // The body's hash: a re-render with the same items keeps its ETag, so readers keep
    // getting 304s however often other feeds change.
    let etag = header(format!("\"{:016x}\"", xxh3_64(body.as_bytes())))?;
    let max_age = interval.as_secs().max(1);
    let rendered = Rendered::new(
        Bytes::from(body),
        etag,
        header(crate::http_date::format(updated))?,
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
pub(super) fn uri_safe(query: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::utf8_percent_encode(query, NOT_IN_URI).into()
}

/// Bytes a URI may not carry as they are: controls, space, non-ASCII (always encoded) and
/// `"<>\^`{|}` (RFC 3986 leaves them out); `%` stays, as the query's own escapes do.
const NOT_IN_URI: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

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
