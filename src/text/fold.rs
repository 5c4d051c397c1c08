//! Folding: what a title or label looks like to a matcher (never shown to a reader).
//!
//! `title_key` recognises the same story across sources; `fold_label` makes `?section=`, `q`
//! and keep/block rules forgiving: NFKC (full-width → half-width), lower case, zero-width
//! joiners dropped, and traditional Chinese → simplified (OpenCC's `t2s` tables via the
//! pure-Rust `ferrous-opencc`), so a reader typing 国际 finds a page that printed 國際 and the
//! other way round. The store indexes labels with the same function, so index and query
//! always agree.

use std::borrow::Cow;
use std::sync::OnceLock;

use ferrous_opencc::{config::BuiltinConfig, OpenCC};
use unicode_normalization::UnicodeNormalization;

use super::clean::{clean_text, is_invisible, is_joiner};

/// The folded form of a title used to recognise the same story across sources:
/// Unicode NFKC (which also folds full-width forms), case-folded, then everything that is not a
/// letter or digit removed.
///
/// The filter runs after lower-casing because lower-casing can add characters that are not
/// letters: `İ` (U+0130) lower-cases to `i` + U+0307 COMBINING DOT ABOVE, so filtering first
/// would let the combining mark into the key, and `İstanbul` and `Istanbul` would differ.
pub fn title_key(title: &str) -> String {
    title
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The folded form of a section label or query value: NFKC (full-width folded), case-folded,
/// traditional Chinese folded to simplified, whitespace collapsed and trimmed.
/// Used both when indexing labels and when matching `?section=` / `q`, so the two always agree.
pub fn fold_label(label: &str) -> String {
    let folded: String = label
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|&c| !is_invisible(c) && !is_joiner(c))
        .collect();
    let folded = match to_simplified(&folded) {
        Cow::Borrowed(_) => folded,
        Cow::Owned(simplified) => simplified,
    };
    clean_text(&folded)
}

/// The OpenCC traditional → simplified converter, built once (its tables are embedded).
fn t2s() -> Option<&'static OpenCC> {
    static CONVERTER: OnceLock<Option<OpenCC>> = OnceLock::new();
    CONVERTER
        .get_or_init(|| match OpenCC::from_config(BuiltinConfig::T2s) {
            Ok(converter) => Some(converter),
            Err(e) => {
                tracing::error!("traditional→simplified folding unavailable: {e}");
                None
            }
        })
        .as_ref()
}

/// Builds the traditional → simplified tables now rather than on the first CJK label (the
/// server calls this at start so no request or poll pays for it).
pub fn warm_up() {
    let _ = t2s();
}

/// Converts traditional Chinese characters to simplified ones; text without any CJK
/// ideograph is returned as is without touching the converter.
pub fn to_simplified(text: &str) -> Cow<'_, str> {
    let has_han = text.chars().any(|c| {
        matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
    });
    if !has_han {
        return Cow::Borrowed(text);
    }
    match t2s() {
        Some(converter) => Cow::Owned(converter.convert(text)),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_titles_and_labels() {
        assert_eq!(title_key("Ｈｅｌｌｏ, World!"), "helloworld");
        assert_eq!(
            title_key("抗疫进行时：上海 新增 100 例"),
            "抗疫进行时上海新增100例"
        );
        assert_eq!(title_key("“抗疫”进行时"), title_key("抗疫进行时"));
        // Lower-casing İ adds a combining mark, which is not part of the key.
        assert_eq!(title_key("İstanbul'da"), "istanbulda");
        assert!(title_key("İ K ẞ ﬃ Σ").chars().all(char::is_alphanumeric));
        assert_eq!(fold_label(" ＰＯＬＩＴＩＣＳ "), "politics");
        assert_eq!(fold_label("时政"), "时政");
    }

    #[test]
    fn folds_traditional_and_simplified_to_one_script() {
        // (traditional or mixed, simplified): both sides fold to the same key.
        let cases = [
            ("國際", "国际"),
            ("時政", "时政"),
            ("兩岸", "两岸"),
            ("臺灣", "台湾"),
            ("財經", "财经"),
            ("體育", "体育"),
            ("抗疫進行時", "抗疫进行时"),
            ("ＮＢＡ 體育", "nba 体育"),
            ("歐洲 · 環球", "欧洲 · 环球"),
        ];
        for (traditional, simplified) in cases {
            assert_eq!(
                fold_label(traditional),
                fold_label(simplified),
                "{traditional}"
            );
            assert_eq!(fold_label(traditional), simplified, "{traditional}");
        }
        // Plain ASCII and already-simplified text pass through untouched.
        assert!(matches!(to_simplified("politics"), Cow::Borrowed(_)));
        assert_eq!(to_simplified("国际"), "国际");
        // Substrings of a folded title stay substrings of the folded title.
        let title = fold_label("上海新增本土確診病例，兩會閉幕");
        assert!(title.contains(&fold_label("確診")));
        assert!(title.contains(&fold_label("两会")));
    }

    #[test]
    fn folding_drops_joiners_display_keeps() {
        // Persian "mi-khāham" with a ZWNJ: shown with it, matched without it.
        assert_eq!(fold_label("می\u{200C}خواهم"), fold_label("میخواهم"));
        assert!(!fold_label("👩\u{200D}💻").contains('\u{200D}'));
    }
}
