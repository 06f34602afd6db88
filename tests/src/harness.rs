//! Running the real host, with the real plugin component, against the simulator.

use crate::sim::{APP_ID, APP_SECRET, FeishuSim};
use mica_host::app::Host;
use mica_host::config::HostConfig;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// Mica's backend credential: events, deliveries, approvals.
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789";

fn workspace_target() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// The version the plugin built from `plugin/` declares.
pub const PLUGIN_VERSION: &str = "0.1.4";

/// The plugin component built by `scripts/build-plugin.sh`.
pub fn plugin_wasm() -> PathBuf {
    let path = std::env::var("MICA_PLUGIN_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            workspace_target().join("wasm32-wasip2/plugin/mica_feishu_plugin.wasm")
        });
    assert!(
        path.is_file(),
        "{} is missing: run scripts/build-plugin.sh (scripts/test.sh does) before the end-to-end tests",
        path.display()
    );
    path
}

/// A fixture component built by `scripts/build-plugin.sh` (e.g. "fixture_outbound_probe").
pub fn fixture_wasm(name: &str) -> PathBuf {
    let path = plugin_wasm().with_file_name(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run scripts/build-plugin.sh",
        path.display()
    );
    path
}

/// The `mica-host` binary, built by `cargo test --workspace` (or `cargo build -p mica-host`).
pub fn host_binary() -> PathBuf {
    let path = workspace_target().join("debug/mica-host");
    assert!(
        path.is_file(),
        "{} is missing: cargo build -p mica-host",
        path.display()
    );
    path
}

/// On scripts/test.sh's PostgreSQL pass (`MICA_TEST_DATABASE_URL=postgres://…`), the database of
/// the host whose data directory is `dir`: a schema of its own, named after `dir`, so a host
/// restarted on the same directory finds its state. `None`: the embedded SQLite file in `dir`.
pub fn test_database(dir: &std::path::Path) -> Option<(String, String)> {
    use std::hash::{Hash, Hasher};
    let url = std::env::var("MICA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hasher);
    Some((url, format!("t_{:016x}", hasher.finish())))
}

/// Whether this run keeps the hosts' state in PostgreSQL (tests that look into the SQLite file
/// itself run on the SQLite pass only).
pub fn on_postgres() -> bool {
    test_database(std::path::Path::new("/")).is_some()
}

/// The `mica-host` binary with `--data-dir dir` and, on the PostgreSQL pass, that directory's
/// database (`test_database`).
pub fn host_command(dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(host_binary());
    command.arg("--data-dir").arg(dir);
    if let Some((url, schema)) = test_database(dir) {
        command.args(["--database-url", &url, "--database-schema", &schema]);
    }
    command
}

/// Compiled components are shared by every test host, so each test does not compile again.
fn shared_compile_cache() -> PathBuf {
    workspace_target().join("test-compile-cache")
}

/// A host under test. Dropping it without `stop` leaves its server task to the test runtime.
pub struct TestHost {
    pub host: Host,
    pub dir: Arc<TempDir>,
    pub http: reqwest::Client,
    pub base: String,
}

pub struct HostOptions {
    /// Plugin calls in flight at once; 0 starts no delivery worker.
    pub concurrency: usize,
    /// Retry delay base for transient failures.
    pub retry_base: Duration,
    /// The component to install (default: the Feishu plugin).
    pub plugin: Option<PathBuf>,
    /// Mica's callback URL (signed with `mica::CALLBACK_SECRET`).
    pub callback_url: Option<String>,
    /// Re-read undecided approvals after this long without news.
    pub reconcile_after: Duration,
    /// The sandbox (default: the host's defaults).
    pub limits: Option<mica_host::runtime::SandboxLimits>,
    /// `serve --watch`: the component file to follow.
    pub watch: Option<PathBuf>,
    /// `MICA_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// The listen address (default: a free loopback port).
    pub listen: Option<std::net::SocketAddr>,
    /// Proxy and extra CA (default: none, whatever the test process's environment says).
    pub net: mica_host::net::NetConfig,
    /// Rate shaping. Off by default here: functional tests are not about pacing (the rate tests
    /// turn it on with the host's real defaults).
    pub rate: Option<mica_host::delivery::RateLimits>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            concurrency: 8,
            retry_base: Duration::from_millis(100),
            plugin: None,
            callback_url: None,
            reconcile_after: Duration::from_secs(600),
            limits: None,
            watch: None,
            rate: None,
            public_url: None,
            listen: None,
            net: Default::default(),
        }
    }
}

impl TestHost {
    /// A host with the Feishu integration enabled and pointed at `sim`.
    pub async fn start(sim: &FeishuSim) -> TestHost {
        let host = Self::start_in(
            Arc::new(tempfile::tempdir().unwrap()),
            HostOptions::default(),
        )
        .await;
        host.configure_feishu(sim);
        host
    }

    /// A host on `dir` (a new or a previous host's data directory).
    pub async fn start_in(dir: Arc<TempDir>, options: HostOptions) -> TestHost {
        // `RUST_LOG=mica_host=debug cargo test …` shows what the hosts under test log.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let database = test_database(dir.path());
        let mut config =
            HostConfig::new(dir.path(), database.as_ref().map(|(url, _)| url.as_str())).unwrap();
        if let Some((_, schema)) = &database {
            config.database.set_schema(schema).unwrap();
        }
        config.listen = options
            .listen
            .unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
        config.public_url = options.public_url;
        config.net = options.net;
        config.cache_dir = shared_compile_cache();
        config.plugin = Some(options.plugin.unwrap_or_else(plugin_wasm));
        config.admin_token = Some(ADMIN_TOKEN.into());
        config.service_token = Some(SERVICE_TOKEN.into());
        config.delivery_concurrency = options.concurrency;
        config.retry.base = options.retry_base;
        config.retry.max_delay = Duration::from_secs(2);
        config.callback_url = options.callback_url;
        config.callback_secret = crate::mica::CALLBACK_SECRET.into();
        config.notice_retry_base = Duration::from_millis(50);
        config.reconcile_after = options.reconcile_after;
        config.reconcile_every = Duration::from_millis(100);
        if let Some(limits) = options.limits {
            config.limits = limits;
        }
        config.watch = options.watch;
        config.rate = options.rate.unwrap_or(mica_host::delivery::RateLimits {
            enabled: false,
            ..Default::default()
        });
        let host = Host::start(config).await.expect("host starts");
        let base = format!("http://{}", host.addr);
        TestHost {
            host,
            dir,
            http: reqwest::Client::new(),
            base,
        }
    }

    /// Stop this host and start another on the same data directory.
    pub async fn restart(self, options: HostOptions) -> TestHost {
        let dir = self.dir.clone();
        self.host.stop().await;
        Self::start_in(dir, options).await
    }

    pub fn configure_feishu(&self, sim: &FeishuSim) {
        self.set("auth.feishu.base_url", json!(sim.base_url()));
        self.set("auth.feishu.app_id", json!(APP_ID));
        self.set("auth.feishu.app_secret", json!(APP_SECRET));
        self.set("auth.feishu.enabled", json!(true));
    }

    /// Set a system parameter directly in the store.
    pub fn set(&self, key: &str, value: Value) {
        self.host
            .store
            .set_param(key, &value)
            .expect("set parameter");
    }

    /// An authenticated request; the status and the JSON answer (null when there is none).
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(body);
        }
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn post_event(&self, body: &Value) -> (u16, Value) {
        self.post_json("/api/v1/events", body).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request(reqwest::Method::PUT, path, Some(body)).await
    }

    /// The value of the first `/metrics` line that starts with `line_start` (a name and its
    /// labels), or none while the series does not exist.
    pub async fn metric(&self, line_start: &str) -> Option<f64> {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Upload a component (`POST /api/v1/admin/plugins`), as `content_type`.
    pub async fn upload(&self, bytes: Vec<u8>, content_type: &str, activate: bool) -> (u16, Value) {
        let resp = self
            .http
            .post(format!(
                "{}/api/v1/admin/plugins?activate={activate}",
                self.base
            ))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.request(reqwest::Method::GET, path, None).await
    }

    /// Test Connection with an optional body: the status and the answer.
    pub async fn test_connection(&self, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/api/v1/admin/feishu/test", self.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub async fn deliveries(&self, event_id: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/api/v1/deliveries?event_id={event_id}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["deliveries"].as_array().cloned().unwrap_or_default()
    }

    /// Wait until every delivery of the event is sent, skipped or failed.
    pub async fn settled(&self, event_id: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let deliveries = self.deliveries(event_id).await;
            let done = !deliveries.is_empty()
                && deliveries.iter().all(|d| {
                    ["sent", "skipped", "failed"].contains(&d["status"].as_str().unwrap_or(""))
                });
            if done {
                return deliveries;
            }
            assert!(
                Instant::now() < deadline,
                "deliveries of {event_id} did not settle: {deliveries:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// One named check of a Test Connection answer.
pub fn check<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {answer}"))
}

/// A `po_created` notify call whose `supplier` is `supplier` (the misbehaving fixture reads its
/// command from it).
pub fn po_request(supplier: &str) -> mica_host::domain::NotifyRequest {
    use mica_host::domain::{DomainEvent, Money, PoCreated, Recipient};
    mica_host::domain::NotifyRequest {
        idempotency_key: format!("k-{supplier}"),
        event_id: "e".into(),
        occurred_at: "2026-11-25T02:14:22Z".into(),
        event: DomainEvent::PoCreated(PoCreated {
            po_id: "1".into(),
            po_number: "PO-1".into(),
            supplier: supplier.into(),
            amount: Money {
                value: "1".into(),
                currency: "CNY".into(),
            },
            pr_title: String::new(),
            url: "https://mica.example.com/po/1".into(),
        }),
        recipient: Recipient {
            email: "a@example.com".into(),
            name: String::new(),
            locale: "zh-CN".into(),
            feishu_union_id: None,
            feishu_open_id: None,
            feishu_user_id: None,
        },
        attempt: 1,
    }
}

/// The text of a card's markdown and text elements, joined by lines.
pub fn card_text(card: &Value) -> String {
    card["body"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A recipient object as Mica sends it.
pub fn recipient(email: &str, locale: &str) -> Value {
    json!({"email": email, "name": "Test User", "locale": locale,
           "feishu_union_id": null, "feishu_open_id": null, "feishu_user_id": null})
}

fn cny(value: &str) -> Value {
    json!({"value": value, "currency": "CNY"})
}

/// A valid event of `kind` with realistic data.
pub fn event(kind: &str, id: &str, recipients: Vec<Value>) -> Value {
    let data = match kind {
        "pr_submitted" => json!({
            "pr_id": "pr-1", "pr_number": "PR-2026-0042", "title": "Laptops for design",
            "applicant": {"name": "韩梅梅", "email": "han@example.com"}, "department": "Design",
            "amount": cny("12500.00"), "line_count": 3, "url": "https://mica.example.com/pr/1"}),
        "approval_decided" => json!({
            "pr_id": "pr-1", "pr_number": "PR-2026-0042", "title": "Laptops for design",
            "decider": {"name": "王芳", "email": "wang@example.com"}, "result": "rejected",
            "comment": "Over budget", "url": "https://mica.example.com/pr/1"}),
        "po_created" => json!({
            "po_id": "po-7", "po_number": "PO-2026-0077", "supplier": "ACME Ltd.",
            "amount": cny("12500.00"), "pr_title": "Laptops for design", "url": "https://mica.example.com/po/7"}),
        "payment_pending" => json!({
            "payment_id": "pay-9", "payment_number": "PAY-2026-0009", "po_number": "PO-2026-0077",
            "supplier": "ACME Ltd.", "amount": cny("6250.00"), "due_date": "2026-12-15",
            "description": "First instalment", "url": "https://mica.example.com/pay/9",
            "submitter": recipient("li.lei@example.com", "zh-CN")}),
        "contract_expiring" => json!({
            "contract_id": "c-5", "contract_number": "CT-2025-0005", "supplier": "ACME Ltd.",
            "expiry_date": "2026-12-01", "days_remaining": 6, "total_amount": cny("500000.00"),
            "used_amount": cny("412000.00"), "url": "https://mica.example.com/contracts/5"}),
        other => panic!("unknown kind {other}"),
    };
    json!({"id": id, "type": kind, "occurred_at": "2026-11-25T02:14:22Z", "recipients": recipients, "data": data})
}

/// Wait until the simulator has recorded `total` cards (panics after `within`, naming how many).
pub async fn until_cards_arrived(sim: &FeishuSim, total: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while sim.with(|s| s.messages.len()) < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} cards arrived",
            sim.with(|s| s.messages.len())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The deliveries of `event_id` as the host at `base` (a process of its own) answers them; none
/// while it does not know the event (404).
pub async fn deliveries_at(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    event_id: &str,
) -> Vec<Value> {
    let resp = http
        .get(format!("{base}/api/v1/deliveries?event_id={event_id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    if resp.status() == 404 {
        return Vec::new();
    }
    let body: Value = resp.json().await.unwrap();
    body["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone()
}

/// Wait (30 s at most) until the host at `base` reports `count` deliveries of `event_id`, every
/// one sent; returns them.
pub async fn all_sent_at(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    event_id: &str,
    count: usize,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let deliveries = deliveries_at(http, base, token, event_id).await;
        if deliveries.len() == count && deliveries.iter().all(|d| d["status"] == "sent") {
            return deliveries;
        }
        assert!(Instant::now() < deadline, "{event_id}: {deliveries:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
