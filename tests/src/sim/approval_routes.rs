//! Approval v4 endpoints.

use super::approval::{Instance, validate_form};
use super::routes::{error, feishu, refusal};
use super::state::SimState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Shared = Arc<Mutex<SimState>>;

pub fn router() -> Router<Shared> {
    Router::new()
        .route("/open-apis/approval/v4/approvals/{code}", get(definition))
        .route(
            "/open-apis/approval/v4/approvals/{code}/subscribe",
            post(subscribe),
        )
        .route("/open-apis/approval/v4/instances", post(create))
        .route("/open-apis/approval/v4/instances/cancel", post(cancel))
        .route("/open-apis/approval/v4/instances/{id}", get(read))
}

async fn definition(
    State(state): State<Shared>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let s = state.lock().unwrap();
    if let Some(r) = refusal(&s, &headers) {
        return r;
    }
    if !s.approval_read_scope_granted {
        return error(
            400,
            99991672,
            "Access denied. One of the following scopes is required: [approval:approval, approval:approval:readonly].",
        );
    }
    match s.definitions.get(&code) {
        None => error(400, 1390002, "approval code not found"),
        Some(form) => feishu(
            200,
            json!({"code": 0, "msg": "success", "data": {
                "approval_name": "Payment", "status": "ACTIVE", "form": form.to_string(), "node_list": []
            }}),
        ),
    }
}

async fn subscribe(
    State(state): State<Shared>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Some(r) = refusal(&s, &headers) {
        return r;
    }
    s.subscribe_calls += 1;
    if !s.subscribe_scope_granted {
        return error(
            400,
            99991672,
            "Access denied. One of the following scopes is required: [approval:approval, approval:definition].",
        );
    }
    if !s.definitions.contains_key(&code) {
        return error(400, 1390002, "approval code not found");
    }
    if !s.subscriptions.insert(code) {
        return error(400, 1390007, "subscription existed");
    }
    feishu(200, json!({"code": 0, "msg": "success", "data": {}}))
}

fn instance_scope_refusal(s: &SimState) -> Option<Response> {
    (!s.approval_instance_scope_granted).then(|| {
        error(
            400,
            99991672,
            "Access denied. One of the following scopes is required: [approval:approval, approval:instance].",
        )
    })
}

async fn create(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (answer, decided) = create_now(&state, &headers, &body);
    if let Some((instance_code, status)) = decided {
        super::decide_now(&state, &instance_code, &status).await;
    }
    answer
}

/// The create answer, and the instance to decide before sending it (`decide_on_create`).
fn create_now(
    state: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Response, Option<(String, String)>) {
    let answer = |r: Response| (r, None);
    let mut s = state.lock().unwrap();
    if let Some(r) = refusal(&s, headers) {
        return answer(r);
    }
    s.create_calls += 1;
    // Like Feishu's gateway, the permission is checked before the request is looked at.
    if let Some(r) = instance_scope_refusal(&s) {
        return answer(r);
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return answer(error(400, 1390001, "param is invalid"));
    };
    let code = req["approval_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(definition) = s.definitions.get(&code).cloned() else {
        return answer(error(400, 1390002, "approval code not found"));
    };
    let initiator = match (req["open_id"].as_str(), req["user_id"].as_str()) {
        (_, Some(u)) => ("user_id".to_string(), u.to_string()),
        (Some(o), None) => ("open_id".to_string(), o.to_string()),
        (None, None) => {
            return answer(error(
                400,
                1390001,
                "param is invalid: user_id or open_id is required",
            ));
        }
    };
    let Some(form_text) = req["form"].as_str() else {
        return answer(error(
            400,
            1390001,
            "param is invalid: form must be a string",
        ));
    };
    let Ok(form) = serde_json::from_str::<Vec<Value>>(form_text) else {
        return answer(error(
            400,
            1390001,
            "param is invalid: form is not a JSON array",
        ));
    };
    if let Err(why) = validate_form(&definition, &form) {
        return answer(error(400, 1390001, &format!("param is invalid: {why}")));
    }
    let uuid = req["uuid"].as_str().map(str::to_string);
    if let Some(u) = &uuid
        && s.instances.iter().any(|i| i.uuid.as_deref() == Some(u))
    {
        return answer(error(400, 60012, "uuid conflict"));
    }
    let n = s.next_id();
    let instance_code = format!("SIM{n:05}-93AF-92D6-7425-01A5D67C4E71");
    s.instances.push(Instance {
        instance_code: instance_code.clone(),
        approval_code: code,
        uuid,
        status: "PENDING".into(),
        initiator,
        form,
    });
    let decided = s
        .decide_on_create
        .clone()
        .filter(|_| s.callback.is_some())
        .map(|status| (instance_code.clone(), status));
    if s.lose_create_answers > 0 {
        s.lose_create_answers -= 1;
        return (error(500, 1395001, "server error"), decided);
    }
    let created = feishu(
        200,
        json!({"code": 0, "msg": "success", "data": {"instance_code": instance_code}}),
    );
    (created, decided)
}

async fn read(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(_q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let delay = {
        let mut s = state.lock().unwrap();
        s.instance_reads_in_flight += 1;
        s.max_instance_reads_in_flight = s
            .max_instance_reads_in_flight
            .max(s.instance_reads_in_flight);
        s.instance_read_delay
    };
    // Counted out however the request ends (a client that gives up drops this future).
    struct InFlight(Shared);
    impl Drop for InFlight {
        fn drop(&mut self) {
            if let Ok(mut s) = self.0.lock() {
                s.instance_reads_in_flight -= 1;
            }
        }
    }
    let _in_flight = InFlight(state.clone());
    tokio::time::sleep(delay).await;
    read_now(&state, &id, &headers)
}

fn read_now(state: &Shared, id: &str, headers: &HeaderMap) -> Response {
    let s = state.lock().unwrap();
    if let Some(r) = refusal(&s, headers) {
        return r;
    }
    let found = s
        .instances
        .iter()
        .find(|i| i.instance_code == id || i.uuid.as_deref() == Some(id));
    match found {
        None => error(400, 1390001, "param is invalid: instance not found"),
        Some(i) => feishu(
            200,
            json!({"code": 0, "msg": "success", "data": {
                "instance_code": i.instance_code, "approval_code": i.approval_code, "status": i.status,
                "uuid": i.uuid, "form": Value::Array(i.form.clone()).to_string(),
                "task_list": [], "timeline": [], "comment_list": []
            }}),
        ),
    }
}

async fn cancel(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = state.lock().unwrap();
    if let Some(r) = refusal(&s, &headers) {
        return r;
    }
    if let Some(r) = instance_scope_refusal(&s) {
        return r;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let code = req["instance_code"].as_str().unwrap_or_default();
    match s.instances.iter_mut().find(|i| i.instance_code == code) {
        None => error(400, 1390001, "param is invalid"),
        Some(i) if i.status != "PENDING" => error(400, 1390001, "instance is not pending"),
        Some(i) => {
            i.status = "CANCELED".into();
            feishu(200, json!({"code": 0, "msg": "success", "data": {}}))
        }
    }
}
