//! The card-updates use case: redraw a sent card in place (Feishu's message PATCH) once what it
//! asked for is settled, so an approver's chat never keeps saying "waiting for approval" after the
//! requisition was decided.

use crate::feishu::classify::Answer;
use crate::feishu::client;
use crate::model::{PluginError, Receipt, UpdateRequest};
use crate::ports::{Env, Method};
use crate::settings::{ENABLED, FeishuSettings};
use serde::Serialize;

/// Updating accepts the send scope (or `im:message:update`): the send scope is the one the app
/// already has, so it is the one named when Feishu says a scope is missing.
pub const UPDATE_SCOPE: &str = crate::notify::SEND_SCOPE;

/// The body of `PATCH /open-apis/im/v1/messages/{message_id}`: the whole new card, as a string.
#[derive(Serialize)]
struct PatchMessage<'a> {
    content: &'a str,
}

/// Feishu's message ids are `om_` and letters, digits, `_` or `-`; anything else would change the
/// path the request goes to.
fn valid_message_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Redraw the card: only the integration's main switch is consulted. A notification type switched
/// off since the card went out stops new cards, not the truth of the ones already sent.
pub fn update(env: &Env, req: &UpdateRequest) -> Result<Receipt, PluginError> {
    let s = ready(env, &req.message_id)?;
    let card =
        crate::preview::settled_card_json(&req.event, &req.settlement, &req.recipient.locale);
    patch_card(env, &s, &req.message_id, &card)
}

/// Replace the sent message `message_id` by `card` (card JSON text).
pub fn patch_card(
    env: &Env,
    s: &FeishuSettings,
    message_id: &str,
    card: &str,
) -> Result<Receipt, PluginError> {
    let body = serde_json::to_vec(&PatchMessage { content: card })
        .expect("a card update always serializes");
    let path = format!("/open-apis/im/v1/messages/{message_id}");
    let reply = client::call::<Answer<serde_json::Value>>(
        env,
        s,
        Method::Patch,
        &path,
        Some(&body),
        UPDATE_SCOPE,
    )?;
    Ok(Receipt {
        message_id: message_id.to_string(),
        chat_id: None,
        log_id: reply.log_id,
    })
}

/// The checks every redraw makes before calling Feishu: the main switch, the message id, the
/// credentials.
pub fn ready(env: &Env, message_id: &str) -> Result<FeishuSettings, PluginError> {
    let s = FeishuSettings::read(env.settings);
    if !s.enabled {
        return Err(PluginError::Skipped(format!(
            "the Feishu integration is switched off ({ENABLED})"
        )));
    }
    if !valid_message_id(message_id) {
        return Err(PluginError::InvalidInput(format!(
            "{message_id:?} is not a Feishu message id"
        )));
    }
    s.require_credentials()?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Decided, Decision, Person, Settlement};
    use crate::samples;
    use crate::testkit::*;

    fn request(message_id: &str) -> UpdateRequest {
        UpdateRequest {
            idempotency_key: "upd-1".into(),
            message_id: message_id.into(),
            event: samples::event(crate::model::EventKind::PrSubmitted),
            settlement: Settlement::Decided(Decided {
                result: Decision::Rejected,
                decider: Person {
                    name: "Wang Fang".into(),
                    email: "wang.fang@example.com".into(),
                },
                comment: Some("Over budget".into()),
                decided_at: "2026-11-25T02:14:22Z".into(),
            }),
            recipient: samples::recipient("en-US"),
            attempt: 1,
        }
    }

    #[test]
    fn patches_the_message_with_the_whole_redrawn_card() {
        let http = ScriptedHttp::default()
            .token("t-1")
            .reply(200, r#"{"code":0,"msg":"success","data":{}}"#);
        let kv = MemKv::default();
        let s = MapSettings::configured();
        let receipt = update(&env(&s, &kv, &http), &request("om_abc-1")).unwrap();
        assert_eq!(receipt.message_id, "om_abc-1");
        let sent = http.seen.borrow()[1].clone();
        assert_eq!(sent.method, Method::Patch);
        assert!(
            sent.url.ends_with("/open-apis/im/v1/messages/om_abc-1"),
            "{}",
            sent.url
        );
        let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        let card: serde_json::Value =
            serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
        assert_eq!(card["config"]["update_multi"], true);
        assert_eq!(card["header"]["template"], "red");
        assert_eq!(
            card["header"]["text_tag_list"][0]["text"]["content"],
            "Rejected"
        );
        let text = card.to_string();
        assert!(
            text.contains("Wang Fang") && text.contains("Over budget"),
            "{text}"
        );
        assert!(text.contains("2026-11-25 02:14 UTC"), "{text}");
    }

    #[test]
    fn a_recalled_or_too_old_card_is_not_retried_and_a_bad_id_is_never_sent() {
        for (code, why) in [(230011, "recalled"), (230031, "14 days")] {
            let http = ScriptedHttp::default()
                .token("t-1")
                .reply(400, &format!(r#"{{"code":{code},"msg":"refused"}}"#));
            let kv = MemKv::default();
            let s = MapSettings::configured();
            match update(&env(&s, &kv, &http), &request("om_1")) {
                Err(PluginError::Permanent(f)) => {
                    assert!(f.message.contains(why), "{}", f.message);
                    assert_eq!(f.remote_code, Some(code));
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        let http = ScriptedHttp::default();
        let kv = MemKv::default();
        let s = MapSettings::configured();
        assert!(matches!(
            update(&env(&s, &kv, &http), &request("om_1/../../auth")),
            Err(PluginError::InvalidInput(_))
        ));
        assert!(http.seen.borrow().is_empty());
    }

    #[test]
    fn switched_off_skips_without_calling_feishu() {
        let http = ScriptedHttp::default();
        let kv = MemKv::default();
        let s = MapSettings::configured().with(ENABLED, "false");
        assert!(matches!(
            update(&env(&s, &kv, &http), &request("om_1")),
            Err(PluginError::Skipped(_))
        ));
        assert!(http.seen.borrow().is_empty());
    }
}
