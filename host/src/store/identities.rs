//! Feishu ids learned from presses (`crate::actions`): a verified press on a card that cannot be
//! forwarded, sent to an email, binds that address to the presser's `open_id` and `union_id`. The
//! first binding stands (trust on first use) until an administrator removes it; it lets the host
//! reach the person by id and start a payment's approval with them as initiator.

use super::db::{OptionalExt, Row, params};
use super::{Store, now_ms, rfc3339};
use serde::Serialize;

/// A learned binding, as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub email: String,
    pub open_id: String,
    pub union_id: Option<String>,
    pub learned_at: String,
    /// The delivery whose card was pressed.
    pub learned_from: String,
}

/// Addresses are compared as Feishu and Mica compare them: without case.
fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

fn row(r: &Row) -> anyhow::Result<Identity> {
    Ok(Identity {
        email: r.get(0)?,
        open_id: r.get(1)?,
        union_id: r.get(2)?,
        learned_at: rfc3339(r.get(3)?),
        learned_from: r.get(4)?,
    })
}

impl Store {
    /// Bind `email` to the presser unless it is bound already; the binding that stands.
    pub fn learn_identity(
        &self,
        email: &str,
        open_id: &str,
        union_id: Option<&str>,
        learned_from: &str,
    ) -> anyhow::Result<Identity> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let fresh = tx.execute(
                "INSERT INTO identities (email, open_id, union_id, learned_at, learned_from)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                params![key(email), open_id, union_id, now_ms(), learned_from],
            )? == 1;
            if fresh {
                // A payment's approval waiting for this person starts now rather than at its
                // next look.
                tx.execute(
                    "UPDATE deliveries SET next_attempt_at = ?2
                     WHERE kind = 'approval' AND status IN ('pending', 'retrying')
                       AND last_error_kind = 'awaiting_identity' AND lower(recipient_email) = ?1",
                    params![key(email), now_ms()],
                )?;
                tracing::info!(open_id, "a Feishu account was linked to an address");
            }
            let bound = tx.query_row(
                "SELECT email, open_id, union_id, learned_at, learned_from FROM identities
                 WHERE email = ?1",
                [key(email)],
                row,
            )?;
            tx.commit()?;
            Ok(bound)
        })
    }

    pub fn identity(&self, email: &str) -> anyhow::Result<Option<Identity>> {
        self.with(|c| {
            c.query_row(
                "SELECT email, open_id, union_id, learned_at, learned_from FROM identities
                 WHERE email = ?1",
                [key(email)],
                row,
            )
            .optional()
        })
    }

    pub fn identities(&self, limit: usize) -> anyhow::Result<Vec<Identity>> {
        self.with(|c| {
            let rows = c.query_map(
                "SELECT email, open_id, union_id, learned_at, learned_from FROM identities
                 ORDER BY learned_at DESC, email LIMIT ?1",
                [limit as i64],
                row,
            )?;
            Ok(rows)
        })
    }

    /// Queue the payment card to the initiator of approval job `job_id` (the worker draws it with
    /// "Link my Feishu account"), once per job. Whether it is new.
    pub fn queue_link_card(&self, job_id: &str) -> anyhow::Result<bool> {
        self.with(|c| {
            let now = now_ms();
            let queued = c.execute(
                "INSERT INTO deliveries (id, event_id, seq, kind, class, recipient_email,
                    recipient, status, attempts, next_attempt_at, created_at, updated_at)
                 SELECT ?1, j.event_id,
                    (SELECT COALESCE(MAX(seq), -1) + 1 FROM deliveries WHERE event_id = j.event_id),
                    ?2, ?3, j.recipient_email, j.recipient, 'pending', 0, ?4, ?4, ?4
                 FROM deliveries j WHERE j.id = ?5
                 ON CONFLICT DO NOTHING",
                params![
                    format!("link-{job_id}"),
                    crate::delivery::Kind::Notify.as_str(),
                    crate::delivery::Class::Action.rank(),
                    now,
                    job_id
                ],
            )?;
            Ok(queued == 1)
        })
    }

    /// Remove a binding (the next press on a card sent to the address binds it again). Whether
    /// there was one.
    pub fn forget_identity(&self, email: &str) -> anyhow::Result<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM identities WHERE email = ?1", [key(email)])? == 1))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_binding_stands_until_it_is_removed() {
        let (_dir, store) = crate::store::temporary();
        let first = store
            .learn_identity("Li.Lei@example.com", "ou_li", Some("on_li"), "dlv-1")
            .unwrap();
        assert_eq!(first.email, "li.lei@example.com");
        let second = store
            .learn_identity("li.lei@example.com", "ou_other", None, "dlv-2")
            .unwrap();
        assert_eq!(second.open_id, "ou_li", "trust on first use");
        assert_eq!(
            store
                .identity("LI.LEI@example.com")
                .unwrap()
                .unwrap()
                .open_id,
            "ou_li"
        );
        assert!(store.forget_identity("li.lei@example.com").unwrap());
        assert!(!store.forget_identity("li.lei@example.com").unwrap());
        let again = store
            .learn_identity("li.lei@example.com", "ou_other", None, "dlv-3")
            .unwrap();
        assert_eq!(again.open_id, "ou_other");
        assert_eq!(store.identities(10).unwrap().len(), 1);
    }
}
