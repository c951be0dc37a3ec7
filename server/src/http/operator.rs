//! The operator's console (`crate::operator`): signing in with the operator key
//! to a session (a cookie like a member's, `X-CSRF-Token` on every change), the
//! apps with their wallet, volume and state, suspending and resuming an app, and
//! the operator's own actions from the audit log.

use axum::extract::{RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dots_shared::ErrorCode;
use dots_shared::api::{self, AppOverview, OperatorSession};
use dots_shared::ids::AppId;
use serde::Deserialize;

use super::dashboard::{cookie, csrf_checked, end_session, named_cookie, per_client, plausible_token, touch};
use super::extract::{Id, Mutation, NoFields, OperatorAuth, list_query};
use super::flow_api::Anonymous;
use super::{AppState, Routes, ok};
use crate::audit::{Actor, ActorKind};
use crate::error::{Error, Reply};
use crate::members::{SESSION_ABSOLUTE_MS, SIGN_IN_WINDOW_MS, SIGN_INS_PER_CLIENT, Sessions, csrf_token, new_token};
use crate::operator::{self, Suspend, SuspendRequest};
use crate::store::now_ms;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .post("/dashboard/api/operator/sign-in", sign_in)
        .get("/dashboard/api/operator/session", session)
        .post("/dashboard/api/operator/sign-out", sign_out)
        .get("/v2/apps", list)
        .get("/v2/apps/{id}", one)
        .post("/v2/apps/{id}/suspend", suspend)
        .post("/v2/apps/{id}/resume", resume)
        .get("/v2/operator/audit-log", audit_log)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(sign_in, session, sign_out, list, one, suspend, resume, audit_log))]
pub(super) struct Doc;

/// The operator's session, from its cookie (when the request has no
/// `Authorization`): a change must carry its `X-CSRF-Token`.
pub(super) async fn signed_in(parts: &Parts, state: &AppState) -> Result<Option<(operator::SignedIn, String)>, Error> {
    if parts.headers.get(header::AUTHORIZATION).is_some() {
        return Ok(None);
    }
    let Some(token) = cookie(&parts.headers, operator::SESSION_COOKIE) else { return Ok(None) };
    if !plausible_token(&token) {
        return Err(operator::not_signed_in());
    }
    csrf_checked(parts, &token)?;
    let mut conn = state.store.reader().acquire().await?;
    let signed_in = operator::session(&mut conn, &token, now_ms()).await?;
    drop(conn);
    if signed_in.stale {
        touch(state, Sessions::Operator, &signed_in.session_id).await?;
    }
    Ok(Some((signed_in, token)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorSignInRequest {
    /// The server's `DOTS_OPERATOR_KEY`.
    pub operator_key: String,
}

/// Signs the operator in with the operator key: the session cookie is set, and
/// the answer carries the CSRF token its changes need.
#[utoipa::path(post, path = "/dashboard/api/operator/sign-in", tag = "Operator", request_body = OperatorSignInRequest, responses((status = 200, description = "Signed in; the operator's session cookie is set.", body = OperatorSession)))]
async fn sign_in(
    State(state): State<AppState>,
    m: Mutation<Anonymous, OperatorSignInRequest>,
) -> Result<Response, Error> {
    let Some(key) = &state.operator_key else {
        return Err(Error::new(
            ErrorCode::OperatorApiDisabled,
            "The operator console is off: start the server with DOTS_OPERATOR_KEY set.",
        ));
    };
    if let Some(refused) =
        per_client(&state, &m.origin, "operator-sign-in", SIGN_INS_PER_CLIENT, SIGN_IN_WINDOW_MS).await?
    {
        return Ok(refused.into_response());
    }
    let client = m.origin.audit.as_ref().and_then(|a| a.ip.clone()).unwrap_or_default();
    // A wrong key answers as a wrong password does (no browser password dialog).
    key.check(m.body.operator_key.trim(), &client, now_ms()).map_err(|e| match e.code {
        ErrorCode::InvalidCredentials => Error::new(ErrorCode::SignInFailed, "The operator key is wrong."),
        _ => e,
    })?;
    let token = new_token("dos_");
    let mut origin = m.origin.without_key();
    if let Some(audit) = &mut origin.audit {
        audit.actor = Actor { app_id: None, kind: ActorKind::Operator, id: "operator".into() };
    }
    let reply = state
        .writer
        .run(origin, token.clone(), |conn, token, now| {
            Box::pin(async move { ok(StatusCode::OK, &operator::start_session(conn, token, now).await?) })
        })
        .await?;
    let mut response = reply.into_response();
    if response.status().is_success() {
        let cookie = named_cookie(&state, operator::SESSION_COOKIE, &token, SESSION_ABSOLUTE_MS / 1000);
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// The operator's session, from its cookie.
struct OperatorSignedIn(operator::SignedIn, String);

impl axum::extract::FromRequestParts<AppState> for OperatorSignedIn {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<OperatorSignedIn, Error> {
        match signed_in(parts, state).await? {
            Some((signed_in, token)) => Ok(OperatorSignedIn(signed_in, token)),
            None => Err(operator::not_signed_in()),
        }
    }
}

impl super::extract::Principal for OperatorSignedIn {
    fn owner(&self) -> String {
        "operator".to_string()
    }

    fn actor(&self) -> Actor {
        Actor { app_id: None, kind: ActorKind::Operator, id: "operator".into() }
    }
}

/// The operator's session: the CSRF token its changes need.
#[utoipa::path(get, path = "/dashboard/api/operator/session", tag = "Operator", responses((status = 200, description = "The session's CSRF token and end.", body = OperatorSession)))]
async fn session(auth: OperatorSignedIn) -> Response {
    let session = OperatorSession {
        csrf_token: csrf_token(&auth.1),
        expires_at: dots_shared::time::rfc3339_from_unix_ms(auth.0.expires_at),
    };
    let mut response = axum::Json(session).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Signs the operator out: the session ends on the server.
#[utoipa::path(post, path = "/dashboard/api/operator/sign-out", tag = "Operator", responses((status = 200, description = "Signed out.")))]
async fn sign_out(State(state): State<AppState>, m: Mutation<OperatorSignedIn, NoFields>) -> Result<Response, Error> {
    let id = m.caller.0.session_id.clone();
    end_session(&state, m.origin, Sessions::Operator, &id, operator::SESSION_COOKIE).await
}

/// Operator: every app, newest first, with its wallet, 30 days' completed payouts,
/// users, owners and state.
#[utoipa::path(get, path = "/v2/apps", tag = "Operator", params(super::openapi::PageQuery), responses((status = 200, description = "The apps, newest first.", body = api::List<AppOverview>)))]
async fn list(
    State(state): State<AppState>,
    _: OperatorAuth,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<api::List<AppOverview>>, Error> {
    let query = list_query(query.as_deref(), &[])?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(operator::apps(&mut conn, &query.page, now_ms()).await?))
}

/// Operator: one app, as the console shows it.
#[utoipa::path(get, path = "/v2/apps/{id}", tag = "Operator", params(("id" = String, Path, description = "An app id (app_…).")), responses((status = 200, description = "The app.", body = AppOverview)))]
async fn one(
    State(state): State<AppState>,
    _: OperatorAuth,
    Id(id): Id<AppId>,
) -> Result<axum::Json<AppOverview>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(operator::app(&mut conn, &id.to_string(), now_ms()).await?))
}

/// Operator: suspends an app. Its API answers 403 `app_suspended`, its members
/// may read but not change, its payout links and flows say payouts are paused,
/// and its webhooks wait, until it is resumed.
#[utoipa::path(post, path = "/v2/apps/{id}/suspend", tag = "Operator", request_body = SuspendRequest, params(("id" = String, Path, description = "An app id (app_…).")), responses((status = 200, description = "The app, suspended.", body = AppOverview)))]
async fn suspend(
    State(state): State<AppState>,
    Id(id): Id<AppId>,
    m: Mutation<OperatorAuth, SuspendRequest>,
) -> Result<Reply, Error> {
    let change = Suspend::validate(id.to_string(), m.body)?;
    set(&state, m.origin, change).await
}

/// Operator: resumes a suspended app.
#[utoipa::path(post, path = "/v2/apps/{id}/resume", tag = "Operator", params(("id" = String, Path, description = "An app id (app_…).")), responses((status = 200, description = "The app, active again.", body = AppOverview)))]
async fn resume(
    State(state): State<AppState>,
    Id(id): Id<AppId>,
    m: Mutation<OperatorAuth, NoFields>,
) -> Result<Reply, Error> {
    set(&state, m.origin, Suspend { app_id: id.to_string(), reason: None }).await
}

async fn set(state: &AppState, origin: crate::writer::Origin, change: Suspend) -> Result<Reply, Error> {
    let app_id = change.app_id.clone();
    let reply = state
        .writer
        .run(origin.on_app(&app_id), change, |conn, change, now| {
            Box::pin(async move { ok(StatusCode::OK, &operator::set_suspended(conn, change, now).await?) })
        })
        .await?;
    // This process sees the change at once; others within the credentials' TTL.
    state.credentials.forget_app(&app_id);
    Ok(reply)
}

/// Operator: the operator's own changes — signing in, making apps and inviting
/// their owners, fees, suspensions — newest first.
#[utoipa::path(get, path = "/v2/operator/audit-log", tag = "Operator", params(super::openapi::PageQuery), responses((status = 200, description = "The operator's changes, newest first.", body = api::List<api::AuditEntry>)))]
async fn audit_log(
    State(state): State<AppState>,
    _: OperatorAuth,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<api::List<api::AuditEntry>>, Error> {
    let query = list_query(query.as_deref(), &[])?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(crate::audit::operator_list(&mut conn, &query.page).await?))
}
