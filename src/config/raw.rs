//! The first pass: `feeds.toml` as serde reads it, plain structs that reject unknown keys and
//! keep the span of every value, so the validation pass can name the line of each problem.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) store: RawStore,
    #[serde(default)]
    pub(super) poll: RawPoll,
    #[serde(default, rename = "source")]
    pub(super) sources: Vec<RawSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) base_url: Option<Spanned<String>>,
    pub(super) token: Option<Spanned<String>>,
    pub(super) cache_mb: Option<Spanned<i64>>,
    pub(super) image_proxy: Option<bool>,
    pub(super) image_proxy_private: Option<bool>,
    pub(super) image_cache_mb: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) path: Option<Spanned<String>>,
    pub(super) title_window: Option<Spanned<String>>,
    pub(super) cache_mb: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPoll {
    pub(super) concurrency: Option<Spanned<i64>>,
    pub(super) per_host: Option<Spanned<i64>>,
    pub(super) host_delay: Option<Spanned<String>>,
    pub(super) connect_timeout: Option<Spanned<String>>,
    pub(super) request_timeout: Option<Spanned<String>>,
    pub(super) max_body: Option<Spanned<String>>,
    pub(super) user_agent: Option<Spanned<String>>,
    pub(super) full_text_per_poll: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) id: Spanned<String>,
    pub(super) name: Option<String>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) timezone: Option<Spanned<String>>,
    pub(super) interval: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) strip_params: Vec<String>,
    #[serde(default)]
    pub(super) headers: toml::Table,
    pub(super) keep_days: Option<Spanned<i64>>,
    pub(super) keep_items: Option<Spanned<i64>>,
    pub(super) canonical: Option<Spanned<String>>,
    pub(super) keep: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) block: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) full_text: Option<bool>,
    pub(super) content: Option<Spanned<Selectors>>,
    #[serde(default, rename = "section")]
    pub(super) sections: Vec<RawSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSection {
    pub(super) id: Spanned<String>,
    pub(super) name: Option<String>,
    pub(super) url: Spanned<String>,
    pub(super) kind: Option<Spanned<String>>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) item: Option<Spanned<Selectors>>,
    pub(super) title: Option<Spanned<Selectors>>,
    pub(super) link: Option<Spanned<Selectors>>,
    pub(super) time: Option<Spanned<Selectors>>,
    pub(super) label: Option<Spanned<Selectors>>,
    pub(super) summary: Option<Spanned<Selectors>>,
    pub(super) image: Option<Spanned<Selectors>>,
    pub(super) author: Option<Spanned<Selectors>>,
    pub(super) time_format: Option<Spanned<String>>,
    pub(super) limit: Option<Spanned<i64>>,
    pub(super) keep: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) block: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) full_text: Option<bool>,
    pub(super) content: Option<Spanned<Selectors>>,
}

/// A selector field: one selector or a list of fallbacks.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Selectors {
    One(String),
    Many(Vec<String>),
}

impl RawSection {
    /// The raw value of the field of [`FIELDS`] called `name`.
    pub(super) fn field(&self, name: &str) -> Option<&Spanned<Selectors>> {
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
    pub(super) fn list(&self) -> Vec<&str> {
        match self {
            Selectors::One(s) => vec![s.as_str()],
            Selectors::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}
