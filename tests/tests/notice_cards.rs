//! Mica's other notices and its daily digest become Feishu cards: every category in both
//! languages, coloured by severity, escaped, within Feishu's size limit whatever the input, each
//! with its own switch, and queued behind the cards people act on.

use mica_tests::harness::{TestHost, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::{Value, json};

fn envelope(kind: &str, id: &str, data: Value) -> Value {
    json!({"id": id, "type": kind, "occurred_at": "2026-12-01T08:00:00Z",
           "recipients": [recipient("zh@example.com", "zh-CN"), recipient("en@example.com", "en-US")],
           "data": data})
}

fn card_for(sim: &FeishuSim, d: &Value) -> Value {
    let id = d["feishu_message_id"].as_str().unwrap().to_string();
    sim.messages()
        .into_iter()
        .find(|m| m.message_id == id)
        .unwrap()
        .card
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notice_category_reaches_feishu_in_the_readers_language() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let cases = [
        (
            "approval_reminder",
            "warning",
            "orange",
            "审批提醒",
            "Approval reminder",
            "bulk",
        ),
        (
            "sla_escalation",
            "warning",
            "orange",
            "超时升级",
            "SLA escalation",
            "update",
        ),
        (
            "price_anomaly",
            "urgent",
            "red",
            "价格异常",
            "Price anomaly",
            "update",
        ),
        (
            "system",
            "info",
            "blue",
            "系统通知",
            "System notice",
            "bulk",
        ),
        (
            "budget_watch",
            "info",
            "blue",
            "budget_watch",
            "budget_watch",
            "bulk",
        ),
    ];
    for (category, severity, colour, zh, en, class) in cases {
        let id = format!("notice-{category}");
        let (status, body) = h
            .post_event(&envelope(
                "notice",
                &id,
                json!({"category": category, "title": format!("{category} for PR-2026-0042"),
                       "body": "**not bold** <at id=all></at>", "severity": severity,
                       "url": "https://mica.example.com/pr/pr-1001",
                       "fields": [{"label": "Stage", "value": "Finance (2 of 3)"}]}),
            ))
            .await;
        assert_eq!(status, 202, "{body}");
        let deliveries = h.settled(&id).await;
        assert_eq!(deliveries.len(), 2);
        for d in &deliveries {
            assert_eq!(d["status"], "sent", "{d}");
            assert_eq!(d["class"], class, "{category}: {d}");
            let card = card_for(&sim, d);
            assert_eq!(card["header"]["template"], colour, "{category}");
            let tag = &card["header"]["text_tag_list"][0]["text"]["content"];
            let zh_reader = d["recipient"] == "zh@example.com";
            assert_eq!(tag, if zh_reader { zh } else { en }, "{category}");
            let body = card["body"]["elements"].to_string();
            assert!(
                !body.contains("**not bold**") && !body.contains("<at"),
                "{body}"
            );
            assert!(
                body.contains(if zh_reader {
                    "在 Mica 中查看"
                } else {
                    "Open in Mica"
                }),
                "{body}"
            );
        }
    }
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_of_any_size_fits_one_card_and_each_kind_has_its_switch() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    // A very full day: 100 sections of 40 long items, each with a long link.
    let sections: Vec<Value> = (0..100)
        .map(|s| {
            json!({"kind": format!("kind_{s}"), "title": format!("Section {s}: {}", "长".repeat(200)),
                   "count": 1000,
                   "items": (0..40).map(|i| json!({"title": format!("Item {s}.{i} {}", "x".repeat(60)),
                       "url": format!("https://mica.example.com/items/{s}/{i}")})).collect::<Vec<_>>()})
        })
        .collect();
    let digest = envelope(
        "digest",
        "digest-big",
        json!({"date": "2026-12-01", "url": "https://mica.example.com/dashboard", "sections": sections}),
    );
    let (status, body) = h.post_event(&digest).await;
    assert_eq!(status, 202, "{body}");
    let deliveries = h.settled("digest-big").await;
    for d in &deliveries {
        assert_eq!(d["status"], "sent", "{d}");
        assert_eq!(d["class"], "bulk");
        let card = card_for(&sim, d);
        assert!(
            card.to_string().len() <= 30 * 1024,
            "{} bytes",
            card.to_string().len()
        );
        let zh_reader = d["recipient"] == "zh@example.com";
        let title = card["header"]["title"]["content"].as_str().unwrap();
        assert_eq!(
            title,
            if zh_reader {
                "每日摘要（2026-12-01）"
            } else {
                "Daily digest for 2026-12-01"
            }
        );
        let body = card["body"]["elements"].to_string();
        assert!(body.contains("(1000)"), "each section shows its count");
        assert!(
            body.contains(if zh_reader { "还有" } else { "more" }),
            "what is left out is counted: {body}"
        );
    }

    // Each kind has its own switch.
    h.set("auth.feishu.notify_on_digest", json!(false));
    let small = envelope(
        "digest",
        "digest-off",
        json!({"date": "2026-12-02", "sections": []}),
    );
    h.post_event(&small).await;
    let d = h.settled("digest-off").await;
    assert!(d.iter().all(|d| d["status"] == "skipped"), "{d:?}");
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("notify_on_digest")
    );
    h.set("auth.feishu.notify_on_notice", json!(false));
    let notice = envelope(
        "notice",
        "notice-off",
        json!({"category": "system", "title": "Maintenance"}),
    );
    h.post_event(&notice).await;
    let d = h.settled("notice-off").await;
    assert!(d.iter().all(|d| d["status"] == "skipped"), "{d:?}");
    let sent_before = sim.messages().len();
    assert_eq!(sent_before, 2, "only the big digest's two cards were sent");
    h.host.stop().await;
}
