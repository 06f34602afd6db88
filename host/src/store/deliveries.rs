//! Delivery rows: claimed with a lease, attempted, completed. A lease that runs out (the host died
//! mid-call) makes the delivery due again; it is retried with the same id, so the plugin's remote
//! idempotency key stays the same.

use super::db::{Backend, Conn, ToValue};
use super::db::{OptionalExt, Row, params};
use super::{DEAD_AFTER_MS, Store, now_ms, rfc3339};
use crate::delivery::Class;
use serde::Serialize;
use std::sync::atomic::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Retrying,
    Sent,
    Skipped,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Skipped => "skipped",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Retrying,
        DeliveryStatus::Sent,
        DeliveryStatus::Skipped,
        DeliveryStatus::Failed,
    ];

    pub(super) fn parse(s: &str) -> DeliveryStatus {
        match s {
            "retrying" => DeliveryStatus::Retrying,
            "sent" => DeliveryStatus::Sent,
            "skipped" => DeliveryStatus::Skipped,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// A delivery as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    /// "notify" (a card) or "approval" (the payment's approval instance).
    pub kind: String,
    /// The event's type ("pr_submitted", ...).
    pub event_type: Option<String>,
    /// Served before (action) or after (bulk) the others under the rate limits.
    pub class: Class,
    pub recipient: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// "Slow down" answers, which are not attempts.
    pub rate_limited: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub error_kind: Option<ErrorKind>,
    pub feishu_code: Option<i64>,
    pub feishu_log_id: Option<String>,
    pub feishu_message_id: Option<String>,
    pub plugin_version: Option<String>,
    /// For a `card_update`: the delivery whose card it redraws.
    pub redraws: Option<String>,
    pub updated_at: String,
}

const COLUMNS: &str =
    "id, event_id, recipient_email, status, attempts, next_attempt_at, last_error,
    last_error_kind, remote_code, log_id, feishu_message_id, plugin_version, updated_at, kind,
    (SELECT type FROM events WHERE events.id = deliveries.event_id), class, rate_limited, redraws";

fn delivery(r: &Row) -> anyhow::Result<Delivery> {
    let status = DeliveryStatus::parse(&r.get::<String>(3)?);
    let due: i64 = r.get(5)?;
    Ok(Delivery {
        id: r.get(0)?,
        event_id: r.get(1)?,
        recipient: r.get(2)?,
        status,
        attempts: r.get(4)?,
        next_attempt_at: matches!(status, DeliveryStatus::Pending | DeliveryStatus::Retrying)
            .then(|| rfc3339(due)),
        last_error: r.get(6)?,
        error_kind: r
            .get::<Option<String>>(7)?
            .as_deref()
            .and_then(ErrorKind::parse),
        feishu_code: r.get(8)?,
        feishu_log_id: r.get(9)?,
        feishu_message_id: r.get(10)?,
        plugin_version: r.get(11)?,
        updated_at: rfc3339(r.get(12)?),
        kind: r.get(13)?,
        event_type: r.get(14)?,
        class: Class::from_rank(r.get(15)?),
        rate_limited: r.get(16)?,
        redraws: r.get(17)?,
    })
}

/// A due delivery the claimer may take, with what the rate limits need to know.
pub struct Candidate<'a> {
    pub kind: &'a str,
    pub class: Class,
    pub recipient_email: &'a str,
}

/// Whether the claimer takes a candidate now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Take,
    /// Leave it due (its slot is not free yet); it keeps its place in the queue.
    Skip,
}

/// A delivery taken by a worker, with what it needs to make the call.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: String,
    pub kind: String,
    pub class: Class,
    /// Its event's payload is read through `stored_event` (once per event, by the worker's cache).
    pub event_id: String,
    pub recipient: String,
    /// This attempt's number (1 for the first); answers that only said "slow down" are not
    /// attempts (they are counted in `rate_limited`).
    pub attempt: u32,
    /// "Slow down" answers so far.
    pub rate_limited: u32,
}

/// How one attempt ended, and by which plugin version.
pub struct Completion {
    pub id: String,
    pub plugin_version: String,
    pub outcome: Outcome,
}

/// Why a delivery did not go (the `error_kind` of the delivery API and the `last_error_kind`
/// column). Only the host decides a kind: from the plugin's error, or from its own state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The switch for it is off (a skipped delivery).
    Skipped,
    /// Settings are missing.
    NotConfigured,
    /// The input can never be sent as it is.
    InvalidInput,
    /// The remote service refused the credentials.
    Unauthorized,
    /// The remote service said to slow down.
    RateLimited,
    /// Worth trying again.
    Transient,
    /// Will not succeed if tried again.
    Permanent,
    /// The plugin trapped or ran out of time.
    PluginError,
    /// No plugin can take it now (waiting for one, no attempt spent).
    NoPlugin,
    /// A redraw whose card has not been sent yet (waiting for it, no attempt spent).
    AwaitingCard,
    /// A payment's approval whose initiator Feishu does not know yet (waiting for them to link
    /// their account, no attempt spent).
    AwaitingIdentity,
}

impl ErrorKind {
    const ALL: [ErrorKind; 11] = [
        ErrorKind::Skipped,
        ErrorKind::NotConfigured,
        ErrorKind::InvalidInput,
        ErrorKind::Unauthorized,
        ErrorKind::RateLimited,
        ErrorKind::Transient,
        ErrorKind::Permanent,
        ErrorKind::PluginError,
        ErrorKind::NoPlugin,
        ErrorKind::AwaitingCard,
        ErrorKind::AwaitingIdentity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Skipped => "skipped",
            ErrorKind::NotConfigured => "not_configured",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Transient => "transient",
            ErrorKind::Permanent => "permanent",
            ErrorKind::PluginError => "plugin_error",
            ErrorKind::NoPlugin => "no_plugin",
            ErrorKind::AwaitingCard => "awaiting_card",
            ErrorKind::AwaitingIdentity => "awaiting_identity",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    Sent {
        message_id: String,
        log_id: Option<String>,
    },
    Skipped {
        reason: String,
    },
    /// Try again at `retry_at_ms`.
    Retry {
        retry_at_ms: i64,
        kind: ErrorKind,
        error: String,
        remote_code: Option<i64>,
        log_id: Option<String>,
    },
    Failed {
        kind: ErrorKind,
        error: String,
        remote_code: Option<i64>,
        log_id: Option<String>,
    },
}

impl Outcome {
    /// The delivery can never go as it is stored (no attempt would change that).
    pub fn unusable(error: String) -> Outcome {
        Outcome::Failed {
            kind: ErrorKind::InvalidInput,
            error,
            remote_code: None,
            log_id: None,
        }
    }

    /// The store could not be read for it: try again in a second.
    pub fn store_unreadable(e: &anyhow::Error) -> Outcome {
        Outcome::Retry {
            retry_at_ms: now_ms() + 1_000,
            kind: ErrorKind::Transient,
            error: format!("the store could not be read: {e:#}"),
            remote_code: None,
            log_id: None,
        }
    }
}

/// Sent deliveries written by one statement (`Store::complete_all`).
const SENT_PER_UPDATE: usize = 200;

/// How long granted calls are remembered: longer than Feishu's longest window (a minute).
pub const GRANTS_KEPT_MS: i64 = 120_000;

/// A lease a claim may take over: none, run out by `now`, or held by a dead host (`owner_dead`).
fn lease_free(now: &str, dead_before: &str, me: &str) -> String {
    format!(
        "(lease_until IS NULL OR lease_until <= {now} OR {})",
        owner_dead(dead_before, me)
    )
}

/// The lease's owner is another host, not seen since `dead_before` (`hosts`), or none is named
/// (a lease from before owners were recorded).
fn owner_dead(dead_before: &str, me: &str) -> String {
    format!(
        "(lease_owner IS NULL OR (lease_owner <> {me} AND NOT EXISTS (SELECT 1 FROM hosts h
            WHERE h.host_id = deliveries.lease_owner AND h.seen_at >= {dead_before})))"
    )
}

/// `?first, ?first+1, …`: `count` parameters, for a statement over a batch.
fn numbered(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What other hosts on the database did since this one last claimed (`Store::claim_due`).
#[derive(Clone, Debug, Default)]
pub struct Others {
    /// (granted at, kind, recipient) of each call another host was granted.
    pub grants: Vec<(i64, String, String)>,
    /// Feishu asked the app to slow down until then (ms), whichever host heard it.
    pub paused_until_ms: i64,
}

impl Store {
    pub fn deliveries_of(&self, event_id: &str) -> anyhow::Result<Vec<Delivery>> {
        self.with(|c| {
            let rows = c.query_map(
                &format!("SELECT {COLUMNS} FROM deliveries WHERE event_id = ?1 ORDER BY seq"),
                [event_id],
                delivery,
            )?;
            Ok(rows)
        })
    }

    /// Take up to `limit` due deliveries, leasing them for `lease_ms`: action before update before
    /// bulk, each class in the order its deliveries fell due. `decide` sees each candidate in
    /// that order and takes it or leaves it due (its rate-limit slot is not free): a person with a
    /// backlog of their own never holds up the people queued behind them. At most `scan` rows
    /// are looked at.
    pub fn claim_due(
        &self,
        limit: usize,
        lease_ms: i64,
        scan: usize,
        follow: impl FnOnce(&Others),
        mut decide: impl FnMut(&Candidate) -> Verdict,
    ) -> anyhow::Result<Vec<Claimed>> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            // After the write lock: every other host's claim before this one has committed.
            let now = now_ms();
            let backend = tx.backend();
            // One host per SQLite file: what its predecessors were granted was counted at start.
            if backend == Backend::Postgres {
                follow(&self.others_since_last_claim(&mut tx)?);
            }
            let mut claimed = Vec::new();
            let mut granted: Vec<(String, String)> = Vec::new();
            let mut looked = 0;
            let sql = format!(
                "SELECT id, event_id, recipient, attempts, kind, recipient_email, rate_limited
                 FROM deliveries
                 WHERE class = ?1 AND status IN ('pending', 'retrying') AND next_attempt_at <= ?2
                   AND {free}
                 ORDER BY next_attempt_at
                 LIMIT ?3 OFFSET ?6{skip_locked}",
                free = match backend {
                    Backend::Postgres => lease_free("?2", "?4", "?5"),
                    // One host per file: every lease is this host's, or was released at start.
                    Backend::Sqlite => "(lease_until IS NULL OR lease_until <= ?2)".to_string(),
                },
                skip_locked = match backend {
                    // Rows another transaction holds are passed over, not waited for.
                    Backend::Postgres => " FOR UPDATE SKIP LOCKED",
                    Backend::Sqlite => "",
                }
            );
            for class in Class::ALL {
                let mut offset = 0;
                while claimed.len() < limit && looked < scan {
                    // SQLite steps through the queue only as far as the claim needs; PostgreSQL
                    // sends (and locks) every row a statement selects, so it reads in pages.
                    let page = match backend {
                        Backend::Sqlite => scan - looked,
                        Backend::Postgres => (2 * limit + 8).min(scan - looked),
                    };
                    let seen = tx.query_each(
                        &sql,
                        params![
                            class.rank(),
                            now,
                            page as i64,
                            now - DEAD_AFTER_MS,
                            self.host_id(),
                            offset as i64
                        ],
                        |r| {
                            looked += 1;
                            let (kind, email): (String, String) = (r.get(4)?, r.get(5)?);
                            let candidate = Candidate {
                                kind: &kind,
                                class,
                                recipient_email: &email,
                            };
                            if decide(&candidate) == Verdict::Take {
                                granted.push((kind.clone(), email.clone()));
                                claimed.push(Claimed {
                                    id: r.get(0)?,
                                    event_id: r.get(1)?,
                                    recipient: r.get(2)?,
                                    attempt: r.get::<u32>(3)? + 1,
                                    rate_limited: r.get(6)?,
                                    kind,
                                    class,
                                });
                            }
                            Ok(claimed.len() < limit)
                        },
                    )?;
                    offset += seen;
                    if seen < page {
                        break; // this class has nothing more due
                    }
                }
            }
            // One statement for the batch and one for its grants: on PostgreSQL each statement is
            // a round trip, made while every other host waits for the write lock.
            if !claimed.is_empty() {
                let mut values = vec![
                    (now + lease_ms).to_value(),
                    now.to_value(),
                    self.host_id().to_value(),
                ];
                values.extend(claimed.iter().map(|d| d.id.to_value()));
                tx.execute(
                    &format!(
                        "UPDATE deliveries SET lease_until = ?1, lease_owner = ?3,
                            attempts = attempts + 1, updated_at = ?2 WHERE id IN ({})",
                        numbered(4, claimed.len())
                    ),
                    values,
                )?;
            }
            // Remembered so that a host started right after this one stopped (or was killed),
            // and every other host on the database, counts these against Feishu's windows too.
            if !granted.is_empty() {
                let mut values = vec![now.to_value(), self.host_id().to_value()];
                for (kind, email) in &granted {
                    values.extend([kind.to_value(), email.to_value()]);
                }
                let rows = (0..granted.len())
                    .map(|i| format!("(?1, ?2, ?{}, ?{})", 3 + 2 * i, 4 + 2 * i))
                    .collect::<Vec<_>>()
                    .join(", ");
                tx.execute(
                    &format!(
                        "INSERT INTO rate_grants (at_ms, host_id, kind, recipient_email) VALUES {rows}"
                    ),
                    values,
                )?;
                // Pruned once a second at most: it is a scan, made under the write lock.
                if now - self.grants_pruned.swap(now, Ordering::AcqRel) >= 1_000 {
                    tx.execute(
                        "DELETE FROM rate_grants WHERE at_ms < ?1",
                        [now - GRANTS_KEPT_MS],
                    )?;
                }
            }
            tx.commit()?;
            Ok(claimed)
        })
    }

    /// Calls granted since `since_ms` (by this process or one before it): (when, kind, recipient).
    /// Every host's (this process's predecessors and other replicas alike); later claims learn
    /// only of the grants made after these.
    pub fn recent_grants(&self, since_ms: i64) -> anyhow::Result<Vec<(i64, String, String)>> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let rows = tx.query_map(
                "SELECT at_ms, kind, recipient_email FROM rate_grants WHERE at_ms >= ?1 ORDER BY at_ms",
                [since_ms],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let last: Option<i64> =
                tx.query_row("SELECT MAX(rowid) FROM rate_grants", (), |r| r.get(0))?;
            self.grants_seen.store(last.unwrap_or(0), Ordering::Release);
            tx.commit()?;
            Ok(rows)
        })
    }

    /// What other hosts did since this one last claimed: the calls they were granted (read in
    /// the order they were committed) and the pause Feishu last asked for.
    fn others_since_last_claim(&self, tx: &mut Conn) -> anyhow::Result<Others> {
        let seen = self.grants_seen.load(Ordering::Acquire);
        let rows: Vec<(i64, i64, String, String, Option<String>)> = tx.query_map(
            // Bounded, and in the index's order, so the plan walks the index from `seen`
            // (an unbounded range made PostgreSQL's generic plan scan the whole table).
            "SELECT rowid, at_ms, kind, recipient_email, host_id FROM rate_grants
             WHERE rowid > ?1 ORDER BY rowid LIMIT 5000",
            [seen],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        if let Some((last, ..)) = rows.last() {
            self.grants_seen.store(*last, Ordering::Release);
        }
        let paused_until_ms =
            tx.query_row("SELECT until_ms FROM rate_pause WHERE id = 1", (), |r| {
                r.get(0)
            })?;
        Ok(Others {
            grants: rows
                .into_iter()
                .filter(|(.., host)| host.as_deref() != Some(self.host_id()))
                .map(|(_, at, kind, email, _)| (at, kind, email))
                .collect(),
            paused_until_ms,
        })
    }

    /// The most recently created deliveries, newest first, optionally of one status. Walks the
    /// table's rowid backwards, so it needs no index of its own.
    pub fn recent_deliveries(
        &self,
        limit: usize,
        status: Option<DeliveryStatus>,
    ) -> anyhow::Result<Vec<Delivery>> {
        self.with(|c| {
            let rows = c.query_map(
                &format!(
                    "SELECT {COLUMNS} FROM deliveries WHERE CAST(?1 AS TEXT) IS NULL OR status = ?1
                 ORDER BY rowid DESC LIMIT ?2"
                ),
                params![status.map(DeliveryStatus::as_str), limit as i64],
                delivery,
            )?;
            Ok(rows)
        })
    }

    /// Failed deliveries, newest first.
    pub fn failed_deliveries(&self, limit: usize) -> anyhow::Result<Vec<Delivery>> {
        self.with(|c| {
            let rows = c.query_map(&format!(
                "SELECT {COLUMNS} FROM deliveries WHERE status = 'failed' ORDER BY updated_at DESC LIMIT ?1"
            ), [limit as i64], delivery)?;
            Ok(rows)
        })
    }

    /// Queue failed deliveries again (one, or all when `id` is None) with fresh attempts. The
    /// delivery keeps its id, so the remote idempotency key is the same. Returns how many.
    pub fn retry_failed(&self, id: Option<&str>) -> anyhow::Result<usize> {
        self.with(|c| {
            let now = now_ms();
            let n = match id {
                Some(id) => c.execute(
                    "UPDATE deliveries SET status = 'retrying', attempts = 0, rate_limited = 0, next_attempt_at = ?2,
                        lease_until = NULL, updated_at = ?2 WHERE id = ?1 AND status = 'failed'",
                    params![id, now],
                )?,
                None => c.execute(
                    "UPDATE deliveries SET status = 'retrying', attempts = 0, rate_limited = 0, next_attempt_at = ?1,
                        lease_until = NULL, updated_at = ?1 WHERE status = 'failed'",
                    params![now],
                )?,
            };
            Ok(n)
        })
    }

    pub fn delivery(&self, id: &str) -> anyhow::Result<Option<Delivery>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM deliveries WHERE id = ?1"),
                [id],
                delivery,
            )
            .optional()
        })
    }

    /// Put a claimed delivery back, without counting the attempt, because it cannot go now (no
    /// active plugin implements its kind, or the card it redraws is not sent yet); the reason
    /// stays visible as its last error, of `kind`.
    pub fn put_back(
        &self,
        id: &str,
        until_ms: i64,
        reason: &str,
        kind: ErrorKind,
    ) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE deliveries SET status = 'retrying', lease_until = NULL,
                    attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, next_attempt_at = ?2, last_error = ?3,
                    last_error_kind = ?5, updated_at = ?4 WHERE id = ?1",
                params![id, until_ms, reason, now_ms(), kind.as_str()],
            )?;
            Ok(())
        })
    }

    /// Release leases left by a host that died mid-call, so its deliveries are retried at once (with
    /// the same idempotency key) instead of after the lease runs out. On PostgreSQL, leases of a
    /// host still seen (`hosts`) are left alone: that is another replica at work (a killed one's
    /// are free to claims once it has not been seen for `DEAD_AFTER_MS`).
    pub fn release_stale_leases(&self) -> anyhow::Result<usize> {
        self.with(|c| {
            if c.backend() == Backend::Sqlite {
                // One host per file: whatever is leased was leased by a run before this one.
                return c.execute(
                    "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL
                     WHERE lease_until IS NOT NULL AND status IN ('pending', 'retrying')",
                    (),
                );
            }
            c.execute(
                &format!(
                    "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL
                     WHERE lease_until IS NOT NULL AND status IN ('pending', 'retrying') AND {}",
                    owner_dead("?1", "?2")
                ),
                params![now_ms() - DEAD_AFTER_MS, self.host_id()],
            )
        })
    }

    /// Deliveries waiting, by class (for the queue-depth metric).
    pub fn waiting_by_class(&self) -> anyhow::Result<Vec<(Class, i64)>> {
        self.with(|c| {
            let rows = c.query_map(
                "SELECT class, COUNT(*) FROM deliveries WHERE status IN ('pending', 'retrying')
                 GROUP BY class",
                (),
                |r| Ok((Class::from_rank(r.get(0)?), r.get(1)?)),
            )?;
            Ok(rows)
        })
    }

    /// When the next delivery falls due (for the worker's sleep), if any is waiting.
    pub fn next_due_at(&self) -> anyhow::Result<Option<i64>> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(CASE WHEN COALESCE(lease_until, 0) > next_attempt_at THEN lease_until
                     ELSE next_attempt_at END) FROM deliveries
                 WHERE status IN ('pending', 'retrying')",
                (),
                |r| r.get(0),
            )
        })
    }

    /// Record how attempts ended and release their leases, all in one transaction (the worker
    /// groups the outcomes that arrive while the previous group is being written).
    pub fn complete_all(&self, done: &[Completion]) -> anyhow::Result<()> {
        self.with(|c| {
            let now = now_ms();
            let mut tx = super::write_transaction(c)?;
            // On PostgreSQL, Sent (the common end) is written a batch to a statement: each
            // statement is a round trip, made while every other host waits for the write lock.
            let batched = tx.backend() == Backend::Postgres;
            let sent: Vec<&Completion> = done
                .iter()
                .filter(|c| batched && matches!(c.outcome, Outcome::Sent { .. }))
                .collect();
            for batch in sent.chunks(SENT_PER_UPDATE) {
                let mut values = vec![now.to_value()];
                let mut rows = Vec::with_capacity(batch.len());
                for (i, c) in batch.iter().enumerate() {
                    let Outcome::Sent { message_id, log_id } = &c.outcome else {
                        continue;
                    };
                    let p = 2 + 4 * i;
                    rows.push(format!(
                        "(CAST(?{p} AS TEXT), CAST(?{} AS TEXT), CAST(?{} AS TEXT), CAST(?{} AS TEXT))",
                        p + 1,
                        p + 2,
                        p + 3
                    ));
                    values.extend([
                        c.id.to_value(),
                        message_id.to_value(),
                        log_id.to_value(),
                        c.plugin_version.to_value(),
                    ]);
                }
                tx.execute(
                    &format!(
                        "WITH v (id, message_id, log_id, version) AS (VALUES {})
                         UPDATE deliveries SET status = 'sent', lease_until = NULL,
                            feishu_message_id = (SELECT message_id FROM v WHERE v.id = deliveries.id),
                            log_id = (SELECT log_id FROM v WHERE v.id = deliveries.id),
                            last_error = NULL, last_error_kind = NULL, remote_code = NULL,
                            plugin_version = (SELECT version FROM v WHERE v.id = deliveries.id),
                            updated_at = ?1, sent_at = COALESCE(sent_at, ?1)
                         WHERE id IN (SELECT id FROM v)",
                        rows.join(", ")
                    ),
                    values,
                )?;
            }
            for Completion {
                id,
                plugin_version: version,
                outcome,
            } in done
            {
                match outcome {
                    Outcome::Sent { .. } if batched => 0,
                    // SQLite runs in this process: a prepared statement per row is quickest.
                    Outcome::Sent { message_id, log_id } => tx.execute(
                        "UPDATE deliveries SET status = 'sent', lease_until = NULL, feishu_message_id = ?2,
                            log_id = ?3, last_error = NULL, last_error_kind = NULL, remote_code = NULL,
                            plugin_version = ?4, updated_at = ?5, sent_at = COALESCE(sent_at, ?5) WHERE id = ?1",
                        params![id, message_id, log_id, version, now],
                    )?,
                    Outcome::Skipped { reason } => tx
                        .execute("UPDATE deliveries SET status = 'skipped', lease_until = NULL, last_error = ?2,
                                last_error_kind = ?5, plugin_version = ?3, updated_at = ?4 WHERE id = ?1", params![id, reason, version, now, ErrorKind::Skipped.as_str()])?,
                    Outcome::Retry {
                        retry_at_ms,
                        kind,
                        error,
                        remote_code,
                        log_id,
                    } => tx
                        .execute("UPDATE deliveries SET status = 'retrying', lease_until = NULL, next_attempt_at = ?2,
                                last_error = ?3, last_error_kind = ?4, remote_code = ?5, log_id = ?6,
                                plugin_version = ?7, updated_at = ?8 WHERE id = ?1", params![
                            id,
                            retry_at_ms,
                            error,
                            kind.as_str(),
                            remote_code,
                            log_id,
                            version,
                            now
                        ])?,
                    Outcome::Failed {
                        kind,
                        error,
                        remote_code,
                        log_id,
                    } => tx
                        .execute("UPDATE deliveries SET status = 'failed', lease_until = NULL, last_error = ?2,
                                last_error_kind = ?3, remote_code = ?4, log_id = ?5, plugin_version = ?6,
                                updated_at = ?7 WHERE id = ?1", params![id, error, kind.as_str(), remote_code, log_id, version, now])?,
                };
                // "Slow down" is not an attempt: it is given back and counted on its own, so a
                // delivery still gets all of its attempts however often Feishu paced it.
                // Every host pauses for it (`Others::paused_until_ms`).
                if let Outcome::Retry {
                    kind: ErrorKind::RateLimited,
                    retry_at_ms,
                    ..
                } = outcome
                {
                    tx.execute(
                        "UPDATE rate_pause SET until_ms = ?1 WHERE id = 1 AND until_ms < ?1",
                        [*retry_at_ms],
                    )?;
                }
                if let Outcome::Retry { kind, .. } | Outcome::Failed { kind, .. } = outcome
                    && *kind == ErrorKind::RateLimited
                {
                    tx.execute("UPDATE deliveries SET attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
                            rate_limited = rate_limited + 1 WHERE id = ?1", [id])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn error_kinds_read_back_as_they_are_written_and_shown() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str()),
                "the API shows what the store records"
            );
        }
        assert_eq!(ErrorKind::parse("something else"), None);
    }
    use super::*;
    use crate::delivery::Kind;
    use crate::store::NewDelivery;

    fn queue(store: &Store, event: &str, event_type: &str, class: Class, people: &[&str]) {
        let deliveries: Vec<NewDelivery> = people
            .iter()
            .map(|p| NewDelivery {
                id: format!("{event}-{p}"),
                kind: Kind::Notify,
                class,
                recipient_email: format!("{p}@example.com"),
                recipient: "{}".into(),
            })
            .collect();
        store
            .insert_event(&crate::store::NewEvent {
                id: event,
                kind: event_type,
                occurred_at: "2026-12-01T00:00:00Z",
                payload: "{}",
                subject: None,
                deliveries: &deliveries,
                settles: None,
            })
            .unwrap();
    }

    #[test]
    fn claims_serve_action_then_update_then_bulk_and_pass_over_a_busy_person() {
        let (_dir, store) = crate::store::temporary();
        // Queued first, served last.
        queue(
            &store,
            "scan",
            "contract_expiring",
            Class::Bulk,
            &["b1", "b2"],
        );
        queue(&store, "po", "po_created", Class::Update, &["busy", "u1"]);
        queue(&store, "pr", "pr_submitted", Class::Action, &["a1"]);
        let mut seen = Vec::new();
        let claimed = store
            .claim_due(
                10,
                60_000,
                100,
                |_| {},
                |c| {
                    seen.push(c.recipient_email.to_string());
                    if c.recipient_email == "busy@example.com" {
                        Verdict::Skip
                    } else {
                        Verdict::Take
                    }
                },
            )
            .unwrap();
        let ids: Vec<&str> = claimed.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["pr-a1", "po-u1", "scan-b1", "scan-b2"]);
        assert_eq!(
            seen.len(),
            5,
            "every due delivery was offered once: {seen:?}"
        );
        let skipped = store.delivery("po-busy").unwrap().unwrap();
        assert_eq!(skipped.attempts, 0, "a skipped delivery spends no attempt");
        // The skipped one is still due, and the taken ones are leased.
        let again = store
            .claim_due(10, 60_000, 100, |_| {}, |_| Verdict::Take)
            .unwrap();
        assert_eq!(
            again.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["po-busy"]
        );
        // A claim stops at its limit and at its scan.
        queue(
            &store,
            "more",
            "po_created",
            Class::Update,
            &["m1", "m2", "m3"],
        );
        assert_eq!(
            store
                .claim_due(2, 60_000, 100, |_| {}, |_| Verdict::Take)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            store
                .claim_due(10, 60_000, 0, |_| {}, |_| Verdict::Take)
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn a_claim_learns_what_other_hosts_were_granted_and_the_pause_feishu_asked_for() {
        let (_dir, store) = crate::store::temporary();
        if store.backend() == Backend::Sqlite {
            eprintln!("PostgreSQL pass only: a SQLite file has one host");
            return;
        }
        queue(&store, "e", "po_created", Class::Update, &["a", "b"]);
        // Another host on the same database granted a call and heard "slow down".
        store
            .with(|c| {
                c.execute(
                    "INSERT INTO rate_grants (at_ms, kind, recipient_email, host_id)
                     VALUES (?1, 'notify', 'x@example.com', 'another-host')",
                    [now_ms()],
                )
            })
            .unwrap();
        let mut seen = Others::default();
        let taken = store
            .claim_due(1, 60_000, 100, |o| seen = o.clone(), |_| Verdict::Take)
            .unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(seen.grants.len(), 1, "the other host's call: {seen:?}");
        assert_eq!(seen.grants[0].2, "x@example.com");
        assert_eq!(seen.paused_until_ms, 0);
        let retry_at_ms = now_ms() + 5_000;
        store
            .complete_all(&[Completion {
                id: taken[0].id.clone(),
                plugin_version: "1".into(),
                outcome: Outcome::Retry {
                    retry_at_ms,
                    kind: ErrorKind::RateLimited,
                    error: "slow down".into(),
                    remote_code: Some(99991400),
                    log_id: None,
                },
            }])
            .unwrap();
        let mut again = Others::default();
        store
            .claim_due(1, 60_000, 100, |o| again = o.clone(), |_| Verdict::Take)
            .unwrap();
        assert!(
            again.grants.is_empty(),
            "this host's own calls and those already counted are not repeated: {again:?}"
        );
        assert_eq!(
            again.paused_until_ms, retry_at_ms,
            "every host pauses for it"
        );
    }
}
