//! Pages for people and tools: the index page, OPML, JSON status and Prometheus metrics.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{token_denied, AppState, Format, ROUTES};
use crate::normalize::text::{escape_html, fold_label};

/// `?token=…` to append to links when the server has a token (empty otherwise).
#[allow(clippy::result_large_err)] // the error is the response itself
fn token_param(state: &AppState, req: &HttpRequest, first: bool) -> Result<String, HttpResponse> {
    let config = state.config();
    let given = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    if let Some(denied) = token_denied(&config, given.as_deref()) {
        return Err(denied);
    }
    Ok(match &config.server.token {
        Some(token) => format!(
            "{}token={}",
            if first { '?' } else { '&' },
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        ),
        None => String::new(),
    })
}

fn feed_url(base: &str, format: Format, query: &str, token: &str) -> String {
    let mut url = format!("{base}{}", format.path());
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    if !token.is_empty() {
        url.push(if query.is_empty() { '?' } else { '&' });
        url.push_str(token.trim_start_matches(['?', '&']));
    }
    url
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `/`: sources, sections, counts, poll state, subscribe links and a filter form.
pub(super) async fn index(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let token = match token_param(&state, &req, true) {
        Ok(t) => t,
        Err(denied) => return denied,
    };
    let config = state.config();
    let base = config
        .server
        .base_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>headwire</title>\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"headwire — all sections (Atom)\" href=\"{a}\">\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"headwire — all sections (RSS)\" href=\"{r}\">\
         <link rel=\"alternate\" type=\"application/feed+json\" title=\"headwire — all sections (JSON)\" href=\"{j}\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;font-size:.9rem}}\
         .err{{color:#a00}}.ok{{color:#070}}form{{margin:1rem 0;padding:1rem;background:#f6f6f6}}label{{margin-right:1rem}}</style>\
         </head><body><h1>headwire</h1><p>{n} items stored. Merged feeds: \
         <a href=\"{a}\">Atom</a> · <a href=\"{r}\">RSS</a> · <a href=\"{j}\">JSON</a> · <a href=\"{base}/opml{token}\">OPML</a></p>",
        a = escape_html(&feed_url(&base, Format::Atom, "", &token)),
        r = escape_html(&feed_url(&base, Format::Rss, "", &token)),
        j = escape_html(&feed_url(&base, Format::Json, "", &token)),
        n = state.store.len(),
        token = escape_html(&token),
    );
    html.push_str(
        "<form method=\"get\" action=\"feed.atom\"><strong>Build a filtered feed</strong><br>\
         <label>section <input name=\"section\" placeholder=\"时政, politics\"></label>\
         <label>keywords <input name=\"q\"></label>\
         <label>exclude <input name=\"exclude\"></label>\
         <label>limit <input name=\"limit\" type=\"number\" min=\"1\" max=\"500\" value=\"50\"></label>",
    );
    if let Some(t) = &config.server.token {
        let _ = write!(
            html,
            "<input type=\"hidden\" name=\"token\" value=\"{}\">",
            escape_html(t)
        );
    }
    html.push_str("<button type=\"submit\">Open Atom feed</button></form>");
    for source in &config.sources {
        let source_query = format!("source={}", encode(&source.id));
        let _ = write!(
            html,
            "<h2>{name}</h2><p>{count} items · <a href=\"{a}\">Atom</a> · <a href=\"{r}\">RSS</a> · <a href=\"{j}\">JSON</a>",
            name = escape_html(&source.name),
            count = state.store.count_source(&source.id),
            a = escape_html(&feed_url(&base, Format::Atom, &source_query, &token)),
            r = escape_html(&feed_url(&base, Format::Rss, &source_query, &token)),
            j = escape_html(&feed_url(&base, Format::Json, &source_query, &token)),
        );
        if let Some(url) = &source.url {
            let _ = write!(
                html,
                " · <a href=\"{0}\">{0}</a>",
                escape_html(url.as_str())
            );
        }
        html.push_str("</p><table><tr><th>section</th><th>items</th><th>last success</th><th>last error</th><th>subscribe</th></tr>");
        for section in &source.sections {
            let key = section.key(source);
            let status = state.store.section_status(&key).unwrap_or_default();
            let query = format!("section={}", encode(&key));
            let error = match (&status.last_error, status.consecutive_failures) {
                (Some(e), n) if n > 0 => {
                    format!("<span class=\"err\">{} ({n}×)</span>", escape_html(e))
                }
                _ => "<span class=\"ok\">—</span>".to_string(),
            };
            let _ = write!(
                html,
                "<tr><td>{name} <small>({key})</small></td><td>{count}</td><td>{ok}</td><td>{error}</td>\
                 <td><a href=\"{a}\">Atom</a> <a href=\"{r}\">RSS</a> <a href=\"{j}\">JSON</a></td></tr>",
                name = escape_html(&section.name),
                key = escape_html(&key),
                count = state.store.count_label(&fold_label(&key)),
                ok = status
                    .last_success
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "never".into()),
                a = escape_html(&feed_url(&base, Format::Atom, &query, &token)),
                r = escape_html(&feed_url(&base, Format::Rss, &query, &token)),
                j = escape_html(&feed_url(&base, Format::Json, &query, &token)),
            );
        }
        html.push_str("</table>");
    }
    html.push_str("<p><a href=\"api/status\">status (JSON)</a> · <a href=\"metrics\">metrics</a></p></body></html>\n");
    state.metrics.record("/", started);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// `/opml`: one outline per section feed, grouped by source.
pub(super) async fn opml(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let token = match token_param(&state, &req, false) {
        Ok(t) => t,
        Err(denied) => return denied,
    };
    let config = state.config();
    let base = config.server.base_url.as_str().trim_end_matches('/');
    let x = |s: &str| escape_html(&crate::render::xml_text(s));
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\"><head><title>headwire feeds</title></head><body>\n",
    );
    for source in &config.sources {
        let _ = writeln!(
            body,
            "<outline text=\"{0}\" title=\"{0}\">",
            x(&source.name)
        );
        for section in &source.sections {
            let key = section.key(source);
            let xml_url = format!("{base}/feed.atom?section={}{token}", encode(&key));
            let html_url = section.url.as_str();
            let _ = writeln!(
                body,
                "<outline type=\"rss\" text=\"{t}\" title=\"{t}\" xmlUrl=\"{u}\" htmlUrl=\"{h}\"/>",
                t = x(&format!("{} · {}", source.name, section.name)),
                u = x(&xml_url),
                h = x(html_url),
            );
        }
        body.push_str("</outline>\n");
    }
    body.push_str("</body></opml>\n");
    state.metrics.record("/opml", started);
    HttpResponse::Ok()
        .content_type("text/x-opml; charset=utf-8")
        .body(body)
}

/// `/api/status`: poll state per section.
pub(super) async fn status(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    if let Err(denied) = token_param(&state, &req, true) {
        return denied;
    }
    let config = state.config();
    let sections: Vec<serde_json::Value> = config
        .sections()
        .map(|(source, section)| {
            let key = section.key(source);
            let s = state.store.section_status(&key).unwrap_or_default();
            json!({
                "source": source.id,
                "section": section.id,
                "key": key,
                "name": section.name,
                "url": section.url.as_str(),
                "interval_seconds": section.interval.as_secs(),
                "last_attempt": s.last_attempt,
                "last_success": s.last_success,
                "consecutive_failures": s.consecutive_failures,
                "last_error_kind": s.last_error_kind,
                "last_error": s.last_error,
                "last_found": s.last_found,
                "last_new": s.last_new,
                "items_stored": state.store.count_label(&fold_label(&key)),
            })
        })
        .collect();
    let body = json!({ "items": state.store.len(), "sections": sections });
    state.metrics.record("/api/status", started);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.to_string())
}

/// `/metrics`: Prometheus text format.
pub(super) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let mut out = String::new();
    out.push_str("# HELP headwire_http_requests_total Requests served, by route.\n# TYPE headwire_http_requests_total counter\n");
    for (i, route) in ROUTES.iter().enumerate() {
        let _ = writeln!(
            out,
            "headwire_http_requests_total{{route=\"{route}\"}} {}",
            state.metrics.routes[i].requests.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP headwire_http_request_duration_seconds_sum Time spent serving, by route.\n# TYPE headwire_http_request_duration_seconds_sum counter\n");
    for (i, route) in ROUTES.iter().enumerate() {
        let _ = writeln!(
            out,
            "headwire_http_request_duration_seconds_sum{{route=\"{route}\"}} {:.6}",
            state.metrics.routes[i].micros.load(Ordering::Relaxed) as f64 / 1e6
        );
    }
    let _ = writeln!(
        out,
        "# TYPE headwire_feed_renders_total counter\nheadwire_feed_renders_total {}\n# TYPE headwire_feed_cache_hits_total counter\nheadwire_feed_cache_hits_total {}",
        state.metrics.renders.load(Ordering::Relaxed),
        state.metrics.cache_hits.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# TYPE headwire_items gauge\nheadwire_items {}",
        state.store.len()
    );
    if let Some(poll) = &state.poll_metrics {
        let polls = poll.polls.load(Ordering::Relaxed);
        let failures = poll.failures.load(Ordering::Relaxed);
        let unchanged = poll.unchanged.load(Ordering::Relaxed);
        let new_items = poll.new_items.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# TYPE headwire_polls_total counter\nheadwire_polls_total {polls}\n\
             # TYPE headwire_poll_failures_total counter\nheadwire_poll_failures_total {failures}\n\
             # TYPE headwire_polls_unchanged_total counter\nheadwire_polls_unchanged_total {unchanged}\n\
             # TYPE headwire_new_items_total counter\nheadwire_new_items_total {new_items}"
        );
    }
    state.metrics.record("/metrics", started);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}
