//! The write path. Every mutation is a closure (or a ledger request) handed to
//! the [`Writer`], which runs it in a database transaction together with its
//! idempotency record:
//!
//! 1. `SAVEPOINT`, run the work; a rejection (`insufficient_funds`, …) rolls
//!    back to the savepoint, so nothing of it remains;
//! 2. record the answer under `(owner, Idempotency-Key)`; if the key already has
//!    one (a twin got there first — on PostgreSQL the insert waits for the twin's
//!    commit), roll this work back and replay the first answer;
//! 3. commit. The client is answered only after the commit: a 2xx always means
//!    committed.
//!
//! Work is group-committed: one task runs each batch of queued work in one
//! database transaction, a savepoint per job, and answers after the commit.
//! Refills and balance transfers ([`Writer::refill`], [`Writer::balance`]) are
//! applied a whole batch at a time by `ledger::batch`; everything else is a
//! closure that calls its domain function ([`Writer::run`]), so a handler reads
//! straight through to the code that decides.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use dots_shared::ErrorCode;
use http::StatusCode;
use sqlx::{AnyConnection, Row};
use tracing::Instrument;

use crate::audit::{self, Audit};
use crate::error::{Error, Reply, TxError, TxResult};
use crate::ledger::batch::{self, WalletIds};
use crate::ledger::transfers::{NewTransfer, Refill};
use crate::services::Services;
use crate::store::writes::{Bound, Col, Rows, RowsSql, Writes, arguments};
use crate::store::{Backend, Store, is_retryable, now_ms};

/// What a job's work returns: its answer, or why it was refused or failed.
pub type WorkFuture<'a> = Pin<Box<dyn Future<Output = TxResult<Reply>> + Send + 'a>>;

/// Work the writer runs inside its transaction. Implemented for a closure with the
/// arguments it reads ([`Writer::run`]); run again when the database asks for a retry.
trait Work: Send + Sync {
    fn run<'a>(&'a self, conn: &'a mut AnyConnection, now_ms: i64) -> WorkFuture<'a>;
}

struct Call<A, F> {
    args: A,
    f: F,
}

impl<A, F> Work for Call<A, F>
where
    A: Send + Sync,
    F: for<'a> Fn(&'a mut AnyConnection, &'a A, i64) -> WorkFuture<'a> + Send + Sync,
{
    fn run<'a>(&'a self, conn: &'a mut AnyConnection, now_ms: i64) -> WorkFuture<'a> {
        (self.f)(conn, &self.args, now_ms)
    }
}

/// One queued job's task.
#[derive(Clone)]
enum Task {
    /// Applied with the batch's other refills and balance transfers (`ledger::batch`).
    Refill(Arc<Refill>),
    Balance(Arc<NewTransfer>),
    Work(Arc<dyn Work>),
}

impl Task {
    fn immediate(&self) -> Option<batch::Request<'_>> {
        match self {
            Task::Refill(refill) => Some(batch::Request::Refill(refill)),
            Task::Balance(t) => Some(batch::Request::Balance(t)),
            Task::Work(_) => None,
        }
    }
}

/// An `Idempotency-Key` with what identifies its request.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The app id, or `operator`.
    pub owner: String,
    pub key: String,
    /// SHA-256 of method, path and canonical JSON body.
    pub fingerprint: String,
}

/// The request behind a job: its Idempotency-Key, and who made it — recorded in
/// the audit log with the change, in its transaction, when the change is kept. The
/// background workers' jobs have neither.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub idempotency: Option<Idempotency>,
    pub audit: Option<Audit>,
}

impl Origin {
    /// The same request without its key: every try is a change of its own.
    pub fn without_key(self) -> Origin {
        Origin { idempotency: None, ..self }
    }

    /// A change to `app_id`'s data by someone who is not the app (the operator, a
    /// link's holder): the app's audit log shows it.
    pub fn on_app(mut self, app_id: &str) -> Origin {
        if let Some(audit) = &mut self.audit {
            audit.actor.app_id = Some(app_id.to_string());
        }
        self
    }
}

/// Keys are kept at least this long (DESIGN.md: 24 h).
pub const IDEMPOTENCY_KEY_TTL_MS: i64 = 48 * 3600 * 1000;

/// A job is tried at most this many times when the database asks for a retry
/// (deadlock, serialization failure, busy).
const MAX_ATTEMPTS: u32 = 5;

/// At most this many requests share one database transaction (one commit, one fsync).
const MAX_BATCH: usize = 128;
/// Requests waiting for the writer; beyond this, callers wait to enqueue.
const QUEUE: usize = 4096;

/// The write path's one door. Commands queue for a single group-commit task that
/// runs each batch — whatever arrived while the previous batch was committing — in
/// one database transaction, one savepoint per job, and answers every request
/// of the batch only after its commit.
#[derive(Clone)]
pub struct Writer {
    store: Store,
    queue: tokio::sync::mpsc::Sender<Job>,
}

struct Job {
    idempotency: Option<Idempotency>,
    audit: Option<Audit>,
    task: Task,
    answer: tokio::sync::oneshot::Sender<Result<Reply, Failure>>,
    /// The request's span, so what the work logs carries its request id.
    span: tracing::Span,
}

/// Why a job did not run; cloneable, so one failed commit can answer a batch.
#[derive(Debug, Clone)]
enum Failure {
    /// The database asked for the transaction to be run again.
    Retry(String),
    /// The database could not be reached; the outcome of a commit is unknown.
    Unavailable(String),
    Internal(String),
}

impl From<&sqlx::Error> for Failure {
    fn from(e: &sqlx::Error) -> Failure {
        if is_retryable(e) {
            Failure::Retry(e.to_string())
        } else if crate::store::is_unavailable(e) {
            Failure::Unavailable(e.to_string())
        } else {
            Failure::Internal(e.to_string())
        }
    }
}

impl Writer {
    /// Starts the group-commit task on the current Tokio runtime.
    pub fn new(store: Store, services: Arc<Services>) -> Writer {
        let (queue, jobs) = tokio::sync::mpsc::channel(QUEUE);
        tokio::spawn(group_commit(store.clone(), services, jobs));
        Writer { store, queue }
    }

    /// Runs `f(conn, &args, now_ms)` in the writer's transaction, once per
    /// idempotency key: the handler's closure calls the domain function and turns
    /// its result into the answer. `Ok` carries every final answer, rejections
    /// included; `Err` is an infrastructure failure (nothing committed, or — when
    /// the database vanished mid-commit — unknown: retry with the key).
    pub async fn run<A, F>(&self, origin: Origin, args: A, f: F) -> Result<Reply, Error>
    where
        A: Send + Sync + 'static,
        F: for<'a> Fn(&'a mut AnyConnection, &'a A, i64) -> WorkFuture<'a> + Send + Sync + 'static,
    {
        self.submit(origin, Task::Work(Arc::new(Call { args, f }))).await
    }

    /// A refill, group-committed with the batch's other refills and balance transfers.
    pub async fn refill(&self, origin: Origin, refill: Refill) -> Result<Reply, Error> {
        self.submit(origin, Task::Refill(Arc::new(refill))).await
    }

    /// A balance transfer, group-committed like [`Writer::refill`].
    pub async fn balance(&self, origin: Origin, transfer: NewTransfer) -> Result<Reply, Error> {
        self.submit(origin, Task::Balance(Arc::new(transfer))).await
    }

    async fn submit(&self, origin: Origin, task: Task) -> Result<Reply, Error> {
        let mut attempt = 1;
        loop {
            let (answer, answered) = tokio::sync::oneshot::channel();
            let job = Job {
                idempotency: origin.idempotency.clone(),
                audit: origin.audit.clone(),
                task: task.clone(),
                answer,
                span: tracing::Span::current(),
            };
            if self.queue.send(job).await.is_err() {
                return Err(Error::unavailable("The server is shutting down."));
            }
            let outcome = answered.await.unwrap_or_else(|_| Err(Failure::Internal("the writer stopped".into())));
            match outcome {
                Ok(reply) => return Ok(reply),
                Err(Failure::Retry(e)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "retrying a write");
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                    attempt += 1;
                }
                Err(Failure::Retry(e) | Failure::Internal(e)) => return Err(Error::internal(e)),
                Err(Failure::Unavailable(e)) => {
                    tracing::warn!(error = %e, "database unavailable");
                    return Err(Error::unavailable(
                        "The database is unavailable; retry with the same Idempotency-Key.",
                    ));
                }
            }
        }
    }

    /// Deletes idempotency keys older than [`IDEMPOTENCY_KEY_TTL_MS`].
    pub async fn prune_idempotency_keys(&self) -> Result<u64, sqlx::Error> {
        let mut tx = self.store.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(now_ms() - IDEMPOTENCY_KEY_TTL_MS)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }
}

async fn group_commit(store: Store, services: Arc<Services>, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    let wallets = Arc::new(WalletIds::default());
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Each batch is a task of its own: a panic in one job rolls its batch
        // back (its callers see a 500) without stopping the writer.
        let (store, services, wallets) = (store.clone(), services.clone(), wallets.clone());
        if let Err(e) = tokio::spawn(async move { run_batch(&store, &services, &wallets, batch).await }).await {
            tracing::error!(error = %e, "a write batch panicked and was rolled back");
        }
    }
}

/// One database transaction for the whole batch. A job that fails at the
/// database rolls back to its own savepoint and is answered with that failure
/// (its caller retries it); the others commit together.
async fn run_batch(store: &Store, services: &Services, wallets: &WalletIds, batch: Vec<Job>) {
    let now = now_ms();
    let mut tx = match store.begin_write().await {
        Ok(tx) => tx,
        Err(e) => {
            let failure = Failure::from(&e);
            for job in batch {
                let _ = job.answer.send(Err(failure.clone()));
            }
            return;
        }
    };
    let mut answers: Vec<(Job, Result<Reply, Failure>)> = Vec::with_capacity(batch.len());
    let mut broken: Option<Failure> = None;
    // Jobs of one batch were all waiting at once, so any order is a valid one:
    // the refills and balance transfers go first, together.
    let (group, singles): (Vec<Job>, Vec<Job>) = batch.into_iter().partition(|job| job.task.immediate().is_some());
    // The group runs first in the transaction, so it needs no savepoint: if it
    // fails at the database, the whole transaction is rolled back and every job of
    // the batch is answered with the failure (their callers retry).
    if !group.is_empty() {
        match run_group(&mut tx, wallets, &group, now).await {
            Ok(replies) => answers.extend(group.into_iter().zip(replies.into_iter().map(Ok))),
            Err(e) => {
                let failure = Failure::from(&e);
                broken = Some(failure.clone());
                answers.extend(group.into_iter().map(|job| (job, Err(failure.clone()))));
            }
        }
    }
    // Each job runs under `SAVEPOINT job`. A job's savepoint is released together
    // with the next job's start, in one round trip, and the last one by the commit
    // (which ends every savepoint): each job costs the database one call besides
    // its work, not two.
    let mut open_savepoint = false;
    for job in singles {
        if broken.is_some() {
            answers.push((job, Err(Failure::Retry("an earlier job broke the transaction".into()))));
            continue;
        }
        let outcome = async {
            next_savepoint(&mut tx, std::mem::replace(&mut open_savepoint, true)).await?;
            let mut result =
                execute(&mut tx, services, job.idempotency.as_ref(), &job.task, now).instrument(job.span.clone()).await;
            // The change, kept, goes in the audit log beside it.
            if let (Ok(reply), Some(audit)) = (&result, &job.audit)
                && Audit::records(reply)
                && let Err(e) = audit.record(&mut tx, reply, now).await
            {
                result = Err(e);
            }
            if result.is_err() {
                sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut *tx).await?;
            }
            Ok::<_, sqlx::Error>(result)
        }
        .await;
        match outcome {
            Ok(Ok(reply)) => answers.push((job, Ok(reply))),
            Ok(Err(e)) => answers.push((job, Err(Failure::from(&e)))),
            Err(e) => {
                let failure = Failure::from(&e);
                broken = Some(failure.clone());
                answers.push((job, Err(failure)));
            }
        }
    }
    let committed = match broken {
        Some(failure) => {
            let _ = tx.rollback().await;
            Err(failure)
        }
        None => tx.commit().await.map_err(|e| Failure::from(&e)),
    };
    for (job, answer) in answers {
        let answer = match (&committed, answer) {
            (Ok(()), answer) => answer,
            // Nothing of the batch is kept: a success inside it is not one.
            (Err(failure), Ok(_)) => Err(failure.clone()),
            (Err(_), Err(own)) => Err(own),
        };
        let _ = job.answer.send(answer);
    }
}

/// Starts the next job's `SAVEPOINT job`, releasing the previous job's first when
/// one is still open (both in one call: on SQLite a cached multi-statement
/// query, on PostgreSQL one simple-protocol message).
async fn next_savepoint(conn: &mut AnyConnection, previous_open: bool) -> Result<(), sqlx::Error> {
    match (previous_open, Backend::of(conn)) {
        (false, _) => sqlx::query("SAVEPOINT job").execute(&mut *conn).await?,
        (true, Backend::Sqlite) => sqlx::query("RELEASE SAVEPOINT job; SAVEPOINT job").execute(&mut *conn).await?,
        (true, Backend::Postgres) => {
            sqlx::Executor::execute(&mut *conn, sqlx::raw_sql("RELEASE SAVEPOINT job; SAVEPOINT job")).await?
        }
    };
    Ok(())
}

/// Placeholders for a group's keys, taken before its jobs run: a key already
/// answered (committed) is not inserted, and on PostgreSQL a key another process
/// holds makes this wait for that process's commit.
static CLAIM_KEYS: RowsSql = RowsSql {
    sql: "INSERT INTO idempotency_keys (owner, key, fingerprint, status_code, body, created_at)
          SELECT owner, key, fingerprint, 0, '', at_ms FROM {rows} WHERE true
          ON CONFLICT (owner, key) DO NOTHING RETURNING owner, key",
    bound: None,
    columns: &[Col::Text("owner"), Col::Text("key"), Col::Text("fingerprint"), Col::Int("at_ms")],
};

static STORED_ANSWERS: RowsSql = RowsSql {
    sql: "SELECT i.owner, i.key, i.fingerprint, i.status_code, i.body FROM {rows}
          CROSS JOIN idempotency_keys i WHERE i.owner = r.owner AND i.key = r.key",
    bound: None,
    columns: &[Col::Text("owner"), Col::Text("key")],
};

/// The group's answers, written over its placeholders with the group's rows.
static ANSWERS: RowsSql = RowsSql {
    sql: "INSERT INTO idempotency_keys (owner, key, fingerprint, status_code, body, created_at)
          SELECT owner, key, fingerprint, status_code, body, at_ms FROM {rows} WHERE true
          ON CONFLICT (owner, key) DO UPDATE SET status_code = excluded.status_code, body = excluded.body",
    bound: Some(Bound::One(
        "INSERT INTO idempotency_keys (owner, key, fingerprint, status_code, body, created_at)
          VALUES ($1, $2, $3, $4, $5, $6)
          ON CONFLICT (owner, key) DO UPDATE SET status_code = excluded.status_code, body = excluded.body",
    )),
    columns: &[
        Col::Text("owner"),
        Col::Text("key"),
        Col::Text("fingerprint"),
        Col::Int("status_code"),
        Col::Text("body"),
        Col::Int("at_ms"),
    ],
};

/// Where a group job's answer comes from.
enum Source {
    /// It runs now.
    Fresh,
    /// Its key was answered before: `(fingerprint, status, body)` as stored.
    Stored(String, i64, String),
    /// Its key is also an earlier job's of this group (index into the group).
    Twin(usize),
}

/// Runs a group of refills and balance transfers (`Task::immediate`) as one
/// `ledger::batch`: their keys are claimed in one statement, then the batch runs,
/// then every row and every answer goes in one round trip.
async fn run_group(
    conn: &mut AnyConnection,
    wallets: &WalletIds,
    jobs: &[Job],
    now: i64,
) -> Result<Vec<Reply>, sqlx::Error> {
    let backend = Backend::of(conn);
    let mut sources: Vec<Source> = Vec::with_capacity(jobs.len());
    let mut first_holder: std::collections::HashMap<(&str, &str), usize> = Default::default();
    for (i, job) in jobs.iter().enumerate() {
        match &job.idempotency {
            Some(idem) => match first_holder.get(&(idem.owner.as_str(), idem.key.as_str())) {
                Some(&first) => sources.push(Source::Twin(first)),
                None => {
                    first_holder.insert((&idem.owner, &idem.key), i);
                    sources.push(Source::Fresh);
                }
            },
            None => sources.push(Source::Fresh),
        }
    }
    if !first_holder.is_empty() {
        // On PostgreSQL each key gets a placeholder first, so a twin in another
        // process waits for this commit. On SQLite the writer holds the database's
        // write lock for the whole batch: reading the keys' earlier answers is
        // enough, and each answer is written once, at the end (a placeholder
        // rewritten with its answer was a second write of the row).
        // Which jobs' keys got a placeholder now (by job index): the rest were answered before.
        let mut claimed = vec![false; jobs.len()];
        if backend == Backend::Postgres {
            let mut claims = Rows::new(&CLAIM_KEYS);
            // In arrival order, as the jobs hold them.
            for (job, source) in jobs.iter().zip(&sources) {
                if let (Some(idem), Source::Fresh) = (&job.idempotency, source) {
                    claims.push([(&idem.owner).into(), (&idem.key).into(), (&idem.fingerprint).into(), now.into()]);
                }
            }
            let placed: Vec<(String, String)> =
                sqlx::query_as_with(claims.sql(backend, 1), arguments(claims.into_args()))
                    .fetch_all(&mut *conn)
                    .await?;
            for (owner, key) in placed {
                claimed[first_holder[&(owner.as_str(), key.as_str())]] = true;
            }
        }
        let mut answered = Rows::new(&STORED_ANSWERS);
        for ((owner, key), _) in first_holder.iter().filter(|(_, holder)| !claimed[**holder]) {
            answered.push([(*owner).into(), (*key).into()]);
        }
        if !answered.is_empty() {
            let stored: Vec<(String, String, String, i64, String)> =
                sqlx::query_as_with(answered.sql(backend, 1), arguments(answered.into_args()))
                    .fetch_all(&mut *conn)
                    .await?;
            for (owner, key, fingerprint, status, body) in stored {
                sources[first_holder[&(owner.as_str(), key.as_str())]] = Source::Stored(fingerprint, status, body);
            }
        }
    }
    let fresh: Vec<usize> = (0..jobs.len()).filter(|&i| matches!(sources[i], Source::Fresh)).collect();
    let requests: Vec<batch::Request<'_>> =
        fresh.iter().map(|&i| jobs[i].task.immediate().expect("only immediate tasks form a group")).collect();
    let mut writes = Writes::new();
    let applied = batch::apply(conn, wallets, &requests, &mut writes, now).await?;
    let mut replies: Vec<Option<Reply>> = vec![None; jobs.len()];
    for (&i, reply) in fresh.iter().zip(applied.replies) {
        if let Some(idem) = &jobs[i].idempotency {
            writes.row(
                &ANSWERS,
                [
                    (&idem.owner).into(),
                    (&idem.key).into(),
                    (&idem.fingerprint).into(),
                    i64::from(reply.status.as_u16()).into(),
                    text(&reply.body).into(),
                    now.into(),
                ],
            );
        }
        if !reply.status.is_success() {
            tracing::info!(parent: &jobs[i].span, status = reply.status.as_u16(), "request rejected");
        }
        if let Some(audit) = &jobs[i].audit
            && Audit::records(&reply)
        {
            writes.row(&audit::ROWS, audit.row(&reply, now));
        }
        replies[i] = Some(reply);
    }
    writes.run(conn).await?;
    #[cfg(debug_assertions)]
    batch::check_stored(conn, &applied.created).await.map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    // What the first holder of each key recorded: the stored answer, or the reply just made.
    let record = |holder: usize| -> (String, i64, String) {
        match &sources[holder] {
            Source::Stored(fingerprint, status, body) => (fingerprint.clone(), *status, body.clone()),
            _ => {
                let reply = replies[holder].as_ref().expect("a fresh holder has a reply");
                let fingerprint = &jobs[holder].idempotency.as_ref().expect("a holder has a key").fingerprint;
                (fingerprint.clone(), i64::from(reply.status.as_u16()), text(&reply.body))
            }
        }
    };
    let mut out = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let holder = match sources[i] {
            Source::Fresh => {
                out.push(replies[i].clone().expect("every fresh job has a reply"));
                continue;
            }
            Source::Stored(..) => i,
            Source::Twin(first) => first,
        };
        let fingerprint = &job.idempotency.as_ref().expect("only keyed jobs replay").fingerprint;
        let (stored, status, body) = record(holder);
        out.push(stored_reply(fingerprint, stored, status, body));
    }
    Ok(out)
}

/// Runs one job inside the open transaction, under the caller's `SAVEPOINT job`:
/// apply it (a refusal rolls back to the savepoint), then record the answer under
/// its idempotency key. If that key was answered first — by an earlier job of
/// the same batch, or by another process that committed while this one ran — this
/// job's work is rolled back and the first answer replayed.
async fn execute(
    conn: &mut AnyConnection,
    services: &Services,
    idempotency: Option<&Idempotency>,
    task: &Task,
    now: i64,
) -> Result<Reply, sqlx::Error> {
    let Task::Work(work) = task else { unreachable!("refills and balance transfers run as a group") };
    let reply = match work.run(conn, now).await {
        Ok(reply) => reply,
        Err(TxError::Rejected(error)) => {
            sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut *conn).await?;
            tracing::info!(code = error.code.as_str(), status = error.code.status(), "request rejected");
            Reply::from_error(&error)
        }
        Err(TxError::Db(e)) => return Err(e),
    };
    if let Some(idem) = idempotency
        && !remember(conn, &services.keys, idem, &reply, now).await?
    {
        sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut *conn).await?;
        let row =
            sqlx::query("SELECT fingerprint, status_code, body FROM idempotency_keys WHERE owner = $1 AND key = $2")
                .bind(&idem.owner)
                .bind(&idem.key)
                .fetch_one(&mut *conn)
                .await?;
        let body = match open_replay(&services.keys, idem, row.try_get("body")?) {
            Ok(body) => body,
            Err(error) => return Ok(Reply::from_error(&error)),
        };
        return Ok(stored_reply(&idem.fingerprint, row.try_get("fingerprint")?, row.try_get("status_code")?, body));
    }
    Ok(reply)
}

/// What a request that reuses a key gets: the first answer for the same request,
/// `idempotency_key_reused` for a different one.
pub fn stored_reply(fingerprint: &str, stored_fingerprint: String, status_code: i64, body: String) -> Reply {
    if stored_fingerprint != fingerprint {
        let error = Error::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was used with a different request; use a new key.",
        );
        return Reply::from_error(&error);
    }
    let status = u16::try_from(status_code).ok().and_then(|s| StatusCode::from_u16(s).ok());
    Reply {
        status: status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body: body.into_bytes(),
        replayed: true,
        replay_body: None,
        seal_replay: false,
    }
}

/// An answer's body as text: JSON we wrote, so valid UTF-8 (checked at full
/// speed; made valid only if it somehow is not).
fn text(body: &[u8]) -> String {
    String::from_utf8(body.to_vec()).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// How a sealed replay body starts (the rest is sealed to its owner and key).
pub const SEALED_REPLAY: &str = "sealed:";

pub fn replay_context(idem: &Idempotency) -> String {
    format!("idempotency:{}:{}", idem.owner, idem.key)
}

/// A stored answer as it is replayed: opened if it was kept sealed.
pub fn open_replay(keys: &crate::secrets::Keys, idem: &Idempotency, body: String) -> Result<String, Error> {
    match body.strip_prefix(SEALED_REPLAY) {
        Some(sealed) => keys.open(&replay_context(idem), sealed).map_err(Error::internal),
        None => Ok(body),
    }
}

/// Records the answer under the key; false when the key already has one. On
/// PostgreSQL a concurrent holder of the same key makes this wait until it commits.
async fn remember(
    conn: &mut AnyConnection,
    keys: &crate::secrets::Keys,
    idem: &Idempotency,
    reply: &Reply,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let body = text(reply.replay_body.as_ref().unwrap_or(&reply.body));
    let body =
        if reply.seal_replay { format!("{SEALED_REPLAY}{}", keys.seal(&replay_context(idem), &body)) } else { body };
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (owner, key, fingerprint, status_code, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner, key) DO NOTHING",
    )
    .bind(&idem.owner)
    .bind(&idem.key)
    .bind(&idem.fingerprint)
    .bind(i64::from(reply.status.as_u16()))
    .bind(body)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
