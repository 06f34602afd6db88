//! What an event is about, and what it settles: how a decision finds the cards it redraws.

use super::{Payload, ValidEvent};
use crate::delivery::redraw::Settlement;
use crate::domain::DomainEvent;

impl ValidEvent {
    /// `pr:<id>` for a requisition's events, `payment:<id>` for a payment's; None for the rest.
    pub fn subject(&self) -> Option<String> {
        match &self.payload {
            Payload::Domain(DomainEvent::PrSubmitted(e)) => Some(format!("pr:{}", e.pr_id)),
            Payload::Domain(DomainEvent::ApprovalDecided(e)) => Some(format!("pr:{}", e.pr_id)),
            Payload::Domain(DomainEvent::PaymentPending(e)) => {
                Some(format!("payment:{}", e.payment_id))
            }
            _ => None,
        }
    }

    /// A decision settles its requisition's cards: what to redraw them with, and when it was
    /// decided (milliseconds since the epoch, from `occurred_at`).
    pub fn settlement(&self) -> Option<(Settlement, i64)> {
        let Payload::Domain(DomainEvent::ApprovalDecided(e)) = &self.payload else {
            return None;
        };
        let at_ms = chrono::DateTime::parse_from_rfc3339(self.occurred_at.trim())
            .map(|t| t.timestamp_millis())
            .unwrap_or_default();
        let settlement = Settlement::Decided {
            result: e.result,
            decider_name: e.decider.name.clone(),
            decider_email: e.decider.email.clone(),
            comment: e.comment.clone(),
            decided_at: self.occurred_at.trim().to_string(),
        };
        Some((settlement, at_ms))
    }
}
