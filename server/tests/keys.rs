//! Keys at rest: no public key ever seals. SQLite makes its own key at first start
//! (a file beside the database, mode 0600); PostgreSQL must be given one. Sealed
//! values name their key, so a rotation re-seals while both keys open, across
//! server processes, and the old key can then be dropped. On SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::{Creds, TestApp, basic};
use serde_json::json;

on_both_databases!(a_key_rotation_reseals_everything_while_both_keys_open);

const KEY_A: &str = "aaaa000000000000000000000000000000000000000000000000000000000001";
const KEY_B: &str = "bbbb000000000000000000000000000000000000000000000000000000000002";

/// Every sealed value that is not under `key_id`.
async fn stale(t: &TestApp, key_id: &str) -> i64 {
    let mut n = 0;
    for (table, column) in [
        ("payout_links", "token_encrypted"),
        ("payout_methods", "details_encrypted"),
        ("compliance", "tax_id_encrypted"),
        ("webhook_endpoints", "secret_encrypted"),
    ] {
        n += t
            .count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE 'v2${key_id}$%'"
            ))
            .await;
    }
    n + t
        .count(&format!(
            "SELECT COUNT(*) FROM idempotency_keys WHERE body LIKE 'sealed:%' AND body NOT LIKE 'sealed:v2${key_id}$%'"
        ))
        .await
}

/// Reads back every kind of sealed value through the API.
async fn everything_opens(t: &TestApp, app: &Creds, link_id: &str, user: &str) {
    let link = t.get(app, &format!("/v2/payout-links/{link_id}")).await;
    assert!(link.json["url"].as_str().is_some_and(|u| u.contains("/claim/plt_")), "{}", link.json);
    let replay = t
        .post_with_key(
            app,
            "/v2/payout-links",
            "link-1",
            json!({"amount": 500, "currency": "USD", "email": "a@example.com"}),
        )
        .await;
    assert_eq!(
        (replay.status, replay.json["url"].clone()),
        (StatusCode::CREATED, link.json["url"].clone()),
        "{}",
        replay.json
    );
    let payout = t.post(app, "/v2/payouts", json!({"user_id": user, "amount": 100, "currency": "USD"})).await;
    assert_eq!(payout.status, StatusCode::CREATED, "{}", payout.json);
    t.settle_payouts().await;
    let settled = t.get(app, &format!("/v2/transfers/{}", payout.id())).await;
    assert_eq!(settled.json["status"], "completed", "the rail opened the bank details: {}", settled.json);
}

async fn a_key_rotation_reseals_everything_while_both_keys_open(t: TestApp) {
    let url = t.database_url.clone();
    let a = TestApp::start_with(&url, |s| s.encryption_key = Some(KEY_A.into())).await;
    let app = a.create_app("Acme").await;
    a.refill(&app, 10_000).await;
    let user = a.create_payee(&app).await;
    a.transfer(&app, "balance", &user, 5_000).await;
    let tax = a
        .call(
            axum::http::Method::PUT,
            &format!("/v2/users/{user}/compliance"),
            Some(&basic(&app)),
            &[],
            Some(r#"{"tax_id":"123456789"}"#),
        )
        .await;
    assert_eq!(tax.status, StatusCode::OK, "{}", tax.json);
    let hook = a.post(&app, "/v2/webhooks", json!({"url": "https://example.com/hooks"})).await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.json);
    let link = a
        .post_with_key(
            &app,
            "/v2/payout-links",
            "link-1",
            json!({"amount": 500, "currency": "USD", "email": "a@example.com"}),
        )
        .await;
    let id_a = dots_server::secrets::Keys::from_hex(KEY_A).unwrap().primary_id().to_string();
    let id_b = dots_server::secrets::Keys::from_hex(KEY_B).unwrap().primary_id().to_string();
    assert_eq!(stale(&a, &id_a).await, 0, "everything is sealed under key A and names it");
    assert!(stale(&a, &id_b).await >= 5);

    // Step 1: every process gets B, with A as an older key. Both open everything.
    let both = TestApp::start_with(&url, |s| {
        s.encryption_key = Some(KEY_B.into());
        s.older_encryption_keys = vec![KEY_A.into()];
    })
    .await;
    everything_opens(&both, &app, &link.id(), &user).await;
    // Step 2: re-seal (what `dots keys rotate` and the server at start do).
    let done = dots_server::rekey::reseal_all(&both.store, &both.state.services.keys).await.unwrap();
    assert!(done.resealed >= 5 && done.unreadable == 0, "{done:?}");
    assert_eq!(stale(&both, &id_b).await, 0);
    // Step 3: A is dropped; a process with B alone opens everything.
    let only_b = TestApp::start_with(&url, |s| s.encryption_key = Some(KEY_B.into())).await;
    everything_opens(&only_b, &app, &link.id(), &user).await;
    // A process still on A alone cannot open them, and says so instead of failing the list.
    let list = a.get(&app, "/v2/payout-links").await;
    assert_eq!((list.status, list.json["data"][0]["url"].is_null()), (StatusCode::OK, true), "{}", list.json);
    for process in [a, both, only_b] {
        process.store.close().await;
    }
}

/// With no key given, SQLite makes one and keeps it beside the database, and
/// PostgreSQL refuses to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_without_a_key_gets_its_own_or_none() {
    let (url, cleanup) = common::fresh_database(dots_server::store::Backend::Sqlite).await;
    let settings = dots_server::config::Settings::sandbox(&url);
    let first = settings.keys().unwrap();
    let path = format!("{}.key", url.trim_start_matches("sqlite://"));
    let meta = std::fs::metadata(&path).expect("the key file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(settings.keys().unwrap().primary_id(), first.primary_id(), "the same key at the next start");
    assert!(!std::fs::read_to_string(&path).unwrap().contains("dots-sandbox"));
    cleanup.run().await;
    let postgres = dots_server::config::Settings::sandbox("postgres://postgres@127.0.0.1:5432/postgres");
    let refused = postgres.keys().err().unwrap_or_default();
    assert!(refused.contains("DOTS_ENCRYPTION_KEY is required with PostgreSQL"), "{refused}");
}
