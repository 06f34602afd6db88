//! `Conn` on SQLite: statements are prepared once per connection (rusqlite's cache), values
//! bound and read as they are stored.

use super::value::{Row, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn value(v: ValueRef<'_>) -> anyhow::Result<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(std::str::from_utf8(t)?.to_string()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

pub(super) fn execute(
    c: &rusqlite::Connection,
    sql: &str,
    values: &[Value],
) -> anyhow::Result<usize> {
    let mut stmt = c.prepare_cached(sql)?;
    Ok(stmt.execute(rusqlite::params_from_iter(values))?)
}

pub(super) fn query(
    c: &rusqlite::Connection,
    sql: &str,
    values: &[Value],
) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    query_each(c, sql, values, |row| {
        out.push(row.clone());
        Ok(true)
    })?;
    Ok(out)
}

/// Rows handed to `f` as they are stepped, until it answers `false`; how many it saw.
pub(super) fn query_each(
    c: &rusqlite::Connection,
    sql: &str,
    values: &[Value],
    mut f: impl FnMut(&Row) -> anyhow::Result<bool>,
) -> anyhow::Result<usize> {
    let mut stmt = c.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
    let mut seen = 0;
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(columns);
        for i in 0..columns {
            row.push(value(r.get_ref(i)?)?);
        }
        seen += 1;
        if !f(&Row(row))? {
            break;
        }
    }
    Ok(seen)
}
