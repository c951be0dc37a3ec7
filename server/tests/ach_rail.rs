//! The ACH rail (issue 19, part 2) beside the sandbox (part 1), on SQLite and
//! PostgreSQL: a live app's bank payouts wait, cancelable, for the cut-off, which
//! gathers them into one NACHA file — read back by an independent library
//! (`achkit`, PyPI) with our totals, entry hash and counts — and makes them
//! `pending`; a test app's payout beside them goes through the sandbox and into
//! no file. The bank's return file fails a payout not yet settled and reverses a
//! settled one, money and fee back, with the return code and its meaning on the
//! transfer; the same file again changes nothing. The sandbox's magic values mean
//! nothing to a live app, and a live app cannot refill itself.

mod common;

use axum::http::{Method, StatusCode};
use common::{Creds, OPERATOR_KEY, Resp, TestApp};
use serde_json::{Value, json};

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn live_bank_payouts_leave_in_nacha_files_and_returns_come_back() {
        super::scenario(dots_server::store::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn live_bank_payouts_leave_in_nacha_files_and_returns_come_back() {
        super::scenario(dots_server::store::Backend::Postgres).await;
    }
}

async fn scenario(backend: dots_server::store::Backend) {
    let sms = common::fake_sms_provider().0.clone();
    common::run_with(backend, move |s| common::live_ready(s, &sms, "smtp://127.0.0.1:9"), payouts_through_files).await;
}

async fn operator(t: &TestApp, method: Method, path: &str, body: Option<Value>) -> Resp {
    let bearer = format!("Bearer {OPERATOR_KEY}");
    let body = body.map(|b| b.to_string());
    let key = [("Idempotency-Key", dots_server::store::random_base62(16))];
    let headers: Vec<(&str, &str)> = key.iter().map(|(k, v)| (*k, v.as_str())).collect();
    t.call(method, path, Some(&bearer), &headers, body.as_deref()).await
}

async fn payout(t: &TestApp, app: &Creds, user: &str, amount: i64) -> String {
    let r = t
        .post(app, "/v2/transfers", json!({"type": "payout", "user_id": user, "amount": amount, "currency": "USD"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.id()
}

async fn transfer(t: &TestApp, app: &Creds, id: &str) -> Value {
    t.get(app, &format!("/v2/transfers/{id}")).await.json
}

/// A live app's wallet gets money only by ACH debit from its funding account (part
/// 4, not built yet): the refill here goes through the ledger's own door as that
/// debit's settlement will, balanced against the refill source.
async fn fund(t: &TestApp, app: &Creds, amount: i64) {
    let wallet: String = sqlx::query_scalar("SELECT wallet_id FROM apps WHERE id = $1")
        .bind(&app.id)
        .fetch_one(t.store.reader())
        .await
        .unwrap();
    let refill = dots_server::ledger::transfers::Refill {
        app: dots_server::ledger::AppWallet {
            id: app.id.clone(),
            wallet_id: wallet,
            currency: dots_shared::Currency::USD,
        },
        money: dots_shared::Money::new(amount, dots_shared::Currency::USD).unwrap(),
        metadata: Default::default(),
    };
    let r = t.state.writer.refill(dots_server::writer::Origin::default(), refill).await.unwrap();
    assert_eq!(r.status, StatusCode::CREATED);
}

const ACHKIT: &str = r#"
import json, sys
from achkit import parse, validate
text = open(sys.argv[1]).read()
v = validate(text)
if not v["ok"]:
    print(json.dumps({"errors": v["errors"]}))
    sys.exit(0)
f = parse(text)
print(json.dumps({
    "control": f["control"],
    "batches": [{"sec": b["sec"], "hash": b["control"]["entry_hash"], "entries": [
        {"amount": e["amount_cents"], "trace": e["trace_number"], "code": e["txn_code"], "routing": e["routing"]}
        for e in b["entries"]]} for b in f["batches"]],
}))
"#;

/// The file as achkit reads it.
fn achkit(text: &str) -> Value {
    let path = std::env::temp_dir().join(format!("dots-ach-{}.ach", dots_server::store::random_base62(8)));
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new("python3").args(["-c", ACHKIT, path.to_str().unwrap()]).output();
    let _ = std::fs::remove_file(&path);
    let out = out.expect("python3 runs");
    assert!(out.status.success(), "achkit (pip install achkit==0.2.0): {}", String::from_utf8_lossy(&out.stderr));
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(read.get("errors").is_none(), "achkit refused our file: {read}\n{text}");
    read
}

async fn payouts_through_files(t: TestApp) {
    let live = t.create_live_app("Acme").await;
    let test = t.create_app("Acme Test").await;
    fund(&t, &live, 1_000_000).await;
    t.refill(&test, 1_000_000).await;

    // A live app cannot make money with a refill.
    let refused = t.post(&live, "/v2/refills", json!({"amount": 5000, "currency": "USD"})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "funding_account_required"));

    // Payees of both: a live payee verifies by a real text (the stand-in provider).
    let mut payees = Vec::new();
    for account in ["000123456789", "555510000", "98765432"] {
        let user = t.create_user(&live).await;
        t.verify_user(&live, &user).await;
        t.add_bank_account(&live, &user, account).await;
        payees.push(user);
    }
    let test_payee = t.create_payee(&test).await;
    for user in &payees {
        let r = t
            .post(
                &live,
                "/v2/transfers",
                json!({"type": "balance", "user_id": user, "amount": 100_000, "currency": "USD"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let r = t
        .post(
            &test,
            "/v2/transfers",
            json!({"type": "balance", "user_id": test_payee, "amount": 100_000, "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // $404.04 and an account ending in 0000 fail in the sandbox; to a live app they are payouts like any.
    let magic_amount = payout(&t, &live, &payees[0], 40_404).await;
    let magic_account = payout(&t, &live, &payees[1], 12_345).await;
    let plain = payout(&t, &live, &payees[2], 2_500).await;
    let canceled = payout(&t, &live, &payees[2], 1_000).await;
    let test_payout = payout(&t, &test, &test_payee, 40_404).await;

    // The worker pays the test app's through the sandbox (its magic amount fails)
    // and leaves the live ones for the cut-off, still cancelable.
    t.settle_payouts().await;
    assert_eq!(transfer(&t, &test, &test_payout).await["status"], "failed");
    for id in [&magic_amount, &magic_account, &plain] {
        assert_eq!(transfer(&t, &live, id).await["status"], "created", "{id}");
    }
    let r = t.post(&live, &format!("/v2/transfers/{canceled}/cancel"), json!({})).await;
    assert_eq!(r.json["status"], "canceled", "{}", r.json);
    // Neither app sees the other's transfers.
    let ids = |list: &Value| {
        list["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let live_list = ids(&t.get(&live, "/v2/transfers?limit=100").await.json);
    let test_list = ids(&t.get(&test, "/v2/transfers?limit=100").await.json);
    assert!(live_list.contains(&plain) && !live_list.contains(&test_payout));
    assert!(test_list.contains(&test_payout) && !test_list.contains(&plain));

    // The cut-off: one file of the three live payouts, pending on the ACH rail.
    let cut = operator(&t, Method::POST, "/v2/ach/cutoff", None).await;
    assert_eq!(cut.status, StatusCode::CREATED, "{}", cut.json);
    let file = cut.json["file"].clone();
    let file_id = file["id"].as_str().unwrap().to_string();
    assert_eq!((file["entries"].as_i64(), file["credit_total"].as_i64()), (Some(3), Some(40_404 + 12_345 + 2_500)));
    assert_eq!((file["status"].as_str(), file["file_id_modifier"].as_str()), (Some("sent"), Some("A")));
    for id in [&magic_amount, &magic_account, &plain] {
        let paid = transfer(&t, &live, id).await;
        assert_eq!(paid["status"], "pending", "{paid}");
        assert_eq!(paid["status_history"].as_array().unwrap().last().unwrap()["reason"], "in_ach_file");
    }
    let refused = t.post(&live, &format!("/v2/transfers/{plain}/cancel"), json!({})).await;
    assert_eq!(refused.code(), "transfer_not_cancelable", "in a file, it has left");
    // Nothing waits: a second cut-off makes no file.
    let again = operator(&t, Method::POST, "/v2/ach/cutoff", None).await;
    assert_eq!((again.status, &again.json["file"]), (StatusCode::OK, &Value::Null), "{}", again.json);

    // The file, read by achkit: our totals, hash and counts, trace numbers in our book.
    let download = operator(&t, Method::GET, &format!("/v2/ach/files/{file_id}/download"), None).await;
    assert_eq!(download.status, StatusCode::OK);
    let text = String::from_utf8(download.bytes.clone()).unwrap();
    let read = achkit(&text);
    assert_eq!(read["control"]["total_credit"].as_i64(), Some(40_404 + 12_345 + 2_500), "{text}");
    assert_eq!(
        (read["control"]["total_debit"].as_i64(), read["control"]["entry_addenda_count"].as_i64()),
        (Some(0), Some(3))
    );
    assert_eq!(read["control"]["entry_hash"].as_str(), Some("0003300003"), "three entries to 01100001");
    let batch = &read["batches"][0];
    assert_eq!(batch["sec"], "PPD");
    let entries = batch["entries"].as_array().unwrap();
    let mut traces: Vec<String> = entries.iter().map(|e| e["trace"].as_str().unwrap().to_string()).collect();
    for (entry, id) in entries.iter().zip([&magic_amount, &magic_account, &plain]) {
        assert_eq!(
            (entry["code"].as_i64(), entry["routing"].as_str()),
            (Some(22), Some("011000015")),
            "checking credits"
        );
        let book: String = sqlx::query_scalar("SELECT trace FROM ach_entries WHERE transfer_id = $1")
            .bind(id)
            .fetch_one(t.store.reader())
            .await
            .unwrap();
        assert_eq!(entry["trace"].as_str(), Some(book.as_str()));
    }
    traces.dedup();
    assert_eq!(traces.len(), 3, "unique trace numbers");
    let listed = operator(&t, Method::GET, "/v2/ach/files", None).await;
    assert_eq!(listed.json["data"][0]["id"], file_id.as_str(), "{}", listed.json);

    // Returned before it settles: the $404.04 payout fails, its money back in the wallet.
    let (before, _) = t.user_wallet(&live, &payees[0]).await;
    let first = common::return_file(&text, &[(&traces[0], "R01"), ("091000019999999", "R02")]);
    let applied =
        operator(&t, Method::POST, "/v2/ach/returns", Some(json!({"lines": first.lines().collect::<Vec<_>>()}))).await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.json);
    assert_eq!(applied.json["applied"][0]["transfer_id"], magic_amount.as_str());
    assert_eq!(
        (applied.json["applied"][0]["status"].as_str(), applied.json["unmatched"][0].as_str()),
        (Some("failed"), Some("091000019999999"))
    );
    let failed = transfer(&t, &live, &magic_amount).await;
    assert_eq!(
        (failed["status"].as_str(), failed["returned"]["code"].as_str()),
        (Some("failed"), Some("R01")),
        "{failed}"
    );
    assert_eq!(failed["returned"]["meaning"], "Not enough money in the account");
    assert_eq!(t.user_wallet(&live, &payees[0]).await.0, before + 40_404);

    // The operator settles the file: the others complete.
    let settled = operator(&t, Method::POST, &format!("/v2/ach/files/{file_id}/settle"), None).await;
    assert_eq!(
        (settled.status, settled.json["status"].as_str()),
        (StatusCode::OK, Some("settled")),
        "{}",
        settled.json
    );
    assert_eq!(settled.json["returns"], 1);
    assert_eq!(transfer(&t, &live, &plain).await["status"], "completed");
    assert_eq!(transfer(&t, &live, &magic_amount).await["status"], "failed");
    let twice = operator(&t, Method::POST, &format!("/v2/ach/files/{file_id}/settle"), None).await;
    assert_eq!(twice.code(), "invalid_transition");

    // Returned after it settled: reversed, the money back; the same file again changes nothing.
    let (before, _) = t.user_wallet(&live, &payees[2]).await;
    let second = common::return_file(&text, &[(&traces[2], "R03"), (&traces[0], "R01")]);
    let applied =
        operator(&t, Method::POST, "/v2/ach/returns", Some(json!({"lines": second.lines().collect::<Vec<_>>()}))).await;
    assert_eq!(applied.json["applied"].as_array().unwrap().len(), 1, "{}", applied.json);
    assert_eq!(
        (applied.json["applied"][0]["status"].as_str(), applied.json["already_applied"].as_i64()),
        (Some("reversed"), Some(1))
    );
    let reversed = transfer(&t, &live, &plain).await;
    assert_eq!((reversed["status"].as_str(), reversed["returned"]["code"].as_str()), (Some("reversed"), Some("R03")));
    assert_eq!(t.user_wallet(&live, &payees[2]).await.0, before + 2_500);
    let snapshot = t.snapshot().await;
    let replay =
        operator(&t, Method::POST, "/v2/ach/returns", Some(json!({"lines": second.lines().collect::<Vec<_>>()}))).await;
    assert_eq!(
        (replay.json["applied"].as_array().map(Vec::len), replay.json["already_applied"].as_i64()),
        (Some(0), Some(2))
    );
    assert_eq!(t.snapshot().await, snapshot, "a second ingest changes nothing");
    // A file that is not a return file is refused whole.
    let bad = operator(&t, Method::POST, "/v2/ach/returns", Some(json!({"lines": ["hello"]}))).await;
    assert_eq!((bad.status, bad.param()), (StatusCode::UNPROCESSABLE_ENTITY, "lines"), "{}", bad.json);
    assert_eq!(t.snapshot().await, snapshot);

    // The operator's command line says the same: the file list, its text, and the
    // second ingest of a return file that changes nothing.
    let listed = dots(&t, &["ach", "files"]);
    assert!(listed.contains(&file_id) && listed.contains("settled") && listed.contains("2 returned"), "{listed}");
    assert_eq!(dots(&t, &["ach", "download", &file_id]), text);
    let path = std::env::temp_dir().join(format!("dots-returns-{}.ach", dots_server::store::random_base62(8)));
    std::fs::write(&path, common::return_file(&text, &[(&traces[2], "R03")])).unwrap();
    let ingested = dots(&t, &["ach", "returns", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(ingested.contains("0 returns applied, 1 already applied, 0 unmatched"), "{ingested}");
    assert_eq!(t.snapshot().await, snapshot);
}

/// `dots …` against the test's database, with the test's ACH settings; its stdout.
fn dots(t: &TestApp, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dots"))
        .args(args)
        .env("DATABASE_URL", &t.database_url)
        .env("DOTS_LOG", "warn")
        .env("DOTS_ENCRYPTION_KEY", common::TEST_ENCRYPTION_KEY)
        .env("DOTS_ACH_ODFI_ROUTING", common::TEST_ODFI)
        .env("DOTS_ACH_ODFI_NAME", "Wells Fargo")
        .env("DOTS_ACH_COMPANY_ID", "1234567890")
        .env("DOTS_ACH_COMPANY_NAME", "Dots Payouts")
        .output()
        .expect("dots runs");
    assert!(out.status.success(), "dots {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
