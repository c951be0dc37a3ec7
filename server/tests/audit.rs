//! The audit log (issue 17, part 5): every change made through the API is recorded
//! with who made it, what, which object, when and from where, in the transaction
//! of the change; refusals and replays change nothing and record nothing; an app
//! reads only its own; the database refuses to edit or delete a row — on SQLite and
//! PostgreSQL.

mod common;

use axum::http::{Method, StatusCode};
use common::{Creds, TestApp};
use serde_json::{Value, json};

on_both_databases!(
    every_kept_change_is_recorded_with_who_what_and_where,
    the_audit_log_is_append_only,
    the_audit_log_pages_and_refuses_bad_queries,
);

async fn audit_log(t: &TestApp, app: &Creds, query: &str) -> Vec<Value> {
    let r = t.get(app, &format!("/v2/audit-log{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json["data"].as_array().unwrap().clone()
}

async fn every_kept_change_is_recorded_with_who_what_and_where(t: TestApp) {
    let app = t.create_app("Acme").await;
    let other = t.create_app("Globex").await;
    let peer: std::net::SocketAddr = "203.0.113.7:40000".parse().unwrap();
    let auth = common::basic(&app);
    let body = common::user_body("+12015550141").to_string();
    let headers = [("authorization", auth.as_str()), ("idempotency-key", "user-1"), ("x-request-id", "req-audit-1")];
    let user = t.call_from(peer, Method::POST, "/v2/users", &headers, Some(&body)).await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.json);
    let user_id = user.id();
    // The same request again (its key): the first answer, no second change.
    let again = t.call_from(peer, Method::POST, "/v2/users", &headers, Some(&body)).await;
    assert_eq!(again.id(), user_id);
    // Refused (bad input, or more than the wallet holds): nothing changed, nothing recorded.
    let refused = t.post(&app, "/v2/users", json!({"first_name": ""})).await;
    assert!(refused.status.is_client_error(), "{}", refused.json);
    let short = t.transfer(&app, "balance", &user_id, 500).await;
    assert_eq!(short.status, StatusCode::CONFLICT, "{}", short.json);
    // Refills and balance transfers are written in groups: recorded all the same.
    t.refill(&app, 10_000).await;
    let moved = t.transfer(&app, "balance", &user_id, 2_500).await;
    assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.json);
    let method = t.add_bank_account(&app, &user_id, "000123456789").await;
    let deleted =
        t.call(Method::DELETE, &format!("/v2/users/{user_id}/payout-methods/{method}"), Some(&auth), &[], None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.json);
    // A payee's own change in a flow, and a payout link opened by whoever holds it.
    let flow = t.post(&app, "/v2/flows", json!({"steps": ["compliance"], "user_id": user_id})).await;
    let token = flow.json["token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");
    let body = json!({"legal_first_name": "Ada"}).to_string();
    let filled = t.call(Method::PUT, "/flow/v1/compliance", Some(&bearer), &[], Some(&body)).await;
    assert_eq!(filled.status, StatusCode::OK, "{}", filled.json);
    let link = t
        .post(&app, "/v2/payout-links", json!({"amount": 500, "currency": "USD", "phone_number": "+12015550142"}))
        .await;
    let link_token = link.json["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let opened = t
        .call(Method::POST, "/flow/v1/sessions", None, &[], Some(&json!({"link_token": link_token}).to_string()))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.json);
    // The operator's change to the app's terms is in the app's log too.
    let fees = t.set_fees(&app, json!({"fixed": 25})).await;
    assert_eq!(fees.status, StatusCode::OK, "{}", fees.json);

    let log = audit_log(&t, &app, "?limit=100").await;
    let seen: Vec<(String, String, String, Option<String>)> = log
        .iter()
        .rev()
        .map(|e| {
            (
                e["actor"]["type"].as_str().unwrap().to_string(),
                e["actor"]["id"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["object_id"].as_str().map(str::to_string),
            )
        })
        .collect();
    let key = |action: &str, object: Option<&str>| {
        ("api_key".to_string(), app.client_id.clone(), action.to_string(), object.map(str::to_string))
    };
    let link_id = link.id();
    let expected = vec![
        key("POST /v2/users", Some(&user_id)),
        key(
            "POST /v2/refills",
            Some(t.get(&app, "/v2/transfers?type=refill").await.json["data"][0]["id"].as_str().unwrap()),
        ),
        key("POST /v2/transfers", Some(&moved.id())),
        key("POST /v2/users/{id}/payout-methods", Some(&method)),
        key("DELETE /v2/users/{id}/payout-methods/{pm}", Some(&method)),
        key("POST /v2/flows", Some(&flow.id())),
        ("payee".into(), flow.id(), "PUT /flow/v1/compliance".into(), None),
        key("POST /v2/payout-links", Some(&link_id)),
        (
            "link_holder".into(),
            link_id.clone(),
            "POST /flow/v1/sessions".into(),
            Some(opened.json["id"].as_str().unwrap().to_string()),
        ),
        (
            "operator".into(),
            "operator".into(),
            "PUT /v2/apps/{id}/fees".into(),
            fees.json["id"].as_str().map(str::to_string),
        ),
    ];
    assert_eq!(seen, expected, "{log:#?}");
    // From where, and which request: the first change came from 203.0.113.7 with its request id.
    let first = log.last().unwrap();
    assert_eq!(
        (&first["ip"], &first["request_id"], &first["status"]),
        (&json!("203.0.113.7"), &json!("req-audit-1"), &json!(201))
    );
    assert_eq!(first["path"], "/v2/users");
    assert!(first["id"].as_str().unwrap().starts_with("aud_"), "{first}");
    // Narrowed to one object or one actor.
    let about_method = audit_log(&t, &app, &format!("?object_id={method}")).await;
    assert_eq!(about_method.len(), 2, "{about_method:#?}");
    let by_payee = audit_log(&t, &app, &format!("?actor_id={}", flow.id())).await;
    assert_eq!(by_payee.len(), 1, "{by_payee:#?}");
    // Another app sees none of it, and its own changes only.
    assert_eq!(audit_log(&t, &other, "").await, Vec::<Value>::new());
    t.refill(&other, 100).await;
    let theirs = audit_log(&t, &other, "").await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["actor"]["id"], other.client_id.as_str());
    // As many rows as changes, no more: the two apps' own entries, and the
    // operator's creation of each app (the operator's log: no app's).
    assert_eq!(t.count("SELECT COUNT(*) FROM audit_log").await, expected.len() as i64 + 1 + 2);
    assert_eq!(t.count("SELECT COUNT(*) FROM audit_log WHERE app_id IS NULL AND action = 'POST /v2/apps'").await, 2);
}

async fn the_audit_log_is_append_only(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 100).await;
    // The operator's creation of the app, and the refill.
    assert_eq!(t.count("SELECT COUNT(*) FROM audit_log").await, 2);
    let mut tx = t.store.begin_write().await.unwrap();
    for sql in ["UPDATE audit_log SET actor_id = 'someone_else'", "DELETE FROM audit_log"] {
        sqlx::query("SAVEPOINT edit").execute(&mut *tx).await.unwrap();
        let edited = sqlx::query(sql).execute(&mut *tx).await;
        let error = edited.expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
        sqlx::query("ROLLBACK TO SAVEPOINT edit").execute(&mut *tx).await.unwrap();
    }
    if t.store.backend() == dots_server::store::Backend::Postgres {
        sqlx::query("SAVEPOINT edit").execute(&mut *tx).await.unwrap();
        assert!(sqlx::query("TRUNCATE audit_log").execute(&mut *tx).await.is_err(), "TRUNCATE must be refused");
        sqlx::query("ROLLBACK TO SAVEPOINT edit").execute(&mut *tx).await.unwrap();
    }
    tx.rollback().await.unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM audit_log").await, 2);
}

async fn the_audit_log_pages_and_refuses_bad_queries(t: TestApp) {
    let app = t.create_app("Acme").await;
    for _ in 0..5 {
        t.refill(&app, 100).await;
    }
    let first = t.get(&app, "/v2/audit-log?limit=2").await;
    assert_eq!((first.json["data"].as_array().unwrap().len(), &first.json["has_more"]), (2, &json!(true)));
    let after = first.json["data"][1]["id"].as_str().unwrap();
    let rest = audit_log(&t, &app, &format!("?limit=10&starting_after={after}")).await;
    assert_eq!(rest.len(), 3);
    for (query, code) in [
        ("?colour=red", "unknown_parameter"),
        ("?limit=0", "invalid_query"),
        ("?starting_after=aud_unknown", "invalid_cursor"),
    ] {
        let r = t.get(&app, &format!("/v2/audit-log{query}")).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, code), "{query}: {}", r.json);
    }
    // Another app's entry is no cursor here.
    let other = t.create_app("Globex").await;
    let r = t.get(&other, &format!("/v2/audit-log?starting_after={after}")).await;
    assert_eq!(r.code(), "invalid_cursor");
    assert!(t.get(&app, "/v2/audit-log").await.json["data"].as_array().is_some());
    let unauthenticated = t.call(Method::GET, "/v2/audit-log", None, &[], None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}
