//! SQLite and PostgreSQL end their migrations with the same tables and columns,
//! each column nullable on both or on neither: the two migration trees cannot drift
//! apart unnoticed.

mod common;

use std::collections::BTreeSet;

use dots_server::store::{Backend, Store};
use sqlx::Row;

/// (table, column, NOT NULL) of every table of ours.
async fn columns(store: &Store) -> BTreeSet<(String, String, bool)> {
    let mut conn = store.reader().acquire().await.expect("a connection");
    let mut found = BTreeSet::new();
    match store.backend() {
        Backend::Sqlite => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            )
            .fetch_all(&mut *conn)
            .await
            .expect("tables");
            for table in tables {
                for row in sqlx::query(&format!("SELECT name, \"notnull\", pk FROM pragma_table_info('{table}')"))
                    .fetch_all(&mut *conn)
                    .await
                    .expect("columns")
                {
                    let name: String = row.get("name");
                    // An INTEGER PRIMARY KEY is the rowid: never null, though not declared so.
                    let not_null = row.get::<i64, _>("notnull") == 1 || row.get::<i64, _>("pk") > 0;
                    found.insert((table.clone(), name, not_null));
                }
            }
        }
        Backend::Postgres => {
            for row in sqlx::query(
                "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name,
                        CAST(is_nullable AS TEXT) AS is_nullable FROM information_schema.columns
                 WHERE table_schema = 'public'",
            )
            .fetch_all(&mut *conn)
            .await
            .expect("columns")
            {
                let not_null = row.get::<String, _>("is_nullable") == "NO";
                found.insert((row.get("table_name"), row.get("column_name"), not_null));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_end_migration_with_the_same_tables_and_columns() {
    let (sqlite_url, sqlite_cleanup) = common::fresh_database(Backend::Sqlite).await;
    let (postgres_url, postgres_cleanup) = common::fresh_database(Backend::Postgres).await;
    let sqlite = Store::open(&sqlite_url, 2).await.expect("SQLite migrates");
    let postgres = Store::open(&postgres_url, 2).await.expect("PostgreSQL migrates");
    let (on_sqlite, on_postgres) = (columns(&sqlite).await, columns(&postgres).await);
    sqlite.close().await;
    postgres.close().await;
    let only_sqlite: Vec<_> = on_sqlite.difference(&on_postgres).collect();
    let only_postgres: Vec<_> = on_postgres.difference(&on_sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "(table, column, not null) on SQLite only: {only_sqlite:#?}\non PostgreSQL only: {only_postgres:#?}"
    );
    assert!(on_sqlite.iter().any(|(t, c, _)| t == "accounts" && c == "balance"), "the check saw the schema");
    drop((sqlite_cleanup, postgres_cleanup));
}
