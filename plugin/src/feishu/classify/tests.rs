use super::*;

fn resp(status: u16, body: &str, headers: &[(&str, &str)]) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

fn error(r: &HttpResponse) -> PluginError {
    match classify(r, "im:message:send_as_bot") {
        Err(Rejection::Error(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn success_returns_body_and_log_id() {
    let r = resp(
        200,
        r#"{"code":0,"msg":"success","data":{"message_id":"om_1"}}"#,
        &[("X-Tt-Logid", "log-1")],
    );
    let reply = classify(&r, "").unwrap();
    assert_eq!(reply.body["data"]["message_id"], "om_1");
    assert_eq!(reply.log_id.as_deref(), Some("log-1"));
}

#[test]
fn token_codes_ask_for_a_refetch() {
    for code in [99991661, 99991663, 99991671] {
        let r = resp(400, &format!(r#"{{"code":{code},"msg":"bad token"}}"#), &[]);
        assert!(
            matches!(classify(&r, ""), Err(Rejection::TokenInvalid(f)) if f.remote_code == Some(code))
        );
    }
}

#[test]
fn rate_limits_carry_the_reset_delay() {
    let r = resp(
        429,
        r#"{"code":99991400,"msg":"request trigger frequency limit"}"#,
        &[("x-ogw-ratelimit-reset", "3")],
    );
    assert!(matches!(
        error(&r),
        PluginError::RateLimited {
            retry_after_ms: 3000,
            ..
        }
    ));
    let r = resp(400, r#"{"code":230020,"msg":"frequency"}"#, &[]);
    assert!(matches!(
        error(&r),
        PluginError::RateLimited {
            retry_after_ms: DEFAULT_RATE_LIMIT_DELAY_MS,
            ..
        }
    ));
    let r = resp(429, "", &[]);
    assert!(matches!(error(&r), PluginError::RateLimited { .. }));
    for huge in ["1e30", "99999999999", "inf"] {
        let r = resp(429, "", &[("x-ogw-ratelimit-reset", huge)]);
        let PluginError::RateLimited { retry_after_ms, .. } = error(&r) else {
            panic!("{huge}: not rate limited")
        };
        assert!(
            retry_after_ms <= MAX_RATE_LIMIT_DELAY_MS,
            "{huge}: {retry_after_ms}"
        );
    }
}

#[test]
fn unreachable_users_are_permanent_with_a_reason() {
    for (code, words) in [
        (230013, "availability scope"),
        (230029, "resigned"),
        (230053, "stopped the bot"),
    ] {
        let r = resp(
            400,
            &format!(r#"{{"code":{code},"msg":"x"}}"#),
            &[("x-tt-logid", "L")],
        );
        match error(&r) {
            PluginError::Permanent(f) => {
                assert!(f.message.contains(words), "{}", f.message);
                assert_eq!(f.remote_code, Some(code));
                assert_eq!(f.log_id.as_deref(), Some("L"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn missing_scope_is_named() {
    let r = resp(
        400,
        r#"{"code":99991672,"msg":"Access denied. One of the following scopes is required: [im:message, im:message:send_as_bot]."}"#,
        &[],
    );
    match error(&r) {
        PluginError::Permanent(f) => {
            assert!(
                f.message.contains("[im:message, im:message:send_as_bot]"),
                "{}",
                f.message
            )
        }
        other => panic!("{other:?}"),
    }
    let r = resp(400, r#"{"code":99991672,"msg":"Access denied"}"#, &[]);
    assert!(
        matches!(error(&r), PluginError::Permanent(f) if f.message.contains("im:message:send_as_bot"))
    );
}

#[test]
fn server_errors_and_garbage_are_transient() {
    assert!(matches!(
        error(&resp(502, "bad gateway", &[])),
        PluginError::Transient(_)
    ));
    assert!(matches!(
        error(&resp(200, "<html>", &[])),
        PluginError::Transient(_)
    ));
    assert!(matches!(
        error(&resp(500, r#"{"code":1395001,"msg":"server error"}"#, &[])),
        PluginError::Transient(_)
    ));
}

#[test]
fn a_5xx_or_408_is_transient_whatever_unknown_code_it_carries() {
    for (status, body) in [
        (500, r#"{"code":1,"msg":"internal error"}"#),
        (503, r#"{"code":0,"msg":""}"#),
        (502, r#"{"code":-1}"#),
        (408, r#"{"code":77,"msg":"timeout"}"#),
    ] {
        let e = error(&resp(status, body, &[]));
        assert!(
            matches!(&e, PluginError::Transient(_)),
            "{status} {body}: {e:?}"
        );
    }
    // A known permanent code stays permanent even on a 5xx.
    let e = error(&resp(
        500,
        r#"{"code":99991672,"msg":"scope required: im:message"}"#,
        &[],
    ));
    assert!(matches!(e, PluginError::Permanent(_)), "{e:?}");
    // An unknown code on a 4xx is permanent and names the code.
    let e = error(&resp(400, r#"{"code":4242,"msg":"something new"}"#, &[]));
    assert!(
        matches!(&e, PluginError::Permanent(f) if f.message.contains("4242")),
        "{e:?}"
    );
}

#[test]
fn bad_credentials_are_unauthorized() {
    let r = resp(400, r#"{"code":10014,"msg":"app secret invalid"}"#, &[]);
    assert!(matches!(error(&r), PluginError::Unauthorized(f) if f.message.contains("App Secret")));
}

#[test]
fn transport_failures() {
    assert!(matches!(
        transport(&TransportError::Timeout("t".into())),
        PluginError::Transient(_)
    ));
    assert!(matches!(
        transport(&TransportError::Denied("d".into())),
        PluginError::Permanent(_)
    ));
}

/// An answer whose data is read for one field only.
type Narrow = Answer<NarrowData>;

#[derive(serde::Deserialize, Debug)]
struct NarrowData {
    message_id: String,
}

#[test]
fn a_typed_answer_skips_what_it_does_not_name() {
    let r = resp(
        200,
        r#"{"code":0,"msg":"success","data":{"message_id":"om_1","body":{"content":"{\"a\":[1,2]}"}}}"#,
        &[("X-Tt-Logid", "log-1")],
    );
    let reply = classify_as::<Narrow>(&r, "").unwrap();
    assert_eq!(reply.body.data.unwrap().message_id, "om_1");
    assert_eq!(reply.log_id.as_deref(), Some("log-1"));
}

#[test]
fn a_typed_answer_of_another_shape_is_classified_by_its_envelope() {
    // An error whose data is not what a success carries: still the error it is.
    let r = resp(
        400,
        r#"{"code":230013,"msg":"no availability","data":[]}"#,
        &[],
    );
    assert!(matches!(
        classify_as::<Narrow>(&r, ""),
        Err(Rejection::Error(PluginError::Permanent(f))) if f.remote_code == Some(230013)
    ));
    // A success that cannot be read is worth another try, not a silent success.
    let r = resp(
        200,
        r#"{"code":0,"msg":"success","data":{"message_id":7}}"#,
        &[],
    );
    assert!(matches!(
        classify_as::<Narrow>(&r, ""),
        Err(Rejection::Error(PluginError::Transient(f))) if f.message.contains("could not be read")
    ));
    // Not JSON at all: as with an untyped read.
    let r = resp(502, "<html>bad gateway</html>", &[]);
    assert!(matches!(
        classify_as::<Narrow>(&r, ""),
        Err(Rejection::Error(PluginError::Transient(_)))
    ));
}

#[test]
fn a_gateways_bare_401_asks_for_fresh_credentials_and_a_bare_403_is_retried() {
    for body in ["", "<html>401 Authorization Required</html>"] {
        assert!(
            matches!(
                classify(&resp(401, body, &[]), ""),
                Err(Rejection::TokenInvalid(_))
            ),
            "{body:?}"
        );
        assert!(
            matches!(error(&resp(403, body, &[])), PluginError::Transient(_)),
            "{body:?}"
        );
    }
    // Feishu's own 401 or 403 says why, and is judged by its code.
    let scope = resp(
        403,
        r#"{"code":99991672,"msg":"Access denied. One of the following scopes is required: [im:message]"}"#,
        &[],
    );
    assert!(matches!(error(&scope), PluginError::Permanent(_)));
}
