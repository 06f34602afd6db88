//! Cards that stay true: a requisition decided after its cards went out redraws them in place
//! (Feishu's message PATCH), once; a failing redraw is retried; a card not sent yet is waited for;
//! a card older than Feishu's 14 days is left as it is, recorded; a payment card shows its
//! approval's outcome once Feishu decides it.

use mica_tests::approvals::setup;
use mica_tests::harness::{HostOptions, TestHost, card_text, event, recipient};
use mica_tests::sim::{Fault, FeishuSim, SentMessage};
use serde_json::Value;
use std::time::{Duration, Instant};

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn approvers() -> Vec<Value> {
    vec![
        recipient("approver.one@example.com", "en-US"),
        recipient("approver.two@example.com", "zh-CN"),
    ]
}

fn of_kind<'a>(deliveries: &'a [Value], kind: &str) -> Vec<&'a Value> {
    deliveries.iter().filter(|d| d["kind"] == kind).collect()
}

fn message_to<'a>(messages: &'a [SentMessage], email: &str) -> &'a SentMessage {
    messages
        .iter()
        .find(|m| m.receive_id == email)
        .unwrap_or_else(|| panic!("no message to {email}"))
}

fn tag(card: &Value) -> &str {
    card["header"]["text_tag_list"][0]["text"]["content"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_redraws_the_approvers_cards_once_and_a_failing_redraw_is_retried() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    let (status, body) = host
        .post_event(&event("pr_submitted", "evt-pr", approvers()))
        .await;
    assert_eq!(status, 202, "{body}");
    let sent = host.settled("evt-pr").await;
    assert!(sent.iter().all(|d| d["status"] == "sent"), "{sent:#?}");
    let before = sim.messages();
    assert_eq!(before.len(), 2);
    assert!(
        before
            .iter()
            .all(|m| m.card["header"]["template"] == "blue")
    );

    // Feishu fails the first update; it is retried like any delivery.
    sim.with(|s| s.update_faults.push_back(Fault::Status(502)));
    let decided = event(
        "approval_decided",
        "evt-decided",
        vec![recipient("han@example.com", "zh-CN")],
    );
    let (status, body) = host.post_event(&decided).await;
    assert_eq!(status, 202, "{body}");
    let listed = body["deliveries"].as_array().unwrap();
    assert_eq!(
        of_kind(listed, "card_update").len(),
        2,
        "one redraw per approver's card, listed with the decision: {body}"
    );

    let deliveries = host.settled("evt-decided").await;
    let redraws = of_kind(&deliveries, "card_update");
    assert_eq!(redraws.len(), 2, "{deliveries:#?}");
    let originals: Vec<&str> = sent.iter().map(|d| d["id"].as_str().unwrap()).collect();
    for r in &redraws {
        assert_eq!(r["status"], "sent", "{r:#}");
        assert_eq!(r["class"], "update");
        assert!(
            originals.contains(&r["redraws"].as_str().unwrap()),
            "names the card it redraws: {r:#}"
        );
        assert!(
            r["feishu_message_id"].as_str().unwrap().starts_with("om_"),
            "{r:#}"
        );
    }
    let attempts: i64 = redraws
        .iter()
        .map(|r| r["attempts"].as_i64().unwrap())
        .sum();
    assert_eq!(
        attempts, 3,
        "the failed update was tried again: {redraws:#?}"
    );
    // The applicant's own decision card is a new message, not an update.
    assert_eq!(
        of_kind(&deliveries, "notify")[0]["status"],
        "sent",
        "{deliveries:#?}"
    );

    let after = sim.messages();
    assert_eq!(after.len(), 3, "no card was sent twice");
    for (email, rejected) in [
        ("approver.one@example.com", "Rejected"),
        ("approver.two@example.com", "已驳回"),
    ] {
        let m = message_to(&after, email);
        assert_eq!(m.updates, 1, "{email}: redrawn once");
        assert_eq!(m.card["header"]["template"], "red", "{email}");
        assert_eq!(tag(&m.card), rejected, "{email}");
        let text = card_text(&m.card);
        assert!(
            text.contains("王芳") && text.contains("Over budget"),
            "{text}"
        );
        assert!(text.contains("2026-11-25 02:14 UTC"), "{text}");
        // Still the same card: its title and button are the requisition's.
        let original = message_to(&before, email);
        assert_eq!(m.card["header"]["title"], original.card["header"]["title"]);
    }
    assert_eq!(
        sim.with(|s| s.update_arrivals.len()),
        3,
        "two redraws and one retry reached Feishu"
    );

    // Mica sending the decision again changes nothing.
    let (status, again) = host.post_event(&decided).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(host.deliveries("evt-decided").await.len(), deliveries.len());
    assert!(sim.messages().iter().all(|m| m.updates <= 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_not_sent_yet_is_waited_for_and_a_card_older_than_14_days_is_left_alone() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;

    // The approver's card is slow to go out; the decision arrives meanwhile.
    sim.inject([Fault::Delay(Duration::from_millis(1500))]);
    let mut pr = event(
        "pr_submitted",
        "evt-slow",
        vec![recipient("slow@example.com", "en-US")],
    );
    pr["data"]["pr_id"] = "pr-slow".into();
    assert_eq!(host.post_event(&pr).await.0, 202);
    let mut decided = event("approval_decided", "evt-slow-decided", vec![]);
    decided["data"]["pr_id"] = "pr-slow".into();
    decided["data"]["result"] = "approved".into();
    let (status, body) = host.post_event(&decided).await;
    assert_eq!(status, 202, "{body}");
    let waiting = async || {
        host.deliveries("evt-slow-decided")
            .await
            .iter()
            .any(|d| d["error_kind"] == "awaiting_card" && d["attempts"] == 0)
    };
    wait_for("the redraw to wait for its card", waiting).await;
    let done = host.settled("evt-slow-decided").await;
    assert_eq!(done.len(), 1, "{done:#?}");
    assert_eq!(done[0]["status"], "sent", "{done:#?}");
    let m = message_to(&sim.messages(), "slow@example.com").clone();
    assert_eq!((m.updates, tag(&m.card)), (1, "Approved"));

    // A card sent more than 14 days ago: Feishu would refuse the update, so none is made.
    let mut old = event(
        "pr_submitted",
        "evt-old",
        vec![recipient("old@example.com", "en-US")],
    );
    old["data"]["pr_id"] = "pr-old".into();
    assert_eq!(host.post_event(&old).await.0, 202);
    let sent = host.settled("evt-old").await;
    {
        let fifteen_days_ms: i64 = 15 * 24 * 3600 * 1000;
        let id = sent[0]["id"].as_str().unwrap().to_string();
        let changed = host
            .host
            .store
            .with(|c| {
                c.execute(
                    "UPDATE deliveries SET sent_at = sent_at - ?2 WHERE id = ?1",
                    mica_host::store::db::params![id, fifteen_days_ms],
                )
            })
            .unwrap();
        assert_eq!(changed, 1);
    }
    let patches_before = sim.with(|s| s.update_arrivals.len());
    let mut late = event("approval_decided", "evt-old-decided", vec![]);
    late["data"]["pr_id"] = "pr-old".into();
    assert_eq!(host.post_event(&late).await.0, 202);
    let left = host.settled("evt-old-decided").await;
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(left[0]["status"], "skipped", "{left:#?}");
    assert!(
        left[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("more than 14 days ago"),
        "{left:#?}"
    );
    assert_eq!(sim.with(|s| s.update_arrivals.len()), patches_before);
    assert_eq!(message_to(&sim.messages(), "old@example.com").updates, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_card_shows_the_outcome_of_its_approval_in_feishu() {
    let t = setup(true, HostOptions::default()).await;
    let code = t.start_payment("pay-1").await;
    let before = t.host.settled("evt-pay-1").await;
    assert_eq!(of_kind(&before, "card_update").len(), 0, "{before:#?}");
    let card = message_to(&t.sim.messages(), "finance@example.com").clone();
    assert_eq!(card.updates, 0);

    t.sim.decide(&code, "REJECTED");
    t.wait_status("pay-1", "REJECTED").await;
    let redrawn = async || {
        let d = t.host.deliveries("evt-pay-1").await;
        of_kind(&d, "card_update")
            .iter()
            .any(|r| r["status"] == "sent")
    };
    wait_for("the payment card redrawn", redrawn).await;
    let m = message_to(&t.sim.messages(), "finance@example.com").clone();
    assert_eq!(m.updates, 1);
    assert_eq!(m.card["header"]["template"], "red");
    assert_eq!(tag(&m.card), "Rejected");
    assert!(
        card_text(&m.card).contains("**Feishu approval:** Rejected"),
        "{}",
        card_text(&m.card)
    );
    let deliveries = t.host.settled("evt-pay-1").await;
    let redraws = of_kind(&deliveries, "card_update");
    assert_eq!(redraws.len(), 1, "{deliveries:#?}");
    assert_eq!(
        redraws[0]["redraws"],
        of_kind(&deliveries, "notify")[0]["id"],
        "{deliveries:#?}"
    );
}
