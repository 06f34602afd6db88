//! The `mica-host` command line (CONTRACT.md).

use crate::app::{self, Host};
use crate::config::HostConfig;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "mica-host",
    version,
    about = "Mica's extension host for WebAssembly plugins"
)]
pub struct Cli {
    /// Where the host keeps its database, compile cache and admin token.
    #[arg(long, global = true, env = "MICA_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The database: a SQLite file path or sqlite: URL (default DATA_DIR/mica-host.db), or
    /// postgres://user[:password]@host:port/database.
    #[arg(long, global = true, env = "MICA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// On PostgreSQL, the schema holding the host's tables (default mica_host).
    #[arg(long, global = true, env = "MICA_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// Where compiled plugin components are cached (default DATA_DIR/cache); hosts may share one.
    #[arg(long, global = true, env = "MICA_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the host.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Plugin to install and activate when the store has none (default: the one the build produced).
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// Where approval status changes are POSTed for Mica.
        #[arg(long, env = "MICA_CALLBACK_URL")]
        callback_url: Option<String>,
        /// Where Feishu reaches this host from outside (e.g. https://mica.example.com): Test
        /// Connection checks that the request URL under it arrives here.
        #[arg(long, env = "MICA_PUBLIC_URL")]
        public_url: Option<String>,
        /// Accept a plain-http callback URL to a host that is not loopback (a private network).
        #[arg(long, env = "MICA_CALLBACK_ALLOW_PLAIN_HTTP")]
        callback_allow_plain_http: bool,
        /// Seconds without news before an undecided approval is read again from Feishu.
        #[arg(long, env = "MICA_RECONCILE_AFTER_SECS", default_value_t = 600)]
        reconcile_after: u64,
        /// Developer loop: install and activate this component file whenever it changes.
        #[arg(long)]
        watch: Option<PathBuf>,
        /// Wall-clock budget of one plugin call, in milliseconds.
        #[arg(long, env = "MICA_CALL_DEADLINE_MS", default_value_t = 30_000)]
        call_deadline_ms: u64,
        /// Memory one plugin call may use, in MiB.
        #[arg(long, env = "MICA_PLUGIN_MEMORY_MIB", default_value_t = 64)]
        memory_mib: usize,
        /// Calls per second to the remote service (Feishu: 50).
        #[arg(long, env = "MICA_RATE_PER_SECOND", default_value_t = 50)]
        rate_per_second: u32,
        /// Calls per minute to the remote service (Feishu: 1000).
        #[arg(long, env = "MICA_RATE_PER_MINUTE", default_value_t = 1000)]
        rate_per_minute: u32,
        /// Messages per second to one person (Feishu: 5).
        #[arg(long, env = "MICA_RATE_PER_RECIPIENT", default_value_t = 5)]
        rate_per_recipient: u32,
        /// Approval instances created per minute (Feishu: 100).
        #[arg(long, env = "MICA_APPROVALS_PER_MINUTE", default_value_t = 100)]
        approvals_per_minute: u32,
        /// Of the calls per minute, how many bulk cards (contract expiry, digests, reminders) leave
        /// for cards someone must act on and updates, however large the bulk backlog.
        #[arg(long, env = "MICA_BULK_RESERVE_PER_MINUTE", default_value_t = crate::delivery::rate::DEFAULT_BULK_RESERVE)]
        bulk_reserve_per_minute: u32,
        /// Send as fast as possible (benchmarks; Feishu will answer with rate limits).
        #[arg(long)]
        no_rate_limits: bool,
    },
    /// Manage plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Read or write a system parameter.
    #[command(subcommand)]
    Param(ParamCommand),
    /// Manage the key that encrypts secrets at rest.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Failed deliveries (dead letters).
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Notices to Mica that Mica refused repeatedly (dead letters).
    #[command(subcommand)]
    Notices(NoticesCommand),
}

#[derive(Subcommand, Debug)]
pub enum NoticesCommand {
    /// List dead-lettered notices: number, notice id, payment, attempts, last answer.
    Failed {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Queue a dead-lettered notice again (same notice id); a running host sends it.
    Retry {
        /// The notice number (omit with --all).
        id: Option<i64>,
        /// Every dead-lettered notice.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeliveriesCommand {
    /// List failed deliveries with their reason, Feishu code and log id.
    Failed {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Send a failed delivery again (same idempotency key); a running host picks it up.
    Retry {
        /// The delivery id (omit with --all).
        id: Option<String>,
        /// Every failed delivery.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Re-encrypt every secret under a new key. Run it with the host stopped (or restart the
    /// host afterwards). With the key in DATA_DIR/secret.key a new key is generated there; with
    /// MICA_SECRET_KEY, pass --new-key and set MICA_SECRET_KEY to it before the next start.
    RotateKey {
        /// The new key, 64 hex characters (default: generated); `-` reads it from stdin.
        #[arg(long)]
        new_key: Option<String>,
        /// Read the new key from this file.
        #[arg(long, conflicts_with = "new_key")]
        new_key_file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Validate and store a plugin component; print its id and version.
    Install {
        path: PathBuf,
        #[arg(long)]
        activate: bool,
    },
    /// Installed plugins, versions, and which is active.
    List,
    /// Make an installed version the active one (a running host follows within a second).
    Activate { id: String, version: String },
    /// Switch back to the version that was active before.
    Rollback { id: String },
    /// Let a plugin receive calls again.
    Enable { id: String },
    /// Stop calling a plugin; its deliveries wait until it is enabled.
    Disable { id: String },
    /// Hand a world (notifier, approval-provider) to another installed plugin that implements it;
    /// a world otherwise stays with the first plugin installed for it.
    Assign { world: String, id: String },
}

#[derive(Subcommand, Debug)]
pub enum ParamCommand {
    /// Print a parameter's value (secrets only say whether they are set).
    Get { key: String },
    /// Set a parameter. VALUE is JSON (true, 42, "text") or, for text parameters, plain text;
    /// `-` reads it from stdin. For a secret prefer `-` or --from-file: an argument stays in the
    /// shell's history and the process list.
    Set {
        key: String,
        #[arg(required_unless_present = "from_file")]
        value: Option<String>,
        /// Read the value from this file (a trailing newline is dropped).
        #[arg(long, conflicts_with = "value")]
        from_file: Option<PathBuf>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = HostConfig::new(&cli.data_dir, cli.database_url.as_deref())?;
    if let Some(schema) = cli.database_schema.as_deref().filter(|s| !s.is_empty()) {
        config.database.set_schema(schema)?;
    }
    if let Some(dir) = cli.cache_dir {
        config.cache_dir = dir;
    }
    match cli.command {
        Command::Serve {
            listen,
            plugin,
            callback_url,
            callback_allow_plain_http,
            public_url,
            reconcile_after,
            watch,
            call_deadline_ms,
            memory_mib,
            rate_per_second,
            rate_per_minute,
            rate_per_recipient,
            approvals_per_minute,
            bulk_reserve_per_minute,
            no_rate_limits,
        } => {
            if bulk_reserve_per_minute >= rate_per_minute.max(1) {
                anyhow::bail!(
                    "--bulk-reserve-per-minute ({bulk_reserve_per_minute}) must be less than --rate-per-minute ({rate_per_minute}): bulk cards would never be sent"
                );
            }
            config.rate = crate::delivery::RateLimits {
                per_second: rate_per_second.max(1),
                per_minute: rate_per_minute.max(1),
                per_recipient_per_second: rate_per_recipient.max(1),
                approvals_per_minute: approvals_per_minute.max(1),
                bulk_reserve_per_minute,
                enabled: !no_rate_limits,
                ..Default::default()
            };
            config.watch = watch;
            config.limits.call_deadline =
                std::time::Duration::from_millis(call_deadline_ms.max(100));
            config.limits.memory_bytes = memory_mib.max(8) * 1024 * 1024;
            config.listen = listen;
            config.plugin = plugin;
            config.callback_url = callback_url.filter(|u| !u.trim().is_empty());
            config.callback_allow_plain_http = callback_allow_plain_http;
            config.public_url = public_url.filter(|u| !u.trim().is_empty());
            // The secret only from the environment, so it never shows in a process list.
            config.callback_secret = std::env::var("MICA_CALLBACK_SECRET")
                .unwrap_or_default()
                .into();
            config.reconcile_after = std::time::Duration::from_secs(reconcile_after);
            let host = Host::start(config.clone()).await?;
            println!("mica-host listening on http://{}", host.addr);
            for credential in [
                crate::tokens::Credential::Admin,
                crate::tokens::Credential::Service,
            ] {
                if std::env::var(credential.env_var()).is_err() {
                    println!(
                        "{}: {}",
                        credential.label(),
                        config.data_dir.join(credential.file_name()).display()
                    );
                }
            }
            shutdown_signal().await;
            tracing::info!("shutting down");
            host.stop().await;
            Ok(())
        }
        Command::Plugin(PluginCommand::Install { path, activate }) => {
            let (_store, registry) = app::open(&config).await?;
            let wasm =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let plugin = registry
                .install(wasm, crate::registry::SameVersion::Refuse)
                .await?;
            println!("{} {}", plugin.id(), plugin.version());
            for warning in registry.schema_changes(&plugin) {
                println!("warning: {warning}");
            }
            if activate {
                registry.activate(plugin).await?;
                println!("activated");
            }
            Ok(())
        }
        Command::Plugin(PluginCommand::Activate { id, version }) => {
            let (_store, registry) = app::open(&config).await?;
            let plugin = registry.activate_installed(&id, &version).await?;
            println!("{} {} activated", plugin.id(), plugin.version());
            Ok(())
        }
        Command::Plugin(PluginCommand::Rollback { id }) => {
            let (_store, registry) = app::open(&config).await?;
            let plugin = registry.rollback(&id).await?;
            println!("{} {} activated", plugin.id(), plugin.version());
            Ok(())
        }
        Command::Plugin(PluginCommand::Assign { world, id }) => {
            let world = crate::runtime::World::parse(&world)
                .with_context(|| format!("no world {world:?} (notifier or approval-provider)"))?;
            let (_store, registry) = app::open(&config).await?;
            let previous = registry.assign(world, &id).await?;
            println!(
                "{world}: {id} (was {})",
                previous.as_deref().unwrap_or("nobody")
            );
            Ok(())
        }
        Command::Plugin(PluginCommand::Enable { id }) => switch(&config, &id, true),
        Command::Plugin(PluginCommand::Disable { id }) => switch(&config, &id, false),
        Command::Plugin(PluginCommand::List) => {
            let store = config.open_store()?;
            let active = store.active_plugins()?;
            for v in store.plugin_versions()? {
                let is_active = active
                    .iter()
                    .any(|(id, ver)| *id == v.plugin_id && *ver == v.version);
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    v.plugin_id,
                    v.version,
                    if is_active { "active" } else { "-" },
                    v.worlds,
                    &v.digest[..16]
                );
            }
            Ok(())
        }
        Command::Secrets(SecretsCommand::RotateKey {
            new_key,
            new_key_file,
        }) => {
            let new_key = secret_input(new_key, new_key_file.as_deref(), "--new-key")?;
            rotate_key(&config, new_key)
        }
        Command::Deliveries(cmd) => dead_letters(&config, cmd),
        Command::Notices(cmd) => dead_notices(&config, cmd),
        Command::Param(cmd) => {
            // A fresh store learns the bundled plugin's parameters first, as `serve` would.
            let (store, registry) = app::open(&config).await?;
            app::ensure_plugin(&config, &registry).await?;
            param(&store, cmd)
        }
    }
}

fn param(store: &crate::store::Store, cmd: ParamCommand) -> anyhow::Result<()> {
    match cmd {
        ParamCommand::Get { key } => {
            let Some(p) = store.get_param(&key)? else {
                bail!(
                    "unknown parameter {key} (parameters appear once the plugin that owns them is installed)"
                );
            };
            if p.is_sensitive {
                let set = p.value.as_str().is_some_and(|s| !s.is_empty());
                println!(
                    "{}",
                    if set {
                        "(secret: set)"
                    } else {
                        "(secret: not set)"
                    }
                );
            } else {
                println!("{}", p.value);
            }
            Ok(())
        }
        ParamCommand::Set {
            key,
            value,
            from_file,
        } => {
            let Some(p) = store.get_param(&key)? else {
                bail!(
                    "unknown parameter {key} (parameters appear once the plugin that owns them is installed)"
                );
            };
            if p.is_sensitive && from_file.is_none() && value.as_deref() != Some("-") {
                eprintln!(
                    "warning: {key} is a secret and was given as an argument, which stays in the shell's history and the process list: use `-` (stdin) or --from-file next time"
                );
            }
            let value = secret_input(value, from_file.as_deref(), "VALUE")?.unwrap_or_default();
            let parsed = match serde_json::from_str::<serde_json::Value>(&value) {
                Ok(v) if crate::store::check_type(&key, &p.data_type, &v).is_ok() => v,
                _ if p.data_type == "string" => serde_json::Value::String(value.trim().to_string()),
                _ => bail!("{key} must be a {}, got {value:?}", p.data_type),
            };
            store.set_param(&key, &parsed)?;
            println!("{key} updated");
            Ok(())
        }
    }
}

fn dead_letters(config: &HostConfig, cmd: DeliveriesCommand) -> anyhow::Result<()> {
    let store = config.open_store()?;
    match cmd {
        DeliveriesCommand::Failed { limit } => {
            for d in store.failed_deliveries(limit)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    d.id,
                    d.event_id,
                    d.recipient,
                    d.feishu_code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    d.feishu_log_id.as_deref().unwrap_or("-"),
                    d.last_error.as_deref().unwrap_or("")
                );
            }
        }
        DeliveriesCommand::Retry { id, all } => {
            let n = match (id, all) {
                (Some(id), false) => store.retry_failed(Some(&id))?,
                (None, true) => store.retry_failed(None)?,
                _ => bail!("give a delivery id or --all"),
            };
            println!("{n} deliveries queued again");
        }
    }
    Ok(())
}

fn dead_notices(config: &HostConfig, cmd: NoticesCommand) -> anyhow::Result<()> {
    let store = config.open_store()?;
    match cmd {
        NoticesCommand::Failed { limit } => {
            for n in store.failed_notices(limit)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    n.id,
                    n.notice_id,
                    n.payment_id.as_deref().unwrap_or("-"),
                    n.attempts,
                    n.last_error.as_deref().unwrap_or("")
                );
            }
        }
        NoticesCommand::Retry { id, all } => {
            let n = match (id, all) {
                (Some(id), false) => store.retry_failed_notices(Some(id))?,
                (None, true) => store.retry_failed_notices(None)?,
                _ => bail!("give a notice number or --all"),
            };
            println!("{n} notices queued again");
        }
    }
    Ok(())
}

fn switch(config: &HostConfig, id: &str, enabled: bool) -> anyhow::Result<()> {
    let store = config.open_store()?;
    if !store.set_plugin_enabled(id, enabled)? {
        bail!("no active plugin {id}");
    }
    println!("{id} {}", if enabled { "enabled" } else { "disabled" });
    Ok(())
}

/// A value given as an argument, as `-` (read from stdin), or in a file; a trailing newline (the
/// one `echo` and editors add) is dropped.
fn secret_input(
    given: Option<String>,
    file: Option<&std::path::Path>,
    what: &str,
) -> anyhow::Result<Option<String>> {
    let read = match (given, file) {
        (_, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {what} from {}", path.display()))?,
        (Some(v), None) if v == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .with_context(|| format!("reading {what} from stdin"))?;
            text
        }
        (Some(v), None) => return Ok(Some(v)),
        (None, None) => return Ok(None),
    };
    let line = read
        .strip_suffix('\n')
        .map(|r| r.strip_suffix('\r').unwrap_or(r))
        .unwrap_or(&read);
    Ok(Some(line.to_string()))
}

fn rotate_key(config: &HostConfig, new_key: Option<String>) -> anyhow::Result<()> {
    use crate::store::sealer::{NEW_KEY_FILE, Sealer, write_key_file};
    let store = config.open_store()?;
    let given = new_key.is_some();
    let key: [u8; 32] = match new_key {
        Some(hex_key) => hex::decode(hex_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("--new-key must be 64 hex characters")?,
        None => rand::random(),
    };
    match store.sealer.key_file.clone() {
        Some(key_file) => {
            let pending = config.data_dir.join(NEW_KEY_FILE);
            write_key_file(&pending, &key)?;
            store.reseal_with(&Sealer::from_key(key))?;
            std::fs::rename(&pending, &key_file)?;
            println!(
                "secrets re-encrypted; the new key is in {}",
                key_file.display()
            );
        }
        None => {
            if !given {
                bail!(
                    "the key comes from MICA_SECRET_KEY: pass --new-key <64 hex> and then set MICA_SECRET_KEY to it"
                );
            }
            store.reseal_with(&Sealer::from_key(key))?;
            println!(
                "secrets re-encrypted; set MICA_SECRET_KEY to the new key before starting the host"
            );
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
