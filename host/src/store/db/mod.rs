//! One way for the store to speak SQL to either database: the embedded SQLite file or a shared
//! PostgreSQL server.
//!
//! The store's methods are written once against `Conn`: statements in the common subset of the
//! two dialects, `?N` parameters (rewritten to `$N` for PostgreSQL), values passed and read as
//! `Value`. Where the dialects differ the store asks `Conn::backend` (a handful of places); the
//! schemas are written once per backend (`migrations`, `pg_schema`).
//!
//! Every call is synchronous, like the rest of the store: SQLite runs on the calling thread,
//! PostgreSQL on the driver's own runtime (`postgres::Pg`), the caller waiting for the answer.

mod postgres;
mod sqlite;
mod value;

pub use postgres::{Pg, PgOptions, Session, check_schema};
pub use value::{FromValue, Params, Row, ToValue, Value};

/// Which database a connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The statement found no row (what `query_row` answers; `optional` turns it into `None`).
#[derive(Debug, thiserror::Error)]
#[error("the query returned no row")]
pub struct NoRow;

/// `query_row(...).optional()`: no row is `None`, any other error stays an error.
pub trait OptionalExt<T> {
    fn optional(self) -> anyhow::Result<Option<T>>;
}

impl<T> OptionalExt<T> for anyhow::Result<T> {
    fn optional(self) -> anyhow::Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is::<NoRow>() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Parameters as a slice of values of different types: `params![id, now, None::<String>]`.
#[macro_export]
macro_rules! params {
    () => { () };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue] };
}
pub use params;

/// A connection to either database, borrowed for one unit of work.
pub enum Conn<'a> {
    Sqlite(&'a mut rusqlite::Connection),
    Postgres(&'a mut Session),
}

impl Conn<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Run a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, params: impl Params) -> anyhow::Result<usize> {
        let values = params.values();
        match self {
            Conn::Sqlite(c) => sqlite::execute(c, sql, &values),
            Conn::Postgres(s) => s.execute(sql, values),
        }
    }

    /// Every row a query returns.
    pub fn query(&mut self, sql: &str, params: impl Params) -> anyhow::Result<Vec<Row>> {
        let values = params.values();
        match self {
            Conn::Sqlite(c) => sqlite::query(c, sql, &values),
            Conn::Postgres(s) => s.query(sql, values),
        }
    }

    /// The rows a query returns, each handed to `f` until it answers `false`; how many it saw.
    /// On SQLite the rows after that are never read (a claim looks at a long queue this way).
    pub fn query_each(
        &mut self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row) -> anyhow::Result<bool>,
    ) -> anyhow::Result<usize> {
        let values = params.values();
        match self {
            Conn::Sqlite(c) => sqlite::query_each(c, sql, &values, f),
            Conn::Postgres(s) => {
                let mut seen = 0;
                for row in s.query(sql, values)? {
                    seen += 1;
                    if !f(&row)? {
                        break;
                    }
                }
                Ok(seen)
            }
        }
    }

    /// Every row a query returns, each read by `f`.
    pub fn query_map<T>(
        &mut self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        self.query(sql, params)?.iter().map(f).collect()
    }

    /// The first row a query returns, read by `f`; `NoRow` when there is none.
    pub fn query_row<T>(
        &mut self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let rows = self.query(sql, params)?;
        match rows.first() {
            Some(row) => f(row),
            None => Err(NoRow.into()),
        }
    }

    /// Statements separated by semicolons, without parameters (schemas).
    pub fn batch(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(s) => s.batch(sql),
        }
    }

    /// A transaction that holds the write lock from its start: SQLite's `BEGIN IMMEDIATE`; on
    /// PostgreSQL a transaction-scoped advisory lock that every write transaction of every host
    /// on the database takes, so the store's read-then-write transactions see no other writer
    /// between their read and their write, exactly as on SQLite.
    pub fn write_transaction(&mut self) -> anyhow::Result<Tx<'_>> {
        let mut conn = self.reborrow();
        match &mut conn {
            Conn::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            Conn::Postgres(s) => s.begin_writing()?,
        }
        Ok(Tx { conn, open: true })
    }

    fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(s) => Conn::Postgres(s),
        }
    }
}

/// An open transaction: committed by `commit`, rolled back if dropped before it.
pub struct Tx<'a> {
    conn: Conn<'a>,
    open: bool,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Conn<'a>;
    fn deref(&self) -> &Conn<'a> {
        &self.conn
    }
}

impl<'a> std::ops::DerefMut for Tx<'a> {
    fn deref_mut(&mut self) -> &mut Conn<'a> {
        &mut self.conn
    }
}

impl Tx<'_> {
    pub fn commit(mut self) -> anyhow::Result<()> {
        self.open = false;
        self.conn.batch("COMMIT")
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // The error that ended the transaction early is the one worth reporting.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}
