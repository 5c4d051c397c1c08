//! Reads an existing RSS, RDF, Atom or JSON Feed document into raw [`Headline`]s.
//!
//! A headwire section with `kind = "feed"` is read with [`parse_feed`] instead of being scraped
//! with CSS selectors. The fetch stage has already decoded the body to UTF-8 (and rewritten any
//! `<?xml encoding=…?>` declaration), so this module only ever sees `&str`.
//!
//! The format is detected from the content alone, never from the `Content-Type` header, which
//! is wrong too often to trust: the root element and its namespace for XML, and the `version`
//! member for JSON Feed.
//!
//! * RSS 0.9x / 2.0 is read with the `rss` crate. That crate is strict in places (a bare `&`, a
//!   stray end tag after the channel, elements it does not expect) and silently drops child
//!   elements inside `<title>`/`<description>`, so when it rejects a document, or leaves an item
//!   with nothing in it, the same document is read again with this module's own namespace-aware
//!   quick-xml reader, which is lenient about everything except well-formedness.
//! * RSS 1.0 (RDF, items as siblings of the channel), Atom 1.0 and Atom 0.3 are read with the
//!   own reader. Atom 1.0 is not read with `atom_syndication` because that crate turns dates into
//!   `DateTime`s (headwire keeps the source's own text and parses it later, deviations included),
//!   fails the whole feed on one unparseable date, substitutes 1970 for a missing `updated`, and
//!   ignores `xml:base` below the feed element.
//! * JSON Feed 1.0 and 1.1 are read with `serde_json`.
//!
//! Whatever the format, the mapping into [`Headline`] is the same: titles become plain text
//! (markup stripped, entities decoded even when double-escaped, whitespace collapsed, zero-width
//! and control characters removed, windows-1252 character references and UTF-8-read-as-1252
//! mojibake repaired), links become absolute (`xml:base`, then the feed URL), summaries are
//! sanitised with `ammonia`, and dates are kept exactly as printed.
//!
//! The readers, one file each: [`sniff`] (format and nesting before reading), [`xml`] (the
//! element tree), [`rss`] (the `rss` crate), [`rdf`] (RDF and lenient RSS on the tree),
//! [`atom`], [`json`], [`repair`] (mis-decoded characters) and [`item`] (the one mapping into
//! [`Headline`]).
//!
//! Nothing here panics on any input: there is no `unwrap`/`expect` on an input path, nesting is
//! capped so deep documents cannot exhaust the stack, and every failure is a [`FeedError`].

use std::fmt;

use url::Url;

use crate::extract::Headline;

use atom::map_atom;
use json::{is_json_feed, parse_json_feed, JsonTopSeed};
use rdf::map_rss_dom;
use rss::{map_rss_channel, rss_item_is_empty};
use sniff::{describe_start, scan_shape, sniff_xml_root, RootSniff};
use xml::parse_xml;

mod atom;
mod item;
mod json;
mod rdf;
mod repair;
mod rss;
mod sniff;
#[cfg(test)]
mod tests;
mod xml;
/// Summaries longer than this (in bytes of sanitised HTML) are cut, so one feed that puts whole
/// articles in its items cannot bloat the store.
pub const MAX_SUMMARY_BYTES: usize = 4096;

/// A title synthesised from a summary is at most this many characters (plus an ellipsis).
pub const SYNTHETIC_TITLE_CHARS: usize = 80;

/// Title-like text longer than this (bytes) is cut before markup is stripped from it.
const MAX_TEXT_INPUT_BYTES: usize = 8192;

/// Elements nested deeper than this are flattened into their ancestor's text, so that a hostile
/// document cannot exhaust the stack while the tree is built, walked or dropped.
const MAX_DEPTH: usize = 128;

/// A document whose elements nest deeper than this is rejected as [`FeedError::Invalid`]: no
/// feed comes near it, and quick-xml's namespace reader counts open elements in a `u16`
/// (65,536 levels overflow it: a panic with overflow checks, wrong namespaces without).
pub const MAX_NESTING: usize = 16_384;

const NS_ATOM10: &str = "http://www.w3.org/2005/Atom";
const NS_ATOM03: &str = "http://purl.org/atom/ns#";
const NS_RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const NS_RSS10: &str = "http://purl.org/rss/1.0/";
const NS_RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const NS_DC: &str = "http://purl.org/dc/elements/1.1/";
const NS_DCTERMS: &str = "http://purl.org/dc/terms/";
const NS_CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
const NS_MEDIA: &str = "http://search.yahoo.com/mrss/";

/// Namespaces that some RSS 0.9x/2.0 feeds put their core elements in.
const RSS_CORE_NS: &[&str] = &[
    NS_RSS10,
    NS_RSS090,
    "http://backend.userland.com/rss2",
    "http://backend.userland.com/rss",
    "http://blogs.law.harvard.edu/tech/rss",
    "http://purl.org/net/rss1.1#",
];

/// The syndication format a document was recognised as.
///
/// Reported with every parsed feed so logs and the per-section status can say what a source
/// actually serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    /// RSS 2.0, and the RSS 0.91–0.94 dialects that share its `<rss><channel>` shape.
    Rss2,
    /// RSS 1.0 (and 0.90): an `rdf:RDF` root whose items are siblings of the channel.
    Rss1Rdf,
    /// Atom 1.0 (`http://www.w3.org/2005/Atom`).
    Atom1,
    /// The pre-standard Atom 0.3 (`http://purl.org/atom/ns#`).
    Atom03,
    /// JSON Feed 1.0 or 1.1.
    JsonFeed,
}

impl FeedFormat {
    /// A short human-readable name, as used in logs and error messages.
    pub fn name(self) -> &'static str {
        match self {
            FeedFormat::Rss2 => "RSS 2.0",
            FeedFormat::Rss1Rdf => "RSS 1.0 (RDF)",
            FeedFormat::Atom1 => "Atom 1.0",
            FeedFormat::Atom03 => "Atom 0.3",
            FeedFormat::JsonFeed => "JSON Feed",
        }
    }
}

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A feed document read into headwire's terms.
///
/// Feed-level fields are kept so that a section can default its display name and home link to
/// what the source says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFeed {
    /// The format the document was recognised as.
    pub format: FeedFormat,
    /// The feed's own title, as plain text.
    pub title: Option<String>,
    /// The feed's home page (RSS channel link, Atom alternate link, JSON `home_page_url`).
    pub link: Option<String>,
    /// One headline per usable item, in document order.
    pub headlines: Vec<Headline>,
}

/// Why a document could not be read as a feed.
///
/// Each variant carries enough to tell the operator what to fix in the section's config or
/// what is wrong with the source, without re-fetching it.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The document is not a feed at all (an HTML page, an unknown XML root, plain text, JSON
    /// without a JSON Feed version). `what` says what it looked like.
    #[error("not a feed: {what}")]
    NotAFeed {
        /// A short description of what was found instead.
        what: String,
    },
    /// The document looks like a feed but is not well-formed XML.
    #[error("malformed {format} at line {line}, column {column}: {message}")]
    Malformed {
        /// The format recognised from the root element.
        format: FeedFormat,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// The XML parser's description of the problem.
        message: String,
    },
    /// The document starts like JSON but is not valid JSON (position included in the message).
    #[error("malformed JSON Feed: {0}")]
    Json(#[from] serde_json::Error),
    /// The document is a feed of a known format but its structure is unusable
    /// (e.g. a JSON Feed whose `items` is not an array).
    #[error("invalid {format}: {message}")]
    Invalid {
        /// The format recognised.
        format: FeedFormat,
        /// What is wrong.
        message: String,
    },
}

/// Parses a feed document into headlines.
///
/// `text` is already decoded to UTF-8 by the fetch stage; `feed_url` is where it was fetched
/// from and resolves relative links (after any `xml:base`). The format is detected from the
/// content only. Items with neither a title nor a link are skipped; an item with no title but a
/// summary gets one from the summary's first words. Every entry is read; see
/// [`parse_feed_limited`] to read only the first ones.
pub fn parse_feed(text: &str, feed_url: &Url) -> Result<ParsedFeed, FeedError> {
    parse_feed_limited(text, feed_url, None)
}

/// [`parse_feed`] that reads at most the first `limit` entries (`None`: all of them).
///
/// Entries after the first `limit` are never materialised: an XML feed is cut just before its
/// `limit + 1`-th `item`/`entry` (found by a cheap streaming pre-pass) and the elements still
/// open there are closed, and a JSON Feed's further `items` are skipped by the JSON reader
/// without being built. So a feed with 100,000 entries costs about what its first `limit`
/// cost, beyond the text itself. Consequences: `limit` counts entries as the document has them,
/// so when some of the first `limit` have neither title nor link the result has fewer headlines
/// even if usable ones follow; channel-level elements placed after the cut (a `<title>` after
/// the items) are not seen; and a document that is malformed only after the cut is read.
pub fn parse_feed_limited(
    text: &str,
    feed_url: &Url,
    limit: Option<usize>,
) -> Result<ParsedFeed, FeedError> {
    let trimmed = text.trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
    let offset = text.len() - trimmed.len();
    if trimmed.starts_with('{') {
        return parse_json_feed(trimmed, feed_url, limit);
    }
    if !trimmed.starts_with('<') {
        return Err(FeedError::NotAFeed {
            what: describe_start(trimmed),
        });
    }
    let format = match sniff_xml_root(trimmed) {
        RootSniff::Feed(format) => format,
        RootSniff::Other(what) => return Err(FeedError::NotAFeed { what }),
    };
    let shape = scan_shape(trimmed, limit);
    if shape.max_depth > MAX_NESTING {
        return Err(FeedError::Invalid {
            format,
            message: format!("elements nest more than {MAX_NESTING} levels deep"),
        });
    }
    // The cut document is a prefix of the original (plus end tags), so error positions in it
    // are positions in `text` too.
    let trimmed = shape.cut.as_deref().unwrap_or(trimmed);
    // The rss crate reads extension elements recursively: a deeply nested document would
    // overflow the stack (an abort, not a panic), so only the own reader, which caps nesting,
    // sees such a document.
    if format == FeedFormat::Rss2 && shape.max_depth <= MAX_DEPTH {
        match ::rss::Channel::read_from(trimmed.as_bytes()) {
            // The crate skips child elements inside <title>/<description>; an item left with
            // nothing at all is the sign of that, and the own reader keeps such markup.
            Ok(channel) if !channel.items().iter().any(rss_item_is_empty) => {
                return Ok(map_rss_channel(&channel, feed_url))
            }
            Ok(_) => tracing::debug!("rss crate lost item content; using the lenient reader"),
            Err(e) => {
                tracing::debug!(error = %e, "rss crate rejected the feed; using the lenient reader")
            }
        }
    }
    let root = parse_xml(trimmed, format).map_err(|e| e.at(text, offset))?;
    Ok(match format {
        FeedFormat::Rss2 | FeedFormat::Rss1Rdf => map_rss_dom(&root, format, feed_url),
        FeedFormat::Atom1 | FeedFormat::Atom03 => map_atom(&root, format, feed_url),
        FeedFormat::JsonFeed => ParsedFeed {
            format,
            title: None,
            link: None,
            headlines: Vec::new(),
        },
    })
}

/// Detects the feed format of a document from its content, without parsing the whole of it.
///
/// Returns `None` for anything that is not a feed. Useful to decide, for a source whose kind is
/// not configured, whether it can be read as a feed.
pub fn detect_format(text: &str) -> Option<FeedFormat> {
    let trimmed = text.trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
    if trimmed.starts_with('{') {
        use serde::de::DeserializeSeed;
        let mut reader = serde_json::Deserializer::from_str(trimmed);
        let (members, _) = JsonTopSeed { limit: Some(0) }
            .deserialize(&mut reader)
            .ok()?;
        reader.end().ok()?;
        return is_json_feed(&serde_json::Value::Object(members)).then_some(FeedFormat::JsonFeed);
    }
    match sniff_xml_root(trimmed) {
        RootSniff::Feed(f) => Some(f),
        RootSniff::Other(_) => None,
    }
}
