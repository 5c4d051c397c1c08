//! Extraction quality on real article pages from the shared corpus (`../shared/corpus`).
//!
//! Ground truth: for each Chinese article page, the article's own paragraphs, picked by a
//! hand-written per-site selector below. Metric: over the sequence of CJK ideographs only
//! (punctuation, Latin and digits ignored), LCS(extracted, truth) / |extracted| is precision and
//! LCS / |truth| is recall — order-aware, so boilerplate that happens to reuse the article's
//! characters still counts against precision. Without the corpus the test skips, except under
//! `CI=true`, where it fails.

use std::path::PathBuf;
use std::time::Instant;

use headwire::decode::{decode, DocKind};
use headwire::fulltext::{extract_article, Method};
use url::Url;

/// (corpus path, the page's original URL, ground-truth selector for the article paragraphs).
const PAGES: &[(&str, &str, &str)] = &[
    (
        "html/GeneralNewsExtractor/tests/guancha/3.html",
        "https://www.guancha.cn/economy/2019_09_09_517286.shtml",
        "div.content.all-txt > p",
    ),
    (
        "html/GeneralNewsExtractor/tests/sina/5.html",
        "https://news.sina.com.cn/c/2019-10-23/doc-iicezzrr4251736.shtml",
        "div#article > p",
    ),
    (
        "html/GeneralNewsExtractor/tests/thepaper/1.html",
        "https://www.thepaper.cn/newsDetail_forward_4919426",
        "div.news_txt",
    ),
    (
        "html/GeneralNewsExtractor/tests/people/1.html",
        "http://culture.people.com.cn/n1/2019/0615/c1013-31153719.html",
        "div#rwb_zw > p",
    ),
    (
        "html/derived-transcoded/people_article_1.gbk.html",
        "http://culture.people.com.cn/n1/2019/0615/c1013-31153719.html",
        "div#rwb_zw > p",
    ),
];

const MIN_PRECISION: f64 = 0.9;
const MIN_RECALL: f64 = 0.9;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.join("html").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "corpus missing at {} under CI=true",
        dir.display()
    );
    println!("SKIP: corpus not found at {}", dir.display());
    None
}

fn cjk(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| {
            matches!(*c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
        })
        .collect()
}

fn lcs(a: &[char], b: &[char]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn text_of(html: &str) -> String {
    scraper::Html::parse_fragment(html)
        .root_element()
        .text()
        .collect()
}

struct Score {
    precision: f64,
    recall: f64,
    truth: usize,
    extracted: usize,
}

fn score(truth: &[char], extracted_html: &str) -> Score {
    let ex = cjk(&text_of(extracted_html));
    let common = lcs(truth, &ex) as f64;
    Score {
        precision: if ex.is_empty() {
            0.0
        } else {
            common / ex.len() as f64
        },
        recall: common / truth.len().max(1) as f64,
        truth: truth.len(),
        extracted: ex.len(),
    }
}

fn load(dir: &std::path::Path, path: &str) -> (String, scraper::Html) {
    let bytes = std::fs::read(dir.join(path)).unwrap();
    let html = decode(&bytes, None, DocKind::Html).text;
    let doc = scraper::Html::parse_document(&html);
    (html, doc)
}

fn truth_of(doc: &scraper::Html, selector: &str) -> Vec<char> {
    let sel = scraper::Selector::parse(selector).unwrap();
    let text: String = doc.select(&sel).flat_map(|e| e.text()).collect();
    cjk(&text)
}

#[test]
fn automatic_extraction_reaches_the_target_on_chinese_article_pages() {
    let Some(dir) = corpus() else { return };
    let mut failures = Vec::new();
    println!("| page | truth chars | extracted chars | precision | recall | ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (path, url, truth_selector) in PAGES {
        let (html, doc) = load(&dir, path);
        let truth = truth_of(&doc, truth_selector);
        assert!(truth.len() > 200, "{path}: ground truth too small");
        let url = Url::parse(url).unwrap();
        let start = Instant::now();
        let article = extract_article(&html, &url, None).unwrap();
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(article.method, Method::Readability);
        let s = score(&truth, &article.html);
        println!(
            "| {path} | {} | {} | {:.3} | {:.3} | {ms:.1} |",
            s.truth, s.extracted, s.precision, s.recall
        );
        if s.precision < MIN_PRECISION || s.recall < MIN_RECALL {
            println!(
                "--- extracted text of {path}:\n{}\n---",
                text_of(&article.html)
            );
            failures.push(*path);
        }
    }
    assert!(failures.is_empty(), "below target: {failures:?}");
}

#[test]
fn configured_selectors_extract_exactly_the_paragraphs() {
    let Some(dir) = corpus() else { return };
    for (path, url, truth_selector) in PAGES {
        let (html, doc) = load(&dir, path);
        let truth = truth_of(&doc, truth_selector);
        let url = Url::parse(url).unwrap();
        // A first selector that matches nothing, then the site's real one.
        let selectors = vec!["div.no-such-block".to_owned(), truth_selector.to_string()];
        let article = extract_article(&html, &url, Some(&selectors)).unwrap();
        assert_eq!(article.method, Method::Selector(1), "{path}");
        let s = score(&truth, &article.html);
        assert!(
            s.precision >= 0.99 && s.recall >= 0.97,
            "{path}: precision {:.3} recall {:.3}",
            s.precision,
            s.recall
        );
        // Everything in the output is absolute and safe.
        let out = scraper::Html::parse_fragment(&article.html);
        let sel = scraper::Selector::parse("[src], [href]").unwrap();
        for e in out.select(&sel) {
            for attr in ["src", "href"] {
                if let Some(v) = e.value().attr(attr) {
                    assert!(
                        v.starts_with("http://")
                            || v.starts_with("https://")
                            || v.starts_with("mailto:"),
                        "{path}: {attr}={v}"
                    );
                }
            }
        }
        assert!(!article.html.contains("<script"), "{path}");
    }
}
