//! Killing the host (SIGKILL) in the middle of a burst loses nothing, sends nothing twice, and
//! does not break Feishu's rate limits: a host restarted within the second counts what the one
//! before it sent.

use mica_tests::harness::{
    ADMIN_TOKEN, all_sent_at, deliveries_at, event, host_command, plugin_wasm, recipient,
    until_cards_arrived,
};
use mica_tests::sim::{APP_ID, APP_SECRET, Fault, FeishuSim};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn cli(dir: &Path, args: &[&str]) {
    let out = host_command(dir)
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
    host_command(dir)
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

/// One test at a time: each runs host processes on two cores, and the burst test counts
/// Feishu's per-second limit where the cards arrive, so another test's load would bunch its
/// arrivals and prove nothing about the host.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A host process on its own data directory, with the plugin installed and pointed at `sim`.
struct Running {
    dir: tempfile::TempDir,
    port: u16,
    base: String,
    http: reqwest::Client,
    child: Child,
    runs: usize,
}

impl Running {
    async fn start(sim: &FeishuSim) -> Running {
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
        let child = serve(d, port, 0);
        healthy(&http, &base).await;
        Running {
            dir,
            port,
            base,
            http,
            child,
            runs: 0,
        }
    }

    /// Start the host again on the same directory and port (after it was stopped or killed).
    async fn restart(&mut self) {
        self.runs += 1;
        self.child = serve(self.dir.path(), self.port, self.runs);
        healthy(&self.http, &self.base).await;
    }

    async fn post(&self, event: &serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}/api/v1/events", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .json(event)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
    }

    /// The event's deliveries; none when the host never stored the event (404).
    async fn deliveries(&self, event_id: &str) -> Vec<serde_json::Value> {
        deliveries_at(&self.http, &self.base, ADMIN_TOKEN, event_id).await
    }

    /// Wait until every delivery of `event_id` is sent.
    async fn all_sent(&self, event_id: &str, count: usize) -> Vec<serde_json::Value> {
        all_sent_at(&self.http, &self.base, ADMIN_TOKEN, event_id, count).await
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// Wait until `n` send requests have reached the simulator (held there by injected faults).
async fn sends_in_flight(sim: &FeishuSim, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.with(|s| s.message_requests) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} sends reached Feishu",
            sim.with(|s| s.message_requests)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn people(prefix: &str, n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|r| recipient(&format!("{prefix}{r}@example.com"), "zh-CN"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_sends_in_flight_finish_and_nothing_is_sent_again() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = FeishuSim::start().await;
    let mut host = Running::start(&sim).await;
    // Three sends reach Feishu and are held there for a second and a half: well inside the
    // 10 s the host gives calls in flight when it is asked to stop.
    let held = 3;
    sim.inject((0..held).map(|_| Fault::HoldAnswer(Duration::from_millis(1500))));
    host.post(&event("po_created", "term", people("t", held)))
        .await;
    sends_in_flight(&sim, held).await;
    host.signal("-TERM");
    let exited = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(status) = host.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the host exits after SIGTERM");
    assert!(exited.success(), "a clean exit: {exited:?}");
    let log = std::fs::read_to_string(host.dir.path().join("host-0.log")).unwrap();
    assert!(
        !log.contains("still in flight at shutdown"),
        "the held sends finished before the host exited:\n{log}"
    );
    host.restart().await;
    // Recorded as sent before the first process exited, so the second has nothing to repeat.
    let deliveries = host.all_sent("term", held).await;
    assert!(
        deliveries.iter().all(|d| d["attempts"] == 1),
        "{deliveries:#?}"
    );
    assert_eq!(sim.messages().len(), held);
    assert_eq!(sim.with(|s| s.message_requests), held, "no send repeated");
    assert_eq!(sim.with(|s| s.duplicates_suppressed), 0);
    host.signal("-TERM");
    host.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_sends_held_in_flight_repeats_exactly_those_and_feishu_suppresses_them() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = FeishuSim::start().await;
    let mut host = Running::start(&sim).await;
    // Feishu records the cards, but its answers are still on the way when the host dies.
    let held = 4;
    sim.inject((0..held).map(|_| Fault::HoldAnswer(Duration::from_secs(5))));
    host.post(&event("po_created", "kill", people("k", held)))
        .await;
    sends_in_flight(&sim, held).await;
    kill(&mut host.child);
    host.restart().await;
    host.all_sent("kill", held).await;
    assert_eq!(sim.messages().len(), held, "each card recorded once");
    assert_eq!(
        sim.with(|s| s.message_requests),
        2 * held,
        "each held send was repeated once, and nothing else"
    );
    assert_eq!(
        sim.with(|s| s.duplicates_suppressed),
        held,
        "every repeat was recognised by its uuid"
    );
    host.signal("-TERM");
    host.child.wait().unwrap();
}

/// An event is stored with all its deliveries in one transaction before its 202: a host killed
/// while events are being posted has, after a restart, every event it acknowledged whole, and
/// any it did not acknowledge either whole or not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_events_are_posted_keeps_every_acknowledged_event_whole() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = FeishuSim::start().await;
    let mut host = Running::start(&sim).await;
    let per_event = 40;
    let posting = {
        let (http, base) = (host.http.clone(), host.base.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut attempted = 0;
            for e in 0.. {
                let id = format!("posted-{e}");
                let sent = http
                    .post(format!("{base}/api/v1/events"))
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&event(
                        "po_created",
                        &id,
                        people(&format!("p{e}-"), per_event),
                    ))
                    .send()
                    .await;
                attempted = e + 1;
                match sent {
                    Ok(r) if r.status() == 202 => acknowledged.push(id),
                    Ok(r) => panic!("{id}: {}", r.status()),
                    // The host is gone.
                    Err(_) => break,
                }
            }
            (acknowledged, attempted)
        })
    };
    // Kill it once a few events are in, while the posts keep coming.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.with(|s| s.message_requests) < 20 {
        assert!(Instant::now() < deadline, "no cards went out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kill(&mut host.child);
    let (acknowledged, attempted) = posting.await.unwrap();
    assert!(!acknowledged.is_empty());
    host.restart().await;
    for id in &acknowledged {
        let deliveries = host.deliveries(id).await;
        assert_eq!(deliveries.len(), per_event, "{id} lost deliveries");
    }
    // The one in flight when the host died is all or nothing.
    let unanswered = format!("posted-{}", attempted - 1);
    let partial = host.deliveries(&unanswered).await.len();
    assert!(
        partial == 0 || partial == per_event,
        "{unanswered} has {partial} of {per_event} deliveries"
    );
    for id in &acknowledged {
        host.all_sent(id, per_event).await;
    }
    println!(
        "{} events acknowledged before the kill, the one in flight stored {}",
        acknowledged.len(),
        if partial == 0 { "not at all" } else { "whole" }
    );
    host.signal("-TERM");
    host.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_loses_nothing_and_doubles_nothing() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = FeishuSim::start().await;
    let Running {
        dir,
        port,
        base,
        http,
        mut child,
        ..
    } = Running::start(&sim).await;
    let d = dir.path();

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

    until_cards_arrived(&sim, total, Duration::from_secs(120)).await;
    // Every delivery is recorded as sent.
    for e in 0..events {
        all_sent_at(&http, &base, ADMIN_TOKEN, &format!("crash-{e}"), per_event).await;
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
