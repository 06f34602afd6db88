//! Redraws of sent cards (`delivery::redraw`): queued in the transaction that records what
//! settled them, and read back by the worker with the state of the card they redraw.

use super::{DeliveryStatus, Store};
use crate::delivery::redraw::{Settlement, Target, redraw_id};
use crate::delivery::{Class, Kind};
use rusqlite::{OptionalExtension, Transaction, params};

/// Why cards are redrawn: what settled them, when, and the event or change that said so.
pub struct Settles<'a> {
    pub subject: &'a str,
    pub settlement: &'a Settlement,
    /// When it was settled (orders two redraws of one card: the later one wins).
    pub settled_at_ms: i64,
    /// The decision event's id or the approval change: the same cause never redraws a card twice.
    pub cause: &'a str,
}

/// Queue a redraw of every card of the settlement's type about `settles.subject` that is sent or
/// still to be sent. Each goes into `into_event` when given (the decision event, so its
/// deliveries show them), else into the event of the card it redraws. Returns how many were new.
pub(super) fn queue(
    tx: &Transaction,
    settles: &Settles,
    into_event: Option<&str>,
    now: i64,
) -> anyhow::Result<usize> {
    let originals: Vec<(String, String, String, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT d.id, d.event_id, d.recipient_email, d.recipient FROM deliveries d
             JOIN events e ON e.id = d.event_id
             WHERE e.subject = ?1 AND e.type = ?2 AND d.kind = 'notify'
               AND d.status IN ('pending', 'retrying', 'sent')
             ORDER BY e.received_at, d.seq",
        )?;
        let rows = stmt.query_map(
            params![settles.subject, settles.settlement.redraws_type()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        rows.collect::<Result<_, _>>()?
    };
    let settlement = serde_json::to_string(settles.settlement)?;
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO deliveries (id, event_id, seq, kind, class, recipient_email, recipient,
            status, attempts, next_attempt_at, created_at, updated_at, redraws, settlement, settled_at_ms)
         VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), -1) + 1 FROM deliveries WHERE event_id = ?2),
            ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7, ?7, ?8, ?9, ?10)",
    )?;
    let mut queued = 0;
    for (original, event_id, email, recipient) in &originals {
        queued += insert.execute(params![
            redraw_id(original, settles.cause),
            into_event.unwrap_or(event_id),
            Kind::CardUpdate.as_str(),
            Class::of(Kind::CardUpdate, settles.settlement.redraws_type()).rank(),
            email,
            recipient,
            now,
            original,
            settlement,
            settles.settled_at_ms,
        ])?;
    }
    if queued > 0 {
        tracing::info!(
            subject = settles.subject,
            cards = queued,
            "sent cards queued to be redrawn"
        );
    }
    Ok(queued)
}

impl Store {
    /// The card a redraw delivery redraws, as it stands now.
    pub fn redraw_target(&self, id: &str) -> anyhow::Result<Option<Target>> {
        self.read(|r| {
            Ok(r.conn
                .prepare_cached(
                    "SELECT o.event_id, o.status, o.feishu_message_id,
                        COALESCE(o.sent_at, CASE WHEN o.status = 'sent' THEN o.updated_at END),
                        EXISTS (SELECT 1 FROM deliveries n WHERE n.redraws = u.redraws
                            AND n.id <> u.id AND n.settled_at_ms > u.settled_at_ms),
                        u.settlement
                     FROM deliveries u JOIN deliveries o ON o.id = u.redraws WHERE u.id = ?1",
                )?
                .query_row([id], |row| {
                    Ok(Target {
                        original_event_id: row.get(0)?,
                        status: DeliveryStatus::parse(&row.get::<_, String>(1)?),
                        message_id: row.get(2)?,
                        sent_at_ms: row.get(3)?,
                        superseded: row.get(4)?,
                        settlement: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    })
                })
                .optional()?)
        })
    }
}
