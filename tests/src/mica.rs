//! A stand-in for Mica's callback endpoint: records every notice and whether its
//! `X-Mica-Signature` (over `X-Mica-Timestamp` and the body) verified; can refuse the first ones
//! to prove the host retries.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::sync::{Arc, Mutex};

pub const CALLBACK_SECRET: &str = "mica-callback-secret-for-tests";

#[derive(Default)]
pub struct Received {
    /// (notice, signature verified)
    pub notices: Vec<(Value, bool)>,
    /// Answer `refuse_with` (503 unless set) to this many requests first.
    pub refuse: usize,
    pub refuse_with: Option<u16>,
    pub refused: usize,
    /// `X-Mica-Notice-Id` of every request, refused ones included, in arrival order.
    pub notice_ids: Vec<String>,
    /// The JSON answered to a `pr.decision` notice (none: 204, which says it was applied).
    pub decision_answer: Option<Value>,
    /// A slow Mica: each notice is recorded at once and answered this much later.
    pub answer_after: Option<std::time::Duration>,
}

pub struct MicaReceiver {
    pub url: String,
    pub state: Arc<Mutex<Received>>,
    server: tokio::task::JoinHandle<()>,
}

/// The host's signature: HMAC-SHA256 of "<X-Mica-Timestamp>.<body>", and a notice id present.
fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(given), Some(timestamp), Some(id)) = (
        header("x-mica-signature"),
        header("x-mica-timestamp"),
        header("x-mica-notice-id"),
    ) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(CALLBACK_SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    !id.is_empty() && given == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn receive(
    State(state): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let answered = answer(&state, &headers, &body);
    let after = state.lock().unwrap().answer_after;
    if let Some(after) = after {
        tokio::time::sleep(after).await;
    }
    answered.into_response()
}

fn answer(
    state: &Mutex<Received>,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, axum::Json<Value>) {
    let empty = || axum::Json(Value::Null);
    let mut s = state.lock().unwrap();
    let id = headers
        .get("x-mica-notice-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    s.notice_ids.push(id.to_string());
    if s.refused < s.refuse {
        s.refused += 1;
        let status = s
            .refuse_with
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return (status, empty());
    }
    let ok = verify(headers, body);
    let notice = serde_json::from_slice(body).unwrap_or(Value::Null);
    let decision = notice["type"] == "pr.decision";
    s.notices.push((notice, ok));
    match (&s.decision_answer, decision) {
        (Some(answer), true) => (StatusCode::OK, axum::Json(answer.clone())),
        _ => (StatusCode::NO_CONTENT, empty()),
    }
}

impl MicaReceiver {
    pub async fn start() -> MicaReceiver {
        let state = Arc::new(Mutex::new(Received::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/mica/feishu-callback",
            listener.local_addr().unwrap()
        );
        let app = Router::new()
            .route("/mica/feishu-callback", post(receive))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MicaReceiver { url, state, server }
    }

    pub fn notices(&self) -> Vec<(Value, bool)> {
        self.state.lock().unwrap().notices.clone()
    }
}

impl Drop for MicaReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
