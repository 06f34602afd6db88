//! The card-actions use case: a requisition card with Approve / Reject buttons, the click read from
//! Feishu's `card.action.trigger` callback, the answer Feishu shows within its 3 s (a toast and the
//! card redrawn), and later redraws as the decision reaches Mica.
//!
//! The plugin only carries the host's seal: it puts it in each button's value and hands it back
//! with the click. Which card, which requisition and whose decision it is, the host decides.

use crate::approvals::webhook::{self, Read, Verified};
use crate::cards::actions::{COMMENT_FIELD, ToastKind, progress_toast, refusal_toast};
use crate::cards::i18n::Locale;
use crate::model::PluginError;
use crate::model::{
    Action, Callback, Click, Clicker, DomainEvent, Progress, ProgressUpdate, Receipt, Recipient,
    Refusal, WebhookRequest, WebhookResponse,
};
use crate::ports::Env;
use serde_json::{Value, json};

/// A comment longer than this is cut (the card's box allows 1,000 characters).
const MAX_COMMENT_CHARS: usize = 1000;

/// Read a callback: a click, verified and signed, or anything else as the approvals module reads it.
pub fn receive(env: &Env, request: &WebhookRequest) -> Callback {
    match webhook::read(env, request) {
        Read::Answered(outcome) => Callback::Other(outcome),
        Read::Event(event) => match click(&event) {
            Ok(click) => Callback::Click(click),
            Err(why) => Callback::Other(refused(why)),
        },
    }
}

fn refused(why: String) -> crate::model::WebhookOutcome {
    crate::model::WebhookOutcome {
        response: WebhookResponse {
            status: 400,
            body: json!({"msg": why}).to_string().into_bytes(),
        },
        event_id: None,
        updates: vec![],
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The click a verified `card.action.trigger` describes. An unsigned one is refused: anyone who
/// has seen the Verification Token could claim to be any approver.
fn click(event: &Verified) -> Result<Click, String> {
    if !event.signed {
        return Err(
            "card clicks must be signed: set auth.feishu.encrypt_key (and the same Encrypt Key in Feishu)"
                .into(),
        );
    }
    let e = &event.payload["event"];
    let open_id = text(&e["operator"]["open_id"]).ok_or("the click names no operator open_id")?;
    let value = &e["action"]["value"];
    let seal = text(&value["seal"]).ok_or("the button's value has no seal")?;
    let action = value["action"]
        .as_str()
        .and_then(Action::parse)
        .ok_or("the button's value names no action")?;
    let comment = text(&e["action"]["form_value"][COMMENT_FIELD])
        .map(|c| c.chars().take(MAX_COMMENT_CHARS).collect());
    Ok(Click {
        event_id: event.event_id.clone(),
        seal,
        action,
        comment,
        clicker: Clicker {
            open_id,
            union_id: text(&e["operator"]["union_id"]),
            user_id: text(&e["operator"]["user_id"]),
        },
        message_id: text(&e["context"]["open_message_id"]),
    })
}

fn toast(kind: ToastKind, content: &str) -> Value {
    json!({"type": kind.as_str(), "content": content})
}

fn response(body: Value) -> WebhookResponse {
    WebhookResponse {
        status: 200,
        body: body.to_string().into_bytes(),
    }
}

/// Feishu's answer to a taken click: the toast, and the card (`{"type":"raw","data":card}`)
/// redrawn in place for the presser.
pub fn answer(event: &DomainEvent, reader: &Recipient, progress: &Progress) -> WebhookResponse {
    let locale = Locale::from_tag(&reader.locale);
    let (kind, content) = progress_toast(progress, locale);
    let card = crate::preview::progress_card_json(event, progress, &reader.locale);
    let card: Value = serde_json::from_str(&card).expect("a rendered card is JSON");
    response(json!({"toast": toast(kind, content), "card": {"type": "raw", "data": card}}))
}

/// Feishu's answer to a click that was not taken: a toast only, the card left as it is.
pub fn refuse(why: Refusal, locale: &str) -> WebhookResponse {
    let (kind, content) = refusal_toast(why, Locale::from_tag(locale));
    response(json!({"toast": toast(kind, content)}))
}

/// Redraw a card a decision was taken on (Mica applied or refused it).
pub fn update(env: &Env, req: &ProgressUpdate) -> Result<Receipt, PluginError> {
    let s = crate::redraw::ready(env, &req.message_id)?;
    let card = crate::preview::progress_card_json(&req.event, &req.progress, &req.recipient.locale);
    crate::redraw::patch_card(env, &s, &req.message_id, &card)
}

#[cfg(test)]
mod tests;
