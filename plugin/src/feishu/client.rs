//! Authorized calls to Feishu: bearer token attached, a refused token evicted and the call retried
//! once with a fresh one, every answer classified.

use super::classify::{Envelope, Rejection, Reply, classify_as, transport};
use super::token;
use crate::model::PluginError;
use crate::ports::{Env, HttpRequest, Method};
use crate::settings::FeishuSettings;

/// Call `path` (with query) on the configured Feishu host with `body` (JSON text, serialized once
/// by the caller whatever the retries), reading the answer as `B` (`Value` for any answer; see
/// `classify_as`). `scope_hint` names the permission the call needs, for the message when Feishu
/// says one is missing without naming it.
pub fn call<B: Envelope>(
    env: &Env,
    s: &FeishuSettings,
    method: Method,
    path_and_query: &str,
    body: Option<&[u8]>,
    scope_hint: &str,
) -> Result<Reply<B>, PluginError> {
    let mut refreshed = false;
    loop {
        let token = token::get(env, s)?;
        let mut headers = vec![("authorization".to_string(), format!("Bearer {token}"))];
        if body.is_some() {
            headers.push((
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ));
        }
        let request = HttpRequest {
            method,
            url: format!("{}{path_and_query}", s.base_url),
            headers,
            body: body.map(<[u8]>::to_vec).unwrap_or_default(),
        };
        let resp = env.http.send(&request).map_err(|e| transport(&e))?;
        match classify_as::<B>(&resp, scope_hint) {
            Ok(reply) => return Ok(reply),
            Err(Rejection::TokenInvalid(failure)) => {
                token::evict(env, s)?;
                if refreshed {
                    return Err(PluginError::Unauthorized(failure));
                }
                refreshed = true;
            }
            Err(Rejection::Error(e)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
