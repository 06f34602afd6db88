//! Bad input at volume: thousands of random and mutated bodies thrown at the events API, the
//! settings API and the webhook, through the real host and plugin. Never a panic or a 5xx; a
//! refused request applies nothing (no event stored, no setting changed, no callback applied); and
//! the host is healthy and still delivering afterwards. Bounded (a fixed number of cases, no
//! shrinking budget to speak of) so it runs in seconds.

use mica_tests::approvals::{APPROVAL_CODE, ApprovalSetup, VERIFICATION_TOKEN, setup};
use mica_tests::harness::{HostOptions, event, recipient};
use mica_tests::sim::callbacks::{approval_event, wire};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const EVENT_TYPES: [&str; 5] = [
    "pr_submitted",
    "approval_decided",
    "po_created",
    "payment_pending",
    "contract_expiring",
];

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    })
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::from),
        Just(Value::from("x".repeat(5000))),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A change to one place in a JSON document.
#[derive(Clone, Debug)]
enum Edit {
    Replace(Index, Value),
    Remove(Index),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<Index>(), any_json()).prop_map(|(i, v)| Edit::Replace(i, v)),
        any::<Index>().prop_map(Edit::Remove),
    ];
    prop::collection::vec(edit, 1..4)
}

/// Every path into `v` (object keys and array positions), the root first.
fn paths(v: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            let mut p = here.clone();
            p.push(k.clone());
            paths(c, p, out)
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| {
            let mut p = here.clone();
            p.push(i.to_string());
            paths(c, p, out)
        }),
        _ => {}
    }
}

fn apply(mut doc: Value, edits: &[Edit]) -> Value {
    for edit in edits {
        let mut all = Vec::new();
        paths(&doc, Vec::new(), &mut all);
        let (index, new) = match edit {
            Edit::Replace(i, v) => (i, Some(v.clone())),
            Edit::Remove(i) => (i, None),
        };
        let path = index.get(&all).clone();
        let Some((last, parent)) = path.split_last() else {
            if let Some(v) = new {
                doc = v;
            }
            continue;
        };
        let mut at = &mut doc;
        for seg in parent {
            at = match at {
                Value::Object(m) => m.get_mut(seg).unwrap(),
                Value::Array(a) => &mut a[seg.parse::<usize>().unwrap()],
                _ => unreachable!("paths only walk into containers"),
            };
        }
        match (at, new) {
            (Value::Object(m), Some(v)) => {
                m.insert(last.clone(), v);
            }
            (Value::Object(m), None) => {
                m.remove(last);
            }
            (Value::Array(a), Some(v)) => a[last.parse::<usize>().unwrap()] = v,
            (Value::Array(a), None) => {
                a.remove(last.parse::<usize>().unwrap());
            }
            _ => unreachable!(),
        }
    }
    doc
}

/// Bytes changed in place, inserted or cut, at a few random positions (at least one change).
fn byte_edits() -> impl Strategy<Value = Vec<(Index, u8, u8)>> {
    prop::collection::vec((any::<Index>(), 1..=255u8, 0..3u8), 1..5)
}

fn mangle(mut bytes: Vec<u8>, edits: &[(Index, u8, u8)]) -> Vec<u8> {
    for (at, byte, how) in edits {
        if bytes.is_empty() {
            bytes.push(*byte);
            continue;
        }
        let i = at.index(bytes.len());
        match how {
            // XOR with a non-zero byte: always a change.
            0 => bytes[i] ^= byte,
            1 => bytes.insert(i, *byte),
            _ => {
                bytes.remove(i);
            }
        }
    }
    bytes
}

/// What one body is: a mutated valid document, any JSON at all, or bytes.
#[derive(Clone, Debug)]
enum Body {
    Json(Value),
    Bytes(Vec<u8>),
}

fn body_from(valid: Vec<Value>) -> impl Strategy<Value = Body> {
    let base = prop::sample::select(valid);
    prop_oneof![
        4 => (base.clone(), edits()).prop_map(|(doc, e)| Body::Json(apply(doc, &e))),
        2 => (base, byte_edits()).prop_map(|(doc, e)| Body::Bytes(mangle(doc.to_string().into_bytes(), &e))),
        2 => any_json().prop_map(Body::Json),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Bytes),
    ]
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(v) => v.to_string().into_bytes(),
            Body::Bytes(b) => b.clone(),
        }
    }
}

/// Run `cases` inputs from the strategy `make` builds through `check`, on the blocking pool
/// (proptest is synchronous, and its recursive strategies stay on one thread; each case makes its
/// HTTP request through the test's runtime).
async fn run<S, F>(
    cases: u32,
    make: F,
    check: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) where
    S: Strategy,
    S::Value: std::fmt::Debug,
    F: FnOnce() -> S + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let result = runner(cases).run(&make(), check);
        if let Err(e) = result {
            panic!("{e}");
        }
    })
    .await
    .unwrap();
}

struct Sender {
    runtime: tokio::runtime::Handle,
    client: reqwest::Client,
    base: String,
    /// Answers by status, for the log.
    seen: Arc<Mutex<HashMap<u16, usize>>>,
}

impl Sender {
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        headers: &[(String, String)],
        admin: bool,
    ) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if admin {
            request = request.bearer_auth(mica_tests::harness::ADMIN_TOKEN);
        }
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let (status, text) = self.runtime.block_on(async {
            let resp = request.send().await.expect("the host answers");
            (
                resp.status().as_u16(),
                resp.text().await.unwrap_or_default(),
            )
        });
        *self.seen.lock().unwrap().entry(status).or_default() += 1;
        (status, text)
    }
}

fn json_header() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

async fn count(t: &ApprovalSetup, sql: &'static str) -> i64 {
    t.host
        .host
        .store
        .call(move |s| s.with(|c| c.query_row(sql, (), |r| r.get(0))))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_mutated_input_is_refused_cleanly_and_applies_nothing() {
    let t = setup(true, HostOptions::default()).await;
    let code = t.start_payment("pay-fuzz").await;
    let sender = |t: &ApprovalSetup| Sender {
        runtime: tokio::runtime::Handle::current(),
        client: reqwest::Client::new(),
        base: t.host.base.clone(),
        seen: Arc::default(),
    };

    // 1. The events API: nothing but 202 or a 4xx naming the problem, and exactly the events
    // answered 202 "created" are stored.
    let events_before = count(&t, "SELECT COUNT(*) FROM events").await;
    let valid: Vec<Value> = EVENT_TYPES
        .iter()
        .map(|k| {
            event(
                k,
                &format!("fuzz-{k}"),
                vec![recipient("a@example.com", "en-US")],
            )
        })
        .collect();
    let created = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let s = sender(&t);
    let seen_events = s.seen.clone();
    let c = created.clone();
    run(
        3000,
        move || body_from(valid),
        move |body| {
            let (status, text) =
                s.send("POST", "/api/v1/events", body.bytes(), &json_header(), true);
            prop_assert!(
                matches!(status, 202 | 400 | 413 | 415 | 422),
                "{status} {text} for {body:?}"
            );
            if status == 202 {
                let answer: Value = serde_json::from_str(&text).unwrap();
                if answer["created"] == true {
                    c.lock()
                        .unwrap()
                        .insert(answer["event_id"].as_str().unwrap().to_string());
                }
            } else {
                let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                prop_assert!(
                    answer["detail"].is_string(),
                    "{status} without a detail: {text}"
                );
            }
            Ok(())
        },
    )
    .await;
    let events_after = count(&t, "SELECT COUNT(*) FROM events").await;
    assert_eq!(
        events_after - events_before,
        created.lock().unwrap().len() as i64,
        "only the events answered 202 created were stored"
    );

    // 2. The settings API: 200 or a 4xx; a refused PUT changes no stored value.
    let (_, form) = t.host.get("/api/v1/admin/feishu/settings").await;
    let store = t.host.host.store.clone();
    let snapshot = move || -> String {
        store
            .with(|c| {
                c.query_map(
                    "SELECT key || '=' || COALESCE(value, '') FROM system_parameters ORDER BY key",
                    (),
                    |r| r.get::<String>(0),
                )
            })
            .unwrap()
            .join(";")
    };
    let s = sender(&t);
    let seen_settings = s.seen.clone();
    run(
        1500,
        move || body_from(vec![form]),
        move |body| {
            let before = snapshot();
            let (status, text) = s.send(
                "PUT",
                "/api/v1/admin/feishu/settings",
                body.bytes(),
                &json_header(),
                true,
            );
            prop_assert!(
                matches!(status, 200 | 400 | 413 | 415 | 422),
                "{status} {text} for {body:?}"
            );
            if status != 200 {
                prop_assert_eq!(
                    before,
                    snapshot(),
                    "a refused PUT changed a setting: {}",
                    text
                );
            }
            prop_assert!(
                !text.contains(mica_tests::sim::APP_SECRET),
                "the secret in an answer"
            );
            Ok(())
        },
    )
    .await;
    // Whatever the accepted PUTs did, put Feishu back for the rest.
    t.host.configure_feishu(&t.sim);
    t.host.set("auth.feishu.payment_workflow", json!(true));
    t.host
        .set("auth.feishu.approval_code", json!(APPROVAL_CODE));
    t.host
        .set("auth.feishu.verification_token", json!(VERIFICATION_TOKEN));
    t.host.set(
        "auth.feishu.encrypt_key",
        json!(mica_tests::approvals::ENCRYPT_KEY),
    );

    // 3. The webhook: a genuine signed callback approving the payment, mutated (its body or a
    // header the signature covers), and bodies of any shape: never applied, never a 5xx.
    let history_before = count(&t, "SELECT COUNT(*) FROM approval_history").await;
    let config = t.sim.with(|s| s.callback.clone()).unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    let genuine = approval_event(
        "e-fuzz",
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &code,
        "APPROVED",
        now_ms,
    );
    let (body, headers) = wire(&config, &genuine);
    let signed = prop_oneof![
        byte_edits().prop_map(|e| (e, None::<usize>)),
        (byte_edits(), 1..4usize).prop_map(|(e, h)| (e, Some(h))),
    ];
    let s = sender(&t);
    let seen_webhook = s.seen.clone();
    let (b, hs) = (body.clone(), headers.clone());
    run(
        2000,
        move || signed,
        move |(edits, header)| {
            // Mangle the body, or one of the signature's headers (timestamp, nonce, signature).
            let (mut body, mut headers) = (b.clone(), hs.clone());
            match header {
                None => {
                    body = mangle(body, &edits);
                    // An insert undone by a cut at the same place leaves the genuine body.
                    if body == b {
                        return Ok(());
                    }
                }
                Some(h) => {
                    let value = mangle(headers[h].1.clone().into_bytes(), &edits);
                    headers[h].1 = String::from_utf8_lossy(&value)
                        .chars()
                        .filter(|c| c.is_ascii_graphic())
                        .collect();
                    // Filtered out (not a header character), or only the case of the hex
                    // signature changed (the same signature): nothing was mutated.
                    if headers[h].1.eq_ignore_ascii_case(&hs[h].1) {
                        return Ok(());
                    }
                }
            }
            let (status, text) = s.send("POST", "/api/v1/feishu/webhook", body, &headers, false);
            prop_assert!(status < 500, "{status} {text}");
            prop_assert!(status != 200, "a mutated callback was accepted: {text}");
            Ok(())
        },
    )
    .await;
    let s = sender(&t);
    let seen_any = s.seen.clone();
    let g = genuine.clone();
    run(
        1500,
        move || body_from(vec![g]),
        move |body| {
            let (status, text) = s.send(
                "POST",
                "/api/v1/feishu/webhook",
                body.bytes(),
                &json_header(),
                false,
            );
            prop_assert!(status < 500, "{status} {text} for {body:?}");
            Ok(())
        },
    )
    .await;
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM approval_history").await,
        history_before,
        "no callback was applied"
    );
    let (_, approval) = t.host.get("/api/v1/approvals/pay-fuzz").await;
    assert_eq!(approval["status"], "PENDING", "{approval}");
    for (name, seen) in [
        ("events", seen_events),
        ("settings", seen_settings),
        ("signed callbacks", seen_webhook),
        ("any callback", seen_any),
    ] {
        println!("{name}: answers by status {:?}", seen.lock().unwrap());
    }

    // 4. Healthy after: the genuine callback is applied, and a card goes out.
    assert_eq!(t.host.get("/healthz").await.0, 200);
    let (body, headers) = wire(&config, &genuine);
    let status =
        mica_tests::sim::callbacks::post(&reqwest::Client::new(), &config.url, body, &headers)
            .await;
    assert_eq!(status, 200);
    t.wait_status("pay-fuzz", "APPROVED").await;
    t.host
        .post_event(&event(
            "po_created",
            "after-fuzz",
            vec![recipient("a@example.com", "en-US")],
        ))
        .await;
    let d = t.host.settled("after-fuzz").await;
    assert_eq!(d[0]["status"], "sent", "{d:?}");
    t.host.host.stop().await;
}
