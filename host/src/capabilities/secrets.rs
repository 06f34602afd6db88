//! `mica:plugin/secrets`: a plugin reads only the secrets it declared. Values never reach a log.

use crate::runtime::bindings::mica::plugin::secrets::Host;
use crate::runtime::state::CallState;
use serde_json::Value;

impl Host for CallState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let p = &self.plugin;
        if p.declared.get(&key) != Some(&true) {
            tracing::warn!(plugin = %p.plugin_id, %key, "secrets.get refused: not a secret of this plugin");
            return Ok(None);
        }
        Ok(match p.values.get(&key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
    }
}
