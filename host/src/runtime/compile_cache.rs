//! Compiled components cached on disk, keyed by the wasm digest and the engine's compatibility
//! hash, so a restart loads in milliseconds instead of compiling again.
//!
//! Deserializing a compiled component runs its native code unchecked, so a cached file is used
//! only when (1) the directory is private to this user (created 0700; one that others may write
//! is not used at all) and (2) the file's SHA-256 matches the digest written beside it when it
//! was compiled (a truncated, corrupted or swapped file is compiled again).

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

/// Where the digest of a cached file is kept.
fn digest_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("cwasm.sha256")
}

/// Whether the file at `path` is the one whose digest was recorded beside it.
fn intact(path: &Path) -> bool {
    let (Ok(bytes), Ok(recorded)) = (
        std::fs::read(path),
        std::fs::read_to_string(digest_path(path)),
    ) else {
        return false;
    };
    let actual = digest(&bytes);
    if actual != recorded.trim() {
        tracing::warn!(path = %path.display(), recorded = %recorded.trim(), %actual,
            "a cached compiled plugin does not match its digest: compiling again");
        return false;
    }
    true
}

/// Whether nobody but this user can write `dir` (on Unix; elsewhere, trust the directory).
fn private(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(dir) {
            // SAFETY: geteuid has no preconditions and cannot fail.
            Ok(m) => m.uid() == unsafe { libc::geteuid() } && m.mode() & 0o022 == 0,
            Err(_) => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        true
    }
}

/// Create the cache directory, private to this user.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

pub fn load(engine: &Engine, dir: &Path, wasm: &[u8]) -> anyhow::Result<Component> {
    let path = dir.join(format!("{}.cwasm", cache_key(engine, wasm)));
    if !private(dir) {
        tracing::warn!(dir = %dir.display(),
            "the compile cache is writable by others: not using it (make it 0700 and owned by this user)");
        return compile(engine, wasm)
            // SAFETY: the bytes were produced just now by this engine.
            .and_then(|bytes| {
                unsafe { Component::deserialize(engine, &bytes) }
                    .map_err(|e| anyhow::anyhow!("{e}"))
            });
    }
    if path.exists() && intact(&path) {
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
    let bytes = compile(engine, wasm)?;
    // A unique temporary name: several loads of the same component may race (tests, two hosts on
    // one cache). Failing to cache is not failing to load.
    let tmp = path.with_extension(format!(
        "tmp{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    // The digest goes first: a reader that finds the file finds the digest of what it holds.
    let written = std::fs::write(digest_path(&path), digest(&bytes))
        .and_then(|()| std::fs::write(&tmp, &bytes))
        .and_then(|()| std::fs::rename(&tmp, &path));
    match written {
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

fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    let started = std::time::Instant::now();
    let bytes = engine
        .precompile_component(wasm)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("the plugin is not a valid WebAssembly component")?;
    tracing::info!(elapsed = ?started.elapsed(), "compiled plugin");
    Ok(bytes)
}
