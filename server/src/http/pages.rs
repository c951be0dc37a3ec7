//! Pages served to payees: the payout-link claim page (`/claim/{token}`) and its
//! assets, compiled into the binary. A stop-gap until the Leptos widget: it drives
//! the same flow API.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

const CLAIM_HTML: &str = include_str!("../../assets/claim.html");
const CLAIM_JS: &str = include_str!("../../assets/claim.js");
const CLAIM_CSS: &str = include_str!("../../assets/claim.css");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/claim/{token}", get(|| async { page(CLAIM_HTML, "text/html; charset=utf-8") }))
        .route("/assets/claim.js", get(|| async { asset(CLAIM_JS, "text/javascript; charset=utf-8") }))
        .route("/assets/claim.css", get(|| async { asset(CLAIM_CSS, "text/css; charset=utf-8") }))
}

/// The page carries the link's token in its URL: no caching, no referrer, no framing.
fn page(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}
