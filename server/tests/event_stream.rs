//! `GET /v2/events/stream` (issue 17, part 4): an app's events as Server-Sent
//! Events as they happen, in the order they were recorded, never another app's;
//! resumed after the `Last-Event-ID` a client saw last; ended when the server stops
//! — on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{Creds, EventStream, TestApp};
use serde_json::json;

on_both_databases!(
    an_apps_events_arrive_as_they_happen_and_resume_after_the_last_one_seen,
    a_stream_refuses_strangers_and_unknown_resumes_and_ends_when_the_server_stops,
    an_event_committed_late_is_waited_for_not_skipped,
);

const WAIT: Duration = Duration::from_secs(5);

/// The app's events, oldest first, as `GET /v2/events` lists them.
async fn recorded(t: &TestApp, app: &Creds) -> Vec<String> {
    let list = t.get(app, "/v2/events?limit=100").await.json;
    let mut ids: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().into()).collect();
    ids.reverse();
    ids
}

async fn read(stream: &mut EventStream, n: usize) -> Vec<common::StreamedEvent> {
    let mut events = Vec::new();
    while events.len() < n {
        match stream.next(WAIT).await {
            Some(event) => events.push(event),
            None => panic!("{} events arrived of {n}: {events:#?}", events.len()),
        }
    }
    events
}

async fn an_apps_events_arrive_as_they_happen_and_resume_after_the_last_one_seen(t: TestApp) {
    let app = t.create_app("Acme").await;
    let other = t.create_app("Globex").await;
    let auth = common::basic(&app);
    // What happened before the stream opened is not sent again.
    t.refill(&app, 500).await;
    let before = recorded(&t, &app).await;
    let (opened, mut stream) = t.open_stream("/v2/events/stream", &[("authorization", &auth)]).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert_eq!(opened.headers["content-type"], "text/event-stream");
    // The other app's changes, interleaved with this app's, never arrive here.
    t.refill(&other, 100).await;
    let user = t.create_user(&app).await;
    t.refill(&other, 100).await;
    t.refill(&app, 10_000).await;
    let moved = t.transfer(&app, "balance", &user, 2_500).await;
    assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.json);
    let all = recorded(&t, &app).await;
    let new: Vec<String> = all[before.len()..].to_vec();
    assert!(new.len() >= 3, "{all:?}");
    let streamed = read(&mut stream, new.len()).await;
    assert_eq!(streamed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), new, "in the order they were recorded");
    for event in &streamed {
        // Each is the event as the API shows it, under its own id and type.
        let shown = t.get(&app, &format!("/v2/events/{}", event.id)).await.json;
        assert_eq!(event.data, shown);
        assert_eq!(event.kind, shown["type"].as_str().unwrap());
    }
    assert!(streamed.iter().any(|e| e.kind == "user.created" && e.data["data"].to_string().contains(&user)));
    assert!(stream.next(Duration::from_millis(700)).await.is_none(), "nothing more, nothing of the other app's");
    drop(stream);

    // A client that saw only the first one resumes after it: the rest, in order.
    let resume = [("authorization", auth.as_str()), ("last-event-id", new[0].as_str())];
    let (resumed_status, mut resumed) = t.open_stream("/v2/events/stream", &resume).await;
    assert_eq!(resumed_status.status, StatusCode::OK);
    let rest = read(&mut resumed, new.len() - 1).await;
    assert_eq!(rest.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), new[1..].to_vec());
    // And what happens next follows.
    let link = t
        .post(&app, "/v2/payout-links", json!({"amount": 500, "currency": "USD", "phone_number": "+12015550151"}))
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.json);
    let next = read(&mut resumed, 1).await;
    assert_eq!(next[0].kind, "payout_link.created");
    assert!(next[0].data["data"].to_string().contains(link.json["id"].as_str().unwrap()), "{:?}", next[0]);
}

async fn a_stream_refuses_strangers_and_unknown_resumes_and_ends_when_the_server_stops(t: TestApp) {
    let app = t.create_app("Acme").await;
    let other = t.create_app("Globex").await;
    t.refill(&other, 100).await;
    let theirs = recorded(&t, &other).await;
    let (anonymous, _) = t.open_stream("/v2/events/stream", &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let auth = common::basic(&app);
    let too_long = "e".repeat(65);
    for resume in ["evt_unknown", theirs[0].as_str(), too_long.as_str()] {
        let (refused, _) =
            t.open_stream("/v2/events/stream", &[("authorization", &auth), ("last-event-id", resume)]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{resume}");
    }
    // Where to resume is the header's to say, not a query's.
    for query in ["?starting_after=evt_x", "?limit=5", "?type=user.created"] {
        let (refused, _) = t.open_stream(&format!("/v2/events/stream{query}"), &[("authorization", &auth)]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
    }
    let (opened, mut stream) = t.open_stream("/v2/events/stream", &[("authorization", &auth)]).await;
    assert_eq!(opened.status, StatusCode::OK);
    // The server begins to stop: the stream ends (a graceful shutdown need not wait for it).
    t.state.stopping.send_replace(true);
    let ended = tokio::time::timeout(WAIT, stream.next(Duration::from_secs(60))).await;
    assert!(matches!(ended, Ok(None)), "the stream ended");
}

/// On PostgreSQL, servers commit side by side: an event may become visible after one
/// recorded later. The stream waits at the hole instead of going past it. (SQLite
/// commits one transaction at a time: its log has no such hole.)
async fn an_event_committed_late_is_waited_for_not_skipped(t: TestApp) {
    if t.store.backend() != dots_server::store::Backend::Postgres {
        return;
    }
    let app = t.create_app("Acme").await;
    let auth = common::basic(&app);
    let (opened, mut stream) = t.open_stream("/v2/events/stream", &[("authorization", &auth)]).await;
    assert_eq!(opened.status, StatusCode::OK);
    // Another server's transaction records an event and has not committed yet.
    let mut held = t.store.begin_write().await.unwrap();
    let late = format!("evt_late{}", dots_server::store::random_base62(16));
    sqlx::query("INSERT INTO events (id, app_id, type, data, created_at) VALUES ($1, $2, 'test.late', '{}', $3)")
        .bind(&late)
        .bind(&app.id)
        .bind(dots_server::store::now_ms())
        .execute(&mut *held)
        .await
        .unwrap();
    // This one is recorded after it, and committed first.
    t.refill(&app, 100).await;
    assert!(stream.next(Duration::from_millis(800)).await.is_none(), "the later event waits behind the hole");
    held.commit().await.unwrap();
    let both = read(&mut stream, 2).await;
    assert_eq!(both[0].id, late, "{both:#?}");
    assert_ne!(both[1].kind, "test.late");
}
