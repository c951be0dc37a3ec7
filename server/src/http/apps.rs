//! `POST /v2/apps` (operator) and `GET /v2/apps/me/wallet`.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};

use super::AppState;
use super::extract::{AppAuth, Mutation, OperatorAuth};
use crate::apps::{self, NewApp};
use crate::commands::Command;
use crate::error::{Error, Reply};
use dots_shared::api::{CreateAppRequest, Wallet};

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/apps", post(create)).route("/v2/apps/me/wallet", get(wallet))
}

async fn create(State(state): State<AppState>, m: Mutation<OperatorAuth, CreateAppRequest>) -> Result<Reply, Error> {
    let command = Command::CreateApp(NewApp::validate(m.body)?);
    state.writer.submit(m.idempotency, command).await
}

async fn wallet(State(state): State<AppState>, AppAuth(app): AppAuth) -> Result<axum::Json<Wallet>, Error> {
    let mut conn = state.store.reader().acquire().await?;
    Ok(axum::Json(apps::wallet(&mut conn, &app).await?))
}
