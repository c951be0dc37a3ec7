//! The dashboard's calls to the server: `fetch` with the session cookie (sent by
//! the browser, HttpOnly), the app the member acts for (`Dots-App`), the session's
//! CSRF token and an Idempotency-Key on every change; JSON in and out; every
//! refusal turned into a sentence for the person at the screen.

use std::cell::RefCell;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCredentials, RequestInit, Response};

thread_local! {
    /// The signed-in session's CSRF token and the app acted for (one dashboard per page).
    static CALLER: RefCell<(String, String)> = const { RefCell::new((String::new(), String::new())) };
}

/// Who the calls are made as: the session's CSRF token and the app's id.
pub fn set_caller(csrf_token: &str, app_id: &str) {
    CALLER.with(|c| *c.borrow_mut() = (csrf_token.to_string(), app_id.to_string()));
}

/// A refusal or a failure: the server's stable code and what to tell the person.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub status: u16,
}

impl ApiError {
    fn network() -> ApiError {
        ApiError {
            code: "network".into(),
            message: "We couldn't reach Dots. Check your connection and try again.".into(),
            status: 0,
        }
    }

    /// The session is over: only signing in again helps.
    pub fn signed_out(&self) -> bool {
        self.status == 401 && self.code != "two_factor_code_required" && self.code != "sign_in_failed"
    }
}

/// A new Idempotency-Key: a form keeps one until its change is made, so that
/// pressing again after a lost answer repeats the first change, not a second one.
pub fn new_key() -> String {
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .map(|c| c.random_uuid())
        .unwrap_or_else(|| format!("{}", js_sys::Math::random()))
}

/// GET `path`, as the member, for the app they act in.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    call("GET", path, None, None).await
}

/// A change: `method` `path` with `body` (JSON), under Idempotency-Key `key`.
pub async fn send<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: &B,
    key: &str,
) -> Result<T, ApiError> {
    let body = serde_json::to_string(body).map_err(|_| ApiError::network())?;
    // A change without fields (`&()`) sends an empty object, as the API takes it.
    let body = if body == "null" { "{}".to_string() } else { body };
    call(method, path, Some(body), Some(key)).await
}

async fn call<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<String>,
    key: Option<&str>,
) -> Result<T, ApiError> {
    let text = fetch(method, path, body, key).await?;
    serde_json::from_str(&text).map_err(|_| ApiError {
        code: "unreadable".into(),
        message: "Dots answered something this page can't read. Reload the page.".into(),
        status: 200,
    })
}

async fn fetch(method: &str, path: &str, body: Option<String>, key: Option<&str>) -> Result<String, ApiError> {
    let window = web_sys::window().ok_or_else(ApiError::network)?;
    let headers = Headers::new().map_err(|_| ApiError::network())?;
    let (csrf, app) = CALLER.with(|c| c.borrow().clone());
    let _ = headers.set("Accept", "application/json");
    if !app.is_empty() {
        let _ = headers.set("Dots-App", &app);
    }
    if method != "GET" {
        let _ = headers.set("Content-Type", "application/json");
        if !csrf.is_empty() {
            let _ = headers.set("X-CSRF-Token", &csrf);
        }
        if let Some(key) = key {
            let _ = headers.set("Idempotency-Key", key);
        }
    }
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some(body) = &body {
        init.set_body(&JsValue::from_str(body));
    }
    let response =
        JsFuture::from(window.fetch_with_str_and_init(path, &init)).await.map_err(|_| ApiError::network())?;
    let response: Response = response.dyn_into().map_err(|_| ApiError::network())?;
    let text = JsFuture::from(response.text().map_err(|_| ApiError::network())?)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    if response.ok() {
        return Ok(text);
    }
    let status = response.status();
    let body: Option<dots_shared::api::ErrorBody> = serde_json::from_str(&text).ok();
    let (code, server_words) = body.map_or_else(Default::default, |b| (b.error.code, b.error.message));
    Err(ApiError { message: words_for(&code, status, &server_words), code, status })
}

/// What a refusal means to the member, for the codes a page leads to; the
/// server's own sentence where it is already written for them.
fn words_for(code: &str, status: u16, server_words: &str) -> String {
    let fixed = match code {
        "insufficient_role" => "Your role in this app doesn't allow this. Ask an owner if you need it.",
        "not_a_member" => "You are not on this app's team any more.",
        "two_factor_setup_required" => "Turn on two-factor sign-in (Security) before making changes.",
        "csrf_token_invalid" | "cross_site_request" => "This page is out of date. Reload it and try again.",
        "not_signed_in" => "You have been signed out. Sign in again.",
        "insufficient_funds" => "There isn't enough money in the wallet for this.",
        "phone_not_verified" => "This person hasn't verified their phone number yet, so they can't be paid.",
        "app_insufficient_funds" => "The app's wallet doesn't hold enough for this. Add money first.",
        "payout_method_required" => {
            "This person hasn't told us where to send money yet. Send them a payout link instead."
        }
        "invalid_transition"
        | "transfer_status_changed"
        | "transfer_not_cancelable"
        | "transfer_not_flagged"
        | "transfer_not_reversible" => {
            "This transfer can't be changed that way any more. Reload to see where it stands."
        }
        "rate_limited" => "Too many tries. Wait a few minutes and try again.",
        "idempotency_key_reused" => "This was already sent with other details. Reload the page.",
        _ => "",
    };
    if !fixed.is_empty() {
        fixed.to_string()
    } else if status >= 500 || server_words.is_empty() {
        "Something went wrong at Dots. Try again in a moment.".to_string()
    } else {
        server_words.to_string()
    }
}

/// `name=value&…`, each value percent-encoded; empty values left out.
pub fn query(pairs: &[(&str, String)]) -> String {
    let kept: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", String::from(js_sys::encode_uri_component(v.trim()))))
        .collect();
    if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) }
}
