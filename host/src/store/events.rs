//! Accepted events and their deliveries, written together (the outbox).

use super::{Delivery, Store, now_ms};
use rusqlite::{OptionalExtension, params};

/// One delivery to create with its event.
pub struct NewDelivery {
    pub id: String,
    /// "notify" or "approval".
    pub kind: &'static str,
    pub recipient_email: String,
    /// The recipient as JSON.
    pub recipient: String,
}

pub struct InsertedEvent {
    /// False when the event id existed already (nothing was written).
    pub created: bool,
    pub deliveries: Vec<Delivery>,
}

impl Store {
    /// Store the event and its deliveries in one transaction, or nothing if the id is known.
    pub fn insert_event(
        &self,
        id: &str,
        kind: &str,
        occurred_at: &str,
        payload: &str,
        deliveries: &[NewDelivery],
    ) -> anyhow::Result<InsertedEvent> {
        let created = self.with(|c| {
            let tx = super::write_transaction(c)?;
            let exists = tx
                .query_row("SELECT 1 FROM events WHERE id = ?1", [id], |_| Ok(()))
                .optional()?
                .is_some();
            if exists {
                return Ok(false);
            }
            let now = now_ms();
            tx.execute(
                "INSERT INTO events (id, type, occurred_at, payload, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, kind, occurred_at, payload, now],
            )?;
            for (seq, d) in deliveries.iter().enumerate() {
                tx.execute(
                    "INSERT INTO deliveries (id, event_id, seq, kind, recipient_email, recipient, status,
                        attempts, next_attempt_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7, ?7)",
                    params![d.id, id, seq as i64, d.kind, d.recipient_email, d.recipient, now],
                )?;
            }
            tx.commit()?;
            Ok(true)
        })?;
        Ok(InsertedEvent {
            created,
            deliveries: self.deliveries_of(id)?,
        })
    }

    /// The stored payload of an event.
    pub fn event_payload(&self, id: &str) -> anyhow::Result<Option<String>> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT payload FROM events WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    /// The stored payload of an event, read through the read-only connection: what each delivery
    /// reads, so it never waits for the writer.
    pub fn stored_event(&self, id: &str) -> anyhow::Result<Option<String>> {
        self.read(|r| {
            Ok(r.conn
                .prepare_cached("SELECT payload FROM events WHERE id = ?1")?
                .query_row([id], |row| row.get(0))
                .optional()?)
        })
    }

    pub fn event_exists(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.event_payload(id)?.is_some())
    }
}
