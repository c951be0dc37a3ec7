//! The operator's ACH rail (`crate::ach_rail`): the NACHA files made at each
//! cut-off, their text for the bank, settling them, a cut-off now, and the bank's
//! return files. Operator credentials (bearer key or console session).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use dots_shared::api::{self, AchCutOff, AchFile, AchReturns};
use dots_shared::ids::AchFileId;
use serde::Deserialize;

use super::extract::{Id, Mutation, NoFields, OperatorAuth, list_query};
use super::{AppState, Routes};
use crate::ach_rail;
use crate::error::{Error, Reply};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get("/v2/ach/files", files)
        .get("/v2/ach/files/{id}", file)
        .get("/v2/ach/files/{id}/download", download)
        .post("/v2/ach/files/{id}/settle", settle)
        .post("/v2/ach/cutoff", cut_off)
        .post("/v2/ach/returns", returns)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(files, file, download, settle, cut_off, returns))]
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
    ach_rail::returns_now(&state.writer, m.origin, m.body.lines.join("\n")).await
}
