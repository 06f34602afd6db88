//! Payment approvals end to end: payment_pending → Feishu instance → decision in Feishu → signed,
//! encrypted callback → approval status in the host → signed notice to Mica.

use mica_tests::approvals::{APPROVAL_CODE, VERIFICATION_TOKEN, payment_event, setup};
use mica_tests::harness::HostOptions;
use mica_tests::sim::approval::payment_template;
use mica_tests::sim::callbacks::approval_event;
use serde_json::{Value, json};
use std::time::Duration;

fn statuses(approval: &Value) -> Vec<(String, String)> {
    approval["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap().into(),
                h["source"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_approved_in_feishu_and_mica_is_told_once() {
    let t = setup(true, HostOptions::default()).await;
    t.mica.state.lock().unwrap().refuse = 1; // Mica is briefly down: the notice is retried.
    let code = t.start_payment("pay-1").await;

    let instance = t
        .sim
        .instances()
        .into_iter()
        .find(|i| i.instance_code == code)
        .unwrap();
    assert_eq!(
        instance.initiator,
        ("open_id".to_string(), "ou_submitter".to_string())
    );
    let widget = |id: &str| {
        instance
            .form
            .iter()
            .find(|w| w["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(widget("widget_payment_no")["value"], "PAY-2026-0009");
    assert_eq!(
        widget("widget_amount"),
        json!({"id": "widget_amount", "type": "amount", "value": 6250.0, "currency": "CNY"})
    );
    assert_eq!(widget("widget_due")["value"], "2026-12-15T00:00:00+08:00");
    assert_eq!(widget("widget_supplier")["value"], "ACME Ltd.");
    assert_eq!(
        widget("widget_link")["value"],
        "https://mica.example.com/pay/9"
    );
    assert!(
        t.sim.with(|s| s.subscriptions.contains(APPROVAL_CODE)),
        "the app subscribed to the template"
    );
    // The finance recipient still gets the payment card.
    let deliveries = t.host.settled("evt-pay-1").await;
    assert!(
        deliveries.iter().all(|d| d["status"] == "sent"),
        "{deliveries:#?}"
    );

    t.sim.decide(&code, "APPROVED");
    let approval = t.wait_status("pay-1", "APPROVED").await;
    assert_eq!(approval["instance_code"], code.as_str());
    assert_eq!(
        statuses(&approval),
        vec![
            ("PENDING".into(), "create".into()),
            ("APPROVED".into(), "webhook".into())
        ]
    );
    let notices = t.wait_notices(2).await;
    assert!(
        notices.iter().all(|(_, signed)| *signed),
        "every notice carries a valid X-Mica-Signature"
    );
    let approved: Vec<_> = notices
        .iter()
        .filter(|(n, _)| n["status"] == "APPROVED")
        .collect();
    assert_eq!(approved.len(), 1);
    let n = &approved[0].0;
    assert_eq!(n["type"], "payment.approval_updated");
    assert_eq!(n["payment_id"], "pay-1");
    assert_eq!(n["instance_code"], code.as_str());
    assert!(n["operate_time"].as_str().unwrap().ends_with('Z'));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(t.mica.notices().len(), 2, "nothing doubled");
    // The first notice was refused once and sent again under the same X-Mica-Notice-Id, which
    // is what Mica deduplicates by; the second notice has an id of its own.
    let ids = t.mica.state.lock().unwrap().notice_ids.clone();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], ids[1], "a retry keeps its notice id: {ids:?}");
    assert_ne!(ids[1], ids[2], "{ids:?}");
    t.host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_canceled_and_reverted_after_approved() {
    let t = setup(true, HostOptions::default()).await;
    let rejected = t.start_payment("pay-r").await;
    let canceled = t.start_payment("pay-c").await;
    let reverted = t.start_payment("pay-v").await;
    t.sim.decide(&rejected, "REJECTED");
    t.sim.decide(&canceled, "CANCELED");
    t.sim.decide(&reverted, "APPROVED");
    t.wait_status("pay-r", "REJECTED").await;
    t.wait_status("pay-c", "CANCELED").await;
    t.wait_status("pay-v", "APPROVED").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    t.sim.decide(&reverted, "REVERTED");
    let v = t.wait_status("pay-v", "REVERTED").await;
    let history: Vec<String> = statuses(&v).into_iter().map(|(s, _)| s).collect();
    assert_eq!(history, vec!["PENDING", "APPROVED", "REVERTED"]);
    t.host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_out_of_order_callbacks_change_nothing() {
    let t = setup(true, HostOptions::default()).await;
    let code = t.start_payment("pay-d").await;
    t.sim.with(|s| s.duplicate_callbacks = true);
    let event_id = t.sim.decide(&code, "APPROVED");
    t.wait_status("pay-d", "APPROVED").await;
    // Both copies were acknowledged with 200, one was applied.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while t.sim.with(|s| {
        s.callback_log
            .iter()
            .filter(|(id, st)| *id == event_id && *st == 200)
            .count()
    }) < 2
    {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A late PENDING (older operate time, new event id) and an old REJECTED arrive afterwards.
    let old = 1_600_000_000_000;
    let late_pending = approval_event(
        "evt-late-1",
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &code,
        "PENDING",
        old,
    );
    let old_rejected = approval_event(
        "evt-late-2",
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &code,
        "REJECTED",
        old + 1,
    );
    assert_eq!(t.sim.push(&late_pending).await, 200);
    assert_eq!(t.sim.push(&old_rejected).await, 200);
    // The decision's own event id again, now claiming a newer REJECTED: deduplicated by its id.
    let now = chrono::Utc::now().timestamp_millis() as u64;
    let replayed = approval_event(
        &event_id,
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &code,
        "REJECTED",
        now,
    );
    // A PENDING newer than the decision: only REVERTED or OVERTIME_RECOVER reopen a decision.
    let newer_pending = approval_event(
        "evt-late-3",
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &code,
        "PENDING",
        now + 1,
    );
    assert_eq!(t.sim.push(&replayed).await, 200);
    assert_eq!(t.sim.push(&newer_pending).await, 200);
    let a = t.wait_status("pay-d", "APPROVED").await;
    let history: Vec<String> = statuses(&a).into_iter().map(|(s, _)| s).collect();
    assert_eq!(history, vec!["PENDING", "APPROVED"]);
    let notices = t.wait_notices(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(t.mica.notices().len(), 2, "{notices:#?}");
    t.host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_callback_is_recovered_by_reconciliation() {
    let options = HostOptions {
        reconcile_after: Duration::from_millis(300),
        ..Default::default()
    };
    let t = setup(true, options).await;
    let code = t.start_payment("pay-lost").await;
    t.sim.with(|s| s.lose_callbacks = 1);
    t.sim.decide(&code, "APPROVED");
    let a = t.wait_status("pay-lost", "APPROVED").await;
    assert_eq!(
        statuses(&a).last().unwrap(),
        &("APPROVED".to_string(), "reconcile".to_string())
    );
    assert!(
        t.sim.with(|s| s.callback_log.is_empty()),
        "no callback ever reached the host"
    );
    let notices = t.wait_notices(2).await;
    assert_eq!(notices[1].0["status"], "APPROVED");
    t.host.host.stop().await;
}

/// Without the scope to subscribe, Feishu sends no callbacks at all: Test Connection names the
/// scope, and the decision still reaches Mica by re-reading the instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_subscription_the_decision_still_reaches_mica_by_re_reading() {
    let options = HostOptions {
        reconcile_after: Duration::from_millis(300),
        ..Default::default()
    };
    let t = setup(true, options).await;
    t.sim.with(|s| s.subscribe_scope_granted = false);
    let code = t.start_payment("pay-unsubscribed").await;
    assert!(t.sim.with(|s| s.subscriptions.is_empty()));
    let (status, answer) = t.host.test_connection(None).await;
    assert_eq!(status, 422, "{answer}");
    let subscription = mica_tests::harness::check(&answer, "approval_subscription");
    assert_eq!(subscription["ok"], false, "{subscription}");
    assert!(
        subscription["detail"]
            .as_str()
            .unwrap()
            .contains("approval:approval"),
        "{subscription}"
    );
    t.sim.decide(&code, "APPROVED");
    let a = t.wait_status("pay-unsubscribed", "APPROVED").await;
    assert_eq!(
        statuses(&a).last().unwrap(),
        &("APPROVED".to_string(), "reconcile".to_string())
    );
    assert!(
        t.sim.with(|s| s.callback_log.is_empty()),
        "Feishu sent no callback"
    );
    assert_eq!(t.sim.with(|s| s.unsubscribed_decisions), 1);
    let notices = t.wait_notices(2).await;
    assert_eq!(notices[1].0["status"], "APPROVED");
    t.host.host.stop().await;
}

/// Feishu's v2.0 event (`approval.instance.status_changed_v4`) is applied like the v1 one, and so
/// are the statuses a template with time limits and deletion produces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_events_and_overtime_and_deleted_statuses_are_applied() {
    let t = setup(true, HostOptions::default()).await;
    t.sim.with(|s| s.v2_callbacks = true);
    let approved = t.start_payment("pay-v2").await;
    t.sim.decide(&approved, "APPROVED");
    let a = t.wait_status("pay-v2", "APPROVED").await;
    assert_eq!(
        statuses(&a).last().unwrap(),
        &("APPROVED".to_string(), "webhook".to_string())
    );
    let timed = t.start_payment("pay-overtime").await;
    for (i, status) in ["OVERTIME_CLOSE", "OVERTIME_RECOVER", "DELETED"]
        .into_iter()
        .enumerate()
    {
        // Every other one as v1, so both shapes carry each kind of change.
        t.sim.with(|s| s.v2_callbacks = i % 2 == 0);
        // Feishu's operate times are in milliseconds: keep each change later than the last.
        tokio::time::sleep(Duration::from_millis(5)).await;
        t.sim.decide(&timed, status);
        t.wait_status("pay-overtime", status).await;
    }
    let a = t.wait_status("pay-overtime", "DELETED").await;
    let history: Vec<String> = statuses(&a).into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        history,
        vec!["PENDING", "OVERTIME_CLOSE", "OVERTIME_RECOVER", "DELETED"]
    );
    let told: Vec<String> = t
        .wait_notices(6)
        .await
        .iter()
        .filter(|(n, _)| n["payment_id"] == "pay-overtime")
        .map(|(n, _)| n["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(told, history, "Mica is told each change, in order");
    t.host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_is_found_by_its_uuid() {
    let t = setup(false, HostOptions::default()).await;
    t.sim.with(|s| s.lose_create_answers = 1);
    let code = t.start_payment("pay-60012").await;
    assert_eq!(t.sim.instances().len(), 1, "one instance, not two");
    assert_eq!(t.sim.with(|s| s.create_calls), 2, "the retry hit 60012");
    let jobs: Vec<Value> = t
        .host
        .settled("evt-pay-60012")
        .await
        .into_iter()
        .filter(|d| d["kind"] == "approval")
        .collect();
    assert_eq!(jobs[0]["status"], "sent");
    assert_eq!(jobs[0]["attempts"], 2);
    assert_eq!(jobs[0]["feishu_message_id"], code.as_str());
    // The same payment posted again under another event id finds the same instance.
    t.host
        .post_event(&payment_event(
            "evt-pay-60012-again",
            "pay-60012",
            Some("ou_submitter"),
        ))
        .await;
    t.host.settled("evt-pay-60012-again").await;
    assert_eq!(t.sim.instances().len(), 1);
    t.host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_that_arrives_before_the_create_answer_is_applied_once_recorded() {
    // An auto-approved template: Feishu reports the instance APPROVED before it answers the
    // request that created it, so the callback names an instance the host has not recorded yet.
    let t = setup(true, HostOptions::default()).await;
    t.sim.with(|s| s.decide_on_create = Some("APPROVED".into()));
    let (status, body) = t
        .host
        .post_event(&payment_event(
            "evt-pay-auto",
            "pay-auto",
            Some("ou_submitter"),
        ))
        .await;
    assert_eq!(status, 202, "{body}");
    let approval = t.wait_status("pay-auto", "APPROVED").await;
    assert_eq!(
        statuses(&approval),
        vec![
            ("PENDING".into(), "create".into()),
            ("APPROVED".into(), "webhook".into())
        ],
        "applied from the callback, not left for the reconciler"
    );
    let callbacks = t.sim.with(|s| s.callback_log.clone());
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(
        callbacks[0].1, 200,
        "acknowledged: Feishu will not send it again"
    );
    let notices = t.wait_notices(2).await;
    let told: Vec<&str> = notices
        .iter()
        .map(|(n, _)| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(told, vec!["PENDING", "APPROVED"]);
    t.host.settled("evt-pay-auto").await;
    assert_eq!(t.mica.notices().len(), 2, "nothing doubled");
    t.host.host.stop().await;
}

async fn failed_job(t: &mica_tests::approvals::ApprovalSetup, event_id: &str) -> Value {
    t.host
        .settled(event_id)
        .await
        .into_iter()
        .find(|d| d["kind"] == "approval")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_template_or_initiator_fails_with_a_reason() {
    let t = setup(false, HostOptions::default()).await;
    let mut template = payment_template();
    template
        .as_array_mut()
        .unwrap()
        .retain(|w| w["id"] != "widget_amount");
    t.sim.define_approval(APPROVAL_CODE, template);
    t.host
        .post_event(&payment_event("evt-tpl", "pay-tpl", Some("ou_submitter")))
        .await;
    let job = failed_job(&t, "evt-tpl").await;
    assert_eq!(job["status"], "failed");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("no widget for amount"),
        "{job}"
    );

    t.sim.define_approval(APPROVAL_CODE, payment_template());
    t.host
        .post_event(&payment_event("evt-noid", "pay-noid", None))
        .await;
    let job = failed_job(&t, "evt-noid").await;
    assert_eq!(job["status"], "failed");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("has no Feishu open_id or user_id"),
        "{job}"
    );
    assert_eq!(t.sim.with(|s| s.create_calls), 0);
    let (status, _) = t.host.get("/api/v1/approvals/pay-noid").await;
    assert_eq!(status, 404);
    t.host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_verification_plain_and_encrypted() {
    let plain = setup(false, HostOptions::default()).await;
    let challenge = json!({"challenge": "ajls384kdjx98XX", "token": VERIFICATION_TOKEN, "type": "url_verification"});
    let url = format!("{}/api/v1/feishu/webhook", plain.host.base);
    let resp = plain
        .host
        .http
        .post(&url)
        .json(&challenge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"challenge": "ajls384kdjx98XX"})
    );
    let wrong = json!({"challenge": "x", "token": "not-the-token", "type": "url_verification"});
    assert_eq!(
        plain
            .host
            .http
            .post(&url)
            .json(&wrong)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    plain.host.host.stop().await;

    let encrypted = setup(true, HostOptions::default()).await;
    assert_eq!(encrypted.sim.push(&challenge).await, 200);
    // Unsigned but encrypted: decrypting with the key is the proof for the handshake.
    let mut unsigned = encrypted.sim.with(|s| s.callback.clone()).unwrap();
    unsigned.sign = false;
    let (body, headers) = mica_tests::sim::callbacks::wire(&unsigned, &challenge);
    assert!(!headers.iter().any(|(k, _)| k == "x-lark-signature"));
    let mut req = encrypted
        .host
        .http
        .post(format!("{}/api/v1/feishu/webhook", encrypted.host.base))
        .body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let answer: Value = req.send().await.unwrap().json().await.unwrap();
    assert_eq!(answer, json!({"challenge": "ajls384kdjx98XX"}));
    encrypted.host.host.stop().await;
}
