//! Rotations across real server processes, on SQLite and PostgreSQL: an app's API
//! secret rotated through one process stops working on the other once its grace
//! period ends; an encryption key rotated by `dots keys rotate` while servers run
//! with both keys, after which a server given only the new key reads everything.

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use dots_e2e::{Backend, Server, TestDatabase, call, create_named_app, dots_bin, last_code, ledger_check};
use serde_json::{Value, json};

const KEY_OLD: &str = "0dd0000000000000000000000000000000000000000000000000000000000001";
const KEY_NEW: &str = "0e00000000000000000000000000000000000000000000000000000000000002";

fn basic(client_id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}")))
}

fn api_secret_rotation_reaches_every_process(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (a, b) = (Server::start(&db.url), Server::start(&db.url));
    let app = create_named_app(&a, "Acme");
    for server in [&a, &b] {
        assert_eq!(server.request("GET", "/v2/users", Some(&app.basic), None).0, 200, "both processes know the secret");
    }
    let rotated = call(&a, "POST", "/v2/apps/me/secret/rotate", &app.basic, json!({"grace_seconds": 1}));
    let new = basic(&app.client_id, rotated["api_secret"].as_str().unwrap());
    for server in [&a, &b] {
        assert_eq!(server.request("GET", "/v2/users", Some(&new), None).0, 200, "the new secret works at once");
        assert_eq!(server.request("GET", "/v2/users", Some(&app.basic), None).0, 200, "the old one in its grace");
    }
    // Within seconds of the grace period's end, every process refuses the old secret.
    let deadline = Instant::now() + Duration::from_secs(10);
    for server in [&b, &a] {
        while server.request("GET", "/v2/users", Some(&app.basic), None).0 != 401 {
            assert!(Instant::now() < deadline, "{} still takes the old secret", server.url);
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(server.request("GET", "/v2/users", Some(&new), None).0, 200);
    }
    drop((a, b));
    ledger_check(&db.url);
}

/// What each kind of sealed value looks like from the API: a link's URL, a payout to
/// a bank account (the rail opens it), a webhook endpoint's signing.
fn read_everything(server: &Server, auth: &str, link_id: &str, user: &str) {
    let link = call(server, "GET", &format!("/v2/payout-links/{link_id}"), auth, Value::Null);
    assert!(link["url"].as_str().is_some_and(|u| u.contains("/claim/plt_")), "{link}");
    let payout = call(server, "POST", "/v2/payouts", auth, json!({"user_id": user, "amount": 100, "currency": "USD"}));
    let path = format!("/v2/transfers/{}", payout["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while call(server, "GET", &path, auth, Value::Null)["status"] != "completed" {
        assert!(Instant::now() < deadline, "the payout never settled: the rail could not open the bank details");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn encryption_key_rotation_with_servers_running(backend: Backend) {
    let db = TestDatabase::new(backend);
    let fast = [("DOTS_SANDBOX_SETTLE_MS", "0"), ("DOTS_WORKER_INTERVAL_MS", "50")];
    let old = Server::start_with(&db.url, &[fast[0], fast[1], ("DOTS_ENCRYPTION_KEY", KEY_OLD)]);
    let app = create_named_app(&old, "Acme");
    let auth = app.basic.clone();
    call(&old, "POST", "/v2/refills", &auth, json!({"amount": 100_000, "currency": "USD"}));
    let phone = "+12015550144";
    let user = call(
        &old,
        "POST",
        "/v2/users",
        &auth,
        json!({"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "phone_number": phone}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    call(&old, "POST", &format!("/v2/users/{user}/verification"), &auth, json!({}));
    let code = last_code(&old, &auth, phone);
    call(&old, "POST", &format!("/v2/users/{user}/verification/check"), &auth, json!({"code": code}));
    let bank = json!({"type": "bank", "routing_number": "011000015", "account_number": "000123456789"});
    call(&old, "POST", &format!("/v2/users/{user}/payout-methods"), &auth, bank);
    call(&old, "PUT", &format!("/v2/users/{user}/compliance"), &auth, json!({"tax_id": "123456789"}));
    call(
        &old,
        "POST",
        "/v2/transfers",
        &auth,
        json!({"type": "balance", "user_id": user, "amount": 10_000, "currency": "USD"}),
    );
    call(&old, "POST", "/v2/webhooks", &auth, json!({"url": "https://example.com/hooks"}));
    let link = call(
        &old,
        "POST",
        "/v2/payout-links",
        &auth,
        json!({"amount": 500, "currency": "USD", "email": "a@example.com"}),
    );
    let link_id = link["id"].as_str().unwrap().to_string();
    drop(old);

    // Every server gets the new key with the old one beside it; they serve throughout.
    let both = [fast[0], fast[1], ("DOTS_ENCRYPTION_KEY", KEY_NEW), ("DOTS_ENCRYPTION_KEYS_OLD", KEY_OLD)];
    let (a, b) = (Server::start_with(&db.url, &both), Server::start_with(&db.url, &both));
    read_everything(&b, &auth, &link_id, &user);
    let rotate = Command::new(dots_bin())
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &db.url)
        .env("DOTS_ENCRYPTION_KEY", KEY_NEW)
        .env("DOTS_ENCRYPTION_KEYS_OLD", KEY_OLD)
        .env("DOTS_LOG", "warn")
        .output()
        .expect("dots keys rotate runs");
    let said = String::from_utf8_lossy(&rotate.stdout);
    assert!(rotate.status.success(), "{said} {}", String::from_utf8_lossy(&rotate.stderr));
    assert!(said.contains("0 no given key opens"), "{said}");
    read_everything(&a, &auth, &link_id, &user);
    drop((a, b));

    // The old key is dropped: a server with the new key alone reads everything.
    let only_new = Server::start_with(&db.url, &[fast[0], fast[1], ("DOTS_ENCRYPTION_KEY", KEY_NEW)]);
    read_everything(&only_new, &auth, &link_id, &user);
    drop(only_new);
    ledger_check(&db.url);
}

#[test]
fn sqlite_api_secret_rotation_reaches_every_process() {
    api_secret_rotation_reaches_every_process(Backend::Sqlite);
}

#[test]
fn postgres_api_secret_rotation_reaches_every_process() {
    api_secret_rotation_reaches_every_process(Backend::Postgres);
}

#[test]
fn sqlite_encryption_key_rotation_with_servers_running() {
    encryption_key_rotation_with_servers_running(Backend::Sqlite);
}

#[test]
fn postgres_encryption_key_rotation_with_servers_running() {
    encryption_key_rotation_with_servers_running(Backend::Postgres);
}
