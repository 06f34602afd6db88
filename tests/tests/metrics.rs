//! `/metrics` in Prometheus text format, values moving as deliveries happen. Its own test binary,
//! so the process-wide counters change only because of this test.

use mica_tests::harness::{TestHost, event, recipient};
use mica_tests::sim::{Fault, FeishuSim};

async fn scrape(h: &TestHost) -> String {
    let resp = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    resp.text().await.unwrap()
}

/// The value of one series (`name{labels}`), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_deliveries_errors_and_webhooks() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let before = scrape(&h).await;
    sim.inject([Fault::RateLimit { reset_secs: 0 }]);
    h.post_event(&event(
        "po_created",
        "evt-m",
        vec![
            recipient("a@example.com", "zh-CN"),
            recipient("b@example.com", "zh-CN"),
        ],
    ))
    .await;
    h.settled("evt-m").await;
    let webhook = h
        .http
        .post(format!("{}/api/v1/feishu/webhook", h.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 503, "no verification token configured");
    let after = scrape(&h).await;
    let delta = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(
        delta(r#"mica_deliveries_total{kind="notify",outcome="sent",type="po_created"}"#),
        2.0,
        "{after}"
    );
    assert_eq!(
        delta(r#"mica_deliveries_total{kind="notify",outcome="retry",type="po_created"}"#),
        1.0
    );
    assert_eq!(delta(r#"mica_remote_errors_total{code="99991400"}"#), 1.0);
    assert_eq!(
        delta(r#"mica_events_accepted_total{type="po_created"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"mica_plugin_call_seconds_count{export="notify"}"#),
        3.0
    );
    assert_eq!(
        delta(r#"mica_webhook_requests_total{outcome="refused"}"#),
        1.0
    );
    assert_eq!(value(&after, "mica_queue_depth"), 0.0);
    assert!(after.contains("# TYPE mica_plugin_call_seconds histogram"));
    h.host.stop().await;
}
