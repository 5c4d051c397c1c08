//! The XML declaration: the `encoding="..."` of a leading `<?xml ...?>` (read before decoding),
//! and its rewrite to `utf-8` once the text is decoded (so an XML parser does not decode twice).

use std::borrow::Cow;

use super::label::{in_document, recognise};
use super::{find, CharsetSource, Declaration};

/// How many leading bytes may hold the XML declaration (it is normally the
/// very first thing; leading whitespace is tolerated).
const XML_DECL_BYTES: usize = 1024;

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

/// The declared encoding of a leading `<?xml ... encoding="..."?>`.
pub(super) fn xml_declaration(bytes: &[u8]) -> Option<Declaration> {
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
