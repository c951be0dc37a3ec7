//! PostgreSQL restarts under load: while it is down, requests fail cleanly (a JSON
//! 503, promptly, nothing half-done); once it is back the server recovers by
//! itself, without a restart. Alone in its test binary, since it stops the
//! machine's PostgreSQL for a moment.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dots_e2e::{Backend, Server, TestDatabase, create_app, ledger_check, psql_value};
use serde_json::{Value, json};

fn cluster(action: &str) -> bool {
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else { return false };
    versions.flatten().all(|v| {
        let version = v.file_name().to_string_lossy().into_owned();
        let mut command = Command::new("pg_ctlcluster");
        command.args(["--skip-systemctl-redirect", &version, "main", action]);
        if action == "stop" {
            command.args(["-m", "fast"]);
        }
        command.status().is_ok_and(|s| s.success())
    })
}

/// Starts PostgreSQL again however the test ends.
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        cluster("start");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline
            && !Command::new("pg_isready").args(["-h", "127.0.0.1", "-q"]).status().is_ok_and(|s| s.success())
        {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn postgres_restart_under_load_fails_cleanly_and_recovers() {
    let db = TestDatabase::new(Backend::Postgres);
    let server = Server::start(&db.url);
    let basic = create_app(&server);

    let stop = Arc::new(AtomicBool::new(false));
    // (status, body, how long the answer took) of every request.
    let answers: Arc<Mutex<Vec<(u16, String, Duration)>>> = Default::default();
    let load = {
        let (addr, basic, stop, answers) = (server.addr.clone(), basic.clone(), stop.clone(), answers.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let answer = dots_e2e::http_request(
                    &addr,
                    "POST",
                    "/v2/refills",
                    Some(&basic),
                    Some(&json!({"amount": 1, "currency": "USD"}).to_string()),
                );
                let (status, body) = answer.expect("the server always answers, even with its database down");
                answers.lock().unwrap().push((status, body, started.elapsed()));
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let guard = RestartOnDrop;
    assert!(cluster("stop"), "pg_ctlcluster stop");
    std::thread::sleep(Duration::from_secs(4));
    drop(guard); // PostgreSQL starts again
    let back = Instant::now();
    loop {
        let last = answers.lock().unwrap().last().cloned();
        if let Some((201, _, _)) = last
            && answers.lock().unwrap().iter().any(|(s, _, _)| *s == 503)
        {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(30), "the server did not recover: {last:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();

    let answers = answers.lock().unwrap().clone();
    let created = answers.iter().filter(|(s, _, _)| *s == 201).count();
    let unavailable: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
    assert!(!unavailable.is_empty(), "requests failed while the database was down");
    for (status, body, took) in &answers {
        assert!(matches!(status, 201 | 503), "only successes and clean 503s: {status} {body}");
        let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("a JSON body: {body}"));
        if *status == 503 {
            assert_eq!(json["error"]["code"], "service_unavailable", "{body}");
        }
        assert!(*took < Duration::from_secs(8), "answered promptly, not left hanging: {took:?}");
    }
    // Every refill answered 201 is in the ledger; beyond those, at most the ones
    // whose commit raced the shutdown (answered 503, outcome unknown to the client).
    let refills: usize = psql_value(&db.url, "SELECT COUNT(*) FROM transfers WHERE kind = 'refill'").parse().unwrap();
    assert!(refills >= created && refills <= created + unavailable.len(), "{refills} refills, {created} answered 201");
    drop(server);
    ledger_check(&db.url);
}
