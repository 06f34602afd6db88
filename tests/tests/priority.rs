//! Cards people act on go first under Feishu's limits: an approver's card overtakes a bulk
//! backlog, bulk never takes the part of the minute kept for action and update cards, and one
//! person's backlog does not hold up the people queued behind it. The simulator enforces Feishu's
//! limits (50/s, 1,000/min, 5/s per person) and the host runs with Feishu's defaults.

use mica_host::delivery::RateLimits;
use mica_tests::harness::{HostOptions, TestHost, event, recipient};
use mica_tests::sim::FeishuSim;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 16;

async fn host(sim: &FeishuSim) -> TestHost {
    let options = HostOptions {
        rate: Some(RateLimits::default()),
        concurrency: CONCURRENCY,
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.configure_feishu(sim);
    h
}

/// Receive ids (emails) of the accepted messages, in the order Feishu accepted them.
fn accepted(sim: &FeishuSim) -> Vec<String> {
    sim.messages().into_iter().map(|m| m.receive_id).collect()
}

fn is_bulk(id: &str) -> bool {
    id.starts_with("bulk-")
}

/// Wait (up to `limit`) until `done` holds for the simulator.
async fn until(sim: &FeishuSim, limit: Duration, what: &str, done: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        let received = accepted(sim);
        if done(&received) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not after {limit:?} ({} accepted)",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metric(h: &TestHost, line_start: &str) -> f64 {
    h.metric(line_start)
        .await
        .unwrap_or_else(|| panic!("no {line_start} in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvers_cards_overtake_a_bulk_backlog_and_the_minute_keeps_room_for_them() {
    let sim = FeishuSim::start().await;
    sim.with(|s| s.enforce_rate_limits = true);
    let h = host(&sim).await;
    let reserve = RateLimits::default().bulk_reserve_per_minute as usize;
    let bulk_per_minute = 1000 - reserve;

    // A contract-expiry scan of 1,500 cards, then a PR to approve.
    for (e, n) in [(0, 1000), (1, 500)] {
        let recipients = (0..n)
            .map(|r| recipient(&format!("bulk-{e}-{r}@example.com"), "zh-CN"))
            .collect::<Vec<Value>>();
        let (status, _) = h
            .post_event(&event(
                "contract_expiring",
                &format!("scan-{e}"),
                recipients,
            ))
            .await;
        assert_eq!(status, 202);
    }
    let before_first = accepted(&sim).len();
    h.post_event(&event(
        "pr_submitted",
        "pr-behind-backlog",
        vec![recipient("approver-1@example.com", "zh-CN")],
    ))
    .await;
    until(
        &sim,
        Duration::from_secs(30),
        "the first approver's card",
        |r| r.iter().any(|id| id == "approver-1@example.com"),
    )
    .await;
    let received = accepted(&sim);
    let first_at = received
        .iter()
        .position(|id| id == "approver-1@example.com")
        .unwrap();
    // Ahead of it at most what was already sent or in flight when it was posted.
    assert!(
        first_at <= before_first + 2 * CONCURRENCY,
        "the approver's card came {first_at}th; {before_first} bulk cards had been sent when it was posted, {} were queued before it",
        1500 - before_first
    );

    // Bulk stops when the minute's sends (the approver's card included) reach its share, leaving
    // the reserve.
    until(
        &sim,
        Duration::from_secs(60),
        "bulk reaching its share",
        |r| r.len() >= bulk_per_minute,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bulk_sent = bulk_per_minute - 1;
    assert_eq!(
        accepted(&sim).len(),
        bulk_per_minute,
        "bulk stays at {bulk_sent} until the minute slides"
    );
    assert_eq!(
        metric(&h, r#"mica_queue_depth_by_class{class="bulk"}"#).await,
        (1500 - bulk_sent) as f64,
        "the bulk backlog is visible by class"
    );
    assert_eq!(
        metric(&h, r#"mica_queue_depth_by_class{class="action"}"#).await,
        0.0
    );

    // An approver's card posted now finds room in the reserve, ahead of the bulk queued before it.
    h.post_event(&event(
        "pr_submitted",
        "pr-after-minute",
        vec![recipient("approver-2@example.com", "zh-CN")],
    ))
    .await;
    until(
        &sim,
        Duration::from_secs(30),
        "the second approver's card",
        |r| r.iter().any(|id| id == "approver-2@example.com"),
    )
    .await;
    let received = accepted(&sim);
    let second_at = received
        .iter()
        .position(|id| id == "approver-2@example.com")
        .unwrap();
    let bulk_ahead = received[..second_at]
        .iter()
        .filter(|id| is_bulk(id))
        .count();
    assert_eq!(
        bulk_ahead, bulk_sent,
        "no bulk card went between the reserve being reached and the approver's card"
    );

    // The backlog still drains, each card exactly once, within Feishu's limits.
    until(&sim, Duration::from_secs(150), "the whole backlog", |r| {
        r.len() >= 1502
    })
    .await;
    for e in ["scan-0", "scan-1", "pr-behind-backlog", "pr-after-minute"] {
        let d = h.settled(e).await;
        assert!(
            d.iter()
                .all(|d| d["status"] == "sent" && d["attempts"] == 1)
        );
        let class = if e.starts_with("scan") {
            "bulk"
        } else {
            "action"
        };
        assert!(d.iter().all(|d| d["class"] == class), "{e}: {}", d[0]);
    }
    let received = accepted(&sim);
    assert_eq!(received.len(), 1502);
    let unique: std::collections::HashSet<&String> = received.iter().collect();
    assert_eq!(unique.len(), 1502, "every card exactly once");
    sim.with(|s| {
        assert_eq!(s.rate_limited, 0, "Feishu never had to say slow down");
        let (per_second, per_person) = s.max_in_window(Duration::from_secs(1));
        assert!(per_second <= 50, "{per_second} sends within one second");
        assert!(per_person <= 5);
        let minute = Duration::from_secs(60);
        let in_minute = s.max_in_window_of(minute, |_| true);
        assert!(in_minute <= 1000, "{in_minute} sends within one minute");
        let bulk_in_minute = s.max_in_window_of(minute, is_bulk);
        assert!(
            bulk_in_minute <= bulk_per_minute,
            "{bulk_in_minute} bulk sends within one minute: the reserve was taken"
        );
    });
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_persons_backlog_does_not_hold_up_the_people_queued_behind_it() {
    let sim = FeishuSim::start().await;
    sim.with(|s| s.enforce_rate_limits = true);
    let h = host(&sim).await;
    for e in 0..30 {
        h.post_event(&event(
            "po_created",
            &format!("busy-{e}"),
            vec![recipient("busy@example.com", "zh-CN")],
        ))
        .await;
    }
    let others: Vec<String> = (0..10).map(|i| format!("p{i}@example.com")).collect();
    h.post_event(&event(
        "po_created",
        "everyone-else",
        others.iter().map(|p| recipient(p, "zh-CN")).collect(),
    ))
    .await;
    let posted = Instant::now();
    let d = h.settled("everyone-else").await;
    assert!(d.iter().all(|d| d["status"] == "sent"));
    let (busy_between, last_other) = sim.with(|s| {
        let last_other = s
            .arrivals
            .iter()
            .filter(|(_, id)| others.contains(id))
            .map(|(t, _)| *t)
            .max()
            .unwrap();
        let busy_between = s
            .arrivals
            .iter()
            .filter(|(t, id)| id == "busy@example.com" && *t >= posted && *t <= last_other)
            .count();
        (busy_between, last_other)
    });
    assert!(
        busy_between <= 5,
        "{busy_between} of the busy person's cards went ahead of the people queued behind them (last arrived {:?} after posting)",
        last_other.duration_since(posted)
    );
    for e in 0..30 {
        assert_eq!(h.settled(&format!("busy-{e}")).await[0]["status"], "sent");
    }
    let (_, per_person) = sim.with(|s| s.max_in_window(Duration::from_secs(1)));
    assert!(
        per_person <= 5,
        "{per_person} cards to one person in a second"
    );
    assert_eq!(sim.with(|s| s.rate_limited), 0);
    h.host.stop().await;
}
