//! The hardened edge: whatever a hostile client sends — NUL and other control
//! characters, invalid UTF-8, huge strings, in path, query, headers or body;
//! bodies that are not JSON; duplicate keys; requests from other sites — gets a
//! 4xx JSON error with a stable code, never a 5xx, and changes nothing. Each
//! scenario runs on SQLite and on PostgreSQL.

mod common;

use axum::http::{HeaderValue, Method, StatusCode};
use base64::Engine;
use common::{Creds, Resp, TestApp, basic, unique_phone, user_body};
use proptest::strategy::{Strategy, ValueTree};
use serde_json::{Value, json};

on_both_databases!(
    nul_bytes_are_refused_before_the_database,
    control_characters_are_never_stored,
    invalid_utf8_anywhere_gets_the_json_error_shape,
    money_moves_only_on_json_sent_by_servers,
    parsing_is_strict,
    every_rejection_kind_answers_in_the_json_error_shape,
    every_route_refuses_hostile_strings_everywhere,
    money_routes_survive_arbitrary_bytes,
);

fn assert_error(r: &Resp, status: StatusCode, code: &str, what: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{what}: {}", String::from_utf8_lossy(&r.bytes));
    assert!(r.json["error"]["type"].is_string() && r.json["error"]["message"].is_string(), "{what}: {}", r.json);
}

fn json_header() -> (&'static str, HeaderValue) {
    ("content-type", HeaderValue::from_static("application/json"))
}

fn auth(creds: &Creds) -> (&'static str, HeaderValue) {
    ("authorization", HeaderValue::from_str(&basic(creds)).unwrap())
}

async fn nul_bytes_are_refused_before_the_database(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    t.refill(&app, 10_000).await;
    let hook = t.post(&app, "/v2/webhooks", json!({"url": "https://example.com/hooks"})).await.id();
    let before = t.snapshot().await;
    let operator = format!("Bearer {}", common::OPERATOR_KEY);
    let created = t.call(Method::POST, "/v2/apps", Some(&operator), &[], Some(r#"{"name":"a\u0000b"}"#)).await;
    assert_error(&created, StatusCode::UNPROCESSABLE_ENTITY, "invalid_string", "app name");
    assert_eq!(created.param(), "name");
    let bodies = [
        ("/v2/webhooks", json!({"url": "https://example.com/h", "description": "a\u{0}"}), "description"),
        ("/v2/flows", json!({"steps": ["payout_method"], "redirect_url": "https://x.io/\u{0}"}), "redirect_url"),
        ("/v2/flows", json!({"steps": ["payout_method"], "user_id": "usr_\u{0}"}), "user_id"),
        (
            "/v2/payouts",
            json!({"user_id": user, "amount": 100, "currency": "USD", "payout_method_id": "pm_\u{0}"}),
            "payout_method_id",
        ),
        ("/v2/payout-links", json!({"amount": 100, "currency": "USD", "user_id": "usr_\u{0}"}), "user_id"),
        (
            "/v2/transfers",
            json!({"type": "balance", "user_id": "usr_\u{0}", "amount": 1, "currency": "USD"}),
            "user_id",
        ),
    ];
    for (path, body, param) in bodies {
        let r = t.post(&app, path, body).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_string", path);
        assert_eq!(r.param(), param, "{path}");
    }
    for (method, path) in [
        (Method::GET, "/v2/flows/%00"),
        (Method::GET, "/v2/webhooks/%00"),
        (Method::GET, "/v2/events/%00"),
        (Method::GET, "/v2/users/usr_%00"),
        (Method::GET, "/v2/transfers/tr_%00"),
        (Method::GET, "/v2/payout-links/%00"),
        (Method::GET, "/v2/webhooks/%00/deliveries"),
        (Method::POST, "/v2/webhooks/%00/rotate-secret"),
        (Method::POST, "/v2/webhooks/%00/enable"),
        (Method::POST, "/v2/webhooks/%00/disable"),
        (Method::POST, "/v2/events/%00/redeliver"),
        (Method::POST, "/v2/transfers/%00/cancel"),
        (Method::DELETE, "/v2/webhooks/%00"),
        (Method::DELETE, "/v2/users/%00/payout-methods/pm_x"),
    ] {
        let body = (method != Method::GET).then_some("{}");
        let r = t.call(method, path, Some(&basic(&app)), &[], body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.json);
        assert!(r.code().ends_with("not_found"), "{path}: {}", r.json);
    }
    for path in [
        "/v2/users?starting_after=%00".to_string(),
        "/v2/transfers?starting_after=%00".into(),
        "/v2/transactions?starting_after=%00".into(),
        "/v2/payout-links?starting_after=%00".into(),
        "/v2/events?starting_after=%00".into(),
        format!("/v2/webhooks/{hook}/deliveries?starting_after=%00"),
        "/v2/transactions?transfer_id=%00".into(),
        "/v2/events?type=%00".into(),
        "/v2/dev/sms?phone_number=%00".into(),
    ] {
        let r = t.get(&app, &path).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_string", &path);
    }
    // Before authentication: a NUL inside Basic credentials is just wrong credentials.
    for raw in ["ci_\0:sk_x", "ci_x:sk_\0", "\0:\0"] {
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
        let r = t.call(Method::GET, "/v2/users", Some(&header), &[], None).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_credentials", raw);
    }
    assert_eq!(t.snapshot().await, before);
}

async fn control_characters_are_never_stored(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    let settings_before = t.get(&app, "/v2/apps/me/settings").await.json;
    let compliance_before = t.get(&app, &format!("/v2/users/{user}/compliance")).await.json;
    let before = t.snapshot().await;
    let address = |line1: &str, city: &str| json!({"address": {"line1": line1, "city": city, "postal_code": "10001", "country": "US", "state": "NY"}});
    let cases = [
        ("/v2/apps/me/settings", json!({"brand": {"name": "a\u{0}b"}}), "brand.name"),
        ("/v2/apps/me/settings", json!({"brand": {"name": "Tab\tbed"}}), "brand.name"),
        ("/v2/apps/me/settings", json!({"allowed_origins": ["https://a.io\u{85}"]}), "allowed_origins[0]"),
        (&format!("/v2/users/{user}/compliance"), address("1 A\u{0}St", "X"), "address.line1"),
        (&format!("/v2/users/{user}/compliance"), address("1 A St", "X\u{7}"), "address.city"),
        (&format!("/v2/users/{user}/compliance"), json!({"legal_first_name": "Ada\u{1b}[31m"}), "legal_first_name"),
    ];
    for (path, body, param) in cases {
        let r = t.call(Method::PUT, path, Some(&basic(&app)), &[], Some(&body.to_string())).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_string", path);
        assert_eq!(r.param(), param, "{body}");
    }
    let user_with = |field: &str, value: &str| {
        let mut body = user_body(&unique_phone());
        body[field] = json!(value);
        body
    };
    for (field, value) in [("first_name", "A\u{0}"), ("last_name", "B\u{9f}"), ("email", "a@example.com\n")] {
        let r = t.post(&app, "/v2/users", user_with(field, value)).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_string", field);
    }
    assert_eq!(t.get(&app, "/v2/apps/me/settings").await.json, settings_before);
    assert_eq!(t.get(&app, &format!("/v2/users/{user}/compliance")).await.json, compliance_before);
    assert_eq!(t.snapshot().await, before);
}

async fn invalid_utf8_anywhere_gets_the_json_error_shape(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    let hook = t.post(&app, "/v2/webhooks", json!({"url": "https://example.com/hooks"})).await.id();
    let before = t.snapshot().await;
    for (method, path) in [
        (Method::GET, "/v2/webhooks/%FF%FE/deliveries".to_string()),
        (Method::DELETE, format!("/v2/users/{user}/payout-methods/%FF%FE")),
        (Method::DELETE, "/v2/users/%C3%28/payout-methods/pm_x".into()),
        (Method::GET, "/v2/users/%ED%A0%80".into()),
        (Method::GET, "/v2/%FF".into()),
    ] {
        let r = t.call(method, &path, Some(&basic(&app)), &[], None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", String::from_utf8_lossy(&r.bytes));
        assert!(r.json["error"]["code"].as_str().is_some_and(|c| c.ends_with("not_found")), "{path}");
    }
    for path in ["/v2/users?starting_after=%FF%FE".to_string(), format!("/v2/webhooks/{hook}/deliveries?limit=%FF")] {
        let r = t.get(&app, &path).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_query", &path);
    }
    let r = t.call_raw(Method::POST, "/v2/refills", &[auth(&app), json_header()], b"{\"amount\":\xff}".to_vec()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json", "body");
    let r = t
        .call_raw(
            Method::POST,
            "/v2/refills",
            &[auth(&app), json_header(), ("idempotency-key", HeaderValue::from_bytes(b"k\xff").unwrap())],
            br#"{"amount":100,"currency":"USD"}"#.to_vec(),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_header", "idempotency key");
    let r = t
        .call_raw(
            Method::GET,
            "/v2/users",
            &[("authorization", HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap())],
            vec![],
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_header", "authorization");
    assert_eq!(t.snapshot().await, before);
}

async fn money_moves_only_on_json_sent_by_servers(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    t.refill(&app, 10_000).await;
    t.transfer(&app, "balance", &user, 5_000).await;
    let rules =
        t.call(Method::PUT, "/v2/apps/me/rules", Some(&basic(&app)), &[], Some(r#"{"review_threshold":1000}"#)).await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.json);
    let flagged = t.post(&app, "/v2/payouts", json!({"user_id": user, "amount": 2_000, "currency": "USD"})).await;
    assert_eq!(flagged.json["status"], "flagged", "{}", flagged.json);
    let before = t.snapshot().await;
    let refill = br#"{"amount":5000,"currency":"USD"}"#.to_vec();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonx"),
        None,
    ] {
        let mut headers = vec![auth(&app)];
        if let Some(ct) = content_type {
            headers.push(("content-type", HeaderValue::from_static(ct)));
        }
        let r = t.call_raw(Method::POST, "/v2/refills", &headers, refill.clone()).await;
        assert_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", &format!("{content_type:?}"));
    }
    // A body-less action a cross-site form could send: refused when a browser
    // says the request comes from elsewhere, whatever the body.
    let approve = format!("/v2/transfers/{}/approve", flagged.id());
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", "http://127.0.0.1:8080.evil.example"),
    ] {
        let r =
            t.call_raw(Method::POST, &approve, &[auth(&app), (name, HeaderValue::from_static(value))], vec![]).await;
        assert_error(&r, StatusCode::FORBIDDEN, "cross_site_request", value);
        let r =
            t.call_raw(Method::GET, "/v2/users", &[auth(&app), (name, HeaderValue::from_static(value))], vec![]).await;
        assert_error(&r, StatusCode::FORBIDDEN, "cross_site_request", value);
    }
    assert_eq!(t.snapshot().await, before, "nothing moved");
    // This server's own pages, and clients that send neither header, still work.
    let own = HeaderValue::from_str(&t.state.services.public_url).unwrap();
    let r = t.call_raw(Method::POST, &approve, &[auth(&app), ("origin", own)], vec![]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let charset = ("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
    let r = t.call_raw(Method::POST, "/v2/refills", &[auth(&app), charset], refill).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
}

async fn parsing_is_strict(t: TestApp) {
    let app = t.create_app("Acme").await;
    let before = t.snapshot().await;
    let r = t.post_raw(&app, "/v2/refills", r#"{"amount":1,"amount":5000,"currency":"USD"}"#).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "duplicate_field", "duplicate amount");
    assert_eq!(r.param(), "amount");
    let r = t.post_raw(&app, "/v2/users", r#"{"first_name":"A","first_name":"B","last_name":"C"}"#).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "duplicate_field", "duplicate name");
    for email in ["<a>@example.com", "<script>@example.com", "a\"b@example.com", "a@example..com"] {
        let mut body = user_body(&unique_phone());
        body["email"] = json!(email);
        let r = t.post(&app, "/v2/users", body).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email", email);
    }
    for phone in ["++14155552671", "+1 415 555 267l", "+1-800-FLOWERS", "+1 415 555 2671 ext 9"] {
        let r = t.post(&app, "/v2/users", user_body(phone)).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone_number", phone);
    }
    assert_eq!(t.snapshot().await, before);
}

/// (method, path, headers, body, expected status, expected code)
type RejectionCase<'a> = (Method, &'a str, Vec<(&'a str, HeaderValue)>, Vec<u8>, StatusCode, &'a str);

/// (where, uri, headers, body, whether an API route must refuse it)
type Attempt<'a> = (String, String, Vec<(&'a str, HeaderValue)>, Vec<u8>, bool);

async fn every_rejection_kind_answers_in_the_json_error_shape(t: TestApp) {
    let app = t.create_app("Acme").await;
    let a = auth(&app);
    let cases: Vec<RejectionCase> = vec![
        (Method::GET, "/v2/nothing", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "route_not_found"),
        (Method::PATCH, "/v2/users", vec![a.clone()], vec![], StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (Method::GET, "/v2/users/%FF", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "user_not_found"),
        // A path id of the wrong kind or shape is that object's 404 (typed path ids).
        (Method::GET, "/v2/users/tr_1", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "user_not_found"),
        (Method::GET, "/v2/transfers/usr_1", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "transfer_not_found"),
        (Method::GET, "/v2/transactions/tr_1", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "transaction_not_found"),
        (
            Method::GET,
            "/v2/payout-links/pl_%20",
            vec![a.clone()],
            vec![],
            StatusCode::NOT_FOUND,
            "payout_link_not_found",
        ),
        (Method::GET, "/v2/flows/pl_1", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "flow_not_found"),
        (Method::GET, "/v2/webhooks/evt_1", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "webhook_not_found"),
        (Method::GET, "/v2/events/we_1", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "event_not_found"),
        (Method::GET, "/v2/users/usr_%FF/compliance", vec![a.clone()], vec![], StatusCode::NOT_FOUND, "user_not_found"),
        (
            Method::DELETE,
            "/v2/users/usr_1/payout-methods/usr_1",
            vec![a.clone()],
            vec![],
            StatusCode::NOT_FOUND,
            "payout_method_not_found",
        ),
        (Method::GET, "/v2/users?limit=many", vec![a.clone()], vec![], StatusCode::BAD_REQUEST, "invalid_query"),
        (Method::GET, "/v2/users?%ZZ=1&=&&", vec![a.clone()], vec![], StatusCode::BAD_REQUEST, "unknown_parameter"),
        (
            Method::GET,
            "/v2/dev/sms?phone_number=1&phone_number=2",
            vec![a.clone()],
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            Method::POST,
            "/v2/refills",
            vec![a.clone(), json_header()],
            b"{".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Method::POST,
            "/v2/refills",
            vec![a.clone(), json_header()],
            b"[1]".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v2/refills",
            vec![a.clone(), json_header()],
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "missing_field",
        ),
        (
            Method::POST,
            "/v2/refills",
            vec![a.clone(), json_header()],
            br#"{"amount":1,"currency":"USD","x":1}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            Method::POST,
            "/v2/refills",
            vec![a.clone(), json_header()],
            vec![b' '; 70_000].into_iter().chain(*b"{}").collect(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            Method::POST,
            "/v2/refills",
            vec![a.clone()],
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (Method::GET, "/v2/users", vec![], vec![], StatusCode::UNAUTHORIZED, "missing_credentials"),
        (Method::GET, "/flow/v1/session", vec![], vec![], StatusCode::UNAUTHORIZED, "missing_session"),
        (Method::GET, "/flow/%FF?origin=%00", vec![], vec![], StatusCode::UNPROCESSABLE_ENTITY, "invalid_string"),
        (Method::GET, "/flow/x?origin=a&origin=b", vec![], vec![], StatusCode::BAD_REQUEST, "invalid_query"),
    ];
    for (method, path, headers, body, status, code) in cases {
        let r = t.call_raw(method.clone(), path, &headers, body).await;
        assert_error(&r, status, code, &format!("{method} {path}"));
        assert_eq!(r.headers["content-type"], "application/json", "{method} {path}");
    }
}

/// The bad values every string place gets: NUL, other C0 controls, a C1 control,
/// invalid UTF-8 and a 100 KB string. Each is (name, raw bytes).
fn hostile_values() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("NUL", b"a\0b".to_vec()),
        ("C0", b"\x01\x07\x1b[31m".to_vec()),
        ("C1", "x\u{85}y".as_bytes().to_vec()),
        ("invalid UTF-8", b"\xff\xfe\xc3\x28".to_vec()),
        ("100 KB", vec![b'x'; 100_000]),
    ]
}

fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| if b.is_ascii_alphanumeric() { (*b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A JSON body whose string `field` holds `bad` bytes, spliced in raw (invalid
/// UTF-8 stays invalid; control characters stay raw, as a hostile client sends them).
fn body_with(example: &Value, field: &str, bad: &[u8]) -> Vec<u8> {
    let marker = "\u{2603}MARKER\u{2603}";
    let mut body = example.clone();
    body[field] = json!(marker);
    let text = body.to_string();
    let (before, after) = text.split_once(marker).expect("marker");
    [before.as_bytes(), bad, after.as_bytes()].concat()
}

/// A valid example body for each route that takes one, by method and path
/// template; the walk fails when a route is missing here, so a new route must
/// bring its example.
fn example_body(method: &Method, path: &str, user: &str) -> Option<Value> {
    let v = match (method.as_str(), path) {
        ("POST", "/v2/apps") => json!({"name": "Acme"}),
        ("PUT", "/v2/apps/me/rules") => json!({"review_threshold": 1000}),
        ("PUT", "/v2/apps/{id}/fees") => json!({"fixed": 25, "bps": 100}),
        ("POST", "/v2/apps/{id}/invitations") => json!({"email": "ada@example.com", "role": "owner"}),
        ("POST", "/dashboard/api/invitations/accept") => json!({"token": "dmi_x", "password": "a long passphrase"}),
        ("POST", "/dashboard/api/sign-in") => json!({"email": "ada@example.com", "password": "a long passphrase"}),
        ("POST", "/dashboard/api/sign-out" | "/dashboard/api/two-factor") => json!({}),
        ("POST", "/dashboard/api/operator/sign-in") => json!({"operator_key": "not the key"}),
        ("POST", "/dashboard/api/operator/sign-out") => json!({}),
        ("POST", "/v2/apps/{id}/suspend") => json!({"reason": "An unpaid invoice"}),
        ("POST", "/v2/apps/{id}/resume") => json!({}),
        ("POST", "/v2/ach/cutoff" | "/v2/ach/files/{id}/settle") => json!({}),
        ("PUT", "/v2/apps/{id}/funding-account") => {
            json!({"routing_number": "011000015", "account_number": "000123456789", "holder_name": "Acme Inc"})
        }
        ("POST", "/rails/paypal/webhook") => {
            json!({"event_type": "PAYMENT.PAYOUTS-ITEM.REFUNDED", "resource": {"payout_batch_id": "5UXD2E8A7EBQJ"}})
        }
        ("POST", "/v2/ach/returns") => json!({"lines": ["101 091000019 1234567890"]}),
        ("POST", "/dashboard/api/two-factor/confirm") => json!({"code": "123456"}),
        ("POST", "/dashboard/api/password-reset") => json!({"email": "ada@example.com"}),
        ("POST", "/dashboard/api/password-reset/confirm") => json!({"token": "dmr_x", "password": "a long passphrase"}),
        ("POST", "/v2/members/invitations") => json!({"email": "ada@example.com", "role": "viewer"}),
        ("PUT", "/v2/members/{id}") => json!({"role": "viewer"}),
        ("DELETE", "/v2/members/{id}") => json!({}),
        ("POST", "/v2/apps/me/secret/rotate") => json!({"grace_seconds": 60}),
        ("PUT", "/v2/apps/me/settings") => json!({"brand": {"name": "Acme"}, "allowed_origins": ["https://a.io"]}),
        ("POST", "/v2/users") => user_body("+12015550999"),
        ("PATCH", "/v2/users/{id}") => json!({"first_name": "Augusta"}),
        ("POST", "/v2/users/{id}/verification") => json!({}),
        ("POST", "/v2/users/{id}/verification/check") => json!({"code": "123456"}),
        ("PUT", "/v2/users/{id}/compliance") | ("PUT", "/flow/v1/compliance") => {
            json!({"legal_first_name": "Ada", "legal_last_name": "Lovelace"})
        }
        ("POST", "/v2/users/{id}/payout-methods") | ("POST", "/flow/v1/payout-methods") => {
            json!({"type": "paypal", "email": "ada@example.com"})
        }
        ("DELETE", "/v2/users/{id}/payout-methods/{pm}") => json!({}),
        ("POST", "/v2/users/{id}/payout-methods/{pm}/default") => json!({}),
        ("POST", "/v2/payout-links") => json!({"amount": 100, "currency": "USD", "email": "ada@example.com"}),
        ("POST", "/v2/payout-links/{id}/cancel") => json!({}),
        ("POST", "/v2/payout-links/{id}/send") => json!({"method": "sms"}),
        ("POST", "/flow/v1/payout") => json!({"payout_method_id": "pm_1"}),
        ("POST", "/v2/payout-batches") => {
            json!({"items": [{"amount": 100, "currency": "USD", "phone_number": "+12015550123"}]})
        }
        ("POST", "/v2/transfers/{id}/reverse") => json!({"reason": "sent twice"}),
        ("POST", "/v2/dev/payouts/{id}/return") => json!({}),
        ("POST", "/v2/flows") => json!({"steps": ["payout_method"], "user_id": user}),
        ("POST", "/v2/flows/{id}/revoke") => json!({}),
        ("POST", "/flow/v1/sessions") => json!({"link_token": "plt_x"}),
        ("POST", "/flow/v1/verification") => json!({"phone_number": "+12015550998"}),
        ("POST", "/flow/v1/verification/check") => json!({"code": "123456"}),
        ("POST", "/flow/v1/claim" | "/flow/v1/payout-link/resend") => json!({"payout_method_id": "pm_x"}),
        ("POST", "/flow/v1/complete") => json!({}),
        ("POST", "/v2/webhooks") => json!({"url": "https://example.com/h", "description": "x"}),
        ("DELETE", "/v2/webhooks/{id}") => json!({}),
        ("POST", "/v2/webhooks/{id}/rotate-secret") => json!({"overlap_seconds": 60}),
        ("POST", "/v2/webhooks/{id}/enable" | "/v2/webhooks/{id}/disable") => json!({}),
        ("POST", "/v2/events/{id}/redeliver") => json!({}),
        ("POST", "/v2/refills") => json!({"amount": 100, "currency": "USD"}),
        ("POST", "/v2/transfers") => json!({"type": "balance", "user_id": user, "amount": 1, "currency": "USD"}),
        ("POST", "/v2/transfers/{id}/cancel" | "/v2/transfers/{id}/approve" | "/v2/transfers/{id}/deny") => json!({}),
        ("POST", "/v2/payouts") => json!({"user_id": user, "amount": 1, "currency": "USD"}),
        _ => return None,
    };
    Some(v)
}

async fn every_route_refuses_hostile_strings_everywhere(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    t.refill(&app, 10_000).await;
    let flow = t.post(&app, "/v2/flows", json!({"steps": ["payout_method"], "user_id": user})).await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.json);
    let session = format!("Bearer {}", flow.json["token"].as_str().unwrap());
    let operator = format!("Bearer {}", common::OPERATOR_KEY);
    let before = t.snapshot().await;
    let routes = dots_server::http::routes();
    assert!(routes.len() > 40, "the table holds every route");
    let mut requests = 0;
    for route in &routes {
        let path = route.path;
        let method = &route.method;
        let credentials = if path == "/v2/apps"
            || path.starts_with("/v2/apps/{id}")
            || path.starts_with("/v2/operator/")
            || path.starts_with("/v2/ach/")
        {
            operator.clone()
        } else if path.starts_with("/flow/v1/") {
            session.clone()
        } else {
            basic(&app)
        };
        let mutating = matches!(method.as_str(), "POST" | "PUT" | "DELETE");
        let example = if mutating {
            let example = example_body(method, path, &user);
            assert!(example.is_some(), "{method} {path} needs an example body in this test");
            example
        } else {
            None
        };
        let params: Vec<&str> = path.split('/').filter(|s| s.starts_with('{')).collect();
        let fill = |bad_param: Option<(&str, &str)>| {
            let mut filled = path.to_string();
            for p in &params {
                let value = match bad_param {
                    Some((name, value)) if name == *p => value.to_string(),
                    _ => "x_1".to_string(),
                };
                filled = filled.replace(p, &value);
            }
            filled
        };
        for (name, bad) in hostile_values() {
            // A URI holds at most ~64 KB (longer ones never reach a router: the
            // HTTP layer refuses them), so the big string is 60 KB there.
            let encoded = percent_encode(&bad[..bad.len().min(60_000)]);
            let base_headers = |ct: bool| {
                let mut h = vec![("authorization", HeaderValue::from_str(&credentials).unwrap())];
                if ct {
                    h.push(json_header());
                }
                h
            };
            let body = example.as_ref().map(|e| e.to_string().into_bytes()).unwrap_or_default();
            // (where, uri, headers, body, whether an API route must refuse it)
            let api = path.starts_with("/v2/") || path.starts_with("/flow/v1/");
            let mut attempts: Vec<Attempt> = Vec::new();
            for p in &params {
                // An unusable id is an id that does not exist: lists of it may be empty.
                attempts.push((
                    format!("path {p}"),
                    fill(Some((p, &encoded))),
                    base_headers(mutating),
                    body.clone(),
                    false,
                ));
            }
            attempts.push((
                "query".into(),
                format!("{}?starting_after={encoded}", fill(None)),
                base_headers(mutating),
                body.clone(),
                api,
            ));
            match HeaderValue::from_bytes(&bad) {
                Ok(raw) => {
                    for header in ["idempotency-key", "origin", "content-type"] {
                        let mut headers = base_headers(false);
                        headers.push((header, raw.clone()));
                        attempts.push((format!("{header} header"), fill(None), headers, body.clone(), api));
                    }
                    let mut bad_auth = base_headers(mutating);
                    bad_auth[0].1 = raw;
                    attempts.push(("authorization header".into(), fill(None), bad_auth, body.clone(), api));
                }
                Err(_) => {
                    // NUL and C0 bytes cannot travel in a header: hide them in Basic credentials.
                    let hidden =
                        base64::engine::general_purpose::STANDARD.encode([b"ci_".as_slice(), &bad, b":sk"].concat());
                    let mut bad_auth = base_headers(mutating);
                    bad_auth[0].1 = HeaderValue::from_str(&format!("Basic {hidden}")).unwrap();
                    attempts.push(("authorization header".into(), fill(None), bad_auth, body.clone(), api));
                }
            }
            if let Some(example) = &example
                && let Some(object) = example.as_object()
            {
                let fields: Vec<String> =
                    if object.is_empty() { vec!["extra".into()] } else { object.keys().cloned().collect() };
                for field in fields {
                    let place = format!("body field {field}");
                    attempts.push((place, fill(None), base_headers(true), body_with(example, &field, &bad), true));
                }
            }
            for (place, uri, headers, body, must_refuse) in attempts {
                requests += 1;
                let r = t.call_raw(method.clone(), &uri, &headers, body).await;
                let what = format!("{method} {path}, {name} in {place}");
                let shown = String::from_utf8_lossy(&r.bytes[..r.bytes.len().min(300)]).into_owned();
                assert!(!r.status.is_server_error(), "{what}: {} {shown}", r.status);
                if must_refuse {
                    assert!(r.status.is_client_error(), "{what}: {} {shown}", r.status);
                }
                if api && !r.status.is_success() {
                    assert!(r.json["error"]["code"].is_string(), "{what}: {shown}");
                }
            }
        }
    }
    assert!(requests > 1000, "{requests} requests");
    assert_eq!(t.snapshot().await, before, "no hostile request changed anything");
}

/// Arbitrary bytes, and JSON bodies with one byte changed, at the money routes:
/// never a 5xx, and a refused request changes nothing.
async fn money_routes_survive_arbitrary_bytes(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    t.refill(&app, 1_000_000).await;
    let valid = [
        ("/v2/refills", json!({"amount": 100, "currency": "USD"}).to_string()),
        ("/v2/transfers", json!({"type": "balance", "user_id": user, "amount": 1, "currency": "USD"}).to_string()),
        ("/v2/payouts", json!({"user_id": user, "amount": 1, "currency": "USD"}).to_string()),
        ("/v2/payout-links", json!({"amount": 100, "currency": "USD", "email": "a@example.com"}).to_string()),
    ];
    let bytes = proptest::collection::vec(proptest::num::u8::ANY, 0..200);
    let edit = (proptest::num::usize::ANY, proptest::num::u8::ANY, 0..3usize);
    let mut runner = proptest::test_runner::TestRunner::default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut cases = 0;
    while cases < 800 && std::time::Instant::now() < deadline {
        cases += 1;
        let (path, example) = &valid[cases % valid.len()];
        let body: Vec<u8> = if cases % 3 == 0 {
            bytes.new_tree(&mut runner).unwrap().current()
        } else {
            let (at, byte, how) = edit.new_tree(&mut runner).unwrap().current();
            let mut body = example.clone().into_bytes();
            let at = at % (body.len() + 1);
            match how {
                0 => body.insert(at, byte),
                1 if at < body.len() => body[at] = byte,
                _ if at < body.len() => {
                    body.remove(at);
                }
                _ => body.push(byte),
            }
            body
        };
        let before = t.snapshot().await;
        let r = t.call_raw(Method::POST, path, &[auth(&app), json_header()], body.clone()).await;
        assert!(
            r.status.is_success() || r.status.is_client_error(),
            "{path} {:?}: {} {}",
            String::from_utf8_lossy(&body),
            r.status,
            String::from_utf8_lossy(&r.bytes)
        );
        if !r.status.is_success() {
            assert!(r.json["error"]["code"].is_string(), "{path} {:?}: {}", String::from_utf8_lossy(&body), r.json);
            assert_eq!(
                t.snapshot().await,
                before,
                "{path} {:?} was refused but changed something",
                String::from_utf8_lossy(&body)
            );
        }
    }
    assert!(cases >= 100, "only {cases} cases ran in the time bound");
}
