//! The contract grows without breaking plugins: a component built against `mica:plugin@0.1.0`
//! (tests/fixtures/plugin-0.1.0, never rebuilt) still loads and sends the five cards on today's
//! host (a redraw, which it cannot do, waits for a plugin that can), and Test Connection reaches a person by Feishu id through the 0.1.1 `connection`
//! interface, falling back to their email for a plugin that predates it.

use mica_tests::harness::{HostOptions, PLUGIN_VERSION, TestHost, check, event, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

fn plugin_0_1_0() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/plugin-0.1.0/mica_feishu_plugin.wasm")
}

async fn host_with(sim: &FeishuSim, plugin: Option<PathBuf>) -> TestHost {
    let options = HostOptions {
        plugin,
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.configure_feishu(sim);
    h
}

/// Someone Mica knows by Feishu id as well as by email.
fn admin_with_ids() -> Value {
    json!({"email": "admin@example.com", "name": "Admin", "locale": "en-US",
           "feishu_open_id": "ou_admin0001", "feishu_union_id": null, "feishu_user_id": null})
}

/// The decision's own card goes out, and the redraw of the requisition's card (which needs the
/// 0.1.3 `card-updates` interface) waits, saying why, without spending an attempt.
async fn redraw_waits(h: &TestHost, event_id: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let d = h.deliveries(event_id).await;
        let card_sent = d
            .iter()
            .any(|d| d["kind"] == "notify" && d["status"] == "sent");
        let waiting = d.iter().any(|d| {
            d["kind"] == "card_update"
                && d["status"] == "retrying"
                && d["attempts"] == 0
                && d["error_kind"] == "no_plugin"
                && d["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("mica:plugin 0.1.3"))
        });
        if card_sent && waiting {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the redraw never waited for a newer plugin: {d:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_against_0_1_0_still_loads_and_sends_the_five_cards() {
    let sim = FeishuSim::start().await;
    let h = host_with(&sim, Some(plugin_0_1_0())).await;
    let (status, plugins) = h.get("/api/v1/admin/plugins").await;
    assert_eq!(status, 200, "{plugins}");
    let active = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["active"] == true)
        .unwrap_or_else(|| panic!("no active plugin: {plugins}"));
    assert_eq!(active["version"], "0.1.0", "{active}");

    let kinds = [
        "pr_submitted",
        "approval_decided",
        "po_created",
        "payment_pending",
        "contract_expiring",
    ];
    for kind in kinds {
        let to = recipient(&format!("{kind}@example.com"), "zh-CN");
        let (status, body) = h
            .post_event(&event(kind, &format!("old-{kind}"), vec![to]))
            .await;
        assert_eq!(status, 202, "{body}");
    }
    for kind in kinds {
        let d = if kind == "approval_decided" {
            redraw_waits(&h, "old-approval_decided").await
        } else {
            h.settled(&format!("old-{kind}")).await
        };
        let card = d.iter().find(|d| d["kind"] == "notify").unwrap();
        assert_eq!(card["status"], "sent", "{kind}: {card}");
        assert_eq!(card["plugin_version"], "0.1.0");
    }
    let messages = sim.messages();
    assert_eq!(messages.len(), 5);
    for kind in kinds {
        let m = messages
            .iter()
            .find(|m| m.receive_id == format!("{kind}@example.com"))
            .unwrap_or_else(|| panic!("no card for {kind}"));
        assert!(
            m.card["header"]["title"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{kind}: {}",
            m.card
        );
    }

    // The old plugin has no `connection` interface: the test card goes to the email.
    let (status, answer) = h
        .test_connection(Some(json!({"test_recipient": admin_with_ids()})))
        .await;
    assert_eq!(status, 200, "{answer}");
    let last = sim.messages().pop().unwrap();
    assert_eq!(
        (last.receive_id_type.as_str(), last.receive_id.as_str()),
        ("email", "admin@example.com")
    );
    assert!(
        check(&answer, "bot_and_messaging")["detail"]
            .as_str()
            .unwrap()
            .contains("admin@example.com")
    );
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connections_card_reaches_a_person_by_feishu_id() {
    let sim = FeishuSim::start().await;
    let h = host_with(&sim, None).await;
    let (_, plugins) = h.get("/api/v1/admin/plugins").await;
    assert!(plugins.to_string().contains(PLUGIN_VERSION), "{plugins}");

    let (status, answer) = h
        .test_connection(Some(json!({"test_recipient": admin_with_ids()})))
        .await;
    assert_eq!(status, 200, "{answer}");
    let messages = sim.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        (
            messages[0].receive_id_type.as_str(),
            messages[0].receive_id.as_str()
        ),
        ("open_id", "ou_admin0001")
    );
    let title = messages[0].card["header"]["title"]["content"]
        .as_str()
        .unwrap();
    assert!(title.is_ascii(), "the admin reads English: {title}");
    let detail = check(&answer, "bot_and_messaging")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("admin@example.com") && detail.contains("open_id ou_admin0001"),
        "{detail}"
    );

    // An address alone still works, and a malformed person is refused naming the field.
    let (status, _) = h
        .test_connection(Some(json!({"test_recipient_email": "ops@example.com"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(sim.messages().last().unwrap().receive_id, "ops@example.com");
    let (status, answer) = h
        .test_connection(Some(json!({"test_recipient": {"email": "not an address"}})))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .starts_with("test_recipient.email"),
        "{answer}"
    );
    let (status, answer) = h
        .test_connection(Some(json!({"test_recipient_email": "nope"})))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .starts_with("test_recipient_email: "),
        "{answer}"
    );
    assert_eq!(sim.messages().len(), 2, "nothing sent for refused input");
    h.host.stop().await;
}

/// A notice needs the 0.1.2 `notices` interface: with a 0.1.0 plugin active it waits, saying why
/// and spending no attempt, while the five cards still go out; once a plugin that sends notices
/// is activated, it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_waits_for_a_plugin_that_sends_notices() {
    let sim = FeishuSim::start().await;
    let h = host_with(&sim, Some(plugin_0_1_0())).await;
    let notice = json!({"id": "notice-old", "type": "notice", "occurred_at": "2026-12-01T08:00:00Z",
        "recipients": [recipient("a@example.com", "en-US")],
        "data": {"category": "system", "title": "Maintenance tonight"}});
    let (status, body) = h.post_event(&notice).await;
    assert_eq!(status, 202, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let d = h.deliveries("notice-old").await;
        if let Some(why) = d[0]["last_error"].as_str() {
            assert_eq!(
                why,
                "waiting: feishu 0.1.0 does not send notices or digests (they need mica:plugin 0.1.2)"
            );
            assert_eq!(d[0]["attempts"], 0, "{d:?}");
            assert_eq!(d[0]["error_kind"], "no_plugin", "{d:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{d:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    h.post_event(&event(
        "po_created",
        "po-meanwhile",
        vec![recipient("a@example.com", "en-US")],
    ))
    .await;
    assert_eq!(h.settled("po-meanwhile").await[0]["status"], "sent");

    let current = std::fs::read(mica_tests::harness::plugin_wasm()).unwrap();
    let (status, body) = h.upload(current, "application/wasm", true).await;
    assert_eq!(status, 201, "{body}");
    let d = h.settled("notice-old").await;
    assert_eq!(d[0]["status"], "sent", "{d:?}");
    assert_eq!(d[0]["plugin_version"], PLUGIN_VERSION);
    let card = sim
        .messages()
        .into_iter()
        .find(|m| Some(m.message_id.as_str()) == d[0]["feishu_message_id"].as_str())
        .unwrap()
        .card;
    assert_eq!(card["header"]["title"]["content"], "Maintenance tonight");
    h.host.stop().await;
}
