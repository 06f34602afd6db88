//! Plugin overhead vs native (benchmark issue, section 1): the same `notify` (render the card,
//! build the request, parse Feishu's answer) run natively and through the component (fresh
//! instance from the pre-instantiated component + the call + the host's imports), with Feishu
//! answered in process on both sides.
//!
//! `cargo bench -p mica-bench --bench overhead` (after scripts/build-plugin.sh); `scripts/bench.sh`
//! runs it and writes the ratio.

use criterion::{Criterion, criterion_group, criterion_main};
use mica_bench::component::{ComponentBench, request};
use mica_bench::native::NativeEnv;
use mica_feishu_plugin::model::NotifyRequest;
use mica_feishu_plugin::samples::{ALL_KINDS, event, recipient};
use std::hint::black_box;

fn native_request(i: usize) -> NotifyRequest {
    NotifyRequest {
        idempotency_key: format!("bench-{i}"),
        event_id: format!("bench-event-{i}"),
        occurred_at: "2026-11-25T02:14:22Z".into(),
        event: event(ALL_KINDS[i]),
        recipient: recipient("zh-CN"),
        attempt: 1,
    }
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let wasm = std::fs::read(mica_tests::harness::plugin_wasm()).unwrap();
    let component = rt.block_on(ComponentBench::new(wasm)).unwrap();
    let native = NativeEnv::new();
    // The five card kinds in turn, as a day's mix would be.
    let native_requests: Vec<NotifyRequest> = (0..5).map(native_request).collect();
    let wit_requests: Vec<_> = (0..5).map(|i| request(i, "zh-CN")).collect();
    // Warm both token caches so each iteration is one card, as in steady state.
    native.notify(&native_requests[0]).unwrap();
    rt.block_on(
        component
            .plugin
            .notify(&component.store, wit_requests[0].clone()),
    )
    .unwrap()
    .unwrap();

    let mut group = c.benchmark_group("notify");
    let mut i = 0;
    group.bench_function("native", |b| {
        b.iter(|| {
            i = (i + 1) % 5;
            black_box(native.notify(&native_requests[i]).unwrap())
        })
    });
    // The component's calls run as a task on the runtime's worker thread, as the delivery worker's
    // do: `to_async` would poll them on the bench's own thread, where every wake-up from the
    // runtime (the outgoing request's task) crosses threads and doubles the time measured.
    let component = std::sync::Arc::new(component);
    let wit_requests = std::sync::Arc::new(wit_requests);
    group.bench_function("component", |b| {
        b.iter_custom(|iters| {
            let (component, requests) = (component.clone(), wit_requests.clone());
            rt.block_on(async move {
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    for j in 0..iters as usize {
                        let receipt = component
                            .plugin
                            .notify(&component.store, requests[j % 5].clone())
                            .await;
                        black_box(receipt.unwrap().unwrap());
                    }
                    started.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
    group.finish();

    // What the component costs with nothing to do: a fresh instance and one trivial call.
    c.bench_function("instantiate+describe", |b| {
        b.iter_custom(|iters| {
            let component = component.clone();
            rt.block_on(async move {
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    for _ in 0..iters {
                        black_box(component.plugin.describe().await.unwrap());
                    }
                    started.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
}

criterion_group!(benches, overhead);
criterion_main!(benches);
