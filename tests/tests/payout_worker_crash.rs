//! Payouts in flight when the server is killed (`kill -9`) settle after a restart,
//! exactly once on the rail: two server processes share one PostgreSQL database and
//! both run the payout worker; on SQLite one process is killed and restarted.

use std::time::{Duration, Instant};

use dots_e2e::{Backend, Server, TestDatabase, call, create_app, ledger_check, psql_value, verified_payee};
use serde_json::{Value, json};

const PAYOUTS: usize = 12;

/// Worker timings short enough for a test: a killed worker's lease lapses in 1 s.
const WORKER_ENV: &[(&str, &str)] =
    &[("DOTS_WORKER_INTERVAL_MS", "20"), ("DOTS_WORKER_LEASE_MS", "1000"), ("DOTS_SANDBOX_SETTLE_MS", "800")];

/// App, funded payee with a bank account, and `PAYOUTS` payouts made through `server`.
fn payouts_in_flight(server: &Server) -> (String, Vec<String>) {
    let basic = create_app(server);
    let bank = json!({"type": "bank", "routing_number": "011000015", "account_number": "000123456789"});
    let user_id = &verified_payee(server, &basic, "+12015550123", bank);
    call(server, "POST", "/v2/refills", &basic, json!({"amount": 1_000_000, "currency": "USD"}));
    call(
        server,
        "POST",
        "/v2/transfers",
        &basic,
        json!({"type": "balance", "user_id": user_id, "amount": 100_000, "currency": "USD"}),
    );
    let ids = (0..PAYOUTS)
        .map(|i| {
            let p = call(
                server,
                "POST",
                "/v2/payouts",
                &basic,
                json!({"user_id": user_id, "amount": 1_000 + i as i64, "currency": "USD"}),
            );
            p["id"].as_str().unwrap().to_string()
        })
        .collect();
    (basic, ids)
}

fn statuses(server: &Server, basic: &str, ids: &[String]) -> Vec<String> {
    ids.iter()
        .map(|id| {
            call(server, "GET", &format!("/v2/transfers/{id}"), basic, Value::Null)["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn wait_until_all_completed(server: &Server, basic: &str, ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = statuses(server, basic, ids);
        if now.iter().all(|s| s == "completed") {
            return;
        }
        assert!(Instant::now() < deadline, "payouts did not all settle: {now:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn postgres_two_servers_killed_mid_payout_settle_each_payout_once() {
    let db = TestDatabase::new(Backend::Postgres);
    let (a, b) = (Server::start_with(&db.url, WORKER_ENV), Server::start_with(&db.url, WORKER_ENV));
    let (basic, ids) = payouts_in_flight(&a);
    // Let the workers of both processes take some payouts to the rail, then kill both.
    let deadline = Instant::now() + Duration::from_secs(20);
    while psql_value(&db.url, "SELECT COUNT(*) FROM transfers WHERE kind = 'payout' AND status = 'pending'") == "0" {
        assert!(Instant::now() < deadline, "no payout reached the rail");
        std::thread::sleep(Duration::from_millis(5));
    }
    a.kill_9();
    b.kill_9();
    let in_flight =
        psql_value(&db.url, "SELECT COUNT(*) FROM transfers WHERE kind = 'payout' AND status <> 'completed'");
    assert_ne!(in_flight, "0", "the kill must catch payouts in flight");

    let (a, _b) = (Server::start_with(&db.url, WORKER_ENV), Server::start_with(&db.url, WORKER_ENV));
    wait_until_all_completed(&a, &basic, &ids);
    assert_eq!(
        psql_value(&db.url, "SELECT COUNT(*) FROM sandbox_rail_payouts"),
        PAYOUTS.to_string(),
        "one rail payout per transfer"
    );
    assert_eq!(
        psql_value(&db.url, "SELECT COUNT(*) FROM transactions WHERE kind = 'payout_settlement'"),
        PAYOUTS.to_string(),
        "each payout settled once in the ledger"
    );
    ledger_check(&db.url);
}

#[test]
fn sqlite_server_killed_mid_payout_settles_each_payout_once_after_restart() {
    let db = TestDatabase::new(Backend::Sqlite);
    let a = Server::start_with(&db.url, WORKER_ENV);
    let (basic, ids) = payouts_in_flight(&a);
    // Some payouts are at the rail, some not yet, when the process dies.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !statuses(&a, &basic, &ids).iter().any(|s| s == "pending") {
        assert!(Instant::now() < deadline, "no payout reached the rail");
    }
    a.kill_9();
    let a = Server::start_with(&db.url, WORKER_ENV);
    wait_until_all_completed(&a, &basic, &ids);
    drop(a);
    ledger_check(&db.url);
    let check = std::process::Command::new(dots_e2e::dots_bin())
        .args(["ledger", "check", "--json"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["transfers"].as_i64().unwrap() as usize, PAYOUTS + 2);
}
