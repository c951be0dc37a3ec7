//! The flow API (`/flow/v1/…`) the widget calls with its session token. It exposes
//! only what each step needs, always about the session's own flow, app and user:
//! no endpoint takes another user's or flow's id.

use dots_shared::ErrorCode;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use axum::Json;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Mutation, NoFields, Principal};
use super::payees::start_and_send;
use super::{AppState, Routes};
use crate::error::{Error, Reply};
use crate::flows::{self, NewFlow, Session};
use crate::payees::compliance::{self, ComplianceRequest, ComplianceUpdate};
use crate::payees::payout_methods::{self, CreatePayoutMethodRequest, Destination, NewPayoutMethod};
use crate::payees::verify::{self, Checked, NewCode};
use crate::sms::mask_phone;
use crate::store::now_ms;

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
        .post("/flow/v1/complete", complete)
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenLinkRequest {
    link_token: String,
}

async fn open_link(State(state): State<AppState>, m: Mutation<Anonymous, OpenLinkRequest>) -> Result<Reply, Error> {
    let mut conn = state.store.reader().acquire().await?;
    let link = flows::link_by_token(&mut conn, m.body.link_token.trim(), now_ms()).await?;
    drop(conn);
    // No idempotency here: every opening of the link is a session of its own.
    let args = (state.services.clone(), NewFlow::for_link(&link, now_ms()));
    state
        .writer
        .run(None, args, |conn, (s, flow), now| Box::pin(flows::create_flow(conn, &s.public_url, flow, now)))
        .await
}

async fn session_state(State(state): State<AppState>, FlowAuth(session): FlowAuth) -> Result<Json<Value>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    let app = sqlx::query_as::<_, (String, String)>("SELECT name, brand FROM apps WHERE id = $1")
        .bind(&session.app_id)
        .fetch_one(&mut *conn)
        .await?;
    let app_brand = serde_json::from_str::<Value>(&app.1).unwrap_or(Value::Null);
    let mut brand =
        overlay(&app_brand, &session.theme.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default());
    let (mut verified, mut phone_hint) = (session.verified_phone.is_some(), None);
    let mut link = Value::Null;
    let mut amount = 0;
    if let Some(link_id) = &session.payout_link_id {
        let full = flows::get_link(&mut conn, &state.services.keys, "", &session.app_id, link_id, now_ms()).await?;
        amount = full["amount"].as_i64().unwrap_or(0);
        phone_hint = full["phone_number"].as_str().map(mask_phone);
        let brand_override = full["brand"].clone();
        brand = overlay(&brand, &brand_override);
        link = json!({
            "amount": full["amount"], "currency": full["currency"], "memo": full["memo"],
            "status": full["status"], "expires_at": full["expires_at"], "brand": brand_override,
            "phone_hint": phone_hint,
        });
    } else if let Some(user) = &session.user_id {
        let user = crate::payees::users::get(&mut conn, &session.app_id, user).await?;
        verified = verified || user.phone_verified;
        phone_hint = Some(mask_phone(&user.phone_number));
    }
    let compliance_required = match session.user() {
        Ok(user) => compliance::tax_id_required(&mut conn, &session.app_id, user, amount, now_ms()).await?,
        Err(_) => false,
    };
    Ok(Json(json!({
        "flow_id": session.flow_id,
        "status": session.status,
        "steps": session.steps,
        "pre_authenticated": session.payout_link_id.is_none() && session.user_id.is_some(),
        "verified": verified,
        "phone_hint": phone_hint,
        "user_id": session.user().ok(),
        "app": {"name": app.0, "brand": app_brand},
        // The app's brand with the flow's or link's override on top: what the widget shows.
        "brand": brand,
        "payout_link": link,
        "requirements": {"tax_id": compliance_required},
        // Where a flow opened as a page of its own sends the payee when done.
        "redirect_url": session.redirect_url,
    })))
}

/// `over`'s keys on top of `base`'s (both brand objects; either may be null).
fn overlay(base: &Value, over: &Value) -> Value {
    let mut merged = base.as_object().cloned().unwrap_or_default();
    if let Some(over) = over.as_object() {
        merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(merged)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendCodeRequest {
    #[serde(default)]
    phone_number: Option<String>,
}

async fn send_code(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    m: Mutation<FlowAuth, SendCodeRequest>,
) -> Result<Reply, Error> {
    let session = &m.caller.0;
    let mut conn = state.store.reader().acquire().await?;
    let destination = flows::code_destination(&mut conn, session, m.body.phone_number.as_deref()).await?;
    let app_name: String =
        sqlx::query_scalar("SELECT name FROM apps WHERE id = $1").bind(&session.app_id).fetch_one(&mut *conn).await?;
    drop(conn);
    let client = client.map(|address| (address, state.services.sms_per_client_per_hour));
    let (code, plain) =
        NewCode::generate(&state.services.keys, &session.app_id, session.subject(), &destination, client);
    start_and_send(&state, m.idempotency, code, plain, &app_name).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckCodeRequest {
    code: String,
}

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
        .run(m.idempotency, args, |conn, (s, session, code, email), now| {
            Box::pin(async move {
                match verify::check(conn, &s.keys, &session.app_id, &session.subject(), code, now).await? {
                    Checked::Refused(error) => Ok(Reply::from_error(&error)),
                    Checked::Verified { destination } => {
                        let verified = flows::verified(conn, session, &destination, email.clone(), now).await?;
                        let answer = json!({"verified": true, "user_id": verified.user_id});
                        let mut with_token = answer.clone();
                        with_token["session_token"] = verified.session_token.into();
                        // The new token is answered once; what is kept for a replay never holds it.
                        let mut reply = Reply::json(StatusCode::OK, &with_token)?;
                        reply.replay_body = Some(serde_json::to_vec(&answer).map_err(Error::internal)?);
                        Ok(reply)
                    }
                }
            })
        })
        .await
}

async fn read_compliance(State(state): State<AppState>, FlowAuth(session): FlowAuth) -> Result<Json<Value>, Error> {
    let user = session.user()?;
    let mut conn = state.store.reader().acquire().await?;
    let mut record = compliance::get(&mut conn, &session.app_id, user, now_ms()).await?;
    // The widget only needs to know what is filled in, not the values.
    for field in ["date_of_birth", "address"] {
        record[field] = Value::Bool(!record[field].is_null());
    }
    Ok(Json(record))
}

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
    let reply =
        state.writer.run(m.idempotency, update, |conn, u, now| Box::pin(compliance::update(conn, u, now))).await?;
    Ok(redact_compliance(reply))
}

/// The payee sees what they entered as "provided", never echoed back in full.
fn redact_compliance(mut reply: Reply) -> Reply {
    if let Ok(mut record) = serde_json::from_slice::<Value>(&reply.body)
        && record.get("error").is_none()
    {
        for field in ["date_of_birth", "address"] {
            record[field] = Value::Bool(!record[field].is_null());
        }
        reply.body = serde_json::to_vec(&record).unwrap_or(reply.body);
    }
    reply
}

async fn list_methods(State(state): State<AppState>, FlowAuth(session): FlowAuth) -> Result<Json<Value>, Error> {
    let user = session.user()?;
    let mut conn = state.store.reader().acquire().await?;
    let data = payout_methods::list(&mut conn, &session.app_id, user).await?;
    Ok(Json(json!({"data": data, "has_more": false})))
}

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
        .run(m.idempotency, method, |conn, method, now| Box::pin(payout_methods::create(conn, method, now)))
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimRequest {
    payout_method_id: String,
}

async fn claim(State(state): State<AppState>, m: Mutation<FlowAuth, ClaimRequest>) -> Result<Reply, Error> {
    let args = (m.caller.0, m.body.payout_method_id);
    state
        .writer
        .run(m.idempotency, args, |conn, (session, method_id), now| {
            Box::pin(flows::claim(conn, session, method_id, now))
        })
        .await
}

async fn complete(State(state): State<AppState>, m: Mutation<FlowAuth, NoFields>) -> Result<Reply, Error> {
    if m.caller.0.payout_link_id.is_some() {
        return Err(Error::new(ErrorCode::ClaimRequired, "A payout link's flow completes by claiming it."));
    }
    state
        .writer
        .run(m.idempotency, m.caller.0, |conn, session, now| {
            Box::pin(async move {
                flows::require_steps(conn, session).await?;
                flows::complete(conn, session, now).await?;
                Ok(Reply::json(StatusCode::OK, &json!({"flow_id": session.flow_id, "status": "completed"}))?)
            })
        })
        .await
}
