//! Installed plugins and the active version of each. A call takes an `Arc` of the version that is
//! active when it starts and finishes on it, whatever is activated meanwhile.

use crate::runtime::{LoadedPlugin, Runtime, SettingDecl, World};
use crate::store::{Claim, Owned, ParamSpec, PluginVersion, Store};
use anyhow::Context;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// What `install` does when the id and version are installed already, with other bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameVersion {
    /// Refuse: a version names one build, so a running host never swaps code silently.
    Refuse,
    /// Replace (logged): only for the developer's watch loop.
    Replace,
}

/// An upload claims an installed id and version but carries other bytes.
#[derive(Debug, thiserror::Error)]
#[error(
    "{plugin_id} {version} is already installed with other bytes (digest {installed}, this component's is {offered}): give the new build its own version"
)]
pub struct VersionTaken {
    pub plugin_id: String,
    pub version: String,
    pub installed: String,
    pub offered: String,
}

/// Why no plugin serves a world now. Its work waits, and says why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unserved {
    #[error("no installed plugin implements {0}")]
    NoOwner(World),
    #[error("{world} belongs to {owner}, which is not active")]
    Inactive { world: World, owner: String },
    #[error("{world} belongs to {owner}, which is disabled")]
    Disabled { world: World, owner: String },
    #[error("{world} belongs to {owner}, whose active version does not implement it")]
    Dropped { world: World, owner: String },
}

/// Owners of routes and worlds, as the store records them (`store::owners`).
#[derive(Default)]
struct Owners {
    /// `METHOD /path` → plugin id.
    routes: HashMap<String, String>,
    worlds: HashMap<World, String>,
}

pub struct Registry {
    runtime: Arc<Runtime>,
    store: Store,
    active: RwLock<HashMap<String, Arc<LoadedPlugin>>>,
    /// Plugins an administrator switched off: they receive no calls; their work waits.
    disabled: RwLock<HashSet<String>>,
    owners: RwLock<Owners>,
}

/// Everything a plugin's descriptor claims: its setting keys, webhook routes and worlds.
fn claims(plugin: &LoadedPlugin) -> Vec<Claim> {
    let d = &plugin.descriptor;
    d.settings
        .iter()
        .map(|s| Claim::setting(&s.key))
        .chain(d.webhook_routes.iter().map(|(m, p)| Claim::route(m, p)))
        .chain(plugin.worlds.iter().map(|w| Claim::world(w.as_str())))
        .collect()
}

impl Registry {
    pub fn new(runtime: Arc<Runtime>, store: Store) -> Registry {
        Registry {
            runtime,
            store,
            active: RwLock::new(HashMap::new()),
            disabled: RwLock::new(HashSet::new()),
            owners: RwLock::default(),
        }
    }

    /// Read the owners of routes and worlds again from the store.
    async fn refresh_owners(&self) -> anyhow::Result<()> {
        let rows = self.store.call(|s| s.owners()).await?;
        let mut owners = Owners::default();
        for (claim, plugin_id) in rows {
            match claim.kind {
                Owned::Route => {
                    owners.routes.insert(claim.name, plugin_id);
                }
                Owned::World => {
                    if let Some(world) = World::parse(&claim.name) {
                        owners.worlds.insert(world, plugin_id);
                    }
                }
                Owned::Setting => {}
            }
        }
        *self.owners.write().expect("registry lock") = owners;
        Ok(())
    }

    /// Load a component and give its settings the sensitivity their stored rows have: a version
    /// cannot make a secret plain by declaring it so (`Store::seed_in`).
    async fn load(&self, wasm: Arc<Vec<u8>>) -> anyhow::Result<LoadedPlugin> {
        let loaded = self.runtime.load(wasm).await?;
        self.adopt(loaded).await
    }

    async fn adopt(&self, mut loaded: LoadedPlugin) -> anyhow::Result<LoadedPlugin> {
        let keys: Vec<String> = loaded
            .descriptor
            .settings
            .iter()
            .map(|s| s.key.clone())
            .collect();
        let stored = self
            .store
            .call(move |s| s.stored_sensitivity(&keys))
            .await?;
        loaded.adopt_sensitivity(&stored);
        Ok(loaded)
    }

    /// Validate and store a component; seed the settings it declares. Does not activate it.
    /// The same id and version with other bytes is refused (`VersionTaken`) unless `same` says
    /// to replace it (the developer's `--watch` loop, which rebuilds one version again and again).
    pub async fn install(
        &self,
        wasm: Vec<u8>,
        same: SameVersion,
    ) -> anyhow::Result<Arc<LoadedPlugin>> {
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
        let specs = param_specs(d);
        let claims = claims(&loaded);
        self.store
            .call(move |s| {
                let installed = s.plugin_digest(&record.plugin_id, &record.version)?;
                if let Some(installed) = installed
                    && installed != record.digest
                {
                    if same == SameVersion::Refuse {
                        return Err(VersionTaken {
                            plugin_id: record.plugin_id.clone(),
                            version: record.version.clone(),
                            installed,
                            offered: record.digest.clone(),
                        }
                        .into());
                    }
                    tracing::warn!(plugin = %record.plugin_id, version = %record.version, %installed,
                        offered = %record.digest, "replacing an installed version with other bytes");
                }
                s.install_plugin(&record, &wasm, &claims, &specs)
            })
            .await?;
        self.refresh_owners().await?;
        for world in &loaded.worlds {
            if let Some(owner) = self.owner_of(*world).filter(|o| o != loaded.id()) {
                tracing::warn!(plugin = %loaded.id(), %world, %owner,
                    "installed, but its world stays with the plugin that owns it until an administrator assigns it");
            }
        }
        let loaded = self.adopt(loaded).await?;
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
        let loaded = Arc::new(self.load(Arc::new(wasm)).await?);
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
        let (wanted, disabled) = self
            .store
            .call(|s| Ok((s.active_plugins()?, s.disabled_plugins()?)))
            .await?;
        *self.disabled.write().expect("registry lock") = disabled.into_iter().collect();
        self.refresh_owners().await?;
        for (id, version) in wanted {
            let current = self
                .active
                .read()
                .expect("registry lock")
                .get(&id)
                .map(|p| p.version().to_string());
            if current.as_deref() == Some(version.as_str()) {
                continue;
            }
            let (i, v) = (id.clone(), version.clone());
            let Some(wasm) = self.store.call(move |s| s.plugin_wasm(&i, &v)).await? else {
                continue;
            };
            match self.load(Arc::new(wasm)).await {
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
        let disabled = self.store.call(|s| s.disabled_plugins()).await?;
        *self.disabled.write().expect("registry lock") = disabled.into_iter().collect();
        let active = self
            .store
            .call(|s| {
                let mut out = Vec::new();
                for (id, version) in s.active_plugins()? {
                    if let Some(wasm) = s.plugin_wasm(&id, &version)? {
                        out.push((id, version, wasm));
                    }
                }
                Ok(out)
            })
            .await?;
        let count = active.len();
        self.refresh_owners().await?;
        for (id, version, wasm) in active {
            let loaded = self
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

    fn enabled(&self, plugin_id: &str) -> bool {
        !self
            .disabled
            .read()
            .expect("registry lock")
            .contains(plugin_id)
    }

    /// Switch a plugin on or off, here and in the store.
    pub async fn set_enabled(&self, plugin_id: &str, enabled: bool) -> anyhow::Result<bool> {
        let id = plugin_id.to_string();
        let found = self
            .store
            .call(move |s| s.set_plugin_enabled(&id, enabled))
            .await?;
        if found {
            let mut disabled = self.disabled.write().expect("registry lock");
            if enabled {
                disabled.remove(plugin_id);
            } else {
                disabled.insert(plugin_id.to_string());
            }
            tracing::info!(plugin = %plugin_id, enabled, "plugin switched");
        }
        Ok(found)
    }

    /// The plugin that owns `world` (the first installed that implements it, or the one an
    /// administrator assigned it to), if it is active, enabled and still implements it. Never
    /// another plugin: the owner's work waits for the owner.
    pub fn serving(&self, world: World) -> Result<Arc<LoadedPlugin>, Unserved> {
        let owner = self.owner_of(world).ok_or(Unserved::NoOwner(world))?;
        if !self.enabled(&owner) {
            return Err(Unserved::Disabled { world, owner });
        }
        let plugin = self
            .active
            .read()
            .expect("registry lock")
            .get(&owner)
            .cloned();
        match plugin {
            None => Err(Unserved::Inactive { world, owner }),
            Some(p) if !p.worlds.contains(&world) => Err(Unserved::Dropped { world, owner }),
            Some(p) => Ok(p),
        }
    }

    /// Who owns `world`, active or not.
    pub fn owner_of(&self, world: World) -> Option<String> {
        self.owners
            .read()
            .expect("registry lock")
            .worlds
            .get(&world)
            .cloned()
    }

    /// Give `world` to another installed plugin that implements it. Returns the previous owner.
    pub async fn assign(&self, world: World, plugin_id: &str) -> anyhow::Result<Option<String>> {
        let id = plugin_id.to_string();
        let versions = self.store.call(|s| s.plugin_versions()).await?;
        let implements = versions
            .iter()
            .any(|v| v.plugin_id == id && v.worlds.split(',').any(|w| w == world.as_str()));
        if !versions.iter().any(|v| v.plugin_id == id) {
            anyhow::bail!("plugin_id: {id} is not installed");
        }
        if !implements {
            anyhow::bail!("plugin_id: no installed version of {id} implements {world}");
        }
        let previous = self
            .store
            .call(move |s| s.assign_world(world.as_str(), &id))
            .await?;
        self.refresh_owners().await?;
        tracing::warn!(%world, plugin = %plugin_id, previous = ?previous, "world assigned");
        Ok(previous)
    }

    /// The active version of an enabled plugin.
    pub fn active(&self, plugin_id: &str) -> Option<Arc<LoadedPlugin>> {
        if !self.enabled(plugin_id) {
            return None;
        }
        self.active
            .read()
            .expect("registry lock")
            .get(plugin_id)
            .cloned()
    }

    /// The plugin that owns the webhook route `method path`, if it is active, enabled and its
    /// active version still declares the route.
    pub fn webhook_owner(&self, method: &str, path: &str) -> Option<Arc<LoadedPlugin>> {
        let route = Claim::route(method, path).name;
        let owner = self
            .owners
            .read()
            .expect("registry lock")
            .routes
            .get(&route)
            .cloned()?;
        self.active(&owner).filter(|p| {
            p.descriptor
                .webhook_routes
                .iter()
                .any(|(m, r)| m.eq_ignore_ascii_case(method) && r == path)
        })
    }

    /// Settings that a new version drops or retypes, compared with the active version.
    pub fn schema_changes(&self, new: &LoadedPlugin) -> Vec<String> {
        let active = self.active.read().expect("registry lock");
        let Some(old) = active.get(new.id()) else {
            return vec![];
        };
        schema_changes(&old.descriptor.settings, &new.descriptor.settings)
    }

    pub fn has_active(&self) -> bool {
        !self.active.read().expect("registry lock").is_empty()
    }
}

/// What a settings schema change means for stored values, one sentence per setting.
pub fn schema_changes(old: &[SettingDecl], new: &[SettingDecl]) -> Vec<String> {
    let mut changes = Vec::new();
    for o in old {
        match new.iter().find(|n| n.key == o.key) {
            None => changes.push(format!(
                "setting {} is removed: its stored value is no longer used",
                o.key
            )),
            Some(n) if n.data_type != o.data_type => changes.push(format!(
                "setting {} changes type from {} to {}: check its stored value",
                o.key, o.data_type, n.data_type
            )),
            Some(n) if n.sensitive != o.sensitive => changes.push(format!(
                "setting {} changes from {} to {}",
                o.key,
                if o.sensitive { "secret" } else { "plain" },
                if n.sensitive { "secret" } else { "plain" }
            )),
            Some(_) => {}
        }
    }
    changes
}

/// The `system_parameters` rows a plugin's declared settings become.
pub fn param_specs(d: &crate::runtime::Descriptor) -> Vec<ParamSpec> {
    d.settings
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
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(key: &str, data_type: &str) -> SettingDecl {
        SettingDecl {
            key: key.into(),
            category: "c".into(),
            data_type: data_type.into(),
            default_value: serde_json::Value::Null,
            description_zh: String::new(),
            description_en: String::new(),
            sensitive: false,
        }
    }

    #[test]
    fn removed_and_retyped_settings_are_reported() {
        let old = vec![decl("a", "bool"), decl("b", "string"), decl("c", "string")];
        let new = vec![decl("a", "bool"), decl("b", "int"), decl("d", "string")];
        let changes = schema_changes(&old, &new);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(changes[0].contains("b changes type from string to int"));
        assert!(changes[1].contains("c is removed"));
    }
}
