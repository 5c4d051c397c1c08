//! The `feeds.toml` model: what to poll, how to read it, where to store it and how to serve it.
//!
//! Loading is two passes. Serde reads the file into plain structs that reject unknown keys; a
//! validation pass then checks every value (ids, zones, durations, URLs, CSS selectors) and
//! collects *every* problem with the file, line and key it came from, so a user fixes a config in
//! one round instead of one error at a time. The rest of headwire only ever sees a valid [`Config`].

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::rules::{HeadlineRules, Rule};
use crate::selector::{FieldSelector, ItemSelector, FIELDS};
use crate::units::{parse_duration, parse_size};

/// Default poll interval when neither the source nor the section names one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// A validated configuration: everything headwire needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this configuration was read from (for messages and reloads).
    pub file: PathBuf,
    /// HTTP serving settings.
    pub server: ServerSettings,
    /// Where the sled store lives, already resolved against the config file's directory.
    pub store_path: PathBuf,
    /// Retention and dedup settings for the store.
    pub store: StoreSettings,
    /// Polling engine settings.
    pub poll: PollSettings,
    /// Every configured source, in file order.
    pub sources: Vec<Source>,
}

/// Headlines read from one page when a section sets no `limit`: far more than any portal list
/// shows, small enough that a page of 100,000 matches costs no more than a normal one.
pub const DEFAULT_HEADLINES_PER_PAGE: usize = 500;

/// The largest `limit` a section may set.
pub const MAX_HEADLINES_PER_PAGE: usize = 10_000;

/// Default size of the render cache (`[server] cache_mb`).
pub const DEFAULT_RENDER_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// sled's page cache when `store.cache_mb` is not set: 32 MiB.
pub const DEFAULT_STORE_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// How headwire serves feeds.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Socket address to listen on (`HEADWIRE_LISTEN` overrides it).
    pub listen: String,
    /// Public base URL used to build self links.
    pub base_url: Url,
    /// When set, feed URLs must carry `?token=` with this value.
    pub token: Option<String>,
    /// Bytes of rendered feeds kept in memory (`[server] cache_mb`, default 32): enough for
    /// every feed readers rotate over keeps them all cached between the polls that change them.
    pub render_cache_bytes: usize,
}

/// Store-wide settings that shape identity and history.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Window within which the same normalised title from different sources is one story;
    /// `None` switches cross-source merging off.
    pub title_window: Option<Duration>,
    /// sled's page cache in bytes: memory traded for fewer disk reads on uncached feeds.
    pub cache_bytes: u64,
}

/// Polling engine settings: politeness and limits (compared on reload to decide whether the
/// HTTP client and the caps must be rebuilt).
#[derive(Debug, Clone, PartialEq)]
pub struct PollSettings {
    /// At most this many fetches in flight at once.
    pub concurrency: usize,
    /// At most this many fetches in flight to one host.
    pub per_host: usize,
    /// Minimum delay between two requests to one host.
    pub host_delay: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Largest accepted body, counted after decompression.
    pub max_body_bytes: usize,
    /// User-Agent header sent with every request.
    pub user_agent: String,
}

impl Default for PollSettings {
    /// The settings an empty `[poll]` table gives (for commands that run without a config).
    fn default() -> PollSettings {
        PollSettings {
            concurrency: 16,
            per_host: 2,
            host_delay: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: DEFAULT_MAX_BODY,
            user_agent: default_user_agent(),
        }
    }
}

/// A portal (or feed publisher) with one or more sections.
#[derive(Debug, Clone)]
pub struct Source {
    /// Stable id, `[a-z0-9-]+`, used in URLs and the store.
    pub id: String,
    /// Human name shown in feeds.
    pub name: String,
    /// The portal's home page, shown as the items' `<source>`.
    pub url: Option<Url>,
    /// Zone for times printed without an offset.
    pub timezone: Tz,
    /// Default poll interval for its sections.
    pub interval: Duration,
    /// Query parameters that never identify a story (dropped from canonical links).
    pub strip_params: Vec<String>,
    /// Extra request headers (e.g. Referer, Cookie).
    pub headers: Vec<(String, String)>,
    /// Keep items at most this long (by published time).
    pub keep_days: Option<u32>,
    /// Keep at most this many newest items.
    pub keep_items: Option<usize>,
    /// Optional rule that rewrites links into their identity (see `normalize::url`).
    pub canonical: Option<CanonicalRule>,
    /// The source's sections, in file order.
    pub sections: Vec<Section>,
}

impl Source {
    /// A copy of the source's own settings with no sections: what a section's poll needs,
    /// without copying every sibling section (O(N²) over a config of N sections).
    pub fn without_sections(&self) -> Source {
        // Destructured so a new field cannot be forgotten here.
        let Source {
            id,
            name,
            url,
            timezone,
            interval,
            strip_params,
            headers,
            keep_days,
            keep_items,
            canonical,
            sections: _,
        } = self;
        Source {
            id: id.clone(),
            name: name.clone(),
            url: url.clone(),
            timezone: *timezone,
            interval: *interval,
            strip_params: strip_params.clone(),
            headers: headers.clone(),
            keep_days: *keep_days,
            keep_items: *keep_items,
            canonical: canonical.clone(),
            sections: Vec::new(),
        }
    }
}

/// A regex that picks the part of a link identifying a story, e.g. the article id.
#[derive(Debug, Clone)]
pub struct CanonicalRule {
    /// The pattern; its first capture group (or whole match) is the identity.
    pub pattern: regex::Regex,
}

/// What kind of document a section is.
#[derive(Debug, Clone)]
pub enum SectionKind {
    /// A web page scraped with CSS selectors.
    Html(HtmlRules),
    /// An RSS/Atom/JSON feed.
    Feed,
}

/// The CSS selectors that read headlines from a page.
#[derive(Debug, Clone)]
pub struct HtmlRules {
    /// One match per headline.
    pub item: ItemSelector,
    /// Title fallbacks.
    pub title: Vec<FieldSelector>,
    /// Link fallbacks (empty: first `a@href` of the item).
    pub link: Vec<FieldSelector>,
    /// Time fallbacks.
    pub time: Vec<FieldSelector>,
    /// Page-label fallbacks (every match of the winning selector is a label).
    pub label: Vec<FieldSelector>,
    /// Summary fallbacks.
    pub summary: Vec<FieldSelector>,
    /// Image fallbacks.
    pub image: Vec<FieldSelector>,
    /// Author fallbacks.
    pub author: Vec<FieldSelector>,
}

impl HtmlRules {
    /// Rules with only an item selector (every field empty: the link falls back to the item's
    /// own `href` or its first `a[href]`).
    pub fn new(item: ItemSelector) -> HtmlRules {
        HtmlRules {
            item,
            title: Vec::new(),
            link: Vec::new(),
            time: Vec::new(),
            label: Vec::new(),
            summary: Vec::new(),
            image: Vec::new(),
            author: Vec::new(),
        }
    }

    /// The selectors of the field of [`FIELDS`] called `name` (empty for an unknown name).
    pub fn field(&self, name: &str) -> &[FieldSelector] {
        match name {
            "title" => &self.title,
            "link" => &self.link,
            "time" => &self.time,
            "label" => &self.label,
            "summary" => &self.summary,
            "image" => &self.image,
            "author" => &self.author,
            _ => &[],
        }
    }

    fn field_mut(&mut self, name: &str) -> Option<&mut Vec<FieldSelector>> {
        Some(match name {
            "title" => &mut self.title,
            "link" => &mut self.link,
            "time" => &mut self.time,
            "label" => &mut self.label,
            "summary" => &mut self.summary,
            "image" => &mut self.image,
            "author" => &mut self.author,
            _ => return None,
        })
    }
}

/// One polled page or feed of a source.
#[derive(Debug, Clone)]
pub struct Section {
    /// Id unique within its source.
    pub id: String,
    /// Human name; also a section label on every item seen here.
    pub name: String,
    /// The page or feed URL.
    pub url: Url,
    /// How to read it.
    pub kind: SectionKind,
    /// Poll interval (section override or the source's).
    pub interval: Duration,
    /// Extra chrono format for odd time text.
    pub time_format: Option<String>,
    /// Read at most the first N headlines of the page ([`DEFAULT_HEADLINES_PER_PAGE`] unless
    /// the section sets `limit`): bounds the work and memory one page can cost.
    pub limit: Option<usize>,
    /// `keep`/`block` rules: the source's followed by the section's own (they add up).
    pub rules: HeadlineRules,
}

impl Section {
    /// The store key of this section: `source/section`.
    pub fn key(&self, source: &Source) -> String {
        format!("{}/{}", source.id, self.id)
    }
}

impl Config {
    /// Reads and validates a configuration file, applying `HEADWIRE_LISTEN` / `HEADWIRE_DATA`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![Problem {
                file: path.display().to_string(),
                line: None,
                key: String::new(),
                message: format!("cannot read the config file: {e}"),
            }],
        })?;
        let mut config = Config::parse(&text, path)?;
        if let Ok(listen) = std::env::var("HEADWIRE_LISTEN") {
            if !listen.trim().is_empty() {
                config.server.listen = listen;
            }
        }
        if let Ok(data) = std::env::var("HEADWIRE_DATA") {
            if !data.trim().is_empty() {
                config.store_path = PathBuf::from(data);
            }
        }
        Ok(config)
    }

    /// Parses and validates configuration text; `path` names the file in messages and anchors
    /// the relative store path. Environment overrides are not applied here.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            problems: vec![Problem {
                file: file.clone(),
                line: e.span().map(|s| line_of(text, s.start)),
                key: String::new(),
                message: e.message().trim().to_string(),
            }],
        })?;
        let mut v = Validator {
            text,
            file: file.clone(),
            problems: Vec::new(),
        };
        let config = v.config(raw, path);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError {
                problems: v.problems,
            })
        }
    }

    /// Looks up a section by its `source/section` key.
    pub fn section(&self, key: &str) -> Option<(&Source, &Section)> {
        let (source_id, section_id) = key.split_once('/')?;
        let source = self.sources.iter().find(|s| s.id == source_id)?;
        let section = source.sections.iter().find(|s| s.id == section_id)?;
        Some((source, section))
    }

    /// Every (source, section) pair in file order.
    pub fn sections(&self) -> impl Iterator<Item = (&Source, &Section)> {
        self.sources
            .iter()
            .flat_map(|source| source.sections.iter().map(move |section| (source, section)))
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for problem in &self.problems {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// One configuration problem: where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The config file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `source[0].section[1].item`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

// ---- raw serde model -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default, rename = "source")]
    sources: Vec<RawSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    cache_mb: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<Spanned<String>>,
    title_window: Option<Spanned<String>>,
    cache_mb: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    concurrency: Option<Spanned<i64>>,
    per_host: Option<Spanned<i64>>,
    host_delay: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    max_body: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: Spanned<String>,
    name: Option<String>,
    url: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    #[serde(default)]
    strip_params: Vec<String>,
    #[serde(default)]
    headers: toml::Table,
    keep_days: Option<Spanned<i64>>,
    keep_items: Option<Spanned<i64>>,
    canonical: Option<Spanned<String>>,
    keep: Option<Spanned<Vec<Spanned<String>>>>,
    block: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default, rename = "section")]
    sections: Vec<RawSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: Spanned<String>,
    name: Option<String>,
    url: Spanned<String>,
    kind: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    item: Option<Spanned<Selectors>>,
    title: Option<Spanned<Selectors>>,
    link: Option<Spanned<Selectors>>,
    time: Option<Spanned<Selectors>>,
    label: Option<Spanned<Selectors>>,
    summary: Option<Spanned<Selectors>>,
    image: Option<Spanned<Selectors>>,
    author: Option<Spanned<Selectors>>,
    time_format: Option<Spanned<String>>,
    limit: Option<Spanned<i64>>,
    keep: Option<Spanned<Vec<Spanned<String>>>>,
    block: Option<Spanned<Vec<Spanned<String>>>>,
}

/// A selector field: one selector or a list of fallbacks.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Selectors {
    One(String),
    Many(Vec<String>),
}

impl RawSection {
    /// The raw value of the field of [`FIELDS`] called `name`.
    fn field(&self, name: &str) -> Option<&Spanned<Selectors>> {
        match name {
            "title" => self.title.as_ref(),
            "link" => self.link.as_ref(),
            "time" => self.time.as_ref(),
            "label" => self.label.as_ref(),
            "summary" => self.summary.as_ref(),
            "image" => self.image.as_ref(),
            "author" => self.author.as_ref(),
            _ => None,
        }
    }
}

impl Selectors {
    fn list(&self) -> Vec<&str> {
        match self {
            Selectors::One(s) => vec![s.as_str()],
            Selectors::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

// ---- validation --------------------------------------------------------------------------------

struct Validator<'a> {
    text: &'a str,
    file: String,
    problems: Vec<Problem>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Validator<'_> {
    fn problem(&mut self, span: Option<std::ops::Range<usize>>, key: &str, message: String) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line: span.map(|s| line_of(self.text, s.start)),
            key: key.to_string(),
            message,
        });
    }

    fn duration(&mut self, value: &Option<Spanned<String>>, key: &str) -> Option<Duration> {
        let value = value.as_ref()?;
        match parse_duration(value.get_ref()) {
            Some(d) if !d.is_zero() => Some(d),
            _ => {
                self.problem(
                    Some(value.span()),
                    key,
                    format!(
                        "`{}` is not a duration; write a number with s, m, h or d, e.g. \"10m\"",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// Parses a `keep`/`block` list; each bad rule is a problem on its own line.
    fn rule_list(
        &mut self,
        value: &Option<Spanned<Vec<Spanned<String>>>>,
        key: &str,
    ) -> Option<Vec<Rule>> {
        let Some(list) = value else {
            return Some(Vec::new());
        };
        let mut rules = Vec::new();
        let mut ok = true;
        for (i, text) in list.get_ref().iter().enumerate() {
            match Rule::parse(text.get_ref()) {
                Ok(rule) => rules.push(rule),
                Err(e) => {
                    self.problem(Some(text.span()), &format!("{key}[{i}]"), e.to_string());
                    ok = false;
                }
            }
        }
        ok.then_some(rules)
    }

    /// The `keep` and `block` lists of a source or section.
    fn headline_rules(
        &mut self,
        keep: &Option<Spanned<Vec<Spanned<String>>>>,
        block: &Option<Spanned<Vec<Spanned<String>>>>,
        key: &str,
    ) -> Option<HeadlineRules> {
        let keep = self.rule_list(keep, &format!("{key}.keep"));
        let block = self.rule_list(block, &format!("{key}.block"));
        Some(HeadlineRules {
            keep: keep?,
            block: block?,
        })
    }

    fn positive(&mut self, value: &Option<Spanned<i64>>, key: &str, max: i64) -> Option<i64> {
        let value = value.as_ref()?;
        let n = *value.get_ref();
        if (1..=max).contains(&n) {
            Some(n)
        } else {
            self.problem(
                Some(value.span()),
                key,
                format!("{n} is out of range; use 1 to {max}"),
            );
            None
        }
    }

    fn url(&mut self, value: &Spanned<String>, key: &str) -> Option<Url> {
        match Url::parse(value.get_ref().trim()) {
            Ok(url) if url.scheme() == "http" || url.scheme() == "https" => Some(url),
            Ok(url) => {
                self.problem(
                    Some(value.span()),
                    key,
                    format!("`{}` is not an http(s) URL", url),
                );
                None
            }
            Err(e) => {
                self.problem(
                    Some(value.span()),
                    key,
                    format!("`{}` is not a URL: {e}", value.get_ref()),
                );
                None
            }
        }
    }

    fn config(&mut self, raw: RawConfig, path: &Path) -> Config {
        let listen = raw
            .server
            .listen
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let base_url = match &raw.server.base_url {
            Some(value) => self
                .url(value, "server.base_url")
                .unwrap_or_else(default_base_url),
            None => Url::parse(&format!("http://{listen}")).unwrap_or_else(|_| default_base_url()),
        };
        let token = match &raw.server.token {
            Some(t) if t.get_ref().trim().is_empty() => {
                self.problem(
                    Some(t.span()),
                    "server.token",
                    "the token is empty; remove the key or set a value".into(),
                );
                None
            }
            Some(t) => Some(t.get_ref().clone()),
            None => None,
        };
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let store_rel = raw
            .store
            .path
            .as_ref()
            .map(|p| p.get_ref().clone())
            .unwrap_or_else(|| "data".to_string());
        let store_path = dir.join(store_rel);
        let title_window = match &raw.store.title_window {
            Some(v) if matches!(v.get_ref().trim(), "off" | "0" | "none") => None,
            Some(_) => self.duration(&raw.store.title_window, "store.title_window"),
            None => Some(Duration::from_secs(48 * 3600)),
        };
        let render_cache_bytes = self
            .positive(&raw.server.cache_mb, "server.cache_mb", 65_536)
            .map_or(DEFAULT_RENDER_CACHE_BYTES, |mb| mb as usize * 1024 * 1024);
        let cache_bytes = self
            .positive(&raw.store.cache_mb, "store.cache_mb", 65_536)
            .map_or(DEFAULT_STORE_CACHE_BYTES, |mb| mb as u64 * 1024 * 1024);
        let poll = PollSettings {
            concurrency: self
                .positive(&raw.poll.concurrency, "poll.concurrency", 1024)
                .map_or(16, |n| n as usize),
            per_host: self
                .positive(&raw.poll.per_host, "poll.per_host", 1024)
                .map_or(2, |n| n as usize),
            host_delay: match &raw.poll.host_delay {
                Some(v) if v.get_ref().trim() == "0" || v.get_ref().trim() == "0s" => {
                    Duration::ZERO
                }
                _ => self
                    .duration(&raw.poll.host_delay, "poll.host_delay")
                    .unwrap_or(Duration::from_secs(1)),
            },
            connect_timeout: self
                .duration(&raw.poll.connect_timeout, "poll.connect_timeout")
                .unwrap_or(Duration::from_secs(10)),
            request_timeout: self
                .duration(&raw.poll.request_timeout, "poll.request_timeout")
                .unwrap_or(Duration::from_secs(30)),
            max_body_bytes: match &raw.poll.max_body {
                Some(v) => match parse_size(v.get_ref()) {
                    Some(n) => n,
                    None => {
                        self.problem(
                            Some(v.span()),
                            "poll.max_body",
                            format!(
                                "`{}` is not a size; write e.g. \"8MiB\" or \"512KiB\"",
                                v.get_ref()
                            ),
                        );
                        DEFAULT_MAX_BODY
                    }
                },
                None => DEFAULT_MAX_BODY,
            },
            user_agent: match &raw.poll.user_agent {
                Some(ua)
                    if ua.get_ref().trim().is_empty()
                        || reqwest::header::HeaderValue::from_str(ua.get_ref()).is_err() =>
                {
                    self.problem(
                        Some(ua.span()),
                        "poll.user_agent",
                        "the user agent must be a non-empty, printable one-line string".into(),
                    );
                    default_user_agent()
                }
                Some(ua) => ua.get_ref().clone(),
                None => default_user_agent(),
            },
        };

        let mut source_ids = HashSet::new();
        let mut sources = Vec::new();
        if raw.sources.is_empty() {
            self.problem(
                None,
                "source",
                "no [[source]] is configured; add at least one with a [[source.section]]".into(),
            );
        }
        for (i, raw_source) in raw.sources.into_iter().enumerate() {
            let key = format!("source[{i}]");
            if let Some(source) = self.source(raw_source, &key, &mut source_ids) {
                sources.push(source);
            }
        }
        Config {
            file: path.to_path_buf(),
            server: ServerSettings {
                listen,
                base_url,
                token,
                render_cache_bytes,
            },
            store_path,
            store: StoreSettings {
                title_window,
                cache_bytes,
            },
            poll,
            sources,
        }
    }

    /// Whether `id` is a valid id not yet in `ids` (adding it); a problem is recorded if not.
    /// `kind` and `scope` word the duplicate message ("duplicate {kind} id `x`{scope}").
    fn unique_id(
        &mut self,
        id: &Spanned<String>,
        key: &str,
        ids: &mut HashSet<String>,
        (kind, scope): (&str, &str),
    ) -> bool {
        let text = id.get_ref();
        let message = if !valid_id(text) {
            format!("`{text}` is not a valid id; use lower-case letters, digits and '-'")
        } else if !ids.insert(text.clone()) {
            format!("duplicate {kind} id `{text}`{scope}")
        } else {
            return true;
        };
        self.problem(Some(id.span()), &format!("{key}.id"), message);
        false
    }

    fn source(&mut self, raw: RawSource, key: &str, ids: &mut HashSet<String>) -> Option<Source> {
        let id = raw.id.get_ref().clone();
        let key = format!("{key} ({id})");
        let mut ok = self.unique_id(&raw.id, &key, ids, ("source", "; ids must be unique"));
        let url = raw
            .url
            .as_ref()
            .and_then(|u| self.url(u, &format!("{key}.url")));
        let timezone = match &raw.timezone {
            Some(zone) => match zone.get_ref().parse::<Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    self.problem(
                        Some(zone.span()),
                        &format!("{key}.timezone"),
                        format!(
                            "`{}` is not an IANA time zone; use a name like \"Asia/Shanghai\"",
                            zone.get_ref()
                        ),
                    );
                    ok = false;
                    Tz::UTC
                }
            },
            None => Tz::UTC,
        };
        let interval = self
            .duration(&raw.interval, &format!("{key}.interval"))
            .unwrap_or(DEFAULT_INTERVAL);
        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            match value.as_str() {
                Some(v)
                    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                        && reqwest::header::HeaderValue::from_str(v).is_ok() =>
                {
                    headers.push((name.clone(), v.to_string()))
                }
                _ => {
                    self.problem(
                        None,
                        &format!("{key}.headers.{name}"),
                        "header names must be tokens and values printable strings".into(),
                    );
                    ok = false;
                }
            }
        }
        let keep_days = self
            .positive(&raw.keep_days, &format!("{key}.keep_days"), 36_500)
            .map(|n| n as u32);
        let keep_items = self
            .positive(&raw.keep_items, &format!("{key}.keep_items"), 100_000_000)
            .map(|n| n as usize);
        let canonical = match &raw.canonical {
            Some(pattern) => match regex::Regex::new(pattern.get_ref()) {
                Ok(re) => Some(CanonicalRule { pattern: re }),
                Err(e) => {
                    self.problem(
                        Some(pattern.span()),
                        &format!("{key}.canonical"),
                        format!("not a valid regex: {e}"),
                    );
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let rules = self.headline_rules(&raw.keep, &raw.block, &key);
        let source_rules = rules.clone().unwrap_or_default();
        if rules.is_none() {
            ok = false;
        }
        let mut section_ids = HashSet::new();
        let mut sections = Vec::new();
        if raw.sections.is_empty() {
            self.problem(
                Some(raw.id.span()),
                &key,
                "the source has no [[source.section]]".into(),
            );
            ok = false;
        }
        for (j, raw_section) in raw.sections.into_iter().enumerate() {
            let section_key = format!("{key}.section[{j}]");
            match self.section(raw_section, &section_key, interval, &mut section_ids) {
                Some(mut section) => {
                    let own = std::mem::take(&mut section.rules);
                    section.rules = source_rules.clone();
                    section.rules.keep.extend(own.keep);
                    section.rules.block.extend(own.block);
                    sections.push(section);
                }
                None => ok = false,
            }
        }
        ok.then(|| Source {
            name: raw.name.clone().unwrap_or_else(|| id.clone()),
            id,
            url,
            timezone,
            interval,
            strip_params: raw.strip_params,
            headers,
            keep_days,
            keep_items,
            canonical,
            sections,
        })
    }

    fn selectors(
        &mut self,
        value: Option<&Spanned<Selectors>>,
        key: &str,
    ) -> Option<Vec<FieldSelector>> {
        let Some(value) = value else {
            return Some(Vec::new());
        };
        let mut out = Vec::new();
        let mut ok = true;
        for text in value.get_ref().list() {
            match FieldSelector::parse(text) {
                Ok(sel) => out.push(sel),
                Err(e) => {
                    self.problem(Some(value.span()), key, e.to_string());
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn section(
        &mut self,
        raw: RawSection,
        key: &str,
        source_interval: Duration,
        ids: &mut HashSet<String>,
    ) -> Option<Section> {
        let id = raw.id.get_ref().clone();
        let key = format!("{key} ({id})");
        let mut ok = self.unique_id(&raw.id, &key, ids, ("section", " within its source"));
        let url = self.url(&raw.url, &format!("{key}.url"));
        let interval = self
            .duration(&raw.interval, &format!("{key}.interval"))
            .unwrap_or(source_interval);
        let kind_name = raw
            .kind
            .as_ref()
            .map(|k| k.get_ref().as_str())
            .unwrap_or("html");
        let kind = match kind_name {
            "feed" => {
                let fields = FIELDS.iter().map(|f| (f.name, raw.field(f.name)));
                for (name, field) in [("item", raw.item.as_ref())].into_iter().chain(fields) {
                    if let Some(field) = field {
                        self.problem(
                            Some(field.span()),
                            &format!("{key}.{name}"),
                            "selectors are not used by kind = \"feed\"; remove this key".into(),
                        );
                        ok = false;
                    }
                }
                Some(SectionKind::Feed)
            }
            "html" => self.html_rules(&raw, &key).map(SectionKind::Html),
            other => {
                let span = raw.kind.as_ref().map(|k| k.span());
                self.problem(
                    span,
                    &format!("{key}.kind"),
                    format!("unknown kind `{other}`; use \"html\" or \"feed\""),
                );
                None
            }
        };
        let limit = match &raw.limit {
            None => Some(DEFAULT_HEADLINES_PER_PAGE),
            Some(_) => self
                .positive(
                    &raw.limit,
                    &format!("{key}.limit"),
                    MAX_HEADLINES_PER_PAGE as i64,
                )
                .map(|n| n as usize),
        };
        let time_format = raw.time_format.as_ref().map(|f| f.get_ref().clone());
        if let Some(format) = &raw.time_format {
            let bad = chrono::format::StrftimeItems::new(format.get_ref())
                .any(|item| matches!(item, chrono::format::Item::Error));
            if bad {
                self.problem(
                    Some(format.span()),
                    &format!("{key}.time_format"),
                    format!("`{}` is not a valid chrono format", format.get_ref()),
                );
                ok = false;
            }
        }
        let rules = self.headline_rules(&raw.keep, &raw.block, &key);
        let (url, kind, rules) = (url?, kind?, rules?);
        ok.then(|| Section {
            name: raw.name.clone().unwrap_or_else(|| id.clone()),
            id,
            url,
            kind,
            interval,
            time_format,
            limit,
            rules,
        })
    }

    fn html_rules(&mut self, raw: &RawSection, key: &str) -> Option<HtmlRules> {
        let item = match &raw.item {
            Some(value) => {
                let list = value.get_ref().list();
                match ItemSelector::parse(&list) {
                    Ok(sel) => Some(sel),
                    Err(e) => {
                        self.problem(Some(value.span()), &format!("{key}.item"), e.to_string());
                        None
                    }
                }
            }
            None => {
                self.problem(
                    Some(raw.id.span()),
                    &format!("{key}.item"),
                    "an html section needs `item` (the CSS selector matching one headline)".into(),
                );
                None
            }
        };
        if raw.title.is_none() {
            self.problem(
                Some(raw.id.span()),
                &format!("{key}.title"),
                "an html section needs `title` (the CSS selector of the headline text)".into(),
            );
        }
        let parsed =
            FIELDS.map(|f| self.selectors(raw.field(f.name), &format!("{key}.{}", f.name)));
        raw.title.as_ref()?;
        let mut rules = HtmlRules::new(item?);
        for (field, selectors) in FIELDS.iter().zip(parsed) {
            *rules.field_mut(field.name)? = selectors?;
        }
        Some(rules)
    }
}

/// Default body cap: 8 MiB.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;

fn default_base_url() -> Url {
    // A constant, known-valid URL.
    Url::parse("http://localhost:8080/").unwrap_or_else(|_| unreachable!())
}

/// The User-Agent sent when the config names none.
pub fn default_user_agent() -> String {
    format!(
        "headwire/{} (+https://github.com/headwire/headwire; self-hosted news aggregator)",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9000"
base_url = "http://news.local/"

[[source]]
id = "guancha"
name = "观察者网"
timezone = "Asia/Shanghai"
interval = "10m"
strip_params = ["s"]

[[source.section]]
id = "politics"
name = "时政"
url = "https://www.example.com/politics/"
item = "ul.list > li"
title = ["h4 a", "a"]
link = "h4 a@href"
time = ".time"
label = "a.key"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/headwire/feeds.toml"))
    }

    #[test]
    fn parses_a_good_config() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:9000");
        assert_eq!(config.store_path, PathBuf::from("/etc/headwire/data"));
        let (source, section) = config.section("guancha/politics").unwrap();
        assert_eq!(source.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(section.interval, Duration::from_secs(600));
        assert_eq!(section.name, "时政");
        match &section.kind {
            SectionKind::Html(rules) => assert_eq!(rules.title.len(), 2),
            SectionKind::Feed => panic!("html expected"),
        }
        assert_eq!(config.poll.concurrency, 16);
        assert_eq!(config.poll.per_host, 2);
        assert_eq!(
            config.store.title_window,
            Some(Duration::from_secs(48 * 3600))
        );
        assert_eq!(config.store.cache_bytes, 32 * 1024 * 1024);
    }

    /// Each broken config names the file, the line and the key of the problem.
    #[test]
    fn problems_name_file_line_and_key() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "timezone = \"Asia/Shanghai\"",
                "timezone = \"Asia/Shang\"",
                9,
                "timezone",
            ),
            (
                "interval = \"10m\"",
                "interval = \"10 parsecs\"",
                10,
                "interval",
            ),
            (
                "item = \"ul.list > li\"",
                "item = \"ul.list >> li\"",
                17,
                "item",
            ),
            ("link = \"h4 a@href\"", "link = \"h4 a@\"", 19, "link"),
            ("id = \"politics\"", "id = \"Politics!\"", 14, "id"),
            (
                "url = \"https://www.example.com/politics/\"",
                "url = \"ftp://x/\"",
                16,
                "url",
            ),
        ];
        for (from, to, line, key) in cases {
            let text = GOOD.replacen(from, to, 1);
            let err = parse(&text).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{to}: {err}");
            let problem = &err.problems[0];
            assert_eq!(problem.line, Some(*line), "{to}: {err}");
            assert!(problem.key.ends_with(key), "{to}: key {}", problem.key);
            let shown = err.to_string();
            assert!(
                shown.starts_with(&format!("/etc/headwire/feeds.toml:{line}: ")),
                "{shown}"
            );
            assert_eq!(shown.lines().count(), 1, "one line per problem: {shown}");
        }
    }

    #[test]
    fn store_cache_size_is_set_in_mib_and_checked() {
        let with = |value: &str| {
            GOOD.replacen(
                "[[source]]",
                &format!("[store]\ncache_mb = {value}\n\n[[source]]"),
                1,
            )
        };
        let config = parse(&with("256")).unwrap();
        assert_eq!(config.store.cache_bytes, 256 * 1024 * 1024);
        for bad in ["0", "-5", "100000"] {
            let err = parse(&with(bad)).unwrap_err();
            let shown = err.to_string();
            assert!(
                shown.starts_with("/etc/headwire/feeds.toml:7: store.cache_mb: "),
                "{shown}"
            );
            assert!(shown.contains("out of range; use 1 to 65536"), "{shown}");
        }
        let err = parse(&with("\"big\"")).unwrap_err();
        assert!(err.to_string().contains(":7:"), "{err}");
    }

    #[test]
    fn render_cache_size_is_set_in_mib_and_checked() {
        assert_eq!(
            parse(GOOD).unwrap().server.render_cache_bytes,
            DEFAULT_RENDER_CACHE_BYTES
        );
        let with =
            |value: &str| GOOD.replacen("[server]", &format!("[server]\ncache_mb = {value}"), 1);
        assert_eq!(
            parse(&with("128")).unwrap().server.render_cache_bytes,
            128 * 1024 * 1024
        );
        let err = parse(&with("0")).unwrap_err().to_string();
        assert!(err.contains("server.cache_mb: 0 is out of range"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let text = GOOD.replacen("label = \"a.key\"", "lable = \"a.key\"", 1);
        let err = parse(&text).unwrap_err();
        assert_eq!(err.problems[0].line, Some(21), "{err}");
        assert!(err.to_string().contains("lable"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let mut text = GOOD.replacen(
            "timezone = \"Asia/Shanghai\"",
            "timezone = \"Mars/Base\"",
            1,
        );
        text.push_str(
            "\n[[source]]\nid = \"guancha\"\n\n[[source.section]]\nid = \"a\"\nurl = \"https://x/\"\nitem = \"li\"\n",
        );
        let err = parse(&text).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("Mars/Base"), "{shown}");
        assert!(shown.contains("duplicate source id"), "{shown}");
        assert!(shown.contains("needs `title`"), "{shown}");
        assert!(err.problems.len() >= 3, "{shown}");
    }

    #[test]
    fn duplicate_section_ids_and_feed_selectors_are_rejected() {
        let mut text = GOOD.to_string();
        text.push_str("\n[[source.section]]\nid = \"politics\"\nurl = \"https://x/\"\nkind = \"feed\"\nitem = \"li\"\n");
        let shown = parse(&text).unwrap_err().to_string();
        assert!(shown.contains("duplicate section id"), "{shown}");
        assert!(shown.contains("not used by kind = \"feed\""), "{shown}");
    }

    #[test]
    fn keep_and_block_rules_are_validated_per_entry() {
        let text = GOOD.replacen(
            "strip_params = [\"s\"]",
            "strip_params = [\"s\"]\nblock = [\"广告\"]",
            1,
        ) + "keep = [\n  \"ok\",\n  \"re:(open\",\n  \"\",\n]\n";
        let err = parse(&text).unwrap_err();
        let shown = err.to_string();
        assert_eq!(err.problems.len(), 2, "{shown}");
        assert_eq!(err.problems[0].line, Some(25), "{shown}");
        assert!(err.problems[0].key.ends_with(".keep[1]"), "{shown}");
        assert!(shown.contains("`re:(open` is not a valid regex"), "{shown}");
        assert_eq!(err.problems[1].line, Some(26), "{shown}");
        assert!(shown.contains("is empty"), "{shown}");

        let text = GOOD.replacen(
            "strip_params = [\"s\"]",
            "strip_params = [\"s\"]\nblock = [\"广告\", \"re:^live:\"]",
            1,
        );
        let config = parse(&text).unwrap();
        let (_, section) = config.section("guancha/politics").unwrap();
        assert_eq!(
            section.rules.block.len(),
            2,
            "the source's rules apply to its sections"
        );
        assert_eq!(section.rules.block[1].as_str(), "re:^live:");
        assert!(section.rules.keep.is_empty());
        let err = parse(&GOOD.replacen("label = ", "block = \"one\"\nlabel = ", 1)).unwrap_err();
        assert!(err.to_string().contains(":21:"), "{err}");
    }

    #[test]
    fn toml_syntax_errors_carry_a_line() {
        let err = parse("[server]\nlisten = \n").unwrap_err();
        assert_eq!(err.problems[0].line, Some(2), "{err}");
    }

    #[test]
    fn empty_configs_name_what_is_missing() {
        let shown = parse("").unwrap_err().to_string();
        assert!(shown.contains("no [[source]]"), "{shown}");
    }
}
