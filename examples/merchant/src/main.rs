//! An example merchant backend: it serves the host site (`examples/host-site`) and,
//! with its Dots app credentials, creates flows and payout links for it. The API
//! secret stays here; the page only ever sees a flow's short-lived session token.
//!
//! Environment: `DOTS_URL` (http://127.0.0.1:8080), `DOTS_CLIENT_ID`,
//! `DOTS_API_SECRET`, `MERCHANT_LISTEN` (127.0.0.1:8081), `MERCHANT_NAME`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const PAGE: &str = include_str!("../../host-site/index.html");

struct Merchant {
    dots_url: String,
    authorization: String,
    name: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

#[tokio::main]
async fn main() {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_string());
    let credentials = format!("{}:{}", var("DOTS_CLIENT_ID", ""), var("DOTS_API_SECRET", ""));
    let merchant = Arc::new(Merchant {
        dots_url: var("DOTS_URL", "http://127.0.0.1:8080").trim_end_matches('/').to_string(),
        authorization: format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials)),
        name: var("MERCHANT_NAME", "Example merchant"),
        http: Client::builder(TokioExecutor::new()).build_http(),
    });
    let app = Router::new()
        .route("/", get(page))
        .route("/api/flows", post(create_flow))
        .route("/api/payout-links", post(create_link))
        .route("/health", get(|| async { "ok" }))
        .with_state(merchant);
    let listen = var("MERCHANT_LISTEN", "127.0.0.1:8081");
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap_or_else(|e| panic!("listen on {listen}: {e}"));
    eprintln!("merchant: http://{listen}");
    axum::serve(listener, app).await.expect("serving");
}

/// The host page under a strict CSP: scripts and styles only with this response's
/// nonce (or from Dots), frames only from Dots.
async fn page(State(m): State<Arc<Merchant>>) -> Response {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("randomness");
    let nonce = base64::engine::general_purpose::STANDARD.encode(bytes);
    let html = PAGE
        .replace("{{DOTS_URL}}", &m.dots_url)
        .replace("{{NONCE}}", &nonce)
        .replace("{{MERCHANT_NAME}}", &escape(&m.name));
    let csp = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' {dots}; style-src 'self' 'nonce-{nonce}'; frame-src {dots}; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'",
        dots = m.dots_url
    );
    let mut response = Html(html).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp).expect("ascii"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A flow for a payee who proves their phone in the widget (unauthenticated mode).
async fn create_flow(State(m): State<Arc<Merchant>>) -> Response {
    let body = json!({"steps": ["verify_phone", "payout_method"]});
    match m.dots("/v2/flows", body).await {
        Ok(flow) => Json(json!({"token": flow["token"]})).into_response(),
        Err(e) => e,
    }
}

/// A $25.00 payout link for the phone the visitor typed.
async fn create_link(State(m): State<Arc<Merchant>>, Json(req): Json<Value>) -> Response {
    let body =
        json!({"amount": 2500, "currency": "USD", "phone_number": req["phone_number"], "memo": "Thanks from the demo"});
    match m.dots("/v2/payout-links", body).await {
        Ok(link) => Json(json!({"url": link["url"], "id": link["id"]})).into_response(),
        Err(e) => e,
    }
}

impl Merchant {
    /// POSTs to the Dots API with the app's credentials and a fresh idempotency key.
    async fn dots(&self, path: &str, body: Value) -> Result<Value, Response> {
        let mut key = [0u8; 12];
        getrandom::fill(&mut key).expect("randomness");
        let request = hyper::Request::post(format!("{}{path}", self.dots_url))
            .header(header::AUTHORIZATION, &self.authorization)
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key))
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a valid request");
        let failed = |why: String| (StatusCode::BAD_GATEWAY, Json(json!({"error": why}))).into_response();
        let response = self.http.request(request).await.map_err(|e| failed(format!("Dots unreachable: {e}")))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| failed(e.to_string()))?.to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() { Ok(json) } else { Err((status, Json(json)).into_response()) }
    }
}
