//! Behind a corporate proxy: Feishu reached over HTTPS through a CONNECT proxy whose TLS-inspecting
//! CA is trusted from `MICA_EXTRA_CA_FILE`; a refusing proxy named by Test Connection; the
//! allow-list still judging the target origin, not the proxy.

use mica_host::net::NetConfig;
use mica_tests::harness::{HostOptions, TestHost, check, event, fixture_wasm, recipient};
use mica_tests::proxy::ConnectProxy;
use mica_tests::sim::{APP_ID, APP_SECRET, FeishuSim};
use mica_tests::tls_front::TlsFront;
use serde_json::json;
use std::sync::Arc;

const NAME: &str = "open.feishu.test";

async fn host_behind(proxy: &ConnectProxy, ca: Option<&TlsFront>, base_url: &str) -> TestHost {
    let options = HostOptions {
        net: NetConfig {
            https_proxy: Some(proxy.url()),
            no_proxy: None,
            extra_ca_file: ca.map(|f| f.ca_file.clone()),
        },
        ..HostOptions::default()
    };
    let host = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    host.set("auth.feishu.base_url", json!(base_url));
    host.set("auth.feishu.app_id", json!(APP_ID));
    host.set("auth.feishu.app_secret", json!(APP_SECRET));
    host.set("auth.feishu.enabled", json!(true));
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_go_out_through_the_proxy_and_its_failures_are_named() {
    let sim = FeishuSim::start().await;
    let front = TlsFront::start(NAME, sim.addr).await;
    let proxy = ConnectProxy::start().await;
    let target = format!("{NAME}:{}", front.addr.port());
    proxy.route(&target, front.addr);
    let base_url = format!("https://{target}");

    let host = host_behind(&proxy, Some(&front), &base_url).await;
    let e = event(
        "po_created",
        "evt-proxy-1",
        vec![recipient("a@example.com", "en-US")],
    );
    let (status, body) = host.post_event(&e).await;
    assert_eq!(status, 202, "{body}");
    let d = host.settled("evt-proxy-1").await;
    assert_eq!(d[0]["status"], "sent", "{}", d[0]);
    assert_eq!(sim.messages().len(), 1, "the card reached Feishu");
    assert!(
        proxy.connects().iter().all(|c| *c == target) && !proxy.connects().is_empty(),
        "every connection was a tunnel to Feishu's origin: {:?}",
        proxy.connects()
    );
    let (status, answer) = host.test_connection(None).await;
    assert_eq!(status, 200, "{answer}");

    host.host.stop().await;

    // A proxy that refuses the tunnel (a fresh host: the first one keeps its open tunnel):
    // Test Connection says it is the proxy, not Feishu.
    proxy.state.lock().unwrap().refuse_with = Some(407);
    let host = host_behind(&proxy, Some(&front), &base_url).await;
    let (status, answer) = host.test_connection(None).await;
    assert_eq!(status, 422, "{answer}");
    let reachable = check(&answer, "base_url_reachable");
    let detail = reachable["detail"].as_str().unwrap();
    assert!(
        detail.contains("HTTPS proxy") && detail.contains(&proxy.url()),
        "{detail}"
    );
    assert_eq!(reachable["ok"], false);
    host.host.stop().await;

    // Without the proxy's CA the TLS handshake fails: nothing is sent.
    proxy.state.lock().unwrap().refuse_with = None;
    let untrusting = host_behind(&proxy, None, &base_url).await;
    let (status, answer) = untrusting.test_connection(None).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(check(&answer, "base_url_reachable")["ok"], false);
    assert_eq!(sim.messages().len(), 1);
    untrusting.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_judges_the_target_not_the_proxy() {
    let proxy = ConnectProxy::start().await;
    let options = HostOptions {
        plugin: Some(fixture_wasm("fixture_outbound_probe")),
        net: NetConfig {
            https_proxy: Some(proxy.url()),
            ..Default::default()
        },
        ..Default::default()
    };
    let host = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    host.set("probe.base_url", json!("https://open.feishu.test"));
    let mut elsewhere = event(
        "po_created",
        "evt-elsewhere",
        vec![recipient("a@example.com", "zh-CN")],
    );
    elsewhere["data"]["url"] = json!("https://attacker.example/steal");
    host.post_event(&elsewhere).await;
    let d = host.settled("evt-elsewhere").await;
    assert_eq!(d[0]["status"], "failed");
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{}",
        d[0]
    );
    assert!(
        proxy.connects().is_empty(),
        "refused before the proxy was asked: {:?}",
        proxy.connects()
    );
    host.host.stop().await;
}
