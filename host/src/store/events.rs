//! Accepted events and their deliveries, written together (the outbox).

use super::db::{OptionalExt, ToValue, params};
use super::{Delivery, DeliveryStatus, Store, now_ms, rfc3339};

/// One delivery to create with its event.
pub struct NewDelivery {
    pub id: String,
    pub kind: crate::delivery::Kind,
    /// Where it queues under the rate limits.
    pub class: crate::delivery::Class,
    pub recipient_email: String,
    /// The recipient as JSON.
    pub recipient: String,
}

/// An accepted event, to store with its deliveries.
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub occurred_at: &'a str,
    /// The whole body as accepted.
    pub payload: &'a str,
    /// What it is about (`pr:<id>`, `payment:<id>`): how a later event finds the cards it settles.
    pub subject: Option<&'a str>,
    pub deliveries: &'a [NewDelivery],
    /// The sent cards this event settles, redrawn as deliveries of this event.
    pub settles: Option<super::Settles<'a>>,
}

pub struct InsertedEvent {
    /// False when the event id existed already (nothing was written).
    pub created: bool,
    pub deliveries: Vec<Delivery>,
}

/// Deliveries written by one statement (six parameters each, well under either database's limit).
const DELIVERIES_PER_INSERT: usize = 200;

impl Store {
    /// Store the event, its deliveries and the redraws of the cards it settles in one
    /// transaction, or nothing if the id is known.
    pub fn insert_event(&self, e: &NewEvent) -> anyhow::Result<InsertedEvent> {
        let written = self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let exists = tx
                .query_row("SELECT 1 FROM events WHERE id = ?1", [e.id], |_| Ok(()))
                .optional()?
                .is_some();
            if exists {
                return Ok(None);
            }
            let now = now_ms();
            tx.execute("INSERT INTO events (id, type, occurred_at, payload, received_at, subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", params![e.id, e.kind, e.occurred_at, e.payload, now, e.subject])?;
            // Many rows to a statement on PostgreSQL, where each statement is a round trip; one
            // prepared statement per row on SQLite, which runs in this process.
            let per_insert = match tx.backend() {
                super::Backend::Postgres => DELIVERIES_PER_INSERT,
                super::Backend::Sqlite => 1,
            };
            for (chunk, batch) in e.deliveries.chunks(per_insert).enumerate() {
                let mut values = vec![e.id.to_value(), now.to_value()];
                let mut rows = Vec::with_capacity(batch.len());
                for (i, d) in batch.iter().enumerate() {
                    let p = 3 + 6 * i;
                    rows.push(format!(
                        "(?{p}, ?1, ?{}, ?{}, ?{}, ?{}, ?{}, 'pending', 0, ?2, ?2, ?2)",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5
                    ));
                    values.extend([
                        d.id.to_value(),
                        ((chunk * per_insert + i) as i64).to_value(),
                        d.kind.as_str().to_value(),
                        d.class.rank().to_value(),
                        d.recipient_email.to_value(),
                        d.recipient.to_value(),
                    ]);
                }
                tx.execute(
                    &format!(
                        "INSERT INTO deliveries (id, event_id, seq, kind, class, recipient_email,
                            recipient, status, attempts, next_attempt_at, created_at, updated_at)
                         VALUES {}",
                        rows.join(", ")
                    ),
                    values,
                )?;
            }
            let redraws = match &e.settles {
                Some(settles) => super::redraws::queue(&mut tx, settles, Some(e.id), now)?,
                None => 0,
            };
            tx.commit()?;
            Ok(Some((now, redraws)))
        })?;
        let deliveries = match written {
            // Just written: the rows are what was given (reading them back cost as much again).
            Some((now, 0)) => e
                .deliveries
                .iter()
                .map(|d| Delivery {
                    id: d.id.clone(),
                    event_id: e.id.to_string(),
                    kind: d.kind.as_str().to_string(),
                    event_type: Some(e.kind.to_string()),
                    class: d.class,
                    recipient: d.recipient_email.clone(),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    rate_limited: 0,
                    next_attempt_at: Some(rfc3339(now)),
                    last_error: None,
                    error_kind: None,
                    feishu_code: None,
                    feishu_log_id: None,
                    feishu_message_id: None,
                    plugin_version: None,
                    redraws: None,
                    updated_at: rfc3339(now),
                })
                .collect(),
            _ => self.deliveries_of(e.id)?,
        };
        Ok(InsertedEvent {
            created: written.is_some(),
            deliveries,
        })
    }

    /// The stored payload of an event.
    pub fn event_payload(&self, id: &str) -> anyhow::Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT payload FROM events WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// The stored payload of an event, read through the read-only connection: what each delivery
    /// reads, so it never waits for the writer.
    pub fn stored_event(&self, id: &str) -> anyhow::Result<Option<String>> {
        self.read(|c, _| {
            c.query_row("SELECT payload FROM events WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
        })
    }

    pub fn event_exists(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.event_payload(id)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_to_an_insert_is_what_reading_the_deliveries_gives() {
        let (_dir, store) = crate::store::temporary();
        let deliveries: Vec<NewDelivery> = ["a@example.com", "b@example.com"]
            .iter()
            .enumerate()
            .map(|(i, email)| NewDelivery {
                id: format!("dlv-{i}"),
                kind: if i == 0 {
                    crate::delivery::Kind::Notify
                } else {
                    crate::delivery::Kind::Approval
                },
                class: if i == 0 {
                    crate::delivery::Class::Action
                } else {
                    crate::delivery::Class::Bulk
                },
                recipient_email: email.to_string(),
                recipient: format!(r#"{{"email":"{email}"}}"#),
            })
            .collect();
        let insert = || {
            store
                .insert_event(&NewEvent {
                    id: "evt-1",
                    kind: "payment_pending",
                    occurred_at: "2026-11-25T02:14:22Z",
                    payload: "{}",
                    subject: Some("payment:p-1"),
                    deliveries: &deliveries,
                    settles: None,
                })
                .unwrap()
        };
        let inserted = insert();
        assert!(inserted.created);
        let as_json = |d: &[Delivery]| serde_json::to_value(d).unwrap();
        assert_eq!(
            as_json(&inserted.deliveries),
            as_json(&store.deliveries_of("evt-1").unwrap())
        );
        let again = insert();
        assert!(!again.created);
        assert_eq!(as_json(&again.deliveries), as_json(&inserted.deliveries));
    }
}
