//! The eight Feishu instance statuses and which changes are accepted.
//!
//! Rules (callbacks are at-least-once and may arrive out of order):
//! - the same status again is a no-op;
//! - a change older than the current one (by Feishu's operate time) is ignored;
//! - PENDING never overwrites a decision (a late PENDING after APPROVED is stale);
//! - REVERTED and OVERTIME_RECOVER reopen a decided instance, after which anything newer applies.

use crate::domain::ApprovalStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub ApprovalStatus);

impl Status {
    pub fn as_str(self) -> &'static str {
        match self.0 {
            ApprovalStatus::Pending => "PENDING",
            ApprovalStatus::Approved => "APPROVED",
            ApprovalStatus::Rejected => "REJECTED",
            ApprovalStatus::Canceled => "CANCELED",
            ApprovalStatus::Deleted => "DELETED",
            ApprovalStatus::Reverted => "REVERTED",
            ApprovalStatus::OvertimeClose => "OVERTIME_CLOSE",
            ApprovalStatus::OvertimeRecover => "OVERTIME_RECOVER",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(Status(match s {
            "PENDING" => ApprovalStatus::Pending,
            "APPROVED" => ApprovalStatus::Approved,
            "REJECTED" => ApprovalStatus::Rejected,
            "CANCELED" => ApprovalStatus::Canceled,
            "DELETED" => ApprovalStatus::Deleted,
            "REVERTED" => ApprovalStatus::Reverted,
            "OVERTIME_CLOSE" => ApprovalStatus::OvertimeClose,
            "OVERTIME_RECOVER" => ApprovalStatus::OvertimeRecover,
            _ => return None,
        }))
    }

    /// A decision that stands until something reopens it.
    pub fn is_decided(self) -> bool {
        matches!(
            self.0,
            ApprovalStatus::Approved
                | ApprovalStatus::Rejected
                | ApprovalStatus::Canceled
                | ApprovalStatus::Deleted
                | ApprovalStatus::OvertimeClose
        )
    }
}

/// Stored and shown in Feishu's spelling ("APPROVED").
impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
        let name = String::deserialize(d)?;
        Status::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("{name:?} is not an approval status")))
    }
}

impl Status {
    /// The instance ended without the payment being approved: the payment may be sent for
    /// approval again, as a new instance.
    pub fn allows_new_round(self) -> bool {
        matches!(
            self.0,
            ApprovalStatus::Rejected
                | ApprovalStatus::Canceled
                | ApprovalStatus::Deleted
                | ApprovalStatus::OvertimeClose
        )
    }

    /// Still open in Feishu, so cancelling it means something.
    pub fn is_open(self) -> bool {
        !self.is_decided()
    }
}

/// Whether `new` (observed at `new_ms`) replaces `current` (observed at `current_ms`).
pub fn accepts(current: Status, current_ms: u64, new: Status, new_ms: u64) -> bool {
    if new == current || new_ms < current_ms {
        return false;
    }
    !(new.0 == ApprovalStatus::Pending && current.is_decided())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApprovalStatus::*;

    fn s(x: ApprovalStatus) -> Status {
        Status(x)
    }

    #[test]
    fn decisions_apply_and_repeats_do_not() {
        assert!(accepts(s(Pending), 1, s(Approved), 2));
        assert!(!accepts(s(Approved), 2, s(Approved), 3));
    }

    #[test]
    fn late_pending_never_overwrites_a_decision() {
        assert!(!accepts(s(Approved), 2, s(Pending), 5));
        assert!(!accepts(s(Rejected), 2, s(Pending), 2));
    }

    #[test]
    fn older_news_is_ignored() {
        assert!(!accepts(s(Approved), 10, s(Rejected), 9));
    }

    #[test]
    fn reverted_reopens() {
        assert!(accepts(s(Approved), 1, s(Reverted), 2));
        assert!(accepts(s(Reverted), 2, s(Pending), 3));
        assert!(accepts(s(Reverted), 2, s(Rejected), 3));
        assert!(accepts(s(OvertimeClose), 1, s(OvertimeRecover), 2));
    }

    #[test]
    fn only_an_ending_without_approval_allows_a_new_round() {
        assert!(s(Rejected).allows_new_round() && s(Canceled).allows_new_round());
        assert!(s(Deleted).allows_new_round() && s(OvertimeClose).allows_new_round());
        for x in [Pending, Approved, Reverted, OvertimeRecover] {
            assert!(!s(x).allows_new_round(), "{x:?}");
        }
        assert!(s(Pending).is_open() && s(Reverted).is_open() && !s(Approved).is_open());
    }

    #[test]
    fn names_round_trip() {
        for x in ApprovalStatus::ALL {
            assert_eq!(Status::parse(s(x).as_str()), Some(s(x)));
        }
    }
}
