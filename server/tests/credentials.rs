//! Credentials that can be revoked: an app rotates its API secret (the new one
//! shown once, the old one taken for a grace period, then refused by every
//! server process within seconds); the operator key is long, compared as a keyed
//! hash, and wrong guesses are throttled. Each scenario runs on SQLite and on
//! PostgreSQL; two `TestApp`s on one database are two server processes, each with
//! its own credentials cache.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{Creds, TestApp, basic};
use serde_json::json;

on_both_databases!(
    a_rotated_secret_stops_working_everywhere_after_its_grace,
    the_operator_key_is_long_and_guesses_are_throttled,
);

async fn status_with(t: &TestApp, creds: &Creds) -> StatusCode {
    t.get(creds, "/v2/users").await.status
}

async fn a_rotated_secret_stops_working_everywhere_after_its_grace(t: TestApp) {
    let other = TestApp::start(&t.database_url).await;
    let old = t.create_app("Acme").await;
    // Both processes have read (and cached) the old secret.
    assert_eq!(status_with(&t, &old).await, StatusCode::OK);
    assert_eq!(status_with(&other, &old).await, StatusCode::OK);

    let bad = t.post(&old, "/v2/apps/me/secret/rotate", json!({"grace_seconds": -1})).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_grace_seconds"));
    let rotated = t.post_with_key(&old, "/v2/apps/me/secret/rotate", "rotate-1", json!({"grace_seconds": 1})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    let secret = rotated.json["api_secret"].as_str().expect("the new secret, shown once").to_string();
    assert!(secret.starts_with("sk_") && secret != old.secret);
    let new = Creds { secret: secret.clone(), ..old.clone() };
    // A retry replays the answer without the secret, and rotates nothing.
    let replay = t.post_with_key(&old, "/v2/apps/me/secret/rotate", "rotate-1", json!({"grace_seconds": 1})).await;
    assert_eq!((replay.status, replay.json["api_secret"].is_null()), (StatusCode::OK, true), "{}", replay.json);
    // The new secret works at once in both processes; the old one during its grace.
    for process in [&t, &other] {
        assert_eq!(status_with(process, &new).await, StatusCode::OK);
        assert_eq!(status_with(process, &old).await, StatusCode::OK);
    }
    // After the grace period (1 s) and a process's cache life (2 s), the old one is refused everywhere.
    tokio::time::sleep(Duration::from_millis(1_000 + dots_server::apps::CREDENTIALS_TTL_MS as u64 + 300)).await;
    for process in [&t, &other] {
        let r = process.get(&old, "/v2/users").await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
        assert_eq!(status_with(process, &new).await, StatusCode::OK);
    }
    // A second rotation without grace: the secret before it stops at once in the
    // process that rotated it (even before any call with the newest one), and
    // elsewhere where it is read again.
    let again = t.post(&new, "/v2/apps/me/secret/rotate", json!({"grace_seconds": 0})).await;
    let newest = Creds { secret: again.json["api_secret"].as_str().unwrap().to_string(), ..old.clone() };
    assert_eq!(status_with(&t, &new).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_with(&t, &newest).await, StatusCode::OK);
    assert_eq!(status_with(&other, &newest).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(dots_server::apps::CREDENTIALS_TTL_MS as u64 + 300)).await;
    assert_eq!(status_with(&other, &new).await, StatusCode::UNAUTHORIZED);
    other.store.close().await;
}

async fn the_operator_key_is_long_and_guesses_are_throttled(t: TestApp) {
    let short = TestApp::try_start_with(&t.database_url, |s| s.operator_key = Some("short-key".into())).await;
    assert!(short.err().is_some_and(|e| e.contains("at least 32 bytes")), "a short operator key is refused at start");
    let operator = |key: &str| format!("Bearer {key}");
    let create = |peer: &'static str, key: String| {
        let t = t.clone();
        async move {
            let body = json!({"name": "Acme"}).to_string();
            let headers = [("authorization", key.as_str())];
            t.call_from(peer.parse().unwrap(), Method::POST, "/v2/apps", &headers, Some(&body)).await
        }
    };
    assert_eq!(create("198.51.100.1:1", operator(common::OPERATOR_KEY)).await.status, StatusCode::CREATED);
    for _ in 0..dots_server::apps::OPERATOR_FAILURES_PER_CLIENT {
        let r = create("198.51.100.1:1", operator("wrong-key-wrong-key-wrong-key-wrong")).await;
        assert_eq!(r.code(), "invalid_credentials");
    }
    // That client is now held off, even with the right key; another client is not.
    let held = create("198.51.100.1:2", operator(common::OPERATOR_KEY)).await;
    assert_eq!((held.status, held.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert_eq!(create("203.0.113.7:1", operator(common::OPERATOR_KEY)).await.status, StatusCode::CREATED);
    let _ = basic;
}
