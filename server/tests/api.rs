//! Every endpoint over HTTP, with the bad input each one must refuse without
//! changing anything. Each scenario runs on SQLite and on PostgreSQL.

mod common;

use axum::http::{Method, StatusCode};
use common::{Creds, TestApp, basic, unique_phone, user_body};
use serde_json::{Value, json};

on_both_databases!(
    health_reports_the_database,
    operator_creates_apps_and_the_secret_is_shown_once,
    requests_without_valid_credentials_are_refused,
    users_are_created_read_and_listed,
    bad_user_input_is_refused_and_changes_nothing,
    bad_amounts_and_currencies_are_refused_and_change_nothing,
    bad_transfers_are_refused_and_change_nothing,
    balance_transfers_move_money_both_ways,
    payouts_reserve_funds_and_cancel_releases_them,
    apps_cannot_see_or_touch_each_others_objects,
    lists_page_newest_first_and_filter,
    bad_list_queries_are_refused,
    idempotency_keys_replay_the_first_answer,
    unknown_routes_and_methods_answer_json,
    ledger_rows_cannot_be_edited,
    ledger_check_finds_a_tampered_balance,
    app_settings_hold_embedding_origins_and_brand,
);

async fn assert_refused(t: &TestApp, r: common::Resp, status: StatusCode, code: &str, param: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.code(), code, "{}", r.json);
    if let Some(param) = param {
        assert_eq!(r.param(), param, "{}", r.json);
    }
    let kind = r.json["error"]["type"].as_str().unwrap_or("");
    assert!(!kind.is_empty() && !r.json["error"]["message"].as_str().unwrap_or("").is_empty(), "{}", r.json);
    let _ = t;
}

async fn health_reports_the_database(t: TestApp) {
    let r = t.call(Method::GET, "/health", None, &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json, json!({"status": "ok", "database": "ok"}));
    assert!(r.headers.contains_key("x-request-id"), "every response carries its request id");
}

async fn operator_creates_apps_and_the_secret_is_shown_once(t: TestApp) {
    let body = r#"{"name":"Acme","currency":"EUR"}"#;
    let no_key = t.call(Method::POST, "/v2/apps", None, &[], Some(body)).await;
    assert_refused(&t, no_key, StatusCode::UNAUTHORIZED, "missing_credentials", None).await;
    let wrong = t.call(Method::POST, "/v2/apps", Some("Bearer nope"), &[], Some(body)).await;
    assert_refused(&t, wrong, StatusCode::UNAUTHORIZED, "invalid_credentials", None).await;
    let as_app = t.create_app("Other").await;
    let app_creds = t.call(Method::POST, "/v2/apps", Some(&basic(&as_app)), &[], Some(body)).await;
    assert_eq!(app_creds.status, StatusCode::UNAUTHORIZED, "app credentials are not the operator's");

    let bearer = format!("Bearer {}", common::OPERATOR_KEY);
    let headers = [("idempotency-key", "create-acme")];
    let first = t.call(Method::POST, "/v2/apps", Some(&bearer), &headers, Some(body)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    assert_eq!(first.json["currency"], "EUR");
    assert_eq!(first.json["wallet"]["available"], 0);
    let secret = first.json["api_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("sk_") && secret.len() > 30);
    // The secret is stored hashed only: neither the apps table nor the
    // idempotency record holds it, so a replay cannot show it again.
    let replay = t.call(Method::POST, "/v2/apps", Some(&bearer), &headers, Some(body)).await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.json["id"], first.json["id"]);
    assert!(replay.json.get("api_secret").is_none(), "{}", replay.json);
    let stored = t
        .count(&format!(
            "SELECT COUNT(*) FROM apps a, idempotency_keys k WHERE a.secret_hash = '{secret}' OR k.body LIKE '%{secret}%'"
        ))
        .await;
    assert_eq!(stored, 0);
    let creds = Creds { id: first.id(), client_id: first.json["client_id"].as_str().unwrap().into(), secret };
    assert_eq!(t.get(&creds, "/v2/apps/me/wallet").await.json["currency"], "EUR");
}

async fn requests_without_valid_credentials_are_refused(t: TestApp) {
    let app = t.create_app("Acme").await;
    let before = t.snapshot().await;
    let body = user_body(&unique_phone()).to_string();
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing_credentials"),
        (Some("Basic".into()), "invalid_credentials"),
        (Some("Basic !!!".into()), "invalid_credentials"),
        (Some(format!("Bearer {}", app.secret)), "invalid_credentials"),
        (Some(basic(&Creds { secret: "sk_wrong".into(), ..app.clone() })), "invalid_credentials"),
        (Some(basic(&Creds { client_id: "ci_unknown".into(), ..app.clone() })), "invalid_credentials"),
        (Some(basic(&Creds { secret: String::new(), ..app.clone() })), "invalid_credentials"),
    ];
    for (auth, code) in cases {
        for (method, path, body) in [
            (Method::POST, "/v2/users", Some(body.as_str())),
            (Method::GET, "/v2/users", None),
            (Method::GET, "/v2/apps/me/wallet", None),
            (Method::GET, "/v2/transfers", None),
            (Method::POST, "/v2/refills", Some(r#"{"amount":100,"currency":"USD"}"#)),
        ] {
            let r = t.call(method, path, auth.as_deref(), &[], body).await;
            assert_refused(&t, r, StatusCode::UNAUTHORIZED, code, None).await;
        }
    }
    assert_eq!(t.snapshot().await, before);
}

async fn users_are_created_read_and_listed(t: TestApp) {
    let app = t.create_app("Acme").await;
    let national = json!({"first_name": " Grace ", "last_name": "Hopper", "email": "Grace@Navy.MIL",
                          "phone_number": "(201) 555-0123", "country_code": "US"});
    let r = t.post(&app, "/v2/users", national).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["phone_number"], "+12015550123");
    assert_eq!(r.json["first_name"], "Grace");
    assert_eq!(r.json["email"], "Grace@navy.mil");
    assert_eq!(r.json["phone_verified"], false);
    assert_eq!(
        r.json["wallet"],
        json!({"id": r.json["wallet"]["id"], "available": 0, "pending": 0, "currency": "USD"})
    );
    let id = r.id();
    assert!(id.starts_with("usr_"));

    let calling_code = json!({"first_name": "A", "last_name": "B", "email": "a@b.co", "phone_number": "2015550124", "country_code": "+1"});
    assert_eq!(t.post(&app, "/v2/users", calling_code).await.json["phone_number"], "+12015550124");

    let read = t.get(&app, &format!("/v2/users/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json, r.json);
    let wallet = t.get(&app, &format!("/v2/users/{id}/wallet")).await;
    assert_eq!(wallet.json, r.json["wallet"]);

    let list = t.get(&app, "/v2/users").await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 2);
    assert_eq!(list.json["data"][1]["id"], id.as_str(), "newest first");
    assert_eq!(list.json["has_more"], false);

    let same_phone = json!({"first_name": "X", "last_name": "Y", "email": "x@y.co", "phone_number": "+1 201 555 0123"});
    let before = t.snapshot().await;
    let dup = t.post(&app, "/v2/users", same_phone).await;
    assert_refused(&t, dup, StatusCode::CONFLICT, "phone_number_taken", Some("phone_number")).await;
    assert_eq!(t.snapshot().await, before);
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'user.created'").await, 2);
}

async fn bad_user_input_is_refused_and_changes_nothing(t: TestApp) {
    let app = t.create_app("Acme").await;
    let before = t.snapshot().await;
    let good = user_body("+12015550100");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let cases: Vec<(String, StatusCode, &str, Option<&str>)> = vec![
        ("{".into(), StatusCode::BAD_REQUEST, "invalid_json", None),
        ("not json".into(), StatusCode::BAD_REQUEST, "invalid_json", None),
        ("[]".into(), StatusCode::BAD_REQUEST, "invalid_body", None),
        ("".into(), StatusCode::BAD_REQUEST, "missing_field", None),
        (with("nickname", json!("ada")), StatusCode::BAD_REQUEST, "unknown_field", Some("nickname")),
        (without("email"), StatusCode::BAD_REQUEST, "missing_field", Some("email")),
        (with("first_name", json!(42)), StatusCode::BAD_REQUEST, "invalid_field", Some("first_name")),
        (with("first_name", json!("   ")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_name", Some("first_name")),
        (
            with("last_name", json!("x".repeat(101))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            Some("last_name"),
        ),
        (with("email", json!("ada@")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_email", Some("email")),
        (with("email", json!("ada example.com")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_email", Some("email")),
        (
            with("phone_number", json!("12345")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone_number",
            Some("phone_number"),
        ),
        (
            with("phone_number", json!("+1 000 000 0000")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone_number",
            Some("phone_number"),
        ),
        (
            with("phone_number", json!("2015550100")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone_number",
            Some("phone_number"),
        ),
        (
            with("phone_number", json!("call me")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone_number",
            Some("phone_number"),
        ),
        (
            with("country_code", json!("Atlantis")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_country_code",
            Some("country_code"),
        ),
        ("x".repeat(70_000), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None),
    ];
    for (body, status, code, param) in cases {
        let r = t.post_raw(&app, "/v2/users", &body).await;
        assert_refused(&t, r, status, code, param).await;
    }
    let bad_key = t
        .call(Method::POST, "/v2/users", Some(&basic(&app)), &[("idempotency-key", "")], Some(&good.to_string()))
        .await;
    assert_refused(&t, bad_key, StatusCode::BAD_REQUEST, "invalid_idempotency_key", None).await;
    assert_eq!(t.snapshot().await, before);
}

async fn bad_amounts_and_currencies_are_refused_and_change_nothing(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    t.refill(&app, 10_000).await;
    let before = t.snapshot().await;
    let amounts: Vec<(&str, StatusCode, &str)> = vec![
        ("0", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("-100", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("12.5", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("100.0", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("1e3", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("9223372036854775807", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("9223372036854775808", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("99999999999999999999999999", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("1000000000001", StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("\"100\"", StatusCode::BAD_REQUEST, "invalid_field"),
        ("null", StatusCode::BAD_REQUEST, "invalid_field"),
    ];
    for (amount, status, code) in &amounts {
        let refill = format!(r#"{{"amount":{amount},"currency":"USD"}}"#);
        let r = t.post_raw(&app, "/v2/refills", &refill).await;
        assert_refused(&t, r, *status, code, Some("amount")).await;
        let transfer = format!(r#"{{"type":"balance","user_id":"{user}","amount":{amount},"currency":"USD"}}"#);
        let r = t.post_raw(&app, "/v2/transfers", &transfer).await;
        assert_refused(&t, r, *status, code, Some("amount")).await;
    }
    for (currency, code) in [
        ("XYZ", "invalid_currency"),
        ("usd", "invalid_currency"),
        ("", "invalid_currency"),
        ("EUR", "currency_mismatch"),
    ] {
        let r = t.post(&app, "/v2/refills", json!({"amount": 100, "currency": currency})).await;
        assert_refused(&t, r, StatusCode::UNPROCESSABLE_ENTITY, code, Some("currency")).await;
        let r = t
            .post(
                &app,
                "/v2/transfers",
                json!({"type": "payout", "user_id": user, "amount": 100, "currency": currency}),
            )
            .await;
        assert_refused(&t, r, StatusCode::UNPROCESSABLE_ENTITY, code, Some("currency")).await;
    }
    assert_eq!(t.snapshot().await, before);
}

async fn bad_transfers_are_refused_and_change_nothing(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    t.refill(&app, 1_000).await;
    let before = t.snapshot().await;
    let transfer = |fields: Value| {
        let mut body = json!({"type": "balance", "user_id": user, "amount": 100, "currency": "USD"});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (transfer(json!({"type": "gift"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_type", "type"),
        (transfer(json!({"type": "refill"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_type", "type"),
        (
            transfer(json!({"direction": "sideways"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_direction",
            "direction",
        ),
        (
            transfer(json!({"type": "payout", "direction": "app_to_user"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_direction",
            "direction",
        ),
        (transfer(json!({"user_id": "usr_doesnotexist"})), StatusCode::NOT_FOUND, "user_not_found", "user_id"),
        (transfer(json!({"user_id": "'; DROP TABLE users; --"})), StatusCode::NOT_FOUND, "user_not_found", "user_id"),
        (transfer(json!({"amount": 1_001})), StatusCode::CONFLICT, "insufficient_funds", ""),
        (transfer(json!({"direction": "user_to_app"})), StatusCode::CONFLICT, "insufficient_funds", ""),
        (transfer(json!({"type": "payout"})), StatusCode::CONFLICT, "insufficient_funds", ""),
        (transfer(json!({"memo": "hi"})), StatusCode::BAD_REQUEST, "unknown_field", "memo"),
    ];
    for (body, status, code, param) in cases {
        let r = t.post(&app, "/v2/transfers", body).await;
        assert_refused(&t, r, status, code, (!param.is_empty()).then_some(param)).await;
    }
    assert_eq!(t.snapshot().await, before);
}

async fn balance_transfers_move_money_both_ways(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    t.refill(&app, 10_000).await;
    let out = t.transfer(&app, "balance", &user, 2_500).await;
    assert_eq!(out.status, StatusCode::CREATED, "{}", out.json);
    assert_eq!(out.json["status"], "completed");
    assert_eq!(out.json["direction"], "app_to_user");
    let history: Vec<&str> =
        out.json["status_history"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["created", "pending", "completed"]);
    let txns = out.json["transactions"].as_array().unwrap();
    assert_eq!(txns.len(), 1);
    assert_eq!(txns[0]["amount"], 2_500);
    assert_eq!(txns[0]["source"]["kind"], "app_wallet");
    assert_eq!(txns[0]["destination"]["user_id"], user.as_str());

    let back = t
        .post(
            &app,
            "/v2/transfers",
            json!({"type": "balance", "user_id": user, "amount": 500, "currency": "USD", "direction": "user_to_app"}),
        )
        .await;
    assert_eq!(back.status, StatusCode::CREATED, "{}", back.json);
    assert_eq!(t.user_wallet(&app, &user).await, (2_000, 0));
    assert_eq!(t.app_available(&app).await, 8_000);

    let read = t.get(&app, &format!("/v2/transfers/{}", out.id())).await;
    assert_eq!(read.json, out.json, "a transfer reads back as it was answered");
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'transfer.created'").await, 3);
}

async fn payouts_reserve_funds_and_cancel_releases_them(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    t.refill(&app, 5_000).await;
    t.transfer(&app, "balance", &user, 3_000).await;
    let payout = t.transfer(&app, "payout", &user, 1_200).await;
    assert_eq!(payout.status, StatusCode::CREATED, "{}", payout.json);
    assert_eq!(payout.json["status"], "created", "reserved, waiting for the payout worker");
    assert_eq!(payout.json["transactions"][0]["type"], "payout_reserve");
    assert_eq!(t.user_wallet(&app, &user).await, (1_800, 1_200));

    let balance_transfer =
        t.get(&app, &format!("/v2/transfers?user_id={user}&type=balance")).await.json["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
    let r = t.post(&app, &format!("/v2/transfers/{balance_transfer}/cancel"), json!({})).await;
    assert_refused(&t, r, StatusCode::CONFLICT, "transfer_not_cancelable", None).await;

    let id = payout.id();
    let canceled = t.call(Method::POST, &format!("/v2/transfers/{id}/cancel"), Some(&basic(&app)), &[], None).await;
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.json);
    assert_eq!(canceled.json["status"], "canceled");
    assert_eq!(canceled.json["transactions"][1]["type"], "payout_release");
    assert_eq!(canceled.json["status_history"].as_array().unwrap().last().unwrap()["reason"], "canceled_by_app");
    assert_eq!(t.user_wallet(&app, &user).await, (3_000, 0));

    let before = t.snapshot().await;
    let again = t.post(&app, &format!("/v2/transfers/{id}/cancel"), json!({})).await;
    assert_refused(&t, again, StatusCode::CONFLICT, "transfer_not_cancelable", None).await;
    let body = t.post(&app, &format!("/v2/transfers/{id}/cancel"), json!({"reason": "x"})).await;
    assert_refused(&t, body, StatusCode::BAD_REQUEST, "unknown_field", Some("reason")).await;
    let unknown = t.post(&app, "/v2/transfers/tr_nope/cancel", json!({})).await;
    assert_refused(&t, unknown, StatusCode::NOT_FOUND, "transfer_not_found", None).await;
    assert_eq!(t.snapshot().await, before);
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'transfer.updated'").await, 1);
}

async fn apps_cannot_see_or_touch_each_others_objects(t: TestApp) {
    let (a, b) = (t.create_app("A").await, t.create_app("B").await);
    let user = t.create_payee(&a).await;
    t.refill(&a, 5_000).await;
    let transfer = t.transfer(&a, "payout", &user, 1).await;
    assert_eq!(transfer.status, StatusCode::CONFLICT, "the user has no funds yet");
    t.transfer(&a, "balance", &user, 1_000).await;
    let payout = t.transfer(&a, "payout", &user, 100).await.id();
    let txn = t.get(&a, "/v2/transactions").await.json["data"][0]["id"].as_str().unwrap().to_string();
    t.refill(&b, 5_000).await;
    let before = t.snapshot().await;

    for path in [
        format!("/v2/users/{user}"),
        format!("/v2/users/{user}/wallet"),
        format!("/v2/transfers/{payout}"),
        format!("/v2/transactions/{txn}"),
        format!("/v2/transfers?user_id={user}"),
        format!("/v2/transactions?user_id={user}"),
    ] {
        let r = t.get(&b, &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.json);
        assert_eq!(r.json["error"]["type"], "not_found");
    }
    let r = t.get(&b, &format!("/v2/users?starting_after={user}")).await;
    assert_refused(&t, r, StatusCode::BAD_REQUEST, "invalid_cursor", Some("starting_after")).await;
    let r = t.transfer(&b, "balance", &user, 100).await;
    assert_refused(&t, r, StatusCode::NOT_FOUND, "user_not_found", Some("user_id")).await;
    let r = t.post(&b, &format!("/v2/transfers/{payout}/cancel"), json!({})).await;
    assert_refused(&t, r, StatusCode::NOT_FOUND, "transfer_not_found", None).await;
    for path in ["/v2/users", "/v2/transfers", "/v2/transactions"] {
        let r = t.get(&b, path).await;
        let ids: Vec<&str> = r.json["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert!(
            !ids.contains(&user.as_str()) && !ids.contains(&payout.as_str()) && !ids.contains(&txn.as_str()),
            "{path}"
        );
    }
    assert_eq!(t.get(&b, "/v2/users").await.json["data"], json!([]));
    assert_eq!(t.snapshot().await, before);
}

async fn lists_page_newest_first_and_filter(t: TestApp) {
    let app = t.create_app("Acme").await;
    let (u1, u2) = (t.create_payee(&app).await, t.create_payee(&app).await);
    t.refill(&app, 10_000).await;
    let mut made = Vec::new();
    for i in 1..=5 {
        made.push(t.transfer(&app, "balance", if i % 2 == 0 { &u2 } else { &u1 }, i * 100).await.id());
    }
    let payout = t.transfer(&app, "payout", &u1, 50).await.id();

    // Walk all transfers two at a time: newest first, each exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v2/transfers?limit=2&starting_after={c}"),
            None => "/v2/transfers?limit=2".to_string(),
        };
        let page = t.get(&app, &path).await;
        let data = page.json["data"].as_array().unwrap();
        seen.extend(data.iter().map(|t| t["id"].as_str().unwrap().to_string()));
        if !page.json["has_more"].as_bool().unwrap() {
            break;
        }
        cursor = seen.last().cloned();
    }
    assert_eq!(seen.len(), 7, "one refill, five balance transfers, one payout");
    assert_eq!(seen[0], payout);
    assert_eq!(&seen[1..6], made.iter().rev().cloned().collect::<Vec<_>>().as_slice());

    let of_u2 = t.get(&app, &format!("/v2/transfers?user_id={u2}")).await;
    assert_eq!(of_u2.json["data"].as_array().unwrap().len(), 2);
    let pending = t.get(&app, "/v2/transfers?status=created").await;
    assert_eq!(pending.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(pending.json["data"][0]["id"], payout.as_str());
    let u1_completed = t.get(&app, &format!("/v2/transfers?user_id={u1}&status=completed")).await;
    assert_eq!(u1_completed.json["data"].as_array().unwrap().len(), 3);

    let txns = t.get(&app, &format!("/v2/transactions?user_id={u1}&limit=100")).await;
    assert_eq!(txns.json["data"].as_array().unwrap().len(), 4);
    assert_eq!(txns.json["data"][0]["type"], "payout_reserve");
    let of_payout = t.get(&app, &format!("/v2/transactions?transfer_id={payout}")).await;
    assert_eq!(of_payout.json["data"].as_array().unwrap().len(), 1);
    let txn_id = of_payout.json["data"][0]["id"].as_str().unwrap();
    assert_eq!(t.get(&app, &format!("/v2/transactions/{txn_id}")).await.json, of_payout.json["data"][0]);
    let paged = t.get(&app, "/v2/transactions?limit=3").await;
    assert_eq!(paged.json["data"].as_array().unwrap().len(), 3);
    assert_eq!(paged.json["has_more"], true);
}

async fn bad_list_queries_are_refused(t: TestApp) {
    let app = t.create_app("Acme").await;
    for (path, code, param) in [
        ("/v2/users?limit=0", "invalid_query", "limit"),
        ("/v2/users?limit=101", "invalid_query", "limit"),
        ("/v2/users?limit=ten", "invalid_query", "limit"),
        ("/v2/users?limit=1&limit=2", "invalid_query", "limit"),
        ("/v2/users?sort=asc", "unknown_parameter", "sort"),
        ("/v2/users?user_id=usr_x", "unknown_parameter", "user_id"),
        ("/v2/users?starting_after=usr_nope", "invalid_cursor", "starting_after"),
        ("/v2/transfers?status=done", "invalid_query", "status"),
        ("/v2/transfers?type=gift", "invalid_query", "type"),
        ("/v2/transactions?starting_after=tr_x", "invalid_cursor", "starting_after"),
    ] {
        let r = t.get(&app, path).await;
        assert_refused(&t, r, StatusCode::BAD_REQUEST, code, Some(param)).await;
    }
    let r = t.get(&app, "/v2/transfers?user_id=usr_nope").await;
    assert_refused(&t, r, StatusCode::NOT_FOUND, "user_not_found", Some("user_id")).await;
    for path in [
        "/v2/users/usr_nope",
        "/v2/users/nope/wallet",
        "/v2/transfers/tr_nope",
        "/v2/transactions/txn_nope",
        "/v2/users/%FF",
    ] {
        assert_eq!(t.get(&app, path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

async fn idempotency_keys_replay_the_first_answer(t: TestApp) {
    let app = t.create_app("Acme").await;
    let other = t.create_app("Other").await;
    let user = t.create_user(&app).await;
    t.refill(&app, 1_000).await;
    let body = json!({"type": "balance", "user_id": user, "amount": 400, "currency": "USD"});
    let first = t.post_with_key(&app, "/v2/transfers", "k-1", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let second = t.post_with_key(&app, "/v2/transfers", "k-1", body.clone()).await;
    assert_eq!((second.status, &second.bytes), (first.status, &first.bytes));
    assert_eq!(second.headers["idempotent-replayed"], "true");
    // Key order in the JSON does not make it another request.
    let reordered = format!(r#"{{"currency":"USD","amount":400,"user_id":"{user}","type":"balance"}}"#);
    let third = t
        .call(Method::POST, "/v2/transfers", Some(&basic(&app)), &[("idempotency-key", "k-1")], Some(&reordered))
        .await;
    assert_eq!(third.bytes, first.bytes);
    assert_eq!(t.count("SELECT COUNT(*) FROM transfers WHERE kind = 'balance'").await, 1);

    let before = t.snapshot().await;
    let mut changed = body.clone();
    changed["amount"] = json!(401);
    let reused = t.post_with_key(&app, "/v2/transfers", "k-1", changed).await;
    assert_refused(&t, reused, StatusCode::CONFLICT, "idempotency_key_reused", None).await;
    let other_path = t.post_with_key(&app, "/v2/refills", "k-1", json!({"amount": 400, "currency": "USD"})).await;
    assert_refused(&t, other_path, StatusCode::CONFLICT, "idempotency_key_reused", None).await;
    // Even a body that would be refused gets the key's answer first.
    let invalid = t.post_with_key(&app, "/v2/transfers", "k-1", json!({"nonsense": true})).await;
    assert_refused(&t, invalid, StatusCode::CONFLICT, "idempotency_key_reused", None).await;
    let zero = json!({"type": "balance", "user_id": user, "amount": 0, "currency": "USD"});
    let invalid_value = t.post_with_key(&app, "/v2/transfers", "k-1", zero.clone()).await;
    assert_refused(&t, invalid_value, StatusCode::CONFLICT, "idempotency_key_reused", None).await;
    // A new key with the same invalid value is simply refused.
    let fresh = t.post_with_key(&app, "/v2/transfers", "k-new", zero).await;
    assert_refused(&t, fresh, StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount", Some("amount")).await;
    assert_eq!(t.snapshot().await, before);

    // A refused request is remembered too: the retry gets the same refusal even
    // after the wallet could pay, as with Stripe.
    let too_much = json!({"type": "balance", "user_id": user, "amount": 5_000, "currency": "USD"});
    let refused = t.post_with_key(&app, "/v2/transfers", "k-2", too_much.clone()).await;
    assert_eq!(refused.code(), "insufficient_funds");
    t.refill(&app, 10_000).await;
    let again = t.post_with_key(&app, "/v2/transfers", "k-2", too_much).await;
    assert_eq!((again.status, &again.bytes), (refused.status, &refused.bytes));

    // Keys belong to an app: another app's identical key is a different request.
    t.refill(&other, 100).await;
    let theirs = t.post_with_key(&other, "/v2/refills", "k-1", json!({"amount": 100, "currency": "USD"})).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_eq!(t.app_available(&other).await, 200);
}

async fn unknown_routes_and_methods_answer_json(t: TestApp) {
    let app = t.create_app("Acme").await;
    let r = t.get(&app, "/v2/nothing").await;
    assert_refused(&t, r, StatusCode::NOT_FOUND, "route_not_found", None).await;
    let r = t.call(Method::DELETE, "/v2/users", Some(&basic(&app)), &[], None).await;
    assert_refused(&t, r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None).await;
}

async fn ledger_rows_cannot_be_edited(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 100).await;
    let mut tx = t.store.begin_write().await.unwrap();
    for sql in [
        "UPDATE entries SET amount = amount * 2",
        "DELETE FROM entries",
        "UPDATE transactions SET amount = 1",
        "DELETE FROM transactions",
    ] {
        sqlx::query("SAVEPOINT edit").execute(&mut *tx).await.unwrap();
        let edited = sqlx::query(sql).execute(&mut *tx).await;
        assert!(edited.is_err(), "{sql} must be refused by the database");
        sqlx::query("ROLLBACK TO SAVEPOINT edit").execute(&mut *tx).await.unwrap();
    }
    tx.rollback().await.unwrap();
}

async fn ledger_check_finds_a_tampered_balance(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    t.refill(&app, 1_000).await;
    t.transfer(&app, "balance", &user, 300).await;
    assert!(dots_server::ledger::check(&t.store).await.unwrap().is_ok());
    let tamper = |delta: i64| {
        let store = t.store.clone();
        let user = user.clone();
        async move {
            let mut tx = store.begin_write().await.unwrap();
            sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE user_id = $2")
                .bind(delta)
                .bind(&user)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    tamper(50).await;
    let report = dots_server::ledger::check(&t.store).await.unwrap();
    let rules: Vec<&str> = report.violations.iter().map(|v| v.rule).collect();
    assert!(rules.contains(&"cached_balance_matches_entries"), "{rules:?}");
    assert!(rules.contains(&"currency_sums_to_zero"), "{rules:?}");
    tamper(-50).await;
}

async fn app_settings_hold_embedding_origins_and_brand(t: TestApp) {
    let app = t.create_app("Acme").await;
    let fresh = json!({"allowed_origins": [], "brand": {}, "default_country": null});
    assert_eq!(t.get(&app, "/v2/apps/me/settings").await.json, fresh);
    let put = |body: Value| {
        let (t, app) = (t.clone(), app.clone());
        async move { t.call(Method::PUT, "/v2/apps/me/settings", Some(&basic(&app)), &[], Some(&body.to_string())).await }
    };
    let before = t.snapshot().await;
    for bad in [
        json!({"allowed_origins": ["https://shop.example.com/checkout"]}),
        json!({"allowed_origins": ["http://shop.example.com"]}),
        json!({"allowed_origins": ["https://*.example.com"]}),
        json!({"allowed_origins": ["shop.example.com"]}),
        json!({"brand": {"primary_color": "red"}}),
        json!({"brand": {"logo_url": "http://x.co/logo.png"}}),
    ] {
        let r = put(bad.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", r.json);
    }
    assert_eq!(t.snapshot().await, before);
    let ok = put(json!({"allowed_origins": ["https://Shop.example.com", "http://localhost:3000"], "brand": {"name": "Acme", "primary_color": "#0a7cff"}})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    assert_eq!(ok.json["allowed_origins"], json!(["https://shop.example.com", "http://localhost:3000"]));
    // A partial update keeps the rest.
    let brand_only = put(json!({"brand": {"name": "Acme Pay"}})).await;
    assert_eq!(brand_only.json["allowed_origins"], json!(["https://shop.example.com", "http://localhost:3000"]));
    assert_eq!(brand_only.json["brand"], json!({"name": "Acme Pay"}));
    let other = t.create_app("Other").await;
    assert_eq!(t.get(&other, "/v2/apps/me/settings").await.json["allowed_origins"], json!([]));
}
