//! A payment's whole life in Feishu's approval app: rejected and sent again as a new instance,
//! a second request while one is open refused with its reason, cancelled when Mica deletes or
//! settles the payment, and every instance shown.

use mica_tests::approvals::{payment_event, setup};
use mica_tests::harness::HostOptions;
use serde_json::Value;
use std::time::{Duration, Instant};

fn statuses_of(approval: &Value) -> Vec<(String, i64)> {
    approval["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["status"].as_str().unwrap().to_string(),
                i["round"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_payment_is_sent_again_and_an_open_one_is_cancelled() {
    let t = setup(true, HostOptions::default()).await;
    let first = t.start_payment("pay-r").await;
    t.sim.decide(&first, "REJECTED");
    t.wait_status("pay-r", "REJECTED").await;

    // Mica sends the payment for approval again (a new event): a new instance with a new uuid.
    let (status, body) = t
        .host
        .post_event(&payment_event("evt-pay-r-2", "pay-r", Some("ou_submitter")))
        .await;
    assert_eq!(status, 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        let (_, approval) = t.host.get("/api/v1/approvals/pay-r").await;
        if approval["round"] == 2 {
            break approval;
        }
        assert!(Instant::now() < deadline, "no second round: {approval}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let second_code = second["instance_code"].as_str().unwrap().to_string();
    assert_ne!(second_code, first);
    assert_eq!(second["status"], "PENDING");
    assert_eq!(
        statuses_of(&second),
        vec![("REJECTED".into(), 1), ("PENDING".into(), 2)]
    );
    assert_eq!(second["instances"][0]["instance_code"], first.as_str());
    assert_eq!(
        second["instances"][0]["history"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        second["history"].as_array().unwrap().len(),
        1,
        "the current instance's own history"
    );
    let instances = t.sim.instances();
    assert_eq!(instances.len(), 2);
    assert_ne!(
        instances[0].uuid, instances[1].uuid,
        "a new uuid for the new round"
    );

    // A third request while the second instance is open: refused, naming what to do.
    let (status, _) = t
        .host
        .post_event(&payment_event("evt-pay-r-3", "pay-r", Some("ou_submitter")))
        .await;
    assert_eq!(status, 202);
    let jobs = t.host.settled("evt-pay-r-3").await;
    let job = jobs.iter().find(|d| d["kind"] == "approval").unwrap();
    assert_eq!(job["status"], "failed", "{job}");
    let reason = job["last_error"].as_str().unwrap();
    assert!(
        reason.contains(&second_code) && reason.contains("cancel"),
        "{reason}"
    );
    assert_eq!(t.sim.instances().len(), 2, "nothing created in Feishu");

    // A late callback about the first round's instance changes nothing now.
    t.sim.decide(&first, "REVERTED");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, approval) = t.host.get("/api/v1/approvals/pay-r").await;
    assert_eq!(approval["status"], "PENDING");
    assert_eq!(approval["instance_code"], second_code.as_str());

    // Mica deletes the payment: the open instance is cancelled in Feishu, and Mica is told.
    let (status, body) = t
        .host
        .post_json("/api/v1/approvals/pay-r/cancel", &Value::Null)
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["instance_code"], second_code.as_str());
    let (again, again_body) = t
        .host
        .post_json("/api/v1/approvals/pay-r/cancel", &Value::Null)
        .await;
    assert!(
        again == 202 && again_body["created"] == false || again == 409,
        "asking twice creates nothing new: {again} {again_body}"
    );
    t.wait_status("pay-r", "CANCELED").await;
    let cancelled = t
        .sim
        .instances()
        .into_iter()
        .find(|i| i.instance_code == second_code)
        .unwrap();
    assert_eq!(cancelled.status, "CANCELED");
    let (status, body) = t
        .host
        .post_json("/api/v1/approvals/pay-r/cancel", &Value::Null)
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("already CANCELED")
    );
    let notices: Vec<String> = t
        .wait_notices(4)
        .await
        .iter()
        .filter(|(n, _)| n["payment_id"] == "pay-r")
        .map(|(n, _)| n["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(notices, vec!["PENDING", "REJECTED", "PENDING", "CANCELED"]);

    // And after a cancel the payment may be sent once more.
    let (status, _) = t
        .host
        .post_event(&payment_event("evt-pay-r-4", "pay-r", Some("ou_submitter")))
        .await;
    assert_eq!(status, 202);
    t.host.settled("evt-pay-r-4").await;
    let (_, approval) = t.host.get("/api/v1/approvals/pay-r").await;
    assert_eq!(approval["round"], 3, "{approval}");

    let (status, _) = t
        .host
        .post_json("/api/v1/approvals/pay-unknown/cancel", &Value::Null)
        .await;
    assert_eq!(status, 404);
    t.host.host.stop().await;
}
