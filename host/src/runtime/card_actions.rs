//! Decisions taken on cards (the `card-actions` interface, mica:plugin 0.1.4): the host's
//! `domain` action types as the interface has them, and the calls. The bindings stay here, at the
//! runtime's edge.

use super::bindings::card_actions as wit;
use super::convert::answer;
use super::loaded::{CallError, LoadedPlugin};
use crate::domain::{
    Action, Callback, Click, Clicker, DomainEvent, NotifyRequest, Offer, PluginError, Progress,
    Receipt, Recipient, Refusal, Taken, WebhookRequest, WebhookResponse,
};
use crate::store::Store;

fn action(a: Action) -> wit::Action {
    match a {
        Action::Approve => wit::Action::Approve,
        Action::Reject => wit::Action::Reject,
        Action::LinkAccount => wit::Action::LinkAccount,
    }
}

fn action_from(a: wit::Action) -> Action {
    match a {
        wit::Action::Approve => Action::Approve,
        wit::Action::Reject => Action::Reject,
        wit::Action::LinkAccount => Action::LinkAccount,
    }
}

fn taken(t: &Taken) -> wit::Taken {
    wit::Taken {
        result: t.result.into(),
        decider: t.decider.clone().into(),
        comment: t.comment.clone(),
        decided_at: t.decided_at.clone(),
    }
}

fn progress(p: &Progress) -> wit::Progress {
    match p {
        Progress::Recorded(t) => wit::Progress::Recorded(taken(t)),
        Progress::Applied(t) => wit::Progress::Applied(taken(t)),
        Progress::Refused { taken: t, reason } => wit::Progress::Refused(wit::Refused {
            taken: taken(t),
            reason: reason.clone(),
        }),
        Progress::Linked => wit::Progress::Linked,
    }
}

fn refusal(r: Refusal) -> wit::Refusal {
    match r {
        Refusal::Forged => wit::Refusal::Forged,
        Refusal::NotYours => wit::Refusal::NotYours,
        Refusal::NotActionable => wit::Refusal::NotActionable,
    }
}

fn callback(c: wit::Callback) -> Callback {
    match c {
        wit::Callback::Other(outcome) => Callback::Other(outcome.into()),
        wit::Callback::Click(c) => Callback::Click(Click {
            event_id: c.event_id,
            seal: c.seal,
            action: action_from(c.action),
            comment: c.comment,
            clicker: Clicker {
                open_id: c.clicker.open_id,
                union_id: c.clicker.union_id,
                user_id: c.clicker.user_id,
            },
            message_id: c.message_id,
        }),
    }
}

/// A card a decision was taken on, to redraw (the `card-actions.update` request).
pub struct ProgressCall<'a> {
    pub idempotency_key: String,
    pub message_id: String,
    pub event: &'a DomainEvent,
    pub progress: &'a Progress,
    pub recipient: Recipient,
    pub attempt: u32,
}

impl LoadedPlugin {
    fn card_actions(&self) -> Result<&wit::GuestIndices, CallError> {
        self.card_actions
            .as_ref()
            .ok_or(CallError::NotImplemented("mica:plugin/card-actions"))
    }

    /// Whether the plugin puts decision buttons on cards (exports `card-actions`, since 0.1.4).
    pub fn takes_clicks(&self) -> bool {
        self.card_actions.is_some()
    }

    /// Whether the plugin can take a press now (its settings let it verify callbacks).
    pub async fn accepts_presses(&self, db: &Store) -> Result<bool, CallError> {
        let idx = self.card_actions()?;
        self.call("accepts_presses", Some(db), async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_accepts_presses(store)
                .await
        })
        .await
    }

    /// Send a card with decision buttons under `offer`.
    pub async fn notify_with_offer(
        &self,
        db: &Store,
        request: NotifyRequest,
        offer: &Offer,
    ) -> Result<Result<Receipt, PluginError>, CallError> {
        let idx = self.card_actions()?;
        let request = request.into();
        let offer = wit::Offer {
            seal: offer.seal.clone(),
            actions: offer.actions.iter().copied().map(action).collect(),
        };
        self.call("notify", Some(db), async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_notify(store, &request, &offer)
                .await
        })
        .await
        .map(answer)
    }

    /// Read a callback: a verified click, or anything else as `handle_webhook` reads it.
    pub async fn read_callback(
        &self,
        db: &Store,
        request: WebhookRequest,
    ) -> Result<Result<Callback, PluginError>, CallError> {
        let idx = self.card_actions()?;
        let request = request.into();
        let read = self
            .call("handle_webhook", Some(db), async |store, instance| {
                idx.load(&mut *store, instance)?
                    .call_handle_webhook(store, &request)
                    .await
            })
            .await?;
        Ok(read.map(callback).map_err(Into::into))
    }

    /// The answer to a taken click: a toast and the card redrawn to `progress` for `reader`.
    pub async fn answer_click(
        &self,
        event: &DomainEvent,
        reader: &Recipient,
        now: &Progress,
    ) -> Result<Result<WebhookResponse, PluginError>, CallError> {
        let idx = self.card_actions()?;
        let (event, reader, now) = (event.clone().into(), reader.clone().into(), progress(now));
        self.call("answer", None, async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_answer(store, &event, &reader, &now)
                .await
        })
        .await
        .map(answer)
    }

    /// The answer to a click that was not taken: a toast in `locale`.
    pub async fn refuse_click(
        &self,
        why: Refusal,
        locale: &str,
    ) -> Result<WebhookResponse, CallError> {
        let idx = self.card_actions()?;
        let response = self
            .call("refuse", None, async |store, instance| {
                idx.load(&mut *store, instance)?
                    .call_refuse(store, refusal(why), locale)
                    .await
            })
            .await?;
        Ok(response.into())
    }

    /// Redraw a card to show where the decision taken on it stands.
    pub async fn update_progress(
        &self,
        db: &Store,
        call: &ProgressCall<'_>,
    ) -> Result<Result<Receipt, PluginError>, CallError> {
        let idx = self.card_actions()?;
        let request = wit::ProgressUpdate {
            idempotency_key: call.idempotency_key.clone(),
            message_id: call.message_id.clone(),
            event: call.event.clone().into(),
            progress: progress(call.progress),
            recipient: call.recipient.clone().into(),
            attempt: call.attempt,
        };
        let updated = self
            .call("update_card", Some(db), async |store, instance| {
                idx.load(&mut *store, instance)?
                    .call_update(store, &request)
                    .await
            })
            .await?;
        Ok(answer(updated))
    }

    /// The card with its decision buttons (`progress` none) or redrawn to `progress`: the
    /// console's preview.
    pub async fn render_action_card(
        &self,
        event: &DomainEvent,
        now: Option<&Progress>,
        locale: &str,
    ) -> Result<Result<String, PluginError>, CallError> {
        let idx = self.card_actions()?;
        let (event, now) = (event.clone().into(), now.map(progress));
        self.call("preview", None, async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_render(store, &event, now.as_ref(), locale)
                .await
        })
        .await
        .map(answer)
    }
}
