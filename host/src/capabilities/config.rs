//! `mica:plugin/config`: a plugin reads its own non-sensitive settings, nothing else.

use crate::runtime::bindings::mica::plugin::config::Host;
use crate::runtime::state::CallState;

impl Host for CallState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let p = &self.plugin;
        match p.declared.get(&key) {
            Some(false) => Ok(p.values.get(&key).map(|v| v.to_string())),
            Some(true) => {
                tracing::warn!(plugin = %p.plugin_id, %key, "config.get refused: the setting is a secret");
                Ok(None)
            }
            None => {
                tracing::warn!(plugin = %p.plugin_id, %key, "config.get refused: not a setting of this plugin");
                Ok(None)
            }
        }
    }
}
