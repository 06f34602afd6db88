//! The host's own outbound HTTP plumbing (plugin traffic and Mica notices share it).

use hyper_util::client::legacy::connect::HttpConnector;
use std::net::IpAddr;
use std::time::Duration;

pub type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// http and https (rustls with the webpki roots; no system or downloaded certificates), with a
/// connect timeout and Nagle off.
pub fn connector(connect_timeout: Duration) -> anyhow::Result<Connector> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// `localhost` or a loopback address (brackets of an IPv6 literal allowed): where plain http is
/// acceptable, since nothing crosses a network.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
