//! A small namespace-aware element tree, built with quick-xml, for the formats no crate reads
//! the way headwire needs (RDF, Atom, and RSS that the `rss` crate rejects).
//!
//! Lenient about everything except well-formedness: HTML entities in attributes are kept as
//! written, conventional prefixes without a declaration get their usual namespace, nesting
//! beyond a cap is flattened into text, and a failure carries the line and column.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use url::Url;

use super::repair::fix_c1;
use super::{
    FeedError, FeedFormat, MAX_DEPTH, NS_ATOM10, NS_CONTENT, NS_DC, NS_DCTERMS, NS_MEDIA, NS_RDF,
};

#[derive(Debug, Default)]
pub(super) struct Elem {
    pub(super) ns: Option<String>,
    pub(super) local: String,
    pub(super) attrs: Vec<Attr>,
    pub(super) children: Vec<XNode>,
    /// The raw `xml:base` of this element, if any.
    pub(super) base: Option<String>,
}

#[derive(Debug)]
pub(super) struct Attr {
    pub(super) ns: Option<String>,
    pub(super) local: String,
    pub(super) value: String,
}

#[derive(Debug)]
pub(super) enum XNode {
    Elem(Elem),
    Text(String),
}

/// A parse failure before it is placed in the original text.
pub(super) struct XmlFailure {
    pub(super) format: FeedFormat,
    pub(super) pos: usize,
    pub(super) message: String,
}

impl XmlFailure {
    pub(super) fn at(self, text: &str, offset: usize) -> FeedError {
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
pub(super) fn line_col(text: &str, pos: usize) -> (usize, usize) {
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
pub(super) fn conventional_ns(prefix: &[u8]) -> Option<&'static str> {
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

pub(super) fn owned_ns(res: ResolveResult<'_>) -> Option<String> {
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

pub(super) fn make_elem(reader: &NsReader<&[u8]>, ns: Option<String>, e: &BytesStart<'_>) -> Elem {
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
pub(super) fn unescape_lenient(raw: &str) -> String {
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
pub(super) fn resolve_entity(name: &str) -> Option<String> {
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

pub(super) fn push_text(el: &mut Elem, text: &str) {
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
pub(super) fn parse_xml(text: &str, format: FeedFormat) -> Result<Elem, XmlFailure> {
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
    pub(super) fn elems(&self) -> impl Iterator<Item = &Elem> {
        self.children.iter().filter_map(|c| match c {
            XNode::Elem(e) => Some(e),
            XNode::Text(_) => None,
        })
    }

    pub(super) fn in_ns(&self, ns: &str) -> bool {
        self.ns.as_deref() == Some(ns)
    }

    pub(super) fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.in_ns(ns)
    }

    pub(super) fn child(&self, ns: &str, local: &str) -> Option<&Elem> {
        self.elems().find(|e| e.is(ns, local))
    }

    pub(super) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.local == local && a.ns.is_none())
            .map(|a| a.value.as_str())
    }

    pub(super) fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.local == local && a.ns.as_deref() == Some(ns))
            .map(|a| a.value.as_str())
    }

    pub(super) fn has_elem_children(&self) -> bool {
        self.elems().next().is_some()
    }

    /// All descendant text, concatenated.
    pub(super) fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    pub(super) fn collect_text(&self, out: &mut String) {
        for c in &self.children {
            match c {
                XNode::Text(t) => out.push_str(t),
                XNode::Elem(e) => e.collect_text(out),
            }
        }
    }

    /// Non-empty trimmed text, or `None`.
    pub(super) fn text_opt(&self) -> Option<String> {
        let t = self.text();
        let t = t.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }

    /// The children serialised back to (X)HTML markup, for inline XHTML content.
    pub(super) fn inner_markup(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            match c {
                XNode::Text(t) => out.push_str(&quick_xml::escape::escape(t.as_str())),
                XNode::Elem(e) => e.outer_markup(&mut out),
            }
        }
        out
    }

    pub(super) fn outer_markup(&self, out: &mut String) {
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
    pub(super) fn base_from(&self, parent: &Url) -> Url {
        match self.base.as_deref().map(str::trim) {
            Some(b) if !b.is_empty() => parent.join(b).unwrap_or_else(|_| parent.clone()),
            _ => parent.clone(),
        }
    }
}
