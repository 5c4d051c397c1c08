//! Text cleanup and folding moved to [`crate::text`]; these names stay for callers elsewhere.

// moved: re-export for callers outside this change
pub use crate::text::fold::warm_up;
// moved: re-export for callers outside this change
pub use crate::text::{clean_text, escape_html, fold_label, title_key, to_simplified};
