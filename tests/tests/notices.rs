//! Notices to Mica: signed with a timestamp, in order per payment, and a notice Mica keeps
//! refusing becomes a visible dead letter (API, CLI, metric) instead of being retried forever.

use mica_tests::approvals::setup;
use mica_tests::harness::HostOptions;
use serde_json::Value;
use std::time::{Duration, Instant};

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_notice_becomes_a_dead_letter_and_never_lets_a_later_status_overtake_it() {
    let t = setup(true, HostOptions::default()).await;
    // Mica refuses everything with 422 for now (say, a bridge version that cannot parse it).
    {
        let mut m = t.mica.state.lock().unwrap();
        m.refuse = usize::MAX;
        m.refuse_with = Some(422);
    }
    let code = t.start_payment("pay-dead").await;
    t.sim.decide(&code, "APPROVED");
    t.wait_status("pay-dead", "APPROVED").await;

    // While PENDING is still being refused, APPROVED waits behind it: every attempt so far was
    // the first notice's.
    let ids = || t.mica.state.lock().unwrap().notice_ids.clone();
    wait_for("three refusals", async || ids().len() >= 3).await;
    let first = ids()[0].clone();
    assert!(ids().iter().all(|id| *id == first), "{:?}", ids());

    // After five refusals the first notice is a dead letter, and the second one goes ahead.
    let failed = async || {
        let (status, body) = t.host.get("/api/v1/notices/failed").await;
        assert_eq!(status, 200, "{body}");
        body["notices"].as_array().cloned().unwrap_or_default()
    };
    wait_for("a dead letter", async || !failed().await.is_empty()).await;
    let dead = failed().await;
    assert_eq!(dead.len(), 1, "{dead:#?}");
    assert_eq!(dead[0]["notice_id"], first.as_str());
    assert_eq!(dead[0]["payment_id"], "pay-dead");
    assert_eq!(dead[0]["body"]["status"], "PENDING");
    assert_eq!(dead[0]["attempts"], 5);
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains("422"),
        "{dead:#?}"
    );
    wait_for("the second notice tried", async || {
        ids().iter().any(|id| *id != first)
    })
    .await;
    let metrics = reqwest::get(format!("{}/metrics", t.host.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(metric(&metrics, "mica_notices_failed"), 1.0, "{metrics}");

    // Mica is fixed: both notices arrive, the dead letter once re-queued, nothing twice.
    t.mica.state.lock().unwrap().refuse = 0;
    let approved_arrived = async || {
        t.mica
            .notices()
            .iter()
            .any(|(n, signed)| *signed && n["status"] == "APPROVED")
    };
    wait_for("APPROVED delivered", approved_arrived).await;
    let (status, body) = t
        .host
        .post_json(
            &format!("/api/v1/notices/{}/retry", dead[0]["id"]),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_for("PENDING delivered", async || t.mica.notices().len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let statuses: Vec<String> = t
        .mica
        .notices()
        .iter()
        .map(|(n, _)| n["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, vec!["APPROVED", "PENDING"], "each once");
    assert!(failed().await.is_empty());
    let (status, _) = t
        .host
        .post_json("/api/v1/notices/999/retry", &Value::Null)
        .await;
    assert_eq!(status, 404);
    t.host.host.stop().await;
}
