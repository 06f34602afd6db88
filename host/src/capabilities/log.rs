//! `mica:plugin/log`: plugin messages into the host's `tracing` output, tagged with the plugin.

use crate::runtime::bindings::mica::plugin::log::{Host, Level};
use crate::runtime::state::CallState;

/// Longer messages are cut: a plugin must not be able to flood the log.
const MAX_MESSAGE_CHARS: usize = 4096;

impl Host for CallState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
        let plugin = self.plugin.plugin_id.as_str();
        let version = self.plugin.version.as_str();
        match level {
            Level::Trace => tracing::trace!(plugin, version, "{message}"),
            Level::Debug => tracing::debug!(plugin, version, "{message}"),
            Level::Info => tracing::info!(plugin, version, "{message}"),
            Level::Warn => tracing::warn!(plugin, version, "{message}"),
            Level::Error => tracing::error!(plugin, version, "{message}"),
        }
        Ok(())
    }
}
