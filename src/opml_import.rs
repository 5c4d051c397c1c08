//! `headwire import`: a feed reader's OPML export → `kind = "feed"` sections.
//!
//! Every `<outline>` with an `xmlUrl` (at any depth: folders are just nesting) becomes a feed
//! section. Feeds already configured (same URL) or listed twice are skipped; outlines whose
//! `xmlUrl` is not an http(s) URL are skipped with a warning naming the element and its line.
//! Without `--source`, each feed goes to a source named after its site's host, so feeds of one
//! site share the source's settings; section ids come from the titles, made unique.

use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use url::Url;

use crate::config::Config;
use crate::feeds_edit::NewSection;

/// One feed outline read from an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    /// `title` or `text`, trimmed (may be empty).
    pub title: String,
    /// The feed URL as written.
    pub xml_url: String,
    /// The site URL, when given.
    pub html_url: Option<String>,
    /// 1-based line of the element.
    pub line: usize,
}

/// Why an OPML file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpmlError {
    /// The XML is malformed.
    #[error("line {line}: not well-formed XML: {message}")]
    Xml {
        /// 1-based line where reading stopped.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// The document has no `<opml>` root.
    #[error("not an OPML file: no <opml> element")]
    NotOpml,
}

fn line_at(text: &str, position: u64) -> usize {
    let end = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .min(text.len());
    text.as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

/// Reads every outline that has an `xmlUrl`, in document order.
pub fn read_outlines(text: &str) -> Result<Vec<Outline>, OpmlError> {
    let mut reader = Reader::from_str(text);
    let mut out = Vec::new();
    let mut seen_opml = false;
    loop {
        let start = reader.buffer_position();
        let event = reader.read_event().map_err(|e| OpmlError::Xml {
            line: line_at(text, reader.error_position()),
            message: e.to_string(),
        })?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if name.eq_ignore_ascii_case(b"opml") {
                    seen_opml = true;
                } else if name.eq_ignore_ascii_case(b"outline") {
                    let line = line_at(text, start);
                    if let Some(outline) = outline(&e, line, reader.decoder())? {
                        out.push(outline);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_opml {
        return Err(OpmlError::NotOpml);
    }
    Ok(out)
}

fn outline(
    element: &BytesStart<'_>,
    line: usize,
    decoder: quick_xml::encoding::Decoder,
) -> Result<Option<Outline>, OpmlError> {
    let (mut title, mut text, mut xml_url, mut html_url) = (None, None, None, None);
    for attr in element.attributes() {
        let attr = attr.map_err(|e| OpmlError::Xml {
            line,
            message: format!("<outline>: {e}"),
        })?;
        let value = attr
            .decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, decoder)
            .map_err(|e| OpmlError::Xml {
                line,
                message: format!("<outline>: {e}"),
            })?
            .into_owned();
        let key = attr.key.local_name();
        let key = key.as_ref();
        if key.eq_ignore_ascii_case(b"xmlUrl") {
            xml_url = Some(value);
        } else if key.eq_ignore_ascii_case(b"htmlUrl") {
            html_url = Some(value);
        } else if key.eq_ignore_ascii_case(b"title") {
            title = Some(value);
        } else if key.eq_ignore_ascii_case(b"text") {
            text = Some(value);
        }
    }
    Ok(xml_url.map(|xml_url| Outline {
        title: title
            .filter(|t| !t.trim().is_empty())
            .or(text)
            .unwrap_or_default()
            .trim()
            .to_string(),
        xml_url: xml_url.trim().to_string(),
        html_url: html_url
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty()),
        line,
    }))
}

/// What an import would do.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// Sections to append.
    pub sections: Vec<NewSection>,
    /// Feeds left out because they are configured already or listed twice, with why.
    pub skipped: Vec<String>,
    /// Outlines that could not be used, with their line.
    pub warnings: Vec<String>,
}

/// A config id from free text: lower-case ASCII letters and digits joined by '-', at most 40
/// characters; empty when nothing usable is left.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    out.trim_matches('-').to_string()
}

/// The source id for a feed without `--source`: its site's host, `www.` dropped.
fn host_source(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let s = slug(host.strip_prefix("www.").unwrap_or(host));
    if s.is_empty() {
        "imported".into()
    } else {
        s
    }
}

/// Plans the sections for `outlines` against the current `config`; `source` puts them all in
/// one source.
pub fn plan(outlines: &[Outline], config: &Config, source: Option<&str>) -> ImportPlan {
    let mut plan = ImportPlan::default();
    let mut configured: Vec<(Url, String)> = config
        .sections()
        .map(|(s, sec)| (sec.url.clone(), sec.key(s)))
        .collect();
    let mut taken: HashSet<String> = config.sections().map(|(s, sec)| sec.key(s)).collect();
    for o in outlines {
        let url = match Url::parse(&o.xml_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                plan.warnings.push(format!(
                    "line {}: <outline text={:?}>: xmlUrl {:?} is not an http(s) URL; skipped",
                    o.line, o.title, o.xml_url
                ));
                continue;
            }
        };
        if let Some((_, key)) = configured.iter().find(|(u, _)| *u == url) {
            plan.skipped.push(format!(
                "{url} (line {}): already configured as {key}",
                o.line
            ));
            continue;
        }
        let site = o
            .html_url
            .as_deref()
            .and_then(|h| Url::parse(h).ok())
            .filter(|u| u.host_str().is_some())
            .unwrap_or_else(|| url.clone());
        let source_id = source.map_or_else(|| host_source(&site), str::to_string);
        let mut base = slug(&o.title);
        if base.is_empty() {
            // The feed file's name without its extension: /thepaper.xml → thepaper.
            let last = url.path().rsplit('/').find(|p| !p.is_empty()).unwrap_or("");
            base = slug(last.rsplit_once('.').map_or(last, |(stem, _)| stem));
        }
        if base.is_empty() {
            base = "feed".into();
        }
        let mut id = base.clone();
        let mut n = 2;
        while taken.contains(&format!("{source_id}/{id}")) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let key = format!("{source_id}/{id}");
        taken.insert(key.clone());
        configured.push((url.clone(), key));
        let name = if o.title.is_empty() {
            id.clone()
        } else {
            o.title.clone()
        };
        let source_name = site.host_str().unwrap_or(&source_id).to_string();
        plan.sections.push(NewSection {
            source_id,
            new_source: vec![("name".into(), source_name)],
            keys: vec![
                ("id".into(), id),
                ("name".into(), name),
                ("url".into(), url.to_string()),
                ("kind".into(), "feed".into()),
            ],
            comment: Some(format!("imported from OPML (line {})", o.line)),
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>export</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="Example &amp; Co" xmlUrl="https://www.example.com/feed.xml" htmlUrl="https://www.example.com/"/>
      <outline type="rss" text="澎湃新闻" title="" xmlUrl="https://feeds.example.cn/thepaper.xml"/>
    </outline>
    <outline text="no feed here"/>
    <outline text="Bad" xmlUrl="ftp://nope/"/>
  </body>
</opml>"#;

    fn config() -> Config {
        Config::parse(
            "[[source]]\nid = \"example-com\"\n\n[[source.section]]\nid = \"example-co\"\nurl = \"https://b.example/\"\nkind = \"feed\"\n",
            std::path::Path::new("feeds.toml"),
        )
        .unwrap()
    }

    #[test]
    fn reads_nested_outlines_with_lines() {
        let outlines = read_outlines(OPML).unwrap();
        assert_eq!(outlines.len(), 3);
        assert_eq!(outlines[0].title, "Example & Co");
        assert_eq!(outlines[0].line, 6);
        assert_eq!(
            outlines[1].title, "澎湃新闻",
            "empty title falls back to text"
        );
        assert_eq!(outlines[2].line, 10);
    }

    #[test]
    fn plans_unique_ids_per_host_and_warns_about_bad_urls() {
        let outlines = read_outlines(OPML).unwrap();
        let plan = plan(&outlines, &config(), None);
        let keys: Vec<String> = plan
            .sections
            .iter()
            .map(|s| format!("{}/{}", s.source_id, s.id()))
            .collect();
        assert_eq!(
            keys,
            ["example-com/example-co-2", "feeds-example-cn/thepaper"]
        );
        assert_eq!(plan.warnings.len(), 1);
        assert!(
            plan.warnings[0].starts_with("line 10: <outline text=\"Bad\">"),
            "{:?}",
            plan.warnings
        );
        let again = super::plan(&outlines, &config(), Some("mine"));
        assert_eq!(again.sections[0].source_id, "mine");
        assert_eq!(again.sections[1].id(), "thepaper");
    }

    #[test]
    fn configured_and_repeated_feeds_are_skipped() {
        let mut outlines = read_outlines(OPML).unwrap();
        outlines.push(outlines[0].clone());
        let mut c = config();
        c.sources[0].sections[0].url = Url::parse("https://feeds.example.cn/thepaper.xml").unwrap();
        let plan = plan(&outlines, &c, None);
        assert_eq!(plan.sections.len(), 1);
        assert_eq!(plan.skipped.len(), 2, "{:?}", plan.skipped);
        assert!(plan.skipped[0].contains("already configured as example-com/example-co"));
    }

    #[test]
    fn broken_files_say_where() {
        let err =
            read_outlines("<opml>\n<body>\n<outline text=\"a\" xmlUrl=\"x\"\n</body>").unwrap_err();
        assert!(matches!(err, OpmlError::Xml { .. }), "{err}");
        assert_eq!(
            read_outlines("<rss></rss>").unwrap_err(),
            OpmlError::NotOpml
        );
        assert!(slug("  ").is_empty());
        assert_eq!(slug("Hello, World!"), "hello-world");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Any text is read or rejected, never a panic.
        #[test]
        fn any_text_is_read_or_rejected(text in any::<String>()) {
            let _ = read_outlines(&text);
        }

        /// Arbitrary markup-ish text inside an OPML body never panics either.
        #[test]
        fn any_body_is_read_or_rejected(body in "[<>/=\"'&a-z;# \n]{0,60}") {
            let _ = read_outlines(&format!("<opml><body>{body}</body></opml>"));
        }

        /// Outlines written with escaped titles read back exactly, in order.
        #[test]
        fn written_outlines_read_back(
            feeds in proptest::collection::vec(
                ("[^\u{0}-\u{1f}\u{7f}]{0,20}", "[a-z]{1,10}", "[a-z0-9/]{0,10}"), 0..6),
        ) {
            let mut text = String::from("<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><body>\n");
            for (title, host, path) in &feeds {
                text.push_str(&format!(
                    "<outline text=\"{}\" xmlUrl=\"https://{host}.example/{path}\"/>\n",
                    quick_xml::escape::escape(title.as_str())
                ));
            }
            text.push_str("</body></opml>");
            let read = read_outlines(&text).unwrap();
            prop_assert_eq!(read.len(), feeds.len());
            for (o, (title, host, path)) in read.iter().zip(&feeds) {
                prop_assert_eq!(&o.title, title.trim());
                prop_assert_eq!(o.xml_url.clone(), format!("https://{host}.example/{path}"));
            }
            let s = slug(&read.iter().map(|o| o.title.as_str()).collect::<String>());
            prop_assert!(s.is_empty() || (!s.starts_with('-') && !s.ends_with('-')));
        }
    }
}
