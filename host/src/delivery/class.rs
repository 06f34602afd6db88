//! Which deliveries go first under the rate limits. Feishu's quota is the app's, not the card's:
//! a contract-expiry scan of 1,500 cards must not make an approver wait a minute for the PR they
//! have to approve. Stored as an integer in `deliveries.class`, so claiming walks the queue in
//! class order through one index.

use super::Kind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Someone must act: a PR or a payment to approve, an approval instance to create.
    Action,
    /// Something happened that people want to know soon: a decision, a PO, a cancel.
    Update,
    /// Can wait behind the rest: expiring contracts, digests, reminders. Never takes the part of
    /// the minute's quota kept for the other two.
    Bulk,
}

impl Class {
    /// In the order they are served.
    pub const ALL: [Class; 3] = [Class::Action, Class::Update, Class::Bulk];

    /// The class of a delivery of `kind` for an event of `event_type`. A type the host does not
    /// know yet is an update: neither pushed ahead of approvals nor held behind a backlog.
    pub fn of(kind: Kind, event_type: &str) -> Class {
        match kind {
            Kind::Approval => Class::Action,
            Kind::Cancel | Kind::CardUpdate => Class::Update,
            Kind::Notify => match event_type {
                "pr_submitted" | "payment_pending" => Class::Action,
                "contract_expiring" => Class::Bulk,
                _ => Class::Update,
            },
        }
    }

    /// As stored (lower is served first).
    pub fn rank(self) -> i64 {
        match self {
            Class::Action => 0,
            Class::Update => 1,
            Class::Bulk => 2,
        }
    }

    pub fn from_rank(rank: i64) -> Class {
        match rank {
            0 => Class::Action,
            2 => Class::Bulk,
            _ => Class::Update,
        }
    }

    /// As shown in metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Action => "action",
            Class::Update => "update",
            Class::Bulk => "bulk",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_to_act_on_come_first_and_scans_last() {
        assert_eq!(Class::of(Kind::Notify, "pr_submitted"), Class::Action);
        assert_eq!(Class::of(Kind::Notify, "payment_pending"), Class::Action);
        assert_eq!(Class::of(Kind::Approval, "payment_pending"), Class::Action);
        assert_eq!(Class::of(Kind::Notify, "approval_decided"), Class::Update);
        assert_eq!(Class::of(Kind::Notify, "po_created"), Class::Update);
        assert_eq!(Class::of(Kind::Cancel, "approval_cancel"), Class::Update);
        assert_eq!(
            Class::of(Kind::CardUpdate, "approval_decided"),
            Class::Update
        );
        assert_eq!(Class::of(Kind::Notify, "contract_expiring"), Class::Bulk);
        assert_eq!(Class::of(Kind::Notify, "something_new"), Class::Update);
        assert!(Class::Action < Class::Update && Class::Update < Class::Bulk);
        for c in Class::ALL {
            assert_eq!(Class::from_rank(c.rank()), c);
        }
    }
}
