//! Display cleaning: what a title, label or author looks like to a reader.
//!
//! [`clean_text`] collapses white space, trims, and removes characters that carry no visible
//! text (zero-width spaces, BOMs, soft hyphens, C0/C1 controls). It owns the one rule for the
//! zero-width joiners U+200D (ZWJ) and U+200C (ZWNJ): **a joiner is kept only between two
//! visible non-ASCII characters** — where it does something: emoji sequences (👩‍💻),
//! Persian and Indic shaping (می‌خواهم) — and removed everywhere else (at either end, next to
//! white space or ASCII, doubled). Matching folds joiners away entirely ([`super::fold`]).

/// Characters removed from display text wherever they stand: zero-width marks, BOMs, the
/// soft hyphen, the Mongolian vowel separator, non-characters and C0/C1 controls.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}' | '\u{FFFE}' | '\u{FFFF}'
    ) || (c.is_control() && !c.is_whitespace())
}

/// The zero-width joiner and non-joiner: kept or removed by context (see the module doc).
pub fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// A character a joiner may stand next to.
fn joinable(c: char) -> bool {
    !c.is_ascii() && !c.is_whitespace() && !is_invisible(c) && !is_joiner(c)
}

/// Collapses white space, removes invisible characters (joiners by the module's rule), trims.
pub fn clean_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if is_joiner(c) {
            let joins = !pending_space
                && out.chars().next_back().is_some_and(joinable)
                && chars.peek().copied().is_some_and(joinable);
            if joins {
                out.push(c);
            }
            continue;
        }
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

/// A message that spans lines (a parser's caret diagram, a wrapped explanation) on one line:
/// lines trimmed, blank ones dropped, the rest joined with a space.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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
            ("soft\u{00AD}hyphen", "softhyphen"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(clean_text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn messages_fold_onto_one_line() {
        assert_eq!(
            one_line("regex parse error:\n    (a\n    ^\n\nerror: unclosed"),
            "regex parse error: (a ^ error: unclosed"
        );
    }

    #[test]
    fn joiners_stay_only_between_visible_non_ascii_characters() {
        let cases = [
            // Emoji sequences and Persian/Indic shaping keep theirs.
            ("👩\u{200D}💻 coder", "👩\u{200D}💻 coder"),
            ("👨\u{200D}👩\u{200D}👧", "👨\u{200D}👩\u{200D}👧"),
            ("می\u{200C}خواهم", "می\u{200C}خواهم"),
            ("क्\u{200D}ष", "क्\u{200D}ष"),
            // Everywhere else they go.
            ("\u{200D}title", "title"),
            ("title\u{200C}", "title"),
            ("a\u{200D}b", "ab"),
            ("👩 \u{200D}💻", "👩 💻"),
            ("👩\u{200D} 💻", "👩 💻"),
            ("👩\u{200D}\u{200D}💻", "👩\u{200D}💻"),
            ("👩\u{200D}\u{200B}💻", "👩💻"),
        ];
        for (input, expected) in cases {
            let cleaned = clean_text(input);
            assert_eq!(cleaned, expected, "{input:?}");
            assert_eq!(clean_text(&cleaned), cleaned, "not idempotent: {input:?}");
        }
    }
}
