//! Character repairs for feed text: windows-1252 C1 references and UTF-8 read as
//! windows-1252 ("mojibake", `â€™` for ’). Shared by titles and summaries of every format.

use std::borrow::Cow;

/// What windows-1252 puts at bytes 0x80–0x9F (the five it leaves undefined map to themselves).
pub(super) const CP1252_C1: &str = "€\u{81}‚ƒ„…†‡ˆ‰Š‹Œ\u{8d}Ž\u{8f}\u{90}‘’“”•–—˜™š›œ\u{9d}žŸ";

/// Replaces C1 control characters (U+0080–U+009F), which in feeds are windows-1252 bytes
/// misread as ISO-8859-1 or written as character references, by the characters meant.
pub(super) fn fix_c1(text: &str) -> Cow<'_, str> {
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
pub(super) fn misread_byte(c: char) -> Option<u8> {
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
pub(super) fn repair_mojibake(text: &str) -> Cow<'_, str> {
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
pub(super) fn repair_text(text: &str) -> Cow<'_, str> {
    match repair_mojibake(text) {
        Cow::Borrowed(t) => fix_c1(t),
        Cow::Owned(t) => Cow::Owned(fix_c1(&t).into_owned()),
    }
}
