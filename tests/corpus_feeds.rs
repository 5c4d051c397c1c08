//! Reads every feed in the shared corpus (`../shared/corpus/feeds/MANIFEST.tsv`) the way the
//! fetch and extract stages do, and checks that real-world feeds come out as clean headlines.
//!
//! The corpus lives outside the repository; when it is absent the test says so and passes,
//! except under `CI=true`, where it fails.
//! Per file: decode the bytes as XML, rewrite the XML declaration's encoding, parse. Checked:
//! no panic on any file; every file `xmllint` calls well-formed yields at least one headline
//! (unless an independent scan finds no item in it with a title, link, permalink guid or
//! summary: many feedparser cases test channel-level fields only); no title holds U+FFFD, raw
//! markup or an undecoded entity. A failure is accepted only with a written reason in
//! [`ALLOWED`].

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use headwire::decode::{decode, strip_xml_encoding_declaration, DocKind};
use headwire::extract::feed::{parse_feed, FeedError};

const MANIFEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpus/feeds/MANIFEST.tsv"
);

/// Files allowed to fail a check, with the reason (keep short; every entry needs one).
const ALLOWED: &[(&str, &str)] = &[
    (
        "kurtmckee-feedparser/tests/encoding/bozo_linenoise.xml",
        "bytes are deliberately invalid UTF-8 (a bozo case); U+FFFD is the honest decoding",
    ),
    (
        "kurtmckee-feedparser/tests/encoding/encoding_attribute_crash_2.xml",
        "its one item is only an image link: no title, text or link to make a headline from",
    ),
    (
        "kurtmckee-feedparser/tests/encoding/utf-32be.xml",
        "UTF-32 without a BOM: encoding_rs (the charset stage) has no UTF-32 decoder",
    ),
];

/// Whether the source has an `item`/`entry` with a non-empty title, link, summary or content,
/// or a permalink guid: i.e. whether a headline can be expected from it at all. Deliberately
/// independent of the parser under test (plain quick-xml events, no namespaces).
fn source_has_usable_item(text: &str) -> bool {
    use quick_xml::events::{BytesStart, Event};
    const WATCH: &[&str] = &[
        "title",
        "link",
        "guid",
        "description",
        "summary",
        "content",
        "encoded",
    ];
    let local = |e: &BytesStart<'_>| String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let attr = |e: &BytesStart<'_>, name: &[u8]| {
        e.attributes()
            .with_checks(false)
            .flatten()
            .find(|a| a.key.local_name().as_ref() == name)
            .map(|a| String::from_utf8_lossy(&a.value).trim().to_owned())
    };
    let is_alternate_href = |e: &BytesStart<'_>| {
        attr(e, b"href").is_some_and(|h| !h.is_empty())
            && attr(e, b"rel").is_none_or(|r| r == "alternate")
    };
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().allow_dangling_amp = true;
    let mut stack: Vec<String> = Vec::new();
    let mut item_at: Option<usize> = None;
    // (element name, depth, guid is a permalink)
    let mut watch: Option<(String, usize, bool)> = None;
    let mut buf = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = local(&e);
                stack.push(name.clone());
                let depth = stack.len() - 1;
                if item_at.is_none() && (name == "item" || name == "entry") {
                    item_at = Some(depth);
                } else if item_at.is_some_and(|i| i + 1 == depth) && WATCH.contains(&name.as_str())
                {
                    if is_alternate_href(&e) {
                        return true;
                    }
                    let permalink = attr(&e, b"isPermaLink").is_none_or(|p| p != "false");
                    watch = Some((name, depth, permalink));
                    buf.clear();
                }
            }
            Ok(Event::Empty(e)) => {
                let direct = item_at.is_some_and(|i| i + 1 == stack.len());
                if direct && local(&e) == "link" && is_alternate_href(&e) {
                    return true;
                }
            }
            Ok(Event::Text(t)) if watch.is_some() => buf.push_str(&String::from_utf8_lossy(&t)),
            Ok(Event::CData(t)) if watch.is_some() => buf.push_str(&String::from_utf8_lossy(&t)),
            Ok(Event::GeneralRef(_)) if watch.is_some() => buf.push('&'),
            Ok(Event::End(_)) => {
                let depth = stack.len().saturating_sub(1);
                if let Some((name, _, permalink)) = watch.take_if(|w| w.1 == depth) {
                    let t = buf.trim();
                    if !t.is_empty() && (name != "guid" || (permalink && t.starts_with("http"))) {
                        return true;
                    }
                }
                stack.pop();
                if item_at == Some(stack.len()) {
                    item_at = None;
                }
            }
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// What went wrong with one file.
fn problems_in_titles(titles: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for t in titles {
        if let Some(why) = title_problem(t) {
            out.push(format!("{why} in title {t:?}"));
        }
    }
    out
}

fn title_problem(t: &str) -> Option<&'static str> {
    if t.contains('\u{FFFD}') {
        return Some("U+FFFD");
    }
    let b = t.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'<'
            && b.get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'/')
        {
            return Some("raw markup");
        }
        if c == b'&' {
            let rest = &b[i + 1..];
            let (skip, ok): (usize, fn(&u8) -> bool) = match rest {
                [b'#', ..] => (1, u8::is_ascii_digit),
                _ => (0, u8::is_ascii_lowercase),
            };
            let body = rest.iter().skip(skip).take_while(|c| ok(c)).count();
            if body > 0 && rest.get(skip + body) == Some(&b';') {
                return Some("undecoded entity");
            }
        }
    }
    None
}

#[derive(Default)]
struct Tally {
    files: usize,
    items: usize,
    /// Well-formed files without any usable item (no headline expected).
    no_items: usize,
    /// Files rejected with an error (expected for the ill-formed ones).
    errors: usize,
    failures: Vec<String>,
    accepted: Vec<String>,
}

#[test]
fn corpus_feeds() {
    let manifest = match std::fs::read_to_string(MANIFEST) {
        Ok(m) => m,
        Err(e) => {
            // CI has the corpus beside the checkout: there a missing one is a failure.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no corpus manifest at {MANIFEST} under CI=true ({e})"
            );
            println!("corpus_feeds: skipped, no corpus manifest at {MANIFEST} ({e})");
            return;
        }
    };
    let corpus_dir = Path::new(MANIFEST).parent().unwrap_or(Path::new("."));
    let base = url::Url::parse("https://corpus.invalid/feeds/").expect("constant URL");
    let allowed: BTreeMap<&str, &str> = ALLOWED.iter().copied().collect();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(c_path), Some(c_root), Some(c_lint)) =
        (col("local_path"), col("root"), col("xmllint"))
    else {
        panic!("MANIFEST.tsv lacks local_path/root/xmllint columns: {header:?}");
    };

    let mut by_format: BTreeMap<String, Tally> = BTreeMap::new();
    let mut hard_failures = Vec::new();
    let mut used_allowances = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(root), Some(lint)) =
            (cols.get(c_path), cols.get(c_root), cols.get(c_lint))
        else {
            continue;
        };
        let wellformed = *lint == "wellformed";
        let bytes = match std::fs::read(corpus_dir.join(path)) {
            Ok(b) => b,
            Err(e) => {
                hard_failures.push(format!("{path}: unreadable: {e}"));
                continue;
            }
        };
        let url = base.join(path).unwrap_or_else(|_| base.clone());
        let mut expect_items = true;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let decoded = decode(&bytes, None, DocKind::Xml);
            let text = strip_xml_encoding_declaration(&decoded.text).into_owned();
            expect_items = source_has_usable_item(&text);
            parse_feed(&text, &url)
        }));
        let mut problems = Vec::new();
        let rejected = matches!(outcome, Ok(Err(_)));
        let (format, items) = match outcome {
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                problems.push(format!("PANIC: {msg}"));
                (format!("{root} (panicked)"), 0)
            }
            Ok(Err(e)) => {
                if wellformed {
                    problems.push(format!("well-formed but rejected: {e}"));
                }
                let label = match &e {
                    FeedError::Malformed { format, .. } | FeedError::Invalid { format, .. } => {
                        format.to_string()
                    }
                    _ => format!("{root} (not a feed)"),
                };
                (label, 0)
            }
            Ok(Ok(feed)) => {
                if wellformed && feed.headlines.is_empty() && expect_items {
                    problems.push("well-formed, has items, but no headline".to_owned());
                }
                let titles: Vec<String> = feed.headlines.iter().map(|h| h.title.clone()).collect();
                problems.extend(problems_in_titles(&titles));
                (feed.format.to_string(), feed.headlines.len())
            }
        };
        let tally = by_format.entry(format).or_default();
        tally.files += 1;
        tally.items += items;
        if wellformed && !expect_items {
            tally.no_items += 1;
        }
        if rejected {
            tally.errors += 1;
        }
        if problems.is_empty() {
            continue;
        }
        let summary = format!("{path}: {}", problems.join("; "));
        let panicked = problems.iter().any(|p| p.starts_with("PANIC"));
        match allowed.get(path) {
            Some(reason) if !panicked => {
                used_allowances.push(*path);
                tally
                    .accepted
                    .push(format!("{summary} [accepted: {reason}]"));
            }
            _ => {
                tally.failures.push(summary.clone());
                hard_failures.push(summary);
            }
        }
    }

    println!("corpus_feeds: per-format summary");
    for (format, t) in &by_format {
        println!(
            "  {format:<22} files {:>4}  items {:>5}  itemless {:>3}  rejected {:>2}  failures {:>2}  accepted {:>2}",
            t.files,
            t.items,
            t.no_items,
            t.errors,
            t.failures.len(),
            t.accepted.len()
        );
        for f in t.failures.iter().chain(&t.accepted) {
            println!("      {f}");
        }
    }
    let stale: Vec<&&str> = allowed
        .keys()
        .filter(|k| !used_allowances.contains(k))
        .collect();
    assert!(
        stale.is_empty(),
        "allow-list entries no longer needed: {stale:?}"
    );
    assert!(
        hard_failures.is_empty(),
        "{} corpus feed(s) failed:\n{}",
        hard_failures.len(),
        hard_failures.join("\n")
    );
}
