//! The tenant access token, shared by every instance through the host's kv store.
//!
//! Cached until Feishu's `expire` minus three minutes (what the official SDKs do). When the cache is
//! empty, one instance takes a short lease and fetches; the others wait briefly for its result
//! instead of all asking Feishu at once.

use super::classify::{Rejection, classify, transport};
use super::codes;
use crate::model::{Failure, PluginError};
use crate::ports::{Env, HttpRequest, HttpResponse, Level, Method};
use crate::settings::FeishuSettings;
use serde_json::json;

pub const TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";
/// Refresh this long before Feishu's expiry.
const EXPIRY_MARGIN_S: u64 = 180;
/// How long a fetching instance holds the lease.
const LEASE_TTL_MS: u64 = 5_000;
/// How long the others wait for it, and how often they look.
const WAIT_TOTAL_MS: u64 = 3_000;
const WAIT_STEP_MS: u64 = 20;

fn cache_keys(s: &FeishuSettings) -> (String, String) {
    // Keyed by endpoint and app; the secret is not part of the key and never stored. The tag only
    // keeps the key short (a 64-bit FNV-1a hash: no secret, and a collision would cost one
    // refused token and a refetch), and is computed on every card.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.base_url.bytes().chain([b'\n']).chain(s.app_id.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (
        format!("tenant-token:{h:016x}"),
        format!("tenant-token-lease:{h:016x}"),
    )
}

/// A valid tenant token: from the cache, or fetched (once across instances) and cached.
pub fn get(env: &Env, s: &FeishuSettings) -> Result<String, PluginError> {
    let (key, lease) = cache_keys(s);
    if let Some(token) = cached(env, &key)? {
        return Ok(token);
    }
    let won = env
        .kv
        .compare_and_set(&lease, None, b"1", Some(LEASE_TTL_MS))
        .is_ok();
    if !won {
        let mut waited = 0;
        while waited < WAIT_TOTAL_MS {
            env.clock.sleep_ms(WAIT_STEP_MS);
            waited += WAIT_STEP_MS;
            if let Some(token) = cached(env, &key)? {
                return Ok(token);
            }
        }
    }
    if won {
        // Another instance may have stored a token and released the lease between our first
        // look and winning it.
        if let Some(token) = cached(env, &key)? {
            let _ = env.kv.delete(&lease);
            return Ok(token);
        }
    }
    let result = fetch(env, s).and_then(|(token, expire_s)| {
        let ttl_s = expire_s.saturating_sub(EXPIRY_MARGIN_S);
        env.log.log(
            Level::Info,
            &format!(
                "fetched a tenant access token for {} (valid {expire_s} s, cached {ttl_s} s)",
                s.app_id
            ),
        );
        if ttl_s > 0 {
            env.kv.set(&key, token.as_bytes(), Some(ttl_s * 1000))?;
        }
        Ok(token)
    });
    if won {
        let _ = env.kv.delete(&lease);
    }
    result
}

/// Forget the cached token (Feishu refused it).
pub fn evict(env: &Env, s: &FeishuSettings) -> Result<(), PluginError> {
    let (key, _) = cache_keys(s);
    env.log.log(
        Level::Warn,
        "Feishu refused the cached tenant token; fetching a new one",
    );
    env.kv.delete(&key)?;
    Ok(())
}

fn cached(env: &Env, key: &str) -> Result<Option<String>, PluginError> {
    Ok(env
        .kv
        .get(key)?
        .and_then(|e| String::from_utf8(e.value).ok())
        .filter(|t| !t.is_empty()))
}

/// The token request for the configured app.
pub fn request(s: &FeishuSettings) -> HttpRequest {
    HttpRequest {
        method: Method::Post,
        url: format!("{}{TOKEN_PATH}", s.base_url),
        headers: vec![(
            "content-type".into(),
            "application/json; charset=utf-8".into(),
        )],
        body: json!({"app_id": s.app_id, "app_secret": s.app_secret.0})
            .to_string()
            .into_bytes(),
    }
}

/// Feishu's answer to the token request for `app_id`: (token, seconds it stays valid).
pub fn parse_reply(resp: &HttpResponse, app_id: &str) -> Result<(String, u64), PluginError> {
    let reply = match classify(resp, "") {
        Ok(reply) => reply,
        // A token error from the token endpoint itself means the credentials are wrong.
        Err(Rejection::TokenInvalid(f)) => return Err(PluginError::Unauthorized(f)),
        // The request has two fields and a wrong secret has codes of its own: "invalid param"
        // here is an App ID Feishu does not know, a credentials problem like a wrong secret
        // (retried until an administrator fixes it), not a card to fail at once.
        Err(Rejection::Error(PluginError::Permanent(f)))
            if f.remote_code == Some(codes::INVALID_PARAM) =>
        {
            return Err(PluginError::Unauthorized(Failure {
                message: format!(
                    "Feishu does not know the App ID {:?} (code {}: invalid param); check it for typos and extra spaces",
                    app_id,
                    codes::INVALID_PARAM
                ),
                ..f
            }));
        }
        Err(Rejection::Error(e)) => return Err(e),
    };
    let token = reply.body["tenant_access_token"].as_str().unwrap_or("");
    let expire = reply.body["expire"].as_u64().unwrap_or(0);
    if token.is_empty() {
        return Err(PluginError::Transient(Failure {
            message: "Feishu's token answer had no tenant_access_token".into(),
            remote_code: Some(0),
            log_id: reply.log_id,
        }));
    }
    Ok((token.to_string(), expire))
}

/// Ask Feishu for a token: (token, seconds it stays valid).
pub fn fetch(env: &Env, s: &FeishuSettings) -> Result<(String, u64), PluginError> {
    s.require_credentials()?;
    let resp = env.http.send(&request(s)).map_err(|e| transport(&e))?;
    parse_reply(&resp, &s.app_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Kv, KvEntry, KvError};
    use crate::testkit::*;

    /// A kv whose first read misses even though a token is stored: the state another instance
    /// sees when it looked just before the winner stored the token and released the lease.
    struct StaleFirstRead {
        inner: MemKv,
        reads: std::cell::Cell<u32>,
    }

    impl Kv for StaleFirstRead {
        fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
            self.reads.set(self.reads.get() + 1);
            if self.reads.get() == 1 {
                return Ok(None);
            }
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<u64, KvError> {
            self.inner.set(key, value, ttl)
        }
        fn compare_and_set(
            &self,
            k: &str,
            e: Option<u64>,
            v: &[u8],
            t: Option<u64>,
        ) -> Result<u64, KvError> {
            self.inner.compare_and_set(k, e, v, t)
        }
        fn delete(&self, key: &str) -> Result<(), KvError> {
            self.inner.delete(key)
        }
    }

    #[test]
    fn cache_keys_tell_apps_and_endpoints_apart_and_hold_no_secret() {
        let read = |s: &MapSettings| cache_keys(&FeishuSettings::read(s));
        let base = MapSettings::configured();
        let (token, lease) = read(&base);
        assert_ne!(token, lease);
        assert_eq!(read(&base), (token.clone(), lease), "stable");
        let other_app = MapSettings::configured().with(crate::settings::APP_ID, "\"cli_other\"");
        let lark = MapSettings::configured()
            .with(crate::settings::BASE_URL, "\"https://open.larksuite.com\"");
        let other_secret = MapSettings::configured().with(crate::settings::APP_SECRET, "other");
        assert_ne!(read(&other_app).0, token);
        assert_ne!(read(&lark).0, token);
        assert_eq!(
            read(&other_secret).0,
            token,
            "a new secret keeps the cached token"
        );
        assert!(!token.contains("secret") && token.len() < 64, "{token}");
    }

    #[test]
    fn a_token_stored_while_we_took_the_lease_is_used_not_fetched_again() {
        let s = MapSettings::configured();
        let fs = FeishuSettings::read(&s);
        let kv = StaleFirstRead {
            inner: MemKv::default(),
            reads: Default::default(),
        };
        kv.inner.set(&cache_keys(&fs).0, b"t-other", None).unwrap();
        let http = ScriptedHttp::default();
        let env = env(&s, &kv, &http);
        assert_eq!(get(&env, &fs).unwrap(), "t-other");
        assert!(http.seen.borrow().is_empty(), "no second fetch");
        assert_eq!(
            kv.inner.get(&cache_keys(&fs).1).unwrap(),
            None,
            "lease released"
        );
    }

    fn answer(body: &str) -> HttpResponse {
        HttpResponse {
            status: 400,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_unknown_app_id_is_a_credentials_problem_that_names_it() {
        let e = parse_reply(
            &answer(r#"{"code":10003,"msg":"invalid param"}"#),
            "cli_typo",
        )
        .unwrap_err();
        let PluginError::Unauthorized(f) = e else {
            panic!("not a credentials problem: {e:?}")
        };
        assert!(f.message.contains("App ID \"cli_typo\""), "{}", f.message);
        assert_eq!(f.remote_code, Some(10003));
        let e = parse_reply(
            &answer(r#"{"code":99991543,"msg":"login_user invalid"}"#),
            "x",
        )
        .unwrap_err();
        assert!(matches!(e, PluginError::Unauthorized(_)), "{e:?}");
    }
}
