//! The plugins' shared key-value store: namespaced per plugin, versioned for compare-and-set,
//! with expiry. Expired rows read as absent and are removed lazily.
//!
//! On SQLite, reads are answered from memory once a key has been read or written (every card
//! reads the tenant token; a read transaction costs more than the rest of the host's share of a
//! call). That is exact because this store is the only writer of its `kv` table: the embedded
//! database is served by one host, and no command line tool writes kv. On PostgreSQL other hosts
//! may share the table, so every read asks the database. Writes always go to the database, and
//! compare-and-set is decided there.
//!
//! Values are sealed at rest like secrets (`Sealer`, bound to their namespace and key): they hold
//! the tenant access token and whatever else a plugin keeps, and a copy of the database must not
//! hand them out. Rows written before sealing existed (`sealed = 0`) are sealed when the store
//! opens.

use super::db::{Conn, OptionalExt, params};
use super::{Store, now_ms};
use std::collections::HashMap;

/// How much the cache may hold before it starts over: plugins keep a handful of small entries
/// (tokens, leases, template definitions), but one that stored many large values must not grow
/// the host's memory with them.
const MAX_CACHED_KEYS: usize = 4096;
const MAX_CACHED_BYTES: usize = 4 * 1024 * 1024;

/// A row as the database has it, expiry included.
#[derive(Clone, Debug)]
struct Row {
    value: Vec<u8>,
    version: u64,
    expires_at: Option<i64>,
}

impl Row {
    fn live(&self, now: i64) -> Option<KvEntry> {
        match self.expires_at {
            Some(t) if t <= now => None,
            _ => Some(KvEntry {
                value: self.value.clone(),
                version: self.version,
            }),
        }
    }
}

/// What this store knows of the `kv` table: namespace → key → row (`None`: no row).
#[derive(Default)]
pub(super) struct KvCache {
    /// Moves on every write, so a read that raced a write does not cache what it read.
    generation: u64,
    rows: HashMap<String, HashMap<String, Option<Row>>>,
    len: usize,
    bytes: usize,
}

/// What an entry costs the cache, roughly.
fn footprint(ns: &str, key: &str, row: &Option<Row>) -> usize {
    ns.len() + key.len() + row.as_ref().map_or(0, |r| r.value.len()) + 64
}

impl KvCache {
    fn get(&self, ns: &str, key: &str) -> Option<&Option<Row>> {
        self.rows.get(ns)?.get(key)
    }

    fn put(&mut self, ns: &str, key: &str, row: Option<Row>) {
        self.forget(ns, key);
        let size = footprint(ns, key, &row);
        if self.len >= MAX_CACHED_KEYS || self.bytes + size > MAX_CACHED_BYTES {
            self.rows.clear();
            self.len = 0;
            self.bytes = 0;
        }
        self.rows
            .entry(ns.to_string())
            .or_default()
            .insert(key.to_string(), row);
        self.len += 1;
        self.bytes += size;
    }

    fn forget(&mut self, ns: &str, key: &str) {
        if let Some(keys) = self.rows.get_mut(ns)
            && let Some(row) = keys.remove(key)
        {
            self.len -= 1;
            self.bytes -= footprint(ns, key, &row);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvEntry {
    pub value: Vec<u8>,
    pub version: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum KvError {
    Conflict,
    /// The namespace holds this many live entries already.
    Full(u64),
    Store(String),
}

impl From<anyhow::Error> for KvError {
    fn from(e: anyhow::Error) -> Self {
        KvError::Store(e.to_string())
    }
}

/// What a kv value is bound to when sealed: its namespace and key.
fn kv_bound(ns: &str, key: &str) -> String {
    format!("kv:{ns}\0{key}")
}

fn live_version(c: &mut Conn, ns: &str, key: &str, now: i64) -> anyhow::Result<Option<u64>> {
    c.query_row(
        "SELECT version FROM kv WHERE namespace = ?1 AND key = ?2
         AND (expires_at IS NULL OR expires_at > ?3)",
        params![ns, key, now],
        |r| r.get::<i64>(0).map(|v| v as u64),
    )
    .optional()
}

/// Most live entries one plugin may keep: a plugin writing a key per card would otherwise grow the
/// database without bound. Overwriting an existing key is always allowed.
pub const MAX_ENTRIES_PER_PLUGIN: u64 = 10_000;

/// One plugin's namespace of the kv table, and nothing else: what the kv capability is handed
/// when a call is prepared (as Spin's factors prepare each instance's own state), so no code path
/// of the capability can name another plugin's namespace.
#[derive(Clone)]
pub struct KvSpace {
    store: Store,
    namespace: std::sync::Arc<str>,
}

impl KvSpace {
    pub fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        self.store.kv_get(&self.namespace, key)
    }

    /// `Store::kv_put` within this namespace, refusing a new key past `MAX_ENTRIES_PER_PLUGIN`.
    pub fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
        check: Option<Option<u64>>,
    ) -> Result<u64, KvError> {
        self.store.kv_put_within(
            &self.namespace,
            key,
            value,
            ttl_ms,
            check,
            MAX_ENTRIES_PER_PLUGIN,
        )
    }

    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        self.store.kv_delete(&self.namespace, key)
    }
}

impl Store {
    /// The handle on one plugin's namespace.
    pub fn kv_space(&self, namespace: &str) -> KvSpace {
        KvSpace {
            store: self.clone(),
            namespace: namespace.into(),
        }
    }

    /// From memory, or through the read-only connection (never waiting for a writer) the first
    /// time a key is asked for.
    pub fn kv_get(&self, ns: &str, key: &str) -> Result<Option<KvEntry>, KvError> {
        let now = now_ms();
        let cached = self.backend() == super::Backend::Sqlite;
        let generation = if cached {
            let cache = self.kv_cache();
            if let Some(row) = cache.get(ns, key) {
                return Ok(row.as_ref().and_then(|r| r.live(now)));
            }
            Some(cache.generation)
        } else {
            None
        };
        let row = self.read(|c, _| {
            let stored = c
                .query_row("SELECT value, version, expires_at, sealed FROM kv WHERE namespace = ?1 AND key = ?2", params![ns, key], |r| {
                    Ok((
                        Row {
                            value: r.get(0)?,
                            version: r.get::<i64>(1)? as u64,
                            expires_at: r.get(2)?,
                        },
                        r.get::<bool>(3)?,
                    ))
                })
                .optional()?;
            stored
                .map(|(mut row, sealed)| {
                    if sealed && !row.value.is_empty() {
                        row.value = self.sealer.open_bytes(&kv_bound(ns, key), &row.value)?;
                    }
                    Ok(row)
                })
                .transpose()
        })?;
        let entry = row.as_ref().and_then(|r| r.live(now));
        if let Some(generation) = generation {
            let mut cache = self.kv_cache();
            if cache.generation == generation {
                cache.put(ns, key, row);
            }
        }
        Ok(entry)
    }

    /// The cache; a panic while it was held leaves it empty rather than unusable.
    fn kv_cache(&self) -> std::sync::MutexGuard<'_, KvCache> {
        self.kv_cache.lock().unwrap_or_else(|poisoned| {
            let mut cache = poisoned.into_inner();
            *cache = KvCache {
                generation: cache.generation + 1,
                ..KvCache::default()
            };
            self.kv_cache.clear_poison();
            cache
        })
    }

    /// Tell the cache what a write left for the key (`None`: forget it, the next read asks the
    /// database). Called while the writer connection is still held, so the cache learns of writes
    /// in the order they were committed.
    fn kv_wrote(&self, ns: &str, key: &str, row: Option<Row>) {
        let mut cache = self.kv_cache();
        cache.generation += 1;
        match row {
            Some(row) => cache.put(ns, key, Some(row)),
            None => cache.forget(ns, key),
        }
    }

    /// Write if the live version equals `expected` (`None`: absent or expired). `check` false
    /// writes unconditionally. Returns the new version.
    pub fn kv_put(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
        check: Option<Option<u64>>,
    ) -> Result<u64, KvError> {
        self.kv_put_within(ns, key, value, ttl_ms, check, u64::MAX)
    }

    /// `kv_put`, refusing to add a key to a namespace that has `max_entries` live ones already.
    fn kv_put_within(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
        check: Option<Option<u64>>,
        max_entries: u64,
    ) -> Result<u64, KvError> {
        let mut full = false;
        let outcome = self.with(|c| {
            let written = (|| -> anyhow::Result<Option<Row>> {
                let mut tx = super::write_transaction(c)?;
                let now = now_ms();
                let current = live_version(&mut tx, ns, key, now)?;
                if let Some(expected) = check
                    && expected != current
                {
                    return Ok(None);
                }
                if current.is_none() && max_entries != u64::MAX {
                    let live: i64 = tx.query_row(
                        "SELECT COUNT(*) FROM kv WHERE namespace = ?1
                         AND (expires_at IS NULL OR expires_at > ?2)",
                        params![ns, now],
                        |r| r.get(0),
                    )?;
                    if live as u64 >= max_entries {
                        full = true;
                        return Ok(None);
                    }
                }
                // Versions only grow, even across expiry, so a stale compare can never match again.
                let last: Option<i64> = tx
                    .query_row(
                        "SELECT version FROM kv WHERE namespace = ?1 AND key = ?2",
                        params![ns, key],
                        |r| r.get(0),
                    )
                    .optional()?;
                let version = last.unwrap_or(0) + 1;
                let expires = ttl_ms.map(|t| now + t as i64);
                let sealed = self.sealer.seal_bytes(&kv_bound(ns, key), value);
                tx.execute(
                    "INSERT INTO kv (namespace, key, value, version, expires_at, sealed)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1)
                     ON CONFLICT (namespace, key) DO UPDATE SET value = ?3, version = ?4,
                        expires_at = ?5, sealed = 1",
                    params![ns, key, sealed, version, expires],
                )?;
                tx.commit()?;
                Ok(Some(Row {
                    value: value.to_vec(),
                    version: version as u64,
                    expires_at: expires,
                }))
            })();
            // A lost compare-and-set or a failed write: what was cached is not to be trusted.
            self.kv_wrote(ns, key, written.as_ref().ok().cloned().flatten());
            written
        })?;
        if full {
            return Err(KvError::Full(max_entries));
        }
        outcome.map(|row| row.version).ok_or(KvError::Conflict)
    }

    /// Seal every value with `new` (key rotation), in one transaction.
    pub(super) fn reseal_kv_with(&self, new: &super::Sealer) -> anyhow::Result<()> {
        self.reseal_kv(|ns, key, value, sealed| {
            let plain = if sealed {
                self.sealer.open_bytes(&kv_bound(ns, key), value)?
            } else {
                value.to_vec()
            };
            Ok(Some(new.seal_bytes(&kv_bound(ns, key), &plain)))
        })
    }

    /// Check that every sealed value opens with this store's keys (see `open_sealed_secrets`).
    pub(super) fn open_sealed_kv(&self) -> anyhow::Result<()> {
        self.with(|c| {
            let rows = c.query_map(
                "SELECT namespace, key, value FROM kv WHERE sealed = 1 AND length(value) > 0",
                (),
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<String>(1)?,
                        r.get::<Vec<u8>>(2)?,
                    ))
                },
            )?;
            for (ns, key, value) in rows {
                self.sealer
                    .open_bytes(&kv_bound(&ns, &key), &value)
                    .map_err(|e| anyhow::anyhow!("opening kv {ns}/{key}: {e}"))?;
            }
            Ok(())
        })
    }

    /// Seal the values written before kv values were sealed.
    pub(super) fn seal_plaintext_kv(&self) -> anyhow::Result<()> {
        self.reseal_kv(|ns, key, value, sealed| {
            Ok((!sealed).then(|| self.sealer.seal_bytes(&kv_bound(ns, key), value)))
        })
    }

    fn reseal_kv(
        &self,
        f: impl Fn(&str, &str, &[u8], bool) -> anyhow::Result<Option<Vec<u8>>>,
    ) -> anyhow::Result<()> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let rows: Vec<(String, String, Vec<u8>, bool)> = {
                tx.query_map(
                    "SELECT namespace, key, value, sealed FROM kv WHERE length(value) > 0",
                    (),
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?
            };
            for (ns, key, value, sealed) in rows {
                if let Some(resealed) = f(&ns, &key, &value, sealed)? {
                    tx.execute(
                        "UPDATE kv SET value = ?3, sealed = 1 WHERE namespace = ?1 AND key = ?2",
                        params![ns, key, resealed],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })?;
        // What the cache holds is plain and stays true; nothing to forget.
        Ok(())
    }

    pub fn kv_delete(&self, ns: &str, key: &str) -> Result<(), KvError> {
        Ok(self.with(|c| {
            // Keep the row's version (expired now) so versions stay monotonic.
            let done = c.execute(
                "UPDATE kv SET expires_at = 0, value = ?3 WHERE namespace = ?1 AND key = ?2",
                params![ns, key, Vec::<u8>::new()],
            );
            // Either way the next read asks the database.
            self.kv_wrote(ns, key, None);
            done?;
            Ok(())
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::kv::MAX_VALUE_BYTES;

    use crate::store::temporary as store;

    #[test]
    fn a_namespace_holds_a_bounded_number_of_entries_but_may_always_overwrite() {
        let (_d, s) = store();
        for i in 0..3 {
            s.kv_put_within("p", &format!("k{i}"), b"v", None, None, 3)
                .unwrap();
        }
        assert_eq!(
            s.kv_put_within("p", "k3", b"v", None, None, 3),
            Err(KvError::Full(3))
        );
        s.kv_put_within("p", "k1", b"again", None, None, 3).unwrap();
        // Another namespace has its own count; an expired entry no longer counts.
        s.kv_put_within("q", "k0", b"v", None, None, 3).unwrap();
        s.kv_delete("p", "k0").unwrap();
        s.kv_put_within("p", "k3", b"v", None, None, 3).unwrap();
        // The capability's handle names no namespace: it writes only its own.
        let space = s.kv_space("p");
        space.put("mine", b"v", None, None).unwrap();
        assert!(s.kv_get("p", "mine").unwrap().is_some());
        assert_eq!(s.kv_get("q", "mine").unwrap(), None);
    }

    #[test]
    fn values_are_sealed_at_rest_and_old_plain_rows_are_sealed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let key: [u8; 32] = rand::random();
        let s = Store::open(&path, super::super::Sealer::from_key(key)).unwrap();
        s.kv_put("feishu", "tenant_token", b"t-secret-token", None, None)
            .unwrap();
        let raw = |path: &std::path::Path| -> Vec<u8> {
            rusqlite::Connection::open(path)
                .unwrap()
                .query_row("SELECT value FROM kv WHERE key = 'tenant_token'", (), |r| {
                    r.get(0)
                })
                .unwrap()
        };
        let at_rest = raw(&path);
        assert!(!at_rest.windows(7).any(|w| w == b"t-secre"), "{at_rest:?}");
        // A row from before sealing existed.
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE kv SET value = CAST('t-old-token' AS BLOB), sealed = 0 WHERE key = 'tenant_token'",
                (),
            )
            .unwrap();
        drop(s);
        let s = Store::open(&path, super::super::Sealer::from_key(key)).unwrap();
        assert!(!raw(&path).windows(5).any(|w| w == b"t-old"));
        assert_eq!(
            s.kv_get("feishu", "tenant_token").unwrap().unwrap().value,
            b"t-old-token"
        );
        // Moved to another plugin's namespace, it does not open there.
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO kv (namespace, key, value, version, sealed)
                 SELECT 'other', key, value, version, sealed FROM kv WHERE key = 'tenant_token'",
                (),
            )
            .unwrap();
        assert!(matches!(
            s.kv_get("other", "tenant_token"),
            Err(KvError::Store(_))
        ));
        // And a host without the key refuses to start rather than failing every call.
        drop(s);
        assert!(Store::open(&path, super::super::Sealer::ephemeral()).is_err());
    }

    #[test]
    fn compare_and_set_admits_one_writer() {
        let (_d, s) = store();
        let v1 = s.kv_put("p", "k", b"a", None, Some(None)).unwrap();
        assert_eq!(
            s.kv_put("p", "k", b"b", None, Some(None)),
            Err(KvError::Conflict)
        );
        let v2 = s.kv_put("p", "k", b"c", None, Some(Some(v1))).unwrap();
        assert!(v2 > v1);
        assert_eq!(s.kv_get("p", "k").unwrap().unwrap().value, b"c");
        assert_eq!(
            s.kv_get("other", "k").unwrap(),
            None,
            "namespaces are separate"
        );
    }

    #[test]
    fn cached_reads_follow_this_stores_writes_and_expiry() {
        let (_d, s) = store();
        assert_eq!(
            s.kv_get("p", "k").unwrap(),
            None,
            "an absent key is remembered too"
        );
        let v1 = s.kv_put("p", "k", b"a", None, None).unwrap();
        assert_eq!(s.kv_get("p", "k").unwrap().unwrap().version, v1);
        s.kv_put("p", "k", b"b", Some(50), None).unwrap();
        assert_eq!(s.kv_get("p", "k").unwrap().unwrap().value, b"b");
        std::thread::sleep(std::time::Duration::from_millis(80));
        assert_eq!(s.kv_get("p", "k").unwrap(), None, "expired while cached");
        s.kv_put("p", "k", b"c", None, None).unwrap();
        s.kv_delete("p", "k").unwrap();
        assert_eq!(s.kv_get("p", "k").unwrap(), None);
    }

    #[test]
    fn the_cache_stays_small_whatever_a_plugin_stores() {
        let (_d, s) = store();
        let big = vec![7u8; MAX_VALUE_BYTES as usize];
        for i in 0..200 {
            s.kv_put("p", &format!("k{i}"), &big, None, None).unwrap();
            let cache = s.kv_cache();
            assert!(
                cache.bytes <= MAX_CACHED_BYTES,
                "{} bytes after {i}",
                cache.bytes
            );
        }
        // Whatever was let go is read from the database again.
        assert_eq!(s.kv_get("p", "k0").unwrap().unwrap().value, big);
        assert_eq!(s.kv_get("p", "k199").unwrap().unwrap().value, big);
    }

    #[test]
    fn after_concurrent_writes_the_cache_holds_what_the_database_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let key: [u8; 32] = rand::random();
        let s = Store::open(&path, super::super::Sealer::from_key(key)).unwrap();
        std::thread::scope(|scope| {
            for t in 0..4u8 {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..100u8 {
                        s.kv_put("p", "token", &[t, i], None, None).unwrap();
                    }
                });
            }
        });
        let cached = s.kv_get("p", "token").unwrap().unwrap();
        // A store of its own (with the same secret key) has nothing cached: it reads the database.
        let fresh = Store::open(&path, super::super::Sealer::from_key(key)).unwrap();
        assert_eq!(Some(cached), fresh.kv_get("p", "token").unwrap());
    }

    #[test]
    fn a_lost_compare_and_set_makes_the_next_read_ask_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let s = Store::open(&path, super::super::Sealer::ephemeral()).unwrap();
        let v1 = s.kv_put("p", "k", b"ours", None, None).unwrap();
        assert_eq!(s.kv_get("p", "k").unwrap().unwrap().value, b"ours");
        // A write this store did not make (nothing does this in a running host).
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE kv SET value = x'746865697273', sealed = 0, version = version + 1 WHERE key = 'k'",
                (),
            )
            .unwrap();
        assert_eq!(
            s.kv_put("p", "k", b"next", None, Some(Some(v1))),
            Err(KvError::Conflict),
            "compare-and-set is decided by the database"
        );
        assert_eq!(s.kv_get("p", "k").unwrap().unwrap().value, b"theirs");
    }

    #[test]
    fn expired_and_deleted_read_as_absent_and_versions_keep_growing() {
        let (_d, s) = store();
        let v1 = s.kv_put("p", "k", b"a", Some(0), None).unwrap();
        assert_eq!(s.kv_get("p", "k").unwrap(), None);
        let v2 = s.kv_put("p", "k", b"b", None, Some(None)).unwrap();
        assert!(v2 > v1);
        s.kv_delete("p", "k").unwrap();
        assert_eq!(s.kv_get("p", "k").unwrap(), None);
        assert!(s.kv_put("p", "k", b"c", None, Some(None)).unwrap() > v2);
    }
}
