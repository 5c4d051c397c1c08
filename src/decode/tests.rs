//! The charset decision as a table, plus the cases a table does not show well.

use std::borrow::Cow;

use super::*;
use encoding_rs::{
    Encoding, BIG5, GB18030, GBK, SHIFT_JIS, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252,
};

const ZH_HANS: &str = "新华社北京电 国务院总理朱镕基今天在人民大会堂会见了来访的代表团。双方就经济合作、科技交流和文化往来等问题深入交换了意见。记者陶喆报道：今年以来，全国经济运行总体平稳，消费市场持续回暖，就业形势保持稳定。";
const ZH_HANT: &str = "中央社台北電 行政院今天召開院會，通過多項經濟振興方案，預計將帶動國內投資與消費。專家表示，臺灣產業結構正在轉型，政府應該加強對中小企業的支援，並且持續推動數位發展與綠色能源。";
const JA: &str = "東京都は今日、新しい防災計画を発表しました。この計画では、地震や台風などの自然災害に備えて、住民への情報提供を強化することが盛り込まれています。知事は記者会見で「安全な街づくりを進めたい」と述べました。";

fn page(head: &str, body: &str) -> String {
    format!("<!DOCTYPE html>\n<html><head>{head}<title>news</title></head>\n<body><p>{body}</p></body></html>\n")
}

fn encode(encoding: &'static Encoding, text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding.encode(text);
    assert!(
        !unmappable,
        "fixture not representable in {}",
        encoding.name()
    );
    bytes.into_owned()
}

fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for unit in std::iter::once(0xFEFF)
        .filter(|_| bom)
        .chain(text.encode_utf16())
    {
        out.extend_from_slice(&if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    out
}

/// How a table row turns its text into fetched bytes.
#[derive(Clone, Copy)]
enum Bytes {
    /// Plain UTF-8.
    Utf8,
    /// UTF-8 with a BOM.
    Utf8Bom,
    /// UTF-16, little-endian?, with a BOM?
    Utf16(bool, bool),
    /// encoding_rs's encoder for this encoding (must be able to represent the text).
    In(&'static Encoding),
}

/// Expected (encoding, source, overridden).
type Expect = (&'static Encoding, CharsetSource, bool);

struct Row {
    name: &'static str,
    content_type: Option<&'static str>,
    kind: DocKind,
    text: String,
    bytes: Bytes,
    expect: Expect,
}

fn html(head: &str, body: &str) -> (DocKind, String) {
    (DocKind::Html, page(head, body))
}

fn feed(declaration: &str, title: &str) -> (DocKind, String) {
    let text = format!("{declaration}\n<rss version=\"2.0\"><channel><item><title>{title}</title></item></channel></rss>\n");
    (DocKind::Xml, text)
}

fn json(title: &str) -> (DocKind, String) {
    (
        DocKind::Json,
        format!(r#"{{"version": "https://jsonfeed.org/version/1.1", "title": "{title}"}}"#),
    )
}

/// The charset decision table: name, Content-Type, document, how it is
/// encoded, expected (encoding, source, overridden).
#[rustfmt::skip]
fn rows() -> Vec<Row> {
    use Bytes::*;
    use CharsetSource::*;
    const LATIN: &str = "Crème brûlée, naïve café, Grüße aus Köln";
    const ASCII: &str = "Plain ASCII headline";
    let pad = format!("<!-- {} -->", "x".repeat(1100));
    let table: Vec<(_, _, (DocKind, String), _, Expect)> = vec![
        ("utf-8 BOM beats header and meta", Some("text/html; charset=gbk"), html(r#"<meta charset="gb2312">"#, ZH_HANS), Utf8Bom, (UTF_8, Bom, false)),
        ("utf-8 BOM beats windows-1252 header", Some("text/html; charset=windows-1252"), html("", LATIN), Utf8Bom, (UTF_8, Bom, false)),
        ("utf-16le BOM beats header and meta", Some("text/html; charset=big5"), html(r#"<meta charset="big5">"#, ZH_HANT), Utf16(true, true), (UTF_16LE, Bom, false)),
        ("utf-16be BOM feed", None, feed(r#"<?xml version="1.0" encoding="big5"?>"#, ZH_HANT), Utf16(false, true), (UTF_16BE, Bom, false)),
        ("header gbk beats meta big5", Some("text/html; charset=GBK"), html(r#"<meta charset="big5">"#, ZH_HANS), In(GBK), (GB18030, HttpHeader, false)),
        ("header big5 beats meta gbk", Some(r#"text/html;charset="Big5""#), html(r#"<meta charset="gbk">"#, ZH_HANT), In(BIG5), (BIG5, HttpHeader, false)),
        ("lying meta gb2312 over utf-8 bytes", None, html(r#"<meta http-equiv="Content-Type" content="text/html; charset=gb2312">"#, ZH_HANS), Utf8, (UTF_8, Detected, true)),
        ("lying header gbk over utf-8 bytes", Some("text/html; charset=gbk"), html(r#"<meta charset="utf-8">"#, ZH_HANS), Utf8, (UTF_8, Detected, true)),
        ("lying header utf-8 over GBK bytes", Some("text/html; charset=utf-8"), html(r#"<meta charset="utf-8">"#, ZH_HANS), In(GBK), (GB18030, Detected, true)),
        ("real GBK declared gb2312 keeps 镕/喆", None, html(r#"<meta charset="gb2312">"#, ZH_HANS), In(GBK), (GB18030, MetaTag, false)),
        ("undeclared GBK detected", None, html("", ZH_HANS), In(GB18030), (GB18030, Detected, false)),
        ("undeclared Big5 detected", None, html("", ZH_HANT), In(BIG5), (BIG5, Detected, false)),
        ("Big5 feed with XML declaration", Some("application/rss+xml"), feed(r#"<?xml version="1.0" encoding="BIG5"?>"#, ZH_HANT), In(BIG5), (BIG5, XmlDeclaration, false)),
        ("feed header charset beats XML declaration", Some("text/xml; charset=big5"), feed(r#"<?xml version="1.0" encoding="gb2312"?>"#, ZH_HANT), In(BIG5), (BIG5, HttpHeader, false)),
        ("lying XML declaration gb2312 over utf-8", None, feed(r#"<?xml version='1.0' encoding='gb2312'?>"#, ZH_HANS), Utf8, (UTF_8, Detected, true)),
        ("latin-1 feed XML declaration", None, feed(r#"<?xml version="1.0" encoding="ISO-8859-1"?>"#, LATIN), In(WINDOWS_1252), (WINDOWS_1252, XmlDeclaration, false)),
        ("UTF-16LE feed without BOM", None, feed(r#"<?xml version="1.0"?>"#, LATIN), Utf16(true, false), (UTF_16LE, Detected, false)),
        ("Shift_JIS declared in meta", None, html(r#"<meta charset="Shift_JIS">"#, JA), In(SHIFT_JIS), (SHIFT_JIS, MetaTag, false)),
        ("Shift_JIS undeclared", None, html("", JA), In(SHIFT_JIS), (SHIFT_JIS, Detected, false)),
        ("http-equiv form, content attribute first", None, html(r#"<meta content="text/html; charset=gb2312" http-equiv="Content-Type">"#, ZH_HANS), In(GBK), (GB18030, MetaTag, false)),
        ("content charset without http-equiv ignored", None, html(r#"<meta content="text/html; charset=big5">"#, ZH_HANS), Utf8, (UTF_8, Detected, false)),
        ("meta after 1024 bytes ignored", None, html(&format!(r#"{pad}<meta charset="gbk">"#), ZH_HANS), Utf8, (UTF_8, Detected, false)),
        ("meta in comment ignored, bare upper-case meta used", None, html(r#"<!-- <meta charset="big5"> --><META CHARSET=GBK>"#, ZH_HANS), In(GBK), (GB18030, MetaTag, false)),
        ("unknown header label falls through to meta", Some("text/html; charset=x-klingon"), html(r#"<meta charset="gbk">"#, ZH_HANS), In(GBK), (GB18030, MetaTag, false)),
        ("unknown meta label falls through to next meta", None, html(r#"<meta charset="klingon"><meta charset=big5>"#, ZH_HANT), In(BIG5), (BIG5, MetaTag, false)),
        ("unknown meta label falls through to detection", None, html(r#"<meta charset="klingon">"#, ZH_HANS), In(GBK), (GB18030, Detected, false)),
        ("meta utf-16 means utf-8", None, html(r#"<meta charset="utf-16">"#, ZH_HANS), Utf8, (UTF_8, MetaTag, false)),
        ("latin-1 meta is windows-1252", None, html(r#"<meta charset="iso-8859-1">"#, LATIN), In(WINDOWS_1252), (WINDOWS_1252, MetaTag, false)),
        ("ASCII with windows-1252 meta", None, html(r#"<meta charset="windows-1252">"#, ASCII), Utf8, (WINDOWS_1252, MetaTag, false)),
        ("ASCII only", None, html("", ASCII), Utf8, (UTF_8, Default, false)),
        ("empty input", None, (DocKind::Html, String::new()), Utf8, (UTF_8, Default, false)),
        ("JSON without charset is UTF-8", Some("application/feed+json"), json(ZH_HANS), Utf8, (UTF_8, Default, false)),
        ("JSON with gbk header", Some("application/json; charset=gbk"), json(ZH_HANS), In(GBK), (GB18030, HttpHeader, false)),
        ("JSON ignores meta-like text", None, json(r#"<meta charset=big5>"#), Utf8, (UTF_8, Default, false)),
    ];
    table
        .into_iter()
        .map(|(name, content_type, (kind, text), bytes, expect)| Row { name, content_type, kind, text, bytes, expect })
        .collect()
}

fn to_bytes(text: &str, how: Bytes) -> Vec<u8> {
    match how {
        Bytes::Utf8 => text.as_bytes().to_vec(),
        Bytes::Utf8Bom => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        Bytes::Utf16(little_endian, bom) => utf16(text, little_endian, bom),
        Bytes::In(encoding) => encode(encoding, text),
    }
}

#[test]
fn charset_decisions() {
    let rows = rows();
    assert!(rows.len() >= 20);
    for r in &rows {
        let d = decode(&to_bytes(&r.text, r.bytes), r.content_type, r.kind);
        println!("{:<55} {}", r.name, d.explain());
        let (encoding, source, overridden) = r.expect;
        let why = format!("{}: {}", r.name, d.explain());
        assert_eq!(d.encoding, encoding, "{why}");
        assert_eq!(d.source, source, "{why}");
        assert_eq!(d.overridden, overridden, "{why}");
        assert_eq!(d.overridden, d.override_reason.is_some(), "{why}");
        assert_eq!(d.replacements, 0, "{why}");
        assert!(
            d.text == r.text,
            "{why}: text differs:\n{}\nvs\n{}",
            d.text,
            r.text
        );
    }
}

#[test]
fn gbk_only_characters_survive() {
    let t = page(r#"<meta charset="gb2312">"#, "朱镕基 陶喆 燚");
    let d = decode(&encode(GBK, &t), None, DocKind::Html);
    assert!(d.text.contains("朱镕基") && d.text.contains("陶喆") && d.text.contains('燚'));
    assert_eq!(d.explain(), "gb18030 from <meta charset=gb2312>");
}

#[test]
fn stray_byte_keeps_declared_utf8() {
    let t = page(r#"<meta charset="utf-8">"#, &ZH_HANS.repeat(3));
    let at = t.find('。').expect("fixture has a full stop");
    let mut bytes = t.into_bytes();
    bytes.insert(at, 0xFF);
    for content_type in [None, Some("text/html; charset=utf-8")] {
        let d = decode(&bytes, content_type, DocKind::Html);
        assert_eq!(d.encoding, UTF_8);
        assert!(!d.overridden);
        assert_eq!(d.replacements, 1);
        assert!(d.text.contains("朱镕基"));
    }
    // Undeclared: still UTF-8 rather than chardetng's legacy guess.
    let bytes_no_meta = {
        let t = page("", &ZH_HANS.repeat(3));
        let at = t.find('。').expect("fixture has a full stop");
        let mut b = t.into_bytes();
        b.insert(at, 0xFF);
        b
    };
    let d = decode(&bytes_no_meta, None, DocKind::Html);
    assert_eq!(
        (d.encoding, d.source, d.replacements),
        (UTF_8, CharsetSource::Detected, 1)
    );
}

#[test]
fn truncated_utf8_page_declared_gb2312_is_utf8() {
    let t = page(r#"<meta charset="gb2312">"#, ZH_HANS);
    let bytes = &t.as_bytes()[..t.find('。').expect("full stop") + 1];
    let d = decode(bytes, None, DocKind::Html);
    assert_eq!(
        (d.encoding, d.source, d.override_reason),
        (
            UTF_8,
            CharsetSource::Detected,
            Some(OverrideReason::ValidUtf8)
        )
    );
    assert_eq!(d.replacements, 1);
    assert!(d.text.contains("朱镕基"));
    assert_eq!(
        d.explain(),
        "utf-8 (declared gb2312 in <meta>, but the bytes are UTF-8 apart from 1 U+FFFD)"
    );
}

#[test]
fn stray_byte_keeps_declared_big5() {
    let t = page(r#"<meta charset="big5">"#, &ZH_HANT.repeat(3));
    let mut bytes = encode(BIG5, &t);
    bytes.push(0xFF);
    let d = decode(&bytes, None, DocKind::Html);
    assert_eq!(
        (d.encoding, d.source, d.overridden),
        (BIG5, CharsetSource::MetaTag, false)
    );
    assert_eq!(d.replacements, 1);
    assert!(d.explain().ends_with(", 1 U+FFFD"), "{}", d.explain());
}

#[test]
fn explanations() {
    let t = page(r#"<meta charset="gb2312">"#, ZH_HANS);
    let d = decode(t.as_bytes(), None, DocKind::Html);
    assert_eq!(d.declared.as_deref(), Some("gb2312"));
    assert_eq!(d.declared_in, Some(CharsetSource::MetaTag));
    assert_eq!(d.override_reason, Some(OverrideReason::ValidUtf8));
    assert_eq!(
        d.explain(),
        "utf-8 (declared gb2312 in <meta>, but the bytes are valid UTF-8)"
    );

    let d = decode(
        &encode(GBK, &t),
        Some("text/html; charset=UTF-8"),
        DocKind::Html,
    );
    assert!(
        matches!(d.override_reason, Some(OverrideReason::FewerReplacements { declared }) if declared > 0)
    );
    assert!(
        d.explain()
            .starts_with("gb18030 (declared utf-8 in the Content-Type header, but it produced"),
        "{}",
        d.explain()
    );

    assert_eq!(CharsetSource::HttpHeader.to_string(), "http header");
    assert_eq!(CharsetSource::Bom.to_string(), "byte-order mark");
    assert_eq!(
        decode(b"", None, DocKind::Html).explain(),
        "utf-8 by default (nothing declared, nothing to detect)"
    );
}

#[test]
fn content_type_parsing() {
    assert_eq!(
        charset_from_content_type("text/html; charset=gbk"),
        Some("gbk")
    );
    assert_eq!(
        charset_from_content_type("text/html;charset=GB2312"),
        Some("GB2312")
    );
    assert_eq!(
        charset_from_content_type(r#"text/xml; format="a;b"; Charset="Big5" "#),
        Some("Big5")
    );
    assert_eq!(
        charset_from_content_type("text/html; foo; charset = utf-8 ; x=y"),
        Some("utf-8")
    );
    assert_eq!(charset_from_content_type("text/html"), None);
    assert_eq!(charset_from_content_type("text/html; charset="), None);
    assert_eq!(charset_from_content_type("text/html; charset=\"\""), None);
    assert_eq!(
        charset_from_content_type("application/atom+xml;charset='gb2312'"),
        Some("gb2312")
    );
    assert_eq!(
        charset_from_content_type("text/rss+xml;charset= \"us-ascii\""),
        Some("us-ascii")
    );
    assert_eq!(
        charset_from_content_type("text/xml; charset:iso-8859-1"),
        None
    );
}

#[test]
fn labels() {
    for label in [
        "gb2312",
        "GBK",
        "x-gbk",
        "gb_2312-80",
        "GB18030",
        " chinese ",
    ] {
        assert_eq!(resolve_label(label), Some(GB18030), "{label}");
    }
    assert_eq!(
        resolve_label("iso-2022-kr"),
        None,
        "replacement encoding is ignored"
    );
    assert_eq!(resolve_label("klingon"), None);
}

#[test]
fn xml_declaration_stripping() {
    let cases = [
        (
            r#"<?xml version="1.0" encoding="GB2312"?><rss/>"#,
            r#"<?xml version="1.0" encoding="utf-8"?><rss/>"#,
        ),
        (
            "\u{feff}\n<?xml version='1.0' encoding = 'big5' standalone='yes'?><a/>",
            "\u{feff}\n<?xml version='1.0' encoding = \"utf-8\" standalone='yes'?><a/>",
        ),
        (
            r#"<?xml version="1.0" encoding="UTF-8"?><rss/>"#,
            r#"<?xml version="1.0" encoding="UTF-8"?><rss/>"#,
        ),
        (
            r#"<?xml version="1.0"?><rss encoding="gbk"/>"#,
            r#"<?xml version="1.0"?><rss encoding="gbk"/>"#,
        ),
        (
            r#"<rss><?xml version="1.0" encoding="gbk"?></rss>"#,
            r#"<rss><?xml version="1.0" encoding="gbk"?></rss>"#,
        ),
        ("", ""),
    ];
    for (input, expected) in cases {
        let out = strip_xml_encoding_declaration(input);
        assert_eq!(out, expected);
        assert_eq!(
            matches!(out, Cow::Borrowed(_)),
            input == expected,
            "{input}"
        );
    }
}

// --- corpus sweeps -----------------------------------------------------

/// Rows of a MANIFEST.tsv as maps from column name to value.
fn manifest(dir: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let tsv = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().expect("header row").split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split('\t').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn corpus_dir(sub: &str) -> Option<std::path::PathBuf> {
    let dir =
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")).join(sub);
    if dir.join("MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        // Under CI the corpus is part of the checkout's surroundings: missing is a failure.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "corpus {} is missing under CI=true",
            dir.display()
        );
        println!("corpus {} absent; skipping sweep", dir.display());
        None
    }
}

#[test]
fn html_corpus_sweep() {
    let Some(dir) = corpus_dir("html") else {
        return;
    };
    let mut failures = Vec::new();
    let rows = manifest(&dir);
    assert!(!rows.is_empty());
    for r in &rows {
        let path = &r["local_path"];
        let bytes = std::fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let d = decode(&bytes, None, DocKind::Html);
        println!(
            "{path}\t{}\t{}\toverridden={}\tU+FFFD={}",
            d.encoding.name(),
            d.source,
            d.overridden,
            d.replacements
        );
        // Every file in this corpus is clean in its real encoding (the manifest
        // notes describe declaration problems, never broken bytes), so no exemptions.
        if d.replacements != 0 {
            failures.push(format!(
                "{path}: {} U+FFFD ({})",
                d.replacements,
                d.explain()
            ));
        }
        let family_ok = match r["actual_bytes"].to_ascii_lowercase().as_str() {
            "utf-8" => d.encoding == UTF_8,
            "ascii" => {
                d.encoding == UTF_8 || (d.encoding.is_ascii_compatible() && bytes.is_ascii())
            }
            "gb2312" | "gbk" | "gb18030" => d.encoding == GB18030 || d.encoding == GBK,
            "big5" => d.encoding == BIG5,
            other => panic!("{path}: unexpected actual_bytes {other:?}"),
        };
        if !family_ok {
            failures.push(format!(
                "{path}: actual {} but decided {}",
                r["actual_bytes"],
                d.explain()
            ));
        }
        if r["mismatch"] == "MISMATCH" && !d.overridden {
            failures.push(format!(
                "{path}: declaration mismatch not overridden ({})",
                d.explain()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Feeds whose bytes are invalid in their declared encoding, so U+FFFD is
/// the honest result. `bytes_check` cannot tell: its values are
/// `utf8-valid`, `not-utf8` (legacy encodings, clean) and `utf16/32-BOM`.
const BROKEN_FEEDS: &[(&str, &str)] = &[(
    "kurtmckee-feedparser/tests/encoding/bozo_linenoise.xml",
    "feedparser's \"unguessable characters\" case: declares utf-8, has two valid \
     UTF-8 quotes and then a lone 0xA9; kept as UTF-8 with 1 U+FFFD",
)];

/// The `Content-type` that a feedparser test case says it is served with
/// (a `Header: Content-type: ...` line in its leading comment).
fn feedparser_content_type(bytes: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]);
    head.lines().find_map(|line| {
        let header = line.trim().strip_prefix("Header:")?.trim();
        let (name, value) = header.split_once(':')?;
        name.eq_ignore_ascii_case("content-type")
            .then(|| value.trim().to_owned())
    })
}

#[test]
fn feeds_corpus_sweep() {
    let Some(dir) = corpus_dir("feeds") else {
        return;
    };
    let mut failures = Vec::new();
    let rows = manifest(&dir);
    assert!(!rows.is_empty());
    let (mut clean, mut with_header) = (0, 0);
    for r in &rows {
        let path = &r["local_path"];
        let bytes = std::fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let content_type = feedparser_content_type(&bytes);
        with_header += usize::from(content_type.is_some());
        let d = decode(&bytes, content_type.as_deref(), DocKind::Xml);
        println!(
            "{path}\txml_decl={}\t{}\theader={}\t{}\t{}\toverridden={}\tU+FFFD={}",
            r["xml_decl_encoding"],
            r["bytes_check"],
            content_type.as_deref().unwrap_or("-"),
            d.encoding.name(),
            d.source,
            d.overridden,
            d.replacements
        );
        if d.replacements == 0 {
            clean += 1;
        } else if !BROKEN_FEEDS.iter().any(|(p, _)| p == path) {
            failures.push(format!(
                "{path}: {} U+FFFD ({})",
                d.replacements,
                d.explain()
            ));
        }
        // Legacy-encoded feeds must be decoded with what their XML declaration says.
        if r["bytes_check"] == "not-utf8" && content_type.is_none() {
            if let Some(expected) = resolve_label(&r["xml_decl_encoding"]) {
                if d.encoding != expected {
                    failures.push(format!(
                        "{path}: declared {} but {}",
                        r["xml_decl_encoding"],
                        d.explain()
                    ));
                }
            }
        }
    }
    println!(
        "feeds: {clean}/{} decoded without U+FFFD ({with_header} with a Content-type from their test header)",
        rows.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
