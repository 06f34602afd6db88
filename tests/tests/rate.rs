//! A backlog drains at Feishu's limits (50 sends a second, 5 a second to one person) without
//! provoking rate-limit answers, and a rate-limited answer pauses sending.

use mica_host::delivery::RateLimits;
use mica_tests::harness::{HostOptions, TestHost, event, recipient};
use mica_tests::sim::{Fault, FeishuSim};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn host(sim: &FeishuSim) -> TestHost {
    let options = HostOptions {
        rate: Some(RateLimits::default()),
        concurrency: 16,
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.configure_feishu(sim);
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_drains_at_the_app_limit_without_a_single_429() {
    let sim = FeishuSim::start().await;
    sim.with(|s| s.enforce_rate_limits = true);
    let h = host(&sim).await;
    let started = Instant::now();
    let (events, per_event) = (4, 100);
    for e in 0..events {
        let recipients = (0..per_event)
            .map(|r| recipient(&format!("u{e}-{r}@example.com"), "zh-CN"))
            .collect();
        h.post_event(&event("po_created", &format!("burst-{e}"), recipients))
            .await;
    }
    for e in 0..events {
        let d = h.settled(&format!("burst-{e}")).await;
        assert!(d.iter().all(|d| d["status"] == "sent"));
        assert!(
            d.iter().all(|d| d["attempts"] == 1),
            "no attempt was spent on a rate limit"
        );
    }
    let elapsed = started.elapsed();
    let total = events * per_event;
    let (overall, _) = sim.with(|s| s.max_in_window(Duration::from_secs(1)));
    println!(
        "{total} cards drained in {elapsed:.2?} ({:.1}/s); most in any one second: {overall}",
        total as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(
        sim.with(|s| s.rate_limited),
        0,
        "Feishu never had to say slow down"
    );
    assert!(overall <= 50, "{overall} sends arrived within one second");
    assert!(
        elapsed >= Duration::from_secs(7),
        "400 cards at 50/s cannot take {elapsed:?}"
    );
    assert_eq!(sim.messages().len(), total);
    let waits = h
        .metric(r#"mica_rate_limiter_waits_total{kind="notify"}"#)
        .await
        .unwrap_or(0.0);
    assert!(waits > 0.0, "the limiter's waits are visible in /metrics");
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_gets_at_most_five_cards_a_second() {
    let sim = FeishuSim::start().await;
    sim.with(|s| s.enforce_rate_limits = true);
    let h = host(&sim).await;
    for e in 0..15 {
        h.post_event(&event(
            "po_created",
            &format!("same-{e}"),
            vec![recipient("busy@example.com", "zh-CN")],
        ))
        .await;
    }
    for e in 0..15 {
        assert_eq!(h.settled(&format!("same-{e}")).await[0]["status"], "sent");
    }
    let (_, per_user) = sim.with(|s| s.max_in_window(Duration::from_secs(1)));
    assert!(
        per_user <= 5,
        "{per_user} cards to one person within a second"
    );
    assert_eq!(sim.with(|s| s.rate_limited), 0);
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_answer_pauses_every_send_for_its_delay() {
    let sim = FeishuSim::start().await;
    // One call at a time, so the first send is the one that meets the 429.
    let options = HostOptions {
        rate: Some(RateLimits::default()),
        concurrency: 1,
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.configure_feishu(&sim);
    sim.inject([Fault::RateLimit { reset_secs: 2 }]);
    let recipients = (0..10)
        .map(|r| recipient(&format!("p{r}@example.com"), "zh-CN"))
        .collect();
    let posted = Instant::now();
    h.post_event(&event("po_created", "paused", recipients))
        .await;
    let d = h.settled("paused").await;
    assert!(d.iter().all(|d| d["status"] == "sent"));
    // The 429 is not recorded as an arrival; every recorded send came after its 2 s reset.
    let first = sim.with(|s| s.arrivals[0].0);
    let waited = first.duration_since(posted);
    assert!(
        waited >= Duration::from_secs(2),
        "the next send came {waited:?} after the event"
    );
    assert_eq!(sim.messages().len(), 10);
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_through_a_hostile_feishu_arrives_exactly_once_within_the_limits() {
    let sim = FeishuSim::start().await;
    sim.with(|s| {
        s.hostility = mica_tests::sim::Hostility {
            server_error: 0.06,
            rate_limit: 0.04,
            revoke_tokens: 0.03,
            stall: 0.02,
            stall_for: Duration::from_millis(2500),
            drop_connection: 0.04,
            lose_response: 0.06,
        }
    });
    let options = HostOptions {
        rate: Some(RateLimits::default()),
        concurrency: 16,
        limits: Some(mica_host::runtime::SandboxLimits {
            call_deadline: Duration::from_secs(2),
            ..Default::default()
        }),
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.configure_feishu(&sim);
    // 200 cards to 40 people, 5 each.
    let (events, people) = (5, 40);
    for e in 0..events {
        let recipients = (0..people)
            .map(|r| recipient(&format!("h{r}@example.com"), "en-US"))
            .collect();
        h.post_event(&event("po_created", &format!("hostile-{e}"), recipients))
            .await;
    }
    for e in 0..events {
        let d = h.settled(&format!("hostile-{e}")).await;
        assert!(d.iter().all(|d| d["status"] == "sent"), "{d:#?}");
    }
    let total = events * people;
    let messages = sim.messages();
    assert_eq!(messages.len(), total, "each card recorded exactly once");
    let uuids: std::collections::HashSet<_> = messages.iter().map(|m| m.uuid.clone()).collect();
    assert_eq!(uuids.len(), total);
    let (overall, per_user) = sim.with(|s| s.max_in_window(Duration::from_secs(1)));
    let (trouble, suppressed) = sim.with(|s| (s.trouble.clone(), s.duplicates_suppressed));
    println!(
        "trouble: {trouble:?}; duplicates suppressed by uuid: {suppressed}; most sends in a second: {overall}, to one person: {per_user}"
    );
    assert!(overall <= 50, "{overall} sends within one second");
    assert!(
        per_user <= 5,
        "{per_user} sends to one person within one second"
    );
    assert!(
        trouble.values().sum::<usize>() > 0,
        "the simulator did make trouble"
    );
    h.host.stop().await;
}
