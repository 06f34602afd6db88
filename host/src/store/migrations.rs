//! Schema migrations, applied in order and recorded in `schema_migrations`.

use rusqlite::Connection;

/// Append only: never edit a migration that has shipped.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, INITIAL),
    (2, APPROVALS),
    (3, PLUGIN_ENABLED),
    (4, DUE_INDEX),
    (5, PARAM_GENERATION),
    (6, FAILED_INDEX),
    (7, NOTICE_ORDER),
    (8, APPROVAL_ROUNDS),
    (9, DELIVERY_CLASS),
    (10, OWNERS),
    (11, KV_SEALED),
    (12, RATE_GRANTS),
    (13, RATE_LIMITED_COUNT),
    (14, CARD_REDRAWS),
    (15, EARLY_CHANGES),
    (16, CARD_DECISIONS),
    (17, IDENTITIES),
    (18, REPLICAS),
];

const INITIAL: &str = r#"
-- Mica's own table (DESIGN.md §6): same columns, JSON values stored as JSON text.
CREATE TABLE system_parameters (
    key            TEXT PRIMARY KEY,
    category       TEXT NOT NULL,
    value          TEXT,
    data_type      TEXT NOT NULL,
    default_value  TEXT,
    min_value      TEXT,
    max_value      TEXT,
    unit           TEXT,
    description_zh TEXT,
    description_en TEXT,
    is_sensitive   INTEGER NOT NULL DEFAULT 0,
    updated_by_id  TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE plugin_versions (
    plugin_id     TEXT NOT NULL,
    version       TEXT NOT NULL,
    digest        TEXT NOT NULL,
    wasm          BLOB NOT NULL,
    descriptor    TEXT NOT NULL,
    worlds        TEXT NOT NULL,
    installed_at  INTEGER NOT NULL,
    PRIMARY KEY (plugin_id, version)
);

CREATE TABLE plugin_active (
    plugin_id     TEXT PRIMARY KEY,
    version       TEXT NOT NULL,
    previous      TEXT,
    activated_at  INTEGER NOT NULL
);

CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  INTEGER NOT NULL
);

CREATE TABLE deliveries (
    id                 TEXT PRIMARY KEY,
    event_id           TEXT NOT NULL REFERENCES events(id),
    seq                INTEGER NOT NULL,
    recipient_email    TEXT NOT NULL,
    recipient          TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER NOT NULL,
    lease_until        INTEGER,
    last_error         TEXT,
    last_error_kind    TEXT,
    remote_code        INTEGER,
    log_id             TEXT,
    feishu_message_id  TEXT,
    plugin_version     TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (event_id, seq)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);

CREATE TABLE kv (
    namespace   TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    version     INTEGER NOT NULL,
    expires_at  INTEGER,
    PRIMARY KEY (namespace, key)
);
"#;

const APPROVALS: &str = r#"
-- One outbox for every plugin call Mica's events cause: 'notify' (a card) or 'approval' (create
-- the payment's approval instance).
ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'notify';

CREATE TABLE approvals (
    payment_id       TEXT PRIMARY KEY,
    instance_code    TEXT NOT NULL UNIQUE,
    plugin_id        TEXT NOT NULL,
    status           TEXT NOT NULL,
    -- Feishu's operate time of the current status (ms), for ordering callbacks.
    status_time_ms   INTEGER NOT NULL,
    initiator        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    checked_at       INTEGER NOT NULL
);

CREATE TABLE approval_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id      TEXT NOT NULL REFERENCES approvals(payment_id),
    status          TEXT NOT NULL,
    status_time_ms  INTEGER NOT NULL,
    source          TEXT NOT NULL,
    at              INTEGER NOT NULL
);

-- Callback event ids already applied (Feishu delivers at least once).
CREATE TABLE webhook_events (
    event_id     TEXT PRIMARY KEY,
    plugin_id    TEXT NOT NULL,
    received_at  INTEGER NOT NULL
);

-- Status changes to tell Mica (MICA_CALLBACK_URL), retried until accepted.
CREATE TABLE callbacks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (status, next_attempt_at);
"#;

/// An administrator can switch a plugin off without uninstalling it.
const PLUGIN_ENABLED: &str =
    "ALTER TABLE plugin_active ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;";

/// Claiming reads the first due rows of this index instead of sorting the whole backlog.
const DUE_INDEX: &str = "CREATE INDEX deliveries_waiting ON deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying');";

/// Counts changes to `system_parameters`, whoever makes them (this host, the CLI in another process,
/// Mica itself): every plugin call reads its settings, and the cache of them stays valid until this
/// number moves. (SQLite's `data_version` moves on any commit, so it emptied the cache constantly.)
const PARAM_GENERATION: &str = r#"
CREATE TABLE param_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT INTO param_generation (id, n) VALUES (1, 0);
CREATE TRIGGER param_generation_insert AFTER INSERT ON system_parameters
    BEGIN UPDATE param_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER param_generation_update AFTER UPDATE ON system_parameters
    BEGIN UPDATE param_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER param_generation_delete AFTER DELETE ON system_parameters
    BEGIN UPDATE param_generation SET n = n + 1 WHERE id = 1; END;
"#;

/// Every status change rewrote an entry of `deliveries_due`, an index of every delivery ever made;
/// waiting deliveries have `deliveries_waiting`, and the only other status looked up is `failed`
/// (the dead letters), which gets a small index of its own.
const FAILED_INDEX: &str = "DROP INDEX deliveries_due;
    CREATE INDEX deliveries_failed ON deliveries (updated_at) WHERE status = 'failed';";

/// Notices to Mica go out in order per payment (`subject`): a later status must never overtake an
/// earlier one that is still being retried. A notice Mica refuses (4xx) again and again is a dead
/// letter (`failed`) instead of being retried forever; `refusals` counts those answers.
const NOTICE_ORDER: &str = r#"
ALTER TABLE callbacks ADD COLUMN subject TEXT;
ALTER TABLE callbacks ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
UPDATE callbacks SET subject = json_extract(body, '$.payment_id');
CREATE INDEX callbacks_pending_subject ON callbacks (subject, id) WHERE status = 'pending';
"#;

/// A payment rejected or cancelled in Feishu can be sent for approval again: `approvals` keeps the
/// current instance (its `round`, and the delivery `job_id` that created it), earlier instances
/// move to `approval_rounds`, and each history line names its instance.
const APPROVAL_ROUNDS: &str = r#"
ALTER TABLE approvals ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
ALTER TABLE approvals ADD COLUMN job_id TEXT;
ALTER TABLE approval_history ADD COLUMN instance_code TEXT;
UPDATE approval_history SET instance_code =
    (SELECT a.instance_code FROM approvals a WHERE a.payment_id = approval_history.payment_id);
CREATE TABLE approval_rounds (
    instance_code   TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL,
    round           INTEGER NOT NULL,
    status          TEXT NOT NULL,
    status_time_ms  INTEGER NOT NULL,
    initiator       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    ended_at        INTEGER NOT NULL
);
CREATE INDEX approval_rounds_payment ON approval_rounds (payment_id, round);
"#;

/// Deliveries are served by class (0 action, 1 update, 2 bulk: `delivery::Class`), then in the
/// order they fell due: the queue index replaces `deliveries_waiting`. Existing rows get the class
/// `Class::of` gives them (this is its mapping as of this migration).
const DELIVERY_CLASS: &str = r#"
ALTER TABLE deliveries ADD COLUMN class INTEGER NOT NULL DEFAULT 1;
UPDATE deliveries SET class = CASE
    WHEN kind = 'approval' THEN 0
    WHEN kind = 'cancel' THEN 1
    ELSE (SELECT CASE
            WHEN e.type IN ('pr_submitted', 'payment_pending') THEN 0
            WHEN e.type = 'contract_expiring' THEN 2
            ELSE 1 END
          FROM events e WHERE e.id = deliveries.event_id)
    END;
DROP INDEX deliveries_waiting;
CREATE INDEX deliveries_queue ON deliveries (class, next_attempt_at)
    WHERE status IN ('pending', 'retrying');
"#;

/// Who owns each setting key, webhook route and world (`store::owners`). What is installed already
/// is given to the plugin that installed it first.
const OWNERS: &str = r#"
CREATE TABLE owners (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    plugin_id   TEXT NOT NULL,
    claimed_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
INSERT OR IGNORE INTO owners (kind, name, plugin_id, claimed_at)
    SELECT 'setting', json_extract(s.value, '$.key'), v.plugin_id, v.installed_at
    FROM plugin_versions v, json_each(v.descriptor, '$.settings') s
    ORDER BY v.installed_at, v.plugin_id;
INSERT OR IGNORE INTO owners (kind, name, plugin_id, claimed_at)
    SELECT 'route', upper(json_extract(r.value, '$[0]')) || ' ' || json_extract(r.value, '$[1]'),
        v.plugin_id, v.installed_at
    FROM plugin_versions v, json_each(v.descriptor, '$.webhook_routes') r
    ORDER BY v.installed_at, v.plugin_id;
INSERT OR IGNORE INTO owners (kind, name, plugin_id, claimed_at)
    SELECT 'world', w.name, v.plugin_id, v.installed_at
    FROM plugin_versions v, (SELECT 'notifier' AS name UNION ALL SELECT 'approval-provider') w
    WHERE ',' || v.worlds || ',' LIKE '%,' || w.name || ',%'
    ORDER BY v.installed_at, v.plugin_id;
"#;

/// kv values are sealed at rest (`store::kv`); rows from before are sealed when the store opens.
const KV_SEALED: &str = "ALTER TABLE kv ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;";

/// The calls granted in the last two minutes, so Feishu's per-second and per-minute limits hold
/// across a restart (`delivery::rate::Limiter::remember`).
const RATE_GRANTS: &str = r#"
CREATE TABLE rate_grants (
    at_ms            INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    recipient_email  TEXT NOT NULL
);
CREATE INDEX rate_grants_at ON rate_grants (at_ms);
"#;

/// Answers that only said "slow down" are counted apart from attempts (`attempts` no longer
/// includes them), so they never use up a delivery's attempts.
const RATE_LIMITED_COUNT: &str =
    "ALTER TABLE deliveries ADD COLUMN rate_limited INTEGER NOT NULL DEFAULT 0;";

/// Sent cards are redrawn once what they asked for is settled (`delivery::redraw`): an event names
/// what it is about (`pr:<id>`, `payment:<id>`) so the cards to redraw are found by it; a redraw
/// delivery names the delivery whose card it redraws and what settled it; a sent card remembers
/// when it went out (Feishu changes cards for 14 days).
const CARD_REDRAWS: &str = r#"
ALTER TABLE events ADD COLUMN subject TEXT;
UPDATE events SET subject = 'pr:' || json_extract(payload, '$.data.pr_id')
    WHERE type IN ('pr_submitted', 'approval_decided');
UPDATE events SET subject = 'payment:' || json_extract(payload, '$.data.payment_id')
    WHERE type = 'payment_pending';
CREATE INDEX events_subject ON events (subject, type) WHERE subject IS NOT NULL;
ALTER TABLE deliveries ADD COLUMN redraws TEXT;
ALTER TABLE deliveries ADD COLUMN settlement TEXT;
ALTER TABLE deliveries ADD COLUMN settled_at_ms INTEGER;
ALTER TABLE deliveries ADD COLUMN sent_at INTEGER;
UPDATE deliveries SET sent_at = updated_at WHERE status = 'sent';
CREATE INDEX deliveries_redraws ON deliveries (redraws, settled_at_ms) WHERE redraws IS NOT NULL;
"#;

/// A verified status change for an instance the host has not recorded yet (an auto-approved
/// template decides before the create answer arrives): kept until the instance is recorded, then
/// applied (`store::approvals`), instead of being dropped with its callback's id used up.
const EARLY_CHANGES: &str = r#"
CREATE TABLE early_changes (
    id INTEGER PRIMARY KEY,
    instance_code TEXT NOT NULL,
    status TEXT NOT NULL,
    status_time_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX early_changes_instance ON early_changes (instance_code);
CREATE INDEX early_changes_received ON early_changes (received_at);
"#;

/// Decisions taken on cards: one per card (the card's delivery id is the key, so Feishu's retries
/// and double clicks find the first), and the notice that relays each to Mica names it.
const CARD_DECISIONS: &str = r#"
CREATE TABLE card_decisions (
    delivery_id   TEXT PRIMARY KEY,
    click_id      TEXT NOT NULL,
    pr_id         TEXT NOT NULL,
    decision      TEXT NOT NULL,
    comment       TEXT,
    decider_email TEXT NOT NULL,
    decider_name  TEXT NOT NULL,
    open_id       TEXT NOT NULL,
    union_id      TEXT,
    stage         TEXT NOT NULL,
    reason        TEXT,
    decided_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX card_decisions_stage ON card_decisions (stage);
ALTER TABLE callbacks ADD COLUMN decision_of TEXT;
CREATE INDEX callbacks_decision ON callbacks (decision_of) WHERE decision_of IS NOT NULL;
"#;

/// Feishu ids learned from presses on cards sent to an email (trust on first use): the address,
/// lower-cased, and who pressed.
const IDENTITIES: &str = r#"
CREATE TABLE identities (
    email        TEXT PRIMARY KEY,
    open_id      TEXT NOT NULL,
    union_id     TEXT,
    learned_at   INTEGER NOT NULL,
    learned_from TEXT NOT NULL
);
"#;

/// Several hosts on one database (PostgreSQL; on SQLite one host, whose restarts are the other
/// "hosts"): each host names itself in `hosts` and keeps `seen_at` fresh; a lease names its owner,
/// and a lease whose owner stopped being seen is free; each granted call names the host that made
/// it, so every host counts the others' calls against the app's limits (read in order of
/// `rowid`); a "slow down" pauses every host (`rate_pause`).
const REPLICAS: &str = r#"
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE rate_grants ADD COLUMN host_id TEXT;
CREATE TABLE hosts (
    host_id     TEXT PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL
);
CREATE TABLE rate_pause (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    until_ms   INTEGER NOT NULL
);
INSERT INTO rate_pause (id, until_ms) VALUES (1, 0);
"#;

pub fn apply(conn: &Connection) -> anyhow::Result<()> {
    apply_through(conn, i64::MAX)
}

/// Apply the migrations up to and including `last` (tests start from an older schema).
fn apply_through(conn: &Connection, last: i64) -> anyhow::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let current: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_migrations", (), |r| {
            r.get(0)
        })?;
    super::pg_schema::refuse_newer(current)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= last) {
        let done: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if !done {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![version, super::now_ms()],
            )?;
            tx.commit()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::{Sealer, Store};

    #[test]
    fn both_backends_know_the_same_newest_version_and_refuse_a_newer_one() {
        assert_eq!(
            super::MIGRATIONS.last().unwrap().0,
            crate::store::pg_schema::LATEST,
            "a migration added to SQLite's list needs its PostgreSQL twin (pg_schema.rs)"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(Store::open(&path, Sealer::ephemeral()).unwrap());
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)",
                [],
            )
            .unwrap();
        let refused = Store::open(&path, Sealer::ephemeral()).err().unwrap();
        assert!(
            format!("{refused:#}").contains(&format!(
                "version 99, newer than this host knows ({})",
                crate::store::pg_schema::LATEST
            )),
            "{refused:#}"
        );
    }

    /// What SQLite plans for `sql`, one line per step.
    fn plan(store: &Store, sql: &str) -> String {
        store
            .with(|c| {
                let rows = c.query_map(&format!("EXPLAIN QUERY PLAN {sql}"), (), |r| {
                    r.get::<String>(3)
                })?;
                Ok(rows.join("\n"))
            })
            .unwrap()
    }

    #[test]
    fn the_delivery_queries_that_run_all_the_time_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Sealer::ephemeral()).unwrap();
        let claim = plan(
            &store,
            "SELECT id FROM deliveries WHERE class = 2 AND status IN ('pending', 'retrying')
             AND next_attempt_at <= 1 AND (lease_until IS NULL OR lease_until <= 1)
             ORDER BY next_attempt_at LIMIT 8",
        );
        assert!(claim.contains("deliveries_queue"), "{claim}");
        assert!(
            !claim.contains("TEMP B-TREE"),
            "no sort of the backlog: {claim}"
        );
        let waiting = plan(
            &store,
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'retrying')",
        );
        assert!(waiting.contains("deliveries_queue"), "{waiting}");
        let by_class = plan(
            &store,
            "SELECT class, COUNT(*) FROM deliveries WHERE status IN ('pending', 'retrying') GROUP BY class",
        );
        assert!(by_class.contains("deliveries_queue"), "{by_class}");
        assert!(!by_class.contains("TEMP B-TREE"), "{by_class}");
        let failed = plan(
            &store,
            "SELECT id FROM deliveries WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 200",
        );
        assert!(failed.contains("deliveries_failed"), "{failed}");
        assert!(!failed.contains("TEMP B-TREE"), "{failed}");
    }

    #[test]
    fn deliveries_waiting_before_classes_existed_are_given_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            super::apply_through(&conn, 8).unwrap();
            let rows = [
                ("e-pr", "pr_submitted", "d-pr", "notify"),
                ("e-pay", "payment_pending", "d-pay", "notify"),
                ("e-pay", "payment_pending", "d-apv", "approval"),
                ("e-po", "po_created", "d-po", "notify"),
                ("e-ct", "contract_expiring", "d-ct", "notify"),
                ("e-cancel", "approval_cancel", "d-cancel", "cancel"),
            ];
            for (seq, (event, kind, delivery, delivery_kind)) in rows.iter().enumerate() {
                conn.execute(
                    "INSERT OR IGNORE INTO events (id, type, occurred_at, payload, received_at)
                     VALUES (?1, ?2, '2026-12-01T00:00:00Z', '{}', 0)",
                    [event, kind],
                )
                .unwrap();
                conn.execute(
                    "INSERT INTO deliveries (id, event_id, seq, kind, recipient_email, recipient,
                        status, next_attempt_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'a@example.com', '{}', 'pending', 0, 0, 0)",
                    rusqlite::params![delivery, event, seq as i64, delivery_kind],
                )
                .unwrap();
            }
        }
        let store = Store::open(&path, Sealer::ephemeral()).unwrap();
        let class = |id: &str| store.delivery(id).unwrap().unwrap().class;
        use crate::delivery::Class;
        assert_eq!(class("d-pr"), Class::Action);
        assert_eq!(class("d-pay"), Class::Action);
        assert_eq!(class("d-apv"), Class::Action);
        assert_eq!(class("d-po"), Class::Update);
        assert_eq!(class("d-cancel"), Class::Update);
        assert_eq!(class("d-ct"), Class::Bulk);
    }

    #[test]
    fn what_was_installed_before_owners_existed_belongs_to_the_first_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            super::apply_through(&conn, 9).unwrap();
            let descriptor = |key: &str| {
                serde_json::json!({"settings": [{"key": key}, {"key": "shared.key"}],
                    "webhook_routes": [["post", "/hook"]]})
                .to_string()
            };
            for (id, at, worlds) in [
                ("zz-first", 1, "notifier"),
                ("aa-later", 2, "notifier,approval-provider"),
            ] {
                conn.execute(
                    "INSERT INTO plugin_versions (plugin_id, version, digest, wasm, descriptor, worlds, installed_at)
                     VALUES (?1, '1', 'd', x'', ?2, ?3, ?4)",
                    rusqlite::params![id, descriptor(&format!("{id}.own")), worlds, at],
                )
                .unwrap();
            }
        }
        let store = Store::open(&path, Sealer::ephemeral()).unwrap();
        let owners: std::collections::HashMap<String, String> = store
            .owners()
            .unwrap()
            .into_iter()
            .map(|(c, owner)| (format!("{} {}", c.kind.as_str(), c.name), owner))
            .collect();
        assert_eq!(owners["setting shared.key"], "zz-first");
        assert_eq!(owners["setting aa-later.own"], "aa-later");
        assert_eq!(owners["route POST /hook"], "zz-first");
        assert_eq!(owners["world notifier"], "zz-first");
        assert_eq!(owners["world approval-provider"], "aa-later");
    }

    #[test]
    fn cards_sent_before_redraws_existed_can_still_be_redrawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            super::apply_through(&conn, 13).unwrap();
            for (id, kind, data) in [
                ("e-pr", "pr_submitted", r#"{"pr_id": "pr-7"}"#),
                ("e-pay", "payment_pending", r#"{"payment_id": "pay-3"}"#),
                ("e-po", "po_created", r#"{"po_id": "po-1"}"#),
            ] {
                conn.execute(
                    "INSERT INTO events (id, type, occurred_at, payload, received_at)
                     VALUES (?1, ?2, '2026-12-01T00:00:00Z', ?3, 0)",
                    [id, kind, &format!(r#"{{"data": {data}}}"#)],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO deliveries (id, event_id, seq, kind, recipient_email, recipient,
                    status, next_attempt_at, created_at, updated_at, feishu_message_id)
                 VALUES ('d-pr', 'e-pr', 0, 'notify', 'a@example.com', '{}', 'sent', 0, 0, 4242, 'om_1')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path, Sealer::ephemeral()).unwrap();
        let (subjects, sent_at) = store
            .with(|c| {
                let subjects =
                    c.query_map("SELECT id, subject FROM events ORDER BY id", (), |r| {
                        Ok((r.get::<String>(0)?, r.get::<Option<String>>(1)?))
                    })?;
                let sent_at: Option<i64> = c.query_row(
                    "SELECT sent_at FROM deliveries WHERE id = 'd-pr'",
                    (),
                    |r| r.get(0),
                )?;
                Ok((subjects, sent_at))
            })
            .unwrap();
        assert_eq!(
            subjects,
            [
                ("e-pay".to_string(), Some("payment:pay-3".to_string())),
                ("e-po".to_string(), None),
                ("e-pr".to_string(), Some("pr:pr-7".to_string())),
            ]
        );
        assert_eq!(sent_at, Some(4242), "sent when it was last updated");
    }
}
