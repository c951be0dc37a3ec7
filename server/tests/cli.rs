//! The `dots` command line: `apps create`, `migrate`, `ledger check` (and its exit
//! code on a damaged ledger), on SQLite and on PostgreSQL.

mod common;

use std::process::Command;

use common::TestApp;
use dots_server::store::Backend;

fn dots(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dots"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DOTS_LOG", "warn")
        .envs(database_url.starts_with("postgres").then_some(("DOTS_ENCRYPTION_KEY", common::TEST_ENCRYPTION_KEY)))
        .output()
        .expect("dots runs")
}

async fn cli_creates_apps_and_checks_the_ledger(backend: Backend) {
    let (url, cleanup) = common::fresh_database(backend).await;
    let migrate = dots(&url, &["migrate"]);
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    assert!(dots(&url, &["migrate"]).status.success(), "migrating twice is a no-op");

    let created = dots(&url, &["apps", "create", "--name", "Acme", "--json"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let app: serde_json::Value = serde_json::from_slice(&created.stdout).expect("--json prints one JSON object");
    for field in ["id", "client_id", "api_secret"] {
        assert!(app[field].as_str().is_some_and(|v| !v.is_empty()), "{field} in {app}");
    }
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(!stderr.contains(app["api_secret"].as_str().unwrap()), "the secret is never logged");

    // The printed credentials work against a server on the same database.
    let t = TestApp::start(&url).await;
    let creds = common::Creds {
        id: app["id"].as_str().unwrap().into(),
        client_id: app["client_id"].as_str().unwrap().into(),
        secret: app["api_secret"].as_str().unwrap().into(),
    };
    t.refill(&creds, 5_000).await;
    let user = t.create_user(&creds).await;
    t.transfer(&creds, "balance", &user, 2_000).await;

    let ok = dots(&url, &["ledger", "check"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ledger ok"));

    // Damage the cached balance behind the ledger's back: the check must say so.
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE accounts SET balance = balance - 1 WHERE user_id = $1")
        .bind(&user)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let bad = dots(&url, &["ledger", "check", "--json"]);
    assert_eq!(bad.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert!(report["violations"].as_array().unwrap().iter().any(|v| v["rule"] == "cached_balance_matches_entries"));
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE accounts SET balance = balance + 1 WHERE user_id = $1")
        .bind(&user)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(dots(&url, &["ledger", "check"]).status.code(), Some(0));

    // The operator invites the app's first owner; the printed link makes the account.
    let invited = dots(&url, &["apps", "invite", "--app", &creds.id, "--email", "ada@example.com"]);
    assert!(invited.status.success(), "{}", String::from_utf8_lossy(&invited.stderr));
    let printed = String::from_utf8_lossy(&invited.stdout);
    let link = printed.lines().find_map(|l| l.strip_prefix("link: ")).expect("the link is printed");
    let token = link.rsplit('#').next().unwrap();
    let body = serde_json::json!({"token": token, "password": "correct horse battery staple"}).to_string();
    let joined = t.call(axum::http::Method::POST, "/dashboard/api/invitations/accept", None, &[], Some(&body)).await;
    assert_eq!(joined.json["memberships"][0]["role"], "owner", "{}", joined.json);
    assert_eq!(
        dots(&url, &["apps", "invite", "--app", "app_unknown", "--email", "x@example.com"]).status.code(),
        Some(2)
    );

    assert_eq!(dots(&url, &["apps", "create"]).status.code(), Some(2), "--name is required");
    assert_eq!(dots(&url, &["apps", "create", "--name", "X", "--currency", "ABC"]).status.code(), Some(2));
    assert_eq!(dots(&url, &["frobnicate"]).status.code(), Some(2));
    t.store.close().await;
    cleanup.run().await;
}

/// Every command explains itself: `dots --help`, `dots <command> --help` with each
/// flag and the environment variable beside it (secret values never shown).
#[test]
fn every_command_has_help_with_its_flags_and_environment() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_dots"))
            .args(args)
            .env("DOTS_OPERATOR_KEY", "op-secret-value")
            .env("DOTS_ENCRYPTION_KEY", "ek-secret-value")
            .output()
            .expect("dots runs");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!text.contains("secret-value"), "{args:?} shows a secret: {text}");
        text
    };
    let top = help(&["--help"]);
    for command in ["serve", "migrate", "apps", "ledger"] {
        assert!(top.contains(command), "dots --help names {command}: {top}");
    }
    assert!(help(&["help"]).contains("serve"));
    let serve = help(&["serve", "--help"]);
    for (flag, env) in [
        ("--listen", "DOTS_LISTEN"),
        ("--database-url", "DATABASE_URL"),
        ("--operator-key", "DOTS_OPERATOR_KEY"),
        ("--db-max-connections", "DOTS_DB_MAX_CONNECTIONS"),
        ("--sandbox", "DOTS_SANDBOX"),
        ("--public-url", "DOTS_PUBLIC_URL"),
        ("--encryption-key", "DOTS_ENCRYPTION_KEY"),
        ("--sms-provider", "DOTS_SMS_PROVIDER"),
        ("--sms-base-url", "DOTS_SMS_BASE_URL"),
        ("--sms-account", "DOTS_SMS_ACCOUNT"),
        ("--sms-token", "DOTS_SMS_TOKEN"),
        ("--sms-from", "DOTS_SMS_FROM"),
        ("--sandbox-settle-ms", "DOTS_SANDBOX_SETTLE_MS"),
        ("--worker-interval-ms", "DOTS_WORKER_INTERVAL_MS"),
        ("--worker-lease-ms", "DOTS_WORKER_LEASE_MS"),
        ("--webhook-allow-private", "DOTS_WEBHOOK_ALLOW_PRIVATE"),
        ("--webhook-timeout-ms", "DOTS_WEBHOOK_TIMEOUT_MS"),
        ("--webhook-retry-base-ms", "DOTS_WEBHOOK_RETRY_BASE_MS"),
        ("--webhook-disable-after", "DOTS_WEBHOOK_DISABLE_AFTER"),
        ("--sms-per-client-per-hour", "DOTS_SMS_PER_CLIENT_PER_HOUR"),
        ("--max-connections", "DOTS_MAX_CONNECTIONS"),
        ("--header-timeout-ms", "DOTS_HEADER_TIMEOUT_MS"),
        ("--body-idle-timeout-ms", "DOTS_BODY_IDLE_TIMEOUT_MS"),
        ("--body-timeout-ms", "DOTS_BODY_TIMEOUT_MS"),
    ] {
        assert!(serve.contains(flag) && serve.contains(&format!("env: {env}")), "serve --help lacks {flag} / {env}");
    }
    assert!(serve.contains("DOTS_LOG"), "serve --help tells how logging is set");
    assert!(help(&["migrate", "--help"]).contains("env: DATABASE_URL"));
    let create = help(&["apps", "create", "--help"]);
    assert!(create.contains("--name") && create.contains("--currency") && create.contains("--json"));
    let check = help(&["ledger", "check", "--help"]);
    assert!(check.contains("--json") && check.contains("env: DATABASE_URL"));
    let unknown = Command::new(env!("CARGO_BIN_EXE_dots")).args(["serve", "--frobnicate"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--frobnicate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cli_creates_apps_and_checks_the_ledger() {
    cli_creates_apps_and_checks_the_ledger(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cli_creates_apps_and_checks_the_ledger() {
    cli_creates_apps_and_checks_the_ledger(Backend::Postgres).await;
}

/// Production PostgreSQL is reached over TLS: `sslmode=require` in DATABASE_URL
/// makes every connection encrypted (the local cluster has TLS on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_can_require_tls() {
    let (url, cleanup) = common::fresh_database(Backend::Postgres).await;
    let store = dots_server::store::Store::open(&format!("{url}?sslmode=require"), 2).await.expect("a TLS connection");
    let mut conn = store.reader().acquire().await.unwrap();
    let encrypted: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert!(encrypted, "the connection is encrypted");
    drop(conn);
    store.close().await;
    cleanup.run().await;
}
