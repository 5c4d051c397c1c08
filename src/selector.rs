//! Selector specs: what a section's `item`, `title`, `link`, … keys say, parsed once.
//!
//! A leaf module both sides use: `config` parses the text of `feeds.toml` into these types
//! (so a bad selector is a config problem with a file and line), and `extract::html` evaluates
//! them against a page. This module owns the grammar — `css`, `css@attr`, or a bare `@attr`
//! reading the item element itself; the attribute split happens at the last `@` outside
//! brackets and quotes — and the registry of fields ([`FIELDS`]) every part of the program
//! lists: config parsing, extraction, `suggest` and `check` output.

use scraper::Selector;

/// Why the text of a selector is not a selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Nothing but white space (or a lone `@`).
    #[error("empty selector")]
    Empty,
    /// The `item` key holds an empty list.
    #[error("the item selector list is empty")]
    EmptyList,
    /// The `item` selector reads an attribute; items are elements.
    #[error("`{0}`: the item selector names elements; `@attribute` belongs to field selectors")]
    ItemAttribute(String),
    /// What follows `@` is not an attribute name.
    #[error("`{text}`: `@{attr}` is not an attribute name")]
    BadAttribute {
        /// The selector as written.
        text: String,
        /// The text after `@`.
        attr: String,
    },
    /// The CSS part does not parse.
    #[error("`{text}` is not a valid CSS selector: {reason}")]
    BadCss {
        /// The CSS part as written.
        text: String,
        /// What is wrong with it, on one line.
        reason: String,
    },
}

/// How extraction reads a field from each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The first non-empty value among the selectors' matches.
    First,
    /// Every non-empty value of the first selector that yields any (labels).
    All,
    /// The first value that resolves to an http(s) link; an item with none is skipped.
    Link,
    /// Like [`Reading::Link`], trying lazy-load attributes before `src`.
    Image,
}

/// One field a section may configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The key in `feeds.toml` and the name `check` and `suggest` print.
    pub name: &'static str,
    /// What the field holds, for help text.
    pub doc: &'static str,
    /// How extraction reads it.
    pub reading: Reading,
    /// Whether a headline without it is skipped (title and link); the others are optional.
    pub required: bool,
}

/// Every field selector a section may configure, in the order `check` and `suggest` show them.
/// (`item` is not a field: it chooses the elements the fields are read from.)
pub const FIELDS: [Field; 7] = [
    Field {
        name: "title",
        doc: "the headline text",
        reading: Reading::First,
        required: true,
    },
    Field {
        name: "link",
        doc: "the story's URL (default: the item's own href, else its first a[href])",
        reading: Reading::Link,
        required: true,
    },
    Field {
        name: "time",
        doc: "the published time as printed, read in the section's time zone",
        reading: Reading::First,
        required: false,
    },
    Field {
        name: "label",
        doc: "on-page section labels (every match is kept)",
        reading: Reading::All,
        required: false,
    },
    Field {
        name: "summary",
        doc: "a short text shown under the title",
        reading: Reading::First,
        required: false,
    },
    Field {
        name: "image",
        doc: "an image URL (lazy-load attributes are tried before src)",
        reading: Reading::Image,
        required: false,
    },
    Field {
        name: "author",
        doc: "the byline",
        reading: Reading::First,
        required: false,
    },
];

/// The registry entry called `name`, if there is one.
pub fn field(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name == name)
}

/// One field selector: a CSS selector (or the item itself) and an optional attribute to read.
#[derive(Debug, Clone)]
pub struct FieldSelector {
    /// `None` means the item element itself (the `@attr` form).
    css: Option<Selector>,
    attr: Option<String>,
    source: String,
}

impl FieldSelector {
    /// Parses `css`, `css@attr` or `@attr`.
    pub fn parse(text: &str) -> Result<FieldSelector, SelectorError> {
        let trimmed = text.trim();
        let (css_text, attr) = split_attr(trimmed);
        if let Some(attr) = &attr {
            let valid = !attr.is_empty()
                && attr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
            if !valid {
                return Err(SelectorError::BadAttribute {
                    text: trimmed.to_string(),
                    attr: attr.clone(),
                });
            }
        }
        let css = match (css_text.trim(), &attr) {
            ("", None) => return Err(SelectorError::Empty),
            ("", Some(_)) => None,
            (css, _) => Some(parse_css(css)?),
        };
        Ok(FieldSelector {
            css,
            attr,
            source: trimmed.to_string(),
        })
    }

    /// The text as written in the config.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The CSS part; `None` for the `@attr` form, which reads the item element itself.
    pub fn css(&self) -> Option<&Selector> {
        self.css.as_ref()
    }

    /// The attribute to read; `None` reads the element's text (or, for links, its `href`).
    pub fn attr(&self) -> Option<&str> {
        self.attr.as_deref()
    }
}

/// The `item` selector: fallbacks, the first that matches anything wins.
#[derive(Debug, Clone)]
pub struct ItemSelector {
    selectors: Vec<(String, Selector)>,
}

impl ItemSelector {
    /// Parses a list of CSS selectors (no `@attr` here: items are elements).
    pub fn parse(list: &[&str]) -> Result<ItemSelector, SelectorError> {
        let mut selectors = Vec::new();
        for text in list {
            let text = text.trim();
            if text.is_empty() {
                return Err(SelectorError::Empty);
            }
            if split_attr(text).1.is_some() {
                return Err(SelectorError::ItemAttribute(text.to_string()));
            }
            selectors.push((text.to_string(), parse_css(text)?));
        }
        if selectors.is_empty() {
            return Err(SelectorError::EmptyList);
        }
        Ok(ItemSelector { selectors })
    }

    /// The parsed selectors, in the order they are tried.
    pub fn selectors(&self) -> impl Iterator<Item = &Selector> {
        self.selectors.iter().map(|(_, selector)| selector)
    }

    /// The selectors as written, joined for messages.
    pub fn describe(&self) -> String {
        self.selectors
            .iter()
            .map(|(text, _)| text.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// Parses one CSS selector, with a one-line reason when it does not parse (scraper's own text
/// spans lines and sometimes blames itself).
fn parse_css(text: &str) -> Result<Selector, SelectorError> {
    use scraper::error::SelectorErrorKind as K;
    Selector::parse(text).map_err(|error| {
        let reason = match error {
            K::UnexpectedToken => "unexpected token".to_string(),
            K::EndOfLine => "it ends too early".to_string(),
            K::InvalidAtRule | K::InvalidAtRuleBody => "at-rules are not selectors".to_string(),
            K::QualRuleInvalid => "invalid rule".to_string(),
            K::TooManyNestedBlocks => "too deeply nested".to_string(),
            K::ExpectedColonOnPseudoElement | K::ExpectedIdentityOnPseudoElement => {
                "bad pseudo-element".to_string()
            }
            K::UnexpectedSelectorParseError(kind) => format!("{kind:?}")
                .replace(
                    "DanglingCombinator",
                    "a combinator (>, +, ~) is missing a side",
                )
                .replace("EmptySelector", "empty selector"),
        };
        SelectorError::BadCss {
            text: text.to_string(),
            reason,
        }
    })
}

/// Splits `css@attr` at the last `@` outside brackets and quotes.
fn split_attr(text: &str) -> (&str, Option<String>) {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut at = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            (None, '@') if depth == 0 => at = Some(i),
            _ => {}
        }
    }
    match at {
        Some(i) => (&text[..i], Some(text[i + 1..].trim().to_string())),
        None => (text, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_attribute_outside_brackets_only() {
        assert_eq!(split_attr("a@href"), ("a", Some("href".to_string())));
        assert_eq!(
            split_attr("@data-time"),
            ("", Some("data-time".to_string()))
        );
        assert_eq!(split_attr("a[href*=\"@\"]"), ("a[href*=\"@\"]", None));
        assert_eq!(
            split_attr("a[title='x@y']@title"),
            ("a[title='x@y']", Some("title".to_string()))
        );
    }

    #[test]
    fn rejects_bad_selectors_with_reason() {
        assert_eq!(FieldSelector::parse("").err(), Some(SelectorError::Empty));
        assert!(matches!(
            FieldSelector::parse("a@"),
            Err(SelectorError::BadAttribute { .. })
        ));
        let err = FieldSelector::parse("ul >> li")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("not a valid CSS selector") && !e.contains('\n')),
            "{err:?}"
        );
        assert!(ItemSelector::parse(&["div[["]).is_err());
        assert_eq!(
            ItemSelector::parse(&[]).err(),
            Some(SelectorError::EmptyList)
        );
    }

    #[test]
    fn the_registry_names_each_field_once() {
        let mut names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len());
        assert_eq!(
            FIELDS
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name)
                .collect::<Vec<_>>(),
            ["title", "link"]
        );
        assert!(field("time").is_some() && field("item").is_none());
    }
}
