//! Text cleanup and folding: what a title looks like to a reader, and what it looks like to a
//! matcher.
//!
//! `clean_text` is for display (whitespace collapsed, invisible characters removed);
//! `title_key` and `fold_label` are for comparison only and are never shown.

use unicode_normalization::UnicodeNormalization;

/// Collapses whitespace, removes zero-width and control characters, and trims.
pub fn clean_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Characters that carry no visible text: zero-width marks, BOMs and C0/C1 controls.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'
            | '\u{200C}'
            | '\u{200D}'
            | '\u{2060}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{FFFE}'
            | '\u{FFFF}'
    ) || (c.is_control() && !c.is_whitespace())
}

/// Escapes text for embedding in HTML.
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

/// The folded form of a title used to recognise the same story across sources:
/// Unicode NFKC (which also folds full-width forms), punctuation and spaces removed, case-folded.
pub fn title_key(title: &str) -> String {
    title
        .nfkc()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The folded form of a section label or query value: NFKC, trimmed, case-folded.
/// Used both when indexing labels and when matching `?section=`, so the two always agree.
pub fn fold_label(label: &str) -> String {
    let folded: String = label
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| !is_invisible(*c))
        .collect();
    clean_text(&folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_display_text() {
        let cases = [
            ("  a \n\t b  ", "a b"),
            ("zero\u{200B}width", "zerowidth"),
            ("ctrl\u{0007}char", "ctrlchar"),
            ("\u{FEFF}标题　全角空格", "标题 全角空格"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(clean_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn folds_titles_and_labels() {
        assert_eq!(title_key("Ｈｅｌｌｏ, World!"), "helloworld");
        assert_eq!(
            title_key("抗疫进行时：上海 新增 100 例"),
            "抗疫进行时上海新增100例"
        );
        assert_eq!(title_key("“抗疫”进行时"), title_key("抗疫进行时"));
        assert_eq!(fold_label(" ＰＯＬＩＴＩＣＳ "), "politics");
        assert_eq!(fold_label("时政"), "时政");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
