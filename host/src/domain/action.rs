//! Decisions taken on a card (`card-actions`, mica:plugin 0.1.4): the buttons offered, a click
//! as the plugin verified it, and where the decision stands as it travels to Mica.

use super::{Decision, Person, WebhookOutcome};
use serde::{Deserialize, Serialize};

/// What a card's button asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Approve,
    Reject,
    /// "Link my Feishu account", on the card a payment's initiator known by email only gets.
    LinkAccount,
}

impl Action {
    /// The decision the button takes; none for linking an account.
    pub fn decision(self) -> Option<Decision> {
        match self {
            Action::Approve => Some(Decision::Approved),
            Action::Reject => Some(Decision::Rejected),
            Action::LinkAccount => None,
        }
    }
}

/// The buttons a card carries, under the host's seal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub seal: String,
    pub actions: Vec<Action>,
}

/// Who pressed, as Feishu identifies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clicker {
    pub open_id: String,
    pub union_id: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Click {
    pub event_id: String,
    pub seal: String,
    pub action: Action,
    pub comment: Option<String>,
    pub clicker: Clicker,
    pub message_id: Option<String>,
}

/// A callback as the plugin read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callback {
    Other(WebhookOutcome),
    Click(Click),
}

/// A decision taken on a card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    pub result: Decision,
    pub decider: Person,
    pub comment: Option<String>,
    /// ISO 8601 date-time.
    pub decided_at: String,
}

/// Where a decision taken on a card stands (stored with the card's redraw as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Progress {
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
