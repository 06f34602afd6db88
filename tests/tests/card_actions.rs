//! Deciding in Feishu: a requisition card sent to an approver carries Approve and Reject buttons
//! and a comment box; a press comes back as a signed `card.action.trigger` callback, is taken once
//! per card (Feishu's retries and a second press change nothing), relayed to Mica as a signed
//! `pr.decision` notice, and the card follows the decision: "sending to Mica" at once, then
//! decided, or the reason Mica did not apply it. A forged button value and a press by anyone but
//! the card's recipient are refused and reach Mica not at all.

use mica_tests::approvals::{ApprovalSetup, setup};
use mica_tests::harness::{HostOptions, event, recipient};
use mica_tests::sim::SentMessage;
use mica_tests::sim::clicks::{Presser, button_value};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn tag(card: &Value) -> &str {
    card["header"]["text_tag_list"][0]["text"]["content"]
        .as_str()
        .unwrap_or("")
}

fn message_to(t: &ApprovalSetup, receive_id: &str) -> SentMessage {
    t.sim
        .messages()
        .into_iter()
        .find(|m| m.receive_id == receive_id)
        .unwrap_or_else(|| panic!("no message to {receive_id}"))
}

/// Two approvers: one known by email only, one by their Feishu open_id as well.
async fn requisition_sent(t: &ApprovalSetup) {
    let mut two = recipient("approver.two@example.com", "en-US");
    two["feishu_open_id"] = json!("ou_two");
    let approvers = vec![recipient("approver.one@example.com", "en-US"), two];
    let (status, body) = t
        .host
        .post_event(&event("pr_submitted", "evt-pr", approvers))
        .await;
    assert_eq!(status, 202, "{body}");
    let sent = t.host.settled("evt-pr").await;
    assert!(sent.iter().all(|d| d["status"] == "sent"), "{sent:#?}");
}

fn decisions(t: &ApprovalSetup) -> Vec<(Value, bool)> {
    t.mica
        .notices()
        .into_iter()
        .filter(|(n, _)| n["type"] == "pr.decision")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_decides_on_the_card_once_and_the_card_follows_the_decision() {
    let t = setup(true, HostOptions::default()).await;
    requisition_sent(&t).await;
    let card = message_to(&t, "approver.one@example.com");
    assert_eq!(
        card.card["config"]["enable_forward"], false,
        "{}",
        card.card
    );
    assert!(
        button_value(&card.card, "reject").is_some(),
        "{}",
        card.card
    );

    let one = Presser::new("ou_one", Some("on_one"));
    let press = t.sim.press(
        "evt-click-1",
        &card.message_id,
        "approve",
        Some("Within budget"),
        one.clone(),
    );
    let answer = t.sim.deliver_press(&press).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["toast"]["type"], "success", "{:?}", answer.body);
    assert_eq!(tag(&answer.body["card"]["data"]), "Sending to Mica");
    assert!(
        button_value(&answer.body["card"]["data"], "approve").is_none(),
        "the answered card has no buttons left"
    );

    // Feishu's retry of the same press, and a second press of the other button: the same answer,
    // the decision unchanged.
    // (Mica may have answered in between: the retry is then told the decision was applied.)
    let again = t.sim.deliver_press(&press).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["toast"]["type"], "success", "{:?}", again.body);
    assert!(
        ["Sending to Mica", "Approved"].contains(&tag(&again.body["card"]["data"])),
        "{:?}",
        again.body
    );
    let mut other = press.clone();
    other.event_id = "evt-click-2".into();
    other.value = button_value(&card.card, "reject").unwrap();
    let second = t.sim.deliver_press(&other).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert!(
        second.body["card"]["data"].to_string().contains("Approved"),
        "the first decision stands: {:?}",
        second.body
    );

    // Mica gets exactly one decision, signed, naming the approver by email and Feishu ids.
    wait_for("Mica's decision notice", async || !decisions(&t).is_empty()).await;
    // Mica answered 204 (applied): the card is redrawn to show the decision.
    wait_for("the card redrawn as decided", async || {
        tag(&message_to(&t, "approver.one@example.com").card) == "Approved"
    })
    .await;
    let got = decisions(&t);
    assert_eq!(got.len(), 1, "{got:#?}");
    let (notice, signed) = &got[0];
    assert!(signed, "{notice}");
    assert_eq!(notice["pr_id"], "pr-1");
    assert_eq!(notice["decision"], "approved");
    assert_eq!(notice["comment"], "Within budget");
    assert_eq!(notice["decider"]["email"], "approver.one@example.com");
    assert_eq!(notice["decider"]["feishu_open_id"], "ou_one");
    assert_eq!(notice["decider"]["feishu_union_id"], "on_one");
    let redrawn = message_to(&t, "approver.one@example.com");
    assert!(redrawn.updates >= 1, "redrawn through message PATCH");
    assert!(redrawn.card.to_string().contains("Within budget"));
    // The other approver's card still takes decisions.
    assert!(button_value(&message_to(&t, "ou_two").card, "approve").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_values_and_other_pressers_are_refused_and_a_refusal_shows_on_the_card() {
    let t = setup(true, HostOptions::default()).await;
    requisition_sent(&t).await;
    let two = message_to(&t, "ou_two");
    let one = message_to(&t, "approver.one@example.com");

    // Someone else pressing approver two's card (known by open_id).
    let intruder = t.sim.press(
        "evt-x1",
        &two.message_id,
        "approve",
        None,
        Presser::new("ou_intruder", None),
    );
    let answer = t.sim.deliver_press(&intruder).await;
    assert_eq!(answer.status, 200);
    assert!(answer.toast().contains("someone else"), "{:?}", answer.body);
    assert!(answer.body.get("card").is_none(), "{:?}", answer.body);

    // Approver two's seal pointed at approver one's card, and a value nobody sealed.
    let mut forged = t.sim.press(
        "evt-x2",
        &two.message_id,
        "approve",
        None,
        Presser::new("ou_two", None),
    );
    let one_seal = button_value(&one.card, "approve").unwrap()["seal"]
        .as_str()
        .unwrap()
        .to_string();
    let two_seal = forged.value["seal"].as_str().unwrap().to_string();
    let (one_id, _) = one_seal.rsplit_once('.').unwrap();
    let (_, two_mac) = two_seal.rsplit_once('.').unwrap();
    forged.value["seal"] = json!(format!("{one_id}.{two_mac}"));
    // A forged seal names no card the host knows, so no reader's locale: Mica's default (zh-CN).
    let refused_as_forged = |answer: &mica_tests::sim::clicks::PressAnswer| {
        answer.status == 200
            && answer.body["toast"]["type"] == "error"
            && answer.toast().contains("此按钮无效")
            && answer.body.get("card").is_none()
    };
    let answer = t.sim.deliver_press(&forged).await;
    assert!(refused_as_forged(&answer), "{:?}", answer.body);
    forged.event_id = "evt-x3".into();
    forged.value["seal"] = json!("dlv-made-up.00112233445566778899aabbccddeeff");
    let answer = t.sim.deliver_press(&forged).await;
    assert!(refused_as_forged(&answer), "{:?}", answer.body);

    // Mica refuses approver two's own decision: the card says why.
    t.mica.state.lock().unwrap().decision_answer =
        Some(json!({"outcome": "refused", "reason": "no longer an approver of this step"}));
    let press = t.sim.press(
        "evt-two",
        &two.message_id,
        "reject",
        Some("Too expensive"),
        Presser::new("ou_two", Some("on_two")),
    );
    let answer = t.sim.deliver_press(&press).await;
    assert_eq!(answer.body["toast"]["type"], "success", "{:?}", answer.body);
    wait_for("the refusal on the card", async || {
        tag(&message_to(&t, "ou_two").card) == "Not applied"
    })
    .await;
    assert!(
        message_to(&t, "ou_two")
            .card
            .to_string()
            .contains("no longer an approver of this step")
    );
    let got = decisions(&t);
    assert_eq!(
        got.len(),
        1,
        "only approver two's own press reached Mica: {got:#?}"
    );
    assert_eq!(got[0].0["decision"], "rejected");
    assert_eq!(got[0].0["decider"]["feishu_open_id"], "ou_two");
    // Approver one's card was never touched.
    assert_eq!(message_to(&t, "approver.one@example.com").updates, 0);
    assert!(button_value(&message_to(&t, "approver.one@example.com").card, "approve").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_mica_has_not_answered_is_visible_and_goes_through_once_mica_is_back() {
    let t = setup(true, HostOptions::default()).await;
    requisition_sent(&t).await;
    // Mica is down for the first two attempts.
    t.mica.state.lock().unwrap().refuse = 2;
    let card = message_to(&t, "ou_two");
    let press = t.sim.press(
        "evt-late",
        &card.message_id,
        "approve",
        None,
        Presser::new("ou_two", None),
    );
    assert_eq!(t.sim.deliver_press(&press).await.status, 200);
    let (status, listed) = t.host.get("/api/v1/decisions?stage=recorded").await;
    assert_eq!(status, 200, "{listed}");
    let pending = &listed["decisions"][0];
    assert_eq!(pending["pr_id"], "pr-1", "{listed}");
    assert_eq!(pending["decider_email"], "approver.two@example.com");
    wait_for("a refused attempt recorded on the decision", async || {
        let (_, listed) = t.host.get("/api/v1/decisions?pr_id=pr-1").await;
        let d = &listed["decisions"][0];
        d["stage"] == "recorded"
            && d["notice_attempts"].as_i64() >= Some(1)
            && d["notice_error"]
                .as_str()
                .is_some_and(|e| e.contains("503"))
    })
    .await;
    assert_eq!(tag(&message_to(&t, "ou_two").card), "Sending to Mica");
    wait_for("the decision applied once Mica answers", async || {
        let (_, listed) = t.host.get("/api/v1/decisions?stage=applied").await;
        listed["decisions"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    wait_for("the card redrawn as decided", async || {
        tag(&message_to(&t, "ou_two").card) == "Approved"
    })
    .await;
    assert_eq!(decisions(&t).len(), 1);
    let (status, body) = t.host.get("/api/v1/decisions?stage=later").await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("stage"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initiator_known_by_email_links_their_account_and_the_approval_starts_with_it() {
    let t = setup(true, HostOptions::default()).await;
    let (status, body) = t
        .host
        .post_event(&mica_tests::approvals::payment_event(
            "evt-pay", "pay-link", None,
        ))
        .await;
    assert_eq!(status, 202, "{body}");
    // The approval waits, saying why, and the initiator gets the payment card with the button.
    wait_for("the approval job waiting for the initiator", async || {
        t.host.deliveries("evt-pay").await.iter().any(|d| {
            d["kind"] == "approval"
                && d["error_kind"] == "awaiting_identity"
                && d["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("has no Feishu id yet"))
        })
    })
    .await;
    wait_for("the link card", async || {
        t.sim
            .messages()
            .iter()
            .any(|m| m.receive_id == "li.lei@example.com")
    })
    .await;
    assert_eq!(t.sim.with(|s| s.create_calls), 0);
    let link = message_to(&t, "li.lei@example.com");
    assert!(
        button_value(&link.card, "link_account").is_some(),
        "{}",
        link.card
    );
    let finance = message_to(&t, "finance@example.com");
    assert!(button_value(&finance.card, "link_account").is_none());

    let press = t.sim.press(
        "evt-link",
        &link.message_id,
        "link_account",
        None,
        Presser::new("ou_li", Some("on_li")),
    );
    let answer = t.sim.deliver_press(&press).await;
    assert_eq!(answer.body["toast"]["type"], "success", "{:?}", answer.body);
    assert_eq!(tag(&answer.body["card"]["data"]), "已关联");

    // The approval starts by itself, with the learned open_id as its initiator.
    let approval = t.wait_status("pay-link", "PENDING").await;
    let instance = t
        .sim
        .instances()
        .into_iter()
        .find(|i| Some(i.instance_code.as_str()) == approval["instance_code"].as_str())
        .unwrap();
    assert_eq!(
        instance.initiator,
        ("open_id".to_string(), "ou_li".to_string())
    );
    let (_, listed) = t.host.get("/api/v1/admin/identities").await;
    assert_eq!(
        listed["identities"][0]["email"], "li.lei@example.com",
        "{listed}"
    );
    assert_eq!(listed["identities"][0]["open_id"], "ou_li");
    // Once linked, a press by anyone else (a button value seen before the redraw) is refused.
    let mut other = press.clone();
    other.event_id = "evt-link-2".into();
    other.presser = Presser::new("ou_mallory", None);
    let answer = t.sim.deliver_press(&other).await;
    assert_eq!(answer.body["toast"]["type"], "error", "{:?}", answer.body);

    // An administrator removes the binding.
    let removed = t
        .host
        .http
        .delete(format!(
            "{}/api/v1/admin/identities/li.lei@example.com",
            t.host.base
        ))
        .bearer_auth(mica_tests::harness::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let (_, listed) = t.host.get("/api/v1/admin/identities").await;
    assert_eq!(listed["identities"], json!([]));
}
