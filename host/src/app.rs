//! The running host: store, runtime, registry, delivery worker and HTTP server, started and stopped
//! together. `mica-host serve` and the end-to-end tests both use this.

use crate::admin_token;
use crate::api::{AppState, router};
use crate::approvals::Reconciler;
use crate::callbacks::CallbackSender;
use crate::config::{HostConfig, default_plugin_path};
use crate::delivery::{Worker, WorkerHandle};
use crate::registry::Registry;
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
    pub store: Store,
    pub registry: Arc<Registry>,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
    worker: Option<WorkerHandle>,
    background: Vec<(watch::Sender<bool>, JoinHandle<()>)>,
}

/// Open the store and the runtime, and load the active plugins (shared by `serve` and the CLI).
pub async fn open(config: &HostConfig) -> anyhow::Result<(Store, Arc<Registry>)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let store = config.open_store()?;
    let runtime = Arc::new(Runtime::new(
        config.cache_dir.clone(),
        config.limits.clone(),
    )?);
    let registry = Arc::new(Registry::new(runtime, store.clone()));
    registry.load_active().await?;
    Ok((store, registry))
}

impl Host {
    pub async fn start(config: HostConfig) -> anyhow::Result<Host> {
        let (store, registry) = open(&config).await?;
        let released = store.call(|s| s.release_stale_leases()).await?;
        if released > 0 {
            tracing::warn!(
                released,
                "deliveries left in flight by a previous run will be attempted again"
            );
        }
        if !registry.has_active() {
            let path = config.plugin.clone().or_else(default_plugin_path).context(
                "no plugin is installed and none was found: build it with scripts/build-plugin.sh or pass --plugin PATH",
            )?;
            let wasm =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let plugin = registry.install(wasm).await?;
            registry.activate(plugin).await?;
        }
        let (admin_token, source) = admin_token::resolve(
            config
                .admin_token
                .clone()
                .or_else(|| std::env::var("MICA_ADMIN_TOKEN").ok()),
            &config.data_dir,
        )?;
        match source {
            admin_token::Source::Generated(path) => {
                tracing::info!(path = %path.display(), "generated an admin token")
            }
            admin_token::Source::File(path) => {
                tracing::info!(path = %path.display(), "admin token read from file")
            }
            admin_token::Source::Environment => tracing::info!("admin token from MICA_ADMIN_TOKEN"),
        }
        let wake = Arc::new(Notify::new());
        let worker = (config.delivery_concurrency > 0).then(|| {
            Worker {
                store: store.clone(),
                registry: registry.clone(),
                policy: config.retry.clone(),
                concurrency: config.delivery_concurrency,
                lease: config.lease(),
                notify_mica: config.callback_url.is_some(),
                limiter: std::sync::Mutex::new(crate::delivery::rate::Limiter::new(
                    config.rate.clone(),
                )),
            }
            .start(wake.clone())
        });
        let mut background = vec![
            store.checkpoint_in_background()?,
            follow_activations(registry.clone()),
        ];
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
            if config.callback_secret.is_empty() {
                tracing::warn!(
                    "MICA_CALLBACK_URL is set but MICA_CALLBACK_SECRET is empty: notices are signed with an empty key"
                );
            }
            background.push(
                CallbackSender {
                    store: store.clone(),
                    url: url.clone(),
                    secret: config.callback_secret.clone(),
                    poll: Duration::from_millis(200),
                }
                .start()?,
            );
        }
        let state = AppState {
            store: store.clone(),
            registry: registry.clone(),
            admin_token: admin_token.clone().into(),
            wake_worker: wake,
            notify_mica: config.callback_url.is_some(),
            webhook_deadline: config.webhook_deadline,
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
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }
}

/// Pick up activations made by the CLI or another process within a second.
fn follow_activations(registry: Arc<Registry>) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let join = tokio::spawn(async move {
        while !*stopped.borrow() {
            if let Err(e) = registry.sync_from_store().await {
                tracing::warn!(error = %format!("{e:#}"), "could not read the active plugin versions");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stopped.changed() => {}
            }
        }
    });
    (stop, join)
}
