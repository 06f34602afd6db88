//! Failed deliveries can be listed and sent again, by API and CLI, and arrive once.

use mica_tests::harness::{TestHost, event, host_command, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_listed_and_retried_over_the_api() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    sim.with(|s| s.unreachable.insert("gone@example.com".into()));
    h.post_event(&event(
        "po_created",
        "evt-dl",
        vec![recipient("gone@example.com", "zh-CN")],
    ))
    .await;
    let d = h.settled("evt-dl").await;
    assert_eq!(d[0]["status"], "failed");
    let id = d[0]["id"].as_str().unwrap().to_string();
    let (status, failed) = h.get("/api/v1/deliveries/failed").await;
    assert_eq!(status, 200);
    let listed = &failed["deliveries"][0];
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["feishu_code"], 230013);
    assert!(listed["feishu_log_id"].is_string());

    // The administrator adds the person to the app's availability scope, then retries.
    sim.with(|s| s.unreachable.clear());
    let (status, body) = h
        .post_json(&format!("/api/v1/deliveries/{id}/retry"), &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    let d = h.settled("evt-dl").await;
    assert_eq!(d[0]["status"], "sent");
    assert_eq!(d[0]["attempts"], 1, "attempts start again");
    assert_eq!(sim.messages().len(), 1);
    let (status, _) = h
        .post_json(&format!("/api/v1/deliveries/{id}/retry"), &Value::Null)
        .await;
    assert_eq!(status, 409, "a sent delivery is not retried");
    let (status, _) = h
        .post_json("/api/v1/deliveries/dlv-nothing/retry", &Value::Null)
        .await;
    assert_eq!(status, 404);
    let (status, _) = h.get("/api/v1/deliveries/failed?limit=0").await;
    assert_eq!(status, 400);
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_and_retries_every_failed_delivery_of_a_running_host() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    sim.with(|s| s.send_scope_granted = false);
    h.post_event(&event(
        "pr_submitted",
        "evt-cli-dl",
        vec![
            recipient("a@example.com", "zh-CN"),
            recipient("b@example.com", "en-US"),
        ],
    ))
    .await;
    let d = h.settled("evt-cli-dl").await;
    assert!(d.iter().all(|d| d["status"] == "failed"));
    let cli = |args: &[&str]| {
        host_command(h.dir.path())
            .args(args)
            .env_remove("MICA_SECRET_KEY")
            .output()
            .unwrap()
    };
    let listed = cli(&["deliveries", "failed"]);
    let text = String::from_utf8_lossy(&listed.stdout).to_string();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("99991672") && text.contains("im:message:send_as_bot"),
        "{text}"
    );
    sim.with(|s| s.send_scope_granted = true);
    let retried = cli(&["deliveries", "retry", "--all"]);
    assert_eq!(
        String::from_utf8_lossy(&retried.stdout).trim(),
        "2 deliveries queued again"
    );
    let d = h.settled("evt-cli-dl").await;
    assert!(d.iter().all(|d| d["status"] == "sent"), "{d:?}");
    assert_eq!(sim.messages().len(), 2);
    assert!(
        !cli(&["deliveries", "retry"]).status.success(),
        "an id or --all is required"
    );
    h.host.stop().await;
}
