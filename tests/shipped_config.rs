//! The shipped `feeds.toml` must validate, and each of its sections must extract a sensible
//! number of headlines (most with a parsed time, where the section reads times) from the real
//! page it was designed from in `../shared/corpus/html` (named by the `# corpus:` comment above
//! the section). The corpus part skips cleanly when the corpus is absent (and fails under
//! `CI=true`).

mod common;

use std::path::{Path, PathBuf};

use common::corpus_pages;
use headwire::config::{Config, SectionKind};
use headwire::poll::process_body;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_config_validates() {
    let path = manifest_dir().join("feeds.toml");
    let config = Config::parse(&std::fs::read_to_string(&path).unwrap(), &path)
        .unwrap_or_else(|e| panic!("shipped feeds.toml does not validate:\n{e}"));
    assert!(config.sources.len() >= 3, "at least three portals");
    assert!(config.sources.iter().any(|s| s.id == "guancha"));
    assert_eq!(config.server.listen, "127.0.0.1:8080");
}

#[test]
fn shipped_sections_extract_from_their_corpus_pages() {
    let corpus = manifest_dir().join("../shared/corpus/html");
    if !corpus.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing under CI=true",
            corpus.display()
        );
        eprintln!("skipped: {} is absent", corpus.display());
        return;
    }
    let path = manifest_dir().join("feeds.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = Config::parse(&text, &path).unwrap();
    let pages = corpus_pages(&text);
    assert!(
        pages.len() >= 7,
        "every shipped section names its corpus page"
    );
    let now = chrono::Utc::now();
    for (source_id, section_id, page) in pages {
        let key = format!("{source_id}/{section_id}");
        let (source, section) = config
            .section(&key)
            .unwrap_or_else(|| panic!("{key} not in config"));
        let bytes = std::fs::read(corpus.join(&page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        let processed = process_body(&bytes, None, &section.url, source, section, now)
            .unwrap_or_else(|e| panic!("{key} over {page}: {e}"));
        let items = processed.observed.len();
        let with_time = processed
            .observed
            .iter()
            .filter(|o| o.published.is_some())
            .count();
        let reads_times =
            matches!(&section.kind, SectionKind::Html(rules) if !rules.time.is_empty());
        println!(
            "{key:<22} {page:<60} items {items:>3}  timed {with_time:>3}  {}",
            processed.charset
        );
        assert!(items >= 5, "{key}: only {items} items from {page}");
        assert!(processed
            .observed
            .iter()
            .all(|o| o.link.is_some() && !o.title.is_empty()));
        if reads_times {
            assert!(
                with_time * 10 >= items * 6,
                "{key}: only {with_time} of {items} items have a parsed time"
            );
        }
    }
}

#[test]
fn corpus_comment_parser_reads_pairs() {
    let text = "[[source]]\nid = \"a\"\n# corpus: x.html\n[[source.section]]\nid = \"b\"\n[[source.section]]\nid = \"c\"\n";
    assert_eq!(
        corpus_pages(text),
        vec![("a".into(), "b".into(), "x.html".into())]
    );
    let _ = Path::new(".");
}
