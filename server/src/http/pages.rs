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

/// The widget bundle, embedded at build time (empty when it was not built).
const WIDGET_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dots_widget.js"));
const WIDGET_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dots_widget_bg.wasm"));
/// A hash of the bundle: its files are served under it and cached for a year.
pub const WIDGET_VERSION: &str = include_str!(concat!(env!("OUT_DIR"), "/widget_version.txt"));

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/widget/v1/manifest.json", get(widget_manifest))
        .route("/widget/v1/frame", get(widget_frame))
        .route("/widget/v1/{version}/{file}", get(widget_file))
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

fn widget_not_built() -> Response {
    crate::error::Error::not_found(
        "widget_not_built",
        "This server was built without the widget bundle (cargo xtask widget).",
    )
    .into_response()
}

/// Where the current bundle's files are (the loader reads this).
async fn widget_manifest() -> Response {
    if WIDGET_WASM.is_empty() {
        return widget_not_built();
    }
    let mut response = axum::Json(serde_json::json!({
        "version": WIDGET_VERSION,
        "js": format!("/widget/v1/{WIDGET_VERSION}/dots_widget.js"),
        "wasm": format!("/widget/v1/{WIDGET_VERSION}/dots_widget_bg.wasm"),
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}

/// A versioned bundle file: immutable, so cached for a year.
async fn widget_file(axum::extract::Path((version, file)): axum::extract::Path<(String, String)>) -> Response {
    let (body, content_type) = match file.as_str() {
        "dots_widget.js" => (WIDGET_JS, "text/javascript; charset=utf-8"),
        "dots_widget_bg.wasm" => (WIDGET_WASM, "application/wasm"),
        _ => return crate::error::Error::not_found("route_not_found", "No such file.").into_response(),
    };
    if body.is_empty() {
        return widget_not_built();
    }
    if version != WIDGET_VERSION {
        return crate::error::Error::not_found("widget_version_gone", "That widget version is not served any more.")
            .into_response();
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

/// The page the widget runs in (the loader's iframe target): it loads the
/// versioned module and mounts it. The flow token reaches it by postMessage, never
/// in its URL. Work in progress: the widget itself is still a placeholder.
async fn widget_frame() -> Response {
    if WIDGET_WASM.is_empty() {
        return widget_not_built();
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dots</title></head>
<body><div id="dots-root"></div>
<script type="module">
import init, {{ mount }} from "/widget/v1/{WIDGET_VERSION}/dots_widget.js";
await init({{ module_or_path: "/widget/v1/{WIDGET_VERSION}/dots_widget_bg.wasm" }});
mount(document.getElementById("dots-root"));
</script></body></html>"#
    );
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // 'wasm-unsafe-eval' lets the page compile its own WebAssembly; nothing else is relaxed.
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; connect-src 'self'; base-uri 'none'",
        ),
    );
    response
}
