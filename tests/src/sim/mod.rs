//! A Feishu Open Platform simulator that speaks Feishu's wire format: the tenant token endpoint and
//! message sending, with Feishu's success and error shapes, its uuid deduplication and size limit,
//! knobs to inject failures, and a record of everything received.

pub mod approval;
mod approval_routes;
pub mod callbacks;
mod card;
pub mod clicks;
mod control;
mod listener;
mod routes;
mod state;
mod update;

pub use state::{Fault, Hostility, SentMessage, SimState};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

pub const APP_ID: &str = "cli_sim0000000000001";
pub const APP_SECRET: &str = "sim-secret-0000000000000000000001";

/// A running simulator on a loopback port.
pub struct FeishuSim {
    pub addr: SocketAddr,
    state: Arc<Mutex<SimState>>,
    server: JoinHandle<()>,
}

impl FeishuSim {
    /// Start on an ephemeral loopback port with the default app credentials.
    pub async fn start() -> FeishuSim {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(addr: SocketAddr) -> FeishuSim {
        Self::serve(addr, false).await
    }

    /// Also answer the `/_sim/*` control endpoints, so a test in another process (the Python
    /// bridge's) can inspect and drive the simulator over HTTP.
    pub async fn start_with_control(addr: SocketAddr) -> FeishuSim {
        Self::serve(addr, true).await
    }

    async fn serve(addr: SocketAddr, control: bool) -> FeishuSim {
        let state = Arc::new(Mutex::new(SimState::new(APP_ID, APP_SECRET)));
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the simulator");
        let addr = tcp.local_addr().unwrap();
        let listener = listener::CountingListener::new(tcp, state.clone());
        let mut app = routes::router(state.clone());
        if control {
            app = app.merge(control::router(state.clone()));
        }
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("simulator server");
        });
        FeishuSim {
            addr,
            state,
            server,
        }
    }

    /// The base URL to configure as `auth.feishu.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Inspect or change the simulator's state.
    pub fn with<R>(&self, f: impl FnOnce(&mut SimState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Every message recorded (duplicates suppressed by uuid are not recorded again).
    pub fn messages(&self) -> Vec<SentMessage> {
        self.with(|s| s.messages.clone())
    }

    pub fn token_fetches(&self) -> usize {
        self.with(|s| s.token_fetches)
    }

    pub fn connections(&self) -> usize {
        self.with(|s| s.connections)
    }

    /// Queue faults for the next message requests, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.with(|s| s.faults.extend(faults));
    }

    /// Invalidate every token issued so far (as when an app secret is reset).
    pub fn revoke_tokens(&self) {
        self.with(|s| s.revoke_tokens());
    }
}

impl FeishuSim {
    /// Define an approval template (`form` widgets as Feishu's definition returns them).
    pub fn define_approval(&self, code: &str, form: serde_json::Value) {
        self.with(|s| s.definitions.insert(code.into(), form));
    }

    /// Call the host back on `url` like Feishu does.
    pub fn send_callbacks_to(&self, config: callbacks::CallbackConfig) {
        self.with(|s| s.callback = Some(config));
    }

    pub fn instances(&self) -> Vec<approval::Instance> {
        self.with(|s| s.instances.clone())
    }

    /// An approver decides in Feishu: the instance changes status and Feishu pushes an
    /// `approval_instance` callback (retried, possibly duplicated or lost per the knobs).
    /// Returns the event id.
    pub fn decide(&self, instance_code: &str, status: &str) -> String {
        decide(&self.state, instance_code, status).expect("a known instance")
    }

    /// Send one callback payload now (no retries) and return the host's HTTP status.
    pub async fn push(&self, payload: &serde_json::Value) -> u16 {
        let config = self
            .with(|s| s.callback.clone())
            .expect("send_callbacks_to was called");
        let (body, headers) = callbacks::wire(&config, payload);
        callbacks::post(&reqwest::Client::new(), &config.url, body, &headers).await
    }
}

/// [`FeishuSim::decide`] on shared state: `None` when the instance is unknown.
fn decide(state: &Arc<Mutex<SimState>>, instance_code: &str, status: &str) -> Option<String> {
    let (event_id, callback) = decision(state, instance_code, status)?;
    if let Some(callback) = callback {
        let state = state.clone();
        tokio::spawn(async move { callback.deliver(&state).await });
    }
    Some(event_id)
}

/// Decide an instance now and deliver its callback before returning (an auto-approved template:
/// Feishu calls back before it answers the create request).
pub(super) async fn decide_now(state: &Arc<Mutex<SimState>>, instance_code: &str, status: &str) {
    if let Some((_, Some(callback))) = decision(state, instance_code, status) {
        callback.deliver(state).await;
    }
}

/// A decision's callback, as Feishu will send it.
struct Callback {
    config: callbacks::CallbackConfig,
    event_id: String,
    payload: serde_json::Value,
    twice: bool,
}

impl Callback {
    async fn deliver(self, state: &Arc<Mutex<SimState>>) {
        for _ in 0..if self.twice { 2 } else { 1 } {
            deliver_with_retries(state, &self.config, &self.event_id, &self.payload).await;
        }
    }
}

/// Change the instance's status; its event id, and the callback unless the knobs lose it.
fn decision(
    state: &Arc<Mutex<SimState>>,
    instance_code: &str,
    status: &str,
) -> Option<(String, Option<Callback>)> {
    let event_id = format!("evt-sim-{:016x}", rand::random::<u64>());
    let now = chrono::Utc::now().timestamp_millis() as u64;
    let mut s = state.lock().unwrap();
    let config = s.callback.clone().expect("send_callbacks_to was called");
    let instance = s
        .instances
        .iter_mut()
        .find(|i| i.instance_code == instance_code)?;
    instance.status = status.into();
    let approval_code = instance.approval_code.clone();
    let event = if s.v2_callbacks {
        callbacks::approval_event_v2
    } else {
        callbacks::approval_event
    };
    let payload = event(
        &event_id,
        &config.verification_token,
        &approval_code,
        instance_code,
        status,
        now,
    );
    // Feishu calls back only about templates the app subscribed to.
    if !s.subscriptions.contains(&approval_code) {
        s.unsubscribed_decisions += 1;
        return Some((event_id, None));
    }
    let lost = s.lose_callbacks > 0;
    if lost {
        s.lose_callbacks -= 1;
        return Some((event_id, None));
    }
    let callback = Callback {
        config,
        event_id: event_id.clone(),
        payload,
        twice: s.duplicate_callbacks,
    };
    Some((event_id, Some(callback)))
}

async fn deliver_with_retries(
    state: &Arc<Mutex<SimState>>,
    config: &callbacks::CallbackConfig,
    event_id: &str,
    payload: &serde_json::Value,
) {
    let client = reqwest::Client::new();
    let mut delays = config.retry_delays.iter();
    loop {
        // Each attempt is encrypted and signed afresh, as Feishu does.
        let (body, headers) = callbacks::wire(config, payload);
        let status = callbacks::post(&client, &config.url, body, &headers).await;
        state
            .lock()
            .unwrap()
            .callback_log
            .push((event_id.to_string(), status));
        if status == 200 {
            return;
        }
        match delays.next() {
            Some(d) => tokio::time::sleep(*d).await,
            None => return,
        }
    }
}

impl Drop for FeishuSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}
