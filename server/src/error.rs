//! The server's one error type: every failure a client can see, with its HTTP
//! status, error type and stable code (DESIGN.md §3 Errors).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dots_shared::api::{ErrorBody, ErrorDetail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
}

impl Error {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: impl Into<String>) -> Error {
        Error { status, kind, code, message: message.into(), param: None }
    }

    /// 400: the request itself is malformed (JSON, fields, headers, query).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::BAD_REQUEST, "invalid_request", code, message)
    }

    /// 422: well-formed, but a value is not acceptable.
    pub fn invalid(code: &'static str, param: &str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", code, message).with_param(param)
    }

    /// 403: a role, a state or the request's origin forbids it.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::FORBIDDEN, "permission", code, message)
    }

    /// 413: the body is larger than any request of ours needs.
    pub fn too_large(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", code, message)
    }

    /// 408: the client was too slow sending its request.
    pub fn timeout(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::REQUEST_TIMEOUT, "invalid_request", code, message)
    }

    /// 415: the body is not in the one format we take (JSON).
    pub fn unsupported_media_type(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request", code, message)
    }

    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::UNAUTHORIZED, "authentication", code, message)
    }

    /// 404, also for objects that exist but belong to another app.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::NOT_FOUND, "not_found", code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::CONFLICT, "conflict", code, message)
    }

    /// 429: too many requests of this kind; try later.
    pub fn rate_limited(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", code, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::new(StatusCode::SERVICE_UNAVAILABLE, "internal", "service_unavailable", message)
    }

    /// 500. The cause is logged here and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Error {
        tracing::error!(error = %cause, "internal error");
        Error::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal_error", "Something went wrong on our side.")
    }

    pub fn with_param(mut self, param: &str) -> Error {
        self.param = Some(param.to_string());
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.kind.to_string(),
                code: self.code.to_string(),
                message: self.message.clone(),
                param: self.param.clone(),
            },
        }
    }

    /// The JSON body, as stored for idempotent replays.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body()).unwrap_or_default()
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        if crate::store::is_unavailable(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return Error::unavailable("The database is unavailable; retry with the same Idempotency-Key.");
        }
        Error::internal(e)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.to_json()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.status == StatusCode::UNAUTHORIZED {
            // The flow API's bearer sessions get a Bearer challenge: a Basic one makes
            // browsers stop the widget's fetch to show a password dialog.
            let challenge = if self.code.contains("session") {
                "Bearer realm=\"dots-flow\", error=\"invalid_token\""
            } else {
                "Basic realm=\"dots\""
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// A finished answer to a mutating request: what is sent, and what an idempotent
/// retry replays byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub replayed: bool,
    /// What an idempotent retry gets instead of `body`, when the first answer
    /// carried a secret that must not be stored.
    pub replay_body: Option<Vec<u8>>,
    /// The answer holds a bearer token (a payout link's URL) that its retry must
    /// show again: it is kept sealed, never in plain text.
    pub seal_replay: bool,
}

impl Reply {
    pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Result<Reply, Error> {
        let body = serde_json::to_vec(value).map_err(Error::internal)?;
        Ok(Reply { status, body, replayed: false, replay_body: None, seal_replay: false })
    }

    pub fn from_error(error: &Error) -> Reply {
        Reply { status: error.status, body: error.to_json(), replayed: false, replay_body: None, seal_replay: false }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

/// How a step inside a write transaction can fail: a `Rejected` request rolls back
/// to its savepoint and is answered (and remembered for its idempotency key); a
/// `Db` failure rolls back the whole database transaction and may be retried.
#[derive(Debug)]
pub enum TxError {
    Rejected(Error),
    Db(sqlx::Error),
}

pub type TxResult<T> = Result<T, TxError>;

impl From<Error> for TxError {
    fn from(e: Error) -> TxError {
        TxError::Rejected(e)
    }
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> TxError {
        TxError::Db(e)
    }
}
