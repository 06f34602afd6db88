//! `system_parameters`: Mica's settings table. Plugins declare their rows; the host seeds them.

use super::db::{Conn, OptionalExt, params};
use super::{Sealer, Store, rfc3339};
use anyhow::{Context, bail};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A parameter a plugin declares (one row's fixed columns).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub key: String,
    pub category: String,
    /// Mica's `data_type`: "bool", "string" or "int".
    pub data_type: String,
    pub default_value: Value,
    pub description_zh: String,
    pub description_en: String,
    pub is_sensitive: bool,
}

/// A stored parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub key: String,
    pub category: String,
    pub value: Value,
    pub data_type: String,
    pub default_value: Value,
    pub is_sensitive: bool,
    pub updated_at: String,
}

/// What a parameter's sealed value is bound to (`Sealer`'s associated data).
fn bound(key: &str) -> String {
    format!("param:{key}")
}

fn parse_json(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Whether `value` fits `data_type`; the error names the expected type.
pub fn check_type(key: &str, data_type: &str, value: &Value) -> anyhow::Result<()> {
    let ok = match data_type {
        "bool" => value.is_boolean(),
        "string" => value.is_string(),
        "int" => value.is_i64(),
        _ => true,
    };
    if !ok {
        bail!("{key} must be a {data_type}, got {value}");
    }
    Ok(())
}

/// The settings read through the read-only connection (`None`: no such row).
pub(super) struct Reader {
    cached_version: Option<i64>,
    cache: std::collections::HashMap<String, Option<Value>>,
    /// Whole answers to `param_snapshot`, one per key list (that is, per loaded plugin version).
    snapshots: Vec<(Arc<[String]>, Arc<ParamValues>)>,
    /// When `param_generation` was last read, and this store's write count then.
    checked: Option<(Instant, u64)>,
}

/// Setting values by key.
pub type ParamValues = std::collections::HashMap<String, Value>;

/// More key lists than this and the snapshots start over (plugins are few; versions come and go).
const MAX_SNAPSHOTS: usize = 16;

/// How long the cache trusts itself about changes made by another process (`mica-host param
/// set`, or Mica writing the table): every plugin call reads the settings, and asking the
/// database each time cost a read transaction per card. Changes made through this store are seen
/// at once.
pub const OTHER_WRITERS_SEEN_WITHIN: Duration = Duration::from_millis(100);

impl Reader {
    pub(super) fn new() -> Reader {
        Reader {
            cached_version: None,
            cache: std::collections::HashMap::new(),
            snapshots: Vec::new(),
            checked: None,
        }
    }

    /// Empty the caches if `system_parameters` changed since they were filled: at once after a
    /// write through this store (`own_writes` moved), within `OTHER_WRITERS_SEEN_WITHIN` after
    /// anyone else's.
    fn follow_changes(&mut self, c: &mut Conn, own_writes: u64) -> anyhow::Result<()> {
        if self.fresh(own_writes) {
            return Ok(());
        }
        let version: i64 = c.query_row("SELECT n FROM param_generation WHERE id = 1", (), |r| {
            r.get(0)
        })?;
        if self.cached_version != Some(version) {
            self.cache.clear();
            self.snapshots.clear();
            self.cached_version = Some(version);
        }
        self.checked = Some((Instant::now(), own_writes));
        Ok(())
    }

    /// Whether the cache needs no look at the database yet.
    fn fresh(&self, own_writes: u64) -> bool {
        self.checked.is_some_and(|(at, writes)| {
            writes == own_writes && at.elapsed() < OTHER_WRITERS_SEEN_WITHIN
        })
    }

    fn snapshot(&self, keys: &Arc<[String]>) -> Option<Arc<ParamValues>> {
        self.snapshots
            .iter()
            .find(|(k, _)| Arc::ptr_eq(k, keys))
            .map(|(_, values)| values.clone())
    }
}

impl Store {
    /// The current values of `keys` (unset rows read as their default; secrets opened), from the
    /// read-only connection's cache. Any change to `system_parameters`, by this process or another
    /// (such as `mica-host param set`), moves `param_generation` and empties the cache (see
    /// `Reader::follow_changes` for when that is noticed).
    pub fn param_values(&self, keys: &[String]) -> anyhow::Result<ParamValues> {
        self.read(|c, reader| {
            reader.follow_changes(c, self.own_param_writes())?;
            self.values_from(c, reader, keys)
        })
    }

    /// `param_values` for a key list that is asked again and again (every plugin call): the same
    /// answer is shared until a setting changes, so a call copies no keys or values.
    pub fn param_snapshot(&self, keys: &Arc<[String]>) -> anyhow::Result<Arc<ParamValues>> {
        // Most calls end here, without a connection (which is a round trip on PostgreSQL).
        if let Ok(reader) = self.reader.lock()
            && reader.fresh(self.own_param_writes())
            && let Some(values) = reader.snapshot(keys)
        {
            return Ok(values);
        }
        self.read(|c, reader| {
            reader.follow_changes(c, self.own_param_writes())?;
            if let Some(values) = reader.snapshot(keys) {
                return Ok(values);
            }
            let values = Arc::new(self.values_from(c, reader, keys)?);
            if reader.snapshots.len() >= MAX_SNAPSHOTS {
                reader.snapshots.clear();
            }
            reader.snapshots.push((keys.clone(), values.clone()));
            Ok(values)
        })
    }

    fn values_from(
        &self,
        c: &mut Conn,
        reader: &mut Reader,
        keys: &[String],
    ) -> anyhow::Result<ParamValues> {
        let mut out = ParamValues::with_capacity(keys.len());
        for key in keys {
            if !reader.cache.contains_key(key) {
                let row: Option<(Option<String>, Option<String>, bool)> = c
                    .query_row("SELECT value, default_value, is_sensitive FROM system_parameters WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let value = match row {
                    Some((value, default, sensitive)) => {
                        let value = match parse_json(value) {
                            Value::Null => parse_json(default),
                            v => v,
                        };
                        Some(self.opened(key, sensitive, value)?)
                    }
                    None => None,
                };
                reader.cache.insert(key.clone(), value);
            }
            if let Some(Some(value)) = reader.cache.get(key) {
                out.insert(key.clone(), value.clone());
            }
        }
        Ok(out)
    }

    fn own_param_writes(&self) -> u64 {
        self.param_writes.load(Ordering::Acquire)
    }

    /// Count a write to `system_parameters` this store has committed (after the commit, so a
    /// reader that sees the count also sees the change).
    pub(super) fn wrote_params(&self) {
        self.param_writes.fetch_add(1, Ordering::Release);
    }

    /// A stored value as the plugin and the admin see it.
    fn opened(&self, key: &str, sensitive: bool, value: Value) -> anyhow::Result<Value> {
        Ok(match value {
            Value::String(s) if sensitive => Value::String(
                self.sealer
                    .open(&bound(key), &s)
                    .with_context(|| format!("opening {key}"))?,
            ),
            v => v,
        })
    }

    /// A value as it is stored: secrets sealed, bound to their key.
    fn sealed(&self, key: &str, sensitive: bool, value: &Value) -> Value {
        match value {
            Value::String(s) if sensitive && !s.is_empty() => {
                Value::String(self.sealer.seal(&bound(key), s))
            }
            v => v.clone(),
        }
    }

    /// Seal secrets written in clear (by an older host, or by hand in the table).
    /// Every sealed secret opens with this store's keys (else a lost key would look like a fresh
    /// start and every plugin call would fail later, one by one).
    pub(crate) fn open_sealed_secrets(&self) -> anyhow::Result<()> {
        self.with(|c| {
            let rows = c.query_map("SELECT key, value FROM system_parameters WHERE is_sensitive = 1 AND value IS NOT NULL", (), |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?;
            for (key, value) in rows {
                if let Value::String(stored) = parse_json(Some(value))
                    && Sealer::is_sealed(&stored)
                {
                    self.sealer
                        .open(&bound(&key), &stored)
                        .with_context(|| format!("opening {key}"))?;
                }
            }
            Ok(())
        })?;
        self.open_sealed_kv()
    }

    /// Seal secrets written in clear (by an older host, or by hand in the table), and seal again,
    /// bound to their key, those sealed before values were bound.
    pub(crate) fn seal_plaintext_secrets(&self) -> anyhow::Result<()> {
        self.reseal(|key, stored| {
            if stored.is_empty() || (Sealer::is_sealed(stored) && !Sealer::is_legacy(stored)) {
                return Ok(None);
            }
            let plain = self.sealer.open(&bound(key), stored)?;
            Ok(Some(self.sealer.seal(&bound(key), &plain)))
        })
    }

    /// Re-encrypt every secret with `new` (key rotation), in one transaction.
    pub fn reseal_with(&self, new: &Sealer) -> anyhow::Result<()> {
        self.reseal(|key, stored| {
            let plain = self.sealer.open(&bound(key), stored)?;
            Ok((!plain.is_empty()).then(|| new.seal(&bound(key), &plain)))
        })?;
        self.reseal_kv_with(new)
    }

    fn reseal(
        &self,
        f: impl Fn(&str, &str) -> anyhow::Result<Option<String>>,
    ) -> anyhow::Result<()> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let rows: Vec<(String, Option<String>)> = {
                tx.query_map(
                    "SELECT key, value FROM system_parameters WHERE is_sensitive = 1",
                    (),
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
            };
            for (key, value) in rows {
                if let Value::String(stored) = parse_json(value)
                    && let Some(resealed) = f(&key, &stored)?
                {
                    tx.execute(
                        "UPDATE system_parameters SET value = ?2 WHERE key = ?1",
                        params![key, Value::String(resealed).to_string()],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })?;
        self.wrote_params();
        Ok(())
    }

    /// Insert the rows that do not exist yet, with their defaults; existing values are kept.
    pub fn seed_params(&self, specs: &[ParamSpec]) -> anyhow::Result<()> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            self.seed_in(&mut tx, specs)?;
            tx.commit()?;
            Ok(())
        })?;
        self.wrote_params();
        Ok(())
    }

    /// `seed_params` inside the caller's transaction. A row's sensitivity only ever rises: a
    /// version that declares a secret plain leaves it a secret (sealed, masked, out of
    /// `config`), and one that declares a plain setting secret has its value sealed now.
    pub(super) fn seed_in(&self, tx: &mut Conn, specs: &[ParamSpec]) -> anyhow::Result<()> {
        let now = rfc3339(super::now_ms());
        for s in specs {
            tx.execute(
                "INSERT INTO system_parameters (key, category, value, data_type, default_value,
                    description_zh, description_en, is_sensitive, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6, ?7, ?8, ?8)
                 ON CONFLICT (key) DO NOTHING",
                params![
                    s.key,
                    s.category,
                    s.default_value.to_string(),
                    s.data_type,
                    s.description_zh,
                    s.description_en,
                    s.is_sensitive,
                    now
                ],
            )?;
            if !s.is_sensitive {
                continue;
            }
            let plain: Option<Option<String>> = tx
                .query_row(
                    "SELECT value FROM system_parameters WHERE key = ?1 AND is_sensitive = 0",
                    [&s.key],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(value) = plain {
                let value = parse_json(value);
                let sealed = match &value {
                    Value::String(v) if Sealer::is_sealed(v) => value.clone(),
                    _ => self.sealed(&s.key, true, &value),
                };
                tx.execute(
                    "UPDATE system_parameters SET is_sensitive = 1, value = ?2, updated_at = ?3
                     WHERE key = ?1",
                    params![s.key, sealed.to_string(), now],
                )?;
            }
        }
        Ok(())
    }

    /// Which of `keys` are stored as secrets (rows that do not exist are left out).
    pub fn stored_sensitivity(
        &self,
        keys: &[String],
    ) -> anyhow::Result<std::collections::HashMap<String, bool>> {
        self.with(|c| {
            let mut out = std::collections::HashMap::new();
            for key in keys {
                if let Some(sensitive) = c
                    .query_row(
                        "SELECT is_sensitive FROM system_parameters WHERE key = ?1",
                        [key],
                        |r| r.get::<bool>(0),
                    )
                    .optional()?
                {
                    out.insert(key.clone(), sensitive);
                }
            }
            Ok(out)
        })
    }

    pub fn get_param(&self, key: &str) -> anyhow::Result<Option<Param>> {
        self.with(|c| {
            c.query_row(
                "SELECT key, category, value, data_type, default_value, is_sensitive, updated_at
                 FROM system_parameters WHERE key = ?1",
                [key],
                |r| {
                    Ok(Param {
                        key: r.get(0)?,
                        category: r.get(1)?,
                        value: parse_json(r.get(2)?),
                        data_type: r.get(3)?,
                        default_value: parse_json(r.get(4)?),
                        is_sensitive: r.get(5)?,
                        updated_at: r.get(6)?,
                    })
                },
            )
            .optional()
        })?
        .map(|mut p| {
            p.value = self.opened(&p.key, p.is_sensitive, p.value)?;
            Ok(p)
        })
        .transpose()
    }

    /// Set several parameters in one transaction (all or none), each checked and sealed.
    pub fn set_params(&self, changes: &[(String, Value)]) -> anyhow::Result<()> {
        let mut stored = Vec::new();
        for (key, value) in changes {
            let Some(current) = self.get_param(key)? else {
                bail!("unknown parameter {key}");
            };
            check_type(key, &current.data_type, value)?;
            stored.push((key.clone(), self.sealed(key, current.is_sensitive, value)));
        }
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let now = rfc3339(super::now_ms());
            for (key, value) in &stored {
                tx.execute(
                    "UPDATE system_parameters SET value = ?2, updated_at = ?3 WHERE key = ?1",
                    params![key, value.to_string(), now],
                )?;
            }
            tx.commit()?;
            Ok(())
        })?;
        self.wrote_params();
        Ok(())
    }

    /// Set an existing parameter, checking the value against its `data_type`.
    pub fn set_param(&self, key: &str, value: &Value) -> anyhow::Result<()> {
        let Some(current) = self.get_param(key)? else {
            bail!("unknown parameter {key}");
        };
        check_type(key, &current.data_type, value)?;
        let stored = self.sealed(key, current.is_sensitive, value);
        self.with(|c| {
            c.execute(
                "UPDATE system_parameters SET value = ?2, updated_at = ?3 WHERE key = ?1",
                params![key, stored.to_string(), rfc3339(super::now_ms())],
            )?;
            Ok(())
        })?;
        self.wrote_params();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(key: &str, sensitive: bool) -> ParamSpec {
        ParamSpec {
            key: key.into(),
            category: "auth".into(),
            data_type: "string".into(),
            default_value: json!(""),
            description_zh: String::new(),
            description_en: String::new(),
            is_sensitive: sensitive,
        }
    }

    /// A store with a plain setting `a.id` and a secret `a.secret`, and the path of its database.
    fn seeded() -> (tempfile::TempDir, std::path::PathBuf, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path, super::super::Sealer::ephemeral()).unwrap();
        store
            .seed_params(&[spec("a.id", false), spec("a.secret", true)])
            .unwrap();
        (dir, path, store)
    }

    /// `a.id` set by another process (the CLI), through a connection of its own.
    fn set_elsewhere(path: &std::path::Path, value: &str) {
        rusqlite::Connection::open(path)
            .unwrap()
            .execute(
                "UPDATE system_parameters SET value = ?1 WHERE key = 'a.id'",
                [json!(value).to_string()],
            )
            .unwrap();
    }

    /// What the row holds in the database, as stored.
    fn raw(path: &std::path::Path, key: &str) -> (String, bool) {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT value, is_sensitive FROM system_parameters WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    #[test]
    fn a_sealed_secret_copied_into_another_row_does_not_open_there() {
        let (_dir, path, store) = seeded();
        store.seed_params(&[spec("b.secret", true)]).unwrap();
        store.set_param("a.secret", &json!("s3cret")).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE system_parameters SET value =
                    (SELECT value FROM system_parameters WHERE key = 'a.secret')
                 WHERE key = 'b.secret'",
                (),
            )
            .unwrap();
        let err = store.get_param("b.secret").unwrap_err();
        assert!(
            format!("{err:#}").contains("moved from another place"),
            "{err:#}"
        );
        assert_eq!(
            store.get_param("a.secret").unwrap().unwrap().value,
            json!("s3cret")
        );
    }

    #[test]
    fn a_settings_sensitivity_only_rises() {
        let (_dir, path, store) = seeded();
        store.set_param("a.secret", &json!("s3cret")).unwrap();
        store.set_param("a.id", &json!("was-plain")).unwrap();
        // A version declaring the secret plain and the plain setting secret.
        store
            .seed_params(&[spec("a.id", true), spec("a.secret", false)])
            .unwrap();
        let (secret, sensitive) = raw(&path, "a.secret");
        assert!(sensitive && !secret.contains("s3cret"), "{secret}");
        let (id, sensitive) = raw(&path, "a.id");
        assert!(sensitive, "a plain setting declared secret becomes one");
        assert!(
            !id.contains("was-plain"),
            "and its value is sealed now: {id}"
        );
        let values = store
            .param_values(&["a.id".to_string(), "a.secret".to_string()])
            .unwrap();
        assert_eq!(values["a.id"], json!("was-plain"));
        assert_eq!(values["a.secret"], json!("s3cret"));
        let stored = store
            .stored_sensitivity(&["a.id".into(), "a.secret".into(), "nope".into()])
            .unwrap();
        assert_eq!(stored.len(), 2);
        assert!(stored["a.id"] && stored["a.secret"]);
    }

    #[test]
    fn cached_settings_follow_every_writer() {
        let (_dir, path, store) = seeded();
        let keys = vec!["a.id".to_string(), "a.secret".to_string()];
        assert_eq!(store.param_values(&keys).unwrap()["a.id"], json!(""));

        // This store's own writes.
        store.set_param("a.secret", &json!("s3cret")).unwrap();
        assert_eq!(
            store.param_values(&keys).unwrap()["a.secret"],
            json!("s3cret")
        );

        // Another process's (the CLI's) writes.
        set_elsewhere(&path, "cli_2");
        std::thread::sleep(OTHER_WRITERS_SEEN_WITHIN);
        assert_eq!(store.param_values(&keys).unwrap()["a.id"], json!("cli_2"));

        // Other tables' writes leave the cache alone but change nothing it holds.
        store.kv_put("p", "k", b"v", None, None).unwrap();
        let values = store.param_values(&keys).unwrap();
        assert_eq!(
            (values["a.id"].clone(), values["a.secret"].clone()),
            (json!("cli_2"), json!("s3cret"))
        );
    }

    #[test]
    fn snapshots_are_shared_until_a_setting_changes() {
        let (_dir, path, store) = seeded();
        let keys: Arc<[String]> = Arc::from(vec!["a.id".to_string(), "a.secret".to_string()]);
        let first = store.param_snapshot(&keys).unwrap();
        let again = store.param_snapshot(&keys).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "nothing changed: the same map");
        let other_list: Arc<[String]> = Arc::from(vec!["a.id".to_string()]);
        assert_eq!(store.param_snapshot(&other_list).unwrap().len(), 1);

        set_elsewhere(&path, "cli_3");
        std::thread::sleep(OTHER_WRITERS_SEEN_WITHIN);
        let changed = store.param_snapshot(&keys).unwrap();
        assert!(!Arc::ptr_eq(&first, &changed));
        assert_eq!(changed["a.id"], json!("cli_3"));
        assert_eq!(
            first["a.id"],
            json!(""),
            "a call already running keeps what it read"
        );
    }
}
