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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sends_codes_through_the_configured_provider() {
    let (url, received) = provider(StatusCode::CREATED).await;
    let (database_url, cleanup) = common::fresh_database(dots_server::store::Backend::Sqlite).await;
    let store = dots_server::store::Store::open(&database_url, 4).await.unwrap();
    let mut settings = dots_server::config::Settings::sandbox(&database_url);
    settings.operator_key = Some(common::OPERATOR_KEY.into());
    settings.sms_http = Some(dots_server::config::SmsHttpSettings {
        base_url: url,
        account: "AC9".into(),
        token: "tok".into(),
        from: "+15005550006".into(),
    });
    let state = dots_server::http::AppState::new(store.clone(), &settings).unwrap();
    assert!(state.services.outbox.is_none(), "no dev outbox when a provider is configured");
    let t =
        common::TestApp { router: dots_server::http::router(state.clone()), state, store: store.clone(), database_url };
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    let sent = t.post(&app, &format!("/v2/users/{user}/verification"), serde_json::json!({})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    let calls = received.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let body = &calls[0].2.iter().find(|(k, _)| k == "Body").unwrap().1;
    let code = common::code_in(body);
    let checked =
        t.post(&app, &format!("/v2/users/{user}/verification/check"), serde_json::json!({"code": code})).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.json);
    assert_eq!(t.get(&app, "/v2/dev/sms").await.status, StatusCode::NOT_FOUND);
    store.close().await;
    cleanup.run().await;
}
