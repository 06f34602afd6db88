//! The host's own types for what passes between Mica, the host and a plugin: the events and their
//! recipients, a plugin's answers and errors, approvals and callbacks. They mirror the WIT contract
//! (as the plugin's `model.rs` does), so the rest of the host never sees the generated bindings:
//! `runtime::convert` translates at the runtime's edge, and a new contract version changes that
//! edge, not the worker, the store or the API.

mod action;
mod approval;
mod event;
mod outcome;

pub use action::{Action, Callback, Click, Clicker, Offer, Progress, Refusal, Taken};
pub use approval::{
    ApprovalRef, ApprovalStatus, ApprovalUpdate, CreateRequest, WebhookOutcome, WebhookRequest,
    WebhookResponse,
};
pub use event::{
    ApprovalDecided, ContractExpiring, Decision, DomainEvent, EventType, Money, NotifyRequest,
    PaymentPending, Person, PoCreated, PrSubmitted, Recipient,
};
pub use outcome::{Failure, PluginError, RateLimited, Receipt};
