//! Card previews: the plugin renders, through the host, exactly the card it would send; nothing is
//! sent; bad requests name their field; a plugin without previews says so.

use mica_tests::harness::{HostOptions, TestHost, event, fixture_wasm, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::{Value, json};
use std::sync::Arc;

const PATH: &str = "/api/v1/admin/feishu/preview";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_renders_in_both_locales_and_nothing_is_sent() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    h.configure_feishu(&sim);
    let (status, body) = h.get(PATH).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plugin"], "feishu");
    let previews = body["previews"].as_array().unwrap();
    let kinds = [
        "pr_submitted",
        "approval_decided",
        "po_created",
        "payment_pending",
        "contract_expiring",
        "notice",
        "digest",
    ];
    let (with_buttons, previews): (Vec<Value>, Vec<Value>) = previews
        .iter()
        .cloned()
        .partition(|p| p["with_buttons"] == true);
    // The requisition card as an approver gets it: a comment box, Approve and Reject.
    assert_eq!(with_buttons.len(), 2, "{body}");
    for p in &with_buttons {
        assert_eq!(p["type"], "pr_submitted");
        let card = p["card"].to_string();
        assert!(
            card.contains("\"form\"") && card.contains("\"input\""),
            "{card}"
        );
        assert_eq!(p["card"]["config"]["enable_forward"], false, "{p}");
    }
    let (redrawn, previews): (Vec<Value>, Vec<Value>) = previews
        .iter()
        .cloned()
        .partition(|p| p["redrawn_by"].is_string());
    assert_eq!(previews.len(), kinds.len() * 2, "{body}");
    // The requisition and payment cards as they are redrawn once settled, in both locales.
    assert_eq!(redrawn.len(), 4, "{body}");
    for (kind, by, tag) in [
        ("pr_submitted", "approval_decided", "Approved"),
        ("payment_pending", "approval", "Approved"),
    ] {
        let p = redrawn
            .iter()
            .find(|p| p["type"] == kind && p["locale"] == "en-US")
            .unwrap_or_else(|| panic!("no redrawn {kind}"));
        assert_eq!(p["redrawn_by"], by);
        assert_eq!(p["card"]["header"]["template"], "green", "{p}");
        assert_eq!(
            p["card"]["header"]["text_tag_list"][0]["text"]["content"],
            tag
        );
    }
    for kind in kinds {
        // A notice's title is Mica's own text; what the reader's language changes is its tag.
        let header = if kind == "notice" {
            "/card/header/text_tag_list/0/text/content"
        } else {
            "/card/header/title/content"
        };
        let title = |locale: &str| {
            let p = previews
                .iter()
                .find(|p| p["type"] == kind && p["locale"] == locale)
                .unwrap_or_else(|| panic!("no {kind} {locale} preview"));
            assert_eq!(p["card"]["schema"], "2.0");
            assert_eq!(p["event"]["type"], kind);
            p.pointer(header)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{kind}: no {header} in {p}"))
                .to_string()
        };
        let (zh, en) = (title("zh-CN"), title("en-US"));
        assert_ne!(zh, en, "{kind}");
        assert!(en.is_ascii() && !zh.is_ascii(), "{kind}: {en} / {zh}");
    }
    let (status, one) = h.get(&format!("{PATH}?locale=en-US")).await;
    assert_eq!(status, 200);
    assert!(
        one["previews"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["locale"] == "en-US")
    );
    assert!(
        sim.messages().is_empty(),
        "a preview must not send anything"
    );
    assert_eq!(sim.token_fetches(), 0, "a preview must not call Feishu");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_is_the_card_feishu_receives() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    h.configure_feishu(&sim);
    for (kind, locale) in [
        ("contract_expiring", "en-US"),
        ("approval_decided", "zh-CN"),
    ] {
        let id = format!("evt-preview-{kind}");
        let mut e = event(kind, &id, vec![recipient("li.lei@example.com", locale)]);
        // User text with markdown and Feishu tags in it: escaped the same way in both.
        e["data"]["supplier"] = json!("*ACME* <at id=all></at>");
        e["data"]["title"] = json!("[Laptops](https://evil.example) **now**");
        let (status, body) = h.post_event(&e).await;
        assert_eq!(status, 202, "{body}");
        let settled = h.settled(&id).await;
        assert_eq!(settled[0]["status"], "sent", "{settled:?}");
        let sent = sim
            .messages()
            .into_iter()
            .last()
            .expect("a card was sent")
            .card;
        let (status, preview) = h
            .post_json(PATH, &json!({"event": e, "locale": locale}))
            .await;
        assert_eq!(status, 200, "{preview}");
        let previews = preview["previews"].as_array().unwrap();
        assert_eq!(previews.len(), 1);
        assert_eq!(previews[0]["card"], sent, "{kind} {locale}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_preview_requests_name_the_field() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let good = event("po_created", "e1", vec![]);
    let mut bad_amount = good.clone();
    bad_amount["data"]["amount"] = json!(12.5);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 422, "event: required"),
        (json!({"event": bad_amount}), 422, "event.data.amount"),
        (json!({"event": {"type": "po_created"}}), 422, "event.id"),
        (
            json!({"event": good, "locale": "fr-FR"}),
            422,
            "locale: \"fr-FR\" is not one of zh-CN, en-US",
        ),
        (
            json!({"event": good, "locale": 7}),
            422,
            "locale: must be a string",
        ),
    ];
    for (body, want_status, want) in cases {
        let (status, answer) = h.post_json(PATH, &body).await;
        assert_eq!(status, want_status, "{body} → {answer}");
        let detail = answer["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(want),
            "{body}: {detail:?} should mention {want:?}"
        );
    }
    let (status, answer) = h.get(&format!("{PATH}?locale=xx")).await;
    assert_eq!(status, 422);
    assert!(answer["detail"].as_str().unwrap().starts_with("locale:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_without_previews_says_so() {
    let options = HostOptions {
        plugin: Some(fixture_wasm("fixture_outbound_probe")),
        ..HostOptions::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    let (status, answer) = h.get("/api/v1/admin/outbound-probe/preview").await;
    assert_eq!(status, 501, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("does not export mica:plugin/previews"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_deliveries_are_listed_newest_first_and_filtered_by_status() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    h.configure_feishu(&sim);
    for i in 0..3 {
        let id = format!("evt-recent-{i}");
        let e = event(
            "pr_submitted",
            &id,
            vec![recipient(&format!("p{i}@example.com"), "en-US")],
        );
        assert_eq!(h.post_event(&e).await.0, 202);
        h.settled(&id).await;
    }
    let (status, body) = h.get("/api/v1/deliveries?limit=2").await;
    assert_eq!(status, 200, "{body}");
    let recent = body["deliveries"].as_array().unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0]["event_id"], "evt-recent-2");
    assert_eq!(recent[1]["event_id"], "evt-recent-1");
    assert_eq!(recent[0]["event_type"], "pr_submitted");
    assert_eq!(recent[0]["status"], "sent");
    let (_, sent) = h.get("/api/v1/deliveries?status=sent").await;
    assert_eq!(sent["deliveries"].as_array().unwrap().len(), 3);
    let (_, failed) = h.get("/api/v1/deliveries?status=failed").await;
    assert_eq!(failed["deliveries"], json!([]));
    for (query, want) in [
        (
            "status=lost",
            "status: \"lost\" is not one of pending, retrying, sent, skipped, failed",
        ),
        ("limit=0", "limit: must be a whole number from 1 to 1000"),
        ("limit=abc", "limit: must be a whole number from 1 to 1000"),
    ] {
        let (status, answer) = h.get(&format!("/api/v1/deliveries?{query}")).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert_eq!(answer["detail"], want, "{query}");
    }
}
