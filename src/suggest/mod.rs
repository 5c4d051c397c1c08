//! `headwire suggest`: finds the headline lists on a portal page and writes their selectors.
//!
//! A headline list is a run of sibling elements with the same tag and classes, each holding a
//! link with text, often a time and a label. The suggester walks the page for such runs, turns
//! each into a stable item selector (classes and ids a person wrote, never `nth-child`), infers
//! the title, link, time, label and summary selectors inside it ([`fields`]), and then checks
//! every candidate by running it through the real extraction and normalisation
//! ([`crate::poll::process_body`]), so the headlines it shows and counts are exactly what
//! polling will store. Candidates are ranked by how many distinct headlines they read, how
//! much those look like headlines (width of the titles), and whether times and labels parse.

pub mod dom;
pub mod fields;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use crate::config::{Config, SectionKind};
use crate::decode::{decode_document, Expect};
use crate::poll::process_body;
use crate::selector::FIELDS;
use dom::{classes, parent, simple, stable_id, width};

/// Lists with fewer items than this are not headline lists.
pub const MIN_ITEMS: usize = 3;

/// How many candidates get the full check through the extractor (each costs a page parse).
const CHECKED_CANDIDATES: usize = 12;

/// Elements whose children are never headline lists.
const SKIPPED_PARENTS: &[&str] = &[
    "head", "script", "style", "noscript", "select", "svg", "option", "table",
];

/// Child tags that are never headline items.
const SKIPPED_ITEMS: &[&str] = &[
    "script", "style", "br", "option", "a", "img", "input", "link", "meta", "span", "em", "b", "i",
    "strong", "font", "source", "path",
];

/// What the caller knows about the page.
#[derive(Debug, Clone)]
pub struct SuggestOptions {
    /// Zone for times printed without an offset (the source's `timezone`).
    pub timezone: Tz,
    /// The clock relative times resolve against.
    pub now: DateTime<Utc>,
    /// How many suggestions to return.
    pub max: usize,
}

/// One parsed headline shown with a suggestion.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Title as stored.
    pub title: String,
    /// Canonical link.
    pub link: String,
    /// Time text as printed.
    pub raw_time: Option<String>,
    /// Parsed time.
    pub time: Option<DateTime<Utc>>,
    /// Page labels.
    pub labels: Vec<String>,
}

/// A suggested section: selectors plus what they read from this page.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// One match per headline.
    pub item: String,
    /// Title selector.
    pub title: String,
    /// Link selector.
    pub link: String,
    /// Time selector, when one parses in most items.
    pub time: Option<String>,
    /// Label selector, when there is one.
    pub label: Option<String>,
    /// Summary selector, when there is one.
    pub summary: Option<String>,
    /// Headlines the extractor reads with these selectors.
    pub headlines: usize,
    /// Headlines whose time parsed.
    pub timed: usize,
    /// Every canonical link read, in page order (for comparing with other selectors).
    pub links: Vec<String>,
    /// The first five headlines.
    pub samples: Vec<Sample>,
    /// Ranking score (higher is better).
    pub score: f64,
}

impl Suggestion {
    /// The selector keys of this suggestion in config order ([`FIELDS`]), ready for a section
    /// block.
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("item", self.item.as_str())];
        for field in &FIELDS {
            let value = match field.name {
                "title" => Some(&self.title),
                "link" => Some(&self.link),
                "time" => self.time.as_ref(),
                "label" => self.label.as_ref(),
                "summary" => self.summary.as_ref(),
                _ => None,
            };
            if let Some(value) = value {
                out.push((field.name, value.as_str()));
            }
        }
        out
    }

    /// A ready `[[source.section]]` block for `feeds.toml`.
    pub fn section_block(&self, id: &str, name: &str, url: &Url) -> String {
        let mut out = String::from("[[source.section]]\n");
        let mut line = |key: &str, value: &str| {
            out.push_str(&format!("{key} = {}\n", toml_string(value)));
        };
        line("id", id);
        line("name", name);
        line("url", url.as_str());
        for (key, value) in self.fields() {
            line(key, value);
        }
        out
    }
}

/// A TOML basic string for `value`, escaped by toml_edit.
pub fn toml_string(value: &str) -> String {
    toml_edit::Value::from(value).to_string().trim().to_string()
}

/// Decodes a fetched page the way polling does (charset from header, BOM, meta or detection)
/// and suggests sections for it. Returns the charset decision and the suggestions, best first.
pub fn suggest_bytes(
    bytes: &[u8],
    content_type: Option<&str>,
    page_url: &Url,
    options: &SuggestOptions,
) -> (String, Vec<Suggestion>) {
    let decoded = decode_document(bytes, content_type, Expect::Html);
    let suggestions = suggest(&decoded.text, page_url, options);
    (decoded.explain(), suggestions)
}

/// Suggests sections for a decoded page, best first.
pub fn suggest(html: &str, page_url: &Url, options: &SuggestOptions) -> Vec<Suggestion> {
    let document = Html::parse_document(html);
    let mut drafts: Vec<Draft> = candidate_selectors(&document)
        .into_iter()
        .filter_map(|item| draft(&document, &item, options))
        .collect();
    drafts.sort_by(|a, b| b.pre_score.total_cmp(&a.pre_score));
    drafts.truncate(CHECKED_CANDIDATES);
    drop(document);
    let mut checked: Vec<Suggestion> = drafts
        .into_iter()
        .filter_map(|d| check(d, html, page_url, options))
        .collect();
    checked.sort_by(|a, b| b.score.total_cmp(&a.score));
    // One list per suggestion: drop a candidate that mostly re-reads a better one's links.
    let mut out: Vec<Suggestion> = Vec::new();
    for s in checked {
        let mine: HashSet<&String> = s.links.iter().collect();
        let overlaps = out.iter().any(|kept| {
            let shared = kept.links.iter().filter(|l| mine.contains(l)).count();
            shared * 2 > mine.len().min(kept.links.len()).max(1)
        });
        if !overlaps {
            out.push(s);
        }
        if out.len() >= options.max {
            break;
        }
    }
    out
}

/// Item selectors for every run of similar siblings that holds links.
fn candidate_selectors(document: &Html) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let link = match Selector::parse("a[href]") {
        Ok(s) => s,
        Err(_) => return out,
    };
    for node in document.root_element().descendants() {
        let Some(container) = ElementRef::wrap(node) else {
            continue;
        };
        if SKIPPED_PARENTS.contains(&container.value().name()) {
            continue;
        }
        let mut by_tag: HashMap<&str, Vec<ElementRef<'_>>> = HashMap::new();
        for child in container.children().filter_map(ElementRef::wrap) {
            let tag = child.value().name();
            if !SKIPPED_ITEMS.contains(&tag) {
                by_tag.entry(tag).or_default().push(child);
            }
        }
        for (tag, members) in by_tag {
            if members.len() < MIN_ITEMS {
                continue;
            }
            // Classes most members share (first/last/odd variants do not split the run), and
            // each class enough members carry on its own (`tr.athing` among plain `tr`s).
            let mut counts: Vec<(String, usize)> = Vec::new();
            for m in &members {
                for c in classes(*m) {
                    match counts.iter_mut().find(|(name, _)| *name == c) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((c, 1)),
                    }
                }
            }
            let shared: Vec<String> = counts
                .iter()
                .filter(|(_, n)| n * 5 >= members.len() * 3)
                .map(|(c, _)| c.clone())
                .collect();
            let mut class_sets = vec![shared.clone()];
            for (c, n) in &counts {
                if *n >= MIN_ITEMS && !shared.contains(c) {
                    class_sets.push(vec![c.clone()]);
                }
            }
            for set in class_sets {
                let with_links = members
                    .iter()
                    .filter(|m| {
                        set.iter().all(|c| {
                            m.value()
                                .has_class(c, scraper::CaseSensitivity::CaseSensitive)
                        })
                    })
                    .filter(|m| m.select(&link).next().is_some())
                    .count();
                if with_links < MIN_ITEMS {
                    continue;
                }
                if let Some(selector) = item_selector(container, tag, &set) {
                    if seen.insert(selector.clone()) {
                        out.push(selector);
                    }
                }
            }
        }
    }
    out
}

/// `parent > item` with the nearest ancestor (up to three levels) that has a stable id or
/// class, so the selector names the list rather than every `li` of the page.
fn item_selector(container: ElementRef<'_>, tag: &str, item_classes: &[String]) -> Option<String> {
    let item = simple(tag, item_classes);
    let mut chain: Vec<String> = Vec::new();
    let mut current = Some(container);
    for _ in 0..3 {
        let element = current?;
        if matches!(element.value().name(), "html" | "body") {
            break;
        }
        if let Some(id) = stable_id(element) {
            chain.push(id);
            break;
        }
        let own = classes(element);
        chain.push(simple(element.value().name(), &own));
        if !own.is_empty() {
            break;
        }
        current = parent(element);
    }
    if chain.is_empty() && item_classes.is_empty() {
        return None;
    }
    chain.reverse();
    chain.push(item);
    Some(chain.join(" > "))
}

/// A candidate with its fields chosen, before the extractor checks it.
struct Draft {
    item: String,
    title: String,
    time: Option<String>,
    label: Option<String>,
    summary: Option<String>,
    pre_score: f64,
    /// Below 1 when the items are spread over many small containers (tag clouds, per-topic
    /// boxes of three links) rather than forming one list.
    spread: f64,
}

fn draft(document: &Html, item: &str, options: &SuggestOptions) -> Option<Draft> {
    let selector = Selector::parse(item).ok()?;
    let items: Vec<ElementRef<'_>> = document.select(&selector).collect();
    if items.len() < MIN_ITEMS {
        return None;
    }
    let title = fields::title(&items)?;
    if title.coverage < 0.5 {
        return None;
    }
    // Items without the title (ads, spacers) are left out by the item selector itself.
    let item = if title.coverage < 0.95 {
        format!("{item}:has({})", title.probe.as_str())
    } else {
        item.to_string()
    };
    let sample: Vec<ElementRef<'_>> = items
        .iter()
        .copied()
        .filter(|i| title.probe.first(*i).is_some())
        .collect();
    let time = fields::time(&sample, &title.probe, options.timezone, options.now);
    let label = fields::label(
        &sample,
        &title.probe,
        time.as_deref(),
        options.timezone,
        options.now,
    );
    let summary = fields::summary(&sample, &title.probe, title.mean_width);
    let n = sample.len() as f64;
    let parents: HashSet<_> = sample
        .iter()
        .filter_map(|i| i.parent().map(|p| p.id()))
        .collect();
    let mut spread = if parents.len() <= 2 {
        1.0
    } else {
        (n / parents.len() as f64 / 8.0).clamp(0.3, 1.0)
    };
    // An item holding many text links is a box of lists (a sidebar module), not a headline.
    if let Ok(anchor) = Selector::parse("a[href]") {
        let links: usize = sample
            .iter()
            .take(fields::SAMPLE_ITEMS)
            .map(|i| {
                i.select(&anchor)
                    .filter(|a| !a.text().collect::<String>().trim().is_empty())
                    .count()
            })
            .sum();
        let per_item = links as f64 / sample.len().clamp(1, fields::SAMPLE_ITEMS) as f64;
        if per_item > 6.0 {
            spread *= 6.0 / per_item;
        }
    }
    Some(Draft {
        spread,
        pre_score: n.powf(0.75) * title.mean_width.min(60.0) * spread,
        title: title.probe.as_str().to_string(),
        item,
        time,
        label,
        summary,
    })
}

/// Runs a draft through the real extractor and normaliser and scores what it reads.
fn check(draft: Draft, html: &str, page_url: &Url, options: &SuggestOptions) -> Option<Suggestion> {
    let spread = draft.spread;
    let mut suggestion = Suggestion {
        link: format!("{}@href", draft.title),
        item: draft.item,
        title: draft.title,
        time: draft.time,
        label: draft.label,
        summary: draft.summary,
        headlines: 0,
        timed: 0,
        links: Vec::new(),
        samples: Vec::new(),
        score: 0.0,
    };
    let processed = run(&suggestion, html, page_url, options)?;
    let mut seen = HashSet::new();
    let mut total_width = 0usize;
    // Headline-like: at least six CJK characters or twelve letters.
    let mut headline_like = 0usize;
    for story in &processed.observed {
        if let Some(link) = &story.link {
            if seen.insert(link.clone()) {
                suggestion.links.push(link.clone());
                let w = width(&story.title);
                total_width += w.min(80);
                if w >= 12 {
                    headline_like += 1;
                }
            }
        }
    }
    suggestion.headlines = processed.observed.len();
    suggestion.timed = processed
        .observed
        .iter()
        .filter(|o| o.published.is_some())
        .count();
    for (story, raw) in processed.observed.iter().zip(&processed.raw_times).take(5) {
        suggestion.samples.push(Sample {
            title: story.title.clone(),
            link: story.link.clone().unwrap_or_default(),
            raw_time: raw.clone(),
            time: story.published,
            labels: story.page_labels.clone(),
        });
    }
    let distinct = suggestion.links.len();
    if distinct < MIN_ITEMS {
        return None;
    }
    let mean_width = total_width as f64 / distinct as f64;
    let timed = suggestion.timed as f64 / suggestion.headlines.max(1) as f64;
    let story_like =
        suggestion.links.iter().filter(|l| story_link(l)).count() as f64 / distinct as f64;
    // Rows of another kind mixed in (HN's subtext rows under a bare `tr`) cost their share.
    let purity = headline_like as f64 / distinct as f64;
    let mut score = (distinct as f64).powf(0.75)
        * mean_width.min(60.0)
        * spread
        * purity
        * (0.7 + 0.3 * story_like)
        * (1.0
            + 0.4 * timed
            + if suggestion.label.is_some() {
                0.15
            } else {
                0.0
            }
            + if suggestion.summary.is_some() {
                0.1
            } else {
                0.0
            });
    if mean_width < 12.0 {
        // Menus and tag clouds: many links, two-word texts.
        score *= 0.3;
    }
    suggestion.score = score;
    Some(suggestion)
}

/// Whether a link looks like one story rather than a hub: its last path segment names a file
/// or an id (`/2020/0718/abc.html`, `item?id=3078`, `a-long-slug`), not a directory
/// (`/special/2020chunyun/`).
fn story_link(link: &str) -> bool {
    let Ok(url) = Url::parse(link) else {
        return false;
    };
    if url
        .query()
        .is_some_and(|q| q.chars().any(|c| c.is_ascii_digit()))
    {
        return true;
    }
    let last = url.path().rsplit('/').next().unwrap_or_default();
    !last.is_empty() && last.contains(|c: char| c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

/// Extracts the page with a suggestion's selectors exactly as polling would.
fn run(
    suggestion: &Suggestion,
    html: &str,
    page_url: &Url,
    options: &SuggestOptions,
) -> Option<crate::poll::Processed> {
    let text = format!(
        "[[source]]\nid = \"suggest\"\ntimezone = {}\n\n{}",
        toml_string(options.timezone.name()),
        suggestion.section_block("suggested", "suggested", page_url)
    );
    let config = Config::parse(&text, std::path::Path::new("suggest.toml")).ok()?;
    let (source, section) = config.section("suggest/suggested")?;
    if !matches!(section.kind, SectionKind::Html(_)) {
        return None;
    }
    process_body(
        html.as_bytes(),
        Some("text/html; charset=utf-8"),
        page_url,
        source,
        section,
        options.now,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> String {
        let mut html = String::from(
            "<html><head><meta charset=utf-8></head><body><div class=nav><ul class=menu>\
             <li><a href=/a>首页</a></li><li><a href=/b>国际</a></li><li><a href=/c>财经</a></li>\
             <li><a href=/d>体育</a></li></ul></div><div id=main><ul class=news-list>",
        );
        for i in 0..8 {
            let extra = if i == 0 { " class=first" } else { "" };
            html.push_str(&format!(
                "<li{extra}><h3 class=tt><a href=/news/{i}.html>第{i}条新闻标题写得足够长一些</a></h3>\
                 <span class=time>2024-05-0{} 10:3{i}</span><a class=tag href=/t>{}</a></li>",
                i % 3 + 1,
                ["国际", "财经"][i % 2]
            ));
        }
        html.push_str("<li class=ad><img src=x.png></li></ul></div></body></html>");
        html
    }

    #[test]
    fn finds_the_list_and_its_fields() {
        let url = Url::parse("https://news.example/").unwrap();
        let options = SuggestOptions {
            timezone: chrono_tz::Asia::Shanghai,
            now: "2024-05-10T00:00:00Z".parse().unwrap(),
            max: 3,
        };
        let found = suggest(&page(), &url, &options);
        let best = &found[0];
        assert_eq!(best.item, "ul.news-list > li:has(h3.tt a)", "{best:?}");
        assert_eq!(best.title, "h3.tt a");
        assert_eq!(best.link, "h3.tt a@href");
        assert_eq!(best.time.as_deref(), Some("span.time"));
        assert_eq!(best.label.as_deref(), Some("a.tag"));
        assert_eq!(best.headlines, 8);
        assert_eq!(best.timed, 8);
        assert_eq!(best.samples.len(), 5);
        assert_eq!(best.samples[1].labels, vec!["财经".to_string()]);
        assert_eq!(best.samples[0].link, "https://news.example/news/0.html");
        assert!(found.iter().all(|s| !s.item.contains("menu")) || found[0].score > found[1].score);
        let block = best.section_block("news", "新闻", &url);
        assert!(
            block.starts_with("[[source.section]]\nid = \"news\"\n"),
            "{block}"
        );
        assert!(
            block.contains("item = \"ul.news-list > li:has(h3.tt a)\"\n"),
            "{block}"
        );
    }

    #[test]
    fn a_page_without_lists_gives_nothing() {
        let url = Url::parse("https://x.example/").unwrap();
        let options = SuggestOptions {
            timezone: Tz::UTC,
            now: Utc::now(),
            max: 3,
        };
        assert!(suggest("<p>hello <a href=/x>world</a></p>", &url, &options).is_empty());
        assert!(suggest("", &url, &options).is_empty());
    }
}
