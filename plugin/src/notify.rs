//! The notifier use case: decide whether to send, render the card, send it exactly once.

use crate::feishu::classify::Answer;
use crate::feishu::recipient::{id_not_usable, receive_ids};
use crate::feishu::{client, message_uuid};
use crate::model::{
    Failure, MessageRequest, NotifyRequest, Offer, PluginError, Receipt, Recipient,
};
use crate::ports::{Env, Level, Method};
use crate::settings::{ENABLED, FeishuSettings};
use serde::{Deserialize, Serialize};

pub const SEND_SCOPE: &str = "im:message:send_as_bot";

/// The part of Feishu's answer to a send that matters here (the answer also echoes the card).
#[derive(Default, Deserialize)]
struct SentData {
    message_id: Option<String>,
    chat_id: Option<String>,
}

/// The body of `POST /open-apis/im/v1/messages`: the card travels as a JSON string inside it.
#[derive(Serialize)]
struct SendMessage<'a> {
    receive_id: &'a str,
    msg_type: &'static str,
    content: &'a str,
    uuid: &'a str,
}

pub fn notify(env: &Env, req: &NotifyRequest) -> Result<Receipt, PluginError> {
    notify_with(env, req, None)
}

/// `notify`, with decision buttons under `offer` when the host asks for them and clicks can be
/// verified (signed callbacks need the Encrypt Key; without it the card goes without buttons).
pub fn notify_with(
    env: &Env,
    req: &NotifyRequest,
    offer: Option<&Offer>,
) -> Result<Receipt, PluginError> {
    let s = FeishuSettings::read(env.settings);
    if !s.enabled {
        return Err(PluginError::Skipped(format!(
            "the Feishu integration is switched off ({ENABLED})"
        )));
    }
    let kind = req.event.kind();
    if !s.notifies(kind) {
        return Err(PluginError::Skipped(format!(
            "this notification type is switched off ({})",
            FeishuSettings::switch_key(kind)
        )));
    }
    s.require_credentials()?;
    let offer = offer.filter(|_| {
        let signed = s.callbacks_signed(env.settings);
        if !signed {
            env.log.log(
                Level::Info,
                "the card goes without decision buttons: clicks cannot be verified until auth.feishu.encrypt_key is set",
            );
        }
        signed
    });
    let card = match offer {
        Some(offer) => crate::preview::offer_card_json(&req.event, offer, &req.recipient.locale),
        None => crate::preview::card_json(&req.event, &req.recipient.locale),
    };
    send_card(
        env,
        &s,
        &req.recipient,
        &card,
        &message_uuid(&req.idempotency_key),
    )
}

/// A notice or a digest (the `notices` interface): the same checks and the same exactly-once send.
pub fn send_message(env: &Env, req: &MessageRequest) -> Result<Receipt, PluginError> {
    let s = FeishuSettings::read(env.settings);
    if !s.enabled {
        return Err(PluginError::Skipped(format!(
            "the Feishu integration is switched off ({ENABLED})"
        )));
    }
    let (on, switch) = s.sends(&req.message);
    if !on {
        return Err(PluginError::Skipped(format!(
            "this notification type is switched off ({switch})"
        )));
    }
    s.require_credentials()?;
    let card = crate::preview::message_card_json(&req.message, &req.recipient.locale);
    send_card(
        env,
        &s,
        &req.recipient,
        &card,
        &message_uuid(&req.idempotency_key),
    )
}

/// Send `card` (card JSON text) to `recipient` as the bot, whatever the notification switches say.
pub fn send_card(
    env: &Env,
    s: &FeishuSettings,
    recipient: &Recipient,
    card: &str,
    uuid: &str,
) -> Result<Receipt, PluginError> {
    let targets = receive_ids(recipient);
    if targets.is_empty() {
        return Err(PluginError::InvalidInput(
            "the recipient has no email and no Feishu id".into(),
        ));
    }
    let mut refused = Vec::new();
    let reply = loop {
        let target = &targets[refused.len()];
        let body = serde_json::to_vec(&SendMessage {
            receive_id: &target.id,
            msg_type: "interactive",
            content: card,
            uuid,
        })
        .expect("a message always serializes");
        let path = format!(
            "/open-apis/im/v1/messages?receive_id_type={}",
            target.id_type
        );
        match client::call::<Answer<SentData>>(env, s, Method::Post, &path, Some(&body), SEND_SCOPE)
        {
            Ok(reply) => break reply,
            // A stale or foreign id: the same person by their next id (a refused send created
            // no message, so the uuid stays the card's).
            Err(PluginError::Permanent(f))
                if refused.len() + 1 < targets.len()
                    && f.remote_code
                        .is_some_and(|c| id_not_usable(target.id_type, c)) =>
            {
                env.log.log(
                    Level::Warn,
                    &format!(
                        "Feishu refused the recipient's {} ({}); trying their {}",
                        target.id_type,
                        f.message,
                        targets[refused.len() + 1].id_type
                    ),
                );
                refused.push(target.id_type);
            }
            Err(e) => return Err(e),
        }
    };
    let data = reply.body.data.unwrap_or_default();
    let message_id = data.message_id.unwrap_or_default();
    if message_id.is_empty() {
        return Err(PluginError::Transient(Failure {
            message: "Feishu accepted the message but returned no message_id".into(),
            remote_code: Some(0),
            log_id: reply.log_id,
        }));
    }
    Ok(Receipt {
        message_id,
        chat_id: data.chat_id,
        log_id: reply.log_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;
    use crate::samples;
    use crate::settings::NOTIFY_ON_PO;
    use crate::testkit::*;

    fn request(kind: EventKind) -> NotifyRequest {
        NotifyRequest {
            idempotency_key: "dlv-1".into(),
            event_id: "evt-1".into(),
            occurred_at: "2026-11-25T02:14:22Z".into(),
            event: samples::event(kind),
            recipient: samples::recipient("en-US"),
            attempt: 1,
        }
    }

    fn run(s: &MapSettings, http: &ScriptedHttp, kind: EventKind) -> Result<Receipt, PluginError> {
        let kv = MemKv::default();
        let env = env(s, &kv, http);
        notify(&env, &request(kind))
    }

    #[test]
    fn sends_an_interactive_card_by_email_with_a_stable_uuid() {
        let http = ScriptedHttp::default().token("t-1").reply(
            200,
            r#"{"code":0,"msg":"success","data":{"message_id":"om_1","chat_id":"oc_1"}}"#,
        );
        let receipt = run(&MapSettings::configured(), &http, EventKind::PrSubmitted).unwrap();
        assert_eq!(receipt.message_id, "om_1");
        let sent = http.seen.borrow()[1].clone();
        assert!(
            sent.url
                .ends_with("/open-apis/im/v1/messages?receive_id_type=email")
        );
        let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body["receive_id"], "li.lei@example.com");
        assert_eq!(body["msg_type"], "interactive");
        assert_eq!(body["uuid"], message_uuid("dlv-1"));
        let card: serde_json::Value =
            serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
        assert_eq!(
            card["header"]["title"]["content"],
            "Purchase requisition submitted"
        );
    }

    #[test]
    fn a_foreign_open_id_falls_back_to_the_email_and_an_unreachable_person_does_not() {
        let s = MapSettings::configured();
        let mut req = request(EventKind::PoCreated);
        req.recipient.feishu_open_id = Some("ou_other_app".into());
        let http = ScriptedHttp::default()
            .token("t-1")
            .reply(400, r#"{"code":99992361,"msg":"open_id cross app"}"#)
            .reply(
                200,
                r#"{"code":0,"msg":"success","data":{"message_id":"om_2"}}"#,
            );
        let kv = MemKv::default();
        let receipt = notify(&env(&s, &kv, &http), &req).unwrap();
        assert_eq!(receipt.message_id, "om_2");
        let seen = http.seen.borrow();
        assert!(seen[1].url.ends_with("receive_id_type=open_id"));
        assert!(seen[2].url.ends_with("receive_id_type=email"));
        let uuid = |i: usize| {
            serde_json::from_slice::<serde_json::Value>(&seen[i].body).unwrap()["uuid"].clone()
        };
        assert_eq!(uuid(1), uuid(2), "one card, one uuid");
        drop(seen);
        // A person outside the app's availability is unreachable by any id: no second try.
        let http = ScriptedHttp::default().token("t-1").reply(
            400,
            r#"{"code":230013,"msg":"Bot has NO availability to this user."}"#,
        );
        let kv = MemKv::default();
        assert!(matches!(
            notify(&env(&s, &kv, &http), &req),
            Err(PluginError::Permanent(_))
        ));
        assert_eq!(http.seen.borrow().len(), 2, "the token and one send");
    }

    #[test]
    fn switches_skip_without_calling_feishu() {
        let http = ScriptedHttp::default();
        let off = MapSettings::configured().with(ENABLED, "false");
        assert!(
            matches!(run(&off, &http, EventKind::PoCreated), Err(PluginError::Skipped(m)) if m.contains(ENABLED))
        );
        let po_off = MapSettings::configured().with(NOTIFY_ON_PO, "false");
        assert!(
            matches!(run(&po_off, &http, EventKind::PoCreated), Err(PluginError::Skipped(m)) if m.contains(NOTIFY_ON_PO))
        );
        assert!(http.seen.borrow().is_empty());
    }

    #[test]
    fn a_notice_is_sent_once_by_uuid_and_its_switch_is_honoured() {
        let request = MessageRequest {
            idempotency_key: "dlv-n".into(),
            event_id: "evt-n".into(),
            occurred_at: "2026-11-25T02:14:22Z".into(),
            message: samples::notice(),
            recipient: samples::recipient("zh-CN"),
            attempt: 1,
        };
        let http = ScriptedHttp::default().token("t-1").reply(
            200,
            r#"{"code":0,"msg":"success","data":{"message_id":"om_n"}}"#,
        );
        let kv = MemKv::default();
        let s = MapSettings::configured();
        let receipt = send_message(&env(&s, &kv, &http), &request).unwrap();
        assert_eq!(receipt.message_id, "om_n");
        let body: serde_json::Value = serde_json::from_slice(&http.seen.borrow()[1].body).unwrap();
        assert_eq!(body["uuid"], message_uuid("dlv-n"));
        let off = MapSettings::configured().with(crate::settings::NOTIFY_ON_NOTICE, "false");
        let quiet = ScriptedHttp::default();
        assert!(matches!(
            send_message(&env(&off, &kv, &quiet), &request),
            Err(PluginError::Skipped(m)) if m.contains("notify_on_notice")
        ));
        assert!(quiet.seen.borrow().is_empty());
    }

    #[test]
    fn missing_credentials_are_not_configured() {
        let http = ScriptedHttp::default();
        let s = MapSettings::configured().with(crate::settings::APP_SECRET, "");
        assert!(matches!(
            run(&s, &http, EventKind::PoCreated),
            Err(PluginError::NotConfigured(_))
        ));
    }
}
