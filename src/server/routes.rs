//! The router, built from the table in [`super::paths`]: a handler per route, `405` with
//! `Allow` for any other method, and `/healthz`.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{guard, web, HttpRequest, HttpResponse};

use super::feeds::{feed_atom, feed_json, feed_rss};
use super::paths::{Format, Route, ROUTES};
use super::{images, metrics, pages, query, AppState};

/// The methods every route answers (the `Allow` header of a `405`).
pub const ALLOW: &str = "GET, HEAD";

/// Registers every route of [`ROUTES`] (GET, and HEAD for link checkers; any other method gets
/// `405` with `Allow`). Feeds negotiate their own compression (cached compressed copies); every
/// other route goes through actix's `Compress` middleware.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let mut compressed = web::scope("").wrap(actix_web::middleware::Compress::default());
    for route in ROUTES {
        let get_or_head = web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
        let handler = match route {
            Route::Feed(Format::Rss) => get_or_head.to(feed_rss),
            Route::Feed(Format::Atom) => get_or_head.to(feed_atom),
            Route::Feed(Format::Json) => get_or_head.to(feed_json),
            Route::Index => get_or_head.to(pages::index),
            Route::Opml => get_or_head.to(pages::opml),
            Route::Status => get_or_head.to(pages::status),
            Route::Health => get_or_head.to(healthz),
            Route::Metrics => get_or_head.to(metrics::metrics),
            Route::Image => get_or_head.to(images::image),
        };
        let resource = web::resource(route.path())
            .default_service(web::to(method_not_allowed))
            .route(handler);
        match route {
            // Feeds negotiate their own coding; images are compressed already.
            Route::Feed(_) | Route::Image => {
                cfg.service(resource);
            }
            _ => compressed = compressed.service(resource),
        }
    }
    cfg.service(compressed);
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

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let response = HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n");
    state.metrics.record(Route::Health, started);
    response
}
