//! Turning fetched bytes (HTML pages, XML feeds, JSON feeds) into a `String`.
//!
//! Portals, Chinese ones in particular, are unreliable about their character
//! encoding: GBK pages declare `gb2312` (whose repertoire lacks characters such
//! as 镕 or 喆, so a strict decoder loses them), browser-saved or CDN-rewritten
//! pages keep a `gb2312` declaration over bytes that are really UTF-8, and
//! older feeds come in Big5, Shift_JIS, EUC-KR or KOI8-R. This module decides
//! the encoding the way a browser would (WHATWG-like), then second-guesses
//! declarations that the bytes contradict, so that the text reaching the
//! extractor is never mojibake when a clean reading exists.
//!
//! Decision order:
//!
//! 1. A byte-order mark (UTF-8, UTF-16LE, UTF-16BE) wins over everything.
//! 2. The `charset` parameter of the HTTP `Content-Type` header.
//! 3. For [`DocKind::Html`], a `<meta charset>` or
//!    `<meta http-equiv="Content-Type" content="...; charset=...">` whose tag
//!    starts within the first 1024 bytes (the WHATWG prescan; comments are
//!    skipped). For [`DocKind::Xml`], the `encoding="..."` of a leading
//!    `<?xml ...?>` declaration. [`DocKind::Json`] has no in-document
//!    declaration.
//! 4. Without a usable declaration: bytes that are valid UTF-8 (or have more
//!    good multibyte sequences than bad ones) are UTF-8; otherwise `chardetng`
//!    guesses (Html and Xml), or UTF-8 is assumed (Json, RFC 8259) with the
//!    same repair rule as for lying declarations. XML that starts with `<?` in
//!    UTF-16 without a BOM is UTF-16 (XML 1.0 appendix F).
//!
//! Labels resolve through [`encoding_rs::Encoding::for_label_no_replacement`];
//! labels that are unknown (or that map to the WHATWG "replacement" encoding,
//! which would throw the whole text away) are ignored and the next step is
//! tried. `gb2312`, `gbk`, `x-gbk`, `gb_2312-80` and friends decode as
//! GB18030, the superset that real pages need. As in browsers, a `<meta>` or
//! XML declaration naming UTF-16 is read as UTF-8 (the declaration could only
//! be found because the bytes are ASCII-compatible), and `x-user-defined` in
//! `<meta>` means windows-1252.
//!
//! Lying declarations (from header, `<meta>` or XML declaration alike):
//!
//! * declared encoding is not UTF-8, but the bytes are valid UTF-8 and contain
//!   multibyte sequences (or are UTF-8 apart from at most one bad byte per 20
//!   good multibyte sequences, e.g. a page cut mid-character by a size limit):
//!   decoded as UTF-8;
//! * the declared encoding produces U+FFFD for a noticeable share of the text
//!   (for a legacy encoding at least 0.5% of the non-ASCII characters; for
//!   UTF-8 more bad sequences than good multibyte ones), and `chardetng`'s
//!   confident guess decodes with less than half as many: the guess is used.
//!   One stray byte therefore never turns a whole page into mojibake.
//!
//! Either way [`Decoded::overridden`] is set and an `info` event is logged.
//! A full decoding is always returned; bad bytes become U+FFFD and are counted
//! in [`Decoded::replacements`]. The common paths decode once: UTF-8 validity
//! is checked once with [`std::str::from_utf8`], and a second decoding happens
//! only when the first one produced replacements worth repairing.
//!
//! The decision is split by where the evidence comes from: [`label`] reads charset labels
//! (HTTP header values, label resolution), [`meta`] runs the HTML `<meta>` prescan,
//! [`xml_decl`] reads and rewrites the XML declaration, and [`repair`] second-guesses a
//! declaration against the bytes (UTF-8 statistics, `chardetng`). This file holds the types,
//! [`decode`], which walks the decision order above, and [`decode_document`], which fetch calls
//! to hand a parser its text (the kind taken from what the caller [`Expect`]s).

mod label;
mod meta;
mod repair;
mod xml_decl;

use std::fmt;

use encoding_rs::Encoding;

pub use label::{charset_from_content_type, resolve_label};
pub use xml_decl::strip_xml_encoding_declaration;

use label::declaration_from_header;
use meta::prescan_meta;
use repair::{count_replacements, decode_declared, decode_undeclared};
use xml_decl::xml_declaration;

/// What kind of document the bytes are, which decides where in-document
/// encoding declarations are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// An HTML page: `<meta charset>` / `<meta http-equiv>` in the first 1024 bytes.
    Html,
    /// An XML document, i.e. an RSS/Atom/RDF feed: `<?xml ... encoding="..."?>`.
    Xml,
    /// A JSON document (JSON Feed, APIs): no in-document declaration; UTF-8 unless
    /// a BOM or the `Content-Type` header says otherwise.
    Json,
}

/// Where the encoding that was used came from; shown in logs and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CharsetSource {
    /// A byte-order mark at the start of the bytes.
    Bom,
    /// The `charset` parameter of the HTTP `Content-Type` header.
    HttpHeader,
    /// A `<meta charset>` or `<meta http-equiv="Content-Type">` in an HTML page.
    MetaTag,
    /// The `encoding` pseudo-attribute of a leading `<?xml ...?>` declaration.
    XmlDeclaration,
    /// Inferred from the bytes: valid UTF-8, `chardetng`'s guess, or an
    /// XML document starting with UTF-16 `<?`.
    Detected,
    /// Nothing declared and nothing to detect (empty or ASCII-only bytes, or
    /// JSON): UTF-8.
    Default,
}

impl CharsetSource {
    /// Where a declaration of this kind lives, for sentences in [`Decoded::explain`].
    fn place(self) -> &'static str {
        match self {
            CharsetSource::Bom => "the byte-order mark",
            CharsetSource::HttpHeader => "the Content-Type header",
            CharsetSource::MetaTag => "<meta>",
            CharsetSource::XmlDeclaration => "the XML declaration",
            CharsetSource::Detected => "the bytes",
            CharsetSource::Default => "the default",
        }
    }
}

impl fmt::Display for CharsetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CharsetSource::Bom => "byte-order mark",
            CharsetSource::HttpHeader => "http header",
            CharsetSource::MetaTag => "meta tag",
            CharsetSource::XmlDeclaration => "xml declaration",
            CharsetSource::Detected => "detected",
            CharsetSource::Default => "default",
        })
    }
}

/// Why a declared encoding was rejected (see [`Decoded::override_reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideReason {
    /// The declaration named a legacy encoding, but the bytes are valid UTF-8
    /// with multibyte sequences (browser-saved pages, CDN rewrites), or UTF-8
    /// apart from rare bad bytes such as a last character cut off by a size
    /// limit (then [`Decoded::replacements`] is non-zero).
    ValidUtf8,
    /// The declared encoding produced `declared` U+FFFD replacements and the
    /// detected one produced clearly fewer (see [`Decoded::replacements`]).
    FewerReplacements {
        /// U+FFFD count of the rejected decoding with the declared encoding.
        declared: usize,
    },
}

/// The decoded text together with how its encoding was decided, so callers can
/// log, count and debug encoding trouble per source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The full decoded text (no BOM; malformed bytes became U+FFFD).
    pub text: String,
    /// The encoding the text was decoded with (GBK-family labels report GB18030).
    pub encoding: &'static Encoding,
    /// How `encoding` was decided.
    pub source: CharsetSource,
    /// The label of the recognised declaration that was consulted (header,
    /// `<meta>` or XML declaration; lower-cased), even if it was overridden.
    /// `None` with a BOM (declarations are not consulted then) or when nothing
    /// usable was declared; unknown labels are skipped and only logged.
    pub declared: Option<String>,
    /// Where `declared` came from (`HttpHeader`, `MetaTag` or `XmlDeclaration`).
    pub declared_in: Option<CharsetSource>,
    /// True when the declaration was rejected because a better decoding exists.
    pub overridden: bool,
    /// Why the declaration was rejected; `Some` exactly when `overridden`.
    pub override_reason: Option<OverrideReason>,
    /// Number of U+FFFD characters in `text` (0 for clean input).
    pub replacements: usize,
}

impl Decoded {
    /// A one-line human explanation of the decision, for logs and the
    /// diagnostics page, e.g. `gb18030 from <meta charset=gb2312>` or
    /// `utf-8 (declared gb2312 in <meta>, but the bytes are valid UTF-8)`.
    pub fn explain(&self) -> String {
        let enc = self.encoding.name().to_ascii_lowercase();
        let label = self.declared.as_deref().unwrap_or("?");
        let place = self
            .declared_in
            .map_or("a declaration", CharsetSource::place);
        let mut line = match self.override_reason {
            Some(OverrideReason::ValidUtf8) if self.replacements == 0 => {
                format!("{enc} (declared {label} in {place}, but the bytes are valid UTF-8)")
            }
            Some(OverrideReason::ValidUtf8) => format!(
                "{enc} (declared {label} in {place}, but the bytes are UTF-8 apart from {} U+FFFD)",
                self.replacements
            ),
            Some(OverrideReason::FewerReplacements { declared }) => format!(
                "{enc} (declared {label} in {place}, but it produced {declared} U+FFFD; detected {enc} produces {})",
                self.replacements
            ),
            None => match self.source {
                CharsetSource::Bom => format!("{enc} from the byte-order mark"),
                CharsetSource::HttpHeader => format!("{enc} from Content-Type charset={label}"),
                CharsetSource::MetaTag => format!("{enc} from <meta charset={label}>"),
                CharsetSource::XmlDeclaration => format!("{enc} from <?xml encoding=\"{label}\"?>"),
                CharsetSource::Detected => format!("{enc} detected from the bytes (nothing usable declared)"),
                CharsetSource::Default => format!("{enc} by default (nothing declared, nothing to detect)"),
            },
        };
        if self.override_reason.is_none() && self.replacements > 0 {
            line.push_str(&format!(", {} U+FFFD", self.replacements));
        }
        line
    }
}

/// Decodes fetched bytes to text, deciding the encoding from (in order) a BOM,
/// the `Content-Type` header value `content_type`, the in-document declaration
/// for `kind`, and detection; declarations contradicted by the bytes are
/// overridden. Never fails and never drops text. See the module docs.
#[must_use]
pub fn decode(bytes: &[u8], content_type: Option<&str>, kind: DocKind) -> Decoded {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return finish(text.into_owned(), encoding, CharsetSource::Bom, None, None);
    }

    let declaration = content_type
        .and_then(declaration_from_header)
        .or_else(|| match kind {
            DocKind::Html => prescan_meta(bytes),
            DocKind::Xml => xml_declaration(bytes),
            DocKind::Json => None,
        });

    match declaration {
        Some(declaration) => decode_declared(bytes, declaration),
        None => decode_undeclared(bytes, kind),
    }
}

/// What a caller expects a body to be. A feed's body says itself whether it is XML (RSS, Atom,
/// RDF) or JSON (JSON Feed): its first non-blank byte is `{` or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// An HTML page.
    Html,
    /// A feed, XML or JSON.
    Feed,
}

impl Expect {
    /// The document kind `bytes` are read as.
    pub fn kind_of(self, bytes: &[u8]) -> DocKind {
        match self {
            Expect::Html => DocKind::Html,
            Expect::Feed => {
                let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
                if first == Some(&b'{') {
                    DocKind::Json
                } else {
                    DocKind::Xml
                }
            }
        }
    }
}

/// Decodes a body into text ready for its parser: [`decode`] as the kind `expect` gives, and
/// for a feed the XML declaration rewritten to `utf-8` (see
/// [`strip_xml_encoding_declaration`]), since the text no longer is in the declared encoding.
#[must_use]
pub fn decode_document(bytes: &[u8], content_type: Option<&str>, expect: Expect) -> Decoded {
    let kind = expect.kind_of(bytes);
    let mut decoded = decode(bytes, content_type, kind);
    if kind != DocKind::Html {
        if let std::borrow::Cow::Owned(text) = strip_xml_encoding_declaration(&decoded.text) {
            decoded.text = text;
        }
    }
    decoded
}

/// A recognised encoding declaration.
struct Declaration {
    encoding: &'static Encoding,
    label: String,
    source: CharsetSource,
}

fn finish(
    text: String,
    encoding: &'static Encoding,
    source: CharsetSource,
    declared: Option<(String, CharsetSource)>,
    override_reason: Option<OverrideReason>,
) -> Decoded {
    let replacements = count_replacements(&text);
    let (declared, declared_in) = declared.unzip();
    Decoded {
        text,
        encoding,
        source,
        declared,
        declared_in,
        overridden: override_reason.is_some(),
        override_reason,
        replacements,
    }
}

/// The first position of `needle` in `haystack` (the prescans' byte search).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
