//! Flow sessions an attacker cannot plant: the browser that proves the phone gets
//! a fresh token and the old one dies; sessions end with their flow or link and on
//! the app's word; a change of payout method is announced; a payout without a
//! named method is never sent to one of several. Each scenario runs on SQLite and
//! on PostgreSQL.

mod common;

use axum::http::{Method, StatusCode};
use common::{Resp, TestApp, basic};
use serde_json::{Value, json};

on_both_databases!(
    a_planted_session_is_useless_once_its_victim_verifies,
    sessions_end_with_their_flow_and_when_revoked,
    payout_method_changes_are_announced_and_never_guessed,
);

const VICTIM_PHONE: &str = "+12015550166";

async fn flow(t: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
    let body = body.map(|b| b.to_string());
    t.call(method, path, Some(&format!("Bearer {token}")), &[], body.as_deref()).await
}

/// Every flow API route, from the route table, with a body where it takes one.
fn flow_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    dots_server::http::routes()
        .into_iter()
        .filter(|r| r.path.starts_with("/flow/v1/") && r.path != "/flow/v1/sessions")
        .map(|r| {
            let body = (r.method != Method::GET).then(|| match r.path {
                "/flow/v1/payout-methods" => json!({"type": "paypal", "email": "attacker@example.com"}),
                "/flow/v1/compliance" => json!({"legal_first_name": "Mallory"}),
                "/flow/v1/claim" => json!({"payout_method_id": "pm_x"}),
                "/flow/v1/verification/check" => json!({"code": "123456"}),
                _ => json!({}),
            });
            (r.method, r.path, body)
        })
        .collect()
}

async fn a_planted_session_is_useless_once_its_victim_verifies(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    // An email-only link: its session lets its holder type any phone.
    let link =
        t.post(&app, "/v2/payout-links", json!({"amount": 2_500, "currency": "USD", "email": "ada@example.com"})).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.json);
    let link_token = link.json["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    // The attacker opens a session and hands its token to the victim (a planted
    // `/flow/{id}#fst_…` URL).
    let opened = t
        .call(Method::POST, "/flow/v1/sessions", None, &[], Some(&json!({"link_token": link_token}).to_string()))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.json);
    let planted = opened.json["token"].as_str().unwrap().to_string();
    // The victim proves their own phone on the genuine page.
    let sent =
        flow(&t, &planted, Method::POST, "/flow/v1/verification", Some(json!({"phone_number": VICTIM_PHONE}))).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    let code = t.last_code(&app, VICTIM_PHONE).await;
    let body = json!({"code": code}).to_string();
    let bearer = format!("Bearer {planted}");
    let checked = t
        .call(
            Method::POST,
            "/flow/v1/verification/check",
            Some(&bearer),
            &[("idempotency-key", "check-1")],
            Some(&body),
        )
        .await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.json);
    let victims = checked.json["session_token"].as_str().expect("the victim's browser gets a fresh token").to_string();
    let victim_user = checked.json["user_id"].as_str().unwrap().to_string();
    // The attacker's copy is refused everywhere, and did nothing.
    let before = t.snapshot().await;
    for (method, path, body) in flow_routes() {
        let r = flow(&t, &planted, method.clone(), path, body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path} with the planted token: {}", r.json);
        assert!(r.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"), "{path}");
    }
    assert_eq!(t.snapshot().await, before, "the planted token changed nothing");
    let methods = t.get(&app, &format!("/v2/users/{victim_user}/payout-methods")).await;
    assert_eq!(methods.json["data"].as_array().map(Vec::len), Some(0), "{}", methods.json);
    // The replay of the check, kept for its idempotency key, never holds the token.
    let stored: String = {
        let mut conn = t.store.reader().acquire().await.unwrap();
        sqlx::query_scalar("SELECT body FROM idempotency_keys WHERE key = 'check-1'")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
    };
    assert!(stored.contains("\"verified\":true") && !stored.contains(&victims), "stored for replay: {stored}");
    // The scan every test ends with (common::run) would see a token kept in plain text.
    assert_eq!(common::secrets_in(&format!("{{\"url\":\"http://x/claim/{link_token}\"}}")).len(), 1);
    assert_eq!(common::secrets_in(&format!("Bearer {victims}")).len(), 1);
    assert!(common::secrets_in("task_0123456789abcdefghij fst_short").is_empty());
    // The victim goes on with theirs and is paid.
    let state = flow(&t, &victims, Method::GET, "/flow/v1/session", None).await;
    assert_eq!(state.json["verified"], true, "{}", state.json);
    let method = flow(
        &t,
        &victims,
        Method::POST,
        "/flow/v1/payout-methods",
        Some(json!({"type": "paypal", "email": "ada@example.com"})),
    )
    .await;
    assert_eq!(method.status, StatusCode::CREATED, "{}", method.json);
    let claimed =
        flow(&t, &victims, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method.id()}))).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.json);
    // The claim ends the session too.
    assert_eq!(flow(&t, &victims, Method::GET, "/flow/v1/session", None).await.code(), "session_ended");
}

async fn sessions_end_with_their_flow_and_when_revoked(t: TestApp) {
    let app = t.create_app("Acme").await;
    let other = t.create_app("Other").await;
    let user = t.create_payee(&app).await;
    let created = t.post(&app, "/v2/flows", json!({"steps": ["payout_method"], "user_id": user})).await;
    let token = created.json["token"].as_str().unwrap().to_string();
    assert_eq!(flow(&t, &token, Method::GET, "/flow/v1/session", None).await.status, StatusCode::OK);
    // Another app cannot revoke it: to it, the flow does not exist.
    let foreign = t.post(&other, &format!("/v2/flows/{}/revoke", created.id()), json!({})).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.json);
    assert_eq!(flow(&t, &token, Method::GET, "/flow/v1/session", None).await.status, StatusCode::OK);
    let revoked = t.post_with_key(&app, &format!("/v2/flows/{}/revoke", created.id()), "revoke-1", json!({})).await;
    assert_eq!(
        (revoked.status, revoked.json["status"].as_str()),
        (StatusCode::OK, Some("revoked")),
        "{}",
        revoked.json
    );
    let again = t.post_with_key(&app, &format!("/v2/flows/{}/revoke", created.id()), "revoke-1", json!({})).await;
    assert_eq!(again.bytes, revoked.bytes, "a retry replays the first answer");
    for (method, path, body) in flow_routes() {
        let r = flow(&t, &token, method.clone(), path, body).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "session_ended"), "{method} {path}");
    }
    let events = t.get(&app, "/v2/events?type=flow.revoked").await;
    assert_eq!(events.json["data"][0]["data"]["flow_id"], created.id().as_str(), "{}", events.json);
    // A completed flow's session is over as well.
    let done_flow = t.post(&app, "/v2/flows", json!({"steps": ["payout_method"], "user_id": user})).await;
    let done = done_flow.json["token"].as_str().unwrap().to_string();
    let completed = flow(&t, &done, Method::POST, "/flow/v1/complete", Some(json!({}))).await;
    assert_eq!(completed.status, StatusCode::OK, "{}", completed.json);
    let after = flow(&t, &done, Method::PUT, "/flow/v1/compliance", Some(json!({"legal_first_name": "Eve"}))).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "session_ended"));
    // Revoking a completed flow leaves it completed.
    let late = t.post(&app, &format!("/v2/flows/{}/revoke", done_flow.id()), json!({})).await;
    assert_eq!(late.json["status"], "completed", "{}", late.json);
    let _ = basic(&app);
}

async fn payout_method_changes_are_announced_and_never_guessed(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await; // verified, with one bank account
    t.refill(&app, 10_000).await;
    t.transfer(&app, "balance", &user, 5_000).await;
    let created = t.get(&app, "/v2/events?type=payout_method.created").await;
    assert_eq!(created.json["data"].as_array().map(Vec::len), Some(1), "{}", created.json);
    let first = created.json["data"][0]["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(created.json["data"][0]["data"]["user_id"], user.as_str());
    assert!(!created.json.to_string().contains("000123456789"), "only the masked method is announced");
    // One method: a payout without payout_method_id goes to it.
    let one = t.post(&app, "/v2/payouts", json!({"user_id": user, "amount": 100, "currency": "USD"})).await;
    assert_eq!(
        (one.status, one.json["payout_method_id"].as_str()),
        (StatusCode::CREATED, Some(first.as_str())),
        "{}",
        one.json
    );
    // Two: a payout naming none goes to the payee's default, their first method —
    // never to the newest because it is newest.
    let second = t.add_bank_account(&app, &user, "000987654321").await;
    let defaulted = t.post(&app, "/v2/payouts", json!({"user_id": user, "amount": 100, "currency": "USD"})).await;
    assert_eq!(defaulted.json["payout_method_id"], first.as_str(), "{}", defaulted.json);
    let named = t
        .post(
            &app,
            "/v2/payouts",
            json!({"user_id": user, "amount": 100, "currency": "USD", "payout_method_id": second}),
        )
        .await;
    assert_eq!(named.status, StatusCode::CREATED, "{}", named.json);
    let deleted = t
        .call(Method::DELETE, &format!("/v2/users/{user}/payout-methods/{second}"), Some(&basic(&app)), &[], None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.json);
    let gone = t.get(&app, "/v2/events?type=payout_method.deleted").await;
    assert_eq!(gone.json["data"][0]["data"]["id"], second.as_str(), "{}", gone.json);
}
