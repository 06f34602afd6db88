//! When the database cannot be written, the host says so with a 503, stores nothing half-way,
//! and accepts the same event once the database is back.

use mica_tests::harness::{TestHost, event, on_postgres, recipient};
use mica_tests::sim::FeishuSim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_gives_a_503_and_nothing_half_written() {
    if on_postgres() {
        // The lock taken below is SQLite's file lock; this test runs on the SQLite pass.
        eprintln!("SQLite only: skipped on the PostgreSQL pass");
        return;
    }
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    // Another process holds the database's write lock for longer than the host will wait.
    let blocker = rusqlite::Connection::open(h.dir.path().join("mica-host.db")).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let body = event(
        "po_created",
        "evt-locked",
        vec![recipient("a@example.com", "zh-CN")],
    );
    let (status, answer) = h.post_event(&body).await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was changed"),
        "{answer}"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);

    let (status, _) = h.get("/api/v1/deliveries?event_id=evt-locked").await;
    assert_eq!(status, 404, "no trace of the refused event");
    let (status, answer) = h.post_event(&body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["created"], true);
    assert_eq!(h.settled("evt-locked").await[0]["status"], "sent");
    assert_eq!(sim.messages().len(), 1);
    h.host.stop().await;
}
