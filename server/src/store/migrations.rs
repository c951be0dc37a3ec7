//! Migrations are plain SQL files in `server/migrations/{sqlite,postgres}`, embedded
//! in the binary and applied in order at start; each runs in its own transaction.

use sqlx::{Acquire, Executor, Row};

use super::{Backend, Store, now_ms};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        sqlite: include_str!("../../migrations/sqlite/0001_ledger.sql"),
        postgres: include_str!("../../migrations/postgres/0001_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "payouts",
        sqlite: include_str!("../../migrations/sqlite/0002_payouts.sql"),
        postgres: include_str!("../../migrations/postgres/0002_payouts.sql"),
    },
    Migration {
        version: 3,
        name: "webhooks",
        sqlite: include_str!("../../migrations/sqlite/0003_webhooks.sql"),
        postgres: include_str!("../../migrations/postgres/0003_webhooks.sql"),
    },
    Migration {
        version: 4,
        name: "deliveries_due_by_endpoint",
        sqlite: include_str!("../../migrations/sqlite/0004_deliveries_due_by_endpoint.sql"),
        postgres: include_str!("../../migrations/postgres/0004_deliveries_due_by_endpoint.sql"),
    },
    Migration {
        version: 5,
        name: "secret_rotation",
        sqlite: include_str!("../../migrations/sqlite/0005_secret_rotation.sql"),
        postgres: include_str!("../../migrations/postgres/0005_secret_rotation.sql"),
    },
    Migration {
        version: 6,
        name: "system_accounts",
        sqlite: include_str!("../../migrations/sqlite/0006_system_accounts.sql"),
        postgres: include_str!("../../migrations/postgres/0006_system_accounts.sql"),
    },
    Migration {
        version: 7,
        name: "follow_up_sessions",
        sqlite: include_str!("../../migrations/sqlite/0007_follow_up_sessions.sql"),
        postgres: include_str!("../../migrations/postgres/0007_follow_up_sessions.sql"),
    },
    Migration {
        version: 8,
        name: "default_country",
        sqlite: include_str!("../../migrations/sqlite/0008_default_country.sql"),
        postgres: include_str!("../../migrations/postgres/0008_default_country.sql"),
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
        let mut tx = conn.begin().await?;
        tx.execute(sqlx::raw_sql(sql)).await?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version = migration.version, name = migration.name, "migration applied");
    }
    Ok(())
}
