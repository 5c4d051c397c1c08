//! Who may read, and how a refusal reads: the optional `server.token` (compared in constant
//! time) and the one-line plain-text answers every route sends when it refuses (a bad request
//! is a `400`).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::config::Config;

/// A one-line plain-text answer with `status`.
pub(super) fn plain(status: StatusCode, reason: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{reason}\n"))
}

/// A one-line plain-text `400`.
pub(super) fn bad_request(reason: &str) -> HttpResponse {
    plain(StatusCode::BAD_REQUEST, reason)
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
        Some(_) => Some(plain(StatusCode::FORBIDDEN, "`token` is wrong")),
        None => Some(plain(
            StatusCode::UNAUTHORIZED,
            "this server needs `?token=` on feed URLs",
        )),
    }
}
