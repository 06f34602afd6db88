//! The outbox of notices to Mica.

use super::{Store, now_ms};
use rusqlite::params;

#[derive(Clone, Debug)]
pub struct DueCallback {
    pub id: i64,
    pub body: String,
    pub attempts: i64,
}

impl Store {
    pub fn due_callbacks(&self, limit: usize) -> anyhow::Result<Vec<DueCallback>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, body, attempts FROM callbacks WHERE status = 'pending' AND next_attempt_at <= ?1
                 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms(), limit as i64], |r| {
                Ok(DueCallback {
                    id: r.get(0)?,
                    body: r.get(1)?,
                    attempts: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn callback_sent(&self, id: i64) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE callbacks SET status = 'sent', attempts = attempts + 1, last_error = NULL, updated_at = ?2 WHERE id = ?1",
                params![id, now_ms()],
            )?;
            Ok(())
        })
    }

    pub fn callback_retry(&self, id: i64, retry_at_ms: i64, error: &str) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE callbacks SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, retry_at_ms, error, now_ms()],
            )?;
            Ok(())
        })
    }
}
