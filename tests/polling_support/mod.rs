//! A scriptable HTTP/1.1 fixture for the polling tests, written on plain tokio sockets so it runs
//! inside the test's own runtime: with `start_paused` its sleeps, its timestamps and the client's
//! timeouts all follow the same virtual clock. Each route answers a page (optionally with
//! validators, compressed, chunked or late), a status (with `Retry-After`), a redirect, or never
//! answers at all. Every request is logged with its path, virtual arrival time and headers, and the
//! fixture tracks how many requests it is answering at once.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// What a route answers.
#[derive(Clone, Debug)]
pub enum Route {
    /// `200` with a body (or `304` when the request's validators match).
    Page(Page),
    /// This status, empty body, optional `Retry-After`.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// `302` to this location.
    Redirect(String),
    /// Reads the request and never answers.
    Hang,
}

/// A page route's body and how it is sent.
#[derive(Clone, Debug)]
pub struct Page {
    pub body: Vec<u8>,
    pub content_type: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `Content-Encoding` applied to the body on the wire (`gzip` or `deflate`).
    pub encoding: Option<&'static str>,
    /// Send with `Transfer-Encoding: chunked` (no `Content-Length`).
    pub chunked: bool,
    /// Wait this long (virtual time under a paused clock) before answering.
    pub delay: Duration,
}

impl Route {
    pub fn html(body: impl Into<String>) -> Page {
        Page {
            body: body.into().into_bytes(),
            content_type: "text/html; charset=utf-8".into(),
            etag: None,
            last_modified: None,
            encoding: None,
            chunked: false,
            delay: Duration::ZERO,
        }
    }

    pub fn status(code: u16) -> Route {
        Route::Status {
            code,
            retry_after: None,
        }
    }

    pub fn retry_after(code: u16, value: &str) -> Route {
        Route::Status {
            code,
            retry_after: Some(value.into()),
        }
    }
}

impl Page {
    pub fn etag(mut self, etag: &str) -> Page {
        self.etag = Some(etag.into());
        self
    }

    pub fn last_modified(mut self, value: &str) -> Page {
        self.last_modified = Some(value.into());
        self
    }

    pub fn gzip(mut self) -> Page {
        self.encoding = Some("gzip");
        self
    }

    pub fn deflate(mut self) -> Page {
        self.encoding = Some("deflate");
        self
    }

    /// Claims `Content-Encoding: gzip` but sends the body as it is (a broken stream).
    pub fn broken_gzip(mut self) -> Page {
        self.encoding = Some("broken-gzip");
        self
    }

    pub fn chunked(mut self) -> Page {
        self.chunked = true;
        self
    }

    pub fn after(mut self, delay: Duration) -> Page {
        self.delay = delay;
        self
    }

    pub fn route(self) -> Route {
        Route::Page(self)
    }

    /// The bytes that go on the wire for this body.
    pub fn wire_body(&self) -> Vec<u8> {
        match self.encoding {
            Some("gzip") => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                enc.write_all(&self.body).unwrap();
                enc.finish().unwrap()
            }
            Some("deflate") => {
                let mut enc =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
                enc.write_all(&self.body).unwrap();
                enc.finish().unwrap()
            }
            _ => self.body.clone(),
        }
    }
}

/// One request as the fixture saw it.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub at: Instant,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
}

/// The fixture server; clones share state.
#[derive(Clone)]
pub struct Fixture {
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    log: Arc<Mutex<Vec<Hit>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    /// Bytes of response bodies written (what crossed the wire).
    pub wire_bytes: Arc<AtomicUsize>,
}

impl Fixture {
    /// Starts on 127.0.0.1, port 0.
    pub async fn start() -> Fixture {
        Fixture::start_on("127.0.0.1").await
    }

    /// Starts on `ip` (any 127.x address is loopback on Linux: a second "host").
    pub async fn start_on(ip: &str) -> Fixture {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fixture = Fixture {
            base: format!("http://{addr}"),
            routes: Arc::default(),
            log: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            wire_bytes: Arc::default(),
        };
        let server = fixture.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move { server.serve(stream).await });
            }
        });
        fixture
    }

    pub fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.into(), route);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap().clone()
    }

    /// Requests to `path`.
    pub fn hits_on(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.hits_on(path).len()
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    async fn serve(&self, mut stream: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        self.log.lock().unwrap().push(Hit {
            path: path.clone(),
            at: Instant::now(),
            headers: headers.clone(),
        });
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let route = self.routes.lock().unwrap().get(&path).cloned();
        let response = match route {
            None => simple(404, &[]),
            Some(Route::Status { code, retry_after }) => {
                let extra: Vec<(&str, String)> = retry_after
                    .map(|v| ("Retry-After", v))
                    .into_iter()
                    .collect();
                simple(code, &extra)
            }
            Some(Route::Redirect(location)) => simple(302, &[("Location", location)]),
            Some(Route::Hang) => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            Some(Route::Page(page)) => {
                tokio::time::sleep(page.delay).await;
                let not_modified = page
                    .etag
                    .as_ref()
                    .is_some_and(|e| headers.get("if-none-match") == Some(e))
                    || page
                        .last_modified
                        .as_ref()
                        .is_some_and(|lm| headers.get("if-modified-since") == Some(lm));
                let mut extra: Vec<(&str, String)> = Vec::new();
                if let Some(e) = &page.etag {
                    extra.push(("ETag", e.clone()));
                }
                if let Some(lm) = &page.last_modified {
                    extra.push(("Last-Modified", lm.clone()));
                }
                if not_modified {
                    simple(304, &extra)
                } else {
                    let body = page.wire_body();
                    self.wire_bytes.fetch_add(body.len(), Ordering::SeqCst);
                    extra.push(("Content-Type", page.content_type.clone()));
                    if let Some(enc) = page.encoding {
                        let enc = if enc == "broken-gzip" { "gzip" } else { enc };
                        extra.push(("Content-Encoding", enc.to_string()));
                    }
                    let mut out = head_bytes(200, &extra, (!page.chunked).then_some(body.len()));
                    if page.chunked {
                        out.extend(crate::common::chunked_body(&body, 16 * 1024));
                    } else {
                        out.extend_from_slice(&body);
                    }
                    out
                }
            }
        };
        // Counted down before the answer leaves: a client that waits for this answer cannot
        // have its next request counted while this one still is.
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let _ = stream.write_all(&response).await;
        let _ = stream.shutdown().await;
    }
}

fn head_bytes(code: u16, headers: &[(&str, String)], length: Option<usize>) -> Vec<u8> {
    let framing = match length {
        Some(n) => ("Content-Length", n.to_string()),
        None => ("Transfer-Encoding", "chunked".to_string()),
    };
    let headers: Vec<(&str, String)> = std::iter::once(framing)
        .chain(headers.iter().cloned())
        .collect();
    crate::common::response_head(code, &headers)
}

fn simple(code: u16, headers: &[(&str, String)]) -> Vec<u8> {
    let length = if code == 304 { None } else { Some(0) };
    let mut out = head_bytes(code, headers, length);
    if code == 304 {
        // A 304 has no body and no framing headers.
        out = String::from_utf8(out)
            .unwrap()
            .replace("Transfer-Encoding: chunked\r\n", "")
            .into_bytes();
    }
    out
}
