//! What one call's store holds: WASI with nothing granted, wasi-http behind our hooks, limits,
//! and the calling plugin's identity and settings.

use super::limits::CallLimits;
use crate::capabilities::http::OutboundHooks;
use crate::store::{KvSpace, ParamValues};
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Who is calling the imports, and what they may see.
pub struct PluginContext {
    pub plugin_id: String,
    pub version: String,
    /// The plugin's own kv namespace; None while the host asks a plugin to describe itself (no
    /// state is reachable then). Capabilities get handles on their own part, never the store.
    pub kv: Option<KvSpace>,
    /// Declared setting keys → whether the setting is sensitive.
    pub declared: Arc<HashMap<String, bool>>,
    /// The plugin's setting values as they were when the call started (shared, read-only).
    pub values: Arc<ParamValues>,
}

pub struct CallState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hooks: OutboundHooks,
    pub(crate) limits: CallLimits,
    pub(crate) plugin: PluginContext,
    /// Lines this call has logged (`capabilities::log` caps them).
    pub(crate) log_lines: u32,
}

impl CallState {
    pub fn new(plugin: PluginContext, hooks: OutboundHooks, limits: CallLimits) -> Self {
        // No environment, arguments, files, sockets or stdio: the plugin reaches the world only
        // through the mica:plugin imports and the outbound hook.
        let wasi = WasiCtx::builder()
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks,
            limits,
            plugin,
            log_lines: 0,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
