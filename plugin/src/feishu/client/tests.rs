use super::*;
use crate::testkit::*;
use serde_json::Value;

fn env<'a>(s: &'a MapSettings, kv: &'a MemKv, http: &'a ScriptedHttp) -> Env<'a> {
    Env {
        settings: s,
        kv,
        http,
        clock: &NoSleep,
        log: &NoLog,
    }
}

const OK: &str = r#"{"code":0,"msg":"success","data":{}}"#;

#[test]
fn token_is_fetched_once_and_reused() {
    let (s, kv) = (MapSettings::configured(), MemKv::default());
    let http = ScriptedHttp::default()
        .token("t-1")
        .reply(200, OK)
        .reply(200, OK);
    let e = env(&s, &kv, &http);
    let fs = FeishuSettings::read(&s);
    call::<Value>(&e, &fs, Method::Get, "/a", None, "").unwrap();
    call::<Value>(&e, &fs, Method::Get, "/b", None, "").unwrap();
    assert_eq!(
        http.paths(),
        vec![token::TOKEN_PATH.to_string(), "/a".into(), "/b".into()]
    );
    let auth: Vec<_> = http.seen.borrow()[1..]
        .iter()
        .map(|r| r.headers[0].1.clone())
        .collect();
    assert_eq!(auth, vec!["Bearer t-1", "Bearer t-1"]);
}

#[test]
fn refused_token_is_evicted_and_the_call_retried_once() {
    let (s, kv) = (MapSettings::configured(), MemKv::default());
    let http = ScriptedHttp::default()
        .token("t-old")
        .reply(400, r#"{"code":99991663,"msg":"Invalid access token"}"#)
        .token("t-new")
        .reply(200, OK);
    let e = env(&s, &kv, &http);
    call::<Value>(
        &e,
        &FeishuSettings::read(&s),
        Method::Post,
        "/m",
        Some(b"{}"),
        "",
    )
    .unwrap();
    let last = http.seen.borrow().last().unwrap().clone();
    assert_eq!(last.headers[0].1, "Bearer t-new");
}

#[test]
fn a_second_refusal_is_unauthorized_not_a_loop() {
    let (s, kv) = (MapSettings::configured(), MemKv::default());
    let bad = r#"{"code":99991663,"msg":"Invalid access token"}"#;
    let http = ScriptedHttp::default()
        .token("t-1")
        .reply(400, bad)
        .token("t-2")
        .reply(400, bad);
    let e = env(&s, &kv, &http);
    let err =
        call::<Value>(&e, &FeishuSettings::read(&s), Method::Get, "/m", None, "").unwrap_err();
    assert!(matches!(err, PluginError::Unauthorized(_)));
    assert_eq!(http.seen.borrow().len(), 4);
}

#[test]
fn wrong_secret_is_reported_as_such() {
    let (s, kv) = (MapSettings::configured(), MemKv::default());
    let http = ScriptedHttp::default().reply(400, r#"{"code":10014,"msg":"app secret invalid"}"#);
    let e = env(&s, &kv, &http);
    let err =
        call::<Value>(&e, &FeishuSettings::read(&s), Method::Get, "/m", None, "").unwrap_err();
    assert!(matches!(err, PluginError::Unauthorized(f) if f.message.contains("App Secret")));
}
