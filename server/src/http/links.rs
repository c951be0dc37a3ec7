//! `/v2/payout-links` and `/v2/flows`: what a merchant's backend makes for payees.

use axum::extract::{RawQuery, State};

use axum::Json;
use axum::http::StatusCode;
use dots_shared::api;
use dots_shared::ids::{FlowId, PayoutBatchId, PayoutLinkId};

use super::extract::{AppAuth, BatchMutation, Id, Mutation, NoFields, list_query};
use super::{AppState, Routes, ok};
use crate::batches::{self, CreateBatchRequest, NewBatch};
use crate::error::{Error, Reply};
use crate::flows::{
    self, CreateFlowRequest, CreatePayoutLinkRequest, DeliveryMethod, DeliveryRequest, NewFlow, NewPayoutLink,
};
use crate::link_delivery;
use crate::store::now_ms;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get("/v2/payout-links", list)
        .post("/v2/payout-links", create)
        .get("/v2/payout-links/{id}", read)
        .post("/v2/payout-links/{id}/cancel", cancel)
        .post("/v2/payout-links/{id}/send", send)
        .get("/v2/dev/emails", dev_emails)
        .post("/v2/payout-batches", create_batch)
        .get("/v2/payout-batches/{id}", read_batch)
        .post("/v2/flows", create_flow)
        .get("/v2/flows", list_flows)
        .get("/v2/flows/{id}", read_flow)
        .post("/v2/flows/{id}/revoke", revoke_flow)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create,
    read,
    list,
    cancel,
    send,
    dev_emails,
    create_batch,
    read_batch,
    create_flow,
    list_flows,
    revoke_flow,
    read_flow
))]
pub(super) struct Doc;

#[utoipa::path(post, path = "/v2/payout-links", tag = "Payout links", request_body = CreatePayoutLinkRequest, responses((status = 201, description = "The link; its url is the page the payee opens.", body = api::PayoutLink)))]
async fn create(State(state): State<AppState>, m: Mutation<AppAuth, CreatePayoutLinkRequest>) -> Result<Reply, Error> {
    let link = NewPayoutLink::validate(&state.services.keys, &m.caller.0, m.body, now_ms())?;
    let (id, delivered) = (link.id.clone(), link.delivery != DeliveryMethod::None);
    let args = (state.services.clone(), link);
    let reply = state
        .writer
        .run(m.origin, args, |conn, (s, link), now| {
            // The answer holds the link's bearer URL, which a retry must show again: sealed.
            Box::pin(async move {
                Ok(Reply::sealed(
                    StatusCode::CREATED,
                    &flows::create_link(conn, &s.keys, &s.public_url, link, now).await?,
                )?)
            })
        })
        .await?;
    if delivered && reply.status.is_success() && !reply.replayed {
        deliver_now(&state, id);
    }
    Ok(reply)
}

/// Hands a link whose delivery just committed to the sender at once; the delivery
/// worker takes up whatever this does not finish (a crash, a relay that is down).
fn deliver_now(state: &AppState, link_id: String) {
    let (store, writer, services) = (state.store.clone(), state.writer.clone(), state.services.clone());
    tokio::spawn(async move {
        if let Err(e) = link_delivery::deliver_one(&store, &writer, &services, &link_id).await {
            tracing::warn!(link = %link_id, error = %e, "a payout link's delivery will be retried by the worker");
        }
    });
}

/// Sends the link to its payee again (or for the first time), by SMS or email: at
/// most three times an hour per link. The outcome comes as `payout_link.delivered`
/// or `payout_link.delivery_failed`, and in the link's `delivery`.
#[utoipa::path(post, path = "/v2/payout-links/{id}/send", tag = "Payout links", request_body = DeliveryRequest, params(("id" = String, Path, description = "A payout link id (pl_…).")), responses((status = 202, description = "The link, its delivery pending.", body = api::PayoutLink)))]
async fn send(
    State(state): State<AppState>,
    Id(id): Id<PayoutLinkId>,
    m: Mutation<AppAuth, DeliveryRequest>,
) -> Result<Reply, Error> {
    let asked = DeliveryMethod::from_request(Some(&m.body))?;
    let args = (state.services.clone(), m.caller.0.id, id.to_string(), asked);
    let reply = state
        .writer
        .run(m.origin, args, |conn, (s, app_id, id, asked), now| {
            Box::pin(async move {
                let method = flows::method_for_resend(conn, app_id, id, *asked).await?;
                flows::schedule_delivery(conn, app_id, id, method, now).await?;
                Ok(Reply::sealed(
                    StatusCode::ACCEPTED,
                    &flows::get_link(conn, &s.keys, &s.public_url, app_id, id, now).await?,
                )?)
            })
        })
        .await?;
    if reply.status.is_success() && !reply.replayed {
        deliver_now(&state, id.to_string());
    }
    Ok(reply)
}

/// Up to 1,000 payouts to known users (funded from the app's wallet) and payout
/// links, made together or not at all: a refused batch lists every refused item
/// (`batch_items_refused`, with `items`) and changes nothing.
#[utoipa::path(post, path = "/v2/payout-batches", tag = "Payout links", request_body = CreateBatchRequest, responses((status = 201, description = "The batch and what each item made.", body = api::PayoutBatch)))]
async fn create_batch(
    State(state): State<AppState>,
    BatchMutation(m): BatchMutation<AppAuth, CreateBatchRequest>,
) -> Result<Reply, Error> {
    let batch = NewBatch::validate(&state.services.keys, &m.caller.0, m.body, now_ms())?;
    let links = batch.links_to_deliver();
    let args = (state.services.clone(), batch);
    let reply = state
        .writer
        .run(m.origin, args, |conn, (s, batch), now| {
            Box::pin(async move {
                ok(StatusCode::CREATED, &batches::create(conn, &s.keys, &s.public_url, batch, now).await?)
            })
        })
        .await?;
    if reply.status.is_success() && !reply.replayed {
        for link in links {
            deliver_now(&state, link);
        }
    }
    Ok(reply)
}

#[utoipa::path(get, path = "/v2/payout-batches/{id}", tag = "Payout links", params(("id" = String, Path, description = "A payout batch id (pb_…).")), responses((status = 200, description = "The batch, its items as they stand now.", body = api::PayoutBatch)))]
async fn read_batch(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(id): Id<PayoutBatchId>,
) -> Result<Json<api::PayoutBatch>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(batches::get(&mut conn, &app.id, &id).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DevEmailQuery {
    #[serde(default)]
    to: Option<String>,
}

/// Sandbox only: the app's recent emails from the dev outbox, newest first.
#[utoipa::path(get, path = "/v2/dev/emails", tag = "Sandbox", params(("to" = Option<String>, Query, description = "Only emails to this address.")), responses((status = 200, description = "The app's recent emails in the sandbox outbox, newest first.", body = api::List<crate::email::DevEmail>)))]
async fn dev_emails(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    query: Result<axum::extract::Query<DevEmailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<api::List<crate::email::DevEmail>>, Error> {
    app.sandbox_only()?;
    let outbox = &state.services.email_outbox;
    let axum::extract::Query(query) =
        query.map_err(|_| Error::new(dots_shared::ErrorCode::InvalidQuery, "Only to is accepted."))?;
    Ok(Json(api::List { data: outbox.recent(&app.id, query.to.as_deref()), has_more: false }))
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
    let query = list_query(query.as_deref(), &crate::metadata::FILTERS)?;
    let filter = query.metadata()?;
    let mut conn = state.store.reader().acquire().await?;
    let s = &state.services;
    Ok(Json(flows::list_links(&mut conn, &s.keys, &s.public_url, &app.id, &filter, &query.page, now_ms()).await?))
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
        .run(m.origin, args, |conn, (s, app_id, id), now| {
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
        .run(m.origin, args, |conn, (s, flow), now| {
            Box::pin(async move {
                let created = flows::create_flow(conn, &s.public_url, flow, now).await?;
                // The token is answered once; the idempotent replay cannot show it.
                Ok(Reply::once(StatusCode::CREATED, &created, &flows::without_token(&created))?)
            })
        })
        .await
}

/// The flows the app made (not its payout links' sessions), newest first.
#[utoipa::path(get, path = "/v2/flows", tag = "Flows", params(super::openapi::PageQuery, ("user_id" = Option<String>, Query, description = "Only this user's flows.")), responses((status = 200, description = "The flows, newest first.", body = api::List<api::Flow>)))]
async fn list_flows(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<api::List<api::Flow>>, Error> {
    let query = list_query(query.as_deref(), &["user_id"])?;
    let mut conn = state.store.reader().acquire().await?;
    let public_url = &state.services.public_url;
    Ok(Json(flows::list_flows(&mut conn, public_url, &app.id, &query.page, query.filter("user_id")).await?))
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
        .run(m.origin, args, |conn, (s, app_id, id), now| {
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
