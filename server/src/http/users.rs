//! `/v2/users`: create, read, change, list, and a user's wallet.

use axum::Json;

use axum::extract::{RawQuery, State};

use dots_shared::ErrorCode;
use dots_shared::api::{CreateUserRequest, List, UpdateUserRequest, User, Wallet};
use dots_shared::ids::UserId;

use super::extract::{AppAuth, Id, Mutation, list_query};
use super::{AppState, Routes, ok};
use crate::error::{Error, Reply};
use crate::payees::users::{self, NewUser, UserChanges};
use axum::http::StatusCode;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get("/v2/users", list)
        .post("/v2/users", create)
        .get("/v2/users/{id}", read)
        .patch("/v2/users/{id}", update)
        .get("/v2/users/{id}/wallet", wallet)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, read, update, wallet, list))]
pub(super) struct Doc;

#[utoipa::path(post, path = "/v2/users", tag = "Users", request_body = CreateUserRequest, responses((status = 201, description = "The user, with their wallet.", body = User)))]
async fn create(State(state): State<AppState>, m: Mutation<AppAuth, CreateUserRequest>) -> Result<Reply, Error> {
    let user = NewUser::validate(&m.caller.0, m.body)?;
    state
        .writer
        .run(m.origin, user, |conn, user, now| {
            Box::pin(async move { ok(StatusCode::CREATED, &users::insert(conn, user, now).await?) })
        })
        .await
}

#[utoipa::path(get, path = "/v2/users/{id}", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…).")), responses((status = 200, description = "The user.", body = User)))]
async fn read(State(state): State<AppState>, AppAuth(app): AppAuth, Id(id): Id<UserId>) -> Result<Json<User>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(users::get(&mut conn, &app.id, &id).await?))
}

#[utoipa::path(patch, path = "/v2/users/{id}", tag = "Users", request_body = UpdateUserRequest, params(("id" = String, Path, description = "A user id (usr_…).")), responses((status = 200, description = "The user, changed. A new phone number is unproven until the user proves it again.", body = User)))]
async fn update(
    State(state): State<AppState>,
    Id(id): Id<UserId>,
    m: Mutation<AppAuth, UpdateUserRequest>,
) -> Result<Reply, Error> {
    let changes = UserChanges::validate(m.body)?;
    let args = (m.caller.0.id, id, changes);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, id, changes), now| {
            Box::pin(async move { ok(StatusCode::OK, &users::update(conn, app_id, id, changes, now).await?) })
        })
        .await
}

#[utoipa::path(get, path = "/v2/users/{id}/wallet", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…).")), responses((status = 200, description = "The user's wallet.", body = Wallet)))]
async fn wallet(State(state): State<AppState>, auth: AppAuth, path: Id<UserId>) -> Result<Json<Wallet>, Error> {
    Ok(Json(read(State(state), auth, path).await?.0.wallet))
}

/// Filters: `metadata[key]=value` (any number), `created_after`, `created_before` (RFC 3339),
/// `search` (a name or email containing it, any case, or a phone containing its digits).
#[utoipa::path(get, path = "/v2/users", tag = "Users", params(super::openapi::PageQuery, ("search" = Option<String>, Query, description = "Users whose name or email contains this (any case), or whose phone contains its digits; at most 100 characters.")), responses((status = 200, description = "Users, newest first.", body = List<User>)))]
async fn list(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<List<User>>, Error> {
    let filters: Vec<&str> = crate::metadata::FILTERS.iter().copied().chain(["search"]).collect();
    let query = list_query(query.as_deref(), &filters)?;
    let filter = query.metadata()?;
    let search = query.filter("search").map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 100) {
        return Err(Error::invalid(ErrorCode::InvalidQuery, "search", "search is at most 100 characters."));
    }
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(users::list(&mut conn, &app.id, &filter, search, &query.page).await?))
}
