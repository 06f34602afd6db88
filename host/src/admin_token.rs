//! The admin token: from `MICA_ADMIN_TOKEN`, else generated once and kept in `DATA_DIR/admin-token`
//! (mode 0600).

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "admin-token";

pub enum Source {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

pub fn resolve(from_env: Option<String>, data_dir: &Path) -> anyhow::Result<(String, Source)> {
    if let Some(token) = from_env
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        return Ok((token, Source::Environment));
    }
    let path = data_dir.join(FILE_NAME);
    if path.exists() {
        let token = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_string();
        if !token.is_empty() {
            return Ok((token, Source::File(path)));
        }
    }
    let token = hex::encode(rand::random::<[u8; 24]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(token.as_bytes())?;
    Ok((token, Source::Generated(path)))
}
