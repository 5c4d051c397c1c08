//! headwire: a self-hosted news aggregator.
//!
//! Configured portal sections (web pages that list headlines) and feeds are polled, their
//! headlines extracted, normalised and deduplicated into a sled store, and served as merged,
//! filterable RSS, Atom and JSON feeds. The pipeline flows one way, one module per stage:
//! `config` → `poll` → `fetch` → `extract` → `normalize` → `store` ← `render` ← `server`.
//! `app` wires the stages into the commands the binary offers; `suggest` (selectors proposed
//! for a page) sits on top like `app`, running the same poll path.
//!
//! Below the stages sit leaf modules any stage may use and which import no stage: `text`
//! (cleaning, folding, escaping, HTML → text, links), `selector` (the selector grammar and the
//! registry of fields), `units` (durations and sizes as written) and `rules` (keep/block rules).
//! `config` owns plain data and uses only these.

pub mod app;
pub mod config;
pub mod extract;
pub mod feeds_edit;
pub mod fetch;
pub mod normalize;
pub mod opml_import;
pub mod poll;
pub mod render;
pub mod rules;
pub mod selector;
pub mod server;
pub mod store;
pub mod suggest;
pub mod text;
pub mod units;
