//! The compile cache runs native code it deserializes, so it must only ever load what this host
//! compiled: a cached file that does not match its recorded digest is compiled again, and a cache
//! directory others may write is not used.

use mica_host::runtime::{Runtime, SandboxLimits};
use mica_tests::harness::fixture_wasm;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn cached(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

async fn load(dir: &Path) -> String {
    let runtime = Arc::new(Runtime::new(dir.to_path_buf(), SandboxLimits::default()).unwrap());
    let wasm = std::fs::read(fixture_wasm("fixture_outbound_probe")).unwrap();
    runtime.load(Arc::new(wasm)).await.unwrap().id().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_cache_entry_is_compiled_again_and_a_shared_directory_is_not_used() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cache");
    assert_eq!(load(&dir).await, "outbound-probe");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the cache directory is created private");
    let files = cached(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let digest = std::fs::read_to_string(files[0].with_extension("cwasm.sha256")).unwrap();
    let good = std::fs::read(&files[0]).unwrap();

    // Someone replaces the compiled code: it is not loaded; the component is compiled again.
    let mut tampered = good.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    std::fs::write(&files[0], &tampered).unwrap();
    assert_eq!(load(&dir).await, "outbound-probe");
    let rewritten = std::fs::read(&files[0]).unwrap();
    assert_ne!(rewritten, tampered);
    assert_eq!(
        std::fs::read_to_string(files[0].with_extension("cwasm.sha256")).unwrap(),
        digest
    );

    // A directory others may write is not trusted at all: loading still works, nothing is read
    // from it or written to it.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(&files[0], &tampered).unwrap();
    assert_eq!(load(&dir).await, "outbound-probe");
    assert_eq!(std::fs::read(&files[0]).unwrap(), tampered, "left alone");
}
