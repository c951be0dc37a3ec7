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
    use dots_server::store::Backend::Sqlite;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn live_bank_payouts_leave_in_nacha_files_and_returns_come_back() {
        super::live(Sqlite, super::payouts_through_files).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_live_app_is_funded_by_debit_from_a_proven_account() {
        super::live(Sqlite, super::funding_by_debit).await;
    }
}

mod postgres {
    use dots_server::store::Backend::Postgres;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn live_bank_payouts_leave_in_nacha_files_and_returns_come_back() {
        super::live(Postgres, super::payouts_through_files).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_live_app_is_funded_by_debit_from_a_proven_account() {
        super::live(Postgres, super::funding_by_debit).await;
    }
}

/// Runs `scenario` on a server ready for live apps (then the ledger check).
async fn live<F, Fut>(backend: dots_server::store::Backend, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let sms = common::fake_sms_provider().0.clone();
    common::run_with(backend, move |s| common::live_ready(s, &sms, "smtp://127.0.0.1:9"), scenario).await;
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

/// Registers the live app's funding account and proves it (its pre-note's file
/// settles with no return), then refills `amount` by debit: pending, nothing in the
/// wallet, until the debit's file settles. Checks each step as an app sees it.
async fn fund(t: &TestApp, app: &Creds, amount: i64) {
    let account = json!({"routing_number": "021000021", "account_number": "44556677", "holder_name": "Acme Inc"});
    let registered = operator(t, Method::PUT, &format!("/v2/apps/{}/funding-account", app.id), Some(account)).await;
    assert_eq!(
        (registered.status, registered.json["status"].as_str()),
        (StatusCode::OK, Some("unverified")),
        "{}",
        registered.json
    );
    assert_eq!(registered.json["bank"]["account_last4"], "6677");
    let early = t.post(app, "/v2/refills", json!({"amount": amount, "currency": "USD"})).await;
    assert_eq!(early.code(), "funding_account_unverified", "{}", early.json);
    // The pre-note: a zero-dollar debit (code 28) in a CCD batch.
    let prenote = cut_off(t).await;
    let read = achkit(&download(t, &prenote).await);
    assert_eq!(read["batches"][0]["sec"], "CCD");
    let entry = &read["batches"][0]["entries"][0];
    assert_eq!((entry["code"].as_i64(), entry["amount"].as_i64()), (Some(28), Some(0)), "{read}");
    assert_eq!(t.get(app, "/v2/apps/me/funding-account").await.json["status"], "prenote_sent");
    settle(t, &prenote).await;
    assert_eq!(t.get(app, "/v2/apps/me/funding-account").await.json["status"], "verified");
    // The refill: pending, its money not yet the app's.
    let before = t.app_available(app).await;
    let refill = t.post(app, "/v2/refills", json!({"amount": amount, "currency": "USD"})).await;
    assert_eq!(
        (refill.status, refill.json["status"].as_str()),
        (StatusCode::CREATED, Some("pending")),
        "{}",
        refill.json
    );
    assert_eq!(t.app_available(app).await, before);
    let debit = cut_off(t).await;
    let read = achkit(&download(t, &debit).await);
    assert_eq!(
        (read["control"]["total_debit"].as_i64(), read["control"]["total_credit"].as_i64()),
        (Some(amount), Some(0))
    );
    assert_eq!(read["batches"][0]["entries"][0]["code"].as_i64(), Some(27), "a checking debit");
    assert_eq!(t.app_available(app).await, before, "not before the debit settles");
    settle(t, &debit).await;
    assert_eq!(transfer(t, app, &refill.id()).await["status"], "completed");
    assert_eq!(t.app_available(app).await, before + amount);
}

/// A cut-off that makes a file; its id.
async fn cut_off(t: &TestApp) -> String {
    let cut = operator(t, Method::POST, "/v2/ach/cutoff", None).await;
    assert_eq!(cut.status, StatusCode::CREATED, "{}", cut.json);
    cut.json["file"]["id"].as_str().unwrap().to_string()
}

async fn download(t: &TestApp, file: &str) -> String {
    let download = operator(t, Method::GET, &format!("/v2/ach/files/{file}/download"), None).await;
    assert_eq!(download.status, StatusCode::OK);
    String::from_utf8(download.bytes).unwrap()
}

async fn settle(t: &TestApp, file: &str) {
    let settled = operator(t, Method::POST, &format!("/v2/ach/files/{file}/settle"), None).await;
    assert_eq!(
        (settled.status, settled.json["status"].as_str()),
        (StatusCode::OK, Some("settled")),
        "{}",
        settled.json
    );
}

const ACHKIT_RETURNS: &str = r#"
import json, sys
from achkit import parse
f = parse(open(sys.argv[1]).read())
print(json.dumps([[e["addenda"][0]["info"][3:18], e["addenda"][0]["info"][:3]] for b in f["batches"] for e in b["entries"]]))
"#;

/// The bank's return file for `picks` (trace, code) of our file `text`, in NACHA's
/// return layout (`common::return_file`), read first by achkit: it must find each
/// return's reason code and our trace number where the layout puts them.
fn return_file(text: &str, picks: &[(&str, &str)]) -> String {
    let file = common::return_file(text, picks);
    let path = std::env::temp_dir().join(format!("dots-return-{}.ach", dots_server::store::random_base62(8)));
    std::fs::write(&path, &file).unwrap();
    let out = std::process::Command::new("python3").args(["-c", ACHKIT_RETURNS, path.to_str().unwrap()]).output();
    let _ = std::fs::remove_file(&path);
    let out = out.expect("python3 runs");
    assert!(out.status.success(), "achkit could not read the return file: {}", String::from_utf8_lossy(&out.stderr));
    let read: Vec<(String, String)> = serde_json::from_slice(&out.stdout).unwrap();
    let expected: Vec<(String, String)> = picks.iter().map(|(t, c)| (t.to_string(), c.to_string())).collect();
    assert_eq!(read, expected, "achkit reads the returns we wrote");
    file
}

async fn returns(t: &TestApp, text: &str, picks: &[(&str, &str)]) -> Value {
    let file = return_file(text, picks);
    let r =
        operator(t, Method::POST, "/v2/ach/returns", Some(json!({"lines": file.lines().collect::<Vec<_>>()}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json
}

/// The trace numbers of a file's entries, in order.
fn traces_of(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.starts_with('6')).map(|l| l[79..94].to_string()).collect()
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
    t.refill(&test, 1_000_000).await;

    // A live app without a funding account cannot make money with a refill.
    let refused = t.post(&live, "/v2/refills", json!({"amount": 5000, "currency": "USD"})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "funding_account_required"));
    // A test app has none to register.
    let account = json!({"routing_number": "021000021", "account_number": "44556677", "holder_name": "Acme Inc"});
    let none = operator(&t, Method::PUT, &format!("/v2/apps/{}/funding-account", test.id), Some(account)).await;
    assert_eq!(none.code(), "live_apps_only", "{}", none.json);
    fund(&t, &live, 1_000_000).await;

    // Payees of both: a live payee verifies by a real text (the stand-in provider).
    let mut payees = Vec::new();
    for account in ["000123456789", "555510000", "98765432"] {
        let user = t.create_user(&live).await;
        t.verify_user(&live, &user).await;
        t.add_bank_account(&live, &user, account).await;
        payees.push(user);
    }
    let test_payee = t.create_payee(&test).await;
    // The live app pays bank accounts only.
    let paypal = json!({"type": "paypal", "email": "ada@example.com"});
    let refused = t.post(&live, &format!("/v2/users/{}/payout-methods", payees[0]), paypal).await;
    assert_eq!((refused.code(), refused.param()), ("payout_method_type_not_allowed", "type"), "{}", refused.json);
    assert_eq!(refused.json["error"]["message"], "This business doesn't pay to PayPal; it pays to a bank account.");
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
    // Each object says which it is, as the app's secret does.
    assert_eq!(
        (
            transfer(&t, &live, &plain).await["livemode"].as_bool(),
            transfer(&t, &test, &test_payout).await["livemode"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(t.get(&live, &format!("/v2/users/{}", payees[0])).await.json["livemode"], true);
    assert_eq!(t.get(&test, &format!("/v2/users/{test_payee}")).await.json["livemode"], false);
    assert_eq!(
        t.get(&live, &format!("/v2/users/{test_payee}")).await.code(),
        "user_not_found",
        "a test payee is no live app's"
    );

    // The cut-off: one file of the three live payouts, pending on the ACH rail.
    let cut = operator(&t, Method::POST, "/v2/ach/cutoff", None).await;
    assert_eq!(cut.status, StatusCode::CREATED, "{}", cut.json);
    let file = cut.json["file"].clone();
    let file_id = file["id"].as_str().unwrap().to_string();
    assert_eq!((file["entries"].as_i64(), file["credit_total"].as_i64()), (Some(3), Some(40_404 + 12_345 + 2_500)));
    assert_eq!(
        (file["status"].as_str(), file["file_id_modifier"].as_str()),
        (Some("sent"), Some("C")),
        "the pre-note's and the debit's files came first today"
    );
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
    let first = return_file(&text, &[(&traces[0], "R01"), ("091000019999999", "R02")]);
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
    let second = return_file(&text, &[(&traces[2], "R03"), (&traces[0], "R01")]);
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
    std::fs::write(&path, return_file(&text, &[(&traces[2], "R03")])).unwrap();
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
        .envs(common::LIVE_ENV)
        .output()
        .expect("dots runs");
    assert!(out.status.success(), "dots {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The funding rules: a returned pre-note fails the account; a debit returned
/// before it settles fails its refill (its money was never the app's); after, it is
/// reversed if the wallet still holds it — and if the money was spent, the refill
/// stays completed, no wallet goes below zero, and the app is suspended.
async fn funding_by_debit(t: TestApp) {
    let live = t.create_live_app("Acme").await;
    let path = format!("/v2/apps/{}/funding-account", live.id);
    let register = |account: &'static str| {
        let body = json!({"routing_number": "021000021", "account_number": account, "holder_name": "Acme Inc"});
        operator(&t, Method::PUT, &path, Some(body))
    };
    assert_eq!(register("11112222").await.json["status"], "unverified");
    let prenote = cut_off(&t).await;
    let text = download(&t, &prenote).await;
    let report = returns(&t, &text, &[(&traces_of(&text)[0], "R03")]).await;
    assert_eq!(
        (report["applied"][0]["kind"].as_str(), report["applied"][0].get("transfer_id")),
        (Some("prenote"), None)
    );
    let failed = t.get(&live, "/v2/apps/me/funding-account").await.json;
    assert_eq!(
        (failed["status"].as_str(), failed["returned"]["code"].as_str()),
        (Some("failed"), Some("R03")),
        "{failed}"
    );
    let refused = t.post(&live, "/v2/refills", json!({"amount": 1000, "currency": "USD"})).await;
    assert_eq!(refused.code(), "funding_account_unverified");
    settle(&t, &prenote).await;
    assert_eq!(
        t.get(&live, "/v2/apps/me/funding-account").await.json["status"],
        "failed",
        "a returned pre-note stays failed"
    );

    // Another account, proven; then three refills and what their returns do.
    assert_eq!(register("33334444").await.json["status"], "unverified");
    let prenote = cut_off(&t).await;
    settle(&t, &prenote).await;
    assert_eq!(t.get(&live, "/v2/apps/me/funding-account").await.json["status"], "verified");
    let refill = |amount: i64| {
        let r = t.post(&live, "/v2/refills", json!({"amount": amount, "currency": "USD"}));
        async move {
            let r = r.await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
            r.id()
        }
    };

    // Returned before it settles: failed, and the wallet never had it.
    let early = refill(50_000).await;
    let file = cut_off(&t).await;
    let text = download(&t, &file).await;
    let report = returns(&t, &text, &[(&traces_of(&text)[0], "R01")]).await;
    assert_eq!(
        (report["applied"][0]["kind"].as_str(), report["applied"][0]["status"].as_str()),
        (Some("refill"), Some("failed"))
    );
    settle(&t, &file).await;
    let early = transfer(&t, &live, &early).await;
    assert_eq!(
        (early["status"].as_str(), early["returned"]["code"].as_str()),
        (Some("failed"), Some("R01")),
        "{early}"
    );
    assert_eq!(t.app_available(&live).await, 0);

    // Returned after it settled, the money still there: reversed.
    let covered = refill(30_000).await;
    let file = cut_off(&t).await;
    settle(&t, &file).await;
    assert_eq!(t.app_available(&live).await, 30_000);
    let text = download(&t, &file).await;
    let report = returns(&t, &text, &[(&traces_of(&text)[0], "R10")]).await;
    assert_eq!(report["applied"][0]["status"], "reversed", "{report}");
    assert_eq!(transfer(&t, &live, &covered).await["status"], "reversed");
    assert_eq!(t.app_available(&live).await, 0);
    let undo = t.post(&live, &format!("/v2/transfers/{covered}/reverse"), json!({"reason": "mine"})).await;
    assert_eq!(undo.status, StatusCode::CONFLICT, "only the bank returns an ACH refill: {}", undo.json);

    // Returned after its money was spent: it stays completed, the app is suspended.
    let spent = refill(20_000).await;
    let file = cut_off(&t).await;
    settle(&t, &file).await;
    let payee = t.create_user(&live).await;
    t.verify_user(&live, &payee).await;
    let paid = t
        .post(&live, "/v2/transfers", json!({"type": "balance", "user_id": payee, "amount": 15_000, "currency": "USD"}))
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.json);
    let text = download(&t, &file).await;
    let report = returns(&t, &text, &[(&traces_of(&text)[0], "R01")]).await;
    assert_eq!(
        (report["applied"][0]["status"].as_str(), report["applied"][0]["app_suspended"].as_bool()),
        (Some("completed"), Some(true)),
        "{report}"
    );
    let overview = operator(&t, Method::GET, &format!("/v2/apps/{}", live.id), None).await;
    let reason = overview.json["suspended"]["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains(&spent) && reason.contains("R01"), "{}", overview.json);
    assert_eq!(t.get(&live, "/v2/apps/me").await.code(), "app_suspended");
    let wallet: i64 =
        sqlx::query_scalar("SELECT w.balance FROM apps a JOIN accounts w ON w.id = a.wallet_id WHERE a.id = $1")
            .bind(&live.id)
            .fetch_one(t.store.reader())
            .await
            .unwrap();
    assert_eq!(wallet, 5_000, "the wallet keeps what it had; it never goes below zero");
    let snapshot = t.snapshot().await;
    let again = returns(&t, &text, &[(&traces_of(&text)[0], "R01")]).await;
    assert_eq!(again["already_applied"], 1);
    assert_eq!(t.snapshot().await, snapshot);
}

mod files_on_disk {
    use super::*;

    /// Each new file is also written whole to `DOTS_ACH_DIR` (for an SFTP uploader),
    /// and a file is due to settle by the calendar only `DOTS_ACH_SETTLE_DAYS`
    /// banking days after its effective date.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn files_go_to_the_directory_and_settle_by_the_calendar() {
        let dir = std::env::temp_dir().join(format!("dots-ach-dir-{}", dots_server::store::random_base62(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let sms = common::fake_sms_provider().0.clone();
        let written = dir.clone();
        common::run_with(
            dots_server::store::Backend::Sqlite,
            move |s| {
                common::live_ready(s, &sms, "smtp://127.0.0.1:9");
                s.ach.as_mut().unwrap().dir = Some(written.to_string_lossy().into_owned());
            },
            move |t| async move {
                let live = t.create_live_app("Acme").await;
                let account =
                    json!({"routing_number": "021000021", "account_number": "44556677", "holder_name": "Acme Inc"});
                let path = format!("/v2/apps/{}/funding-account", live.id);
                assert_eq!(t.operator(Method::PUT, &path, Some(account)).await.status, StatusCode::OK);
                let file = cut_off(&t).await;
                let on_disk =
                    std::fs::read_to_string(dir.join(format!("{file}.ach"))).expect("the file in DOTS_ACH_DIR");
                assert_eq!(on_disk, download(&t, &file).await);
                let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
                assert_eq!(leftovers.len(), 1, "no half-written draft left: {leftovers:?}");
                // Due two banking days after its effective date, not before.
                let mut ach = t.state.services.ach.clone().unwrap();
                ach.settle_days = 2;
                let effective =
                    operator(&t, Method::GET, &format!("/v2/ach/files/{file}"), None).await.json["effective_date"]
                        .as_str()
                        .unwrap()
                        .to_string();
                let (y, m, d) = dots_shared::time::parse_date(&effective).unwrap();
                let day = dots_shared::time::days_from_civil(y, m, d);
                let mut conn = t.store.reader().acquire().await.unwrap();
                let due_on = dots_server::ach_rail::banking_days_after(day, 2);
                let at = |day: i64| day * 86_400_000 + 3_600_000;
                assert!(
                    dots_server::ach_rail::due_to_settle(&mut conn, &ach, at(due_on - 1)).await.unwrap().is_empty()
                );
                assert_eq!(
                    dots_server::ach_rail::due_to_settle(&mut conn, &ach, at(due_on)).await.unwrap(),
                    vec![file.clone()]
                );
                ach.settle_days = 0;
                assert!(
                    dots_server::ach_rail::due_to_settle(&mut conn, &ach, at(due_on + 30)).await.unwrap().is_empty(),
                    "0: by hand only"
                );
                drop(conn);
                let _ = std::fs::remove_dir_all(&dir);
            },
        )
        .await;
    }
}
