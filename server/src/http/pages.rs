//! What browsers load from us: the loader (`/widget/v1/dots.js`) and its types,
//! the versioned widget bundle, and the two pages the widget runs in — a payout
//! link's page (`/claim/{token}`, full page, never framed) and a flow's iframe
//! target (`/flow/{id}`, framed only by the app's allowed origins); and the
//! dashboard — one page for every path under `/dashboard` and its versioned
//! bundle. Everything is compiled into the binary, brotli-compressed at build time.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dots_shared::ErrorCode;

use serde::Deserialize;

use dots_shared::theme::Theme;

use crate::email::escape_html;
use crate::flows::stored_brand;

use super::{AppState, Routes};
use crate::error::Error;

/// A hash of the bundle: its files are served under it and cached for a year.
pub const WIDGET_VERSION: &str = include_str!(concat!(env!("OUT_DIR"), "/widget_version.txt"));

/// An embedded file and its brotli and gzip forms.
struct Asset {
    raw: &'static [u8],
    brotli: &'static [u8],
    gzip: &'static [u8],
    content_type: &'static str,
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            raw: include_bytes!(concat!(env!("OUT_DIR"), "/", $name)),
            brotli: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".br")),
            gzip: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".gz")),
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

include!(concat!(env!("OUT_DIR"), "/words_assets.rs"));

/// A hash of the dashboard's bundle, which its files are served under.
pub const DASHBOARD_VERSION: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard_version.txt"));
const DASHBOARD: [(&str, Asset); 5] = [
    ("dots_dashboard.js", asset!("dots_dashboard.js", "text/javascript; charset=utf-8")),
    ("dots_dashboard_bg.wasm", asset!("dots_dashboard_bg.wasm", "application/wasm")),
    ("boot.js", asset!("boot.js", "text/javascript; charset=utf-8")),
    ("dashboard.css", asset!("dashboard.css", "text/css; charset=utf-8")),
    ("preview.js", asset!("preview.js", "text/javascript; charset=utf-8")),
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
        .get("/dashboard/preview", brand_preview)
        .get("/dashboard", dashboard_page)
        .get("/dashboard/", dashboard_page)
        .get("/dashboard/{*place}", dashboard_page)
        .get("/dashboard-assets/{version}/{file}", dashboard_file)
}

/// The compressed form when the client takes brotli, the raw one otherwise.
fn serve(asset: &Asset, request: &HeaderMap, cache: &'static str) -> Response {
    // Brotli where the client takes it, else gzip, else the file as is.
    let accepted = request.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (body, encoding) = match () {
        _ if !asset.brotli.is_empty() && accepts(accepted, "br") => (asset.brotli, Some("br")),
        _ if !asset.gzip.is_empty() && accepts(accepted, "gzip") => (asset.gzip, Some("gzip")),
        _ => (asset.raw, None),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

/// `Accept-Encoding` names `coding` without refusing it (`;q=0`).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|entry| {
        let mut parts = entry.split(';');
        let named = parts.next().is_some_and(|c| c.trim().eq_ignore_ascii_case(coding));
        let refused = parts.any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>() == Ok(0.0)));
        named && !refused
    })
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
    let Some((_, asset)) = BUNDLE.iter().chain(&WORDS).find(|(name, _)| *name == file) else {
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

/// The brand a page is dressed in from its first paint, before the widget has
/// loaded: the app's name, and its brand (with the flow's or link's override) as
/// CSS variables.
struct PageBrand {
    name: String,
    theme: Theme,
}

impl PageBrand {
    /// From an app's name and stored brand, and a flow's or link's override (JSON text).
    fn new(name: String, app_brand: &str, over: Option<&str>) -> PageBrand {
        let brand = stored_brand(app_brand).with(&over.map(stored_brand).unwrap_or_default());
        let theme = Theme::default().with_brand(&brand);
        PageBrand { name: theme.name.clone().unwrap_or(name), theme }
    }
}

impl PageBrand {
    /// The brand's CSS variables as declarations (`--dots-primary:#…;…`); every
    /// value passed the theme's validators.
    fn css(&self) -> String {
        self.theme.css_variables().iter().map(|(name, value)| format!("{name}:{value};")).collect()
    }
}

/// The policy of a page the widget runs in: its scripts and styles from this
/// server (and the one `<style>` of `nonce`), framed by `frame_ancestors`.
fn widget_csp(nonce: &str, frame_ancestors: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'nonce-{nonce}'; \
         img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors {frame_ancestors}"
    )
}

/// A page the widget runs in. `frame_ancestors` is the CSP source list of who may
/// frame it (`'none'` for full pages). With a brand, the page has the app's name
/// in its title and its colours from the first paint (a `<style>` allowed by this
/// response's nonce; every value passed the theme's validators), and a favicon: the
/// app's logo, or a dot in its colour.
fn widget_page(
    mode: &str,
    frame: &str,
    frame_ancestors: &str,
    status: StatusCode,
    brand: Option<&PageBrand>,
    link: Option<&str>,
) -> Response {
    if !widget_built() {
        return widget_not_built();
    }
    let v = WIDGET_VERSION;
    let nonce = crate::store::random_base62(22);
    let (title, scheme) = match brand {
        Some(b) => (format!("Get paid by {}", escape_html(&b.name)), b.theme.scheme.as_str()),
        None => ("Get paid".to_string(), "auto"),
    };
    let style = brand.map_or_else(String::new, |b| {
        let vars = b.css();
        format!("<style nonce=\"{nonce}\">#dots-root{{{vars}}}</style>\n")
    });
    let icon = match brand.and_then(|b| b.theme.logo_url.clone()) {
        Some(logo) => logo,
        None => {
            let colour = brand.and_then(|b| b.theme.primary_color.clone()).unwrap_or_else(|| "#3b5bdb".into());
            format!(
                "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' \
                 cy='8' r='7' fill='%23{}'/%3E%3C/svg%3E",
                colour.trim_start_matches('#')
            )
        }
    };
    // An id the database gave back; escaped all the same.
    let link = link.map_or_else(String::new, |id| format!(" data-link=\"{}\"", escape_html(id)));
    // The app's name, for the widget's header when no session tells it (a link
    // that was canceled or has expired).
    let app = brand.map_or_else(String::new, |b| format!(" data-app=\"{}\"", escape_html(&b.name)));
    let html = format!(
        r#"<!doctype html>
<html lang="en" data-mode="{mode}" data-frame="{frame}"{link}{app}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{icon}">
<link rel="stylesheet" href="/widget/v1/{v}/widget.css">
{style}<link rel="modulepreload" href="/widget/v1/{v}/dots_widget.js">
<link rel="preload" href="/widget/v1/{v}/dots_widget_bg.wasm" as="fetch" type="application/wasm" crossorigin>
<script type="module" src="/widget/v1/{v}/frame.js"></script>
</head>
<body><div id="dots-root" data-scheme="{scheme}"></div></body>
</html>
"#
    );
    html_page(status, html, &widget_csp(&nonce, frame_ancestors))
}

/// What a payout link's page or a flow shows while the operator has its app
/// suspended: in the app's name and colours, without the widget (nothing can be
/// done until the app is resumed).
fn paused_page(brand: &PageBrand, frame_ancestors: &str) -> Response {
    let nonce = crate::store::random_base62(22);
    let name = escape_html(&brand.name);
    let vars = brand.css();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Payouts from {name} are paused</title>
<style nonce="{nonce}">
:root{{color-scheme:light dark;--dots-primary:#3b5bdb;--dots-bg:Canvas;--dots-text:CanvasText;--dots-font:system-ui,sans-serif;--dots-radius:12px;{vars}}}
body{{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--dots-bg);color:var(--dots-text);font-family:var(--dots-font)}}
main{{max-width:26rem;margin:1.5rem;padding:1.5rem;border:1px solid color-mix(in srgb,var(--dots-text) 20%,transparent);border-radius:var(--dots-radius)}}
h1{{font-size:1.25rem;margin:0 0 .75rem}}
p{{line-height:1.5;margin:.5rem 0 0}}
</style>
</head>
<body><main role="main"><h1>Payouts from {name} are paused</h1>
<p>{name} can't send payments through this page right now. There's nothing you need to do: come back to this page later.</p>
<p>If you were expecting a payment, you can ask {name} when it will be available.</p></main></body>
</html>
"#
    );
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; \
         frame-ancestors {frame_ancestors}"
    );
    html_page(StatusCode::OK, html, &csp)
}

/// A page of ours: never cached, no referrer, under `csp`.
fn html_page(status: StatusCode, html: String, csp: &str) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Ok(csp) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

#[derive(Deserialize)]
struct ClaimPlace {
    /// The link's id (not its token), which the page leaves in the address bar in
    /// place of the token so that a reload is branded too.
    link: Option<String>,
}

/// A payout link's page: its URL carries the link's token, so no caching, no
/// referrer, no framing. The widget opens a session with the token; the page is
/// dressed in the link's brand from its first paint. The page then takes the token
/// out of the address bar, leaving `/claim?link={id}`: a reload finds the brand by
/// the id (which opens nothing) and the token in the tab's storage.
async fn claim_page(
    State(state): State<AppState>,
    token: Option<Path<String>>,
    place: Result<Query<ClaimPlace>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (by, key) = match (token, place.ok().and_then(|Query(p)| p.link)) {
        (Some(Path(token)), _) => ("l.token_hash", crate::secrets::token_hash(token.trim())),
        (None, Some(id)) => ("l.id", id),
        (None, None) => return widget_page("link", "page", "'none'", StatusCode::OK, None, None),
    };
    let found = async {
        let mut conn = state.store.reader().acquire().await.ok()?;
        sqlx::query_as::<_, (String, String, String, Option<String>, Option<i64>)>(&format!(
            "SELECT l.id, a.name, a.brand, l.brand, a.suspended_at FROM payout_links l JOIN apps a ON a.id = l.app_id
             WHERE {by} = $1"
        ))
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .ok()
        .flatten()
    };
    match found.await {
        Some((_, name, app_brand, over, Some(_))) => {
            paused_page(&PageBrand::new(name, &app_brand, over.as_deref()), "'none'")
        }
        Some((id, name, app_brand, over, None)) => {
            let brand = PageBrand::new(name, &app_brand, over.as_deref());
            widget_page("link", "page", "'none'", StatusCode::OK, Some(&brand), Some(&id))
        }
        None => widget_page("link", "page", "'none'", StatusCode::OK, None, None),
    }
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
    let refused = |status| widget_page("flow", "refused", "'none'", status, None, None);
    let mut conn = match state.store.reader().acquire().await {
        Ok(conn) => conn,
        Err(e) => return Error::from(e).into_response(),
    };
    let (allowed, brand, paused) = match sqlx::query_as::<
        _,
        (Option<String>, String, String, Option<String>, Option<i64>),
    >(
        "SELECT a.allowed_origins, a.name, a.brand, f.theme, a.suspended_at FROM flows f JOIN apps a ON a.id = f.app_id
         WHERE f.id = $1",
    )
    .bind(&id)
    .fetch_optional(&mut *conn)
    .await
    {
        Ok(Some((allowed, name, app_brand, theme, suspended))) => {
            (allowed, PageBrand::new(name, &app_brand, theme.as_deref()), suspended.is_some())
        }
        Ok(None) => return refused(StatusCode::NOT_FOUND),
        Err(e) => return Error::from(e).into_response(),
    };
    let origins: Vec<String> = allowed.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default();
    match q.origin {
        None if paused => paused_page(&brand, "'none'"),
        Some(origin) if paused && origins.contains(&origin) => paused_page(&brand, &origins.join(" ")),
        // The flow as a page of its own (the `url` of `POST /v2/flows`): never framed.
        None => widget_page("flow-page", "page", "'none'", StatusCode::OK, Some(&brand), None),
        Some(origin) if origins.contains(&origin) => {
            let frame = if q.mode.as_deref() == Some("inline") { "inline" } else { "modal" };
            widget_page("flow", frame, &origins.join(" "), StatusCode::OK, Some(&brand), None)
        }
        Some(_) => refused(StatusCode::FORBIDDEN),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    /// The brand being edited, as JSON (what `PUT /v2/apps/me/settings` takes).
    brand: Option<String>,
    /// The app's name, shown where the brand names none.
    name: Option<String>,
    /// `light` or `dark`: how to show a brand whose scheme is `auto`.
    scheme: Option<String>,
}

/// The brand editor's live preview: the real widget (this server's bundle) in the
/// brand being edited — checked by the same rules as saving it — showing a
/// made-up $25.00 payout link, with nothing sent anywhere. Only for a signed-in
/// member, framed only by the dashboard (same origin).
async fn brand_preview(
    _: super::dashboard::MemberAuth,
    query: Result<Query<PreviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return Error::new(ErrorCode::InvalidQuery, "Only brand, name and scheme are accepted.").into_response();
    };
    if !widget_built() {
        return widget_not_built();
    }
    let brand = match q.brand.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        None => Ok(String::from("{}")),
        Some(Ok(value)) => crate::apps::brand(&value),
        Some(Err(_)) => Err(Error::invalid(ErrorCode::InvalidBrand, "brand", "brand must be a JSON object")),
    };
    let brand = match brand {
        Ok(brand) => brand,
        Err(e) => {
            let html = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Preview</title></head>\
                 <body><p role=\"alert\">This brand can't be shown: {}</p></body></html>",
                escape_html(&e.message)
            );
            return html_page(StatusCode::UNPROCESSABLE_ENTITY, html, "default-src 'none'; frame-ancestors 'self'");
        }
    };
    let name = q.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "Your business".into());
    let page = PageBrand::new(name.clone(), &brand, None);
    let mut shown = stored_brand(&brand);
    if shown.color_scheme.as_deref().is_none_or(|s| s == "auto") {
        shown.color_scheme = q.scheme.filter(|s| s == "light" || s == "dark");
    }
    let scheme = shown.color_scheme.clone().unwrap_or_else(|| "auto".into());
    let state = dots_shared::flow::SessionState {
        flow_id: "flow_preview".into(),
        status: "active".into(),
        steps: vec!["verify_phone".into(), "payout_method".into()],
        pre_authenticated: false,
        verified: false,
        phone_hint: None,
        user_id: None,
        app: dots_shared::flow::SessionApp { name, brand: shown.clone(), default_country: Some("US".into()) },
        brand: shown,
        payout_link: Some(dots_shared::flow::SessionLink {
            amount: 2500,
            fee: 0,
            net: 2500,
            currency: "USD".into(),
            memo: Some("An example payment".into()),
            status: "active".into(),
            expires_at: "2099-01-01T00:00:00Z".into(),
            brand: None,
            phone_hint: None,
            payout: None,
        }),
        requirements: Default::default(),
        redirect_url: None,
    };
    // JSON inside <script type="application/json">: no `<` may end it early.
    let state = serde_json::to_string(&state).unwrap_or_default().replace('<', "\\u003c");
    let (w, d) = (WIDGET_VERSION, DASHBOARD_VERSION);
    let nonce = crate::store::random_base62(22);
    let vars = page.css();
    let html = format!(
        r#"<!doctype html>
<html lang="en" data-mode="preview" data-frame="page" data-widget="/widget/v1/{w}/">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Preview of the payee's page</title>
<link rel="stylesheet" href="/widget/v1/{w}/widget.css">
<style nonce="{nonce}">#dots-root{{{vars}}}</style>
<script type="application/json" id="preview-state">{state}</script>
<script type="module" src="/dashboard-assets/{d}/preview.js"></script>
</head>
<body><div id="dots-root" data-scheme="{scheme}"></div></body>
</html>
"#
    );
    html_page(StatusCode::OK, html, &widget_csp(&nonce, "'self'"))
}

/// A versioned file of the dashboard's bundle: immutable, so cached for a year.
async fn dashboard_file(Path((version, file)): Path<(String, String)>, request: HeaderMap) -> Response {
    let Some((_, asset)) = DASHBOARD.iter().find(|(name, _)| *name == file) else {
        return Error::new(ErrorCode::RouteNotFound, "No such file.").into_response();
    };
    if DASHBOARD[1].1.raw.is_empty() {
        return dashboard_not_built();
    }
    if version != DASHBOARD_VERSION {
        return Error::new(ErrorCode::WidgetVersionGone, "That dashboard version is not served any more.")
            .into_response();
    }
    serve(asset, &request, "public, max-age=31536000, immutable")
}

fn dashboard_not_built() -> Response {
    Error::new(ErrorCode::WidgetNotBuilt, "This server was built without the dashboard bundle (cargo xtask widget).")
        .into_response()
}

/// The dashboard's one page, for every place in it (`/dashboard/users/usr_…`):
/// the app routes in the browser. Never framed, never cached; its scripts and
/// styles only from this server.
async fn dashboard_page(place: Option<Path<String>>) -> Response {
    if place.is_some_and(|Path(p)| p == "api" || p.starts_with("api/")) {
        return Error::new(ErrorCode::RouteNotFound, "No such dashboard API route.").into_response();
    }
    if DASHBOARD[1].1.raw.is_empty() {
        return dashboard_not_built();
    }
    let v = DASHBOARD_VERSION;
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dots dashboard</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%232948c7'/%3E%3C/svg%3E">
<link rel="stylesheet" href="/dashboard-assets/{v}/dashboard.css">
<link rel="modulepreload" href="/dashboard-assets/{v}/dots_dashboard.js">
<link rel="preload" href="/dashboard-assets/{v}/dots_dashboard_bg.wasm" as="fetch" type="application/wasm" crossorigin>
<script type="module" src="/dashboard-assets/{v}/boot.js"></script>
</head>
<body><div id="dots-dashboard"><p class="loading" role="status">Loading the dashboard…</p><noscript>The dashboard needs JavaScript.</noscript></div></body>
</html>
"#
    );
    // The brand editor's preview (`/dashboard/preview`) is the one frame it holds.
    html_page(
        StatusCode::OK,
        html,
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    )
}
