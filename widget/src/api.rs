//! The flow API client: `fetch` with the session's bearer token, JSON in and out,
//! and every failure turned into words a payee can act on.

use std::cell::RefCell;

use dots_shared::ErrorCode;
use dots_shared::read::{FromJson, Json};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::json::{self, Js};
use crate::words::{Words, fill, t};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

thread_local! {
    /// The flow session's token: one widget per page (each iframe has its own module).
    static SESSION_TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub fn set_session_token(token: String) {
    SESSION_TOKEN.with(|t| *t.borrow_mut() = Some(token));
}

/// On a flow's own page the token is kept for the tab (so a reload goes on, see
/// `frame.js`): a new token replaces the dead one there. Elsewhere nothing is kept.
fn keep_for_this_tab(token: &str) {
    let Some(window) = web_sys::window() else { return };
    let (Ok(path), Ok(Some(storage))) = (window.location().pathname(), window.session_storage()) else { return };
    let key = format!("dots-flow:{path}");
    if storage.get_item(&key).ok().flatten().is_some() {
        let _ = storage.set_item(&key, token);
    }
}

/// A refusal or failure, with the server's stable code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    /// A wrong one-time code's tries left.
    pub tries_left: Option<i64>,
    /// The request field it is about (`routing_number`…), if one.
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError { code: code.into(), message: message.into(), tries_left: None, param: None }
    }

    /// The server refused with one of `codes`. (Their names are looked up at
    /// compile time: `ErrorCode::from_wire` would bring every code's name into
    /// the widget.)
    pub fn is_one_of(&self, codes: &[&str]) -> bool {
        codes.contains(&self.code.as_str())
    }

    /// The session is over; only starting again helps.
    pub fn is_session_over(&self) -> bool {
        const OVER: [&str; 4] = {
            let [a, b, c, d] = ErrorCode::FLOW_SESSION;
            [a.as_str(), b.as_str(), c.as_str(), d.as_str()]
        };
        self.is_one_of(&OVER)
    }

    fn unexpected() -> ApiError {
        ApiError::new("unexpected_answer", t().err_generic())
    }

    fn network() -> ApiError {
        ApiError::new("network_error", t().err_network())
    }
}

/// `GET` a flow API path, read as the contract's type (`dots_shared::flow`, `api`;
/// see `dots_shared::read`).
pub async fn get<T: FromJson>(path: &str) -> Result<T, ApiError> {
    typed(send("GET", path, None).await?)
}

fn typed<T: FromJson>(answer: JsValue) -> Result<T, ApiError> {
    T::from_json(&Js(answer)).ok_or_else(ApiError::unexpected)
}

/// `POST`/`PUT` with a JSON body. A fresh idempotency key per action; the one retry
/// after a network failure reuses it, so the action happens at most once.
pub async fn send_json<B: Serialize, T: FromJson>(method: &str, path: &str, body: &B) -> Result<T, ApiError> {
    let body = json::stringify(&json::to_js(body).ok_or_else(ApiError::unexpected)?);
    typed(send_keyed(method, path, &body).await?)
}

async fn send_keyed(method: &str, path: &str, body: &str) -> Result<JsValue, ApiError> {
    let key = format!("widget-{}-{}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e15) as u64);
    match send(method, path, Some((body, &key))).await {
        Err(e) if e.code == "network_error" => send(method, path, Some((body, &key))).await,
        other => other,
    }
}

async fn send(method: &str, path: &str, body: Option<(&str, &str)>) -> Result<JsValue, ApiError> {
    let window = web_sys::window().ok_or_else(ApiError::network)?;
    let headers = Headers::new().map_err(|_| ApiError::network())?;
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(token) = SESSION_TOKEN.with(|t| t.borrow().clone()) {
        let _ = headers.set("Authorization", &format!("Bearer {token}"));
    }
    if let Some((body, key)) = body {
        let _ = headers.set("Content-Type", "application/json");
        let _ = headers.set("Idempotency-Key", key);
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| ApiError::network())?
        .dyn_into()
        .map_err(|_| ApiError::network())?;
    let text = JsFuture::from(response.text().map_err(|_| ApiError::network())?)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    answer(Answer { ok: response.ok(), body: text })
}

/// An HTTP answer's outcome and body: fetched here, or by the page while the Wasm
/// was still loading (`frame.js` opens a link's session that way).
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub ok: bool,
    pub body: String,
}

/// An answer read as the contract's type.
pub fn read<T: FromJson>(answer: Answer) -> Result<T, ApiError> {
    typed(self::answer(answer)?)
}

fn answer(Answer { ok, body: text }: Answer) -> Result<JsValue, ApiError> {
    let answer = Js(json::parse(&text));
    let text_of = |value: &Js, name: &str| value.field(name).and_then(|f| f.string());
    if ok {
        // Proving the phone (and claiming) replaces the session's token; the old one is dead.
        if let Some(token) = text_of(&answer, "session_token") {
            keep_for_this_tab(&token);
            set_session_token(token);
        }
        return Ok(answer.0);
    }
    // The server's `message` is written for developers; the payee reads the
    // widget's words for the code.
    let error = answer.field("error").unwrap_or(Js(JsValue::NULL));
    let code = text_of(&error, "code").unwrap_or_else(|| "server_error".into());
    let tries_left = error.field("tries_left").and_then(|n| n.integer());
    let param = text_of(&error, "param");
    Err(ApiError { message: payee_words(&code, tries_left), code, tries_left, param })
}

/// A message of the catalogue.
type Message = fn(&'static Words) -> &'static str;

/// What each refusal means to a payee, by code. The codes' names are taken at
/// compile time (`as_str` is `const`): a table of `ErrorCode`s would bring every
/// code's name into the Wasm, to compare at run time.
const WORDS: &[(&str, Message)] = &[
    (ErrorCode::InvalidPhoneNumber.as_str(), |w| w.err_phone()),
    (ErrorCode::InvalidCountryCode.as_str(), |w| w.err_phone()),
    (ErrorCode::PhoneMismatch.as_str(), |w| w.err_phone_mismatch()),
    (ErrorCode::ResendTooSoon.as_str(), |w| w.err_too_soon()),
    (ErrorCode::RateLimited.as_str(), |w| w.err_rate_limited()),
    (ErrorCode::SmsFailed.as_str(), |w| w.err_sms()),
    (ErrorCode::TooManyAttempts.as_str(), |w| w.err_code_dead()),
    (ErrorCode::CodeExpired.as_str(), |w| w.err_code_dead()),
    (ErrorCode::CodeAlreadyUsed.as_str(), |w| w.err_code_dead()),
    (ErrorCode::VerificationNotStarted.as_str(), |w| w.err_code_dead()),
    (ErrorCode::InvalidName.as_str(), |w| w.err_name()),
    (ErrorCode::InvalidDateOfBirth.as_str(), |w| w.err_date_of_birth()),
    (ErrorCode::InvalidTaxId.as_str(), |w| w.err_tax_id()),
    (ErrorCode::InvalidAddress.as_str(), |w| w.err_address()),
    (ErrorCode::InvalidRoutingNumber.as_str(), |w| w.err_routing()),
    (ErrorCode::InvalidAccountNumber.as_str(), |w| w.err_account()),
    (ErrorCode::InvalidAccountType.as_str(), |w| w.err_account()),
    (ErrorCode::InvalidEmail.as_str(), |w| w.err_email()),
    (ErrorCode::MissingField.as_str(), |w| w.err_missing()),
    (ErrorCode::InvalidString.as_str(), |w| w.err_text()),
    (ErrorCode::StringTooLong.as_str(), |w| w.err_text()),
    (ErrorCode::AppInsufficientFunds.as_str(), |w| w.err_app_funds()),
    (ErrorCode::ComplianceRequired.as_str(), |w| w.err_compliance()),
    (ErrorCode::PayoutLinkNotClaimable.as_str(), |w| w.err_link_unusable()),
    (ErrorCode::PayoutLinkCanceled.as_str(), |w| w.err_link_canceled()),
    (ErrorCode::PayoutLinkExpired.as_str(), |w| w.err_link_expired()),
    (ErrorCode::PayoutLinkNotFound.as_str(), |w| w.err_link_unusable()),
    (ErrorCode::SessionExpired.as_str(), |w| w.err_session_expired()),
    (ErrorCode::InvalidSession.as_str(), |w| w.err_session_expired()),
    (ErrorCode::MissingSession.as_str(), |w| w.err_session_expired()),
    (ErrorCode::SessionEnded.as_str(), |w| w.err_session_ended()),
    (ErrorCode::AppSuspended.as_str(), |w| w.err_paused()),
    (ErrorCode::PhoneNotVerified.as_str(), |w| w.err_not_verified()),
    (ErrorCode::PayoutMethodNotFound.as_str(), |w| w.err_method_missing()),
];

/// A refusal in the payee's words: a wrong code says how many tries are left.
fn payee_words(code: &str, tries_left: Option<i64>) -> String {
    let w = t();
    if code == ErrorCode::InvalidCode.as_str() {
        return match tries_left {
            Some(0) => w.err_code_last().into(),
            Some(1) => w.err_code_wrong_one().into(),
            Some(n) => fill(w.err_code_wrong(), &[&n.to_string()]),
            None => w.err_code_format().into(),
        };
    }
    let words = WORDS.iter().find(|(c, _)| *c == code).map_or(w.err_generic(), |(_, words)| words(w));
    words.into()
}
