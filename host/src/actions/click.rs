//! A click on a card's decision button, taken: the seal opened, the presser checked against the
//! card's recipient, the decision stored once per card with its notice to Mica, and Feishu
//! answered within its 3 s with the card redrawn ("sending your decision to Mica").
//!
//! Feishu's retries and a second press find the decision already stored and get the same answer;
//! a second press of the other button does not change it (one decision per card).

use super::CardSeal;
use crate::delivery::Kind;
use crate::domain::{Click, DomainEvent, Person, Progress, Recipient, Refusal, WebhookResponse};
use crate::events::{Payload, parse_recipient};
use crate::runtime::LoadedPlugin;
use crate::store::{NewDecision, Store};

/// The locale of a refusal when the card (and so its reader) is not known: Mica's default.
const DEFAULT_LOCALE: &str = "zh-CN";

/// What became of a click, for the log and the metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Stored now, its notice queued.
    Recorded,
    /// The card had its decision already (Feishu's retry, a second press).
    Again,
    Refused(Refusal),
}

impl Taken {
    pub fn label(self) -> &'static str {
        match self {
            Taken::Recorded => "click_recorded",
            Taken::Again => "click_again",
            Taken::Refused(_) => "click_refused",
        }
    }
}

/// Whether `clicker` may be the person the card went to: every Feishu id the card's recipient
/// is known by must match. A recipient known by email only is trusted on first use (the card was
/// sent to that address and cannot be forwarded).
fn is_recipient(recipient: &Recipient, click: &Click) -> bool {
    let open_ok = recipient
        .feishu_open_id
        .as_deref()
        .is_none_or(|id| id == click.clicker.open_id);
    let union_ok = match (&recipient.feishu_union_id, &click.clicker.union_id) {
        (Some(theirs), Some(given)) => theirs == given,
        _ => true,
    };
    open_ok && union_ok
}

/// The card a press names: a sent card, its event and reader.
struct Card {
    event_type: String,
    pr_id: Option<String>,
    event: DomainEvent,
    recipient: Recipient,
}

fn card(store: &Store, delivery_id: &str) -> anyhow::Result<Option<Card>> {
    let Some(found) = store.clicked_card(delivery_id)? else {
        return Ok(None);
    };
    if found.kind != Kind::Notify.as_str() {
        return Ok(None);
    }
    let recipient = serde_json::from_str::<serde_json::Value>(&found.recipient)
        .map_err(anyhow::Error::from)
        .and_then(|r| parse_recipient(&r, "recipient").map_err(|e| anyhow::anyhow!("{e}")))?;
    let event = crate::delivery::load_event(store, &found.event_id).map_err(anyhow::Error::msg)?;
    let Payload::Domain(event) = event.payload else {
        return Ok(None);
    };
    Ok(Some(Card {
        event_type: found.event_type,
        pr_id: found.pr_id,
        event,
        recipient,
    }))
}

/// Take `click` and answer it. `relaying` is false when no notice channel to Mica is configured:
/// nothing could carry a decision, so none is taken.
pub async fn take(
    store: &Store,
    seal: &CardSeal,
    plugin: &LoadedPlugin,
    click: Click,
    relaying: bool,
) -> anyhow::Result<(Taken, WebhookResponse)> {
    let refuse = async |why: Refusal, locale: &str| -> anyhow::Result<(Taken, WebhookResponse)> {
        let response = plugin.refuse_click(why, locale).await?;
        Ok((Taken::Refused(why), response))
    };
    let Some(delivery_id) = seal.open(&click.seal).map(str::to_string) else {
        return refuse(Refusal::Forged, DEFAULT_LOCALE).await;
    };
    let id = delivery_id.clone();
    let Some(card) = store.call(move |s| card(s, &id)).await? else {
        return refuse(Refusal::NotActionable, DEFAULT_LOCALE).await;
    };
    let locale = card.recipient.locale.clone();
    let email = card.recipient.email.clone();
    let bound = store.call(move |s| s.identity(&email)).await?;
    let bound_elsewhere = bound.is_some_and(|b| b.open_id != click.clicker.open_id);
    if !is_recipient(&card.recipient, &click) || bound_elsewhere {
        return refuse(Refusal::NotYours, &locale).await;
    }
    let progress = match (click.action.decision(), card.event_type.as_str()) {
        (Some(decision), "pr_submitted") if relaying => {
            let Some(pr_id) = card.pr_id.clone() else {
                return refuse(Refusal::NotActionable, &locale).await;
            };
            let (stored, fresh) =
                record(store, &card, &click, delivery_id, pr_id, decision).await?;
            // The card's decision was taken by someone else's press.
            if stored.open_id != click.clicker.open_id {
                return refuse(Refusal::NotYours, &locale).await;
            }
            (stored.progress, fresh)
        }
        (None, "payment_pending") => {
            let (email, open_id, union_id) = (
                card.recipient.email.clone(),
                click.clicker.open_id.clone(),
                click.clicker.union_id.clone(),
            );
            let bound = store
                .call(move |s| {
                    s.learn_identity(&email, &open_id, union_id.as_deref(), &delivery_id)
                })
                .await?;
            (Progress::Linked, bound.open_id == click.clicker.open_id)
        }
        _ => return refuse(Refusal::NotActionable, &locale).await,
    };
    let (progress, fresh) = progress;
    let response = plugin
        .answer_click(&card.event, &card.recipient, &progress)
        .await?
        .map_err(|e| anyhow::anyhow!("the plugin could not draw the answer: {e}"))?;
    Ok((if fresh { Taken::Recorded } else { Taken::Again }, response))
}

/// Store the press as the card's decision (with its notice to Mica), and learn the presser's ids
/// for the address the card went to.
async fn record(
    store: &Store,
    card: &Card,
    click: &Click,
    delivery_id: String,
    pr_id: String,
    decision: crate::domain::Decision,
) -> anyhow::Result<(crate::store::StoredDecision, bool)> {
    let decider = Person {
        name: card.recipient.name.clone(),
        email: card.recipient.email.clone(),
    };
    let click = click.clone();
    store
        .call(move |s| {
            let recorded = s.record_decision(&NewDecision {
                delivery_id: &delivery_id,
                click_id: &click.event_id,
                pr_id: &pr_id,
                decision,
                comment: click.comment.as_deref(),
                decider: &decider,
                clicker: &click.clicker,
            })?;
            if recorded.0.open_id == click.clicker.open_id {
                s.learn_identity(
                    &decider.email,
                    &click.clicker.open_id,
                    click.clicker.union_id.as_deref(),
                    &delivery_id,
                )?;
            }
            Ok(recorded)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Action, Clicker};

    fn click(open_id: &str, union_id: Option<&str>) -> Click {
        Click {
            event_id: "e".into(),
            seal: "s".into(),
            action: Action::Approve,
            comment: None,
            clicker: Clicker {
                open_id: open_id.into(),
                union_id: union_id.map(Into::into),
                user_id: None,
            },
            message_id: None,
        }
    }

    fn recipient(open_id: Option<&str>, union_id: Option<&str>) -> Recipient {
        Recipient {
            email: "wang@example.com".into(),
            name: "Wang".into(),
            locale: "en-US".into(),
            feishu_union_id: union_id.map(Into::into),
            feishu_open_id: open_id.map(Into::into),
            feishu_user_id: None,
        }
    }

    #[test]
    fn the_presser_must_match_every_id_the_recipient_is_known_by() {
        assert!(is_recipient(&recipient(None, None), &click("ou_any", None)));
        assert!(is_recipient(
            &recipient(Some("ou_w"), None),
            &click("ou_w", Some("on_w"))
        ));
        assert!(!is_recipient(
            &recipient(Some("ou_w"), None),
            &click("ou_x", None)
        ));
        assert!(!is_recipient(
            &recipient(None, Some("on_w")),
            &click("ou_w", Some("on_x"))
        ));
        assert!(is_recipient(
            &recipient(None, Some("on_w")),
            &click("ou_w", Some("on_w"))
        ));
    }
}
