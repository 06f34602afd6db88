//! Turn every Feishu answer into either its `data` or what the host should do next.

use super::codes;
use crate::model::{Failure, PluginError};
use crate::ports::{HttpResponse, TransportError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What classifying an answer needs from its parsed JSON body: `Value` (any answer) or `Answer`.
pub trait Envelope: DeserializeOwned {
    fn code(&self) -> Option<i64>;
    fn msg(&self) -> Option<&str>;
}

impl Envelope for Value {
    fn code(&self) -> Option<i64> {
        self.get("code").and_then(Value::as_i64)
    }
    fn msg(&self) -> Option<&str> {
        self.get("msg").and_then(Value::as_str)
    }
}

/// Feishu's envelope with `data` read as `D`: for a call that needs only some of its answer (a
/// message send's answer echoes the whole card back); what `D` does not name is skipped unread.
#[derive(Debug, Deserialize)]
pub struct Answer<D> {
    pub code: Option<i64>,
    pub msg: Option<String>,
    pub data: Option<D>,
}

impl<D: DeserializeOwned> Envelope for Answer<D> {
    fn code(&self) -> Option<i64> {
        self.code
    }
    fn msg(&self) -> Option<&str> {
        self.msg.as_deref()
    }
}

/// A successful answer: its JSON body and the request's log id.
#[derive(Debug)]
pub struct Reply<B = Value> {
    pub body: B,
    pub log_id: Option<String>,
}

/// A failed answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The token was refused: evict and retry once with a fresh one.
    TokenInvalid(Failure),
    /// Anything else, already in the host's terms.
    Error(PluginError),
}

/// When Feishu says "slow down" without saying how long.
pub const DEFAULT_RATE_LIMIT_DELAY_MS: u64 = 1_000;
/// Feishu's windows are a second and a minute long: a reset further away than a minute is not
/// one of them, and must not stop sending for longer.
pub const MAX_RATE_LIMIT_DELAY_MS: u64 = 60_000;

/// Classify an HTTP answer from any Feishu API that uses the `{code, msg, data}` envelope.
pub fn classify(resp: &HttpResponse, scope_hint: &str) -> Result<Reply, Rejection> {
    classify_as::<Value>(resp, scope_hint)
}

/// `classify`, with the body parsed as `B`. A body that is JSON but not a `B` is classified by its
/// envelope alone, and a success that cannot be read is a transient failure.
pub fn classify_as<B: Envelope>(
    resp: &HttpResponse,
    scope_hint: &str,
) -> Result<Reply<B>, Rejection> {
    let log_id = resp.header("x-tt-logid").map(str::to_string);
    match serde_json::from_slice::<B>(&resp.body) {
        Ok(body) => {
            let (code, msg) = (body.code(), body.msg().unwrap_or("").to_string());
            judge(resp, code, &msg, scope_hint, &log_id).map(|()| Reply { body, log_id })
        }
        Err(_) => {
            let any: Option<Value> = serde_json::from_slice(&resp.body).ok();
            let code = any.as_ref().and_then(Envelope::code);
            let msg = any
                .as_ref()
                .and_then(Envelope::msg)
                .unwrap_or("")
                .to_string();
            judge(resp, code, &msg, scope_hint, &log_id)?;
            Err(Rejection::Error(PluginError::Transient(Failure {
                message: format!("Feishu's answer (HTTP {}) could not be read", resp.status),
                remote_code: code,
                log_id,
            })))
        }
    }
}

/// Ok when the answer is a success (HTTP below 400 and code 0); otherwise what to do next.
fn judge(
    resp: &HttpResponse,
    code: Option<i64>,
    msg: &str,
    scope_hint: &str,
    log_id: &Option<String>,
) -> Result<(), Rejection> {
    let failure = |message: String| Failure {
        message,
        remote_code: code,
        log_id: log_id.clone(),
    };
    let said = |what: &str| {
        if msg.is_empty() {
            format!("{what} (HTTP {})", resp.status)
        } else {
            format!("{what} (Feishu code {}: {msg})", code.unwrap_or(0))
        }
    };

    if resp.status == 429 || code.is_some_and(|c| codes::RATE_LIMITED.contains(&c)) {
        let retry_after_ms = resp
            .header("x-ogw-ratelimit-reset")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| ((s * 1000.0).ceil() as u64).min(MAX_RATE_LIMIT_DELAY_MS))
            .unwrap_or(DEFAULT_RATE_LIMIT_DELAY_MS);
        return Err(Rejection::Error(PluginError::RateLimited {
            retry_after_ms,
            failure: failure(said("Feishu rate limit reached")),
        }));
    }
    match code {
        Some(0) if resp.status < 400 => Ok(()),
        Some(c) if codes::TOKEN_INVALID.contains(&c) => Err(Rejection::TokenInvalid(failure(
            said("Feishu refused the access token"),
        ))),
        Some(c) => Err(Rejection::Error(by_code(
            c,
            msg,
            resp.status,
            scope_hint,
            failure,
        ))),
        None if server_side(resp.status) => Err(Rejection::Error(PluginError::Transient(failure(
            said("Feishu is unavailable"),
        )))),
        // A bare 401 or 403 comes from a gateway in front of Feishu, not from Feishu, which
        // always says why in its envelope. A 401 did not take the credentials: a fresh token
        // (or, at the token endpoint, the credentials) is the fix. A 403 is retried rather than
        // losing the card to a gateway's passing refusal.
        None if resp.status == 401 => Err(Rejection::TokenInvalid(failure(said(
            "Feishu's gateway did not accept the request's credentials",
        )))),
        None if resp.status == 403 => Err(Rejection::Error(PluginError::Transient(failure(said(
            "Feishu's gateway refused the request without saying why",
        ))))),
        None if resp.status < 400 => Err(Rejection::Error(PluginError::Transient(failure(said(
            "Feishu sent an answer that is not its JSON envelope",
        ))))),
        None => Err(Rejection::Error(PluginError::Permanent(failure(said(
            "Feishu refused the request",
        ))))),
    }
}

/// 5xx and 408: the failure is on the server's side (or a gateway's), so trying again can work.
fn server_side(status: u16) -> bool {
    status >= 500 || status == 408
}

fn by_code(
    code: i64,
    msg: &str,
    status: u16,
    scope_hint: &str,
    failure: impl Fn(String) -> Failure,
) -> PluginError {
    if codes::BAD_CREDENTIALS.contains(&code) {
        return PluginError::Unauthorized(failure(format!(
            "Feishu rejected the App ID or App Secret (code {code}: {msg}); check them for typos and extra spaces"
        )));
    }
    if codes::APP_UNUSABLE.contains(&code) {
        return PluginError::Unauthorized(failure(format!(
            "the Feishu app is disabled or not installed in this tenant (code {code}: {msg})"
        )));
    }
    if codes::SCOPE_MISSING.contains(&code) {
        let scopes = missing_scopes(msg).unwrap_or_else(|| scope_hint.to_string());
        return PluginError::Permanent(failure(format!(
            "the Feishu app lacks the permission {scopes}: grant it under Permission Management and publish a new app version (code {code})"
        )));
    }
    if code == codes::BOT_NOT_ENABLED {
        return PluginError::Permanent(failure(format!(
            "the Feishu app's bot is not enabled or the app version is not published: enable Bot and publish (code {code})"
        )));
    }
    if let Some(why) = codes::unreachable_recipient(code) {
        return PluginError::Permanent(failure(format!(
            "recipient unreachable: {why} (code {code})"
        )));
    }
    if let Some(why) = codes::card_not_updatable(code) {
        return PluginError::Permanent(failure(format!(
            "the card cannot be updated: {why} (code {code})"
        )));
    }
    if codes::RETRYABLE.contains(&code) {
        return PluginError::Transient(failure(format!(
            "Feishu asked to try again (code {code}: {msg})"
        )));
    }
    // A code no rule above knows, on a server-side status: Feishu or a gateway before it failed,
    // and the card must not be lost for a code nobody documented.
    if server_side(status) {
        return PluginError::Transient(failure(format!(
            "Feishu failed with HTTP {status} (code {code}: {msg}); will retry"
        )));
    }
    PluginError::Permanent(failure(format!(
        "Feishu refused the request (code {code}: {msg})"
    )))
}

/// Feishu lists the scopes it wants after "required:"; keep that part for the administrator.
fn missing_scopes(msg: &str) -> Option<String> {
    let (_, rest) = msg.split_once("required")?;
    let rest = rest.trim_start_matches([':', ' ']);
    let end = rest.find(['.', '\n', '\u{3002}']).unwrap_or(rest.len());
    let scopes = rest[..end].trim();
    (!scopes.is_empty()).then(|| scopes.to_string())
}

/// A request that got no HTTP answer.
pub fn transport(err: &TransportError) -> PluginError {
    match err {
        TransportError::Denied(why) => PluginError::Permanent(Failure::new(format!(
            "the host refused the outbound request ({why}); check auth.feishu.base_url"
        ))),
        TransportError::Timeout(why) => PluginError::Transient(Failure::new(format!(
            "Feishu did not answer in time: {why}"
        ))),
        TransportError::Connection(why) => {
            PluginError::Transient(Failure::new(format!("could not reach Feishu: {why}")))
        }
    }
}

#[cfg(test)]
mod tests;
