//! Signed proxy tokens: the path segment that tells the image route which image to fetch and
//! which story page to send as `Referer`, authenticated so the route is not an open proxy.
//!
//! A token is `MAC.IMAGE.REFERER`, each part URL-safe base64 without padding. `MAC` is
//! HMAC-SHA256 (via `ring`, already linked for TLS) over a versioned, length-prefixed message,
//! so no two (image, referer) pairs share a message and a token minted for one use of the key
//! cannot be replayed for another. Verification is constant-time (`ring::hmac::verify`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;
use url::Url;

/// Longest token [`verify`] looks at: two URLs of up to 4 KiB each, base64-encoded, plus the
/// MAC. Longer input is refused before any decoding work.
pub const MAX_TOKEN_LEN: usize = 11_200;

/// Domain separation: a token from another use of the same key never verifies here.
const CONTEXT: &[u8] = b"headwire/imageproxy/v1\0";

/// The URLs a valid token carries: what to fetch and whom to name as the referrer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    /// The image to fetch (absolute http/https URL).
    pub image_url: Url,
    /// The story page to send as `Referer` (portals refuse other referrers).
    pub referer: Url,
}

/// Why a token was refused; the route answers `403 Forbidden` for every variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token too long")]
    TooLong,
    /// Not three dot-separated parts.
    #[error("token is not MAC.IMAGE.REFERER")]
    Malformed,
    /// A part is not URL-safe base64 or a URL is not UTF-8.
    #[error("token is not valid base64")]
    Encoding,
    /// The MAC does not match: altered, unsigned or signed with another key.
    #[error("token signature does not match")]
    BadSignature,
    /// Signed, but a URL inside does not parse or is not http/https (never minted by `sign`).
    #[error("token carries an unusable URL")]
    BadUrl,
}

fn message(image_url: &str, referer: &str) -> Vec<u8> {
    let mut msg = Vec::new();
    msg.extend_from_slice(CONTEXT);
    // Length prefix: (a, bc) and (ab, c) give different messages.
    msg.extend_from_slice(&(image_url.len() as u64).to_be_bytes());
    msg.extend_from_slice(image_url.as_bytes());
    msg.extend_from_slice(referer.as_bytes());
    msg
}

/// Mints the path token for fetching `image_url` with `referer` as `Referer`. Deterministic
/// (same inputs, same token), so rewritten feeds keep stable bytes and ETags.
#[must_use]
pub fn sign(key: &[u8; 32], image_url: &Url, referer: &Url) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, &message(image_url.as_str(), referer.as_str()));
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(tag.as_ref()),
        URL_SAFE_NO_PAD.encode(image_url.as_str()),
        URL_SAFE_NO_PAD.encode(referer.as_str())
    )
}

/// Checks a token minted by [`sign`] with the same key and returns the URLs it carries.
/// Any alteration (one changed character in any part), a missing MAC or another key is an
/// error; the comparison is constant-time.
pub fn verify(key: &[u8; 32], token: &str) -> Result<ProxyTarget, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(mac), Some(image), Some(referer), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| TokenError::Encoding)
    };
    let mac = decode(mac)?;
    let image = String::from_utf8(decode(image)?).map_err(|_| TokenError::Encoding)?;
    let referer = String::from_utf8(decode(referer)?).map_err(|_| TokenError::Encoding)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::verify(&key, &message(&image, &referer), &mac).map_err(|_| TokenError::BadSignature)?;
    let parse = |s: &str| {
        Url::parse(s)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or(TokenError::BadUrl)
    };
    Ok(ProxyTarget {
        image_url: parse(&image)?,
        referer: parse(&referer)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn urls() -> (Url, Url) {
        (
            Url::parse("https://i.guancha.cn/news/2019/09/09/a.jpg").unwrap(),
            Url::parse("https://www.guancha.cn/economy/2019_09_09_517286.shtml").unwrap(),
        )
    }

    #[test]
    fn round_trip() {
        let (img, page) = urls();
        let token = sign(&KEY, &img, &page);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        let target = verify(&KEY, &token).unwrap();
        assert_eq!(target.image_url, img);
        assert_eq!(target.referer, page);
        assert_eq!(sign(&KEY, &img, &page), token, "deterministic");
    }

    #[test]
    fn any_altered_character_is_refused() {
        let (img, page) = urls();
        let token = sign(&KEY, &img, &page);
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            if altered != token {
                assert!(verify(&KEY, &altered).is_err(), "position {i} accepted");
            }
        }
    }

    #[test]
    fn unsigned_other_key_and_swapped_parts_are_refused() {
        let (img, page) = urls();
        let token = sign(&KEY, &img, &page);
        assert_eq!(verify(&[8; 32], &token), Err(TokenError::BadSignature));
        let (_, rest) = token.split_once('.').unwrap();
        assert_eq!(verify(&KEY, rest), Err(TokenError::Malformed));
        assert_eq!(
            verify(&KEY, &format!(".{rest}")),
            Err(TokenError::BadSignature)
        );
        let parts: Vec<&str> = token.split('.').collect();
        let swapped = format!("{}.{}.{}", parts[0], parts[2], parts[1]);
        assert_eq!(verify(&KEY, &swapped), Err(TokenError::BadSignature));
        assert_eq!(verify(&KEY, ""), Err(TokenError::Malformed));
        assert_eq!(verify(&KEY, "a.b.c.d"), Err(TokenError::Malformed));
        assert_eq!(verify(&KEY, "!!.b.c"), Err(TokenError::Encoding));
        let long = "A".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(verify(&KEY, &long), Err(TokenError::TooLong));
    }
}
