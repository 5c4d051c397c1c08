//! Request-header parsers for conditional GETs and content negotiation: pure functions over
//! the bytes a client sent, total (any input gives an answer, never a panic) and strict where
//! the RFC is, so garbage degrades to "send the full body" rather than to a wrong `304`.
//!
//! - `If-None-Match`: RFC 9110 §13.1.2 — `*` or a list of entity-tags (`W/"…"` or `"…"`),
//!   compared weakly; commas may appear inside the quotes.
//! - `If-Modified-Since`: RFC 9110 §13.1.3 — an HTTP-date in any of its three forms
//!   (IMF-fixdate, RFC 850, asctime); anything else, or more than one value, is ignored.
//! - `Accept-Encoding`: RFC 9110 §12.5.3 — codings with q-values, `*`, `identity`.

use crate::http_date::parse_seconds;
use actix_web::http::header::HeaderValue;

/// The outcome of evaluating `If-None-Match` against a representation's entity-tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoneMatch {
    /// A listed tag (or `*`) matches: answer `304`.
    Matches,
    /// A valid list that names other tags: answer `200`.
    Differs,
    /// Not a valid field value: the condition is ignored (answer `200`), never guessed at.
    Invalid,
}

/// Optional whitespace (RFC 9110 `OWS`).
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Bytes allowed inside an entity-tag's quotes (`etagc`: `!`, `#`–`~`, obs-text).
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80
}

/// The opaque part of an entity-tag (`W/"x"` and `"x"` → `x`); `None` when `tag` is not one.
pub fn opaque_tag(tag: &[u8]) -> Option<&[u8]> {
    let tag = tag.strip_prefix(b"W/").unwrap_or(tag);
    let inner = tag.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    inner.iter().all(|&b| is_etagc(b)).then_some(inner)
}

/// Evaluates the `If-None-Match` field lines of a request (`lines`; several lines form one
/// list) against our entity-tag `ours` (quoted, weak or strong), with the weak comparison
/// RFC 9110 prescribes for this field. An empty list differs; any malformed line makes the
/// whole field invalid.
pub fn if_none_match<'a>(lines: impl IntoIterator<Item = &'a [u8]>, ours: &[u8]) -> NoneMatch {
    let Some(ours) = opaque_tag(ours) else {
        return NoneMatch::Invalid;
    };
    let mut outcome = NoneMatch::Differs;
    let mut lines_seen = 0usize;
    let mut star = false;
    for line in lines {
        lines_seen += 1;
        match one_line(line, ours) {
            Line::Invalid => return NoneMatch::Invalid,
            Line::Star => star = true,
            Line::Tags { matched, any } => {
                if matched {
                    outcome = NoneMatch::Matches;
                }
                if any && star {
                    return NoneMatch::Invalid;
                }
            }
        }
    }
    if star {
        // `*` must be the whole field value.
        return if lines_seen == 1 {
            NoneMatch::Matches
        } else {
            NoneMatch::Invalid
        };
    }
    outcome
}

enum Line {
    Star,
    Tags { matched: bool, any: bool },
    Invalid,
}

fn one_line(line: &[u8], ours: &[u8]) -> Line {
    let start = line.iter().position(|&b| !is_ows(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |e| e + 1);
    let trimmed = line.get(start..end.max(start)).unwrap_or_default();
    if trimmed == b"*" {
        return Line::Star;
    }
    let mut matched = false;
    let mut any = false;
    let mut i = 0;
    loop {
        // Empty list elements and the whitespace around them (`#` rule).
        while line.get(i).is_some_and(|&b| is_ows(b) || b == b',') {
            i += 1;
        }
        if i >= line.len() {
            return Line::Tags { matched, any };
        }
        if line.get(i..i + 2) == Some(b"W/") {
            i += 2;
        }
        if line.get(i) != Some(&b'"') {
            return Line::Invalid;
        }
        i += 1;
        let opaque_start = i;
        while line.get(i).is_some_and(|&b| is_etagc(b)) {
            i += 1;
        }
        if line.get(i) != Some(&b'"') {
            return Line::Invalid;
        }
        if line.get(opaque_start..i) == Some(ours) {
            matched = true;
        }
        any = true;
        i += 1;
        while line.get(i).is_some_and(|&b| is_ows(b)) {
            i += 1;
        }
        match line.get(i) {
            None => return Line::Tags { matched, any },
            Some(b',') => {}
            Some(_) => return Line::Invalid,
        }
    }
}

/// The `If-Modified-Since` time in Unix seconds: the field must have exactly one line holding
/// an HTTP-date in one of its three forms (`Sun, 06 Nov 1994 08:49:37 GMT`,
/// `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`); anything else is ignored
/// (`None`), as RFC 9110 §13.1.3 requires.
pub fn if_modified_since<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Option<i64> {
    let mut lines = lines.into_iter();
    let line = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    parse_seconds(line)
}

/// A q-value (`0`, `0.5`, `1.000`; RFC 9110 §12.4.2) in thousandths; `None` when malformed.
pub fn qvalue(text: &[u8]) -> Option<u16> {
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (text.get(..dot)?, text.get(dot + 1..)?),
        None => (text, &b""[..]),
    };
    if fraction.len() > 3 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for place in 0..3 {
        let digit = fraction.get(place).map_or(0, |d| u16::from(d - b'0'));
        thousandths = thousandths * 10 + digit;
    }
    match whole {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A content coding a rendered body can be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// As rendered.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// brotli (RFC 7932).
    Brotli,
}

impl Coding {
    /// The `Content-Encoding` value, `None` for identity.
    pub fn header(self) -> Option<HeaderValue> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some(HeaderValue::from_static("gzip")),
            Coding::Brotli => Some(HeaderValue::from_static("br")),
        }
    }

    /// Picks the coding an `Accept-Encoding` value asks for (see [`negotiate_coding`], which
    /// also takes several field lines).
    pub fn negotiate(accept: Option<&[u8]>) -> Coding {
        negotiate_coding(accept)
    }
}

/// Picks the coding for the `Accept-Encoding` field lines of a request: the acceptable coding
/// (brotli or gzip) with the highest q-value, brotli first on a tie; identity when the client
/// gives identity a higher q-value than either, or accepts neither. `*` stands for every
/// coding not listed; a listed coding with `q=0` is refused; an element with a malformed
/// q-value is ignored; a coding listed twice counts with its lower q-value. No field means
/// identity (RFC 9110 allows any coding then, but old clients mishandle compressed bodies).
/// Identity is always the last resort: we have no `406` for `identity;q=0`.
pub fn negotiate_coding<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Coding {
    let (mut br, mut gzip, mut identity, mut star): (
        Option<u16>,
        Option<u16>,
        Option<u16>,
        Option<u16>,
    ) = (None, None, None, None);
    let lower = |slot: &mut Option<u16>, q: u16| *slot = Some(slot.map_or(q, |old| old.min(q)));
    for line in lines {
        for element in line.split(|&b| b == b',') {
            let mut fields = element.split(|&b| b == b';');
            let name = trim(fields.next().unwrap_or_default());
            if name.is_empty() {
                continue;
            }
            let mut q = Some(1000);
            for param in fields {
                let param = trim(param);
                let Some((key, value)) = param
                    .iter()
                    .position(|&b| b == b'=')
                    .and_then(|eq| Some((param.get(..eq)?, param.get(eq + 1..)?)))
                else {
                    continue;
                };
                if trim(key).eq_ignore_ascii_case(b"q") {
                    q = qvalue(trim(value));
                }
            }
            let Some(q) = q else { continue };
            if name.eq_ignore_ascii_case(b"br") {
                lower(&mut br, q);
            } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
                lower(&mut gzip, q);
            } else if name.eq_ignore_ascii_case(b"identity") {
                lower(&mut identity, q);
            } else if name == b"*" {
                lower(&mut star, q);
            }
        }
    }
    let br = br.or(star).unwrap_or(0);
    let gzip = gzip.or(star).unwrap_or(0);
    // Unlisted identity is acceptable, but only as the fallback.
    let identity = identity.or(star).unwrap_or(1);
    let (best, q) = if br >= gzip {
        (Coding::Brotli, br)
    } else {
        (Coding::Gzip, gzip)
    };
    if q > 0 && q >= identity {
        best
    } else {
        Coding::Identity
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    bytes.get(start..end.max(start)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inm(value: &str) -> NoneMatch {
        if_none_match([value.as_bytes()], b"\"abc\"")
    }

    #[test]
    fn entity_tag_lists() {
        assert_eq!(inm("\"abc\""), NoneMatch::Matches);
        assert_eq!(inm("W/\"abc\""), NoneMatch::Matches, "weak comparison");
        assert_eq!(inm("\"x\", W/\"abc\""), NoneMatch::Matches);
        assert_eq!(inm(" , \"x\" ,, \"abc\" , "), NoneMatch::Matches);
        assert_eq!(inm("*"), NoneMatch::Matches);
        assert_eq!(inm("\"a,b\", \"c\""), NoneMatch::Differs);
        // A comma inside a tag is part of the tag, not a separator.
        assert_eq!(
            if_none_match([&b"\"x\", \"abc,def\""[..]], b"\"abc,def\""),
            NoneMatch::Matches
        );
        assert_eq!(inm("\"abc,\""), NoneMatch::Differs);
        assert_eq!(inm(""), NoneMatch::Differs);
        for garbage in [
            "abc",
            "\"abc",
            "\"abc\" x",
            "w/\"abc\"",
            "*, \"abc\"",
            "\"a\"b\"",
        ] {
            assert_eq!(inm(garbage), NoneMatch::Invalid, "{garbage}");
        }
        // Several lines are one list; `*` must stand alone.
        assert_eq!(
            if_none_match([&b"\"x\""[..], b"\"abc\""], b"\"abc\""),
            NoneMatch::Matches
        );
        assert_eq!(
            if_none_match([&b"*"[..], b"\"x\""], b"\"abc\""),
            NoneMatch::Invalid
        );
    }

    #[test]
    fn the_three_http_date_forms() {
        let expected = Some(784_111_777);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "  Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(if_modified_since([form.as_bytes()]), expected, "{form}");
        }
        for garbage in [
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "yesterday",
            "",
            "Sun, 06 Nov 99999 08:49:37 GMT",
        ] {
            assert_eq!(if_modified_since([garbage.as_bytes()]), None, "{garbage}");
        }
        let line = b"Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            if_modified_since([&line[..], &line[..]]),
            None,
            "two values"
        );
    }

    #[test]
    fn qvalues() {
        assert_eq!(qvalue(b"1"), Some(1000));
        assert_eq!(qvalue(b"1.000"), Some(1000));
        assert_eq!(qvalue(b"0.5"), Some(500));
        assert_eq!(qvalue(b"0.001"), Some(1));
        assert_eq!(qvalue(b"0."), Some(0));
        for bad in [
            "1.001", "2", "0.0001", "-0", "nan", "inf", "", ".5", "0.5x", "１",
        ] {
            assert_eq!(qvalue(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn codings_follow_q_values() {
        let pick = |v: &str| negotiate_coding([v.as_bytes()]);
        assert_eq!(
            pick("br;q=0.1, gzip"),
            Coding::Gzip,
            "client preference wins"
        );
        assert_eq!(pick("gzip, br"), Coding::Brotli, "ties go to brotli");
        assert_eq!(pick("gzip;q=0.5"), Coding::Gzip);
        assert_eq!(pick("gzip;q=0.5, identity"), Coding::Identity);
        assert_eq!(
            pick("identity;q=0"),
            Coding::Identity,
            "nothing else to send"
        );
        assert_eq!(pick("identity;q=0, gzip;q=0.2"), Coding::Gzip);
        assert_eq!(pick("*;q=0.3, br;q=0"), Coding::Gzip);
        assert_eq!(
            pick("br;q=nan"),
            Coding::Identity,
            "malformed q ignores the element"
        );
        assert_eq!(pick("br;q=0, br"), Coding::Identity, "the lower q counts");
        assert_eq!(pick("GZIP ; Q=1"), Coding::Gzip);
        assert_eq!(pick("br;level=5"), Coding::Brotli);
        assert_eq!(
            negotiate_coding([&b"gzip;q=0"[..], b"gzip"]),
            Coding::Identity
        );
        assert_eq!(negotiate_coding(std::iter::empty()), Coding::Identity);
    }
}
