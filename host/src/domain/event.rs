//! Mica's five domain events and the people they go to, as validated by `events::parse`.

use serde::{Deserialize, Serialize};

/// An amount as Mica sends it: the decimal stays text, so no digit is lost to a float.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    pub value: String,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// Who a card goes to: always an email, and whatever Feishu ids Mica knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    pub name: String,
    /// zh-CN or en-US (the parser resolves any other tag to one of them).
    pub locale: String,
    pub feishu_union_id: Option<String>,
    pub feishu_open_id: Option<String>,
    pub feishu_user_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrSubmitted {
    pub pr_id: String,
    pub pr_number: String,
    pub title: String,
    pub applicant: Person,
    pub department: String,
    pub amount: Money,
    pub line_count: u32,
    pub url: String,
}

/// A requisition's decision, as an `approval_decided` event gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
    Returned,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalDecided {
    pub pr_id: String,
    pub pr_number: String,
    pub title: String,
    pub decider: Person,
    pub result: Decision,
    pub comment: Option<String>,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoCreated {
    pub po_id: String,
    pub po_number: String,
    pub supplier: String,
    pub amount: Money,
    pub pr_title: String,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentPending {
    pub payment_id: String,
    pub payment_number: String,
    pub po_number: String,
    pub supplier: String,
    pub amount: Money,
    pub due_date: Option<String>,
    pub description: Option<String>,
    pub url: String,
    /// The approval's initiator.
    pub submitter: Recipient,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractExpiring {
    pub contract_id: String,
    pub contract_number: String,
    pub supplier: String,
    pub expiry_date: String,
    pub days_remaining: i32,
    pub total_amount: Money,
    pub used_amount: Money,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainEvent {
    PrSubmitted(PrSubmitted),
    ApprovalDecided(ApprovalDecided),
    PoCreated(PoCreated),
    PaymentPending(PaymentPending),
    ContractExpiring(ContractExpiring),
}

/// One card for one recipient: what the worker asks a notifier to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyRequest {
    /// Stable across retries; the plugin derives Feishu's `uuid` from it.
    pub idempotency_key: String,
    pub event_id: String,
    pub occurred_at: String,
    pub event: DomainEvent,
    pub recipient: Recipient,
    /// 1 for the first try.
    pub attempt: u32,
}

/// The types of event Mica posts (`POST /api/v1/events`): the five domain events, and the notice
/// and digest (since mica:plugin 0.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    PrSubmitted,
    ApprovalDecided,
    PoCreated,
    PaymentPending,
    ContractExpiring,
    Notice,
    Digest,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::PrSubmitted,
        EventType::ApprovalDecided,
        EventType::PoCreated,
        EventType::PaymentPending,
        EventType::ContractExpiring,
        EventType::Notice,
        EventType::Digest,
    ];

    /// As the events API and the `events.type` column spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PrSubmitted => "pr_submitted",
            EventType::ApprovalDecided => "approval_decided",
            EventType::PoCreated => "po_created",
            EventType::PaymentPending => "payment_pending",
            EventType::ContractExpiring => "contract_expiring",
            EventType::Notice => "notice",
            EventType::Digest => "digest",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
