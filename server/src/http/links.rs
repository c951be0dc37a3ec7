//! `/v2/payout-links` and `/v2/flows`: what a merchant's backend makes for payees.

use axum::extract::{RawQuery, State};

use axum::Json;
use axum::http::StatusCode;
use dots_shared::api;
use dots_shared::ids::{FlowId, PayoutLinkId};

use super::extract::{AppAuth, Id, Mutation, NoFields, list_query};
use super::{AppState, Routes, ok};
use crate::error::{Error, Reply};
use crate::flows::{self, CreateFlowRequest, CreatePayoutLinkRequest, NewFlow, NewPayoutLink};
use crate::store::now_ms;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get("/v2/payout-links", list)
        .post("/v2/payout-links", create)
        .get("/v2/payout-links/{id}", read)
        .post("/v2/payout-links/{id}/cancel", cancel)
        .post("/v2/flows", create_flow)
        .get("/v2/flows/{id}", read_flow)
        .post("/v2/flows/{id}/revoke", revoke_flow)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, read, list, cancel, create_flow, revoke_flow, read_flow))]
pub(super) struct Doc;

#[utoipa::path(post, path = "/v2/payout-links", tag = "Payout links", request_body = CreatePayoutLinkRequest, responses((status = 201, description = "The link; its url is the page the payee opens.", body = api::PayoutLink)))]
async fn create(State(state): State<AppState>, m: Mutation<AppAuth, CreatePayoutLinkRequest>) -> Result<Reply, Error> {
    let link = NewPayoutLink::validate(&state.services.keys, &m.caller.0, m.body, now_ms())?;
    let args = (state.services.clone(), link);
    state
        .writer
        .run(m.idempotency, args, |conn, (s, link), now| {
            // The answer holds the link's bearer URL, which a retry must show again: sealed.
            Box::pin(async move {
                Ok(Reply::sealed(
                    StatusCode::CREATED,
                    &flows::create_link(conn, &s.keys, &s.public_url, link, now).await?,
                )?)
            })
        })
        .await
}

#[utoipa::path(get, path = "/v2/payout-links/{id}", tag = "Payout links", params(("id" = String, Path, description = "A payout link id (pl_…).")), responses((status = 200, description = "The link.", body = api::PayoutLink)))]
async fn read(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(id): Id<PayoutLinkId>,
) -> Result<Json<api::PayoutLink>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    let s = &state.services;
    Ok(Json(flows::get_link(&mut conn, &s.keys, &s.public_url, &app.id, &id, now_ms()).await?))
}

#[utoipa::path(get, path = "/v2/payout-links", tag = "Payout links", params(super::openapi::PageQuery), responses((status = 200, description = "Links, newest first.", body = api::List<api::PayoutLink>)))]
async fn list(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<api::List<api::PayoutLink>>, Error> {
    let page = list_query(query.as_deref(), &[])?.page;
    let mut conn = state.store.reader().acquire().await?;
    let s = &state.services;
    Ok(Json(flows::list_links(&mut conn, &s.keys, &s.public_url, &app.id, &page, now_ms()).await?))
}

#[utoipa::path(post, path = "/v2/payout-links/{id}/cancel", tag = "Payout links", params(("id" = String, Path, description = "A payout link id (pl_…).")), responses((status = 200, description = "The canceled link.", body = api::PayoutLink)))]
async fn cancel(
    State(state): State<AppState>,
    Id(id): Id<PayoutLinkId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    let args = (state.services.clone(), m.caller.0.id, id);
    state
        .writer
        .run(m.idempotency, args, |conn, (s, app_id, id), now| {
            Box::pin(async move {
                let link = flows::cancel_link(conn, &s.keys, &s.public_url, app_id, id, now).await?;
                Ok(Reply::sealed(StatusCode::OK, &link)?)
            })
        })
        .await
}

#[utoipa::path(post, path = "/v2/flows", tag = "Flows", request_body = CreateFlowRequest, responses((status = 201, description = "The flow and its session token (shown once).", body = api::FlowCreated)))]
async fn create_flow(State(state): State<AppState>, m: Mutation<AppAuth, CreateFlowRequest>) -> Result<Reply, Error> {
    let flow = NewFlow::validate(&m.caller.0, m.body, now_ms())?;
    let args = (state.services.clone(), flow);
    state
        .writer
        .run(m.idempotency, args, |conn, (s, flow), now| {
            Box::pin(async move {
                let created = flows::create_flow(conn, &s.public_url, flow, now).await?;
                // The token is answered once; the idempotent replay cannot show it.
                Ok(Reply::once(StatusCode::CREATED, &created, &flows::without_token(&created))?)
            })
        })
        .await
}

/// Ends the flow's session now: its token answers `401 session_ended` after this.
#[utoipa::path(post, path = "/v2/flows/{id}/revoke", tag = "Flows", params(("id" = String, Path, description = "A flow id (flow_…).")), responses((status = 200, description = "The flow; its session token no longer works.", body = api::Flow)))]
async fn revoke_flow(
    State(state): State<AppState>,
    Id(id): Id<FlowId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    let args = (state.services.clone(), m.caller.0.id, id);
    state
        .writer
        .run(m.idempotency, args, |conn, (s, app_id, id), now| {
            Box::pin(async move { ok(StatusCode::OK, &flows::revoke(conn, &s.public_url, app_id, id, now).await?) })
        })
        .await
}

#[utoipa::path(get, path = "/v2/flows/{id}", tag = "Flows", params(("id" = String, Path, description = "A flow id (flow_…).")), responses((status = 200, description = "The flow.", body = api::Flow)))]
async fn read_flow(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(id): Id<FlowId>,
) -> Result<Json<api::Flow>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(flows::get_flow(&mut conn, &state.services.public_url, &app.id, &id).await?))
}
