//! Several hosts on one PostgreSQL database behave as one host: they share the deliveries
//! without doubling any, share Feishu's limits, follow each other's settings and activations,
//! and apply a callback both receive once. These run on scripts/test.sh's PostgreSQL pass (a
//! SQLite file is one host's).

use mica_tests::approvals::{APPROVAL_CODE, VERIFICATION_TOKEN, setup};
use mica_tests::harness::{
    ADMIN_TOKEN, HostOptions, SERVICE_TOKEN, TestHost, all_sent_at, event, fixture_wasm,
    host_binary, plugin_wasm, recipient, test_database, until_cards_arrived,
};
use mica_tests::sim::{APP_ID, APP_SECRET, FeishuSim};
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The PostgreSQL database and schema every replica of a test shares, or `None` on the SQLite
/// pass (the test then says so and ends).
fn shared_database(dir: &Path) -> Option<(String, String)> {
    let found = test_database(dir);
    if found.is_none() {
        eprintln!("PostgreSQL pass only: replicas share a PostgreSQL database");
    }
    found
}

/// A host process with a data directory of its own on the shared database.
struct Replica {
    dir: tempfile::TempDir,
    port: u16,
    base: String,
    child: Child,
}

/// Every replica uses the same secret key (the sealed App Secret must open on each) and tokens.
const SECRET_KEY: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

fn command(dir: &Path, database: &(String, String)) -> Command {
    let mut command = Command::new(host_binary());
    command
        .arg("--data-dir")
        .arg(dir)
        .args([
            "--database-url",
            &database.0,
            "--database-schema",
            &database.1,
        ])
        .env("MICA_SECRET_KEY", SECRET_KEY)
        .env("MICA_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("MICA_SERVICE_TOKEN", SERVICE_TOKEN);
    command
}

fn cli(dir: &Path, database: &(String, String), args: &[&str]) {
    let out = command(dir, database).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Replica {
    async fn start(database: &(String, String)) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut replica = Replica {
            child: Command::new("true").spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            dir,
            port,
        };
        replica.serve(database, 0).await;
        replica
    }

    async fn serve(&mut self, database: &(String, String), run: usize) {
        let log = std::fs::File::create(self.dir.path().join(format!("host-{run}.log"))).unwrap();
        self.child = command(self.dir.path(), database)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "the replica did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&mut self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap();
    }
}

/// A test that fails leaves no host process behind.
impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_send_every_card_once_within_the_apps_limits_when_one_is_killed() {
    let root = tempfile::tempdir().unwrap();
    let Some(database) = shared_database(root.path()) else {
        return;
    };
    let sim = FeishuSim::start().await;
    // Installed and configured once, through the shared database.
    cli(
        root.path(),
        &database,
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
        cli(root.path(), &database, &["param", "set", key, &value]);
    }
    let mut a = Replica::start(&database).await;
    let b = Replica::start(&database).await;

    // 600 cards, the events posted to both replicas in turn: twelve seconds at Feishu's 50/s.
    let (events, per_event) = (20, 30);
    let http = reqwest::Client::new();
    for e in 0..events {
        let target = if e % 2 == 0 { &a.base } else { &b.base };
        let recipients = (0..per_event)
            .map(|r| recipient(&format!("r{e}-{r}@example.com"), "zh-CN"))
            .collect();
        let resp = http
            .post(format!("{target}/api/v1/events"))
            .bearer_auth(SERVICE_TOKEN)
            .json(&event("po_created", &format!("rep-{e}"), recipients))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
    }
    let total = events * per_event;

    // Kill one replica while cards are going out, and start it again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.with(|s| s.messages.len()) < 100 {
        assert!(Instant::now() < deadline, "no cards went out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at_kill = sim.with(|s| s.messages.len());
    a.signal("-KILL");
    a.serve(&database, 1).await;

    until_cards_arrived(&sim, total, Duration::from_secs(120)).await;
    // Every delivery is recorded as sent, whichever replica is asked.
    for e in 0..events {
        let target = if e % 2 == 0 { &b.base } else { &a.base };
        all_sent_at(&http, target, SERVICE_TOKEN, &format!("rep-{e}"), per_event).await;
    }
    let messages = sim.messages();
    assert_eq!(messages.len(), total, "each card recorded once");
    let uuids: HashSet<_> = messages.iter().map(|m| m.uuid.clone().unwrap()).collect();
    assert_eq!(uuids.len(), total, "one message per uuid");
    let busiest = sim.with(|s| s.max_in_window_of(Duration::from_secs(1), |_| true));
    assert!(
        busiest <= 50,
        "{busiest} cards reached Feishu within one second from the two replicas"
    );
    // One tenant token for every replica and every restart: the fetch is single-flight through
    // the kv compare-and-set, which the database decides.
    assert_eq!(sim.token_fetches(), 1, "tenant tokens fetched");
    let by_minute = sim.with(|s| s.max_in_window_of(Duration::from_secs(60), |_| true));
    assert!(by_minute <= 1000, "{by_minute} cards within a minute");
    println!(
        "{total} cards from two replicas, one killed after {at_kill}: at most {busiest} in a second; {} repeats suppressed by uuid",
        sim.with(|s| s.duplicates_suppressed)
    );
    a.signal("-TERM");
    let mut b = b;
    b.signal("-TERM");
}

/// Two hosts in this process on one data directory: the same schema, key and tokens.
async fn two_in_process(options: impl Fn() -> HostOptions) -> Option<(TestHost, TestHost)> {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    shared_database(dir.path())?;
    let a = TestHost::start_in(dir.clone(), options()).await;
    let b = TestHost::start_in(dir, options()).await;
    Some((a, b))
}

/// How long until `done` holds, polling every 10 ms (panics after 10 s).
async fn time_until(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_and_an_activation_made_through_one_replica_reach_the_other_within_a_second() {
    let Some((a, b)) = two_in_process(HostOptions::default).await else {
        return;
    };
    let sim = FeishuSim::start().await;
    a.configure_feishu(&sim);
    let key = "auth.feishu.notify_on_po".to_string();
    let read_on_b = || {
        b.host
            .store
            .param_values(std::slice::from_ref(&key))
            .unwrap()[&key]
            .clone()
    };
    assert_eq!(read_on_b(), json!(true));
    // Through the admin API of one replica...
    let (status, body) = a
        .put_json(
            "/api/v1/admin/feishu/settings",
            &json!({"notify_on_po": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // ...read by the other's plugin calls.
    let took = time_until("the setting reaching the other replica", || {
        read_on_b() == json!(false)
    })
    .await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    println!("a setting made through one replica was read by the other after {took:?}");
    let (status, answer) = b
        .post_event(&event(
            "po_created",
            "evt-off",
            vec![recipient("a@example.com", "en-US")],
        ))
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(b.settled("evt-off").await[0]["status"], "skipped");

    // An activation through one replica is served by the other.
    let v2 = std::fs::read(fixture_wasm("fixture_feishu_v2")).unwrap();
    let (status, body) = a.upload(v2, "application/wasm", true).await;
    assert_eq!(status, 201, "{body}");
    let version = body["version"].as_str().unwrap().to_string();
    let took = time_until("the activation reaching the other replica", || {
        b.host
            .registry
            .active("feishu")
            .is_some_and(|p| p.version() == version)
    })
    .await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    println!("an activation made through one replica was served by the other after {took:?}");
    a.host.stop().await;
    b.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_callback_delivered_to_both_replicas_at_once_is_applied_and_told_to_mica_once() {
    let t = setup(true, HostOptions::default()).await;
    let Some((database_url, _)) = shared_database(t.host.dir.path()) else {
        return;
    };
    assert!(database_url.starts_with("postgres"));
    let options = || HostOptions {
        callback_url: Some(t.mica.url.clone()),
        ..Default::default()
    };
    let b = TestHost::start_in(t.host.dir.clone(), options()).await;
    // A slow Mica: a notice being sent by one replica is still unanswered when the other looks.
    t.mica.state.lock().unwrap().answer_after = Some(Duration::from_millis(700));
    let instance = t.start_payment("pay-rep").await;
    t.sim.with(|s| {
        for i in s
            .instances
            .iter_mut()
            .filter(|i| i.instance_code == instance)
        {
            i.status = "APPROVED".into();
        }
    });
    let payload = mica_tests::sim::callbacks::approval_event(
        "evt-both",
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &instance,
        "APPROVED",
        chrono::Utc::now().timestamp_millis() as u64,
    );
    let config = t.sim.with(|s| s.callback.clone()).unwrap();
    let client = reqwest::Client::new();
    let post = |base: String| {
        let (body, headers) = mica_tests::sim::callbacks::wire(&config, &payload);
        let client = client.clone();
        async move {
            let url = format!("{base}/api/v1/feishu/webhook");
            mica_tests::sim::callbacks::post(&client, &url, body, &headers).await
        }
    };
    let (on_a, on_b) = tokio::join!(post(t.host.base.clone()), post(b.base.clone()));
    assert_eq!((on_a, on_b), (200, 200));
    let approval = t.wait_status("pay-rep", "APPROVED").await;
    let approved_lines = approval["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["status"] == "APPROVED")
        .count();
    assert_eq!(approved_lines, 1, "{approval}");
    // Mica hears of it once, though both replicas send notices.
    let approved = || {
        t.mica
            .notices()
            .iter()
            .filter(|(n, _)| n["status"] == "APPROVED")
            .count()
    };
    time_until("Mica hearing of the decision", || approved() >= 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(approved(), 1, "{:#?}", t.mica.notices());
    b.host.stop().await;
    t.host.host.stop().await;
}
