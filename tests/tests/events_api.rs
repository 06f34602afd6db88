//! The events API: bad input refused precisely and nothing stored; a known id creates nothing.

use mica_tests::harness::{ADMIN_TOKEN, TestHost, event, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_are_refused_naming_the_field_and_nothing_is_stored() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    let cases = [
        ("id", {
            let mut e = event("po_created", "bad-1", vec![]);
            e.as_object_mut().unwrap().remove("id");
            e
        }),
        ("type", {
            let mut e = event("po_created", "bad-2", vec![]);
            e["type"] = json!("po_deleted");
            e
        }),
        ("data.amount.value", {
            let mut e = event("po_created", "bad-3", vec![]);
            e["data"]["amount"]["value"] = json!(12.5);
            e
        }),
        (
            "recipients[1].email",
            event(
                "po_created",
                "bad-4",
                vec![
                    recipient("a@example.com", "zh-CN"),
                    recipient("nobody", "zh-CN"),
                ],
            ),
        ),
        ("data.submitter", {
            let mut e = event("payment_pending", "bad-5", vec![]);
            e["data"].as_object_mut().unwrap().remove("submitter");
            e
        }),
        ("data.url", {
            let mut e = event("pr_submitted", "bad-6", vec![]);
            e["data"]["url"] = json!("mica/pr/1");
            e
        }),
    ];
    for (field, body) in cases {
        let id = body["id"].as_str().unwrap_or("").to_string();
        let (status, answer) = host.post_event(&body).await;
        assert_eq!(status, 422, "{field}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("{field}:")),
            "{field}: {detail}"
        );
        if !id.is_empty() {
            let (status, _) = host.get(&format!("/api/v1/deliveries?event_id={id}")).await;
            assert_eq!(status, 404, "{id} must not have been stored");
        }
    }
    let url = format!("{}/api/v1/events", host.base);
    let raw = |body: &'static str, content_type: &'static str| {
        host.http
            .post(&url)
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let resp = raw("{not json", "application/json").await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.json::<serde_json::Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert_eq!(raw("{}", "text/plain").await.unwrap().status(), 415);
    let big = "x".repeat(2 * 1024 * 1024);
    // Its own connection: the server closes it after refusing the body unread.
    let resp = reqwest::Client::new()
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let resp = host
        .http
        .post(&url)
        .json(&event("po_created", "noauth", vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = host
        .http
        .post(&url)
        .bearer_auth("wrong")
        .json(&event("po_created", "noauth", vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(sim.messages().is_empty());
    let (status, _) = host.get("/api/v1/deliveries?event_id=noauth").await;
    assert_eq!(status, 404);
    // Without event_id the endpoint lists recent deliveries: none of the refused events left any.
    let (status, body) = host.get("/api/v1/deliveries").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deliveries"], json!([]));
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reposting_an_event_id_creates_nothing_new() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    let body = event(
        "pr_submitted",
        "evt-dup",
        vec![
            recipient("a@example.com", "zh-CN"),
            recipient("b@example.com", "en-US"),
        ],
    );
    let (status, first) = host.post_event(&body).await;
    assert_eq!(status, 202);
    assert_eq!(first["created"], true);
    host.settled("evt-dup").await;
    let (status, second) = host.post_event(&body).await;
    assert_eq!(status, 202);
    assert_eq!(second["created"], false);
    let ids = |v: &serde_json::Value| {
        v["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&second));
    assert!(
        second["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "sent")
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sim.messages().len(), 2);
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_ready_and_unknown_paths_are_json_404() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    let (status, body) = host.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = host.get("/api/v1/nothing").await;
    assert_eq!(status, 404);
    assert!(body["detail"].is_string());
    host.host.stop().await;
}
