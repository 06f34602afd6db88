//! Engine configuration: component model, async, epoch interruption, and the pooling allocator
//! when this machine can reserve its address space.

use super::compile_cache;
use super::limits::{EPOCH_TICK, SandboxLimits};
use super::loaded::LoadedPlugin;
use super::state::CallState;
use crate::capabilities;
use crate::capabilities::http::OutboundClient;
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Shared by every plugin: engine, linker, compile cache, outbound HTTP client.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    pub(crate) limits: SandboxLimits,
    pub(crate) http: OutboundClient,
    cache_dir: PathBuf,
    pub pooling: bool,
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config
}

/// Linear memory kept resident per pooled slot between calls.
const KEEP_RESIDENT_BYTES: usize = 2 * 1024 * 1024;

fn pooling_config(limits: &SandboxLimits) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(256)
        .total_core_instances(1024)
        .total_memories(512)
        .total_tables(1024)
        .max_memories_per_component(4)
        .max_memory_size(limits.memory_bytes)
        // Reset a finished call's memory, tables and stack by zeroing what stays resident instead
        // of handing pages back to the kernel: a fresh instance per card then costs no page
        // faults or madvise calls for the first megabytes (measured in docs/benchmarks.md).
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        // Reset only the pages a call wrote (Linux's PAGEMAP_SCAN, 6.7+; elsewhere wasmtime falls
        // back to zeroing all of the resident part). Without it every call paid a memset of the
        // whole 384 KiB the plugin's memory starts with, though it writes about 15 pages of it.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .table_keep_resident(64 * 1024)
        .async_stack_keep_resident(256 * 1024);
    pool
}

impl Runtime {
    pub fn new(cache_dir: PathBuf, limits: SandboxLimits) -> anyhow::Result<Runtime> {
        // The pooling allocator reserves a large virtual address range up front; where that is
        // refused (ulimit -v, small address spaces) fall back to allocating on demand.
        let mut pooled = base_config();
        pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(&limits)));
        let (engine, pooling) = match Engine::new(&pooled) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!(error = %e, "pooling allocator unavailable, allocating instances on demand");
                (
                    Engine::new(&base_config()).map_err(|e| anyhow::anyhow!("{e}"))?,
                    false,
                )
            }
        };
        tracing::info!(pooling, "wasm engine ready");
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
        compile_cache::create_dir(&cache_dir)?;
        Ok(Runtime {
            engine,
            linker,
            http: OutboundClient::new(limits.http_body_bytes, &crate::net::NetConfig::default())?,
            limits,
            cache_dir,
            pooling,
        })
    }

    /// Reach the network through `net` (a proxy, extra CA certificates) instead of directly.
    pub fn with_network(mut self, net: &crate::net::NetConfig) -> anyhow::Result<Runtime> {
        self.http = OutboundClient::new(self.limits.http_body_bytes, net)?;
        Ok(self)
    }

    /// Answer every allowed outbound request with `responder` instead of the network (benchmarks).
    pub fn with_in_process_responder(
        mut self,
        responder: crate::capabilities::http::Responder,
    ) -> Runtime {
        self.http.answer_in_process(responder);
        self
    }

    /// Compile (or load from the cache) and link a plugin component.
    pub async fn load(self: &Arc<Self>, wasm: Arc<Vec<u8>>) -> anyhow::Result<LoadedPlugin> {
        let (engine, dir, bytes) = (self.engine.clone(), self.cache_dir.clone(), wasm.clone());
        let component =
            tokio::task::spawn_blocking(move || compile_cache::load(&engine, &dir, &bytes))
                .await??;
        let mut loaded = LoadedPlugin::link(self.clone(), component, &wasm)?;
        loaded.identify().await?;
        Ok(loaded)
    }
}
