//! Feishu's event callback: url_verification, signature, decryption, verification token, and the
//! approval events (v1 `approval_instance`, v2 `approval.instance.status_changed_v4`).
//!
//! Every refusal is an HTTP answer with a reason (and no updates); only a broken plugin is an error.
//!
//! A signed callback is trusted (only Feishu and this host know the Encrypt Key), except for a
//! claimed `operate_time` in the future, which is brought back to now. A token-only one is a
//! signal: anyone who has seen the Verification Token could send it, so what is applied is what
//! Feishu says when asked, stamped with the time it was asked.

use crate::feishu::crypto::{self, constant_time_eq};
use crate::model::{
    ApprovalStatus, ApprovalUpdate, WebhookOutcome, WebhookRequest, WebhookResponse,
};
use crate::ports::{Env, Level, Settings};
use crate::settings::{ENCRYPT_KEY, VERIFICATION_TOKEN};
use serde_json::{Value, json};

fn answer(status: u16, body: Value) -> WebhookOutcome {
    WebhookOutcome {
        response: WebhookResponse {
            status,
            body: body.to_string().into_bytes(),
        },
        event_id: None,
        updates: vec![],
    }
}

fn refuse(status: u16, why: &str) -> WebhookOutcome {
    answer(status, json!({"msg": why}))
}

fn secret(settings: &dyn Settings, key: &str) -> Option<String> {
    settings
        .secret(key)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A claimed time further ahead than this is brought back to now (Feishu's clock and ours agree
/// to within seconds; a time near the end of the epoch would make every later decision look old).
const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// Verify, parse, and for a token-only callback confirm its updates with Feishu.
pub fn receive(env: &Env, request: &WebhookRequest) -> WebhookOutcome {
    match read(env, request) {
        Read::Answered(outcome) => outcome,
        // Without the card-actions interface a click is acknowledged and changes nothing.
        Read::Event(event) => acknowledged(&event),
    }
}

/// A callback read: answered here (a handshake, a refusal, an approval event), or an event this
/// module does not handle, verified, for the caller (a card click).
pub enum Read {
    Answered(WebhookOutcome),
    Event(Verified),
}

/// A callback whose origin and token were checked, and its envelope opened.
pub struct Verified {
    pub payload: Value,
    pub event_id: String,
    pub event_type: String,
    /// Signed with the Encrypt Key (only Feishu and this host know it), not just token-bearing.
    pub signed: bool,
}

/// The answer to an event nothing here acts on: success, with its id for deduplication.
pub fn acknowledged(event: &Verified) -> WebhookOutcome {
    let mut outcome = answer(200, json!({"msg": "success"}));
    outcome.event_id = Some(event.event_id.clone());
    outcome
}

/// Verify and parse; approval events are answered here, card clicks handed back verified.
pub fn read(env: &Env, request: &WebhookRequest) -> Read {
    let verified = match verify(env.settings, request) {
        Ok(v) => v,
        Err(answered) => return Read::Answered(answered),
    };
    if verified.event_type == CARD_ACTION {
        return Read::Event(verified);
    }
    let mut outcome = match claimed_updates(&verified) {
        Ok(outcome) => outcome,
        Err(refusal) => return Read::Answered(refusal),
    };
    let now = env.clock.now_ms();
    for update in &mut outcome.updates {
        update.operate_time_ms = update.operate_time_ms.min(now + MAX_CLOCK_SKEW_MS);
    }
    if !verified.signed
        && let Err(refusal) = confirm(env, &mut outcome.updates, now)
    {
        return Read::Answered(refusal);
    }
    Read::Answered(outcome)
}

/// The answer to a verified event, with the approval changes it claims.
fn claimed_updates(verified: &Verified) -> Result<WebhookOutcome, WebhookOutcome> {
    let mut outcome = acknowledged(verified);
    if matches!(
        verified.event_type.as_str(),
        "approval_instance" | "approval.instance.status_changed_v4"
    ) {
        let update =
            instance_update(&verified.payload["event"]).map_err(|why| refuse(400, &why))?;
        outcome.updates.push(update);
    }
    Ok(outcome)
}

/// Feishu's event type of a card button's callback.
pub const CARD_ACTION: &str = "card.action.trigger";

/// Replace each claimed status by the instance's status as Feishu reports it now. When Feishu
/// cannot be asked, the callback is refused with a 503 (and its id not recorded), so Feishu sends
/// it again.
fn confirm(env: &Env, updates: &mut [ApprovalUpdate], now: u64) -> Result<(), WebhookOutcome> {
    for update in updates {
        let current = super::create::get(env, &update.instance_code).map_err(|e| {
            refuse(
                503,
                &format!(
                    "the callback could not be confirmed with Feishu ({}); it will be sent again",
                    crate::connection::describe_error(&e)
                ),
            )
        })?;
        if current.status != update.status {
            env.log.log(
                Level::Warn,
                &format!(
                    "a token-only callback claimed {:?} for {}; Feishu says {:?}, which is applied",
                    update.status, update.instance_code, current.status
                ),
            );
        }
        update.status = current.status;
        update.operate_time_ms = now;
    }
    Ok(())
}

/// The signature, decryption and token checks. Every refusal, and the handshake, is the answer.
fn verify(settings: &dyn Settings, request: &WebhookRequest) -> Result<Verified, WebhookOutcome> {
    let encrypt_key = secret(settings, ENCRYPT_KEY);
    let Some(token) = secret(settings, VERIFICATION_TOKEN) else {
        return Err(refuse(
            503,
            "auth.feishu.verification_token is not configured: callbacks cannot be verified",
        ));
    };
    let Ok(outer) = serde_json::from_slice::<Value>(&request.body) else {
        return Err(refuse(400, "the body is not JSON"));
    };
    let signature = request.header("x-lark-signature");
    // With an Encrypt Key every callback that gets through is signed (an unsigned one can only be
    // the handshake, which carries no update).
    let signed = encrypt_key.is_some();
    let payload = match (&encrypt_key, outer.get("encrypt").and_then(Value::as_str)) {
        (Some(key), Some(encrypted)) => {
            let Some(given) = signature else {
                return Err(unsigned_handshake(
                    key,
                    encrypted,
                    request.body.len(),
                    &token,
                ));
            };
            // Authenticated before anything is decrypted: what follows may say what is wrong.
            let ts = request.header("x-lark-request-timestamp").unwrap_or("");
            let nonce = request.header("x-lark-request-nonce").unwrap_or("");
            if !crypto::verify_signature(ts, nonce, key, &request.body, given) {
                return Err(refuse(401, "the signature does not match"));
            }
            let plain = crypto::decrypt(key, encrypted).map_err(|e| refuse(400, &e.to_string()))?;
            serde_json::from_slice::<Value>(&plain)
                .map_err(|_| refuse(400, "the decrypted payload is not JSON"))?
        }
        (Some(_), None) => {
            return Err(refuse(
                400,
                "an Encrypt Key is configured: the body must be encrypted",
            ));
        }
        (None, Some(_)) => {
            return Err(refuse(
                400,
                "the body is encrypted but auth.feishu.encrypt_key is not configured",
            ));
        }
        // Token-only (no Encrypt Key): nothing is signed, so nothing large is read.
        (None, None) if request.body.len() > MAX_UNSIGNED_PLAIN_BODY => {
            return Err(refuse(
                413,
                "an unsigned callback may be at most 64 KiB (set an Encrypt Key to have callbacks signed)",
            ));
        }
        (None, None) => outer,
    };

    if payload["type"] == "url_verification" {
        return Err(if token_matches(handshake_token(&payload), &token) {
            answer(200, json!({"challenge": payload["challenge"]}))
        } else {
            refuse(403, "the verification token does not match")
        });
    }
    let (event_id, claimed_token, event_type) = if payload["schema"] == "2.0" {
        let h = &payload["header"];
        (
            h["event_id"].as_str(),
            &h["token"],
            h["event_type"].as_str().unwrap_or(""),
        )
    } else {
        (
            payload["uuid"].as_str(),
            &payload["token"],
            payload["event"]["type"].as_str().unwrap_or(""),
        )
    };
    if !token_matches(claimed_token, &token) {
        return Err(refuse(403, "the verification token does not match"));
    }
    let Some(event_id) = event_id.filter(|id| !id.is_empty()) else {
        return Err(refuse(400, "the event has no id"));
    };
    Ok(Verified {
        event_id: event_id.to_string(),
        event_type: event_type.to_string(),
        signed,
        payload: payload.clone(),
    })
}

/// Feishu may send the URL-verification handshake unsigned, so an unsigned encrypted body is
/// decrypted, but only to answer a genuine handshake: a small body, decrypting to a
/// `url_verification` with the right token. Every other unsigned body gets the same answer,
/// whatever went wrong (bad base64, bad padding, not JSON, another event, another token), so the
/// answers teach nothing about the plaintext: no padding oracle, no token oracle.
fn unsigned_handshake(key: &str, encrypted: &str, body_len: usize, token: &str) -> WebhookOutcome {
    let handshake = (body_len <= MAX_UNSIGNED_ENCRYPTED_BODY)
        .then(|| crypto::decrypt(key, encrypted).ok())
        .flatten()
        .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok())
        .filter(|p| p["type"] == "url_verification" && token_matches(handshake_token(p), token));
    match handshake {
        Some(p) => answer(200, json!({"challenge": p["challenge"]})),
        None => refuse(
            401,
            "the request is not signed (X-Lark-Signature is missing)",
        ),
    }
}

/// An approval event is 1-3 KiB.
const MAX_UNSIGNED_PLAIN_BODY: usize = 64 * 1024;

/// A handshake is a few hundred bytes (the Go SDK's, with a full 2.0 header, about 1 KiB).
const MAX_UNSIGNED_ENCRYPTED_BODY: usize = 4 * 1024;

/// Schema 1.0 handshakes carry `token`; 2.0-style ones (the Go SDK's) `header.token`.
fn handshake_token(payload: &Value) -> &Value {
    if payload["token"].is_string() {
        &payload["token"]
    } else {
        &payload["header"]["token"]
    }
}

fn token_matches(claimed: &Value, expected: &str) -> bool {
    claimed
        .as_str()
        .is_some_and(|c| constant_time_eq(c.as_bytes(), expected.as_bytes()))
}

/// `operate_time` is a string of milliseconds, except for REVERTED where it is a number.
fn millis(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn instance_update(event: &Value) -> Result<ApprovalUpdate, String> {
    let instance_code = event["instance_code"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("the approval event has no instance_code")?;
    // It becomes part of a request path when the callback is confirmed.
    if !instance_code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "instance_code {instance_code:?} is not an instance code"
        ));
    }
    let status_text = event["status"].as_str().unwrap_or("");
    let status = ApprovalStatus::parse(status_text)
        .ok_or_else(|| format!("unknown approval status {status_text:?}"))?;
    let operate_time_ms = millis(&event["operate_time"])
        .or_else(|| millis(&event["instance_operate_time"]))
        .unwrap_or(0);
    Ok(ApprovalUpdate {
        approval_code: event["approval_code"].as_str().unwrap_or("").to_string(),
        instance_code: instance_code.to_string(),
        status,
        operate_time_ms,
    })
}

#[cfg(test)]
mod tests;
