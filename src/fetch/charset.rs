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

use std::borrow::Cow;
use std::fmt;

use encoding_rs::{
    Encoding, GB18030, GBK, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252, X_USER_DEFINED,
};

/// How many leading bytes the `<meta>` prescan looks at for the start of a tag
/// (the WHATWG-suggested 1024).
const META_PRESCAN_BYTES: usize = 1024;

/// How far past [`META_PRESCAN_BYTES`] a `<meta>` tag that started in time may
/// run before the prescan gives up on it (long `content` attributes straddle
/// the boundary on real pages).
const META_TAG_SLACK: usize = 1024;

/// How many leading bytes may hold the XML declaration (it is normally the
/// very first thing; leading whitespace is tolerated).
const XML_DECL_BYTES: usize = 1024;

/// A legacy (non-UTF-8) decoding counts as broken, and worth replacing with a
/// detected one, when at least one in this many of its non-ASCII characters is
/// U+FFFD. GBK bytes read as Big5, EUC-KR or Shift_JIS give 0.9-3% U+FFFD;
/// a few corrupt bytes in a long genuine page stay far below 0.5%, so such a
/// page keeps its declared encoding instead of being "repaired" into mojibake
/// by a guess (GBK decodes almost any byte soup without errors).
const BROKEN_RATIO: usize = 200;

/// Bytes that are not valid UTF-8 still count as UTF-8 (overriding a legacy
/// declaration) when they have at least this many valid multibyte sequences
/// per invalid one, e.g. a UTF-8 page truncated mid-character by a size limit.
/// Legacy CJK text read as UTF-8 has fewer than 0.4 valid sequences per error.
const MOSTLY_UTF8_RATIO: usize = 20;

/// ...and at least this many valid multibyte sequences in absolute terms.
const MOSTLY_UTF8_MIN: usize = 8;

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

/// The charset label in a Content-Type header value, if any: the first
/// `charset` parameter, unquoted (double or, leniently, single quotes) and
/// trimmed (e.g. `GBK` for `text/html; charset="GBK"`). Case is preserved.
pub fn charset_from_content_type(value: &str) -> Option<&str> {
    let (_, mut params) = value.split_once(';')?;
    loop {
        params = params.trim_start_matches(|c: char| c == ';' || c.is_ascii_whitespace());
        if params.is_empty() {
            return None;
        }
        let name_end = params.find(['=', ';']).unwrap_or(params.len());
        let name = params[..name_end].trim();
        let rest = &params[name_end..];
        let Some(rest) = rest.strip_prefix('=') else {
            params = rest;
            continue;
        };
        let rest = rest.trim_start();
        let (param_value, after) = if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        if name.eq_ignore_ascii_case("charset") {
            let param_value = param_value.trim();
            // Single quotes are not HTTP syntax, but servers send them.
            let param_value = param_value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(param_value)
                .trim();
            return (!param_value.is_empty()).then_some(param_value);
        }
        params = after;
    }
}

/// Resolves a charset label the way this module does: WHATWG label matching
/// (case-insensitive, surrounding whitespace ignored), the "replacement"
/// encoding treated as unknown, and the GBK family widened to GB18030.
/// Useful for per-source encoding overrides in configuration.
pub fn resolve_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label_no_replacement(label.as_bytes()).map(widen)
}

/// Rewrites the `encoding="..."` of a leading `<?xml ...?>` declaration in
/// already-decoded `text` to `encoding="utf-8"`, because the text is UTF-8 now
/// and XML parsers such as quick-xml would otherwise decode it a second time
/// with the old encoding. Borrows when there is nothing to change.
pub fn strip_xml_encoding_declaration(text: &str) -> Cow<'_, str> {
    let start = text.len()
        - text
            .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
            .len();
    let Some(decl) = text[start..].strip_prefix("<?xml") else {
        return Cow::Borrowed(text);
    };
    if !decl.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Cow::Borrowed(text);
    }
    let Some(decl_len) = decl.find("?>") else {
        return Cow::Borrowed(text);
    };
    let decl_start = start + "<?xml".len();
    let Some((value_start, value_end)) =
        xml_encoding_span(&text.as_bytes()[decl_start..decl_start + decl_len])
    else {
        return Cow::Borrowed(text);
    };
    let (value_start, value_end) = (decl_start + value_start, decl_start + value_end);
    if text[value_start..value_end].eq_ignore_ascii_case("utf-8") {
        return Cow::Borrowed(text);
    }
    // Replace the quoted value including its quotes, so single quotes become double.
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..value_start - 1]);
    out.push_str("\"utf-8\"");
    out.push_str(&text[value_end + 1..]);
    Cow::Owned(out)
}

/// A recognised encoding declaration.
struct Declaration {
    encoding: &'static Encoding,
    label: String,
    source: CharsetSource,
}

/// GBK-family labels decode as GB18030 (a superset; encoding_rs's GBK decoder
/// is the same, but reporting one name keeps logs and comparisons simple).
fn widen(encoding: &'static Encoding) -> &'static Encoding {
    if encoding == GBK {
        GB18030
    } else {
        encoding
    }
}

/// Resolves `label`, logging (at debug level) labels that are ignored.
fn recognise(label: &str, source: CharsetSource) -> Option<&'static Encoding> {
    let encoding = resolve_label(label);
    if encoding.is_none() {
        tracing::debug!(label, %source, "ignoring unknown charset label");
    }
    encoding
}

fn declaration_from_header(value: &str) -> Option<Declaration> {
    let label = charset_from_content_type(value)?;
    let encoding = recognise(label, CharsetSource::HttpHeader)?;
    Some(Declaration {
        encoding,
        label: label.to_ascii_lowercase(),
        source: CharsetSource::HttpHeader,
    })
}

/// In-document declarations could only be read because the bytes are
/// ASCII-compatible, so UTF-16 there really means UTF-8 (WHATWG).
fn in_document(encoding: &'static Encoding) -> &'static Encoding {
    if encoding == UTF_16LE || encoding == UTF_16BE {
        UTF_8
    } else {
        encoding
    }
}

fn decode_declared(bytes: &[u8], declaration: Declaration) -> Decoded {
    let Declaration {
        encoding,
        label,
        source,
    } = declaration;
    let declared = Some((label, source));

    if encoding == UTF_8 {
        return match std::str::from_utf8(bytes) {
            Ok(text) => finish(text.to_owned(), UTF_8, source, declared, None),
            Err(_) => repair_utf8(bytes, source, declared),
        };
    }

    let utf8_text = match std::str::from_utf8(bytes) {
        Ok(text) if !text.is_ascii() => Some(Cow::Borrowed(text)),
        Ok(text) if encoding.is_ascii_compatible() => {
            // ASCII decodes identically in every ASCII-compatible encoding.
            return finish(text.to_owned(), encoding, source, declared, None);
        }
        // ASCII-only, but declared UTF-16 (header) or ISO-2022-JP: decode as declared.
        Ok(_) => None,
        Err(_) if Utf8Stats::scan(bytes, true).mostly_utf8() => {
            Some(String::from_utf8_lossy(bytes))
        }
        Err(_) => None,
    };
    if let Some(text) = utf8_text {
        let (label, place) = declared.as_ref().map(|(l, s)| (l.as_str(), *s)).unzip();
        tracing::info!(
            declared = label,
            declared_in = ?place,
            "charset declaration overridden: the bytes are UTF-8"
        );
        return finish(
            text.into_owned(),
            UTF_8,
            CharsetSource::Detected,
            declared,
            Some(OverrideReason::ValidUtf8),
        );
    }

    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors {
        let count = count_replacements(&text);
        let non_ascii = text.chars().filter(|c| !c.is_ascii()).count();
        if is_broken(count, non_ascii) {
            if let Some((guess, guessed_text, guessed_count)) = better_guess(bytes, encoding, count)
            {
                log_replacement_override(declared.as_ref(), encoding, count, guess, guessed_count);
                return finish(
                    guessed_text,
                    guess,
                    CharsetSource::Detected,
                    declared,
                    Some(OverrideReason::FewerReplacements { declared: count }),
                );
            }
        }
    }
    finish(text.into_owned(), encoding, source, declared, None)
}

/// Bytes that were supposed to be UTF-8 (declared, or JSON's default) but are
/// not valid: keep UTF-8 when only a few bytes are bad, otherwise try the
/// detector.
fn repair_utf8(
    bytes: &[u8],
    source: CharsetSource,
    declared: Option<(String, CharsetSource)>,
) -> Decoded {
    let stats = Utf8Stats::scan(bytes, false);
    let errors = stats.errors;
    if stats.broken() {
        if let Some((guess, text, count)) = better_guess(bytes, UTF_8, errors) {
            let reason = declared
                .as_ref()
                .map(|_| OverrideReason::FewerReplacements { declared: errors });
            if declared.is_some() {
                log_replacement_override(declared.as_ref(), UTF_8, errors, guess, count);
            }
            return finish(text, guess, CharsetSource::Detected, declared, reason);
        }
    }
    let text = String::from_utf8_lossy(bytes).into_owned();
    finish(text, UTF_8, source, declared, None)
}

fn decode_undeclared(bytes: &[u8], kind: DocKind) -> Decoded {
    if kind == DocKind::Xml {
        // XML 1.0 Appendix F: "<?" in UTF-16 without a BOM.
        let utf16 = match bytes {
            [b'<', 0, b'?', 0, ..] => Some(UTF_16LE),
            [0, b'<', 0, b'?', ..] => Some(UTF_16BE),
            _ => None,
        };
        if let Some(encoding) = utf16 {
            let (text, _) = encoding.decode_without_bom_handling(bytes);
            return finish(
                text.into_owned(),
                encoding,
                CharsetSource::Detected,
                None,
                None,
            );
        }
    }

    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let source = if text.is_ascii() || kind == DocKind::Json {
                CharsetSource::Default
            } else {
                CharsetSource::Detected
            };
            finish(text.to_owned(), UTF_8, source, None, None)
        }
        Err(_) if kind == DocKind::Json => repair_utf8(bytes, CharsetSource::Default, None),
        Err(_) => {
            if !Utf8Stats::scan(bytes, false).broken() {
                // A UTF-8 page with a few bad bytes; chardetng would rule UTF-8
                // out and pick a legacy encoding, turning all of it into mojibake.
                let text = String::from_utf8_lossy(bytes).into_owned();
                return finish(text, UTF_8, CharsetSource::Detected, None, None);
            }
            let (encoding, _) = detect(bytes);
            let (text, _) = encoding.decode_without_bom_handling(bytes);
            finish(
                text.into_owned(),
                encoding,
                CharsetSource::Detected,
                None,
                None,
            )
        }
    }
}

/// Runs chardetng over all of `bytes`; returns the (widened) guess and whether
/// chardetng considers it better than at least one other candidate.
fn detect(bytes: &[u8]) -> (&'static Encoding, bool) {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let (encoding, confident) = detector.guess_assess(None, true);
    (widen(encoding), confident)
}

/// chardetng's guess, decoded, if it is a different encoding than `rejected`
/// and decodes with less than half of `rejected_count` replacements.
fn better_guess(
    bytes: &[u8],
    rejected: &'static Encoding,
    rejected_count: usize,
) -> Option<(&'static Encoding, String, usize)> {
    let (guess, confident) = detect(bytes);
    if guess == rejected || !confident {
        return None;
    }
    let (text, had_errors) = guess.decode_without_bom_handling(bytes);
    let count = if had_errors {
        count_replacements(&text)
    } else {
        0
    };
    (count * 2 < rejected_count).then(|| (guess, text.into_owned(), count))
}

fn log_replacement_override(
    declared: Option<&(String, CharsetSource)>,
    encoding: &'static Encoding,
    count: usize,
    guess: &'static Encoding,
    guessed_count: usize,
) {
    let (label, place) = declared.map(|(l, s)| (l.as_str(), *s)).unzip();
    tracing::info!(
        declared = label,
        declared_in = ?place,
        declared_encoding = encoding.name(),
        declared_replacements = count,
        detected = guess.name(),
        detected_replacements = guessed_count,
        "charset declaration overridden: detected encoding decodes with fewer U+FFFD"
    );
}

/// Whether a legacy decoding with `replacements` U+FFFD among `non_ascii`
/// non-ASCII characters is broken enough to look for a better one (see
/// [`BROKEN_RATIO`]).
fn is_broken(replacements: usize, non_ascii: usize) -> bool {
    replacements > 0 && replacements.saturating_mul(BROKEN_RATIO) >= non_ascii
}

/// How UTF-8-like bytes that failed [`std::str::from_utf8`] are.
#[derive(Debug, Clone, Copy)]
struct Utf8Stats {
    /// U+FFFD a UTF-8 decoding produces (maximal-subpart rule, as in WHATWG
    /// and `String::from_utf8_lossy`).
    errors: usize,
    /// Valid multibyte sequences.
    multibyte: usize,
}

impl Utf8Stats {
    /// Scans `bytes` without allocating. With `give_up`, stops early once the
    /// bytes are clearly not [`mostly_utf8`](Self::mostly_utf8) (legacy CJK
    /// fails within its first few dozen non-ASCII bytes), so the partial
    /// counts then only answer that question.
    fn scan(bytes: &[u8], give_up: bool) -> Self {
        let mut stats = Utf8Stats {
            errors: 0,
            multibyte: 0,
        };
        let mut rest = bytes;
        loop {
            let (valid, error_len) = match std::str::from_utf8(rest) {
                Ok(_) => (rest.len(), None),
                Err(e) => (
                    e.valid_up_to(),
                    Some(e.error_len().unwrap_or(rest.len() - e.valid_up_to())),
                ),
            };
            stats.multibyte += rest[..valid].iter().filter(|&&b| b >= 0xC0).count();
            let Some(len) = error_len else { return stats };
            stats.errors += 1;
            rest = &rest[valid + len..];
            if give_up
                && stats.errors >= MOSTLY_UTF8_MIN
                && stats.errors * MOSTLY_UTF8_RATIO > stats.multibyte
            {
                return stats;
            }
        }
    }

    /// UTF-8 with rare bad bytes: strong enough evidence to override a legacy
    /// declaration.
    fn mostly_utf8(self) -> bool {
        self.multibyte >= MOSTLY_UTF8_MIN && self.errors * MOSTLY_UTF8_RATIO <= self.multibyte
    }

    /// More bad bytes than good multibyte sequences: not UTF-8 (legacy CJK has
    /// under 0.4 good per bad; a stray byte in a UTF-8 page has thousands).
    fn broken(self) -> bool {
        self.errors > self.multibyte
    }
}

fn count_replacements(text: &str) -> usize {
    text.matches('\u{fffd}').count()
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

// ---------------------------------------------------------------------------
// <meta> prescan (WHATWG HTML "prescan a byte stream to determine its encoding")

fn is_html_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() >= needle.len() && haystack[..needle.len()].eq_ignore_ascii_case(needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first `<meta>` declaring a recognised encoding whose tag starts within
/// the first [`META_PRESCAN_BYTES`] bytes.
fn prescan_meta(bytes: &[u8]) -> Option<Declaration> {
    let data = &bytes[..bytes.len().min(META_PRESCAN_BYTES + META_TAG_SLACK)];
    let limit = data.len().min(META_PRESCAN_BYTES);
    let mut pos = 0;
    while pos < limit {
        let rest = &data[pos..];
        if rest.starts_with(b"<!--") {
            // The '>' of "-->" may overlap the "<!--" ("<!-->" is a comment).
            pos = pos + 2 + find(&rest[2..], b"-->")? + 3;
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest.get(5).is_some_and(|&b| is_html_space(b) || b == b'/')
        {
            pos += 6;
            if let Some(declaration) = meta_declaration(data, &mut pos) {
                return Some(declaration);
            }
        } else if rest[0] == b'<'
            && (rest.get(1).is_some_and(u8::is_ascii_alphabetic)
                || (rest.get(1) == Some(&b'/') && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            pos += 1;
            while data
                .get(pos)
                .is_some_and(|&b| !is_html_space(b) && b != b'>')
            {
                pos += 1;
            }
            while get_attribute(data, &mut pos).is_some() {}
            pos += 1;
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            pos = pos + 2 + rest[2..].iter().position(|&b| b == b'>')? + 1;
        } else {
            pos += 1;
        }
    }
    None
}

/// Processes the attributes of one `<meta>` (position just after `<meta `).
fn meta_declaration(data: &[u8], pos: &mut usize) -> Option<Declaration> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut got_pragma = false;
    let mut need_pragma: Option<bool> = None;
    let mut charset: Option<Vec<u8>> = None;
    while let Some((name, value)) = get_attribute(data, pos) {
        if seen.contains(&name) {
            continue;
        }
        match name.as_slice() {
            b"http-equiv" if value == b"content-type" => got_pragma = true,
            b"content" if charset.is_none() => {
                if let Some(label) = charset_from_meta_content(&value) {
                    let label = String::from_utf8_lossy(label);
                    if recognise(&label, CharsetSource::MetaTag).is_some() {
                        charset = Some(label.into_owned().into_bytes());
                        need_pragma = Some(true);
                    }
                }
            }
            b"charset" => {
                charset = Some(value);
                need_pragma = Some(false);
            }
            _ => {}
        }
        seen.push(name);
    }
    match need_pragma {
        None => return None,
        Some(true) if !got_pragma => return None,
        _ => {}
    }
    let label = String::from_utf8_lossy(&charset?).trim().to_owned();
    let mut encoding = in_document(recognise(&label, CharsetSource::MetaTag)?);
    if encoding == X_USER_DEFINED {
        encoding = WINDOWS_1252;
    }
    Some(Declaration {
        encoding,
        label,
        source: CharsetSource::MetaTag,
    })
}

/// WHATWG "get an attribute" during the prescan: lower-cased name and value,
/// or `None` at `>` or at the end of the data.
fn get_attribute(data: &[u8], pos: &mut usize) -> Option<(Vec<u8>, Vec<u8>)> {
    let at = |p: usize| data.get(p).copied();
    let skip_spaces = |pos: &mut usize| {
        while at(*pos).is_some_and(is_html_space) {
            *pos += 1;
        }
    };
    while at(*pos).is_some_and(|b| is_html_space(b) || b == b'/') {
        *pos += 1;
    }
    if at(*pos)? == b'>' {
        return None;
    }
    let mut name = Vec::new();
    let mut value = Vec::new();
    loop {
        let b = at(*pos)?;
        if b == b'=' && !name.is_empty() {
            *pos += 1;
            break;
        }
        if is_html_space(b) {
            skip_spaces(pos);
            if at(*pos)? != b'=' {
                return Some((name, value));
            }
            *pos += 1;
            break;
        }
        if b == b'/' || b == b'>' {
            return Some((name, value));
        }
        name.push(b.to_ascii_lowercase());
        *pos += 1;
    }
    skip_spaces(pos);
    let b = at(*pos)?;
    if b == b'"' || b == b'\'' {
        loop {
            *pos += 1;
            let c = at(*pos)?;
            if c == b {
                *pos += 1;
                return Some((name, value));
            }
            value.push(c.to_ascii_lowercase());
        }
    }
    if b == b'>' {
        return Some((name, value));
    }
    loop {
        let c = at(*pos)?;
        if is_html_space(c) || c == b'>' {
            return Some((name, value));
        }
        value.push(c.to_ascii_lowercase());
        *pos += 1;
    }
}

/// WHATWG "extract a character encoding from a meta element": the label after
/// `charset=` in a (lower-cased) `content` attribute value.
fn charset_from_meta_content(content: &[u8]) -> Option<&[u8]> {
    let mut pos = 0;
    loop {
        pos += find(&content[pos..], b"charset")? + b"charset".len();
        while content.get(pos).is_some_and(|&b| is_html_space(b)) {
            pos += 1;
        }
        if content.get(pos) != Some(&b'=') {
            continue;
        }
        pos += 1;
        while content.get(pos).is_some_and(|&b| is_html_space(b)) {
            pos += 1;
        }
        let rest = &content[pos..];
        return match rest.first()? {
            &q @ (b'"' | b'\'') => {
                let end = rest[1..].iter().position(|&b| b == q)?;
                Some(&rest[1..1 + end]).filter(|l| !l.is_empty())
            }
            _ => {
                let end = rest
                    .iter()
                    .position(|&b| is_html_space(b) || b == b';')
                    .unwrap_or(rest.len());
                Some(&rest[..end])
            }
        };
    }
}

// ---------------------------------------------------------------------------
// XML declaration

/// The declared encoding of a leading `<?xml ... encoding="..."?>`.
fn xml_declaration(bytes: &[u8]) -> Option<Declaration> {
    let data = &bytes[..bytes.len().min(XML_DECL_BYTES)];
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    let decl = data[start..].strip_prefix(b"<?xml")?;
    if !decl.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let decl = &decl[..find(decl, b"?>")?];
    let (value_start, value_end) = xml_encoding_span(decl)?;
    let label = String::from_utf8_lossy(&decl[value_start..value_end])
        .trim()
        .to_ascii_lowercase();
    let encoding = in_document(recognise(&label, CharsetSource::XmlDeclaration)?);
    Some(Declaration {
        encoding,
        label,
        source: CharsetSource::XmlDeclaration,
    })
}

/// The byte range of the (unquoted) value of `encoding=` inside the body of an
/// XML declaration (between `<?xml` and `?>`); the quotes sit just outside it.
fn xml_encoding_span(decl: &[u8]) -> Option<(usize, usize)> {
    let mut pos = find(decl, b"encoding")? + b"encoding".len();
    let skip_spaces = |pos: &mut usize| {
        while decl.get(*pos).is_some_and(u8::is_ascii_whitespace) {
            *pos += 1;
        }
    };
    skip_spaces(&mut pos);
    if decl.get(pos) != Some(&b'=') {
        return None;
    }
    pos += 1;
    skip_spaces(&mut pos);
    let quote = *decl.get(pos).filter(|&&q| q == b'"' || q == b'\'')?;
    let start = pos + 1;
    let end = start + decl[start..].iter().position(|&b| b == quote)?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{BIG5, SHIFT_JIS};

    const ZH_HANS: &str = "新华社北京电 国务院总理朱镕基今天在人民大会堂会见了来访的代表团。双方就经济合作、科技交流和文化往来等问题深入交换了意见。记者陶喆报道：今年以来，全国经济运行总体平稳，消费市场持续回暖，就业形势保持稳定。";
    const ZH_HANT: &str = "中央社台北電 行政院今天召開院會，通過多項經濟振興方案，預計將帶動國內投資與消費。專家表示，臺灣產業結構正在轉型，政府應該加強對中小企業的支援，並且持續推動數位發展與綠色能源。";
    const JA: &str = "東京都は今日、新しい防災計画を発表しました。この計画では、地震や台風などの自然災害に備えて、住民への情報提供を強化することが盛り込まれています。知事は記者会見で「安全な街づくりを進めたい」と述べました。";

    fn page(head: &str, body: &str) -> String {
        format!("<!DOCTYPE html>\n<html><head>{head}<title>news</title></head>\n<body><p>{body}</p></body></html>\n")
    }

    fn encode(encoding: &'static Encoding, text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding.encode(text);
        assert!(
            !unmappable,
            "fixture not representable in {}",
            encoding.name()
        );
        bytes.into_owned()
    }

    fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for unit in std::iter::once(0xFEFF)
            .filter(|_| bom)
            .chain(text.encode_utf16())
        {
            out.extend_from_slice(&if little_endian {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        out
    }

    /// How a table row turns its text into fetched bytes.
    #[derive(Clone, Copy)]
    enum Bytes {
        /// Plain UTF-8.
        Utf8,
        /// UTF-8 with a BOM.
        Utf8Bom,
        /// UTF-16, little-endian?, with a BOM?
        Utf16(bool, bool),
        /// encoding_rs's encoder for this encoding (must be able to represent the text).
        In(&'static Encoding),
    }

    /// Expected (encoding, source, overridden).
    type Expect = (&'static Encoding, CharsetSource, bool);

    struct Row {
        name: &'static str,
        content_type: Option<&'static str>,
        kind: DocKind,
        text: String,
        bytes: Bytes,
        expect: Expect,
    }

    fn html(head: &str, body: &str) -> (DocKind, String) {
        (DocKind::Html, page(head, body))
    }

    fn feed(declaration: &str, title: &str) -> (DocKind, String) {
        let text = format!("{declaration}\n<rss version=\"2.0\"><channel><item><title>{title}</title></item></channel></rss>\n");
        (DocKind::Xml, text)
    }

    fn json(title: &str) -> (DocKind, String) {
        (
            DocKind::Json,
            format!(r#"{{"version": "https://jsonfeed.org/version/1.1", "title": "{title}"}}"#),
        )
    }

    /// The charset decision table: name, Content-Type, document, how it is
    /// encoded, expected (encoding, source, overridden).
    #[rustfmt::skip]
    fn rows() -> Vec<Row> {
        use Bytes::*;
        use CharsetSource::*;
        const LATIN: &str = "Crème brûlée, naïve café, Grüße aus Köln";
        const ASCII: &str = "Plain ASCII headline";
        let pad = format!("<!-- {} -->", "x".repeat(1100));
        let table: Vec<(_, _, (DocKind, String), _, Expect)> = vec![
            ("utf-8 BOM beats header and meta", Some("text/html; charset=gbk"), html(r#"<meta charset="gb2312">"#, ZH_HANS), Utf8Bom, (UTF_8, Bom, false)),
            ("utf-8 BOM beats windows-1252 header", Some("text/html; charset=windows-1252"), html("", LATIN), Utf8Bom, (UTF_8, Bom, false)),
            ("utf-16le BOM beats header and meta", Some("text/html; charset=big5"), html(r#"<meta charset="big5">"#, ZH_HANT), Utf16(true, true), (UTF_16LE, Bom, false)),
            ("utf-16be BOM feed", None, feed(r#"<?xml version="1.0" encoding="big5"?>"#, ZH_HANT), Utf16(false, true), (UTF_16BE, Bom, false)),
            ("header gbk beats meta big5", Some("text/html; charset=GBK"), html(r#"<meta charset="big5">"#, ZH_HANS), In(GBK), (GB18030, HttpHeader, false)),
            ("header big5 beats meta gbk", Some(r#"text/html;charset="Big5""#), html(r#"<meta charset="gbk">"#, ZH_HANT), In(BIG5), (BIG5, HttpHeader, false)),
            ("lying meta gb2312 over utf-8 bytes", None, html(r#"<meta http-equiv="Content-Type" content="text/html; charset=gb2312">"#, ZH_HANS), Utf8, (UTF_8, Detected, true)),
            ("lying header gbk over utf-8 bytes", Some("text/html; charset=gbk"), html(r#"<meta charset="utf-8">"#, ZH_HANS), Utf8, (UTF_8, Detected, true)),
            ("lying header utf-8 over GBK bytes", Some("text/html; charset=utf-8"), html(r#"<meta charset="utf-8">"#, ZH_HANS), In(GBK), (GB18030, Detected, true)),
            ("real GBK declared gb2312 keeps 镕/喆", None, html(r#"<meta charset="gb2312">"#, ZH_HANS), In(GBK), (GB18030, MetaTag, false)),
            ("undeclared GBK detected", None, html("", ZH_HANS), In(GB18030), (GB18030, Detected, false)),
            ("undeclared Big5 detected", None, html("", ZH_HANT), In(BIG5), (BIG5, Detected, false)),
            ("Big5 feed with XML declaration", Some("application/rss+xml"), feed(r#"<?xml version="1.0" encoding="BIG5"?>"#, ZH_HANT), In(BIG5), (BIG5, XmlDeclaration, false)),
            ("feed header charset beats XML declaration", Some("text/xml; charset=big5"), feed(r#"<?xml version="1.0" encoding="gb2312"?>"#, ZH_HANT), In(BIG5), (BIG5, HttpHeader, false)),
            ("lying XML declaration gb2312 over utf-8", None, feed(r#"<?xml version='1.0' encoding='gb2312'?>"#, ZH_HANS), Utf8, (UTF_8, Detected, true)),
            ("latin-1 feed XML declaration", None, feed(r#"<?xml version="1.0" encoding="ISO-8859-1"?>"#, LATIN), In(WINDOWS_1252), (WINDOWS_1252, XmlDeclaration, false)),
            ("UTF-16LE feed without BOM", None, feed(r#"<?xml version="1.0"?>"#, LATIN), Utf16(true, false), (UTF_16LE, Detected, false)),
            ("Shift_JIS declared in meta", None, html(r#"<meta charset="Shift_JIS">"#, JA), In(SHIFT_JIS), (SHIFT_JIS, MetaTag, false)),
            ("Shift_JIS undeclared", None, html("", JA), In(SHIFT_JIS), (SHIFT_JIS, Detected, false)),
            ("http-equiv form, content attribute first", None, html(r#"<meta content="text/html; charset=gb2312" http-equiv="Content-Type">"#, ZH_HANS), In(GBK), (GB18030, MetaTag, false)),
            ("content charset without http-equiv ignored", None, html(r#"<meta content="text/html; charset=big5">"#, ZH_HANS), Utf8, (UTF_8, Detected, false)),
            ("meta after 1024 bytes ignored", None, html(&format!(r#"{pad}<meta charset="gbk">"#), ZH_HANS), Utf8, (UTF_8, Detected, false)),
            ("meta in comment ignored, bare upper-case meta used", None, html(r#"<!-- <meta charset="big5"> --><META CHARSET=GBK>"#, ZH_HANS), In(GBK), (GB18030, MetaTag, false)),
            ("unknown header label falls through to meta", Some("text/html; charset=x-klingon"), html(r#"<meta charset="gbk">"#, ZH_HANS), In(GBK), (GB18030, MetaTag, false)),
            ("unknown meta label falls through to next meta", None, html(r#"<meta charset="klingon"><meta charset=big5>"#, ZH_HANT), In(BIG5), (BIG5, MetaTag, false)),
            ("unknown meta label falls through to detection", None, html(r#"<meta charset="klingon">"#, ZH_HANS), In(GBK), (GB18030, Detected, false)),
            ("meta utf-16 means utf-8", None, html(r#"<meta charset="utf-16">"#, ZH_HANS), Utf8, (UTF_8, MetaTag, false)),
            ("latin-1 meta is windows-1252", None, html(r#"<meta charset="iso-8859-1">"#, LATIN), In(WINDOWS_1252), (WINDOWS_1252, MetaTag, false)),
            ("ASCII with windows-1252 meta", None, html(r#"<meta charset="windows-1252">"#, ASCII), Utf8, (WINDOWS_1252, MetaTag, false)),
            ("ASCII only", None, html("", ASCII), Utf8, (UTF_8, Default, false)),
            ("empty input", None, (DocKind::Html, String::new()), Utf8, (UTF_8, Default, false)),
            ("JSON without charset is UTF-8", Some("application/feed+json"), json(ZH_HANS), Utf8, (UTF_8, Default, false)),
            ("JSON with gbk header", Some("application/json; charset=gbk"), json(ZH_HANS), In(GBK), (GB18030, HttpHeader, false)),
            ("JSON ignores meta-like text", None, json(r#"<meta charset=big5>"#), Utf8, (UTF_8, Default, false)),
        ];
        table
            .into_iter()
            .map(|(name, content_type, (kind, text), bytes, expect)| Row { name, content_type, kind, text, bytes, expect })
            .collect()
    }

    fn to_bytes(text: &str, how: Bytes) -> Vec<u8> {
        match how {
            Bytes::Utf8 => text.as_bytes().to_vec(),
            Bytes::Utf8Bom => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            Bytes::Utf16(little_endian, bom) => utf16(text, little_endian, bom),
            Bytes::In(encoding) => encode(encoding, text),
        }
    }

    #[test]
    fn charset_decisions() {
        let rows = rows();
        assert!(rows.len() >= 20);
        for r in &rows {
            let d = decode(&to_bytes(&r.text, r.bytes), r.content_type, r.kind);
            println!("{:<55} {}", r.name, d.explain());
            let (encoding, source, overridden) = r.expect;
            let why = format!("{}: {}", r.name, d.explain());
            assert_eq!(d.encoding, encoding, "{why}");
            assert_eq!(d.source, source, "{why}");
            assert_eq!(d.overridden, overridden, "{why}");
            assert_eq!(d.overridden, d.override_reason.is_some(), "{why}");
            assert_eq!(d.replacements, 0, "{why}");
            assert!(
                d.text == r.text,
                "{why}: text differs:\n{}\nvs\n{}",
                d.text,
                r.text
            );
        }
    }

    #[test]
    fn gbk_only_characters_survive() {
        let t = page(r#"<meta charset="gb2312">"#, "朱镕基 陶喆 燚");
        let d = decode(&encode(GBK, &t), None, DocKind::Html);
        assert!(d.text.contains("朱镕基") && d.text.contains("陶喆") && d.text.contains('燚'));
        assert_eq!(d.explain(), "gb18030 from <meta charset=gb2312>");
    }

    #[test]
    fn stray_byte_keeps_declared_utf8() {
        let t = page(r#"<meta charset="utf-8">"#, &ZH_HANS.repeat(3));
        let at = t.find('。').expect("fixture has a full stop");
        let mut bytes = t.into_bytes();
        bytes.insert(at, 0xFF);
        for content_type in [None, Some("text/html; charset=utf-8")] {
            let d = decode(&bytes, content_type, DocKind::Html);
            assert_eq!(d.encoding, UTF_8);
            assert!(!d.overridden);
            assert_eq!(d.replacements, 1);
            assert!(d.text.contains("朱镕基"));
        }
        // Undeclared: still UTF-8 rather than chardetng's legacy guess.
        let bytes_no_meta = {
            let t = page("", &ZH_HANS.repeat(3));
            let at = t.find('。').expect("fixture has a full stop");
            let mut b = t.into_bytes();
            b.insert(at, 0xFF);
            b
        };
        let d = decode(&bytes_no_meta, None, DocKind::Html);
        assert_eq!(
            (d.encoding, d.source, d.replacements),
            (UTF_8, CharsetSource::Detected, 1)
        );
    }

    #[test]
    fn truncated_utf8_page_declared_gb2312_is_utf8() {
        let t = page(r#"<meta charset="gb2312">"#, ZH_HANS);
        let bytes = &t.as_bytes()[..t.find('。').expect("full stop") + 1];
        let d = decode(bytes, None, DocKind::Html);
        assert_eq!(
            (d.encoding, d.source, d.override_reason),
            (
                UTF_8,
                CharsetSource::Detected,
                Some(OverrideReason::ValidUtf8)
            )
        );
        assert_eq!(d.replacements, 1);
        assert!(d.text.contains("朱镕基"));
        assert_eq!(
            d.explain(),
            "utf-8 (declared gb2312 in <meta>, but the bytes are UTF-8 apart from 1 U+FFFD)"
        );
    }

    #[test]
    fn stray_byte_keeps_declared_big5() {
        let t = page(r#"<meta charset="big5">"#, &ZH_HANT.repeat(3));
        let mut bytes = encode(BIG5, &t);
        bytes.push(0xFF);
        let d = decode(&bytes, None, DocKind::Html);
        assert_eq!(
            (d.encoding, d.source, d.overridden),
            (BIG5, CharsetSource::MetaTag, false)
        );
        assert_eq!(d.replacements, 1);
        assert!(d.explain().ends_with(", 1 U+FFFD"), "{}", d.explain());
    }

    #[test]
    fn explanations() {
        let t = page(r#"<meta charset="gb2312">"#, ZH_HANS);
        let d = decode(t.as_bytes(), None, DocKind::Html);
        assert_eq!(d.declared.as_deref(), Some("gb2312"));
        assert_eq!(d.declared_in, Some(CharsetSource::MetaTag));
        assert_eq!(d.override_reason, Some(OverrideReason::ValidUtf8));
        assert_eq!(
            d.explain(),
            "utf-8 (declared gb2312 in <meta>, but the bytes are valid UTF-8)"
        );

        let d = decode(
            &encode(GBK, &t),
            Some("text/html; charset=UTF-8"),
            DocKind::Html,
        );
        assert!(
            matches!(d.override_reason, Some(OverrideReason::FewerReplacements { declared }) if declared > 0)
        );
        assert!(
            d.explain()
                .starts_with("gb18030 (declared utf-8 in the Content-Type header, but it produced"),
            "{}",
            d.explain()
        );

        assert_eq!(CharsetSource::HttpHeader.to_string(), "http header");
        assert_eq!(CharsetSource::Bom.to_string(), "byte-order mark");
        assert_eq!(
            decode(b"", None, DocKind::Html).explain(),
            "utf-8 by default (nothing declared, nothing to detect)"
        );
    }

    #[test]
    fn content_type_parsing() {
        assert_eq!(
            charset_from_content_type("text/html; charset=gbk"),
            Some("gbk")
        );
        assert_eq!(
            charset_from_content_type("text/html;charset=GB2312"),
            Some("GB2312")
        );
        assert_eq!(
            charset_from_content_type(r#"text/xml; format="a;b"; Charset="Big5" "#),
            Some("Big5")
        );
        assert_eq!(
            charset_from_content_type("text/html; foo; charset = utf-8 ; x=y"),
            Some("utf-8")
        );
        assert_eq!(charset_from_content_type("text/html"), None);
        assert_eq!(charset_from_content_type("text/html; charset="), None);
        assert_eq!(charset_from_content_type("text/html; charset=\"\""), None);
        assert_eq!(
            charset_from_content_type("application/atom+xml;charset='gb2312'"),
            Some("gb2312")
        );
        assert_eq!(
            charset_from_content_type("text/rss+xml;charset= \"us-ascii\""),
            Some("us-ascii")
        );
        assert_eq!(
            charset_from_content_type("text/xml; charset:iso-8859-1"),
            None
        );
    }

    #[test]
    fn labels() {
        for label in [
            "gb2312",
            "GBK",
            "x-gbk",
            "gb_2312-80",
            "GB18030",
            " chinese ",
        ] {
            assert_eq!(resolve_label(label), Some(GB18030), "{label}");
        }
        assert_eq!(
            resolve_label("iso-2022-kr"),
            None,
            "replacement encoding is ignored"
        );
        assert_eq!(resolve_label("klingon"), None);
    }

    #[test]
    fn xml_declaration_stripping() {
        let cases = [
            (
                r#"<?xml version="1.0" encoding="GB2312"?><rss/>"#,
                r#"<?xml version="1.0" encoding="utf-8"?><rss/>"#,
            ),
            (
                "\u{feff}\n<?xml version='1.0' encoding = 'big5' standalone='yes'?><a/>",
                "\u{feff}\n<?xml version='1.0' encoding = \"utf-8\" standalone='yes'?><a/>",
            ),
            (
                r#"<?xml version="1.0" encoding="UTF-8"?><rss/>"#,
                r#"<?xml version="1.0" encoding="UTF-8"?><rss/>"#,
            ),
            (
                r#"<?xml version="1.0"?><rss encoding="gbk"/>"#,
                r#"<?xml version="1.0"?><rss encoding="gbk"/>"#,
            ),
            (
                r#"<rss><?xml version="1.0" encoding="gbk"?></rss>"#,
                r#"<rss><?xml version="1.0" encoding="gbk"?></rss>"#,
            ),
            ("", ""),
        ];
        for (input, expected) in cases {
            let out = strip_xml_encoding_declaration(input);
            assert_eq!(out, expected);
            assert_eq!(
                matches!(out, Cow::Borrowed(_)),
                input == expected,
                "{input}"
            );
        }
    }

    // --- corpus sweeps -----------------------------------------------------

    /// Rows of a MANIFEST.tsv as maps from column name to value.
    fn manifest(dir: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
        let tsv = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
        let mut lines = tsv.lines();
        let header: Vec<&str> = lines.next().expect("header row").split('\t').collect();
        lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                header
                    .iter()
                    .map(|h| h.to_string())
                    .zip(l.split('\t').map(str::to_owned))
                    .collect()
            })
            .collect()
    }

    fn corpus_dir(sub: &str) -> Option<std::path::PathBuf> {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus"))
            .join(sub);
        if dir.join("MANIFEST.tsv").is_file() {
            Some(dir)
        } else {
            // Under CI the corpus is part of the checkout's surroundings: missing is a failure.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "corpus {} is missing under CI=true",
                dir.display()
            );
            println!("corpus {} absent; skipping sweep", dir.display());
            None
        }
    }

    #[test]
    fn html_corpus_sweep() {
        let Some(dir) = corpus_dir("html") else {
            return;
        };
        let mut failures = Vec::new();
        let rows = manifest(&dir);
        assert!(!rows.is_empty());
        for r in &rows {
            let path = &r["local_path"];
            let bytes = std::fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            let d = decode(&bytes, None, DocKind::Html);
            println!(
                "{path}\t{}\t{}\toverridden={}\tU+FFFD={}",
                d.encoding.name(),
                d.source,
                d.overridden,
                d.replacements
            );
            // Every file in this corpus is clean in its real encoding (the manifest
            // notes describe declaration problems, never broken bytes), so no exemptions.
            if d.replacements != 0 {
                failures.push(format!(
                    "{path}: {} U+FFFD ({})",
                    d.replacements,
                    d.explain()
                ));
            }
            let family_ok = match r["actual_bytes"].to_ascii_lowercase().as_str() {
                "utf-8" => d.encoding == UTF_8,
                "ascii" => {
                    d.encoding == UTF_8 || (d.encoding.is_ascii_compatible() && bytes.is_ascii())
                }
                "gb2312" | "gbk" | "gb18030" => d.encoding == GB18030 || d.encoding == GBK,
                "big5" => d.encoding == BIG5,
                other => panic!("{path}: unexpected actual_bytes {other:?}"),
            };
            if !family_ok {
                failures.push(format!(
                    "{path}: actual {} but decided {}",
                    r["actual_bytes"],
                    d.explain()
                ));
            }
            if r["mismatch"] == "MISMATCH" && !d.overridden {
                failures.push(format!(
                    "{path}: declaration mismatch not overridden ({})",
                    d.explain()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Feeds whose bytes are invalid in their declared encoding, so U+FFFD is
    /// the honest result. `bytes_check` cannot tell: its values are
    /// `utf8-valid`, `not-utf8` (legacy encodings, clean) and `utf16/32-BOM`.
    const BROKEN_FEEDS: &[(&str, &str)] = &[(
        "kurtmckee-feedparser/tests/encoding/bozo_linenoise.xml",
        "feedparser's \"unguessable characters\" case: declares utf-8, has two valid \
         UTF-8 quotes and then a lone 0xA9; kept as UTF-8 with 1 U+FFFD",
    )];

    /// The `Content-type` that a feedparser test case says it is served with
    /// (a `Header: Content-type: ...` line in its leading comment).
    fn feedparser_content_type(bytes: &[u8]) -> Option<String> {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]);
        head.lines().find_map(|line| {
            let header = line.trim().strip_prefix("Header:")?.trim();
            let (name, value) = header.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
    }

    #[test]
    fn feeds_corpus_sweep() {
        let Some(dir) = corpus_dir("feeds") else {
            return;
        };
        let mut failures = Vec::new();
        let rows = manifest(&dir);
        assert!(!rows.is_empty());
        let (mut clean, mut with_header) = (0, 0);
        for r in &rows {
            let path = &r["local_path"];
            let bytes = std::fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            let content_type = feedparser_content_type(&bytes);
            with_header += usize::from(content_type.is_some());
            let d = decode(&bytes, content_type.as_deref(), DocKind::Xml);
            println!(
                "{path}\txml_decl={}\t{}\theader={}\t{}\t{}\toverridden={}\tU+FFFD={}",
                r["xml_decl_encoding"],
                r["bytes_check"],
                content_type.as_deref().unwrap_or("-"),
                d.encoding.name(),
                d.source,
                d.overridden,
                d.replacements
            );
            if d.replacements == 0 {
                clean += 1;
            } else if !BROKEN_FEEDS.iter().any(|(p, _)| p == path) {
                failures.push(format!(
                    "{path}: {} U+FFFD ({})",
                    d.replacements,
                    d.explain()
                ));
            }
            // Legacy-encoded feeds must be decoded with what their XML declaration says.
            if r["bytes_check"] == "not-utf8" && content_type.is_none() {
                if let Some(expected) = resolve_label(&r["xml_decl_encoding"]) {
                    if d.encoding != expected {
                        failures.push(format!(
                            "{path}: declared {} but {}",
                            r["xml_decl_encoding"],
                            d.explain()
                        ));
                    }
                }
            }
        }
        println!(
            "feeds: {clean}/{} decoded without U+FFFD ({with_header} with a Content-type from their test header)",
            rows.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
