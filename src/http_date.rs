//! HTTP dates (RFC 9110 §5.6.7), read and written in one place.
//!
//! Reading accepts the three forms a client or server may send (IMF-fixdate
//! `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`, asctime
//! `Sun Nov  6 08:49:37 1994`) through the `httpdate` crate; writing produces IMF-fixdate. The
//! server reads `If-Modified-Since` with it and fetch reads `Retry-After`; a leaf, so neither
//! depends on the other.

use chrono::{DateTime, Utc};

/// An HTTP-date (any of the three forms, surrounding whitespace allowed) as Unix seconds;
/// `None` for anything else.
pub fn parse_seconds(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?.trim_matches([' ', '\t']);
    let time = httpdate::parse_http_date(text).ok()?;
    let seconds = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(seconds).ok()
}

/// A time as an IMF-fixdate HTTP date.
pub fn format(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
