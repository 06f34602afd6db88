//! Outbound HTTP for plugins: `wasi:http/outgoing-handler` behind an allow-list, sent through one
//! pooled keep-alive client shared by every call (no new connection or TLS handshake per card).
//!
//! The policy is a pure function of the request URI and the plugin's declared base-URL settings,
//! tested here without any wasm.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::net::Connector;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// One scheme-host-port a plugin may call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

/// The origin of a URI, with the default port filled in.
pub fn origin_of(uri: &http::Uri) -> Result<Origin, String> {
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(other) => return Err(format!("scheme {other} is not allowed")),
        None => return Err("the URL has no scheme".into()),
    };
    let host = uri
        .host()
        .ok_or("the URL has no host")?
        .to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    Ok(Origin { https, host, port })
}

/// Parse a configured base URL into an allowed origin: https anywhere, plain http only to loopback.
pub fn allowed_origin(base_url: &str) -> Result<Origin, String> {
    let uri: http::Uri = base_url
        .trim()
        .parse()
        .map_err(|e| format!("{base_url:?} is not a URL: {e}"))?;
    let origin = origin_of(&uri)?;
    if !origin.https && !crate::net::is_loopback_host(&origin.host) {
        return Err(format!(
            "{base_url} uses plain http, which is allowed only for loopback addresses"
        ));
    }
    Ok(origin)
}

/// The outbound allow-list of one call.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub allowed: Vec<Origin>,
}

impl Policy {
    /// Built from the values of the plugin's declared base-URL settings.
    pub fn from_settings(keys: &[String], values: &HashMap<String, Value>) -> Policy {
        let allowed = keys
            .iter()
            .filter_map(|k| values.get(k).and_then(Value::as_str))
            .filter_map(|url| match allowed_origin(url) {
                Ok(o) => Some(o),
                Err(why) => {
                    tracing::warn!(%why, "ignoring an outbound base URL");
                    None
                }
            })
            .collect();
        Policy { allowed }
    }

    pub fn check(&self, uri: &http::Uri) -> Result<(), String> {
        let origin = origin_of(uri)?;
        if self.allowed.contains(&origin) {
            Ok(())
        } else {
            Err(format!(
                "{}://{}:{} is not an allowed destination",
                if origin.https { "https" } else { "http" },
                origin.host,
                origin.port
            ))
        }
    }
}

/// Answers allowed outbound requests in process instead of over the network, so a benchmark
/// measures the sandbox and the plugin rather than sockets. `serve` never sets one.
pub type Responder =
    std::sync::Arc<dyn Fn(&http::request::Parts, &Bytes) -> http::Response<Bytes> + Send + Sync>;

/// The host's one HTTP client (cheap to clone: the pool is shared).
#[derive(Clone)]
pub struct OutboundClient {
    client: Client<Connector, Full<Bytes>>,
    max_body: usize,
    responder: Option<Responder>,
}

impl OutboundClient {
    pub fn new(max_body: usize, net: &crate::net::NetConfig) -> anyhow::Result<OutboundClient> {
        let connector = crate::net::connector(CONNECT_TIMEOUT, net)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .build(connector);
        Ok(OutboundClient {
            client,
            max_body,
            responder: None,
        })
    }

    pub fn answer_in_process(&mut self, responder: Responder) {
        self.responder = Some(responder);
    }
}

/// The wasi-http hooks of one call: its policy and the shared client.
pub struct OutboundHooks {
    client: OutboundClient,
    policy: Policy,
}

impl OutboundHooks {
    pub fn for_plugin(
        client: &OutboundClient,
        url_settings: &[String],
        values: &HashMap<String, Value>,
    ) -> OutboundHooks {
        OutboundHooks {
            client: client.clone(),
            policy: Policy::from_settings(url_settings, values),
        }
    }
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let verdict = self.policy.check(request.uri());
        let client = self.client.clone();
        Box::new(async move {
            if let Err(why) = verdict {
                tracing::warn!(uri = %request.uri(), %why, "outbound request denied");
                return Err(HttpError::HttpRequestDenied);
            }
            let (parts, body) = request.into_parts();
            let body = Limited::new(body, client.max_body)
                .collect()
                .await
                .map_err(|_| HttpError::HttpRequestBodySize(Some(client.max_body as u64)))?
                .to_bytes();
            if let Some(responder) = &client.responder {
                let response = responder(&parts, &body)
                    .map(|b| Full::new(b).map_err(|never| match never {}).boxed_unsync());
                let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                    Box::new(async { Ok(()) });
                return Ok((response, done));
            }
            let request = http::Request::from_parts(parts, Full::new(body));
            let timeout = options
                .and_then(|o| o.first_byte_timeout)
                .unwrap_or(DEFAULT_RESPONSE_TIMEOUT)
                + CONNECT_TIMEOUT;
            let response = match tokio::time::timeout(timeout, client.client.request(request)).await
            {
                Err(_) => return Err(HttpError::HttpResponseTimeout),
                Ok(Err(e)) if e.is_connect() => {
                    // Through a proxy, say that it is the proxy that failed.
                    if let Some(p) = crate::net::proxy_failure(&e) {
                        tracing::warn!(error = %p, "outbound request failed at the proxy");
                        return Err(HttpError::InternalError(Some(p.to_string())));
                    }
                    tracing::debug!(error = %e, "outbound connect failed");
                    return Err(HttpError::ConnectionRefused);
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "outbound request failed");
                    return Err(HttpError::HttpProtocolError);
                }
                Ok(Ok(response)) => response,
            };
            let response = response.map(|b| b.map_err(HttpError::from).boxed_unsync());
            let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base: &str) -> Policy {
        let keys = vec!["base".to_string()];
        let values = HashMap::from([("base".to_string(), Value::String(base.into()))]);
        Policy::from_settings(&keys, &values)
    }

    fn check(p: &Policy, uri: &str) -> Result<(), String> {
        p.check(&uri.parse().unwrap())
    }

    #[test]
    fn only_the_configured_origin_is_allowed() {
        let p = policy("https://open.feishu.cn");
        assert!(check(&p, "https://open.feishu.cn/open-apis/im/v1/messages").is_ok());
        assert!(
            check(&p, "https://OPEN.feishu.cn:443/x").is_ok(),
            "default port and case normalised"
        );
        assert!(
            check(&p, "https://open.feishu.cn:8443/x").is_err(),
            "other port"
        );
        assert!(
            check(&p, "http://open.feishu.cn/x").is_err(),
            "downgrade to http"
        );
        assert!(check(&p, "https://evil.example/x").is_err());
        assert!(check(&p, "https://open.feishu.cn.evil.example/x").is_err());
    }

    #[test]
    fn plain_http_only_for_loopback() {
        assert!(allowed_origin("http://127.0.0.1:8081").is_ok());
        assert!(allowed_origin("http://localhost:1").is_ok());
        assert!(allowed_origin("http://[::1]:9").is_ok());
        assert!(allowed_origin("http://open.feishu.cn").is_err());
        assert!(allowed_origin("http://10.0.0.1").is_err());
        assert!(allowed_origin("ftp://x").is_err());
        assert!(policy("http://10.0.0.1").allowed.is_empty());
    }

    #[test]
    fn nothing_configured_means_nothing_allowed() {
        let p = Policy::default();
        assert!(check(&p, "https://open.feishu.cn/").is_err());
    }
}
