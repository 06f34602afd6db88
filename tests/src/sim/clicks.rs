//! A person pressing a button on a card, as Feishu reports it: a signed (and, with an Encrypt
//! Key, encrypted) `card.action.trigger` callback to the request URL, carrying the button's value,
//! the form's inputs and the presser's ids. Feishu shows the answer's toast and, when the answer
//! carries a card (`{"type": "raw", "data": …}`), puts that card in place of the old one.

use super::callbacks;
use super::{FeishuSim, SimState};
use serde_json::{Value, json};
use std::sync::Mutex;

/// Who presses.
#[derive(Clone, Debug)]
pub struct Presser {
    pub open_id: String,
    pub union_id: Option<String>,
}

impl Presser {
    pub fn new(open_id: &str, union_id: Option<&str>) -> Presser {
        Presser {
            open_id: open_id.into(),
            union_id: union_id.map(Into::into),
        }
    }
}

/// One press.
#[derive(Clone, Debug)]
pub struct Press {
    /// Feishu's event id: the same on Feishu's retries of one press.
    pub event_id: String,
    pub message_id: String,
    /// The button's value (as the card has it, or changed by a test).
    pub value: Value,
    pub comment: Option<String>,
    pub presser: Presser,
}

/// What the host answered.
#[derive(Clone, Debug)]
pub struct PressAnswer {
    pub status: u16,
    pub body: Value,
}

impl PressAnswer {
    pub fn toast(&self) -> &str {
        self.body["toast"]["content"].as_str().unwrap_or("")
    }
}

/// The value of the card's button named `action` (`approve`, `reject`), wherever it sits.
pub fn button_value(card: &Value, action: &str) -> Option<Value> {
    let mut stack = vec![card];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(o) => {
                if o.get("tag").and_then(Value::as_str) == Some("button")
                    && o.get("name").and_then(Value::as_str) == Some(action)
                {
                    return Some(o["behaviors"][0]["value"].clone());
                }
                stack.extend(o.values());
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    None
}

fn payload(press: &Press, token: &str) -> Value {
    let action = press.value["action"].as_str().unwrap_or("");
    json!({
        "schema": "2.0",
        "header": {
            "event_id": press.event_id, "token": token,
            "create_time": chrono::Utc::now().timestamp_millis().to_string(),
            "event_type": "card.action.trigger", "tenant_key": "sim-tenant",
            "app_id": super::APP_ID
        },
        "event": {
            "operator": {"tenant_key": "sim-tenant", "open_id": press.presser.open_id,
                         "union_id": press.presser.union_id},
            "token": format!("c-{}", press.event_id),
            "action": {"tag": "button", "name": action, "value": press.value,
                       "form_value": {"comment": press.comment}},
            "host": "im_message",
            "context": {"open_message_id": press.message_id, "open_chat_id": "oc_sim"}
        }
    })
}

/// A press of the button named `action` on message `message_id`, by `presser`; none when there
/// is no such message or button.
pub fn press_on(
    state: &Mutex<SimState>,
    event_id: &str,
    message_id: &str,
    action: &str,
    comment: Option<&str>,
    presser: Presser,
) -> Result<Press, String> {
    let card = state
        .lock()
        .unwrap()
        .messages
        .iter()
        .find(|m| m.message_id == message_id)
        .map(|m| m.card.clone())
        .ok_or_else(|| format!("no message {message_id}"))?;
    let value =
        button_value(&card, action).ok_or_else(|| format!("the card has no {action} button"))?;
    Ok(Press {
        event_id: event_id.into(),
        message_id: message_id.into(),
        value,
        comment: comment.map(Into::into),
        presser,
    })
}

/// Deliver `press` to the host once, as Feishu does; a card in the answer replaces the card.
pub async fn deliver(state: &Mutex<SimState>, press: &Press) -> PressAnswer {
    let config = state
        .lock()
        .unwrap()
        .callback
        .clone()
        .expect("callbacks are pointed at a host");
    let (body, headers) = callbacks::wire(&config, &payload(press, &config.verification_token));
    let mut request = reqwest::Client::new()
        .post(&config.url)
        .body(body)
        .timeout(std::time::Duration::from_secs(5));
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let (status, body) = match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    };
    if status == 200 && body["card"]["type"] == "raw" {
        let card = body["card"]["data"].clone();
        let mut s = state.lock().unwrap();
        if let Some(m) = s
            .messages
            .iter_mut()
            .find(|m| m.message_id == press.message_id)
        {
            m.card = card;
        }
    }
    PressAnswer { status, body }
}

impl FeishuSim {
    /// A press of the button named `action` on message `message_id`, by `presser`.
    pub fn press(
        &self,
        event_id: &str,
        message_id: &str,
        action: &str,
        comment: Option<&str>,
        presser: Presser,
    ) -> Press {
        press_on(&self.state, event_id, message_id, action, comment, presser)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Deliver `press` to the host once, as Feishu does.
    pub async fn deliver_press(&self, press: &Press) -> PressAnswer {
        deliver(&self.state, press).await
    }
}
