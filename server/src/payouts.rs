//! Payout execution: rails behind a trait, the sandbox rail, and the worker that
//! moves payouts `created → pending → completed | failed`.
//!
//! Exactly once on the rail: a rail submission is keyed by the transfer id, so a
//! payout re-submitted after a crash (or by a second process whose lease on it
//! expired) is the same payout to the rail. Work is claimed with a lease column,
//! which works the same on SQLite and on PostgreSQL with any number of processes.

use std::sync::Arc;
use std::time::Duration;

use dots_shared::api;
use dots_shared::{ErrorCode, Fee, FeeParty, Money, TransferStatus};
use sqlx::{AnyConnection, Row};

use crate::apps::{FEE_COLUMNS, FeeTerms};
use crate::error::{Error, Reply, TxResult};
use crate::ledger::transfers;
use crate::ledger::transfers::NewTransfer;
use crate::rails::{RailPayout, RailStatus, SubmitError};
use crate::services::{Route, Services};
use crate::store::{Store, now_ms};
use crate::writer::Writer;

/// Creates a payout if this payee may be paid now (the policy below), reserving its
/// funds in the ledger; `flagged` when the app's rules send it to review.
pub async fn create(conn: &mut AnyConnection, t: &NewTransfer, now_ms: i64) -> TxResult<api::Transfer> {
    let user_wallet = crate::ledger::user_wallet(conn, &t.app.id, &t.user_id).await?;
    let checks = payout_checks(conn, t, now_ms).await?;
    transfers::reserve_payout(conn, t, &user_wallet, &checks.method_id, checks.review, checks.fee, now_ms).await
}

/// Pays a known payee from the app's wallet, in the caller's transaction: the
/// amount moves app wallet → payee wallet (a balance transfer), then a payout of it
/// leaves for `method_id` (or the payee's one method). A wallet short of the amount,
/// or of a fee the app pays, is `app_insufficient_funds`; any refusal leaves both
/// undone. A payout-link claim and a batch item pay this way.
pub async fn fund_and_pay(
    conn: &mut AnyConnection,
    payout: &NewTransfer,
    now_ms: i64,
) -> TxResult<(api::Transfer, api::Transfer)> {
    let app_short = |e| match e {
        crate::error::TxError::Rejected(e) if e.code == ErrorCode::InsufficientFunds => Error::new(
            ErrorCode::AppInsufficientFunds,
            "The sender cannot fund this payout right now; try again later.",
        )
        .into(),
        other => other,
    };
    let balance = NewTransfer {
        kind: dots_shared::TransferType::Balance,
        direction: Some(dots_shared::Direction::AppToUser),
        payout_method_id: None,
        fee_party: None,
        quoted_fee: None,
        ..payout.clone()
    };
    let funded = transfers::create_balance(conn, &balance, now_ms).await.map_err(app_short)?;
    let paid = create(conn, payout, now_ms).await.map_err(app_short)?;
    Ok((funded, paid))
}

struct PayoutChecks {
    method_id: String,
    /// Why the payout must wait for review, if it must.
    review: Option<&'static str>,
    fee: Fee,
}

/// The fee of a payout of `money` under the app's terms (`terms`: its schedule
/// and default payer; `party`: the request's choice). A payout whose fee would
/// leave the payee nothing is refused.
pub fn fee_for(terms: &FeeTerms, party: Option<FeeParty>, money: Money) -> Result<Fee, Error> {
    let fee = Fee { amount: terms.schedule.fee_for(money.amount()), party: party.unwrap_or(terms.party) };
    check_fee(fee, money)?;
    Ok(fee)
}

/// The payee must receive something: a fee they pay must be less than the amount.
fn check_fee(fee: Fee, money: Money) -> Result<(), Error> {
    if fee.net(money.amount()) <= 0 {
        return Err(Error::invalid(
            ErrorCode::AmountBelowFee,
            "amount",
            format!(
                "The payout's fee ({} minor units) is not less than its amount; the payee would receive nothing.",
                fee.amount
            ),
        ));
    }
    Ok(())
}

/// Everything a payout needs before it may reserve funds: a verified phone, a live
/// payout method of this user, what the app's compliance rule asks; and whether
/// the app's risk rules send it to review.
async fn payout_checks(conn: &mut AnyConnection, t: &NewTransfer, now_ms: i64) -> TxResult<PayoutChecks> {
    let verified: Option<i64> = sqlx::query_scalar("SELECT phone_verified_at FROM users WHERE id = $1")
        .bind(&t.user_id)
        .fetch_one(&mut *conn)
        .await?;
    if verified.is_none() {
        return Err(Error::new(ErrorCode::PhoneNotVerified, "The payee must verify a phone number before any payout.")
            .with_param("user_id")
            .into());
    }
    let method_id: Option<String> = match &t.payout_method_id {
        Some(id) => Some(
            sqlx::query_scalar("SELECT id FROM payout_methods WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL")
                .bind(id)
                .bind(&t.user_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| crate::payees::payout_methods::not_found().with_param("payout_method_id"))?,
        ),
        None => match crate::payees::payout_methods::default_of(conn, &t.user_id).await? {
            Some(default) => Some(default),
            None => {
                // Without a default, only a payee's one method is taken without being
                // named: with several, guessing (say, the newest) would pay whoever added
                // a method last.
                let live: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM payout_methods WHERE user_id = $1 AND deleted_at IS NULL ORDER BY seq DESC LIMIT 2",
                )
                .bind(&t.user_id)
                .fetch_all(&mut *conn)
                .await?;
                if live.len() > 1 {
                    return Err(Error::invalid(
                        ErrorCode::PayoutMethodAmbiguous,
                        "payout_method_id",
                        "The payee has several payout methods and no default; name one with payout_method_id.",
                    )
                    .into());
                }
                live.into_iter().next()
            }
        },
    };
    let method_id = method_id.ok_or_else(|| {
        Error::new(ErrorCode::PayoutMethodRequired, "The payee has no payout method yet.")
            .with_param("payout_method_id")
    })?;
    crate::payees::compliance::require_for_payout(conn, &t.app.id, &t.user_id, t.money.amount(), now_ms).await?;
    let rules = sqlx::query(&format!(
        "SELECT review_threshold, first_payout_review_threshold, {FEE_COLUMNS} FROM apps WHERE id = $1"
    ))
    .bind(&t.app.id)
    .fetch_one(&mut *conn)
    .await?;
    let fee = match t.quoted_fee {
        Some(quoted) => {
            check_fee(quoted, t.money)?;
            quoted
        }
        None => fee_for(&FeeTerms::from_row(&rules)?, t.fee_party, t.money)?,
    };
    let amount = t.money.amount();
    let above = |column: &str| -> Result<bool, sqlx::Error> {
        Ok(rules.try_get::<Option<i64>, _>(column)?.is_some_and(|threshold| amount > threshold))
    };
    let review = if above("review_threshold")? {
        Some("above_review_threshold")
    } else if above("first_payout_review_threshold")? {
        let earlier: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM transfers WHERE user_id = $1 AND kind = 'payout' AND status NOT IN ('failed', 'canceled')",
        )
        .bind(&t.user_id)
        .fetch_one(&mut *conn)
        .await?;
        (earlier == 0).then_some("first_large_payout")
    } else {
        None
    };
    Ok(PayoutChecks { method_id, review, fee })
}

/// How many payouts one pass takes.
const BATCH: i64 = 20;

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
         AND (rail IS NULL OR rail <> 'ach') AND (lease_until IS NULL OR lease_until < $1) ORDER BY seq LIMIT $2",
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
        "SELECT t.status, t.amount, t.fee, t.fee_party, t.currency, t.user_id, t.payout_method_id, t.rail, t.rail_ref, a.mode
         FROM transfers t JOIN apps a ON a.id = t.app_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_one(store.reader())
    .await
    .map_err(|e| e.to_string())?;
    let status: String = row.get("status");
    let rail_ref: Option<String> = row.get("rail_ref");
    let live = row.get::<String, _>("mode") == "live";
    match rail_ref {
        None => {
            let method: Option<String> = row.get("payout_method_id");
            let user: Option<String> = row.get("user_id");
            let (Some(method), Some(user)) = (method, user) else {
                return fail(writer, app_id, id, "no_payout_method").await;
            };
            let mut conn = store.reader().acquire().await.map_err(|e| e.to_string())?;
            let destination =
                match crate::payees::payout_methods::destination(&mut conn, &services.keys, &user, &method).await {
                    Ok(d) => d,
                    // The method was deleted after the payout was made: it cannot go anywhere.
                    Err(e) if e.code == ErrorCode::PayoutMethodNotFound => {
                        return fail(writer, app_id, id, "payout_method_removed").await;
                    }
                    Err(e) => return Err(e.to_string()),
                };
            drop(conn);
            let rail = match services.route(live, &destination) {
                Route::Rail(rail) => rail,
                // The next cut-off gathers it into a NACHA file; until then it waits, cancelable.
                Route::AchFile => {
                    let next = services
                        .ach
                        .as_ref()
                        .map_or(now_ms() + 60_000, |ach| crate::ach_rail::next_cutoff_ms(ach, now_ms()));
                    return release_lease(store, id, next).await;
                }
                Route::None => {
                    release_lease(store, id, now_ms() + 60_000).await?;
                    return Err("no payout rail is configured for this live payout's method type".into());
                }
            };
            // Committed before the rail hears of it: from now on the payout cannot be canceled.
            let args = (app_id.to_string(), id.to_string(), rail.name());
            let marking = writer.run(crate::writer::Origin::default(), args, |conn, (app_id, id, rail), now| {
                Box::pin(async move {
                    transfers::mark_submitting(conn, app_id, id, rail, now).await?;
                    Ok(Reply::done())
                })
            });
            expect_ok(marking.await)?;
            let currency: String = row.get("currency");
            // The rail pays what the payee receives: the amount less a fee they pay.
            let (amount, fee): (i64, i64) = (row.get("amount"), row.get("fee"));
            let fee_party: Option<String> = row.get("fee_party");
            let payout = RailPayout {
                transfer_id: id,
                amount: if fee_party.as_deref() == Some(FeeParty::User.as_str()) { amount - fee } else { amount },
                currency: &currency,
                destination: &destination,
            };
            let rail_ref = match rail.submit(&payout).await {
                Ok(r) => r,
                Err(SubmitError::Refused(reason)) => return fail(writer, app_id, id, &reason).await,
                Err(SubmitError::Retry(e)) => {
                    release_lease(store, id, now_ms() + 1000).await?;
                    return Err(format!("rail submit: {e}"));
                }
            };
            let args = (app_id.to_string(), id.to_string(), rail_ref);
            let recording = writer.run(crate::writer::Origin::default(), args, |conn, (app_id, id, rail_ref), _| {
                Box::pin(async move {
                    transfers::record_rail_ref(conn, app_id, id, rail_ref).await?;
                    Ok(Reply::done())
                })
            });
            expect_ok(recording.await)
        }
        // ACH payouts are not polled: they settle with their file.
        Some(rail_ref) if status == TransferStatus::Pending.as_str() => {
            let rail: Option<String> = row.get("rail");
            let Some(rail) = services.rail_named(rail.as_deref().unwrap_or("sandbox")) else {
                release_lease(store, id, now_ms() + 60_000).await?;
                return Err(format!("the payout's rail {rail:?} is not configured on this server"));
            };
            poll(store, writer, rail, app_id, id, &rail_ref).await
        }
        Some(_) => Ok(()),
    }
}

/// Asks the rail about a pending payout and moves it when the rail has an answer.
async fn poll(
    store: &Store,
    writer: &Writer,
    rail: &Arc<dyn crate::rails::PayoutRail>,
    app_id: &str,
    id: &str,
    rail_ref: &str,
) -> Result<(), String> {
    match rail.status(rail_ref).await {
        Ok(RailStatus::Processing) => release_lease(store, id, now_ms() + rail.poll_ms()).await,
        Ok(RailStatus::Settled) => set_status(writer, app_id, id, TransferStatus::Completed, "settled").await,
        Ok(RailStatus::Failed(code)) => fail(writer, app_id, id, &code).await,
        Err(e) => {
            release_lease(store, id, now_ms() + 1000).await?;
            Err(format!("rail status: {e}"))
        }
    }
}

async fn fail(writer: &Writer, app_id: &str, id: &str, code: &str) -> Result<(), String> {
    set_status(writer, app_id, id, TransferStatus::Failed, code).await
}

/// The ledger's status door, through the writer.
async fn set_status(writer: &Writer, app_id: &str, id: &str, to: TransferStatus, reason: &str) -> Result<(), String> {
    let args = (app_id.to_string(), id.to_string(), reason.to_string());
    let change = writer.run(crate::writer::Origin::default(), args, move |conn, (app_id, id, reason), now| {
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
