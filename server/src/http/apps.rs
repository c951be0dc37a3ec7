//! `POST /v2/apps` (operator) and `GET /v2/apps/me/wallet`.

use axum::extract::State;
use dots_shared::ErrorCode;

use super::extract::{AppAuth, Id, Mutation, OperatorAuth};
use super::ok;
use super::{AppState, Routes};
use crate::apps::{self, AppRules, AppRulesRequest, AppSettings, AppSettingsRequest, NewApp};
use crate::apps::{FeeScheduleChange, FeeScheduleRequest};
use crate::error::{Error, Reply};
use axum::http::StatusCode;
use dots_shared::api::{self, App, CreateAppRequest, SecretRotation, Wallet};
use dots_shared::ids::AppId;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .post("/v2/apps", create)
        .put("/v2/apps/{id}/fees", set_fees)
        .get("/v2/apps/me", me)
        .get("/v2/apps/me/wallet", wallet)
        .get("/v2/apps/me/volume", volume)
        .post("/v2/apps/me/secret/rotate", rotate_secret)
        .get("/v2/apps/me/rules", rules)
        .put("/v2/apps/me/rules", update_rules)
        .get("/v2/apps/me/settings", settings)
        .put("/v2/apps/me/settings", update_settings)
        .get("/v2/dev/sms", dev_sms)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create,
    set_fees,
    me,
    wallet,
    volume,
    rotate_secret,
    rules,
    update_rules,
    settings,
    update_settings,
    dev_sms
))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/v2/apps/me/rules", tag = "Apps", responses((status = 200, description = "The payout rules.", body = api::AppRules)))]
async fn rules(State(state): State<AppState>, AppAuth(app): AppAuth) -> Result<axum::Json<api::AppRules>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(apps::get_rules(&mut conn, &app.id).await?))
}

#[utoipa::path(put, path = "/v2/apps/me/rules", tag = "Apps", request_body = AppRulesRequest, responses((status = 200, description = "The payout rules after the change.", body = api::AppRules)))]
async fn update_rules(State(state): State<AppState>, m: Mutation<AppAuth, AppRulesRequest>) -> Result<Reply, Error> {
    let rules = AppRules::validate(&m.caller.0, m.body)?;
    state
        .writer
        .run(m.origin, rules, |conn, rules, _| {
            Box::pin(async move { ok(StatusCode::OK, &apps::update_rules(conn, rules).await?) })
        })
        .await
}

#[utoipa::path(get, path = "/v2/apps/me/settings", tag = "Apps", responses((status = 200, description = "Embedding origins and brand.", body = api::AppSettings)))]
async fn settings(State(state): State<AppState>, AppAuth(app): AppAuth) -> Result<axum::Json<api::AppSettings>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(apps::get_settings(&mut conn, &app.id).await?))
}

#[utoipa::path(put, path = "/v2/apps/me/settings", tag = "Apps", request_body = AppSettingsRequest, responses((status = 200, description = "The settings after the change.", body = api::AppSettings)))]
async fn update_settings(
    State(state): State<AppState>,
    m: Mutation<AppAuth, AppSettingsRequest>,
) -> Result<Reply, Error> {
    let settings = AppSettings::validate(&m.caller.0, m.body)?;
    state
        .writer
        .run(m.origin, settings, |conn, settings, _| {
            Box::pin(async move { ok(StatusCode::OK, &apps::update_settings(conn, settings).await?) })
        })
        .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DevSmsQuery {
    #[serde(default)]
    phone_number: Option<String>,
}

/// Sandbox only: the app's recent SMS messages from the dev outbox, newest first.
#[utoipa::path(get, path = "/v2/dev/sms", tag = "Sandbox", params(("phone_number" = Option<String>, Query, description = "Only messages to this E.164 number.")), responses((status = 200, description = "The app's recent SMS messages in the sandbox outbox, newest first.", body = api::List<crate::sms::DevSms>)))]
async fn dev_sms(
    State(state): State<AppState>,
    AppAuth(app): AppAuth,
    query: Result<axum::extract::Query<DevSmsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<serde_json::Value>, Error> {
    app.sandbox_only()?;
    let outbox = &state.services.outbox;
    let axum::extract::Query(query) =
        query.map_err(|_| Error::new(ErrorCode::InvalidQuery, "Only phone_number is accepted."))?;
    let to = match query.phone_number.as_deref() {
        Some(raw) => Some(crate::contact::PhoneNumber::parse(raw, None)?.into_string()),
        None => None,
    };
    Ok(axum::Json(serde_json::json!({ "data": outbox.recent(&app.id, to.as_deref()), "has_more": false })))
}

#[utoipa::path(post, path = "/v2/apps", tag = "Apps", request_body = CreateAppRequest, responses((status = 201, description = "The app; its API secret is shown in this answer only.", body = App)))]
async fn create(State(state): State<AppState>, m: Mutation<OperatorAuth, CreateAppRequest>) -> Result<Reply, Error> {
    let app = NewApp::validate(m.body)?;
    if app.mode == "live" {
        let missing = state.services.readiness.missing(&app.payout_method_types);
        if !missing.is_empty() {
            return Err(crate::live::not_ready(&format!("“{}”", app.name), &missing));
        }
    }
    state
        .writer
        .run(m.origin, app, |conn, app, now| {
            Box::pin(async move {
                let created = apps::create(conn, app, now).await?;
                // The secret is shown once and never stored, not even in the idempotency record.
                Ok(Reply::once(StatusCode::CREATED, &created, &App { api_secret: None, ..created.clone() })?)
            })
        })
        .await
}

/// Operator: an app's payout fee schedule (the whole of it). Later payouts are
/// charged by it; a payout link keeps the fee it was made with.
#[utoipa::path(put, path = "/v2/apps/{id}/fees", tag = "Apps", request_body = FeeScheduleRequest, params(("id" = String, Path, description = "An app id (app_…).")), responses((status = 200, description = "The app's payout rules, with the new fee schedule.", body = api::AppRules)))]
async fn set_fees(
    State(state): State<AppState>,
    Id(id): Id<AppId>,
    m: Mutation<OperatorAuth, FeeScheduleRequest>,
) -> Result<Reply, Error> {
    let change = FeeScheduleChange::validate(id.to_string(), m.body)?;
    state
        .writer
        .run(m.origin.on_app(&id.to_string()), change, |conn, change, _| {
            Box::pin(async move { ok(StatusCode::OK, &apps::set_fees(conn, change).await?) })
        })
        .await
}

/// A new API secret, shown once; the old one keeps working for `grace_seconds`.
#[utoipa::path(post, path = "/v2/apps/me/secret/rotate", tag = "Apps", request_body = crate::apps::RotateSecretRequest, responses((status = 200, description = "The new secret (shown once); the old one works until previous_secret_expires_at.", body = SecretRotation)))]
async fn rotate_secret(
    State(state): State<AppState>,
    m: Mutation<AppAuth, crate::apps::RotateSecretRequest>,
) -> Result<Reply, Error> {
    let rotation = crate::apps::SecretRotation::validate(&m.caller.0, m.body)?;
    let app_id = m.caller.0.id.clone();
    let reply = state
        .writer
        .run(m.origin, rotation, |conn, r, now| {
            Box::pin(async move {
                let rotated = apps::rotate_secret(conn, r, now).await?;
                Ok(Reply::once(StatusCode::OK, &rotated, &SecretRotation { api_secret: None, ..rotated.clone() })?)
            })
        })
        .await?;
    // What this process remembers of the old secrets goes now (with no grace the
    // old one must stop at once here; other processes read again within the TTL).
    state.credentials.forget_app(&app_id);
    Ok(reply)
}

/// The app itself: its id, name, API client id (the secret is never shown again),
/// currency and wallet.
#[utoipa::path(get, path = "/v2/apps/me", tag = "Apps", responses((status = 200, description = "The app.", body = App)))]
async fn me(State(state): State<AppState>, AppAuth(app): AppAuth) -> Result<axum::Json<App>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(apps::me(&mut conn, &app).await?))
}

/// The app's completed payouts of the last 30 days (UTC), a day at a time: the
/// dashboard's overview chart.
#[utoipa::path(get, path = "/v2/apps/me/volume", tag = "Apps", responses((status = 200, description = "Paid out each day, oldest first.", body = api::Volume)))]
async fn volume(State(state): State<AppState>, AppAuth(app): AppAuth) -> Result<axum::Json<api::Volume>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(apps::volume(&mut conn, &app, crate::store::now_ms()).await?))
}

#[utoipa::path(get, path = "/v2/apps/me/wallet", tag = "Apps", responses((status = 200, description = "The app's wallet.", body = Wallet)))]
async fn wallet(State(state): State<AppState>, AppAuth(app): AppAuth) -> Result<axum::Json<Wallet>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(apps::wallet(&mut conn, &app).await?))
}
