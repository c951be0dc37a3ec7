//! Migrations are plain SQL files in `server/migrations/{sqlite,postgres}`, embedded
//! in the binary and applied in order at start; each runs in its own transaction.

use sqlx::{Acquire, Executor, Row};

use super::{Backend, Store, now_ms};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// The SQLite script rebuilds a table that others reference (SQLite cannot alter
    /// a constraint in place): it runs with foreign keys off, and must leave none
    /// broken (`PRAGMA foreign_key_check`) to commit.
    sqlite_rebuilds_tables: bool,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        sqlite: include_str!("../../migrations/sqlite/0001_ledger.sql"),
        postgres: include_str!("../../migrations/postgres/0001_ledger.sql"),
        sqlite_rebuilds_tables: false,
    },
    Migration {
        version: 2,
        name: "payouts",
        sqlite: include_str!("../../migrations/sqlite/0002_payouts.sql"),
        postgres: include_str!("../../migrations/postgres/0002_payouts.sql"),
        sqlite_rebuilds_tables: false,
    },
    Migration {
        version: 3,
        name: "webhooks",
        sqlite: include_str!("../../migrations/sqlite/0003_webhooks.sql"),
        postgres: include_str!("../../migrations/postgres/0003_webhooks.sql"),
        sqlite_rebuilds_tables: false,
    },
    Migration {
        version: 4,
        name: "deliveries_due_by_endpoint",
        sqlite: include_str!("../../migrations/sqlite/0004_deliveries_due_by_endpoint.sql"),
        postgres: include_str!("../../migrations/postgres/0004_deliveries_due_by_endpoint.sql"),
        sqlite_rebuilds_tables: false,
    },
    Migration {
        version: 5,
        name: "secret_rotation",
        sqlite: include_str!("../../migrations/sqlite/0005_secret_rotation.sql"),
        postgres: include_str!("../../migrations/postgres/0005_secret_rotation.sql"),
        sqlite_rebuilds_tables: false,
    },
    Migration {
        version: 6,
        name: "system_accounts",
        sqlite: include_str!("../../migrations/sqlite/0006_system_accounts.sql"),
        postgres: include_str!("../../migrations/postgres/0006_system_accounts.sql"),
        sqlite_rebuilds_tables: false,
    },
    Migration {
        version: 7,
        name: "follow_up_sessions",
        sqlite: include_str!("../../migrations/sqlite/0007_follow_up_sessions.sql"),
        postgres: include_str!("../../migrations/postgres/0007_follow_up_sessions.sql"),
        sqlite_rebuilds_tables: false,
    },
    Migration {
        version: 8,
        name: "default_country",
        sqlite: include_str!("../../migrations/sqlite/0008_default_country.sql"),
        postgres: include_str!("../../migrations/postgres/0008_default_country.sql"),
        sqlite_rebuilds_tables: false,
    },
    Migration {
        version: 9,
        name: "fees",
        sqlite: include_str!("../../migrations/sqlite/0009_fees.sql"),
        postgres: include_str!("../../migrations/postgres/0009_fees.sql"),
        sqlite_rebuilds_tables: true,
    },
];

/// An arbitrary constant: the PostgreSQL advisory lock that keeps two starting
/// servers from migrating at once.
const MIGRATION_LOCK: i64 = 0x0064_6f74_736d_6967;

pub async fn migrate(store: &Store) -> Result<(), sqlx::Error> {
    let mut conn = store.write.acquire().await?;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    }
    let result = apply_pending(store.backend, &mut conn).await;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    }
    result
}

async fn apply_pending(backend: Backend, conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute(sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    ))
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.get::<i64, _>(0))
        .collect();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = match backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        let foreign_keys_off = backend == Backend::Sqlite && migration.sqlite_rebuilds_tables;
        if foreign_keys_off {
            // A no-op inside a transaction, so it is set before one begins.
            conn.execute("PRAGMA foreign_keys = OFF").await?;
        }
        let applied = apply_one(migration, sql, foreign_keys_off, conn).await;
        if foreign_keys_off {
            conn.execute("PRAGMA foreign_keys = ON").await?;
        }
        applied?;
        tracing::info!(version = migration.version, name = migration.name, "migration applied");
    }
    Ok(())
}

async fn apply_one(
    migration: &Migration,
    sql: &str,
    check_foreign_keys: bool,
    conn: &mut sqlx::AnyConnection,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    tx.execute(sqlx::raw_sql(sql)).await?;
    if check_foreign_keys {
        let broken = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *tx).await?;
        if !broken.is_empty() {
            return Err(sqlx::Error::Protocol(format!(
                "migration {} would leave {} rows with a broken foreign key",
                migration.version,
                broken.len()
            )));
        }
    }
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
        .bind(migration.version)
        .bind(migration.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
