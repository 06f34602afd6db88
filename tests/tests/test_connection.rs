//! Test Connection diagnoses each way a Feishu setup goes wrong, against the simulator.

use mica_tests::approvals::{APPROVAL_CODE, VERIFICATION_TOKEN, setup};
use mica_tests::harness::{HostOptions, TestHost, check};
use mica_tests::sim::FeishuSim;
use mica_tests::sim::approval::payment_template;
use serde_json::{Value, json};

async fn run(h: &TestHost, body: Option<Value>) -> (u16, Value) {
    h.test_connection(body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_setup_passes_every_check_and_delivers_a_test_card() {
    let t = setup(true, HostOptions::default()).await;
    let (status, answer) = run(
        &t.host,
        Some(json!({"test_recipient_email": "admin@example.com"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["success"], true);
    for name in [
        "credentials_present",
        "base_url_reachable",
        "credentials_valid",
        "bot_and_messaging",
        "approval_definition",
        "approval_permission",
        "approval_template",
        "approval_subscription",
        "callback_verification",
        "webhook_route",
    ] {
        assert_eq!(check(&answer, name)["ok"], true, "{name}: {answer}");
    }
    let cards = t.sim.messages();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].receive_id, "admin@example.com");
    assert!(t.sim.with(|s| s.subscriptions.contains(APPROVAL_CODE)));
    assert!(
        t.sim.with(|s| s.create_calls) > 0 && t.sim.with(|s| s.instances.is_empty()),
        "the create permission is probed without starting an approval"
    );
    // Mica's UI posts no body: the bot is probed without sending anyone a card.
    let (status, answer) = run(&t.host, None).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        check(&answer, "bot_and_messaging")["detail"]
            .as_str()
            .unwrap()
            .contains("granted")
    );
    assert_eq!(t.sim.messages().len(), 1);
    t.host.host.stop().await;
}

async fn failing(h: &TestHost, name: &str, words: &str) -> Value {
    let (status, answer) = run(h, None).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["success"], false);
    let detail = answer["detail"].as_str().unwrap();
    assert!(detail.starts_with(&format!("{name}: ")), "{detail}");
    let c = check(&answer, name);
    assert_eq!(c["ok"], false);
    assert!(c["detail"].as_str().unwrap().contains(words), "{name}: {c}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_unpublished_app_and_missing_scope_are_named() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    h.set("auth.feishu.app_secret", json!("not-the-secret"));
    let answer = failing(&h, "credentials_valid", "App Secret").await;
    assert!(
        !answer.to_string().contains("not-the-secret"),
        "the secret is never echoed"
    );
    h.configure_feishu(&sim);
    h.set("auth.feishu.app_id", json!("cli_not_this_app"));
    failing(&h, "credentials_valid", "App ID").await;
    h.configure_feishu(&sim);

    sim.with(|s| s.bot_enabled = false);
    failing(&h, "bot_and_messaging", "not published").await;
    sim.with(|s| s.bot_enabled = true);

    sim.with(|s| s.send_scope_granted = false);
    failing(&h, "bot_and_messaging", "im:message:send_as_bot").await;
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_base_url_is_named() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    h.set("auth.feishu.base_url", json!(format!("http://{closed}")));
    let answer = failing(&h, "base_url_reachable", &closed.to_string()).await;
    assert_eq!(
        answer["checks"].as_array().unwrap().len(),
        3,
        "later checks are not run: {answer}"
    );
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_problems_are_named() {
    let t = setup(false, HostOptions::default()).await;
    t.host
        .set("auth.feishu.approval_code", json!("0000-NOT-A-TEMPLATE"));
    failing(&t.host, "approval_definition", "does not exist").await;
    t.host
        .set("auth.feishu.approval_code", json!(APPROVAL_CODE));

    let mut template = payment_template();
    template
        .as_array_mut()
        .unwrap()
        .retain(|w| w["id"] != "widget_amount");
    t.sim.define_approval(APPROVAL_CODE, template);
    failing(&t.host, "approval_template", "no widget for amount").await;
    t.sim.define_approval(APPROVAL_CODE, payment_template());

    t.sim.with(|s| s.approval_instance_scope_granted = false);
    failing(&t.host, "approval_permission", "approval:instance").await;
    t.sim.with(|s| s.approval_instance_scope_granted = true);

    t.sim.with(|s| s.approval_read_scope_granted = false);
    // The definition is cached briefly; a new code forces a read.
    t.sim.define_approval("1111-OTHER", payment_template());
    t.host.set("auth.feishu.approval_code", json!("1111-OTHER"));
    failing(&t.host, "approval_definition", "approval:approval:readonly").await;
    t.sim.with(|s| s.approval_read_scope_granted = true);

    t.host.set("auth.feishu.verification_token", json!(""));
    failing(&t.host, "callback_verification", "verification_token").await;
    t.host
        .set("auth.feishu.verification_token", json!(VERIFICATION_TOKEN));
    t.host.host.stop().await;
}

fn free_loopback() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Without MICA_PUBLIC_URL the route check says it proved only the host's own route; with it,
/// a probe sent to the public URL must arrive at this very host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_request_url_is_checked_to_reach_this_host() {
    let sim = FeishuSim::start().await;
    let plain = TestHost::start(&sim).await;
    let (_, answer) = run(&plain, None).await;
    let own = check(&answer, "webhook_route");
    assert_eq!(own["ok"], true, "{answer}");
    assert!(
        own["detail"].as_str().unwrap().contains("own route only")
            && own["detail"].as_str().unwrap().contains("MICA_PUBLIC_URL"),
        "{own}"
    );
    assert!(
        answer["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "public_webhook_url")
    );
    plain.host.stop().await;

    // The public URL is this host itself: the probe arrives.
    let addr = free_loopback();
    let options = HostOptions {
        listen: Some(addr),
        public_url: Some(format!("http://{addr}/")),
        ..HostOptions::default()
    };
    let h = TestHost::start_in(std::sync::Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.configure_feishu(&sim);
    let (status, answer) = run(&h, None).await;
    assert_eq!(status, 200, "{answer}");
    let public = check(&answer, "public_webhook_url");
    assert_eq!(public["ok"], true, "{answer}");
    assert!(
        public["detail"]
            .as_str()
            .unwrap()
            .contains("reaches this host")
    );
    h.host.stop().await;

    // The public URL leads to another server (here the simulator, which answers 404): the reverse
    // proxy is named as the thing to fix.
    let options = HostOptions {
        public_url: Some(sim.base_url()),
        ..HostOptions::default()
    };
    let h = TestHost::start_in(std::sync::Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.configure_feishu(&sim);
    let (status, answer) = run(&h, None).await;
    assert_eq!(status, 422, "{answer}");
    let public = check(&answer, "public_webhook_url");
    assert_eq!(public["ok"], false);
    let detail = public["detail"].as_str().unwrap();
    assert!(
        detail.contains("never reached this host") && detail.contains("reverse proxy"),
        "{detail}"
    );
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .starts_with("public_webhook_url:"),
        "{answer}"
    );
    h.host.stop().await;

    // Nothing listens there: said so.
    let options = HostOptions {
        public_url: Some(format!("http://{}", free_loopback())),
        ..HostOptions::default()
    };
    let h = TestHost::start_in(std::sync::Arc::new(tempfile::tempdir().unwrap()), options).await;
    h.configure_feishu(&sim);
    let (_, answer) = run(&h, None).await;
    let public = check(&answer, "public_webhook_url");
    assert!(
        public["detail"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{public}"
    );
    h.host.stop().await;
}
