//! What a delivery asks of a plugin. Stored as text in `deliveries.kind`.

use super::rate::Quota;
use crate::runtime::World;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A card for one recipient.
    Notify,
    /// A payment's approval instance to create.
    Approval,
    /// A payment's open approval instance to cancel.
    Cancel,
    /// A sent card to redraw in place, now that what it asked for is settled (`redraw`).
    CardUpdate,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Notify => "notify",
            Kind::Approval => "approval",
            Kind::Cancel => "cancel",
            Kind::CardUpdate => "card_update",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Notify, Kind::Approval, Kind::Cancel, Kind::CardUpdate]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// The world a plugin must implement to do it.
    pub fn world(self) -> World {
        match self {
            Kind::Notify | Kind::CardUpdate => World::Notifier,
            Kind::Approval | Kind::Cancel => World::ApprovalProvider,
        }
    }

    /// The quota its calls count against: approval calls share Feishu's approval quota, cards the
    /// message quota (an update counts against the app's 50/s and 1,000/min like a send, and
    /// against its reader's 5/s, which keeps it within Feishu's 5 updates a second per message).
    pub fn quota(self) -> Quota {
        match self {
            Kind::Notify | Kind::CardUpdate => Quota::Messages,
            Kind::Approval | Kind::Cancel => Quota::Approvals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in [Kind::Notify, Kind::Approval, Kind::Cancel, Kind::CardUpdate] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("email"), None);
    }
}
