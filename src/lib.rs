//! headwire: a self-hosted news aggregator.
//!
//! Configured portal sections (web pages that list headlines) and feeds are polled, their
//! headlines extracted, normalised and deduplicated into a sled store, and served as merged,
//! filterable RSS, Atom and JSON feeds. The pipeline flows one way, one module per stage:
//! `config` → `poll` → `fetch` (→ `decode`) → `extract` → `normalize` → `store` ← `render` ←
//! `server`. `fetch` hands the poller decoded text; `decode` owns the charset decision. `app`
//! wires the stages into the commands the binary offers; `main` is the CLI; `suggest`
//! (selectors proposed for a page) sits on top like `app`, running the same poll path.
//!
//! Below the stages sit leaf modules any stage may use and which import no stage: `text`
//! (cleaning, folding, escaping, HTML → text, links), `selector` (the selector grammar and the
//! registry of fields), `units` (durations and sizes as written), `rules` (keep/block rules),
//! `clock` (where "now" comes from), `metrics` (the poller's counters the server shows) and
//! `http_date` (HTTP dates read and written). `config` owns plain data and uses only these.

pub mod app;
pub mod clock;
pub mod config;
pub mod decode;
pub mod extract;
pub mod feeds_edit;
pub mod fetch;
pub mod fulltext;
pub mod http_date;
pub mod imageproxy;
pub mod metrics;
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
