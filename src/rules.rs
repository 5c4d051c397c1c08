//! Keep/block rules: which headlines a source or section stores at all.
//!
//! A rule is a word (matched as a substring, like `?q=`) or a `re:` regex. Both are matched
//! against each of a headline's title, summary text, link and labels after folding them with
//! [`fold_label`] — the function `?q=` folds with — so `block = ["廣告"]` also drops a title
//! printed 广告, and `Sponsored` drops `SPONSORED`. Semantics follow Miniflux's rules: a headline
//! matching any `block` rule is dropped; when any `keep` rule exists, a headline must match one
//! of them to be stored. A source's rules apply to all its sections, added to their own.

use std::fmt;

use crate::text::{fold_label, one_line, visible_text};

/// The prefix that makes a rule a regular expression.
pub const REGEX_PREFIX: &str = "re:";

/// Largest compiled regex accepted (bytes of regex program): a rule must stay cheap on every
/// headline of every poll.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Why a rule's text is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Nothing to match (empty, or only characters folding removes).
    #[error("the rule `{0}` is empty; write a word or `re:` and a regex")]
    Empty(String),
    /// The `re:` part does not compile.
    #[error("`{text}` is not a valid regex: {reason}")]
    BadRegex {
        /// The rule as written.
        text: String,
        /// The regex engine's message, on one line.
        reason: String,
    },
}

#[derive(Debug, Clone)]
enum Pattern {
    /// A folded word, matched as a substring.
    Word(String),
    /// A case-insensitive regex, matched against the folded text.
    Regex(regex::Regex),
}

/// One keep or block rule.
#[derive(Debug, Clone)]
pub struct Rule {
    text: String,
    pattern: Pattern,
}

impl Rule {
    /// Parses a rule: `re:PATTERN` is a regex (case-insensitive), anything else a word.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        if let Some(pattern) = text.strip_prefix(REGEX_PREFIX) {
            if pattern.trim().is_empty() {
                return Err(RuleError::Empty(text.to_string()));
            }
            let regex = regex::RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| RuleError::BadRegex {
                    text: text.to_string(),
                    // regex errors span several lines (a caret under the pattern); config problems are one line.
                    reason: one_line(&e.to_string()),
                })?;
            return Ok(Rule {
                text: text.to_string(),
                pattern: Pattern::Regex(regex),
            });
        }
        let word = fold_label(text);
        if word.is_empty() {
            return Err(RuleError::Empty(text.to_string()));
        }
        Ok(Rule {
            text: text.to_string(),
            pattern: Pattern::Word(word),
        })
    }

    /// The rule as written in the config.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn matches(&self, folded: &str) -> bool {
        match &self.pattern {
            Pattern::Word(word) => folded.contains(word.as_str()),
            Pattern::Regex(regex) => regex.is_match(folded),
        }
    }
}

/// The keep and block lists of one source or section.
#[derive(Debug, Clone, Default)]
pub struct HeadlineRules {
    /// When non-empty, only headlines matching one of these are stored.
    pub keep: Vec<Rule>,
    /// Headlines matching any of these are never stored.
    pub block: Vec<Rule>,
}

impl HeadlineRules {
    /// Whether there are no rules at all (the common case: nothing to do per headline).
    pub fn is_empty(&self) -> bool {
        self.keep.is_empty() && self.block.is_empty()
    }
}

/// Which part of a headline a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The title.
    Title,
    /// The summary's visible text.
    Summary,
    /// The canonical link.
    Link,
    /// One of the page labels.
    Label,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Link => "link",
            Field::Label => "label",
        })
    }
}

/// Why a headline was dropped, for `check` and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// A block rule matched.
    Blocked {
        /// The rule as written.
        rule: String,
        /// Where it matched.
        field: Field,
    },
    /// Keep rules exist and none matched.
    NotKept,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::Blocked { rule, field } => {
                write!(f, "block rule `{rule}` matched the {field}")
            }
            Dropped::NotKept => f.write_str("no keep rule matched"),
        }
    }
}

/// The parts of a story rules look at, borrowed: `normalize` turns its `Observed` into one,
/// so this module (which `config` uses) needs no stage's types.
#[derive(Debug, Clone, Copy)]
pub struct StoryText<'a> {
    /// The clean title.
    pub title: &'a str,
    /// The sanitised summary HTML (rules see its visible text).
    pub summary: Option<&'a str>,
    /// The canonical link.
    pub link: Option<&'a str>,
    /// The page labels.
    pub labels: &'a [String],
}

impl HeadlineRules {
    /// `None` when the headline is stored, otherwise why it is dropped.
    pub fn verdict<'a>(&self, story: impl Into<StoryText<'a>>) -> Option<Dropped> {
        if self.is_empty() {
            return None;
        }
        let story = story.into();
        let mut fields: Vec<(Field, String)> = Vec::with_capacity(3 + story.labels.len());
        fields.push((Field::Title, fold_label(story.title)));
        if let Some(summary) = story.summary {
            fields.push((Field::Summary, fold_label(&visible_text(summary))));
        }
        if let Some(link) = story.link {
            fields.push((Field::Link, fold_label(link)));
        }
        for label in story.labels {
            fields.push((Field::Label, fold_label(label)));
        }
        let find = |rule: &Rule| {
            fields
                .iter()
                .find(|(_, text)| rule.matches(text))
                .map(|(field, _)| *field)
        };
        for rule in &self.block {
            if let Some(field) = find(rule) {
                return Some(Dropped::Blocked {
                    rule: rule.text.clone(),
                    field,
                });
            }
        }
        if self.keep.is_empty() || self.keep.iter().any(|rule| find(rule).is_some()) {
            None
        } else {
            Some(Dropped::NotKept)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The owned shape of a stored story, as far as rules care.
    struct Story {
        title: String,
        link: Option<String>,
        summary: Option<String>,
        page_labels: Vec<String>,
    }

    impl<'a> From<&'a Story> for StoryText<'a> {
        fn from(story: &'a Story) -> Self {
            StoryText {
                title: &story.title,
                summary: story.summary.as_deref(),
                link: story.link.as_deref(),
                labels: &story.page_labels,
            }
        }
    }

    fn story(title: &str) -> Story {
        Story {
            link: Some("https://news.example/sport/1.html".into()),
            title: title.into(),
            summary: Some("<p>By <span>staff</span> &amp; wires</p>".into()),
            page_labels: vec!["廣告".into()],
        }
    }

    fn rules(keep: &[&str], block: &[&str]) -> HeadlineRules {
        HeadlineRules {
            keep: keep.iter().map(|t| Rule::parse(t).unwrap()).collect(),
            block: block.iter().map(|t| Rule::parse(t).unwrap()).collect(),
        }
    }

    #[test]
    fn block_words_fold_like_q() {
        let r = rules(&[], &["ＳＰＯＮＳＯＲＥＤ"]);
        let set = r;
        assert_eq!(
            set.verdict(&story("Sponsored: buy now")),
            Some(Dropped::Blocked {
                rule: "ＳＰＯＮＳＯＲＥＤ".into(),
                field: Field::Title
            })
        );
        assert_eq!(set.verdict(&story("Election results")), None);
        // Traditional label, simplified rule.
        let r = rules(&[], &["广告"]);
        let drop = r.verdict(&story("x"));
        assert_eq!(
            drop,
            Some(Dropped::Blocked {
                rule: "广告".into(),
                field: Field::Label
            })
        );
    }

    #[test]
    fn summary_markup_is_not_matched_but_its_text_is() {
        let r = rules(&[], &["span"]);
        assert_eq!(r.verdict(&story("x")), None);
        let r = rules(&[], &["staff & wires"]);
        assert!(matches!(
            r.verdict(&story("x")),
            Some(Dropped::Blocked {
                field: Field::Summary,
                ..
            })
        ));
    }

    #[test]
    fn keep_needs_one_match_and_block_wins() {
        let set = rules(&["re:^election", "/sport/"], &["re:\\bdraw\\b"]);
        let mut off_topic = story("Weather");
        off_topic.link = Some("https://news.example/world/2".into());
        assert_eq!(set.verdict(&off_topic), Some(Dropped::NotKept));
        assert_eq!(set.verdict(&story("Weather")), None, "kept by its link");
        let mut election = story("ELECTION day");
        election.link = None;
        assert_eq!(set.verdict(&election), None, "kept by the regex");
        assert!(matches!(
            set.verdict(&story("A draw at home")),
            Some(Dropped::Blocked { .. })
        ));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        assert_eq!(
            Rule::parse("  ").unwrap_err(),
            RuleError::Empty("  ".into())
        );
        assert!(matches!(Rule::parse("re:"), Err(RuleError::Empty(_))));
        let err = Rule::parse("re:(unclosed").unwrap_err().to_string();
        assert!(
            err.starts_with("`re:(unclosed` is not a valid regex: "),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Any text is either a rule or an error; parsing never panics, and a parsed rule
        /// keeps its text as written.
        #[test]
        fn parsing_any_text_never_panics(text in any::<String>()) {
            if let Ok(rule) = Rule::parse(&text) {
                prop_assert_eq!(rule.as_str(), text.as_str());
            }
        }

        /// A word rule blocks every title that contains the word, whatever its case.
        #[test]
        fn a_word_blocks_titles_containing_it(
            before in "[a-zA-Z0-9 ]{0,12}",
            word in "[a-zA-Z0-9]{1,8}",
            after in "[a-zA-Z0-9 ]{0,12}",
            upper in any::<bool>(),
        ) {
                let block = HeadlineRules { keep: vec![], block: vec![Rule::parse(&word).unwrap()] };
            let shown = if upper { word.to_uppercase() } else { word.to_lowercase() };
            let mut s = story(&format!("{before}{shown}{after}"));
            s.link = None;
            s.summary = None;
            s.page_labels.clear();
            prop_assert!(block.verdict(&s).is_some());
        }

        /// Regex rules built from arbitrary characters parse or fail cleanly.
        #[test]
        fn regex_rules_never_panic(pattern in "[\\\\()\\[\\]{}a-z0-9.*+?|^$,-]{0,16}") {
            let text = format!("re:{pattern}");
            match Rule::parse(&text) {
                Ok(rule) => { let _ = rule.matches("some folded text"); }
                Err(e) => prop_assert!(!e.to_string().contains('\n')),
            }
        }
    }
}
