//! Webhook delivery with the real binary: two processes on one PostgreSQL share
//! the deliveries without sending any twice, and no event is lost across a
//! `kill -9` (SQLite and PostgreSQL).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use dots_e2e::{Backend, Server, TestDatabase, WebhookReceiver, call, create_app};
use serde_json::{Value, json};

const ENV: &[(&str, &str)] = &[
    ("DOTS_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("DOTS_WORKER_INTERVAL_MS", "20"),
    ("DOTS_WEBHOOK_TIMEOUT_MS", "1000"),
    ("DOTS_WEBHOOK_RETRY_BASE_MS", "100"),
];

fn app_with_endpoint(server: &Server, receiver: &WebhookReceiver) -> String {
    let basic = create_app(server);
    call(server, "POST", "/v2/webhooks", &basic, json!({"url": receiver.url, "events": ["user.created"]}));
    basic
}

fn create_users(server: &Server, basic: &str, from: usize, count: usize) {
    for i in from..from + count {
        let phone = format!("+1201555{:04}", 2000 + i);
        call(
            server,
            "POST",
            "/v2/users",
            basic,
            json!({"first_name": "P", "last_name": "Q", "email": "p@q.co", "phone_number": phone}),
        );
    }
}

fn event_ids(server: &Server, basic: &str) -> HashSet<String> {
    let list = call(server, "GET", "/v2/events?type=user.created&limit=100", basic, Value::Null);
    list["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

fn wait_for_all(receiver: &WebhookReceiver, expected: &HashSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: HashSet<String> = receiver.received().into_iter().collect();
        if expected.is_subset(&got) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} events arrived",
            expected.intersection(&got).count(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn postgres_two_processes_share_deliveries_and_send_none_twice() {
    let db = TestDatabase::new(Backend::Postgres);
    let receiver = WebhookReceiver::start();
    let (a, b) = (Server::start_with(&db.url, ENV), Server::start_with(&db.url, ENV));
    let basic = app_with_endpoint(&a, &receiver);
    create_users(&a, &basic, 0, 15);
    create_users(&b, &basic, 15, 15);
    let expected = event_ids(&a, &basic);
    assert_eq!(expected.len(), 30);
    wait_for_all(&receiver, &expected);
    std::thread::sleep(Duration::from_millis(300));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in receiver.received() {
        *counts.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
}

fn no_event_lost_across_kill_9(backend: Backend) {
    let db = TestDatabase::new(backend);
    let receiver = WebhookReceiver::start();
    let a = Server::start_with(&db.url, ENV);
    let basic = app_with_endpoint(&a, &receiver);
    create_users(&a, &basic, 0, 20);
    // Killed with deliveries queued and some in flight.
    a.kill_9();
    let a = Server::start_with(&db.url, ENV);
    create_users(&a, &basic, 20, 5);
    let expected = event_ids(&a, &basic);
    assert_eq!(expected.len(), 25);
    wait_for_all(&receiver, &expected);
}

#[test]
fn sqlite_no_webhook_event_is_lost_across_kill_9() {
    no_event_lost_across_kill_9(Backend::Sqlite);
}

#[test]
fn postgres_no_webhook_event_is_lost_across_kill_9() {
    no_event_lost_across_kill_9(Backend::Postgres);
}
