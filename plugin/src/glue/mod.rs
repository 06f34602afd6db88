//! The thin adapter between the WIT contract and the plain-Rust core. Compiled only for wasm32.

mod actions;
mod convert;
mod http;
mod ports;

wit_bindgen::generate!({
    path: "../wit",
    world: "feishu",
    // Reuse the `wasip2` crate's pre-generated wasi bindings rather than generating them again.
    with: {
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
    },
});

use exports::mica::plugin::approvals::{
    self, ApprovalRef, CreateRequest, WebhookOutcome, WebhookRequest,
};
use exports::mica::plugin::card_updates::{self, Settlement, UpdateReceipt, UpdateRequest};
use exports::mica::plugin::connection::{self, ConnectionCheck, TestRequest};
use exports::mica::plugin::notices::{self, Message, MessageReceipt, MessageRequest};
use exports::mica::plugin::notifications::{self, NotifyRequest, Receipt};
use exports::mica::plugin::plugin::{self, Check, Descriptor, TestOptions};
use exports::mica::plugin::previews;
use mica::plugin::types::{DomainEvent, PluginError, Recipient};

struct Component;

impl plugin::Guest for Component {
    fn describe() -> Descriptor {
        convert::descriptor(crate::describe::describe())
    }

    fn check_setting(key: String, value: String) -> Option<String> {
        crate::settings::check(&key, &value)
    }

    fn test_connection(options: TestOptions) -> Vec<Check> {
        let to = crate::connection::recipient_by_email(options.test_recipient_email.as_deref());
        ports::with_env(|env| crate::connection::test_connection(env, to))
            .into_iter()
            .map(convert::check)
            .collect()
    }
}

impl connection::Guest for Component {
    fn test(request: TestRequest) -> Vec<ConnectionCheck> {
        let to = request.recipient.map(convert::recipient);
        ports::with_env(|env| crate::connection::test_connection(env, to))
            .into_iter()
            .map(convert::connection_check)
            .collect()
    }
}

impl notifications::Guest for Component {
    fn notify(request: NotifyRequest) -> Result<Receipt, PluginError> {
        let request = convert::notify_request(request);
        ports::with_env(|env| crate::notify::notify(env, &request))
            .map(convert::receipt)
            .map_err(convert::plugin_error)
    }
}

impl notices::Guest for Component {
    fn send(request: MessageRequest) -> Result<MessageReceipt, PluginError> {
        let request = convert::message_request(request);
        ports::with_env(|env| crate::notify::send_message(env, &request))
            .map(convert::message_receipt)
            .map_err(convert::plugin_error)
    }

    fn render(message: Message, locale: String) -> Result<String, PluginError> {
        Ok(crate::preview::message_card_json(
            &convert::message(message),
            &locale,
        ))
    }
}

impl card_updates::Guest for Component {
    fn update(request: UpdateRequest) -> Result<UpdateReceipt, PluginError> {
        let request = convert::update_request(request);
        ports::with_env(|env| crate::redraw::update(env, &request))
            .map(convert::update_receipt)
            .map_err(convert::plugin_error)
    }

    fn render(
        event: DomainEvent,
        settlement: Settlement,
        locale: String,
    ) -> Result<String, PluginError> {
        Ok(crate::preview::settled_card_json(
            &convert::event(event),
            &convert::settlement(settlement),
            &locale,
        ))
    }
}

impl approvals::Guest for Component {
    fn create(request: CreateRequest) -> Result<ApprovalRef, PluginError> {
        let payment = convert::payment(request.payment);
        ports::with_env(|env| {
            crate::approvals::create::create(env, &request.idempotency_key, &payment)
        })
        .map(convert::approval_ref)
        .map_err(convert::plugin_error)
    }

    fn get(instance_code: String) -> Result<ApprovalRef, PluginError> {
        ports::with_env(|env| crate::approvals::create::get(env, &instance_code))
            .map(convert::approval_ref)
            .map_err(convert::plugin_error)
    }

    fn cancel(instance_code: String, initiator: Recipient) -> Result<(), PluginError> {
        let initiator = convert::recipient(initiator);
        ports::with_env(|env| crate::approvals::create::cancel(env, &instance_code, &initiator))
            .map_err(convert::plugin_error)
    }

    fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, PluginError> {
        let request = convert::webhook_request(request);
        let outcome = ports::with_env(|env| crate::approvals::webhook::receive(env, &request));
        Ok(convert::webhook_outcome(outcome))
    }
}

impl previews::Guest for Component {
    fn render(event: DomainEvent, locale: String) -> Result<String, PluginError> {
        Ok(crate::preview::card_json(&convert::event(event), &locale))
    }
}

export!(Component);
