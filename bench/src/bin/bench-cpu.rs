//! CPU per card, native core vs component in the host (benchmark issue, section 1): runs the same
//! `notify` N times each way, sequentially, and reports wall time and process CPU time per card.
//! `cargo run --release -p mica-bench --bin bench-cpu -- --cards 20000`

use clap::Parser;
use mica_bench::component::{ComponentBench, request};
use mica_bench::cpu::process_cpu_seconds;
use mica_bench::native::NativeEnv;
use mica_feishu_plugin::model::NotifyRequest;
use mica_feishu_plugin::samples::{ALL_KINDS, event, recipient};
use mica_host::events::Payload;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 20_000)]
    cards: usize,
}

fn per_card(label: &str, cards: usize, wall: f64, cpu: f64) -> (f64, f64) {
    let (w, c) = (wall / cards as f64 * 1e6, cpu / cards as f64 * 1e6);
    println!("{label:<10} wall {w:>8.1} µs/card   cpu {c:>8.1} µs/card   ({cards} cards)");
    (w, c)
}

fn main() -> anyhow::Result<()> {
    // Like the host's delivery worker: the calls run as a task on a runtime worker thread, not on
    // the thread blocked in `block_on`.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async { tokio::spawn(run()).await? })
}

async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let native = NativeEnv::new();
    let requests: Vec<NotifyRequest> = (0..5)
        .map(|i| NotifyRequest {
            idempotency_key: format!("bench-{i}"),
            event_id: format!("bench-event-{i}"),
            occurred_at: "2026-11-25T02:14:22Z".into(),
            event: event(ALL_KINDS[i]),
            recipient: recipient("zh-CN"),
            attempt: 1,
        })
        .collect();
    native
        .notify(&requests[0])
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (t, c) = (Instant::now(), process_cpu_seconds());
    for i in 0..args.cards {
        native
            .notify(&requests[i % 5])
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let (_, native_cpu) = per_card(
        "native",
        args.cards,
        t.elapsed().as_secs_f64(),
        process_cpu_seconds() - c,
    );

    let wasm = std::fs::read(mica_tests::harness::plugin_wasm())?;
    let component = ComponentBench::new(wasm).await?;
    let wit: Vec<_> = (0..5).map(|i| request(i, "zh-CN")).collect();
    component
        .plugin
        .notify(&component.store, wit[0].clone())
        .await??;
    let (t, c) = (Instant::now(), process_cpu_seconds());
    for i in 0..args.cards {
        component
            .plugin
            .notify(&component.store, wit[i % 5].clone())
            .await??;
    }
    let (_, component_cpu) = per_card(
        "component",
        args.cards,
        t.elapsed().as_secs_f64(),
        process_cpu_seconds() - c,
    );
    println!("ratio (cpu): {:.2}x", component_cpu / native_cpu);

    // Where the component's time goes: a fresh instance and the smallest call (no host imports
    // used, a few bytes each way), the same with a large answer (describe), and instance + card
    // rendering without sending (preview).
    let (t, c) = (Instant::now(), process_cpu_seconds());
    for _ in 0..args.cards {
        component
            .plugin
            .check_setting("auth.feishu.enabled", "true")
            .await?;
    }
    per_card(
        "trivial",
        args.cards,
        t.elapsed().as_secs_f64(),
        process_cpu_seconds() - c,
    );
    let (t, c) = (Instant::now(), process_cpu_seconds());
    for _ in 0..args.cards {
        component.plugin.describe().await?;
    }
    per_card(
        "describe",
        args.cards,
        t.elapsed().as_secs_f64(),
        process_cpu_seconds() - c,
    );
    let payloads: Vec<Payload> = wit
        .iter()
        .map(|r| Payload::Domain(r.event.clone()))
        .collect();
    let (t, c) = (Instant::now(), process_cpu_seconds());
    for i in 0..args.cards {
        component
            .plugin
            .render_preview(&payloads[i % 5], "zh-CN")
            .await??;
    }
    per_card(
        "preview",
        args.cards,
        t.elapsed().as_secs_f64(),
        process_cpu_seconds() - c,
    );
    // What a call pays for its settings: the shared snapshot (the database is asked at most every
    // 100 ms, for changes made by other processes).
    let keys: std::sync::Arc<[String]> = component
        .plugin
        .descriptor
        .settings
        .iter()
        .map(|s| s.key.clone())
        .collect();
    let (t, c) = (Instant::now(), process_cpu_seconds());
    for _ in 0..args.cards {
        component.store.param_snapshot(&keys)?;
    }
    per_card(
        "settings",
        args.cards,
        t.elapsed().as_secs_f64(),
        process_cpu_seconds() - c,
    );
    Ok(())
}
