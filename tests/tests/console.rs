//! The admin console in headless Chromium: sign in, the Feishu tab (fill, save, reload, Test
//! Connection against the simulator), card preview, deliveries with retry, plugins. Each test
//! leaves screenshots in target/test-output/console/.

use mica_tests::browser::Browser;
use mica_tests::harness::{ADMIN_TOKEN, HostOptions, TestHost, event, fixture_wasm, recipient};
use mica_tests::sim::{APP_ID, APP_SECRET, FeishuSim};
use serde_json::json;
use std::sync::Arc;

/// A host with nothing configured, as an administrator first finds it.
async fn fresh_host() -> TestHost {
    TestHost::start_in(
        Arc::new(tempfile::tempdir().unwrap()),
        HostOptions::default(),
    )
    .await
}

async fn sign_in(b: &Browser, h: &TestHost, page: &str) {
    b.goto(&format!("{}/admin#/{page}", h.base)).await;
    b.fill("#token", ADMIN_TOKEN).await;
    b.click("#login button[type=submit]").await;
    b.find(&format!("main[data-page={page}]")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_signs_in_fills_the_feishu_tab_and_finds_it_kept_after_reload() {
    let sim = FeishuSim::start().await;
    let h = fresh_host().await;
    let b = Browser::start().await;

    // A wrong token is refused with a message, and nothing else is shown.
    b.goto(&format!("{}/admin", h.base)).await;
    b.fill("#token", "not-the-token").await;
    b.click("#login button[type=submit]").await;
    b.wait_text("#login [role=alert]", "not accepted").await;
    b.shot("01-login-refused").await;

    sign_in(&b, &h, "feishu").await;
    b.wait_text("#f-callback_url", "").await;
    assert_eq!(
        b.value("#f-callback_url").await,
        format!("{}/api/v1/feishu/webhook", h.base),
        "the callback URL to paste into Feishu"
    );
    // The seed's "no extra spaces" mistake: the host trims and says so.
    b.click("#f-enabled").await;
    b.select("#f-domain", "custom").await;
    b.fill("#f-base_url", &sim.base_url()).await;
    b.fill("#f-app_id", &format!("  {APP_ID} ")).await;
    b.fill("#f-app_secret", &format!("{APP_SECRET} ")).await;
    b.click("#f-notify_on_po").await;
    b.click("#f-payment_workflow").await;
    b.fill("#f-approval_code", "7C468A54-8745-2245-9675-08B7C63E7A85")
        .await;
    b.fill("#f-encrypt_key", "an-encrypt-key-0001").await;
    b.fill("#f-verification_token", "a-verification-token-0002")
        .await;
    b.shot("02-feishu-filled").await;
    b.click("#save").await;
    let status = b.wait_text("#form-status", "Settings saved").await;
    assert!(
        status.contains("app_id"),
        "the trimmed App ID is reported: {status}"
    );
    b.shot("03-feishu-saved").await;

    // The store holds what was typed, trimmed.
    let (_, saved) = h.get("/api/v1/admin/feishu/settings").await;
    assert_eq!(saved["app_id"], APP_ID);
    assert_eq!(saved["enabled"], true);
    assert_eq!(saved["notify_on_po"], false);
    assert_eq!(saved["notify_on_pr"], true);
    assert_eq!(saved["payment_workflow"], true);
    assert_eq!(saved["base_url"], sim.base_url());
    assert_eq!(
        h.host
            .store
            .param_values(&["auth.feishu.app_secret".into()])
            .unwrap()["auth.feishu.app_secret"],
        json!(APP_SECRET)
    );

    // Reload: still signed in (same tab), every value kept, secrets masked and never in the page.
    b.client.refresh().await.unwrap();
    b.find("main[data-page=feishu] #feishu-form").await;
    assert_eq!(b.value("#f-app_id").await, APP_ID);
    assert_eq!(
        b.value("#f-app_secret").await,
        "",
        "a secret is never filled back in"
    );
    let placeholder = b
        .find("#f-app_secret")
        .await
        .attr("placeholder")
        .await
        .unwrap()
        .unwrap();
    assert!(placeholder.contains("****0001"), "{placeholder}");
    assert!(b.checked("#f-enabled").await);
    assert!(!b.checked("#f-notify_on_po").await);
    assert!(b.checked("#f-notify_on_pr").await);
    assert!(b.checked("#f-payment_workflow").await);
    assert_eq!(b.value("#f-domain").await, "custom");
    assert_eq!(b.value("#f-base_url").await, sim.base_url());
    let page = b.client.source().await.unwrap();
    for secret in [
        APP_SECRET,
        "an-encrypt-key-0001",
        "a-verification-token-0002",
    ] {
        assert!(!page.contains(secret), "the page holds a secret");
    }
    b.shot("04-feishu-reloaded").await;

    // A bad value is refused with the field named, and what was saved stays.
    b.fill("#f-app_id", "a1b2c3").await;
    b.click("#save").await;
    b.wait_text("#form-status [role=alert]", "app_id:").await;
    let (_, after) = h.get("/api/v1/admin/feishu/settings").await;
    assert_eq!(after["app_id"], APP_ID);
    b.shot("05-feishu-refused").await;
    b.close().await;
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_shows_each_check_and_names_a_wrong_secret() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let b = Browser::start().await;
    sign_in(&b, &h, "feishu").await;
    b.fill("#f-test_email", "admin@example.com").await;
    b.click("#test").await;
    b.wait_text("#test-result", "All checks passed").await;
    for check in [
        "credentials_present",
        "base_url_reachable",
        "credentials_valid",
        "bot_and_messaging",
        "webhook_route",
    ] {
        let row = b.find(&format!("#checks li[data-check={check}]")).await;
        assert_eq!(
            row.attr("class").await.unwrap().as_deref(),
            Some("check ok"),
            "{check}"
        );
    }
    let sent = sim.messages();
    assert_eq!(sent.len(), 1, "the test card");
    assert_eq!(sent[0].receive_id, "admin@example.com");
    b.shot("06-test-connection-passed").await;

    // The administrator pasted the wrong secret: the check that fails says so.
    b.fill("#f-app_secret", "wrong-secret-0000000000000000000")
        .await;
    b.click("#save").await;
    b.wait_text("#form-status", "Settings saved").await;
    b.click("#test").await;
    b.wait_text("#test-result [role=alert]", "checks failed")
        .await;
    let row = b.find("#checks li[data-check=credentials_valid]").await;
    assert_eq!(
        row.attr("class").await.unwrap().as_deref(),
        Some("check failed")
    );
    let detail = row.text().await.unwrap();
    assert!(detail.to_lowercase().contains("secret"), "{detail}");
    b.shot("07-test-connection-wrong-secret").await;
    b.close().await;
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_shows_every_card_in_the_readers_language() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let b = Browser::start().await;
    sign_in(&b, &h, "preview").await;
    b.select("#preview-locale", "en-US").await;
    b.wait_text(
        "#gallery figure[data-type=contract_expiring][data-locale=en-US]",
        "Contract",
    )
    .await;
    let (_, api) = h.get("/api/v1/admin/feishu/preview?locale=en-US").await;
    let figures = b.find_all("#gallery figure").await;
    // The five domain events, the notice and the digest, the requisition and payment cards as
    // they are redrawn once decided, and the requisition card with its decision buttons.
    assert_eq!(figures.len(), 10);
    for p in api["previews"].as_array().unwrap() {
        let redrawn = if p["redrawn_by"].is_string() {
            "yes"
        } else {
            "no"
        };
        let buttons = if p["with_buttons"] == true {
            "yes"
        } else {
            "no"
        };
        let figure = format!(
            "#gallery figure[data-type={}][data-redrawn={redrawn}][data-buttons={buttons}]",
            p["type"].as_str().unwrap()
        );
        let css = format!("{figure} .card-title");
        let shown = b.find(&css).await.text().await.unwrap();
        assert_eq!(
            shown,
            p["card"]["header"]["title"]["content"].as_str().unwrap()
        );
        // The button opens the record in Mica.
        let href = b
            .find(&format!("{figure} a.card-button"))
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert!(href.starts_with("https://mica.example.com/"), "{href}");
        if redrawn == "yes" {
            let tag = b
                .find(&format!("{figure} figcaption"))
                .await
                .text()
                .await
                .unwrap();
            assert!(tag.contains("redrawn once"), "{tag}");
        }
    }
    // The approver's card shows its comment box and both buttons.
    let decision = "#gallery figure[data-type=pr_submitted][data-buttons=yes]";
    b.find(&format!("{decision} input.card-input")).await;
    let text = b.find(decision).await.text().await.unwrap();
    assert!(
        text.contains("Approve") && text.contains("Reject"),
        "{text}"
    );
    // Escaped markdown is shown as the reader sees it, not as character references.
    let body = b
        .find("#gallery figure[data-type=payment_pending][data-redrawn=no][data-buttons=no] .card-body")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("First instalment (50%)"), "{body}");
    assert!(!body.contains("&#"), "{body}");
    b.shot("08-preview-en").await;

    b.select("#preview-locale", "zh-CN").await;
    b.wait_text(
        "#gallery figure[data-type=pr_submitted][data-locale=zh-CN]",
        "采购",
    )
    .await;
    // The console's own language switches too.
    b.select("#language", "zh-CN").await;
    b.wait_text("header nav", "卡片预览").await;
    b.shot("09-preview-zh").await;
    assert!(sim.messages().is_empty(), "previewing sends nothing");
    b.close().await;
    h.host.stop().await;
}

/// The preview renderer decodes the plugin's character references once: an escaped reference
/// stays the text it was, and one beyond U+10FFFF (or a surrogate) shows as U+FFFD instead of
/// throwing and leaving the preview blank.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_renderer_survives_any_character_reference() {
    let h = fresh_host().await;
    let b = Browser::start().await;
    sign_in(&b, &h, "preview").await;
    let shown = b
        .eval(
            r#"return import("/admin/js/card.js").then((m) => m.renderCard({
                header: {title: {content: "t"}},
                body: {elements: [{tag: "markdown",
                    content: "Acme &#38;#x110000; &#1114112; &#xD800; &#38;#x3c;b&#38;#x3e; &#42;ok&#42; &amp;lt;"}]}
            }).querySelector(".card-body").textContent)"#,
        )
        .await;
    assert_eq!(
        shown.as_str().unwrap(),
        "Acme &#x110000; \u{fffd} \u{fffd} &#x3c;b&#x3e; *ok* &lt;"
    );
    b.close().await;
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_shown_with_its_error_and_retried_from_the_page() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    sim.with(|s| s.unreachable.insert("gone@example.com".into()));
    h.post_event(&event(
        "po_created",
        "evt-ui-1",
        vec![recipient("ok@example.com", "en-US")],
    ))
    .await;
    h.post_event(&event(
        "po_created",
        "evt-ui-2",
        vec![recipient("gone@example.com", "zh-CN")],
    ))
    .await;
    h.settled("evt-ui-1").await;
    let failed = h.settled("evt-ui-2").await;
    assert_eq!(failed[0]["status"], "failed");
    let id = failed[0]["id"].as_str().unwrap().to_string();

    let b = Browser::start().await;
    sign_in(&b, &h, "deliveries").await;
    let row = format!("#deliveries tr[data-id='{id}']");
    let text = b.wait_text(&row, "230013").await;
    assert!(text.to_lowercase().contains("failed"), "{text}");
    b.wait_text("#deliveries tr[data-status=sent]", "ok@example.com")
        .await;
    b.shot("10-deliveries-failed").await;

    // The person was added to the app's availability scope: retry from the page.
    sim.with(|s| s.unreachable.clear());
    b.click(&format!("{row} button[data-retry]")).await;
    b.wait_text("#deliveries-status", "1").await;
    let settled = h.settled("evt-ui-2").await;
    assert_eq!(settled[0]["status"], "sent");
    b.click("#page .toolbar button.secondary").await;
    b.find(&format!("#deliveries tr[data-id='{id}'][data-status=sent]"))
        .await;
    assert_eq!(sim.messages().len(), 2);
    b.shot("11-deliveries-retried").await;
    b.close().await;
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_are_uploaded_activated_and_rolled_back_from_the_page() {
    let sim = FeishuSim::start().await;
    let h = TestHost::start(&sim).await;
    let b = Browser::start().await;
    sign_in(&b, &h, "plugins").await;
    b.find("#plugins tr[data-plugin=feishu][data-active=true]")
        .await;
    let v1 = b
        .find("#plugins tr[data-active=true]")
        .await
        .attr("data-version")
        .await
        .unwrap()
        .unwrap();

    let v2 = fixture_wasm("fixture_feishu_v2").canonicalize().unwrap();
    b.find("#plugin-file")
        .await
        .send_keys(&v2.display().to_string())
        .await
        .unwrap();
    b.click("#plugin-activate").await;
    b.click("#page form.upload button[type=submit]").await;
    b.wait_text_within(
        "#plugins-status",
        "0.2.0-fixture",
        std::time::Duration::from_secs(120),
    )
    .await;
    b.find("#plugins tr[data-version='0.2.0-fixture'][data-active=true]")
        .await;
    b.shot("12-plugins-upgraded").await;
    let (_, listed) = h.get("/api/v1/admin/plugins").await;
    let active: Vec<_> = listed["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["active"] == true)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["version"], "0.2.0-fixture");

    b.click("#plugins tr[data-active=true] button").await;
    b.wait_text("#plugins-status", &v1).await;
    b.find(&format!(
        "#plugins tr[data-version='{v1}'][data-active=true]"
    ))
    .await;
    b.shot("13-plugins-rolled-back").await;
    b.close().await;
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_from_the_host_alone() {
    let h = fresh_host().await;
    let page = h
        .http
        .get(format!("{}/admin", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/admin/js/main.js"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing external: {html}"
    );
    let script = h
        .http
        .get(format!("{}/admin/js/card.js", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let missing = h
        .http
        .get(format!("{}/admin/js/nope.js", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // The API behind it still wants the token.
    let api = h
        .http
        .get(format!("{}/api/v1/admin/feishu/settings", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    h.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learned_feishu_accounts_are_listed_and_removed_from_the_page() {
    let h = fresh_host().await;
    let store = h.host.store.clone();
    store
        .learn_identity("li.lei@example.com", "ou_li", Some("on_li"), "dlv-1")
        .unwrap();
    store
        .learn_identity("han@example.com", "ou_han", None, "dlv-2")
        .unwrap();
    let b = Browser::start().await;
    sign_in(&b, &h, "identities").await;
    let row = "#identities tr[data-email='li.lei@example.com']";
    let text = b.wait_text(row, "ou_li").await;
    assert!(text.contains("on_li"), "{text}");
    b.wait_text("#identities tr[data-email='han@example.com']", "ou_han")
        .await;
    b.shot("14-identities").await;
    b.click(&format!("{row} button[data-remove]")).await;
    b.wait_text("#identities-status", "li.lei@example.com")
        .await;
    assert!(store.identity("li.lei@example.com").unwrap().is_none());
    assert!(store.identity("han@example.com").unwrap().is_some());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.find_all(row).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the removed row is still shown"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.close().await;
    h.host.stop().await;
}
