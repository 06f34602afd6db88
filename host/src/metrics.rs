//! Prometheus metrics for `GET /metrics`: what an engineer on call needs to see first.
//! Process-wide: every host in the process shares them.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::LazyLock;

pub struct Metrics {
    registry: Registry,
    /// Outcomes of delivery attempts by kind (notify, approval) and outcome.
    pub deliveries: IntCounterVec,
    /// Remote (Feishu) error codes seen in failed attempts.
    pub remote_errors: IntCounterVec,
    /// Duration of calls into plugins, by export.
    pub plugin_calls: HistogramVec,
    /// Webhook requests by outcome (applied, duplicate, refused, failed).
    pub webhooks: IntCounterVec,
    /// Events accepted by type.
    pub events: IntCounterVec,
    /// Deliveries waiting (pending or retrying), read from the store at scrape time.
    pub queue_depth: IntGauge,
    /// The same by class (action, update, bulk): a bulk backlog is fine, an action one is not.
    pub queue_depth_by_class: IntGaugeVec,
    /// Deliveries the rate limiter held back, by kind.
    pub rate_waits: IntCounterVec,
    /// Notices to Mica by outcome (delivered, retried, refused, dead).
    pub notices: IntCounterVec,
    /// Notices to Mica that are dead letters, read from the store at scrape time.
    pub notices_failed: IntGauge,
    /// Plugin log lines dropped, by plugin and why (quota, queue_full).
    pub plugin_log_dropped: IntCounterVec,
    /// `serve --watch` reloads of the watched file, by outcome (`watch::Reload`).
    pub watch_reloads: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let plugin_calls = HistogramVec::new(
        HistogramOpts::new(
            "mica_plugin_call_seconds",
            "Duration of calls into plugins, by export",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
        ]),
        &["export"],
    )
    .expect("a valid metric");
    registry
        .register(Box::new(plugin_calls.clone()))
        .expect("registered once");
    let queue_depth = IntGauge::new(
        "mica_queue_depth",
        "Deliveries waiting (pending or retrying)",
    )
    .expect("a valid metric");
    registry
        .register(Box::new(queue_depth.clone()))
        .expect("registered once");
    let queue_depth_by_class = IntGaugeVec::new(
        Opts::new(
            "mica_queue_depth_by_class",
            "Deliveries waiting (pending or retrying), by class (action, update, bulk)",
        ),
        &["class"],
    )
    .expect("a valid metric");
    registry
        .register(Box::new(queue_depth_by_class.clone()))
        .expect("registered once");
    let notices_failed = IntGauge::new(
        "mica_notices_failed",
        "Notices to Mica that became dead letters (mica-host notices failed)",
    )
    .expect("a valid metric");
    registry
        .register(Box::new(notices_failed.clone()))
        .expect("registered once");
    Metrics {
        notices: counter(
            &registry,
            "mica_notices_total",
            "Notice attempts to Mica by outcome",
            &["outcome"],
        ),
        notices_failed,
        deliveries: counter(
            &registry,
            "mica_deliveries_total",
            "Delivery attempts by kind (notify, approval), event type and outcome",
            &["kind", "type", "outcome"],
        ),
        rate_waits: counter(
            &registry,
            "mica_rate_limiter_waits_total",
            "Deliveries held back by the rate limiter, by kind",
            &["kind"],
        ),
        remote_errors: counter(
            &registry,
            "mica_remote_errors_total",
            "Errors reported by the remote service, by code",
            &["code"],
        ),
        webhooks: counter(
            &registry,
            "mica_webhook_requests_total",
            "Webhook requests by outcome",
            &["outcome"],
        ),
        events: counter(
            &registry,
            "mica_events_accepted_total",
            "Events accepted, by type",
            &["type"],
        ),
        plugin_log_dropped: counter(
            &registry,
            "mica_plugin_log_dropped_total",
            "Plugin log lines dropped (over a call's quota, or the log queue full), by plugin",
            &["plugin", "why"],
        ),
        watch_reloads: counter(
            &registry,
            "mica_watch_reloads_total",
            "serve --watch reloads of the watched plugin file, by outcome (reloaded, invalid, not_activated)",
            &["outcome"],
        ),
        plugin_calls,
        queue_depth,
        queue_depth_by_class,
        registry,
    }
});

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&METRICS.registry.gather(), &mut out)
        .expect("text encoding does not fail");
    String::from_utf8(out).unwrap_or_default()
}
