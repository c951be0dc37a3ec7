//! The operator's ACH rail (`crate::ach_rail`): the NACHA files made at each
//! cut-off, their text for the bank, settling them, a cut-off now, and the bank's
//! return files; live apps' funding accounts. Operator credentials (bearer key or
//! console session), but for the app's own `GET /v2/apps/me/funding-account`.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use dots_shared::api::{self, AchCutOff, AchFile, AchReturns, FundingAccount, FundingAccountRequest};
use dots_shared::ids::{AchFileId, AppId};
use serde::Deserialize;

use super::extract::{AppAuth, Id, Mutation, NoFields, OperatorAuth, list_query};
use super::{AppState, Routes, ok};
use crate::ach_rail;
use crate::error::{Error, Reply};
use crate::funding::{self, NewFundingAccount};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get("/v2/ach/files", files)
        .get("/v2/ach/files/{id}", file)
        .get("/v2/ach/files/{id}/download", download)
        .post("/v2/ach/files/{id}/settle", settle)
        .post("/v2/ach/cutoff", cut_off)
        .post("/v2/ach/returns", returns)
        .put("/v2/apps/{id}/funding-account", register_funding)
        .get("/v2/apps/{id}/funding-account", funding_of)
        .get("/v2/apps/me/funding-account", my_funding)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(files, file, download, settle, cut_off, returns, register_funding, funding_of, my_funding))]
pub(super) struct Doc;

fn configured(state: &AppState) -> Result<(), Error> {
    state.services.ach.as_ref().map(|_| ()).ok_or_else(ach_rail::not_configured)
}

/// Operator: the ACH files, newest first (`?limit=`, up to 100).
#[utoipa::path(get, path = "/v2/ach/files", tag = "ACH", params(super::openapi::PageQuery), responses((status = 200, description = "The files, newest first.", body = api::List<AchFile>)))]
async fn files(
    State(state): State<AppState>,
    _: OperatorAuth,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<api::List<AchFile>>, Error> {
    configured(&state)?;
    let query = list_query(query.as_deref(), &[])?;
    let mut conn = state.store.reader().acquire().await?;
    let limit = query.page.limit();
    let mut data = ach_rail::files(&mut conn, limit + 1, query.page.starting_after.as_deref()).await?;
    let has_more = data.len() as i64 > limit;
    data.truncate(limit as usize);
    Ok(axum::Json(api::List { data, has_more }))
}

/// Operator: one ACH file.
#[utoipa::path(get, path = "/v2/ach/files/{id}", tag = "ACH", params(("id" = String, Path, description = "An ACH file id (achf_…).")), responses((status = 200, description = "The file.", body = AchFile)))]
async fn file(
    State(state): State<AppState>,
    _: OperatorAuth,
    Id(id): Id<AchFileId>,
) -> Result<axum::Json<AchFile>, Error> {
    configured(&state)?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(ach_rail::file_of(&mut conn, &id.to_string()).await?))
}

/// Operator: the file's NACHA text, as the bank takes it.
#[utoipa::path(get, path = "/v2/ach/files/{id}/download", tag = "ACH", params(("id" = String, Path, description = "An ACH file id (achf_…).")), responses((status = 200, description = "The NACHA file (94-character records).", content_type = "text/plain")))]
async fn download(State(state): State<AppState>, _: OperatorAuth, Id(id): Id<AchFileId>) -> Result<Response, Error> {
    configured(&state)?;
    let mut conn = state.store.reader().acquire().await?;
    let text = ach_rail::file_text(&mut conn, &state.services.keys, &id.to_string()).await?;
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=us-ascii"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.ach\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// Operator: settles a file: its payouts not returned become `completed`.
#[utoipa::path(post, path = "/v2/ach/files/{id}/settle", tag = "ACH", params(("id" = String, Path, description = "An ACH file id (achf_…).")), responses((status = 200, description = "The file, settled.", body = AchFile)))]
async fn settle(
    State(state): State<AppState>,
    Id(id): Id<AchFileId>,
    m: Mutation<OperatorAuth, NoFields>,
) -> Result<Reply, Error> {
    configured(&state)?;
    ach_rail::settle_now(&state.writer, m.origin, id.to_string()).await
}

/// Operator: gathers the waiting bank payouts into a file now, as a cut-off does.
#[utoipa::path(post, path = "/v2/ach/cutoff", tag = "ACH", responses((status = 201, description = "A new file.", body = AchCutOff), (status = 200, description = "No payout was waiting: no file.", body = AchCutOff)))]
async fn cut_off(State(state): State<AppState>, m: Mutation<OperatorAuth, NoFields>) -> Result<Reply, Error> {
    configured(&state)?;
    ach_rail::cut_off_now(&state.store, &state.writer, &state.services, m.origin).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AchReturnsRequest {
    /// The bank's NACHA return file, one record (94 characters) per item, in
    /// order (JSON strings take no line breaks).
    pub lines: Vec<String>,
}

/// Operator: ingests a bank's NACHA return file. Each return fails its payout
/// (not yet settled) or reverses it (settled), money and fee back; a return
/// already applied changes nothing.
#[utoipa::path(post, path = "/v2/ach/returns", tag = "ACH", request_body = AchReturnsRequest, responses((status = 200, description = "What the file's returns did.", body = AchReturns)))]
async fn returns(State(state): State<AppState>, m: Mutation<OperatorAuth, AchReturnsRequest>) -> Result<Reply, Error> {
    configured(&state)?;
    let reply = ach_rail::returns_now(&state.writer, m.origin, m.body.lines.join("\n")).await?;
    // An app suspended for a spent refill stops here at once (others within the credentials' TTL).
    if let Ok(report) = serde_json::from_slice::<AchReturns>(&reply.body) {
        for applied in report.applied.iter().filter(|a| a.app_suspended) {
            state.credentials.forget_app(&applied.app_id);
        }
    }
    Ok(reply)
}

/// Operator: registers (or replaces) a live app's funding account, the bank
/// account its refills are debited from. It is `unverified` until its pre-note
/// goes out in the next ACH file and that file settles with no return for it.
#[utoipa::path(put, path = "/v2/apps/{id}/funding-account", tag = "ACH", request_body = FundingAccountRequest, params(("id" = String, Path, description = "A live app's id (app_…).")), responses((status = 200, description = "The funding account (its account number masked).", body = FundingAccount)))]
async fn register_funding(
    State(state): State<AppState>,
    Id(id): Id<AppId>,
    m: Mutation<OperatorAuth, FundingAccountRequest>,
) -> Result<Reply, Error> {
    let account = NewFundingAccount::validate(id.to_string(), m.body)?;
    let app_id = account.app_id.clone();
    let args = (state.services.clone(), account);
    state
        .writer
        .run(m.origin.on_app(&app_id), args, |conn, (services, account), now| {
            Box::pin(async move { ok(StatusCode::OK, &funding::register(conn, &services.keys, account, now).await?) })
        })
        .await
}

/// Operator: an app's funding account.
#[utoipa::path(get, path = "/v2/apps/{id}/funding-account", tag = "ACH", params(("id" = String, Path, description = "An app id (app_…).")), responses((status = 200, description = "The funding account.", body = FundingAccount)))]
async fn funding_of(
    State(state): State<AppState>,
    _: OperatorAuth,
    Id(id): Id<AppId>,
) -> Result<axum::Json<FundingAccount>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(funding::get(&mut conn, &id.to_string()).await?))
}

/// The app's own funding account (a live app's), as the operator registered it.
#[utoipa::path(get, path = "/v2/apps/me/funding-account", tag = "Apps", responses((status = 200, description = "The funding account.", body = FundingAccount)))]
async fn my_funding(State(state): State<AppState>, AppAuth(app): AppAuth) -> Result<axum::Json<FundingAccount>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(funding::get(&mut conn, &app.id).await?))
}
