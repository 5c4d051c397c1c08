//! Looking at a document before reading it: which format it is, and how deep it nests.
//!
//! The format comes from the content alone (root element and namespace; never the
//! `Content-Type` header, which is wrong too often). A cheap pre-pass measures nesting (a
//! document beyond [`super::MAX_NESTING`] is rejected before quick-xml's namespace reader can
//! overflow its counter) and, for a limited parse, finds where to cut after the first entries.

use quick_xml::events::Event;
use quick_xml::NsReader;

use super::xml::owned_ns;
use super::{FeedFormat, NS_ATOM03, NS_ATOM10};

/// What the streaming pre-pass found out about an XML document.
pub(super) struct XmlShape {
    /// The deepest nesting of elements (before any cut; the root element is level 1).
    pub(super) max_depth: usize,
    /// The document cut before its `limit + 1`-th entry, with the open elements closed.
    pub(super) cut: Option<String>,
}

/// Whether an element named `local` whose parent is named `parent` is a feed entry: an RSS
/// `item` in a `channel` (or beside it, in RSS 0.90/1.0 and some 0.9x feeds), an Atom `entry`.
pub(super) fn is_entry(local: &[u8], parent: &[u8]) -> bool {
    matches!(local, b"item" | b"entry") && matches!(parent, b"channel" | b"rss" | b"RDF" | b"feed")
}

/// One streaming pass over the events (no allocation per event): the maximum nesting depth,
/// and with a `limit` the byte offset of the `limit + 1`-th entry. Stops at the first error,
/// which the real parse will report: the rss crate and the own reader use the same XML reader
/// and check end names, so neither can get deeper than this pass before failing.
pub(super) fn scan_shape(text: &str, limit: Option<usize>) -> XmlShape {
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
pub(super) fn cut_before(text: &str, pos: u64, open: &[(Vec<u8>, Vec<u8>)]) -> Option<String> {
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

pub(super) enum RootSniff {
    Feed(FeedFormat),
    Other(String),
}

pub(super) fn describe_start(text: &str) -> String {
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
pub(super) fn sniff_xml_root(text: &str) -> RootSniff {
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

pub(super) fn classify_root(ns: Option<&str>, local: &str, version: Option<&str>) -> RootSniff {
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
