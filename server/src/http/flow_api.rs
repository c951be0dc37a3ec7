//! The flow API (`/flow/v1/…`) the widget calls with its session token. It exposes
//! only what each step needs, always about the session's own flow, app and user:
//! no endpoint takes another user's or flow's id.

use dots_shared::flow::{self, CheckCodeRequest, ClaimRequest, OpenLinkRequest, ResendRequest, SendCodeRequest};
use dots_shared::{ErrorCode, api};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use axum::Json;

use super::extract::{Mutation, NoFields, Principal};
use super::payees::start_and_send;
use super::{AppState, Routes, ok};
use crate::audit::{Actor, ActorKind};
use crate::error::{Error, Reply};
use crate::flows::{self, NewFlow, Session};
use crate::payees::compliance::{self, ComplianceRequest, ComplianceUpdate};
use crate::payees::payout_methods::{self, CreatePayoutMethodRequest, Destination, NewPayoutMethod};
use crate::payees::verify::{self, Checked, NewCode};
use crate::store::now_ms;
use sqlx::Row;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .post("/flow/v1/sessions", open_link)
        .get("/flow/v1/session", session_state)
        .post("/flow/v1/verification", send_code)
        .post("/flow/v1/verification/check", check_code)
        .get("/flow/v1/compliance", read_compliance)
        .put("/flow/v1/compliance", update_compliance)
        .get("/flow/v1/payout-methods", list_methods)
        .post("/flow/v1/payout-methods", add_method)
        .post("/flow/v1/claim", claim)
        .post("/flow/v1/payout-link/resend", resend)
        .post("/flow/v1/complete", complete)
        .get("/flow/v1/payout", payout_offer)
        .post("/flow/v1/payout", withdraw)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    open_link,
    session_state,
    send_code,
    check_code,
    read_compliance,
    update_compliance,
    list_methods,
    add_method,
    claim,
    resend,
    complete,
    payout_offer,
    withdraw
))]
pub(super) struct Doc;

/// A flow session, from `Authorization: Bearer <token>`.
pub struct FlowAuth(pub Session);

impl FromRequestParts<AppState> for FlowAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<FlowAuth, Error> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Error::new(ErrorCode::MissingSession, "Send Authorization: Bearer <session token>."))?;
        let mut conn = state.store.reader().acquire().await?;
        Ok(FlowAuth(flows::session_by_token(&mut conn, token.trim(), now_ms()).await?))
    }
}

impl Principal for FlowAuth {
    fn owner(&self) -> String {
        format!("flow:{}", self.0.flow_id)
    }

    fn actor(&self) -> Actor {
        Actor { app_id: Some(self.0.app_id.clone()), kind: ActorKind::Payee, id: self.0.flow_id.clone() }
    }
}

/// Anyone holding a payout link's URL may open a session for it; the claim still
/// needs the payee's phone.
pub struct Anonymous;

impl FromRequestParts<AppState> for Anonymous {
    type Rejection = Error;

    async fn from_request_parts(_: &mut Parts, _: &AppState) -> Result<Anonymous, Error> {
        Ok(Anonymous)
    }
}

impl Principal for Anonymous {
    fn owner(&self) -> String {
        "anonymous".into()
    }

    /// The link's app is named by the handler, once it has found the link.
    fn actor(&self) -> Actor {
        Actor { app_id: None, kind: ActorKind::LinkHolder, id: "anonymous".into() }
    }
}

/// The caller's rate-limit key (its address, or its IPv6 /64; forwarded only by a
/// trusted proxy: `clients`), when the server knows it (not for in-process calls).
pub struct ClientAddress(pub Option<String>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<ClientAddress, Error> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip());
        let trusted = &state.services.trusted_proxies;
        Ok(ClientAddress(peer.map(|peer| crate::clients::client_key(peer, &parts.headers, trusted))))
    }
}

#[utoipa::path(post, path = "/flow/v1/sessions", tag = "Flow sessions", request_body = OpenLinkRequest, responses((status = 201, description = "A session of the link's flow, with its token.", body = api::FlowCreated)))]
async fn open_link(State(state): State<AppState>, m: Mutation<Anonymous, OpenLinkRequest>) -> Result<Reply, Error> {
    let mut conn = state.store.reader().acquire().await?;
    let link = flows::link_by_token(&mut conn, m.body.link_token.trim(), now_ms()).await?;
    drop(conn);
    // No idempotency here: every opening of the link is a session of its own.
    let mut origin = m.origin.without_key().on_app(&link.app_id);
    if let Some(audit) = &mut origin.audit {
        audit.actor.id = link.id.clone();
    }
    let args = (state.services.clone(), NewFlow::for_link(&link, now_ms()));
    state
        .writer
        .run(origin, args, |conn, (s, flow), now| {
            Box::pin(async move { ok(StatusCode::CREATED, &flows::create_flow(conn, &s.public_url, flow, now).await?) })
        })
        .await
}

#[utoipa::path(get, path = "/flow/v1/session", tag = "Flow sessions", responses((status = 200, description = "What the widget needs to show its steps.", body = flow::SessionState)))]
async fn session_state(
    State(state): State<AppState>,
    FlowAuth(session): FlowAuth,
) -> Result<Json<flow::SessionState>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(flows::session_state(&mut conn, &state.services.keys, &session, now_ms()).await?))
}

#[utoipa::path(post, path = "/flow/v1/verification", tag = "Flow sessions", request_body = SendCodeRequest, responses((status = 201, description = "A code is on its way.", body = flow::CodeSent)))]
async fn send_code(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    m: Mutation<FlowAuth, SendCodeRequest>,
) -> Result<Reply, Error> {
    let session = &m.caller.0;
    let mut conn = state.store.reader().acquire().await?;
    let body = &m.body;
    let destination =
        flows::code_destination(&mut conn, session, body.phone_number.as_deref(), body.country_code.as_deref()).await?;
    let app =
        sqlx::query("SELECT name, mode FROM apps WHERE id = $1").bind(&session.app_id).fetch_one(&mut *conn).await?;
    let (app_name, live): (String, bool) = (app.try_get("name")?, app.try_get::<String, _>("mode")? == "live");
    drop(conn);
    let client = client.map(|address| (address, state.services.sms_per_client_per_hour));
    let (mut code, plain) =
        NewCode::generate(&state.services.keys, &session.app_id, session.subject(), &destination, client);
    code.typed = body.phone_number.is_some();
    start_and_send(&state, m.origin, code, plain, (&app_name, live)).await
}

#[utoipa::path(post, path = "/flow/v1/verification/check", tag = "Flow sessions", request_body = CheckCodeRequest, responses((status = 200, description = "The phone is proven; the session has a new token.", body = flow::CodeChecked)))]
async fn check_code(State(state): State<AppState>, m: Mutation<FlowAuth, CheckCodeRequest>) -> Result<Reply, Error> {
    let session = m.caller.0;
    let email = match &session.payout_link_id {
        Some(link) => {
            let mut conn = state.store.reader().acquire().await?;
            sqlx::query_scalar::<_, Option<String>>("SELECT email FROM payout_links WHERE id = $1")
                .bind(link)
                .fetch_one(&mut *conn)
                .await?
        }
        None => None,
    };
    let args = (state.services.clone(), session, m.body.code.trim().to_string(), email);
    state
        .writer
        .run(m.origin, args, |conn, (s, session, code, email), now| {
            Box::pin(async move {
                match verify::check(conn, &s.keys, &session.app_id, &session.subject(), code, now).await? {
                    Checked::Refused(error) => Ok(Reply::from_error(&error)),
                    Checked::Verified { destination } => {
                        let verified = flows::verified(conn, session, &destination, email.clone(), now).await?;
                        let checked = flow::CodeChecked {
                            verified: true,
                            user_id: verified.user_id,
                            session_token: Some(verified.session_token),
                        };
                        // The new token is answered once; what is kept for a replay never holds it.
                        let replay = flow::CodeChecked { session_token: None, ..checked.clone() };
                        Ok(Reply::once(StatusCode::OK, &checked, &replay)?)
                    }
                }
            })
        })
        .await
}

#[utoipa::path(get, path = "/flow/v1/compliance", tag = "Flow sessions", responses((status = 200, description = "What is filled in.", body = api::PayeeCompliance)))]
async fn read_compliance(
    State(state): State<AppState>,
    FlowAuth(session): FlowAuth,
) -> Result<Json<api::PayeeCompliance>, Error> {
    let user = session.user()?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(compliance::for_payee(compliance::get(&mut conn, &session.app_id, user, now_ms()).await?)))
}

#[utoipa::path(put, path = "/flow/v1/compliance", tag = "Flow sessions", request_body = ComplianceRequest, responses((status = 200, description = "What is filled in after the change.", body = api::PayeeCompliance)))]
async fn update_compliance(
    State(state): State<AppState>,
    m: Mutation<FlowAuth, ComplianceRequest>,
) -> Result<Reply, Error> {
    let session = &m.caller.0;
    let user = session.user()?;
    if m.body.kyc_status.is_some() || m.body.id_verification_status.is_some() {
        return Err(Error::invalid(
            ErrorCode::InvalidField,
            "kyc_status",
            "KYC states are set by the app, not the payee",
        ));
    }
    let update = ComplianceUpdate::validate(&state.services.keys, &session.app_id, user, m.body, now_ms())?;
    state
        .writer
        .run(m.origin, update, |conn, u, now| {
            Box::pin(async move { ok(StatusCode::OK, &compliance::for_payee(compliance::update(conn, u, now).await?)) })
        })
        .await
}

#[utoipa::path(get, path = "/flow/v1/payout-methods", tag = "Flow sessions", responses((status = 200, description = "The payee's methods, masked.", body = api::List<api::PayoutMethod>)))]
async fn list_methods(
    State(state): State<AppState>,
    FlowAuth(session): FlowAuth,
) -> Result<Json<api::List<api::PayoutMethod>>, Error> {
    let user = session.user()?;
    let mut conn = state.store.reader().acquire().await?;
    let data = payout_methods::list(&mut conn, &session.app_id, user).await?;
    Ok(Json(api::List { data, has_more: false }))
}

#[utoipa::path(post, path = "/flow/v1/payout-methods", tag = "Flow sessions", request_body = CreatePayoutMethodRequest, responses((status = 201, description = "The method, masked.", body = api::PayoutMethod)))]
async fn add_method(
    State(state): State<AppState>,
    m: Mutation<FlowAuth, CreatePayoutMethodRequest>,
) -> Result<Reply, Error> {
    let session = &m.caller.0;
    let user = session.user()?;
    let destination = Destination::validate(m.body)?;
    let method = NewPayoutMethod::new(&state.services.keys, &session.app_id, user, destination);
    state
        .writer
        .run(m.origin, method, |conn, method, now| {
            Box::pin(async move { ok(StatusCode::CREATED, &payout_methods::create(conn, method, now).await?) })
        })
        .await
}

#[utoipa::path(post, path = "/flow/v1/claim", tag = "Flow sessions", request_body = ClaimRequest, responses((status = 200, description = "The link is claimed and its payout made; this session ends and `session_token` follows the payout.", body = api::Claimed)))]
async fn claim(State(state): State<AppState>, m: Mutation<FlowAuth, ClaimRequest>) -> Result<Reply, Error> {
    let args = (m.caller.0, m.body.payout_method_id);
    state
        .writer
        .run(m.origin, args, |conn, (session, method_id), now| {
            Box::pin(async move {
                let claimed = flows::claim(conn, session, method_id, now).await?;
                // The follow-up token is answered once; what is kept for a replay never holds it.
                let replay = api::Claimed { session_token: None, ..claimed.clone() };
                Ok(Reply::once(StatusCode::OK, &claimed, &replay)?)
            })
        })
        .await
}

#[utoipa::path(post, path = "/flow/v1/payout-link/resend", tag = "Flow sessions", request_body = ResendRequest, responses((status = 200, description = "The claimed link's money is sent again, to this method: the link's new payout.", body = flow::LinkPayout)))]
async fn resend(State(state): State<AppState>, m: Mutation<FlowAuth, ResendRequest>) -> Result<Reply, Error> {
    let args = (m.caller.0, m.body.payout_method_id);
    state
        .writer
        .run(m.origin, args, |conn, (session, method_id), now| {
            Box::pin(async move { ok(StatusCode::OK, &flows::resend(conn, session, method_id, now).await?) })
        })
        .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferQuery {
    #[serde(default)]
    amount: Option<i64>,
}

#[utoipa::path(get, path = "/flow/v1/payout", tag = "Flow sessions", params(("amount" = Option<i64>, Query, description = "A withdrawal to price, in minor units (the most the payee may take when absent).")), responses((status = 200, description = "What the payee may withdraw: balance, the app's bounds and fee rule, and the fee and net of `amount`.", body = flow::PayoutOffer)))]
async fn payout_offer(
    State(state): State<AppState>,
    FlowAuth(session): FlowAuth,
    query: Result<axum::extract::Query<OfferQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<flow::PayoutOffer>, Error> {
    let axum::extract::Query(query) = query
        .map_err(|_| Error::new(ErrorCode::InvalidQuery, "Only amount, a whole number of minor units, is accepted."))?;
    let amount = query.amount.filter(|a| (1..=dots_shared::money::MAX_AMOUNT_MINOR).contains(a));
    if query.amount.is_some() && amount.is_none() {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            "amount",
            "amount must be a positive number of minor units",
        ));
    }
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(flows::payout_offer(&mut conn, &session, amount).await?))
}

/// The flow's payout step: the payee withdraws their wallet (or part of it) to one
/// of their methods; the flow completes with it.
#[utoipa::path(post, path = "/flow/v1/payout", tag = "Flow sessions", request_body = flow::WithdrawRequest, responses((status = 201, description = "The payout made; the flow is completed.", body = api::ClaimedPayout)))]
async fn withdraw(State(state): State<AppState>, m: Mutation<FlowAuth, flow::WithdrawRequest>) -> Result<Reply, Error> {
    let args = (m.caller.0, m.body);
    state
        .writer
        .run(m.origin, args, |conn, (session, req), now| {
            Box::pin(async move {
                let paid = flows::withdraw(conn, session, req.amount, &req.payout_method_id, now).await?;
                ok(StatusCode::CREATED, &paid)
            })
        })
        .await
}

#[utoipa::path(post, path = "/flow/v1/complete", tag = "Flow sessions", request_body = NoFields, responses((status = 200, description = "The flow is complete.", body = flow::Completed)))]
async fn complete(State(state): State<AppState>, m: Mutation<FlowAuth, NoFields>) -> Result<Reply, Error> {
    if m.caller.0.payout_link_id.is_some() {
        return Err(Error::new(ErrorCode::ClaimRequired, "A payout link's flow completes by claiming it."));
    }
    state
        .writer
        .run(m.origin, m.caller.0, |conn, session, now| {
            Box::pin(async move {
                flows::require_steps(conn, session).await?;
                flows::complete(conn, session, now).await?;
                let completed = flow::Completed { flow_id: session.flow_id.clone(), status: "completed".into() };
                ok(StatusCode::OK, &completed)
            })
        })
        .await
}
