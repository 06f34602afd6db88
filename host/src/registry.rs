//! Installed plugins and the active version of each. A call takes an `Arc` of the version that is
//! active when it starts and finishes on it, whatever is activated meanwhile.

use crate::runtime::{LoadedPlugin, Runtime, SettingDecl, World};
use crate::store::{ParamSpec, PluginVersion, Store};
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

pub struct Registry {
    runtime: Arc<Runtime>,
    store: Store,
    active: RwLock<HashMap<String, Arc<LoadedPlugin>>>,
    /// Plugins an administrator switched off: they receive no calls; their work waits.
    disabled: RwLock<HashSet<String>>,
}

impl Registry {
    pub fn new(runtime: Arc<Runtime>, store: Store) -> Registry {
        Registry {
            runtime,
            store,
            active: RwLock::new(HashMap::new()),
            disabled: RwLock::new(HashSet::new()),
        }
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
        let (wanted, disabled) = self
            .store
            .call(|s| Ok((s.active_plugins()?, s.disabled_plugins()?)))
            .await?;
        *self.disabled.write().expect("registry lock") = disabled.into_iter().collect();
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

    /// The active plugin implementing `world` (the first enabled one by id when several do).
    pub fn active_for(&self, world: World) -> Option<Arc<LoadedPlugin>> {
        let active = self.active.read().expect("registry lock");
        let mut ids: Vec<&String> = active.keys().filter(|id| self.enabled(id)).collect();
        ids.sort();
        ids.into_iter()
            .map(|id| &active[id])
            .find(|p| p.worlds.contains(&world))
            .cloned()
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

    /// The active plugin that declared `method path` as a webhook route.
    pub fn webhook_owner(&self, method: &str, path: &str) -> Option<Arc<LoadedPlugin>> {
        let active = self.active.read().expect("registry lock");
        active
            .values()
            .filter(|p| self.enabled(p.id()))
            .find(|p| {
                p.descriptor
                    .webhook_routes
                    .iter()
                    .any(|(m, r)| m.eq_ignore_ascii_case(method) && r == path)
            })
            .cloned()
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
