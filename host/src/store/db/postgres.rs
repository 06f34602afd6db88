//! `Conn` on PostgreSQL: tokio-postgres connections in a deadpool pool, driven by a small runtime
//! of the store's own.
//!
//! The store's methods are synchronous (SQLite answers in microseconds on the calling thread), and
//! they are called from every kind of thread: tokio's blocking pool, the async workers (a plugin's
//! kv read), plain threads (the command line, tests). A database call therefore runs as a task
//! on the store's runtime while the caller waits on a channel, which is legal from any of them;
//! the caller's thread blocks for the round trip, as it blocked on SQLite's disk before.

use super::value::{Row, Value};
use anyhow::{Context, anyhow, bail};
use bytes::{BufMut, BytesMut};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// Longest a statement may run (and a transaction wait for the write lock) before it fails.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the database, and where in it the host's tables live.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user[:password]@host:port/database`.
    pub url: String,
    /// The schema holding every table of the host (created if missing).
    pub schema: String,
    /// Connections the pool may open.
    pub pool_size: usize,
}

/// A schema name the host accepts: lower-case letters, digits and `_`, not starting with a
/// digit, at most 63 bytes (PostgreSQL's limit). It is written into SQL, so nothing else passes.
pub fn check_schema(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        bail!(
            "--database-schema: {name:?} is not a schema name the host uses (lower-case letters, digits and _, not starting with a digit, at most 63 bytes)"
        );
    }
    Ok(())
}

/// A runtime that can be dropped anywhere, an async context included.
struct DbRuntime(Option<tokio::runtime::Runtime>);

impl Drop for DbRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct Inner {
    pool: Pool,
    runtime: DbRuntime,
    schema: String,
    /// Where the database is, without credentials (for messages).
    shown: String,
}

/// A pool of connections to one PostgreSQL database. Cheap to clone.
#[derive(Clone)]
pub struct Pg(Arc<Inner>);

impl Pg {
    /// Connect (proving the database answers) and create the schema if it is missing.
    pub fn connect(options: &PgOptions) -> anyhow::Result<Pg> {
        check_schema(&options.schema)?;
        let mut config: tokio_postgres::Config = options
            .url
            .parse()
            .map_err(|e| anyhow!("--database-url is not a PostgreSQL URL the driver reads: {e}"))?;
        let shown = shown(&config);
        // Custom plans for every statement: the host's tables start empty and grow, and a generic
        // plan chosen while one was small (a whole-table scan of rate_grants, seen in the
        // benchmark) would be kept for the connection's life.
        config.options(format!(
            "-c search_path={} -c statement_timeout={} -c client_min_messages=warning -c plan_cache_mode=force_custom_plan",
            options.schema,
            STATEMENT_TIMEOUT.as_millis()
        ));
        config.application_name("mica-host");
        config.connect_timeout(Duration::from_secs(5));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mica-db")
            .enable_all()
            .build()
            .context("starting the database runtime")?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(5)))
            .wait_timeout(Some(STATEMENT_TIMEOUT))
            .build()
            .context("building the database pool")?;
        let pg = Pg(Arc::new(Inner {
            pool,
            runtime: DbRuntime(Some(runtime)),
            schema: options.schema.clone(),
            shown,
        }));
        let mut session = pg
            .session()
            .with_context(|| format!("connecting to the database {}", pg.0.shown))?;
        // Created by the first host; `IF NOT EXISTS` lets replicas starting together race safely
        // enough (the loser's error is retried below).
        let create = format!("CREATE SCHEMA IF NOT EXISTS {}", options.schema);
        if session.batch(&create).is_err() {
            session = pg.session()?;
            session
                .batch(&create)
                .with_context(|| format!("creating the schema {}", options.schema))?;
        }
        Ok(pg)
    }

    pub fn schema(&self) -> &str {
        &self.0.schema
    }

    /// Where the database is, without credentials.
    pub fn shown(&self) -> &str {
        &self.0.shown
    }

    /// A connection from the pool, for one unit of work.
    pub fn session(&self) -> anyhow::Result<Session> {
        let pool = self.0.pool.clone();
        let client = self.block(async move { Ok(pool.get().await?) })?;
        Ok(Session {
            client: Some(Arc::new(client)),
            pg: self.clone(),
            in_transaction: false,
        })
    }

    /// Run `work` on the database runtime and wait for it.
    fn block<T: Send + 'static>(
        &self,
        work: impl Future<Output = anyhow::Result<T>> + Send + 'static,
    ) -> anyhow::Result<T> {
        let runtime = self
            .0
            .runtime
            .0
            .as_ref()
            .context("the database runtime has stopped")?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let done = tokio::time::timeout(STATEMENT_TIMEOUT + Duration::from_secs(5), work)
                .await
                .unwrap_or_else(|_| Err(anyhow!("the database did not answer in time")));
            let _ = tx.send(done);
        });
        rx.recv()
            .map_err(|_| anyhow!("the database runtime has stopped"))?
    }
}

/// `host:port/database` of a configuration, for messages (never the password).
fn shown(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// One pooled connection, borrowed for one unit of work.
pub struct Session {
    client: Option<Arc<Object>>,
    pg: Pg,
    /// A transaction was begun and not yet ended: if the session is dropped like that, its
    /// connection is closed rather than handed to the next unit of work mid-transaction.
    in_transaction: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.in_transaction
            && let Some(client) = self.client.take()
            && let Ok(object) = Arc::try_unwrap(client)
        {
            drop(Object::take(object));
        }
    }
}

impl Session {
    fn client(&self) -> anyhow::Result<Arc<Object>> {
        self.client
            .clone()
            .context("the database connection was closed")
    }

    pub fn execute(&mut self, sql: &str, values: Vec<Value>) -> anyhow::Result<usize> {
        let client = self.client()?;
        let sql = dollar_parameters(sql);
        self.pg.block(async move {
            let stmt = client.prepare_cached(&sql).await.map_err(pg_error)?;
            let n = client
                .execute(&stmt, &bound(&values))
                .await
                .map_err(pg_error)?;
            Ok(n as usize)
        })
    }

    pub fn query(&mut self, sql: &str, values: Vec<Value>) -> anyhow::Result<Vec<Row>> {
        let client = self.client()?;
        let sql = dollar_parameters(sql);
        self.pg.block(async move {
            let stmt = client.prepare_cached(&sql).await.map_err(pg_error)?;
            let rows = client
                .query(&stmt, &bound(&values))
                .await
                .map_err(pg_error)?;
            rows.iter().map(row).collect()
        })
    }

    pub fn batch(&mut self, sql: &str) -> anyhow::Result<()> {
        let client = self.client()?;
        let sql = sql.to_string();
        let ends = matches!(sql.trim(), "COMMIT" | "ROLLBACK");
        self.pg.block(async move {
            client.batch_execute(&sql).await.map_err(pg_error)?;
            Ok(())
        })?;
        if ends {
            self.in_transaction = false;
        }
        Ok(())
    }

    /// `BEGIN`, then the write lock every host on this schema takes (see `Conn::write_transaction`).
    pub fn begin_writing(&mut self) -> anyhow::Result<()> {
        self.in_transaction = true;
        let sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('{}.writer'))",
            self.pg.schema()
        );
        self.batch(&sql)
    }

    /// Hold `key`'s session-level advisory lock until `unlock` (migrations at start).
    pub fn lock(&mut self, key: &str) -> anyhow::Result<()> {
        self.batch(&format!("SELECT pg_advisory_lock(hashtext('{key}'))"))
    }

    pub fn unlock(&mut self, key: &str) -> anyhow::Result<()> {
        self.batch(&format!("SELECT pg_advisory_unlock(hashtext('{key}'))"))
    }
}

/// Values as the driver binds them (`Value`'s `ToSql` converts each to its parameter's type).
fn bound(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// The database's own message (its `Display` alone says only "db error").
fn pg_error(e: tokio_postgres::Error) -> anyhow::Error {
    match e.as_db_error() {
        Some(db) => anyhow!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => anyhow!(e),
    }
}

/// `?1` → `$1`, outside quoted text: the store writes SQLite's numbered parameters.
fn dollar_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '?' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn row(r: &tokio_postgres::Row) -> anyhow::Result<Row> {
    (0..r.len())
        .map(|i| column(r, i))
        .collect::<anyhow::Result<_>>()
        .map(Row)
}

fn column(r: &tokio_postgres::Row, i: usize) -> anyhow::Result<Value> {
    fn or_null<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
        v.map_or(Value::Null, f)
    }
    let ty = r.columns()[i].type_();
    Ok(if *ty == Type::INT8 {
        or_null(r.try_get::<_, Option<i64>>(i)?, Value::Int)
    } else if *ty == Type::INT4 {
        or_null(r.try_get::<_, Option<i32>>(i)?, |v| Value::Int(v.into()))
    } else if *ty == Type::INT2 {
        or_null(r.try_get::<_, Option<i16>>(i)?, |v| Value::Int(v.into()))
    } else if *ty == Type::BOOL {
        or_null(r.try_get::<_, Option<bool>>(i)?, |v| Value::Int(v.into()))
    } else if *ty == Type::FLOAT8 {
        or_null(r.try_get::<_, Option<f64>>(i)?, Value::Real)
    } else if *ty == Type::FLOAT4 {
        or_null(r.try_get::<_, Option<f32>>(i)?, |v| Value::Real(v.into()))
    } else if *ty == Type::BYTEA {
        or_null(r.try_get::<_, Option<Vec<u8>>>(i)?, Value::Blob)
    } else if *ty == Type::VOID {
        Value::Null
    } else if <&str as tokio_postgres::types::FromSql>::accepts(ty) {
        or_null(r.try_get::<_, Option<String>>(i)?, Value::Text)
    } else {
        bail!("column {i} is of type {ty}, which the store does not read (cast it)")
    })
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let text_like = <&str as ToSql>::accepts(ty);
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => {
                if *ty == Type::INT8 {
                    i.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*i != 0).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    (*i as f64).to_sql(ty, out)
                } else if text_like {
                    i.to_string().as_str().to_sql(ty, out)
                } else {
                    Err(format!("an integer cannot be bound to a parameter of type {ty}").into())
                }
            }
            Value::Real(r) => {
                if *ty == Type::FLOAT8 {
                    r.to_sql(ty, out)
                } else if *ty == Type::FLOAT4 {
                    (*r as f32).to_sql(ty, out)
                } else {
                    Err(format!("a real cannot be bound to a parameter of type {ty}").into())
                }
            }
            Value::Text(s) => {
                if *ty == Type::JSONB {
                    out.put_u8(1);
                    out.put_slice(s.as_bytes());
                    Ok(IsNull::No)
                } else if text_like || *ty == Type::JSON {
                    out.put_slice(s.as_bytes());
                    Ok(IsNull::No)
                } else {
                    Err(format!("text cannot be bound to a parameter of type {ty}").into())
                }
            }
            Value::Blob(b) => {
                if *ty == Type::BYTEA {
                    b.as_slice().to_sql(ty, out)
                } else {
                    Err(format!("a blob cannot be bound to a parameter of type {ty}").into())
                }
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_dollar_parameters_outside_quoted_text() {
        assert_eq!(
            dollar_parameters("SELECT ?1, '?2', ?10 WHERE a = ?2"),
            "SELECT $1, '?2', $10 WHERE a = $2"
        );
        assert_eq!(dollar_parameters("a ? b"), "a ? b");
    }

    #[test]
    fn schema_names_are_checked_before_they_are_written_into_sql() {
        for good in ["mica_host", "h2", "_x"] {
            check_schema(good).unwrap();
        }
        for bad in ["", "Mica", "2x", "a-b", "a;drop", &"a".repeat(64), "a b"] {
            let e = check_schema(bad).unwrap_err().to_string();
            assert!(e.contains("--database-schema"), "{e}");
        }
    }
}
