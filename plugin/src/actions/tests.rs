use super::*;
use crate::feishu::crypto::{encrypt_with_iv, signature};
use crate::model::{Decision, NotifyRequest, Offer, Person, Taken};
use crate::samples;
use crate::settings::{ENCRYPT_KEY, VERIFICATION_TOKEN};
use crate::testkit::*;

const KEY: &str = "encrypt-key";
const TOKEN: &str = "verify-token";

fn signed_settings() -> MapSettings {
    MapSettings::configured()
        .with(ENCRYPT_KEY, KEY)
        .with(VERIFICATION_TOKEN, TOKEN)
}

fn click_payload(action: &str, comment: Option<&str>) -> Value {
    json!({
        "schema": "2.0",
        "header": {"event_id": "evt-click-1", "token": TOKEN, "create_time": "1764000000000",
                   "event_type": "card.action.trigger", "tenant_key": "t", "app_id": "cli_test"},
        "event": {
            "operator": {"tenant_key": "t", "open_id": "ou_wang", "union_id": "on_wang"},
            "token": "c-1",
            "action": {"tag": "button", "name": action,
                       "value": {"seal": "dlv-1.abc", "action": action},
                       "form_value": {"comment": comment}},
            "host": "im_message",
            "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"}
        }
    })
}

fn signed_request(payload: &Value) -> WebhookRequest {
    let body = json!({"encrypt": encrypt_with_iv(KEY, [3; 16], payload.to_string().as_bytes())})
        .to_string();
    let sig = signature("1764000000", "n1", KEY, body.as_bytes());
    WebhookRequest {
        method: "POST".into(),
        path: "/api/v1/feishu/webhook".into(),
        headers: vec![
            ("x-lark-signature".into(), sig),
            ("x-lark-request-timestamp".into(), "1764000000".into()),
            ("x-lark-request-nonce".into(), "n1".into()),
        ],
        body: body.into_bytes(),
    }
}

#[test]
fn a_signed_click_is_read_with_its_seal_comment_and_presser() {
    let s = signed_settings();
    let (kv, http) = (MemKv::default(), ScriptedHttp::default());
    let got = receive(
        &env(&s, &kv, &http),
        &signed_request(&click_payload("reject", Some("  Over budget "))),
    );
    let Callback::Click(c) = got else {
        panic!("{got:?}")
    };
    assert_eq!(c.event_id, "evt-click-1");
    assert_eq!(c.seal, "dlv-1.abc");
    assert_eq!(c.action, Action::Reject);
    assert_eq!(c.comment.as_deref(), Some("Over budget"));
    assert_eq!(c.clicker.open_id, "ou_wang");
    assert_eq!(c.clicker.union_id.as_deref(), Some("on_wang"));
    assert_eq!(c.message_id.as_deref(), Some("om_1"));
    assert!(http.seen.borrow().is_empty(), "a click asks Feishu nothing");
}

#[test]
fn an_unsigned_or_tampered_click_is_not_a_click() {
    // No Encrypt Key: the click could come from anyone who knows the token.
    let s = MapSettings::configured().with(VERIFICATION_TOKEN, TOKEN);
    let (kv, http) = (MemKv::default(), ScriptedHttp::default());
    let plain = WebhookRequest {
        method: "POST".into(),
        path: "/api/v1/feishu/webhook".into(),
        headers: vec![],
        body: click_payload("approve", None).to_string().into_bytes(),
    };
    match receive(&env(&s, &kv, &http), &plain) {
        Callback::Other(o) => {
            assert_eq!(o.response.status, 400);
            assert!(String::from_utf8_lossy(&o.response.body).contains("encrypt_key"));
            assert!(o.event_id.is_none());
        }
        other => panic!("{other:?}"),
    }
    // Signed, but the body changed after signing.
    let s = signed_settings();
    let mut request = signed_request(&click_payload("approve", None));
    request.body.insert(1, b' ');
    match receive(&env(&s, &kv, &http), &request) {
        Callback::Other(o) => assert_eq!(o.response.status, 401),
        other => panic!("{other:?}"),
    }
    // A value naming no known action.
    let mut payload = click_payload("approve", None);
    payload["event"]["action"]["value"]["action"] = json!("delete_everything");
    match receive(&env(&s, &kv, &http), &signed_request(&payload)) {
        Callback::Other(o) => assert_eq!(o.response.status, 400),
        other => panic!("{other:?}"),
    }
}

fn taken() -> Taken {
    Taken {
        result: Decision::Approved,
        decider: Person {
            name: "Wang Fang".into(),
            email: "wang.fang@example.com".into(),
        },
        comment: Some("Fine".into()),
        decided_at: "2026-12-02T10:00:00Z".into(),
    }
}

#[test]
fn a_taken_click_is_answered_with_a_toast_and_the_card_without_buttons() {
    let event = samples::event(crate::model::EventKind::PrSubmitted);
    let reader = samples::recipient("en-US");
    let r = answer(&event, &reader, &Progress::Recorded(taken()));
    assert_eq!(r.status, 200);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["toast"]["type"], "success");
    assert_eq!(body["card"]["type"], "raw");
    let card = body["card"]["data"].to_string();
    assert!(card.contains("Sending to Mica"), "{card}");
    assert!(
        !card.contains("\"form\""),
        "no buttons once decided: {card}"
    );
    let refused = Progress::Refused {
        taken: taken(),
        reason: "no longer an approver".into(),
    };
    let body: Value = serde_json::from_slice(&answer(&event, &reader, &refused).body).unwrap();
    assert_eq!(body["toast"]["type"], "warning");
    assert!(
        body["card"]["data"]
            .to_string()
            .contains("no longer an approver")
    );
    let body: Value = serde_json::from_slice(&refuse(Refusal::NotYours, "en-US").body).unwrap();
    assert!(
        body["toast"]["content"]
            .as_str()
            .unwrap()
            .contains("someone else")
    );
    assert!(
        body.get("card").is_none(),
        "a refused click leaves the card"
    );
}

fn notify_request() -> NotifyRequest {
    NotifyRequest {
        idempotency_key: "dlv-1".into(),
        event_id: "evt-1".into(),
        occurred_at: "2026-12-02T09:00:00Z".into(),
        event: samples::event(crate::model::EventKind::PrSubmitted),
        recipient: samples::recipient("en-US"),
        attempt: 1,
    }
}

/// The card `notify_with` sends under `settings` with `offer`, as Feishu received it.
fn sent_with(settings: &MapSettings, offer: &Offer) -> Value {
    let kv = MemKv::default();
    let http = ScriptedHttp::default().token("t-1").reply(
        200,
        r#"{"code":0,"msg":"success","data":{"message_id":"om_9"}}"#,
    );
    crate::notify::notify_with(&env(settings, &kv, &http), &notify_request(), Some(offer)).unwrap();
    let sent = http.seen.borrow()[1].clone();
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    serde_json::from_str(body["content"].as_str().unwrap()).unwrap()
}

#[test]
fn an_offered_card_carries_sealed_buttons_and_cannot_be_forwarded() {
    let offer = Offer {
        seal: "dlv-1.sealed".into(),
        actions: vec![Action::Approve, Action::Reject],
    };
    let card = sent_with(&signed_settings(), &offer);
    assert_eq!(card["config"]["enable_forward"], false);
    let form = card["body"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tag"] == "form")
        .expect("a decision form");
    let elements = form["elements"].as_array().unwrap();
    assert_eq!(elements[0]["tag"], "input");
    assert_eq!(elements[0]["name"], COMMENT_FIELD);
    let values: Vec<&Value> = elements[1..]
        .iter()
        .map(|b| &b["behaviors"][0]["value"])
        .collect();
    assert_eq!(
        values,
        [
            &json!({"seal": "dlv-1.sealed", "action": "approve"}),
            &json!({"seal": "dlv-1.sealed", "action": "reject"})
        ]
    );
    // Without an Encrypt Key, clicks could not be verified: the card goes without buttons.
    let card = sent_with(
        &MapSettings::configured().with(VERIFICATION_TOKEN, TOKEN),
        &offer,
    );
    assert!(!card.to_string().contains("\"form\""));
    assert!(card["config"].get("enable_forward").is_none());
}
