//! Migrations are plain SQL files in `server/migrations/{sqlite,postgres}`, embedded
//! in the binary and applied in order at start; each runs in its own transaction.

use sqlx::{Acquire, Executor, Row};

use super::{Backend, Store, now_ms};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// What the SQLite script needs around it.
    sqlite_runs: SqliteRuns,
}

/// How a migration's SQLite script is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SqliteRuns {
    /// As it is, in its transaction.
    Plain,
    /// It rebuilds a table that others reference (SQLite cannot alter a
    /// constraint in place): it runs with foreign keys off, and must leave none
    /// broken (`PRAGMA foreign_key_check`) to commit.
    RebuildingTables,
    /// It edits the schema's text in `sqlite_schema` (a change that leaves the
    /// stored format alone): it runs with `writable_schema` on, then the schema
    /// version is bumped, so every connection reloads the schema, and this one
    /// reloads it before the commit (an edit SQLite cannot read fails the
    /// migration, rolled back).
    EditingSchema,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        sqlite: include_str!("../../migrations/sqlite/0001_ledger.sql"),
        postgres: include_str!("../../migrations/postgres/0001_ledger.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 2,
        name: "payouts",
        sqlite: include_str!("../../migrations/sqlite/0002_payouts.sql"),
        postgres: include_str!("../../migrations/postgres/0002_payouts.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 3,
        name: "webhooks",
        sqlite: include_str!("../../migrations/sqlite/0003_webhooks.sql"),
        postgres: include_str!("../../migrations/postgres/0003_webhooks.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 4,
        name: "deliveries_due_by_endpoint",
        sqlite: include_str!("../../migrations/sqlite/0004_deliveries_due_by_endpoint.sql"),
        postgres: include_str!("../../migrations/postgres/0004_deliveries_due_by_endpoint.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 5,
        name: "secret_rotation",
        sqlite: include_str!("../../migrations/sqlite/0005_secret_rotation.sql"),
        postgres: include_str!("../../migrations/postgres/0005_secret_rotation.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 6,
        name: "system_accounts",
        sqlite: include_str!("../../migrations/sqlite/0006_system_accounts.sql"),
        postgres: include_str!("../../migrations/postgres/0006_system_accounts.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 7,
        name: "follow_up_sessions",
        sqlite: include_str!("../../migrations/sqlite/0007_follow_up_sessions.sql"),
        postgres: include_str!("../../migrations/postgres/0007_follow_up_sessions.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 8,
        name: "default_country",
        sqlite: include_str!("../../migrations/sqlite/0008_default_country.sql"),
        postgres: include_str!("../../migrations/postgres/0008_default_country.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 9,
        name: "fees",
        sqlite: include_str!("../../migrations/sqlite/0009_fees.sql"),
        postgres: include_str!("../../migrations/postgres/0009_fees.sql"),
        sqlite_runs: SqliteRuns::RebuildingTables,
    },
    Migration {
        version: 10,
        name: "link_delivery",
        sqlite: include_str!("../../migrations/sqlite/0010_link_delivery.sql"),
        postgres: include_str!("../../migrations/postgres/0010_link_delivery.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 11,
        name: "payout_batches",
        sqlite: include_str!("../../migrations/sqlite/0011_payout_batches.sql"),
        postgres: include_str!("../../migrations/postgres/0011_payout_batches.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 12,
        name: "default_payout_method",
        sqlite: include_str!("../../migrations/sqlite/0012_default_payout_method.sql"),
        postgres: include_str!("../../migrations/postgres/0012_default_payout_method.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 13,
        name: "metadata",
        sqlite: include_str!("../../migrations/sqlite/0013_metadata.sql"),
        postgres: include_str!("../../migrations/postgres/0013_metadata.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 14,
        name: "flow_payouts",
        sqlite: include_str!("../../migrations/sqlite/0014_flow_payouts.sql"),
        postgres: include_str!("../../migrations/postgres/0014_flow_payouts.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 15,
        name: "audit_log",
        sqlite: include_str!("../../migrations/sqlite/0015_audit_log.sql"),
        postgres: include_str!("../../migrations/postgres/0015_audit_log.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 16,
        name: "members",
        sqlite: include_str!("../../migrations/sqlite/0016_members.sql"),
        postgres: include_str!("../../migrations/postgres/0016_members.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 17,
        name: "two_factor",
        sqlite: include_str!("../../migrations/sqlite/0017_two_factor.sql"),
        postgres: include_str!("../../migrations/postgres/0017_two_factor.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 18,
        name: "password_resets",
        sqlite: include_str!("../../migrations/sqlite/0018_password_resets.sql"),
        postgres: include_str!("../../migrations/postgres/0018_password_resets.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 19,
        name: "webhook_responses",
        sqlite: include_str!("../../migrations/sqlite/0019_webhook_responses.sql"),
        postgres: include_str!("../../migrations/postgres/0019_webhook_responses.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 20,
        name: "operator_console",
        sqlite: include_str!("../../migrations/sqlite/0020_operator_console.sql"),
        postgres: include_str!("../../migrations/postgres/0020_operator_console.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 21,
        name: "app_modes",
        sqlite: include_str!("../../migrations/sqlite/0021_app_modes.sql"),
        postgres: include_str!("../../migrations/postgres/0021_app_modes.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 22,
        name: "ach_files",
        sqlite: include_str!("../../migrations/sqlite/0022_ach_files.sql"),
        postgres: include_str!("../../migrations/postgres/0022_ach_files.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 23,
        name: "status_indexes",
        sqlite: include_str!("../../migrations/sqlite/0023_status_indexes.sql"),
        postgres: include_str!("../../migrations/postgres/0023_status_indexes.sql"),
        sqlite_runs: SqliteRuns::Plain,
    },
    Migration {
        version: 24,
        name: "cheaper_sqlite_writes",
        sqlite: include_str!("../../migrations/sqlite/0024_cheaper_sqlite_writes.sql"),
        postgres: include_str!("../../migrations/postgres/0024_cheaper_sqlite_writes.sql"),
        sqlite_runs: SqliteRuns::EditingSchema,
    },
];

/// An arbitrary constant: the PostgreSQL advisory lock that keeps two starting
/// servers from migrating at once.
const MIGRATION_LOCK: i64 = 0x0064_6f74_736d_6967;

pub async fn migrate(store: &Store) -> Result<(), sqlx::Error> {
    migrate_up_to(store, i64::MAX).await
}

/// Applies the pending migrations up to version `last` (tests upgrade a database
/// holding data from an older schema).
async fn migrate_up_to(store: &Store, last: i64) -> Result<(), sqlx::Error> {
    let mut conn = store.write.acquire().await?;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    }
    let result = apply_pending(store.backend, &mut conn, last).await;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
    }
    result
}

async fn apply_pending(backend: Backend, conn: &mut sqlx::AnyConnection, last: i64) -> Result<(), sqlx::Error> {
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
    for migration in MIGRATIONS.iter().filter(|m| m.version <= last && !applied.contains(&m.version)) {
        let sql = match backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        let sqlite_runs = if backend == Backend::Sqlite { migration.sqlite_runs } else { SqliteRuns::Plain };
        let foreign_keys_off = sqlite_runs == SqliteRuns::RebuildingTables;
        if foreign_keys_off {
            // A no-op inside a transaction, so it is set before one begins.
            conn.execute("PRAGMA foreign_keys = OFF").await?;
        }
        let applied = apply_one(migration, sql, sqlite_runs, conn).await;
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
    sqlite_runs: SqliteRuns,
    conn: &mut sqlx::AnyConnection,
) -> Result<(), sqlx::Error> {
    let (check_foreign_keys, edits_schema) =
        (sqlite_runs == SqliteRuns::RebuildingTables, sqlite_runs == SqliteRuns::EditingSchema);
    let mut tx = conn.begin().await?;
    if edits_schema {
        tx.execute("PRAGMA writable_schema = ON").await?;
    }
    tx.execute(sqlx::raw_sql(sql)).await?;
    if edits_schema {
        // SQLite's procedure for editing the schema's text: bump the version (every
        // other connection reloads the schema when it next reads), stop writing the
        // schema and reload it here ("RESET"), then read it back in this transaction.
        let version: i64 = sqlx::query_scalar("PRAGMA schema_version").fetch_one(&mut *tx).await?;
        tx.execute(sqlx::raw_sql(&format!("PRAGMA schema_version = {}", version + 1))).await?;
        tx.execute("PRAGMA writable_schema = RESET").await?;
        sqlx::query("SELECT COUNT(*) FROM sqlite_schema").fetch_one(&mut *tx).await?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 0009 rebuilds `accounts` on SQLite: a database holding wallets,
    /// users and ledger entries keeps every row, balance and reference, and foreign
    /// keys are enforced again afterwards.
    #[tokio::test]
    async fn the_fees_migration_keeps_a_sqlite_ledger_whole() {
        let (store, dir) = sqlite_migrated_up_to(8).await;
        let mut conn = store.write.acquire().await.unwrap();
        for sql in [
            "INSERT INTO accounts (id, kind, app_id, currency, balance, created_at)
             VALUES ('wal_app', 'app_wallet', 'app_1', 'USD', 700, 1), ('wal_user', 'user_wallet', 'app_1', 'USD', 300, 1)",
            "UPDATE accounts SET balance = -1000 WHERE id = 'sys_refill_source_USD'",
            "INSERT INTO apps (id, name, client_id, secret_hash, currency, wallet_id, created_at)
             VALUES ('app_1', 'Acme', 'ci_1', 'h', 'USD', 'wal_app', 1)",
            "INSERT INTO users (id, app_id, first_name, last_name, email, phone_number, wallet_id, created_at)
             VALUES ('usr_1', 'app_1', 'Ada', 'L', 'a@example.com', '+14155552671', 'wal_user', 1)",
            "INSERT INTO transfers (id, app_id, user_id, kind, direction, status, amount, currency, created_at, updated_at)
             VALUES ('tr_1', 'app_1', NULL, 'refill', NULL, 'completed', 1000, 'USD', 1, 1),
                    ('tr_2', 'app_1', 'usr_1', 'balance', 'app_to_user', 'completed', 300, 'USD', 1, 1)",
            "INSERT INTO transactions (id, app_id, transfer_id, kind, amount, currency, created_at)
             VALUES ('txn_1', 'app_1', 'tr_1', 'refill', 1000, 'USD', 1), ('txn_2', 'app_1', 'tr_2', 'balance', 300, 'USD', 1)",
            "INSERT INTO entries (transaction_id, account_id, amount, currency) VALUES
             ('txn_1', 'sys_refill_source_USD', -1000, 'USD'), ('txn_1', 'wal_app', 1000, 'USD'),
             ('txn_2', 'wal_app', -300, 'USD'), ('txn_2', 'wal_user', 300, 'USD')",
        ] {
            sqlx::query(sql).execute(&mut *conn).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
        }
        let before = accounts(&mut conn).await;
        drop(conn);

        migrate(&store).await.unwrap();

        let mut conn = store.write.acquire().await.unwrap();
        assert_eq!(accounts(&mut conn).await, before, "every account, its seq and balance, kept");
        let fee_accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE kind = 'fee_revenue'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(fee_accounts, dots_shared::Currency::all().count() as i64);
        assert!(sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *conn).await.unwrap().is_empty());
        let enforced: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(enforced, 1, "foreign keys are on again");
        // References still hold and are enforced: an entry on a missing account is refused.
        let dangling = sqlx::query(
            "INSERT INTO entries (transaction_id, account_id, amount, currency) VALUES ('txn_1', 'wal_gone', 1, 'USD')",
        )
        .execute(&mut *conn)
        .await;
        assert!(dangling.is_err(), "a foreign key to accounts is enforced");
        // A wallet still cannot go below zero, and new accounts follow the old ones.
        let negative = sqlx::query("UPDATE accounts SET balance = -1 WHERE id = 'wal_user'").execute(&mut *conn).await;
        assert!(negative.is_err());
        sqlx::query(
            "INSERT INTO accounts (id, kind, currency, created_at) VALUES ('wal_new', 'user_wallet', 'USD', 2)",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let newest: String = sqlx::query_scalar("SELECT id FROM accounts ORDER BY seq DESC LIMIT 1")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(newest, "wal_new");
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Migration 0024 drops AUTOINCREMENT from SQLite's tables and rewrites CHECK
    /// lists as comparisons by editing the schema's text: the rows stay as they
    /// were, every connection — the one that migrated included — inserts without
    /// `sqlite_sequence`, `seq` carries on from the largest one, and the checks
    /// still refuse what they refused.
    #[tokio::test]
    async fn sequences_carry_on_without_autoincrement() {
        let (store, dir) = sqlite_migrated_up_to(23).await;
        let mut reader = store.read.acquire().await.unwrap();
        let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(&mut *reader).await.unwrap();
        let mut conn = store.write.acquire().await.unwrap();
        let sequences: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_sequence").fetch_one(&mut *conn).await.unwrap();
        assert!(sequences > 0, "before: the system accounts' inserts counted in sqlite_sequence");
        drop(conn);

        migrate(&store).await.unwrap();

        let mut conn = store.write.acquire().await.unwrap();
        let autoincrement: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_schema WHERE sql LIKE '%AUTOINCREMENT%'")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(autoincrement, 0);
        let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(check, "ok");
        // No CHECK tests a list of three or more values with IN (a temporary index per
        // row written) any more, and the rewritten ones still refuse what they refused.
        let tables: Vec<(String, String)> = sqlx::query_as("SELECT name, sql FROM sqlite_schema WHERE type = 'table'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        for (name, sql) in &tables {
            let lists = sql.split(" IN (").skip(1).filter(|rest| {
                let list = rest.split(')').next().unwrap_or_default();
                list.matches(',').count() >= 2 && !list.contains("SELECT")
            });
            assert_eq!(lists.count(), 0, "{name}: {sql}");
        }
        for refused in [
            "INSERT INTO accounts (id, kind, currency, created_at) VALUES ('wal_odd', 'piggy_bank', 'USD', 2)",
            "INSERT INTO accounts (id, kind, currency, created_at) VALUES ('wal_odd', NULL, 'USD', 2)",
        ] {
            assert!(sqlx::query(refused).execute(&mut *conn).await.is_err(), "{refused}");
        }
        let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM accounts").fetch_one(&mut *conn).await.unwrap();
        sqlx::query(
            "INSERT INTO accounts (id, kind, currency, created_at) VALUES ('wal_new', 'user_wallet', 'USD', 2)",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let seq: i64 =
            sqlx::query_scalar("SELECT seq FROM accounts WHERE id = 'wal_new'").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(seq, last + 1, "seq carries on from the largest");
        let sequences: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_sequence").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(sequences, 0, "the connection that migrated reloaded the schema: no sequence is kept");
        drop(conn);
        // A connection opened before the migration reads the new schema and the new row.
        let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(&mut *reader).await.unwrap();
        assert_eq!(after, before + 1);
        drop(reader);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A fresh SQLite database in its own directory, migrated up to `version`.
    async fn sqlite_migrated_up_to(version: i64) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("dots-migration-{}", crate::store::random_base62(10)));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("dots.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        migrate_up_to(&store, version).await.unwrap();
        (store, dir)
    }

    async fn accounts(conn: &mut sqlx::AnyConnection) -> Vec<(i64, String, String, i64)> {
        let sql = "SELECT seq, id, kind, balance FROM accounts WHERE kind <> 'fee_revenue' ORDER BY seq";
        sqlx::query_as(sql).fetch_all(conn).await.unwrap()
    }
}
