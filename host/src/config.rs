//! Where the host keeps its state and how it behaves; shared by the CLI and the tests.

use crate::delivery::RetryPolicy;
use crate::runtime::SandboxLimits;
use crate::secret::Secret;
use anyhow::bail;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Its `Debug` is safe to print: credentials are `Secret`s.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where the state is kept.
    pub database: Database,
    /// Compiled-component cache.
    pub cache_dir: PathBuf,
    /// Installed and activated on a store with no plugin.
    pub plugin: Option<PathBuf>,
    /// Overrides `MICA_ADMIN_TOKEN` and the token file (tests).
    pub admin_token: Option<Secret>,
    /// Overrides `MICA_SERVICE_TOKEN` and the token file (tests).
    pub service_token: Option<Secret>,
    pub limits: SandboxLimits,
    pub retry: RetryPolicy,
    /// Plugin calls in flight at once; 0 runs no delivery worker.
    pub delivery_concurrency: usize,
    /// Where approval status changes are POSTed for Mica (`MICA_CALLBACK_URL`).
    pub callback_url: Option<String>,
    /// HMAC key of `X-Mica-Signature` (`MICA_CALLBACK_SECRET`).
    pub callback_secret: Secret,
    /// Accept a plain-http `callback_url` to a host that is not loopback (a private network).
    pub callback_allow_plain_http: bool,
    /// First delay before a notice is sent again (doubling, up to 5 minutes).
    pub notice_retry_base: Duration,
    /// Re-read an undecided approval when nothing was heard of it for this long.
    pub reconcile_after: Duration,
    /// How often the reconciler looks.
    pub reconcile_every: Duration,
    /// Where Feishu reaches this host (`MICA_PUBLIC_URL`, e.g. `https://mica.example.com`): Test
    /// Connection checks that the plugin's routes under it reach this host.
    pub public_url: Option<String>,
    /// Time a plugin has to answer a webhook (Feishu waits 3 s, 1 s for the handshake).
    pub webhook_deadline: Duration,
    /// Rate shaping of calls to the remote service.
    pub rate: crate::delivery::RateLimits,
    /// Developer loop: install and activate this file whenever it changes.
    pub watch: Option<PathBuf>,
    /// Outbound proxy and extra CA (`HTTPS_PROXY`, `NO_PROXY`, `MICA_EXTRA_CA_FILE`).
    pub net: crate::net::NetConfig,
    /// The key sealing secrets at rest (`MICA_SECRET_KEY`, 64 hex); else `DATA_DIR/secret.key`.
    pub secret_key: Option<Secret>,
}

impl HostConfig {
    pub fn new(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<HostConfig> {
        Ok(HostConfig {
            listen: "127.0.0.1:8080".parse()?,
            database: Database::from_url(data_dir, database_url)?,
            cache_dir: data_dir.join("cache"),
            data_dir: data_dir.to_path_buf(),
            plugin: None,
            admin_token: None,
            service_token: None,
            limits: SandboxLimits::default(),
            retry: RetryPolicy::default(),
            delivery_concurrency: 16,
            callback_url: None,
            callback_secret: Secret::default(),
            notice_retry_base: Duration::from_secs(1),
            callback_allow_plain_http: false,
            reconcile_after: Duration::from_secs(10 * 60),
            reconcile_every: Duration::from_secs(30),
            webhook_deadline: Duration::from_millis(2500),
            public_url: None,
            secret_key: std::env::var("MICA_SECRET_KEY").ok().map(Secret::from),
            net: crate::net::NetConfig::from_env(),
            watch: None,
            rate: crate::delivery::RateLimits::default(),
        })
    }

    /// Open the store with its sealer.
    pub fn open_store(&self) -> anyhow::Result<crate::store::Store> {
        crate::store::create_private_dir(&self.data_dir)?;
        let sealer = crate::store::Sealer::load(
            &self.data_dir,
            self.secret_key.as_ref().map(|k| k.expose().to_string()),
        )?;
        let generated = sealer.generated.then(|| sealer.key_file.clone()).flatten();
        let opened = match &self.database {
            Database::Sqlite(path) => crate::store::Store::open(path, sealer),
            Database::Postgres {
                url,
                schema,
                pool_size,
            } => crate::store::Store::open_postgres(
                &crate::store::PgOptions {
                    url: url.expose().to_string(),
                    schema: schema.clone(),
                    pool_size: *pool_size,
                },
                sealer,
            ),
        };
        if opened.is_err()
            && let Some(key_file) = generated
        {
            // Not a first start after all: leave no new key behind for the old one to fight.
            let _ = std::fs::remove_file(key_file);
        }
        opened
    }

    /// A lease comfortably longer than one call, so only a dead host's lease ever expires.
    pub fn lease(&self) -> Duration {
        self.limits.call_deadline * 2 + Duration::from_secs(5)
    }
}

/// The schema the host's tables live in on PostgreSQL, unless `--database-schema` says otherwise.
pub const DEFAULT_SCHEMA: &str = "mica_host";

/// Where the host keeps its state. Its `Debug` shows no password.
#[derive(Clone, Debug, PartialEq)]
pub enum Database {
    /// The embedded default: one file, one host.
    Sqlite(PathBuf),
    /// A PostgreSQL database (Mica's own, say), the host's tables in `schema`.
    Postgres {
        url: Secret,
        schema: String,
        pool_size: usize,
    },
}

impl Database {
    /// `--database-url`: a `postgres://` or `postgresql://` URL, else a SQLite path or `sqlite:`
    /// URL; the default is `DATA_DIR/mica-host.db`.
    pub fn from_url(data_dir: &Path, url: Option<&str>) -> anyhow::Result<Database> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Database::Sqlite(data_dir.join("mica-host.db")));
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres {
                url: url.into(),
                schema: DEFAULT_SCHEMA.to_string(),
                pool_size: 16,
            });
        }
        database_path(url).map(Database::Sqlite)
    }

    /// `--database-schema`: where the tables live on PostgreSQL; refused for SQLite, which has
    /// no schemas (a file is its own namespace).
    pub fn set_schema(&mut self, name: &str) -> anyhow::Result<()> {
        match self {
            Database::Postgres { schema, .. } => {
                crate::store::db::check_schema(name)?;
                *schema = name.to_string();
                Ok(())
            }
            Database::Sqlite(_) => bail!(
                "--database-schema applies to a PostgreSQL --database-url; a SQLite file has no schemas"
            ),
        }
    }
}

/// A SQLite path or `sqlite:` URL.
fn database_path(url: &str) -> anyhow::Result<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        bail!("--database-url: {url:?} names no file");
    }
    Ok(PathBuf::from(path))
}

/// The plugin the build produced, for `serve` on an empty store.
pub fn default_plugin_path() -> Option<PathBuf> {
    const NAME: &str = "wasm32-wasip2/plugin/mica_feishu_plugin.wasm";
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("MICA_PLUGIN_WASM") {
        candidates.push(PathBuf::from(p));
    }
    // target/<profile>/mica-host → target/wasm32-wasip2/plugin/...
    if let Ok(exe) = std::env::current_exe()
        && let Some(target) = exe.parent().and_then(Path::parent)
    {
        candidates.push(target.join(NAME));
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target")
            .join(NAME),
    );
    candidates.into_iter().find(|p| p.is_file())
}

#[cfg(test)]
mod tests {

    #[test]
    fn printing_the_config_shows_no_credential() {
        let mut config = super::HostConfig::new(std::path::Path::new("/tmp/x"), None).unwrap();
        config.admin_token = Some("adm-token-1".into());
        config.service_token = Some("svc-token-2".into());
        config.callback_secret = "cb-secret-3".into();
        config.secret_key = Some("ab".repeat(32).as_str().into());
        let printed = format!("{config:?}");
        for secret in [
            "adm-token-1",
            "svc-token-2",
            "cb-secret-3",
            &"ab".repeat(32),
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
    use super::*;

    #[test]
    fn database_urls() {
        let d = Path::new("/d");
        let sqlite = |p: &str| Database::Sqlite(PathBuf::from(p));
        assert_eq!(
            Database::from_url(d, None).unwrap(),
            sqlite("/d/mica-host.db")
        );
        assert_eq!(
            Database::from_url(d, Some("sqlite:///x/y.db")).unwrap(),
            sqlite("/x/y.db")
        );
        assert_eq!(
            Database::from_url(d, Some("/x/z.db")).unwrap(),
            sqlite("/x/z.db")
        );
        let mut pg = Database::from_url(d, Some("postgres://u:pw-9@h:5433/db")).unwrap();
        assert!(
            matches!(&pg, Database::Postgres { schema, .. } if schema == "mica_host"),
            "{pg:?}"
        );
        assert!(!format!("{pg:?}").contains("pw-9"), "no password printed");
        pg.set_schema("feishu_host").unwrap();
        assert!(matches!(&pg, Database::Postgres { schema, .. } if schema == "feishu_host"));
        assert!(pg.set_schema("Bad-Name").is_err());
        assert!(sqlite("/x").set_schema("s").is_err());
    }
}
