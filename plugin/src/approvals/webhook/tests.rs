use super::*;
use crate::testkit::MapSettings;

/// The checks alone (no confirmation with Feishu).
fn handle(settings: &dyn Settings, request: &WebhookRequest) -> WebhookOutcome {
    match verify(settings, request) {
        Ok(v) => claimed_updates(&v).unwrap_or_else(|refusal| refusal),
        Err(answered) => answered,
    }
}

const GO_CIPHERTEXT: &str = "bZ3L7yh6m3Fkuffl4g+3uGjIHnhOm5fVZbKVuyT8t7tcd5ABMYm8l28/X900ZL3knZ7n+sCREu/H2WnIzft0amC7+xWqNH8o25IU63N4BnZWfHh+4hyG76QPd19vkw2bPJCx9aqxK8Nz+xqFNbk0RdgyWhmgd30jSxHtcQXAllkI7FMpGpOCteJad3bLXPDBQIV/xkCtKICCS7Z63gakpxZCLaRZ3qCXP1fapHh+LBIupxenrU6ysc7I3nHmjmKie41IiWwS5puG4zQHhVbq6KWLcgWm/3NBZOPQy53ucMu75SXA55I7jarVLZXWUcqBGrcgE3vouWbtwgZuzmoTQl0GSh5VYSVvpW992BuGxUWj0XjPYdICJm6Cr7xouNXwMcdb7N8caVdkdSZeEnswG19qSyDoQhklwzNGW0yiaayulBqJNjfge/G5V3401c2XaIuAeEIo+QQ4RSNpRGfnHkbu/j55FGQAGWjpuBNaIwZbaUoVP3NkGP+vM5rpEDe3sL2GN+Xsd+g9yBs7FqdMV8mXTGgLjCqjrPrke5/km76Q3Pe6KPs2YexMRG4MkSx3xUTzZnNn7zIzShPcjeSwBd2pxk6ht5N+fzueZdxl6Oo=";

fn settings(encrypt_key: &str, token: &str) -> MapSettings {
    MapSettings::default()
        .with(ENCRYPT_KEY, encrypt_key)
        .with(VERIFICATION_TOKEN, token)
}

fn request(body: &str, headers: &[(&str, &str)]) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        path: "/api/v1/feishu/webhook".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

fn body_json(o: &WebhookOutcome) -> Value {
    serde_json::from_slice(&o.response.body).unwrap()
}

#[test]
fn encrypted_challenge_from_the_go_sdk_vector_is_answered() {
    let body = format!(r#"{{"encrypt":"{GO_CIPHERTEXT}"}}"#);
    let o = handle(&settings("1212121212", "v"), &request(&body, &[]));
    assert_eq!(o.response.status, 200);
    assert_eq!(body_json(&o), json!({"challenge": "1212"}));
    assert!(o.updates.is_empty());
}

#[test]
fn challenge_with_the_wrong_token_is_refused() {
    let body = format!(r#"{{"encrypt":"{GO_CIPHERTEXT}"}}"#);
    // Unsigned and encrypted: the wrong token gets the answer every unsigned non-handshake gets.
    assert_eq!(
        handle(&settings("1212121212", "other"), &request(&body, &[]))
            .response
            .status,
        401
    );
    let plain = r#"{"challenge":"c1","token":"t","type":"url_verification"}"#;
    assert_eq!(
        handle(&settings("", "t"), &request(plain, &[]))
            .response
            .status,
        200
    );
    assert_eq!(
        handle(&settings("", "x"), &request(plain, &[]))
            .response
            .status,
        403
    );
}

const V1_EVENT: &str = r#"{"ts":"1502199207.7171419","uuid":"bc447199585340d1f3728d26b1c0297a","token":"tok","type":"event_callback","event":{"app_id":"cli_xxx","tenant_key":"xxx","type":"approval_instance","approval_code":"7C468A54-8745-2245-9675-08B7C63E7A85","instance_code":"81D31358-93AF-92D6-7425-01A5D67C4E71","status":"APPROVED","operate_time":"1666079207003","instance_operate_time":"1666079207003","uuid":"6525bffb"}}"#;

#[test]
fn plain_v1_approval_event_gives_an_update_and_the_event_id() {
    let o = handle(&settings("", "tok"), &request(V1_EVENT, &[]));
    assert_eq!(o.response.status, 200);
    assert_eq!(
        o.event_id.as_deref(),
        Some("bc447199585340d1f3728d26b1c0297a")
    );
    assert_eq!(
        o.updates,
        vec![ApprovalUpdate {
            approval_code: "7C468A54-8745-2245-9675-08B7C63E7A85".into(),
            instance_code: "81D31358-93AF-92D6-7425-01A5D67C4E71".into(),
            status: ApprovalStatus::Approved,
            operate_time_ms: 1666079207003,
        }]
    );
    let wrong = V1_EVENT.replace(r#""token":"tok""#, r#""token":"nope""#);
    let o = handle(&settings("", "tok"), &request(&wrong, &[]));
    assert_eq!(o.response.status, 403);
    assert!(o.updates.is_empty());
}

#[test]
fn reverted_operate_time_may_be_a_number_and_v2_events_parse() {
    let reverted = V1_EVENT
        .replace(r#""status":"APPROVED""#, r#""status":"REVERTED""#)
        .replace(
            r#""operate_time":"1666079207003""#,
            r#""operate_time":1666079299999"#,
        );
    let o = handle(&settings("", "tok"), &request(&reverted, &[]));
    assert_eq!(o.updates[0].status, ApprovalStatus::Reverted);
    assert_eq!(o.updates[0].operate_time_ms, 1666079299999);
    let v2 = r#"{"schema":"2.0","header":{"event_id":"e-2","token":"tok","event_type":"approval.instance.status_changed_v4"},"event":{"approval_code":"A","instance_code":"I","status":"OVERTIME_CLOSE","operate_time":"5"}}"#;
    let o = handle(&settings("", "tok"), &request(v2, &[]));
    assert_eq!(o.event_id.as_deref(), Some("e-2"));
    assert_eq!(o.updates[0].status, ApprovalStatus::OvertimeClose);
    let bad = v2.replace("OVERTIME_CLOSE", "MAYBE");
    assert_eq!(
        handle(&settings("", "tok"), &request(&bad, &[]))
            .response
            .status,
        400
    );
}

#[test]
fn with_a_key_set_events_must_be_encrypted_and_signed() {
    let key = "test key";
    let body = r#"{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}"#;
    let sig = "69c61fa99760d59824d588297c0036194769fb54331682c9cbcd93e85b9a8aad";
    let signed = [
        ("X-Lark-Request-Timestamp", "1700000000"),
        ("X-Lark-Request-Nonce", "abc123"),
        ("X-Lark-Signature", sig),
    ];
    // Signature fine; the plaintext "hello world" is not JSON.
    assert_eq!(
        handle(&settings(key, "t"), &request(body, &signed))
            .response
            .status,
        400
    );
    let mut wrong = signed;
    wrong[2].1 = "00";
    assert_eq!(
        handle(&settings(key, "t"), &request(body, &wrong))
            .response
            .status,
        401
    );
    assert_eq!(
        handle(&settings(key, "t"), &request(V1_EVENT, &[]))
            .response
            .status,
        400
    );
    // Unsigned: refused like every unsigned body that is not a handshake, not as "not base64"
    // (a distinct answer per decryption failure was the padding oracle).
    assert_eq!(
        handle(&settings(key, "t"), &request(r#"{"encrypt":"%%%"}"#, &[]))
            .response
            .status,
        401
    );
    assert_eq!(
        handle(&settings(key, "t"), &request("not json", &[]))
            .response
            .status,
        400
    );
    assert_eq!(
        handle(&settings("", ""), &request(V1_EVENT, &[]))
            .response
            .status,
        503
    );
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(70 * 1024));
    assert_eq!(
        handle(&settings("", "t"), &request(&huge, &[]))
            .response
            .status,
        413,
        "an unsigned plain body has a small cap"
    );
}

#[test]
fn unsigned_encrypted_bodies_teach_nothing_about_their_plaintext() {
    let key = "1212121212";
    let s = settings(key, "v");
    let enc = |plain: &str| crate::feishu::crypto::encrypt_with_iv(key, [7; 16], plain.as_bytes());
    let zeros = "A".repeat(43) + "=";
    assert_eq!(
        crypto::decrypt(key, &zeros),
        Err(crypto::CryptoError::BadPadding),
        "the first case really is a padding error"
    );
    let event = r#"{"schema":"2.0","header":{"event_id":"e1","event_type":"approval.instance.status_changed_v4","token":"v"},"event":{"instance_code":"i","status":"APPROVED","operate_time":"1"}}"#;
    let big = format!(
        r#"{{"challenge":"c","token":"v","type":"url_verification","pad":"{}"}}"#,
        "x".repeat(5000)
    );
    let answers: Vec<WebhookOutcome> = [
        zeros,
        "%%% not base64".to_string(),
        enc("not json"),
        enc(event),
        enc(r#"{"challenge":"c","token":"guess","type":"url_verification"}"#),
        enc(&big),
    ]
    .iter()
    .map(|e| handle(&s, &request(&format!(r#"{{"encrypt":"{e}"}}"#), &[])))
    .collect();
    for a in &answers {
        assert_eq!(a.response, answers[0].response);
        assert!(a.updates.is_empty() && a.event_id.is_none());
    }
    assert_eq!(answers[0].response.status, 401);
    let genuine = enc(r#"{"challenge":"c","token":"v","type":"url_verification"}"#);
    let o = handle(&s, &request(&format!(r#"{{"encrypt":"{genuine}"}}"#), &[]));
    assert_eq!(body_json(&o), json!({"challenge": "c"}));
}

/// A token-only callback claiming APPROVED with a time near the end of the epoch: what is applied
/// is the status Feishu reports when asked, at the time it was asked.
#[test]
fn a_token_only_callback_is_confirmed_with_feishu_before_its_status_counts() {
    let settings = MapSettings::configured().with(VERIFICATION_TOKEN, "tok");
    let kv = crate::testkit::MemKv::default();
    let forged = V1_EVENT.replace(
        r#""operate_time":"1666079207003""#,
        r#""operate_time":"9223372036854775000""#,
    );
    let http = crate::testkit::ScriptedHttp::default().token("t-1").reply(
        200,
        r#"{"code":0,"msg":"ok","data":{"instance_code":"81D31358-93AF-92D6-7425-01A5D67C4E71","status":"PENDING"}}"#,
    );
    let env = crate::testkit::env(&settings, &kv, &http);
    let o = receive(&env, &request(&forged, &[]));
    assert_eq!(o.response.status, 200);
    assert_eq!(o.updates.len(), 1);
    assert_eq!(
        o.updates[0].status,
        ApprovalStatus::Pending,
        "Feishu's word"
    );
    assert_eq!(o.updates[0].operate_time_ms, 0, "the test clock's now");
    assert!(
        http.paths()
            .last()
            .unwrap()
            .ends_with("/approval/v4/instances/81D31358-93AF-92D6-7425-01A5D67C4E71")
    );

    // Feishu cannot be asked: refused with a 503 and no event id, so Feishu sends it again.
    let down = crate::testkit::ScriptedHttp::default();
    let env = crate::testkit::env(&settings, &kv, &down);
    let o = receive(&env, &request(V1_EVENT, &[]));
    assert_eq!(o.response.status, 503);
    assert!(o.event_id.is_none() && o.updates.is_empty());

    // An instance code that is not one never reaches a request path.
    let odd = V1_EVENT.replace(
        "81D31358-93AF-92D6-7425-01A5D67C4E71",
        "../../im/v1/messages",
    );
    let o = receive(&env, &request(&odd, &[]));
    assert_eq!(o.response.status, 400);
}
