//! Delivery through a Feishu that fails: tokens, rate limits, server errors, unreachable users,
//! restarts. Real host, real plugin component, simulator over HTTP.

use mica_tests::harness::{HostOptions, TestHost, event, recipient};
use mica_tests::sim::{Fault, FeishuSim};
use serde_json::json;
use std::sync::Arc;

fn recipients(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| recipient(&format!("user{i}@example.com"), "zh-CN"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_serves_many_cards_and_is_refetched_after_revocation() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    host.post_event(&event("po_created", "evt-a", recipients(40)))
        .await;
    let d = host.settled("evt-a").await;
    assert!(d.iter().all(|d| d["status"] == "sent"));
    assert_eq!(
        sim.token_fetches(),
        1,
        "one token for 40 cards sent 8 at a time"
    );

    sim.revoke_tokens();
    host.post_event(&event("po_created", "evt-b", recipients(10)))
        .await;
    let d = host.settled("evt-b").await;
    assert!(d.iter().all(|d| d["status"] == "sent"), "{d:#?}");
    assert_eq!(sim.messages().len(), 50);
    // The refused token is evicted and a new one fetched; instances that raced may each have
    // refetched once, never once per card.
    let fetches = sim.token_fetches();
    assert!((2..=9).contains(&fetches), "{fetches} token fetches");
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_and_delivered_once() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    sim.inject([
        Fault::RateLimit { reset_secs: 1 },
        Fault::Status(502),
        Fault::Status(503),
        Fault::Code(500, 1395001, "server error".into()),
    ]);
    let started = std::time::Instant::now();
    host.post_event(&event("pr_submitted", "evt-retry", recipients(3)))
        .await;
    let d = host.settled("evt-retry").await;
    assert!(d.iter().all(|d| d["status"] == "sent"), "{d:#?}");
    let attempts: i64 = d.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(
        attempts,
        3 + 3,
        "each injected server error cost exactly one extra attempt"
    );
    let slowed: i64 = d.iter().map(|d| d["rate_limited"].as_i64().unwrap()).sum();
    assert_eq!(slowed, 1, "the 429 is counted apart, not as an attempt");
    let counts = sim.with(|s| s.uuid_counts());
    assert_eq!(counts.len(), 3);
    assert!(
        counts.values().all(|&n| n == 1),
        "one message per uuid: {counts:?}"
    );
    let rate_limited = d.iter().any(|d| d["attempts"].as_i64().unwrap() > 1);
    assert!(rate_limited);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "the 429's x-ogw-ratelimit-reset of 1 s was honoured"
    );
    host.host.stop().await;
}

/// A gateway or Feishu answering 5xx or 408 with a JSON code it does not document must not lose
/// the card: those are retried whatever the code (issue "Security and reliability hardening",
/// item 0), while an unknown code on a 4xx is permanent and names the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_with_an_unknown_json_code_is_retried_not_lost() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    sim.inject([
        Fault::Code(500, 1, "internal error".into()),
        Fault::Code(503, 0, "".into()),
        Fault::Code(408, 77, "request timeout".into()),
    ]);
    host.post_event(&event("po_created", "evt-5xx", recipients(3)))
        .await;
    let d = host.settled("evt-5xx").await;
    assert!(d.iter().all(|d| d["status"] == "sent"), "{d:#?}");
    let attempts: i64 = d.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 3 + 3, "each server error cost one extra attempt");
    assert_eq!(sim.messages().len(), 3);

    sim.inject([Fault::Code(400, 4242, "something new".into())]);
    host.post_event(&event("po_created", "evt-4xx", recipients(1)))
        .await;
    let d = host.settled("evt-4xx").await;
    assert_eq!(d[0]["status"], "failed", "{d:#?}");
    assert_eq!(d[0]["attempts"], 1);
    assert!(
        d[0]["last_error"].as_str().unwrap().contains("4242"),
        "{d:#?}"
    );
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_lost_answer_is_suppressed_by_the_uuid() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    host.post_event(&event(
        "po_created",
        "evt-once",
        vec![recipient("a@example.com", "zh-CN")],
    ))
    .await;
    let first = host.settled("evt-once").await;
    // Send the same delivery again, as a host that crashed before recording the outcome would.
    let id = first[0]["id"].as_str().unwrap().to_string();
    host.host
        .store
        .with(|c| {
            c.execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = 0 WHERE id = ?1",
                [&id],
            )?;
            Ok(())
        })
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sim.with(|s| s.duplicates_suppressed) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the retry never reached Feishu"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let again = host.settled("evt-once").await;
    assert_eq!(sim.messages().len(), 1, "Feishu recorded one message");
    assert_eq!(again[0]["feishu_message_id"], first[0]["feishu_message_id"]);
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_are_recorded_with_their_reason() {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    sim.with(|s| s.unreachable.insert("gone@example.com".into()));
    host.post_event(&event(
        "pr_submitted",
        "evt-perm",
        vec![
            recipient("gone@example.com", "zh-CN"),
            recipient("ok@example.com", "zh-CN"),
        ],
    ))
    .await;
    let d = host.settled("evt-perm").await;
    let gone = d
        .iter()
        .find(|d| d["recipient"] == "gone@example.com")
        .unwrap();
    assert_eq!(gone["status"], "failed");
    assert_eq!(gone["attempts"], 1, "a permanent error is not retried");
    assert_eq!(gone["feishu_code"], 230013);
    assert!(
        gone["last_error"]
            .as_str()
            .unwrap()
            .contains("availability scope"),
        "{gone}"
    );
    assert!(
        gone["feishu_log_id"]
            .as_str()
            .unwrap()
            .starts_with("sim-log-")
    );
    let ok = d
        .iter()
        .find(|d| d["recipient"] == "ok@example.com")
        .unwrap();
    assert_eq!(ok["status"], "sent");

    sim.with(|s| s.send_scope_granted = false);
    host.post_event(&event(
        "po_created",
        "evt-scope",
        vec![recipient("ok@example.com", "zh-CN")],
    ))
    .await;
    let d = host.settled("evt-scope").await;
    assert_eq!(d[0]["status"], "failed");
    assert_eq!(d[0]["feishu_code"], 99991672);
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("im:message:send_as_bot"),
        "{}",
        d[0]
    );
    host.host.stop().await;
}

/// With `key` set to `wrong`, a card waits, retried, with an error naming `names` (and never the
/// wrong value when it is the secret), and goes once the credentials are fixed.
async fn retried_until_fixed(key: &str, wrong: &str, names: &str, event_id: &str) {
    let sim = FeishuSim::start().await;
    let host = TestHost::start(&sim).await;
    host.set(key, json!(wrong));
    host.post_event(&event(
        "po_created",
        event_id,
        vec![recipient("a@example.com", "en-US")],
    ))
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let d = host.deliveries(event_id).await;
        if d[0]["status"] == "retrying" {
            assert_eq!(d[0]["error_kind"], "unauthorized", "{}", d[0]);
            let error = d[0]["last_error"].as_str().unwrap();
            assert!(error.contains(names), "{}", d[0]);
            if key.ends_with("secret") {
                assert!(!error.contains(wrong), "never the secret itself");
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{d:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    host.configure_feishu(&sim);
    let d = host.settled(event_id).await;
    assert_eq!(d[0]["status"], "sent");
    assert_eq!(sim.messages().len(), 1);
    host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_retried_then_delivered_once_fixed() {
    retried_until_fixed(
        "auth.feishu.app_secret",
        "wrong-secret",
        "App Secret",
        "evt-cred",
    )
    .await;
}

/// A typo in the App ID is a credentials problem like a wrong secret: retried, named, not a card
/// failed at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_app_id_is_retried_and_named_like_a_wrong_secret() {
    retried_until_fixed(
        "auth.feishu.app_id",
        "cli_not_this_app",
        "App ID",
        "evt-app-id",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_are_completed_after_a_restart() {
    let sim = FeishuSim::start().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // A host that accepts events but delivers nothing (its worker is off).
    let host = TestHost::start_in(
        dir.clone(),
        HostOptions {
            concurrency: 0,
            ..Default::default()
        },
    )
    .await;
    host.configure_feishu(&sim);
    for i in 0..5 {
        let (status, _) = host
            .post_event(&event("po_created", &format!("evt-r{i}"), recipients(4)))
            .await;
        assert_eq!(status, 202);
    }
    assert!(
        host.deliveries("evt-r0")
            .await
            .iter()
            .all(|d| d["status"] == "pending")
    );
    let host = host.restart(HostOptions::default()).await;
    for i in 0..5 {
        let d = host.settled(&format!("evt-r{i}")).await;
        assert!(d.iter().all(|d| d["status"] == "sent"), "{d:#?}");
    }
    assert_eq!(sim.messages().len(), 20);
    assert!(sim.with(|s| s.uuid_counts()).values().all(|&n| n == 1));
    host.host.stop().await;
}

/// A host that retries after 10 ms and more, so twelve attempts take seconds, not minutes.
async fn quickly_retrying_host(sim: &FeishuSim) -> TestHost {
    let options = HostOptions {
        retry_base: std::time::Duration::from_millis(10),
        ..Default::default()
    };
    let host = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    host.configure_feishu(sim);
    host
}

/// A delivery gets exactly its 12 attempts however often Feishu said "slow down" first (those
/// answers are counted apart and do not use attempts up), then fails, naming the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_fails_after_exactly_twelve_attempts_and_slow_downs_do_not_count() {
    let sim = FeishuSim::start().await;
    let host = quickly_retrying_host(&sim).await;
    let mut faults = vec![Fault::RateLimit { reset_secs: 0 }; 3];
    faults.extend(vec![Fault::Status(502); 13]);
    sim.inject(faults);
    host.post_event(&event("po_created", "evt-twelve", recipients(1)))
        .await;
    let d = host.settled("evt-twelve").await;
    assert_eq!(d[0]["status"], "failed", "{d:?}");
    assert_eq!(d[0]["attempts"], 12, "{d:?}");
    assert_eq!(d[0]["rate_limited"], 3, "{d:?}");
    assert!(
        d[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("gave up after 12 attempts"),
        "{d:?}"
    );
    assert_eq!(
        sim.with(|s| s.message_requests),
        15,
        "three slow-downs and twelve sends reached Feishu, no more"
    );
    host.host.stop().await;
}

/// A wrong App Secret is not retried forever: the delivery fails after its attempts, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_not_retried_forever() {
    let sim = FeishuSim::start().await;
    let host = quickly_retrying_host(&sim).await;
    host.set("auth.feishu.app_secret", json!("not-the-secret"));
    host.post_event(&event("po_created", "evt-wrong-secret", recipients(1)))
        .await;
    let d = host.settled("evt-wrong-secret").await;
    assert_eq!(d[0]["status"], "failed", "{d:?}");
    assert_eq!(d[0]["attempts"], 12, "{d:?}");
    assert_eq!(d[0]["error_kind"], "unauthorized", "{d:?}");
    assert!(sim.messages().is_empty());
    assert!(
        sim.token_fetches() <= 12,
        "{} token requests",
        sim.token_fetches()
    );
    host.host.stop().await;
}

/// The token endpoint fails in each way Feishu's gateways do: a gateway page, a timeout status,
/// a rate limit, a server error with a JSON code, a bare 401. The card waits through all of them
/// and is sent once; only the rate limit is not counted as an attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_endpoint_delays_the_card_but_sends_it_once() {
    let sim = FeishuSim::start().await;
    let host = quickly_retrying_host(&sim).await;
    sim.with(|s| {
        s.token_faults.extend([
            Fault::Status(502),
            Fault::Status(408),
            Fault::RateLimit { reset_secs: 1 },
            Fault::Code(500, 1395001, "internal error".into()),
            Fault::Status(401),
        ])
    });
    host.post_event(&event("po_created", "evt-token-faults", recipients(1)))
        .await;
    let d = host.settled("evt-token-faults").await;
    assert_eq!(d[0]["status"], "sent", "{d:?}");
    assert_eq!(
        d[0]["attempts"], 5,
        "four failed attempts, then the send: {d:?}"
    );
    assert_eq!(d[0]["rate_limited"], 1, "{d:?}");
    assert_eq!(sim.with(|s| s.token_requests), 6);
    assert_eq!(sim.with(|s| s.token_fetches), 1, "one token issued");
    assert_eq!(
        sim.with(|s| s.message_requests),
        1,
        "no send without a token"
    );
    assert_eq!(sim.messages().len(), 1);
    host.host.stop().await;
}
