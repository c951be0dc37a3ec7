//! SQLite under a mixed load, bounded in time: writers moving money, readers
//! listing and reading, the background checkpoints, and hostile requests (NUL
//! bytes, oversized bodies and headers) in between. A payments database must
//! never answer `database disk image is malformed`: no request may get a 5xx,
//! the file must pass `PRAGMA integrity_check`, and the ledger check runs after.
//!
//! Why this load: SQLite 3.7.0–3.51.2 (sqlx 0.8 bundles 3.46) has a race, the
//! WAL-reset bug, between a checkpoint on one connection and a commit that restarts
//! the log on another; the server used to checkpoint from a read connection beside
//! the writer every 50 ms, which is that overlap. Now only the writer checkpoints
//! (`store::checkpoint_in_background`), and the SQLite built in is 3.54.1, which
//! has the fix (`vendor/libsqlite3-sys`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, Method, StatusCode};
use common::{Creds, TestApp, basic};
use serde_json::json;

const RUN_FOR: Duration = Duration::from_secs(12);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_mixed_load_with_checkpoints_never_reports_corruption() {
    common::run(dots_server::store::Backend::Sqlite, stress).await;
}

async fn stress(t: TestApp) {
    // The bundled SQLite is one with the WAL-reset fix (3.51.3 or later: vendor/libsqlite3-sys).
    let version: String = {
        let mut conn = t.store.reader().acquire().await.unwrap();
        sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&mut *conn).await.unwrap()
    };
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(parts.as_slice() >= [3, 51, 3].as_slice(), "SQLite {version} has the WAL-reset bug");
    let app = t.create_app("Stress").await;
    t.refill(&app, 1_000_000_000).await;
    let mut users = Vec::new();
    for _ in 0..20 {
        users.push(t.create_user(&app).await);
    }
    let users = Arc::new(users);
    let served = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + RUN_FOR;
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let (t, app, users, served) = (t.clone(), app.clone(), users.clone(), served.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while Instant::now() < deadline {
                n += 6;
                let r = write_one(&t, &app, &users, n).await;
                assert!(!r.0.is_server_error(), "write {n}: {} {}", r.0, r.1);
                served.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for worker in 0..6 {
        let (t, app, users, served) = (t.clone(), app.clone(), users.clone(), served.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while Instant::now() < deadline {
                n += 1;
                let path = match n % 4 {
                    0 => "/v2/users?limit=100".to_string(),
                    1 => "/v2/transfers?limit=100".to_string(),
                    2 => "/v2/transactions?limit=100".to_string(),
                    _ => format!("/v2/users/{}/wallet", users[n % users.len()]),
                };
                let r = t.get(&app, &path).await;
                assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.json);
                served.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let served = served.load(Ordering::Relaxed);
    assert!(served > 500, "only {served} requests in {RUN_FOR:?}");
    let mut conn = t.store.reader().acquire().await.unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(integrity, "ok");
    eprintln!("{served} requests in {RUN_FOR:?}; integrity ok");
}

/// One write, or a hostile request that must be refused: `(status, body)`.
async fn write_one(t: &TestApp, app: &Creds, users: &[String], n: usize) -> (StatusCode, String) {
    let user = &users[n % users.len()];
    let r = match n % 8 {
        0 => t.post(app, "/v2/users", common::user_body(&common::unique_phone())).await,
        1 => t.post(app, "/v2/refills", json!({"amount": 100, "currency": "USD"})).await,
        2 => {
            t.post(
                app,
                "/v2/users",
                json!({"first_name": "A\u{0}", "last_name": "B", "email": "a@b.co", "phone_number": "+12015550100"}),
            )
            .await
        }
        3 => t.post_raw(app, "/v2/transfers", &"x".repeat(200_000)).await,
        4 => {
            let header = HeaderValue::from_str(&"y".repeat(1 << 20)).unwrap();
            t.call_raw(
                Method::GET,
                "/v2/users",
                &[("authorization", HeaderValue::from_str(&basic(app)).unwrap()), ("x-big", header)],
                vec![],
            )
            .await
        }
        _ => t.transfer(app, "balance", user, 1 + (n % 50) as i64).await,
    };
    (r.status, r.json.to_string())
}
