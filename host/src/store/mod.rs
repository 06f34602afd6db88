//! Durable state: SQLite (embedded, WAL) behind one `Store`.
//!
//! Every method is synchronous and short; async callers go through `Store::run`, which moves the
//! work onto tokio's blocking pool so the runtime's threads never wait on disk.
//!
//! The exception is what every plugin call reads (its settings, its key-value entries): those go
//! through a second, read-only connection, which in WAL mode never waits for the writer, and the
//! settings are cached until `system_parameters` changes (a trigger counts changes; this store's
//! own writes are seen at once, other processes' within 100 ms), kv entries once read or written
//! (this store is their only writer). A thread hop per read cost more than the read itself
//! (docs/benchmarks.md).

mod approvals;
mod callbacks;
mod checkpoint;
mod decisions;
mod deliveries;
mod events;
mod identities;
mod kv;
mod migrations;
mod owners;
mod params;
mod plugins;
mod redraws;
pub mod sealer;

pub use approvals::{
    Approval, ChangeSource, CurrentApproval, HistoryEntry, Instance, StatusChange,
};
pub use callbacks::{DueCallback, FailedNotice, MAX_REFUSALS};
pub use decisions::{
    ClickedCard, DecisionRow, DecisionStage, MicaAnswer, NewDecision, StoredDecision,
};
pub use deliveries::{
    Candidate, Claimed, Completion, Delivery, DeliveryStatus, ErrorKind, Outcome, Verdict,
};
pub use events::{InsertedEvent, NewDelivery, NewEvent};
pub use identities::Identity;
pub use kv::{KvEntry, KvError, KvSpace, MAX_ENTRIES_PER_PLUGIN};
pub use owners::{Claim, Owned, OwnedElsewhere};
pub use params::{Param, ParamSpec, ParamValues, check_type};
pub use plugins::PluginVersion;
pub use redraws::Settles;
pub use sealer::Sealer;

use anyhow::Context;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Read-only: the plugin-call hot path (settings, kv reads) and its settings cache.
    reader: Arc<Mutex<params::Reader>>,
    /// Writes to `system_parameters` committed through this store (the settings cache follows it).
    param_writes: Arc<std::sync::atomic::AtomicU64>,
    /// What this store knows of the plugins' kv table (see `kv`).
    kv_cache: Arc<Mutex<kv::KvCache>>,
    /// Seals sensitive parameters at rest.
    pub(crate) sealer: Arc<Sealer>,
}

impl Store {
    /// Open (creating if needed) the SQLite database at `path` and bring its schema up to date.
    pub fn open(path: &Path, sealer: Sealer) -> anyhow::Result<Store> {
        create_private(path)?;
        let conn = Connection::open(path)
            .with_context(|| format!("opening the database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::apply(&conn)?;
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening the database {} to read", path.display()))?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        let store = Store {
            conn: Arc::new(Mutex::new(conn)),
            reader: Arc::new(Mutex::new(params::Reader::new(reader))),
            param_writes: Arc::default(),
            kv_cache: Arc::default(),
            sealer: Arc::new(sealer),
        };
        store.open_sealed_secrets().with_context(|| {
            format!(
                "the secrets sealed in {} cannot be opened: the secret key is missing or is not the one they were sealed with; restore DATA_DIR/secret.key (or set MICA_SECRET_KEY) and start again",
                path.display()
            )
        })?;
        store.seal_plaintext_secrets()?;
        store.seal_plaintext_kv()?;
        Ok(store)
    }

    /// Run `f` with the connection, on the calling thread.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| anyhow::anyhow!("the database connection was poisoned by a panic"))?;
        f(&mut conn)
    }

    /// Run `f` with the read-only connection, on the calling thread.
    fn read<R>(
        &self,
        f: impl FnOnce(&mut params::Reader) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let mut reader = self
            .reader
            .lock()
            .map_err(|_| anyhow::anyhow!("the database reader was poisoned by a panic"))?;
        f(&mut reader)
    }

    /// Run `f` with the connection on tokio's blocking pool.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> anyhow::Result<R> + Send + 'static,
    ) -> anyhow::Result<R> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.with(f))
            .await
            .context("a database task panicked")?
    }

    /// Run `f` (usually one of the methods below) on tokio's blocking pool.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> anyhow::Result<R> + Send + 'static,
    ) -> anyhow::Result<R> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .context("a database task panicked")?
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> bool {
        self.run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .is_ok()
    }
}

/// Create the database file readable by this user only (SQLite gives its -wal and -shm files the
/// same mode): it holds the sealed secrets, the plugins and every event's recipients.
fn create_private(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating the database {}", path.display())),
    }
}

/// A directory only this user can enter (the data directory: the database and the key file).
/// An existing directory is left as it is.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Milliseconds since the Unix epoch, the time unit of every column ending in `_ms`.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 in UTC, for timestamps shown to people and to Mica.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A write transaction that takes the write lock at once: a deferred one that reads first could
/// not upgrade while another process writes, and SQLite would refuse it immediately instead of
/// waiting the busy timeout.
pub(crate) fn write_transaction(c: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// A store of its own in a fresh temporary directory, for the store's tests.
#[cfg(test)]
pub(crate) fn temporary() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&dir.path().join("t.db"), Sealer::ephemeral()).expect("a new store");
    (dir, store)
}
