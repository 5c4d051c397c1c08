//! Text primitives every stage shares: cleaning, folding, escaping, HTML → text, links.
//!
//! A leaf module (it imports no stage), so `extract`, `normalize`, `render`, `rules` and the
//! server all use the same rules instead of copies that drift apart:
//!
//! * [`clean`] — display text: white space collapsed, invisible characters removed, and the
//!   one rule for zero-width joiners (kept only between two visible non-ASCII characters).
//! * [`fold`] — comparison keys (`title_key`, `fold_label`): never shown, joiners dropped.
//! * [`escape`] — HTML escaping and the characters XML 1.0 forbids.
//! * [`html`] — HTML fragment → text, for display (a parse) and for matching (one pass).
//! * [`link`] — an href resolved against a base, http(s) only.

pub mod clean;
pub mod escape;
pub mod fold;
pub mod html;
pub mod link;

pub use clean::{clean_text, one_line};
pub use escape::{escape_html, push_xml_escaped, xml_text};
pub use fold::{fold_label, title_key, to_simplified, warm_up};
pub use html::{html_to_text, looks_like_markup, visible_text};
pub use link::resolve_link;
