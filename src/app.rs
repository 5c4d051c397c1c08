//! The commands the binary offers, wired from the pipeline stages: `serve` (with `--watch` and
//! SIGHUP reloads), `poll --once`, `check`, `suggest`, `import`, `store stats|verify` and
//! `health`. Each returns what it did so `main` only prints and picks the exit code; each
//! failure is an [`AppError`] variant that carries what the user needs to fix it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::sync::watch;

use crate::clock::{system_clock, Clock};
use crate::config::{Config, ConfigError, SectionKind};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Validators};
use crate::poll::{process_body, Poller, SectionReport};
use crate::server::images::{ImageService, ImageSetupError};
use crate::server::{self, AppState};
use crate::store::{Retention, Store, StoreError};

/// Anything a command can fail with, with the context a user needs.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The config did not validate.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The store could not be opened or read.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The image proxy could not be set up.
    #[error("{0}")]
    Images(#[from] ImageSetupError),
    /// Binding or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// `feeds.toml` could not be edited (it is unchanged).
    #[error("{0}")]
    Edit(#[from] crate::feeds_edit::EditError),
    /// The HTTP client could not be built, or a reload's new `[poll]` could not be applied.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr} (server.listen / HEADWIRE_LISTEN): {source}")]
    Listen {
        /// `server.listen`.
        addr: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A file named on the command line could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The page to check or suggest from could not be fetched.
    #[error("fetching {url}: {source}")]
    Page {
        /// The page.
        url: Box<url::Url>,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// An unconditional GET was answered `304`.
    #[error("the server answered 304 to an unconditional GET")]
    NotModified,
    /// `check` named a section the config does not have.
    #[error("no section `{key}` in {}; known: {}", file.display(), known.join(", "))]
    UnknownSection {
        /// The key asked for.
        key: String,
        /// The config file.
        file: std::path::PathBuf,
        /// The keys it has.
        known: Vec<String>,
    },
    /// A command-line value that cannot be used; `expected` says what to give instead.
    #[error("{flag} `{value}`: {expected}")]
    Argument {
        /// The option (`--write`, `--source`, `--timezone`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// `--url` is not a URL.
    #[error("--url `{value}`: {source}")]
    BadUrl {
        /// The value given.
        value: String,
        /// Why it does not parse.
        #[source]
        source: url::ParseError,
    },
    /// The page URL is not http(s).
    #[error("`{0}` is not an http(s) URL")]
    NotHttp(String),
    /// `suggest` was given no page URL.
    #[error("give the page URL (with --file, --url gives the URL the page was saved from)")]
    MissingUrl,
    /// `suggest --write` needs a config to write to.
    #[error("--write needs an existing config; {} does not exist", .0.display())]
    NoConfig(std::path::PathBuf),
    /// `--pick` is past the suggestions found.
    #[error("--pick {pick}: there are {count} suggestions; nothing was written")]
    Pick {
        /// The pick asked for.
        pick: usize,
        /// Suggestions found.
        count: usize,
    },
    /// `poll` was run without `--once`.
    #[error("`headwire poll` needs --once (use `headwire serve` to poll continuously)")]
    PollNeedsOnce,
    /// `check` could not read the page with the section's rules.
    #[error("{key}: {source}")]
    Check {
        /// The section.
        key: String,
        /// Why.
        #[source]
        source: crate::poll::PollError,
    },
    /// The OPML file could not be read as OPML.
    #[error("{}: {source}", path.display())]
    Opml {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: crate::opml_import::OpmlError,
    },
    /// The suggest task died (a bug).
    #[error("suggest failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// `health` could not ask, or was answered with a failure.
    #[error("{url}: {problem}")]
    Health {
        /// The URL asked.
        url: String,
        /// What went wrong.
        problem: HealthProblem,
    },
}

/// Why `headwire health` failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthProblem {
    /// The request failed.
    #[error("{0}")]
    Request(#[source] reqwest::Error),
    /// The answer was not 2xx.
    #[error("status {0}")]
    Status(reqwest::StatusCode),
}

/// Opens the store named by the config, creating its directory.
pub fn open_store(config: &Config) -> Result<Store, AppError> {
    if let Some(parent) = config.store_path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    Ok(Store::open_with_cache(
        &config.store_path,
        config.store.cache_bytes,
    )?)
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// How often `serve --watch` looks at the config file: often enough that an edit shows within a
/// few seconds, rarely enough to cost nothing (one `stat`, and a read only when it changed).
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

/// `headwire serve`: polls in the background and serves HTTP until SIGTERM/SIGINT, then stops
/// scheduling, gives in-flight polls up to 5 s, flushes the store and returns. SIGHUP (and, with
/// `watch`, any change to the file) reloads the config; an invalid one is logged and ignored.
pub async fn serve(config_path: &Path, watch: bool) -> Result<(), AppError> {
    // Claim SIGHUP first: its default action would end the process.
    let mut hangups = hangup_signals();
    let config = Arc::new(Config::load(config_path)?);
    let store = Arc::new(open_store(&config)?);
    let listener =
        std::net::TcpListener::bind(&config.server.listen).map_err(|e| AppError::Listen {
            addr: config.server.listen.clone(),
            source: e,
        })?;
    let listen = listener
        .local_addr()
        .map_or_else(|_| config.server.listen.clone(), |a| a.to_string());
    tracing::info!(
        listen = %listen,
        store = %config.store_path.display(),
        sections = config.sections().count(),
        watch,
        "headwire serving"
    );
    let running = start(config, store.clone(), system_clock(), listener)?;
    let mut watcher = watch.then(|| ConfigWatcher::new(config_path));
    let terminate = termination_signal();
    tokio::pin!(terminate);
    loop {
        tokio::select! {
            _ = &mut terminate => break,
            _ = next_hangup(&mut hangups) => {
                tracing::info!("SIGHUP: reloading {}", config_path.display());
                reload_from_file(config_path, &running);
                if let Some(watcher) = watcher.as_mut() {
                    watcher.mark_seen();
                }
            }
            changed = next_change(&mut watcher) => if changed {
                tracing::info!("{} changed: reloading", config_path.display());
                reload_from_file(config_path, &running);
            },
        }
    }
    tracing::info!("stopping: no new polls; waiting up to 5 s for polls in flight");
    running.stop().await;
    store.flush()?;
    tracing::info!("store flushed; bye");
    Ok(())
}

/// Re-reads the config file and applies it to `running`; a config that does not validate is
/// logged with its file:line problems and the running one stays. Returns whether it applied.
pub fn reload_from_file(config_path: &Path, running: &Running) -> bool {
    let config = match Config::load(config_path) {
        Ok(config) => Arc::new(config),
        Err(e) => {
            tracing::error!("config not reloaded, the running one stays:\n{e}");
            return false;
        }
    };
    match running.reload(config) {
        Ok(summary) => {
            tracing::info!("config reloaded: {summary}");
            true
        }
        Err(e) => {
            tracing::error!("config not reloaded, the running one stays: {e}");
            false
        }
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

fn hangup_signals() -> Hangups {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP (reload with --watch instead): {e}");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Resolves on the next SIGHUP; never when there is no SIGHUP stream.
async fn next_hangup(hangups: &mut Hangups) {
    #[cfg(unix)]
    if let Some(stream) = hangups.as_mut() {
        if stream.recv().await.is_some() {
            return;
        }
    }
    let _ = hangups;
    std::future::pending::<()>().await
}

/// Resolves after the next check of the watched file with whether it changed; never without a
/// watcher.
async fn next_change(watcher: &mut Option<ConfigWatcher>) -> bool {
    match watcher.as_mut() {
        Some(watcher) => watcher.changed().await,
        None => std::future::pending().await,
    }
}

/// `serve --watch`: notices edits to the config file by polling its size and mtime every
/// [`WATCH_EVERY`] and, when those moved, its content hash (a `touch` is not a change). No
/// inotify dependency; works on every file system and through editors' rename-on-save.
struct ConfigWatcher {
    path: std::path::PathBuf,
    ticks: tokio::time::Interval,
    stamp: Option<(u64, Option<std::time::SystemTime>)>,
    hash: Option<u64>,
}

impl ConfigWatcher {
    fn new(path: &Path) -> ConfigWatcher {
        let mut ticks = tokio::time::interval(WATCH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut watcher = ConfigWatcher {
            path: path.to_path_buf(),
            ticks,
            stamp: None,
            hash: None,
        };
        watcher.mark_seen();
        watcher
    }

    fn read_stamp(&self) -> Option<(u64, Option<std::time::SystemTime>)> {
        let meta = std::fs::metadata(&self.path).ok()?;
        Some((meta.len(), meta.modified().ok()))
    }

    fn read_hash(&self) -> Option<u64> {
        std::fs::read(&self.path)
            .ok()
            .map(|bytes| xxhash_rust::xxh3::xxh3_64(&bytes))
    }

    /// Takes the file as it is now as the applied version.
    fn mark_seen(&mut self) {
        self.stamp = self.read_stamp();
        self.hash = self.read_hash();
    }

    async fn changed(&mut self) -> bool {
        self.ticks.tick().await;
        let stamp = self.read_stamp();
        if stamp == self.stamp {
            return false;
        }
        self.stamp = stamp;
        let hash = self.read_hash();
        if hash == self.hash || hash.is_none() {
            // Unchanged content, or the file is briefly missing mid-save: nothing to apply.
            return false;
        }
        self.hash = hash;
        true
    }
}

/// A running service (poller + HTTP server), for `serve` and end-to-end tests.
pub struct Running {
    server: actix_web::dev::ServerHandle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    poller_task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
    state: web::Data<AppState>,
    /// The engine, for counters.
    pub poller: Arc<Poller>,
    /// The address the server listens on.
    pub addr: std::net::SocketAddr,
    /// Periodic retention sweeps.
    sweeper_task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Applies a new validated config to the poller and the HTTP routes. Settings that need a
    /// restart (`server.listen`, the store path and cache) are kept and a warning says so.
    pub fn reload(&self, config: Arc<Config>) -> Result<crate::poll::ReloadSummary, AppError> {
        let old = self.poller.config();
        if old.server.listen != config.server.listen {
            tracing::warn!("server.listen changed: takes effect after a restart");
        }
        if old.store_path != config.store_path {
            tracing::warn!("the store path changed: takes effect after a restart");
        }
        if old.store.cache_bytes != config.store.cache_bytes {
            tracing::warn!("store.cache_mb changed: takes effect after a restart");
        }
        if old.server.render_cache_bytes != config.server.render_cache_bytes {
            tracing::warn!("server.cache_mb changed: takes effect after a restart");
        }
        let summary = self.poller.reload(config.clone())?;
        self.state.set_config(config);
        Ok(summary)
    }

    /// Stops the server and the poller: no new polls start, polls in flight get up to 5 s and
    /// are then cancelled.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let stop_server = self.server.stop(true);
        let mut poller = self.poller_task;
        let wait_polls = async move {
            if tokio::time::timeout(Duration::from_secs(5), &mut poller)
                .await
                .is_err()
            {
                tracing::warn!("polls still running after 5 s were cancelled");
                poller.abort();
                let _ = poller.await;
            }
        };
        // The sweeper exits at once unless a sweep is running, which it lets finish.
        let (_, _, _swept) = tokio::join!(stop_server, wait_polls, self.sweeper_task);
        let _ = self.server_task.await;
    }
}

/// Starts the poller and the HTTP server on `listener`; [`Running::stop`] stops both.
pub fn start(
    config: Arc<Config>,
    store: Arc<Store>,
    clock: Clock,
    listener: std::net::TcpListener,
) -> Result<Running, AppError> {
    let (stop_tx, stop) = watch::channel(false);
    let poller = Arc::new(Poller::new(config.clone(), store.clone(), clock.clone())?);
    // Retention: one sweep now, before any poll, then every SWEEP_EVERY until stopped.
    sweep_and_log(
        &store,
        &Retention::from_config(poller.config().as_ref()),
        clock(),
    );
    let sweeper_task = tokio::spawn(sweep_periodically(
        poller.clone(),
        store.clone(),
        clock.clone(),
        stop.clone(),
    ));
    let images = ImageService::from_config(&config, &store)?;
    let state = web::Data::new(
        AppState::new(config, store, clock)
            .with_poll_metrics(poller.metrics.clone())
            .with_images(images),
    );
    let addr = listener.local_addr()?;
    let server = server::build(state.clone(), listener)?;
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    let poller_task = tokio::spawn(poller.clone().run(stop));
    Ok(Running {
        server: handle,
        server_task,
        poller_task,
        stop: stop_tx,
        state,
        poller,
        addr,
        sweeper_task,
    })
}

/// How often `serve` runs the retention sweep (it also runs once when serving starts).
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Runs one retention sweep as of `now` and logs what it did (a failure is logged, not fatal:
/// the next sweep tries again).
fn sweep_and_log(store: &Store, retention: &Retention, now: chrono::DateTime<chrono::Utc>) {
    match store.sweep(retention, now) {
        Ok(report) if report.deleted.is_empty() && report.purged == 0 => {}
        Ok(report) => tracing::info!(
            deleted = report.deleted.len(),
            kept_shared = report.kept_shared,
            tombstones_purged = report.purged,
            "retention sweep"
        ),
        Err(e) => tracing::warn!("retention sweep failed: {e}"),
    }
}

/// Sweeps every [`SWEEP_EVERY`] (off the async workers) with the poller's current config until
/// `stop` turns true.
async fn sweep_periodically(
    poller: Arc<Poller>,
    store: Arc<Store>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await; // the first tick is immediate; `start` has just swept
    loop {
        tokio::select! {
            _ = every.tick() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
                continue;
            }
        }
        let retention = Retention::from_config(poller.config().as_ref());
        let (store, now) = (store.clone(), clock());
        let _ = tokio::task::spawn_blocking(move || sweep_and_log(&store, &retention, now)).await;
    }
}

/// `headwire poll --once`: every section once under the configured caps.
pub async fn poll_once(config_path: &Path) -> Result<Vec<SectionReport>, AppError> {
    let config = Arc::new(Config::load(config_path)?);
    let store = Arc::new(open_store(&config)?);
    let poller = Arc::new(Poller::new(config, store.clone(), system_clock())?);
    let reports = poller.poll_all_once().await;
    store.flush()?;
    Ok(reports)
}

/// One unconditional GET the way polling fetches (limits, headers, charset left to the
/// caller), for `check` and `suggest`: the body, its content type and the final URL.
async fn fetch_page(
    settings: &crate::config::PollSettings,
    page_url: &url::Url,
    headers: &[(String, String)],
) -> Result<(Vec<u8>, Option<String>, url::Url), AppError> {
    let fetcher = Fetcher::new(settings)?;
    match fetcher
        .fetch(page_url, headers, &Validators::default())
        .await
    {
        Ok(FetchOutcome::Body(body)) => Ok((body.bytes, body.content_type, body.final_url)),
        Ok(FetchOutcome::NotModified) => Err(AppError::NotModified),
        Err(source) => Err(AppError::Page {
            url: Box::new(page_url.clone()),
            source,
        }),
    }
}

/// The page `check` and `suggest` read: a saved `file` (no content type; links resolve against
/// `page_url`), or else `page_url` fetched the way polling fetches.
async fn read_or_fetch(
    file: Option<&Path>,
    settings: &crate::config::PollSettings,
    page_url: url::Url,
    headers: &[(String, String)],
) -> Result<(Vec<u8>, Option<String>, url::Url), AppError> {
    match file {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| AppError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            Ok((bytes, None, page_url))
        }
        None => fetch_page(settings, &page_url, headers).await,
    }
}

/// One row of `headwire check` output.
#[derive(Debug, Clone)]
pub struct CheckRow {
    /// Title.
    pub title: String,
    /// Canonical link.
    pub link: String,
    /// Raw time text as printed.
    pub raw_time: Option<String>,
    /// Parsed UTC time (RFC 3339) or why not.
    pub time: String,
    /// Page labels.
    pub labels: Vec<String>,
}

/// What `headwire check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// How the charset was decided.
    pub charset: String,
    /// Extracted items.
    pub rows: Vec<CheckRow>,
    /// Headlines the `keep`/`block` rules dropped: title, link and which rule did it.
    pub blocked: Vec<BlockedRow>,
    /// Things to fix.
    pub warnings: Vec<String>,
}

/// A headline `headwire check` shows as dropped by a `keep`/`block` rule.
#[derive(Debug, Clone)]
pub struct BlockedRow {
    /// Title.
    pub title: String,
    /// Canonical link.
    pub link: String,
    /// Which rule dropped it and where it matched, worded for the user.
    pub reason: String,
}

/// `headwire check SOURCE/SECTION`: extract from a file or a live fetch, store nothing.
pub async fn check(
    config: &Config,
    key: &str,
    file: Option<&Path>,
    base: Option<&str>,
) -> Result<CheckReport, AppError> {
    let (source, section) = config
        .section(key)
        .ok_or_else(|| AppError::UnknownSection {
            key: key.to_string(),
            file: config.file.clone(),
            known: config.sections().map(|(s, sec)| sec.key(s)).collect(),
        })?;
    let page_url = match base {
        Some(b) => url::Url::parse(b).map_err(|source| AppError::BadUrl {
            value: b.to_string(),
            source,
        })?,
        None => section.url.clone(),
    };
    let (bytes, content_type, page_url) =
        read_or_fetch(file, &config.poll, page_url, &source.headers).await?;
    let now = chrono::Utc::now();
    let processed = process_body(
        &bytes,
        content_type.as_deref(),
        &page_url,
        source,
        section,
        now,
    )
    .map_err(|source| AppError::Check {
        key: key.to_string(),
        source,
    })?;
    let mut report = CheckReport {
        charset: processed.charset.clone(),
        ..CheckReport::default()
    };
    for (i, (observed, raw)) in processed
        .observed
        .iter()
        .zip(processed.raw_times.iter())
        .enumerate()
    {
        let reason = processed.notes.time_reasons.get(i).copied().flatten();
        report.rows.push(CheckRow {
            title: observed.title.clone(),
            link: observed.link.clone().unwrap_or_default(),
            raw_time: raw.clone(),
            time: observed
                .published
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| match (raw, reason) {
                    (Some(_), Some(reason)) => format!("({reason}: first-seen used)"),
                    (Some(_), None) => "(not understood: first-seen used)".into(),
                    (None, _) => "(none: first-seen used)".into(),
                }),
            labels: observed.page_labels.clone(),
        });
    }
    for (observed, why) in &processed.blocked {
        report.blocked.push(BlockedRow {
            title: observed.title.clone(),
            link: observed.link.clone().unwrap_or_default(),
            reason: why.to_string(),
        });
    }
    if processed.skipped_no_title > 0 {
        report.warnings.push(format!(
            "{} of {} matched items had no title and were skipped",
            processed.skipped_no_title, processed.matched
        ));
    }
    if processed.skipped_no_link > 0 {
        report.warnings.push(format!(
            "{} of {} matched items had no usable link and were skipped",
            processed.skipped_no_link, processed.matched
        ));
    }
    for field in &processed.unmatched_fields {
        report
            .warnings
            .push(format!("`{field}` matched nothing in any item"));
    }
    if !processed.notes.times_not_understood.is_empty() {
        let examples: Vec<&str> = processed
            .notes
            .times_not_understood
            .iter()
            .take(3)
            .map(String::as_str)
            .collect();
        report.warnings.push(format!(
            "{} times not understood, e.g. {:?}; set `time_format` or pick another `time` selector",
            processed.notes.times_not_understood.len(),
            examples
        ));
    }
    if !processed.notes.times_in_future.is_empty() {
        report.warnings.push(format!(
            "{} times more than a day in the future were not believed, e.g. {:?}",
            processed.notes.times_in_future.len(),
            processed.notes.times_in_future.first()
        ));
    }
    if !processed.notes.times_too_old.is_empty() {
        report.warnings.push(format!(
            "{} times before 1990 were not believed (first-seen used), e.g. {:?}",
            processed.notes.times_too_old.len(),
            processed.notes.times_too_old.first()
        ));
    }
    if matches!(section.kind, SectionKind::Feed) && report.rows.is_empty() {
        report.warnings.push("the feed has no entries".into());
    }
    Ok(report)
}

/// What `headwire suggest` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct SuggestRequest {
    /// The page URL (fetched unless `file` is given; then the base for links).
    pub url: Option<String>,
    /// Read the page from this file instead of fetching it.
    pub file: Option<std::path::PathBuf>,
    /// Zone for offset-less times (default: the target source's, else UTC).
    pub timezone: Option<chrono_tz::Tz>,
    /// `SOURCE/SECTION` to append the chosen suggestion to `feeds.toml` as.
    pub write: Option<String>,
    /// The new section's name (default: its id).
    pub name: Option<String>,
    /// Which suggestion `write` takes (1 = the best).
    pub pick: usize,
}

/// What `headwire suggest` found (and wrote).
#[derive(Debug, Clone)]
pub struct SuggestReport {
    /// How the charset was decided.
    pub charset: String,
    /// The page URL links were resolved against.
    pub page_url: url::Url,
    /// The suggestions, best first.
    pub suggestions: Vec<crate::suggest::Suggestion>,
    /// The `source/section` key written to `feeds.toml`, if any.
    pub written: Option<String>,
}

/// Whether `id` is a valid source or section id.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `headwire suggest`: fetches (or reads) a page like polling does, suggests the best three
/// headline lists and, with `write`, appends the chosen one to the config file.
pub async fn suggest(
    config_path: &Path,
    request: &SuggestRequest,
) -> Result<SuggestReport, AppError> {
    let config = if config_path.exists() {
        Some(Config::load(config_path)?)
    } else if request.write.is_some() {
        return Err(AppError::NoConfig(config_path.to_path_buf()));
    } else {
        None
    };
    let target = match &request.write {
        Some(key) => {
            let (source, section) = key
                .split_once('/')
                .filter(|(a, b)| valid_id(a) && valid_id(b))
                .ok_or_else(|| AppError::Argument {
                    flag: "--write",
                    value: key.clone(),
                    expected: "write SOURCE/SECTION with ids of lower-case letters, digits and '-'",
                })?;
            Some((source.to_string(), section.to_string()))
        }
        None => None,
    };
    let existing_source = target.as_ref().and_then(|(source, _)| {
        config
            .as_ref()
            .and_then(|c| c.sources.iter().find(|s| &s.id == source))
    });
    let timezone = request
        .timezone
        .or(existing_source.map(|s| s.timezone))
        .unwrap_or(chrono_tz::Tz::UTC);
    let Some(url_text) = request.url.as_deref() else {
        return Err(AppError::MissingUrl);
    };
    let page_url = url::Url::parse(url_text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| AppError::NotHttp(url_text.to_string()))?;
    let settings = config.as_ref().map(|c| c.poll.clone()).unwrap_or_default();
    let headers = existing_source
        .map(|s| s.headers.clone())
        .unwrap_or_default();
    let (bytes, content_type, page_url) =
        read_or_fetch(request.file.as_deref(), &settings, page_url, &headers).await?;
    let options = crate::suggest::SuggestOptions {
        timezone,
        now: chrono::Utc::now(),
        max: 3,
    };
    let work_url = page_url.clone();
    let (charset, suggestions) = tokio::task::spawn_blocking(move || {
        crate::suggest::suggest_bytes(&bytes, content_type.as_deref(), &work_url, &options)
    })
    .await
    .map_err(AppError::Task)?;
    let mut report = SuggestReport {
        charset,
        page_url,
        suggestions,
        written: None,
    };
    if let Some((source_id, section_id)) = target {
        let pick = report
            .suggestions
            .get(request.pick.max(1) - 1)
            .ok_or_else(|| AppError::Pick {
                pick: request.pick,
                count: report.suggestions.len(),
            })?;
        let mut keys = vec![
            ("id".to_string(), section_id.clone()),
            (
                "name".to_string(),
                request.name.clone().unwrap_or_else(|| section_id.clone()),
            ),
            ("url".to_string(), report.page_url.to_string()),
        ];
        for (key, value) in pick.fields() {
            keys.push((key.to_string(), value.to_string()));
        }
        let origin = report.page_url.join("/").map(|u| u.to_string()).ok();
        let mut new_source = vec![
            ("name".to_string(), source_id.clone()),
            ("timezone".to_string(), timezone.name().to_string()),
        ];
        if let Some(origin) = origin {
            new_source.push(("url".to_string(), origin));
        }
        let section = crate::feeds_edit::NewSection {
            source_id: source_id.clone(),
            new_source,
            keys,
            comment: Some(format!(
                "suggested by `headwire suggest` from {} ({} headlines)",
                report.page_url, pick.headlines
            )),
        };
        crate::feeds_edit::append_to_file(config_path, &[section])?;
        report.written = Some(format!("{source_id}/{section_id}"));
    }
    Ok(report)
}

/// What `headwire import` did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The planned sections, skips and warnings.
    pub plan: crate::opml_import::ImportPlan,
    /// Whether `feeds.toml` was changed.
    pub written: bool,
}

/// `headwire import OPML`: appends every new feed of an OPML export as a `kind = "feed"`
/// section (`dry_run`: plans only).
pub fn import(
    config_path: &Path,
    opml: &Path,
    source: Option<&str>,
    dry_run: bool,
) -> Result<ImportReport, AppError> {
    if let Some(id) = source {
        if !valid_id(id) {
            return Err(AppError::Argument {
                flag: "--source",
                value: id.to_string(),
                expected: "use lower-case letters, digits and '-'",
            });
        }
    }
    let config = Config::load(config_path)?;
    let text = std::fs::read_to_string(opml).map_err(|source| AppError::Read {
        path: opml.to_path_buf(),
        source,
    })?;
    let outlines = crate::opml_import::read_outlines(&text).map_err(|source| AppError::Opml {
        path: opml.to_path_buf(),
        source,
    })?;
    let plan = crate::opml_import::plan(&outlines, &config, source);
    let written = !dry_run && !plan.sections.is_empty();
    if written {
        crate::feeds_edit::append_to_file(config_path, &plan.sections)?;
    } else if !plan.sections.is_empty() {
        // Dry run: the edit is still checked, so what it prints is what would validate.
        let original = std::fs::read_to_string(config_path)?;
        crate::feeds_edit::append_to_text(&original, config_path, &plan.sections)?;
    }
    Ok(ImportReport { plan, written })
}

/// `headwire store stats` output lines.
pub fn store_stats(config: &Config) -> Result<Vec<String>, AppError> {
    let store = open_store(config)?;
    let (by_source, by_section) = store.counts()?;
    let mut lines = vec![format!("items: {}", store.len())];
    for (source, n) in by_source {
        lines.push(format!("source {source}: {n} items"));
    }
    for (section, n) in by_section {
        lines.push(format!("section {section}: {n} items"));
    }
    for (key, value) in store.extra_stats()? {
        lines.push(format!("{key}: {value}"));
    }
    Ok(lines)
}

/// `headwire store verify`: every index checked against the items.
pub fn store_verify(config: &Config) -> Result<Vec<String>, AppError> {
    let store = open_store(config)?;
    Ok(store.verify()?)
}

/// `headwire health --url`: Ok when the URL answers 2xx within 5 s.
pub async fn health(url: &str) -> Result<(), AppError> {
    let failed = |problem| AppError::Health {
        url: url.to_string(),
        problem,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| failed(HealthProblem::Request(e)))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(HealthProblem::Request(e)))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(failed(HealthProblem::Status(response.status())))
    }
}
