//! Webhook latency (benchmark issue, section 4): signed, encrypted `approval_instance` callbacks
//! at a steady rate, each moving a distinct pending payment approval to APPROVED; the latency is
//! request → answer, and the host answers only after the update is committed, so it is request →
//! persisted update. Open loop: requests leave on schedule whatever the previous ones are doing.
//!
//! `cargo run --release -p mica-bench --bin bench-webhook -- --rate 500 --seconds 10`

use clap::Parser;
use mica_tests::approvals::{ENCRYPT_KEY, VERIFICATION_TOKEN, payment_event, setup};
use mica_tests::harness::HostOptions;
use mica_tests::sim::callbacks::{self, CallbackConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Callbacks per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// How long to keep the rate up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// A callback as it goes on the wire: body and headers.
type Wire = (Vec<u8>, Vec<(String, String)>);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let total = (args.rate * args.seconds) as usize;
    let t = setup(true, HostOptions::default()).await;

    // One pending approval per callback, created through the host as Mica would.
    let started = Instant::now();
    for i in 0..total {
        let e = payment_event(
            &format!("evt-wh-{i}"),
            &format!("pay-wh-{i}"),
            Some("ou_submitter"),
        );
        let (status, body) = t.host.post_event(&e).await;
        anyhow::ensure!(status == 202, "event refused: {body}");
    }
    while t.sim.instances().len() < total {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "approvals were not created"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let codes: Vec<(String, String)> = t
        .sim
        .instances()
        .into_iter()
        .map(|i| (i.instance_code, i.approval_code))
        .collect();
    println!(
        "{total} pending approvals created in {:?}",
        started.elapsed()
    );

    let config = CallbackConfig {
        url: format!("{}/api/v1/feishu/webhook", t.host.base),
        encrypt_key: Some(ENCRYPT_KEY.into()),
        verification_token: VERIFICATION_TOKEN.into(),
        sign: true,
        retry_delays: vec![],
    };
    // Build every request first, so the generator's own crypto is not in the measured window.
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    let requests: Vec<Wire> = codes
        .iter()
        .enumerate()
        .map(|(i, (instance, approval))| {
            let payload = callbacks::approval_event(
                &format!("evt-bench-{i}"),
                VERIFICATION_TOKEN,
                approval,
                instance,
                "APPROVED",
                now_ms + i as u64,
            );
            callbacks::wire(&config, &payload)
        })
        .collect();

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total);
    let window = Instant::now();
    for (body, headers) in requests {
        tick.tick().await;
        let (client, url) = (client.clone(), config.url.clone());
        let (latencies, failures) = (latencies.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let status = callbacks::post(&client, &url, body, &headers).await;
            let took = sent.elapsed();
            if status == 200 {
                latencies.lock().unwrap().push(took);
            } else {
                failures.lock().unwrap().push(status);
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = window.elapsed();
    let mut sorted = latencies.lock().unwrap().clone();
    sorted.sort();
    let failures = failures.lock().unwrap().clone();
    anyhow::ensure!(!sorted.is_empty(), "no callback succeeded: {failures:?}");

    // Every callback's update must be in the store.
    let mut approved = 0;
    for i in 0..total {
        let (_, body) = t.host.get(&format!("/api/v1/approvals/pay-wh-{i}")).await;
        if body["status"] == "APPROVED" {
            approved += 1;
        }
    }
    println!(
        "{} callbacks in {:.2} s ({:.0}/s offered {}), {} failed; persisted APPROVED: {approved}/{total}",
        sorted.len() + failures.len(),
        elapsed.as_secs_f64(),
        (sorted.len() + failures.len()) as f64 / elapsed.as_secs_f64(),
        args.rate,
        failures.len(),
    );
    // What docs/benchmarks.md claims, checked on every run (`--smoke` in CI included).
    anyhow::ensure!(
        failures.is_empty(),
        "{} callbacks failed: {failures:?}",
        failures.len()
    );
    anyhow::ensure!(
        approved == total,
        "{approved} of {total} approvals persisted APPROVED"
    );
    println!(
        "latency request → persisted: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.90),
        percentile(&sorted, 0.99),
        sorted[sorted.len() - 1],
    );
    t.host.host.stop().await;
    Ok(())
}
