//! Pages for people and tools: the index page, OPML, JSON status and Prometheus metrics.

use std::fmt::Write as _;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::access::{bad_request, token_denied};
use super::paths::{Format, Route};
use super::query::page_token;
use super::AppState;
use crate::text::{escape_html, fold_label};

/// `?token=…` to append to links when the server has a token (empty otherwise). The page's
/// query string may carry nothing but the token: anything else is a `400` with the reason.
#[allow(clippy::result_large_err)] // the error is the response itself
fn token_param(state: &AppState, req: &HttpRequest, first: bool) -> Result<String, HttpResponse> {
    let config = state.config();
    let given = page_token(req.query_string()).map_err(|e| bad_request(&e.to_string()))?;
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

/// Runs a page's store reads on the blocking pool, so a slow store never holds an async worker
/// (and with it `/healthz`); `Err` is the `500` to send when the task died.
#[allow(clippy::result_large_err)] // the error is the response itself
async fn off_worker<T: Send + 'static>(
    state: &web::Data<AppState>,
    work: impl FnOnce(&AppState) -> T + Send + 'static,
) -> Result<T, HttpResponse> {
    let state = state.clone();
    web::block(move || work(&state)).await.map_err(|_| {
        tracing::error!("a page task panicked or was cancelled");
        HttpResponse::InternalServerError()
            .content_type("text/plain; charset=utf-8")
            .body("the page could not be built; see the server log\n")
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

const INDEX_STYLE: &str = "\
:root{--fg:#1d2329;--muted:#5d6b78;--line:#e3e8ee;--bg:#f5f7fa;--card:#fff;--accent:#c2410c;--ok:#15803d;--err:#b91c1c}\
*{box-sizing:border-box}\
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif}\
header{background:#1d2329;color:#fff;padding:1.4rem 0}\
header h1{margin:0;font-size:1.6rem;letter-spacing:.02em}header h1 span{color:#fb923c}\
header p{margin:.3rem 0 0;color:#cbd5e1}\
main{max-width:64rem;margin:0 auto;padding:0 1.2rem 2rem}header .wrap{max-width:64rem;margin:0 auto;padding:0 1.2rem}\
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.2rem;margin:1.2rem 0;box-shadow:0 1px 2px rgba(0,0,0,.04)}\
.card h2{margin:0 0 .2rem;font-size:1.2rem}.meta{color:var(--muted);font-size:.88rem;margin:0 0 .6rem}\
.meta a{color:var(--muted)}\
.stats{display:flex;gap:1.6rem;flex-wrap:wrap;margin:.2rem 0 .8rem}.stats b{display:block;font-size:1.4rem}.stats span{color:var(--muted);font-size:.85rem}\
a.fmt{display:inline-block;padding:.05rem .5rem;margin:0 .15rem .15rem 0;border:1px solid var(--line);border-radius:999px;font-size:.8rem;text-decoration:none;color:var(--accent);background:#fff7ed;white-space:nowrap}\
a.fmt:hover{border-color:var(--accent)}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.45rem .5rem;border-top:1px solid var(--line);vertical-align:top;font-size:.9rem}\
th{color:var(--muted);font-weight:600;font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;border-top:0}\
td.num{text-align:right;font-variant-numeric:tabular-nums}th.num{text-align:right}\
td a.page{color:var(--fg);font-weight:600;text-decoration:none}td a.page:hover{text-decoration:underline}\
code{font-size:.8rem;color:var(--muted)}.ok{color:var(--ok)}.err{color:var(--err)}\
form .row{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.6rem 1rem;margin:.6rem 0 .9rem}\
form label{display:flex;flex-direction:column;gap:.15rem;font-size:.8rem;color:var(--muted)}\
input,select{font:inherit;padding:.35rem .5rem;border:1px solid #cfd6de;border-radius:6px;background:#fff;color:var(--fg)}\
button{font:inherit;padding:.4rem .9rem;border:0;border-radius:6px;background:var(--accent);color:#fff;cursor:pointer;margin-right:.4rem}\
button.alt{background:#334155}\
footer{color:var(--muted);font-size:.85rem;text-align:center;margin:2rem 0}footer a{color:var(--muted)}";

fn format_links(html: &mut String, base: &str, query: &str, token: &str) {
    for (format, label) in [
        (Format::Rss, "RSS"),
        (Format::Atom, "Atom"),
        (Format::Json, "JSON"),
    ] {
        let _ = write!(
            html,
            "<a class=\"fmt\" href=\"{}\">{label}</a>",
            escape_html(&feed_url(base, format, query, token))
        );
    }
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

/// Serves a page for people or tools: the token check (the token suffix its links carry starts
/// with `?` when `first`), then `build` on the blocking pool; counted under `route`.
async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    route: Route,
    first: bool,
    content_type: &'static str,
    build: fn(&AppState, &str) -> String,
) -> HttpResponse {
    let started = Instant::now();
    let response = match token_param(&state, &req, first) {
        Ok(token) => match off_worker(&state, move |state| build(state, &token)).await {
            Ok(body) => HttpResponse::Ok().content_type(content_type).body(body),
            Err(failed) => failed,
        },
        Err(denied) => denied,
    };
    state.metrics.record(route, started);
    response
}

/// `/`: sources, sections, counts, poll state, subscribe links and a filter form; plain HTML
/// and CSS (no JavaScript), `<link rel="alternate">` for autodiscovery.
pub(super) async fn index(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let html = "text/html; charset=utf-8";
    page(req, state, Route::Index, true, html, index_html).await
}

/// The index page's HTML (reads counters and poll status for every section).
fn index_html(state: &AppState, token: &str) -> String {
    let config = state.config();
    let base = config
        .server
        .base_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let section_count = config.sections().count();
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>headwire — feeds</title>\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"headwire — all sections (RSS)\" href=\"{r}\">\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"headwire — all sections (Atom)\" href=\"{a}\">\
         <link rel=\"alternate\" type=\"application/feed+json\" title=\"headwire — all sections (JSON Feed)\" href=\"{j}\">",
        a = escape_html(&feed_url(&base, Format::Atom, "", token)),
        r = escape_html(&feed_url(&base, Format::Rss, "", token)),
        j = escape_html(&feed_url(&base, Format::Json, "", token)),
    );
    for source in &config.sources {
        let source_query = format!("source={}", encode(&source.id));
        let _ = write!(
            html,
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{} (Atom)\" href=\"{}\">",
            escape_html(&source.name),
            escape_html(&feed_url(&base, Format::Atom, &source_query, token)),
        );
    }
    let _ = write!(
        html,
        "<style>{INDEX_STYLE}</style></head><body>\
         <header><div class=\"wrap\"><h1>head<span>wire</span></h1>\
         <p>News portal sections as feeds — merged, deduplicated, filterable.</p></div></header><main>\
         <section class=\"card\" id=\"all\"><h2>All sections</h2>\
         <div class=\"stats\"><div><b>{n}</b><span>items stored</span></div>\
         <div><b>{sources}</b><span>sources</span></div><div><b>{section_count}</b><span>sections</span></div></div>\
         <p>Subscribe to everything: ",
        n = state.store.len(),
        sources = config.sources.len(),
    );
    format_links(&mut html, &base, "", token);
    let _ = write!(
        html,
        "<a class=\"fmt\" href=\"{}\">OPML</a></p></section>",
        escape_html(&format!("{base}{}{token}", Route::Opml.path()))
    );
    // The filter form: a GET form whose buttons pick the format (no JavaScript needed).
    html.push_str(
        "<section class=\"card\" id=\"filter\"><h2>Build a filtered feed</h2>\
         <p class=\"meta\">Fields combine with AND; commas inside a field mean OR (keywords: every word must appear). \
         Section matches an id, a name or a page label, in simplified or traditional characters. Empty fields are ignored.</p>\
         <form method=\"get\" action=\"feed.atom\"><div class=\"row\">\
         <label>section<input name=\"section\" list=\"sections\" placeholder=\"时政, world\"></label>\
         <label>source<select name=\"source\"><option value=\"\">any source</option>",
    );
    for source in &config.sources {
        let _ = write!(
            html,
            "<option value=\"{}\">{}</option>",
            escape_html(&source.id),
            escape_html(&source.name)
        );
    }
    html.push_str(
        "</select></label>\
         <label>keywords<input name=\"q\" placeholder=\"上海 疫情\"></label>\
         <label>exclude<input name=\"exclude\" placeholder=\"广告\"></label>\
         <label>since<input name=\"since\" placeholder=\"6h, 7d or 2022-03-13T00:00:00Z\"></label>\
         <label>limit<input name=\"limit\" type=\"number\" min=\"1\" max=\"500\" value=\"50\"></label></div>",
    );
    if let Some(t) = &config.server.token {
        let _ = write!(
            html,
            "<input type=\"hidden\" name=\"token\" value=\"{}\">",
            escape_html(t)
        );
    }
    html.push_str(
        "<button type=\"submit\" formaction=\"feed.atom\">Atom feed</button>\
         <button type=\"submit\" class=\"alt\" formaction=\"feed.rss\">RSS feed</button>\
         <button type=\"submit\" class=\"alt\" formaction=\"feed.json\">JSON Feed</button>\
         <datalist id=\"sections\">",
    );
    for (source, section) in config.sections() {
        let _ = write!(
            html,
            "<option value=\"{}\">{} · {}</option>",
            escape_html(&section.key(source)),
            escape_html(&source.name),
            escape_html(&section.name)
        );
    }
    html.push_str("</datalist></form></section>");
    for source in &config.sources {
        let source_query = format!("source={}", encode(&source.id));
        let _ = write!(
            html,
            "<section class=\"card\" id=\"source-{id}\"><h2>{name}</h2><p class=\"meta\"><code>{id}</code> · {count} items",
            id = escape_html(&source.id),
            name = escape_html(&source.name),
            count = state.store.count_source(&source.id),
        );
        if let Some(url) = &source.url {
            let _ = write!(
                html,
                " · <a href=\"{0}\">{0}</a>",
                escape_html(url.as_str())
            );
        }
        html.push_str(" · ");
        format_links(&mut html, &base, &source_query, token);
        html.push_str(
            "</p><table><tr><th>section</th><th class=\"num\">items</th><th>last success</th>\
             <th>last error</th><th>subscribe</th></tr>",
        );
        for section in &source.sections {
            let key = section.key(source);
            let status = state.store.section_status(&key).unwrap_or_default();
            let query = format!("section={}", encode(&key));
            let error = match (&status.last_error, status.consecutive_failures) {
                (Some(e), n) if n > 0 => {
                    format!(
                        "<span class=\"err\">{} ({n}× in a row)</span>",
                        escape_html(e)
                    )
                }
                _ if status.last_success.is_some() => "<span class=\"ok\">none</span>".into(),
                _ => "—".into(),
            };
            let _ = write!(
                html,
                "<tr><td><a class=\"page\" href=\"{page}\">{name}</a><br><code>{key}</code> · every {interval}</td>\
                 <td class=\"num\">{count}</td><td>{ok}</td><td>{error}</td><td>",
                page = escape_html(section.url.as_str()),
                name = escape_html(&section.name),
                key = escape_html(&key),
                interval = human_interval(section.interval),
                count = state.store.count_label(&fold_label(&key)),
                ok = when(status.last_success),
            );
            format_links(&mut html, &base, &query, token);
            html.push_str("</td></tr>");
        }
        html.push_str("</table></section>");
    }
    let _ = writeln!(
        html,
        "<footer><a href=\"{status}\">status (JSON)</a> · <a href=\"{metrics}\">metrics</a> · \
         <a href=\"{opml}\">OPML</a> · headwire {version}</footer></main></body></html>",
        status = escape_html(&format!("{base}{}{token}", Route::Status.path())),
        metrics = escape_html(&format!("{base}{}", Route::Metrics.path())),
        opml = escape_html(&format!("{base}{}{token}", Route::Opml.path())),
        version = env!("CARGO_PKG_VERSION"),
    );
    html
}

/// `600 s` → `10 min`, for people.
fn human_interval(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs % 86_400 == 0 && secs > 0 {
        format!("{} d", secs / 86_400)
    } else if secs % 3_600 == 0 && secs > 0 {
        format!("{} h", secs / 3_600)
    } else if secs % 60 == 0 && secs > 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// `/opml`: one outline per section feed, grouped by source.
pub(super) async fn opml(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let opml = "text/x-opml; charset=utf-8";
    page(req, state, Route::Opml, false, opml, opml_text).await
}

/// The OPML document (one pass over the configuration; large installations have thousands
/// of sections).
fn opml_text(state: &AppState, token: &str) -> String {
    let config = state.config();
    let base = config.server.base_url.as_str().trim_end_matches('/');
    let x = |s: &str| escape_html(&crate::text::xml_text(s));
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\"><head><title>headwire feeds</title>\
         <dateCreated>{}</dateCreated><docs>http://opml.org/spec2.opml</docs></head><body>\n",
        (state.clock)().to_rfc2822()
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
    body
}

/// `/api/status`: poll state per section.
pub(super) async fn status(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let json = "application/json";
    page(req, state, Route::Status, true, json, |state, _| {
        status_json(state)
    })
    .await
}

/// The status document (one poll-status read and one counter read per section).
fn status_json(state: &AppState) -> String {
    let config = state.config();
    let sections: Vec<serde_json::Value> = config
        .sections()
        .map(|(source, section)| {
            let key = section.key(source);
            let s = state.store.section_status(&key).unwrap_or_default();
            json!({
                "source": source.id,
                "source_name": source.name,
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
                "last_blocked": s.last_blocked,
                "items_stored": state.store.count_label(&fold_label(&key)),
                "full_text": section.full_text,
            })
        })
        .collect();
    let texts = state.store.text_counts();
    json!({
        "items": state.store.len(),
        // Items with their full text, still without it, and whose last text fetch failed
        // (retried with backoff, then left alone).
        "full_text": { "stored": texts.have, "pending": texts.pending, "failed": texts.failed },
        "sections": sections,
    })
    .to_string()
}
