//! Redraws of sent cards (`delivery::redraw`): queued in the transaction that records what
//! settled them, and read back by the worker with the state of the card they redraw.

use super::db::{Conn, OptionalExt, params};
use super::{DeliveryStatus, Store};
use crate::delivery::redraw::{Settlement, Target, redraw_id};
use crate::delivery::{Class, Kind};

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
    tx: &mut Conn,
    settles: &Settles,
    into_event: Option<&str>,
    now: i64,
) -> anyhow::Result<usize> {
    let originals: Vec<(String, String, String, String)> = {
        tx.query_map(
            "SELECT d.id, d.event_id, d.recipient_email, d.recipient FROM deliveries d
             JOIN events e ON e.id = d.event_id
             WHERE e.subject = ?1 AND e.type = ?2 AND d.kind = 'notify'
               AND d.status IN ('pending', 'retrying', 'sent')
             ORDER BY e.received_at, d.seq",
            params![settles.subject, settles.settlement.redraws_type()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?
    };
    let settlement = serde_json::to_string(settles.settlement)?;
    let mut queued = 0;
    for (original, event_id, email, recipient) in &originals {
        queued += tx.execute("INSERT INTO deliveries (id, event_id, seq, kind, class, recipient_email, recipient,
            status, attempts, next_attempt_at, created_at, updated_at, redraws, settlement, settled_at_ms)
         VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), -1) + 1 FROM deliveries WHERE event_id = ?2),
            ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7, ?7, ?8, ?9, ?10)
                 ON CONFLICT DO NOTHING", params![
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
        self.read(|c, _| {
            c.query_row(
                "SELECT o.event_id, o.status, o.feishu_message_id,
                        COALESCE(o.sent_at, CASE WHEN o.status = 'sent' THEN o.updated_at END),
                        EXISTS (SELECT 1 FROM deliveries n WHERE n.redraws = u.redraws
                            AND n.id <> u.id AND n.settled_at_ms > u.settled_at_ms),
                        u.settlement
                     FROM deliveries u JOIN deliveries o ON o.id = u.redraws WHERE u.id = ?1",
                [id],
                |row| {
                    Ok(Target {
                        original_event_id: row.get(0)?,
                        status: DeliveryStatus::parse(&row.get::<String>(1)?),
                        message_id: row.get(2)?,
                        sent_at_ms: row.get(3)?,
                        superseded: row.get(4)?,
                        settlement: row.get::<Option<String>>(5)?.unwrap_or_default(),
                    })
                },
            )
            .optional()
        })
    }
}
