//! Peak memory and time of processing one very large body the way a poll does (decode, extract,
//! normalise; the store is not involved), for the headline-limit work.
//!
//! `cargo run --release --example extract_peak -- KIND [LIMIT] [ITEMS] [MIB]`
//!
//! * `KIND`: `html` (a list page), `rss`, `atom` or `json` (feeds) run `poll::process_body` on a
//!   generated body; `dom` only parses the HTML page with scraper (the floor any CSS-selector
//!   extraction pays); `bytes` only generates the body. `tags` and `attrs` are hostile pages
//!   (the body filled with `<i>` tags, `<i>x`, `<i class="a1 b c">`, or one element with
//!   repeated or distinct attributes) for `dom` and `html`: `tags-dom`, `tags-html`,
//!   `tagtext-…`, `classes-…`, `attrs-…`, `attrsdistinct-…`.
//! * `LIMIT`: the section's `limit` (default 500), or `none`.
//! * `ITEMS`: matching items in the body (default 100,000); `MIB`: body size (default 8, the
//!   body cap), reached by padding every item.
//!
//! Measure with `/usr/bin/time -v` ("Maximum resident set size"). Prints one `key=value` line.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use headwire::config::Config;
use headwire::poll::process_body;

fn usage() -> ! {
    eprintln!("usage: extract_peak html|rss|atom|json|dom|bytes [LIMIT|none] [ITEMS] [MIB]");
    std::process::exit(2)
}

/// One generated item with `pad` filler characters in its title (kept short so that 100,000
/// of them fit in 8 MiB).
fn item(kind: &str, i: usize, pad: &str) -> String {
    match kind {
        "rss" => {
            format!("<item><title>H{i} {pad}</title><link>/n/{i}</link><guid>{i}</guid></item>\n")
        }
        "atom" => {
            format!("<entry><title>H{i} {pad}</title><link href=\"/n/{i}\"/><id>{i}</id></entry>\n")
        }
        "json" => format!("{{\"id\":\"{i}\",\"url\":\"/n/{i}\",\"title\":\"H{i} {pad}\"}},\n"),
        _ => format!(
            "<li><a href=\"/n/{i}\">标题 {i} {pad}</a><span class=t>03-13 09:27</span></li>\n"
        ),
    }
}

fn body(kind: &str, items: usize, bytes: usize) -> String {
    let (head, tail) = match kind {
        "rss" => (
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Big</title><link>https://news.example.com/</link><description>d</description>\n",
            "</channel></rss>\n",
        ),
        "atom" => (
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Big</title><id>urn:big</id><updated>2022-03-13T09:27:00Z</updated>\n",
            "</feed>\n",
        ),
        "json" => (
            "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"Big\",\"items\":[\n",
            "{\"id\":\"end\",\"url\":\"https://news.example.com/end\",\"title\":\"End\"}]}\n",
        ),
        _ => (
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Big</title></head><body><ul class=\"list\">\n",
            "</ul></body></html>\n",
        ),
    };
    let unpadded = item(kind, items, "").len();
    let room = bytes.saturating_sub(head.len() + tail.len()) / items.max(1);
    let pad = "x".repeat(room.saturating_sub(unpadded));
    let mut out = String::with_capacity(bytes + 1024);
    out.push_str(head);
    for i in 0..items {
        out.push_str(&item(kind, i, &pad));
    }
    out.push_str(tail);
    out
}

fn config(kind: &str, limit: Option<usize>) -> Config {
    let limit = limit.map_or(String::new(), |l| format!("limit = {l}\n"));
    let section = match kind {
        "rss" | "atom" | "json" => "kind = \"feed\"\n".to_string(),
        _ => "item = \"ul.list > li\"\ntitle = \"a\"\nlink = \"a@href\"\ntime = \"span.t\"\n"
            .to_string(),
    };
    let text = format!(
        "[[source]]\nid = \"big\"\nname = \"Big\"\ntimezone = \"Asia/Shanghai\"\n\n[[source.section]]\nid = \"list\"\nname = \"List\"\nurl = \"https://news.example.com/list/\"\n{section}{limit}"
    );
    Config::parse(&text, Path::new("/nonexistent/extract_peak.toml"))
        .unwrap_or_else(|e| panic!("example config: {e}"))
}

/// A hostile page of `bytes` bytes: as many elements (`tags`) or attributes (`attrs`) as fit.
fn hostile(shape: &str, bytes: usize) -> String {
    let mut out = String::from("<html><body><ul class=\"list\"><li><a href=\"/1\">one</a></li>");
    if shape.starts_with("attrs") {
        out.push_str("<i");
    }
    let mut n = 0usize;
    while out.len() + 16 < bytes {
        match shape {
            "attrs" => out.push_str(" a"),
            "attrsdistinct" => out.push_str(&format!(" a{n}")),
            "tagtext" => out.push_str("<i>x"),
            "classes" => out.push_str(&format!("<i class=\"a{n} b c\">")),
            _ => out.push_str("<i>"),
        }
        n += 1;
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().map(String::as_str).unwrap_or_else(|| usage());
    if let Some((shape, how)) = kind.split_once('-') {
        let limit = match args.get(1).map(String::as_str) {
            None => Some(500),
            Some("none") => None,
            Some(n) => Some(n.parse().unwrap_or_else(|_| usage())),
        };
        let mib: usize = args
            .get(3)
            .map_or(8, |n| n.parse().unwrap_or_else(|_| usage()));
        let text = hostile(shape, mib << 20);
        let started = Instant::now();
        let found = match how {
            "dom" => scraper::Html::parse_document(&text).tree.nodes().count(),
            "html" => {
                let config = config("html", limit);
                let (source, section) = config.sections().next().unwrap_or_else(|| usage());
                let url = url::Url::parse("https://news.example.com/list/")
                    .unwrap_or_else(|e| panic!("{e}"));
                let now = DateTime::from_timestamp(1_647_237_600, 0).unwrap_or_default();
                process_body(text.as_bytes(), None, &url, source, section, now)
                    .map_or(0, |p| p.observed.len())
            }
            _ => usage(),
        };
        println!(
            "kind={kind} body_bytes={} found={found} seconds={:.3}",
            text.len(),
            started.elapsed().as_secs_f64()
        );
        return;
    }
    let limit = match args.get(1).map(String::as_str) {
        None => Some(500),
        Some("none") => None,
        Some(n) => Some(n.parse().unwrap_or_else(|_| usage())),
    };
    let items: usize = args
        .get(2)
        .map_or(100_000, |n| n.parse().unwrap_or_else(|_| usage()));
    let mib: usize = args
        .get(3)
        .map_or(8, |n| n.parse().unwrap_or_else(|_| usage()));
    let text = body(kind, items, mib << 20);
    let started = Instant::now();
    let (headlines, matched) = match kind {
        "bytes" => (0, 0),
        "dom" => {
            let document = scraper::Html::parse_document(&text);
            (0, document.tree.nodes().count())
        }
        "html" | "rss" | "atom" | "json" => {
            let config = config(kind, limit);
            let (source, section) = config.sections().next().unwrap_or_else(|| usage());
            let url =
                url::Url::parse("https://news.example.com/list/").unwrap_or_else(|e| panic!("{e}"));
            let now: DateTime<Utc> = DateTime::from_timestamp(1_647_237_600, 0).unwrap_or_default();
            let content_type = match kind {
                "html" => "text/html; charset=utf-8",
                "json" => "application/feed+json",
                _ => "application/xml",
            };
            let processed = process_body(
                text.as_bytes(),
                Some(content_type),
                &url,
                source,
                section,
                now,
            )
            .unwrap_or_else(|e| panic!("process_body: {e}"));
            (processed.observed.len(), processed.matched)
        }
        _ => usage(),
    };
    println!(
        "kind={kind} limit={} items={items} body_bytes={} headlines={headlines} matched_or_nodes={matched} seconds={:.3}",
        limit.map_or("none".to_string(), |l| l.to_string()),
        text.len(),
        started.elapsed().as_secs_f64()
    );
}
