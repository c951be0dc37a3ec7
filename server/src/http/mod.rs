//! The HTTP API: router, layers and one module per resource. Handlers are thin:
//! they authenticate, validate into a domain value, and call the ledger, the
//! writer or a read function.

mod apps;
pub mod extract;
mod flow_api;
mod links;
pub mod pages;
mod payees;
mod transfers;
mod users;
mod webhooks;

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use std::sync::Arc;

use crate::commands::Writer;
use crate::config::Settings;
use crate::error::Error;
use crate::services::Services;
use crate::store::{Store, random_base62};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub writer: Writer,
    pub services: Arc<Services>,
    pub credentials: Arc<crate::apps::Credentials>,
    /// SHA-256 of `DOTS_OPERATOR_KEY`; `None` turns the operator API off.
    pub operator_key_hash: Option<String>,
}

impl AppState {
    pub fn new(store: Store, settings: &Settings) -> Result<AppState, String> {
        let services = Arc::new(Services::new(settings, &store)?);
        Ok(AppState {
            writer: Writer::new(store.clone(), services.clone()),
            store,
            services,
            credentials: Default::default(),
            operator_key_hash: settings.operator_key.as_deref().filter(|k| !k.is_empty()).map(crate::apps::hash_secret),
        })
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(apps::router())
        .merge(users::router())
        .merge(payees::router())
        .merge(links::router())
        .merge(flow_api::router())
        .merge(pages::router())
        .merge(webhooks::router())
        .merge(transfers::router())
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(NewRequestId))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request| {
                            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                            // The path only: query strings and bodies may carry personal data.
                            tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CatchPanicLayer::custom(|_| Error::internal("handler panicked").into_response())),
        )
        .with_state(state)
}

#[derive(Clone)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&format!("req_{}", random_base62(20))).ok().map(RequestId::new)
    }
}

async fn health(State(state): State<AppState>) -> Response {
    let probe =
        tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(state.store.reader())).await;
    match probe {
        Ok(Ok(_)) => (StatusCode::OK, axum::Json(json!({"status": "ok", "database": "ok"}))).into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "degraded", "database": "unavailable"})))
            .into_response(),
    }
}

async fn no_route() -> Error {
    Error::not_found("route_not_found", "No such endpoint.")
}

async fn method_not_allowed() -> Response {
    let mut error = Error::bad_request("method_not_allowed", "This endpoint does not take that HTTP method.");
    error.status = StatusCode::METHOD_NOT_ALLOWED;
    error.into_response()
}
