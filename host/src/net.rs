//! The host's own outbound HTTP plumbing (plugin traffic, Mica notices and Test Connection's
//! probes share it): TLS with the webpki roots plus an optional extra CA file (for a
//! TLS-inspecting corporate proxy), and https targets tunnelled through `HTTPS_PROXY` unless
//! `NO_PROXY` names them. The plugin's allow-list judges the target origin before any of this:
//! the proxy is only how the host gets there.

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

pub type Connector = hyper_rustls::HttpsConnector<ProxyConnector>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How the host reaches the outside: from the environment (`HTTPS_PROXY`/`https_proxy`/
/// `ALL_PROXY`, `NO_PROXY`/`no_proxy`, `MICA_EXTRA_CA_FILE`), or set by a test.
#[derive(Clone, Default)]
pub struct NetConfig {
    /// The proxy https targets are tunnelled through (`http://[user:pass@]proxy:port`).
    pub https_proxy: Option<String>,
    /// Hosts reached directly, as curl reads `NO_PROXY` (loopback always is).
    pub no_proxy: Option<String>,
    /// PEM certificates trusted beside the webpki roots.
    pub extra_ca_file: Option<PathBuf>,
}

impl NetConfig {
    pub fn from_env() -> NetConfig {
        let first = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| std::env::var(n).ok())
                .map(|v| v.trim().to_string())
                .find(|v| !v.is_empty())
        };
        NetConfig {
            https_proxy: first(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
            no_proxy: first(&["NO_PROXY", "no_proxy"]),
            extra_ca_file: first(&["MICA_EXTRA_CA_FILE"]).map(PathBuf::from),
        }
    }
}

/// The proxy's URL without any credentials in it, for logs and error messages.
pub fn redacted(proxy: &str) -> String {
    match proxy.parse::<http::Uri>() {
        Ok(uri) => format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority()
                .map(|a| a.as_str().rsplit('@').next().unwrap_or("").to_string())
                .unwrap_or_default()
        ),
        Err(_) => "(unparsable proxy URL)".into(),
    }
}

/// Never prints the proxy's credentials.
impl std::fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetConfig")
            .field("https_proxy", &self.https_proxy.as_deref().map(redacted))
            .field("no_proxy", &self.no_proxy)
            .field("extra_ca_file", &self.extra_ca_file)
            .finish()
    }
}

/// A connection through the proxy failed (the proxy refused, asked for credentials, or could
/// not be reached): said so, so that an administrator is not sent looking at Feishu.
#[derive(Debug)]
pub struct ProxyError {
    pub proxy: String,
    pub source: BoxError,
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the HTTPS proxy {} failed: {}", self.proxy, self.source)
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The proxy failure somewhere in `error`'s chain, if that is what went wrong.
pub fn proxy_failure<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a ProxyError> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(p) = e.downcast_ref::<ProxyError>() {
            return Some(p);
        }
        current = e.source();
    }
    None
}

/// TCP to the target, or a CONNECT tunnel through the proxy for https targets it intercepts.
#[derive(Clone)]
pub struct ProxyConnector {
    direct: HttpConnector,
    proxy: Option<Arc<Matcher>>,
}

impl ProxyConnector {
    fn via(&self, dst: &http::Uri) -> Option<hyper_util::client::proxy::matcher::Intercept> {
        if dst.scheme_str() != Some("https") || dst.host().is_some_and(is_loopback_host) {
            return None;
        }
        self.proxy.as_ref()?.intercept(dst)
    }
}

impl tower::Service<http::Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        match self.via(&dst) {
            Some(intercept) => {
                let proxy = redacted(&intercept.uri().to_string());
                let mut tunnel = Tunnel::new(intercept.uri().clone(), self.direct.clone());
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move {
                    tunnel.call(dst).await.map_err(|e| {
                        Box::new(ProxyError {
                            proxy,
                            source: e.into(),
                        }) as BoxError
                    })
                })
            }
            None => {
                let mut direct = self.direct.clone();
                Box::pin(async move { direct.call(dst).await.map_err(Into::into) })
            }
        }
    }
}

/// The certificates TLS trusts: the webpki roots and those of `extra_ca_file`.
fn roots(net: &NetConfig) -> anyhow::Result<rustls::RootCertStore> {
    use anyhow::Context as _;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &net.extra_ca_file {
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("MICA_EXTRA_CA_FILE {}: not readable", path.display()))?
        {
            let cert = cert.with_context(|| {
                format!(
                    "MICA_EXTRA_CA_FILE {}: not a PEM certificate file",
                    path.display()
                )
            })?;
            roots.add(cert).with_context(|| {
                format!(
                    "MICA_EXTRA_CA_FILE {}: a certificate is unusable",
                    path.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            anyhow::bail!(
                "MICA_EXTRA_CA_FILE {}: holds no certificate",
                path.display()
            );
        }
        tracing::info!(path = %path.display(), certificates = added, "extra CA certificates trusted");
    }
    Ok(roots)
}

fn tcp(connect_timeout: Duration, net: &NetConfig) -> ProxyConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let proxy = net.https_proxy.as_ref().map(|p| {
        let mut m = Matcher::builder().https(p.clone());
        if let Some(no) = &net.no_proxy {
            m = m.no(no.clone());
        }
        Arc::new(m.build())
    });
    ProxyConnector {
        direct: http,
        proxy,
    }
}

/// http and https with a connect timeout and Nagle off; https through the proxy when one is set.
pub fn connector(connect_timeout: Duration, net: &NetConfig) -> anyhow::Result<Connector> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots(net)?)
    .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp(connect_timeout, net)))
}

/// `localhost` or a loopback address (brackets of an IPv6 literal allowed): where plain http is
/// acceptable, since nothing crosses a network.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_credentials_never_show() {
        assert_eq!(
            redacted("http://user:s3cret@proxy.corp:3128"),
            "http://proxy.corp:3128"
        );
        let net = NetConfig {
            https_proxy: Some("http://user:s3cret@proxy.corp:3128".into()),
            ..Default::default()
        };
        assert!(!format!("{net:?}").contains("s3cret"));
    }

    #[test]
    fn only_https_beyond_loopback_and_outside_no_proxy_goes_through_the_proxy() {
        let net = NetConfig {
            https_proxy: Some("http://proxy.corp:3128".into()),
            no_proxy: Some("internal.corp".into()),
            ..Default::default()
        };
        let inner = tcp(Duration::from_secs(1), &net);
        let via = |u: &str| inner.via(&u.parse().unwrap()).is_some();
        assert!(via("https://open.feishu.cn/open-apis"));
        assert!(!via("https://mica.internal.corp/notices"), "NO_PROXY");
        assert!(!via("https://127.0.0.1:9443/"), "loopback is direct");
        assert!(!via("http://127.0.0.1:8080/"), "plain http is direct");
        let none = tcp(Duration::from_secs(1), &NetConfig::default());
        assert!(
            none.via(&"https://open.feishu.cn/".parse().unwrap())
                .is_none()
        );
    }

    #[test]
    fn a_bad_extra_ca_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let net = NetConfig {
            extra_ca_file: Some(path),
            ..Default::default()
        };
        let e = connector(Duration::from_secs(1), &net).err().unwrap();
        assert!(format!("{e:#}").contains("MICA_EXTRA_CA_FILE"), "{e:#}");
    }
}
