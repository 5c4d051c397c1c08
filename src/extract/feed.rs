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
//! Nothing here panics on any input: there is no `unwrap`/`expect` on an input path, nesting is
//! capped so deep documents cannot exhaust the stack, and every failure is a [`FeedError`].

use std::borrow::Cow;
use std::fmt;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use url::Url;

use crate::extract::Headline;
use crate::text::{clean_text, escape_html, html_to_text, looks_like_markup, resolve_link};

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
        match rss::Channel::read_from(trimmed.as_bytes()) {
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

// ---------------------------------------------------------------------------------------------
// Pre-pass: nesting depth and where to cut for a limit
// ---------------------------------------------------------------------------------------------

/// What the streaming pre-pass found out about an XML document.
struct XmlShape {
    /// The deepest nesting of elements (before any cut; the root element is level 1).
    max_depth: usize,
    /// The document cut before its `limit + 1`-th entry, with the open elements closed.
    cut: Option<String>,
}

/// Whether an element named `local` whose parent is named `parent` is a feed entry: an RSS
/// `item` in a `channel` (or beside it, in RSS 0.90/1.0 and some 0.9x feeds), an Atom `entry`.
fn is_entry(local: &[u8], parent: &[u8]) -> bool {
    matches!(local, b"item" | b"entry") && matches!(parent, b"channel" | b"rss" | b"RDF" | b"feed")
}

/// One streaming pass over the events (no allocation per event): the maximum nesting depth,
/// and with a `limit` the byte offset of the `limit + 1`-th entry. Stops at the first error,
/// which the real parse will report: the rss crate and the own reader use the same XML reader
/// and check end names, so neither can get deeper than this pass before failing.
fn scan_shape(text: &str, limit: Option<usize>) -> XmlShape {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().allow_dangling_amp = true;
    reader.config_mut().check_end_names = false;
    let mut depth = 0usize;
    let mut max_depth = 0usize;
    // Qualified and local names of the open elements near the root (entries sit at depth 1
    // or 2), so the cut can close them.
    let mut top: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut entries = 0usize;
    loop {
        let before = reader.buffer_position();
        match reader.read_event() {
            Ok(event @ (Event::Start(_) | Event::Empty(_))) => {
                let (Event::Start(e) | Event::Empty(e)) = &event else {
                    continue;
                };
                let parent = top.last().filter(|_| top.len() == depth);
                if let (Some(limit), Some((_, parent))) = (limit, parent) {
                    if is_entry(e.local_name().as_ref(), parent) {
                        entries += 1;
                        if entries > limit {
                            let cut = cut_before(text, before, &top);
                            return XmlShape { max_depth, cut };
                        }
                    }
                }
                max_depth = max_depth.max(depth + 1);
                // An empty element opens nothing; a start tag opens a level.
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if depth <= 3 && top.len() + 1 == depth {
                        top.push((e.name().as_ref().to_vec(), e.local_name().as_ref().to_vec()));
                    }
                }
            }
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                top.truncate(depth);
            }
            Ok(Event::Eof) | Err(_) => {
                return XmlShape {
                    max_depth,
                    cut: None,
                }
            }
            Ok(_) => {}
        }
    }
}

/// `text` up to byte `pos`, followed by end tags for the `open` elements (innermost first).
/// `None` if `pos` is not a position in `text` (then nothing is cut).
fn cut_before(text: &str, pos: u64, open: &[(Vec<u8>, Vec<u8>)]) -> Option<String> {
    let head = text.get(..usize::try_from(pos).ok()?)?;
    let mut out = String::with_capacity(head.len() + 64);
    out.push_str(head);
    for (name, _) in open.iter().rev() {
        out.push_str("</");
        out.push_str(std::str::from_utf8(name).ok()?);
        out.push('>');
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Format detection
// ---------------------------------------------------------------------------------------------

enum RootSniff {
    Feed(FeedFormat),
    Other(String),
}

fn describe_start(text: &str) -> String {
    if text.is_empty() {
        return "empty document".to_owned();
    }
    let head: String = text
        .chars()
        .take(40)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("neither XML nor JSON (starts with {:?})", head.trim())
}

/// Reads events up to the first element and classifies it.
fn sniff_xml_root(text: &str) -> RootSniff {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().allow_dangling_amp = true;
    loop {
        match reader.read_resolved_event() {
            Ok((res, Event::Start(e))) | Ok((res, Event::Empty(e))) => {
                let ns = owned_ns(res);
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let version = e
                    .attributes()
                    .with_checks(false)
                    .flatten()
                    .find(|a| a.key.as_ref() == b"version")
                    .map(|a| String::from_utf8_lossy(&a.value).into_owned());
                return classify_root(ns.as_deref(), &local, version.as_deref());
            }
            Ok((_, Event::Eof)) => return RootSniff::Other("XML document with no element".into()),
            Ok(_) => {}
            Err(e) => return RootSniff::Other(format!("not well-formed XML before the root: {e}")),
        }
    }
}

fn classify_root(ns: Option<&str>, local: &str, version: Option<&str>) -> RootSniff {
    let format = match (local, ns) {
        ("rss", _) | ("channel", None) => Some(FeedFormat::Rss2),
        ("RDF", _) => Some(FeedFormat::Rss1Rdf),
        ("feed", Some(NS_ATOM10)) => Some(FeedFormat::Atom1),
        ("feed", Some(NS_ATOM03)) => Some(FeedFormat::Atom03),
        ("feed", None) if version.is_some_and(|v| v.trim().starts_with("0.")) => {
            Some(FeedFormat::Atom03)
        }
        ("feed", None) => Some(FeedFormat::Atom1),
        _ => None,
    };
    match format {
        Some(f) => RootSniff::Feed(f),
        None if local.eq_ignore_ascii_case("html") => RootSniff::Other("an HTML page".into()),
        None => RootSniff::Other(format!("XML document with root element <{local}>")),
    }
}

// ---------------------------------------------------------------------------------------------
// A small namespace-aware element tree
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Elem {
    ns: Option<String>,
    local: String,
    attrs: Vec<Attr>,
    children: Vec<XNode>,
    /// The raw `xml:base` of this element, if any.
    base: Option<String>,
}

#[derive(Debug)]
struct Attr {
    ns: Option<String>,
    local: String,
    value: String,
}

#[derive(Debug)]
enum XNode {
    Elem(Elem),
    Text(String),
}

/// A parse failure before it is placed in the original text.
struct XmlFailure {
    format: FeedFormat,
    pos: usize,
    message: String,
}

impl XmlFailure {
    fn at(self, text: &str, offset: usize) -> FeedError {
        let (line, column) = line_col(text, offset.saturating_add(self.pos));
        FeedError::Malformed {
            format: self.format,
            line,
            column,
            message: self.message,
        }
    }
}

/// 1-based line and column (in characters) of a byte position.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Namespaces for prefixes used without a declaration, which real feeds do.
fn conventional_ns(prefix: &[u8]) -> Option<&'static str> {
    match prefix {
        b"dc" => Some(NS_DC),
        b"dcterms" => Some(NS_DCTERMS),
        b"content" => Some(NS_CONTENT),
        b"media" => Some(NS_MEDIA),
        b"atom" => Some(NS_ATOM10),
        b"rdf" => Some(NS_RDF),
        _ => None,
    }
}

fn owned_ns(res: ResolveResult<'_>) -> Option<String> {
    match res {
        ResolveResult::Bound(ns) => {
            let s = String::from_utf8_lossy(ns.0);
            // Media RSS is declared both with and without the trailing slash.
            if s == "http://search.yahoo.com/mrss" {
                Some(NS_MEDIA.to_owned())
            } else {
                Some(s.into_owned())
            }
        }
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(prefix) => conventional_ns(&prefix).map(str::to_owned),
    }
}

fn make_elem(reader: &NsReader<&[u8]>, ns: Option<String>, e: &BytesStart<'_>) -> Elem {
    let mut el = Elem {
        ns,
        local: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
        ..Elem::default()
    };
    for attr in e.attributes().with_checks(false) {
        let Ok(attr) = attr else { break };
        let key = attr.key.as_ref();
        let value = unescape_lenient(&String::from_utf8_lossy(&attr.value));
        if key == b"xml:base" {
            el.base = Some(value);
            continue;
        }
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        let (res, local) = reader.resolver().resolve_attribute(attr.key);
        let ns = match res {
            ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.0).into_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => conventional_ns(&prefix).map(str::to_owned),
        };
        el.attrs.push(Attr {
            ns,
            local: String::from_utf8_lossy(local.as_ref()).into_owned(),
            value,
        });
    }
    el
}

/// Decodes the predefined XML entities and character references in an attribute value and
/// keeps anything else (a bare `&`, an HTML entity) as written.
fn unescape_lenient(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .filter(|&j| j > 0 && j <= 32 && !after[..j].contains(['&', ' ']));
        match end.and_then(|j| resolve_entity(&after[..j]).map(|s| (j, s))) {
            Some((j, s)) => {
                out.push_str(&s);
                rest = &after[j + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Resolves a predefined XML entity or a character reference (name without `&` and `;`).
fn resolve_entity(name: &str) -> Option<String> {
    if let Some(s) = quick_xml::escape::resolve_predefined_entity(name) {
        return Some(s.to_owned());
    }
    let num = name.strip_prefix('#')?;
    let code = match num.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => num.parse::<u32>().ok()?,
    };
    // As in HTML: references to C1 controls mean the windows-1252 character (`&#146;` is ’).
    let c = char::from_u32(code).filter(|&c| c != '\0')?;
    Some(fix_c1(&c.to_string()).into_owned())
}

/// What windows-1252 puts at bytes 0x80–0x9F (the five it leaves undefined map to themselves).
const CP1252_C1: &str = "€\u{81}‚ƒ„…†‡ˆ‰Š‹Œ\u{8d}Ž\u{8f}\u{90}‘’“”•–—˜™š›œ\u{9d}žŸ";

/// Replaces C1 control characters (U+0080–U+009F), which in feeds are windows-1252 bytes
/// misread as ISO-8859-1 or written as character references, by the characters meant.
fn fix_c1(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match u32::from(c) {
                code @ 0x80..=0x9f => usize::try_from(code - 0x80)
                    .ok()
                    .and_then(|i| CP1252_C1.chars().nth(i))
                    .unwrap_or(c),
                _ => c,
            })
            .collect(),
    )
}

/// The windows-1252 byte a character came from, when text is UTF-8 misread as windows-1252 or
/// ISO-8859-1 (mojibake such as `â€™` for `’`).
fn misread_byte(c: char) -> Option<u8> {
    let code = u32::from(c);
    if (0x80..=0xff).contains(&code) {
        return u8::try_from(code).ok();
    }
    CP1252_C1
        .chars()
        .position(|s| s == c)
        .and_then(|i| u8::try_from(0x80 + i).ok())
}

/// Repairs UTF-8 that was decoded as windows-1252/ISO-8859-1 (double-encoded text): every
/// sequence of misread characters that forms one valid multi-byte UTF-8 character is replaced
/// by that character. Text without such sequences is returned unchanged.
fn repair_mojibake(text: &str) -> Cow<'_, str> {
    let chars: Vec<char> = text.chars().collect();
    let has_lead = chars
        .iter()
        .any(|&c| misread_byte(c).is_some_and(|b| (0xc2..=0xf4).contains(&b)));
    if !has_lead {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let len = match misread_byte(c) {
            Some(0xc2..=0xdf) => 2,
            Some(0xe0..=0xef) => 3,
            Some(0xf0..=0xf4) => 4,
            _ => 0,
        };
        if len > 0 && i + len <= chars.len() {
            let bytes: Option<Vec<u8>> =
                chars[i..i + len].iter().map(|&c| misread_byte(c)).collect();
            if let Some(s) = bytes.as_deref().and_then(|b| std::str::from_utf8(b).ok()) {
                out.push_str(s);
                changed = true;
                i += len;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Character-level repairs shared by titles and summaries.
fn repair_text(text: &str) -> Cow<'_, str> {
    match repair_mojibake(text) {
        Cow::Borrowed(t) => fix_c1(t),
        Cow::Owned(t) => Cow::Owned(fix_c1(&t).into_owned()),
    }
}

fn push_text(el: &mut Elem, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(XNode::Text(last)) = el.children.last_mut() {
        last.push_str(text);
    } else {
        el.children.push(XNode::Text(text.to_owned()));
    }
}

/// Builds the element tree of a whole document. Well-formedness errors are reported; a bare `&`
/// and undeclared entities are tolerated (entities other than XML's own are kept as written and
/// decoded later as HTML).
fn parse_xml(text: &str, format: FeedFormat) -> Result<Elem, XmlFailure> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().allow_dangling_amp = true;
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Elem> = Vec::new();
    let mut skipped = 0usize;
    let fail = |reader: &NsReader<&[u8]>, message: String| XmlFailure {
        format,
        pos: usize::try_from(reader.error_position()).unwrap_or(usize::MAX),
        message,
    };
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok((res, event)) => (owned_ns(res), event),
            Err(e) => return Err(fail(&reader, e.to_string())),
        };
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    skipped += 1;
                } else {
                    let el = make_elem(&reader, ns, &e);
                    stack.push(el);
                }
            }
            Event::Empty(e) => {
                if stack.len() < MAX_DEPTH {
                    let el = make_elem(&reader, ns, &e);
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(XNode::Elem(el)),
                        None => return Ok(el),
                    }
                }
            }
            Event::End(_) => {
                if skipped > 0 {
                    skipped -= 1;
                    continue;
                }
                let Some(el) = stack.pop() else { continue };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(XNode::Elem(el)),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    match t.xml10_content() {
                        Ok(s) => push_text(top, &s),
                        Err(e) => return Err(fail(&reader, e.to_string())),
                    }
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    match c.xml10_content() {
                        Ok(s) => push_text(top, &s),
                        Err(e) => return Err(fail(&reader, e.to_string())),
                    }
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    match resolve_entity(&name) {
                        Some(s) => push_text(top, &s),
                        None => push_text(top, &format!("&{name};")),
                    }
                }
            }
            Event::Eof => {
                let open = stack.last().map(|e| e.local.clone()).unwrap_or_default();
                return Err(XmlFailure {
                    format,
                    pos: text.len(),
                    message: format!("unexpected end of document: <{open}> is not closed"),
                });
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

impl Elem {
    fn elems(&self) -> impl Iterator<Item = &Elem> {
        self.children.iter().filter_map(|c| match c {
            XNode::Elem(e) => Some(e),
            XNode::Text(_) => None,
        })
    }

    fn in_ns(&self, ns: &str) -> bool {
        self.ns.as_deref() == Some(ns)
    }

    fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.in_ns(ns)
    }

    fn child(&self, ns: &str, local: &str) -> Option<&Elem> {
        self.elems().find(|e| e.is(ns, local))
    }

    fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.local == local && a.ns.is_none())
            .map(|a| a.value.as_str())
    }

    fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.local == local && a.ns.as_deref() == Some(ns))
            .map(|a| a.value.as_str())
    }

    fn has_elem_children(&self) -> bool {
        self.elems().next().is_some()
    }

    /// All descendant text, concatenated.
    fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for c in &self.children {
            match c {
                XNode::Text(t) => out.push_str(t),
                XNode::Elem(e) => e.collect_text(out),
            }
        }
    }

    /// Non-empty trimmed text, or `None`.
    fn text_opt(&self) -> Option<String> {
        let t = self.text();
        let t = t.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }

    /// The children serialised back to (X)HTML markup, for inline XHTML content.
    fn inner_markup(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            match c {
                XNode::Text(t) => out.push_str(&quick_xml::escape::escape(t.as_str())),
                XNode::Elem(e) => e.outer_markup(&mut out),
            }
        }
        out
    }

    fn outer_markup(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.local);
        for a in &self.attrs {
            out.push(' ');
            out.push_str(&a.local);
            out.push_str("=\"");
            out.push_str(&quick_xml::escape::escape(a.value.as_str()));
            out.push('"');
        }
        out.push('>');
        out.push_str(&self.inner_markup());
        out.push_str("</");
        out.push_str(&self.local);
        out.push('>');
    }

    /// The base URL in effect inside this element.
    fn base_from(&self, parent: &Url) -> Url {
        match self.base.as_deref().map(str::trim) {
            Some(b) if !b.is_empty() => parent.join(b).unwrap_or_else(|_| parent.clone()),
            _ => parent.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Format-independent item model and its mapping into Headline
// ---------------------------------------------------------------------------------------------

/// What one item says, before cleaning. Links are already absolute.
#[derive(Debug)]
struct RawItem {
    base: Url,
    /// Title as text that may contain HTML (markup and entities are removed later).
    title: Option<String>,
    link: Option<String>,
    guid: Option<String>,
    /// The guid as a link, when it is a permalink that looks like a URL.
    guid_link: Option<String>,
    time: Option<String>,
    updated: Option<String>,
    labels: Vec<String>,
    /// The short form (RSS description, Atom summary), as HTML.
    description: Option<String>,
    /// The long form (content:encoded, Atom content, JSON content), as HTML.
    content: Option<String>,
    author: Option<String>,
    image: Option<String>,
}

impl RawItem {
    fn new(base: Url) -> Self {
        RawItem {
            base,
            title: None,
            link: None,
            guid: None,
            guid_link: None,
            time: None,
            updated: None,
            labels: Vec::new(),
            description: None,
            content: None,
            author: None,
            image: None,
        }
    }

    fn into_headline(self) -> Option<Headline> {
        let mut title = self.title.as_deref().map(plain_text).unwrap_or_default();
        let link = self.link.or(self.guid_link);
        let summary = [self.description.as_deref(), self.content.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|html| sanitize_summary(html, &self.base));
        if title.is_empty() {
            if let Some(s) = &summary {
                title = title_from_summary(s);
            }
        }
        if title.is_empty() && link.is_none() {
            return None;
        }
        // Deduplicated case-insensitively through a set (a feed can repeat a category 100,000
        // times) and capped like page labels.
        let mut labels: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for label in self.labels.iter().map(|l| plain_text(l)) {
            if labels.len() >= crate::extract::html::MAX_LABELS {
                break;
            }
            if !label.is_empty() && seen.insert(label.to_ascii_lowercase()) {
                labels.push(label);
            }
        }
        Some(Headline {
            title,
            link,
            guid: self.guid.and_then(|g| non_empty(g.trim())),
            time_text: self.time.and_then(|t| non_empty(&collapse_ws(&t))),
            updated_text: self.updated.and_then(|t| non_empty(&collapse_ws(&t))),
            labels,
            summary,
            author: self.author.as_deref().and_then(clean_author),
            image: self.image,
        })
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A guid that is a permalink and looks like a URL, resolved.
fn guid_as_link(base: &Url, guid: &str, is_permalink: bool) -> Option<String> {
    let g = guid.trim();
    let looks_like_url = g.starts_with("http://") || g.starts_with("https://");
    if is_permalink && looks_like_url {
        resolve_link(g, base)
    } else {
        None
    }
}

/// Authors: `"jo@example.com (Jo Bloggs)"` becomes `"Jo Bloggs"`; markup and entities go.
fn clean_author(raw: &str) -> Option<String> {
    let t = raw.trim();
    if let (Some(open), true) = (t.find('('), t.ends_with(')')) {
        if t[..open].contains('@') && open + 1 < t.len() - 1 {
            let name = plain_text(&t[open + 1..t.len() - 1]);
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
    non_empty(&plain_text(t))
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns title-like text into plain text: strips markup and decodes entities (repeatedly, for
/// double-escaped sources), repairs mis-decoded characters, then cleans it for display
/// ([`clean_text`]: invisible characters removed, white space collapsed).
pub fn plain_text(raw: &str) -> String {
    // HTML tree building is superlinear in nesting depth: keep hostile input bounded.
    let mut s = truncate_at_char(raw, MAX_TEXT_INPUT_BYTES).to_owned();
    for _ in 0..3 {
        if !looks_like_markup(&s) {
            break;
        }
        let next = html_to_text(&s);
        if next == s {
            break;
        }
        s = next;
    }
    clean_text(&repair_text(&s))
}

/// Sanitises summary HTML: no script/style/event handlers/`javascript:` URLs, relative URLs
/// made absolute against `base`, cut to about [`MAX_SUMMARY_BYTES`]. `None` when nothing
/// visible is left.
fn sanitize_summary(html: &str, base: &Url) -> Option<String> {
    if html.trim().is_empty() {
        return None;
    }
    // Repairs run on the sanitised output so that they also see characters the HTML parser
    // produced from references (`&#226;&#128;&#166;`).
    let clean = |s: &str| {
        let out = ammonia::Builder::default()
            .url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()))
            .clean(s)
            .to_string();
        repair_text(&out).into_owned()
    };
    // Cut very long input before the (linear but not free) sanitiser sees it.
    let html = truncate_at_char(html, MAX_SUMMARY_BYTES * 8);
    let mut out = clean(html.trim()).trim().to_owned();
    if out.len() > MAX_SUMMARY_BYTES {
        let mut cut = truncate_at_char(&out, MAX_SUMMARY_BYTES - 64);
        // Do not leave half a tag behind.
        if let Some(lt) = cut.rfind('<') {
            if !cut[lt..].contains('>') {
                cut = &cut[..lt];
            }
        }
        out = clean(&format!("{cut}…")).trim().to_owned();
    }
    let visible = !plain_text(&out).is_empty() || out.contains("<img");
    visible.then_some(out)
}

fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A title made from the first words of a (sanitised) summary.
fn title_from_summary(summary_html: &str) -> String {
    let text = plain_text(&html_to_text(summary_html));
    if text.chars().count() <= SYNTHETIC_TITLE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(SYNTHETIC_TITLE_CHARS).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > SYNTHETIC_TITLE_CHARS / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!(
        "{}…",
        cut.trim_end_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
    )
}

fn finish(
    format: FeedFormat,
    title: Option<String>,
    link: Option<String>,
    items: Vec<RawItem>,
) -> ParsedFeed {
    ParsedFeed {
        format,
        title: title.map(|t| plain_text(&t)).filter(|t| !t.is_empty()),
        link,
        headlines: items
            .into_iter()
            .filter_map(RawItem::into_headline)
            .collect(),
    }
}

fn is_image_type(mime: &str) -> bool {
    mime.trim().to_ascii_lowercase().starts_with("image/")
}

fn looks_like_image_url(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

// ---------------------------------------------------------------------------------------------
// RSS through the rss crate
// ---------------------------------------------------------------------------------------------

fn rss_item_is_empty(item: &rss::Item) -> bool {
    item.title().is_none() && item.link().is_none() && item.description().is_none()
}

fn map_rss_channel(channel: &rss::Channel, feed_url: &Url) -> ParsedFeed {
    let media_prefix = channel
        .namespaces()
        .iter()
        .find(|(_, uri)| uri.trim_end_matches('/') == NS_MEDIA.trim_end_matches('/'))
        .map_or("media", |(prefix, _)| prefix.as_str());
    let items = channel
        .items()
        .iter()
        .map(|item| map_rss_item(item, feed_url, media_prefix))
        .collect();
    let title = non_empty(channel.title().trim());
    let link = resolve_link(channel.link(), feed_url);
    finish(FeedFormat::Rss2, title, link, items)
}

fn map_rss_item(item: &rss::Item, base: &Url, media_prefix: &str) -> RawItem {
    let mut raw = RawItem::new(base.clone());
    let dc = item.dublin_core_ext();
    raw.title = item.title().map(str::to_owned);
    raw.link = item.link().and_then(|l| resolve_link(l, base));
    if let Some(guid) = item.guid() {
        raw.guid = non_empty(guid.value().trim());
        raw.guid_link = guid_as_link(base, guid.value(), guid.is_permalink());
    }
    raw.time = item
        .pub_date()
        .map(str::to_owned)
        .or_else(|| dc.and_then(|d| d.dates().first().cloned()));
    raw.labels = item
        .categories()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    if let Some(dc) = dc {
        raw.labels.extend(dc.subjects().iter().cloned());
    }
    raw.description = item.description().map(str::to_owned);
    raw.content = item.content().map(str::to_owned);
    raw.author = item
        .author()
        .map(str::to_owned)
        .or_else(|| dc.and_then(|d| d.creators().first().cloned()));
    raw.image = item
        .enclosure()
        .filter(|e| is_image_type(e.mime_type()))
        .and_then(|e| resolve_link(e.url(), base))
        .or_else(|| {
            let media = item.extensions().get(media_prefix)?;
            media_image_from_ext(media, base)
        });
    raw
}

fn media_image_from_ext(
    media: &std::collections::BTreeMap<String, Vec<rss::extension::Extension>>,
    base: &Url,
) -> Option<String> {
    let url_of = |e: &rss::extension::Extension| e.attrs().get("url").cloned();
    let is_image = |e: &rss::extension::Extension| {
        let a = e.attrs();
        a.get("medium").is_some_and(|m| m == "image")
            || a.get("type").is_some_and(|t| is_image_type(t))
            || (a.get("medium").is_none()
                && a.get("type").is_none()
                && a.get("url").is_some_and(|u| looks_like_image_url(u)))
    };
    let direct = media
        .get("thumbnail")
        .into_iter()
        .flatten()
        .find_map(url_of)
        .or_else(|| {
            media
                .get("content")
                .into_iter()
                .flatten()
                .filter(|e| is_image(e))
                .find_map(url_of)
        });
    let from_group = || {
        media.get("group").into_iter().flatten().find_map(|g| {
            let ch = g.children();
            ch.get("thumbnail")
                .into_iter()
                .flatten()
                .find_map(url_of)
                .or_else(|| {
                    ch.get("content")
                        .into_iter()
                        .flatten()
                        .filter(|e| is_image(e))
                        .find_map(url_of)
                })
        })
    };
    direct
        .or_else(from_group)
        .and_then(|u| resolve_link(&u, base))
}

// ---------------------------------------------------------------------------------------------
// RSS 0.9x/2.0 (lenient fallback) and RSS 1.0 / RDF through the element tree
// ---------------------------------------------------------------------------------------------

fn map_rss_dom(root: &Elem, format: FeedFormat, feed_url: &Url) -> ParsedFeed {
    let root_ns = root.ns.clone();
    let is_core = |e: &Elem, local: &str| {
        e.local == local
            && match e.ns.as_deref() {
                None => true,
                Some(ns) => RSS_CORE_NS.contains(&ns) || root_ns.as_deref() == Some(ns),
            }
    };
    let root_base = root.base_from(feed_url);
    let channel = if root.local == "channel" {
        Some(root)
    } else {
        root.elems().find(|e| is_core(e, "channel"))
    };
    let channel_base = channel.map_or(root_base.clone(), |c| c.base_from(&root_base));
    let mut items = Vec::new();
    let mut title = None;
    let mut link = None;
    if let Some(ch) = channel {
        title = ch
            .elems()
            .find(|e| is_core(e, "title"))
            .and_then(Elem::text_opt);
        link = ch
            .elems()
            .find(|e| is_core(e, "link"))
            .and_then(|l| resolve_link(&l.text(), &channel_base));
        for it in ch.elems().filter(|e| is_core(e, "item")) {
            items.push(map_rss_dom_item(it, &channel_base, &is_core));
        }
    }
    if root.local != "channel" {
        // RSS 0.90/1.0 put items beside the channel; some 0.9x feeds do too.
        for it in root.elems().filter(|e| is_core(e, "item")) {
            items.push(map_rss_dom_item(it, &root_base, &is_core));
        }
    }
    finish(format, title, link, items)
}

fn map_rss_dom_item(
    it: &Elem,
    parent_base: &Url,
    is_core: &dyn Fn(&Elem, &str) -> bool,
) -> RawItem {
    let base = it.base_from(parent_base);
    let mut raw = RawItem::new(base.clone());
    let core = |local: &str| it.elems().find(|e| is_core(e, local));
    let ext = |ns: &str, local: &str| it.child(ns, local);
    raw.title = core("title").map(Elem::text);
    raw.link = core("link")
        .and_then(|l| resolve_link(&l.text(), &l.base_from(&base)))
        .or_else(|| {
            // Some feeds only give an atom:link (or put the link in rdf:about).
            it.elems()
                .filter(|e| e.is(NS_ATOM10, "link"))
                .find(|l| l.attr("rel").is_none_or(|r| r.trim() == "alternate"))
                .and_then(|l| resolve_link(l.attr("href")?, &l.base_from(&base)))
        });
    if let Some(g) = core("guid") {
        let value = g.text();
        raw.guid = non_empty(value.trim());
        let permalink = g
            .attr("isPermaLink")
            .is_none_or(|p| !p.trim().eq_ignore_ascii_case("false"));
        raw.guid_link = guid_as_link(&base, &value, permalink);
    }
    if raw.guid.is_none() {
        raw.guid = it
            .attr_ns(NS_RDF, "about")
            .and_then(|a| non_empty(a.trim()));
    }
    if raw.link.is_none() {
        raw.link = it
            .attr_ns(NS_RDF, "about")
            .filter(|a| a.trim().starts_with("http"))
            .and_then(|a| resolve_link(a, &base));
    }
    raw.time = core("pubDate")
        .or_else(|| ext(NS_DC, "date"))
        .or_else(|| ext(NS_DCTERMS, "issued"))
        .or_else(|| ext(NS_DCTERMS, "created"))
        .and_then(Elem::text_opt);
    raw.updated = ext(NS_DCTERMS, "modified")
        .or_else(|| ext(NS_ATOM10, "updated"))
        .and_then(Elem::text_opt);
    for e in it.elems() {
        if is_core(e, "category") || e.is(NS_DC, "subject") {
            raw.labels.push(e.text());
        }
    }
    raw.description = core("description").map(|d| {
        if d.has_elem_children() {
            d.inner_markup()
        } else {
            d.text()
        }
    });
    raw.content = ext(NS_CONTENT, "encoded").map(Elem::text);
    raw.author = core("author")
        .or_else(|| ext(NS_DC, "creator"))
        .and_then(|a| match a.child(NS_ATOM10, "name") {
            Some(n) => n.text_opt(),
            None => a.text_opt(),
        });
    raw.image = it
        .elems()
        .filter(|e| is_core(e, "enclosure"))
        .find(|e| e.attr("type").is_some_and(is_image_type))
        .and_then(|e| resolve_link(e.attr("url")?, &base))
        .or_else(|| media_image(it, &base));
    raw
}

/// `media:thumbnail`, then an image `media:content`, then the same inside `media:group`.
fn media_image(parent: &Elem, base: &Url) -> Option<String> {
    let direct = |p: &Elem| {
        let thumb = p
            .elems()
            .filter(|e| e.is(NS_MEDIA, "thumbnail"))
            .find_map(|e| e.attr("url"));
        let content = || {
            p.elems()
                .filter(|e| e.is(NS_MEDIA, "content"))
                .find(|e| {
                    e.attr("medium").is_some_and(|m| m == "image")
                        || e.attr("type").is_some_and(is_image_type)
                        || (e.attr("medium").is_none()
                            && e.attr("type").is_none()
                            && e.attr("url").is_some_and(looks_like_image_url))
                })
                .and_then(|e| e.attr("url"))
        };
        thumb.or_else(content).map(str::to_owned)
    };
    direct(parent)
        .or_else(|| {
            parent
                .elems()
                .filter(|e| e.is(NS_MEDIA, "group"))
                .find_map(direct)
        })
        .and_then(|u| resolve_link(&u, base))
}

// ---------------------------------------------------------------------------------------------
// Atom 1.0 and 0.3
// ---------------------------------------------------------------------------------------------

/// A text or content construct as HTML: `type="text"` is escaped, `html` kept, `xhtml` (or
/// Atom 0.3 `mode="xml"` with markup) serialised, Atom 0.3 `mode="base64"` decoded.
fn atom_construct_html(e: &Elem, v03: bool) -> Option<String> {
    let ty = e.attr("type").unwrap_or("").trim().to_ascii_lowercase();
    if e.attr("src").is_some() && e.text().trim().is_empty() {
        return None;
    }
    if v03 {
        let mode = e.attr("mode").unwrap_or("xml").trim().to_ascii_lowercase();
        let is_html = ty.contains("html");
        return match mode.as_str() {
            "base64" => {
                let bytes = base64_decode(&e.text())?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                Some(if is_html { text } else { escape_html(&text) })
            }
            "escaped" => Some(if is_html || ty.is_empty() {
                e.text()
            } else {
                escape_html(&e.text())
            }),
            _ => Some(if e.has_elem_children() {
                unwrap_xhtml_div(e)
            } else if ty == "text/html" {
                e.text()
            } else {
                escape_html(&e.text())
            }),
        };
    }
    match ty.as_str() {
        "" | "text" | "text/plain" => Some(escape_html(&e.text())),
        "html" | "text/html" => Some(e.text()),
        "xhtml" | "application/xhtml+xml" => Some(unwrap_xhtml_div(e)),
        t if t.starts_with("text/") || t.ends_with("+xml") || t.ends_with("/xml") => {
            Some(escape_html(&e.text()))
        }
        _ => None, // base64-encoded media of some other type: nothing to show
    }
}

/// The markup inside an XHTML construct, without the wrapping `<div>` the spec requires.
fn unwrap_xhtml_div(e: &Elem) -> String {
    let mut elems = e.elems();
    let only_div = match (elems.next(), elems.next()) {
        (Some(d), None) if d.local == "div" => {
            let stray_text = e
                .children
                .iter()
                .any(|c| matches!(c, XNode::Text(t) if !t.trim().is_empty()));
            (!stray_text).then_some(d)
        }
        _ => None,
    };
    match only_div {
        Some(div) => div.inner_markup(),
        None => e.inner_markup(),
    }
}

fn map_atom(root: &Elem, format: FeedFormat, feed_url: &Url) -> ParsedFeed {
    let v03 = format == FeedFormat::Atom03;
    let ns = root.ns.clone().unwrap_or_default();
    let base = root.base_from(feed_url);
    let ns = ns.as_str();
    fn child_in<'e>(e: &'e Elem, ns: &str, local: &str) -> Option<&'e Elem> {
        e.elems()
            .find(|c| c.local == local && c.ns.as_deref().unwrap_or("") == ns)
    }
    let title = child_in(root, ns, "title").and_then(|t| atom_construct_html(t, v03));
    let link = atom_alternate(root, ns, &base);
    let feed_author = child_in(root, ns, "author")
        .and_then(|a| child_in(a, ns, "name"))
        .and_then(Elem::text_opt);
    let mut items = Vec::new();
    for entry in root
        .elems()
        .filter(|c| c.local == "entry" && c.ns.as_deref().unwrap_or("") == ns)
    {
        let ebase = entry.base_from(&base);
        let mut raw = RawItem::new(ebase.clone());
        raw.title = child_in(entry, ns, "title").and_then(|t| atom_construct_html(t, v03));
        raw.link = atom_alternate(entry, ns, &ebase);
        raw.guid = child_in(entry, ns, "id").and_then(Elem::text_opt);
        let first_text = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| child_in(entry, ns, n).and_then(Elem::text_opt))
        };
        if v03 {
            raw.time = first_text(&["issued", "created", "modified"])
                .or_else(|| entry.child(NS_DC, "date").and_then(Elem::text_opt));
            raw.updated = first_text(&["modified"]);
        } else {
            raw.time = first_text(&["published"])
                .or_else(|| entry.child(NS_DC, "date").and_then(Elem::text_opt))
                .or_else(|| first_text(&["updated"]));
            raw.updated = first_text(&["updated"]);
        }
        for e in entry.elems() {
            if e.local == "category" && e.ns.as_deref().unwrap_or("") == ns {
                let label = e
                    .attr("label")
                    .filter(|l| !l.trim().is_empty())
                    .or_else(|| e.attr("term"))
                    .map(str::to_owned)
                    .or_else(|| e.text_opt());
                raw.labels.extend(label);
            } else if e.is(NS_DC, "subject") {
                raw.labels.push(e.text());
            }
        }
        raw.description = child_in(entry, ns, "summary").and_then(|s| atom_construct_html(s, v03));
        raw.content = child_in(entry, ns, "content").and_then(|c| atom_construct_html(c, v03));
        raw.author = child_in(entry, ns, "author")
            .or_else(|| child_in(entry, ns, "source").and_then(|s| child_in(s, ns, "author")))
            .and_then(|a| child_in(a, ns, "name"))
            .and_then(Elem::text_opt)
            .or_else(|| entry.child(NS_DC, "creator").and_then(Elem::text_opt))
            .or_else(|| feed_author.clone());
        raw.image = entry
            .elems()
            .filter(|l| l.local == "link" && l.ns.as_deref().unwrap_or("") == ns)
            .filter(|l| l.attr("rel").is_some_and(|r| r.trim() == "enclosure"))
            .find(|l| l.attr("type").is_some_and(is_image_type))
            .and_then(|l| resolve_link(l.attr("href")?, &l.base_from(&ebase)))
            .or_else(|| media_image(entry, &ebase));
        items.push(raw);
    }
    finish(format, title, link, items)
}

/// The `rel="alternate"` (or rel-less) link, preferring an HTML one; resolved against the
/// link's own `xml:base`.
fn atom_alternate(parent: &Elem, ns: &str, base: &Url) -> Option<String> {
    // `href`, or (invalid but seen) the URL as the element's text.
    let href = |l: &Elem| {
        l.attr("href")
            .map(str::to_owned)
            .or_else(|| l.text_opt())
            .filter(|h| !h.trim().is_empty())
    };
    let alternates: Vec<&Elem> = parent
        .elems()
        .filter(|l| l.local == "link" && l.ns.as_deref().unwrap_or("") == ns)
        .filter(|l| l.attr("rel").is_none_or(|r| r.trim() == "alternate"))
        .filter(|l| href(l).is_some())
        .collect();
    let html = alternates.iter().find(|l| {
        l.attr("type")
            .is_none_or(|t| t.contains("html") || t.trim().is_empty())
    });
    html.or(alternates.first())
        .and_then(|l| resolve_link(&href(l)?, &l.base_from(base)))
}

/// Standard base64 (whitespace ignored, padding optional). `None` on any invalid character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// JSON Feed
// ---------------------------------------------------------------------------------------------

fn is_json_feed(value: &serde_json::Value) -> bool {
    value
        .get("version")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|v| v.contains("jsonfeed.org"))
}

/// The top-level `items` member of a JSON Feed as read with a limit.
enum JsonItems {
    /// Missing or `null`.
    Absent,
    /// The first objects of the array, up to the limit (other members are skipped).
    Objects(Vec<serde_json::Value>),
    /// Present but not an array.
    NotArray,
}

/// Reads a JSON Feed's top-level object: every member as a `Value` except `items`, of which
/// only the first `limit` objects are built; the rest are skipped by the JSON reader.
struct JsonTopSeed {
    limit: Option<usize>,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonTopSeed {
    type Value = (serde_json::Map<String, serde_json::Value>, JsonItems);

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonTopSeed {
    type Value = (serde_json::Map<String, serde_json::Value>, JsonItems);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON Feed object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = serde_json::Map::new();
        let mut items = JsonItems::Absent;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                items = map.next_value_seed(JsonItemsSeed { limit: self.limit })?;
            } else {
                let value: serde_json::Value = map.next_value()?;
                members.insert(key, value);
            }
        }
        Ok((members, items))
    }
}

/// Reads the `items` member (see [`JsonTopSeed`]).
struct JsonItemsSeed {
    limit: Option<usize>,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonItemsSeed {
    type Value = JsonItems;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<JsonItems, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonItemsSeed {
    type Value = JsonItems;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of items")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<JsonItems, A::Error> {
        let mut objects = Vec::new();
        while self.limit.is_none_or(|limit| objects.len() < limit) {
            match seq.next_element_seed(JsonObjectSeed)? {
                Some(Some(object)) => objects.push(object),
                Some(None) => {}
                None => return Ok(JsonItems::Objects(objects)),
            }
        }
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(JsonItems::Objects(objects))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<JsonItems, E> {
        Ok(JsonItems::Absent)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<JsonItems, E> {
        Ok(JsonItems::Absent)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<JsonItems, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(JsonItems::NotArray)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }
}

/// One member of `items`: an object is built as a `Value`, anything else is skipped (`None`).
struct JsonObjectSeed;

impl<'de> serde::de::DeserializeSeed<'de> for JsonObjectSeed {
    type Value = Option<serde_json::Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonObjectSeed {
    type Value = Option<serde_json::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an item")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        use serde::Deserialize;
        let object =
            serde_json::Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Some(object))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
}

fn parse_json_feed(
    text: &str,
    feed_url: &Url,
    limit: Option<usize>,
) -> Result<ParsedFeed, FeedError> {
    use serde::de::DeserializeSeed;
    use serde_json::Value;
    let mut reader = serde_json::Deserializer::from_str(text);
    let (members, items) = JsonTopSeed { limit }.deserialize(&mut reader)?;
    reader.end()?;
    let value = Value::Object(members);
    if !is_json_feed(&value) {
        return Err(FeedError::NotAFeed {
            what: "JSON without a jsonfeed.org version".into(),
        });
    }
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let author_of = |v: &Value| {
        v.get("authors")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find_map(|x| s(x, "name")))
            .or_else(|| v.get("author").and_then(|a| s(a, "name")))
    };
    let feed_author = author_of(&value);
    let items = match items {
        JsonItems::Absent => Vec::new(),
        JsonItems::Objects(items) => items,
        JsonItems::NotArray => {
            return Err(FeedError::Invalid {
                format: FeedFormat::JsonFeed,
                message: "`items` is not an array".into(),
            })
        }
    };
    let mut raws = Vec::with_capacity(items.len());
    for item in &items {
        let mut raw = RawItem::new(feed_url.clone());
        raw.title = s(item, "title");
        raw.link = s(item, "url")
            .and_then(|u| resolve_link(&u, feed_url))
            .or_else(|| s(item, "external_url").and_then(|u| resolve_link(&u, feed_url)));
        raw.guid = match item.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        raw.time = s(item, "date_published");
        raw.updated = s(item, "date_modified");
        raw.labels = item
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        raw.description = s(item, "summary").map(|t| escape_html(&t));
        raw.content =
            s(item, "content_html").or_else(|| s(item, "content_text").map(|t| escape_html(&t)));
        raw.author = author_of(item).or_else(|| feed_author.clone());
        raw.image = s(item, "image")
            .or_else(|| s(item, "banner_image"))
            .and_then(|u| resolve_link(&u, feed_url));
        raws.push(raw);
    }
    let title = s(&value, "title");
    let link = s(&value, "home_page_url").and_then(|u| resolve_link(&u, feed_url));
    Ok(finish(FeedFormat::JsonFeed, title, link, raws))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://news.example.com/feeds/main.xml").expect("test URL")
    }

    fn parse(text: &str) -> ParsedFeed {
        match parse_feed(text, &url()) {
            Ok(f) => f,
            Err(e) => panic!("parse failed: {e}\n{text}"),
        }
    }

    /// An RSS 2.0 document around the given items.
    fn rss2(items: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Example News</title><link>https://news.example.com/</link>
<description>All the news</description>
{items}
</channel></rss>"#
        )
    }

    fn one(text: &str) -> Headline {
        let feed = parse(text);
        assert_eq!(feed.headlines.len(), 1, "{feed:#?}");
        feed.headlines.into_iter().next().expect("one headline")
    }

    #[test]
    fn rss_091() {
        let text = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel>
<title>WriteTheWeb</title><link>http://writetheweb.com</link>
<description>News for web users that write back</description><language>en-us</language>
<item><title>Giving the world a pluggable Gnutella</title>
<link>http://writetheweb.com/read.php?item=24</link>
<description>WorldOS is a framework on which to build programs that work like Freenet or Gnutella&nbsp;-allowing distributed applications using peer-to-peer routing.</description></item>
<item><title>Syndication discussions hot up</title>
<link>http://writetheweb.com/read.php?item=23</link></item>
</channel></rss>"#;
        let feed = parse(text);
        assert_eq!(feed.format, FeedFormat::Rss2);
        assert_eq!(feed.title.as_deref(), Some("WriteTheWeb"));
        assert_eq!(feed.link.as_deref(), Some("http://writetheweb.com/"));
        assert_eq!(feed.headlines.len(), 2);
        let h = &feed.headlines[0];
        assert_eq!(h.title, "Giving the world a pluggable Gnutella");
        assert_eq!(
            h.link.as_deref(),
            Some("http://writetheweb.com/read.php?item=24")
        );
        assert!(h.summary.as_deref().is_some_and(|s| s.contains("Freenet")));
    }

    #[test]
    fn rss_20_full_item() {
        let h = one(&rss2(
            r#"<item>
  <title>Council approves  new
  budget</title>
  <link>/2024/05/budget.html</link>
  <guid isPermaLink="false">budget-2024-05</guid>
  <pubDate>Tue, 14 May 2024 09:30:00 +0200</pubDate>
  <category> Politics </category><category>Local</category><category>politics</category>
  <author>desk@example.com (City Desk)</author>
  <description>The council &lt;b&gt;approved&lt;/b&gt; the budget.</description>
  <content:encoded><![CDATA[<p>Long story</p>]]></content:encoded>
  <enclosure url="/img/budget.jpg" length="1234" type="image/jpeg"/>
</item>"#,
        ));
        assert_eq!(h.title, "Council approves new budget");
        assert_eq!(
            h.link.as_deref(),
            Some("https://news.example.com/2024/05/budget.html")
        );
        assert_eq!(h.guid.as_deref(), Some("budget-2024-05"));
        assert_eq!(
            h.time_text.as_deref(),
            Some("Tue, 14 May 2024 09:30:00 +0200")
        );
        assert_eq!(h.labels, vec!["Politics", "Local"]);
        assert_eq!(h.author.as_deref(), Some("City Desk"));
        assert_eq!(
            h.summary.as_deref(),
            Some("The council <b>approved</b> the budget.")
        );
        assert_eq!(
            h.image.as_deref(),
            Some("https://news.example.com/img/budget.jpg")
        );
    }

    #[test]
    fn rss_media_thumbnail_and_dc_creator() {
        let h = one(&rss2(
            r#"<item><title>Pic</title><link>https://news.example.com/p</link>
<dc:creator>Ann Author</dc:creator><dc:date>2024-05-14T09:30:00Z</dc:date>
<media:thumbnail url="https://cdn.example.com/t.jpg"/></item>"#,
        ));
        assert_eq!(h.author.as_deref(), Some("Ann Author"));
        assert_eq!(h.time_text.as_deref(), Some("2024-05-14T09:30:00Z"));
        assert_eq!(h.image.as_deref(), Some("https://cdn.example.com/t.jpg"));
    }

    #[test]
    fn rdf_10_with_dc() {
        let text = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://example.org/rss">
    <title>RDF Site</title><link>http://example.org/</link><description>d</description>
    <items><rdf:Seq><rdf:li resource="http://example.org/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="http://example.org/a">
    <title>First &amp; foremost</title><link>http://example.org/a</link>
    <dc:date>2003-12-13T18:30:02+01:00</dc:date>
    <dc:subject>Science</dc:subject><dc:subject>Space</dc:subject>
    <dc:creator>Rita</dc:creator>
  </item>
  <item rdf:about="http://example.org/b"><title>Second</title></item>
</rdf:RDF>"#;
        let feed = parse(text);
        assert_eq!(feed.format, FeedFormat::Rss1Rdf);
        assert_eq!(feed.title.as_deref(), Some("RDF Site"));
        assert_eq!(feed.headlines.len(), 2);
        let h = &feed.headlines[0];
        assert_eq!(h.title, "First & foremost");
        assert_eq!(h.link.as_deref(), Some("http://example.org/a"));
        assert_eq!(h.guid.as_deref(), Some("http://example.org/a"));
        assert_eq!(h.time_text.as_deref(), Some("2003-12-13T18:30:02+01:00"));
        assert_eq!(h.labels, vec!["Science", "Space"]);
        assert_eq!(h.author.as_deref(), Some("Rita"));
        // No <link>: rdf:about stands in.
        assert_eq!(
            feed.headlines[1].link.as_deref(),
            Some("http://example.org/b")
        );
    }

    #[test]
    fn atom_10_xml_base_and_links() {
        let text = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/">
  <title type="text">Example Blog</title>
  <link href="/" /><link rel="self" href="/atom.xml"/>
  <id>urn:uuid:60a76c80</id><updated>2024-01-02T00:00:00Z</updated>
  <author><name>Feed Owner</name></author>
  <entry xml:base="/2024/">
    <title type="html">Hello &lt;em&gt;world&lt;/em&gt;</title>
    <link rel="edit" href="/edit/1"/>
    <link rel="alternate" type="application/pdf" href="post.pdf"/>
    <link rel="alternate" type="text/html" href="post.html"/>
    <link rel="enclosure" type="image/png" href="pic.png"/>
    <id>tag:blog.example.org,2024:1</id>
    <published>2024-01-01T10:00:00+01:00</published>
    <updated>2024-01-02T10:00:00+01:00</updated>
    <category term="rust" label="Rust"/><category term="web"/>
    <summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Short <a href="more.html">more</a></p></div></summary>
    <content type="html">&lt;p&gt;The long version&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>No rel</title><link href="plain"/><id>tag:2</id><updated>2024-01-03T00:00:00Z</updated>
    <author><name>Guest</name></author>
  </entry>
</feed>"#;
        let feed = parse(text);
        assert_eq!(feed.format, FeedFormat::Atom1);
        assert_eq!(feed.title.as_deref(), Some("Example Blog"));
        assert_eq!(feed.link.as_deref(), Some("https://blog.example.org/"));
        let h = &feed.headlines[0];
        assert_eq!(h.title, "Hello world");
        assert_eq!(
            h.link.as_deref(),
            Some("https://blog.example.org/2024/post.html")
        );
        assert_eq!(h.guid.as_deref(), Some("tag:blog.example.org,2024:1"));
        assert_eq!(h.time_text.as_deref(), Some("2024-01-01T10:00:00+01:00"));
        assert_eq!(h.updated_text.as_deref(), Some("2024-01-02T10:00:00+01:00"));
        assert_eq!(h.labels, vec!["Rust", "web"]);
        assert_eq!(h.author.as_deref(), Some("Feed Owner"));
        assert_eq!(
            h.image.as_deref(),
            Some("https://blog.example.org/2024/pic.png")
        );
        let summary = h.summary.as_deref().unwrap_or_default();
        assert!(summary.contains("Short"), "{summary}");
        assert!(
            summary.contains("https://blog.example.org/2024/more.html"),
            "{summary}"
        );
        assert!(!summary.contains("<div"), "{summary}");
        let h2 = &feed.headlines[1];
        assert_eq!(h2.link.as_deref(), Some("https://blog.example.org/plain"));
        assert_eq!(h2.author.as_deref(), Some("Guest"));
        assert_eq!(h2.time_text.as_deref(), Some("2024-01-03T00:00:00Z"));
    }

    #[test]
    fn atom_03_escaped_and_base64() {
        let b64 = "PHA+SGVsbG8gPGI+YmFzZTY0PC9iPjwvcD4="; // <p>Hello <b>base64</b></p>
        let text = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <title mode="escaped" type="text/html">Old &amp;lt;i&amp;gt;Atom&amp;lt;/i&amp;gt;</title>
  <link rel="alternate" type="text/html" href="http://old.example.net/"/>
  <modified>2004-06-01T00:00:00Z</modified>
  <author><name>Blogger</name></author>
  <entry>
    <title mode="escaped" type="text/html">Escaped &lt;b&gt;one&lt;/b&gt;</title>
    <link rel="alternate" type="text/html" href="http://old.example.net/1.html"/>
    <id>tag:old.example.net,2004:1</id>
    <issued>2004-05-31T20:00:00-04:00</issued><modified>2004-06-01T00:00:00Z</modified>
    <content type="text/html" mode="escaped">&lt;p&gt;Escaped body&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Base64</title>
    <link rel="alternate" type="text/html" href="2.html"/>
    <id>tag:old.example.net,2004:2</id>
    <created>2004-05-30T00:00:00Z</created>
    <dc:subject>Old stuff</dc:subject>
    <content type="text/html" mode="base64">{b64}</content>
  </entry>
</feed>"#
        );
        let feed = parse(&text);
        assert_eq!(feed.format, FeedFormat::Atom03);
        assert_eq!(feed.title.as_deref(), Some("Old Atom"));
        let h = &feed.headlines[0];
        assert_eq!(h.title, "Escaped one");
        assert_eq!(h.time_text.as_deref(), Some("2004-05-31T20:00:00-04:00"));
        assert_eq!(h.updated_text.as_deref(), Some("2004-06-01T00:00:00Z"));
        assert_eq!(h.author.as_deref(), Some("Blogger"));
        assert_eq!(h.summary.as_deref(), Some("<p>Escaped body</p>"));
        let h2 = &feed.headlines[1];
        assert_eq!(
            h2.link.as_deref(),
            Some("https://news.example.com/feeds/2.html")
        );
        assert_eq!(h2.time_text.as_deref(), Some("2004-05-30T00:00:00Z"));
        assert_eq!(h2.labels, vec!["Old stuff"]);
        assert_eq!(h2.summary.as_deref(), Some("<p>Hello <b>base64</b></p>"));
    }

    #[test]
    fn json_feed_10() {
        let text = r#"{
  "version": "https://jsonfeed.org/version/1",
  "title": "JSON Blog", "home_page_url": "https://json.example.com/",
  "author": {"name": "Jay"},
  "items": [
    {"id": 42, "url": "/posts/42", "title": "Answer &amp; everything",
     "content_text": "Plain <text> body", "date_published": "2020-01-01T00:00:00Z",
     "tags": ["meaning", " life ", "meaning"], "image": "/img/42.png"},
    {"id": "no-title", "content_html": "<p>Only a <em>body</em> here</p>",
     "external_url": "https://elsewhere.example.org/x"},
    "not an object"
  ]
}"#;
        let feed = parse(text);
        assert_eq!(feed.format, FeedFormat::JsonFeed);
        assert_eq!(feed.title.as_deref(), Some("JSON Blog"));
        assert_eq!(feed.headlines.len(), 2);
        let h = &feed.headlines[0];
        assert_eq!(h.title, "Answer & everything");
        assert_eq!(h.guid.as_deref(), Some("42"));
        assert_eq!(h.link.as_deref(), Some("https://news.example.com/posts/42"));
        assert_eq!(h.labels, vec!["meaning", "life"]);
        assert_eq!(h.author.as_deref(), Some("Jay"));
        assert_eq!(h.summary.as_deref(), Some("Plain &lt;text&gt; body"));
        assert_eq!(
            h.image.as_deref(),
            Some("https://news.example.com/img/42.png")
        );
        let h2 = &feed.headlines[1];
        assert_eq!(h2.title, "Only a body here");
        assert_eq!(h2.link.as_deref(), Some("https://elsewhere.example.org/x"));
    }

    #[test]
    fn json_feed_11() {
        let text = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "T",
  "authors": [{"name": "Feed Author"}],
  "items": [{"id": "1", "url": "https://j.example.com/1", "title": "One",
             "summary": "Short summary", "content_html": "<p>Long</p>",
             "date_published": "2021-02-03T04:05:06+00:00", "date_modified": "2021-02-04T00:00:00Z",
             "authors": [{"url": "https://x"}, {"name": "Item Author"}],
             "banner_image": "https://j.example.com/b.jpg"}]}"#;
        let h = one(text);
        assert_eq!(h.summary.as_deref(), Some("Short summary"));
        assert_eq!(h.author.as_deref(), Some("Item Author"));
        assert_eq!(h.updated_text.as_deref(), Some("2021-02-04T00:00:00Z"));
        assert_eq!(h.image.as_deref(), Some("https://j.example.com/b.jpg"));
    }

    #[test]
    fn cdata_and_html_titles() {
        let feed = parse(&rss2(
            r#"<item><title><![CDATA[Breaking: <b>Big</b> news &amp; more]]></title><link>https://n.example/1</link></item>
<item><title>Markets &lt;i&gt;rally&lt;/i&gt;</title><link>https://n.example/2</link></item>
<item><title>Tom &amp;amp; Jerry &amp;lt;3 &amp;#8220;cheese&amp;#8221;</title><link>https://n.example/3</link></item>
<item><title>Zero&#8203;width&#x7;	tabs&#160;and nbsp</title><link>https://n.example/4</link></item>"#,
        ));
        let titles: Vec<&str> = feed.headlines.iter().map(|h| h.title.as_str()).collect();
        assert_eq!(
            titles,
            vec![
                "Breaking: Big news & more",
                "Markets rally",
                "Tom & Jerry <3 \u{201c}cheese\u{201d}",
                "Zerowidth tabs and nbsp"
            ]
        );
    }

    #[test]
    fn guid_without_link_and_not_permalink() {
        let feed = parse(&rss2(
            r#"<item><title>Perma</title><guid>https://n.example/perma</guid></item>
<item><title>Not perma</title><guid isPermaLink="false">https://n.example/not</guid></item>
<item><title>Opaque</title><guid>12345</guid></item>"#,
        ));
        let links: Vec<Option<&str>> = feed.headlines.iter().map(|h| h.link.as_deref()).collect();
        assert_eq!(links, vec![Some("https://n.example/perma"), None, None]);
        assert_eq!(
            feed.headlines[1].guid.as_deref(),
            Some("https://n.example/not")
        );
    }

    #[test]
    fn missing_title() {
        let long = "word ".repeat(40);
        let feed = parse(&rss2(&format!(
            r#"<item><description>&lt;p&gt;Summary &lt;b&gt;only&lt;/b&gt; item&lt;/p&gt;</description></item>
<item><link>https://n.example/link-only</link></item>
<item><description>{long}</description></item>
<item><category>nothing else</category></item>"#
        )));
        assert_eq!(feed.headlines.len(), 3);
        assert_eq!(feed.headlines[0].title, "Summary only item");
        assert_eq!(feed.headlines[1].title, "");
        assert_eq!(
            feed.headlines[1].link.as_deref(),
            Some("https://n.example/link-only")
        );
        let t = &feed.headlines[2].title;
        assert!(
            t.ends_with('…') && t.chars().count() <= SYNTHETIC_TITLE_CHARS + 1,
            "{t}"
        );
    }

    #[test]
    fn script_in_description_is_sanitised() {
        let h = one(&rss2(
            r#"<item><title>X</title><link>https://n.example/x</link>
<description><![CDATA[<p onclick="evil()">Hi<script>alert('x')</script><style>p{}</style>
<a href="javascript:alert(1)">bad</a> <a href="/rel">good</a></p>]]></description></item>"#,
        ));
        let s = h.summary.unwrap_or_default();
        assert!(
            !s.contains("script") && !s.contains("alert") && !s.contains("onclick"),
            "{s}"
        );
        assert!(!s.contains("javascript:") && !s.contains("p{}"), "{s}");
        assert!(s.contains(r#"href="https://news.example.com/rel""#), "{s}");
    }

    #[test]
    fn long_summary_is_cut() {
        let body = "<p>".to_owned() + &"lorem ipsum ".repeat(2000) + "</p>";
        let h = one(&rss2(&format!(
            "<item><title>Long</title><link>https://n.example/l</link><description>{}</description></item>",
            escape_html(&body)
        )));
        let s = h.summary.unwrap_or_default();
        assert!(
            s.len() <= MAX_SUMMARY_BYTES + 16 && s.ends_with("…</p>"),
            "{}",
            s.len()
        );
    }

    #[test]
    fn malformed_xml_reports_line() {
        let text = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\">\n<channel>\n<title>x</title>\n<item><title>a</b></item>\n</channel></rss>";
        match parse_feed(text, &url()) {
            Err(FeedError::Malformed {
                format,
                line,
                column,
                ..
            }) => {
                assert_eq!(format, FeedFormat::Rss2);
                assert_eq!(line, 5);
                assert!(column > 1);
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
        let truncated = "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<entry><title>t</title>";
        assert!(matches!(
            parse_feed(truncated, &url()),
            Err(FeedError::Malformed {
                line: 2,
                format: FeedFormat::Atom1,
                ..
            })
        ));
        assert!(matches!(
            parse_feed("{\"version\": ", &url()),
            Err(FeedError::Json(_))
        ));
    }

    #[test]
    fn not_a_feed() {
        let html = "<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>Home</title></head><body><p>Hi<br></body></html>";
        assert!(matches!(
            parse_feed(html, &url()),
            Err(FeedError::NotAFeed { .. })
        ));
        for text in [
            "",
            "plain text",
            "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "{\"a\": 1}",
            "[1]",
        ] {
            assert!(
                matches!(parse_feed(text, &url()), Err(FeedError::NotAFeed { .. })),
                "{text}"
            );
        }
        assert_eq!(detect_format(html), None);
        assert_eq!(detect_format("<rss/>"), Some(FeedFormat::Rss2));
    }

    #[test]
    fn empty_channel() {
        let feed = parse(&rss2(""));
        assert!(feed.headlines.is_empty());
        assert_eq!(feed.title.as_deref(), Some("Example News"));
        let atom = parse("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed>");
        assert!(atom.headlines.is_empty());
        let json = parse(r#"{"version":"https://jsonfeed.org/version/1.1","items":[]}"#);
        assert!(json.headlines.is_empty());
    }

    #[test]
    fn lenient_fallback_for_bare_ampersand() {
        // The rss crate rejects a bare `&`; the own reader takes it.
        let feed = parse(&rss2(
            "<item><title>Fish & chips</title><link>https://n.example/f?a=1&b=2</link></item>",
        ));
        assert_eq!(feed.headlines[0].title, "Fish & chips");
        assert_eq!(
            feed.headlines[0].link.as_deref(),
            Some("https://n.example/f?a=1&b=2")
        );
    }

    #[test]
    fn deep_nesting_and_garbage_do_not_panic() {
        let deep = format!(
            "<rss><channel><item><title>{}x{}</title></item></channel></rss>",
            "<b>".repeat(5000),
            "</b>".repeat(5000)
        );
        let feed = parse(&deep);
        assert_eq!(feed.headlines[0].title, "x");
        for text in [
            "<",
            "<rss",
            "<rss><channel><item>",
            "<feed",
            "{",
            "\u{feff}",
            "<rss>&#0;</rss>",
        ] {
            let _ = parse_feed(text, &url());
        }
        let _ = parse_feed(&"[".repeat(10_000), &url());
        let _ = parse_feed(
            &format!(
                "{{\"version\":\"jsonfeed.org\",\"items\":{}",
                "[".repeat(10_000)
            ),
            &url(),
        );
    }

    #[test]
    fn windows_1252_references_and_mojibake_are_repaired() {
        let feed = parse(&rss2(
            "<item><title>don&#146;t</title><link>https://n.example/a</link>\
             <description>&#226;&#128;&#166;</description></item>\
             <item><title>Caf\u{e9} cr\u{e8}me, l\u{2019}\u{e9}t\u{e9}, \u{c3}\u{a9}t\u{c3}\u{a9} \u{e2}\u{20ac}\u{153}q\u{e2}\u{20ac}\u{9d}</title>\
             <link>https://n.example/b</link></item>",
        ));
        assert_eq!(feed.headlines[0].title, "don\u{2019}t");
        assert_eq!(feed.headlines[0].summary.as_deref(), Some("\u{2026}"));
        assert_eq!(
            feed.headlines[1].title,
            "Caf\u{e9} cr\u{e8}me, l\u{2019}\u{e9}t\u{e9}, \u{e9}t\u{e9} \u{201c}q\u{201d}"
        );
    }

    #[test]
    fn atom_link_as_text_and_prefixed_atom() {
        let feed = parse(
            r#"<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:entry>
<a:link rel="enclosure" type="text/html">http://x.example/enc</a:link>
<a:link rel="alternate" type="text/html">http://x.example/alt</a:link>
<a:title>Prefixed</a:title></a:entry></a:feed>"#,
        );
        assert_eq!(feed.format, FeedFormat::Atom1);
        assert_eq!(feed.headlines[0].title, "Prefixed");
        assert_eq!(
            feed.headlines[0].link.as_deref(),
            Some("http://x.example/alt")
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(line_col("ab\ncdé\nf", 7), (2, 4));
        assert_eq!(line_col("é", 1), (1, 1));
        assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("a*"), None);
        assert_eq!(unescape_lenient("a&amp;b&c&#65;&nbsp;"), "a&b&cA&nbsp;");
        assert_eq!(
            clean_author("jo@example.com (Jo Bloggs)").as_deref(),
            Some("Jo Bloggs")
        );
        assert_eq!(clean_author("  ").as_deref(), None);
    }

    #[test]
    fn limited_parse_keeps_the_first_entries() {
        let items: String = (0..10)
            .map(|i| format!("<item><title>t{i}</title><link>/a/{i}</link></item>"))
            .collect();
        let atom: String = (0..10)
            .map(|i| format!("<entry><title>t{i}</title><link href=\"/a/{i}\"/></entry>"))
            .collect();
        let json: Vec<String> = (0..10)
            .map(|i| format!("{{\"url\":\"/a/{i}\",\"title\":\"t{i}\"}}"))
            .collect();
        let docs = [
            rss2(&items),
            format!("<rdf:RDF xmlns:rdf=\"{NS_RDF}\" xmlns=\"{NS_RSS10}\"><channel><title>Example News</title></channel>{items}</rdf:RDF>"),
            format!("<feed xmlns=\"{NS_ATOM10}\"><title>Example News</title>{atom}</feed>"),
            format!("{{\"version\":\"https://jsonfeed.org/version/1\",\"title\":\"Example News\",\"items\":[1,[2],{}]}}", json.join(",")),
        ];
        for doc in &docs {
            let all = parse(doc);
            assert_eq!(all.headlines.len(), 10, "{doc}");
            for k in [0, 1, 3, 10, 11] {
                let some = parse_feed_limited(doc, &url(), Some(k))
                    .unwrap_or_else(|e| panic!("{e}: {doc}"));
                assert_eq!(some.headlines, all.headlines[..k.min(10)], "{k}: {doc}");
                assert_eq!(some.title.as_deref(), Some("Example News"));
                assert_eq!(some.format, all.format);
            }
        }
        // The cut document is closed where it was cut.
        let shape = scan_shape(&docs[0], Some(2));
        let cut = shape.cut.unwrap_or_default();
        assert!(
            cut.ends_with("<link>/a/1</link></item></channel></rss>"),
            "{cut}"
        );
        assert!(rss::Channel::read_from(cut.as_bytes()).is_ok());
        // `items` that is not an array is still an error, limited or not.
        let bad = r#"{"version":"https://jsonfeed.org/version/1","items":{"a":1}}"#;
        assert!(matches!(
            parse_feed_limited(bad, &url(), Some(1)),
            Err(FeedError::Invalid { .. })
        ));
        assert!(detect_format(bad).is_some());
    }

    #[test]
    fn nesting_beyond_the_reader_limit_is_invalid() {
        let doc = |depth: usize| {
            format!(
                "<rss><channel><item><title>t</title><link>/1</link>{}{}</item></channel></rss>",
                "<x>".repeat(depth),
                "</x>".repeat(depth)
            )
        };
        assert_eq!(scan_shape(&doc(10), None).max_depth, 13);
        assert_eq!(parse(&doc(MAX_NESTING - 4)).headlines.len(), 1);
        assert!(matches!(
            parse_feed(&doc(MAX_NESTING), &url()),
            Err(FeedError::Invalid { .. })
        ));
        // quick-xml's u16 level counter would overflow here.
        assert!(matches!(
            parse_feed(&doc(70_000), &url()),
            Err(FeedError::Invalid { .. })
        ));
    }

    #[test]
    fn labels_are_deduplicated_and_capped() {
        let cats: String = (0..200)
            .map(|i| format!("<category>C{}</category><category>c{}</category>", i, i))
            .collect();
        let h = one(&rss2(&format!(
            "<item><title>t</title><link>/1</link>{cats}</item>"
        )));
        assert_eq!(h.labels.len(), crate::extract::html::MAX_LABELS);
        assert_eq!(h.labels[..3], ["C0", "C1", "C2"]);
    }
}
