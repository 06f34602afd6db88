//! Re-read approvals whose decision has not arrived: a callback lost beyond Feishu's retry window
//! (15 s, 5 min, 1 h, 6 h) still reaches Mica.

use crate::domain::PluginError;
use crate::registry::Registry;
use crate::store::{ChangeSource, StatusChange, Store, now_ms};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Status;

pub struct Reconciler {
    pub store: Store,
    pub registry: Arc<Registry>,
    /// An undecided instance is re-read when it has not been checked for this long.
    pub after: Duration,
    /// How often to look.
    pub every: Duration,
    pub notify_mica: bool,
}

impl Reconciler {
    pub fn start(self) -> (watch::Sender<bool>, JoinHandle<()>) {
        let (stop, mut stopped) = watch::channel(false);
        let join = tokio::spawn(async move {
            while !*stopped.borrow() {
                if let Err(e) = self.pass().await {
                    tracing::warn!(error = %format!("{e:#}"), "reconciliation pass failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.every) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        (stop, join)
    }

    /// One pass: read every stale undecided instance once.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let after = self.after.as_millis() as i64;
        let due = self
            .store
            .call(move |s| s.approvals_to_reconcile(after, 100))
            .await?;
        let mut changed = 0;
        for (plugin_id, instance) in due {
            let Some(plugin) = self.registry.active(&plugin_id) else {
                continue;
            };
            let observed_at = now_ms() as u64;
            match plugin.get_approval(&self.store, &instance).await {
                Ok(Ok(found)) => {
                    let change = StatusChange {
                        instance_code: instance.clone(),
                        status: Status(found.status),
                        status_time_ms: observed_at,
                        source: ChangeSource::Reconcile,
                    };
                    let notify = self.notify_mica;
                    if self
                        .store
                        .call(move |s| s.apply_status(&change, notify))
                        .await?
                    {
                        changed += 1;
                    }
                }
                Ok(Err(e)) => log_failure(&instance, &e),
                Err(e) => tracing::warn!(%instance, error = %e, "reading an approval failed"),
            }
            let code = instance.clone();
            self.store.call(move |s| s.mark_checked(&code)).await?;
        }
        Ok(changed)
    }
}

fn log_failure(instance: &str, e: &PluginError) {
    tracing::warn!(%instance, error = ?e, "the provider could not read an approval");
}
