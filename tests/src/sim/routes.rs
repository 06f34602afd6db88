//! The endpoints, answering as Feishu does.

use super::card;
use super::state::{Fault, SentMessage, SimState, UUID_WINDOW};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

type Shared = Arc<Mutex<SimState>>;

/// Feishu refuses card messages whose request body is over 30 KB.
pub(super) const MAX_CARD_REQUEST_BYTES: usize = 30 * 1024;

pub fn router(state: Shared) -> Router {
    Router::new()
        .route(
            "/open-apis/auth/v3/tenant_access_token/internal",
            post(token),
        )
        .route("/open-apis/im/v1/messages", post(send_message))
        .route(
            "/open-apis/im/v1/messages/{message_id}",
            patch(super::update::update_message),
        )
        .merge(super::approval_routes::router())
        .with_state(state)
}

pub(super) fn feishu(status: u16, body: Value) -> Response {
    let mut resp = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    let log_id = format!("sim-log-{:016x}", rand::random::<u64>());
    resp.headers_mut()
        .insert("x-tt-logid", HeaderValue::from_str(&log_id).unwrap());
    resp
}

pub(super) fn error(status: u16, code: i64, msg: &str) -> Response {
    feishu(
        status,
        json!({"code": code, "msg": msg, "error": {"log_id": "sim"}}),
    )
}

async fn token(State(state): State<Shared>, body: Bytes) -> Response {
    let fault = {
        let mut s = state.lock().unwrap();
        s.token_requests += 1;
        s.token_faults.pop_front()
    };
    if let Some(answer) = injected(fault).await {
        return answer;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(400, 9499, "Bad Request");
    };
    let mut s = state.lock().unwrap();
    // No such app (FEISHU_API.md §1.6).
    if body["app_id"].as_str() != Some(s.app_id.as_str()) {
        return error(400, 99991543, "login_user invalid");
    }
    if body["app_secret"].as_str() != Some(s.app_secret.as_str()) {
        return error(400, 10014, "app secret invalid");
    }
    let (token, expire) = s.issue_token();
    feishu(
        200,
        json!({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire}),
    )
}

async fn send_message(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (fault, trouble) = {
        let mut s = state.lock().unwrap();
        s.message_requests += 1;
        let trouble = pick_trouble(&s.hostility);
        if let Some(kind) = trouble {
            *s.trouble.entry(kind).or_default() += 1;
        }
        (s.faults.pop_front(), trouble)
    };
    match trouble {
        Some("server_error") => {
            return (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response();
        }
        Some("rate_limit") => {
            let mut resp = error(429, 99991400, "request trigger frequency limit");
            resp.headers_mut()
                .insert("x-ogw-ratelimit-reset", HeaderValue::from_static("1"));
            return resp;
        }
        Some("revoke_tokens") => {
            state.lock().unwrap().revoke_tokens();
            return error(
                400,
                99991663,
                "Invalid access token for authorization. Please make a request with token attached",
            );
        }
        Some("stall") => {
            let d = state.lock().unwrap().hostility.stall_for;
            tokio::time::sleep(d).await;
        }
        Some("drop_connection") => {
            // The answer starts, then the connection is cut.
            return Response::builder()
                .status(200)
                .body(axum::body::Body::new(CutShort(false)))
                .unwrap();
        }
        _ => {}
    }
    let lose_answer = trouble == Some("lose_response");
    let (hold, fault) = match fault {
        Some(Fault::HoldAnswer(d)) => (Some(d), None),
        other => (None, other),
    };
    if let Some(answer) = injected(fault).await {
        return answer;
    }
    let answer = record_message(&state, &query, &headers, &body, lose_answer);
    if let Some(d) = hold {
        tokio::time::sleep(d).await;
    }
    answer
}

/// Feishu's handling of a send once it got past the injected trouble: every check, and the
/// message recorded (once per `uuid`).
fn record_message(
    state: &Shared,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    lose_answer: bool,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Some(refused) = refusal(&s, headers) {
        return refused;
    }
    if !s.bot_enabled {
        return error(400, 230006, "Bot ability is not activated.");
    }
    if !s.send_scope_granted {
        return error(
            400,
            99991672,
            "Access denied. One of the following scopes is required: [im:message, im:message:send_as_bot].",
        );
    }
    let receive_id_type = query.get("receive_id_type").cloned().unwrap_or_default();
    if !["open_id", "union_id", "user_id", "email", "chat_id"].contains(&receive_id_type.as_str()) {
        return error(400, 99992402, "field validation failed: receive_id_type");
    }
    if body.len() > MAX_CARD_REQUEST_BYTES {
        return error(
            400,
            230025,
            "The length of the message content reaches its limit.",
        );
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(
            400,
            230001,
            "Your request contains an invalid request parameter.",
        );
    };
    let receive_id = req["receive_id"].as_str().unwrap_or_default().to_string();
    if receive_id.is_empty() {
        return error(400, 99992402, "field validation failed: receive_id");
    }
    let now = Instant::now();
    s.arrivals.push((now, receive_id.clone()));
    if s.enforce_rate_limits {
        let second = std::time::Duration::from_secs(1);
        let recent = |s: &SimState, who: Option<&str>| {
            s.arrivals
                .iter()
                .rev()
                .take_while(|(t, _)| now.duration_since(*t) < second)
                .filter(|(_, id)| who.is_none_or(|w| w == id))
                .count()
        };
        let minute = std::time::Duration::from_secs(60);
        let in_minute = s
            .arrivals
            .iter()
            .rev()
            .take_while(|(t, _)| now.duration_since(*t) < minute)
            .count();
        if recent(&s, None) > 50 || in_minute > 1000 {
            s.rate_limited += 1;
            let mut resp = error(429, 99991400, "request trigger frequency limit");
            resp.headers_mut()
                .insert("x-ogw-ratelimit-reset", HeaderValue::from_static("1"));
            return resp;
        }
        if recent(&s, Some(&receive_id)) > 5 {
            s.rate_limited += 1;
            return error(400, 230020, "This operation triggers the frequency limit.");
        }
    }
    if req["msg_type"].as_str() != Some("interactive") {
        return error(
            400,
            230001,
            "Your request contains an invalid request parameter. ext=msg_type",
        );
    }
    let card = match card_content(&req) {
        Ok(card) => card,
        Err(refused) => return *refused,
    };
    let uuid = req["uuid"].as_str().map(str::to_string);
    if let Some(u) = &uuid
        && u.chars().count() > 50
    {
        return error(
            400,
            99992402,
            "field validation failed: uuid longer than 50",
        );
    }
    if let Some(&code) = s.refused_ids.get(&receive_id) {
        let msg = match code {
            99992361 => "open_id cross app",
            99992351 => "these open ids not existed",
            230034 => "The receive_id is invalid.",
            _ => "refused",
        };
        return error(400, code, msg);
    }
    // No such account in the tenant.
    if receive_id_type == "email" && receive_id.ends_with(".invalid") {
        return error(400, 99992402, "field validation failed");
    }
    if receive_id_type == "email" && s.unreachable.contains(&receive_id.to_lowercase()) {
        return error(400, 230013, "Bot has NO availability to this user.");
    }
    if let Some(u) = &uuid
        && let Some((index, at)) = s.uuids.get(u).copied()
        && at.elapsed() < UUID_WINDOW
    {
        s.duplicates_suppressed += 1;
        let m = s.messages[index].clone();
        return feishu(
            200,
            json!({"code": 0, "msg": "success", "data": message_data(&m)}),
        );
    }
    let id = s.next_id();
    let message = SentMessage {
        message_id: format!("om_sim{id:024x}"),
        receive_id_type,
        receive_id,
        uuid: uuid.clone(),
        card,
        updates: 0,
    };
    s.messages.push(message.clone());
    if let Some(u) = uuid {
        let index = s.messages.len() - 1;
        s.uuids.insert(u, (index, Instant::now()));
    }
    if lose_answer {
        return error(500, 1395001, "server error (the message was sent)");
    }
    feishu(
        200,
        json!({"code": 0, "msg": "success", "data": message_data(&message)}),
    )
}

/// The card a send or an update carries in `content` (a JSON string), or Feishu's refusal of it.
pub(super) fn card_content(req: &Value) -> Result<Value, Box<Response>> {
    let Some(content) = req["content"].as_str() else {
        return Err(Box::new(error(
            400,
            230001,
            "Your request contains an invalid request parameter. ext=content must be a string",
        )));
    };
    card::validate(content).map_err(|why| {
        Box::new(error(
            400,
            230099,
            &format!("Failed to create card content, ext=ErrCode: 200621; ErrMsg: {why}"),
        ))
    })
}

/// The answer an injected fault gives instead of Feishu's (a delay only holds the request up).
pub(super) async fn injected(fault: Option<Fault>) -> Option<Response> {
    match fault? {
        Fault::Status(status) => Some(
            (
                StatusCode::from_u16(status).unwrap(),
                "<html>upstream error</html>",
            )
                .into_response(),
        ),
        Fault::RateLimit { reset_secs } => {
            let mut resp = error(429, 99991400, "request trigger frequency limit");
            let h = resp.headers_mut();
            h.insert("x-ogw-ratelimit-limit", HeaderValue::from_static("50"));
            h.insert(
                "x-ogw-ratelimit-reset",
                HeaderValue::from_str(&reset_secs.to_string()).unwrap(),
            );
            Some(resp)
        }
        Fault::Code(status, code, msg) => Some(error(status, code, &msg)),
        // A send holds its answer after recording (`send_message`); elsewhere it is a delay.
        Fault::Delay(d) | Fault::HoldAnswer(d) => {
            tokio::time::sleep(d).await;
            None
        }
    }
}

/// Which trouble, if any, this request gets.
fn pick_trouble(h: &super::state::Hostility) -> Option<&'static str> {
    let roll: f64 = rand::random();
    let mut edge = 0.0;
    for (kind, p) in [
        ("server_error", h.server_error),
        ("rate_limit", h.rate_limit),
        ("revoke_tokens", h.revoke_tokens),
        ("stall", h.stall),
        ("drop_connection", h.drop_connection),
        ("lose_response", h.lose_response),
    ] {
        edge += p;
        if roll < edge {
            return Some(kind);
        }
    }
    None
}

/// Feishu's bearer-token check, shared by every authorized endpoint: the refusal, if any.
pub(super) fn refusal(s: &SimState, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Some(error(400, 99991661, "Need a token"));
    };
    if !token.starts_with("t-") {
        return Some(error(400, 99991671, "Invalid token: must start with t-/u-"));
    }
    if !s.token_valid(token) {
        return Some(error(
            400,
            99991663,
            "Invalid access token for authorization. Please make a request with token attached",
        ));
    }
    None
}

fn message_data(m: &SentMessage) -> Value {
    json!({
        "message_id": m.message_id,
        "msg_type": "interactive",
        "chat_id": format!("oc_sim{:x}", m.receive_id.len()),
        "create_time": "1700000000000",
        "update_time": "1700000000000",
        "deleted": false,
        "updated": false,
        "sender": {"id": "cli_sim", "id_type": "app_id", "sender_type": "app", "tenant_key": "sim"},
        "body": {"content": m.card.to_string()},
    })
}

/// A body that sends a first chunk and then fails, so the server aborts the connection.
struct CutShort(bool);

impl http_body::Body for CutShort {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.0 {
            return std::task::Poll::Ready(Some(Err(std::io::Error::other(
                "connection cut by the simulator",
            ))));
        }
        self.0 = true;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from_static(
            b"{\"code\":0",
        )))))
    }
}
