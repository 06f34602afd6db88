//! Payment ↔ approval instance, its status history, callback dedup, and the Mica notices each
//! accepted change produces, all written in one transaction.

use super::db::{Conn, OptionalExt, params};
use super::{Store, now_ms, rfc3339};
use crate::approvals::{Status, accepts};
use crate::delivery::redraw::Settlement;
use serde::Serialize;
use serde_json::json;

/// A status reported for an instance (by a callback, a read, or creation).
#[derive(Clone, Debug)]
pub struct StatusChange {
    pub instance_code: String,
    pub status: Status,
    pub status_time_ms: u64,
    pub source: ChangeSource,
}

/// Where the host learned of a status change (the `approval_history.source` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeSource {
    /// Feishu's callback.
    Webhook,
    /// Re-reading an instance whose callback did not come.
    Reconcile,
    /// The answer to creating the instance.
    Create,
    /// The host cancelled it.
    Cancel,
}

impl ChangeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeSource::Webhook => "webhook",
            ChangeSource::Reconcile => "reconcile",
            ChangeSource::Create => "create",
            ChangeSource::Cancel => "cancel",
        }
    }

    pub fn parse(name: &str) -> Option<ChangeSource> {
        [
            ChangeSource::Webhook,
            ChangeSource::Reconcile,
            ChangeSource::Create,
            ChangeSource::Cancel,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// How long a change for an instance the host has not recorded is kept for it. A create whose
/// answer was lost is retried for well under a day; anything older was about an instance this
/// host never creates (people may start approvals on the same template in Feishu itself).
const EARLY_CHANGE_TTL_MS: i64 = 24 * 3600 * 1000;

#[derive(Clone, Debug, Serialize)]
pub struct HistoryEntry {
    pub status: String,
    pub at: String,
    pub source: String,
}

/// A payment's approval as the API shows it: the current instance at the top level (as before
/// payments could be sent again), and every instance, oldest first, in `instances`.
#[derive(Clone, Debug, Serialize)]
pub struct Approval {
    pub payment_id: String,
    pub instance_code: String,
    pub status: String,
    pub round: i64,
    pub updated_at: String,
    pub history: Vec<HistoryEntry>,
    pub instances: Vec<Instance>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Instance {
    pub instance_code: String,
    pub round: i64,
    pub status: String,
    pub created_at: String,
    pub history: Vec<HistoryEntry>,
}

/// The instance a payment has now, as the delivery worker and the cancel endpoint need it.
#[derive(Clone, Debug)]
pub struct CurrentApproval {
    pub instance_code: String,
    pub status: Status,
    pub plugin_id: String,
    /// The recipient object of the initiator, as stored.
    pub initiator: String,
    /// The approval job (delivery id) that created it; None for instances created before rounds.
    pub job_id: Option<String>,
}

/// Apply one change through the state machine; true when it changed the status.
fn apply(tx: &mut Conn, change: &StatusChange, notify_mica: bool) -> anyhow::Result<bool> {
    let now = now_ms();
    let current: Option<(String, String, i64)> = tx
        .query_row(
            "SELECT payment_id, status, status_time_ms FROM approvals WHERE instance_code = ?1",
            [&change.instance_code],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((payment_id, status, time)) = current else {
        let earlier: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM approval_rounds WHERE instance_code = ?1)",
            [&change.instance_code],
            |r| r.get(0),
        )?;
        if earlier {
            tracing::info!(instance = %change.instance_code, status = change.status.as_str(), "status for an earlier round's instance; the payment has a newer one, ignored");
        } else {
            // Feishu may report an instance before the answer to creating it has arrived (an
            // auto-approved template): kept, and applied once the instance is recorded.
            tracing::info!(instance = %change.instance_code, status = change.status.as_str(), "status for an instance not recorded yet; kept until it is");
            park(tx, change, now)?;
        }
        return Ok(false);
    };
    let current = Status::parse(&status).unwrap_or(change.status);
    if !accepts(current, time as u64, change.status, change.status_time_ms) {
        tracing::info!(%payment_id, from = status, to = change.status.as_str(), source = change.source.as_str(), "status change not applied (repeat, stale or out of order)");
        tx.execute(
            "UPDATE approvals SET checked_at = ?2 WHERE payment_id = ?1",
            params![payment_id, now],
        )?;
        return Ok(false);
    }
    tx.execute(
        "UPDATE approvals SET status = ?2, status_time_ms = ?3, updated_at = ?4, checked_at = ?4 WHERE payment_id = ?1",
        params![payment_id, change.status.as_str(), change.status_time_ms as i64, now],
    )?;
    history(tx, &payment_id, change, now)?;
    if notify_mica {
        enqueue_notice(
            tx,
            &payment_id,
            &change.instance_code,
            change.status,
            change.status_time_ms,
        )?;
    }
    redraw_payment_cards(tx, &payment_id, change, now)?;
    tracing::info!(%payment_id, from = status, to = change.status.as_str(), source = change.source.as_str(), "approval status changed");
    Ok(true)
}

/// The payment's cards show where its approval stands: redrawn with every change applied here.
fn redraw_payment_cards(
    tx: &mut Conn,
    payment_id: &str,
    change: &StatusChange,
    now: i64,
) -> anyhow::Result<()> {
    let time = change.status_time_ms as i64;
    let settles = super::Settles {
        subject: &format!("payment:{payment_id}"),
        settlement: &Settlement::Approval {
            status: change.status,
            changed_at: rfc3339(time),
        },
        settled_at_ms: time,
        cause: &format!(
            "{}\n{}\n{time}",
            change.instance_code,
            change.status.as_str()
        ),
    };
    super::redraws::queue(tx, &settles, None, now)?;
    Ok(())
}

fn history(tx: &mut Conn, payment_id: &str, change: &StatusChange, now: i64) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO approval_history (payment_id, instance_code, status, status_time_ms, source, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![payment_id, change.instance_code, change.status.as_str(),
                change.status_time_ms as i64, change.source.as_str(), now],
    )?;
    Ok(())
}

/// A new instance's first status: its history line and, for Mica, its notice.
fn park(tx: &mut Conn, change: &StatusChange, now: i64) -> anyhow::Result<()> {
    tx.execute(
        "DELETE FROM early_changes WHERE received_at < ?1",
        [now - EARLY_CHANGE_TTL_MS],
    )?;
    tx.execute(
        "INSERT INTO early_changes (instance_code, status, status_time_ms, source, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            change.instance_code,
            change.status.as_str(),
            change.status_time_ms as i64,
            change.source.as_str(),
            now
        ],
    )?;
    Ok(())
}

/// Apply, oldest first, what was reported about `instance_code` before it was recorded. The
/// instance existed before anything Feishu says about it, so the time recorded with its first
/// status (when the create answer arrived, later than those reports) is moved back to the
/// earliest report, which then applies in order like any other.
fn replay_early(tx: &mut Conn, instance_code: &str, notify_mica: bool) -> anyhow::Result<()> {
    let early: Vec<(String, i64, String)> = tx.query_map(
        "SELECT status, status_time_ms, source FROM early_changes WHERE instance_code = ?1
         ORDER BY status_time_ms, id",
        [instance_code],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let Some(earliest) = early.iter().map(|(_, at, _)| *at).min() else {
        return Ok(());
    };
    tx.execute(
        "DELETE FROM early_changes WHERE instance_code = ?1",
        [instance_code],
    )?;
    tx.execute(
        "UPDATE approvals SET status_time_ms = CASE WHEN status_time_ms < ?2 THEN status_time_ms ELSE ?2 END
         WHERE instance_code = ?1",
        params![instance_code, earliest],
    )?;
    for (status, at, source) in early {
        let Some(status) = Status::parse(&status) else {
            continue;
        };
        let change = StatusChange {
            instance_code: instance_code.to_string(),
            status,
            status_time_ms: at as u64,
            source: ChangeSource::parse(&source).unwrap_or(ChangeSource::Webhook),
        };
        apply(tx, &change, notify_mica)?;
    }
    Ok(())
}

fn started(
    tx: &mut Conn,
    payment_id: &str,
    change: &StatusChange,
    now: i64,
    notify_mica: bool,
) -> anyhow::Result<()> {
    history(tx, payment_id, change, now)?;
    if notify_mica {
        enqueue_notice(
            tx,
            payment_id,
            &change.instance_code,
            change.status,
            change.status_time_ms,
        )?;
    }
    Ok(())
}

fn enqueue_notice(
    tx: &mut Conn,
    payment_id: &str,
    instance_code: &str,
    status: Status,
    time_ms: u64,
) -> anyhow::Result<()> {
    let body = json!({
        "type": "payment.approval_updated",
        "payment_id": payment_id,
        "instance_code": instance_code,
        "status": status.as_str(),
        "operate_time": rfc3339(time_ms as i64),
    });
    let now = now_ms();
    tx.execute(
        "INSERT INTO callbacks (body, subject, status, next_attempt_at, created_at, updated_at) VALUES (?1, ?2, 'pending', ?3, ?3, ?3)",
        params![body.to_string(), payment_id, now],
    )?;
    Ok(())
}

impl Store {
    /// Record a newly created (or found) instance for a payment, and its first status. A payment
    /// whose current instance ended without approval starts a new round: that instance moves to
    /// `approval_rounds` and the new one becomes current.
    pub fn record_approval(
        &self,
        payment_id: &str,
        plugin_id: &str,
        initiator: &str,
        change: &StatusChange,
        notify_mica: bool,
        job_id: &str,
    ) -> anyhow::Result<()> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let now = now_ms();
            let current: Option<(String, String)> = tx
                .query_row(
                    "SELECT instance_code, status FROM approvals WHERE payment_id = ?1",
                    [payment_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match current {
                Some((code, _)) if code == change.instance_code => {
                    apply(&mut tx, change, notify_mica)?;
                }
                Some((code, status)) => {
                    let ended = Status::parse(&status).is_some_and(Status::allows_new_round);
                    if !ended {
                        anyhow::bail!(
                            "payment {payment_id} already has approval {code} ({status}); a new instance {} was not recorded",
                            change.instance_code
                        );
                    }
                    tx.execute(
                        "INSERT INTO approval_rounds (instance_code, payment_id, round, status, status_time_ms,
                             initiator, created_at, ended_at)
                         SELECT instance_code, payment_id, round, status, status_time_ms, initiator, created_at, ?2
                         FROM approvals WHERE payment_id = ?1",
                        params![payment_id, now],
                    )?;
                    tx.execute(
                        "UPDATE approvals SET instance_code = ?2, plugin_id = ?3, status = ?4, status_time_ms = ?5,
                             initiator = ?6, round = round + 1, job_id = ?7, created_at = ?8, updated_at = ?8,
                             checked_at = ?8
                         WHERE payment_id = ?1",
                        params![payment_id, change.instance_code, plugin_id, change.status.as_str(),
                                change.status_time_ms as i64, initiator, job_id, now],
                    )?;
                    started(&mut tx, payment_id, change, now, notify_mica)?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO approvals (payment_id, instance_code, plugin_id, status, status_time_ms, initiator,
                            created_at, updated_at, checked_at, round, job_id)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7, 1, ?8)",
                        params![payment_id, change.instance_code, plugin_id, change.status.as_str(),
                                change.status_time_ms as i64, initiator, now, job_id],
                    )?;
                    started(&mut tx, payment_id, change, now, notify_mica)?;
                }
            }
            replay_early(&mut tx, &change.instance_code, notify_mica)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// The payment's current instance, if it has one.
    pub fn current_approval(&self, payment_id: &str) -> anyhow::Result<Option<CurrentApproval>> {
        self.with(|c| {
            c.query_row(
                "SELECT instance_code, status, plugin_id, initiator, job_id FROM approvals WHERE payment_id = ?1",
                [payment_id],
                |r| {
                    let status: String = r.get(1)?;
                    Ok(CurrentApproval {
                        instance_code: r.get(0)?,
                        status: Status::parse(&status).unwrap_or(Status(
                            crate::domain::ApprovalStatus::Pending,
                        )),
                        plugin_id: r.get(2)?,
                        initiator: r.get(3)?,
                        job_id: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Apply a callback's changes, unless its event id was applied before. Returns false for a
    /// duplicate. All or nothing.
    pub fn apply_callback(
        &self,
        plugin_id: &str,
        event_id: Option<&str>,
        changes: &[StatusChange],
        notify_mica: bool,
    ) -> anyhow::Result<bool> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            if let Some(id) = event_id {
                let fresh = tx.execute(
                    "INSERT INTO webhook_events (event_id, plugin_id, received_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (event_id) DO NOTHING",
                    params![id, plugin_id, now_ms()],
                )?;
                if fresh == 0 {
                    return Ok(false);
                }
            }
            for change in changes {
                apply(&mut tx, change, notify_mica)?;
            }
            tx.commit()?;
            Ok(true)
        })
    }

    /// Apply a status read back from the provider (reconciliation).
    pub fn apply_status(&self, change: &StatusChange, notify_mica: bool) -> anyhow::Result<bool> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let changed = apply(&mut tx, change, notify_mica)?;
            tx.commit()?;
            Ok(changed)
        })
    }

    pub fn approval(&self, payment_id: &str) -> anyhow::Result<Option<Approval>> {
        self.with(|c| {
            let head = c
                .query_row(
                    "SELECT instance_code, status, updated_at, round, created_at FROM approvals WHERE payment_id = ?1",
                    [payment_id],
                    |r| {
                        Ok((
                            r.get::<String>(0)?,
                            r.get::<String>(1)?,
                            r.get::<i64>(2)?,
                            r.get::<i64>(3)?,
                            r.get::<i64>(4)?,
                        ))
                    },
                )
                .optional()?;
            let Some((instance_code, status, updated_at, round, created_at)) = head else {
                return Ok(None);
            };
            let lines = c.query_map("SELECT instance_code, status, status_time_ms, source, at FROM approval_history
                 WHERE payment_id = ?1 ORDER BY id", [payment_id], |r| {
                    let time: i64 = r.get(2)?;
                    let at: i64 = r.get(4)?;
                    Ok((
                        r.get::<Option<String>>(0)?,
                        HistoryEntry {
                            status: r.get(1)?,
                            // Feishu's operate time when it gave one, else when the host learnt it.
                            at: rfc3339(if time > 0 { time } else { at }),
                            source: r.get(3)?,
                        },
                    ))
                })?;
            let of = |code: &str| -> Vec<HistoryEntry> {
                lines
                    .iter()
                    .filter(|(c, _)| c.as_deref() == Some(code))
                    .map(|(_, h)| h.clone())
                    .collect()
            };
            let mut instances = c.query_map("SELECT instance_code, round, status, created_at FROM approval_rounds
                 WHERE payment_id = ?1 ORDER BY round", [payment_id], |r| {
                    Ok((r.get::<String>(0)?, r.get::<i64>(1)?, r.get::<String>(2)?, r.get::<i64>(3)?))
                })?
                .into_iter()
                .map(|(code, round, status, created)| Instance {
                    history: of(&code),
                    instance_code: code,
                    round,
                    status,
                    created_at: rfc3339(created),
                })
                .collect::<Vec<_>>();
            let history = of(&instance_code);
            instances.push(Instance {
                instance_code: instance_code.clone(),
                round,
                status: status.clone(),
                created_at: rfc3339(created_at),
                history: history.clone(),
            });
            Ok(Some(Approval {
                payment_id: payment_id.to_string(),
                instance_code,
                status,
                round,
                updated_at: rfc3339(updated_at),
                history,
                instances,
            }))
        })
    }

    /// Undecided instances not checked for `older_than_ms`: (plugin id, instance code).
    pub fn approvals_to_reconcile(
        &self,
        older_than_ms: i64,
        limit: usize,
    ) -> anyhow::Result<Vec<(String, String)>> {
        self.with(|c| {
            let rows = c.query_map(
                "SELECT plugin_id, instance_code FROM approvals
                 WHERE status IN ('PENDING', 'REVERTED', 'OVERTIME_RECOVER') AND checked_at <= ?1
                 ORDER BY checked_at LIMIT ?2",
                params![now_ms() - older_than_ms, limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(rows)
        })
    }

    pub fn mark_checked(&self, instance_code: &str) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE approvals SET checked_at = ?2 WHERE instance_code = ?1",
                params![instance_code, now_ms()],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ApprovalStatus::{Approved, Pending, Rejected};
    use crate::store::temporary as store;

    fn change(
        status: crate::domain::ApprovalStatus,
        at: u64,
        source: ChangeSource,
    ) -> StatusChange {
        StatusChange {
            instance_code: "I-1".into(),
            status: Status(status),
            status_time_ms: at,
            source,
        }
    }

    fn early_count(s: &Store) -> i64 {
        s.with(|c| c.query_row("SELECT COUNT(*) FROM early_changes", (), |r| r.get(0)))
            .unwrap()
    }

    #[test]
    fn a_change_before_its_instance_is_recorded_is_applied_when_it_is() {
        let (_dir, s) = store();
        let early = change(Approved, 1_000, ChangeSource::Webhook);
        assert!(
            s.apply_callback("feishu", Some("evt-1"), &[early], false)
                .unwrap()
        );
        assert!(s.approval("pay-1").unwrap().is_none());
        assert_eq!(early_count(&s), 1, "kept, not dropped");
        // The create answer arrives later than Feishu's report of the decision.
        let created = change(Pending, 5_000, ChangeSource::Create);
        s.record_approval("pay-1", "feishu", "{}", &created, false, "job-1")
            .unwrap();
        let a = s.approval("pay-1").unwrap().unwrap();
        assert_eq!(a.status, "APPROVED");
        let sources: Vec<(&str, &str)> = a
            .history
            .iter()
            .map(|h| (h.status.as_str(), h.source.as_str()))
            .collect();
        assert_eq!(
            sources,
            vec![("PENDING", "create"), ("APPROVED", "webhook")]
        );
        assert_eq!(early_count(&s), 0, "applied once, then forgotten");
        // A later, genuinely newer change still applies on top.
        let later = change(Rejected, 9_000, ChangeSource::Reconcile);
        assert!(s.apply_status(&later, false).unwrap());
    }

    #[test]
    fn changes_for_instances_never_recorded_are_forgotten_after_a_day() {
        let (_dir, s) = store();
        let stranger = StatusChange {
            instance_code: "NOT-OURS".into(),
            ..change(Approved, 1_000, ChangeSource::Webhook)
        };
        s.apply_status(&stranger, false).unwrap();
        s.with(|c| {
            c.execute(
                "UPDATE early_changes SET received_at = received_at - ?1",
                [EARLY_CHANGE_TTL_MS + 1],
            )?;
            Ok(())
        })
        .unwrap();
        s.apply_status(&change(Approved, 2_000, ChangeSource::Webhook), false)
            .unwrap();
        let kept: Vec<String> = s
            .with(|c| {
                let rows =
                    c.query_map("SELECT instance_code FROM early_changes", (), |r| r.get(0))?;
                Ok(rows)
            })
            .unwrap();
        assert_eq!(kept, vec!["I-1".to_string()]);
    }
}
