//! The plugins' shared key-value store: namespaced per plugin, versioned for compare-and-set,
//! with expiry. Expired rows read as absent and are removed lazily.

use super::{Store, now_ms};
use rusqlite::{OptionalExtension, params};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvEntry {
    pub value: Vec<u8>,
    pub version: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum KvError {
    Conflict,
    Store(String),
}

impl From<anyhow::Error> for KvError {
    fn from(e: anyhow::Error) -> Self {
        KvError::Store(e.to_string())
    }
}

fn live_version(
    c: &rusqlite::Connection,
    ns: &str,
    key: &str,
    now: i64,
) -> rusqlite::Result<Option<u64>> {
    c.query_row(
        "SELECT version FROM kv WHERE namespace = ?1 AND key = ?2
         AND (expires_at IS NULL OR expires_at > ?3)",
        params![ns, key, now],
        |r| r.get::<_, i64>(0).map(|v| v as u64),
    )
    .optional()
}

impl Store {
    /// Read through the read-only connection: never waits for a writer.
    pub fn kv_get(&self, ns: &str, key: &str) -> Result<Option<KvEntry>, KvError> {
        Ok(self.read(|r| {
            Ok(r.conn
                .prepare_cached(
                    "SELECT value, version FROM kv WHERE namespace = ?1 AND key = ?2
                 AND (expires_at IS NULL OR expires_at > ?3)",
                )?
                .query_row(params![ns, key, now_ms()], |r| {
                    Ok(KvEntry {
                        value: r.get(0)?,
                        version: r.get::<_, i64>(1)? as u64,
                    })
                })
                .optional()?)
        })?)
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
        let outcome = self.with(|c| {
            let tx = super::write_transaction(c)?;
            let now = now_ms();
            let current = live_version(&tx, ns, key, now)?;
            if let Some(expected) = check
                && expected != current
            {
                return Ok(None);
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
            tx.execute(
                "INSERT INTO kv (namespace, key, value, version, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (namespace, key) DO UPDATE SET value = ?3, version = ?4, expires_at = ?5",
                params![ns, key, value, version, expires],
            )?;
            tx.commit()?;
            Ok(Some(version as u64))
        })?;
        outcome.ok_or(KvError::Conflict)
    }

    pub fn kv_delete(&self, ns: &str, key: &str) -> Result<(), KvError> {
        Ok(self.with(|c| {
            // Keep the row's version (expired now) so versions stay monotonic.
            c.execute(
                "UPDATE kv SET expires_at = 0, value = x'' WHERE namespace = ?1 AND key = ?2",
                params![ns, key],
            )?;
            Ok(())
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&dir.path().join("t.db"), super::super::Sealer::ephemeral()).unwrap();
        (dir, store)
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
