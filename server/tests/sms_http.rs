//! The Twilio-style SMS provider against a local HTTP server standing in for it.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use dots_server::sms::{HttpSms, Sms, SmsSender};

/// One request the stand-in provider received: account, Authorization, form fields.
type Call = (String, String, Vec<(String, String)>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Call>>>);

/// A stand-in provider: records each request and answers `status`.
async fn provider(status: StatusCode) -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(move |State(r): State<Received>, Path(account): Path<String>, headers: HeaderMap, body: String| async move {
                let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
                let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                r.0.lock().unwrap().push((account, auth, form));
                (status, r#"{"sid":"SM1"}"#)
            }),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn sms() -> Sms {
    Sms { app_id: "app_x".into(), to: "+12015550100".into(), body: "Acme code: 123456".into() }
}

#[tokio::test]
async fn the_http_provider_posts_a_signed_form() {
    let (url, received) = provider(StatusCode::CREATED).await;
    HttpSms::new(&format!("{url}/"), "AC123", "secret-token", "+15005550006").send(&sms()).await.unwrap();
    let calls = received.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (account, auth, form) = &calls[0];
    assert_eq!(account, "AC123");
    let expected = base64::engine::general_purpose::STANDARD.encode("AC123:secret-token");
    assert_eq!(auth, &format!("Basic {expected}"));
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(
        (field("To"), field("From"), field("Body")),
        (Some("+12015550100"), Some("+15005550006"), Some("Acme code: 123456"))
    );
}

#[tokio::test]
async fn provider_errors_and_silence_are_failed_sends() {
    let (url, _) = provider(StatusCode::BAD_REQUEST).await;
    let refused = HttpSms::new(&url, "AC123", "t", "+15005550006").send(&sms()).await;
    assert!(refused.unwrap_err().contains("400"));
    let closed = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    assert!(HttpSms::new(&closed, "AC123", "t", "+15005550006").send(&sms()).await.is_err());
}

/// A test app's codes go to the dev outbox, never to a phone, even with a provider
/// configured; a live app's go through the provider, and it has no dev outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_apps_send_codes_through_the_provider_and_test_apps_never_do() {
    let (url, received) = provider(StatusCode::CREATED).await;
    let (database_url, cleanup) = common::fresh_database(dots_server::store::Backend::Sqlite).await;
    let t = common::TestApp::start_with(&database_url, |s| common::live_ready(s, &url, "smtp://127.0.0.1:9")).await;

    let test = t.create_app("Acme Test").await;
    let user = t.create_user(&test).await;
    let sent = t.post(&test, &format!("/v2/users/{user}/verification"), serde_json::json!({})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    assert!(received.0.lock().unwrap().is_empty(), "a test app's code reached the provider");
    assert_eq!(t.get(&test, "/v2/dev/sms").await.json["data"].as_array().unwrap().len(), 1);

    let live = t.create_live_app("Acme").await;
    let user = t.create_user(&live).await;
    let sent = t.post(&live, &format!("/v2/users/{user}/verification"), serde_json::json!({})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    let calls = received.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let body = &calls[0].2.iter().find(|(k, _)| k == "Body").unwrap().1;
    let code = common::code_in(body);
    let checked =
        t.post(&live, &format!("/v2/users/{user}/verification/check"), serde_json::json!({"code": code})).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.json);
    assert_eq!(t.get(&live, "/v2/dev/sms").await.status, StatusCode::NOT_FOUND);
    t.store.close().await;
    cleanup.run().await;
}
