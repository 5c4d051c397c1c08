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
    text.chars().filter(|&c| xml_allows(c)).collect()
}

/// Escapes text for XML element content or a double-quoted attribute, after removing the
/// characters XML 1.0 forbids.
pub fn push_xml_escaped(out: &mut String, text: &str) {
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

    #[test]
    fn xml_escaping_drops_forbidden_characters() {
        assert_eq!(xml_text("a\u{0}b\u{1F}\tc\u{FFFE}"), "ab\tc");
        let mut out = String::new();
        push_xml_escaped(&mut out, "<x a=\"1\">&\u{8}\n");
        assert_eq!(out, "&lt;x a=&quot;1&quot;&gt;&amp;\n");
    }
}
