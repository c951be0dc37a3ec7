//! Request and response bodies of the public API (`/v2/…`).
//!
//! Requests keep loosely typed fields (`amount` as any JSON number, enums as
//! strings) so the server can answer each bad value with its own error code
//! instead of a generic parse failure; responses are fully typed.

use serde::{Deserialize, Serialize};

use crate::{Direction, TransferStatus, TransferType};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    pub name: String,
    /// The currency of the app's and its users' wallets; `USD` when absent.
    #[serde(default)]
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// E.164 (`+14155550123`), or national digits together with `country_code`.
    pub phone_number: String,
    /// A calling code (`"1"`, `"+44"`) or an ISO 3166 region (`"US"`).
    #[serde(default)]
    pub country_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefillRequest {
    pub amount: serde_json::Number,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTransferRequest {
    #[serde(rename = "type")]
    pub kind: String,
    pub user_id: String,
    pub amount: serde_json::Number,
    pub currency: String,
    /// Balance transfers only: `app_to_user` (default) or `user_to_app`.
    #[serde(default)]
    pub direction: Option<String>,
    /// Payouts only: where the money goes; the user's newest method when absent.
    #[serde(default)]
    pub payout_method_id: Option<String>,
}

/// `POST /v2/payouts`: a payout transfer out of the user's wallet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayoutRequest {
    pub user_id: String,
    pub amount: serde_json::Number,
    pub currency: String,
    #[serde(default)]
    pub payout_method_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub id: String,
    pub name: String,
    pub client_id: String,
    /// Shown once, in the response that created the app; stored only as a hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_secret: Option<String>,
    pub currency: String,
    pub wallet: Wallet,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    pub id: String,
    /// Spendable now, in minor units.
    pub available: i64,
    /// Reserved by payouts that have not settled yet, in minor units.
    pub pending: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// E.164.
    pub phone_number: String,
    pub phone_verified: bool,
    pub wallet: Wallet,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: TransferType,
    pub status: TransferStatus,
    pub user_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_method_id: Option<String>,
    pub transactions: Vec<Transaction>,
    pub status_history: Vec<StatusChange>,
    pub created_at: String,
    pub updated_at: String,
}

/// One immutable ledger record: `amount` moved from `source` to `destination`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: String,
    pub transfer_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub amount: i64,
    pub currency: String,
    pub source: AccountRef,
    pub destination: AccountRef,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    /// `app_wallet`, `user_wallet`, `refill_source`, `payout_clearing`, `external_payouts`.
    pub kind: String,
    /// The wallet id for wallets; absent for system accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: TransferStatus,
    pub previous_status: Option<TransferStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `invalid_request`, `authentication`, `not_found`, `conflict`, `rate_limited`, `internal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Stable and machine-readable, e.g. `insufficient_funds`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}
