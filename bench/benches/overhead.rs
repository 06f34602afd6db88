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
    rt.block_on(component.plugin.notify(&component.store, &wit_requests[0]))
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
    let mut j = 0;
    group.bench_function("component", |b| {
        b.to_async(&rt).iter(|| {
            j = (j + 1) % 5;
            let req = &wit_requests[j];
            let component = &component;
            async move {
                black_box(
                    component
                        .plugin
                        .notify(&component.store, req)
                        .await
                        .unwrap()
                        .unwrap(),
                )
            }
        })
    });
    group.finish();

    // What the component costs with nothing to do: a fresh instance and one trivial call.
    c.bench_function("instantiate+describe", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(component.plugin.describe().await.unwrap()) })
    });
}

criterion_group!(benches, overhead);
criterion_main!(benches);
