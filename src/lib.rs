//! headwire: a self-hosted news aggregator.
//!
//! Configured portal sections (web pages that list headlines) and feeds are polled, their
//! headlines extracted, normalised and deduplicated into a sled store, and served as merged,
//! filterable RSS, Atom and JSON feeds. The pipeline flows one way, one module per stage:
//! `config` → `poll` → `fetch` → `extract` → `normalize` → `store` ← `render` ← `server`.
//! `app` wires the stages into the commands the binary offers.

pub mod app;
pub mod config;
pub mod extract;
pub mod feeds_edit;
pub mod fetch;
pub mod fulltext;
pub mod imageproxy;
pub mod normalize;
pub mod opml_import;
pub mod poll;
pub mod render;
pub mod rules;
pub mod server;
pub mod store;
pub mod suggest;
