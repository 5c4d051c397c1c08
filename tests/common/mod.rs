//! Shared helpers for end-to-end tests: a fixture portal on 127.0.0.1:0 whose pages are built
//! from small story descriptions, a config writer, and a fixed clock.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, TimeZone, Utc};

/// One headline on a fixture list page.
#[derive(Clone, Debug)]
pub struct Story {
    pub title: String,
    pub href: String,
    pub time: String,
    pub label: Option<String>,
}

impl Story {
    pub fn new(title: &str, href: &str, time: &str) -> Story {
        Story {
            title: title.into(),
            href: href.into(),
            time: time.into(),
            label: None,
        }
    }

    pub fn label(mut self, label: &str) -> Story {
        self.label = Some(label.into());
        self
    }
}

/// A list page shaped like a Chinese portal section (guancha-style markup).
pub fn list_page(title: &str, stories: &[Story]) -> String {
    let mut html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\
         <div class=\"nav\"><a href=\"/\">首页</a></div><ul class=\"list\">"
    );
    for s in stories {
        html.push_str(&format!(
            "<li><h4 class=\"module-title\"><a href=\"{}\" target=\"_blank\">{}</a></h4>\
             <div class=\"module-interact\"><span>{}</span>{}</div></li>",
            s.href,
            s.title,
            s.time,
            s.label
                .as_ref()
                .map(|l| format!("<a class=\"interact-key\" href=\"/topic\">{l}</a>"))
                .unwrap_or_default()
        ));
    }
    html.push_str("</ul></body></html>");
    html
}

/// An HTTP/1.1 response head with `Connection: close` and `headers`, for the fixture servers
/// that write raw bytes (framing headers are the caller's).
pub fn response_head(status: u16, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} Fixture\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// `body` in `Transfer-Encoding: chunked` framing, `piece` bytes a chunk, with the last chunk.
pub fn chunked_body(body: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    for chunk in body.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The head of every test `feeds.toml`: `[server]` on port 0 with `base_url` (and
/// `server_extra` lines, e.g. a token), `[store]` in `data` next to the file, and `[poll]` without
/// politeness delays (and `poll_extra` lines).
pub fn config_head(base_url: &str, server_extra: &str, poll_extra: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"{base_url}\"\n{server_extra}\n\
         [store]\npath = \"data\"\n\n\
         [poll]\nhost_delay = \"0\"\n{poll_extra}\n"
    )
}

/// The fixture portal's `[[source]]` (id `portal`, Asia/Shanghai times) at `portal`, with
/// `settings` lines (interval, strip_params) appended.
pub fn portal_source(portal: &str, settings: &str) -> String {
    format!(
        "\n[[source]]\nid = \"portal\"\nname = \"观察者网测试\"\nurl = \"{portal}/\"\n\
         timezone = \"Asia/Shanghai\"\n{settings}\n"
    )
}

/// The selectors that read [`list_page`] markup (title, link and time; labels are
/// [`LIST_LABEL`]): the one copy every test config uses.
pub const LIST_SELECTORS: &str = r#"item = "ul.list > li"
title = "h4.module-title a"
link = "h4.module-title a@href"
time = ".module-interact span""#;

/// The selector for [`list_page`]'s section labels.
pub const LIST_LABEL: &str = r#"label = "a.interact-key""#;

/// A section of the fixture portal named `name`, reading [`list_page`] markup (labels included)
/// at `{portal}/{id}/`; `extra` lines are appended.
pub fn portal_section(portal: &str, id: &str, name: &str, extra: &str) -> String {
    let settings = format!("name = \"{name}\"\n{LIST_LABEL}\n{extra}");
    list_section(id, &format!("{portal}/{id}/"), &settings)
}

/// An html `[[source.section]]` reading [`list_page`] markup at `url`; `extra` is appended
/// verbatim (e.g. `limit = 1`).
pub fn list_section(id: &str, url: &str, extra: &str) -> String {
    format!("\n[[source.section]]\nid = \"{id}\"\nurl = \"{url}\"\n{LIST_SELECTORS}\n{extra}\n")
}

/// What a fixture route answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this body and content type.
    Page { body: Vec<u8>, content_type: String },
    /// This status with an empty body.
    Status(u16),
}

impl Reply {
    pub fn html(body: String) -> Reply {
        Reply::Page {
            body: body.into_bytes(),
            content_type: "text/html; charset=utf-8".into(),
        }
    }
}

/// A fixture portal: routes can be changed while it runs; requests are counted per path.
#[derive(Clone, Default)]
pub struct Portal {
    pub routes: Arc<Mutex<HashMap<String, Reply>>>,
    pub hits: Arc<Mutex<HashMap<String, usize>>>,
    pub total: Arc<AtomicUsize>,
}

impl Portal {
    pub fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_string(), reply);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Starts the portal on 127.0.0.1:0 and returns its base URL ("http://127.0.0.1:PORT").
    pub fn start(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let portal = self.clone();
        let server = HttpServer::new(move || {
            let portal = portal.clone();
            App::new().default_service(web::to(move |req: HttpRequest| {
                let portal = portal.clone();
                async move { portal.answer(&req) }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        format!("http://{addr}")
    }

    fn answer(&self, req: &HttpRequest) -> HttpResponse {
        let path = req.path().to_string();
        *self.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        let reply = self.routes.lock().unwrap().get(&path).cloned();
        match reply {
            Some(Reply::Page { body, content_type }) => {
                HttpResponse::Ok().content_type(content_type).body(body)
            }
            Some(Reply::Status(code)) => {
                HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).finish()
            }
            None => HttpResponse::NotFound().finish(),
        }
    }
}

/// A fixed clock.
pub fn fixed_clock(t: DateTime<Utc>) -> headwire::clock::Clock {
    Arc::new(move || t)
}

/// 2022-03-13 06:00 UTC (14:00 in Shanghai), after every fixture time.
pub fn fixture_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 13, 6, 0, 0).unwrap()
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// (source id, section id, corpus page) for every section of a `feeds.toml` text with a
/// `# corpus:` comment above it (the shipped config names the saved page each section was
/// designed from).
pub fn corpus_pages(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let (mut source, mut corpus, mut in_section) = (String::new(), None::<String>, false);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("[[source]]") {
            in_section = false;
        } else if line.starts_with("[[source.section]]") {
            in_section = true;
        } else if let Some(rest) = line.strip_prefix("# corpus:") {
            corpus = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("id = \"") {
            let id = rest.split('"').next().unwrap_or_default().to_string();
            if in_section {
                if let Some(page) = corpus.take() {
                    out.push((source.clone(), id, page));
                }
            } else {
                source = id;
            }
        }
    }
    out
}
