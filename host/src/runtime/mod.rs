//! The WebAssembly runtime: one engine, compiled components cached on disk, a fresh sandboxed
//! store for every call.

pub(crate) mod bindings;
mod card_actions;
mod card_updates;
mod compile_cache;
mod convert;
mod engine;
#[cfg(test)]
mod frozen_wit;
mod limits;
mod loaded;
mod messages;
pub(crate) mod state;

pub use card_actions::ProgressCall;
pub use card_updates::CardUpdateCall;
pub use engine::Runtime;
pub use limits::SandboxLimits;
pub use loaded::{CallError, Descriptor, LoadedPlugin, MessageCall, SettingDecl, World};
pub use state::PluginContext;
