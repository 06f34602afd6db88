//! Installing, validating, activating and rolling back plugin versions while the host runs.

use mica_tests::harness::{PLUGIN_VERSION, TestHost, event, fixture_wasm, host_command, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::Value;
use std::time::{Duration, Instant};

const V2: &str = "0.2.0-fixture";

fn footer(card: &Value) -> String {
    card["body"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find_map(|e| e["content"].as_str())
        .unwrap()
        .to_string()
}

async fn card_footer_now(h: &TestHost, sim: &FeishuSim, id: &str) -> String {
    h.post_event(&event(
        "po_created",
        id,
        vec![recipient("a@example.com", "en-US")],
    ))
    .await;
    let d = h.settled(id).await;
    let message = sim
        .messages()
        .into_iter()
        .find(|m| m.message_id == d[0]["feishu_message_id"].as_str().unwrap())
        .unwrap();
    footer(&message.card)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_uploads_are_refused_and_the_active_version_keeps_serving() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let unknown_import = std::fs::read(fixture_wasm("fixture_unknown_import")).unwrap();
    let no_world = std::fs::read(fixture_wasm("fixture_no_known_world")).unwrap();
    for (bytes, content_type, status, words) in [
        (
            unknown_import,
            "application/wasm",
            422,
            "fixture:odd/telepathy",
        ),
        (
            no_world,
            "application/wasm",
            422,
            "implements neither mica:plugin/notifications nor mica:plugin/approvals",
        ),
        (
            b"hello".to_vec(),
            "application/wasm",
            422,
            "not a valid WebAssembly component",
        ),
        (
            core_module,
            "application/wasm",
            422,
            "not a valid WebAssembly component",
        ),
        (
            b"\0asm".to_vec(),
            "application/json",
            415,
            "application/wasm",
        ),
        (Vec::new(), "application/wasm", 400, "empty"),
    ] {
        let (got, body) = h.upload(bytes, content_type, true).await;
        assert_eq!(got, status, "{body}");
        assert!(body["detail"].as_str().unwrap().contains(words), "{body}");
    }
    // The installed id and version again: the same bytes are a no-op, other bytes a 409 (a
    // version names one build; a running host never swaps code under the same name). A custom
    // section appended (id 0, 5 bytes, the name "test") makes a valid component with other bytes.
    let same = std::fs::read(mica_tests::harness::plugin_wasm()).unwrap();
    let (got, body) = h.upload(same.clone(), "application/wasm", false).await;
    assert_eq!(got, 201, "{body}");
    let mut other = same;
    other.extend_from_slice(b"\x00\x05\x04test");
    let (got, body) = h.upload(other, "application/wasm", true).await;
    assert_eq!(got, 409, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!(
            "version: feishu {PLUGIN_VERSION} is already installed with other bytes"
        )),
        "{detail}"
    );
    let (_, list) = h.get("/api/v1/admin/plugins").await;
    assert_eq!(list["plugins"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        card_footer_now(&h, &sim, "evt-still").await,
        "Sent by Mica Procurement"
    );
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_is_activated_and_rolled_back_over_the_api() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let v2 = std::fs::read(fixture_wasm("fixture_feishu_v2")).unwrap();
    let (status, body) = h.upload(v2, "application/wasm", true).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], V2);
    assert_eq!(
        body["worlds"],
        serde_json::json!(["notifier", "approval-provider"])
    );
    assert_eq!(
        card_footer_now(&h, &sim, "evt-v2").await,
        "Sent by Mica Procurement · v2"
    );
    let (_, list) = h.get("/api/v1/admin/plugins").await;
    let active: Vec<&Value> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["active"] == true)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["version"], V2);

    let (status, body) = h
        .post_json("/api/v1/admin/plugins/feishu/rollback", &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], PLUGIN_VERSION);
    assert_eq!(
        card_footer_now(&h, &sim, "evt-back").await,
        "Sent by Mica Procurement"
    );
    let (status, body) = h
        .post_json(
            "/api/v1/admin/plugins/feishu/activate",
            &serde_json::json!({"version": V2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        card_footer_now(&h, &sim, "evt-again").await,
        "Sent by Mica Procurement · v2"
    );
    let (status, _) = h
        .post_json(
            "/api/v1/admin/plugins/feishu/activate",
            &serde_json::json!({"version": "9.9.9"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = h
        .post_json(
            "/api/v1/admin/plugins/feishu/activate",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = h
        .post_json("/api/v1/admin/plugins/nothing/rollback", &Value::Null)
        .await;
    assert_eq!(status, 404);
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_by_the_cli_reaches_the_running_host_within_a_second() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let v2 = std::fs::read(fixture_wasm("fixture_feishu_v2")).unwrap();
    let (status, _) = h.upload(v2, "application/wasm", false).await;
    assert_eq!(status, 201);
    assert_eq!(
        card_footer_now(&h, &sim, "evt-before").await,
        "Sent by Mica Procurement"
    );
    let out = host_command(h.dir.path())
        .args(["plugin", "activate", "feishu", V2])
        .env_remove("MICA_SECRET_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let activated = Instant::now();
    let deadline = activated + Duration::from_secs(10);
    while h.host.registry.active("feishu").unwrap().version() != V2 {
        assert!(
            Instant::now() < deadline,
            "the running host never followed the CLI"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "the host followed the CLI activation after {:?}",
        activated.elapsed()
    );
    assert_eq!(
        card_footer_now(&h, &sim, "evt-after").await,
        "Sent by Mica Procurement · v2"
    );
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_under_load_fails_and_loses_nothing() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let v2 = std::fs::read(fixture_wasm("fixture_feishu_v2")).unwrap();
    let (status, _) = h.upload(v2, "application/wasm", false).await;
    assert_eq!(status, 201);
    // 200 events a second for 4.5 seconds: a swap to v2 after a third, a rollback after two thirds.
    let total = 900;
    let (mut swapped_at, mut rolled_back_at) = (None, None);
    let started = Instant::now();
    for i in 0..total {
        let due = started + Duration::from_millis(5 * i as u64);
        tokio::time::sleep_until(due.into()).await;
        if i == total / 3 {
            let (status, body) = h
                .post_json(
                    "/api/v1/admin/plugins/feishu/activate",
                    &serde_json::json!({"version": V2}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            swapped_at = Some(i);
        }
        if i == 2 * total / 3 {
            let (status, body) = h
                .post_json("/api/v1/admin/plugins/feishu/rollback", &Value::Null)
                .await;
            assert_eq!(status, 200, "{body}");
            rolled_back_at = Some(i);
        }
        let (status, _) = h
            .post_event(&event(
                "po_created",
                &format!("load-{i}"),
                vec![recipient(&format!("u{i}@example.com"), "en-US")],
            ))
            .await;
        assert_eq!(status, 202);
    }
    println!("posted {total} events in {:?}", started.elapsed());
    let (swapped_at, rolled_back_at) = (swapped_at.unwrap(), rolled_back_at.unwrap());
    let mut settled = Vec::with_capacity(total);
    for i in 0..total {
        settled.push(h.settled(&format!("load-{i}")).await.remove(0));
    }
    let messages = sim.messages();
    let mut by_version = std::collections::HashMap::<String, usize>::new();
    for (i, d) in settled.iter().enumerate() {
        assert_eq!(d["status"], "sent", "{d}");
        let version = d["plugin_version"].as_str().unwrap().to_string();
        let message = messages
            .iter()
            .find(|m| m.message_id == d["feishu_message_id"].as_str().unwrap())
            .unwrap();
        let v2_card = footer(&message.card).ends_with("· v2");
        assert_eq!(
            v2_card,
            version == V2,
            "delivery {i} by {version} sent the other version's card"
        );
        if i > swapped_at && i < rolled_back_at {
            assert_eq!(version, V2, "event {i} was accepted after the swap");
        }
        if i > rolled_back_at {
            assert_eq!(
                version, PLUGIN_VERSION,
                "event {i} was accepted after the rollback"
            );
        }
        *by_version.entry(version).or_default() += 1;
    }
    assert_eq!(sim.messages().len(), total, "one card per event");
    assert!(sim.with(|s| s.uuid_counts()).values().all(|&n| n == 1));
    println!("deliveries by version: {by_version:?}");
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_plugin_gets_no_calls_and_its_deliveries_wait() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let (status, body) = h
        .post_json("/api/v1/admin/plugins/feishu/disable", &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    h.post_event(&event(
        "po_created",
        "evt-off",
        vec![recipient("a@example.com", "zh-CN")],
    ))
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = h.deliveries("evt-off").await;
        if d[0]["status"] == "retrying" {
            assert_eq!(d[0]["error_kind"], "no_plugin");
            break;
        }
        assert!(Instant::now() < deadline, "{d:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sim.messages().is_empty());
    let webhook = h
        .http
        .post(format!("{}/api/v1/feishu/webhook", h.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        webhook.status(),
        404,
        "a disabled plugin's routes are closed"
    );
    let (status, _) = h
        .post_json("/api/v1/admin/plugins/feishu/enable", &Value::Null)
        .await;
    assert_eq!(status, 200);
    let d = h.settled("evt-off").await;
    assert_eq!(d[0]["status"], "sent");
    assert_eq!(
        d[0]["attempts"], 1,
        "waiting for the plugin spent no attempt"
    );
    assert_eq!(d[0]["plugin_version"], PLUGIN_VERSION);
    assert_eq!(sim.messages().len(), 1);
    let (status, _) = h
        .post_json("/api/v1/admin/plugins/feishu/pause", &Value::Null)
        .await;
    assert_eq!(status, 404);
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_reloads_a_rebuilt_plugin_and_keeps_serving_through_a_broken_one() {
    let sim = FeishuSim::start().await;
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let watched = dir.path().join("plugin.wasm");
    std::fs::copy(mica_tests::harness::plugin_wasm(), &watched).unwrap();
    let options = mica_tests::harness::HostOptions {
        plugin: Some(watched.clone()),
        watch: Some(watched.clone()),
        ..Default::default()
    };
    let h = TestHost::start_in(dir.clone(), options).await;
    h.configure_feishu(&sim);
    let version = |h: &TestHost| {
        h.host
            .registry
            .active("feishu")
            .unwrap()
            .version()
            .to_string()
    };
    let wait_for = async |h: &TestHost, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while version(h) != want {
            assert!(
                Instant::now() < deadline,
                "still {} instead of {want}",
                version(h)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // A rebuild lands: the new version serves.
    std::fs::copy(fixture_wasm("fixture_feishu_v2"), &watched).unwrap();
    wait_for(&h, V2).await;
    assert_eq!(
        card_footer_now(&h, &sim, "evt-watch-v2").await,
        "Sent by Mica Procurement · v2"
    );
    // A broken build lands: it is refused (the watch loop counts it) and the running version
    // keeps serving. The only watching host in this test binary is this one.
    let refused = "mica_watch_reloads_total{outcome=\"invalid\"}";
    let before = h.metric(refused).await.unwrap_or(0.0);
    std::fs::write(&watched, b"\0asm broken build").unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while h.metric(refused).await.unwrap_or(0.0) == before {
        assert!(
            Instant::now() < deadline,
            "the broken build was never looked at"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(version(&h), V2);
    assert_eq!(
        card_footer_now(&h, &sim, "evt-watch-broken").await,
        "Sent by Mica Procurement · v2"
    );
    // Fixed again.
    std::fs::copy(mica_tests::harness::plugin_wasm(), &watched).unwrap();
    wait_for(&h, PLUGIN_VERSION).await;
    h.host.stop().await;
}
