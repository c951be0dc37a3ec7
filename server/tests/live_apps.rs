//! Test and live apps (issue 19, part 1): an app is a test app unless made live,
//! and its secret says which (`sk_test_…`, `sk_live_…`); a live app this server
//! cannot serve — no kept encryption key, no SMS provider, no SMTP, no rail for a
//! payout method type it allows — is refused with everything missing at once, by
//! the API, by `dots apps create` and, for a live app already in the database, by
//! `dots serve`, which does not start. On SQLite and PostgreSQL.

mod common;

use std::process::Command;

use axum::http::{Method, StatusCode};
use common::{Creds, OPERATOR_KEY, Resp, TestApp};
use dots_server::live::{Readiness, check_live_apps};
use serde_json::{Value, json};

on_both_databases!(
    apps_are_test_apps_unless_made_live,
    a_live_app_is_refused_with_everything_it_lacks,
    the_sandboxs_routes_do_not_exist_for_a_live_app,
);

async fn create(t: &TestApp, body: Value) -> Resp {
    let bearer = format!("Bearer {OPERATOR_KEY}");
    t.call(Method::POST, "/v2/apps", Some(&bearer), &[], Some(&body.to_string())).await
}

async fn apps_are_test_apps_unless_made_live(t: TestApp) {
    let made = create(&t, json!({"name": "Acme"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    assert_eq!(made.json["mode"], "test");
    let secret = made.json["api_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("sk_test_") && secret.len() == "sk_test_".len() + 40, "{secret}");
    let app = Creds { id: made.id(), client_id: made.json["client_id"].as_str().unwrap().into(), secret };
    assert_eq!(t.get(&app, "/v2/apps/me").await.json["mode"], "test");
    let rotated = t.post(&app, "/v2/apps/me/secret/rotate", json!({"grace_seconds": 0})).await;
    assert!(rotated.json["api_secret"].as_str().unwrap().starts_with("sk_test_"), "{}", rotated.json);
    let named = create(&t, json!({"name": "Globex", "mode": "test", "payout_method_types": ["paypal"]})).await;
    assert_eq!((named.status, &named.json["mode"]), (StatusCode::CREATED, &json!("test")));

    for (body, param) in [
        (json!({"name": "X", "mode": "production"}), "mode"),
        (json!({"name": "X", "payout_method_types": []}), "payout_method_types"),
        (json!({"name": "X", "payout_method_types": ["bank", "wire"]}), "payout_method_types"),
        (json!({"name": "X", "payout_method_types": ["bank", "bank"]}), "payout_method_types"),
    ] {
        let refused = create(&t, body).await;
        assert_eq!((refused.code(), refused.param()), ("invalid_field", param), "{}", refused.json);
    }
}

async fn a_live_app_is_refused_with_everything_it_lacks(t: TestApp) {
    let before = t.count("SELECT COUNT(*) FROM apps").await;
    let refused = create(&t, json!({"name": "Acme Live", "mode": "live"})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "live_mode_not_ready"), "{}", refused.json);
    let message = refused.json["error"]["message"].as_str().unwrap();
    for needed in ["DOTS_SMS_PROVIDER=http", "DOTS_SMTP_URL", "bank payouts", "PayPal payouts", "Venmo payouts"] {
        assert!(message.contains(needed), "{needed}: {message}");
    }
    // PostgreSQL deployments are given their key; a SQLite one made its own beside the file.
    let postgres = t.database_url.starts_with("postgres");
    assert_eq!(message.contains("DOTS_ENCRYPTION_KEY"), !postgres, "{message}");
    let paypal_only = create(&t, json!({"name": "Acme Live", "mode": "live", "payout_method_types": ["paypal"]})).await;
    let message = paypal_only.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("PayPal payouts") && !message.contains("bank payouts"), "{message}");
    assert_eq!(t.count("SELECT COUNT(*) FROM apps").await, before, "nothing made");

    // A live app already in the database (the settings it had were taken away): the
    // start is refused, naming it and all it lacks; a server with all of it starts.
    let app = t.create_app("Initech").await;
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE apps SET mode = 'live', payout_method_types = '[\"bank\"]' WHERE id = $1")
        .bind(&app.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let refusal = check_live_apps(&t.store, &t.state.services.readiness).await.unwrap_err();
    assert!(refusal.contains("“Initech”") && refusal.contains("bank payouts") && refusal.contains("DOTS_SMTP_URL"));
    assert!(!refusal.contains("PayPal"), "only the types it allows: {refusal}");
    let ready = Readiness { encryption_key: true, sms_provider: true, smtp: true, rails: vec!["bank"] };
    assert_eq!(check_live_apps(&t.store, &ready).await, Ok(()));
    // The binary: `dots serve` stops at once with the list, exit code 2.
    let serve = dots(&t.database_url, &["serve", "--listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("“Initech” cannot be live on this server") && stderr.contains("bank payouts"), "{stderr}");
    // And `dots apps create --mode live` says the same as the API.
    let cli = dots(&t.database_url, &["apps", "create", "--name", "Hooli", "--mode", "live"]);
    let stderr = String::from_utf8_lossy(&cli.stderr);
    assert!(!cli.status.success() && stderr.contains("DOTS_SMTP_URL") && stderr.contains("Venmo payouts"), "{stderr}");
}

/// A live app (made live in the database: this server has no live rail to make one
/// with) finds no dev outbox and cannot make the sandbox rail return a payout.
async fn the_sandboxs_routes_do_not_exist_for_a_live_app(t: TestApp) {
    let test = t.create_app("Acme").await;
    let live = t.create_app("Acme Live").await;
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE apps SET mode = 'live' WHERE id = $1").bind(&live.id).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(t.get(&live, "/v2/apps/me").await.json["mode"], "live");
    for path in ["/v2/dev/sms", "/v2/dev/emails"] {
        assert_eq!(t.get(&test, path).await.status, StatusCode::OK, "{path}");
        let gone = t.get(&live, path).await;
        assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "route_not_found"), "{path}");
    }
    let returned = t.post(&live, "/v2/dev/payouts/tr_0000000000000000000000/return", json!({})).await;
    assert_eq!((returned.status, returned.code()), (StatusCode::NOT_FOUND, "route_not_found"), "{}", returned.json);
}

/// A deployment declared live (`DOTS_SANDBOX=false`) does not start without
/// everything live apps need, and says all of it at once; with it, it serves.
#[tokio::test]
async fn a_live_deployment_starts_only_complete() {
    let (database_url, cleanup) = common::fresh_database(dots_server::store::Backend::Sqlite).await;
    let refused = Command::new(env!("CARGO_BIN_EXE_dots"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &database_url)
        .env("DOTS_LOG", "warn")
        .env("DOTS_SANDBOX", "false")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    for needed in ["DOTS_ENCRYPTION_KEY", "DOTS_SMS_PROVIDER=http", "DOTS_SMTP_URL", "DOTS_ACH_ODFI_ROUTING"] {
        assert!(stderr.contains(needed), "{needed}: {stderr}");
    }
    // A half-given ACH rail is refused by name too.
    let half = Command::new(env!("CARGO_BIN_EXE_dots"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &database_url)
        .env("DOTS_ACH_ODFI_ROUTING", "091000019")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&half.stderr);
    assert!(!half.status.success() && stderr.contains("DOTS_ACH_COMPANY_NAME"), "{stderr}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_dots"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &database_url)
        .env("DOTS_LOG", "warn")
        .env("DOTS_SANDBOX", "false")
        .envs(common::LIVE_ENV)
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        assert!(server.try_wait().unwrap().is_none(), "the complete live deployment stopped");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(up, "the complete live deployment never listened");
    cleanup.run().await;
}

/// `dots doctor` names what a live deployment lacks and what is unsafe (exit 1),
/// and passes a complete, safe one (exit 0).
#[tokio::test]
async fn the_doctor_names_what_is_missing_and_what_is_unsafe() {
    let (sqlite, cleanup) = common::fresh_database(dots_server::store::Backend::Sqlite).await;
    dots_server::store::Store::open(&sqlite, 1).await.unwrap().close().await;
    let doctor = |database_url: &str, env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_dots"))
            .arg("doctor")
            .env("DATABASE_URL", database_url)
            .env("DOTS_LOG", "warn")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, said) = doctor(
        &sqlite,
        &[
            ("DOTS_PUBLIC_URL", "http://pay.example.com"),
            ("DOTS_OPERATOR_KEY", "dots-dev-operator-key-for-the-demo-only"),
            ("DOTS_SMTP_URL", "smtp://mail.example.com:25"),
            ("DOTS_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    );
    assert_eq!(code, Some(1), "{said}");
    for line in [
        "missing: DOTS_ENCRYPTION_KEY",
        "missing: an SMS provider",
        "missing: a payout rail",
        "unsafe:  DOTS_PUBLIC_URL is not https://",
        "unsafe:  DOTS_OPERATOR_KEY is a published key",
        "unsafe:  the database is SQLite",
        "unsafe:  DOTS_SMTP_URL is smtp:// without tls=required",
        "unsafe:  DOTS_WEBHOOK_ALLOW_PRIVATE=true",
    ] {
        assert!(said.contains(line), "{line}\n{said}");
    }
    assert!(!said.contains("DOTS_SMTP_URL (and"), "SMTP is given: {said}");
    cleanup.run().await;

    // Complete and safe, on PostgreSQL: nothing to fix.
    let (postgres, cleanup) = common::fresh_database(dots_server::store::Backend::Postgres).await;
    let key = common::TEST_ENCRYPTION_KEY;
    let store = dots_server::store::Store::open(&postgres, 1).await.unwrap();
    store.close().await;
    let (code, said) = doctor(
        &postgres,
        &[
            ("DOTS_SANDBOX", "false"),
            ("DOTS_PUBLIC_URL", "https://pay.example.com"),
            ("DOTS_OPERATOR_KEY", "3f9a1c77e2b54d0a9c6e8b1f2a3d4c5e"),
            ("DOTS_ENCRYPTION_KEY", key),
            ("DOTS_SMS_PROVIDER", "http"),
            ("DOTS_SMS_BASE_URL", "https://api.twilio.com"),
            ("DOTS_SMS_ACCOUNT", "AC1"),
            ("DOTS_SMS_TOKEN", "token"),
            ("DOTS_SMS_FROM", "+15005550006"),
            ("DOTS_SMTP_URL", "smtps://user:pass@smtp.example.com"),
            ("DOTS_ACH_ODFI_ROUTING", "091000019"),
            ("DOTS_ACH_ODFI_NAME", "Wells Fargo"),
            ("DOTS_ACH_COMPANY_ID", "1234567890"),
            ("DOTS_ACH_COMPANY_NAME", "Dots Payouts"),
        ],
    );
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("ok: nothing missing or unsafe"), "{said}");
    cleanup.run().await;
}

fn dots(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dots"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DOTS_LOG", "warn")
        .env("DOTS_OPERATOR_KEY", OPERATOR_KEY)
        .envs(database_url.starts_with("postgres").then_some(("DOTS_ENCRYPTION_KEY", common::TEST_ENCRYPTION_KEY)))
        .output()
        .expect("dots runs")
}
