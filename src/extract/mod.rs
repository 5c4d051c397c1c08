//! The extract stage: turns a decoded page or feed into raw [`Headline`]s.
//!
//! Extraction is pure: it takes text and the URL it came from and yields headlines with absolute
//! links and the time exactly as the source printed it. Parsing times, canonicalising links and
//! deciding identity belong to `normalize` and `store`.

pub mod feed;
mod headline;
pub mod html;

pub use headline::{Headline, MAX_LABELS};
