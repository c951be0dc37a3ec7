//! How the domain's answers become HTTP responses: an [`Error`] with its JSON
//! body and challenge, a [`Reply`] with its replay marker.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{Error, Reply};
use dots_shared::ErrorCode;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, self.to_json()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if status == StatusCode::UNAUTHORIZED {
            // The flow API's bearer sessions get a Bearer challenge: a Basic one makes
            // browsers stop the widget's fetch to show a password dialog.
            let challenge = if self.code.is_flow_session() {
                "Bearer realm=\"dots-flow\", error=\"invalid_token\""
            } else if matches!(
                self.code,
                ErrorCode::NotSignedIn | ErrorCode::SignInFailed | ErrorCode::TwoFactorCodeRequired
            ) {
                // The dashboard's own sign-in, never a browser's password dialog.
                "Session realm=\"dots-dashboard\""
            } else {
                "Basic realm=\"dots\""
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
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
