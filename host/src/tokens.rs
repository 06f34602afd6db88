//! The host's two bearer credentials, each from its environment variable or else generated once
//! into a file in the data directory (mode 0600):
//! - the admin token (`MICA_ADMIN_TOKEN`, `DATA_DIR/admin-token`): settings, Test Connection,
//!   plugins, dead letters, and everything the service token may do;
//! - the service token (`MICA_SERVICE_TOKEN`, `DATA_DIR/service-token`): what Mica's backend needs
//!   day to day (post events, read deliveries and approvals), so the credential that sits in Mica's
//!   configuration can never change settings or plugins.

use anyhow::{Context, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    Admin,
    Service,
}

impl Credential {
    pub fn file_name(self) -> &'static str {
        match self {
            Credential::Admin => "admin-token",
            Credential::Service => "service-token",
        }
    }

    pub fn env_var(self) -> &'static str {
        match self {
            Credential::Admin => "MICA_ADMIN_TOKEN",
            Credential::Service => "MICA_SERVICE_TOKEN",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Credential::Admin => "admin token",
            Credential::Service => "service token",
        }
    }
}

pub enum Source {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// The token: `given` (the environment or a test's choice) when not blank, else the file's
/// content, else a new random token written to the file.
pub fn resolve(
    credential: Credential,
    given: Option<String>,
    data_dir: &Path,
) -> anyhow::Result<(String, Source)> {
    if let Some(token) = given
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        return Ok((token, Source::Environment));
    }
    let path = data_dir.join(credential.file_name());
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

/// Both tokens, refused when they are the same (the service token would then be an admin token).
pub fn resolve_both(
    admin: Option<String>,
    service: Option<String>,
    data_dir: &Path,
) -> anyhow::Result<(String, String)> {
    let mut tokens = Vec::with_capacity(2);
    for (credential, given) in [(Credential::Admin, admin), (Credential::Service, service)] {
        let (token, source) = resolve(credential, given, data_dir)?;
        match source {
            Source::Generated(path) => {
                tracing::info!(path = %path.display(), "generated the {}", credential.label())
            }
            Source::File(path) => {
                tracing::info!(path = %path.display(), "{} read from file", credential.label())
            }
            Source::Environment => {
                tracing::info!("{} from {}", credential.label(), credential.env_var())
            }
        }
        tokens.push(token);
    }
    let service = tokens.pop().expect("two tokens");
    let admin = tokens.pop().expect("two tokens");
    if admin == service {
        bail!(
            "MICA_SERVICE_TOKEN must differ from the admin token: the service token may only post events and read their outcome"
        );
    }
    Ok((admin, service))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (admin, service) = resolve_both(None, None, dir.path()).unwrap();
        assert_ne!(admin, service);
        let again = resolve_both(None, None, dir.path()).unwrap();
        assert_eq!(again, (admin, service));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("service-token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_same_token_for_both_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_both(Some("same".into()), Some("same".into()), dir.path()).unwrap_err();
        assert!(err.to_string().contains("MICA_SERVICE_TOKEN"), "{err}");
    }
}
