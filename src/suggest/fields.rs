//! Field inference: given the elements of one candidate list, which selector inside an item
//! reads the title (and link), the time, the labels and the summary.
//!
//! Each field is chosen by trying the selectors the items' own markup suggests (an element's
//! stable classes, or its nearest classed ancestor plus its tag) and keeping the one that reads
//! a plausible value in most items: a long link text for the title, a text (or `datetime`,
//! `title`, `href`) the time parser understands for the time, short repeated texts for labels,
//! long texts for the summary. Values are read the way the extractor reads them: the first
//! non-empty match, text cleaned.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use scraper::{ElementRef, Selector};

use super::dom::{classes, followable, parent, simple_of, width};
use crate::normalize::time::{parse_time, TimeContext};
use crate::text::clean_text;

/// At most this many items are read to choose the fields (the rest follow the same markup).
pub const SAMPLE_ITEMS: usize = 60;

/// Class-name words that mark labels.
const LABEL_WORDS: &[&str] = &[
    "tag", "label", "cat", "channel", "key", "section", "column", "topic", "kind", "type", "source",
];

/// Class-name words that mark summaries.
const SUMMARY_WORDS: &[&str] = &[
    "summary", "desc", "intro", "abstract", "excerpt", "artile", "article", "brief", "lead",
    "teaser", "content", "text",
];

/// A field selector as the suggester evaluates it: CSS inside the item plus an optional
/// attribute, mirroring the config's `css@attr` form.
pub struct Probe {
    css: Selector,
    attr: Option<&'static str>,
    text: String,
}

impl Probe {
    /// Parses `css` with an optional attribute; `None` when the CSS does not parse.
    pub fn new(css: &str, attr: Option<&'static str>) -> Option<Probe> {
        let selector = Selector::parse(css).ok()?;
        let text = match attr {
            Some(a) => format!("{css}@{a}"),
            None => css.to_string(),
        };
        Some(Probe {
            css: selector,
            attr,
            text,
        })
    }

    /// The selector as it goes into the config.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first non-empty value inside `item`, and the element it came from.
    pub fn first<'a>(&self, item: ElementRef<'a>) -> Option<(String, ElementRef<'a>)> {
        item.select(&self.css).find_map(|element| {
            let raw = match self.attr {
                Some(attr) => element.value().attr(attr)?.to_string(),
                None => element.text().collect::<String>(),
            };
            let value = clean_text(&raw);
            (!value.is_empty()).then_some((value, element))
        })
    }
}

/// The selector of `element` relative to `item`: its own stable classes, else its nearest
/// classed ancestor inside the item followed by its tag, else its tag.
pub fn relative_selector(element: ElementRef<'_>, item: ElementRef<'_>) -> String {
    let tag = element.value().name();
    if !classes(element).is_empty() {
        return simple_of(element);
    }
    let mut current = parent(element);
    while let Some(ancestor) = current {
        if ancestor.id() == item.id() {
            break;
        }
        let is_heading = matches!(
            ancestor.value().name(),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
        );
        if !classes(ancestor).is_empty() || is_heading {
            return format!("{} {tag}", simple_of(ancestor));
        }
        current = parent(ancestor);
    }
    tag.to_string()
}

/// Whether `inner` is `outer` or inside it.
fn contains(outer: ElementRef<'_>, inner: ElementRef<'_>) -> bool {
    inner.ancestors().any(|a| a.id() == outer.id()) || inner.id() == outer.id()
}

/// The chosen title selector and how well it reads.
pub struct TitleChoice {
    /// The selector (an anchor); the link is the same selector with `@href`.
    pub probe: Probe,
    /// Share of items where it reads a followable link with text.
    pub coverage: f64,
    /// Mean title width where it does.
    pub mean_width: f64,
}

/// Picks the title anchor selector for the items.
pub fn title(items: &[ElementRef<'_>]) -> Option<TitleChoice> {
    let mut tried: HashSet<String> = HashSet::new();
    let mut best: Option<(f64, TitleChoice)> = None;
    let anchor = Selector::parse("a[href]").ok()?;
    for item in items.iter().take(SAMPLE_ITEMS) {
        for a in item.select(&anchor) {
            let mut options = vec!["a".to_string()];
            if !classes(a).is_empty() {
                options.push(simple_of(a));
            }
            let relative = relative_selector(a, *item);
            if relative != "a" && !options.contains(&relative) {
                options.push(relative);
            }
            if let Some(p) = parent(a).filter(|p| p.id() != item.id()) {
                let via_parent = format!("{} a", relative_selector(p, *item));
                if !options.contains(&via_parent) {
                    options.push(via_parent);
                }
            }
            for css in options {
                if !tried.insert(css.clone()) {
                    continue;
                }
                let Some(probe) = Probe::new(&css, None) else {
                    continue;
                };
                let (mut hits, mut total_width) = (0usize, 0usize);
                for it in items.iter().take(SAMPLE_ITEMS) {
                    if let Some((text, element)) = probe.first(*it) {
                        let href = element.value().attr("href").unwrap_or_default();
                        let w = width(&text);
                        if w >= 6 && followable(href) {
                            hits += 1;
                            total_width += w.min(80);
                        }
                    }
                }
                if hits == 0 {
                    continue;
                }
                let n = items.len().clamp(1, SAMPLE_ITEMS) as f64;
                let coverage = hits as f64 / n;
                let mean_width = total_width as f64 / hits as f64;
                // Coverage matters most; among near-equals the longer text is the headline
                // (not the 【channel】 link next to it), and a more specific selector wins ties.
                let score = coverage * coverage * mean_width + probe.as_str().len() as f64 * 1e-3;
                if best.as_ref().is_none_or(|(s, _)| score > *s) {
                    best = Some((
                        score,
                        TitleChoice {
                            probe,
                            coverage,
                            mean_width,
                        },
                    ));
                }
            }
        }
    }
    best.map(|(_, choice)| choice)
}

/// Candidate selectors for the descendants of the sampled items, excluding the title element.
fn descendant_selectors(
    items: &[ElementRef<'_>],
    title: &Probe,
    mut keep: impl FnMut(ElementRef<'_>, &str) -> bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for item in items.iter().take(SAMPLE_ITEMS) {
        let title_element = title.first(*item).map(|(_, e)| e);
        for d in item.descendants().filter_map(ElementRef::wrap) {
            if d.id() == item.id() || matches!(d.value().name(), "script" | "style" | "br") {
                continue;
            }
            if let Some(t) = title_element {
                if contains(d, t) || contains(t, d) {
                    continue;
                }
            }
            let text = clean_text(&d.text().collect::<String>());
            if !keep(d, &text) {
                continue;
            }
            let css = relative_selector(d, *item);
            if seen.insert(css.clone()) {
                out.push(css);
            }
        }
    }
    out
}

/// The chosen time selector: the one whose value the time parser understands in most items.
pub fn time(
    items: &[ElementRef<'_>],
    title: &Probe,
    zone: Tz,
    now: DateTime<Utc>,
) -> Option<String> {
    let ctx = TimeContext::new(zone, now);
    let n = items.len().clamp(1, SAMPLE_ITEMS) as f64;
    let mut options: Vec<(String, Option<&'static str>, f64)> = Vec::new();
    // (selector, attribute, preference): machine-readable attributes first, then texts, and
    // the story URL last (a date in /2020_07_18_ paths is real but coarse).
    options.push(("time".into(), Some("datetime"), 3.0));
    options.push(("[datetime]".into(), Some("datetime"), 2.9));
    for css in descendant_selectors(items, title, |d, text| {
        d.value().attr("datetime").is_some()
            || d.value().attr("title").is_some()
            || (!text.is_empty() && width(text) <= 40)
    }) {
        options.push((css.clone(), Some("datetime"), 2.5));
        options.push((css.clone(), Some("title"), 2.0));
        options.push((css, None, 1.0));
    }
    let title_css = title.as_str().to_string();
    options.push((title_css, Some("href"), 0.5));
    let mut best: Option<(f64, String)> = None;
    for (css, attr, preference) in options {
        let Some(probe) = Probe::new(&css, attr) else {
            continue;
        };
        let mut hits = 0usize;
        let mut attempts = 0usize;
        for item in items.iter().take(SAMPLE_ITEMS) {
            if let Some((value, _)) = probe.first(*item) {
                attempts += 1;
                let short_enough = attr.is_some() || width(&value) <= 40;
                if short_enough && parse_time(&value, &ctx).is_ok() {
                    hits += 1;
                }
            }
        }
        let share = hits as f64 / n;
        // A selector that reads other things as often as times is not a time.
        if share < 0.5 || (attempts > 0 && (hits as f64) < 0.8 * attempts as f64) {
            continue;
        }
        let score = share * 10.0 + preference;
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, probe.as_str().to_string()));
        }
    }
    best.map(|(_, css)| css)
}

/// Whether a class name or its parent's names a label.
fn label_like(element: ElementRef<'_>) -> bool {
    let named = |e: ElementRef<'_>| {
        e.value().classes().any(|c| {
            let c = c.to_ascii_lowercase();
            LABEL_WORDS.iter().any(|w| c.contains(w))
        })
    };
    named(element) || parent(element).is_some_and(named)
}

/// The chosen label selector: short texts in a good share of items, either marked as labels by
/// their class or repeated across items (a channel name, not a headline).
pub fn label(
    items: &[ElementRef<'_>],
    title: &Probe,
    time: Option<&str>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Option<String> {
    let ctx = TimeContext::new(zone, now);
    let n = items.len().clamp(1, SAMPLE_ITEMS) as f64;
    let mut marked: HashMap<String, bool> = HashMap::new();
    let options = descendant_selectors(items, title, |d, text| {
        let w = width(text);
        let ok = (2..=20).contains(&w);
        if ok && label_like(d) {
            marked.insert(relative_selector_key(d), true);
        }
        ok
    });
    let mut best: Option<(f64, String)> = None;
    for css in options {
        if time.is_some_and(|t| t == css) {
            continue;
        }
        let Some(probe) = Probe::new(&css, None) else {
            continue;
        };
        let mut values: Vec<String> = Vec::new();
        let mut keyword = false;
        for item in items.iter().take(SAMPLE_ITEMS) {
            if let Some((value, element)) = probe.first(*item) {
                if width(&value) > 20 || parse_time(&value, &ctx).is_ok() {
                    continue;
                }
                keyword |=
                    label_like(element) || marked.contains_key(&relative_selector_key(element));
                values.push(value);
            }
        }
        let coverage = values.len() as f64 / n;
        if coverage < 0.3 || values.is_empty() {
            continue;
        }
        let distinct: HashSet<&String> = values.iter().collect();
        let repeats = (distinct.len() as f64) <= 0.7 * values.len() as f64;
        if !(keyword || repeats) || distinct.len() < 2 && values.len() > 3 && !keyword {
            continue;
        }
        let score = coverage * if keyword { 2.0 } else { 1.0 };
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, css));
        }
    }
    best.map(|(_, css)| css)
}

/// A key for "this element's kind" (tag and classes) used to remember label-marked elements.
fn relative_selector_key(element: ElementRef<'_>) -> String {
    simple_of(element)
}

/// The chosen summary selector: long texts (longer than the titles) in at least 40% of items.
pub fn summary(items: &[ElementRef<'_>], title: &Probe, title_width: f64) -> Option<String> {
    let n = items.len().clamp(1, SAMPLE_ITEMS) as f64;
    let options = descendant_selectors(items, title, |d, text| {
        width(text) >= 40 && !matches!(d.value().name(), "a" | "ul" | "ol" | "li")
    });
    let mut best: Option<(f64, String)> = None;
    for css in options {
        let Some(probe) = Probe::new(&css, None) else {
            continue;
        };
        let mut hits = 0usize;
        let mut total = 0usize;
        let mut keyword = false;
        for item in items.iter().take(SAMPLE_ITEMS) {
            if let Some((value, element)) = probe.first(*item) {
                let w = width(&value);
                if w >= 40 && (w as f64) > title_width {
                    hits += 1;
                    total += w.min(400);
                    keyword |= element.value().name() == "p"
                        || element.value().classes().any(|c| {
                            let c = c.to_ascii_lowercase();
                            SUMMARY_WORDS.iter().any(|k| c.contains(k))
                        });
                }
            }
        }
        let coverage = hits as f64 / n;
        if coverage < 0.4 || hits == 0 {
            continue;
        }
        let score = coverage * if keyword { 2.0 } else { 1.0 } + (total / hits) as f64 * 1e-4;
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, css));
        }
    }
    best.map(|(_, css)| css)
}
