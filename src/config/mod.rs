//! The `feeds.toml` model: what to poll, how to read it, where to store it and how to serve it.
//!
//! Loading is two passes. Serde reads the file into plain structs that reject unknown keys; a
//! validation pass then checks every value (ids, zones, durations, URLs, CSS selectors) and
//! collects *every* problem with the file, line and key it came from, so a user fixes a config in
//! one round instead of one error at a time. The rest of headwire only ever sees a valid [`Config`].
//!
//! This file holds the model (plain data every stage reads); [`raw`] the serde pass,
//! [`validate`] the checking pass, [`error`] what a config that does not load reports.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use url::Url;

use crate::rules::HeadlineRules;
use crate::selector::{FieldSelector, ItemSelector};

use error::line_of;
pub use error::{ConfigError, Problem};
use raw::RawConfig;
use validate::Validator;

mod error;
mod raw;
#[cfg(test)]
mod tests;
mod validate;
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

/// sled's page cache when `[store] cache_mb` is not set: past this, uncached feed renders got
/// little faster while peak memory kept growing (BENCHMARKS.md).
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
    /// Serve story images through headwire's own signed route, fetched with the story page as
    /// `Referer` (`[server] image_proxy`, off by default): portals that refuse other referers
    /// then show their images in every reader.
    pub image_proxy: bool,
    /// Bytes of proxied images kept in memory (`[server] image_cache_mb`, default 64).
    pub image_cache_bytes: usize,
    /// Let the image proxy fetch from loopback and private addresses (`[server]
    /// image_proxy_private`, off: a public headwire must not be a way into its own network).
    pub image_proxy_private: bool,
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
    /// At most this many story pages fetched for their full text per section poll.
    pub full_text_per_poll: usize,
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
            full_text_per_poll: DEFAULT_FULL_TEXT_PER_POLL,
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
    /// Fetch each new story's page and store its article text (`full_text`, section over
    /// source; off by default: it costs one request per story).
    pub full_text: bool,
    /// CSS selectors that pick the article body, first match wins (`content`, section over
    /// source); empty: found by the Readability algorithm.
    pub content: Vec<String>,
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

/// Default body cap: 8 MiB.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;
/// Story pages fetched for their full text per section poll unless `[poll] full_text_per_poll`
/// says otherwise: a first poll of 50 stories does not hammer the portal; the rest follow.
pub const DEFAULT_FULL_TEXT_PER_POLL: usize = 5;
/// Proxied image bytes kept in memory unless `[server] image_cache_mb` says otherwise.
pub const DEFAULT_IMAGE_CACHE_BYTES: usize = 64 * 1024 * 1024;

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
