//! The text a story is searched by (`?q=`, `?exclude=`, keep/block rules): its title and the
//! visible text of its summary, folded like labels (NFKC, lower case, traditional → simplified,
//! invisible characters dropped). Folding is the expensive part of a search, so the store keeps
//! this text folded at write time and searches never fold stored items again.

use crate::text::{fold_label, visible_text};

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
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn search_text_folds_the_title_and_drops_summary_tags(html in "(<[a-z]{1,4}>|</[a-z]{1,4}>|&[a-z#0-9]{0,5};?|[^<&]{0,6}|\\PC{0,3})*") {
            prop_assert_eq!(search_text(&html, None), fold_label(&html));
            // Tags never reach the search text (of ASCII input: NFKC may fold a `﹤` into `<`).
            if html.is_ascii() && !html.contains('&') {
                prop_assert!(!search_text("", Some(&html)).contains('<'));
            }
        }
    }
}
