//! CSV exports (issue 18, part 6): an app's transfers and ledger transactions for
//! a time range, streamed a page at a time; read back with a standard CSV reader,
//! their sums match the ledger — on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::{Creds, TestApp};
use serde_json::json;

on_both_databases!(exports_read_back_as_csv_and_add_up_to_the_ledger, an_export_pages_by_seq_and_keeps_to_its_range);

/// The records of a CSV answer, by a standard reader: its header and rows.
fn records(bytes: &[u8]) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().expect("a header").iter().map(str::to_string).collect();
    (header, reader.records().map(|r| r.expect("a CSV record")).collect())
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

async fn some_money_moved(t: &TestApp, app: &Creds) -> String {
    t.refill(app, 100_000).await;
    let payee = t.create_payee(app).await;
    for amount in [2_500, 1_250] {
        assert_eq!(t.transfer(app, "balance", &payee, amount).await.status, StatusCode::CREATED);
    }
    let payout = t.post(app, "/v2/payouts", json!({"user_id": payee, "amount": 1_000, "currency": "USD"})).await;
    assert_eq!(payout.status, StatusCode::CREATED, "{}", payout.json);
    t.settle_payouts().await;
    payee
}

async fn exports_read_back_as_csv_and_add_up_to_the_ledger(t: TestApp) {
    let app = t.create_app("Acme").await;
    let payee = some_money_moved(&t, &app).await;
    let other = t.create_app("Globex").await;
    t.refill(&other, 7_777).await;

    let answer = t.get(&app, "/v2/exports/transactions.csv").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "text/csv; charset=utf-8");
    let disposition = answer.headers["content-disposition"].to_str().unwrap();
    assert_eq!(disposition, format!("attachment; filename=\"transactions-{}.csv\"", app.id));
    let (header, rows) = records(&answer.bytes);
    assert_eq!(
        header.join(","),
        "id,transfer_id,type,amount,amount_decimal,currency,source,source_wallet_id,source_user_id,destination,destination_wallet_id,destination_user_id,created_at"
    );
    // Every transaction of this app, none of another's; the sums are the ledger's.
    let count = t.count(&format!("SELECT COUNT(*) FROM transactions WHERE app_id = '{}'", app.id)).await;
    assert_eq!(rows.len() as i64, count);
    let amount = column(&header, "amount");
    let exported: i64 = rows.iter().map(|r| r[amount].parse::<i64>().unwrap()).sum();
    let ledger =
        t.count(&format!("SELECT CAST(SUM(amount) AS BIGINT) FROM transactions WHERE app_id = '{}'", app.id)).await;
    assert_eq!(exported, ledger);
    assert!(rows.iter().all(|r| r[column(&header, "currency")] == *"USD"));
    let decimal = column(&header, "amount_decimal");
    assert!(rows.iter().any(|r| &r[amount] == "2500" && &r[decimal] == "25.00"), "{rows:?}");
    // Money into the payee's wallet names them as the destination.
    let to_payee = rows.iter().filter(|r| r[column(&header, "destination_user_id")] == *payee.as_str()).count();
    assert_eq!(to_payee, 2, "the two balance transfers");

    let transfers = t.get(&app, "/v2/exports/transfers.csv").await;
    let (header, rows) = records(&transfers.bytes);
    assert_eq!(header[..6].join(","), "id,type,status,user_id,amount,amount_decimal");
    let kinds: Vec<(&str, &str)> =
        rows.iter().map(|r| (&r[column(&header, "type")], &r[column(&header, "status")])).collect();
    assert_eq!(
        kinds,
        [("refill", "completed"), ("balance", "completed"), ("balance", "completed"), ("payout", "completed")]
    );

    // A member's download link names the app in the query; an API key may not.
    let refused = t.get(&app, &format!("/v2/exports/transfers.csv?app={}", app.id)).await;
    assert_eq!(refused.code(), "unknown_parameter");
    assert_eq!(t.get(&app, "/v2/exports/transfers.csv?limit=10").await.code(), "unknown_parameter");
    let bad = t.get(&app, "/v2/exports/transfers.csv?created_after=yesterday").await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_query"));
}

/// Pages are found by seq after the last one, up to the last row that existed when
/// the export began; the time range is kept on every page.
async fn an_export_pages_by_seq_and_keeps_to_its_range(t: TestApp) {
    let app = t.create_app("Acme").await;
    for _ in 0..7 {
        t.refill(&app, 100).await;
    }
    let read_all = |export: dots_server::exports::Export| {
        let store = t.store.clone();
        async move {
            let mut export = export;
            let mut conn = store.reader().acquire().await.unwrap();
            let mut pages = Vec::new();
            while let Some(page) = export.next_page(&mut conn).await.unwrap() {
                pages.push(page);
            }
            pages
        }
    };
    let start = |from: i64, to: i64| {
        let (store, app_id) = (t.store.clone(), app.id.clone());
        async move {
            let mut conn = store.reader().acquire().await.unwrap();
            dots_server::exports::Export::start(&mut conn, dots_server::exports::Table::Transactions, &app_id, from, to)
                .await
                .unwrap()
                .with_page_rows(3)
        }
    };
    let export = start(0, i64::MAX).await;
    // A row written after the export began is not in it.
    t.refill(&app, 100).await;
    let pages = read_all(export).await;
    assert_eq!(pages.iter().map(|p| p.lines().count()).collect::<Vec<_>>(), [3, 3, 1]);
    // Only the range: the third to the fifth refill by time.
    let times: Vec<i64> = {
        let mut conn = t.store.reader().acquire().await.unwrap();
        sqlx::query_scalar("SELECT created_at FROM transactions WHERE app_id = $1 ORDER BY seq")
            .bind(&app.id)
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    };
    let ids_in = |from: i64, to: i64| times.iter().filter(|at| **at >= from && **at < to).count();
    let (from, to) = (times[2], times[4] + 1);
    let pages = read_all(start(from, to).await).await;
    assert_eq!(pages.concat().lines().count(), ids_in(from, to));
}
