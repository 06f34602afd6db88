//! The hosts sharing the database. Each names itself when it starts and keeps `seen_at` fresh
//! while it runs; a host not seen for `DEAD_AFTER_MS` is taken for dead, and its leases for free
//! (`deliveries::claim_due`), so the others take over its deliveries without waiting for each
//! lease to run out.

use super::db::params;
use super::{Store, now_ms};
use std::time::Duration;

/// How often a running host says it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How long without a heartbeat before a host is taken for dead: three beats, so one slow
/// database round trip never costs a live host its leases.
pub const DEAD_AFTER_MS: i64 = 3_000;

impl Store {
    /// This process's id among the hosts.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Say this host is alive (and name it, the first time).
    pub fn heartbeat(&self) -> anyhow::Result<()> {
        let now = now_ms();
        self.with(|c| {
            c.execute(
                "INSERT INTO hosts (host_id, started_at, seen_at) VALUES (?1, ?2, ?2)
                 ON CONFLICT (host_id) DO UPDATE SET seen_at = ?2",
                params![self.host_id(), now],
            )?;
            // Hosts gone for a day are forgotten (their leases were free long ago).
            c.execute(
                "DELETE FROM hosts WHERE seen_at < ?1",
                [now - 24 * 3600 * 1000],
            )?;
            Ok(())
        })
    }

    /// This host stops: its leases are free at once (a graceful stop finished its calls first).
    pub fn host_stopped(&self) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM hosts WHERE host_id = ?1", [self.host_id()])?;
            Ok(())
        })
    }

    /// Hosts seen within `DEAD_AFTER_MS`, this one included.
    pub fn live_hosts(&self) -> anyhow::Result<Vec<String>> {
        self.with(|c| {
            c.query_map(
                "SELECT host_id FROM hosts WHERE seen_at >= ?1 ORDER BY host_id",
                [now_ms() - DEAD_AFTER_MS],
                |r| r.get(0),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_host_is_live_while_it_beats_and_gone_once_it_stops() {
        let (_dir, store) = crate::store::temporary();
        assert!(store.live_hosts().unwrap().is_empty());
        store.heartbeat().unwrap();
        store.heartbeat().unwrap();
        assert_eq!(
            store.live_hosts().unwrap(),
            vec![store.host_id().to_string()]
        );
        store.host_stopped().unwrap();
        assert!(store.live_hosts().unwrap().is_empty());
    }
}
