//! The Feishu plugin component loaded by the host's runtime, with a SQLite store for its settings
//! and key-value store, and outbound HTTP answered in process with the same bytes as the native side.

use crate::feishu_answers::answer;
use bytes::Bytes;
use mica_host::domain::NotifyRequest;
use mica_host::events::{Payload, parse_recipient, parse_stored_event, sample_events};
use mica_host::runtime::{LoadedPlugin, Runtime, SandboxLimits};
use mica_host::store::Store;
use mica_host::store::sealer::Sealer;
use serde_json::json;
use std::sync::Arc;

pub struct ComponentBench {
    pub plugin: LoadedPlugin,
    pub store: Store,
    _dir: tempfile::TempDir,
}

impl ComponentBench {
    pub async fn new(wasm: Vec<u8>) -> anyhow::Result<ComponentBench> {
        let dir = tempfile::tempdir()?;
        let runtime = Runtime::new(dir.path().join("cache"), SandboxLimits::default())?
            .with_in_process_responder(Arc::new(|parts, _body: &Bytes| {
                http::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(Bytes::from_static(answer(parts.uri.path())))
                    .expect("a static response")
            }));
        let plugin = Arc::new(runtime).load(Arc::new(wasm)).await?;
        let store = Store::open(&dir.path().join("bench.db"), Sealer::ephemeral())?;
        store.seed_params(&mica_host::registry::param_specs(&plugin.descriptor))?;
        for (key, value) in [
            ("auth.feishu.enabled", json!(true)),
            ("auth.feishu.app_id", json!("cli_9f5343c580712544")),
            (
                "auth.feishu.app_secret",
                json!("bench-app-secret-0000000000000001"),
            ),
            ("auth.feishu.base_url", json!("https://open.feishu.cn")),
        ] {
            store.set_param(key, &value)?;
        }
        Ok(ComponentBench {
            plugin,
            store,
            _dir: dir,
        })
    }
}

/// The notify request for the sample event of `kind` (an index into `EventType::ALL`, one of the five
/// domain events) to one reader.
pub fn request(kind: usize, locale: &str) -> NotifyRequest {
    let sample = &sample_events()[kind];
    let Payload::Domain(event) = parse_stored_event(sample)
        .expect("samples are valid")
        .payload
    else {
        panic!("sample {kind} is a notice or digest, not one of the five domain events");
    };
    let recipient = parse_recipient(
        &json!({"email": "li.lei@example.com", "name": "李雷", "locale": locale}),
        "recipient",
    )
    .expect("a valid recipient");
    NotifyRequest {
        idempotency_key: format!("bench-{kind}"),
        event_id: format!("bench-event-{kind}"),
        occurred_at: "2026-11-25T02:14:22Z".into(),
        event,
        recipient,
        attempt: 1,
    }
}
