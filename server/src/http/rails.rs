//! What payout rails tell us on their own: PayPal's webhook. It is a nudge,
//! never believed: the payout's batch is read back from PayPal's API, and only
//! what the API says is applied — a completed payout PayPal now reports refunded,
//! reversed or returned is reversed, its money back in the payee's wallet.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use sqlx::Row;

use super::extract::Mutation;
use super::flow_api::Anonymous;
use super::{AppState, Routes, ok};
use crate::error::{Error, Reply};
use crate::ledger::transfers;
use crate::rails::RailStatus;
use dots_shared::ErrorCode;

pub(super) fn routes(routes: Routes) -> Routes {
    routes.post("/rails/paypal/webhook", paypal_webhook)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(paypal_webhook))]
pub(super) struct Doc;

/// A PayPal webhook event: only the batch it is about is read from it.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PaypalEvent {
    pub resource: PaypalResource,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PaypalResource {
    #[serde(default)]
    pub payout_batch_id: Option<String>,
}

/// PayPal's payout webhooks (`PAYMENT.PAYOUTS-ITEM.*`): the batch named is read
/// back from PayPal and what PayPal's API says is applied.
#[utoipa::path(post, path = "/rails/paypal/webhook", tag = "Rails", request_body = PaypalEvent, responses((status = 200, description = "Taken (whether or not it changed anything).")))]
async fn paypal_webhook(State(state): State<AppState>, m: Mutation<Anonymous, PaypalEvent>) -> Result<Reply, Error> {
    let Some(rail) = state.services.paypal_rail.clone() else {
        return Err(Error::new(ErrorCode::RouteNotFound, "No such endpoint."));
    };
    let batch = m.body.resource.payout_batch_id.unwrap_or_default();
    let plausible = (1..=64).contains(&batch.len()) && batch.bytes().all(|b| b.is_ascii_alphanumeric());
    let taken = || Reply::json(StatusCode::OK, &serde_json::json!({"received": true}));
    if !plausible {
        return taken();
    }
    let row = sqlx::query("SELECT id, app_id, status FROM transfers WHERE rail = 'paypal' AND rail_ref = $1")
        .bind(&batch)
        .fetch_optional(state.store.reader())
        .await?;
    let Some(row) = row else { return taken() };
    let (id, app_id, status): (String, String, String) =
        (row.try_get("id")?, row.try_get("app_id")?, row.try_get("status")?);
    // A pending payout is the worker's to read; a settled one only PayPal's API can undo.
    if status != "completed" {
        return taken();
    }
    let now = rail.status(&batch).await.map_err(|e| {
        tracing::warn!(error = %e, "PayPal could not be asked about a webhook's batch");
        Error::unavailable("PayPal could not be reached; send it again.")
    })?;
    let RailStatus::Failed(code) = now else { return taken() };
    let args = (app_id, id, code);
    state
        .writer
        .run(m.origin.without_key(), args, |conn, (app_id, id, code), now| {
            Box::pin(async move {
                transfers::returned(conn, app_id, id, "paypal", code, now).await?;
                ok(StatusCode::OK, &serde_json::json!({"received": true}))
            })
        })
        .await
}
