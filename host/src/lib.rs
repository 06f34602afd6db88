//! Mica's extension host: loads plugin components, gives them capabilities, calls them on Mica's
//! domain events, and keeps everything durable.

pub mod actions;
pub mod api;
pub mod app;
pub mod approvals;
pub mod callbacks;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod console;
pub mod delivery;
pub mod domain;
pub mod events;
pub mod metrics;
pub mod net;
pub mod registry;
pub mod runtime;
pub mod secret;
pub mod settings_form;
pub mod store;
pub mod tokens;
pub mod watch;
