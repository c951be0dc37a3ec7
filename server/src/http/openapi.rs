//! The OpenAPI 3.1 document of the public API (`GET /openapi.json`), generated from
//! the handlers' `#[utoipa::path]` attributes and the shared types, and the
//! reference page that renders it (`GET /docs`, Swagger UI served from the binary).
//!
//! What every operation has in common is added here once, not on each handler:
//! the error answers (`4XX`/`5XX` with the error shape), the authentication scheme
//! by path (Basic for apps, Bearer for the operator and for flow sessions), and the
//! `Idempotency-Key` header of every mutation. `server/tests/openapi.rs` checks that
//! every `/v2` and `/flow/v1` route of the router is in the document.

use dots_shared::api::ErrorBody;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, Ref, Required, Type};
use utoipa::{IntoParams, OpenApi as _};

/// `?limit=&starting_after=`: lists are newest first (DESIGN.md §3 Lists).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct PageQuery {
    /// How many, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The id of the last object of the previous page.
    starting_after: Option<String>,
}

/// Filters of the transfer and transaction lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct HistoryQuery {
    /// Only this user's.
    user_id: Option<String>,
    /// Only transfers in this status.
    status: Option<dots_shared::TransferStatus>,
    /// Only this type of transfer.
    #[param(rename = "type")]
    kind: Option<dots_shared::TransferType>,
}

/// Filter of the event list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct EventFilter {
    /// Only events of this type (`transfer.created`, …).
    #[param(rename = "type")]
    kind: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(super) struct AuditFilter {
    /// Only changes by this actor (a client id, a flow id, `operator`).
    actor_id: Option<String>,
    /// Only changes to this object.
    object_id: Option<String>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Dots API",
        description = "Payouts: apps, their users (payees) and wallets, transfers, payout links, flows and webhooks. \
            Money is integer minor units with a currency. Every POST, PUT, PATCH and DELETE takes an Idempotency-Key; \
            a retry with the same key and body gets the first answer again.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(ErrorBody))
)]
struct Base;

/// The whole document.
pub fn document() -> OpenApi {
    let mut doc = Base::openapi();
    for part in [
        super::apps::Doc::openapi(),
        super::users::Doc::openapi(),
        super::payees::Doc::openapi(),
        super::links::Doc::openapi(),
        super::flow_api::Doc::openapi(),
        super::webhooks::Doc::openapi(),
        super::audit::Doc::openapi(),
        super::dashboard::Doc::openapi(),
        super::operator::Doc::openapi(),
        super::ach::Doc::openapi(),
        super::rails::Doc::openapi(),
        super::transfers::Doc::openapi(),
        super::exports::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    let components = doc.components.get_or_insert_with(Default::default);
    let scheme = |scheme: HttpAuthScheme, description: &str| {
        let mut http = Http::new(scheme);
        http.description = Some(description.to_string());
        SecurityScheme::Http(http)
    };
    components.add_security_scheme("app", scheme(HttpAuthScheme::Basic, "The app's client_id and api_secret."));
    components.add_security_scheme("operator", scheme(HttpAuthScheme::Bearer, "The operator key (DOTS_OPERATOR_KEY)."));
    components.add_security_scheme("flow_session", scheme(HttpAuthScheme::Bearer, "A flow session token (fst_…)."));
    components.add_security_scheme(
        "dashboard_session",
        SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
            utoipa::openapi::security::ApiKeyValue::with_description(
                crate::members::SESSION_COOKIE,
                "A signed-in member's session cookie (POST /dashboard/api/sign-in); changes also send X-CSRF-Token.",
            ),
        )),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Put, &mut item.put),
            (HttpMethod::Patch, &mut item.patch),
            (HttpMethod::Delete, &mut item.delete),
        ] {
            if let Some(operation) = operation {
                common(path, &method, operation);
            }
        }
    }
    doc
}

/// What every operation shares: its credentials, its error answers, and on a
/// mutation the Idempotency-Key header.
fn common(path: &str, method: &HttpMethod, operation: &mut Operation) {
    let scheme = match (path, method) {
        ("/v2/apps", HttpMethod::Post) | ("/v2/apps/{id}/fees" | "/v2/apps/{id}/invitations", _) => Some("operator"),
        (
            "/flow/v1/sessions"
            | "/dashboard/api/sign-in"
            | "/dashboard/api/invitations/accept"
            | "/dashboard/api/password-reset"
            | "/dashboard/api/password-reset/confirm",
            _,
        ) => None,
        (p, _) if p.starts_with("/dashboard/api/") => Some("dashboard_session"),
        (p, _) if p.starts_with("/flow/v1/") => Some("flow_session"),
        _ => Some("app"),
    };
    if let Some(scheme) = scheme {
        operation.security = Some(vec![SecurityRequirement::new(scheme, Vec::<String>::new())]);
    }
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build()
    };
    let responses = &mut operation.responses.responses;
    responses.insert(
        "4XX".into(),
        error("Refused: {\"error\": {type, code, message, param?}} with a stable code (DESIGN.md §3 Errors); nothing changed.")
            .into(),
    );
    responses.insert(
        "5XX".into(),
        error("The server or its database could not answer (503 service_unavailable, server_busy); retry with the same Idempotency-Key.")
            .into(),
    );
    if *method != HttpMethod::Get {
        let key = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Up to 255 visible characters; a retry with the same key and body gets the first answer \
                 (and the header idempotent-replayed: true); the same key with another body is 409 \
                 idempotency_key_reused. Kept at least 24 hours.",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255))))
            .build();
        operation.parameters.get_or_insert_with(Vec::new).push(key);
    }
}

/// `GET /openapi.json`.
pub(super) async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| document().to_pretty_json().unwrap_or_default());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

/// `GET /docs`: the reference page lives at `/docs/` (its files are relative).
pub(super) async fn docs_redirect() -> axum::response::Response {
    use axum::response::IntoResponse;
    axum::response::Redirect::permanent("/docs/").into_response()
}

/// `GET /docs/` and its files: Swagger UI, from inside the binary, reading `/openapi.json`.
pub(super) async fn docs(file: Option<axum::extract::Path<String>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    static CONFIG: std::sync::OnceLock<std::sync::Arc<utoipa_swagger_ui::Config<'static>>> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| std::sync::Arc::new(utoipa_swagger_ui::Config::new(["/openapi.json"])));
    let tail = file.map(|axum::extract::Path(tail)| tail).unwrap_or_default();
    match utoipa_swagger_ui::serve(&tail, config.clone()) {
        Ok(Some(found)) => {
            ([(axum::http::header::CONTENT_TYPE, found.content_type)], found.bytes.into_owned()).into_response()
        }
        Ok(None) => crate::error::Error::new(dots_shared::ErrorCode::RouteNotFound, "No such page.").into_response(),
        Err(e) => crate::error::Error::internal(e).into_response(),
    }
}
