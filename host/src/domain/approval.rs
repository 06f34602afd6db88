//! Approvals in an approval provider (Feishu's approval app): creating one, its status, and the
//! callbacks that report changes to it.

use super::event::PaymentPending;

/// The eight statuses of a Feishu approval instance (`approvals::Status` holds the rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Canceled,
    Deleted,
    Reverted,
    OvertimeClose,
    OvertimeRecover,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 8] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Canceled,
        ApprovalStatus::Deleted,
        ApprovalStatus::Reverted,
        ApprovalStatus::OvertimeClose,
        ApprovalStatus::OvertimeRecover,
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    /// The same for every retry of one round, so Feishu's `uuid` prevents a second instance.
    pub idempotency_key: String,
    pub payment: PaymentPending,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRef {
    pub instance_code: String,
    pub status: ApprovalStatus,
}

/// A callback exactly as it arrived: the plugin verifies it, the host does not look inside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One instance's change, as a verified callback reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalUpdate {
    pub approval_code: String,
    pub instance_code: String,
    pub status: ApprovalStatus,
    pub operate_time_ms: u64,
}

/// What the plugin made of a callback: the answer for the sender, the event id to deduplicate
/// by, and the changes to apply before answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookOutcome {
    pub response: WebhookResponse,
    pub event_id: Option<String>,
    pub updates: Vec<ApprovalUpdate>,
}
