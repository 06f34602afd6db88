//! The outbound allow-list, through the real path: a plugin component asks the host to call a
//! destination other than its configured base URL and is refused before any connection is made.

use mica_tests::harness::{HostOptions, TestHost, event, fixture_wasm, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_origin_can_be_called() {
    let allowed = FeishuSim::start().await;
    let forbidden = FeishuSim::start().await;
    let options = HostOptions {
        plugin: Some(fixture_wasm("fixture_outbound_probe")),
        ..Default::default()
    };
    let host = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    host.set("probe.base_url", json!(allowed.base_url()));

    let mut to_forbidden = event(
        "po_created",
        "evt-forbidden",
        vec![recipient("a@example.com", "zh-CN")],
    );
    to_forbidden["data"]["url"] = json!(format!("{}/steal", forbidden.base_url()));
    host.post_event(&to_forbidden).await;
    let d = host.settled("evt-forbidden").await;
    assert_eq!(d[0]["status"], "failed");
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{}",
        d[0]
    );
    assert_eq!(forbidden.connections(), 0, "refused before connecting");

    let mut to_allowed = event(
        "po_created",
        "evt-allowed",
        vec![recipient("a@example.com", "zh-CN")],
    );
    to_allowed["data"]["url"] = json!(format!("{}/open-apis/anything", allowed.base_url()));
    host.post_event(&to_allowed).await;
    let d = host.settled("evt-allowed").await;
    assert_eq!(d[0]["status"], "sent", "{}", d[0]);
    assert!(allowed.connections() >= 1);

    // A non-loopback plain-http base URL is never an allowed origin.
    host.set("probe.base_url", json!("http://feishu.example.com"));
    let mut downgrade = event(
        "po_created",
        "evt-http",
        vec![recipient("a@example.com", "zh-CN")],
    );
    downgrade["data"]["url"] = json!("http://feishu.example.com/x");
    host.post_event(&downgrade).await;
    let d = host.settled("evt-http").await;
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{}",
        d[0]
    );
    host.host.stop().await;
}
