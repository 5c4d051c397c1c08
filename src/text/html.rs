//! HTML → text, two ways for two readers.
//!
//! [`html_to_text`] is for display: a real HTML parse (scraper), entities decoded, script and
//! style hidden, block boundaries turned into spaces — what a title made from markup looks
//! like. [`visible_text`] is for matching (`?q=`, keep/block rules): one linear pass over an
//! already-sanitised fragment, tags dropped *without* a space so `<b>新</b>增` still contains
//! 新增, and the entities the sanitiser writes decoded. They differ on purpose: search runs on
//! every stored summary and must not build a DOM, display must not glue words of two
//! paragraphs together. [`looks_like_markup`] decides whether a title needs the parse at all.

use std::borrow::Cow;

/// True when `s` contains something an HTML parser would change: a tag-like `<x`, `</`, `<!`,
/// or an entity / character reference.
pub fn looks_like_markup(s: &str) -> bool {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'<' => {
                if let Some(&n) = b.get(i + 1) {
                    if n.is_ascii_alphabetic() || n == b'/' || n == b'!' {
                        return true;
                    }
                }
            }
            b'&' => {
                let rest = &b[i + 1..];
                let (skip, ok): (usize, fn(&u8) -> bool) = match rest {
                    [b'#', b'x' | b'X', ..] => (2, u8::is_ascii_hexdigit),
                    [b'#', ..] => (1, u8::is_ascii_digit),
                    _ => (0, u8::is_ascii_alphanumeric),
                };
                let body = rest.iter().skip(skip).take_while(|c| ok(c)).count();
                if body > 0 && rest.get(skip + body) == Some(&b';') {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Text content of an HTML fragment: entities decoded, tags dropped, script/style ignored,
/// block boundaries turned into spaces.
pub fn html_to_text(html: &str) -> String {
    let doc = scraper::Html::parse_fragment(html);
    let mut out = String::with_capacity(html.len());
    for node in doc.tree.root().descendants() {
        match node.value() {
            scraper::Node::Text(t) => {
                let hidden = node.ancestors().any(|a| {
                    a.value().as_element().is_some_and(|e| {
                        matches!(e.name(), "script" | "style" | "template" | "noscript")
                    })
                });
                if !hidden {
                    out.push_str(t);
                }
            }
            scraper::Node::Element(e) => {
                if matches!(
                    e.name(),
                    "br" | "p"
                        | "div"
                        | "li"
                        | "tr"
                        | "td"
                        | "th"
                        | "h1"
                        | "h2"
                        | "h3"
                        | "h4"
                        | "h5"
                        | "h6"
                        | "blockquote"
                        | "section"
                        | "article"
                ) {
                    out.push(' ');
                }
            }
            _ => {}
        }
    }
    out
}

/// The text of a sanitised HTML fragment: tags dropped without a space (matching is by
/// substring, so `<b>新</b>增` still contains 新增, and a word `span` does not match every
/// summary with a `<span>`), the common entities decoded.
pub fn visible_text(html: &str) -> Cow<'_, str> {
    if !html.contains(['<', '&']) {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        let mut step = c.len_utf8();
        if in_tag {
            in_tag = c != '>';
        } else if c == '<' {
            in_tag = true;
        } else if c == '&' {
            let entity = [
                ("&amp;", '&'),
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&quot;", '"'),
                ("&#39;", '\''),
                ("&apos;", '\''),
                ("&nbsp;", ' '),
            ]
            .into_iter()
            .find(|(name, _)| rest.starts_with(name));
            match entity {
                Some((name, decoded)) => {
                    out.push(decoded);
                    step = name.len();
                }
                None => out.push(c),
            }
        } else {
            out.push(c);
        }
        rest = rest.get(step..).unwrap_or_default();
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn markup_is_recognised_only_when_a_parser_would_change_it() {
        assert!(looks_like_markup("&#8220;") && looks_like_markup("x</b>"));
        assert!(!looks_like_markup("AT&T <3 you") && !looks_like_markup("a < b"));
    }

    #[test]
    fn display_and_matching_texts() {
        assert_eq!(
            html_to_text("<p>one</p><p>two<script>x</script></p>")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["one", "two"]
        );
        assert_eq!(visible_text("<b>新</b>增 &amp; co"), "新增 & co");
        assert_eq!(visible_text("plain"), "plain");
        assert_eq!(visible_text("a &copy; b &lt;"), "a &copy; b <");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn visible_text_is_total_and_drops_every_tag(html in "(<[a-z]{1,4}>|</[a-z]{1,4}>|&[a-z#0-9]{0,5};?|[^<&]{0,6}|\\PC{0,3})*") {
            let text = visible_text(&html);
            // Only decoded entities can bring `<` back.
            prop_assert!(text.matches('<').count() <= html.matches("&lt;").count());
            if !html.contains(['<', '&']) {
                prop_assert_eq!(text.as_ref(), html.as_str());
            }
        }
    }
}
