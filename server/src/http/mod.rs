//! The HTTP API: router, layers and one module per resource. Handlers are thin:
//! they authenticate, validate into a domain value, and call the ledger, the
//! writer or a read function.

mod ach;
mod apps;
mod audit;
mod dashboard;
pub mod edge;
mod exports;
pub mod extract;
mod flow_api;
mod links;
pub mod openapi;
mod operator;
pub mod pages;
mod payees;
mod rails;
mod respond;
mod transfers;
mod users;
mod webhooks;

use dots_shared::ErrorCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use std::sync::Arc;

use crate::config::Settings;
use crate::error::Error;
use crate::services::Services;
use crate::store::{Store, random_base62};
use crate::writer::Writer;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub writer: Writer,
    pub services: Arc<Services>,
    pub credentials: Arc<crate::apps::Credentials>,
    /// `DOTS_OPERATOR_KEY`, held as a keyed hash; `None` turns the operator API off.
    pub operator_key: Option<Arc<crate::apps::OperatorKey>>,
    /// Set when the server begins to stop: open event streams end (a graceful
    /// shutdown waits for every response to finish).
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    pub fn new(store: Store, settings: &Settings) -> Result<AppState, String> {
        let services = Arc::new(Services::new(settings, &store)?);
        store.checkpoint_in_background();
        Ok(AppState {
            writer: Writer::new(store.clone(), services.clone()),
            store,
            services,
            credentials: Default::default(),
            operator_key: settings
                .operator_key
                .as_deref()
                .filter(|k| !k.is_empty())
                .map(crate::apps::OperatorKey::new)
                .transpose()?
                .map(Arc::new),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
        })
    }
}

/// One route of the API. The router is built from [`routes`], and the edge tests
/// walk the same table, so a new route cannot be left out of them.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    endpoint: MethodRouter<AppState>,
}

/// The table being built: each resource module adds its routes.
pub(crate) struct Routes(Vec<Route>);

macro_rules! route_method {
    ($name:ident, $method:ident) => {
        pub(crate) fn $name<H: Handler<T, AppState>, T: 'static>(mut self, path: &'static str, handler: H) -> Routes {
            self.0.push(Route { method: Method::$method, path, endpoint: axum::routing::$name(handler) });
            self
        }
    };
}

impl Routes {
    route_method!(get, GET);
    route_method!(post, POST);
    route_method!(put, PUT);
    route_method!(patch, PATCH);
    route_method!(delete, DELETE);
}

/// Every route the server answers, in the order they are declared.
pub fn routes() -> Vec<Route> {
    let table = Routes(Vec::new())
        .get("/health", health)
        .get("/openapi.json", openapi::openapi_json)
        .get("/docs", openapi::docs_redirect)
        .get("/docs/", openapi::docs)
        .get("/docs/{*file}", openapi::docs);
    let table = apps::routes(table);
    let table = users::routes(table);
    let table = payees::routes(table);
    let table = links::routes(table);
    let table = flow_api::routes(table);
    let table = pages::routes(table);
    let table = webhooks::routes(table);
    let table = exports::routes(table);
    let table = audit::routes(table);
    let table = dashboard::routes(table);
    let table = operator::routes(table);
    let table = ach::routes(table);
    let table = rails::routes(table);
    transfers::routes(table).0
}

pub fn router(state: AppState) -> Router {
    let limits = state.services.limits.clone();
    let mut routed = Router::new();
    for route in routes() {
        routed = routed.route(route.path, route.endpoint);
    }
    let routed = routed
        .route_layer(axum::middleware::from_fn(record_route))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    // The edge checks run before routing (they may rewrite the path), so they wrap
    // the routed service rather than being one of its layers.
    let guarded = ServiceBuilder::new().layer(axum::middleware::from_fn_with_state(state, edge::guard)).service(routed);
    // Outermost first: request id, trace, panics as JSON 500s, and a body that
    // pauses too long ends.
    Router::new().fallback_service(guarded).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(NewRequestId))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                        // The route's template only (`/claim/{token}`), filled in once
                        // routed: paths carry bearer tokens, queries and bodies personal data.
                        tracing::info_span!("request", id, method = %req.method(), route = tracing::field::Empty)
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(CatchPanicLayer::custom(|_| Error::internal("handler panicked").into_response()))
            .layer(RequestBodyTimeoutLayer::new(limits.body_idle_timeout())),
    )
}

/// Names the matched route's template in the request's log span.
async fn record_route(req: Request, next: axum::middleware::Next) -> Response {
    if let Some(route) = req.extensions().get::<axum::extract::MatchedPath>() {
        tracing::Span::current().record("route", route.as_str());
    }
    next.run(req).await
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

/// A successful answer of the writer's work: `value` as JSON with `status`.
pub(crate) fn ok<T: serde::Serialize>(status: StatusCode, value: &T) -> crate::error::TxResult<crate::error::Reply> {
    Ok(crate::error::Reply::json(status, value)?)
}

async fn no_route() -> Error {
    Error::new(ErrorCode::RouteNotFound, "No such endpoint.")
}

async fn method_not_allowed() -> Response {
    Error::new(ErrorCode::MethodNotAllowed, "This endpoint does not take that HTTP method.").into_response()
}
