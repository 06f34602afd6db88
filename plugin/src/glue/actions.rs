//! The `card-actions` interface (mica:plugin 0.1.4) adapted to the core's `actions` use case.

use super::convert;
use super::exports::mica::plugin::approvals::{WebhookRequest, WebhookResponse};
use super::exports::mica::plugin::card_actions::{
    self as wit, Callback, Offer, Progress, ProgressUpdate, Refusal,
};
use super::exports::mica::plugin::card_updates::UpdateReceipt;
use super::exports::mica::plugin::notifications::{NotifyRequest, Receipt};
use super::mica::plugin::types::{DomainEvent, PluginError, Recipient};
use super::{Component, ports};
use crate::model;

fn action(a: wit::Action) -> model::Action {
    match a {
        wit::Action::Approve => model::Action::Approve,
        wit::Action::Reject => model::Action::Reject,
        wit::Action::LinkAccount => model::Action::LinkAccount,
    }
}

fn action_to(a: model::Action) -> wit::Action {
    match a {
        model::Action::Approve => wit::Action::Approve,
        model::Action::Reject => wit::Action::Reject,
        model::Action::LinkAccount => wit::Action::LinkAccount,
    }
}

fn offer(o: Offer) -> model::Offer {
    model::Offer {
        seal: o.seal,
        actions: o.actions.into_iter().map(action).collect(),
    }
}

fn taken(t: wit::Taken) -> model::Taken {
    model::Taken {
        result: convert::decision(t.result),
        decider: convert::person(t.decider),
        comment: t.comment,
        decided_at: t.decided_at,
    }
}

fn progress(p: Progress) -> model::Progress {
    match p {
        Progress::Recorded(t) => model::Progress::Recorded(taken(t)),
        Progress::Applied(t) => model::Progress::Applied(taken(t)),
        Progress::Refused(r) => model::Progress::Refused {
            taken: taken(r.taken),
            reason: r.reason,
        },
        Progress::Linked => model::Progress::Linked,
    }
}

fn refusal(r: Refusal) -> model::Refusal {
    match r {
        Refusal::Forged => model::Refusal::Forged,
        Refusal::NotYours => model::Refusal::NotYours,
        Refusal::NotActionable => model::Refusal::NotActionable,
    }
}

fn response(r: model::WebhookResponse) -> WebhookResponse {
    WebhookResponse {
        status: r.status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: r.body,
    }
}

fn callback(c: model::Callback) -> Callback {
    match c {
        model::Callback::Other(outcome) => Callback::Other(convert::webhook_outcome(outcome)),
        model::Callback::Click(c) => Callback::Click(wit::Click {
            event_id: c.event_id,
            seal: c.seal,
            action: action_to(c.action),
            comment: c.comment,
            clicker: wit::Clicker {
                open_id: c.clicker.open_id,
                union_id: c.clicker.union_id,
                user_id: c.clicker.user_id,
            },
            message_id: c.message_id,
        }),
    }
}

impl wit::Guest for Component {
    fn accepts_presses() -> bool {
        ports::with_env(|env| {
            crate::settings::FeishuSettings::read(env.settings).callbacks_signed(env.settings)
        })
    }

    fn notify(request: NotifyRequest, o: Offer) -> Result<Receipt, PluginError> {
        let request = convert::notify_request(request);
        let o = offer(o);
        ports::with_env(|env| crate::notify::notify_with(env, &request, Some(&o)))
            .map(convert::receipt)
            .map_err(convert::plugin_error)
    }

    fn handle_webhook(request: WebhookRequest) -> Result<Callback, PluginError> {
        let request = convert::webhook_request(request);
        Ok(callback(ports::with_env(|env| {
            crate::actions::receive(env, &request)
        })))
    }

    fn answer(
        event: DomainEvent,
        reader: Recipient,
        p: Progress,
    ) -> Result<WebhookResponse, PluginError> {
        Ok(response(crate::actions::answer(
            &convert::event(event),
            &convert::recipient(reader),
            &progress(p),
        )))
    }

    fn refuse(why: Refusal, locale: String) -> WebhookResponse {
        response(crate::actions::refuse(refusal(why), &locale))
    }

    fn update(request: ProgressUpdate) -> Result<UpdateReceipt, PluginError> {
        let request = model::ProgressUpdate {
            idempotency_key: request.idempotency_key,
            message_id: request.message_id,
            event: convert::event(request.event),
            progress: progress(request.progress),
            recipient: convert::recipient(request.recipient),
            attempt: request.attempt,
        };
        ports::with_env(|env| crate::actions::update(env, &request))
            .map(convert::update_receipt)
            .map_err(convert::plugin_error)
    }

    fn render(
        event: DomainEvent,
        p: Option<Progress>,
        locale: String,
    ) -> Result<String, PluginError> {
        let event = convert::event(event);
        Ok(match p {
            // The console's preview shows the buttons with a seal that opens nothing.
            None => crate::preview::offer_card_json(
                &event,
                &model::Offer {
                    seal: "preview".into(),
                    actions: vec![model::Action::Approve, model::Action::Reject],
                },
                &locale,
            ),
            Some(p) => crate::preview::progress_card_json(&event, &progress(p), &locale),
        })
    }
}
