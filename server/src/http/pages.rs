//! What browsers load from us: the loader (`/widget/v1/dots.js`) and its types,
//! the versioned widget bundle, and the two pages the widget runs in — a payout
//! link's page (`/claim/{token}`, full page, never framed) and a flow's iframe
//! target (`/flow/{id}`, framed only by the app's allowed origins). Everything is
//! compiled into the binary, brotli-compressed at build time.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dots_shared::ErrorCode;

use serde::Deserialize;

use super::{AppState, Routes};
use crate::error::Error;

/// A hash of the bundle: its files are served under it and cached for a year.
pub const WIDGET_VERSION: &str = include_str!(concat!(env!("OUT_DIR"), "/widget_version.txt"));

/// An embedded file and its brotli form.
struct Asset {
    raw: &'static [u8],
    brotli: &'static [u8],
    content_type: &'static str,
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            raw: include_bytes!(concat!(env!("OUT_DIR"), "/", $name)),
            brotli: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".br")),
            content_type: $content_type,
        }
    };
}

const LOADER: Asset = asset!("dots.js", "text/javascript; charset=utf-8");
const TYPES: Asset = asset!("dots.d.ts", "application/typescript; charset=utf-8");
const BUNDLE: [(&str, Asset); 4] = [
    ("dots_widget.js", asset!("dots_widget.js", "text/javascript; charset=utf-8")),
    ("dots_widget_bg.wasm", asset!("dots_widget_bg.wasm", "application/wasm")),
    ("frame.js", asset!("frame.js", "text/javascript; charset=utf-8")),
    ("widget.css", asset!("widget.css", "text/css; charset=utf-8")),
];

fn widget_built() -> bool {
    !BUNDLE[1].1.raw.is_empty()
}

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get("/widget/v1/dots.js", |h: HeaderMap| async move { serve(&LOADER, &h, "public, max-age=300") })
        .get("/widget/v1/dots.d.ts", |h: HeaderMap| async move { serve(&TYPES, &h, "public, max-age=300") })
        .get("/widget/v1/manifest.json", widget_manifest)
        .get("/widget/v1/{version}/{file}", widget_file)
        .get("/claim/{token}", claim_page)
        // Where the claim page stands once it has taken the token out of the address bar.
        .get("/claim", claim_page)
        .get("/flow/{id}", flow_page)
}

/// The compressed form when the client takes brotli, the raw one otherwise.
fn serve(asset: &Asset, request: &HeaderMap, cache: &'static str) -> Response {
    let brotli = !asset.brotli.is_empty()
        && request
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.split(';').next().is_some_and(|e| e.trim() == "br")));
    let mut response = if brotli { asset.brotli } else { asset.raw }.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if brotli {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
    }
    response
}

fn widget_not_built() -> Response {
    Error::new(ErrorCode::WidgetNotBuilt, "This server was built without the widget bundle (cargo xtask widget).")
        .into_response()
}

/// Where the current bundle's files are.
async fn widget_manifest() -> Response {
    if !widget_built() {
        return widget_not_built();
    }
    let file = |name: &str| format!("/widget/v1/{WIDGET_VERSION}/{name}");
    let mut response = axum::Json(serde_json::json!({
        "version": WIDGET_VERSION,
        "loader": "/widget/v1/dots.js",
        "js": file("dots_widget.js"),
        "wasm": file("dots_widget_bg.wasm"),
        "frame": file("frame.js"),
        "css": file("widget.css"),
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}

/// A versioned bundle file: immutable, so cached for a year.
async fn widget_file(Path((version, file)): Path<(String, String)>, request: HeaderMap) -> Response {
    let Some((_, asset)) = BUNDLE.iter().find(|(name, _)| *name == file) else {
        return Error::new(ErrorCode::RouteNotFound, "No such file.").into_response();
    };
    if !widget_built() {
        return widget_not_built();
    }
    if version != WIDGET_VERSION {
        return Error::new(ErrorCode::WidgetVersionGone, "That widget version is not served any more.").into_response();
    }
    serve(asset, &request, "public, max-age=31536000, immutable")
}

/// A page the widget runs in. `frame_ancestors` is the CSP source list of who may
/// frame it (`'none'` for full pages).
fn widget_page(mode: &str, frame: &str, frame_ancestors: &str, status: StatusCode) -> Response {
    if !widget_built() {
        return widget_not_built();
    }
    let v = WIDGET_VERSION;
    let html = format!(
        r#"<!doctype html>
<html lang="en" data-mode="{mode}" data-frame="{frame}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Get paid · Dots</title>
<link rel="stylesheet" href="/widget/v1/{v}/widget.css">
<link rel="modulepreload" href="/widget/v1/{v}/dots_widget.js">
<link rel="preload" href="/widget/v1/{v}/dots_widget_bg.wasm" as="fetch" type="application/wasm" crossorigin>
<script type="module" src="/widget/v1/{v}/frame.js"></script>
</head>
<body><div id="dots-root" data-scheme="auto"></div></body>
</html>
"#
    );
    let csp = format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' https: data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// A payout link's page: its URL carries the link's token, so no caching, no
/// referrer, no framing. The widget opens a session with the token.
async fn claim_page() -> Response {
    widget_page("link", "page", "'none'", StatusCode::OK)
}

#[derive(Deserialize)]
struct FramePlacement {
    /// The host page's origin, as the loader read it.
    origin: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

/// A flow's iframe target. Only the app's allowed origins may frame it, and the
/// `origin` the loader names (where the widget will post its messages) must be one
/// of them; otherwise the page refuses to be framed at all. Without `origin` it is
/// the flow as a page of its own, whose token is in the URL's fragment.
async fn flow_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<FramePlacement>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return Error::new(ErrorCode::InvalidQuery, "Only origin and mode are accepted, once each.").into_response();
    };
    let refused = |status| widget_page("flow", "refused", "'none'", status);
    let mut conn = match state.store.reader().acquire().await {
        Ok(conn) => conn,
        Err(e) => return Error::from(e).into_response(),
    };
    let allowed: Option<String> = match sqlx::query_scalar(
        "SELECT a.allowed_origins FROM flows f JOIN apps a ON a.id = f.app_id WHERE f.id = $1",
    )
    .bind(&id)
    .fetch_optional(&mut *conn)
    .await
    {
        Ok(Some(allowed)) => allowed,
        Ok(None) => return refused(StatusCode::NOT_FOUND),
        Err(e) => return Error::from(e).into_response(),
    };
    let origins: Vec<String> = allowed.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default();
    match q.origin {
        // The flow as a page of its own (the `url` of `POST /v2/flows`): never framed.
        None => widget_page("flow-page", "page", "'none'", StatusCode::OK),
        Some(origin) if origins.contains(&origin) => {
            let frame = if q.mode.as_deref() == Some("inline") { "inline" } else { "modal" };
            widget_page("flow", frame, &origins.join(" "), StatusCode::OK)
        }
        Some(_) => refused(StatusCode::FORBIDDEN),
    }
}
