//! SMS rate limits keyed by what an attacker cannot cheaply vary: a phone's budget
//! is per app under a ceiling for all apps; a client is its address, as forwarded
//! only by a trusted proxy, with IPv6 grouped by /64. Each scenario runs on SQLite
//! and on PostgreSQL.

mod common;

use std::net::SocketAddr;

use axum::http::{Method, StatusCode};
use common::{Creds, TestApp, user_body};
use serde_json::json;

on_both_databases!(
    one_apps_sends_do_not_block_a_phone_in_another_app_up_to_a_ceiling,
    behind_a_trusted_proxy_each_payee_has_their_own_budget,
    forwarded_addresses_from_anyone_else_are_ignored,
    ipv6_clients_share_a_budget_per_64,
);

/// Lets the resend cool-down pass by moving earlier codes back in time.
async fn age_codes(t: &TestApp) {
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE verifications SET created_at = created_at - 60000").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn send_to_user(t: &TestApp, app: &Creds, user: &str) -> StatusCode {
    age_codes(t).await;
    t.post(app, &format!("/v2/users/{user}/verification"), json!({})).await.status
}

async fn one_apps_sends_do_not_block_a_phone_in_another_app_up_to_a_ceiling(t: TestApp) {
    let phone = "+12015550155";
    let mut apps = Vec::new();
    for name in ["A", "B", "C", "D"] {
        let app = t.create_app(name).await;
        let user = t.post(&app, "/v2/users", user_body(phone)).await.id();
        apps.push((app, user));
    }
    let (a, a_user) = &apps[0];
    for _ in 0..5 {
        assert_eq!(send_to_user(&t, a, a_user).await, StatusCode::CREATED);
    }
    assert_eq!(send_to_user(&t, a, a_user).await, StatusCode::TOO_MANY_REQUESTS, "five an hour per app");
    // Another app's payee with the same phone is not blocked by app A…
    for (app, user) in &apps[1..3] {
        for _ in 0..5 {
            assert_eq!(send_to_user(&t, app, user).await, StatusCode::CREATED);
        }
    }
    // …until the phone's ceiling for all apps (15 an hour) is reached.
    let (d, d_user) = &apps[3];
    assert_eq!(send_to_user(&t, d, d_user).await, StatusCode::TOO_MANY_REQUESTS);
}

/// A flow session per payee, each with its own phone; returns their tokens.
async fn sessions(t: &TestApp, app: &Creds, count: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for _ in 0..count {
        let user = t.create_user(app).await;
        let flow = t.post(app, "/v2/flows", json!({"steps": ["verify_phone"], "user_id": user})).await;
        tokens.push(flow.json["token"].as_str().unwrap().to_string());
    }
    tokens
}

async fn send_from(t: &TestApp, peer: &str, forwarded: Option<&str>, token: &str) -> StatusCode {
    let peer: SocketAddr = peer.parse().unwrap();
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("authorization", bearer.as_str())];
    if let Some(xff) = forwarded {
        headers.push(("x-forwarded-for", xff));
    }
    t.call_from(peer, Method::POST, "/flow/v1/verification", &headers, Some("{}")).await.status
}

async fn behind_a_trusted_proxy_each_payee_has_their_own_budget(t: TestApp) {
    let t = TestApp::start_with(&t.database_url, |s| {
        s.sms_per_client_per_hour = 2;
        s.trusted_proxies = dots_server::clients::parse_trusted("127.0.0.1, 10.0.0.0/8").unwrap();
    })
    .await;
    let app = t.create_app("Acme").await;
    let tokens = sessions(&t, &app, 5).await;
    // Three payees behind the proxy: each is their own client.
    for (i, token) in tokens[..3].iter().enumerate() {
        let client = format!("203.0.113.{}", i + 1);
        assert_eq!(send_from(&t, "127.0.0.1:40000", Some(&client), token).await, StatusCode::CREATED, "{client}");
    }
    // One of them asks for more: their own budget (2 an hour) runs out, not everyone's.
    assert_eq!(
        send_from(&t, "10.1.1.1:40000", Some("198.51.100.1, 203.0.113.1"), &tokens[3]).await,
        StatusCode::CREATED
    );
    assert_eq!(send_from(&t, "127.0.0.1:40000", Some("203.0.113.1"), &tokens[4]).await, StatusCode::TOO_MANY_REQUESTS);
}

async fn forwarded_addresses_from_anyone_else_are_ignored(t: TestApp) {
    let t = TestApp::start_with(&t.database_url, |s| s.sms_per_client_per_hour = 2).await;
    let app = t.create_app("Acme").await;
    let tokens = sessions(&t, &app, 3).await;
    // A client that invents a new X-Forwarded-For for each request is still one client.
    assert_eq!(send_from(&t, "198.51.100.9:1", Some("203.0.113.1"), &tokens[0]).await, StatusCode::CREATED);
    assert_eq!(send_from(&t, "198.51.100.9:2", Some("203.0.113.2"), &tokens[1]).await, StatusCode::CREATED);
    let third = send_from(&t, "198.51.100.9:3", Some("203.0.113.3"), &tokens[2]).await;
    assert_eq!(third, StatusCode::TOO_MANY_REQUESTS);
}

async fn ipv6_clients_share_a_budget_per_64(t: TestApp) {
    let t = TestApp::start_with(&t.database_url, |s| s.sms_per_client_per_hour = 2).await;
    let app = t.create_app("Acme").await;
    let tokens = sessions(&t, &app, 4).await;
    assert_eq!(send_from(&t, "[2001:db8:1:2::1]:1", None, &tokens[0]).await, StatusCode::CREATED);
    assert_eq!(send_from(&t, "[2001:db8:1:2:ffff::2]:1", None, &tokens[1]).await, StatusCode::CREATED);
    assert_eq!(send_from(&t, "[2001:db8:1:2:abcd::3]:1", None, &tokens[2]).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(send_from(&t, "[2001:db8:1:3::1]:1", None, &tokens[3]).await, StatusCode::CREATED, "another /64");
}
