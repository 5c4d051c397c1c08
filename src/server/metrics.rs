//! Request counters by route, and `/metrics` in the Prometheus text format (request counts and
//! time by route, feed renders and cache hits, and the poller's counters when a poller runs in
//! this process).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::{web, HttpResponse};

use super::paths::{Route, ROUTES};
use super::AppState;

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
pub(super) struct RouteMetrics {
    requests: AtomicU64,
    micros: AtomicU64,
}

impl ServerMetrics {
    /// Counts a request for `route` and the time it took since `started`.
    pub(super) fn record(&self, route: Route, started: Instant) {
        if let Some(route) = self.routes.get(route.index()) {
            route.requests.fetch_add(1, Ordering::Relaxed);
            route
                .micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
    }
}

/// `/metrics`: Prometheus text format.
pub(super) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let mut out = String::new();
    out.push_str("# HELP headwire_http_requests_total Requests served, by route.\n# TYPE headwire_http_requests_total counter\n");
    for (i, route) in ROUTES.iter().map(|r| r.path()).enumerate() {
        let _ = writeln!(
            out,
            "headwire_http_requests_total{{route=\"{route}\"}} {}",
            state.metrics.routes[i].requests.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP headwire_http_request_duration_seconds Time spent serving, by route.\n# TYPE headwire_http_request_duration_seconds summary\n");
    for (i, route) in ROUTES.iter().map(|r| r.path()).enumerate() {
        let _ = writeln!(
            out,
            "headwire_http_request_duration_seconds_sum{{route=\"{route}\"}} {:.6}\n\
             headwire_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
            state.metrics.routes[i].micros.load(Ordering::Relaxed) as f64 / 1e6,
            state.metrics.routes[i].requests.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP headwire_feed_renders_total Feed renders (render-cache misses).\n\
         # TYPE headwire_feed_renders_total counter\nheadwire_feed_renders_total {}\n\
         # HELP headwire_feed_cache_hits_total Feed requests answered from the render cache.\n\
         # TYPE headwire_feed_cache_hits_total counter\nheadwire_feed_cache_hits_total {}\n\
         # HELP headwire_feed_cache_bytes Bytes held by the render cache.\n\
         # TYPE headwire_feed_cache_bytes gauge\nheadwire_feed_cache_bytes {}\n\
         # HELP headwire_feed_over_budget_total Feed renders stopped by their time budget (503).\n\
         # TYPE headwire_feed_over_budget_total counter\nheadwire_feed_over_budget_total {}\n\
         # HELP headwire_feed_busy_total Feed requests that found no free render slot (503).\n\
         # TYPE headwire_feed_busy_total counter\nheadwire_feed_busy_total {}",
        state.metrics.renders.load(Ordering::Relaxed),
        state.metrics.cache_hits.load(Ordering::Relaxed),
        state.cache.bytes(),
        state.metrics.over_budget.load(Ordering::Relaxed),
        state.metrics.busy.load(Ordering::Relaxed)
    );
    let texts = state.store.text_counts();
    let _ = writeln!(
        out,
        "# HELP headwire_items Items in the store.\n# TYPE headwire_items gauge\nheadwire_items {}\n\
         # HELP headwire_full_texts Items by full-text state (stored, pending, failed).\n\
         # TYPE headwire_full_texts gauge\n\
         headwire_full_texts{{state=\"stored\"}} {}\n\
         headwire_full_texts{{state=\"pending\"}} {}\n\
         headwire_full_texts{{state=\"failed\"}} {}",
        state.store.len(),
        texts.have,
        texts.pending,
        texts.failed
    );
    if let Some(images) = &state.images {
        let (count, bytes) = images.cached();
        let _ = writeln!(
            out,
            "# HELP headwire_image_cache_entries Images held by the image proxy's cache.\n\
             # TYPE headwire_image_cache_entries gauge\nheadwire_image_cache_entries {count}\n\
             # HELP headwire_image_cache_bytes Bytes held by the image proxy's cache.\n\
             # TYPE headwire_image_cache_bytes gauge\nheadwire_image_cache_bytes {bytes}"
        );
    }
    if let Some(poll) = &state.poll_metrics {
        let polls = poll.polls.load(Ordering::Relaxed);
        let failures = poll.failures.load(Ordering::Relaxed);
        let unchanged = poll.unchanged.load(Ordering::Relaxed);
        let new_items = poll.new_items.load(Ordering::Relaxed);
        let texts_fetched = poll.texts_fetched.load(Ordering::Relaxed);
        let texts_failed = poll.texts_failed.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP headwire_polls_total Section polls finished.\n\
             # TYPE headwire_polls_total counter\nheadwire_polls_total {polls}\n\
             # HELP headwire_poll_failures_total Section polls that failed.\n\
             # TYPE headwire_poll_failures_total counter\nheadwire_poll_failures_total {failures}\n\
             # HELP headwire_polls_unchanged_total Polls answered 304 or with an unchanged body.\n\
             # TYPE headwire_polls_unchanged_total counter\nheadwire_polls_unchanged_total {unchanged}\n\
             # HELP headwire_new_items_total Items created by polls.\n\
             # TYPE headwire_new_items_total counter\nheadwire_new_items_total {new_items}\n\
             # HELP headwire_full_text_fetches_total Story pages fetched for their full text.\n\
             # TYPE headwire_full_text_fetches_total counter\n\
             headwire_full_text_fetches_total{{result=\"stored\"}} {texts_fetched}\n\
             headwire_full_text_fetches_total{{result=\"failed\"}} {texts_failed}"
        );
    }
    state.metrics.record(Route::Metrics, started);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}
