//! Installed plugins and the active version of each. A call takes an `Arc` of the version that is
//! active when it starts and finishes on it, whatever is activated meanwhile.

use crate::runtime::{LoadedPlugin, Runtime, World};
use crate::store::{ParamSpec, PluginVersion, Store};
use anyhow::Context;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct Registry {
    runtime: Arc<Runtime>,
    store: Store,
    active: RwLock<HashMap<String, Arc<LoadedPlugin>>>,
}

impl Registry {
    pub fn new(runtime: Arc<Runtime>, store: Store) -> Registry {
        Registry {
            runtime,
            store,
            active: RwLock::new(HashMap::new()),
        }
    }

    /// Validate and store a component; seed the settings it declares. Does not activate it.
    pub async fn install(&self, wasm: Vec<u8>) -> anyhow::Result<Arc<LoadedPlugin>> {
        let wasm = Arc::new(wasm);
        let loaded = self.runtime.load(wasm.clone()).await?;
        let d = &loaded.descriptor;
        let record = PluginVersion {
            plugin_id: d.id.clone(),
            version: d.version.clone(),
            digest: loaded.digest.clone(),
            descriptor: serde_json::to_string(d)?,
            worlds: loaded
                .worlds
                .iter()
                .map(|w| {
                    serde_json::to_value(w).map(|v| v.as_str().unwrap_or_default().to_string())
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            installed_at: crate::store::now_ms(),
        };
        let specs: Vec<ParamSpec> = d
            .settings
            .iter()
            .map(|s| ParamSpec {
                key: s.key.clone(),
                category: s.category.clone(),
                data_type: s.data_type.clone(),
                default_value: s.default_value.clone(),
                description_zh: s.description_zh.clone(),
                description_en: s.description_en.clone(),
                is_sensitive: s.sensitive,
            })
            .collect();
        self.store
            .call(move |s| {
                s.put_plugin_version(&record, &wasm)?;
                s.seed_params(&specs)
            })
            .await?;
        tracing::info!(plugin = %loaded.id(), version = %loaded.version(), digest = %loaded.digest, "plugin installed");
        Ok(Arc::new(loaded))
    }

    /// Make an installed version the active one, here and in the store.
    pub async fn activate(&self, plugin: Arc<LoadedPlugin>) -> anyhow::Result<()> {
        let (id, version) = (plugin.id().to_string(), plugin.version().to_string());
        let (i, v) = (id.clone(), version.clone());
        self.store.call(move |s| s.activate_plugin(&i, &v)).await?;
        self.active
            .write()
            .expect("registry lock")
            .insert(id.clone(), plugin);
        tracing::info!(plugin = %id, %version, "plugin activated");
        Ok(())
    }

    /// Validate an installed version again and make it the active one.
    pub async fn activate_installed(
        &self,
        plugin_id: &str,
        version: &str,
    ) -> anyhow::Result<Arc<LoadedPlugin>> {
        let (id, v) = (plugin_id.to_string(), version.to_string());
        let wasm = self
            .store
            .call(move |s| s.plugin_wasm(&id, &v))
            .await?
            .with_context(|| format!("{plugin_id} {version} is not installed"))?;
        let loaded = Arc::new(self.runtime.load(Arc::new(wasm)).await?);
        if loaded.id() != plugin_id || loaded.version() != version {
            anyhow::bail!(
                "the stored component describes itself as {} {}, not {plugin_id} {version}",
                loaded.id(),
                loaded.version()
            );
        }
        self.activate(loaded.clone()).await?;
        Ok(loaded)
    }

    /// Switch back to the version that was active before the current one.
    pub async fn rollback(&self, plugin_id: &str) -> anyhow::Result<Arc<LoadedPlugin>> {
        let id = plugin_id.to_string();
        let row = self.store.call(move |s| s.plugin_active(&id)).await?;
        let Some((_, Some(previous))) = row else {
            anyhow::bail!("{plugin_id} has no previous version to roll back to");
        };
        self.activate_installed(plugin_id, &previous).await
    }

    /// Follow activations made by another process on the same store (the CLI, another host).
    pub async fn sync_from_store(&self) -> anyhow::Result<()> {
        let wanted = self.store.call(|s| s.active_plugins()).await?;
        for (id, version) in wanted {
            let current = self.active(&id).map(|p| p.version().to_string());
            if current.as_deref() == Some(version.as_str()) {
                continue;
            }
            let (i, v) = (id.clone(), version.clone());
            let Some(wasm) = self.store.call(move |s| s.plugin_wasm(&i, &v)).await? else {
                continue;
            };
            match self.runtime.load(Arc::new(wasm)).await {
                Ok(loaded) => {
                    tracing::info!(plugin = %id, from = ?current, to = %version, "following an activation made elsewhere");
                    self.active
                        .write()
                        .expect("registry lock")
                        .insert(id, Arc::new(loaded));
                }
                Err(e) => {
                    tracing::error!(plugin = %id, %version, error = %format!("{e:#}"), "cannot load the version activated elsewhere; keeping the current one")
                }
            }
        }
        Ok(())
    }

    /// Load the active version of every plugin recorded in the store (at start-up).
    pub async fn load_active(&self) -> anyhow::Result<usize> {
        let active = self
            .store
            .run(|c| {
                let mut stmt = c.prepare(
                    "SELECT a.plugin_id, a.version, v.wasm FROM plugin_active a
                 JOIN plugin_versions v ON v.plugin_id = a.plugin_id AND v.version = a.version",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        let count = active.len();
        for (id, version, wasm) in active {
            let loaded = self
                .runtime
                .load(Arc::new(wasm))
                .await
                .with_context(|| format!("loading plugin {id} {version}"))?;
            self.active
                .write()
                .expect("registry lock")
                .insert(id, Arc::new(loaded));
        }
        Ok(count)
    }

    /// The active plugin implementing `world` (the first by id when several do).
    pub fn active_for(&self, world: World) -> Option<Arc<LoadedPlugin>> {
        let active = self.active.read().expect("registry lock");
        let mut ids: Vec<&String> = active.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| &active[id])
            .find(|p| p.worlds.contains(&world))
            .cloned()
    }

    /// The active version of a plugin.
    pub fn active(&self, plugin_id: &str) -> Option<Arc<LoadedPlugin>> {
        self.active
            .read()
            .expect("registry lock")
            .get(plugin_id)
            .cloned()
    }

    /// The active plugin that declared `method path` as a webhook route.
    pub fn webhook_owner(&self, method: &str, path: &str) -> Option<Arc<LoadedPlugin>> {
        let active = self.active.read().expect("registry lock");
        active
            .values()
            .find(|p| {
                p.descriptor
                    .webhook_routes
                    .iter()
                    .any(|(m, r)| m.eq_ignore_ascii_case(method) && r == path)
            })
            .cloned()
    }

    pub fn has_active(&self) -> bool {
        !self.active.read().expect("registry lock").is_empty()
    }
}
