//! Payout rails: where a payout leaves the ledger for the payee's account. A
//! [`PayoutRail`] takes a payout keyed by its transfer id (so a retry after a
//! crash is the same payout to the rail) and reports its status; the payout worker
//! (`payouts`) drives it. The sandbox rail is the one rail so far; real rails
//! (ACH files, PayPal) implement the same trait.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::contact::{Email, PhoneNumber};
use crate::sms::BoxFuture;
use crate::store::{Store, now_ms};

/// The full details, as sealed at rest and handed to a payout rail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Destination {
    Bank { routing_number: String, account_number: String, account_type: String },
    Paypal { email: Email },
    Venmo { phone_number: PhoneNumber },
}

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

/// Why a rail did not take a payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// It may have or may not have: the same submission is tried again later (a
    /// timeout, a 5xx). Safe, because a submission is idempotent per transfer.
    Retry(String),
    /// It never will (an invalid receiver, say): the payout fails with this reason.
    Refused(String),
}

pub trait PayoutRail: Send + Sync {
    fn name(&self) -> &'static str;
    /// Hands the payout to the rail; idempotent per `transfer_id`. Returns the
    /// rail's reference.
    fn submit<'a>(&'a self, payout: &'a RailPayout<'a>) -> BoxFuture<'a, Result<String, SubmitError>>;
    fn status<'a>(&'a self, rail_ref: &'a str) -> BoxFuture<'a, Result<RailStatus, String>>;
    /// How soon a payout still processing is asked about again.
    fn poll_ms(&self) -> i64 {
        200
    }
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

    fn submit<'a>(&'a self, payout: &'a RailPayout<'a>) -> BoxFuture<'a, Result<String, SubmitError>> {
        Box::pin(async move { self.record(payout).await.map_err(SubmitError::Retry) })
    }

    fn status<'a>(&'a self, rail_ref: &'a str) -> BoxFuture<'a, Result<RailStatus, String>> {
        Box::pin(self.read(rail_ref))
    }
}

impl SandboxRail {
    async fn record(&self, payout: &RailPayout<'_>) -> Result<String, String> {
        {
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
        }
    }

    async fn read(&self, rail_ref: &str) -> Result<RailStatus, String> {
        {
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
        }
    }
}
