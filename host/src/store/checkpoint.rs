//! Write-ahead-log checkpoints off the request path.
//!
//! By default SQLite checkpoints inside whichever commit pushes the log past 1,000 pages: that
//! commit copies the log into the database and syncs it, a pause of several milliseconds for a
//! webhook or a delivery that happened to be waiting on the writer (the webhook benchmark's p99).
//! A running host turns that off and checkpoints from a thread of its own instead, with its own
//! connection, in PASSIVE mode, which never waits for readers or the writer.

use super::{Database, Store};
use anyhow::Context;
use rusqlite::Connection;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the log is copied into the database (it stays a few hundred pages at most).
const EVERY: Duration = Duration::from_millis(500);

impl Store {
    /// Stop checkpointing in commits and do it in the background until `stop` is sent `true`.
    pub fn checkpoint_in_background(
        &self,
    ) -> anyhow::Result<(watch::Sender<bool>, JoinHandle<()>)> {
        let (stop, mut stopped) = watch::channel(false);
        let (path, writer) = match &self.db {
            Database::Sqlite { path, writer, .. } => (path.clone(), writer.clone()),
            // PostgreSQL checkpoints on its own schedule, outside any of the host's statements.
            Database::Postgres(_) => return Ok((stop, tokio::spawn(async {}))),
        };
        let own = Connection::open(&path)
            .with_context(|| format!("opening the database {} to checkpoint", path.display()))?;
        own.busy_timeout(Duration::from_secs(5))?;
        writer
            .lock()
            .map_err(|_| anyhow::anyhow!("the database connection was poisoned by a panic"))?
            .pragma_update(None, "wal_autocheckpoint", 0)?;
        let own = Arc::new(Mutex::new(own));
        let join = tokio::spawn(async move {
            while !*stopped.borrow() {
                tokio::select! {
                    _ = tokio::time::sleep(EVERY) => {}
                    _ = stopped.changed() => continue,
                }
                let own = own.clone();
                let done = tokio::task::spawn_blocking(move || {
                    let own = own.lock().unwrap_or_else(|p| p.into_inner());
                    own.query_row("PRAGMA wal_checkpoint(PASSIVE)", (), |_| Ok(()))
                })
                .await;
                if let Ok(Err(e)) = done {
                    tracing::warn!(error = %e, "could not checkpoint the database log");
                }
            }
        });
        Ok((stop, join))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_log_reaches_the_database_without_commits_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path, super::super::Sealer::ephemeral()).unwrap();
        let (stop, join) = store.checkpoint_in_background().unwrap();
        let auto: i64 = store
            .with(|c| c.query_row("PRAGMA wal_autocheckpoint", (), |r| r.get(0)))
            .unwrap();
        assert_eq!(auto, 0, "commits no longer checkpoint");
        let before = std::fs::metadata(&path).unwrap().len();
        let value = vec![7u8; 64 * 1024];
        for i in 0..32 {
            store
                .kv_put("p", &format!("k{i}"), &value, None, None)
                .unwrap();
        }
        // 2 MiB written to the log; the background checkpoint copies it into the database file.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < before + 2 * 1024 * 1024 {
            assert!(
                std::time::Instant::now() < deadline,
                "the log was not checkpointed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), join)
            .await
            .expect("stops promptly")
            .unwrap();
    }
}
