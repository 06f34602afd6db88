//! Killing the host (SIGKILL) in the middle of a burst loses nothing, sends nothing twice, and
//! does not break Feishu's rate limits: a host restarted within the second counts what the one
//! before it sent.

use mica_tests::harness::{ADMIN_TOKEN, event, host_binary, plugin_wasm, recipient};
use mica_tests::sim::{APP_ID, APP_SECRET, FeishuSim};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn cli(dir: &Path, args: &[&str]) {
    let out = Command::new(host_binary())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("MICA_SECRET_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn serve(dir: &Path, port: u16, run: usize) -> Child {
    Command::new(host_binary())
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("MICA_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("MICA_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("host-{run}.log"))).unwrap())
        .spawn()
        .unwrap()
}

async fn healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the host did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kill(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_loses_nothing_and_doubles_nothing() {
    let sim = FeishuSim::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cli(
        d,
        &[
            "plugin",
            "install",
            plugin_wasm().to_str().unwrap(),
            "--activate",
        ],
    );
    for (key, value) in [
        ("auth.feishu.base_url", sim.base_url()),
        ("auth.feishu.app_id", APP_ID.to_string()),
        ("auth.feishu.app_secret", APP_SECRET.to_string()),
        ("auth.feishu.enabled", "true".to_string()),
    ] {
        cli(d, &["param", "set", key, &value]);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut child = serve(d, port, 0);
    healthy(&http, &base).await;

    // 1,000 cards: 20 events of 50 recipients.
    let (events, per_event) = (20, 50);
    for e in 0..events {
        let recipients = (0..per_event)
            .map(|r| recipient(&format!("u{e}-{r}@example.com"), "zh-CN"))
            .collect();
        let resp = http
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&event("po_created", &format!("crash-{e}"), recipients))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
    }
    let total = events * per_event;

    // Kill it twice while cards are going out.
    let mut kills = Vec::new();
    for run in 1..=2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        kills.push(sim.with(|s| s.messages.len()));
        kill(&mut child);
        child = serve(d, port, run);
        healthy(&http, &base).await;
    }

    let deadline = Instant::now() + Duration::from_secs(120);
    while sim.with(|s| s.messages.len()) < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} cards arrived",
            sim.with(|s| s.messages.len())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every delivery is recorded as sent.
    for e in 0..events {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body: serde_json::Value = http
                .get(format!("{base}/api/v1/deliveries?event_id=crash-{e}"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let deliveries = body["deliveries"].as_array().unwrap();
            if deliveries.iter().all(|d| d["status"] == "sent") {
                assert_eq!(deliveries.len(), per_event);
                break;
            }
            assert!(Instant::now() < deadline, "{body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let messages = sim.messages();
    assert_eq!(messages.len(), total, "each card recorded once");
    let uuids: HashSet<_> = messages.iter().map(|m| m.uuid.clone().unwrap()).collect();
    assert_eq!(uuids.len(), total, "one message per uuid");
    let contents: HashSet<_> = messages
        .iter()
        .map(|m| (m.receive_id.clone(), m.card.to_string()))
        .collect();
    assert_eq!(
        contents.len(),
        total,
        "no recipient got the same card twice"
    );
    // The host restarts well within a second of each kill; before the calls granted were kept in
    // the store, the new process sent a full second's quota on top of the old one's.
    let busiest = sim.with(|s| s.max_in_window_of(Duration::from_secs(1), |_| true));
    assert!(
        busiest <= 50,
        "{busiest} cards reached Feishu within one second across the restarts"
    );
    let resent = sim.with(|s| s.duplicates_suppressed);
    println!(
        "killed at {kills:?} cards sent; {resent} in-flight sends repeated after a restart were suppressed by their uuid"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
}
