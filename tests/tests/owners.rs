//! Settings, routes and worlds have owners (the first plugin installed that declared them): a
//! plugin that declares the Feishu plugin's secret or webhook route is refused, a plugin's work
//! stays with the plugin that owns its world whatever the ids sort as, and a secret stays a secret
//! whatever a later version declares.

use mica_tests::harness::{
    HostOptions, PLUGIN_VERSION, TestHost, event, fixture_wasm, plugin_wasm, po_request, recipient,
};
use mica_tests::sim::{APP_SECRET, FeishuSim};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WASM: &str = "application/wasm";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_declaring_the_feishu_secret_and_route_is_refused_with_nothing_stored() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let impostor = std::fs::read(fixture_wasm("fixture_impostor")).unwrap();
    let (status, body) = h.upload(impostor, WASM, true).await;
    assert_eq!(status, 409, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("setting auth.feishu.app_secret (owned by feishu)"),
        "{detail}"
    );
    assert!(
        detail.contains("route POST /api/v1/feishu/webhook (owned by feishu)"),
        "{detail}"
    );
    assert!(!detail.contains(APP_SECRET), "{detail}");
    // Nothing of it was stored: not the version, not even its own setting.
    let (_, list) = h.get("/api/v1/admin/plugins").await;
    let ids: Vec<&str> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["feishu"], "{list}");
    assert!(h.host.store.get_param("misbehave.note").unwrap().is_none());
    // The secret is still Feishu's, still a secret; the route still reaches the Feishu plugin.
    let secret = h
        .host
        .store
        .get_param("auth.feishu.app_secret")
        .unwrap()
        .unwrap();
    assert!(secret.is_sensitive);
    let (_, settings) = h.get("/api/v1/admin/feishu/settings").await;
    assert_eq!(settings["app_secret"], "", "{settings}");
    let answer = h
        .http
        .post(format!("{}/api/v1/feishu/webhook", h.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-mica-answered-by"], "plugin");
    // Cards still go out through Feishu.
    h.post_event(&event(
        "po_created",
        "evt-after-impostor",
        vec![recipient("a@example.com", "zh-CN")],
    ))
    .await;
    let d = h.settled("evt-after-impostor").await;
    assert_eq!(d[0]["status"], "sent", "{d:?}");
    assert_eq!(d[0]["plugin_version"], PLUGIN_VERSION);
    h.host.stop().await;
}

/// The fixture notifier is installed first, so it owns notifications; the Feishu plugin, whose id
/// sorts first, installed after it, takes none of them until an administrator assigns it the world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_stays_with_the_plugin_that_owns_its_world_until_an_admin_assigns_it() {
    let sim = FeishuSim::start().await;
    let options = HostOptions {
        plugin: Some(fixture_wasm("fixture_misbehave")),
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    let feishu = std::fs::read(plugin_wasm()).unwrap();
    let (status, body) = h.upload(feishu, WASM, true).await;
    assert_eq!(status, 201, "{body}");
    h.configure_feishu(&sim);
    let (_, worlds) = h.get("/api/v1/admin/worlds").await;
    let notifier = worlds["worlds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["world"] == "notifier")
        .unwrap()
        .clone();
    assert_eq!(notifier["plugin_id"], "misbehave", "{worlds}");
    assert_eq!(notifier["serving"], true, "{worlds}");

    let send =
        |id: &'static str| event("po_created", id, vec![recipient("a@example.com", "zh-CN")]);
    h.post_event(&send("evt-owned")).await;
    let d = h.settled("evt-owned").await;
    assert_eq!(d[0]["status"], "sent", "{d:?}");
    assert_eq!(d[0]["plugin_version"], "0.0.1", "the owner delivered it");
    assert!(sim.messages().is_empty(), "the Feishu plugin took none");

    // Mistakes are refused, naming the field; nothing changes.
    let (status, body) = h
        .put_json(
            "/api/v1/admin/worlds/approval-provider",
            &json!({"plugin_id": "misbehave"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().starts_with("plugin_id:"),
        "{body}"
    );
    let (status, _) = h
        .put_json(
            "/api/v1/admin/worlds/telepathy",
            &json!({"plugin_id": "feishu"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = h
        .put_json(
            "/api/v1/admin/worlds/notifier",
            &json!({"plugin_id": "nobody"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = h
        .put_json(
            "/api/v1/admin/worlds/notifier",
            &json!({"plugin_id": "feishu"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["previous"], "misbehave");
    h.post_event(&send("evt-assigned")).await;
    let d = h.settled("evt-assigned").await;
    assert_eq!(d[0]["status"], "sent", "{d:?}");
    assert_eq!(d[0]["plugin_version"], PLUGIN_VERSION);
    assert_eq!(sim.messages().len(), 1);

    // The owner switched off: its work waits (saying why) rather than going to another plugin.
    let (status, _) = h
        .post_json(
            "/api/v1/admin/plugins/feishu/disable",
            &serde_json::Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    h.post_event(&send("evt-waits")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = h.deliveries("evt-waits").await;
        if let Some(why) = d[0]["last_error"].as_str() {
            assert_eq!(
                why,
                "waiting: notifier belongs to feishu, which is disabled"
            );
            assert_eq!(d[0]["attempts"], 0, "{d:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{d:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.messages().len(), 1);
    h.host.stop().await;
}

/// A setting stored as a secret stays one when a version declares it plain: masked in the settings
/// API and out of `config`. (The row is made secret here as an earlier version declaring it secret
/// would have left it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_stays_a_secret_whatever_a_later_version_declares() {
    let options = HostOptions {
        plugin: Some(fixture_wasm("fixture_misbehave")),
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.host
        .store
        .with(|c| {
            c.execute(
                "UPDATE system_parameters SET is_sensitive = 1 WHERE key = 'misbehave.note'",
                (),
            )?;
            Ok(())
        })
        .unwrap();
    h.set("misbehave.note", json!("kept-from-v1"));
    h.host
        .registry
        .activate_installed("misbehave", "0.0.1")
        .await
        .unwrap();
    let (status, settings) = h.get("/api/v1/admin/misbehave/settings").await;
    assert_eq!(status, 200, "{settings}");
    assert!(!settings.to_string().contains("kept-from-v1"), "{settings}");
    assert_eq!(settings["note"], "", "{settings}");
    // The plugin's own config read is refused now that the setting is a secret.
    let plugin = h.host.registry.active("misbehave").unwrap();
    let seen = peek(&h, &plugin).await;
    assert_eq!(seen, "secret=false app_id=false own=false");
    h.host.stop().await;
}

async fn peek(h: &TestHost, plugin: &mica_host::runtime::LoadedPlugin) -> String {
    plugin
        .notify(&h.host.store, po_request("peek"))
        .await
        .unwrap()
        .unwrap()
        .message_id
}
