//! Mica's domain events as the host accepts them (CONTRACT.md), validated field by field into the
//! host's domain types (`crate::domain`), which the runtime hands to the plugins.

mod fields;
pub mod messages;
mod parse;
mod samples;
mod subject;

pub use fields::FieldError;
pub use parse::{Payload, ValidEvent, parse_event, parse_recipient, parse_stored_event};
pub use samples::sample_events;

use crate::domain::Recipient;
use sha2::{Digest, Sha256};

/// A delivery's id: the same event and recipient always give the same id, so the idempotency key
/// the plugin derives Feishu's `uuid` from never changes. The first half comes from the event
/// alone, so an event's deliveries sit side by side in the table's primary-key index: storing an
/// event of 50 recipients then dirties a page or two of that index instead of 50.
pub fn delivery_id(event_id: &str, recipient_email: &str) -> String {
    let event = Sha256::digest(event_id.as_bytes());
    let recipient =
        Sha256::digest(format!("{event_id}\n{}", recipient_email.to_lowercase()).as_bytes());
    format!(
        "dlv-{}{}",
        hex::encode(&event[..6]),
        hex::encode(&recipient[..6])
    )
}

/// The outbox job that creates a payment's approval (one per event).
pub fn approval_job_id(event_id: &str) -> String {
    let digest = Sha256::digest(format!("approval\n{event_id}").as_bytes());
    format!("apv-{}", &hex::encode(digest)[..24])
}

/// The approval's idempotency key: the same for every event about the same payment, so Feishu's
/// instance `uuid` prevents a second instance for one payment.
pub fn approval_key(payment_id: &str) -> String {
    format!("approval:{payment_id}")
}

/// A recipient as stored with its delivery (the same shape Mica sends).
pub fn recipient_json(r: &Recipient) -> serde_json::Value {
    serde_json::json!({
        "email": r.email,
        "name": r.name,
        "locale": r.locale,
        "feishu_union_id": r.feishu_union_id,
        "feishu_open_id": r.feishu_open_id,
        "feishu_user_id": r.feishu_user_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_stable_distinct_and_grouped_by_event() {
        let a = delivery_id("evt-1", "Li.Lei@example.com");
        assert_eq!(
            a,
            delivery_id("evt-1", "li.lei@example.com"),
            "emails compare without case"
        );
        let b = delivery_id("evt-1", "han.meimei@example.com");
        let other_event = delivery_id("evt-2", "li.lei@example.com");
        assert_ne!(a, b);
        assert_ne!(a, other_event);
        assert_eq!(a.len(), "dlv-".len() + 24);
        // One event's deliveries share their first half, so they sort side by side.
        assert_eq!(a[..16], b[..16]);
        assert_ne!(a[..16], other_event[..16]);
    }
}
