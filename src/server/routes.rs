//! The routes: the paths served, the router built from them, and what every route shares
//! (`405` with `Allow` for other methods, the optional token, plain-text `400`s).

use std::time::Instant;

use actix_web::http::header;
use actix_web::{guard, web, HttpRequest, HttpResponse};

use super::feeds::{feed_atom, feed_json, feed_rss};
use super::{metrics, pages, query, AppState};
use crate::config::Config;

/// The methods every route answers (the `Allow` header of a `405`).
pub const ALLOW: &str = "GET, HEAD";

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
                .service(resource("/metrics").route(get_or_head().to(metrics::metrics))),
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

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let response = HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n");
    state.metrics.record("/healthz", started);
    response
}

/// A one-line plain-text `400`.
pub(super) fn bad_request(reason: &str) -> HttpResponse {
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
pub(super) fn token_denied(config: &Config, given: Option<&str>) -> Option<HttpResponse> {
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
