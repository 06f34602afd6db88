//! Who owns what a plugin declares. A setting key, a webhook route and a world (the notifications
//! or approvals a plugin implements) belong to the first plugin installed that declared them, for
//! as long as the store lives (there is no uninstall). Another plugin declaring an owned setting or
//! route is refused: otherwise it would be handed the owner's secrets, could read them in clear by
//! calling them plain, or could answer the owner's callbacks. A second plugin implementing an
//! owned world is installed, but the world's work stays with its owner until an administrator
//! assigns the world to it.

use super::Store;
use super::db::{Conn, OptionalExt, params};

/// What can be owned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owned {
    /// A `system_parameters` key.
    Setting,
    /// A webhook route, named `METHOD /path`.
    Route,
    /// A world, named as the plugin list shows it (`notifier`, `approval-provider`).
    World,
}

impl Owned {
    pub fn as_str(self) -> &'static str {
        match self {
            Owned::Setting => "setting",
            Owned::Route => "route",
            Owned::World => "world",
        }
    }

    fn parse(s: &str) -> Option<Owned> {
        [Owned::Setting, Owned::Route, Owned::World]
            .into_iter()
            .find(|o| o.as_str() == s)
    }

    /// Whether a second plugin declaring it is refused (a world is shared by assignment instead).
    fn exclusive(self) -> bool {
        !matches!(self, Owned::World)
    }
}

/// One thing a plugin declares.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Claim {
    pub kind: Owned,
    pub name: String,
}

impl Claim {
    pub fn setting(key: &str) -> Claim {
        Claim {
            kind: Owned::Setting,
            name: key.to_string(),
        }
    }

    /// Methods compare case-insensitively, so they are named in capitals.
    pub fn route(method: &str, path: &str) -> Claim {
        Claim {
            kind: Owned::Route,
            name: format!("{} {path}", method.to_ascii_uppercase()),
        }
    }

    pub fn world(name: &str) -> Claim {
        Claim {
            kind: Owned::World,
            name: name.to_string(),
        }
    }
}

/// A plugin declared settings or routes another plugin owns. Nothing of it was stored.
#[derive(Debug, thiserror::Error)]
#[error("{plugin_id} declares what other plugins own: {}", self.list())]
pub struct OwnedElsewhere {
    pub plugin_id: String,
    /// What was claimed, and its owner.
    pub taken: Vec<(Claim, String)>,
}

impl OwnedElsewhere {
    fn list(&self) -> String {
        self.taken
            .iter()
            .map(|(c, owner)| format!("{} {} (owned by {owner})", c.kind.as_str(), c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Record `claims` for `plugin_id` inside the caller's transaction, or refuse them all.
pub(super) fn claim(
    c: &mut Conn,
    plugin_id: &str,
    claims: &[Claim],
    now: i64,
) -> anyhow::Result<()> {
    let mut taken = Vec::new();
    for claim in claims.iter().filter(|c| c.kind.exclusive()) {
        if let Some(owner) = owner_in(c, claim)?
            && owner != plugin_id
        {
            taken.push((claim.clone(), owner));
        }
    }
    if !taken.is_empty() {
        return Err(OwnedElsewhere {
            plugin_id: plugin_id.to_string(),
            taken,
        }
        .into());
    }
    for claim in claims {
        c.execute(
            "INSERT INTO owners (kind, name, plugin_id, claimed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, name) DO NOTHING",
            params![claim.kind.as_str(), claim.name, plugin_id, now],
        )?;
    }
    Ok(())
}

fn owner_in(c: &mut Conn, claim: &Claim) -> anyhow::Result<Option<String>> {
    c.query_row(
        "SELECT plugin_id FROM owners WHERE kind = ?1 AND name = ?2",
        params![claim.kind.as_str(), claim.name],
        |r| r.get(0),
    )
    .optional()
}

impl Store {
    /// Every recorded owner.
    pub fn owners(&self) -> anyhow::Result<Vec<(Claim, String)>> {
        self.with(|c| {
            let rows = c.query_map(
                "SELECT kind, name, plugin_id FROM owners ORDER BY kind, name",
                (),
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get(2)?)),
            )?;
            let mut out = Vec::new();
            for (kind, name, owner) in rows {
                if let Some(kind) = Owned::parse(&kind) {
                    out.push((Claim { kind, name }, owner));
                }
            }
            Ok(out)
        })
    }

    /// Give a world to another installed plugin. The caller checks that it implements the world;
    /// this checks that it is installed. Returns the previous owner.
    pub fn assign_world(&self, world: &str, plugin_id: &str) -> anyhow::Result<Option<String>> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let installed: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM plugin_versions WHERE plugin_id = ?1)",
                [plugin_id],
                |r| r.get(0),
            )?;
            if !installed {
                anyhow::bail!("plugin_id: {plugin_id} is not installed");
            }
            let previous = owner_in(&mut tx, &Claim::world(world))?;
            tx.execute(
                "INSERT INTO owners (kind, name, plugin_id, claimed_at) VALUES ('world', ?1, ?2, ?3)
                 ON CONFLICT (kind, name) DO UPDATE SET plugin_id = ?2, claimed_at = ?3",
                params![world, plugin_id, super::now_ms()],
            )?;
            tx.commit()?;
            Ok(previous)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temporary as store;

    fn claim_all(store: &Store, plugin: &str, claims: &[Claim]) -> anyhow::Result<()> {
        store.with(|c| claim(c, plugin, claims, 1))
    }

    #[test]
    fn the_first_claim_wins_and_a_rival_is_refused_with_everything_it_wanted_named() {
        let (_dir, store) = store();
        let feishu = [
            Claim::setting("auth.feishu.app_secret"),
            Claim::route("post", "/api/v1/feishu/webhook"),
            Claim::world("notifier"),
        ];
        claim_all(&store, "feishu", &feishu).unwrap();
        // Claiming again (a new version) is fine.
        claim_all(&store, "feishu", &feishu).unwrap();
        let rival = [
            Claim::setting("auth.feishu.app_secret"),
            Claim::route("POST", "/api/v1/feishu/webhook"),
            Claim::setting("rival.own"),
            Claim::world("notifier"),
        ];
        let err = claim_all(&store, "aaa-rival", &rival).unwrap_err();
        let refused = err.downcast_ref::<OwnedElsewhere>().unwrap();
        assert_eq!(refused.taken.len(), 2, "{refused}");
        let text = refused.to_string();
        assert!(
            text.contains("setting auth.feishu.app_secret (owned by feishu)"),
            "{text}"
        );
        assert!(
            text.contains("route POST /api/v1/feishu/webhook (owned by feishu)"),
            "{text}"
        );
        // Nothing of the refused plugin was recorded, not even what nobody owned.
        let owners = store.owners().unwrap();
        assert!(
            owners.iter().all(|(_, owner)| owner == "feishu"),
            "{owners:?}"
        );
        // A plugin that only shares the world is accepted; the world stays with its owner.
        claim_all(&store, "aaa-rival", &[Claim::world("notifier")]).unwrap();
        let world = store
            .owners()
            .unwrap()
            .into_iter()
            .find(|(c, _)| c.kind == Owned::World)
            .unwrap();
        assert_eq!(world.1, "feishu");
    }
}
