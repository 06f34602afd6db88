//! Installed plugin versions and which one is active.

use super::db::{Conn, OptionalExt, params};
use super::{Claim, ParamSpec, Store, now_ms};
use sha2::Digest;

#[derive(Clone, Debug)]
pub struct PluginVersion {
    pub plugin_id: String,
    pub version: String,
    pub digest: String,
    /// The descriptor the plugin returned at install, as JSON.
    pub descriptor: String,
    /// Worlds the component implements, comma-separated.
    pub worlds: String,
    pub installed_at: i64,
}

fn put_version(c: &mut Conn, v: &PluginVersion, wasm: &[u8]) -> anyhow::Result<()> {
    c.execute(
        "INSERT INTO plugin_versions (plugin_id, version, digest, wasm, descriptor, worlds, installed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (plugin_id, version) DO UPDATE SET digest = ?3, wasm = ?4,
            descriptor = ?5, worlds = ?6, installed_at = ?7",
        params![v.plugin_id, v.version, v.digest, wasm, v.descriptor, v.worlds, now_ms()],
    )?;
    Ok(())
}

impl Store {
    /// Store a version (replacing the bytes of the same id and version: `Registry::install` decides
    /// whether that is allowed).
    pub fn put_plugin_version(&self, v: &PluginVersion, wasm: &[u8]) -> anyhow::Result<()> {
        self.with(|c| put_version(c, v, wasm))
    }

    /// Store a version, record what it owns and seed its settings, in one transaction: a plugin
    /// that declares what another owns is refused (`OwnedElsewhere`) with nothing stored.
    pub fn install_plugin(
        &self,
        v: &PluginVersion,
        wasm: &[u8],
        claims: &[Claim],
        specs: &[ParamSpec],
    ) -> anyhow::Result<()> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            super::owners::claim(&mut tx, &v.plugin_id, claims, now_ms())?;
            put_version(&mut tx, v, wasm)?;
            self.seed_in(&mut tx, specs)?;
            tx.commit()?;
            Ok(())
        })?;
        self.wrote_params();
        Ok(())
    }

    /// The digest an installed version was stored with.
    pub fn plugin_digest(&self, plugin_id: &str, version: &str) -> anyhow::Result<Option<String>> {
        self.with(|c| {
            c.query_row(
                "SELECT digest FROM plugin_versions WHERE plugin_id = ?1 AND version = ?2",
                params![plugin_id, version],
                |r| r.get(0),
            )
            .optional()
        })
    }

    pub fn plugin_versions(&self) -> anyhow::Result<Vec<PluginVersion>> {
        self.with(|c| {
            let rows = c.query_map(
                "SELECT plugin_id, version, digest, descriptor, worlds, installed_at
                 FROM plugin_versions ORDER BY plugin_id, installed_at",
                (),
                |r| {
                    Ok(PluginVersion {
                        plugin_id: r.get(0)?,
                        version: r.get(1)?,
                        digest: r.get(2)?,
                        descriptor: r.get(3)?,
                        worlds: r.get(4)?,
                        installed_at: r.get(5)?,
                    })
                },
            )?;
            Ok(rows)
        })
    }

    /// The stored component of a version, checked against the digest recorded at install.
    pub fn plugin_wasm(&self, plugin_id: &str, version: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>, String)> = self.with(|c| {
            c.query_row(
                "SELECT wasm, digest FROM plugin_versions WHERE plugin_id = ?1 AND version = ?2",
                params![plugin_id, version],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        let Some((wasm, digest)) = row else {
            return Ok(None);
        };
        let actual = hex::encode(sha2::Sha256::digest(&wasm));
        if actual != digest {
            anyhow::bail!(
                "{plugin_id} {version} is corrupt in the store (digest {actual}, installed as {digest})"
            );
        }
        Ok(Some(wasm))
    }

    /// Make `version` the active one, remembering the one it replaces for rollback.
    pub fn activate_plugin(&self, plugin_id: &str, version: &str) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO plugin_active (plugin_id, version, previous, activated_at) VALUES (?1, ?2, NULL, ?3)
                 ON CONFLICT (plugin_id) DO UPDATE SET
                    previous = CASE WHEN plugin_active.version = ?2 THEN plugin_active.previous ELSE plugin_active.version END,
                    version = ?2, activated_at = ?3",
                params![plugin_id, version, now_ms()],
            )?;
            Ok(())
        })
    }

    /// The active and the previous version of a plugin.
    pub fn plugin_active(
        &self,
        plugin_id: &str,
    ) -> anyhow::Result<Option<(String, Option<String>)>> {
        self.with(|c| {
            c.query_row(
                "SELECT version, previous FROM plugin_active WHERE plugin_id = ?1",
                [plugin_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// Switch a plugin on or off; false when it has no active version.
    pub fn set_plugin_enabled(&self, plugin_id: &str, enabled: bool) -> anyhow::Result<bool> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE plugin_active SET enabled = ?2 WHERE plugin_id = ?1",
                params![plugin_id, enabled],
            )? == 1)
        })
    }

    /// Ids of the plugins switched off.
    pub fn disabled_plugins(&self) -> anyhow::Result<Vec<String>> {
        self.with(|c| {
            let rows = c.query_map(
                "SELECT plugin_id FROM plugin_active WHERE enabled = 0",
                (),
                |r| r.get(0),
            )?;
            Ok(rows)
        })
    }

    /// (plugin id, active version) for every plugin with one.
    pub fn active_plugins(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.with(|c| {
            let rows = c.query_map(
                "SELECT plugin_id, version FROM plugin_active ORDER BY plugin_id",
                (),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_whose_bytes_changed_in_the_store_is_refused() {
        let (_dir, store) = crate::store::temporary();
        let wasm = b"component bytes".to_vec();
        let version = PluginVersion {
            plugin_id: "p".into(),
            version: "1".into(),
            digest: hex::encode(sha2::Sha256::digest(&wasm)),
            descriptor: "{}".into(),
            worlds: "notifier".into(),
            installed_at: 0,
        };
        store.put_plugin_version(&version, &wasm).unwrap();
        assert_eq!(store.plugin_wasm("p", "1").unwrap().unwrap(), wasm);
        store
            .with(|c| {
                c.execute("UPDATE plugin_versions SET wasm = ?1", [vec![0_u8]])?;
                Ok(())
            })
            .unwrap();
        let err = store.plugin_wasm("p", "1").unwrap_err().to_string();
        assert!(err.contains("corrupt"), "{err}");
    }
}
