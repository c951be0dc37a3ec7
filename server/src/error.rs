//! The server's one error type: every failure a client can see, with its HTTP
//! status, error type and stable code (DESIGN.md §3 Errors).

use dots_shared::ErrorCode;
use dots_shared::api::{ErrorBody, ErrorDetail};
use http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub param: Option<String>,
    /// A wrong one-time code's tries left (`invalid_code`).
    pub tries_left: Option<i64>,
    /// A refused batch's refused items.
    pub items: Option<Vec<dots_shared::api::ItemError>>,
}

impl Error {
    /// An error with `code`, whose status and type follow from it.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error { code, message: message.into(), param: None, tries_left: None, items: None }
    }

    /// A value that is not acceptable, naming its field.
    pub fn invalid(code: ErrorCode, param: &str, message: impl Into<String>) -> Error {
        Error::new(code, message).with_param(param)
    }

    /// 503: the database (or another service we need) cannot be reached.
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::ServiceUnavailable, message)
    }

    /// 500. The cause is logged here and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Error {
        tracing::error!(error = %cause, "internal error");
        Error::new(ErrorCode::InternalError, "Something went wrong on our side.")
    }

    pub fn with_param(mut self, param: &str) -> Error {
        self.param = Some(param.to_string());
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.code.kind().to_string(),
                code: self.code.as_str().to_string(),
                message: self.message.clone(),
                param: self.param.clone(),
                tries_left: self.tries_left,
                items: self.items.clone(),
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
        write!(f, "{} {}: {}", self.code.status(), self.code, self.message)
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

    /// An answer that shows a secret once: an idempotent retry gets `replay`.
    pub fn once<T: serde::Serialize>(status: StatusCode, first: &T, replay: &T) -> Result<Reply, Error> {
        let mut reply = Reply::json(status, first)?;
        reply.replay_body = Some(serde_json::to_vec(replay).map_err(Error::internal)?);
        Ok(reply)
    }

    /// An answer holding a bearer token its retry must show again: kept sealed.
    pub fn sealed<T: serde::Serialize>(status: StatusCode, value: &T) -> Result<Reply, Error> {
        let mut reply = Reply::json(status, value)?;
        reply.seal_replay = true;
        Ok(reply)
    }

    /// `200 {}`: work whose caller needs no answer (the payout worker's steps).
    pub fn done() -> Reply {
        Reply { status: StatusCode::OK, body: b"{}".to_vec(), replayed: false, replay_body: None, seal_replay: false }
    }

    pub fn from_error(error: &Error) -> Reply {
        Reply { status: error.status(), body: error.to_json(), replayed: false, replay_body: None, seal_replay: false }
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
