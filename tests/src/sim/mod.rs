//! A Feishu Open Platform simulator that speaks Feishu's wire format: the tenant token endpoint and
//! message sending, with Feishu's success and error shapes, its uuid deduplication and size limit,
//! knobs to inject failures, and a record of everything received.

mod card;
mod listener;
mod routes;
mod state;

pub use state::{Fault, SentMessage, SimState};

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
        let state = Arc::new(Mutex::new(SimState::new(APP_ID, APP_SECRET)));
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the simulator");
        let addr = tcp.local_addr().unwrap();
        let listener = listener::CountingListener::new(tcp, state.clone());
        let app = routes::router(state.clone());
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

impl Drop for FeishuSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}
