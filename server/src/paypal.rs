//! PayPal and Venmo payouts through the PayPal Payouts API (issue 19, part 3),
//! behind `rails::PayoutRail`.
//!
//! - **OAuth2 client credentials**: `POST /v1/oauth2/token` with HTTP Basic
//!   `client_id:secret`; the access token is kept until a minute before it expires.
//! - **Exactly once**: each payout is its own batch (`POST /v1/payments/payouts`)
//!   whose `sender_batch_id` is `dots-<transfer id>` and whose item's
//!   `sender_item_id` is the transfer id; the request carries `PayPal-Request-Id`
//!   (the same value). PayPal completes a payment only once per `sender_batch_id`
//!   (30 days): a retry after a timeout, a 5xx or a crash either gets the first
//!   answer back or is refused as a duplicate with a link to the original batch,
//!   which is then read — never a second payment.
//! - **Status**: the worker polls `GET /v1/payments/payouts/{payout_batch_id}` every
//!   `DOTS_PAYPAL_POLL_MS`; the item's `transaction_status` maps onto ours:
//!   `SUCCESS` completes the payout; `PENDING`, `ONHOLD` and `UNCLAIMED` (the payee
//!   has 30 days to claim it) keep it pending; `FAILED`, `BLOCKED`, `RETURNED`
//!   (unclaimed for 30 days), `REFUNDED`, `REVERSED` and a `DENIED` batch fail it
//!   (`paypal_<status>`), the money back in the payee's wallet.
//! - **After completion**: PayPal's webhook (`POST /rails/paypal/webhook`) is
//!   taken as a nudge, never believed: the item is read back from the API, and a
//!   completed payout whose item is now `REFUNDED`, `REVERSED` or `RETURNED` is
//!   reversed (`http/rails.rs`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::config::PaypalSettings;
use crate::rails::{Destination, PayoutRail, RailPayout, RailStatus, SubmitError};
use crate::sms::BoxFuture;

pub struct PaypalRail {
    settings: PaypalSettings,
    client: crate::outbound::HttpClient,
    token: Mutex<Option<(String, Instant)>>,
}

/// What PayPal answered: its status and JSON body.
struct Answer {
    status: u16,
    body: Value,
}

impl PaypalRail {
    pub fn new(settings: PaypalSettings) -> PaypalRail {
        // The operator chose this address; it may be internal (a test double).
        PaypalRail { settings, client: crate::outbound::client(true), token: Mutex::new(None) }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    async fn send(&self, request: http::Request<Full<Bytes>>) -> Result<Answer, String> {
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let response = tokio::time::timeout(timeout, self.client.request(request))
            .await
            .map_err(|_| "PayPal did not answer in time".to_string())?
            .map_err(|e| format!("PayPal could not be reached: {e}"))?;
        let status = response.status().as_u16();
        let body = tokio::time::timeout(timeout, response.into_body().collect())
            .await
            .map_err(|_| "PayPal's answer did not arrive in time".to_string())?
            .map_err(|e| format!("PayPal's answer broke off: {e}"))?
            .to_bytes();
        Ok(Answer { status, body: serde_json::from_slice(&body).unwrap_or(Value::Null) })
    }

    /// An access token, kept until a minute before it expires.
    async fn token(&self) -> Result<String, String> {
        if let Some((token, until)) = self.token.lock().expect("token lock").clone()
            && Instant::now() < until
        {
            return Ok(token);
        }
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.settings.client_id, self.settings.secret));
        let request = http::Request::post(self.url("/v1/oauth2/token"))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(b"grant_type=client_credentials")))
            .map_err(|e| e.to_string())?;
        let answer = self.send(request).await?;
        let token = answer.body["access_token"].as_str().filter(|_| answer.status == 200);
        let Some(token) = token else {
            return Err(format!("PayPal refused our credentials ({})", answer.status));
        };
        let lifetime = answer.body["expires_in"].as_u64().unwrap_or(300).saturating_sub(60);
        *self.token.lock().expect("token lock") =
            Some((token.to_string(), Instant::now() + Duration::from_secs(lifetime)));
        Ok(token.to_string())
    }

    async fn call(
        &self,
        method: http::Method,
        url: &str,
        body: Option<&Value>,
        request_id: Option<&str>,
    ) -> Result<Answer, String> {
        let token = self.token().await?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(url)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if let Some(id) = request_id {
            request = request.header("paypal-request-id", id);
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let answer = self.send(request.body(Full::new(body)).map_err(|e| e.to_string())?).await?;
        if answer.status == 401 {
            // An expired or revoked token: the next call gets a new one.
            *self.token.lock().expect("token lock") = None;
        }
        Ok(answer)
    }

    /// The batch's id from a create or read answer.
    fn batch_id(body: &Value) -> Option<String> {
        body["batch_header"]["payout_batch_id"].as_str().map(str::to_string)
    }

    /// The batch a duplicate `sender_batch_id` refusal links to.
    fn original_batch(body: &Value) -> Option<String> {
        let duplicate = body["details"].as_array().is_some_and(|details| {
            details.iter().any(|d| {
                d["field"].as_str().is_some_and(|f| f.eq_ignore_ascii_case("sender_batch_id"))
                    || d["issue"].as_str().is_some_and(|i| i.to_ascii_lowercase().contains("sender_batch_id"))
            })
        });
        if !duplicate {
            return None;
        }
        body["links"].as_array()?.iter().find_map(|l| {
            let href = l["href"].as_str()?;
            href.contains("/v1/payments/payouts/").then(|| href.to_string())
        })
    }
}

/// PayPal's item statuses, as ours.
pub fn map_item_status(status: &str) -> RailStatus {
    match status {
        "SUCCESS" => RailStatus::Settled,
        "PENDING" | "ONHOLD" | "UNCLAIMED" | "NEW" => RailStatus::Processing,
        other => RailStatus::Failed(format!("paypal_{}", other.to_ascii_lowercase())),
    }
}

/// The batch of `sender_batch_id` a payout goes in, and its request body.
fn batch_request(payout: &RailPayout<'_>) -> Result<(String, Value), SubmitError> {
    let (recipient_type, receiver, wallet) = match payout.destination {
        Destination::Paypal { email } => ("EMAIL", email.to_string(), "PAYPAL"),
        Destination::Venmo { phone_number } => ("PHONE", phone_number.to_string(), "VENMO"),
        Destination::Bank { .. } => return Err(SubmitError::Refused("rail_rejected".into())),
    };
    let currency = dots_shared::Currency::parse(payout.currency).map_err(|e| SubmitError::Refused(e.to_string()))?;
    let value = dots_shared::Money::new(payout.amount, currency).map_err(|e| SubmitError::Refused(e.to_string()))?;
    let sender_batch_id = format!("dots-{}", payout.transfer_id);
    let body = json!({
        "sender_batch_header": {"sender_batch_id": sender_batch_id, "email_subject": "You have a payout"},
        "items": [{
            "recipient_type": recipient_type,
            "amount": {"value": value.decimal(), "currency": currency.code()},
            "receiver": receiver,
            "sender_item_id": payout.transfer_id,
            "recipient_wallet": wallet,
        }],
    });
    Ok((sender_batch_id, body))
}

impl PayoutRail for PaypalRail {
    fn name(&self) -> &'static str {
        "paypal"
    }

    fn submit<'a>(&'a self, payout: &'a RailPayout<'a>) -> BoxFuture<'a, Result<String, SubmitError>> {
        Box::pin(async move {
            let (sender_batch_id, body) = batch_request(payout)?;
            let url = self.url("/v1/payments/payouts");
            let answer = self
                .call(http::Method::POST, &url, Some(&body), Some(&sender_batch_id))
                .await
                .map_err(SubmitError::Retry)?;
            match answer.status {
                200 | 201 => {
                    Self::batch_id(&answer.body).ok_or(SubmitError::Retry("PayPal's answer had no batch id".into()))
                }
                // Already made (by a submission whose answer we never read): read it back.
                400 | 409 | 422 if let Some(link) = Self::original_batch(&answer.body) => {
                    let original = self.call(http::Method::GET, &link, None, None).await.map_err(SubmitError::Retry)?;
                    Self::batch_id(&original.body)
                        .ok_or(SubmitError::Retry("the original batch could not be read".into()))
                }
                401 | 408 | 429 => Err(SubmitError::Retry(format!("PayPal answered {}", answer.status))),
                400..=499 => {
                    let name = answer.body["name"].as_str().unwrap_or("refused").to_ascii_lowercase();
                    Err(SubmitError::Refused(format!("paypal_{name}")))
                }
                status => Err(SubmitError::Retry(format!("PayPal answered {status}"))),
            }
        })
    }

    fn status<'a>(&'a self, rail_ref: &'a str) -> BoxFuture<'a, Result<RailStatus, String>> {
        Box::pin(async move {
            let url = self.url(&format!("/v1/payments/payouts/{rail_ref}"));
            let answer = self.call(http::Method::GET, &url, None, None).await?;
            if answer.status != 200 {
                return Err(format!("PayPal answered {} for batch {rail_ref}", answer.status));
            }
            if answer.body["batch_header"]["batch_status"] == "DENIED" {
                return Ok(RailStatus::Failed("paypal_denied".into()));
            }
            let item = answer.body["items"].get(0).and_then(|i| i["transaction_status"].as_str());
            Ok(item.map_or(RailStatus::Processing, map_item_status))
        })
    }

    fn poll_ms(&self) -> i64 {
        self.settings.poll_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paypals_item_statuses_map_onto_ours() {
        assert_eq!(map_item_status("SUCCESS"), RailStatus::Settled);
        for waiting in ["PENDING", "ONHOLD", "UNCLAIMED"] {
            assert_eq!(map_item_status(waiting), RailStatus::Processing, "{waiting}");
        }
        for (status, reason) in [
            ("FAILED", "paypal_failed"),
            ("BLOCKED", "paypal_blocked"),
            ("RETURNED", "paypal_returned"),
            ("REFUNDED", "paypal_refunded"),
            ("REVERSED", "paypal_reversed"),
        ] {
            assert_eq!(map_item_status(status), RailStatus::Failed(reason.into()), "{status}");
        }
    }

    #[test]
    fn a_duplicate_refusal_leads_to_the_original_batch() {
        let refused = json!({
            "name": "USER_BUSINESS_ERROR",
            "details": [{"field": "SENDER_BATCH_ID", "issue": "Batch with given sender_batch_id already exists"}],
            "links": [{"href": "https://api-m.paypal.com/v1/payments/payouts/5UXD2E8A7EBQJ", "rel": "self", "method": "GET"}],
        });
        assert_eq!(
            PaypalRail::original_batch(&refused).as_deref(),
            Some("https://api-m.paypal.com/v1/payments/payouts/5UXD2E8A7EBQJ")
        );
        assert_eq!(PaypalRail::original_batch(&json!({"name": "VALIDATION_ERROR", "details": []})), None);
    }
}
