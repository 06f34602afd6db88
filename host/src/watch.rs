//! `serve --watch PATH`: the developer loop. When the component file changes (a rebuild), install
//! and activate it after validation; a component that fails validation leaves the running version
//! in place, and the log says why.

use crate::registry::{Registry, SameVersion};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const POLL: Duration = Duration::from_millis(300);

/// How a reload of the watched file ended (the `mica_watch_reloads_total` outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// Installed and activated: the new build serves.
    Reloaded,
    /// Not a valid plugin: the running version keeps serving.
    Invalid,
    /// Installed, but activation failed: the running version keeps serving.
    NotActivated,
}

impl Reload {
    pub fn as_str(self) -> &'static str {
        match self {
            Reload::Reloaded => "reloaded",
            Reload::Invalid => "invalid",
            Reload::NotActivated => "not_activated",
        }
    }
}

fn counted(outcome: Reload) {
    crate::metrics::METRICS
        .watch_reloads
        .with_label_values(&[outcome.as_str()])
        .inc();
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

pub fn start(path: PathBuf, registry: Arc<Registry>) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    // Taken now, not in the task: a change made right after start must count as a change.
    let mut seen = stamp(&path);
    let join = tokio::spawn(async move {
        tracing::info!(path = %path.display(), "watching the plugin file");
        while !*stopped.borrow() {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stopped.changed() => break,
            }
            let now = stamp(&path);
            if now.is_none() || now == seen {
                continue;
            }
            // Wait for the writer to finish: the same size and time on two looks.
            tokio::time::sleep(POLL).await;
            if stamp(&path) != now {
                continue;
            }
            seen = now;
            let Ok(wasm) = std::fs::read(&path) else {
                continue;
            };
            match registry.install(wasm, SameVersion::Replace).await {
                Ok(plugin) => {
                    for warning in registry.schema_changes(&plugin) {
                        tracing::warn!(%warning, "settings schema change");
                    }
                    match registry.activate(plugin.clone()).await {
                        Ok(()) => {
                            tracing::info!(plugin = %plugin.id(), version = %plugin.version(), "reloaded from the watched file");
                            counted(Reload::Reloaded);
                        }
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "activation failed; the previous version keeps serving");
                            counted(Reload::NotActivated);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %format!("{e:#}"), "the rebuilt plugin is not valid; the previous version keeps serving");
                    counted(Reload::Invalid);
                }
            }
        }
    });
    (stop, join)
}
