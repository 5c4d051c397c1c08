//! Second-guessing a declaration against the bytes, and deciding without one.
//!
//! Valid (or mostly valid) UTF-8 beats a legacy declaration; a declared encoding that produces a
//! noticeable share of U+FFFD gives way to `chardetng`'s confident guess when that decodes with
//! less than half as many; undeclared bytes are UTF-8 when they look like it, otherwise
//! detected. The thresholds below are the whole policy.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

use super::label::widen;
use super::{finish, CharsetSource, Declaration, Decoded, DocKind, OverrideReason};

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

pub(super) fn decode_declared(bytes: &[u8], declaration: Declaration) -> Decoded {
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

pub(super) fn decode_undeclared(bytes: &[u8], kind: DocKind) -> Decoded {
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

pub(super) fn count_replacements(text: &str) -> usize {
    text.matches('\u{fffd}').count()
}
