//! `/v2/webhooks`, `/v2/events`: endpoints, their deliveries, and the event log.

use axum::extract::{RawQuery, State};
use dots_shared::ErrorCode;

use axum::Json;
use axum::http::StatusCode;
use dots_shared::api::{self, Secret, WebhookEndpoint};
use dots_shared::ids::{EventId, WebhookId};
use serde::Deserialize;

use super::extract::{AppAuth, Id, Mutation, NoFields, list_query};
use super::{AppState, Routes, ok};
use crate::error::{Error, Reply};
use crate::webhooks::{self, CreateWebhookRequest, DEFAULT_ROTATION_OVERLAP_MS, NewEndpoint};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get("/v2/webhooks", list)
        .post("/v2/webhooks", create)
        .get("/v2/webhooks/{id}", read)
        .delete("/v2/webhooks/{id}", delete)
        .post("/v2/webhooks/{id}/rotate-secret", rotate)
        .post("/v2/webhooks/{id}/enable", enable)
        .post("/v2/webhooks/{id}/disable", disable)
        .get("/v2/webhooks/{id}/deliveries", deliveries)
        .get("/v2/events", events)
        .get("/v2/events/stream", stream)
        .get("/v2/events/{id}", event)
        .post("/v2/events/{id}/redeliver", redeliver)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, read, delete, rotate, enable, disable, deliveries, events, stream, event, redeliver))]
pub(super) struct Doc;

#[utoipa::path(post, path = "/v2/webhooks", tag = "Webhooks", request_body = CreateWebhookRequest, responses((status = 201, description = "The endpoint with its signing secret (shown once).", body = WebhookEndpoint)))]
async fn create(State(state): State<AppState>, m: Mutation<AppAuth, CreateWebhookRequest>) -> Result<Reply, Error> {
    let s = &state.services;
    let endpoint = NewEndpoint::validate(&s.keys, &m.caller.0.id, m.body, s.webhooks.allow_private)?;
    state
        .writer
        .run(m.origin, endpoint, |conn, endpoint, now| {
            Box::pin(
                async move { secret_once(StatusCode::CREATED, webhooks::create_endpoint(conn, endpoint, now).await?) },
            )
        })
        .await
}

#[utoipa::path(get, path = "/v2/webhooks", tag = "Webhooks", responses((status = 200, description = "Endpoints, newest first.", body = api::List<WebhookEndpoint>)))]
async fn list(State(state): State<AppState>, AppAuth(app): AppAuth) -> Result<Json<api::List<WebhookEndpoint>>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(api::List { data: webhooks::list_endpoints(&mut conn, &app.id).await?, has_more: false }))
}

#[utoipa::path(get, path = "/v2/webhooks/{id}", tag = "Webhooks", params(("id" = String, Path, description = "A webhook endpoint id (we_…).")), responses((status = 200, description = "The endpoint.", body = WebhookEndpoint)))]
async fn read(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(id): Id<WebhookId>,
) -> Result<Json<WebhookEndpoint>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(webhooks::get_endpoint(&mut conn, &app.id, &id).await?))
}

#[utoipa::path(delete, path = "/v2/webhooks/{id}", tag = "Webhooks", params(("id" = String, Path, description = "A webhook endpoint id (we_…).")), responses((status = 200, description = "Deleted; its pending deliveries are canceled.", body = api::Deleted)))]
async fn delete(
    State(state): State<AppState>,
    Id(id): Id<WebhookId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id, id);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, id), now| {
            Box::pin(async move { ok(StatusCode::OK, &webhooks::delete_endpoint(conn, app_id, id, now).await?) })
        })
        .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    /// How long the old secret keeps signing beside the new one (default 24 h, at most 7 days).
    #[serde(default)]
    overlap_seconds: Option<i64>,
}

#[utoipa::path(post, path = "/v2/webhooks/{id}/rotate-secret", tag = "Webhooks", params(("id" = String, Path, description = "A webhook endpoint id (we_…).")), request_body = RotateRequest, responses((status = 200, description = "The endpoint with its new secret (shown once).", body = WebhookEndpoint)))]
async fn rotate(
    State(state): State<AppState>,
    Id(id): Id<WebhookId>,
    m: Mutation<AppAuth, RotateRequest>,
) -> Result<Reply, Error> {
    let overlap_ms = match m.body.overlap_seconds {
        None => DEFAULT_ROTATION_OVERLAP_MS,
        Some(s) if (0..=7 * 24 * 3600).contains(&s) => s * 1000,
        Some(_) => {
            return Err(Error::invalid(ErrorCode::InvalidOverlap, "overlap_seconds", "overlap_seconds is 0 to 604800"));
        }
    };
    let args = (state.services.clone(), m.caller.0.id, id, overlap_ms);
    state
        .writer
        .run(m.origin, args, |conn, (s, app_id, id, overlap_ms), now| {
            Box::pin(async move {
                secret_once(StatusCode::OK, webhooks::rotate_secret(conn, &s.keys, app_id, id, *overlap_ms, now).await?)
            })
        })
        .await
}

#[utoipa::path(post, path = "/v2/webhooks/{id}/enable", tag = "Webhooks", params(("id" = String, Path, description = "A webhook endpoint id (we_…).")), responses((status = 200, description = "The endpoint, enabled.", body = WebhookEndpoint)))]
async fn enable(
    State(state): State<AppState>,
    id: Id<WebhookId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    switch(state, id, m, true).await
}

/// Stops sending to the endpoint (`disabled_reason`: `disabled_by_app`); its
/// deliveries wait until it is enabled again.
#[utoipa::path(post, path = "/v2/webhooks/{id}/disable", tag = "Webhooks", params(("id" = String, Path, description = "A webhook endpoint id (we_…).")), responses((status = 200, description = "The endpoint, disabled.", body = WebhookEndpoint)))]
async fn disable(
    State(state): State<AppState>,
    id: Id<WebhookId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    switch(state, id, m, false).await
}

async fn switch(
    state: AppState,
    Id(id): Id<WebhookId>,
    m: Mutation<AppAuth, NoFields>,
    on: bool,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id, id);
    state
        .writer
        .run(m.origin, args, move |conn, (app_id, id), now| {
            Box::pin(
                async move { ok(StatusCode::OK, &webhooks::set_endpoint_enabled(conn, app_id, id, on, now).await?) },
            )
        })
        .await
}

#[utoipa::path(get, path = "/v2/webhooks/{id}/deliveries", tag = "Webhooks", params(("id" = String, Path, description = "A webhook endpoint id (we_…)."), super::openapi::PageQuery), responses((status = 200, description = "Deliveries, newest first.", body = api::List<api::Delivery>)))]
async fn deliveries(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(id): Id<WebhookId>,
    RawQuery(query): RawQuery,
) -> Result<Json<api::List<api::Delivery>>, Error> {
    let page = list_query(query.as_deref(), &[])?.page;
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(webhooks::list_deliveries(&mut conn, &app.id, &id, &page).await?))
}

#[utoipa::path(get, path = "/v2/events", tag = "Webhooks", params(super::openapi::PageQuery, super::openapi::EventFilter), responses((status = 200, description = "Events, newest first.", body = api::List<api::Event>)))]
async fn events(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<api::List<api::Event>>, Error> {
    let query = list_query(query.as_deref(), &["type"])?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(webhooks::list_events(&mut conn, &app.id, &query.page, query.filter("type")).await?))
}

/// How often an open stream looks for new events.
const STREAM_POLL: std::time::Duration = std::time::Duration::from_millis(250);
/// How often a dashboard member's open stream checks that they may still read it.
const MEMBER_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

#[utoipa::path(get, path = "/v2/events/stream", tag = "Webhooks", params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (an evt_… id; browsers send it when they reconnect).")), responses((status = 200, description = "Server-Sent Events: each of the app's events as it happens (`id:` the event id, `event:` its type, `data:` the event as `GET /v2/events/{id}` answers it), in the order they were recorded; a comment every 15 s keeps the connection open.", content_type = "text/event-stream", body = String)))]
async fn stream(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    headers: axum::http::HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event, KeepAlive, Sse};
    // Where to resume is the Last-Event-ID header. Its only parameter is the app a
    // dashboard session follows (`?app=`, read by `member_acting`); API keys have one app.
    let query = list_query(query.as_deref(), &["app"])?;
    let stray = query.filter("app").is_some() && !super::dashboard::has_session(&headers);
    if query.page.limit.is_some() || query.page.starting_after.is_some() || stray {
        return Err(Error::new(
            ErrorCode::UnknownParameter,
            "The stream takes no query (a dashboard session may name its app); resume with Last-Event-ID.",
        )
        .with_param("query"));
    }
    let last_event_id = match headers.get("last-event-id").map(|v| v.to_str().map(str::trim)) {
        None | Some(Ok("")) => None,
        Some(Ok(id)) if id.len() <= 64 => Some(id),
        Some(_) => {
            return Err(
                Error::new(ErrorCode::InvalidCursor, "Last-Event-ID is not an event id.").with_param("Last-Event-ID")
            );
        }
    };
    let mut conn = state.store.reader().acquire().await?;
    let after = webhooks::stream_start(&mut conn, &app.id, last_event_id).await?;
    drop(conn);
    struct Tail {
        state: AppState,
        app_id: String,
        after: i64,
        ready: std::collections::VecDeque<api::Event>,
        stopping: tokio::sync::watch::Receiver<bool>,
        /// A member's session token and id, and when they were last found still allowed.
        member: Option<(String, String, std::time::Instant)>,
    }
    let member = app.member.clone().and_then(|id| Some((super::dashboard::session_token(&headers)?, id)));
    let tail = Tail {
        stopping: state.stopping.subscribe(),
        state,
        app_id: app.id,
        after,
        ready: Default::default(),
        member: member.map(|(token, id)| (token, id, std::time::Instant::now())),
    };
    // Each step yields the next event, reading the log again when none is ready;
    // the stream ends when the server stops (or the log cannot be read: the client
    // reconnects with its Last-Event-ID).
    let events = futures_util::stream::unfold(tail, |mut tail| async move {
        loop {
            if let Some(event) = tail.ready.pop_front() {
                let sse = Event::default().id(event.id.clone()).event(event.kind.clone()).json_data(&event);
                return Some((sse.map_err(|e| Error::internal(e.to_string())), tail));
            }
            if *tail.stopping.borrow() {
                return None;
            }
            // A member's stream ends with their session or their place on the team
            // (signed out, timed out, removed): what they may read is looked at again.
            if let Some((token, member_id, checked)) = &mut tail.member
                && checked.elapsed() >= MEMBER_RECHECK
            {
                let allowed = async {
                    let mut conn = tail.state.store.reader().acquire().await?;
                    crate::members::session(&mut conn, token, crate::store::now_ms()).await?;
                    crate::members::acting_in(&mut conn, member_id, &tail.app_id).await
                };
                if allowed.await.is_err() {
                    return None;
                }
                *checked = std::time::Instant::now();
            }
            let read = async {
                let mut conn = tail.state.store.reader().acquire().await?;
                webhooks::stream_next(&mut conn, &tail.app_id, tail.after, crate::store::now_ms()).await
            };
            match read.await {
                Ok((events, after)) if !events.is_empty() || after != tail.after => {
                    (tail.ready, tail.after) = (events.into(), after);
                }
                Ok(_) => tokio::select! {
                    () = tokio::time::sleep(STREAM_POLL) => {}
                    _ = tail.stopping.changed() => return None,
                },
                Err(e) => {
                    tracing::warn!(error = %e.message, "an event stream could not read the log");
                    return None;
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

#[utoipa::path(get, path = "/v2/events/{id}", tag = "Webhooks", params(("id" = String, Path, description = "An event id (evt_…).")), responses((status = 200, description = "The event.", body = api::Event)))]
async fn event(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(id): Id<EventId>,
) -> Result<Json<api::Event>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(webhooks::get_event(&mut conn, &app.id, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RedeliverRequest {
    #[serde(default)]
    endpoint_id: Option<String>,
}

#[utoipa::path(post, path = "/v2/events/{id}/redeliver", tag = "Webhooks", params(("id" = String, Path, description = "An event id (evt_…).")), request_body = RedeliverRequest, responses((status = 200, description = "Deliveries queued.", body = api::Redelivery)))]
async fn redeliver(
    State(state): State<AppState>,
    Id(id): Id<EventId>,
    m: Mutation<AppAuth, RedeliverRequest>,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id, id, m.body.endpoint_id);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, event_id, endpoint_id), now| {
            Box::pin(async move {
                ok(StatusCode::OK, &webhooks::redeliver(conn, app_id, event_id, endpoint_id.as_deref(), now).await?)
            })
        })
        .await
}

/// An endpoint whose signing secret is shown in this answer only; its idempotent
/// replay says `"secret": null`.
fn secret_once(status: StatusCode, endpoint: WebhookEndpoint) -> crate::error::TxResult<Reply> {
    let withheld = WebhookEndpoint { secret: Secret::Withheld, ..endpoint.clone() };
    Ok(Reply::once(status, &endpoint, &withheld)?)
}
