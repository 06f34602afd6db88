//! The running host: store, runtime, registry, delivery worker and HTTP server, started and stopped
//! together. `mica-host serve` and the end-to-end tests both use this.

use crate::api::{AppState, router};
use crate::approvals::Reconciler;
use crate::callbacks::CallbackSender;
use crate::config::{HostConfig, default_plugin_path};
use crate::delivery::{Worker, WorkerHandle};
use crate::registry::{Registry, SameVersion};
use crate::runtime::Runtime;
use crate::store::Store;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

pub struct Host {
    pub addr: SocketAddr,
    pub admin_token: String,
    pub service_token: String,
    pub store: Store,
    pub registry: Arc<Registry>,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
    worker: Option<WorkerHandle>,
    background: Vec<(watch::Sender<bool>, JoinHandle<()>)>,
}

/// Open the store and the runtime, and load the active plugins (shared by `serve` and the CLI).
pub async fn open(config: &HostConfig) -> anyhow::Result<(Store, Arc<Registry>)> {
    crate::store::create_private_dir(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let store = config.open_store()?;
    let runtime = Arc::new(
        Runtime::new(config.cache_dir.clone(), config.limits.clone())?.with_network(&config.net)?,
    );
    let registry = Arc::new(Registry::new(runtime, store.clone()));
    registry.load_active().await?;
    Ok((store, registry))
}

/// On a store with no active plugin, install and activate `--plugin` or the one the build
/// produced: `serve` does it at its first start, and `param` before it, so that a deployment
/// script can configure the bundled plugin's settings before the host has ever run.
pub async fn ensure_plugin(config: &HostConfig, registry: &Registry) -> anyhow::Result<()> {
    if registry.has_active() {
        return Ok(());
    }
    let path = config.plugin.clone().or_else(default_plugin_path).context(
        "no plugin is installed and none was found: build it with scripts/build-plugin.sh or pass --plugin PATH (or set MICA_PLUGIN_WASM)",
    )?;
    let wasm = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let plugin = registry.install(wasm, SameVersion::Refuse).await?;
    tracing::info!(
        plugin = plugin.id(),
        version = plugin.version(),
        "installed the bundled plugin"
    );
    registry.activate(plugin).await?;
    Ok(())
}

impl Host {
    pub async fn start(config: HostConfig) -> anyhow::Result<Host> {
        if let Some(url) = &config.callback_url {
            crate::callbacks::check_target(
                url,
                config.callback_secret.expose(),
                config.callback_allow_plain_http,
            )?;
        }
        let (store, registry) = open(&config).await?;
        let limiter = crate::delivery::rate::Limiter::resumed(config.rate.clone(), &store).await?;
        // Named among the hosts before anything is claimed under this host's name.
        store.call(|s| s.heartbeat()).await?;
        let released = store.call(|s| s.release_stale_leases()).await?;
        if released > 0 {
            tracing::warn!(
                released,
                "deliveries left in flight by a previous run will be attempted again"
            );
        }
        ensure_plugin(&config, &registry).await?;
        let (admin_token, service_token) = crate::tokens::resolve_both(
            config
                .admin_token
                .as_ref()
                .map(|t| t.expose().to_string())
                .or_else(|| std::env::var("MICA_ADMIN_TOKEN").ok()),
            config
                .service_token
                .as_ref()
                .map(|t| t.expose().to_string())
                .or_else(|| std::env::var("MICA_SERVICE_TOKEN").ok()),
            &config.data_dir,
        )?;
        let wake = Arc::new(Notify::new());
        let seal_store = store.clone();
        let card_seal = store
            .call(move |_| crate::actions::CardSeal::load(&seal_store))
            .await?;
        let worker = (config.delivery_concurrency > 0).then(|| {
            Worker {
                store: store.clone(),
                registry: registry.clone(),
                policy: config.retry.clone(),
                concurrency: config.delivery_concurrency,
                lease: config.lease(),
                notify_mica: config.callback_url.is_some(),
                // Decision buttons only when a decision can be relayed to Mica.
                card_seal: config.callback_url.is_some().then(|| card_seal.clone()),
                limiter: std::sync::Mutex::new(limiter),
            }
            .start(wake.clone())
        });
        let mut background = vec![
            store.checkpoint_in_background()?,
            follow_activations(registry.clone()),
        ];
        // Only hosts sharing a PostgreSQL database look at each other's heartbeats; a SQLite
        // file has one host, which takes its predecessor's leases at start.
        if store.backend() == crate::store::Backend::Postgres {
            background.push(heartbeat(store.clone()));
        }
        if let Some(path) = &config.watch {
            background.push(crate::watch::start(path.clone(), registry.clone()));
        }
        background.push(
            Reconciler {
                store: store.clone(),
                registry: registry.clone(),
                after: config.reconcile_after,
                every: config.reconcile_every,
                notify_mica: config.callback_url.is_some(),
            }
            .start(),
        );
        if let Some(url) = &config.callback_url {
            background.push(
                CallbackSender {
                    store: store.clone(),
                    url: url.clone(),
                    secret: config.callback_secret.clone(),
                    poll: Duration::from_millis(200),
                    retry_base: config.notice_retry_base,
                    net: config.net.clone(),
                }
                .start()?,
            );
        }
        let state = AppState {
            store: store.clone(),
            registry: registry.clone(),
            admin_token: admin_token.clone().into(),
            service_token: service_token.clone().into(),
            wake_worker: wake,
            notify_mica: config.callback_url.is_some(),
            webhook_deadline: config.webhook_deadline,
            public_url: config.public_url.clone(),
            probes: Default::default(),
            webhook_permits: Arc::new(tokio::sync::Semaphore::new(
                crate::api::WEBHOOK_MAX_IN_FLIGHT,
            )),
            net: Arc::new(config.net.clone()),
            card_seal,
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = router(state);
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        });
        tracing::info!(%addr, "mica-host listening");
        Ok(Host {
            addr,
            admin_token,
            service_token,
            store,
            registry,
            shutdown,
            server,
            worker,
            background,
        })
    }

    /// Stop accepting requests, let deliveries in flight finish (bounded), and return.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        if let Some(worker) = self.worker {
            worker.stop(Duration::from_secs(10)).await;
        }

        for (stop, join) in self.background {
            let _ = stop.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(10), join).await;
        }
        // Its calls are over (and its heartbeat stopped): other hosts need not wait for this one
        // to look dead before taking what it leased.
        if let Err(e) = self.store.call(|s| s.host_stopped()).await {
            tracing::warn!(error = %format!("{e:#}"), "could not say this host stopped");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }
}

/// Keep this host's `seen_at` fresh, so the other hosts on the database leave its leases alone.
fn heartbeat(store: Store) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let join = tokio::spawn(async move {
        while !*stopped.borrow() {
            tokio::select! {
                _ = tokio::time::sleep(crate::store::HEARTBEAT_EVERY) => {}
                _ = stopped.changed() => continue,
            }
            if let Err(e) = store.call(|s| s.heartbeat()).await {
                tracing::warn!(error = %format!("{e:#}"), "could not say this host is alive");
            }
        }
    });
    (stop, join)
}

/// Pick up activations made by the CLI or another host within a second (a quarter of one, plus
/// loading the component from the shared compile cache).
fn follow_activations(registry: Arc<Registry>) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let join = tokio::spawn(async move {
        while !*stopped.borrow() {
            if let Err(e) = registry.sync_from_store().await {
                tracing::warn!(error = %format!("{e:#}"), "could not read the active plugin versions");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stopped.changed() => {}
            }
        }
    });
    (stop, join)
}
