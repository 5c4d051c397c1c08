//! Property tests: every parser that reads text from outside is total (never panics, never
//! loops or blows up) and keeps its promises on arbitrary and hostile input.
//!
//! Covered: time text (`normalize::time`), durations (`units`), text folding (`text`), links
//! (`normalize::url`), charset detection and decoding (`decode`), HTML extraction
//! (`extract::html`), every feed format (`extract::feed`) and the config file (`Config::parse`).
//! Inputs are arbitrary Unicode and bytes, strings built from tokens that look like the real
//! thing (time words, full-width digits, huge numbers, characters whose case folding changes
//! their UTF-8 length such as `İ`, `K`, `ẞ`, `ﬃ`, `ſ`), deep nesting, entity bombs, and windows
//! and mutations of the real pages and feeds in `../shared/corpus` (read from there, never
//! copied; a missing corpus skips those properties unless `CI=true`, where it fails).
//!
//! Case counts: a plain `cargo test` runs every parser's properties with at least 10,000 cases
//! in total (see the `cases` argument of each `#[test]`), kept to a few seconds per parser in a
//! debug build by using small corpus windows there and whole pages in fewer cases.
//! Longer runs:
//!
//! * `cargo test --release --test parsers_total -- --ignored --nocapture` runs `long_run`:
//!   every property with 100 times its default cases (1.2 million time strings, a million
//!   HTML pages, …; about 20 minutes on two cores), printing each property's time as it ends;
//! * `HEADWIRE_PROPTEST_CASES=N cargo test --test parsers_total` runs every property with N
//!   cases instead of its default (also applies to `long_run`, times 100).

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use headwire::config::{Config, HtmlRules, SectionKind};
use headwire::decode::{
    charset_from_content_type, decode, strip_xml_encoding_declaration, DocKind,
};
use headwire::extract::feed::{parse_feed, parse_feed_limited};
use headwire::extract::html::extract_page;
use headwire::normalize::time::{
    parse_time, TimeContext, TimeError, EARLIEST_BELIEVABLE, FUTURE_TOLERANCE,
};
use headwire::normalize::url::canonical_link;
use headwire::selector::{FieldSelector, ItemSelector};
use headwire::text::{clean_text, escape_html, fold_label, title_key, to_simplified};
use headwire::units::parse_duration;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use url::Url;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Runs `test` on `cases` values of `strategy` (or `HEADWIRE_PROPTEST_CASES`, times `scale`),
/// panicking with the shrunk counterexample on failure.
fn check<S>(
    name: &str,
    cases: u32,
    scale: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let base = std::env::var("HEADWIRE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(cases);
    let config = RunnerConfig {
        cases: base.saturating_mul(scale),
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..RunnerConfig::default()
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    if let Err(e) = runner.run(&strategy, test) {
        panic!("property `{name}` failed: {e}");
    }
    println!("{name}: {cases} cases in {:.1?}", started.elapsed());
}

/// The shared corpus directory `sub` (e.g. `html`), or `None` when it is absent outside CI.
fn corpus_dir(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).join(sub);
    if dir.join("MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "corpus {} is missing under CI=true",
        dir.display()
    );
    println!("corpus {} absent; skipping its properties", dir.display());
    None
}

/// Every file listed in a corpus manifest (first column), read as bytes.
fn corpus_files(sub: &str) -> Vec<(String, Vec<u8>)> {
    let Some(dir) = corpus_dir(sub) else {
        return Vec::new();
    };
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap_or_else(|e| panic!("reading {}/MANIFEST.tsv: {e}", dir.display()));
    let files: Vec<(String, Vec<u8>)> = manifest
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').next())
        .filter(|path| !path.is_empty())
        .map(|path| {
            let bytes = std::fs::read(dir.join(path))
                .unwrap_or_else(|e| panic!("reading corpus file {path}: {e}"));
            (path.to_string(), bytes)
        })
        .collect();
    assert!(!files.is_empty(), "{}: empty manifest", dir.display());
    files
}

/// Corpus HTML pages decoded the way the poller decodes them.
static HTML_CORPUS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    corpus_files("html")
        .into_iter()
        .map(|(path, bytes)| (path, decode(&bytes, None, DocKind::Html).text))
        .collect()
});

/// Corpus feeds decoded (and their XML declaration rewritten) the way the poller does it.
static FEED_CORPUS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    corpus_files("feeds")
        .into_iter()
        .map(|(path, bytes)| {
            let kind = if bytes.trim_ascii_start().starts_with(b"{") {
                DocKind::Json
            } else {
                DocKind::Xml
            };
            let text = decode(&bytes, None, kind).text;
            let text = strip_xml_encoding_declaration(&text).into_owned();
            (path, text)
        })
        .collect()
});

/// A byte-level mutation of a document.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bits of the byte at (position modulo length).
    Flip(usize, u8),
    /// Insert bytes at (position modulo length + 1).
    Insert(usize, Vec<u8>),
    /// Delete up to n bytes at (position modulo length).
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let markup: &'static [&'static [u8]] = &[
        b"<",
        b">",
        b"</",
        b"/>",
        b"&",
        b"&amp;",
        b"&#",
        b"<![CDATA[",
        b"]]>",
        b"<!--",
        b"-->",
        b"\"",
        b"'",
        b"=",
        b"<div>",
        b"</li>",
        b"<item>",
        b"</entry>",
        b"\xff",
        b"\xe5\xb9",
        b"\0",
        b"<?xml",
        b"?>",
        b"<!DOCTYPE x [<!ENTITY e \"&e;&e;\">]>",
    ];
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), select(markup)).prop_map(|(p, b)| Mutation::Insert(p, b.to_vec())),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
    ]
}

/// `text` with `mutations` applied to its bytes, read back as UTF-8 (invalid bytes become
/// U+FFFD, as the charset stage would leave them).
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Flip(p, bits) if len > 0 => bytes[p % len] ^= bits,
            Mutation::Insert(p, ins) => {
                let at = p % (len + 1);
                bytes.splice(at..at, ins.iter().copied());
            }
            Mutation::Delete(p, n) if len > 0 => {
                let at = p % len;
                let end = (at + n).min(len);
                bytes.drain(at..end);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The window of `text` starting near `start` (modulo its length) and `len` bytes long, moved
/// to character boundaries.
fn window(text: &str, start: usize, len: usize) -> &str {
    if text.is_empty() {
        return text;
    }
    let mut a = start % text.len();
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (a + len).min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    &text[a..b]
}

/// Characters whose case mapping or folding changes their length in UTF-8 (or maps a
/// non-ASCII character onto ASCII), and other characters that trip byte-index arithmetic.
const CASE_TRAPS: &[&str] = &[
    "İ",
    "ı",
    "K",
    "Å",
    "Ω",
    "ẞ",
    "ß",
    "ﬃ",
    "ﬀ",
    "ſ",
    "ŉ",
    "ǅ",
    "ΐ",
    "Σ",
    "ς",
    "ȿ",
    "Ɐ",
    "ⱥ",
    "ᾼ",
    "\u{0345}",
    "\u{0307}",
    "\u{200B}",
    "\u{200D}",
    "\u{FEFF}",
    "\u{202E}",
    "\u{3000}",
    "\u{A0}",
    "\u{0}",
    "\u{1F}",
    "\u{85}",
    "\u{FFFD}",
    "\u{10FFFF}",
    "𝟚",
    "٣",
    "१",
    "Ⅻ",
    "①",
    "🕐",
];

/// Arbitrary text in several shapes: any chars (controls included), lossily read bytes,
/// proptest's default strings, and traps mixed with ASCII.
fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect()),
        proptest::collection::vec(any::<u8>(), 0..max)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![select(CASE_TRAPS).prop_map(str::to_owned), "[ -~]{0,4}",],
            0..max / 2 + 1
        )
        .prop_map(|parts| parts.concat()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Time text
// ---------------------------------------------------------------------------------------------

const TIME_TOKENS: &[&str] = &[
    "2022",
    "2019",
    "1989",
    "1970",
    "0000",
    "9999",
    "03",
    "13",
    "3",
    "31",
    "12",
    "00",
    "24",
    "60",
    "99",
    "-",
    "/",
    ".",
    ":",
    ",",
    " ",
    "  ",
    "T",
    "t",
    "Z",
    "_",
    "+0800",
    "+08:00",
    "-0500",
    "+99:99",
    "GMT",
    "UTC",
    "UT",
    "GMT+8",
    "EST",
    "CST",
    "PST",
    "PſT",
    "eſt",
    "年",
    "月",
    "日",
    "号",
    "时",
    "分",
    "秒",
    "点",
    "前",
    "之前",
    "天前",
    "小时前",
    "分钟前",
    "秒前",
    "年前",
    "个月前",
    "周前",
    "半",
    "两",
    "十",
    "刚刚",
    "今天",
    "昨天",
    "前天",
    "今日",
    "昨日",
    "一昨日",
    "ago",
    " hours ago",
    " minutes ago",
    " days ago",
    " years ago",
    "an hour ago",
    "just now",
    "vor ",
    " Minuten",
    " Jahren",
    "einer",
    "gestern",
    "heute",
    "vorgestern",
    "yesterday",
    "yeſterday",
    "today",
    " at ",
    "um ",
    " Uhr",
    "AM",
    "PM",
    "a.m.",
    "上午",
    "下午",
    "中午",
    "凌晨",
    "Sun, ",
    "Mon ",
    "Mar",
    "March",
    "Sept",
    "May",
    "Dec",
    "星期日",
    "周一",
    "(木)",
    "(周三)",
    "st",
    "th",
    "•",
    "@",
    "|",
    "\u{3000}",
    "&nbsp;",
    "&#160;",
    "\u{200B}",
    "\u{A0}",
    "１２",
    "０９",
    "２０２２",
    "：",
    "－",
    "／",
    "．",
    "99999999999",
    "９９９９９９９９９９９",
    "18446744073709551616",
    "9223372036854775807",
    "1647134820",
    "1647134820123",
    "０１２３４５６７８９",
    "发布时间：",
    "来源：",
    "阅读(123)",
    "/politics/2020_07_18_558136.shtml",
];

/// Strings assembled from time-like tokens, digit runs (ASCII and full-width, up to 25
/// digits), case traps and arbitrary characters.
fn time_like() -> impl Strategy<Value = String> {
    let digits = proptest::collection::vec(0u8..10, 1..26);
    let piece = prop_oneof![
        6 => select(TIME_TOKENS).prop_map(str::to_owned),
        2 => digits.clone().prop_map(|d| d.iter().map(|d| char::from(b'0' + d)).collect()),
        1 => digits.prop_map(|d| {
            d.iter()
                .filter_map(|&d| char::from_u32(0xFF10 + u32::from(d)))
                .collect()
        }),
        1 => select(CASE_TRAPS).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..14).prop_map(|p| p.concat())
}

/// A number as a portal might print it: ASCII or full-width digits, zero-padded or not,
/// in range or far out of it.
fn number(max: u64) -> BoxedStrategy<String> {
    (
        prop_oneof![4 => 0..=max, 1 => any::<u64>(), 1 => Just(0u64)],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(n, pad, wide)| {
            let text = if pad {
                format!("{n:02}")
            } else {
                n.to_string()
            };
            if wide {
                text.chars()
                    .filter_map(|c| char::from_u32(u32::from(c) - 0x30 + 0xFF10))
                    .collect()
            } else {
                text
            }
        })
        .boxed()
}

/// A word with its letters in random case, some replaced by characters whose case folding
/// is that letter (`s` → `ſ`, `k` → `K`) or changes length (`i` → `İ`).
fn word(words: &'static [&'static str]) -> BoxedStrategy<String> {
    (select(words), any::<u64>())
        .prop_map(|(w, bits)| {
            w.chars()
                .enumerate()
                .map(|(i, c)| {
                    let b = (bits >> (i % 32 * 2)) & 3;
                    match (c, b) {
                        ('s', 3) => 'ſ',
                        ('k', 3) => '\u{212A}',
                        ('i', 3) => 'İ',
                        (c, 1) => c.to_ascii_uppercase(),
                        (c, _) => c,
                    }
                })
                .collect()
        })
        .boxed()
}

/// Time strings shaped like the real ones (date, clock, zone; relative forms; day words),
/// with out-of-range and huge numbers, full-width digits, case traps and noise around.
fn time_shaped() -> BoxedStrategy<String> {
    const MONTHS: &[&str] = &[
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "june",
        "july",
        "aug",
        "sept",
        "oct",
        "nov",
        "dec",
        "march",
        "september",
    ];
    const ZONES: &[&str] = &[
        "gmt", "utc", "ut", "z", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt", "gmt+8",
        "utc-5", "ut+08:00",
    ];
    const UNITS_EN: &[&str] = &[
        "seconds", "sec", "s", "minutes", "min", "m", "hours", "hrs", "h", "days", "d", "weeks",
        "wks", "w", "months", "mos", "years", "yrs", "y",
    ];
    const UNITS_DE: &[&str] = &[
        "sekunden", "minuten", "stunden", "tagen", "tag", "wochen", "monaten", "jahren", "jahr",
    ];
    const UNITS_CJK: &[&str] = &[
        "秒",
        "分钟",
        "分",
        "小时",
        "小時",
        "個小時",
        "天",
        "日",
        "周",
        "週",
        "个星期",
        "个月",
        "ヶ月",
        "年",
    ];
    const DAYS: &[&str] = &[
        "today",
        "yesterday",
        "heute",
        "gestern",
        "vorgestern",
        "今天",
        "昨天",
        "前天",
        "今日",
        "昨日",
        "一昨日",
    ];
    let n2 = || number(99);
    let year =
        prop_oneof![4 => Just(2022u64), 2 => 1900u64..2100, 1 => Just(0u64), 1 => 0u64..100_000]
            .prop_map(|y| format!("{y:04}"))
            .boxed();
    let offset = (prop_oneof![Just('+'), Just('-')], 0u32..100, 0u32..100)
        .prop_map(|(sign, h, m)| format!("{sign}{h:02}{m:02}"))
        .boxed();
    let zone = prop_oneof![
        2 => Just(String::new()),
        2 => word(ZONES).prop_map(|z| format!(" {z}")),
        1 => offset.prop_map(|o| format!(" {o}")),
    ]
    .boxed();
    let clock = prop_oneof![
        1 => Just(String::new()),
        3 => (n2(), n2(), proptest::option::of(n2()), proptest::option::of("[0-9]{1,12}"), zone)
            .prop_map(|(h, m, s, f, z)| {
                let mut t = format!("{h}:{m}");
                if let Some(s) = s {
                    t.push(':');
                    t.push_str(&s);
                    if let Some(f) = f {
                        t.push('.');
                        t.push_str(&f);
                    }
                }
                t + &z
            }),
        1 => (n2(), n2(), select(&["am", "pm", "a.m.", "PM"][..])).prop_map(|(h, m, ap)| format!("{h}:{m} {ap}")),
        1 => (select(&["上午", "下午", "中午", "凌晨", "晚上"][..]), n2(), n2()).prop_map(|(p, h, m)| format!("{p}{h}:{m}")),
        1 => (n2(), n2(), n2()).prop_map(|(h, m, s)| format!("{h}时{m}分{s}秒")),
    ]
    .boxed();
    let sep = select(
        &[
            " ", "T", ", ", " at ", " • ", "", "  ", "\u{3000}", "&nbsp;",
        ][..],
    );
    let date = prop_oneof![
        (year.clone(), n2(), n2(), select(&["-", "/", ".", "_"][..]))
            .prop_map(|(y, m, d, s)| format!("{y}{s}{m}{s}{d}")),
        (year.clone(), n2(), n2()).prop_map(|(y, m, d)| format!("{y}年{m}月{d}日")),
        (n2(), word(MONTHS), year.clone()).prop_map(|(d, mon, y)| format!("Sun, {d} {mon} {y}")),
        (word(MONTHS), n2(), year.clone()).prop_map(|(mon, d, y)| format!("{mon} {d}, {y}")),
        (n2(), n2(), year).prop_map(|(d, m, y)| format!("{d}.{m}.{y}")),
        (n2(), n2()).prop_map(|(m, d)| format!("{m}-{d}")),
        (n2(), n2()).prop_map(|(m, d)| format!("{m}月{d}日")),
        (word(MONTHS), n2()).prop_map(|(mon, d)| format!("{mon} {d}")),
        word(DAYS),
        Just(String::new()),
    ]
    .boxed();
    let absolute = (date, sep, clock)
        .prop_map(|(d, s, c)| format!("{d}{s}{c}"))
        .boxed();
    let count = prop_oneof![3 => number(100), 1 => number(u64::MAX), 1 => select(&["an", "a", "one", "半", "两", "十", "einer"][..]).prop_map(str::to_owned)];
    let relative = prop_oneof![
        (count.clone(), word(UNITS_EN)).prop_map(|(n, u)| format!("{n} {u} ago")),
        (count.clone(), word(UNITS_DE)).prop_map(|(n, u)| format!("vor {n} {u}")),
        (count, select(UNITS_CJK)).prop_map(|(n, u)| format!("{n}{u}前")),
        number(u64::MAX),
    ]
    .boxed();
    let noise = select(
        &[
            "",
            "",
            "发布时间：",
            "(",
            "[",
            "最后更新: ",
            "来源：新华社 ",
            " 阅读(123)",
            ")",
            "]",
            " 来源：人民网",
        ][..],
    );
    (
        noise.clone(),
        prop_oneof![3 => absolute, 1 => relative],
        noise,
        proptest::option::of((any::<usize>(), select(CASE_TRAPS))),
    )
        .prop_map(|(a, t, b, trap)| {
            let mut text = format!("{a}{t}{b}");
            if let Some((at, trap)) = trap {
                let mut i = at % (text.len() + 1);
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                text.insert_str(i, trap);
            }
            text
        })
        .boxed()
}

const FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M",
    "%Y年%m月%d日 %H:%M",
    "%m-%d %H:%M",
    "%H:%M",
    "%d.%m.%Y",
    "%Y|%m|%d",
    "%s",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%G-W%V-%u",
    "%Y %j",
    "%a, %d %b %Y %H:%M:%S %z",
    "%+",
    "%",
    "%Q",
    "",
];

fn zone() -> impl Strategy<Value = Tz> {
    select(
        &[
            chrono_tz::Asia::Shanghai,
            chrono_tz::America::New_York,
            chrono_tz::Europe::Berlin,
            chrono_tz::Pacific::Apia,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::UTC,
        ][..],
    )
}

/// A clock between 1990 and 2100, now and then one at chrono's very ends.
fn clock() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        20 => (631_152_000i64..4_102_444_800).prop_map(|s| {
            DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        }),
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => Just(DateTime::<Utc>::MAX_UTC),
    ]
}

fn format() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![4 => Just(None), 1 => select(FORMATS).prop_map(Some)]
}

/// The checks every time parse must pass, whatever the text.
fn time_invariants(text: &str, ctx: &TimeContext) -> Result<(), TestCaseError> {
    let got = parse_time(text, ctx);
    prop_assert_eq!(&got, &parse_time(text, ctx), "not deterministic");
    let latest = ctx
        .now
        .checked_add_signed(FUTURE_TOLERANCE)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    match &got {
        Ok(p) => {
            prop_assert!(p.utc >= EARLIEST_BELIEVABLE, "{:?} before 1990", p);
            prop_assert!(p.utc <= latest, "{:?} after now + 1 day", p);
            prop_assert!((1990..=9999).contains(&p.utc.year()), "{:?}", p);
        }
        Err(TimeError::InFuture { utc, text }) => {
            prop_assert!(
                *utc > latest || utc.year() > 9999,
                "{} is not in the future",
                utc
            );
            prop_assert!(text.chars().count() <= 120);
        }
        Err(TimeError::TooOld { utc, text }) => {
            prop_assert!(*utc < EARLIEST_BELIEVABLE, "{} is not before 1990", utc);
            prop_assert!(text.chars().count() <= 120);
        }
        Err(TimeError::NotUnderstood(t)) => prop_assert!(t.chars().count() <= 120),
        Err(TimeError::Empty) => prop_assert!(!text
            .replace("&nbsp;", "")
            .replace("&#160;", "")
            .chars()
            .any(char::is_alphanumeric)),
    }
    // Surrounding whitespace of any kind changes nothing.
    let padded = format!(" \u{3000}\t{text}\u{A0}\n");
    prop_assert_eq!(
        &parse_time(&padded, ctx),
        &got,
        "padding changed the result"
    );
    // Full-width digits read like ASCII digits (outside `&#160;`, which is markup).
    if text.bytes().any(|b| b.is_ascii_digit()) && !text.contains("&#") {
        let wide: String = text
            .chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(u32::from(c) - 0x30 + 0xFF10).unwrap_or(c),
                c => c,
            })
            .collect();
        let wide_got = parse_time(&wide, ctx);
        prop_assert_eq!(
            wide_got.as_ref().ok(),
            got.as_ref().ok(),
            "full-width digits differ"
        );
        prop_assert_eq!(
            std::mem::discriminant(&wide_got),
            std::mem::discriminant(&got)
        );
    }
    Ok(())
}

fn time_text(cases: u32, scale: u32) {
    let ctx = || (zone(), clock(), format());
    check(
        "time: shaped like real time strings",
        cases / 2,
        scale,
        (time_shaped(), ctx()),
        |(text, (zone, now, format))| time_invariants(&text, &TimeContext { zone, now, format }),
    );
    check(
        "time: time-like tokens",
        cases / 4,
        scale,
        (time_like(), ctx()),
        |(text, (zone, now, format))| time_invariants(&text, &TimeContext { zone, now, format }),
    );
    check(
        "time: arbitrary text",
        cases / 4,
        scale,
        (any_text(48), ctx()),
        |(text, (zone, now, format))| time_invariants(&text, &TimeContext { zone, now, format }),
    );
}

#[test]
fn time_text_is_total() {
    time_text(12_000, 1);
}

#[test]
fn time_known_classes() {
    // The classes the properties found, as fixed examples.
    let now = DateTime::from_timestamp(1_647_237_600, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let ctx = TimeContext::new(chrono_tz::Asia::Shanghai, now);
    assert!(parse_time("Sun, 13 Mar 2022 09:27:00 Pſt", &ctx).is_ok());
    assert!(matches!(
        parse_time("99999年前", &ctx),
        Err(TimeError::TooOld { .. })
    ));
    assert!(matches!(
        parse_time("0000-00-01", &ctx),
        Err(TimeError::NotUnderstood(_))
    ));
    assert!(matches!(
        parse_time("0001-01-01", &ctx),
        Err(TimeError::TooOld { .. })
    ));
    assert!(matches!(
        parse_time("0000000000", &ctx),
        Err(TimeError::TooOld { .. })
    ));
}

fn durations(cases: u32, scale: u32) {
    check(
        "duration: arbitrary text",
        cases / 2,
        scale,
        prop_oneof![any_text(24), time_like()],
        |text| {
            let _ = parse_duration(&text);
            Ok(())
        },
    );
    const UNITS: &[(&str, u128)] = &[
        ("ms", 1),
        ("s", 1_000),
        ("sec", 1_000),
        ("m", 60_000),
        ("minutes", 60_000),
        ("h", 3_600_000),
        ("Hours", 3_600_000),
        ("d", 86_400_000),
        ("w", 604_800_000),
    ];
    check(
        "duration: sums of terms",
        cases / 2,
        scale,
        proptest::collection::vec((any::<u64>(), select(UNITS), " {0,2}"), 1..4),
        |terms| {
            let text: String = terms
                .iter()
                .map(|(n, (unit, _), sp)| format!("{n}{sp}{unit} "))
                .collect();
            let total: Option<u128> = terms.iter().try_fold(0u128, |acc, (n, (_, ms), _)| {
                let t = u128::from(*n).checked_mul(*ms)?;
                let sum = acc.checked_add(t)?;
                (sum <= u128::from(u64::MAX)).then_some(sum)
            });
            let got = parse_duration(&text).map(|d| d.as_millis());
            prop_assert_eq!(got, total, "{}", text);
            Ok(())
        },
    );
}

#[test]
fn durations_are_total() {
    durations(10_000, 1);
}

// ---------------------------------------------------------------------------------------------
// Text folding
// ---------------------------------------------------------------------------------------------

fn text_folding(cases: u32, scale: u32) {
    check(
        "text: clean, fold, key, escape",
        cases,
        scale,
        any_text(64),
        |text| {
            let clean = clean_text(&text);
            prop_assert_eq!(&clean_text(&clean), &clean, "clean_text not idempotent");
            prop_assert!(!clean.starts_with(' ') && !clean.ends_with(' '));
            prop_assert!(!clean.contains("  "));
            prop_assert!(!clean
                .chars()
                .any(|c| (c.is_whitespace() && c != ' ') || c.is_control()));
            let key = title_key(&text);
            prop_assert!(key.chars().all(char::is_alphanumeric), "key {:?}", key);
            prop_assert!(!key.chars().any(|c| c.is_ascii_uppercase()));
            let folded = fold_label(&text);
            prop_assert_eq!(&clean_text(&folded), &folded, "fold_label output not clean");
            prop_assert!(!folded.chars().any(|c| c.is_ascii_uppercase()));
            prop_assert_eq!(&fold_label(&text), &folded, "fold_label not deterministic");
            let _ = to_simplified(&text);
            let escaped = escape_html(&text);
            prop_assert!(!escaped.contains(['<', '>', '"', '\'']));
            let unescaped = escaped
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            prop_assert_eq!(unescaped, text);
            Ok(())
        },
    );
    check(
        "text: ASCII case does not matter to labels",
        cases / 4,
        scale,
        "[ -~]{0,32}",
        |text| {
            prop_assert_eq!(
                fold_label(&text.to_ascii_uppercase()),
                fold_label(&text.to_ascii_lowercase())
            );
            prop_assert_eq!(
                title_key(&text.to_ascii_uppercase()),
                title_key(&text.to_ascii_lowercase())
            );
            Ok(())
        },
    );
}

#[test]
fn text_folding_is_total() {
    text_folding(10_000, 1);
}

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

fn url_like() -> impl Strategy<Value = String> {
    let scheme = select(
        &[
            "http://",
            "https://",
            "HTTPS://",
            "hTtP://",
            "ftp://",
            "javascript:",
            "mailto:",
            "//",
            "",
            "http:",
            "https:///",
            "data:text/html,",
        ][..],
    );
    let host = select(
        &[
            "example.com",
            "WWW.Example.COM",
            "www.example.com",
            "例子.测试",
            "xn--fsq.com",
            "İ.com",
            "K.example",
            "ß.de",
            "ﬃ.org",
            "127.0.0.1",
            "[::1]",
            "[::1",
            "",
            "a..b",
            "%41.com",
            "0x7f.1",
            "999.999.999.999",
            "user:pass@example.com",
            "ex ample.com",
        ][..],
    );
    let port = select(&["", ":80", ":443", ":0", ":8080", ":99999", ":-1", ":"][..]);
    let segment = prop_oneof![
        "[a-zA-Z0-9._~-]{0,8}",
        select(CASE_TRAPS).prop_map(str::to_owned),
        select(&["%", "%2", "%zz", "%2F", "..", ".", "%00", "?", "#", "\\", " "][..])
            .prop_map(str::to_owned),
    ];
    let name = prop_oneof![
        select(
            &[
                "utm_source",
                "UTM_Medium",
                "utm_",
                "s",
                "S",
                "id",
                "İd",
                "ſ",
                "",
                "a b"
            ][..]
        )
        .prop_map(str::to_owned),
        "[a-z%+]{0,6}",
    ];
    let value = prop_oneof![
        "[a-zA-Z0-9%+=&]{0,8}",
        select(CASE_TRAPS).prop_map(str::to_owned)
    ];
    (
        scheme,
        host,
        port,
        proptest::collection::vec(segment, 0..4),
        proptest::option::of(proptest::collection::vec((name, value), 0..4)),
        proptest::option::of("[a-z#%]{0,6}"),
    )
        .prop_map(|(scheme, host, port, path, query, fragment)| {
            let mut s = format!("{scheme}{host}{port}");
            for seg in path {
                s.push('/');
                s.push_str(&seg);
            }
            if let Some(pairs) = query {
                s.push('?');
                let q: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
                s.push_str(&q.join("&"));
            }
            if let Some(f) = fragment {
                s.push('#');
                s.push_str(&f);
            }
            s
        })
}

fn links(cases: u32, scale: u32) {
    let strip = vec!["s".to_string()];
    check(
        "url: canonical links",
        cases,
        scale,
        prop_oneof![3 => url_like(), 1 => any_text(48)],
        |text| {
            let Some(link) = canonical_link(&text, &strip) else {
                return Ok(());
            };
            let url = Url::parse(&link);
            prop_assert!(url.is_ok(), "{:?} does not parse", link);
            let url = url.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(matches!(url.scheme(), "http" | "https"));
            prop_assert!(url.fragment().is_none());
            for (name, _) in url.query_pairs() {
                let lower = name.to_ascii_lowercase();
                prop_assert!(!lower.starts_with("utm_") && lower != "s", "{} kept", name);
            }
            let again = canonical_link(&link, &strip);
            prop_assert_eq!(again.as_deref(), Some(link.as_str()), "not idempotent");
            Ok(())
        },
    );
}

#[test]
fn links_are_total() {
    links(10_000, 1);
}

// ---------------------------------------------------------------------------------------------
// Charset detection and decoding
// ---------------------------------------------------------------------------------------------

const LABELS: &[&str] = &[
    "utf-8",
    "UTF8",
    "gbk",
    "gb2312",
    "GB_2312-80",
    "gb18030",
    "big5",
    "shift_jis",
    "euc-jp",
    "euc-kr",
    "koi8-r",
    "windows-1252",
    "iso-8859-1",
    "iso-2022-jp",
    "utf-16",
    "utf-16le",
    "utf-16be",
    "x-user-defined",
    "replacement",
    "bogus",
    "",
    " ",
    "\"gbk\"",
    "'big5'",
    "İso-8859-1",
    "utf-8\0",
    "ſhift_jis",
    "\u{FF55}tf-8",
];

/// Declarations and marks that can start a document.
fn charset_prefix() -> impl Strategy<Value = Vec<u8>> {
    let label = select(LABELS);
    prop_oneof![
        Just(Vec::new()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xFF\xFE".to_vec()),
        Just(b"\xFE\xFF".to_vec()),
        label
            .clone()
            .prop_map(|l| format!("<meta charset=\"{l}\">").into_bytes()),
        label
            .clone()
            .prop_map(|l| format!("<META CHARSET={l}>").into_bytes()),
        label.clone().prop_map(|l| {
            format!("<meta http-equiv=\"Content-Type\" content=\"text/html; charset={l}\">")
                .into_bytes()
        }),
        label.clone().prop_map(
            |l| format!("<meta content='charset={l}' http-equiv=content-type>").into_bytes()
        ),
        label
            .clone()
            .prop_map(|l| format!("<?xml version=\"1.0\" encoding=\"{l}\"?>").into_bytes()),
        label.prop_map(|l| format!(" \n<?xml version='1.0' encoding='{l}' ?>").into_bytes()),
        Just(b"<!-- <meta charset=gbk> -->".to_vec()),
        Just(b"<!-->".to_vec()),
        Just(b"<meta".to_vec()),
        Just(b"<\0?\0x\0m\0l\0".to_vec()),
        Just(b"\0<\0?\0x\0m\0l".to_vec()),
    ]
}

/// Document bodies: arbitrary bytes, valid UTF-8, CJK text in legacy encodings, and all of
/// these cut mid-character.
fn charset_body() -> impl Strategy<Value = Vec<u8>> {
    let zh = "新华社北京电 国务院总理朱镕基今天在人民大会堂会见了来访的代表团。";
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        any_text(128).prop_map(String::into_bytes),
        (0usize..5, 0usize..64).prop_map(move |(e, cut)| {
            let e = match e {
                0 => encoding_rs::GBK,
                1 => encoding_rs::BIG5,
                2 => encoding_rs::SHIFT_JIS,
                3 => encoding_rs::EUC_KR,
                _ => encoding_rs::UTF_16LE,
            };
            let (bytes, _, _) = e.encode(zh);
            let mut bytes = bytes.into_owned();
            let keep = bytes.len().saturating_sub(cut % 3);
            bytes.truncate(keep);
            bytes
        }),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        2 => select(LABELS).prop_map(|l| Some(format!("text/html; charset={l}"))),
        1 => select(LABELS).prop_map(|l| Some(format!("application/xml;CHARSET=\"{l}\";x=y"))),
        1 => any_text(32).prop_map(Some),
    ]
}

fn doc_kind() -> impl Strategy<Value = DocKind> {
    select(&[DocKind::Html, DocKind::Xml, DocKind::Json][..])
}

fn charsets(cases: u32, scale: u32) {
    check(
        "charset: decode",
        cases / 2,
        scale,
        (charset_prefix(), charset_body(), content_type(), doc_kind()),
        |(prefix, body, ct, kind)| {
            let bytes = [prefix, body].concat();
            let d = decode(&bytes, ct.as_deref(), kind);
            prop_assert_eq!(d.replacements, d.text.matches('\u{FFFD}').count());
            prop_assert_eq!(d.overridden, d.override_reason.is_some());
            prop_assert_eq!(d.declared.is_some(), d.declared_in.is_some());
            prop_assert!(!d.explain().is_empty());
            prop_assert_eq!(
                &decode(&bytes, ct.as_deref(), kind),
                &d,
                "not deterministic"
            );
            Ok(())
        },
    );
    // ASCII reads as itself under every declaration except the ones that really change ASCII
    // bytes: UTF-16 from the header (a BOM or UTF-16 `<?` cannot occur without NUL or high
    // bytes), and ISO-2022-JP, whose escape and shift bytes are ASCII.
    let ascii = proptest::collection::vec(
        (1u8..0x80).prop_map(|b| {
            if matches!(b, 0x0E | 0x0F | 0x1B) {
                b'.'
            } else {
                b
            }
        }),
        0..256,
    );
    let ascii_labels = select(
        &[
            "utf-8",
            "gbk",
            "big5",
            "shift_jis",
            "euc-kr",
            "koi8-r",
            "windows-1252",
            "x-user-defined",
            "bogus",
            "iso-2022-jp",
        ][..],
    );
    check(
        "charset: ASCII is unchanged",
        cases / 4,
        scale,
        (
            ascii,
            proptest::option::of(ascii_labels.clone()),
            proptest::option::of(ascii_labels),
            doc_kind(),
        ),
        |(body, header, meta, kind)| {
            let mut bytes = match meta {
                Some(label) => format!(
                    "<meta charset=\"{label}\"><?xml version=\"1.0\" encoding=\"{label}\"?>"
                )
                .into_bytes(),
                None => Vec::new(),
            };
            bytes.extend_from_slice(&body);
            let ct = header.map(|l| format!("text/html; charset={l}"));
            let d = decode(&bytes, ct.as_deref(), kind);
            prop_assert_eq!(d.text.as_bytes(), &bytes[..], "{}", d.explain());
            Ok(())
        },
    );
    check(
        "charset: header and XML declaration parsing",
        cases / 4,
        scale,
        (
            prop_oneof![
                content_type().prop_map(Option::unwrap_or_default),
                any_text(48)
            ],
            prop_oneof![
                charset_prefix().prop_map(|p| String::from_utf8_lossy(&p).into_owned()),
                any_text(48)
            ],
            any_text(32),
        ),
        |(header, decl, rest)| {
            if let Some(label) = charset_from_content_type(&header) {
                prop_assert!(!label.is_empty() && header.contains(label));
            }
            let text = format!("{decl}{rest}");
            let stripped = strip_xml_encoding_declaration(&text);
            let again = strip_xml_encoding_declaration(&stripped).into_owned();
            prop_assert_eq!(&again, stripped.as_ref(), "not idempotent");
            Ok(())
        },
    );
}

#[test]
fn charsets_are_total() {
    charsets(12_000, 1);
}

// ---------------------------------------------------------------------------------------------
// HTML extraction
// ---------------------------------------------------------------------------------------------

/// The HTML rules of every section of the shipped `feeds.toml`.
static SHIPPED_RULES: LazyLock<Vec<HtmlRules>> = LazyLock::new(|| {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/feeds.toml"));
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("feeds.toml: {e}"));
    let config = Config::parse(&text, path).unwrap_or_else(|e| panic!("feeds.toml: {e}"));
    let rules: Vec<HtmlRules> = config
        .sections()
        .filter_map(|(_, section)| match &section.kind {
            SectionKind::Html(rules) => Some(rules.clone()),
            SectionKind::Feed => None,
        })
        .collect();
    assert!(!rules.is_empty(), "feeds.toml has no HTML section");
    rules
});

/// A generated rule set: indexes into small selector pools.
#[derive(Debug, Clone)]
struct RuleSpec {
    item: Vec<&'static str>,
    title: Vec<&'static str>,
    link: Vec<&'static str>,
    time: Vec<&'static str>,
    label: Vec<&'static str>,
    image: Vec<&'static str>,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    let item = select(
        &[
            "li",
            "ul.list > li",
            "div.item",
            "a",
            "*",
            "tr",
            "li:has(a)",
            ":root",
            "body *",
            "div div",
            "li:nth-child(2n+1)",
            "a[href]",
            "div",
            "span",
            "td:not(.x)",
        ][..],
    );
    let title = select(&["a", "h4 a", "@title", "span", "*", "b", "a@title", "div"][..]);
    let link = select(
        &[
            "a@href",
            "@href",
            "img@src",
            "a@data-x",
            "*@href",
            "base@href",
        ][..],
    );
    let time = select(&["span.t", "@data-ts", "a@href", "time@datetime", "span"][..]);
    let label = select(&["a.k", "span", "*", "b"][..]);
    let image = select(&["img@src", "img@data-original", "img", "@src"][..]);
    let v = |s| proptest::collection::vec(s, 0..3);
    (
        proptest::collection::vec(item, 1..3),
        v(title.clone()),
        v(link),
        v(time),
        v(label),
        v(image),
    )
        .prop_map(|(item, title, link, time, label, image)| RuleSpec {
            item,
            title,
            link,
            time,
            label,
            image,
        })
}

fn build_rules(spec: &RuleSpec) -> HtmlRules {
    let fields = |list: &[&str]| -> Vec<FieldSelector> {
        list.iter()
            .map(|s| FieldSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}")))
            .collect()
    };
    HtmlRules {
        item: ItemSelector::parse(&spec.item).unwrap_or_else(|e| panic!("{e}")),
        title: fields(if spec.title.is_empty() {
            &["a"][..]
        } else {
            &spec.title[..]
        }),
        link: fields(&spec.link),
        time: fields(&spec.time),
        label: fields(&spec.label),
        summary: fields(&spec.title),
        image: fields(&spec.image),
        author: fields(&spec.label),
    }
}

const SOUP: &[&str] = &[
    "<li>",
    "</li>",
    "<a href=\"/x/1\">",
    "<a href='https://news.example.com/a?utm_source=x'>",
    "<a href=javascript:void(0)>",
    "<a href=\"#top\">",
    "</a>",
    "<div class=\"item\">",
    "</div>",
    "<div>",
    "<ul class=list>",
    "</ul>",
    "<span class=t>",
    "</span>",
    "<h4>",
    "</h4>",
    "<b>",
    "</b>",
    "2022-03-13 09:27",
    "3小时前",
    "<base href=\"/news/\">",
    "<base href=\"http://[::1\">",
    "<img data-original=//img.example.com/1.jpg src=\"data:image/gif;base64,AA\">",
    "<img src>",
    "<script>",
    "</script>",
    "<style>",
    "<!--",
    "-->",
    "<table>",
    "<tr>",
    "<td>",
    "</td>",
    "<template>",
    "<svg>",
    "<math>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&lt;",
    "&nbsp;",
    "<time datetime=\"2022-03-13T09:27:00+08:00\">",
    "<p>",
    "<select>",
    "<option>",
    "<frameset>",
    "<noscript>",
    "<html>",
    "<body>",
    "<head>",
    "<title>",
    "</title>",
    "<a title=",
    "\"",
    "'",
    "=",
    ">",
    "<",
    "</",
    " ",
    "\n",
    "标题",
    "Headline",
    "<li data-ts=1647134820>",
];

fn tag_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            8 => select(SOUP).prop_map(str::to_owned),
            1 => select(CASE_TRAPS).prop_map(str::to_owned),
            1 => any::<char>().prop_map(String::from),
        ],
        0..120,
    )
    .prop_map(|p| p.concat())
}

fn limit() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![2 => Just(None), 2 => (0usize..6).prop_map(Some), 1 => Just(Some(500))]
}

fn page_url() -> Url {
    Url::parse("https://news.example.com/list/index.html").unwrap_or_else(|e| panic!("{e}"))
}

/// The promises of `extract_page` on any page.
fn html_invariants(
    page: &str,
    rules: &HtmlRules,
    limit: Option<usize>,
) -> Result<(), TestCaseError> {
    let Ok(out) = extract_page(page, &page_url(), rules, limit) else {
        return Ok(());
    };
    prop_assert!(limit.is_none_or(|l| out.headlines.len() <= l));
    prop_assert_eq!(
        out.matched,
        out.headlines.len() + out.skipped_no_title + out.skipped_no_link
    );
    prop_assert!(!out.capped || limit == Some(out.headlines.len()));
    for h in &out.headlines {
        prop_assert!(!h.title.trim().is_empty(), "empty title in {:?}", h);
        let link = h.link.as_deref().unwrap_or_default();
        prop_assert!(
            Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
            "bad link {:?}",
            link
        );
    }
    Ok(())
}

fn html_pages(cases: u32, scale: u32) {
    check(
        "html: tag soup, generated selectors",
        cases * 45 / 100,
        scale,
        (tag_soup(), rule_spec(), limit(), 0usize..4),
        |(page, spec, limit, k)| {
            let rules = build_rules(&spec);
            html_invariants(&page, &rules, limit)?;
            // A limit keeps exactly a prefix of what an unlimited extraction finds.
            if let Ok(all) = extract_page(&page, &page_url(), &rules, None) {
                let some = extract_page(&page, &page_url(), &rules, Some(k));
                let some = some.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let n = k.min(all.headlines.len());
                prop_assert_eq!(&some.headlines[..], &all.headlines[..n]);
                if !some.capped {
                    prop_assert_eq!(some.matched, all.matched);
                }
            }
            Ok(())
        },
    );
    check(
        "html: tag soup, shipped selectors",
        cases / 10,
        scale,
        (tag_soup(), 0..SHIPPED_RULES.len(), limit()),
        |(page, r, limit)| html_invariants(&page, &SHIPPED_RULES[r], limit),
    );
    check(
        "html: deep nesting",
        (cases / 1000).max(4),
        scale,
        (
            10_000usize..20_000,
            select(&["div", "li", "b", "a href=/x", "span", "table"][..]),
            rule_spec(),
            limit(),
        ),
        |(depth, tag, spec, limit)| {
            let name = tag.split(' ').next().unwrap_or(tag);
            let page = format!(
                "<html><body>{}<a href=\"/deep\">deep</a>{}</body></html>",
                format!("<{tag}>x").repeat(depth),
                format!("</{name}>").repeat(depth)
            );
            let start = Instant::now();
            html_invariants(&page, &build_rules(&spec), limit)?;
            prop_assert!(
                start.elapsed() < Duration::from_secs(30),
                "{:?}",
                start.elapsed()
            );
            Ok(())
        },
    );
    check(
        "html: hostile shapes (open formatting, attributes, bare tags)",
        (cases / 500).max(8),
        scale,
        (0usize..5, 1usize..20_000, rule_spec(), limit()),
        |(shape, n, spec, limit)| {
            let body: String = (0..n)
                .map(|i| match shape {
                    0 => format!("<i class=\"c{i}\">"),
                    1 => format!(" a{i}"),
                    2 => "<i>x".to_string(),
                    3 => format!("<li><a href=\"/{i}\">{i}</a>"),
                    _ => "<p><b>".to_string(),
                })
                .collect();
            let page = match shape {
                1 => format!(
                    "<ul><li><a href=\"/0\">0</a></li><li{body}><a href=\"/1\">1</a></li></ul>"
                ),
                _ => format!("<ul><li><a href=\"/0\">0</a></li>{body}</ul>"),
            };
            let start = Instant::now();
            html_invariants(&page, &build_rules(&spec), limit)?;
            prop_assert!(
                start.elapsed() < Duration::from_secs(30),
                "{:?}",
                start.elapsed()
            );
            Ok(())
        },
    );
    if HTML_CORPUS.is_empty() {
        return;
    }
    check(
        "html: mutated corpus windows",
        cases * 45 / 100,
        scale,
        (
            0..HTML_CORPUS.len(),
            any::<usize>(),
            1usize..4096,
            proptest::collection::vec(mutation(), 0..6),
            prop_oneof![
                rule_spec().prop_map(Ok),
                (0..SHIPPED_RULES.len()).prop_map(Err)
            ],
            limit(),
        ),
        |(file, start, len, mutations, rules, limit)| {
            let page = mutate(window(&HTML_CORPUS[file].1, start, len), &mutations);
            let rules = match rules {
                Ok(spec) => build_rules(&spec),
                Err(i) => SHIPPED_RULES[i].clone(),
            };
            html_invariants(&page, &rules, limit)
        },
    );
}

#[test]
fn html_extraction_is_total() {
    html_pages(10_000, 1);
}

#[test]
fn html_whole_corpus_pages_mutated() {
    if HTML_CORPUS.is_empty() {
        return;
    }
    check(
        "html: whole mutated corpus pages",
        (HTML_CORPUS.len() * 2) as u32,
        1,
        (
            0..HTML_CORPUS.len(),
            proptest::collection::vec(mutation(), 0..16),
            0..SHIPPED_RULES.len(),
            limit(),
        ),
        |(file, mutations, r, limit)| {
            let page = mutate(&HTML_CORPUS[file].1, &mutations);
            html_invariants(&page, &SHIPPED_RULES[r], limit)
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Feeds
// ---------------------------------------------------------------------------------------------

/// Hostile field contents, as XML text (escaped when `escape`, raw otherwise).
const FEED_TEXT: &[&str] = &[
    "Council approves budget",
    "<b>bold</b> title",
    "&lt;b&gt;double&lt;/b&gt;",
    "&amp;amp;",
    "&#146;quoted&#146;",
    "â€™mojibake",
    "&#0;",
    "&#xD800;",
    "&#x110000;",
    "&#99999999999;",
    "&nbsp;",
    "&lol9;",
    "&xxe;",
    "<![CDATA[<p>cdata</p>]]>",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "/relative/1.html",
    "//cdn/x.jpg",
    "http://[::1",
    "https://news.example.com/a/1",
    "Tue, 14 May 2024 09:30:00 +0200",
    "2024-05-14T09:30:00Z",
    "99999999999天前",
    "0000-00-00",
    "İstanbul",
    "ẞ",
    "ﬃ",
    "\u{200B}",
    "\u{1}",
    "  ",
    "",
    "]]>",
    "<",
    "&",
    "标题",
    "data:text/html,x",
];

#[derive(Debug, Clone)]
struct ItemSpec {
    title: &'static str,
    description: &'static str,
    time: &'static str,
    extra: &'static str,
    /// Levels of nested extension elements inside the item.
    nest: usize,
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    let field = select(FEED_TEXT);
    (
        field.clone(),
        field.clone(),
        field.clone(),
        field,
        prop_oneof![8 => Just(0usize), 1 => 1usize..300, 1 => 2_000usize..5_000],
    )
        .prop_map(|(title, description, time, extra, nest)| ItemSpec {
            title,
            description,
            time,
            extra,
            nest,
        })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const DOCTYPES: &[&str] = &[
    "",
    "<!DOCTYPE rss [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\"><!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\"><!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\"><!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\"><!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\"><!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\"><!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">]>",
    "<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
    "<!DOCTYPE rss PUBLIC \"-//Netscape Communications//DTD RSS 0.91//EN\" \"http://my.netscape.com/publish/formats/rss-0.91.dtd\">",
    "<!DOCTYPE x [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x\"> %p;]>",
];

#[derive(Debug, Clone, Copy)]
enum Format {
    Rss2,
    Rdf,
    Atom,
    Atom03,
    Json,
}

/// A feed document of `format` whose items carry the given fields, escaped (well-formed) or
/// raw (often not). Every item has a link, so every item is a headline.
fn feed_doc(format: Format, doctype: &str, items: &[ItemSpec], escape: bool) -> String {
    let t = |s: &str| if escape { xml_escape(s) } else { s.to_string() };
    let nest = |n: usize| ("<x:n>".repeat(n), "</x:n>".repeat(n));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(doctype);
    match format {
        Format::Rss2 => {
            out.push_str("<rss version=\"2.0\" xmlns:x=\"urn:x\" xmlns:media=\"http://search.yahoo.com/mrss/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>T</title><link>https://news.example.com/</link>");
            for (i, it) in items.iter().enumerate() {
                let (open, close) = nest(it.nest);
                out.push_str(&format!(
                    "<item><title>{}</title><link>https://news.example.com/a/{i}</link><description>{}</description><pubDate>{}</pubDate><guid isPermaLink=\"{}\">{}</guid><category>{}</category><dc:creator>{}</dc:creator><media:thumbnail url=\"{}\"/>{open}{}{close}</item>",
                    t(it.title), t(it.description), t(it.time), i % 2 == 0, t(it.extra), t(it.extra), t(it.title), xml_escape(it.extra).replace('"', "&quot;"), t(it.extra)
                ));
            }
            out.push_str("</channel></rss>");
        }
        Format::Rdf => {
            out.push_str("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\" xmlns:x=\"urn:x\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel rdf:about=\"https://news.example.com/\"><title>T</title><link>https://news.example.com/</link></channel>");
            for (i, it) in items.iter().enumerate() {
                let (open, close) = nest(it.nest);
                out.push_str(&format!(
                    "<item rdf:about=\"https://news.example.com/a/{i}\"><title>{}</title><link>https://news.example.com/a/{i}</link><description>{}</description><dc:date>{}</dc:date><dc:subject>{}</dc:subject>{open}{}{close}</item>",
                    t(it.title), t(it.description), t(it.time), t(it.extra), t(it.extra)
                ));
            }
            out.push_str("</rdf:RDF>");
        }
        Format::Atom | Format::Atom03 => {
            let ns = match format {
                Format::Atom03 => "http://purl.org/atom/ns#",
                _ => "http://www.w3.org/2005/Atom",
            };
            out.push_str(&format!("<feed xmlns=\"{ns}\" xmlns:x=\"urn:x\" xml:base=\"https://news.example.com/base/\"><title type=\"html\">T</title><link href=\"/\"/>"));
            for (i, it) in items.iter().enumerate() {
                let (open, close) = nest(it.nest);
                let mode = ["xhtml", "html", "text", "base64", "escaped"][i % 5];
                out.push_str(&format!(
                    "<entry xml:base=\"{}\"><title type=\"{mode}\" mode=\"{mode}\">{}</title><link rel=\"alternate\" href=\"https://news.example.com/a/{i}\"/><id>urn:{i}</id><published>{}</published><issued>{}</issued><updated>{}</updated><summary type=\"html\">{}</summary><content type=\"{mode}\" mode=\"{mode}\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div></content><category term=\"{}\"/>{open}{}{close}</entry>",
                    xml_escape(it.extra).replace('"', "&quot;"), t(it.title), t(it.time), t(it.time), t(it.time), t(it.description), t(it.description), xml_escape(it.extra).replace('"', "&quot;"), t(it.extra)
                ));
            }
            out.push_str("</feed>");
        }
        Format::Json => {
            let j = |s: &str| serde_json::Value::String(s.to_string()).to_string();
            let items: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, it)| {
                    format!(
                        "{{\"id\":{},\"url\":\"https://news.example.com/a/{i}\",\"title\":{},\"content_html\":{},\"summary\":{},\"date_published\":{},\"tags\":[{},1,null],\"image\":{},\"x\":{}0{}}}",
                        if i % 2 == 0 { i.to_string() } else { j(it.extra) },
                        j(it.title), j(it.description), j(it.extra), j(it.time), j(it.extra), j(it.extra),
                        "[".repeat(it.nest.min(100)), "]".repeat(it.nest.min(100))
                    )
                })
                .collect();
            out = format!(
                "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"T\",\"items\":[{}]}}",
                items.join(",")
            );
        }
    }
    out
}

fn feed_format() -> impl Strategy<Value = Format> {
    select(
        &[
            Format::Rss2,
            Format::Rdf,
            Format::Atom,
            Format::Atom03,
            Format::Json,
        ][..],
    )
}

fn feed_url() -> Url {
    Url::parse("https://news.example.com/feeds/main.xml").unwrap_or_else(|e| panic!("{e}"))
}

/// The promises of the feed parser on any document, limited or not.
fn feed_invariants(text: &str, limit: Option<usize>) -> Result<(), TestCaseError> {
    let start = Instant::now();
    let got = parse_feed_limited(text, &feed_url(), limit);
    let took = start.elapsed();
    prop_assert!(took < Duration::from_secs(20), "took {:?}", took);
    if let Ok(feed) = got {
        prop_assert!(limit.is_none_or(|l| feed.headlines.len() <= l));
        for h in &feed.headlines {
            prop_assert!(!h.title.is_empty() || h.link.is_some(), "{:?}", h);
            prop_assert!(
                !h.title.contains("lollollol"),
                "entity expanded: {:?}",
                h.title
            );
            prop_assert!(!h.title.contains("root:"), "external entity read");
            prop_assert!(!h.title.chars().any(char::is_control));
            if let Some(link) = &h.link {
                prop_assert!(Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https")));
            }
        }
    }
    Ok(())
}

/// One item (or entry) with `n` of something: attributes, categories, extension elements,
/// tags, nested markup in the title, escaped markup in the summary, namespace declarations.
fn oversized_feed(shape: usize, n: usize) -> String {
    let rss = |item_attrs: &str, body: &str| {
        format!("<rss xmlns:x=\"urn:x\"><channel><item{item_attrs}><title>t</title><link>/1</link>{body}</item></channel></rss>")
    };
    let many = |f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<String>();
    match shape {
        0 => rss(&many(&|i| format!(" a{i}=\"\"")), ""),
        1 => rss("", &many(&|i| format!("<category>c{}</category>", i % 1000))),
        2 => format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>t</title><link href=\"/1\"/>{}</entry></feed>",
            many(&|i| format!("<category term=\"c{i}\"/>"))
        ),
        3 => rss("", &many(&|i| format!("<x:a{}/>", i % 100))),
        4 => format!(
            "{{\"version\":\"https://jsonfeed.org/version/1\",\"items\":[{{\"url\":\"/1\",\"title\":\"t\",\"tags\":[{}]}}]}}",
            (0..n).map(|i| format!("\"c{i}\"")).collect::<Vec<_>>().join(",")
        ),
        5 => format!(
            "<rss><channel><item><title>{}</title><link>/1</link></item></channel></rss>",
            "<b>x</b>".repeat(n)
        ),
        6 => rss("", &format!("<description>{}</description>", "&lt;b&gt;x&lt;/b&gt;".repeat(n))),
        _ => format!(
            "<rss{}><channel><item><title>t</title><link>/1</link></item></channel></rss>",
            many(&|i| format!(" xmlns:p{i}=\"u{i}\""))
        ),
    }
}

fn feeds(cases: u32, scale: u32) {
    check(
        "feed: generated hostile documents",
        cases * 4 / 10,
        scale,
        (
            feed_format(),
            select(DOCTYPES),
            proptest::collection::vec(item_spec(), 0..6),
            any::<bool>(),
            limit(),
            0usize..8,
        ),
        |(format, doctype, items, escape, limit, k)| {
            let doc = feed_doc(format, doctype, &items, escape);
            feed_invariants(&doc, limit)?;
            // On well-formed documents a limit keeps exactly a prefix of the headlines.
            if escape && doctype.is_empty() {
                let all = parse_feed(&doc, &feed_url());
                prop_assert!(all.is_ok(), "{:?} rejected: {:?}", format, all.err());
                let all = all.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(all.headlines.len(), items.len());
                let some = parse_feed_limited(&doc, &feed_url(), Some(k))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let n = k.min(all.headlines.len());
                prop_assert_eq!(&some.headlines[..], &all.headlines[..n]);
            }
            Ok(())
        },
    );
    check(
        "feed: mutated generated documents",
        cases / 10,
        scale,
        (
            feed_format(),
            proptest::collection::vec(item_spec(), 1..4),
            proptest::collection::vec(mutation(), 1..6),
            limit(),
        ),
        |(format, items, mutations, limit)| {
            let doc = mutate(&feed_doc(format, "", &items, true), &mutations);
            feed_invariants(&doc, limit)
        },
    );
    check(
        "feed: arbitrary text",
        cases / 10,
        scale,
        (
            prop_oneof![
                any_text(64),
                any_text(64).prop_map(|t| format!("<rss><channel><item>{t}")),
                any_text(64).prop_map(|t| format!("{{\"version\":\"jsonfeed.org\",\"items\":[{t}")),
                any_text(64).prop_map(|t| format!(
                    "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>{t}"
                )),
            ],
            limit(),
        ),
        |(text, limit)| feed_invariants(&text, limit),
    );
    check(
        "feed: oversized shapes (many attributes, categories, extensions, nested markup)",
        (cases / 500).max(8),
        scale,
        (0usize..8, 1usize..20_000),
        |(shape, n)| {
            let doc = oversized_feed(shape, n);
            feed_invariants(&doc, Some(500))?;
            if let Ok(feed) = parse_feed(&doc, &feed_url()) {
                for h in &feed.headlines {
                    prop_assert!(h.labels.len() <= headwire::extract::MAX_LABELS);
                }
            }
            Ok(())
        },
    );
    if FEED_CORPUS.is_empty() {
        return;
    }
    check(
        "feed: truncated and mutated corpus feeds",
        cases * 3 / 10,
        scale,
        (
            0..FEED_CORPUS.len(),
            1usize..4096,
            proptest::collection::vec(mutation(), 0..4),
            limit(),
        ),
        |(file, len, mutations, limit)| {
            let doc = mutate(window(&FEED_CORPUS[file].1, 0, len), &mutations);
            feed_invariants(&doc, limit)
        },
    );
    check(
        "feed: whole mutated corpus feeds",
        cases / 10,
        scale,
        (
            0..FEED_CORPUS.len(),
            proptest::collection::vec(mutation(), 0..8),
            limit(),
        ),
        |(file, mutations, limit)| {
            let doc = mutate(&FEED_CORPUS[file].1, &mutations);
            feed_invariants(&doc, limit)
        },
    );
}

#[test]
fn feeds_are_total() {
    feeds(10_000, 1);
}

#[test]
fn deep_feeds_do_not_overflow_the_stack() {
    // The rss crate reads extension elements recursively; 100,000 levels would overflow the
    // stack of a poll task (an abort that no catch_unwind can stop).
    for (depth, expect) in [(200, Some(1)), (16_000, Some(1)), (100_000, None)] {
        let doc = format!(
            "<rss version=\"2.0\" xmlns:x=\"urn:x\"><channel><item><title>t</title><link>https://news.example.com/1</link>{}{}</item></channel></rss>",
            "<x:n>".repeat(depth),
            "</x:n>".repeat(depth)
        );
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                parse_feed(&doc, &feed_url())
                    .map(|f| f.headlines.len())
                    .ok()
            });
        let got = handle.map(|h| h.join());
        // Up to MAX_NESTING levels the deep part is flattened, beyond it the document is
        // rejected (quick-xml's namespace reader cannot count that deep).
        assert!(
            matches!(&got, Ok(Ok(n)) if *n == expect),
            "depth {depth}: {got:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

const CONFIG_LINES: &[&str] = &[
    "[server]",
    "listen = \"127.0.0.1:8080\"",
    "listen = \"[::1\"",
    "base_url = \"http://localhost:8080\"",
    "base_url = \"javascript:x\"",
    "[store]",
    "path = \"data\"",
    "path = \"\"",
    "title_window = \"6h\"",
    "title_window = \"99999999999999999999d\"",
    "[poll]",
    "concurrency = 0",
    "concurrency = -1",
    "per_host = 99999999999999999999",
    "[[source]]",
    "id = \"s\"",
    "id = \"\"",
    "id = \"a/b\"",
    "id = \"İ\"",
    "name = \"观察者网\"",
    "url = \"https://www.example.com/\"",
    "url = \"not a url\"",
    "timezone = \"Asia/Shanghai\"",
    "timezone = \"Nowhere/Atlantis\"",
    "timezone = \"ſ\"",
    "interval = \"10m\"",
    "interval = \"0s\"",
    "interval = \"-1s\"",
    "interval = \"1.5h\"",
    "interval = 10",
    "strip_params = [\"s\", \"\", \"İ\"]",
    "canonical = \"/(\\\\d+)\\\\.html\"",
    "canonical = \"(\"",
    "canonical = \"(a+)+$\"",
    "keep_days = 0",
    "keep_days = 1e400",
    "keep_items = -5",
    "headers = { \"User-Agent\" = \"x\\r\\nInjected: 1\" }",
    "headers = { \"\" = \"\" }",
    "[[source.section]]",
    "id = \"sec\"",
    "name = \"要闻\"",
    "kind = \"feed\"",
    "kind = \"html\"",
    "kind = \"bogus\"",
    "item = \"ul > li\"",
    "item = \"ul >> li\"",
    "item = [\"li\", \"div[[\"]",
    "item = []",
    "item = \"\"",
    "title = \"a\"",
    "title = \"a@\"",
    "title = \"@\"",
    "title = [\"h4 a\", \"@title\"]",
    "link = \"a@href\"",
    "time = \"span.t\"",
    "time = \"@data-ts\"",
    "label = \"a.k\"",
    "image = \"img@data-original\"",
    "summary = \"p\"",
    "author = \"span.a\"",
    "time_format = \"%Y-%m-%d %H:%M\"",
    "time_format = \"%Q\"",
    "time_format = \"%\"",
    "limit = 40",
    "limit = 0",
    "limit = -1",
    "limit = 9223372036854775807",
    "limit = 9223372036854775808",
    "limit = 1e308",
    "limit = \"40\"",
    "a.b.c = 1",
    "x = [[[[1]]]]",
    "= 1",
    "[",
    "]]",
    "\"\"\"",
    "'''",
    "#",
    "\\u0000",
    "key = \"\\uD800\"",
];

fn config_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            10 => select(CONFIG_LINES).prop_map(str::to_owned),
            1 => any_text(24),
        ],
        0..40,
    )
    .prop_map(|lines| lines.join("\n"))
}

static SHIPPED_CONFIG: LazyLock<String> = LazyLock::new(|| {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/feeds.toml"))
        .unwrap_or_else(|e| panic!("feeds.toml: {e}"))
});

fn configs(cases: u32, scale: u32) {
    let path = Path::new("/nonexistent/headwire/feeds.toml");
    check(
        "config: TOML-ish text",
        cases / 2,
        scale,
        config_text(),
        |text| {
            let _ = Config::parse(&text, path);
            Ok(())
        },
    );
    check(
        "config: mutated shipped feeds.toml",
        cases / 2,
        scale,
        proptest::collection::vec((any::<usize>(), select(CONFIG_LINES), any::<bool>()), 1..4),
        |edits| {
            // Replace or insert whole lines of the shipped file (line-level mutations keep most
            // of it valid, so validation runs deep).
            let mut lines: Vec<&str> = SHIPPED_CONFIG.lines().collect();
            for (at, line, replace) in &edits {
                let i = at % (lines.len() + 1);
                if *replace && i < lines.len() {
                    lines[i] = line;
                } else {
                    lines.insert(i, line);
                }
            }
            let _ = Config::parse(&lines.join("\n"), path);
            Ok(())
        },
    );
}

#[test]
fn config_parsing_is_total() {
    configs(10_000, 1);
}

// ---------------------------------------------------------------------------------------------
// Long run
// ---------------------------------------------------------------------------------------------

/// Every property with 100 times its default cases. Meant for a release build:
/// `cargo test --release --test parsers_total -- --ignored`.
#[test]
#[ignore = "long run: cargo test --release --test parsers_total -- --ignored"]
fn long_run() {
    time_text(12_000, 100);
    durations(10_000, 100);
    text_folding(10_000, 100);
    links(10_000, 100);
    charsets(12_000, 100);
    html_pages(10_000, 100);
    feeds(10_000, 100);
    configs(10_000, 100);
}
