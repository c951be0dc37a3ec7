//! `/v2/refills`, `/v2/transfers` and `/v2/transactions`.

use axum::Json;

use axum::extract::{RawQuery, State};

use dots_shared::api::{
    CreatePayoutRequest, CreateTransferRequest, List, RefillRequest, ReverseTransferRequest, Transaction, Transfer,
};
use dots_shared::ids::{TransactionId, TransferId};

use super::extract::{AppAuth, Id, LedgerMutation, Mutation, NoFields, list_query, replay_or};
use super::{AppState, Routes};
use crate::error::{Error, Reply};
use crate::ledger::transfers::{self, HistoryFilter, NewTransfer, Refill};
use crate::payees::users;
use crate::writer::Origin;
use axum::http::StatusCode;
use dots_shared::{TransferStatus, TransferType};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .post("/v2/refills", refill)
        .get("/v2/transfers", list)
        .post("/v2/transfers", create)
        .get("/v2/transfers/{id}", read)
        .post("/v2/transfers/{id}/cancel", cancel)
        .post("/v2/transfers/{id}/reverse", reverse)
        .post("/v2/dev/payouts/{id}/return", dev_return)
        .post("/v2/transfers/{id}/approve", approve)
        .post("/v2/transfers/{id}/deny", deny)
        .post("/v2/payouts", payout)
        .get("/v2/transactions", list_transactions)
        .get("/v2/transactions/{id}", read_transaction)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    refill,
    create,
    payout,
    approve,
    deny,
    cancel,
    reverse,
    dev_return,
    read,
    list,
    list_transactions,
    read_transaction
))]
pub(super) struct Doc;

/// A test app's refill completes at once (the sandbox's money). A live app's is
/// a bank debit from its verified funding account (`crate::funding`): `pending`,
/// its money unavailable until the debit settles.
#[utoipa::path(post, path = "/v2/refills", tag = "Transfers", request_body = RefillRequest, responses((status = 201, description = "The refill: a test app's complete at once, a live app's pending until its bank debit settles.", body = Transfer)))]
async fn refill(
    State(state): State<AppState>,
    LedgerMutation(m): LedgerMutation<AppAuth, RefillRequest>,
) -> Result<Reply, Error> {
    let live = m.caller.0.live;
    match Refill::validate(&m.caller.0.wallet(), m.body) {
        Ok(refill) if live => {
            let debit = state.writer.run(m.origin, refill, |conn, refill, now| {
                Box::pin(async move {
                    crate::funding::require_verified(conn, &refill.app.id).await?;
                    super::ok(StatusCode::CREATED, &transfers::create_pending_refill(conn, refill, now).await?)
                })
            });
            debit.await
        }
        Ok(refill) => state.writer.refill(m.origin, refill).await,
        Err(refused) => replay_or(&state, m.origin.idempotency.as_ref(), refused).await,
    }
}

#[utoipa::path(post, path = "/v2/transfers", tag = "Transfers", request_body = CreateTransferRequest, responses((status = 201, description = "The transfer.", body = Transfer)))]
async fn create(
    State(state): State<AppState>,
    LedgerMutation(m): LedgerMutation<AppAuth, CreateTransferRequest>,
) -> Result<Reply, Error> {
    match NewTransfer::validate(&m.caller.0.wallet(), m.body) {
        Ok(t) if t.kind == TransferType::Balance => state.writer.balance(m.origin, t).await,
        Ok(payout) => create_payout(&state, m.origin, payout).await,
        Err(refused) => replay_or(&state, m.origin.idempotency.as_ref(), refused).await,
    }
}

#[utoipa::path(post, path = "/v2/payouts", tag = "Transfers", request_body = CreatePayoutRequest, responses((status = 201, description = "The payout (created, or flagged for review).", body = Transfer)))]
async fn payout(
    State(state): State<AppState>,
    LedgerMutation(m): LedgerMutation<AppAuth, CreatePayoutRequest>,
) -> Result<Reply, Error> {
    match NewTransfer::payout(&m.caller.0.wallet(), m.body) {
        Ok(payout) => create_payout(&state, m.origin, payout).await,
        Err(refused) => replay_or(&state, m.origin.idempotency.as_ref(), refused).await,
    }
}

/// A validated payout, through the writer to `payouts::create` (which decides
/// whether this payee may be paid). Callers answer a request refused by validation
/// with its key's earlier answer first (`replay_or`).
async fn create_payout(state: &AppState, origin: Origin, payout: NewTransfer) -> Result<Reply, Error> {
    state
        .writer
        .run(origin, payout, |conn, payout, now| {
            Box::pin(async move {
                let transfer = crate::payouts::create(conn, payout, now).await?;
                Ok(Reply::json(StatusCode::CREATED, &transfer)?)
            })
        })
        .await
}

#[utoipa::path(post, path = "/v2/transfers/{id}/approve", tag = "Transfers", params(("id" = String, Path, description = "A transfer id (tr_…).")), responses((status = 200, description = "The payout, approved.", body = Transfer)))]
async fn approve(
    State(state): State<AppState>,
    Id(id): Id<TransferId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    review(state, id, m, true).await
}

#[utoipa::path(post, path = "/v2/transfers/{id}/deny", tag = "Transfers", params(("id" = String, Path, description = "A transfer id (tr_…).")), responses((status = 200, description = "The payout, canceled.", body = Transfer)))]
async fn deny(
    State(state): State<AppState>,
    Id(id): Id<TransferId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    review(state, id, m, false).await
}

async fn review(
    state: AppState,
    id: TransferId,
    m: Mutation<AppAuth, NoFields>,
    approve: bool,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id, id, approve);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, id, approve), now| {
            Box::pin(async move {
                let (to, reason) = if *approve {
                    (TransferStatus::Pending, "approved_in_review")
                } else {
                    (TransferStatus::Canceled, "denied_in_review")
                };
                let t = transfers::review(conn, app_id, id, to, reason, now).await?;
                Ok(Reply::json(StatusCode::OK, &t)?)
            })
        })
        .await
}

#[utoipa::path(post, path = "/v2/transfers/{id}/cancel", tag = "Transfers", params(("id" = String, Path, description = "A transfer id (tr_…).")), responses((status = 200, description = "The payout, canceled.", body = Transfer)))]
async fn cancel(
    State(state): State<AppState>,
    Id(id): Id<TransferId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id, id);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, id), now| {
            Box::pin(async move {
                let canceled = Some("canceled_by_app");
                let t = transfers::set_status(conn, app_id, id, TransferStatus::Canceled, canceled, now).await?;
                Ok(Reply::json(StatusCode::OK, &t)?)
            })
        })
        .await
}

#[utoipa::path(post, path = "/v2/transfers/{id}/reverse", tag = "Transfers", request_body = ReverseTransferRequest, params(("id" = String, Path, description = "A transfer id (tr_…).")), responses((status = 200, description = "The balance transfer or refill, reversed: its money moved back.", body = Transfer)))]
async fn reverse(
    State(state): State<AppState>,
    Id(id): Id<TransferId>,
    m: Mutation<AppAuth, ReverseTransferRequest>,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id, id, m.body.reason);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, id, reason), now| {
            Box::pin(async move {
                let t = transfers::reverse(conn, app_id, id, reason, now).await?;
                Ok(Reply::json(StatusCode::OK, &t)?)
            })
        })
        .await
}

/// Sandbox only: the sandbox rail returns a completed payout, as a bank's return
/// would (the real rails' returns come with them).
#[utoipa::path(post, path = "/v2/dev/payouts/{id}/return", tag = "Sandbox", params(("id" = String, Path, description = "A payout's transfer id (tr_…), completed by the sandbox rail.")), responses((status = 200, description = "The payout, reversed: its money is back in the user's wallet.", body = Transfer)))]
async fn dev_return(
    State(state): State<AppState>,
    Id(id): Id<TransferId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    // A live payout is returned by its bank, never by the app's word.
    m.caller.0.sandbox_only()?;
    let args = (m.caller.0.id, id);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, id), now| {
            Box::pin(async move {
                let t = transfers::returned(conn, app_id, id, "sandbox", "returned_by_rail", now).await?;
                Ok(Reply::json(StatusCode::OK, &t)?)
            })
        })
        .await
}

#[utoipa::path(get, path = "/v2/transfers/{id}", tag = "Transfers", params(("id" = String, Path, description = "A transfer id (tr_…).")), responses((status = 200, description = "The transfer.", body = Transfer)))]
async fn read(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(id): Id<TransferId>,
) -> Result<Json<Transfer>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(transfers::get(&mut conn, &app.id, &id).await?))
}

#[utoipa::path(get, path = "/v2/transfers", tag = "Transfers", params(super::openapi::PageQuery, super::openapi::HistoryQuery), responses((status = 200, description = "Transfers, newest first.", body = List<Transfer>)))]
async fn list(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<List<Transfer>>, Error> {
    let query =
        list_query(query.as_deref(), &["user_id", "status", "type", "metadata", "created_after", "created_before"])?;
    let (page, filter) = (query.page.clone(), query.history()?);
    let mut conn = state.store.reader().acquire().await?;
    check_user_filter(&mut conn, &app.id, &filter).await?;
    Ok(Json(transfers::list(&mut conn, &app.id, &filter, &page).await?))
}

#[utoipa::path(get, path = "/v2/transactions", tag = "Transfers", params(super::openapi::PageQuery, super::openapi::HistoryQuery, ("transfer_id" = Option<String>, Query, description = "Only this transfer's transactions.")), responses((status = 200, description = "Ledger transactions, newest first.", body = List<Transaction>)))]
async fn list_transactions(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<List<Transaction>>, Error> {
    let query = list_query(query.as_deref(), &["user_id", "status", "type", "transfer_id"])?;
    let (page, filter) = (query.page.clone(), query.history()?);
    let mut conn = state.store.reader().acquire().await?;
    check_user_filter(&mut conn, &app.id, &filter).await?;
    Ok(Json(transfers::list_transactions(&mut conn, &app.id, &filter, &page).await?))
}

#[utoipa::path(get, path = "/v2/transactions/{id}", tag = "Transfers", params(("id" = String, Path, description = "A transaction id (txn_…).")), responses((status = 200, description = "The transaction.", body = Transaction)))]
async fn read_transaction(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(id): Id<TransactionId>,
) -> Result<Json<Transaction>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(transfers::get_transaction(&mut conn, &app.id, &id).await?))
}

/// Filtering by a user that is not the app's is `user_not_found`, not an empty list.
async fn check_user_filter(conn: &mut sqlx::AnyConnection, app_id: &str, filter: &HistoryFilter) -> Result<(), Error> {
    if let Some(user_id) = &filter.user_id {
        users::wallet_of(conn, app_id, user_id).await?;
    }
    Ok(())
}
