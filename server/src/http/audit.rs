//! `GET /v2/audit-log`: the app's changes — who, what, which object, when, from
//! where (`crate::audit`).

use axum::Json;
use axum::extract::{RawQuery, State};
use dots_shared::api;

use super::extract::{AppAuth, list_query};
use super::{AppState, Routes};
use crate::error::Error;

pub(super) fn routes(routes: Routes) -> Routes {
    routes.get("/v2/audit-log", list)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/v2/audit-log", tag = "Audit log", params(super::openapi::PageQuery, super::openapi::AuditFilter), responses((status = 200, description = "The app's changes, newest first: who made each, what, which object, when and from where.", body = api::List<api::AuditEntry>)))]
async fn list(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<api::List<api::AuditEntry>>, Error> {
    let query = list_query(query.as_deref(), &["actor_id", "object_id"])?;
    let mut conn = state.store.reader().acquire().await?;
    let (actor, object) = (query.filter("actor_id"), query.filter("object_id"));
    Ok(Json(crate::audit::list(&mut conn, &app.id, &query.page, actor, object).await?))
}
