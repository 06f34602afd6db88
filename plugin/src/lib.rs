//! The Feishu (Lark) plugin for Mica's extension host.
//!
//! Everything here except `glue` is plain Rust with no WebAssembly in it: card rendering, the Feishu
//! client, response classification. It runs natively in unit tests and benchmarks. `glue` (compiled
//! only for `wasm32`) adapts it to the `mica:plugin` WIT contract and the host's imports.

pub mod actions;
pub mod approvals;
pub mod cards;
pub mod connection;
pub mod describe;
pub mod feishu;
pub mod model;
pub mod notify;
pub mod ports;
pub mod preview;
pub mod redraw;
pub mod samples;
pub mod settings;

#[cfg(test)]
mod testkit;

#[cfg(target_arch = "wasm32")]
mod glue;

/// The plugin id the host knows this plugin by.
pub const PLUGIN_ID: &str = "feishu";
/// This build's version, as declared to the host.
pub const PLUGIN_VERSION: &str = if cfg!(feature = "fixture-v2") {
    "0.2.0-fixture"
} else {
    env!("CARGO_PKG_VERSION")
};
