//! The HTML `<meta>` prescan (WHATWG "prescan a byte stream to determine its encoding"): the
//! first `<meta charset>` or `<meta http-equiv="Content-Type" content="...charset=...">` whose
//! tag starts within the first [`META_PRESCAN_BYTES`] bytes, comments skipped.

use encoding_rs::{WINDOWS_1252, X_USER_DEFINED};

use super::label::{in_document, recognise};
use super::{find, CharsetSource, Declaration};

/// How many leading bytes the `<meta>` prescan looks at for the start of a tag
/// (the WHATWG-suggested 1024).
const META_PRESCAN_BYTES: usize = 1024;

/// How far past [`META_PRESCAN_BYTES`] a `<meta>` tag that started in time may
/// run before the prescan gives up on it (long `content` attributes straddle
/// the boundary on real pages).
const META_TAG_SLACK: usize = 1024;

fn is_html_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() >= needle.len() && haystack[..needle.len()].eq_ignore_ascii_case(needle)
}

/// The first `<meta>` declaring a recognised encoding whose tag starts within
/// the first [`META_PRESCAN_BYTES`] bytes.
pub(super) fn prescan_meta(bytes: &[u8]) -> Option<Declaration> {
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
