//! DOM helpers for the suggester: which class names and ids are stable enough to put in a
//! selector, how an element is written as a simple selector, and how wide a text looks.
//!
//! Stable means "written by a person and likely to survive the next deploy": `news_title`,
//! `module-interact`, `#listhot0`. Generated names (`css-1x9f0ab`, `sc-AxjAm`, `jsx-2345`,
//! long digit runs) and positional ones (`first`, `odd`, `active`) are left out, and `nth-child`
//! is never used, so a suggestion keeps working when the portal adds one more story.

use scraper::ElementRef;

/// Class names that say where an element is, not what it is.
const POSITIONAL: &[&str] = &[
    "first", "last", "odd", "even", "active", "on", "cur", "current", "selected", "hover",
    "hidden", "show", "open", "new", "hot", "top",
];

/// Prefixes CSS-in-JS tools put on generated class names.
const GENERATED_PREFIXES: &[&str] = &["css-", "sc-", "jsx-", "emotion-", "svelte-", "ng-"];

/// Whether `name` is a valid CSS identifier that we can write without escaping.
fn plain_ident(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether a class or id looks hand-written: a plain identifier, not too long, no long digit
/// runs, no generator prefix, no hash-like mix of letters and digits.
pub fn stable_name(name: &str) -> bool {
    if !plain_ident(name) || name.len() > 40 {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if GENERATED_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return false;
    }
    let mut run = 0;
    let mut longest_run = 0;
    let mut switches = 0;
    let mut last_digit = None;
    for c in name.chars() {
        let digit = c.is_ascii_digit();
        run = if digit { run + 1 } else { 0 };
        longest_run = longest_run.max(run);
        if c.is_ascii_alphanumeric() {
            if last_digit.is_some_and(|d| d != digit) {
                switches += 1;
            }
            last_digit = Some(digit);
        }
    }
    longest_run < 4 && switches < 4
}

/// Whether a class name is worth keeping in an item or field selector.
pub fn useful_class(name: &str) -> bool {
    stable_name(name) && !POSITIONAL.contains(&name.to_ascii_lowercase().as_str())
}

/// The stable classes of an element, in document order.
pub fn classes(element: ElementRef<'_>) -> Vec<String> {
    element
        .value()
        .classes()
        .filter(|c| useful_class(c))
        .map(str::to_string)
        .collect()
}

/// `tag.class1.class2` with the given classes (at most two, the most specific first in the
/// page's own order).
pub fn simple(tag: &str, classes: &[String]) -> String {
    let mut out = tag.to_string();
    for class in classes.iter().take(2) {
        out.push('.');
        out.push_str(class);
    }
    out
}

/// `tag.classes` of an element with its stable classes.
pub fn simple_of(element: ElementRef<'_>) -> String {
    simple(element.value().name(), &classes(element))
}

/// A stable `#id` for the element, when it has one.
pub fn stable_id(element: ElementRef<'_>) -> Option<String> {
    element
        .value()
        .id()
        .filter(|id| stable_name(id))
        .map(|id| format!("#{id}"))
}

/// How wide a text reads: CJK and other wide characters count twice, so a 15-character Chinese
/// headline weighs about as much as a 30-letter English one.
pub fn width(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// The parent element, if any.
pub fn parent(element: ElementRef<'_>) -> Option<ElementRef<'_>> {
    element.parent().and_then(ElementRef::wrap)
}

/// Whether an href leads somewhere a reader can follow (not a script, not the page itself).
pub fn followable(href: &str) -> bool {
    let h = href.trim();
    !h.is_empty()
        && !h.starts_with('#')
        && !h.to_ascii_lowercase().starts_with("javascript:")
        && !h.to_ascii_lowercase().starts_with("mailto:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_names_are_hand_written_ones() {
        for good in [
            "news_title",
            "module-interact",
            "listhot0",
            "h4",
            "data_row",
        ] {
            assert!(stable_name(good), "{good}");
        }
        for bad in [
            "css-1x9f0ab",
            "a1b2c3d4",
            "item-123456",
            "",
            "1abc",
            "a:b",
            "sc-AxjAm",
        ] {
            assert!(!stable_name(bad), "{bad}");
        }
        assert!(!useful_class("active"));
        assert_eq!(width("ab 新闻"), 6);
    }
}
