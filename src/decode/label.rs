//! Charset labels: the `charset` parameter of a `Content-Type` value, and how a label resolves
//! to an encoding (WHATWG label matching, "replacement" treated as unknown, the GBK family
//! widened to GB18030, UTF-16 inside a document read as UTF-8).

use encoding_rs::{Encoding, GB18030, GBK, UTF_16BE, UTF_16LE, UTF_8};

use super::{CharsetSource, Declaration};

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

/// GBK-family labels decode as GB18030 (a superset; encoding_rs's GBK decoder
/// is the same, but reporting one name keeps logs and comparisons simple).
pub(super) fn widen(encoding: &'static Encoding) -> &'static Encoding {
    if encoding == GBK {
        GB18030
    } else {
        encoding
    }
}

/// Resolves `label`, logging (at debug level) labels that are ignored.
pub(super) fn recognise(label: &str, source: CharsetSource) -> Option<&'static Encoding> {
    let encoding = resolve_label(label);
    if encoding.is_none() {
        tracing::debug!(label, %source, "ignoring unknown charset label");
    }
    encoding
}

pub(super) fn declaration_from_header(value: &str) -> Option<Declaration> {
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
pub(super) fn in_document(encoding: &'static Encoding) -> &'static Encoding {
    if encoding == UTF_16LE || encoding == UTF_16BE {
        UTF_8
    } else {
        encoding
    }
}
