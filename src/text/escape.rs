//! Escaping for HTML and XML, and the characters XML 1.0 cannot hold.
//!
//! One place for the three jobs every document writer needs: [`escape_html`] for text put into
//! HTML (summaries made from plain text, the index page), [`xml_text`] to drop what XML 1.0
//! forbids (C0 controls but tab/LF/CR, U+FFFE, U+FFFF) and [`push_xml_escaped`] doing both for
//! element content and double-quoted attributes.

/// Escapes text for embedding in HTML (content or a quoted attribute).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether XML 1.0 allows `c` in a document.
fn xml_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Removes characters XML 1.0 does not allow (C0 controls except tab/LF/CR, U+FFFE, U+FFFF).
pub fn xml_text(text: &str) -> String {
    if xml_allows_all(text) {
        return text.to_owned();
    }
    text.chars().filter(|&c| xml_allows(c)).collect()
}

/// `xml_text(text.trim())`, reusing `text`'s buffer when there is nothing to trim or remove
/// (the common case for sanitised summaries).
pub fn xml_text_trimmed(text: String) -> String {
    let trimmed = text.trim();
    if trimmed.len() == text.len() && xml_allows_all(trimmed) {
        return text;
    }
    xml_text(trimmed)
}

/// Whether nothing but white space would be left of `text` once the characters XML 1.0
/// forbids are removed: `xml_text(text).trim().is_empty()`, without building the copy.
pub fn xml_blank(text: &str) -> bool {
    text.chars()
        .filter(|&c| xml_allows(c))
        .all(char::is_whitespace)
}

/// Whether XML 1.0 allows every character of `text` (a byte scan: the forbidden characters
/// are C0 controls, one byte each, and U+FFFE/U+FFFF, which start with the byte EF).
fn xml_allows_all(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\t' | b'\n' | b'\r' => false,
        0..=0x1F => true,
        0xEF => matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])),
        _ => false,
    })
}

/// Escapes text for XML element content or a double-quoted attribute, after removing the
/// characters XML 1.0 forbids.
///
/// Text that needs nothing (most of a feed) is copied in whole runs: the scan looks at bytes,
/// and only `&`, `<`, `>`, `"`, C0 controls and the lead byte of U+FFFE/U+FFFF stop it.
pub fn push_xml_escaped(out: &mut String, text: &str) {
    out.reserve(text.len());
    let bytes = text.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let (skip, replacement) = match b {
            b'&' => (1, "&amp;"),
            b'<' => (1, "&lt;"),
            b'>' => (1, "&gt;"),
            b'"' => (1, "&quot;"),
            b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            0..=0x1F => (1, ""),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF.
            0xEF if matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => (3, ""),
            _ => {
                i += 1;
                continue;
            }
        };
        // `run..i` lies between characters: every stop is an ASCII byte or a lead byte.
        out.push_str(text.get(run..i).unwrap_or_default());
        out.push_str(replacement);
        i += skip;
        run = i;
    }
    out.push_str(text.get(run..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    /// The escaper as it was written first, one character at a time: the byte scan must give
    /// exactly its output.
    fn push_xml_escaped_per_char(out: &mut String, text: &str) {
        for c in text.chars().filter(|&c| xml_allows(c)) {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn escaping_matches_the_per_character_version(
            text in proptest::prop_oneof![
                "\\PC{0,40}",
                "\\PC{0,40}",
                "(\u{0}|\u{1}|\u{1F}|\t|\n|\r|&|<|>|\"|'|a|时|\u{FFFD}|\u{FFFE}|\u{FFFF}|\u{FEFF}|\u{EFFF}|\u{F000}|\u{10FFFF}|\u{7F}|\u{85}| )*",
            ],
            prefix in "[a-z]{0,3}",
        ) {
            let mut fast = prefix.clone();
            push_xml_escaped(&mut fast, &text);
            let mut slow = prefix;
            push_xml_escaped_per_char(&mut slow, &text);
            proptest::prop_assert_eq!(fast, slow);
            let filtered: String = text.chars().filter(|&c| xml_allows(c)).collect();
            proptest::prop_assert_eq!(xml_text(&text), filtered);
        }
    }

    proptest::proptest! {
        #[test]
        fn blank_is_what_the_copy_would_say(
            text in "(\u{0}|\u{1}|\t|\n|\r| |\u{A0}|\u{3000}|\u{FFFE}|\u{FFFF}|\u{200B}|\u{85}|a)*",
        ) {
            proptest::prop_assert_eq!(xml_blank(&text), xml_text(&text).trim().is_empty());
            proptest::prop_assert_eq!(xml_text_trimmed(text.clone()), xml_text(text.trim()));
        }
    }

    #[test]
    fn escaping_handles_every_edge_exactly() {
        for text in [
            "",
            "plain",
            "&",
            "\u{FFFF}",
            "a\u{FFFE}b\u{FFFF}c\u{FFFD}d\u{EFBF}",
            "\u{0}\u{0}",
            "时政 & <b>\"x\"</b>\u{1}",
            "end&",
            "\u{F8FF}\u{FEFF}\u{FFEF}",
        ] {
            let mut fast = String::new();
            push_xml_escaped(&mut fast, text);
            let mut slow = String::new();
            push_xml_escaped_per_char(&mut slow, text);
            assert_eq!(fast, slow, "{text:?}");
            let filtered: String = text.chars().filter(|&c| xml_allows(c)).collect();
            assert_eq!(xml_text(text), filtered, "{text:?}");
        }
    }

    #[test]
    fn xml_escaping_drops_forbidden_characters() {
        assert_eq!(xml_text("a\u{0}b\u{1F}\tc\u{FFFE}"), "ab\tc");
        let mut out = String::new();
        push_xml_escaped(&mut out, "<x a=\"1\">&\u{8}\n");
        assert_eq!(out, "&lt;x a=&quot;1&quot;&gt;&amp;\n");
    }
}
