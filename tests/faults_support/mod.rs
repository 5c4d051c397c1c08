//! Black-box harness for the fault suite: a fixture server on plain std sockets that can
//! misbehave on the wire (hang, trickle, lie about its length, redirect in a loop, send bombs),
//! a blocking HTTP/1.1 client with full control over the request line (malformed targets, huge
//! queries, odd methods), and wrappers around the real `headwire` binary (`poll --once`,
//! `serve`, `check`, `store verify|stats`) that bound every child in time and measure its peak
//! RSS from `/proc/<pid>/status`.
//!
//! Everything runs on threads and child processes, not in a test runtime: the binary under test
//! is a separate process, so the fixture must serve whatever the test thread is doing.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A child whose resident set passes this is killed at once: a runaway must not take the
/// shared machine's memory (5× the suite's 200 MB bound).
pub const MEMORY_CEILING_KIB: u64 = 1024 * 1024;

/// How long a hanging route holds its connection before giving up by itself.
const HANG_FOR: Duration = Duration::from_secs(30);

/// What a fixture route does with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Writes these bytes (a whole HTTP response, possibly lying about its length) and closes.
    Raw(Arc<Vec<u8>>),
    /// Reads the request and never answers (holds the socket for [`HANG_FOR`]).
    Hang,
    /// Writes these bytes after waiting this long.
    Late(Duration, Arc<Vec<u8>>),
    /// Writes the head at once, then the body one byte per `every`.
    Trickle {
        head: Vec<u8>,
        body: Vec<u8>,
        every: Duration,
    },
}

// The raw response head the fixture writes.
pub use crate::common::response_head as head;

impl Reply {
    /// A complete response with a correct `Content-Length`.
    pub fn full(status: u16, content_type: &str, body: &[u8]) -> Reply {
        let mut out = head(
            status,
            &[
                ("Content-Type", content_type.to_string()),
                ("Content-Length", body.len().to_string()),
            ],
        );
        out.extend_from_slice(body);
        Reply::Raw(Arc::new(out))
    }

    pub fn html(body: impl AsRef<[u8]>) -> Reply {
        Reply::full(200, "text/html; charset=utf-8", body.as_ref())
    }

    pub fn rss(body: impl AsRef<[u8]>) -> Reply {
        Reply::full(200, "application/rss+xml; charset=utf-8", body.as_ref())
    }

    /// A status with an empty body and extra headers.
    pub fn status(status: u16, headers: &[(&str, String)]) -> Reply {
        let mut all = vec![("Content-Length", "0".to_string())];
        all.extend(headers.iter().cloned());
        Reply::Raw(Arc::new(head(status, &all)))
    }

    pub fn redirect(location: &str) -> Reply {
        Reply::status(302, &[("Location", location.to_string())])
    }

    /// A `Transfer-Encoding: chunked` body (no length known in advance).
    pub fn chunked(content_type: &str, body: &[u8]) -> Reply {
        let mut out = head(
            200,
            &[
                ("Content-Type", content_type.to_string()),
                ("Transfer-Encoding", "chunked".to_string()),
            ],
        );
        out.extend(crate::common::chunked_body(body, 64 * 1024));
        Reply::Raw(Arc::new(out))
    }

    /// `Content-Encoding: gzip` of `decompressed` spaces: small on the wire, huge inflated.
    pub fn gzip_bomb(decompressed: usize) -> Reply {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        let mut left = decompressed;
        while left > 0 {
            let n = left.min(zeros.len());
            encoder.write_all(&zeros[..n]).expect("gzip into memory");
            left -= n;
        }
        let body = encoder.finish().expect("gzip into memory");
        let mut out = head(
            200,
            &[
                ("Content-Type", "text/html; charset=utf-8".to_string()),
                ("Content-Encoding", "gzip".to_string()),
                ("Content-Length", body.len().to_string()),
            ],
        );
        out.extend_from_slice(&body);
        Reply::Raw(Arc::new(out))
    }

    /// Claims `claimed` bytes, sends `body` (shorter) and closes.
    pub fn truncated(body: &[u8], claimed: usize) -> Reply {
        assert!(
            claimed > body.len(),
            "a truncated body is shorter than claimed"
        );
        let mut out = head(
            200,
            &[
                ("Content-Type", "text/html; charset=utf-8".to_string()),
                ("Content-Length", claimed.to_string()),
            ],
        );
        out.extend_from_slice(body);
        Reply::Raw(Arc::new(out))
    }

    /// The same answer, sent `after` the request arrived.
    pub fn late(self, after: Duration) -> Reply {
        match self {
            Reply::Raw(bytes) | Reply::Late(_, bytes) => Reply::Late(after, bytes),
            other => other,
        }
    }

    /// A 200 whose body arrives one byte per `every`.
    pub fn trickle(body: &[u8], every: Duration) -> Reply {
        Reply::Trickle {
            head: head(
                200,
                &[
                    ("Content-Type", "text/html; charset=utf-8".to_string()),
                    ("Content-Length", body.len().to_string()),
                ],
            ),
            body: body.to_vec(),
            every,
        }
    }
}

/// The fixture server: one thread per connection; routes are looked up by path (query
/// included when a route names one) and may be replaced while it runs.
#[derive(Clone)]
pub struct Fixture {
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Fixture {
    pub fn start() -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fixture on 127.0.0.1:0");
        let addr = listener.local_addr().expect("fixture address");
        let fixture = Fixture {
            base: format!("http://{addr}"),
            routes: Arc::default(),
            hits: Arc::default(),
        };
        let server = fixture.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        fixture
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.routes
            .lock()
            .expect("fixture routes")
            .insert(path.to_string(), reply);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("fixture hits")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn serve(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 1024 * 1024 {
                return;
            }
        }
        let text = String::from_utf8_lossy(&buf);
        let path = text.split(' ').nth(1).unwrap_or("/").to_string();
        *self
            .hits
            .lock()
            .expect("fixture hits")
            .entry(path.clone())
            .or_default() += 1;
        let reply = self
            .routes
            .lock()
            .expect("fixture routes")
            .get(&path)
            .cloned();
        match reply {
            None => {
                let _ = stream.write_all(&head(404, &[("Content-Length", "0".into())]));
            }
            Some(Reply::Raw(bytes)) => {
                let _ = stream.write_all(&bytes);
                let _ = stream.flush();
            }
            Some(Reply::Hang) => std::thread::sleep(HANG_FOR),
            Some(Reply::Late(after, bytes)) => {
                std::thread::sleep(after);
                let _ = stream.write_all(&bytes);
                let _ = stream.flush();
            }
            Some(Reply::Trickle { head, body, every }) => {
                if stream.write_all(&head).is_err() {
                    return;
                }
                for byte in body {
                    std::thread::sleep(every);
                    if stream.write_all(&[byte]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // Let the client read everything before the socket goes away.
        let _ = stream.read(&mut chunk);
    }
}

// ---- configs -----------------------------------------------------------------------------------

/// `[server]`, `[store]` and `[poll]` with small timeouts and no politeness delays, followed by
/// `sources` verbatim.
pub fn config_text(sources: &str) -> String {
    let poll =
        "per_host = 64\nconcurrency = 64\nconnect_timeout = \"2s\"\nrequest_timeout = \"2s\"";
    let head = crate::common::config_head("http://feeds.test/", "", poll);
    format!("{head}\n{sources}")
}

/// A `[[source]]` header (interval 1d: `serve` never polls on its own during a test).
pub fn source(id: &str, fixture: &Fixture) -> String {
    format!(
        "\n[[source]]\nid = \"{id}\"\nurl = \"{}/\"\ntimezone = \"Asia/Shanghai\"\ninterval = \"1d\"\n",
        fixture.base
    )
}

/// An html section reading `common::list_page` markup at `path`; `extra` is appended.
pub fn html_section(id: &str, fixture: &Fixture, path: &str, extra: &str) -> String {
    crate::common::list_section(id, &fixture.url(path), extra)
}

/// A `kind = "feed"` section at `path`.
pub fn feed_section(id: &str, fixture: &Fixture, path: &str, extra: &str) -> String {
    format!(
        "\n[[source.section]]\nid = \"{id}\"\nurl = \"{}\"\nkind = \"feed\"\n{extra}\n",
        fixture.url(path)
    )
}

/// A temp dir holding `feeds.toml` (and, once polled, the store in `data/`).
pub struct Site {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// Extra environment for every command (e.g. debug-build fault injection).
    pub env: Vec<(String, String)>,
}

impl Site {
    pub fn new(config: &str) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, config).expect("write feeds.toml");
        Site {
            dir,
            config: path,
            env: Vec::new(),
        }
    }

    /// `headwire <args…> --config feeds.toml`, logging at `warn`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_headwire"));
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "warn")
            .env_remove("HEADWIRE_CONFIG")
            .env_remove("HEADWIRE_DATA")
            .env_remove("HEADWIRE_LISTEN")
            .env_remove("HEADWIRE_INJECT_PANIC")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        command
    }

    /// Runs `headwire <args…>` to completion (killed after `limit`), measuring its peak RSS.
    pub fn run(&self, args: &[&str], limit: Duration) -> Run {
        run_measured(self.command(args), limit)
    }

    pub fn poll_once(&self, limit: Duration) -> PollRun {
        PollRun::from(self.run(&["poll", "--once"], limit))
    }

    /// `store verify`: must exit 0 and say so.
    pub fn assert_store_consistent(&self) {
        let run = self.run(&["store", "verify"], Duration::from_secs(60));
        assert!(
            run.status.success() && run.stdout.contains("store is consistent"),
            "store verify failed ({:?}):\n{}\n{}",
            run.status,
            run.stdout,
            run.stderr
        );
    }

    /// `store stats` as `key -> number` (`items`, `section portal/x`, `source portal`, …).
    pub fn stats(&self) -> HashMap<String, u64> {
        let run = self.run(&["store", "stats"], Duration::from_secs(60));
        assert!(run.status.success(), "store stats: {}", run.stderr);
        run.stdout
            .lines()
            .filter_map(|line| {
                let (key, value) = line.split_once(": ")?;
                let number = value.split_whitespace().next()?.parse().ok()?;
                Some((key.to_string(), number))
            })
            .collect()
    }

    pub fn serve(&self) -> Served {
        Served::start(self)
    }
}

// ---- running the binary ------------------------------------------------------------------------

/// A finished child.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Highest `VmHWM` seen, in KiB.
    pub peak_kib: u64,
    pub elapsed: Duration,
    /// Killed because it ran past its limit.
    pub timed_out: bool,
    /// Killed because its resident set passed [`MEMORY_CEILING_KIB`].
    pub over_ceiling: bool,
}

/// `VmHWM` (peak resident set) of a live process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Spawns `command`, samples its `VmHWM` every 10 ms until it exits (the high-water mark only
/// grows, so the last sample before exit is the peak), and kills it after `limit` or as soon as
/// it passes [`MEMORY_CEILING_KIB`].
pub fn run_measured(mut command: Command, limit: Duration) -> Run {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn headwire");
    let stdout = drain(child.stdout.take().expect("stdout piped"));
    let stderr = drain(child.stderr.take().expect("stderr piped"));
    let pid = child.id();
    let mut peak = 0;
    let (mut timed_out, mut over_ceiling) = (false, false);
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        let over = peak > MEMORY_CEILING_KIB;
        match child.try_wait().expect("wait for headwire") {
            Some(status) => break status,
            None if started.elapsed() > limit || over => {
                over_ceiling = over;
                timed_out = !over;
                let _ = child.kill();
                break child.wait().expect("wait for killed headwire");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    Run {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        peak_kib: peak,
        elapsed: started.elapsed(),
        timed_out,
        over_ceiling,
    }
}

/// One section's line of `poll --once` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Found { found: usize, new: usize },
    Unchanged,
    Error { kind: String, message: String },
}

/// `poll --once`, parsed.
#[derive(Debug)]
pub struct PollRun {
    pub run: Run,
    /// Per section key, in output order.
    pub lines: Vec<(String, Line)>,
    /// `(total, ok, failed)` from the summary line.
    pub summary: Option<(usize, usize, usize)>,
}

impl From<Run> for PollRun {
    fn from(run: Run) -> PollRun {
        let mut lines = Vec::new();
        let mut summary = None;
        for text in run.stdout.lines() {
            let parts: Vec<&str> = text.split('\t').collect();
            match parts.as_slice() {
                [key, "unchanged"] => lines.push((key.to_string(), Line::Unchanged)),
                [key, "error", rest] => {
                    let (kind, message) = rest.split_once(": ").unwrap_or((rest, ""));
                    lines.push((
                        key.to_string(),
                        Line::Error {
                            kind: kind.to_string(),
                            message: message.to_string(),
                        },
                    ));
                }
                [key, found, new] => {
                    let number = |s: &str, p: &str| s.strip_prefix(p).and_then(|n| n.parse().ok());
                    if let (Some(found), Some(new)) = (number(found, "found "), number(new, "new "))
                    {
                        lines.push((key.to_string(), Line::Found { found, new }));
                    }
                }
                [one] if one.contains(" sections: ") => {
                    let numbers: Vec<usize> = one
                        .split(|c: char| !c.is_ascii_digit())
                        .filter_map(|n| n.parse().ok())
                        .collect();
                    if let [total, ok, failed] = numbers.as_slice() {
                        summary = Some((*total, *ok, *failed));
                    }
                }
                _ => {}
            }
        }
        PollRun {
            run,
            lines,
            summary,
        }
    }
}

impl PollRun {
    pub fn line(&self, key: &str) -> &Line {
        let found: Vec<&Line> = self
            .lines
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, l)| l)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "`{key}` printed {} times by poll --once:\n{}\n{}",
            found.len(),
            self.run.stdout,
            self.run.stderr
        );
        found[0]
    }

    /// Every configured section printed exactly once, and the summary counts them all.
    pub fn assert_complete(&self, keys: &[String]) {
        assert!(
            !self.run.over_ceiling,
            "poll --once killed: resident set over {} MiB",
            MEMORY_CEILING_KIB / 1024
        );
        assert!(
            !self.run.timed_out,
            "poll --once ran past its limit:\n{}",
            self.run.stderr
        );
        for key in keys {
            self.line(key);
        }
        assert_eq!(
            self.lines.len(),
            keys.len(),
            "one line per section:\n{}",
            self.run.stdout
        );
        let failed = self
            .lines
            .iter()
            .filter(|(_, l)| matches!(l, Line::Error { .. }))
            .count();
        assert_eq!(
            self.summary,
            Some((keys.len(), keys.len() - failed, failed)),
            "summary line:\n{}",
            self.run.stdout
        );
    }

    pub fn found(&self, key: &str) -> (usize, usize) {
        match self.line(key) {
            Line::Found { found, new } => (*found, *new),
            other => panic!(
                "{key}: expected found/new, got {other:?}\n{}",
                self.run.stderr
            ),
        }
    }
}

/// `headwire serve` on 127.0.0.1:0; its address is read from its start-up log line. Killed
/// (SIGKILL) when dropped.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Served {
    fn start(site: &Site) -> Served {
        let mut child = site
            .command(&["serve"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn headwire serve");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<SocketAddr>();
        let keep = log.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(rest) = line.split("listen=").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    if let Ok(addr) = addr.parse() {
                        let _ = tx.send(addr);
                    }
                }
                if let Ok(mut log) = keep.lock() {
                    if log.len() < 1 << 20 {
                        log.push_str(&line);
                    }
                }
                line.clear();
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "headwire serve did not log its address:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        let served = Served {
            child,
            addr,
            stderr: log,
        };
        // Ready once /healthz answers (the log line comes just before the server runs).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = served.get("/healthz") {
                if r.status == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "serve never answered /healthz:\n{}",
                served.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }

    pub fn log(&self) -> String {
        self.stderr.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn get(&self, target: &str) -> std::io::Result<Response> {
        request(self.addr, "GET", target, Duration::from_secs(30))
    }

    /// GET that must succeed at the transport level.
    pub fn fetch(&self, target: &str) -> Response {
        self.get(target)
            .unwrap_or_else(|e| panic!("GET {target}: {e}\n{}", self.log()))
    }

    /// `/api/status` as JSON, and the entry of one section by key.
    pub fn status(&self) -> serde_json::Value {
        let response = self.fetch("/api/status");
        assert_eq!(response.status, 200, "/api/status: {}", response.text());
        serde_json::from_slice(&response.body).expect("/api/status is JSON")
    }

    /// `/healthz` answered 200 within `bound`; returns how long it took.
    pub fn assert_healthy_within(&self, bound: Duration) -> Duration {
        let started = Instant::now();
        let response = request(self.addr, "GET", "/healthz", bound)
            .unwrap_or_else(|e| panic!("/healthz within {bound:?}: {e}"));
        let took = started.elapsed();
        assert_eq!(response.status, 200, "/healthz: {}", response.text());
        assert!(took < bound, "/healthz took {took:?} (bound {bound:?})");
        took
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn section_status<'a>(status: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    status["sections"]
        .as_array()
        .and_then(|sections| sections.iter().find(|s| s["key"] == key))
        .unwrap_or_else(|| panic!("{key} not in /api/status: {status}"))
}

// ---- a blocking HTTP/1.1 client ----------------------------------------------------------------

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Sends `METHOD target HTTP/1.1` with `Connection: close` as written (no normalisation of the
/// target), and reads the whole answer within `timeout`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    timeout: Duration,
) -> std::io::Result<Response> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    let message = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    // A server may answer and close before a huge request is fully written: read anyway.
    let write_error = stream.write_all(message.as_bytes()).err();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no complete answer within {timeout:?}"),
            ));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no complete answer within {timeout:?}"),
                ))
            }
            Err(e) if raw.is_empty() => return Err(write_error.unwrap_or(e)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        }
    }
    parse_response(&raw, method == "HEAD").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not an HTTP response: {:?}",
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            ),
        )
    })
}

fn parse_response(raw: &[u8], head_only: bool) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let body = if head_only {
        Vec::new()
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A tiny xorshift generator for reproducible "random" bytes and kill moments.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }
}

/// The keys `source/section` of a config's sections, in order (parsed with the library, the
/// same way the binary reads it).
pub fn section_keys(config: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(config).expect("read feeds.toml");
    let parsed = headwire::config::Config::parse(&text, config).expect("the test config is valid");
    parsed.sections().map(|(s, sec)| sec.key(s)).collect()
}
