//! The text a story is searched by (`?q=`, `?exclude=`, keep/block rules): its title and the
//! visible text of its summary, folded like labels (NFKC, lower case, traditional → simplified,
//! invisible characters dropped). Folding is the expensive part of a search, so the store keeps
//! this text folded at write time and searches never fold stored items again.

use std::borrow::Cow;

use super::text::fold_label;

/// The folded search text of a story.
pub fn search_text(title: &str, summary: Option<&str>) -> String {
    let mut text = String::with_capacity(title.len() + summary.map_or(0, str::len) + 1);
    text.push_str(title);
    if let Some(summary) = summary {
        text.push(' ');
        text.push_str(&visible_text(summary));
    }
    fold_label(&text)
}

/// Whether folded `text` contains every word of `all` and none of `none` (words folded the same
/// way; CJK text has no spaces, so words match as substrings).
pub fn matches(text: &str, all: &[String], none: &[String]) -> bool {
    all.iter().all(|w| text.contains(w.as_str())) && !none.iter().any(|w| text.contains(w.as_str()))
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
    fn titles_and_summaries_fold_into_one_searchable_text() {
        let text = search_text(
            "上海新增本土確診病例",
            Some("<p>By <b>新</b>增 &amp; <span>staff</span></p>"),
        );
        assert!(text.contains("确诊"), "{text}");
        assert!(text.contains("新增"));
        assert!(text.contains("& staff"));
        assert!(!text.contains("span"));
        assert!(matches(&text, &["上海".into(), "确诊".into()], &[]));
        assert!(!matches(&text, &["上海".into()], &["staff".into()]));
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
            let _ = search_text(&html, Some(&html));
        }
    }
}
