//! Payout execution: rails behind a trait, the sandbox rail, and the worker that
//! moves payouts `created → pending → completed | failed`.
//!
//! Exactly once on the rail: a rail submission is keyed by the transfer id, so a
//! payout re-submitted after a crash (or by a second process whose lease on it
//! expired) is the same payout to the rail. Work is claimed with a lease column,
//! which works the same on SQLite and on PostgreSQL with any number of processes.

use std::sync::Arc;
use std::time::Duration;

use dots_shared::{ErrorCode, TransferStatus};
use sqlx::Row;

use crate::error::Reply;
use crate::ledger::transfers;
use crate::payout_methods::Destination;
use crate::services::Services;
use crate::sms::BoxFuture;
use crate::store::{Store, now_ms};
use crate::writer::Writer;

/// How soon a payout still processing at the rail is asked about again.
const POLL_AGAIN_MS: i64 = 200;
/// How many payouts one pass takes.
const BATCH: i64 = 20;

pub struct RailPayout<'a> {
    pub transfer_id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub destination: &'a Destination,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailStatus {
    Processing,
    Settled,
    Failed(String),
}

pub trait PayoutRail: Send + Sync {
    fn name(&self) -> &'static str;
    /// Hands the payout to the rail; idempotent per `transfer_id`. Returns the
    /// rail's reference.
    fn submit<'a>(&'a self, payout: &'a RailPayout<'a>) -> BoxFuture<'a, Result<String, String>>;
    fn status<'a>(&'a self, rail_ref: &'a str) -> BoxFuture<'a, Result<RailStatus, String>>;
}

/// The sandbox rail settles every payout after a delay, except these documented
/// magic values, which fail as a real rail's test mode would:
/// - amount `40404` (i.e. $404.04): `rail_rejected`;
/// - a bank account number ending in `0000`: `account_closed`;
/// - a PayPal email starting with `fail`: `account_not_found`.
///
/// It keeps its book in the database (`sandbox_rail_payouts`), so several server
/// processes share one rail, and counts submissions to prove each payout ran once.
pub struct SandboxRail {
    store: Store,
    settle_ms: i64,
}

impl SandboxRail {
    pub fn new(store: Store, settle_ms: i64) -> SandboxRail {
        SandboxRail { store, settle_ms }
    }

    fn outcome(payout: &RailPayout<'_>) -> &'static str {
        match payout.destination {
            _ if payout.amount == 40_404 => "rail_rejected",
            Destination::Bank { account_number, .. } if account_number.ends_with("0000") => "account_closed",
            Destination::Paypal { email } if email.starts_with("fail") => "account_not_found",
            _ => "settled",
        }
    }
}

impl PayoutRail for SandboxRail {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn submit<'a>(&'a self, payout: &'a RailPayout<'a>) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let now = now_ms();
            let mut tx = self.store.begin_write().await.map_err(|e| e.to_string())?;
            sqlx::query(
                "INSERT INTO sandbox_rail_payouts (transfer_id, amount, currency, outcome, submissions, settle_at, created_at)
                 VALUES ($1, $2, $3, $4, 1, $5, $6)
                 ON CONFLICT (transfer_id) DO UPDATE SET submissions = sandbox_rail_payouts.submissions + 1",
            )
            .bind(payout.transfer_id)
            .bind(payout.amount)
            .bind(payout.currency)
            .bind(Self::outcome(payout))
            .bind(now + self.settle_ms)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(format!("sbx_{}", payout.transfer_id))
        })
    }

    fn status<'a>(&'a self, rail_ref: &'a str) -> BoxFuture<'a, Result<RailStatus, String>> {
        Box::pin(async move {
            let transfer_id = rail_ref.strip_prefix("sbx_").ok_or("not a sandbox reference")?;
            let row = sqlx::query("SELECT outcome, settle_at FROM sandbox_rail_payouts WHERE transfer_id = $1")
                .bind(transfer_id)
                .fetch_optional(self.store.reader())
                .await
                .map_err(|e| e.to_string())?
                .ok_or("unknown sandbox payout")?;
            let outcome: String = row.try_get("outcome").map_err(|e| e.to_string())?;
            let settle_at: i64 = row.try_get("settle_at").map_err(|e| e.to_string())?;
            Ok(match (now_ms() >= settle_at, outcome.as_str()) {
                (false, _) => RailStatus::Processing,
                (true, "settled") => RailStatus::Settled,
                (true, failure) => RailStatus::Failed(failure.to_string()),
            })
        })
    }
}

/// Runs the payout worker until the process ends.
pub async fn run_worker(store: Store, writer: Writer, services: Arc<Services>, interval: Duration) {
    loop {
        match work_once(&store, &writer, &services).await {
            Ok(0) => tokio::time::sleep(interval).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "payout worker pass failed");
                tokio::time::sleep(interval).await;
            }
        }
    }
}

/// One pass: leases due payouts and moves each one step. Returns how many it took.
pub async fn work_once(store: &Store, writer: &Writer, services: &Services) -> Result<usize, String> {
    let now = now_ms();
    let due = sqlx::query(
        "SELECT id, app_id FROM transfers WHERE kind = 'payout' AND status IN ('created', 'pending')
         AND (lease_until IS NULL OR lease_until < $1) ORDER BY seq LIMIT $2",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(store.reader())
    .await
    .map_err(|e| e.to_string())?;
    let mut taken = 0;
    for row in due {
        let (id, app_id): (String, String) = (row.get("id"), row.get("app_id"));
        if !lease(store, &id, now, services.worker_lease_ms).await.map_err(|e| e.to_string())? {
            continue; // another worker has it
        }
        taken += 1;
        if let Err(e) = step(store, writer, services, &app_id, &id).await {
            tracing::warn!(transfer = %id, error = %e, "payout step failed; it will be retried");
        }
    }
    Ok(taken)
}

/// Takes the payout for `lease_ms`; a crashed worker's payouts are taken up again
/// once their lease runs out.
async fn lease(store: &Store, id: &str, now: i64, lease_ms: i64) -> Result<bool, sqlx::Error> {
    let mut tx = store.begin_write().await?;
    let leased = sqlx::query(
        "UPDATE transfers SET lease_until = $1 WHERE id = $2 AND status IN ('created', 'pending')
         AND (lease_until IS NULL OR lease_until < $3)",
    )
    .bind(now + lease_ms)
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(leased.rows_affected() == 1)
}

async fn release_lease(store: &Store, id: &str, until: i64) -> Result<(), String> {
    let mut tx = store.begin_write().await.map_err(|e| e.to_string())?;
    sqlx::query("UPDATE transfers SET lease_until = $1 WHERE id = $2")
        .bind(until)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// Moves one leased payout one step.
async fn step(store: &Store, writer: &Writer, services: &Services, app_id: &str, id: &str) -> Result<(), String> {
    let row = sqlx::query(
        "SELECT status, amount, currency, user_id, payout_method_id, rail_ref FROM transfers WHERE id = $1",
    )
    .bind(id)
    .fetch_one(store.reader())
    .await
    .map_err(|e| e.to_string())?;
    let status: String = row.get("status");
    let rail_ref: Option<String> = row.get("rail_ref");
    let rail = &services.rail;
    match rail_ref {
        None => {
            let method: Option<String> = row.get("payout_method_id");
            let user: Option<String> = row.get("user_id");
            let (Some(method), Some(user)) = (method, user) else {
                return fail(writer, app_id, id, "no_payout_method").await;
            };
            let mut conn = store.reader().acquire().await.map_err(|e| e.to_string())?;
            let destination = match crate::payout_methods::destination(&mut conn, &services.keys, &user, &method).await
            {
                Ok(d) => d,
                // The method was deleted after the payout was made: it cannot go anywhere.
                Err(e) if e.code == ErrorCode::PayoutMethodNotFound => {
                    return fail(writer, app_id, id, "payout_method_removed").await;
                }
                Err(e) => return Err(e.to_string()),
            };
            drop(conn);
            // Committed before the rail hears of it: from now on the payout cannot be canceled.
            let args = (app_id.to_string(), id.to_string(), rail.name());
            let marking = writer.run(None, args, |conn, (app_id, id, rail), now| {
                Box::pin(async move {
                    transfers::mark_submitting(conn, app_id, id, rail, now).await?;
                    Ok(Reply::done())
                })
            });
            expect_ok(marking.await)?;
            let currency: String = row.get("currency");
            let payout = RailPayout {
                transfer_id: id,
                amount: row.get("amount"),
                currency: &currency,
                destination: &destination,
            };
            let rail_ref = match rail.submit(&payout).await {
                Ok(r) => r,
                Err(e) => {
                    release_lease(store, id, now_ms() + 1000).await?;
                    return Err(format!("rail submit: {e}"));
                }
            };
            let args = (app_id.to_string(), id.to_string(), rail_ref);
            let recording = writer.run(None, args, |conn, (app_id, id, rail_ref), _| {
                Box::pin(async move {
                    transfers::record_rail_ref(conn, app_id, id, rail_ref).await?;
                    Ok(Reply::done())
                })
            });
            expect_ok(recording.await)
        }
        Some(rail_ref) if status == TransferStatus::Pending.as_str() => match rail.status(&rail_ref).await {
            Ok(RailStatus::Processing) => release_lease(store, id, now_ms() + POLL_AGAIN_MS).await,
            Ok(RailStatus::Settled) => set_status(writer, app_id, id, TransferStatus::Completed, "settled").await,
            Ok(RailStatus::Failed(code)) => fail(writer, app_id, id, &code).await,
            Err(e) => {
                release_lease(store, id, now_ms() + 1000).await?;
                Err(format!("rail status: {e}"))
            }
        },
        Some(_) => Ok(()),
    }
}

async fn fail(writer: &Writer, app_id: &str, id: &str, code: &str) -> Result<(), String> {
    set_status(writer, app_id, id, TransferStatus::Failed, code).await
}

/// The ledger's status door, through the writer.
async fn set_status(writer: &Writer, app_id: &str, id: &str, to: TransferStatus, reason: &str) -> Result<(), String> {
    let args = (app_id.to_string(), id.to_string(), reason.to_string());
    let change = writer.run(None, args, move |conn, (app_id, id, reason), now| {
        Box::pin(async move {
            transfers::set_status(conn, app_id, id, to, Some(reason), now).await?;
            Ok(Reply::done())
        })
    });
    expect_ok(change.await)
}

fn expect_ok(reply: Result<crate::error::Reply, crate::error::Error>) -> Result<(), String> {
    match reply {
        Ok(r) if r.status.is_success() => Ok(()),
        Ok(r) => Err(String::from_utf8_lossy(&r.body).into_owned()),
        Err(e) => Err(e.to_string()),
    }
}
