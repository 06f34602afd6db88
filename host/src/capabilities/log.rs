//! `mica:plugin/log`: plugin messages into the host's `tracing` output, tagged with the plugin and
//! the delivery being worked on.
//!
//! A plugin must not be able to flood the log or stall on it: each call may log
//! `MAX_LINES_PER_CALL` lines (then one line says the rest were dropped), and a line is handed to a
//! writer thread through a bounded queue that a call never waits on. The host's log writer waits
//! when stderr is slow (it never drops the host's own lines); with a full queue a plugin's lines
//! are dropped and counted (`mica_plugin_log_dropped_total`) instead.

use crate::runtime::bindings::mica::plugin::log::{Host, Level};
use crate::runtime::state::CallState;
use std::sync::LazyLock;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

/// Longer messages are cut.
const MAX_MESSAGE_CHARS: usize = 4096;
/// Lines one call may log.
pub const MAX_LINES_PER_CALL: u32 = 200;
/// Lines waiting for the writer thread, all plugins together.
const QUEUE_LINES: usize = 4096;

struct Line {
    level: Level,
    plugin: String,
    version: String,
    message: String,
    /// The call's span (the delivery's ids), so the line is logged inside it.
    span: tracing::Span,
}

static QUEUE: LazyLock<SyncSender<Line>> = LazyLock::new(|| {
    let (tx, rx) = sync_channel::<Line>(QUEUE_LINES);
    std::thread::Builder::new()
        .name("plugin-log".into())
        .spawn(move || {
            for line in rx {
                let (plugin, version) = (line.plugin.as_str(), line.version.as_str());
                let message = line.message.as_str();
                line.span.in_scope(|| match line.level {
                    Level::Trace => tracing::trace!(plugin, version, "{message}"),
                    Level::Debug => tracing::debug!(plugin, version, "{message}"),
                    Level::Info => tracing::info!(plugin, version, "{message}"),
                    Level::Warn => tracing::warn!(plugin, version, "{message}"),
                    Level::Error => tracing::error!(plugin, version, "{message}"),
                });
            }
        })
        .expect("the plugin log thread starts");
    tx
});

fn dropped(plugin: &str, why: &str) {
    crate::metrics::METRICS
        .plugin_log_dropped
        .with_label_values(&[plugin, why])
        .inc();
}

impl Host for CallState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log_lines = self.log_lines.saturating_add(1);
        let plugin = self.plugin.plugin_id.as_str();
        if self.log_lines > MAX_LINES_PER_CALL {
            if self.log_lines == MAX_LINES_PER_CALL + 1 {
                tracing::warn!(
                    plugin,
                    "this call logged {MAX_LINES_PER_CALL} lines; the rest are dropped"
                );
            }
            dropped(plugin, "quota");
            return Ok(());
        }
        let line = Line {
            level,
            plugin: plugin.to_string(),
            version: self.plugin.version.clone(),
            message: message.chars().take(MAX_MESSAGE_CHARS).collect(),
            span: tracing::Span::current(),
        };
        match QUEUE.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(line)) => dropped(&line.plugin, "queue_full"),
            Err(TrySendError::Disconnected(line)) => dropped(&line.plugin, "no_writer"),
        }
        Ok(())
    }
}
