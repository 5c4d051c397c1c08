//! Property tests for every parser that reads request bytes: the query string
//! (`server::query`), `If-None-Match`, `If-Modified-Since` and `Accept-Encoding`
//! (`server::headers`). Each parser gets arbitrary input (any Unicode, with a bias towards
//! characters whose case folding changes their UTF-8 length; arbitrary bytes; huge numbers;
//! full-width digits) and must answer without panicking, plus structured input whose right
//! answer is known by construction.
//!
//! Every parser runs at least [`CASES`] cases in a normal (debug) `cargo test`. The `#[ignore]`d
//! `*_long` tests run [`LONG_CASES`] per property (or `HEADWIRE_PROPTEST_CASES`):
//! `cargo test --release --test http_props -- --ignored`.

use chrono::{DateTime, TimeZone, Utc};
use headwire::http_date::parse_seconds;
use headwire::server::headers::Coding;
use headwire::server::headers::{
    if_modified_since, if_none_match, negotiate_coding, qvalue, NoneMatch,
};
use headwire::server::query::{decode_pairs, page_token, parse_query, QueryError, MAX_LIMIT};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per parser in the normal run (split over its properties).
const CASES: u32 = 10_000;
/// Cases per property in the long run, unless `HEADWIRE_PROPTEST_CASES` says otherwise.
const LONG_CASES: u32 = 200_000;

fn long_cases() -> u32 {
    std::env::var("HEADWIRE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LONG_CASES)
}

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

/// Characters whose lower-casing or NFKC form has a different UTF-8 length, plus full-width
/// digits, separators and escapes that matter to a query parser.
const AWKWARD: &[char] = &[
    'İ',
    'ẞ',
    'ß',
    'ﬃ',
    'Ⱥ',
    'Ⱦ',
    'ȿ',
    'K',
    'Ω',
    'ǅ',
    'ΐ',
    'ŉ',
    '０',
    '５',
    '９',
    '１',
    '％',
    '＆',
    '＝',
    '%',
    '&',
    '=',
    '+',
    ',',
    ' ',
    '\u{3000}',
    '\u{200b}',
    '\u{feff}',
    '\u{0}',
    '\n',
    '時',
    '國',
    '\u{10ffff}',
    '\u{e000}',
];

fn awkward_char() -> impl Strategy<Value = char> {
    prop_oneof![any::<char>(), proptest::sample::select(AWKWARD)]
}

fn awkward_string(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(awkward_char(), 0..max).prop_map(|c| c.into_iter().collect())
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 13, 6, 0, 0).unwrap()
}

fn known(id: &str) -> bool {
    id == "portal" || id == "wire"
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const NAMES: &[&str] = &[
    "section", "source", "q", "exclude", "since", "limit", "token", "Section", "utm", "",
];

// ------------------------------------------------------------------------------------------
// Query strings
// ------------------------------------------------------------------------------------------

fn query_props(cases: u32) {
    // Anything at all: an answer, and a refusal is one short line.
    run(cases, awkward_string(80), |raw| {
        match parse_query(&raw, now(), &known) {
            Ok(q) => prop_assert!((1..=MAX_LIMIT).contains(&q.limit)),
            Err(e) => {
                let text = e.to_string();
                prop_assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
                prop_assert!(text.chars().count() < 400, "{text:?}");
            }
        }
        let _ = page_token(&raw);
        Ok(())
    });
    // Encoded pairs decode to exactly what was encoded.
    let pairs =
        proptest::collection::vec((proptest::sample::select(NAMES), awkward_string(24)), 0..6);
    run(cases, pairs, |pairs| {
        let raw: Vec<String> = pairs
            .iter()
            .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
            .collect();
        let decoded =
            decode_pairs(&raw.join("&")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        prop_assert_eq!(decoded, expected);
        Ok(())
    });
    // A malformed escape anywhere in a value is refused, naming the parameter.
    let malformed = (
        proptest::sample::select(&["section", "q", "limit", "since", "source"][..]),
        awkward_string(12),
        proptest::sample::select(
            &[
                "%",
                "%z",
                "%zz",
                "%g0",
                "%G",
                "%-1",
                "%\u{ff10}0",
                "%.",
                "%%",
            ][..],
        ),
        awkward_string(12),
        any::<bool>(),
    );
    run(cases, malformed, |(name, before, bad, after, at_end)| {
        // A lone `%` is only malformed at the end (before `ab` it would be an escape).
        let tail = if at_end || bad == "%" {
            String::new()
        } else {
            encode(&after)
        };
        let raw = format!("{name}={}{bad}{tail}", encode(&before));
        match parse_query(&raw, now(), &known) {
            Err(QueryError::BadEscape { param, .. }) => {
                prop_assert_eq!(param, format!("`{name}`"))
            }
            other => prop_assert!(false, "{raw}: {other:?}"),
        }
        Ok(())
    });
    // Bytes that are not UTF-8 are refused, whatever escapes carry them.
    let bytes = proptest::collection::vec(any::<u8>(), 1..24);
    run(cases, bytes, |bytes| {
        let escaped: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        let result = parse_query(&format!("q={escaped}"), now(), &known);
        if std::str::from_utf8(&bytes).is_err() {
            prop_assert_eq!(
                result,
                Err(QueryError::NotUtf8 {
                    param: "`q`".into()
                })
            );
        } else {
            let refused = matches!(
                result,
                Err(QueryError::NotUtf8 { .. } | QueryError::BadEscape { .. })
            );
            prop_assert!(!refused, "{:?}", result);
        }
        Ok(())
    });
    // `limit`: ASCII digits in range, nothing else; huge numbers and full-width digits refused.
    let number = prop_oneof![
        0u128..1000,
        (any::<u128>(), 0usize..4).prop_map(|(n, shrink)| n >> (shrink * 32))
    ];
    run(cases, (number, any::<bool>()), |(n, full_width)| {
        let digits = n.to_string();
        let text: String = if full_width {
            digits
                .chars()
                .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c))
                .collect()
        } else {
            digits
        };
        let result = parse_query(&format!("limit={}", encode(&text)), now(), &known);
        if !full_width && (1..=MAX_LIMIT as u128).contains(&n) {
            prop_assert_eq!(result.map(|q| q.limit as u128), Ok(n));
        } else {
            prop_assert!(matches!(result, Err(QueryError::Limit { .. })), "{text}");
        }
        Ok(())
    });
    // Keyword matching over any title and summary: an answer, and words taken verbatim from
    // an ASCII title always match it.
    let keep = (awkward_string(40), awkward_string(40), awkward_string(8));
    run(cases, keep, |(title, summary, word)| {
        let raw = format!("q={}&exclude={}", encode(&word), encode(&summary));
        if let Ok(q) = parse_query(&raw, now(), &known) {
            let _ = q.keeps(&title, Some(&summary));
            let _ = q.keeps(&summary, Some(&title));
        }
        let ascii: String = title.chars().filter(char::is_ascii_alphanumeric).collect();
        if !ascii.is_empty() {
            let q = parse_query(&format!("q={ascii}"), now(), &known)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let title = format!("x {ascii} y");
            prop_assert!(q.keeps(&title, Some(&summary)), "{}", title);
        }
        Ok(())
    });
}

#[test]
fn query_strings() {
    query_props(CASES / 5);
}

#[test]
#[ignore = "long run: cargo test --release --test http_props -- --ignored"]
fn query_strings_long() {
    query_props(long_cases());
}

// ------------------------------------------------------------------------------------------
// If-None-Match
// ------------------------------------------------------------------------------------------

const OWS: &[&str] = &["", " ", "\t", "  \t"];

/// An entity-tag's opaque part: any `etagc` byte, commas and obs-text included.
fn opaque() -> impl Strategy<Value = Vec<u8>> {
    let etagc = prop_oneof![
        Just(b'!'),
        Just(b','),
        Just(b'W'),
        Just(b'/'),
        0x23u8..=0x7E,
        0x80u8..=0xFF
    ];
    proptest::collection::vec(etagc, 0..12)
}

#[derive(Debug, Clone)]
struct Tag {
    weak: bool,
    opaque: Vec<u8>,
    before: &'static str,
    after: &'static str,
    empty_after: bool,
}

fn tag() -> impl Strategy<Value = Tag> {
    (
        any::<bool>(),
        opaque(),
        proptest::sample::select(OWS),
        proptest::sample::select(OWS),
        any::<bool>(),
    )
        .prop_map(|(weak, opaque, before, after, empty_after)| Tag {
            weak,
            opaque,
            before,
            after,
            empty_after,
        })
}

fn render_tags(tags: &[Tag]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut closing = Vec::new();
    for (i, t) in tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(t.before.as_bytes());
        if t.weak {
            out.extend_from_slice(b"W/");
        }
        out.push(b'"');
        out.extend_from_slice(&t.opaque);
        out.push(b'"');
        closing.push(out.len());
        out.extend_from_slice(t.after.as_bytes());
        if t.empty_after {
            out.extend_from_slice(b", ");
        }
    }
    (out, closing)
}

fn if_none_match_props(cases: u32) {
    // Arbitrary bytes: an answer; a match needs `*` or our tag's bytes.
    let garbage = (proptest::collection::vec(any::<u8>(), 0..48), opaque());
    run(cases, garbage, |(bytes, ours)| {
        let ours_tag = [b"\"", &ours[..], b"\""].concat();
        if if_none_match([&bytes[..]], &ours_tag) == NoneMatch::Matches {
            let star = bytes.contains(&b'*');
            let has = bytes.windows(ours.len().max(1)).any(|w| w == &ours[..]) || ours.is_empty();
            prop_assert!(star || has, "{bytes:?}");
        }
        Ok(())
    });
    // Well-formed lists (commas inside tags, W/, empty elements, several lines): a match
    // exactly when some tag's opaque part equals ours.
    let lists = (
        proptest::collection::vec(tag(), 0..6),
        opaque(),
        any::<bool>(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        any::<bool>(),
    );
    run(
        cases,
        lists,
        |(mut tags, ours, ours_weak, at, split, two_lines)| {
            if !tags.is_empty() && ours_weak {
                // Put our tag in, in the other strength half the time.
                let i = at.index(tags.len());
                tags[i].opaque = ours.clone();
            }
            let expected = if tags.iter().any(|t| t.opaque == ours) {
                NoneMatch::Matches
            } else {
                NoneMatch::Differs
            };
            let ours_tag = [b"\"", &ours[..], b"\""].concat();
            let (value, closing) = render_tags(&tags);
            prop_assert_eq!(if_none_match([&value[..]], &ours_tag), expected);
            let weak_ours = [b"W/", &ours_tag[..]].concat();
            prop_assert_eq!(if_none_match([&value[..]], &weak_ours), expected);
            if two_lines && tags.len() >= 2 {
                let (left, right) = tags.split_at(split.index(tags.len() - 1) + 1);
                let (a, _) = render_tags(left);
                let (b, _) = render_tags(right);
                prop_assert_eq!(if_none_match([&a[..], &b[..]], &ours_tag), expected);
            }
            // Junk glued to a closing quote makes the whole field invalid.
            if !closing.is_empty() {
                let mut broken = value.clone();
                broken.insert(closing[at.index(closing.len())], b'x');
                prop_assert_eq!(if_none_match([&broken[..]], &ours_tag), NoneMatch::Invalid);
            }
            Ok(())
        },
    );
}

#[test]
fn if_none_match_lists() {
    if_none_match_props(CASES / 2);
}

#[test]
#[ignore = "long run: cargo test --release --test http_props -- --ignored"]
fn if_none_match_lists_long() {
    if_none_match_props(long_cases());
}

// ------------------------------------------------------------------------------------------
// If-Modified-Since
// ------------------------------------------------------------------------------------------

/// Unix seconds from 1970 through 9999-12-31.
const MAX_SECONDS: i64 = 253_402_300_799;

fn dates_props(cases: u32) {
    // Every time in all three forms reads back to the same second (RFC 850 has two-digit
    // years, read as 1970–2069).
    run(cases, (0..=MAX_SECONDS, 0usize..4), |(seconds, pad)| {
        let t = Utc.timestamp_opt(seconds, 0).unwrap();
        let imf = t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let asctime = t.format("%a %b %e %H:%M:%S %Y").to_string();
        let space = " ".repeat(pad);
        for form in [imf.clone(), asctime, format!("{space}{imf}{space}")] {
            prop_assert_eq!(
                if_modified_since([form.as_bytes()]),
                Some(seconds),
                "{}",
                form
            );
        }
        if (1970..2070).contains(&t.format("%Y").to_string().parse::<i32>().unwrap_or(0)) {
            let rfc850 = t.format("%A, %d-%b-%y %H:%M:%S GMT").to_string();
            prop_assert_eq!(
                parse_seconds(rfc850.as_bytes()),
                Some(seconds),
                "{}",
                rfc850
            );
        }
        // A full-width digit anywhere makes it no date; two values are ignored.
        let digits: Vec<usize> = imf
            .char_indices()
            .filter(|(_, c)| c.is_ascii_digit())
            .map(|(i, _)| i)
            .collect();
        let i = digits[seconds as usize % digits.len()];
        let mut wide = imf.clone();
        let d = wide.remove(i);
        wide.insert(
            i,
            char::from_u32(d as u32 - '0' as u32 + 0xFF10).unwrap_or(d),
        );
        prop_assert_eq!(parse_seconds(wide.as_bytes()), None, "{}", wide);
        prop_assert_eq!(if_modified_since([imf.as_bytes(), imf.as_bytes()]), None);
        Ok(())
    });
    // Anything else: an answer, and any date read is one we can write back identically.
    let text = prop_oneof![
        awkward_string(40).prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..40),
        "[A-Za-z]{3}, [0-9]{1,3} [A-Za-z]{3} [0-9]{1,6} [0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3} GMT"
            .prop_map(String::into_bytes),
    ];
    run(cases, text, |bytes| {
        if let Some(seconds) = parse_seconds(&bytes) {
            prop_assert!((0..=MAX_SECONDS).contains(&seconds));
            let t = Utc.timestamp_opt(seconds, 0).unwrap();
            let again = t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            prop_assert_eq!(parse_seconds(again.as_bytes()), Some(seconds));
        }
        Ok(())
    });
}

#[test]
fn if_modified_since_dates() {
    dates_props(CASES / 2);
}

#[test]
#[ignore = "long run: cargo test --release --test http_props -- --ignored"]
fn if_modified_since_dates_long() {
    dates_props(long_cases());
}

// ------------------------------------------------------------------------------------------
// Accept-Encoding
// ------------------------------------------------------------------------------------------

const CODINGS: &[&str] = &[
    "br", "BR", "gzip", "GZip", "x-gzip", "identity", "*", "deflate", "compress", "zstd",
];

/// A q-value written in any valid spelling of `thousandths`.
fn q_text(thousandths: u16, decimals: usize) -> String {
    if thousandths == 1000 {
        return ["1", "1.", "1.0", "1.00", "1.000"][decimals.min(4)].to_string();
    }
    let mut fraction = format!("{thousandths:03}");
    while fraction.len() > decimals.max(1) && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("0.{fraction}")
}

/// The answer RFC 9110 gives for a list of (coding, q), with our tie-break (brotli, then
/// gzip, and identity only as the fallback when it is not listed).
fn expected_coding(list: &[(&str, u16)]) -> Coding {
    let q_of = |names: &[&str]| {
        list.iter()
            .filter(|(n, _)| names.iter().any(|m| n.eq_ignore_ascii_case(m)))
            .map(|(_, q)| *q)
            .min()
    };
    let star = q_of(&["*"]);
    let br = q_of(&["br"]).or(star).unwrap_or(0);
    let gzip = q_of(&["gzip", "x-gzip"]).or(star).unwrap_or(0);
    let identity = q_of(&["identity"]).or(star).unwrap_or(1);
    let best = br.max(gzip);
    if best == 0 || best < identity {
        Coding::Identity
    } else if br >= gzip {
        Coding::Brotli
    } else {
        Coding::Gzip
    }
}

fn accept_encoding_props(cases: u32) {
    // Arbitrary bytes: an answer, and a coding is only chosen when the header could name it.
    run(
        cases,
        proptest::collection::vec(any::<u8>(), 0..48),
        |bytes| {
            let lower = bytes.to_ascii_lowercase();
            let names = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
            match negotiate_coding([&bytes[..]]) {
                Coding::Brotli => prop_assert!(names(b"br") || names(b"*")),
                Coding::Gzip => prop_assert!(names(b"gzip") || names(b"*")),
                Coding::Identity => {}
            }
            let _ = qvalue(&bytes);
            Ok(())
        },
    );
    // Well-formed lists: the RFC's answer, whatever the spelling of q-values and whitespace.
    let element = (
        proptest::sample::select(CODINGS),
        proptest::option::of((0u16..=1000, 0usize..5, any::<bool>())),
        proptest::sample::select(OWS),
    );
    run(
        cases,
        proptest::collection::vec(element, 0..6),
        |elements| {
            let mut list = Vec::new();
            let mut text = String::new();
            for (name, q, ows) in &elements {
                if !text.is_empty() {
                    text.push(',');
                }
                text.push_str(ows);
                text.push_str(name);
                let q = match q {
                    Some((thousandths, decimals, upper)) => {
                        let key = if *upper { "Q" } else { "q" };
                        text.push_str(&format!(
                            "{ows};{ows}{key}={}",
                            q_text(*thousandths, *decimals)
                        ));
                        *thousandths
                    }
                    None => 1000,
                };
                text.push_str(ows);
                list.push((*name, q));
            }
            prop_assert_eq!(
                negotiate_coding([text.as_bytes()]),
                expected_coding(&list),
                "{}",
                text
            );
            Ok(())
        },
    );
    // Every valid q-value spelling reads back; nothing else does.
    run(
        cases,
        (0u16..=1000, 0usize..5, awkward_string(6)),
        |(q, decimals, junk)| {
            let text = q_text(q, decimals);
            prop_assert_eq!(qvalue(text.as_bytes()), Some(q), "{}", text);
            let glued = format!("{text}{junk}");
            if let Some(v) = qvalue(glued.as_bytes()) {
                prop_assert!(v <= 1000);
                prop_assert!(
                    junk.chars().all(|c| c.is_ascii_digit() || c == '.'),
                    "{}",
                    glued
                );
            }
            Ok(())
        },
    );
}

#[test]
fn accept_encoding_lists() {
    accept_encoding_props(CASES / 3 + 1);
}

#[test]
#[ignore = "long run: cargo test --release --test http_props -- --ignored"]
fn accept_encoding_lists_long() {
    accept_encoding_props(long_cases());
}
