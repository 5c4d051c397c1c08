//! Caps on what one story may store: a page (or a hostile feed) can put a megabyte into a
//! headline, and every feed that includes the item would carry it to every reader, forever.
//!
//! The caps are generous for real portal output (a Chinese headline is 15–40 characters, a
//! summary a few hundred) and are applied once, when a headline becomes an [`super::Observed`]
//! (and to older stores by their upgrade), so the store and the renderers can rely on them.
//! Text is cut at a character boundary and marked with `…`; a link or image URL over the cap
//! is dropped rather than cut, since a cut URL leads somewhere else.

/// Longest stored title, in characters.
pub const MAX_TITLE_CHARS: usize = 500;

/// Longest stored summary (sanitised HTML), in characters.
pub const MAX_SUMMARY_CHARS: usize = 4_000;

/// Longest stored author name, in characters.
pub const MAX_AUTHOR_CHARS: usize = 200;

/// Longest page label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// Most page labels one headline contributes.
pub const MAX_LABELS: usize = 20;

/// Longest link, image URL or guid, in bytes; longer ones are dropped.
pub const MAX_URL_BYTES: usize = 4_096;

/// `text` cut to at most `max` characters (the last one `…` when something was cut).
pub fn clip_chars(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(text),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            let mut clipped = String::with_capacity(end + 3);
            clipped.push_str(text.get(..end).unwrap_or_default());
            clipped.push('…');
            std::borrow::Cow::Owned(clipped)
        }
    }
}

/// `url` if it is within [`MAX_URL_BYTES`].
pub fn bounded_url(url: Option<String>) -> Option<String> {
    url.filter(|u| u.len() <= MAX_URL_BYTES)
}

/// Applies the text caps to a story's fields in place (labels beyond [`MAX_LABELS`] are
/// dropped, each label clipped).
pub fn clip_item_text(
    title: &mut String,
    summary: &mut Option<String>,
    author: &mut Option<String>,
    labels: &mut Vec<String>,
) {
    clip_in_place(title, MAX_TITLE_CHARS);
    if let Some(summary) = summary {
        clip_in_place(summary, MAX_SUMMARY_CHARS);
    }
    if let Some(author) = author {
        clip_in_place(author, MAX_AUTHOR_CHARS);
    }
    labels.truncate(MAX_LABELS);
    for label in labels.iter_mut() {
        clip_in_place(label, MAX_LABEL_CHARS);
    }
}

fn clip_in_place(text: &mut String, max: usize) {
    if let std::borrow::Cow::Owned(clipped) = clip_chars(text, max) {
        *text = clipped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_text_is_untouched_and_long_text_is_cut_with_a_mark() {
        assert_eq!(clip_chars("抗疫进行时", 5), "抗疫进行时");
        assert_eq!(clip_chars("抗疫进行时", 4), "抗疫进…");
        assert_eq!(clip_chars("", 0), "");
        assert_eq!(clip_chars("a", 0), "…");
    }

    #[test]
    fn labels_are_capped_in_number_and_length() {
        let mut title = "x".repeat(MAX_TITLE_CHARS + 10);
        let mut summary = Some("s".repeat(MAX_SUMMARY_CHARS * 2));
        let mut author = None;
        let mut labels: Vec<String> = (0..50).map(|i| format!("{i}{}", "l".repeat(300))).collect();
        clip_item_text(&mut title, &mut summary, &mut author, &mut labels);
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
        assert_eq!(summary.map(|s| s.chars().count()), Some(MAX_SUMMARY_CHARS));
        assert_eq!(labels.len(), MAX_LABELS);
        assert!(labels.iter().all(|l| l.chars().count() == MAX_LABEL_CHARS));
        assert_eq!(bounded_url(Some("h".repeat(MAX_URL_BYTES + 1))), None);
        assert_eq!(
            bounded_url(Some("https://a/".into())),
            Some("https://a/".into())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn clipping_never_exceeds_the_cap_and_keeps_a_prefix(text in "\\PC{0,80}", max in 0usize..60) {
            let clipped = clip_chars(&text, max);
            prop_assert!(clipped.chars().count() <= max.max(1));
            if text.chars().count() <= max {
                prop_assert_eq!(clipped.as_ref(), text.as_str());
            } else {
                let kept = clipped.trim_end_matches('…');
                prop_assert!(text.starts_with(kept));
            }
        }
    }
}
