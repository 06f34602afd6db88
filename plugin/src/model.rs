//! Plain Rust mirrors of the `mica:plugin` WIT types, so the core never depends on generated bindings.

/// An exact amount: a decimal string and an ISO 4217 currency code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    pub value: String,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    pub name: String,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The five notification kinds, each with its own `notify_on_*` switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    PrSubmitted,
    ApprovalDecided,
    PoCreated,
    PaymentPending,
    ContractExpiring,
}

impl DomainEvent {
    pub fn kind(&self) -> EventKind {
        match self {
            DomainEvent::PrSubmitted(_) => EventKind::PrSubmitted,
            DomainEvent::ApprovalDecided(_) => EventKind::ApprovalDecided,
            DomainEvent::PoCreated(_) => EventKind::PoCreated,
            DomainEvent::PaymentPending(_) => EventKind::PaymentPending,
            DomainEvent::ContractExpiring(_) => EventKind::ContractExpiring,
        }
    }
}

/// What went wrong remotely: a sentence for an administrator, Feishu's code and log id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub remote_code: Option<i64>,
    pub log_id: Option<String>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            remote_code: None,
            log_id: None,
        }
    }
}

/// Every failure tells the host what to do next (mirrors WIT `plugin-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginError {
    Skipped(String),
    NotConfigured(String),
    InvalidInput(String),
    Unauthorized(Failure),
    RateLimited {
        retry_after_ms: u64,
        failure: Failure,
    },
    Transient(Failure),
    Permanent(Failure),
}

/// A sent message, as Feishu reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: String,
    pub chat_id: Option<String>,
    pub log_id: Option<String>,
}

/// The host's request to notify one recipient of one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyRequest {
    pub idempotency_key: String,
    pub event_id: String,
    pub occurred_at: String,
    pub event: DomainEvent,
    pub recipient: Recipient,
    pub attempt: u32,
}

/// A notice's colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Urgent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeField {
    pub label: String,
    pub value: String,
}

/// One of Mica's notices beyond the five domain events (a reminder, an escalation, an anomaly...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub category: String,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub severity: Severity,
    pub fields: Vec<NoticeField>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestItem {
    pub title: String,
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestSection {
    pub kind: String,
    pub title: String,
    pub count: u32,
    pub items: Vec<DigestItem>,
}

/// One person's summary of a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    pub date: String,
    pub url: Option<String>,
    pub sections: Vec<DigestSection>,
}

/// What the `notices` interface sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Notice(Notice),
    Digest(Digest),
}

/// The host's request to send one notice or digest to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRequest {
    pub idempotency_key: String,
    pub event_id: String,
    pub occurred_at: String,
    pub message: Message,
    pub recipient: Recipient,
    pub attempt: u32,
}

/// One line of a connection check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The eight statuses of a Feishu approval instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Feishu's spelling ("PENDING", "OVERTIME_CLOSE", ...).
    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "PENDING" => ApprovalStatus::Pending,
            "APPROVED" => ApprovalStatus::Approved,
            "REJECTED" => ApprovalStatus::Rejected,
            "CANCELED" | "CANCELLED" => ApprovalStatus::Canceled,
            "DELETED" => ApprovalStatus::Deleted,
            "REVERTED" => ApprovalStatus::Reverted,
            "OVERTIME_CLOSE" => ApprovalStatus::OvertimeClose,
            "OVERTIME_RECOVER" => ApprovalStatus::OvertimeRecover,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRef {
    pub instance_code: String,
    pub status: ApprovalStatus,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WebhookRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::ports::find_header(&self.headers, name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalUpdate {
    pub approval_code: String,
    pub instance_code: String,
    pub status: ApprovalStatus,
    pub operate_time_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookOutcome {
    pub response: WebhookResponse,
    pub event_id: Option<String>,
    pub updates: Vec<ApprovalUpdate>,
}

/// A requisition's approval decided in Mica, as a redrawn card shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub result: Decision,
    pub decider: Person,
    pub comment: Option<String>,
    /// ISO 8601 date-time.
    pub decided_at: String,
}

/// Where a payment's approval instance stands in Feishu's approval app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalState {
    pub status: ApprovalStatus,
    /// ISO 8601 date-time.
    pub changed_at: String,
}

/// What settled a sent card's question (the `card-updates` interface, since mica:plugin 0.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    Decided(Decided),
    Approval(ApprovalState),
}

/// The host's request to redraw one sent card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateRequest {
    pub idempotency_key: String,
    /// Feishu's id of the message to redraw.
    pub message_id: String,
    /// The event the card was first sent for.
    pub event: DomainEvent,
    pub settlement: Settlement,
    pub recipient: Recipient,
    pub attempt: u32,
}

/// What a card's button asks for (the `card-actions` interface, since mica:plugin 0.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Approve,
    Reject,
    /// "Link my Feishu account" (a payment's initiator known by email only).
    LinkAccount,
}

impl Action {
    /// The name in a button's value and in Feishu's callback.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::LinkAccount => "link_account",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        [Action::Approve, Action::Reject, Action::LinkAccount]
            .into_iter()
            .find(|a| a.as_str() == s)
    }

    /// Whether the button decides (Approve, Reject) rather than links an account.
    pub fn decides(self) -> bool {
        matches!(self, Action::Approve | Action::Reject)
    }
}

/// The buttons a card is to carry, under the host's seal (put in every button value unchanged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub seal: String,
    pub actions: Vec<Action>,
}

/// Who pressed a button, as Feishu identifies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clicker {
    pub open_id: String,
    pub union_id: Option<String>,
    pub user_id: Option<String>,
}

/// A verified `card.action.trigger` callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Click {
    pub event_id: String,
    pub seal: String,
    pub action: Action,
    pub comment: Option<String>,
    pub clicker: Clicker,
    pub message_id: Option<String>,
}

/// A callback as the plugin read it: a click, or anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callback {
    Other(WebhookOutcome),
    Click(Click),
}

/// A decision taken on a card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub result: Decision,
    pub decider: Person,
    pub comment: Option<String>,
    /// ISO 8601 date-time.
    pub decided_at: String,
}

/// Where a decision taken on a card stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Recorded by the host, on its way to Mica.
    Recorded(Taken),
    Applied(Taken),
    Refused {
        taken: Taken,
        reason: String,
    },
    /// The presser's Feishu account is linked to the address the card was sent to.
    Linked,
}

/// Why a click was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Forged,
    NotYours,
    NotActionable,
}

/// The host's request to redraw a card a decision was taken on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressUpdate {
    pub idempotency_key: String,
    pub message_id: String,
    pub event: DomainEvent,
    pub progress: Progress,
    pub recipient: Recipient,
    pub attempt: u32,
}
