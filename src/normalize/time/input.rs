//! What the recognisers see: printed text made regular before any pattern runs.
//!
//! Full-width forms become ASCII, dashes one `-`, zero-width characters go, `ſ`/`K` read as
//! `s`/`K`, every kind of white space one space. After this, a case-insensitive match on an
//! ASCII word is always ASCII, so byte offsets taken from it are character boundaries.

use std::borrow::Cow;

use super::MAX_ERROR_TEXT;

/// Map full-width forms to ASCII, unify dashes, drop zero-width characters,
/// read `ſ`/`K` as `s`/`K` (their NFKC forms), collapse every kind of whitespace to single
/// spaces and trim.
///
/// `ſ` (U+017F) and `K` (U+212A) are the only non-ASCII characters whose
/// simple case folding is an ASCII letter, so without this step a
/// case-insensitive pattern such as `[ecmp][sd]t` or `yesterday` would match
/// multi-byte text, and byte offsets taken from the ASCII spelling would
/// land inside a character.
pub(super) fn normalize(s: &str) -> String {
    let s: Cow<str> = if s.contains('&') {
        Cow::Owned(s.replace("&nbsp;", " ").replace("&#160;", " "))
    } else {
        Cow::Borrowed(s)
    };
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for ch in s.chars() {
        let mapped = match ch {
            // Full-width ASCII block: digits, colon, slash, parentheses, letters…
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            '\u{017F}' => 's',
            '\u{212A}' => 'K',
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' => '-',
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => continue,
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if mapped == ' ' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(mapped);
    }
    out
}

pub(super) fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_ERROR_TEXT) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}
