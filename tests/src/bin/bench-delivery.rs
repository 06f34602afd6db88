//! Measure the delivery path against the simulator on this machine:
//! `cargo run --release -p mica-tests --bin bench-delivery -- --cards 1000`
//!
//! Reports compile / cached load / per-call instantiate times, then cards per second end to end
//! (events accepted by the host → cards recorded by the simulator), TCP connections and token
//! fetches per 1,000 cards. With `--swap-every-ms` the active plugin version is switched back and
//! forth while the cards go out, and the run reports how many deliveries failed (must be 0) and how
//! many each version made. Not a test: figures depend on the machine.

use clap::Parser;
use mica_host::runtime::{Runtime, SandboxLimits};
use mica_tests::harness::{HostOptions, TestHost, event, plugin_wasm, recipient};
use mica_tests::sim::FeishuSim;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Cards to send.
    #[arg(long, default_value_t = 1000)]
    cards: usize,
    /// Recipients per event.
    #[arg(long, default_value_t = 50)]
    per_event: usize,
    /// Plugin calls in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Pace sends to Feishu's limits (the host's defaults); off measures the raw path.
    #[arg(long)]
    rate_limits: bool,
    /// Switch the active version (the plugin ↔ a second build) this often during the run; 0: never.
    #[arg(long, default_value_t = 0)]
    swap_every_ms: u64,
    /// Hosts sharing the store (more than one needs PostgreSQL: `MICA_TEST_DATABASE_URL`); the
    /// events are posted to each in turn.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
}

/// CPU time used by the whole machine so far (every core; the host, the simulator and the
/// database server alike), from /proc/stat.
fn machine_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        // user, nice, system, (idle, iowait skipped), irq, softirq, steal
        .filter(|(i, _)| !matches!(i, 3 | 4))
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let wasm = Arc::new(std::fs::read(plugin_wasm())?);

    let cache = tempfile::tempdir()?;
    let runtime = Arc::new(Runtime::new(cache.path().into(), SandboxLimits::default())?);
    let t = Instant::now();
    let plugin = runtime.load(wasm.clone()).await?;
    let compile = t.elapsed();
    let t = Instant::now();
    let _again = runtime.load(wasm.clone()).await?;
    let cached = t.elapsed();
    let calls = 200;
    let t = Instant::now();
    for _ in 0..calls {
        plugin.describe().await?;
    }
    let per_call = t.elapsed() / calls;
    println!(
        "component: {} KiB, pooling allocator: {}",
        wasm.len() / 1024,
        runtime.pooling
    );
    println!("compile + link + describe: {compile:?}; from the on-disk cache: {cached:?}");
    println!("fresh instance + describe call: {per_call:?} per call ({calls} calls)");

    let sim = FeishuSim::start().await;
    let options = || HostOptions {
        concurrency: args.concurrency,
        rate: args
            .rate_limits
            .then(mica_host::delivery::RateLimits::default),
        ..Default::default()
    };
    let host = TestHost::start_in(Arc::new(tempfile::tempdir()?), options()).await;
    host.configure_feishu(&sim);
    // Installing a new version (compile + validate) before the run, so swapping during it costs
    // only the switch.
    let registry = host.host.registry.clone();
    let first = registry
        .active("feishu")
        .ok_or_else(|| anyhow::anyhow!("no active feishu plugin"))?
        .version()
        .to_string();
    let v2 = std::fs::read(mica_tests::harness::fixture_wasm("fixture_feishu_v2"))?;
    let t = Instant::now();
    let second = registry
        .install(v2, mica_host::registry::SameVersion::Refuse)
        .await?
        .version()
        .to_string();
    let install = t.elapsed();

    anyhow::ensure!(
        args.replicas == 1 || mica_tests::harness::on_postgres(),
        "--replicas {} needs MICA_TEST_DATABASE_URL (a PostgreSQL database to share)",
        args.replicas
    );
    let mut others = Vec::new();
    for _ in 1..args.replicas {
        others.push(TestHost::start_in(host.dir.clone(), options()).await);
    }
    let replicas: Vec<&TestHost> = std::iter::once(&host).chain(others.iter()).collect();
    let store = match host.host.store.backend() {
        mica_host::store::Backend::Sqlite => "SQLite",
        mica_host::store::Backend::Postgres => "PostgreSQL",
    };

    let events = args.cards.div_ceil(args.per_event);
    let cpu_before = machine_cpu();
    let started = Instant::now();
    let swapping = (args.swap_every_ms > 0).then(|| {
        let (registry, every) = (registry.clone(), Duration::from_millis(args.swap_every_ms));
        let versions = [second.clone(), first.clone()];
        tokio::spawn(async move {
            let mut swaps = 0usize;
            loop {
                tokio::time::sleep(every).await;
                let version = &versions[swaps % 2];
                if let Err(e) = registry.activate_installed("feishu", version).await {
                    eprintln!("activation of {version} failed: {e:#}");
                }
                swaps += 1;
            }
        })
    });
    for e in 0..events {
        let recipients = (0..args.per_event)
            .map(|r| {
                recipient(
                    &format!("u{e}-{r}@example.com"),
                    if r % 2 == 0 { "zh-CN" } else { "en-US" },
                )
            })
            .collect();
        let kind = [
            "pr_submitted",
            "approval_decided",
            "po_created",
            "payment_pending",
            "contract_expiring",
        ][e % 5];
        let (status, body) = replicas[e % replicas.len()]
            .post_event(&event(kind, &format!("bench-{e}"), recipients))
            .await;
        anyhow::ensure!(status == 202, "event refused: {body}");
    }
    let accepted = started.elapsed();
    let total = events * args.per_event;
    // Count, don't clone: cloning every recorded card while holding the simulator's lock would
    // slow the simulator down and measure the bench instead of the host.
    while sim.with(|s| s.messages.len()) < total {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "cards did not all arrive"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let cpu = machine_cpu().saturating_sub(cpu_before);
    let swaps = match swapping {
        Some(task) => {
            task.abort();
            let _ = task.await;
            (elapsed.as_millis() as u64 / args.swap_every_ms) as usize
        }
        None => 0,
    };
    // What docs/benchmarks.md claims, checked on every run (`--smoke` in CI included): each card
    // recorded once, none repeated.
    let (recorded, repeated) = sim.with(|s| (s.messages.len(), s.duplicates_suppressed));
    anyhow::ensure!(
        recorded == total,
        "{recorded} cards recorded for {total} deliveries"
    );
    let per_thousand = |n: usize| n as f64 * 1000.0 / total as f64;
    println!(
        "{total} cards in {elapsed:.2?} ({:.0} cards/s; events accepted in {accepted:.2?}), concurrency {}, store {store}, {} host(s)",
        total as f64 / elapsed.as_secs_f64(),
        args.concurrency,
        replicas.len()
    );
    println!(
        "machine CPU per card (host, simulator and database together): {:.0} µs",
        cpu.as_secs_f64() * 1e6 / total as f64
    );
    println!(
        "per 1,000 cards: {:.1} TCP connections, {:.1} token fetches; duplicates suppressed: {}",
        per_thousand(sim.connections()),
        per_thousand(sim.token_fetches()),
        repeated
    );
    if swaps > 0 {
        // Every delivery's record: how it ended and which version made it.
        let mut by_status = std::collections::BTreeMap::<String, usize>::new();
        let mut by_version = std::collections::BTreeMap::<String, usize>::new();
        for e in 0..events {
            for d in host.deliveries(&format!("bench-{e}")).await {
                *by_status
                    .entry(d["status"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
                *by_version
                    .entry(d["plugin_version"].as_str().unwrap_or("none").to_string())
                    .or_default() += 1;
            }
        }
        let failed: usize = by_status
            .iter()
            // "skipped": the approval job of a payment_pending event, with the payment workflow off.
            .filter(|(status, _)| !matches!(status.as_str(), "sent" | "skipped"))
            .map(|(_, n)| n)
            .sum();
        println!(
            "swap under load: {swaps} switches every {} ms; deliveries failed or unfinished: {failed}; by status {by_status:?}; by version {by_version:?}",
            args.swap_every_ms
        );
        anyhow::ensure!(
            failed == 0,
            "{failed} deliveries failed or unfinished across the swaps"
        );
    }
    // Lifecycle: switching between installed versions (compile cache warm).
    let active = registry
        .active("feishu")
        .map(|p| p.version().to_string())
        .unwrap_or_default();
    let other = if active == first { &second } else { &first };
    let t = Instant::now();
    registry.activate_installed("feishu", other).await?;
    let activate = t.elapsed();
    let t = Instant::now();
    registry.rollback("feishu").await?;
    let rollback = t.elapsed();
    println!(
        "install a new version: {install:?}; activate it: {activate:?}; roll back: {rollback:?}"
    );
    drop(replicas);
    for other in others {
        other.host.stop().await;
    }
    host.host.stop().await;
    Ok(())
}
