//! Mica posts an event; the right people get the right Feishu card. Real host, real plugin
//! component, simulator over HTTP.

use mica_tests::harness::{TestHost, card_text as text, event, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::{Value, json};

/// (receive_id_type, receive_id) of every card the simulator recorded, sorted.
fn addressed_by(sim: &FeishuSim) -> Vec<(String, String)> {
    let mut got: Vec<(String, String)> = sim
        .messages()
        .into_iter()
        .map(|m| (m.receive_id_type, m.receive_id))
        .collect();
    got.sort();
    got
}

fn title(card: &Value) -> &str {
    card["header"]["title"]["content"].as_str().unwrap()
}

fn button_url(card: &Value) -> &str {
    card["body"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tag"] == "button")
        .and_then(|b| b["behaviors"][0]["default_url"].as_str())
        .expect("a button to Mica")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_type_sends_the_right_card_in_each_locale() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    // (type, zh title, en title, header colour, a fact the card must show)
    let expected = [
        (
            "pr_submitted",
            "采购申请待审批",
            "Purchase requisition submitted",
            "blue",
            "¥12,500.00",
        ),
        (
            "approval_decided",
            "审批结果: 已驳回",
            "Approval decision: Rejected",
            "red",
            "Over budget",
        ),
        (
            "po_created",
            "采购订单已创建",
            "Purchase order created",
            "turquoise",
            "ACME Ltd.",
        ),
        (
            "payment_pending",
            "付款待审核",
            "Payment pending review",
            "yellow",
            "2026-12-15",
        ),
        (
            "contract_expiring",
            "合同即将到期",
            "Contract expiring soon",
            "red",
            "¥412,000.00",
        ),
    ];
    for (kind, zh, en, colour, fact) in expected {
        let id = format!("evt-{kind}");
        let recipients = vec![
            recipient(&format!("zh-{kind}@example.com"), "zh-CN"),
            recipient(&format!("en-{kind}@example.com"), "en-US"),
        ];
        let (status, body) = host.post_event(&event(kind, &id, recipients)).await;
        assert_eq!(status, 202, "{body}");
        let all = host.settled(&id).await;
        let (deliveries, jobs): (Vec<Value>, Vec<Value>) =
            all.into_iter().partition(|d| d["kind"] == "notify");
        assert!(
            deliveries.iter().all(|d| d["status"] == "sent"),
            "{deliveries:#?}"
        );
        if kind == "payment_pending" {
            // The payment's approval job, skipped while the workflow is off (the default).
            assert_eq!(jobs.len(), 1, "{jobs:#?}");
            assert_eq!(jobs[0]["kind"], "approval");
            assert_eq!(jobs[0]["status"], "skipped");
            let why = jobs[0]["last_error"].as_str().unwrap();
            assert!(why.contains("auth.feishu.payment_workflow"), "{why}");
        } else if kind == "approval_decided" {
            // The decision redraws the requisition's two cards sent just before it.
            assert_eq!(jobs.len(), 2, "{jobs:#?}");
            assert!(
                jobs.iter()
                    .all(|j| j["kind"] == "card_update" && j["status"] == "sent"),
                "{jobs:#?}"
            );
        } else {
            assert!(jobs.is_empty(), "{jobs:#?}");
        }
        let messages = sim.messages();
        for (email, want_title) in [
            (format!("zh-{kind}@example.com"), zh),
            (format!("en-{kind}@example.com"), en),
        ] {
            let m = messages
                .iter()
                .find(|m| m.receive_id == email)
                .expect("a card per recipient");
            assert_eq!(m.receive_id_type, "email");
            assert_eq!(title(&m.card), want_title, "{kind} for {email}");
            assert_eq!(m.card["header"]["template"], colour, "{kind}");
            assert!(
                text(&m.card).contains(fact),
                "{kind}: {fact} missing from {}",
                text(&m.card)
            );
            assert!(button_url(&m.card).starts_with("https://mica.example.com/"));
            let d = deliveries
                .iter()
                .find(|d| d["recipient"] == email.as_str())
                .unwrap();
            assert_eq!(d["feishu_message_id"], m.message_id.as_str());
        }
    }
    assert_eq!(sim.messages().len(), 10);
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_are_addressed_by_union_then_open_then_user_id_then_email() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    let mut all = recipient("all@example.com", "zh-CN");
    all["feishu_union_id"] = json!("on_union");
    all["feishu_open_id"] = json!("ou_open");
    all["feishu_user_id"] = json!("u_user");
    let mut open = recipient("open@example.com", "zh-CN");
    open["feishu_open_id"] = json!("ou_open2");
    open["feishu_user_id"] = json!("u_user2");
    let mut user = recipient("user@example.com", "zh-CN");
    user["feishu_user_id"] = json!("u_user3");
    let mail = recipient("mail@example.com", "zh-CN");
    let (status, _) = host
        .post_event(&event("po_created", "evt-ids", vec![all, open, user, mail]))
        .await;
    assert_eq!(status, 202);
    host.settled("evt-ids").await;
    let got = addressed_by(&sim);
    assert_eq!(
        got,
        vec![
            ("email".to_string(), "mail@example.com".to_string()),
            ("open_id".into(), "ou_open2".into()),
            ("union_id".into(), "on_union".into()),
            ("user_id".into(), "u_user3".into()),
        ]
    );
    host.host.stop().await;
}

/// Mica may hold a Feishu id that no longer works for this app (an open_id from another app, one
/// that was deleted, an invalid id): the card goes to the same person's next id instead of being
/// lost, while a person the app cannot reach at all is still a failure with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_or_foreign_feishu_id_falls_back_to_the_persons_next_id() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    sim.with(|s| {
        s.refused_ids.insert("ou_other_app".into(), 99992361);
        s.refused_ids.insert("ou_deleted".into(), 99992351);
        s.refused_ids.insert("on_invalid".into(), 230034);
        s.unreachable.insert("gone@example.com".into());
    });
    let mut foreign = recipient("foreign@example.com", "zh-CN");
    foreign["feishu_open_id"] = json!("ou_other_app");
    let mut invalid = recipient("invalid@example.com", "en-US");
    invalid["feishu_union_id"] = json!("on_invalid");
    invalid["feishu_open_id"] = json!("ou_deleted");
    invalid["feishu_user_id"] = json!("u_valid");
    let mut gone = recipient("gone@example.com", "zh-CN");
    gone["feishu_open_id"] = json!("ou_deleted");
    let (status, _) = host
        .post_event(&event(
            "po_created",
            "evt-stale",
            vec![foreign, invalid, gone],
        ))
        .await;
    assert_eq!(status, 202);
    let deliveries = host.settled("evt-stale").await;
    let status_of = |email: &str| {
        deliveries
            .iter()
            .find(|d| d["recipient"] == email)
            .unwrap_or_else(|| panic!("{email}: {deliveries:#?}"))
            .clone()
    };
    assert_eq!(status_of("foreign@example.com")["status"], "sent");
    assert_eq!(status_of("invalid@example.com")["status"], "sent");
    let gone = status_of("gone@example.com");
    assert_eq!(gone["status"], "failed", "{gone}");
    assert_eq!(gone["feishu_code"], 230013, "{gone}");
    let got = addressed_by(&sim);
    assert_eq!(
        got,
        vec![
            ("email".to_string(), "foreign@example.com".to_string()),
            ("user_id".into(), "u_valid".into()),
        ]
    );
    // foreign: open_id, email; invalid: union_id, open_id, user_id; gone: open_id, email.
    assert_eq!(sim.with(|s| s.message_requests), 7);
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switches_turn_notifications_off() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    let switches = [
        ("pr_submitted", "auth.feishu.notify_on_pr"),
        ("approval_decided", "auth.feishu.notify_on_approval"),
        ("po_created", "auth.feishu.notify_on_po"),
        ("payment_pending", "auth.feishu.notify_on_payment"),
        ("contract_expiring", "auth.feishu.notify_on_contract_expiry"),
    ];
    for (kind, switch) in switches {
        host.set(switch, json!(false));
        let id = format!("evt-off-{kind}");
        host.post_event(&event(kind, &id, vec![recipient("a@example.com", "zh-CN")]))
            .await;
        let d = host.settled(&id).await;
        assert_eq!(d[0]["status"], "skipped", "{kind}");
        assert!(
            d[0]["last_error"].as_str().unwrap().contains(switch),
            "{d:#?}"
        );
        host.set(switch, json!(true));
        // The other types still go out while this one is off.
    }
    assert!(sim.messages().is_empty());
    host.set("auth.feishu.notify_on_po", json!(false));
    host.post_event(&event(
        "pr_submitted",
        "evt-on-pr",
        vec![recipient("a@example.com", "zh-CN")],
    ))
    .await;
    assert_eq!(host.settled("evt-on-pr").await[0]["status"], "sent");
    host.set("auth.feishu.enabled", json!(false));
    host.post_event(&event(
        "pr_submitted",
        "evt-master-off",
        vec![recipient("a@example.com", "zh-CN")],
    ))
    .await;
    let d = host.settled("evt-master-off").await;
    assert_eq!(d[0]["status"], "skipped");
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("auth.feishu.enabled")
    );
    assert_eq!(sim.messages().len(), 1);
    host.host.stop().await;
}

/// Text Mica passes on is shown as written, never as it would trick a reader into reading it:
/// markdown and Feishu tags are neutralised, and bidi overrides and zero-width characters (which
/// make "ACME", U+202E, "000,1" read as "ACME1,000") are dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_text_cannot_hide_or_reorder_what_it_says() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let mut e = event(
        "po_created",
        "evt-spoof",
        vec![recipient("buyer@example.com", "en-US")],
    );
    e["data"]["supplier"] = json!("ACME\u{202E}000,1\u{202C} <at id=all></at>\u{200B}");
    e["data"]["pr_title"] = json!("Laptops\u{2066} for\u{2069} design\u{FEFF}");
    let (status, body) = h.post_event(&e).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(h.settled("evt-spoof").await[0]["status"], "sent");
    let card = sim.messages().pop().unwrap().card;
    let all = card.to_string();
    for hidden in [
        '\u{202E}', '\u{202C}', '\u{200B}', '\u{2066}', '\u{2069}', '\u{FEFF}',
    ] {
        assert!(
            !all.contains(hidden),
            "U+{:04X} reached the card",
            hidden as u32
        );
    }
    let body = text(&card);
    assert!(body.contains("ACME000,1"), "{body}");
    assert!(!body.contains("<at"), "{body}");
    h.host.stop().await;
}
