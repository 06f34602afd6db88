//! Test Connection's checks of the plugin's webhook routes: that the host's own route reaches the
//! plugin, and (with `MICA_PUBLIC_URL`) that the public request URL Feishu calls reaches this
//! very host, through whatever reverse proxy stands in front of it.

use super::AppState;
use serde_json::{Value, json};
use std::time::Duration;

/// Marks a probe request; the webhook handler records the nonces it was sent, so the check can
/// tell that the request arrived at this process and not at some other server.
pub const PROBE_HEADER: &str = "x-mica-host-probe";

/// Send a blank request through the host's own router to a route the plugin declared, as Feishu
/// would reach it: the route is live when the plugin itself answers (refusing the unsigned request),
/// not when the host answers that there is no such route, no plugin, or a failed call.
pub async fn own_route(state: &AppState, method: &str, path: &str) -> Value {
    use tower::ServiceExt;
    let result =
        |ok: bool, detail: String| json!({"name": "webhook_route", "ok": ok, "detail": detail});
    let request = match axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from("{}"))
    {
        Ok(request) => request,
        Err(e) => {
            return result(
                false,
                format!("the plugin declared an unusable route {method} {path}: {e}"),
            );
        }
    };
    let answer = match super::router(state.clone()).oneshot(request).await {
        Ok(answer) => answer,
        Err(never) => match never {},
    };
    let status = answer.status().as_u16();
    let by_plugin = answer.headers().contains_key(super::webhook::ANSWERED_BY);
    let body = axum::body::to_bytes(answer.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let said: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let message = said["msg"]
        .as_str()
        .or_else(|| said["detail"].as_str())
        .unwrap_or("")
        .to_string();
    if by_plugin {
        let scope = if state.public_url.is_some() {
            "the public request URL is checked next"
        } else {
            "this proves the host's own route only, not that Feishu can reach it: set MICA_PUBLIC_URL to check the public request URL too"
        };
        result(
            true,
            format!(
                "{method} {path} on this host reaches the plugin (a blank test request got {status}: {message}); {scope}"
            ),
        )
    } else {
        result(
            false,
            format!("{method} {path} on this host does not reach the plugin ({status}: {message})"),
        )
    }
}

/// Send a probe to `public_url` + `path` from this host, as Feishu would, and see whether it
/// arrives here.
pub async fn public_route(state: &AppState, public_url: &str, method: &str, path: &str) -> Value {
    let url = format!("{}{path}", public_url.trim_end_matches('/'));
    let result = |ok: bool, detail: String| json!({"name": "public_webhook_url", "ok": ok, "detail": detail});
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    state.probes.expect(&nonce);
    let answer = send_probe(&state.net, &url, method, &nonce).await;
    let arrived = state.probes.take(&nonce);
    match (answer, arrived) {
        (_, true) => result(
            true,
            format!(
                "the public request URL {url} reaches this host: Feishu can deliver callbacks there"
            ),
        ),
        (Ok(status), false) => result(
            false,
            format!(
                "the public request URL {url} answered HTTP {status}, but the request never reached this host: the reverse proxy sends it elsewhere (nginx: location = {path})"
            ),
        ),
        (Err(why), false) => result(
            false,
            format!(
                "the public request URL {url} could not be reached from this host: {why} (check DNS, TLS and the reverse proxy)"
            ),
        ),
    }
}

async fn send_probe(
    net: &crate::net::NetConfig,
    url: &str,
    method: &str,
    nonce: &str,
) -> Result<u16, String> {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let connector =
        crate::net::connector(Duration::from_secs(5), net).map_err(|e| e.to_string())?;
    let client: Client<_, Full<bytes::Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .header(PROBE_HEADER, nonce)
        .body(Full::new(bytes::Bytes::from_static(b"{}")))
        .map_err(|e| format!("not a usable URL ({e})"))?;
    match tokio::time::timeout(Duration::from_secs(5), client.request(request)).await {
        Err(_) => Err("no answer within 5 s".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(resp)) => Ok(resp.status().as_u16()),
    }
}

/// Nonces of probes under way, and whether each arrived. Only nonces this host issued are
/// recorded, so requests carrying made-up ones cannot grow it.
#[derive(Default)]
pub struct Probes(std::sync::Mutex<std::collections::HashMap<String, bool>>);

impl Probes {
    fn expect(&self, nonce: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(nonce.to_string(), false);
        }
    }

    /// The webhook handler saw `nonce`.
    pub fn arrived(&self, nonce: &str) {
        if let Ok(mut m) = self.0.lock()
            && let Some(seen) = m.get_mut(nonce)
        {
            *seen = true;
        }
    }

    fn take(&self, nonce: &str) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|mut m| m.remove(nonce))
            .unwrap_or(false)
    }
}
