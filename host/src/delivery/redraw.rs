//! Cards that stay true: once what a sent card asked for is settled (its requisition decided in
//! Mica, its payment's approval ended in Feishu), the card is redrawn in place. A redraw is a
//! delivery of kind `card_update` like any other (durable, retried, visible), naming the delivery
//! whose card it redraws; this module decides, from that card's state, whether it can go now.

use crate::approvals::Status;
use crate::domain::Decision;
use crate::store::DeliveryStatus;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Feishu changes a message for 14 days after it was sent (FEISHU_API.md §3.3).
pub const UPDATE_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;

/// What settled a card's question, stored with the redraw (JSON in `deliveries.settlement`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Settlement {
    /// A requisition decided in Mica: redraws its `pr_submitted` cards.
    Decided {
        result: Decision,
        decider_name: String,
        decider_email: String,
        comment: Option<String>,
        /// ISO 8601, the decision event's `occurred_at`.
        decided_at: String,
    },
    /// A payment's approval instance changed in Feishu: redraws its `payment_pending` cards.
    Approval {
        status: Status,
        /// ISO 8601, Feishu's operate time.
        changed_at: String,
    },
    /// A decision taken on the card itself reached Mica (applied or refused): redraws that card.
    Deciding { progress: crate::domain::Progress },
}

impl Settlement {
    /// The event type whose cards it redraws.
    pub fn redraws_type(&self) -> &'static str {
        match self {
            Settlement::Decided { .. } | Settlement::Deciding { .. } => "pr_submitted",
            Settlement::Approval { .. } => "payment_pending",
        }
    }
}

/// The redraw of `original` (a delivery id) caused by `cause` (the decision event's id, or the
/// approval change): the same cause always gives the same id, so a replay adds nothing.
pub fn redraw_id(original: &str, cause: &str) -> String {
    let digest = Sha256::digest(format!("redraw\n{original}\n{cause}").as_bytes());
    format!("upd-{}", &hex::encode(digest)[..24])
}

/// The card a redraw is for, as the store has it now.
#[derive(Clone, Debug)]
pub struct Target {
    pub original_event_id: String,
    pub status: DeliveryStatus,
    pub message_id: Option<String>,
    pub sent_at_ms: Option<i64>,
    /// Another redraw of the same card settles it later (its update shows the newer state).
    pub superseded: bool,
    pub settlement: String,
}

/// What to do with a redraw now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Redraw this message.
    Update { message_id: String },
    /// Not yet: the card has not been sent (it will be, or it will fail).
    Wait(String),
    /// Never: nothing to redraw, or Feishu would refuse it. The reason is recorded.
    Skip(String),
}

pub fn plan(target: &Target, now_ms: i64) -> Plan {
    match target.status {
        DeliveryStatus::Pending | DeliveryStatus::Retrying => {
            return Plan::Wait("the card it redraws has not been sent yet".into());
        }
        DeliveryStatus::Skipped | DeliveryStatus::Failed => {
            return Plan::Skip(format!(
                "the card it would redraw was never sent ({})",
                target.status.as_str()
            ));
        }
        DeliveryStatus::Sent => {}
    }
    if target.superseded {
        return Plan::Skip("a later change to the same card redraws it".into());
    }
    let Some(message_id) = target.message_id.clone().filter(|m| !m.is_empty()) else {
        return Plan::Skip("the card was sent but Feishu gave no message id to redraw".into());
    };
    if target
        .sent_at_ms
        .is_some_and(|at| now_ms - at > UPDATE_WINDOW_MS)
    {
        return Plan::Skip(
            "the card was sent more than 14 days ago; Feishu no longer lets it change, so it is left as it is"
                .into(),
        );
    }
    Plan::Update { message_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(status: DeliveryStatus) -> Target {
        Target {
            original_event_id: "evt-pr".into(),
            status,
            message_id: Some("om_1".into()),
            sent_at_ms: Some(1_000),
            superseded: false,
            settlement: "{}".into(),
        }
    }

    #[test]
    fn a_sent_card_is_redrawn_within_14_days_and_only_by_its_latest_change() {
        let sent = target(DeliveryStatus::Sent);
        assert_eq!(
            plan(&sent, 1_000 + UPDATE_WINDOW_MS),
            Plan::Update {
                message_id: "om_1".into()
            }
        );
        assert!(
            matches!(plan(&sent, 1_001 + UPDATE_WINDOW_MS), Plan::Skip(r) if r.contains("14 days"))
        );
        let later = Target {
            superseded: true,
            ..sent.clone()
        };
        assert!(matches!(plan(&later, 2_000), Plan::Skip(r) if r.contains("later change")));
        let no_id = Target {
            message_id: None,
            ..sent
        };
        assert!(matches!(plan(&no_id, 2_000), Plan::Skip(_)));
    }

    #[test]
    fn an_unsent_card_is_waited_for_and_a_lost_one_is_not() {
        for s in [DeliveryStatus::Pending, DeliveryStatus::Retrying] {
            assert!(matches!(plan(&target(s), 2_000), Plan::Wait(_)));
        }
        for s in [DeliveryStatus::Skipped, DeliveryStatus::Failed] {
            assert!(matches!(plan(&target(s), 2_000), Plan::Skip(r) if r.contains(s.as_str())));
        }
    }

    #[test]
    fn settlements_are_stored_as_tagged_json_and_name_the_cards_they_redraw() {
        let s = Settlement::Approval {
            status: Status::parse("APPROVED").unwrap(),
            changed_at: "2026-12-01T00:00:00Z".into(),
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "approval", "status": "APPROVED", "changed_at": "2026-12-01T00:00:00Z"})
        );
        assert_eq!(serde_json::from_value::<Settlement>(json).unwrap(), s);
        assert_eq!(s.redraws_type(), "payment_pending");
        assert_ne!(redraw_id("dlv-1", "evt-a"), redraw_id("dlv-1", "evt-b"));
        assert_eq!(redraw_id("dlv-1", "evt-a"), redraw_id("dlv-1", "evt-a"));
    }
}
