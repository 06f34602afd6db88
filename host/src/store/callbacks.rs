//! The outbox of notices to Mica: due notices in order per payment, outcomes, dead letters.

use super::db::params;
use super::{Store, now_ms, rfc3339};
use serde::Serialize;

/// A notice Mica refused this many times (4xx) becomes a dead letter: retrying cannot help
/// until someone fixes the cause, and it must not hold back the payment's later notices forever.
pub const MAX_REFUSALS: i64 = 5;

#[derive(Clone, Debug)]
pub struct DueCallback {
    pub id: i64,
    pub body: String,
    pub attempts: i64,
    pub refusals: i64,
    /// The card whose decision this notice relays (a `pr.decision` notice).
    pub decision_of: Option<String>,
}

/// A notice that ended as a dead letter, as the API and CLI show it.
#[derive(Clone, Debug, Serialize)]
pub struct FailedNotice {
    pub id: i64,
    pub notice_id: String,
    pub payment_id: Option<String>,
    pub body: serde_json::Value,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Store {
    /// Take pending notices that are due, oldest first, and only the first pending one of each
    /// payment (the next waits until that one is delivered or has become a dead letter), leasing
    /// them for `lease_ms`: another host on the database does not send them meanwhile, and if
    /// this one dies they are due again when the lease runs out. Every outcome below sets when
    /// the notice is next due, which ends the lease.
    pub fn claim_due_callbacks(
        &self,
        limit: usize,
        lease_ms: i64,
    ) -> anyhow::Result<Vec<DueCallback>> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let now = now_ms();
            let rows = tx.query_map(
                "SELECT c.id, c.body, c.attempts, c.refusals, c.decision_of FROM callbacks c
                 WHERE c.status = 'pending' AND c.next_attempt_at <= ?1
                   AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.status = 'pending'
                                   AND e.subject = c.subject AND e.id < c.id)
                 ORDER BY c.id LIMIT ?2",
                params![now, limit as i64],
                |r| {
                    Ok(DueCallback {
                        id: r.get(0)?,
                        body: r.get(1)?,
                        attempts: r.get(2)?,
                        refusals: r.get(3)?,
                        decision_of: r.get(4)?,
                    })
                },
            )?;
            for notice in &rows {
                tx.execute(
                    "UPDATE callbacks SET next_attempt_at = ?2 WHERE id = ?1",
                    params![notice.id, now + lease_ms],
                )?;
            }
            tx.commit()?;
            Ok(rows)
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

    /// Mica could not be reached or answered 5xx: try again later, as long as it takes.
    pub fn callback_retry(&self, id: i64, retry_at_ms: i64, error: &str) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE callbacks SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, retry_at_ms, error, now_ms()],
            )?;
            Ok(())
        })
    }

    /// Mica answered 4xx: retried a few times (a deployment in progress may answer 404), then a
    /// dead letter. Returns whether it is now a dead letter.
    pub fn callback_refused(&self, id: i64, retry_at_ms: i64, error: &str) -> anyhow::Result<bool> {
        self.with(|c| {
            let dead: bool = c.query_row(
                "UPDATE callbacks SET attempts = attempts + 1, refusals = refusals + 1,
                     status = CASE WHEN refusals + 1 >= ?5 THEN 'failed' ELSE status END,
                     next_attempt_at = ?2, last_error = ?3, updated_at = ?4
                 WHERE id = ?1 RETURNING status = 'failed'",
                params![id, retry_at_ms, error, now_ms(), MAX_REFUSALS],
                |r| r.get(0),
            )?;
            Ok(dead)
        })
    }

    pub fn failed_notices(&self, limit: usize) -> anyhow::Result<Vec<FailedNotice>> {
        self.with(|c| {
            let rows = c.query_map("SELECT id, body, subject, attempts, last_error, created_at, updated_at FROM callbacks
                 WHERE status = 'failed' ORDER BY id DESC LIMIT ?1", params![limit as i64], |r| {
                let body: String = r.get(1)?;
                Ok(FailedNotice {
                    id: r.get(0)?,
                    notice_id: crate::callbacks::notice_id(&body),
                    body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                    payment_id: r.get(2)?,
                    attempts: r.get(3)?,
                    last_error: r.get(4)?,
                    created_at: rfc3339(r.get(5)?),
                    updated_at: rfc3339(r.get(6)?),
                })
            })?;
            Ok(rows)
        })
    }

    /// Queue dead letters again (one by id, or all); the number queued.
    pub fn retry_failed_notices(&self, id: Option<i64>) -> anyhow::Result<usize> {
        self.with(|c| {
            let now = now_ms();
            let n = match id {
                Some(id) => c.execute(
                    "UPDATE callbacks SET status = 'pending', refusals = 0, next_attempt_at = ?2, updated_at = ?2
                     WHERE id = ?1 AND status = 'failed'",
                    params![id, now],
                )?,
                None => c.execute(
                    "UPDATE callbacks SET status = 'pending', refusals = 0, next_attempt_at = ?1, updated_at = ?1
                     WHERE status = 'failed'",
                    params![now],
                )?,
            };
            Ok(n)
        })
    }

    /// Dead-lettered notices, for the metric.
    pub fn failed_notice_count(&self) -> anyhow::Result<i64> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM callbacks WHERE status = 'failed'",
                (),
                |r| r.get(0),
            )
        })
    }
}
