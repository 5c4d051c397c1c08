//! The real `headwire` binary's lifecycle: SIGTERM stops it cleanly (exit 0, store flushed, a
//! hung poll cancelled after 5 s), SIGHUP and `serve --watch` reload the config (a valid one
//! takes effect, an invalid one is logged with its file:line and the running one stays), and
//! `poll --once` runs the same engine, prints one line per section and fails only when every
//! section failed.
//!
//! These run a child process on the wall clock, so they wait on observable states (a section in
//! `/api/status`, a line on stderr, the process exit) with generous deadlines, never on timing.

mod common;
mod polling_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use headwire::store::Store;
use polling_support::{Fixture, Route};
use serde_json::Value;
use tokio::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_headwire");

/// Generous: a debug binary on a loaded two-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

fn page(tag: &str, n: usize) -> String {
    let mut html = String::from("<html><body><ul class=\"list\">");
    for i in 0..n {
        html.push_str(&format!(
            "<li><a href=\"/a/{tag}-{i}.html\">{tag} headline {i}</a><span>2022-03-13 09:27</span></li>"
        ));
    }
    html.push_str("</ul></body></html>");
    html
}

fn section(id: &str, url: &str) -> String {
    format!(
        "\n[[source.section]]\nid = \"{id}\"\nurl = \"{url}\"\nitem = \"ul.list > li\"\ntitle = \"a\"\ntime = \"span\"\n"
    )
}

/// A feeds.toml polling `sections` every second.
fn config_text(poll: &str, sections: &[String]) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[store]\npath = \"data\"\n\n[poll]\n{poll}\n\n[[source]]\nid = \"site\"\ntimezone = \"Asia/Shanghai\"\ninterval = \"1s\"\n{}",
        sections.concat()
    )
}

/// A running `headwire serve`; killed if the test fails before it exits.
struct Served {
    child: std::process::Child,
    stderr: PathBuf,
    root: String,
}

impl Served {
    async fn start(config: &Path, extra: &[&str]) -> Served {
        let stderr = config.with_file_name("stderr.log");
        let child = Command::new(BIN)
            .arg("serve")
            .args(extra)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("HEADWIRE_LISTEN")
            .env_remove("HEADWIRE_DATA")
            .env_remove("HEADWIRE_CONFIG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut served = Served {
            child,
            stderr,
            root: String::new(),
        };
        let listen = regex::Regex::new(r"listen=(127\.0\.0\.1:\d+)").unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = served.log();
            if let Some(found) = listen.captures(&log) {
                served.root = format!("http://{}", &found[1]);
                break;
            }
            assert!(
                served.child.try_wait().unwrap().is_none(),
                "headwire exited early:\n{log}"
            );
            assert!(
                Instant::now() < deadline,
                "no listen address logged:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    }

    /// Stderr so far, without colour codes.
    fn log(&self) -> String {
        let raw = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        regex::Regex::new(r"\x1b\[[0-9;]*m")
            .unwrap()
            .replace_all(&raw, "")
            .into_owned()
    }

    /// Sends a signal with the shell's built-in `kill` (no procps or libc crate needed).
    fn signal(&self, name: &str) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -s {name} {}", self.child.id()))
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {name}");
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    async fn status(&self) -> Value {
        let body = reqwest::get(format!("{}/api/status", self.root))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// The `/api/status` entry of a section, if configured.
    async fn section(&self, key: &str) -> Option<Value> {
        self.status().await["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .cloned()
    }

    async fn keys(&self) -> Vec<String> {
        self.status().await["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_string())
            .collect()
    }

    /// Waits until the section has been polled successfully.
    async fn wait_polled(&self, key: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(s) = self.section(key).await {
                if !s["last_success"].is_null() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{key} never polled:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "`{needle}` never logged:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the exit (at most `limit`) and returns its status.
    async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {limit:?} after the signal:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_a_hung_poll_flushes_the_store_and_exits_zero() {
    let fx = Fixture::start().await;
    fx.set("/a", Route::html(page("a", 3)).route());
    fx.set("/e500", Route::status(500));
    fx.set("/hang", Route::Hang);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        config_text(
            "host_delay = \"0\"\nrequest_timeout = \"120s\"",
            &[
                section("a", &fx.url("/a")),
                section("e500", &fx.url("/e500")),
                section("hang", &fx.url("/hang")),
            ],
        ),
    )
    .unwrap();
    let mut served = Served::start(&config, &[]).await;
    served.wait_polled("site/a").await;
    let deadline = Instant::now() + PATIENCE;
    while fx.count("/hang") == 0 || fx.count("/e500") == 0 {
        assert!(Instant::now() < deadline, "the hang was never requested");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // `/api/status` shows the failure with its kind.
    let failing = served.section("site/e500").await.unwrap();
    assert_eq!(failing["last_error_kind"], "http", "{failing}");
    assert_eq!(served.status().await["items"], 3);

    served.signal("TERM");
    let exit = served.wait_exit(Duration::from_secs(20)).await;
    assert!(exit.success(), "{exit:?}:\n{}", served.log());
    let log = served.log();
    assert!(
        log.contains("polls still running after 5 s were cancelled"),
        "{log}"
    );
    assert!(log.contains("store flushed"), "{log}");
    let store = Store::open(&dir.path().join("data")).unwrap();
    assert_eq!(store.len(), 3);
    assert!(store.verify().unwrap().is_empty());
    assert!(store
        .section_status("site/a")
        .unwrap()
        .last_success
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_valid_config_and_keeps_running_on_an_invalid_one() {
    let fx = Fixture::start().await;
    fx.set("/a", Route::html(page("a", 2)).route());
    fx.set("/b", Route::html(page("b", 2)).route());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    let poll = "host_delay = \"0\"";
    std::fs::write(&config, config_text(poll, &[section("a", &fx.url("/a"))])).unwrap();
    let mut served = Served::start(&config, &[]).await;
    served.wait_polled("site/a").await;
    assert_eq!(served.keys().await, vec!["site/a"]);

    // Valid: a new section appears and is polled; the stored items stay.
    let both = config_text(
        poll,
        &[section("a", &fx.url("/a")), section("b", &fx.url("/b"))],
    );
    std::fs::write(&config, &both).unwrap();
    served.signal("HUP");
    served.wait_polled("site/b").await;
    assert!(fx.count("/b") >= 1);
    assert_eq!(served.keys().await, vec!["site/a", "site/b"]);
    assert_eq!(served.status().await["items"], 4);
    served.wait_log("1 added (site/b)").await;

    // Invalid: rejected with its file:line, the running config stays and keeps polling.
    let broken = both.replacen("interval = \"1s\"", "interval = \"soon\"", 1);
    let line = line_of(&broken, "interval = \"soon\"");
    std::fs::write(&config, &broken).unwrap();
    served.signal("HUP");
    served
        .wait_log(&format!(
            "{}:{line}: source[0] (site).interval",
            config.display()
        ))
        .await;
    assert!(served.running(), "an invalid config must not stop headwire");
    assert_eq!(served.keys().await, vec!["site/a", "site/b"]);
    let polled = fx.count("/b");
    let deadline = Instant::now() + PATIENCE;
    while fx.count("/b") == polled {
        assert!(
            Instant::now() < deadline,
            "polling stopped after a bad reload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    served.signal("TERM");
    assert!(served.wait_exit(Duration::from_secs(20)).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_watch_reloads_when_the_file_changes() {
    let fx = Fixture::start().await;
    fx.set("/a", Route::html(page("a", 1)).route());
    fx.set("/c", Route::html(page("c", 1)).route());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    let poll = "host_delay = \"0\"";
    std::fs::write(&config, config_text(poll, &[section("a", &fx.url("/a"))])).unwrap();
    let mut served = Served::start(&config, &["--watch"]).await;
    served.wait_polled("site/a").await;

    let both = config_text(
        poll,
        &[section("a", &fx.url("/a")), section("c", &fx.url("/c"))],
    );
    std::fs::write(&config, &both).unwrap();
    served.wait_polled("site/c").await;
    assert_eq!(served.keys().await, vec!["site/a", "site/c"]);

    let broken = both.replacen("[[source.section]]", "[[source.section]]\nbogus = 1", 1);
    let line = line_of(&broken, "bogus = 1");
    std::fs::write(&config, &broken).unwrap();
    served
        .wait_log(&format!("{}:{line}", config.display()))
        .await;
    assert!(served.running());
    assert_eq!(served.keys().await, vec!["site/a", "site/c"]);

    served.signal("INT");
    assert!(served.wait_exit(Duration::from_secs(20)).await.success());
}

/// Runs `headwire poll --once` and returns (exit code, stdout).
async fn poll_once(config: &Path) -> (i32, String) {
    let config = config.to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["poll", "--once", "--config"])
            .arg(&config)
            .env("NO_COLOR", "1")
            .env_remove("HEADWIRE_LISTEN")
            .env_remove("HEADWIRE_DATA")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_reports_every_section_and_fails_only_when_all_failed() {
    let fx = Fixture::start().await;
    let slow = Duration::from_millis(300);
    fx.set("/a", Route::html(page("a", 3)).after(slow).route());
    fx.set("/b", Route::html(page("b", 2)).after(slow).route());
    fx.set("/e500", Route::status(500));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    // One request at a time to the host: the serve engine's per-host cap applies.
    std::fs::write(
        &config,
        config_text(
            "per_host = 1\nhost_delay = \"300ms\"",
            &[
                section("a", &fx.url("/a")),
                section("b", &fx.url("/b")),
                section("e500", &fx.url("/e500")),
            ],
        ),
    )
    .unwrap();
    let (code, out) = poll_once(&config).await;
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "site/a\tfound 3\tnew 3",
            "site/b\tfound 2\tnew 2",
            "site/e500\terror\thttp: http status 500",
            "3 sections: 2 ok, 1 failed",
        ]
    );
    assert_eq!(fx.hits().len(), 3, "each section exactly once");
    assert_eq!(fx.max_in_flight(), 1, "per_host = 1 holds in poll --once");

    // Again: the stored body hash makes the unchanged pages cost no parsing.
    let (code, out) = poll_once(&config).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("site/a\tunchanged\n"), "{out}");
    assert!(out.contains("site/b\tunchanged\n"), "{out}");

    // Every section failing is the only failure exit.
    std::fs::write(
        &config,
        config_text(
            "host_delay = \"0\"",
            &[
                section("e500", &fx.url("/e500")),
                section("gone", &fx.url("/gone")),
            ],
        ),
    )
    .unwrap();
    let (code, out) = poll_once(&config).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.ends_with("2 sections: 0 ok, 2 failed\n"), "{out}");
    let store = Store::open(&dir.path().join("data")).unwrap();
    assert_eq!(store.len(), 5, "failures never touch stored items");
}
