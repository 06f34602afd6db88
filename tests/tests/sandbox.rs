//! A plugin that loops, allocates without bound, traps or reaches for another plugin's settings
//! fails that call only; the host keeps serving.

use mica_host::runtime::{CallError, SandboxLimits};
use mica_tests::harness::{HostOptions, TestHost, event, fixture_wasm, po_request, recipient};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

// Long enough that an allocating or trapping call fails on its own well before it, on a loaded
// machine too; the looping call shows the deadline itself.
const DEADLINE: Duration = Duration::from_millis(1500);

async fn host() -> TestHost {
    let options = HostOptions {
        limits: Some(SandboxLimits {
            call_deadline: DEADLINE,
            memory_bytes: 32 * 1024 * 1024,
            ..Default::default()
        }),
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    let wasm = std::fs::read(fixture_wasm("fixture_misbehave")).unwrap();
    let plugin = h
        .host
        .registry
        .install(wasm, mica_host::registry::SameVersion::Refuse)
        .await
        .unwrap();
    h.host.registry.activate(plugin).await.unwrap();
    h
}

async fn call(h: &TestHost, supplier: &str) -> (Result<String, CallError>, Duration) {
    let plugin = h.host.registry.active("misbehave").unwrap();
    let started = Instant::now();
    let result = plugin.notify(&h.host.store, po_request(supplier)).await;
    let elapsed = started.elapsed();
    (
        result.map(|r| r.map(|r| r.message_id).unwrap_or_else(|e| format!("{e:?}"))),
        elapsed,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_plugin_is_stopped_at_its_deadline_while_the_host_keeps_serving() {
    let h = host().await;
    let sim = mica_tests::sim::FeishuSim::start().await;
    h.configure_feishu(&sim);
    // Cards keep flowing through the Feishu plugin while the fixture spins.
    let looping = tokio::spawn({
        let plugin = h.host.registry.active("misbehave").unwrap();
        let store = h.host.store.clone();
        async move {
            let started = Instant::now();
            let r = plugin.notify(&store, po_request("loop")).await;
            (r.map(|_| ()), started.elapsed())
        }
    });
    h.post_event(&event(
        "po_created",
        "evt-during-loop",
        vec![recipient("a@example.com", "zh-CN")],
    ))
    .await;
    let d = h.settled("evt-during-loop").await;
    assert_eq!(d[0]["status"], "sent");
    let (result, elapsed) = looping.await.unwrap();
    assert!(matches!(result, Err(CallError::Timeout(_))), "{result:?}");
    assert!(elapsed >= DEADLINE, "{elapsed:?}");
    // The overshoot is measured in the closing note (epoch tick 10 ms); the bound here only
    // proves the call was cut at its deadline, loose enough for a loaded CI machine.
    assert!(
        elapsed <= DEADLINE + Duration::from_secs(1),
        "stopped {elapsed:?} after start"
    );
    println!("looping call stopped after {elapsed:?} (deadline {DEADLINE:?})");
    let (ok, _) = call(&h, "fine").await;
    assert_eq!(
        ok.unwrap(),
        "delivered fine",
        "the next call runs in a fresh instance"
    );
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_and_traps_fail_only_that_call() {
    let h = host().await;
    for supplier in ["alloc", "trap"] {
        let (result, elapsed) = call(&h, supplier).await;
        match result {
            Err(CallError::Trap(why)) => assert!(!why.is_empty()),
            other => panic!("{supplier}: {other:?}"),
        }
        assert!(elapsed < DEADLINE, "{supplier} failed fast ({elapsed:?})");
        let (ok, _) = call(&h, "fine").await;
        assert_eq!(ok.unwrap(), "delivered fine");
    }
    assert_eq!(h.get("/healthz").await.0, 200);
    // Memory returns: ten more calls that each fill their 32 MiB leave the process about where it was.
    let before = resident_mib();
    for _ in 0..10 {
        assert!(matches!(call(&h, "alloc").await.0, Err(CallError::Trap(_))));
    }
    let after = resident_mib();
    println!("resident memory {before} MiB before ten allocating calls, {after} MiB after");
    assert!(
        after < before + 150,
        "{before} MiB → {after} MiB: instance memory is not returned"
    );
    h.host.stop().await;
}

fn resident_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

/// Lines a plugin logged past its per-call quota, as `/metrics` counts them.
async fn dropped_over_quota(h: &TestHost) -> u64 {
    h.metric(r#"mica_plugin_log_dropped_total{plugin="misbehave",why="quota"}"#)
        .await
        .map_or(0, |n| n as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_cannot_flood_the_log() {
    let h = host().await;
    let before = dropped_over_quota(&h).await;
    let (answer, _) = call(&h, "chatty").await;
    assert_eq!(answer.unwrap(), "chatted");
    let dropped = dropped_over_quota(&h).await - before;
    assert_eq!(
        dropped,
        1000 - u64::from(mica_host::capabilities::log::MAX_LINES_PER_CALL)
    );
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_cannot_read_another_plugins_settings_or_secrets() {
    let h = host().await;
    h.set(
        "auth.feishu.app_secret",
        json!("feishu-secret-not-for-others"),
    );
    h.set("auth.feishu.app_id", json!("cli_a1b2c3"));
    h.set("misbehave.note", json!("mine"));
    let (seen, _) = call(&h, "peek").await;
    assert_eq!(seen.unwrap(), "secret=false app_id=false own=true");
    h.host.stop().await;
}

/// Instance slots are reused call after call, and only the pages a call wrote are reset: nothing
/// one call left in its memory (heap, data section, stack) is there for the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_finds_nothing_the_previous_call_left_in_memory() {
    let h = host().await;
    // The search works: within one call it finds what that call left.
    let (same_call, _) = call(&h, "selfcheck:mica-card-for-li.lei-8d1f").await;
    assert_eq!(same_call.unwrap(), "found=true");
    for round in 0..20 {
        let marker = format!("mica-card-for-han.meimei-{round}");
        let (left, _) = call(&h, &format!("remember:{marker}")).await;
        assert_eq!(left.unwrap(), "remembered");
        let (next, _) = call(&h, &format!("recall:{marker}")).await;
        assert_eq!(next.unwrap(), "found=false", "round {round}");
    }
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_failures_are_recorded_on_the_delivery() {
    let h = host().await;
    // Notifications belong to the Feishu plugin, installed first: hand them to the fixture.
    let (status, _) = h
        .put_json(
            "/api/v1/admin/worlds/notifier",
            &json!({"plugin_id": "misbehave"}),
        )
        .await;
    assert_eq!(status, 200);
    for (supplier, words) in [
        ("loop", "deadline"),
        ("trap", "trapped"),
        ("alloc", "trapped"),
    ] {
        let mut e = event(
            "po_created",
            &format!("evt-{supplier}"),
            vec![recipient("a@example.com", "zh-CN")],
        );
        e["data"]["supplier"] = json!(supplier);
        h.post_event(&e).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let d = h.deliveries(&format!("evt-{supplier}")).await;
            if d[0]["status"] == "retrying" {
                assert_eq!(d[0]["error_kind"], "plugin_error");
                let why = d[0]["last_error"].as_str().unwrap();
                assert!(why.contains(words), "{supplier}: {why}");
                assert_eq!(d[0]["plugin_version"], "0.0.1");
                break;
            }
            assert!(Instant::now() < deadline, "{supplier}: {d:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(h.get("/healthz").await.0, 200);
    h.host.stop().await;
}
