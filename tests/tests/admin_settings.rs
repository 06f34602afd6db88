//! Mica's admin settings API (DESIGN.md §6): exact field names, secrets write-only and masked,
//! partial updates, precise errors, nothing stored in clear.

use mica_tests::harness::{HostOptions, TestHost};
use serde_json::{Value, json};
use std::sync::Arc;

const PATH: &str = "/api/v1/admin/feishu/settings";
const SECRET: &str = "s3cr3t-app-secret-value-9f8e";

async fn host() -> TestHost {
    TestHost::start_in(
        Arc::new(tempfile::tempdir().unwrap()),
        HostOptions::default(),
    )
    .await
}

fn assert_no_secret(v: &Value) {
    assert!(!v.to_string().contains(SECRET), "secret leaked in {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_returns_micas_fields_with_defaults_and_secrets_empty() {
    let h = host().await;
    let (status, body) = h.get(PATH).await;
    assert_eq!(status, 200);
    let mut names: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "app_id",
            "app_secret",
            "app_secret_masked",
            "approval_code",
            "base_url",
            "enabled",
            "encrypt_key",
            "encrypt_key_masked",
            "notify_on_approval",
            "notify_on_contract_expiry",
            "notify_on_digest",
            "notify_on_notice",
            "notify_on_payment",
            "notify_on_po",
            "notify_on_pr",
            "payment_workflow",
            "verification_token",
            "verification_token_masked",
        ]
    );
    assert_eq!(body["enabled"], false);
    assert_eq!(body["notify_on_pr"], true);
    assert_eq!(body["payment_workflow"], false);
    assert_eq!(body["base_url"], "https://open.feishu.cn");
    assert_eq!(body["app_secret"], "");
    assert_eq!(body["app_secret_masked"], "");
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_changes_only_named_fields_trims_and_keeps_the_secret() {
    let h = host().await;
    let (status, body) = h
        .put_json(PATH, &json!({"app_id": " cli_a1b2c3d4e5f6 ", "app_secret": format!(" {SECRET}\n"), "enabled": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_no_secret(&body);
    assert_eq!(body["app_id"], "cli_a1b2c3d4e5f6");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["notify_on_po"], true, "untouched");
    assert_eq!(body["app_secret"], "");
    assert_eq!(body["app_secret_masked"], "****9f8e");
    let warnings = body["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w == "app_id: surrounding whitespace was removed")
    );
    assert!(
        warnings
            .iter()
            .any(|w| w == "app_secret: surrounding whitespace was removed")
    );

    // What Mica's UI sends back: the masked hint, an empty secret, nulls for unchanged fields.
    let (status, body) = h
        .put_json(PATH, &json!({"app_secret": "", "app_secret_masked": "****9f8e", "approval_code": null, "notify_on_po": false}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["app_secret_masked"], "****9f8e",
        "an empty secret never clears it"
    );
    assert_eq!(body["notify_on_po"], false);
    let (_, again) = h.get(PATH).await;
    assert_no_secret(&again);
    assert_eq!(again["app_id"], "cli_a1b2c3d4e5f6");
    // The plugin itself reads the real secret.
    let p = h
        .host
        .store
        .get_param("auth.feishu.app_secret")
        .unwrap()
        .unwrap();
    assert_eq!(p.value, json!(SECRET));
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_names_its_field_and_nothing_is_applied() {
    let h = host().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"enabled": "yes"}), "enabled: must be true or false"),
        (
            json!({"notify_on_pr": 1}),
            "notify_on_pr: must be true or false",
        ),
        (json!({"app_id": 42}), "app_id: must be a string"),
        (
            json!({"app_id": "a1b2c3"}),
            "app_id: \"a1b2c3\" is not a Feishu App ID",
        ),
        (
            json!({"approval_code": "not a code!"}),
            "approval_code: \"not a code!\" is not an approval code",
        ),
        (
            json!({"base_url": "http://open.feishu.cn"}),
            "base_url: http://open.feishu.cn uses plain http",
        ),
        (
            json!({"base_url": "ftp://x"}),
            "base_url: scheme ftp is not allowed",
        ),
        (
            json!({"app_secret": "has spaces inside"}),
            "app_secret: must not contain spaces",
        ),
        (json!({"colour": "blue"}), "colour: unknown field"),
        (json!({"enabled": true, "app_id": "bad"}), "app_id:"),
        (json!(["enabled"]), "body: must be a JSON object"),
    ];
    for (body, expected) in cases {
        let (status, answer) = h.put_json(PATH, &body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    let (_, now) = h.get(PATH).await;
    assert_eq!(
        now["enabled"], false,
        "the valid half of a refused request was not applied"
    );
    assert_eq!(now["app_id"], "");
    let resp = h
        .http
        .put(format!("{}{PATH}", h.base))
        .bearer_auth(mica_tests::harness::ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = h
        .http
        .get(format!("{}{PATH}", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the admin token is required");
    let (status, _) = h.get("/api/v1/admin/dingtalk/settings").await;
    assert_eq!(status, 404);
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_never_holds_a_secret_in_clear() {
    let h = host().await;
    for (field, value) in [
        ("app_secret", SECRET),
        ("encrypt_key", "encrypt-key-in-clear-7a6b"),
        ("verification_token", "verification-token-in-clear-5c4d"),
    ] {
        let (status, body) = h.put_json(PATH, &json!({field: value})).await;
        assert_eq!(status, 200, "{body}");
        assert!(!body.to_string().contains(value));
    }
    let dir = h.dir.clone();
    h.host.stop().await;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for value in [
                SECRET,
                "encrypt-key-in-clear-7a6b",
                "verification-token-in-clear-5c4d",
            ] {
                assert!(
                    !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                    "{} holds {value} in clear",
                    path.display()
                );
            }
        }
    }
}

/// The admin token alone cannot send the App Secret elsewhere: moving `base_url` to another
/// origin needs the secrets entered again in the same request, and until then the plugin keeps
/// calling the address the secret was entered for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_base_url_elsewhere_needs_the_secrets_entered_again() {
    let feishu = mica_tests::sim::FeishuSim::start().await;
    let elsewhere = mica_tests::sim::FeishuSim::start().await;
    let h = host().await;
    h.configure_feishu(&feishu);
    h.set("auth.feishu.verification_token", json!("vt-0123456789"));

    let (status, body) = h
        .put_json(PATH, &json!({"base_url": elsewhere.base_url()}))
        .await;
    assert_eq!(status, 422, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("base_url: moving it from")
            && detail.contains("app_secret, verification_token entered again"),
        "{detail}"
    );
    assert!(!detail.contains(mica_tests::sim::APP_SECRET), "{detail}");
    let (_, now) = h.get(PATH).await;
    assert_eq!(now["base_url"], feishu.base_url(), "nothing was applied");
    let (status, answer) = h.test_connection(None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(elsewhere.token_fetches(), 0, "the secret went nowhere new");
    assert!(feishu.token_fetches() > 0);

    // The same origin written differently is no move; one secret entered is not enough.
    let (status, body) = h
        .put_json(
            PATH,
            &json!({"base_url": format!("{}/", feishu.base_url())}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = h
        .put_json(
            PATH,
            &json!({"base_url": elsewhere.base_url(), "app_secret": mica_tests::sim::APP_SECRET}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("verification_token entered again"),
        "{body}"
    );

    // Entered again with the move: accepted, and the plugin calls the new address.
    let (status, body) = h
        .put_json(
            PATH,
            &json!({"base_url": elsewhere.base_url(), "app_secret": mica_tests::sim::APP_SECRET,
                    "verification_token": "vt-for-elsewhere"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, answer) = h.test_connection(None).await;
    assert_eq!(status, 200, "{answer}");
    assert!(elsewhere.token_fetches() > 0);
    h.host.stop().await;
}
