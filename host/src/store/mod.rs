//! Durable state behind one `Store`: SQLite (embedded, WAL; the default) or PostgreSQL (a shared
//! server, Mica's own database included), through `db::Conn`, which speaks to either.
//!
//! Every method is synchronous and short; async callers go through `Store::call`, which moves the
//! work onto tokio's blocking pool so the runtime's threads never wait on the database.
//!
//! The exception is what every plugin call reads (its settings, its key-value entries): on SQLite
//! those go through a second, read-only connection, which in WAL mode never waits for the
//! writer. The settings are cached until `system_parameters` changes (a trigger counts changes;
//! this store's own writes are seen at once, other processes' within 100 ms), kv entries once read
//! or written where this store is their only writer (SQLite: one host per file). A thread hop per
//! read cost more than the read itself (docs/benchmarks.md).

mod approvals;
mod callbacks;
mod checkpoint;
pub mod db;
mod decisions;
mod deliveries;
mod events;
mod hosts;
mod identities;
mod kv;
mod migrations;
mod owners;
mod params;
mod pg_schema;
mod plugins;
mod redraws;
pub mod sealer;

pub use approvals::{
    Approval, ChangeSource, CurrentApproval, HistoryEntry, Instance, StatusChange,
};
pub use callbacks::{DueCallback, FailedNotice, MAX_REFUSALS};
pub use db::{Backend, PgOptions};
pub use decisions::{
    ClickedCard, DecisionRow, DecisionStage, MicaAnswer, NewDecision, StoredDecision,
};
pub use deliveries::{
    Candidate, Claimed, Completion, Delivery, DeliveryStatus, ErrorKind, Others, Outcome, Verdict,
};
pub use events::{InsertedEvent, NewDelivery, NewEvent};
pub use hosts::{DEAD_AFTER_MS, HEARTBEAT_EVERY};
pub use identities::Identity;
pub use kv::{KvEntry, KvError, KvSpace, MAX_ENTRIES_PER_PLUGIN};
pub use owners::{Claim, Owned, OwnedElsewhere};
pub use params::{Param, ParamSpec, ParamValues, check_type};
pub use plugins::PluginVersion;
pub use redraws::Settles;
pub use sealer::Sealer;

use anyhow::Context;
use db::{Conn, Pg};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The database a store keeps its state in.
#[derive(Clone)]
enum Database {
    Sqlite {
        path: PathBuf,
        writer: Arc<Mutex<Connection>>,
        /// Read-only: the plugin-call hot path (settings, kv reads).
        reader: Arc<Mutex<Connection>>,
    },
    Postgres(Pg),
}

/// A handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Database,
    /// The settings cache of the hot path.
    reader: Arc<Mutex<params::Reader>>,
    /// Writes to `system_parameters` committed through this store (the settings cache follows it).
    param_writes: Arc<std::sync::atomic::AtomicU64>,
    /// What this store knows of the plugins' kv table (see `kv`).
    kv_cache: Arc<Mutex<kv::KvCache>>,
    /// Seals sensitive parameters at rest.
    pub(crate) sealer: Arc<Sealer>,
    /// This process among the hosts sharing the database (`hosts`): the owner of its leases and
    /// of its granted calls.
    host_id: Arc<str>,
    /// The last `rate_grants` row this host has counted (`deliveries::claim_due`).
    grants_seen: Arc<std::sync::atomic::AtomicI64>,
    /// When this host last removed grants older than `GRANTS_KEPT_MS`.
    grants_pruned: Arc<std::sync::atomic::AtomicI64>,
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
        conn.set_prepared_statement_cache_capacity(128);
        migrations::apply(&conn)?;
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening the database {} to read", path.display()))?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        Store::ready(
            Database::Sqlite {
                path: path.to_path_buf(),
                writer: Arc::new(Mutex::new(conn)),
                reader: Arc::new(Mutex::new(reader)),
            },
            sealer,
            &path.display().to_string(),
        )
    }

    /// Connect to PostgreSQL, create the schema if it is missing and bring it up to date (under
    /// an advisory lock, so replicas starting together migrate once).
    pub fn open_postgres(options: &PgOptions, sealer: Sealer) -> anyhow::Result<Store> {
        let pg = Pg::connect(options)?;
        pg_schema::apply(&pg)?;
        let shown = format!("{} (schema {})", pg.shown(), pg.schema());
        Store::ready(Database::Postgres(pg), sealer, &shown)
    }

    fn ready(db: Database, sealer: Sealer, shown: &str) -> anyhow::Result<Store> {
        let store = Store {
            db,
            reader: Arc::new(Mutex::new(params::Reader::new())),
            param_writes: Arc::default(),
            kv_cache: Arc::default(),
            sealer: Arc::new(sealer),
            host_id: hex::encode(rand::random::<[u8; 8]>()).into(),
            grants_seen: Arc::default(),
            grants_pruned: Arc::default(),
        };
        store.open_sealed_secrets().with_context(|| {
            format!(
                "the secrets sealed in {shown} cannot be opened: the secret key is missing or is not the one they were sealed with; restore DATA_DIR/secret.key (or set MICA_SECRET_KEY) and start again"
            )
        })?;
        store.seal_plaintext_secrets()?;
        store.seal_plaintext_kv()?;
        Ok(store)
    }

    /// Which database this store keeps its state in.
    pub fn backend(&self) -> db::Backend {
        match self.db {
            Database::Sqlite { .. } => db::Backend::Sqlite,
            Database::Postgres(_) => db::Backend::Postgres,
        }
    }

    /// Run `f` with a connection, on the calling thread.
    pub fn with<R>(&self, f: impl FnOnce(&mut Conn) -> anyhow::Result<R>) -> anyhow::Result<R> {
        match &self.db {
            Database::Sqlite { writer, .. } => {
                let mut conn = writer.lock().map_err(|_| {
                    anyhow::anyhow!("the database connection was poisoned by a panic")
                })?;
                f(&mut Conn::Sqlite(&mut conn))
            }
            Database::Postgres(pg) => f(&mut Conn::Postgres(&mut pg.session()?)),
        }
    }

    /// Run `f` with the read-only connection (a pooled one on PostgreSQL) and the settings
    /// cache, on the calling thread.
    fn read<R>(
        &self,
        f: impl FnOnce(&mut Conn, &mut params::Reader) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let mut cache = self
            .reader
            .lock()
            .map_err(|_| anyhow::anyhow!("the settings cache was poisoned by a panic"))?;
        match &self.db {
            Database::Sqlite { reader, .. } => {
                let mut conn = reader
                    .lock()
                    .map_err(|_| anyhow::anyhow!("the database reader was poisoned by a panic"))?;
                f(&mut Conn::Sqlite(&mut conn), &mut cache)
            }
            Database::Postgres(pg) => f(&mut Conn::Postgres(&mut pg.session()?), &mut cache),
        }
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
        self.call(|s| s.with(|c| c.query_row("SELECT 1", (), |r| r.get::<i64>(0))))
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

/// A write transaction that takes the write lock at once: on SQLite a deferred one that reads
/// first could not upgrade while another process writes, and SQLite would refuse it immediately
/// instead of waiting the busy timeout; on PostgreSQL see `Conn::write_transaction`.
pub(crate) fn write_transaction<'c>(c: &'c mut Conn) -> anyhow::Result<db::Tx<'c>> {
    c.write_transaction()
}

/// A store of its own for the store's tests: a SQLite file in a fresh temporary directory, or,
/// when `MICA_TEST_DATABASE_URL` names a PostgreSQL database (scripts/test.sh's PostgreSQL pass),
/// a fresh schema there.
#[cfg(test)]
pub(crate) fn temporary() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = match test_postgres() {
        Some(url) => Store::open_postgres(
            &PgOptions {
                url,
                schema: format!("t_{}", hex::encode(rand::random::<[u8; 8]>())),
                pool_size: 4,
            },
            Sealer::ephemeral(),
        ),
        None => Store::open(&dir.path().join("t.db"), Sealer::ephemeral()),
    };
    (dir, store.expect("a new store"))
}

/// The PostgreSQL database the tests run on, if this is the PostgreSQL pass.
#[cfg(test)]
pub(crate) fn test_postgres() -> Option<String> {
    std::env::var("MICA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}
