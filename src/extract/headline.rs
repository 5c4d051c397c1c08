//! The [`Headline`] type shared by every extractor, and the caps every extractor applies to it.

/// At most this many labels are kept for one headline (page labels, feed categories).
pub const MAX_LABELS: usize = 64;

/// One headline as a source shows it, before identity and storage decide anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headline {
    /// Plain-text title: entities decoded, tags stripped, whitespace collapsed.
    pub title: String,
    /// Absolute link to the story, resolved against the page/feed URL and any base.
    pub link: Option<String>,
    /// The source's own identifier (RSS guid, Atom id, JSON Feed id) when it has one.
    pub guid: Option<String>,
    /// The publication time exactly as printed or encoded by the source (parsed later).
    pub time_text: Option<String>,
    /// The source's "updated" time as printed, when it gives one separately.
    pub updated_text: Option<String>,
    /// Section labels the source attaches to the headline (page labels, feed categories).
    pub labels: Vec<String>,
    /// Summary as sanitised HTML (safe to embed), when the source has one.
    pub summary: Option<String>,
    /// Author name, when known.
    pub author: Option<String>,
    /// Absolute URL of a representative image, when known.
    pub image: Option<String>,
}

impl Headline {
    /// Whether the field of [`crate::selector::FIELDS`] called `name` has a value here.
    pub fn has(&self, name: &str) -> bool {
        match name {
            "title" => !self.title.is_empty(),
            "link" => self.link.is_some(),
            "time" => self.time_text.is_some(),
            "label" => !self.labels.is_empty(),
            "summary" => self.summary.is_some(),
            "image" => self.image.is_some(),
            "author" => self.author.is_some(),
            _ => false,
        }
    }
}
