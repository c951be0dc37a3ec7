//! `store::writes`: rows of one shape reach the database the same whichever way
//! they travel — one row as a plain `INSERT … VALUES`, two to four as bound values
//! padded with all-`NULL` rows, more as one JSON parameter — and read back the same
//! through a `CROSS JOIN` on the rows, on both databases; `NULL`s, quotes,
//! backslashes, newlines, non-ASCII text and extreme integers included, after a
//! plain statement in the same round trip (parameters renumbered across them).

mod common;

use dots_server::store::writes::{Arg, Bound, Col, Rows, RowsSql, Writes, arguments};
use dots_server::store::{Backend, Store};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use sqlx::Row;

static PUT: RowsSql = RowsSql {
    sql: "INSERT INTO rows_probe (k, a, b, c) SELECT k, a, b, c FROM {rows}",
    bound: Some(Bound::One("INSERT INTO rows_probe (k, a, b, c) VALUES ($1, $2, $3, $4)")),
    columns: &[Col::Text("k"), Col::Text("a"), Col::Int("b"), Col::Int("c")],
};

static GET: RowsSql = RowsSql {
    sql: "SELECT p.k, p.a, p.b, p.c FROM {rows} CROSS JOIN rows_probe p WHERE p.k = r.k",
    bound: None,
    columns: &[Col::Text("k")],
};

type Probe = (Option<String>, Option<i64>, i64);

/// Row sets of every size from 1 to 9 (both sides of every size the writer
/// shapes differently), then of random sizes; deterministic from run to run.
fn cases() -> Vec<Vec<Probe>> {
    let text = prop_oneof![Just("a\"b\\c\nd é 😀 '".to_string()), "[^\u{0}]{0,24}"];
    let int = prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>()];
    let row = (proptest::option::of(text), proptest::option::of(int.clone()), int);
    let mut runner = TestRunner::deterministic();
    let mut cases = Vec::new();
    // Sizes 1 to 9 once each, then 24 cases of any size (0 stands for any).
    for size in (1..=9).chain(std::iter::repeat_n(0, 24)) {
        let sizes = if size == 0 { 1..=9 } else { size..=size };
        let strategy = proptest::collection::vec(row.clone(), sizes);
        cases.push(strategy.new_tree(&mut runner).expect("a case").current());
    }
    cases
}

async fn rows_round_trip(backend: Backend) {
    let (url, cleanup) = common::fresh_database(backend).await;
    let store = Store::open(&url, 4).await.expect("store");
    let mut tx = store.begin_write().await.expect("write transaction");
    sqlx::query("CREATE TABLE rows_probe (k TEXT PRIMARY KEY, a TEXT, b BIGINT, c BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await
        .expect("probe table");
    for (case, rows) in cases().into_iter().enumerate() {
        let key = |i: usize| format!("{case}-{i}");
        let mut writes = Writes::new();
        // A plain statement first: the rows' parameters come after its two.
        writes.push(
            "INSERT INTO rows_probe (k, a, b, c) VALUES ($1, NULL, NULL, $2)",
            vec![format!("{case}-plain").into(), (case as i64).into()],
        );
        for (i, (a, b, c)) in rows.iter().enumerate() {
            writes.row(&PUT, [key(i).into(), a.clone().into(), (*b).into(), (*c).into()]);
        }
        writes.run(&mut tx).await.unwrap_or_else(|e| panic!("case {case} ({} rows): {e}", rows.len()));

        let mut wanted = Rows::new(&GET);
        for i in 0..rows.len() {
            wanted.push([key(i).into()]);
        }
        let sql = wanted.sql(backend, 1);
        let found = sqlx::query_with(sql, arguments(wanted.into_args())).fetch_all(&mut *tx).await.expect("read back");
        let mut got: Vec<(String, Probe)> =
            found.iter().map(|r| (r.get::<String, _>("k"), (r.get("a"), r.get("b"), r.get("c")))).collect();
        got.sort_by_key(|(k, _)| k.split('-').nth(1).and_then(|i| i.parse::<usize>().ok()));
        let expected: Vec<(String, Probe)> = rows.iter().cloned().enumerate().map(|(i, r)| (key(i), r)).collect();
        assert_eq!(got, expected, "case {case}: {} rows", rows.len());
        let plain: (Option<String>, i64) = sqlx::query_as_with(
            "SELECT a, c FROM rows_probe WHERE k = $1",
            arguments(vec![Arg::from(format!("{case}-plain"))]),
        )
        .fetch_one(&mut *tx)
        .await
        .expect("the plain statement's row");
        assert_eq!(plain, (None, case as i64));
    }
    tx.rollback().await.expect("rollback");
    store.close().await;
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_reach_sqlite_the_same_whichever_way_they_travel() {
    rows_round_trip(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_reach_postgres_the_same_whichever_way_they_travel() {
    rows_round_trip(Backend::Postgres).await;
}
