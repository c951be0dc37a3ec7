//! Storage: one sqlx `Any` pool API over SQLite (the embedded default) and
//! PostgreSQL, with the same SQL on both (`$n` placeholders work on each).
//!
//! On SQLite every write goes through a single connection (`BEGIN IMMEDIATE`), so
//! writers queue in the pool instead of failing with `SQLITE_BUSY`; reads use a
//! separate pool of read-only connections. On PostgreSQL one pool serves both.

mod migrations;
pub mod writes;

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use migrations::migrate;

/// How much of an SQLite database each connection maps into memory for reading.
/// Mapped pages count in the process's resident memory: a read of the whole
/// history (an export) turns it off on its connection meanwhile.
pub const SQLITE_MMAP_BYTES: i64 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The database behind a connection.
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == "SQLite" { Backend::Sqlite } else { Backend::Postgres }
    }
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// Set once [`Store::checkpoint_in_background`] has started.
    checkpointing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

pub type WriteTx = Transaction<'static, Any>;

/// How long a request waits for a database connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl Store {
    /// Connects to `database_url` (`sqlite://path` or `postgres://…`) and applies the
    /// migrations. A SQLite file is created on first use.
    pub async fn open(database_url: &str, max_connections: u32) -> Result<Store, sqlx::Error> {
        let store = Store::connect(database_url, max_connections).await?;
        migrate(&store).await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(database_url: &str, max_connections: u32) -> Result<Store, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(database_url)?;
        match backend {
            Backend::Sqlite => {
                let url = sqlite_url(database_url);
                let write = sqlite_pool(&url, 1, false).await?;
                let read = sqlite_pool(&url, max_connections.max(2), true).await?;
                Ok(Store { backend, read, write, checkpointing: Default::default() })
            }
            Backend::Postgres => {
                let options: AnyConnectOptions = database_url.parse()?;
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Ok(Store { backend, read: pool.clone(), write: pool, checkpointing: Default::default() })
            }
        }
    }

    /// On SQLite, starts copying the write-ahead log into the database file between
    /// writes (once per store; the server does this, one-shot commands do not).
    pub fn checkpoint_in_background(&self) {
        if self.backend == Backend::Sqlite && !self.checkpointing.swap(true, std::sync::atomic::Ordering::SeqCst) {
            tokio::spawn(checkpoint_in_background(self.write.clone()));
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads. On SQLite its connections refuse writes.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite so the write lock is
    /// taken up front, plain `BEGIN` (read committed) on PostgreSQL.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

fn backend_of(database_url: &str) -> Result<Backend, sqlx::Error> {
    if database_url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(sqlx::Error::Configuration("DATABASE_URL must start with sqlite: or postgres://".into()))
    }
}

/// Makes sure SQLite creates the file on first start (`mode=rwc`).
fn sqlite_url(database_url: &str) -> String {
    if database_url.contains("mode=") || database_url.contains(":memory:") {
        database_url.to_string()
    } else if database_url.contains('?') {
        format!("{database_url}&mode=rwc")
    } else {
        format!("{database_url}?mode=rwc")
    }
}

async fn sqlite_pool(url: &str, max_connections: u32, read_only: bool) -> Result<AnyPool, sqlx::Error> {
    let options: AnyConnectOptions = url.parse()?;
    let pool = AnyPoolOptions::new();
    // The one writer connection lives as long as the store: a reader closing as
    // the last connection would checkpoint beside a newly opened writer.
    let pool = if read_only { pool } else { pool.min_connections(1).idle_timeout(None).max_lifetime(None) };
    pool.max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A local file does not drop its connections: no ping before each use.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; synchronous=FULL makes every
                // commit durable before the request that made it is answered.
                // Memory-mapped reads. The writer checkpoints (passively, after
                // the commit that takes the log past ~4 MB, and once a second in
                // `checkpoint_in_background`).
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA mmap_size = {SQLITE_MMAP_BYTES};"
                );
                conn.execute(sqlx::raw_sql(&pragmas)).await?;
                let role = if read_only { "PRAGMA query_only = ON;" } else { "PRAGMA wal_autocheckpoint = 1000;" };
                conn.execute(sqlx::raw_sql(role)).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// Copies committed pages from the write-ahead log into the database file between
/// the writer's transactions, on the writer's own connection, once a second, so an
/// idle server's log is folded in; under load the writer's own automatic
/// checkpoint (every ~1,000 pages of log) does most of it. Passive: it never waits
/// for readers. Seldom on purpose: a checkpoint copies each page once however
/// many commits changed it, and a log emptied by a checkpoint is restarted by the
/// next commit, which clears the log's 32 KB index; checkpointing after every
/// commit (every 50 ms, as this did before) redid both for every transfer at a
/// light load (BENCHMARKS.md, `bench instructions`).
///
/// Only the writer connection ever checkpoints or writes. SQLite 3.7.0 to 3.51.2
/// (sqlx 0.8 bundles 3.46; we build 3.54.1 instead, `vendor/libsqlite3-sys`, which
/// has the fix) has a data race, the "WAL-reset bug", in which a
/// checkpoint on one connection that overlaps a commit restarting the log on
/// another can leave a wrong WAL-index header, after which readers may see pages
/// of the wrong generation (`database disk image is malformed`) and a later
/// checkpoint can skip frames. Checkpoints used to run from a read connection
/// beside the writer, which is exactly that overlap; on one connection they are
/// serialised with every commit and the race cannot happen. Ends when the pool
/// is closed.
async fn checkpoint_in_background(pool: AnyPool) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() {
        every.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await
            && !pool.is_closed()
        {
            tracing::debug!(error = %e, "background checkpoint failed; the writer checkpoints past its limit");
        }
    }
}

/// True for errors after which the whole database transaction may simply be run
/// again: PostgreSQL serialization failures and deadlocks, SQLite busy/locked.
pub fn is_retryable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "6" | "517" | "262"))
        }
        _ => false,
    }
}

/// True when the database cannot be reached or dropped the connection (restart,
/// failover, network): the client is told 503 and may retry with its idempotency key.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            // Class 08 (connection exception) and 57P0x (admin shutdown, crash shutdown, cannot connect now).
            db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
        }
        _ => false,
    }
}

pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A new object id: `prefix` + the creation time in milliseconds as 8 base-62
/// digits + 16 random base-62 characters (~95 bits). Ids of one kind sort by
/// creation time, so each new row lands at the end of its `UNIQUE (id)` index
/// instead of on a random page: a write dirties a few pages, not one per index.
pub fn new_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    let mut digits = [b'0'; 8];
    let mut t = u64::try_from(now_ms()).unwrap_or(0);
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(t % 62) as usize];
        t /= 62;
    }
    id.push_str(std::str::from_utf8(&digits).expect("base-62 digits are ASCII"));
    id.push_str(&random_base62(16));
    id
}

/// In ASCII order, so fixed-width base-62 numbers sort as strings.
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the operating system's random source failed");
        // Rejection sampling keeps the characters uniform: 62 * 4 = 248.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == len {
                break;
            }
            out.push(BASE62[(*b % 62) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::new_id;

    #[test]
    fn ids_sort_by_creation_time_and_do_not_repeat() {
        let first = new_id("tr_");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later: Vec<String> = (0..1000).map(|_| new_id("tr_")).collect();
        assert!(later.iter().all(|id| *id > first && id.len() == 27 && dots_shared::ids::has_shape(id, "tr_")));
        let unique: std::collections::HashSet<&String> = later.iter().collect();
        assert_eq!(unique.len(), later.len());
    }
}
