//! Compiled components cached on disk, keyed by the wasm digest and the engine's compatibility
//! hash, so a restart loads in milliseconds instead of compiling again. Only files this host wrote
//! are ever deserialized: the cache directory is the host's own.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::Component;

pub fn digest(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{}-{:016x}", &digest(wasm)[..32], h.finish())
}

pub fn load(engine: &Engine, dir: &Path, wasm: &[u8]) -> anyhow::Result<Component> {
    let path = dir.join(format!("{}.cwasm", cache_key(engine, wasm)));
    if path.exists() {
        let started = std::time::Instant::now();
        // SAFETY: the file was produced by `Engine::precompile_component` of an engine with the
        // same compatibility hash (it is in the name) and written by this host into its own cache.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                tracing::debug!(path = %path.display(), elapsed = ?started.elapsed(), "loaded compiled plugin from cache");
                return Ok(component);
            }
            Err(e) => tracing::warn!(error = %e, "ignoring unreadable compile cache entry"),
        }
    }
    let started = std::time::Instant::now();
    let bytes = engine
        .precompile_component(wasm)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("the plugin is not a valid WebAssembly component")?;
    tracing::info!(elapsed = ?started.elapsed(), "compiled plugin");
    // A unique temporary name: several loads of the same component may race (tests, two hosts on
    // one cache). Failing to cache is not failing to load.
    let tmp = path.with_extension(format!(
        "tmp{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    match std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &path)) {
        // Map the file just written rather than copying the bytes into anonymous memory: the
        // code pages are then shared and reclaimable, as on every later start.
        // SAFETY: this host's engine produced the file a moment ago, into its own cache.
        Ok(()) => match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!(error = %e, "could not map the compiled plugin just cached"),
        },
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(error = %e, dir = %dir.display(), "could not write the compile cache");
        }
    }
    // SAFETY: `bytes` was produced just now by this engine.
    unsafe { Component::deserialize(engine, &bytes) }.map_err(|e| anyhow::anyhow!("{e}"))
}
