//! The second pass: every raw value checked and turned into the model, collecting *every*
//! problem (ids, zones, durations, sizes, URLs, selectors, rules) rather than stopping at the
//! first. Selector keys come from [`crate::selector::FIELDS`].

use crate::rules::{HeadlineRules, Rule};
use crate::selector::{FieldSelector, ItemSelector, FIELDS};
use crate::units::{parse_duration, parse_size};
use chrono_tz::Tz;
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;
use url::Url;

use super::error::{line_of, Problem};
use super::raw::{RawConfig, RawSection, RawSource, Selectors};
use super::{default_base_url, default_user_agent, DEFAULT_MAX_BODY};
use super::{
    CanonicalRule, Config, HtmlRules, PollSettings, Section, SectionKind, ServerSettings, Source,
    StoreSettings, DEFAULT_HEADLINES_PER_PAGE, DEFAULT_INTERVAL, DEFAULT_RENDER_CACHE_BYTES,
    DEFAULT_STORE_CACHE_BYTES, MAX_HEADLINES_PER_PAGE,
};
use super::{DEFAULT_FULL_TEXT_PER_POLL, DEFAULT_IMAGE_CACHE_BYTES};

pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) file: String,
    pub(super) problems: Vec<Problem>,
}

pub(super) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Validator<'_> {
    pub(super) fn problem(
        &mut self,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: String,
    ) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line: span.map(|s| line_of(self.text, s.start)),
            key: key.to_string(),
            message,
        });
    }

    pub(super) fn duration(
        &mut self,
        value: &Option<Spanned<String>>,
        key: &str,
    ) -> Option<Duration> {
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
    pub(super) fn rule_list(
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
    pub(super) fn headline_rules(
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

    pub(super) fn positive(
        &mut self,
        value: &Option<Spanned<i64>>,
        key: &str,
        max: i64,
    ) -> Option<i64> {
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

    pub(super) fn url(&mut self, value: &Spanned<String>, key: &str) -> Option<Url> {
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

    pub(super) fn config(&mut self, raw: RawConfig, path: &Path) -> Config {
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
        let image_cache_bytes = self
            .positive(&raw.server.image_cache_mb, "server.image_cache_mb", 65_536)
            .map_or(DEFAULT_IMAGE_CACHE_BYTES, |mb| mb as usize * 1024 * 1024);
        let poll = PollSettings {
            full_text_per_poll: self
                .positive(
                    &raw.poll.full_text_per_poll,
                    "poll.full_text_per_poll",
                    1000,
                )
                .map_or(DEFAULT_FULL_TEXT_PER_POLL, |n| n as usize),
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
                image_proxy: raw.server.image_proxy.unwrap_or(false),
                image_proxy_private: raw.server.image_proxy_private.unwrap_or(false),
                image_cache_bytes,
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
    pub(super) fn unique_id(
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

    pub(super) fn source(
        &mut self,
        raw: RawSource,
        key: &str,
        ids: &mut HashSet<String>,
    ) -> Option<Source> {
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
        let source_text = FullText {
            on: raw.full_text.unwrap_or(false),
            content: self.content_selectors(raw.content.as_ref(), &format!("{key}.content")),
        };
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
            let inherited = (interval, &source_text);
            match self.section(raw_section, &section_key, inherited, &mut section_ids) {
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

    pub(super) fn selectors(
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

    pub(super) fn section(
        &mut self,
        raw: RawSection,
        key: &str,
        (source_interval, source_text): (Duration, &FullText),
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
        let content = match &raw.content {
            Some(_) => self.content_selectors(raw.content.as_ref(), &format!("{key}.content")),
            None => source_text.content.clone(),
        };
        let (url, kind, rules, content) = (url?, kind?, rules?, content?);
        ok.then(|| Section {
            name: raw.name.clone().unwrap_or_else(|| id.clone()),
            id,
            url,
            kind,
            interval,
            time_format,
            limit,
            rules,
            full_text: raw.full_text.unwrap_or(source_text.on),
            content,
        })
    }

    /// The `content` selectors (one or a fallback list), each checked as CSS; `None` after a
    /// problem was recorded.
    fn content_selectors(
        &mut self,
        value: Option<&Spanned<Selectors>>,
        key: &str,
    ) -> Option<Vec<String>> {
        let Some(value) = value else {
            return Some(Vec::new());
        };
        let list = value.get_ref().list();
        let mut ok = true;
        for text in &list {
            if let Err(e) = scraper::Selector::parse(text) {
                self.problem(
                    Some(value.span()),
                    key,
                    format!("`{text}` is not a valid CSS selector: {e}"),
                );
                ok = false;
            }
        }
        ok.then(|| list.into_iter().map(str::to_string).collect())
    }

    pub(super) fn html_rules(&mut self, raw: &RawSection, key: &str) -> Option<HtmlRules> {
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

/// A source's `full_text` and `content`, inherited by sections that do not set their own.
pub(super) struct FullText {
    on: bool,
    /// `None` when the source's selectors were invalid (a problem is recorded).
    content: Option<Vec<String>>,
}
