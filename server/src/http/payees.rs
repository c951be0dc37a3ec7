//! A payee's verification, compliance record and payout methods:
//! `/v2/users/{id}/verification[/check]`, `/v2/users/{id}/compliance`,
//! `/v2/users/{id}/payout-methods[/{pm}]`.

use axum::extract::State;
use dots_shared::{ErrorCode, api};

use axum::Json;
use dots_shared::flow::CheckCodeRequest;
use dots_shared::ids::{PayoutMethodId, UserId};

use super::extract::{AppAuth, Id, Ids, Mutation, NoFields};
use super::{AppState, Routes, ok};
use crate::error::{Error, Reply};
use crate::payees::compliance::{self, ComplianceRequest, ComplianceUpdate};
use crate::payees::payout_methods::{self, CreatePayoutMethodRequest, Destination, NewPayoutMethod};
use crate::payees::users;
use crate::payees::verify::{self, Checked, NewCode};
use crate::sms::Sms;
use crate::store::now_ms;
use axum::http::StatusCode;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .post("/v2/users/{id}/verification", send_code)
        .post("/v2/users/{id}/verification/check", check_code)
        .get("/v2/users/{id}/compliance", read_compliance)
        .put("/v2/users/{id}/compliance", update_compliance)
        .get("/v2/users/{id}/payout-methods", list_methods)
        .post("/v2/users/{id}/payout-methods", add_method)
        .delete("/v2/users/{id}/payout-methods/{pm}", delete_method)
        .post("/v2/users/{id}/payout-methods/{pm}/default", make_default)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    send_code,
    check_code,
    read_compliance,
    update_compliance,
    list_methods,
    add_method,
    delete_method,
    make_default
))]
pub(super) struct Doc;

async fn user_phone(state: &AppState, app_id: &str, user_id: &UserId) -> Result<String, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(users::get(&mut conn, app_id, user_id).await?.phone_number)
}

/// Generates a code, commits its hash, then sends it. A replayed request sends nothing.
pub async fn start_and_send(
    state: &AppState,
    origin: crate::writer::Origin,
    code: NewCode,
    plain: String,
    (app_name, live): (&str, bool),
) -> Result<Reply, Error> {
    let destination = code.destination.clone();
    let app_id = code.app_id.clone();
    let reply = state
        .writer
        .run(origin, code, |conn, code, now| {
            Box::pin(async move { Ok(Reply::json(StatusCode::CREATED, &verify::start(conn, code, now).await?)?) })
        })
        .await?;
    if reply.status.is_success() && !reply.replayed {
        let sms =
            Sms { app_id, to: destination, body: verify::message(app_name, &plain, &state.services.public_host()) };
        let sent = match state.services.sms(live) {
            Ok(sender) => sender.send(&sms).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "sending a verification code failed");
            let mut error = Error::unavailable("The code could not be sent; try again shortly.");
            error.code = ErrorCode::SmsFailed;
            return Err(error);
        }
    }
    Ok(reply)
}

#[utoipa::path(post, path = "/v2/users/{id}/verification", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…).")), responses((status = 201, description = "A code was sent to the user's phone.", body = dots_shared::flow::CodeSent)))]
async fn send_code(
    State(state): State<AppState>,
    Id(user_id): Id<UserId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    let app = &m.caller.0;
    let phone = user_phone(&state, &app.id, &user_id).await?;
    let (code, plain) = NewCode::generate(&state.services.keys, &app.id, format!("user:{user_id}"), &phone, None);
    start_and_send(&state, m.origin, code, plain, (&app.name, app.live)).await
}

#[utoipa::path(post, path = "/v2/users/{id}/verification/check", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…).")), request_body = CheckCodeRequest, responses((status = 200, description = "The user, now verified.", body = api::User)))]
async fn check_code(
    State(state): State<AppState>,
    Id(user_id): Id<UserId>,
    m: Mutation<AppAuth, CheckCodeRequest>,
) -> Result<Reply, Error> {
    let app = &m.caller.0;
    user_phone(&state, &app.id, &user_id).await?;
    let args = (state.services.clone(), app.id.clone(), user_id, m.body.code.trim().to_string());
    state
        .writer
        .run(m.origin, args, |conn, (s, app_id, user_id, code), now| {
            Box::pin(async move {
                let subject = format!("user:{user_id}");
                match verify::check(conn, &s.keys, app_id, &subject, code, now).await? {
                    Checked::Refused(error) => Ok(Reply::from_error(&error)),
                    Checked::Verified { .. } => {
                        let user = users::mark_verified(conn, app_id, user_id, now).await?;
                        Ok(Reply::json(StatusCode::OK, &user)?)
                    }
                }
            })
        })
        .await
}

#[utoipa::path(get, path = "/v2/users/{id}/compliance", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…).")), responses((status = 200, description = "The compliance record.", body = api::Compliance)))]
async fn read_compliance(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(user_id): Id<UserId>,
) -> Result<Json<api::Compliance>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(Json(compliance::get(&mut conn, &app.id, &user_id, now_ms()).await?))
}

#[utoipa::path(put, path = "/v2/users/{id}/compliance", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…).")), request_body = ComplianceRequest, responses((status = 200, description = "The record after the change.", body = api::Compliance)))]
async fn update_compliance(
    State(state): State<AppState>,
    Id(user_id): Id<UserId>,
    m: Mutation<AppAuth, ComplianceRequest>,
) -> Result<Reply, Error> {
    let app = &m.caller.0;
    let update = ComplianceUpdate::validate(&state.services.keys, &app.id, &user_id, m.body, now_ms())?;
    state
        .writer
        .run(m.origin, update, |conn, u, now| {
            Box::pin(async move { ok(StatusCode::OK, &compliance::update(conn, u, now).await?) })
        })
        .await
}

#[utoipa::path(get, path = "/v2/users/{id}/payout-methods", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…).")), responses((status = 200, description = "The user's payout methods, masked.", body = api::List<api::PayoutMethod>)))]
async fn list_methods(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    Id(user_id): Id<UserId>,
) -> Result<Json<api::List<api::PayoutMethod>>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    users::wallet_of(&mut conn, &app.id, &user_id).await.map_err(|_| users::not_found())?;
    let data = payout_methods::list(&mut conn, &app.id, &user_id).await?;
    Ok(Json(api::List { data, has_more: false }))
}

#[utoipa::path(post, path = "/v2/users/{id}/payout-methods", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…).")), request_body = CreatePayoutMethodRequest, responses((status = 201, description = "The method, masked.", body = api::PayoutMethod)))]
async fn add_method(
    State(state): State<AppState>,
    Id(user_id): Id<UserId>,
    m: Mutation<AppAuth, CreatePayoutMethodRequest>,
) -> Result<Reply, Error> {
    let app = &m.caller.0;
    let destination = Destination::validate(m.body)?;
    let method = NewPayoutMethod::new(&state.services.keys, &app.id, &user_id, destination);
    state
        .writer
        .run(m.origin, method, |conn, method, now| {
            Box::pin(async move { ok(StatusCode::CREATED, &payout_methods::create(conn, method, now).await?) })
        })
        .await
}

/// Makes the method the user's default: payouts that name no method go to it.
#[utoipa::path(post, path = "/v2/users/{id}/payout-methods/{pm}/default", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…)."), ("pm" = String, Path, description = "A payout method id (pm_…).")), responses((status = 200, description = "The method, now the default.", body = api::PayoutMethod)))]
async fn make_default(
    State(state): State<AppState>,
    Ids(user_id, id): Ids<UserId, PayoutMethodId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id, user_id, id);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, user_id, id), now| {
            Box::pin(
                async move { ok(StatusCode::OK, &payout_methods::make_default(conn, app_id, user_id, id, now).await?) },
            )
        })
        .await
}

#[utoipa::path(delete, path = "/v2/users/{id}/payout-methods/{pm}", tag = "Users", params(("id" = String, Path, description = "A user id (usr_…)."), ("pm" = String, Path, description = "A payout method id (pm_…).")), responses((status = 200, description = "Deleted.", body = api::Deleted)))]
async fn delete_method(
    State(state): State<AppState>,
    Ids(user_id, id): Ids<UserId, PayoutMethodId>,
    m: Mutation<AppAuth, NoFields>,
) -> Result<Reply, Error> {
    let args = (m.caller.0.id, user_id, id);
    state
        .writer
        .run(m.origin, args, |conn, (app_id, user_id, id), now| {
            Box::pin(async move { ok(StatusCode::OK, &payout_methods::delete(conn, app_id, user_id, id, now).await?) })
        })
        .await
}
