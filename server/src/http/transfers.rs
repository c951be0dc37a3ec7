//! `/v2/refills`, `/v2/transfers` and `/v2/transactions`.

use axum::Json;
use dots_shared::ErrorCode;

use axum::extract::{RawQuery, State};

use dots_shared::api::{CreatePayoutRequest, CreateTransferRequest, List, RefillRequest, Transaction, Transfer};
use dots_shared::ids;

use super::extract::{AppAuth, IdPath, LedgerMutation, Mutation, NoFields, list_query, replay_or};
use super::{AppState, Routes};
use crate::commands::{Command, Idempotency};
use crate::error::{Error, Reply};
use crate::ledger::transfers::{self, HistoryFilter, NewTransfer, Refill};
use crate::users;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .post("/v2/refills", refill)
        .get("/v2/transfers", list)
        .post("/v2/transfers", create)
        .get("/v2/transfers/{id}", read)
        .post("/v2/transfers/{id}/cancel", cancel)
        .post("/v2/transfers/{id}/approve", approve)
        .post("/v2/transfers/{id}/deny", deny)
        .post("/v2/payouts", payout)
        .get("/v2/transactions", list_transactions)
        .get("/v2/transactions/{id}", read_transaction)
}

async fn refill(
    State(state): State<AppState>,
    LedgerMutation(m): LedgerMutation<AppAuth, RefillRequest>,
) -> Result<Reply, Error> {
    let command = Refill::validate(&m.caller.0, m.body).map(Command::Refill);
    submit(&state, m.idempotency, command).await
}

async fn create(
    State(state): State<AppState>,
    LedgerMutation(m): LedgerMutation<AppAuth, CreateTransferRequest>,
) -> Result<Reply, Error> {
    let command = NewTransfer::validate(&m.caller.0, m.body).map(Command::CreateTransfer);
    submit(&state, m.idempotency, command).await
}

async fn payout(
    State(state): State<AppState>,
    LedgerMutation(m): LedgerMutation<AppAuth, CreatePayoutRequest>,
) -> Result<Reply, Error> {
    let command = NewTransfer::payout(&m.caller.0, m.body).map(Command::CreateTransfer);
    submit(&state, m.idempotency, command).await
}

/// Hands a validated command to the writer, which replays a known key; a request
/// refused by validation still gets its key's earlier answer first.
async fn submit(
    state: &AppState,
    idempotency: Option<Idempotency>,
    command: Result<Command, Error>,
) -> Result<Reply, Error> {
    match command {
        Ok(command) => state.writer.submit(idempotency, command).await,
        Err(refused) => replay_or(state, idempotency.as_ref(), refused).await,
    }
}

async fn approve(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    review(state, id, m, true).await
}

async fn deny(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    review(state, id, m, false).await
}

async fn review(state: AppState, id: String, m: Mutation<AppAuth, NoFields>, approve: bool) -> Result<Reply, Error> {
    if !ids::has_shape(&id, ids::TRANSFER) {
        return Err(transfers::not_found());
    }
    let command = Command::ReviewTransfer { app_id: m.caller.0.id, transfer_id: id, approve };
    state.writer.submit(m.idempotency, command).await
}

async fn cancel(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    if !ids::has_shape(&id, ids::TRANSFER) {
        return Err(transfers::not_found());
    }
    let command = Command::CancelTransfer { app_id: m.caller.0.id, transfer_id: id };
    state.writer.submit(m.idempotency, command).await
}

async fn read(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    IdPath(id): IdPath,
) -> Result<Json<Transfer>, Error> {
    if !ids::has_shape(&id, ids::TRANSFER) {
        return Err(transfers::not_found());
    }
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(transfers::get(&mut conn, &app.id, &id).await?))
}

async fn list(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<List<Transfer>>, Error> {
    let query = list_query(query.as_deref(), &["user_id", "status", "type"])?;
    let (page, filter) = (query.page.clone(), query.history()?);
    let mut conn = state.store.reader().acquire().await?;
    check_user_filter(&mut conn, &app.id, &filter).await?;
    Ok(Json(transfers::list(&mut conn, &app.id, &filter, &page).await?))
}

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

async fn read_transaction(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    IdPath(id): IdPath,
) -> Result<Json<Transaction>, Error> {
    if !ids::has_shape(&id, ids::TRANSACTION) {
        return Err(Error::new(ErrorCode::TransactionNotFound, "No such transaction."));
    }
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
