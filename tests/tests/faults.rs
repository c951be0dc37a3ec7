//! Fault tests: `kill -9` of the server under transfer load, several times over.
//! Afterwards every transfer that was answered 2xx exists, retrying any request
//! with its idempotency key creates nothing twice, nothing is half-applied (the
//! ledger check), and pending payouts settle once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dots_e2e::{Backend, Server, TestDatabase, call, create_app, http_request_with, ledger_check, verified_payee};
use serde_json::{Value, json};

const ENV: &[(&str, &str)] =
    &[("DOTS_WORKER_INTERVAL_MS", "20"), ("DOTS_WORKER_LEASE_MS", "1000"), ("DOTS_SANDBOX_SETTLE_MS", "300")];
const ROUNDS: usize = 3;
const CLIENTS: usize = 4;

struct Setup {
    basic: String,
    users: Vec<String>,
}

fn setup(server: &Server) -> Setup {
    let basic = create_app(server);
    call(server, "POST", "/v2/refills", &basic, json!({"amount": 100_000_000, "currency": "USD"}));
    let users: Vec<String> = (0..4)
        .map(|i| {
            let phone = format!("+1201555{:04}", 3000 + i);
            let id = verified_payee(server, &basic, &phone, json!({"type": "paypal", "email": "p@q.co"}));
            call(
                server,
                "POST",
                "/v2/transfers",
                &basic,
                json!({"type": "balance", "user_id": id, "amount": 1_000_000, "currency": "USD"}),
            );
            id
        })
        .collect();
    Setup { basic, users }
}

/// A request of the load: its path, its body, and its first 2xx answer if it had one.
type Sent = (String, Value, Option<Value>);

/// One request of the load: balance transfers both ways, and every fifth a payout.
fn request_body(users: &[String], n: usize) -> (String, Value) {
    let user = &users[n % users.len()];
    if n % 5 == 4 {
        ("/v2/payouts".into(), json!({"user_id": user, "amount": 100 + (n % 50) as i64, "currency": "USD"}))
    } else {
        let direction = if n.is_multiple_of(2) { "app_to_user" } else { "user_to_app" };
        (
            "/v2/transfers".into(),
            json!({"type": "balance", "user_id": user, "amount": 100 + (n % 50) as i64, "currency": "USD", "direction": direction}),
        )
    }
}

fn send(addr: &str, basic: &str, key: &str, path: &str, body: &Value) -> Option<(u16, String)> {
    http_request_with(
        addr,
        "POST",
        path,
        &[("Authorization", basic), ("Idempotency-Key", key)],
        Some(&body.to_string()),
    )
}

fn kill_9_under_transfer_load(backend: Backend) {
    let db = TestDatabase::new(backend);
    let mut server = Server::start_with(&db.url, ENV);
    let s = setup(&server);
    // key → (path, body, Some(first 2xx body)) for every request sent.
    let sent: Arc<Mutex<HashMap<String, Sent>>> = Default::default();
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (addr, basic, users, sent, stop) =
                    (server.addr.clone(), s.basic.clone(), s.users.clone(), sent.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = c;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("r{round}-c{c}-n{n}");
                        let (path, body) = request_body(&users, n);
                        sent.lock().unwrap().insert(key.clone(), (path.clone(), body.clone(), None));
                        match send(&addr, &basic, &key, &path, &body) {
                            Some((status, text)) if (200..300).contains(&status) => {
                                sent.lock().unwrap().get_mut(&key).unwrap().2 = serde_json::from_str(&text).ok();
                            }
                            Some((409, _)) => {}
                            Some((status, text)) if status < 500 => panic!("{path}: {status} {text}"),
                            _ => {} // the server died under us, or answered 5xx: unknown outcome
                        }
                        n += CLIENTS;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400 + 150 * round as u64));
        let addr = server.addr.clone();
        server.kill_9();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().unwrap();
        }
        server = Server::start_with(&db.url, ENV);
        assert_ne!(addr, server.addr);
    }

    let sent = sent.lock().unwrap().clone();
    let answered: Vec<_> = sent.values().filter_map(|(_, _, first)| first.clone()).collect();
    assert!(answered.len() > 20, "the load made progress: {}", answered.len());
    // Every 2xx transfer exists as it was answered.
    for first in &answered {
        let id = first["id"].as_str().unwrap();
        let (status, text) = server.request("GET", &format!("/v2/transfers/{id}"), Some(&s.basic), None);
        assert_eq!(status, 200, "{id} was answered 2xx and must exist: {text}");
    }
    // Retrying every request with its key: answered ones replay the same transfer;
    // unknown ones either replay what did commit or run now. Nothing is made twice.
    let mut ids = std::collections::HashSet::new();
    for (key, (path, body, first)) in &sent {
        let (status, text) = send(&server.addr, &s.basic, key, path, body).expect("the server answers");
        if let Some(first) = first {
            let again: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(again["id"], first["id"], "{key}: a retry returns the first answer");
        }
        if (200..300).contains(&status) {
            let id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_string();
            assert!(ids.insert(id), "{key}: one transfer per key");
        }
    }
    let (_, list) = server.request("GET", "/v2/transfers?limit=1", Some(&s.basic), None);
    assert!(list.contains("\"data\""));
    // Pending payouts settle, once each.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, text) = server.request("GET", "/v2/transfers?type=payout&status=created&limit=1", Some(&s.basic), None);
        let (_, pending) =
            server.request("GET", "/v2/transfers?type=payout&status=pending&limit=1", Some(&s.basic), None);
        if text.contains("\"data\":[]") && pending.contains("\"data\":[]") {
            break;
        }
        assert!(Instant::now() < deadline, "payouts did not settle");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    ledger_check(&db.url);
}

#[test]
fn sqlite_kill_9_under_transfer_load_loses_and_doubles_nothing() {
    kill_9_under_transfer_load(Backend::Sqlite);
}

#[test]
fn postgres_kill_9_under_transfer_load_loses_and_doubles_nothing() {
    kill_9_under_transfer_load(Backend::Postgres);
}
