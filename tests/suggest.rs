//! `headwire suggest` measured on the real pages of `../shared/corpus/html`.
//!
//! Ground truth is hand-written selectors: every shipped `feeds.toml` section with a
//! `# corpus:` comment, plus the sections in [`EXTRA_TRUTH`] written by hand for list pages
//! the shipped config does not cover. For each page, the table reports the share of a
//! hand-written section's headline links the top suggestion also reads — on pages with several
//! hand-written sections, the one it reads best ("matched") — and for every hand-written
//! section the best share among the top three. Run with `--nocapture` to print the table that
//! `docs/suggest.md` shows. The corpus is skipped when absent, except under `CI=true`.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use common::corpus_pages;
use headwire::config::Config;
use headwire::poll::process_body;
use headwire::suggest::{suggest_bytes, SuggestOptions};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The corpus directory, or `None` to skip (only when it is absent and CI is not "true").
fn corpus() -> Option<PathBuf> {
    let dir = manifest_dir().join("../shared/corpus/html");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the corpus {} is missing under CI=true", dir.display());
    }
    eprintln!("skipping: no corpus at {}", dir.display());
    None
}

/// Hand-written sections for corpus list pages the shipped config has none for, written from
/// the pages' markup before the suggester was run on them.
const EXTRA_TRUTH: &str = r#"
[[source]]
id = "hn"
timezone = "UTC"

# corpus: progscrape/scrapers/testdata/hn1.html
[[source.section]]
id = "hn1"
url = "https://news.ycombinator.com/"
item = "tr.athing"
title = ["span.titleline > a", "a.storylink"]
link = ["span.titleline > a@href", "a.storylink@href"]

# corpus: rss-proxy/test/pages/news_ycombinator_com.html
[[source.section]]
id = "hn-2019"
url = "https://news.ycombinator.com/"
item = "tr.athing"
title = ["span.titleline > a", "a.storylink"]
link = ["span.titleline > a@href", "a.storylink@href"]

[[source]]
id = "blogs"
timezone = "UTC"

# corpus: rss-proxy/test/pages/schneier_com.html
[[source.section]]
id = "schneier"
url = "https://www.schneier.com/"
item = "article"
title = "h2.entry a"

# corpus: rss-proxy/test/pages/mozilla-blog.html
[[source.section]]
id = "mozilla"
url = "https://blog.mozilla.org/"
item = "article.post-summary"
title = "h2.entry-title"
link = "a.entry-link@href"

# corpus: html2rss/spec/fixtures/page_1.html
[[source.section]]
id = "page1"
url = "https://page.example/"
item = "article:has(h3.title)"
title = "h3.title"
link = "a:has(h3.title)@href"

[[source]]
id = "jp"
timezone = "Asia/Tokyo"

# corpus: momoclo-channel/crawler/testdata/ae_news/list_20160715.html
[[source.section]]
id = "momoclo"
url = "http://www.momoclo.net/pub/pc/information/"
item = "div.article dl"
title = "h4 a"
time = ".date"

[[source]]
id = "funds"
timezone = "Asia/Shanghai"

# corpus: GerapyAutoExtractor/samples/list/dfa66_announcement.html
[[source.section]]
id = "dfa66"
url = "http://www.dfa66.com/dfaets/news/announcement/index.html"
item = "li:has(> span.t)"
title = "a"
time = "span.t"

# corpus: GerapyAutoExtractor/samples/list/rtfund_xxpl.html
[[source.section]]
id = "rtfund"
url = "https://www.rtfund.com/main/xxpl/index.shtml"
item = "div.info_ne li:has(> span)"
title = "a"
time = "span"
"#;

struct Truth {
    key: String,
    links: Vec<String>,
}

/// Links as the hand-written section's source stores them (its `strip_params` applied), so a
/// suggestion added to that source is compared with what it would store.
fn canonical(links: &[String], strip: &[String]) -> Vec<String> {
    links
        .iter()
        .filter_map(|l| headwire::normalize::url::canonical_link(l, strip))
        .collect()
}

fn hand_written_links(config: &Config, key: &str, bytes: &[u8]) -> Truth {
    let (source, section) = config.section(key).unwrap();
    let mut section = section.clone();
    section.limit = None;
    let now = "2024-06-01T00:00:00Z".parse().unwrap();
    let processed = process_body(bytes, None, &section.url, source, &section, now).unwrap();
    let mut seen = HashSet::new();
    let links = processed
        .observed
        .iter()
        .filter_map(|o| o.link.clone())
        .filter(|l| seen.insert(l.clone()))
        .collect();
    Truth {
        key: key.to_string(),
        links,
    }
}

fn share(truth: &[String], found: &[String]) -> f64 {
    let found: HashSet<&String> = found.iter().collect();
    let hit = truth.iter().filter(|l| found.contains(l)).count();
    hit as f64 / truth.len().max(1) as f64
}

#[test]
fn top_suggestion_finds_the_hand_written_headlines() {
    let Some(dir) = corpus() else { return };
    let shipped_path = manifest_dir().join("feeds.toml");
    let shipped_text = std::fs::read_to_string(&shipped_path).unwrap();
    let shipped = Config::parse(&shipped_text, &shipped_path).unwrap();
    let extra = Config::parse(EXTRA_TRUTH, Path::new("extra-truth.toml")).unwrap();
    let mut pages: BTreeMap<String, Vec<(&Config, String)>> = BTreeMap::new();
    for (config, text) in [(&shipped, shipped_text.as_str()), (&extra, EXTRA_TRUTH)] {
        for (source, section, page) in corpus_pages(text) {
            pages
                .entry(page)
                .or_default()
                .push((config, format!("{source}/{section}")));
        }
    }
    let mut table = String::from(
        "| page | hand-written section | hand-written headlines | top suggestion reads | top-1 coverage | best of top 3 |\n|---|---|---:|---:|---:|---:|\n",
    );
    let (mut pages_ok, mut pages_total) = (0, 0);
    for (page, sections) in &pages {
        let bytes = std::fs::read(dir.join(page)).unwrap();
        let mut truths: Vec<Truth> = sections
            .iter()
            .map(|(config, key)| hand_written_links(config, key, &bytes))
            .collect();
        let (config, key) = &sections[0];
        let (source, section) = config.section(key).unwrap();
        let options = SuggestOptions {
            timezone: source.timezone,
            now: "2024-06-01T00:00:00Z".parse().unwrap(),
            max: 3,
        };
        let (_, suggestions) = suggest_bytes(&bytes, None, &section.url, &options);
        let read: Vec<Vec<String>> = suggestions
            .iter()
            .map(|s| canonical(&s.links, &source.strip_params))
            .collect();
        let top: &[String] = read.first().map_or(&[], |l| l.as_slice());
        // The page's reference list is the hand-written section the top suggestion reads
        // best (pages with several lists have several right answers).
        truths.sort_by(|a, b| share(&b.links, top).total_cmp(&share(&a.links, top)));
        for (i, truth) in truths.iter().enumerate() {
            let top1 = share(&truth.links, top);
            let best3 = read
                .iter()
                .map(|l| share(&truth.links, l))
                .fold(0.0, f64::max);
            let main = i == 0;
            if main {
                pages_total += 1;
                if top1 >= 0.9 {
                    pages_ok += 1;
                }
            }
            table.push_str(&format!(
                "| {} | {}{} | {} | {} | {} | {:.0}% |\n",
                if main { page.as_str() } else { "″" },
                truth.key,
                if main { " (matched)" } else { "" },
                truth.links.len(),
                if main {
                    top.len().to_string()
                } else {
                    String::new()
                },
                if main {
                    format!("**{:.0}%**", top1 * 100.0)
                } else {
                    "–".into()
                },
                best3 * 100.0
            ));
        }
        for s in &suggestions {
            eprintln!(
                "{page}: item `{}` title `{}` n={} score={:.0}",
                s.item,
                s.title,
                s.links.len(),
                s.score
            );
        }
    }
    table.push_str(&format!(
        "\nPages whose top suggestion reads ≥ 90% of a hand-written list: {pages_ok} of {pages_total}\n"
    ));
    println!("{table}");
    assert!(pages_total >= 10, "{table}");
    assert!(
        pages_ok * 5 >= pages_total * 4,
        "the top suggestion must find ≥ 90% of the headlines on ≥ 80% of the pages:\n{table}"
    );
}
