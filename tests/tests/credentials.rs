//! The two credentials: Mica's service token posts events and reads their outcome, and can
//! change nothing else; the admin token can do everything.

use mica_tests::harness::{ADMIN_TOKEN, SERVICE_TOKEN, TestHost, event, on_postgres, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::{Value, json};

async fn call(
    host: &TestHost,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = host
        .http
        .request(method, format!("{}{path}", host.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_token_posts_events_and_reads_them_but_changes_nothing_else() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;

    let e = event(
        "po_created",
        "svc-1",
        vec![recipient("a@example.com", "en-US")],
    );
    let (status, body) = call(&host, "POST", "/api/v1/events", SERVICE_TOKEN, Some(e)).await;
    assert_eq!(status, 202, "{body}");
    host.settled("svc-1").await;
    assert_eq!(sim.messages().len(), 1, "the card went out");
    let (status, body) = call(
        &host,
        "GET",
        "/api/v1/deliveries?event_id=svc-1",
        SERVICE_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deliveries"][0]["status"], "sent");
    let (status, _) = call(
        &host,
        "GET",
        "/api/v1/approvals/pay-none",
        SERVICE_TOKEN,
        None,
    )
    .await;
    assert_eq!(
        status, 404,
        "an approval read is allowed (and this one does not exist)"
    );

    let forbidden = [
        ("GET", "/api/v1/admin/feishu/settings", None),
        (
            "PUT",
            "/api/v1/admin/feishu/settings",
            Some(json!({"enabled": false})),
        ),
        ("POST", "/api/v1/admin/feishu/test", Some(json!({}))),
        ("GET", "/api/v1/admin/plugins", None),
        ("POST", "/api/v1/admin/plugins/feishu/disable", None),
        ("POST", "/api/v1/admin/plugins/feishu/rollback", None),
        ("GET", "/api/v1/deliveries/failed", None),
        ("POST", "/api/v1/deliveries/retry-failed", None),
    ];
    for (method, path, body) in forbidden {
        let (status, answer) = call(&host, method, path, SERVICE_TOKEN, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(detail.contains("admin token"), "{detail}");
        assert!(!detail.contains(ADMIN_TOKEN) && !detail.contains(SERVICE_TOKEN));
    }
    // Nothing the service token tried took effect: the integration is still on, and the plugin
    // was neither disabled nor rolled back, so the next event is still delivered.
    let (status, settings) = call(
        &host,
        "GET",
        "/api/v1/admin/feishu/settings",
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["enabled"], true);
    let e = event(
        "po_created",
        "svc-2",
        vec![recipient("b@example.com", "en-US")],
    );
    let (status, _) = call(&host, "POST", "/api/v1/events", SERVICE_TOKEN, Some(e)).await;
    assert_eq!(status, 202);
    let deliveries = host.settled("svc-2").await;
    assert_eq!(deliveries[0]["status"], "sent", "{deliveries:?}");

    // No token, or a wrong one, is a 401 on either kind of endpoint.
    for path in [
        "/api/v1/deliveries?event_id=svc-1",
        "/api/v1/admin/feishu/settings",
    ] {
        let (status, _) = call(&host, "GET", path, "not-a-token", None).await;
        assert_eq!(status, 401, "{path}");
    }
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locale_the_cards_are_not_written_in_falls_back_with_a_warning() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    let e = event(
        "po_created",
        "loc-1",
        vec![
            recipient("tw@example.com", "zh-TW"),
            recipient("fr@example.com", "fr-FR"),
        ],
    );
    let (status, body) = host.post_event(&e).await;
    assert_eq!(status, 202, "{body}");
    let warnings = body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{body}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("recipients[0].locale"),
        "{body}"
    );
    host.settled("loc-1").await;
    let titles: Vec<(String, String)> = sim
        .messages()
        .iter()
        .map(|m| {
            (
                m.receive_id.clone(),
                m.card["header"]["title"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let title_of = |who: &str| {
        titles
            .iter()
            .find(|(r, _)| r == who)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    assert!(
        title_of("tw@example.com")
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{titles:?}"
    );
    assert!(title_of("fr@example.com").is_ascii(), "{titles:?}");
    host.host.stop().await;
}

/// The tenant access token the plugin keeps in kv is sealed at rest, like the App Secret: a copy
/// of the data directory (database and write-ahead log) does not contain either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_database_holds_neither_the_app_secret_nor_the_tenant_token() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    host.post_event(&event(
        "po_created",
        "sealed-1",
        vec![recipient("a@example.com", "en-US")],
    ))
    .await;
    let d = host.settled("sealed-1").await;
    assert_eq!(d[0]["status"], "sent", "{d:?}");
    let token = sim
        .with(|s| s.current_token.clone())
        .expect("a token was issued");
    let mut bytes = Vec::new();
    if on_postgres() {
        // Every row of every table of the host's schema, as PostgreSQL prints it (bytea in hex).
        let rows: Vec<String> = host
            .host
            .store
            .with(|c| {
                let tables: Vec<String> = c.query_map(
                    "SELECT table_name FROM information_schema.tables
                     WHERE table_schema = current_schema()",
                    (),
                    |r| r.get(0),
                )?;
                let mut rows = Vec::new();
                for table in tables {
                    rows.extend(c.query_map(
                        &format!("SELECT CAST(t AS TEXT) FROM {table} t"),
                        (),
                        |r| r.get::<String>(0),
                    )?);
                }
                Ok(rows)
            })
            .unwrap();
        bytes.extend(rows.join("\n").into_bytes());
    } else {
        for entry in std::fs::read_dir(host.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().contains(".db") {
                bytes.extend(std::fs::read(&path).unwrap());
            }
        }
    }
    assert!(bytes.len() > 4096, "the database was read");
    let contains = |needle: &str| {
        [needle.to_string(), hex::encode(needle)]
            .iter()
            .any(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes()))
    };
    assert!(
        !contains(&token),
        "the tenant token is in the database in clear"
    );
    assert!(!contains(mica_tests::sim::APP_SECRET));
    host.host.stop().await;
}
