//! Webhooks against real local HTTP receivers: every delivery verifies with the
//! reference `standardwebhooks` library (PyPI), a receiver that is down gets
//! everything once it is back, a slow endpoint holds up nobody else, failing
//! endpoints are disabled with a reason, and private addresses are refused.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use common::{Creds, TestApp, basic};
use dots_server::webhooks::Deliverer;
use serde_json::{Value, json};

on_both_databases!(
    every_delivery_verifies_with_the_reference_library,
    a_receiver_that_was_down_gets_everything_once_back,
    a_slow_endpoint_does_not_hold_up_the_others,
    an_endpoint_with_a_long_backlog_does_not_hide_the_others_deliveries,
    an_endpoint_that_keeps_failing_is_disabled_and_says_why,
    events_can_be_listed_and_redelivered,
    webhook_input_is_validated_and_secrets_are_shown_once,
);

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// While true, answers 503.
    down: Arc<Mutex<bool>>,
    /// While set, every request waits for it.
    hold: Arc<Mutex<Option<Arc<tokio::sync::Notify>>>>,
}

impl Receiver {
    async fn start() -> (String, Receiver) {
        let receiver = Receiver::default();
        let app = Router::new()
            .route(
                "/hook",
                post(|State(r): State<Receiver>, headers: HeaderMap, body: String| async move {
                    let hold = r.hold.lock().unwrap().clone();
                    if let Some(hold) = hold {
                        hold.notified().await;
                    }
                    if *r.down.lock().unwrap() {
                        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance");
                    }
                    r.received.lock().unwrap().push((headers, body));
                    (StatusCode::NO_CONTENT, "")
                }),
            )
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, receiver)
    }

    fn event_ids(&self) -> Vec<String> {
        self.received.lock().unwrap().iter().map(|(h, _)| h["webhook-id"].to_str().unwrap().to_string()).collect()
    }
}

async fn endpoint(t: &TestApp, app: &Creds, url: &str, events: Option<Vec<&str>>) -> (String, String) {
    let mut body = json!({"url": url});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let r = t.post(app, "/v2/webhooks", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    (r.id(), r.json["secret"].as_str().unwrap().to_string())
}

/// Some money movement: user.created, transfer.created ×2.
async fn make_events(t: &TestApp, app: &Creds) {
    let user = t.create_user(app).await;
    t.refill(app, 1_000).await;
    t.transfer(app, "balance", &user, 300).await;
}

async fn app_event_ids(t: &TestApp, app: &Creds) -> HashSet<String> {
    t.get(app, "/v2/events?limit=100").await.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs delivery passes until nothing is due or `limit` passes ran.
async fn deliver(t: &TestApp, limit: usize) {
    let deliverer = Arc::new(Deliverer::new(t.store.clone(), t.state.services.clone()));
    for _ in 0..limit {
        let mut started = deliverer.clone().start_due().await.unwrap();
        if started.is_empty() {
            return;
        }
        while started.join_next().await.is_some() {}
    }
}

/// Checks every received request with the reference implementation.
fn verify_with_reference_library(secrets: &[&str], received: &[(HeaderMap, String)]) {
    let items: Vec<Value> = received
        .iter()
        .flat_map(|(headers, body)| {
            secrets.iter().map(move |secret| {
                json!({
                    "secret": secret,
                    "body": body,
                    "headers": {
                        "webhook-id": headers["webhook-id"].to_str().unwrap(),
                        "webhook-timestamp": headers["webhook-timestamp"].to_str().unwrap(),
                        "webhook-signature": headers["webhook-signature"].to_str().unwrap(),
                    }
                })
            })
        })
        .collect();
    let file = std::env::temp_dir().join(format!("dots-webhooks-{}.json", dots_server::store::random_base62(8)));
    std::fs::write(&file, serde_json::to_vec(&items).unwrap()).unwrap();
    let script = "import json, sys\nfrom standardwebhooks.webhooks import Webhook\nitems = json.load(open(sys.argv[1]))\nfor it in items:\n    Webhook(it['secret']).verify(it['body'], it['headers'])\nprint(len(items))\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "standardwebhooks refused a delivery (pip install standardwebhooks): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), items.len().to_string());
}

async fn every_delivery_verifies_with_the_reference_library(t: TestApp) {
    let app = t.create_app("Acme").await;
    let (url, receiver) = Receiver::start().await;
    let (id, secret) = endpoint(&t, &app, &url, None).await;
    make_events(&t, &app).await;
    deliver(&t, 5).await;
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(
        received.iter().map(|(h, _)| h["webhook-id"].to_str().unwrap().to_string()).collect::<HashSet<_>>(),
        app_event_ids(&t, &app).await
    );
    for (headers, body) in &received {
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["id"], headers["webhook-id"].to_str().unwrap());
        assert!(body["type"].is_string() && body["created"].is_string() && body["data"].is_object(), "{body}");
    }
    verify_with_reference_library(&[&secret], &received);

    // After a rotation both secrets verify during the overlap.
    let rotated = t.post(&app, &format!("/v2/webhooks/{id}/rotate-secret"), json!({"overlap_seconds": 3600})).await;
    let new_secret = rotated.json["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    receiver.received.lock().unwrap().clear();
    t.refill(&app, 5).await;
    deliver(&t, 5).await;
    let after = receiver.received.lock().unwrap().clone();
    assert_eq!(after.len(), 1);
    verify_with_reference_library(&[&secret, &new_secret], &after);
    let deliveries = t.get(&app, &format!("/v2/webhooks/{id}/deliveries?limit=100")).await;
    assert!(
        deliveries.json["data"].as_array().unwrap().iter().all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{}",
        deliveries.json
    );
}

async fn a_receiver_that_was_down_gets_everything_once_back(t: TestApp) {
    let app = t.create_app("Acme").await;
    let (url, receiver) = Receiver::start().await;
    let (id, _) = endpoint(&t, &app, &url, None).await;
    *receiver.down.lock().unwrap() = true;
    make_events(&t, &app).await;
    // Two failed passes: 3 deliveries × 2 attempts stay under the disabling threshold (8).
    for _ in 0..2 {
        deliver(&t, 1).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert!(receiver.event_ids().is_empty());
    let failing = t.get(&app, &format!("/v2/webhooks/{id}/deliveries")).await;
    assert!(
        failing.json["data"].as_array().unwrap().iter().all(|d| d["status"] == "pending"
            && d["last_error"] == "HTTP 503"
            && d["last_response"] == "down for maintenance"),
        "{}",
        failing.json
    );

    *receiver.down.lock().unwrap() = false;
    for _ in 0..100 {
        deliver(&t, 5).await;
        if receiver.event_ids().len() >= app_event_ids(&t, &app).await.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got: Vec<String> = receiver.event_ids();
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), app_event_ids(&t, &app).await, "everything arrives");
    assert_eq!(got.len(), got.iter().collect::<HashSet<_>>().len(), "each once");
    assert_eq!(t.get(&app, &format!("/v2/webhooks/{id}")).await.json["status"], "enabled");
}

async fn a_slow_endpoint_does_not_hold_up_the_others(t: TestApp) {
    let app = t.create_app("Acme").await;
    let (slow_url, slow) = Receiver::start().await;
    let (fast_url, fast) = Receiver::start().await;
    let release = Arc::new(tokio::sync::Notify::new());
    *slow.hold.lock().unwrap() = Some(release.clone());
    endpoint(&t, &app, &slow_url, None).await;
    endpoint(&t, &app, &fast_url, None).await;
    for _ in 0..3 {
        make_events(&t, &app).await;
    }
    let expected = app_event_ids(&t, &app).await;
    assert!(expected.len() > dots_server::webhooks::MAX_IN_FLIGHT_PER_ENDPOINT);
    let worker = tokio::spawn(
        Arc::new(Deliverer::new(t.store.clone(), t.state.services.clone())).run(Duration::from_millis(10)),
    );
    // Every fast delivery arrives while the slow endpoint has not answered once.
    for _ in 0..200 {
        if fast.event_ids().len() == expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(fast.event_ids().into_iter().collect::<HashSet<_>>(), expected);
    assert!(slow.event_ids().is_empty(), "the slow endpoint is still holding its first requests");
    *slow.hold.lock().unwrap() = None;
    release.notify_waiters();
    worker.abort();
}

/// The slow endpoint's backlog is older than anything the other endpoint is sent
/// and longer than a worker pass takes in: the other still gets everything.
async fn an_endpoint_with_a_long_backlog_does_not_hide_the_others_deliveries(t: TestApp) {
    let app = t.create_app("Acme").await;
    let (slow_url, slow) = Receiver::start().await;
    let release = Arc::new(tokio::sync::Notify::new());
    *slow.hold.lock().unwrap() = Some(release.clone());
    let (slow_id, _) = endpoint(&t, &app, &slow_url, None).await;
    for _ in 0..600 {
        t.refill(&app, 1).await;
    }
    let (fast_url, fast) = Receiver::start().await;
    endpoint(&t, &app, &fast_url, None).await;
    let before: HashSet<String> = app_event_ids(&t, &app).await;
    make_events(&t, &app).await;
    let expected: HashSet<String> = app_event_ids(&t, &app).await.difference(&before).cloned().collect();
    assert!(!expected.is_empty());
    let worker = tokio::spawn(
        Arc::new(Deliverer::new(t.store.clone(), t.state.services.clone())).run(Duration::from_millis(10)),
    );
    for _ in 0..200 {
        if fast.event_ids().len() >= expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(fast.event_ids().into_iter().collect::<HashSet<_>>(), expected);
    // Not one attempt of the slow endpoint has ended (its first requests are held
    // until their timeout): the other was not waiting for them.
    let slow_attempts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1",
    )
    .bind(&slow_id)
    .fetch_one(t.store.reader())
    .await
    .unwrap();
    assert_eq!(slow_attempts, 0);
    *slow.hold.lock().unwrap() = None;
    release.notify_waiters();
    worker.abort();
}

async fn an_endpoint_that_keeps_failing_is_disabled_and_says_why(t: TestApp) {
    let app = t.create_app("Acme").await;
    let (url, receiver) = Receiver::start().await;
    *receiver.down.lock().unwrap() = true;
    let (id, _) = endpoint(&t, &app, &url, None).await;
    for _ in 0..3 {
        make_events(&t, &app).await;
    }
    let queued = app_event_ids(&t, &app).await;
    assert!(queued.len() >= 8);
    // At most four attempts per endpoint are in flight; a few passes reach eight.
    for _ in 0..20 {
        deliver(&t, 1).await;
        if t.get(&app, &format!("/v2/webhooks/{id}")).await.json["status"] == "disabled" {
            break;
        }
    }
    let disabled = t.get(&app, &format!("/v2/webhooks/{id}")).await;
    assert_eq!(disabled.json["status"], "disabled", "{}", disabled.json);
    let reason = disabled.json["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("8 failed attempts in a row") && reason.contains("HTTP 503"), "{reason}");

    // A disabled endpoint is sent nothing, and loses nothing: once enabled, every
    // queued delivery arrives.
    *receiver.down.lock().unwrap() = false;
    tokio::time::sleep(Duration::from_millis(50)).await;
    deliver(&t, 3).await;
    assert!(receiver.event_ids().is_empty(), "a disabled endpoint receives nothing");
    let enabled = t.post(&app, &format!("/v2/webhooks/{id}/enable"), json!({})).await;
    assert_eq!((enabled.json["status"].as_str(), enabled.json["disabled_reason"].is_null()), (Some("enabled"), true));
    for _ in 0..100 {
        deliver(&t, 5).await;
        if receiver.event_ids().len() >= queued.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(receiver.event_ids().into_iter().collect::<HashSet<_>>(), queued);

    // The app turns it off itself: nothing goes to it until it is on again.
    let off = t.post(&app, &format!("/v2/webhooks/{id}/disable"), json!({})).await;
    let state = (off.json["status"].as_str(), off.json["disabled_reason"].as_str());
    assert_eq!(state, (Some("disabled"), Some("disabled_by_app")), "{}", off.json);
    let before = receiver.event_ids().len();
    make_events(&t, &app).await;
    deliver(&t, 3).await;
    assert_eq!(receiver.event_ids().len(), before, "an endpoint the app disabled receives nothing");
}

async fn events_can_be_listed_and_redelivered(t: TestApp) {
    let app = t.create_app("Acme").await;
    let other = t.create_app("Other").await;
    let (url, receiver) = Receiver::start().await;
    let (id, _) = endpoint(&t, &app, &url, Some(vec!["user.created"])).await;
    make_events(&t, &app).await;
    deliver(&t, 5).await;
    assert_eq!(receiver.event_ids().len(), 1, "only the types asked for");
    let events = t.get(&app, "/v2/events?type=user.created").await;
    let event_id = events.json["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(events.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(t.get(&app, &format!("/v2/events/{event_id}")).await.json["type"], "user.created");
    assert_eq!(t.get(&other, &format!("/v2/events/{event_id}")).await.status, StatusCode::NOT_FOUND);
    let again = t.post(&app, &format!("/v2/events/{event_id}/redeliver"), json!({"endpoint_id": id})).await;
    assert_eq!(again.json["deliveries_queued"], 1, "{}", again.json);
    deliver(&t, 5).await;
    assert_eq!(receiver.event_ids(), vec![event_id.clone(), event_id.clone()], "the same webhook-id again");
    let r = t.post(&other, &format!("/v2/events/{event_id}/redeliver"), json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn webhook_input_is_validated_and_secrets_are_shown_once(t: TestApp) {
    let app = t.create_app("Acme").await;
    let before = t.snapshot().await;
    for (body, code) in [
        (json!({"url": "ftp://example.com/x"}), "webhook_url_not_allowed"),
        (json!({"url": "not a url"}), "webhook_url_not_allowed"),
        (json!({"url": "https://example.com/x", "events": []}), "invalid_events"),
        (json!({"url": "https://example.com/x", "events": ["user.deleted"]}), "invalid_events"),
    ] {
        let r = t.post(&app, "/v2/webhooks", body).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{}", r.json);
    }
    assert_eq!(t.snapshot().await, before);
    let created = t.post_with_key(&app, "/v2/webhooks", "wh-1", json!({"url": "https://example.com/hook"})).await;
    assert!(created.json["secret"].as_str().unwrap().starts_with("whsec_"));
    let replay = t.post_with_key(&app, "/v2/webhooks", "wh-1", json!({"url": "https://example.com/hook"})).await;
    assert_eq!((replay.json["id"].clone(), replay.json["secret"].clone()), (created.json["id"].clone(), Value::Null));
    let read = t.get(&app, &format!("/v2/webhooks/{}", created.id())).await;
    assert!(read.json.get("secret").is_none(), "{}", read.json);
    let secret = created.json["secret"].as_str().unwrap();
    assert_eq!(
        t.count(&format!("SELECT COUNT(*) FROM webhook_endpoints WHERE secret_encrypted LIKE '%{}%'", &secret[6..20]))
            .await,
        0
    );
    for _ in 1..dots_server::webhooks::MAX_ENDPOINTS_PER_APP {
        t.post(&app, "/v2/webhooks", json!({"url": "https://example.com/more"})).await;
    }
    let too_many = t.post(&app, "/v2/webhooks", json!({"url": "https://example.com/more"})).await;
    assert_eq!((too_many.status, too_many.code()), (StatusCode::CONFLICT, "too_many_webhooks"));
    let other = t.create_app("Other").await;
    assert_eq!(t.get(&other, &format!("/v2/webhooks/{}", created.id())).await.status, StatusCode::NOT_FOUND);
    let gone = t.call(Method::DELETE, &format!("/v2/webhooks/{}", created.id()), Some(&basic(&app)), &[], None).await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(t.get(&app, &format!("/v2/webhooks/{}", created.id())).await.status, StatusCode::NOT_FOUND);
}

/// Without the operator's permission, no endpoint may point inside the network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_loopback_addresses_are_refused_unless_allowed() {
    let (url, cleanup) = common::fresh_database(dots_server::store::Backend::Sqlite).await;
    let t = TestApp::start_with(&url, |s| s.webhooks.allow_private = false).await;
    let app = t.create_app("Acme").await;
    for target in [
        "http://127.0.0.1:9999/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.20/hook",
        "http://172.20.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://[::ffff:10.0.0.1]/",
    ] {
        let r = t.post(&app, "/v2/webhooks", json!({"url": target})).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "webhook_url_not_allowed"),
            "{target}: {}",
            r.json
        );
    }
    assert_eq!(
        t.post(&app, "/v2/webhooks", json!({"url": "https://hooks.example.com/dots"})).await.status,
        StatusCode::CREATED
    );
    t.store.close().await;
    cleanup.run().await;
}
