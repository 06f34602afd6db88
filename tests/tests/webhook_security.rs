//! The webhook refuses everything that is not a genuine, verifiable Feishu callback, applies
//! nothing from it, and stays healthy.

use mica_tests::approvals::{APPROVAL_CODE, ApprovalSetup, ENCRYPT_KEY, VERIFICATION_TOKEN, setup};
use mica_tests::harness::HostOptions;
use mica_tests::sim::callbacks::{approval_event, encrypt, signature};
use serde_json::{Value, json};

struct Attempt {
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

/// A callback as Feishu would send it, with every part under the test's control.
fn signed(body: Vec<u8>, key: &str) -> Attempt {
    let (ts, nonce) = ("1700000000", "n0nce");
    let sig = signature(ts, nonce, key, &body);
    Attempt {
        body,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-lark-request-timestamp".into(), ts.into()),
            ("x-lark-request-nonce".into(), nonce.into()),
            ("x-lark-signature".into(), sig),
        ],
    }
}

fn encrypted_body(payload: &Value, key: &str) -> Vec<u8> {
    json!({"encrypt": encrypt(key, payload.to_string().as_bytes())})
        .to_string()
        .into_bytes()
}

async fn send(t: &ApprovalSetup, a: Attempt) -> (u16, String) {
    // A fresh connection per attempt: the server closes one after refusing an oversize body, and
    // a pooled client could otherwise reuse it for the next request.
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/feishu/webhook", t.host.base))
        .body(a.body);
    for (k, v) in a.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_broken_callbacks_are_refused_and_change_nothing() {
    let t = setup(true, HostOptions::default()).await;
    let code = t.start_payment("pay-sec").await;
    let approve = |event_id: &str, token: &str| {
        approval_event(
            event_id,
            token,
            APPROVAL_CODE,
            &code,
            "APPROVED",
            1_900_000_000_000,
        )
    };

    let mut wrong_signature = signed(
        encrypted_body(&approve("e1", VERIFICATION_TOKEN), ENCRYPT_KEY),
        ENCRYPT_KEY,
    );
    wrong_signature.headers[3].1 = "0".repeat(64);
    let mut unsigned = signed(
        encrypted_body(&approve("e2", VERIFICATION_TOKEN), ENCRYPT_KEY),
        ENCRYPT_KEY,
    );
    unsigned.headers.truncate(1);
    let wrong_token = signed(
        encrypted_body(&approve("e3", "not-the-token"), ENCRYPT_KEY),
        ENCRYPT_KEY,
    );
    let wrong_key = signed(
        encrypted_body(&approve("e4", VERIFICATION_TOKEN), "another key"),
        ENCRYPT_KEY,
    );
    let full = encrypt(
        ENCRYPT_KEY,
        approve("e5", VERIFICATION_TOKEN).to_string().as_bytes(),
    );
    let truncated = signed(
        json!({"encrypt": &full[..full.len() - 24]})
            .to_string()
            .into_bytes(),
        ENCRYPT_KEY,
    );
    let not_base64 = signed(br#"{"encrypt":"@@@ not base64 @@@"}"#.to_vec(), ENCRYPT_KEY);
    let malformed = signed(b"{\"encrypt\": ".to_vec(), ENCRYPT_KEY);
    let plaintext = signed(
        approve("e6", VERIFICATION_TOKEN).to_string().into_bytes(),
        ENCRYPT_KEY,
    );
    let oversize = signed(vec![b' '; 2 * 1024 * 1024], ENCRYPT_KEY);

    for (name, attempt, expected) in [
        ("wrong signature", wrong_signature, 401),
        ("missing signature", unsigned, 401),
        ("wrong verification token", wrong_token, 403),
        ("wrong Encrypt Key", wrong_key, 400),
        ("truncated ciphertext", truncated, 400),
        ("non-base64 ciphertext", not_base64, 400),
        ("malformed JSON", malformed, 400),
        ("plaintext while a key is set", plaintext, 400),
        ("oversize body", oversize, 413),
    ] {
        let (status, body) = send(&t, attempt).await;
        assert_eq!(status, expected, "{name}: {body}");
    }

    let (status, approval) = t.host.get("/api/v1/approvals/pay-sec").await;
    assert_eq!(status, 200);
    assert_eq!(approval["status"], "PENDING", "nothing applied");
    assert_eq!(approval["history"].as_array().unwrap().len(), 1);
    assert_eq!(t.host.get("/healthz").await.0, 200, "host healthy");

    // A genuine one still goes through.
    let genuine = signed(
        encrypted_body(&approve("e-ok", VERIFICATION_TOKEN), ENCRYPT_KEY),
        ENCRYPT_KEY,
    );
    assert_eq!(send(&t, genuine).await.0, 200);
    t.wait_status("pay-sec", "APPROVED").await;
    let notices = t.wait_notices(2).await;
    assert_eq!(
        notices.len(),
        2,
        "only PENDING and the genuine APPROVED reached Mica"
    );
    t.host.host.stop().await;
}

/// No padding oracle: an unsigned encrypted body is decrypted only to answer a genuine
/// handshake, and every other one (bad padding, good padding that is not JSON, a valid event, a
/// handshake with the wrong token, an oversized one) gets the very same answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_encrypted_bodies_all_get_one_answer_unless_a_genuine_handshake() {
    let t = setup(true, HostOptions::default()).await;
    let code = t.start_payment("pay-oracle").await;
    let unsigned = |encrypted: String| Attempt {
        body: json!({"encrypt": encrypted}).to_string().into_bytes(),
        headers: vec![("content-type".into(), "application/json".into())],
    };
    let event = approval_event(
        "e-unsigned",
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &code,
        "APPROVED",
        1_900_000_000_000,
    );
    let handshake = |token: &str, pad: usize| {
        json!({"challenge": "ch-1", "token": token, "type": "url_verification", "pad": "x".repeat(pad)})
            .to_string()
    };
    // 32 bytes of zeros: an IV and one block that does not decrypt to valid padding.
    let bad_padding = "A".repeat(43) + "=";
    let cases = [
        ("bad padding", unsigned(bad_padding)),
        (
            "not JSON",
            unsigned(encrypt(ENCRYPT_KEY, b"plainly not json")),
        ),
        (
            "a valid event",
            unsigned(encrypt(ENCRYPT_KEY, event.to_string().as_bytes())),
        ),
        (
            "a handshake with the wrong token",
            unsigned(encrypt(ENCRYPT_KEY, handshake("guess", 0).as_bytes())),
        ),
        (
            "an oversized handshake",
            unsigned(encrypt(
                ENCRYPT_KEY,
                handshake(VERIFICATION_TOKEN, 8000).as_bytes(),
            )),
        ),
    ];
    let mut answers = Vec::new();
    for (name, attempt) in cases {
        let (status, body) = send(&t, attempt).await;
        answers.push((name, status, body));
    }
    let (_, first_status, first_body) = &answers[0];
    assert_eq!(*first_status, 401, "{answers:?}");
    for (name, status, body) in &answers {
        assert_eq!(
            (status, body),
            (first_status, first_body),
            "{name} answered differently"
        );
    }
    let (status, approval) = t.host.get("/api/v1/approvals/pay-oracle").await;
    assert_eq!(status, 200);
    assert_eq!(approval["status"], "PENDING", "nothing applied");

    // The genuine unsigned handshake is still answered.
    let (status, body) = send(
        &t,
        unsigned(encrypt(
            ENCRYPT_KEY,
            handshake(VERIFICATION_TOKEN, 0).as_bytes(),
        )),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["challenge"],
        "ch-1"
    );
    t.host.host.stop().await;
}

/// Without an Encrypt Key a callback carries only the Verification Token, which anyone who has
/// seen one callback knows. A forged APPROVED dated near the end of the epoch changes nothing
/// (Feishu, asked, says PENDING) and does not make the real decision that follows look old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_only_callback_cannot_forge_a_decision_or_freeze_the_real_one() {
    let t = setup(false, HostOptions::default()).await;
    let code = t.start_payment("pay-forged").await;
    let forged = approval_event(
        "e-forged",
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &code,
        "APPROVED",
        i64::MAX as u64 - 1000,
    );
    assert_eq!(t.sim.push(&forged).await, 200);
    let (status, approval) = t.host.get("/api/v1/approvals/pay-forged").await;
    assert_eq!(status, 200);
    assert_eq!(
        approval["status"], "PENDING",
        "Feishu's word, not the callback's: {approval}"
    );

    t.sim.decide(&code, "REJECTED");
    t.wait_status("pay-forged", "REJECTED").await;
    let notices = t.wait_notices(2).await;
    let statuses: Vec<&str> = notices
        .iter()
        .map(|(n, _)| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["PENDING", "REJECTED"],
        "Mica never heard APPROVED"
    );
    t.host.host.stop().await;
}

/// A signed callback is trusted, but not its claim to come from the future: the time that orders
/// decisions is at most a few minutes ahead of now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_callback_from_the_future_is_brought_back_to_now() {
    let t = setup(true, HostOptions::default()).await;
    let code = t.start_payment("pay-future").await;
    let future = approval_event(
        "e-future",
        VERIFICATION_TOKEN,
        APPROVAL_CODE,
        &code,
        "APPROVED",
        i64::MAX as u64 - 1000,
    );
    assert_eq!(t.sim.push(&future).await, 200);
    t.wait_status("pay-future", "APPROVED").await;
    let notices = t.wait_notices(2).await;
    let at = notices[1].0["operate_time"].as_str().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
    let ahead = at.signed_duration_since(chrono::Utc::now());
    assert!(
        ahead <= chrono::Duration::minutes(5),
        "operate_time {at} is {ahead} ahead of now"
    );
    t.host.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_verification_token_nothing_is_accepted() {
    let t = setup(false, HostOptions::default()).await;
    t.host.set("auth.feishu.verification_token", json!(""));
    let challenge = json!({"challenge": "c", "token": "", "type": "url_verification"});
    let (status, body) = send(&t, signed(challenge.to_string().into_bytes(), "")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("verification_token"));
    t.host.host.stop().await;
}

/// A flood of callbacks cannot take the sandbox from the deliveries: with Feishu slow to answer
/// the instance reads that token-only callbacks cause, at most `WEBHOOK_MAX_IN_FLIGHT` are handled
/// at once, the rest are answered 503 with `Retry-After` (Feishu sends them again), and a card
/// posted during the flood goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_callbacks_is_capped_and_cards_still_go_out() {
    use mica_host::api::WEBHOOK_MAX_IN_FLIGHT;
    use mica_tests::harness::{event, recipient};
    use mica_tests::sim::callbacks::{post, wire};
    let t = setup(false, HostOptions::default()).await;
    let code = t.start_payment("pay-flood").await;
    t.sim
        .with(|s| s.instance_read_delay = std::time::Duration::from_millis(1500));
    let config = t.sim.with(|s| s.callback.clone()).unwrap();
    let client = reqwest::Client::new();
    let mut flood = tokio::task::JoinSet::new();
    let n = WEBHOOK_MAX_IN_FLIGHT + 40;
    for i in 0..n {
        let payload = approval_event(
            &format!("e-flood-{i}"),
            VERIFICATION_TOKEN,
            APPROVAL_CODE,
            &code,
            "APPROVED",
            1_700_000_000_000 + i as u64,
        );
        let (config, client) = (config.clone(), client.clone());
        flood.spawn(async move {
            let (body, headers) = wire(&config, &payload);
            post(&client, &config.url, body, &headers).await
        });
    }
    t.host
        .post_event(&event(
            "po_created",
            "evt-during-flood",
            vec![recipient("a@example.com", "zh-CN")],
        ))
        .await;
    let statuses = flood.join_all().await;
    let d = t.host.settled("evt-during-flood").await;
    assert_eq!(d[0]["status"], "sent", "{d:?}");
    let busy = statuses.iter().filter(|s| **s == 503).count();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(busy >= 1, "{statuses:?}");
    let most = t.sim.with(|s| s.max_instance_reads_in_flight);
    assert!(
        most <= WEBHOOK_MAX_IN_FLIGHT,
        "{most} callbacks were handled at once"
    );
    // A refused callback says when to come back.
    t.sim
        .with(|s| s.instance_read_delay = std::time::Duration::from_millis(2000));
    let mut held = tokio::task::JoinSet::new();
    for i in 0..WEBHOOK_MAX_IN_FLIGHT {
        let payload = approval_event(
            &format!("e-held-{i}"),
            VERIFICATION_TOKEN,
            APPROVAL_CODE,
            &code,
            "APPROVED",
            1_800_000_000_000 + i as u64,
        );
        let (config, client) = (config.clone(), client.clone());
        held.spawn(async move {
            let (body, headers) = wire(&config, &payload);
            post(&client, &config.url, body, &headers).await
        });
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while t.sim.with(|s| s.instance_reads_in_flight) < WEBHOOK_MAX_IN_FLIGHT {
        assert!(
            std::time::Instant::now() < deadline,
            "the held callbacks never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/feishu/webhook", t.host.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "1");
    held.join_all().await;
    t.host.host.stop().await;
}
