//! How long a card someone must act on waits behind a bulk backlog, with Feishu's limits on:
//! `cargo run --release -p mica-tests --bin bench-priority -- --bulk 1500`
//!
//! Posts a contract-expiry scan of `--bulk` cards, then one PR-approval card a second until the
//! backlog has drained, and reports each approval card's latency (posted to the host → accepted by
//! the simulator): p50, p99 and max, overall and split by whether the minute's sends had already
//! reached bulk's share (1,000 less the reserve) when the card was posted. The simulator refuses what Feishu would (50/s,
//! 1,000/min, 5/s per person), so the figures include the limits. Not a test: figures depend on
//! the machine, and on the host's limits (the defaults: Feishu's).

use clap::Parser;
use mica_host::delivery::RateLimits;
use mica_tests::harness::{HostOptions, TestHost, event, recipient};
use mica_tests::sim::FeishuSim;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Bulk cards queued before the first approval card.
    #[arg(long, default_value_t = 1500)]
    bulk: usize,
    /// Seconds between approval cards.
    #[arg(long, default_value_t = 1.0)]
    every: f64,
    /// Stop posting approval cards after this many, even if bulk is still draining.
    #[arg(long, default_value_t = 120)]
    max_samples: usize,
}

struct Sample {
    email: String,
    posted: Instant,
    /// Whether the minute's sends had reached bulk's share when it was posted.
    after_share: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sim = FeishuSim::start().await;
    sim.with(|s| s.enforce_rate_limits = true);
    let options = HostOptions {
        rate: Some(RateLimits::default()),
        concurrency: 16,
        ..Default::default()
    };
    let h = TestHost::start_in(Arc::new(tempfile::tempdir()?), options).await;
    h.configure_feishu(&sim);
    let bulk_count = || {
        sim.with(|s| {
            s.messages
                .iter()
                .filter(|m| m.receive_id.starts_with("bulk-"))
                .count()
        })
    };

    let started = Instant::now();
    for (e, chunk) in (0..args.bulk).collect::<Vec<_>>().chunks(1000).enumerate() {
        let recipients = chunk
            .iter()
            .map(|r| recipient(&format!("bulk-{r}@example.com"), "zh-CN"))
            .collect();
        let (status, body) = h
            .post_event(&event(
                "contract_expiring",
                &format!("scan-{e}"),
                recipients,
            ))
            .await;
        anyhow::ensure!(status == 202, "the scan was refused: {body}");
    }
    let share = (1000 - RateLimits::default().bulk_reserve_per_minute) as usize;
    let mut samples = Vec::new();
    while bulk_count() < args.bulk && samples.len() < args.max_samples {
        let email = format!("approver-{}@example.com", samples.len());
        let posted = Instant::now();
        let in_minute = sim.with(|s| {
            s.arrivals
                .iter()
                .filter(|(t, _)| posted.duration_since(*t) < Duration::from_secs(60))
                .count()
        });
        let id = format!("pr-{}", samples.len());
        let (status, body) = h
            .post_event(&event(
                "pr_submitted",
                &id,
                vec![recipient(&email, "zh-CN")],
            ))
            .await;
        anyhow::ensure!(status == 202, "the PR card was refused: {body}");
        samples.push(Sample {
            email,
            posted,
            after_share: in_minute >= share,
        });
        tokio::time::sleep(Duration::from_secs_f64(args.every)).await;
    }
    // Every card accepted (bulk and approvals alike), or give up after five minutes.
    let total = args.bulk + samples.len();
    let deadline = Instant::now() + Duration::from_secs(300);
    while sim.with(|s| s.messages.len()) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = started.elapsed();
    let (mut early, mut late) = (Vec::new(), Vec::new());
    let arrivals = sim.with(|s| s.arrivals.clone());
    for s in &samples {
        let Some((at, _)) = arrivals.iter().find(|(_, id)| *id == s.email) else {
            anyhow::bail!("{} never arrived", s.email);
        };
        let latency = at.duration_since(s.posted);
        if s.after_share {
            late.push(latency);
        } else {
            early.push(latency);
        }
    }
    let (rate_limited, most_in_second) =
        sim.with(|s| (s.rate_limited, s.max_in_window(Duration::from_secs(1)).0));
    println!(
        "{} bulk cards and {} approval cards (one every {:.1} s) accepted in {drained:.1?}; \
         rate-limit answers: {rate_limited}; most sends in one second: {most_in_second}",
        args.bulk,
        samples.len(),
        args.every
    );
    // What docs/benchmarks.md claims, checked on every run (`--smoke` in CI included): every card
    // accepted once, no rate-limit answer, never more than Feishu's 50 sends in a second.
    let recorded = sim.with(|s| s.messages.len());
    anyhow::ensure!(recorded == total, "{recorded} cards recorded for {total}");
    anyhow::ensure!(rate_limited == 0, "{rate_limited} rate-limit answers");
    anyhow::ensure!(most_in_second <= 50, "{most_in_second} sends in one second");
    report("approval card latency, all", samples_all(&early, &late));
    report("  posted while bulk was sending", early);
    report("  posted after bulk had used its share of the minute", late);
    h.host.stop().await;
    Ok(())
}

fn samples_all(a: &[Duration], b: &[Duration]) -> Vec<Duration> {
    a.iter().chain(b).copied().collect()
}

fn report(what: &str, mut latencies: Vec<Duration>) {
    if latencies.is_empty() {
        println!("{what}: no samples");
        return;
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: {} samples, p50 {:.0?}, p99 {:.0?}, max {:.0?}",
        latencies.len(),
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}
