//! Request and response bodies of the public API (`/v2/…`).
//!
//! Requests keep loosely typed fields (`amount` as any JSON number, enums as
//! strings) so the server can answer each bad value with its own error code
//! instead of a generic parse failure; responses are fully typed.

use serde::{Deserialize, Serialize};

use crate::{Direction, FeeParty, FeeSchedule, TransferStatus, TransferType};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    pub name: String,
    /// The currency of the app's and its users' wallets; `USD` when absent.
    #[serde(default)]
    pub currency: Option<String>,
    /// `test` (the default: the sandbox rail, no real money) or `live`.
    #[serde(default)]
    pub mode: Option<String>,
    /// The payout method types the app allows (`bank`, `paypal`, `venmo`; all three
    /// when absent). A live app needs a configured rail for each.
    #[serde(default)]
    pub payout_method_types: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The app's own notes: up to 20 string keys and values.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
}

/// The app's own notes on an object: string keys (letters, digits, `_`, `-`, `.`;
/// at most 40) and string values (at most 500 characters), at most 20 of them.
pub type Metadata = std::collections::BTreeMap<String, String>;

/// `PATCH /v2/users/{id}`: the fields to change, each optional. A new phone number
/// must be proven again before the user's next payout.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// E.164, or national digits together with `country_code`.
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
    /// Keys to set; a key given as `null` is removed.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefillRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount: serde_json::Number,
    pub currency: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTransferRequest {
    #[serde(rename = "type")]
    pub kind: String,
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount: serde_json::Number,
    pub currency: String,
    /// Balance transfers only: `app_to_user` (default) or `user_to_app`.
    #[serde(default)]
    pub direction: Option<String>,
    /// Payouts only: where the money goes; the user's newest method when absent.
    #[serde(default)]
    pub payout_method_id: Option<String>,
    /// Payouts only: who pays the fee (`app` or `user`); the app's rule when absent.
    #[serde(default)]
    pub fee_party: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
}

/// `POST /v2/transfers/{id}/reverse`: undo a completed balance transfer or refill.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReverseTransferRequest {
    /// Why, in 1 to 200 characters; kept in the transfer's status history.
    pub reason: String,
}

/// `POST /v2/payouts`: a payout transfer out of the user's wallet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePayoutRequest {
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount: serde_json::Number,
    pub currency: String,
    #[serde(default)]
    pub payout_method_id: Option<String>,
    /// Who pays the fee (`app` or `user`); the app's rule when absent.
    #[serde(default)]
    pub fee_party: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// `test` (the sandbox: no real money moves) or `live`.
    #[serde(default = "test_mode")]
    pub mode: String,
    /// Set while the operator has the app suspended: its API answers 403
    /// `app_suspended`, its links and flows say payouts are paused, its webhooks wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspension>,
}

fn test_mode() -> String {
    "test".into()
}

/// Why and since when an app is suspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suspension {
    pub since: String,
    pub reason: String,
}

/// An app as the operator's console lists it (`GET /v2/apps`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppOverview {
    #[serde(flatten)]
    pub app: App,
    /// Completed payouts of the last 30 days, in minor units of the app's currency.
    pub volume_30d: i64,
    pub payouts_30d: i64,
    pub users: i64,
    /// The emails of its team's owners.
    pub owners: Vec<String>,
}

/// The operator signed in to the dashboard: the token every change must carry in
/// `X-CSRF-Token` (the session itself is an HttpOnly cookie).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorSession {
    pub csrf_token: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Wallet {
    pub id: String,
    /// Spendable now, in minor units.
    pub available: i64,
    /// Reserved by payouts that have not settled yet, in minor units.
    pub pending: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    /// A live app's payee, or a test app's.
    #[serde(default)]
    pub livemode: bool,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// E.164.
    pub phone_number: String,
    pub phone_verified: bool,
    pub wallet: Wallet,
    pub metadata: Metadata,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transfer {
    pub id: String,
    /// A live app's (real money), or a test app's.
    #[serde(default)]
    pub livemode: bool,
    #[serde(rename = "type")]
    pub kind: TransferType,
    pub status: TransferStatus,
    pub user_id: Option<String>,
    /// What leaves the paying wallet, in minor units (for a payout: the user's wallet).
    pub amount: i64,
    /// The payout fee, in minor units (0 for other transfers); its own transaction.
    pub fee: i64,
    /// What reaches the destination: `amount - fee` when the user pays the fee,
    /// else `amount` (the app's wallet pays the fee besides).
    pub net: i64,
    pub currency: String,
    /// Payouts only: who pays the fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_party: Option<FeeParty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_method_id: Option<String>,
    pub transactions: Vec<Transaction>,
    pub status_history: Vec<StatusChange>,
    /// A payout its rail sent back (an ACH return): why, in the bank's code and
    /// in words. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<RailReturn>,
    pub metadata: Metadata,
    pub created_at: String,
    pub updated_at: String,
}

/// Why a rail sent a payout back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RailReturn {
    /// The rail's code: `R01`…`R85` for ACH.
    pub code: String,
    /// What it means, for the people who read it.
    pub meaning: String,
}

/// A NACHA file of the ACH rail, as the operator sees it (`GET /v2/ach/files`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AchFile {
    pub id: String,
    /// `A`–`Z`, `0`–`9`: which of the day's files it is, to the bank.
    pub file_id_modifier: String,
    /// The day the money moves (`YYYY-MM-DD`).
    pub effective_date: String,
    /// Entry Detail records.
    pub entries: i64,
    /// Cents paid out (credits) and collected (debits).
    pub credit_total: i64,
    pub debit_total: i64,
    /// Entries the bank sent back so far.
    pub returns: i64,
    /// `sent` (its payouts pending) or `settled` (completed).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<String>,
    pub created_at: String,
}

/// A live app's funding account, registered by the operator
/// (`PUT /v2/apps/{id}/funding-account`): the bank account its refills are
/// debited from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FundingAccountRequest {
    pub routing_number: String,
    pub account_number: String,
    /// `checking` (the default) or `savings`.
    #[serde(default)]
    pub account_type: Option<String>,
    /// The account holder: the business, as its bank knows it.
    pub holder_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FundingAccount {
    pub app_id: String,
    pub bank: MaskedBank,
    pub holder_name: String,
    /// `unverified` (its pre-note goes in the next ACH file), `prenote_sent`,
    /// `verified` (refills may be debited from it) or `failed` (its bank returned
    /// the pre-note: register another).
    pub status: String,
    /// Why its bank returned the pre-note, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<RailReturn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a cut-off made (`POST /v2/ach/cutoff`): a file, or none when no payout
/// was waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AchCutOff {
    pub file: Option<AchFile>,
}

/// What ingesting a NACHA return file did (`POST /v2/ach/returns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AchReturns {
    /// Returns applied now: their payouts failed or were reversed.
    pub applied: Vec<AchReturnApplied>,
    /// Returns already applied by an earlier ingest: nothing changed for them.
    pub already_applied: i64,
    /// Trace numbers the file names that match none of our entries (or not its amount).
    pub unmatched: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AchReturnApplied {
    pub trace: String,
    /// `payout`, `refill` (a debit from a funding account) or `prenote`.
    pub kind: String,
    pub app_id: String,
    /// The payout's or refill's transfer (none for a pre-note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
    pub code: String,
    pub meaning: String,
    /// The transfer now: `failed` (returned before it settled), `reversed` (after),
    /// or `completed` for a refill whose money was already spent (the app is then
    /// suspended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TransferStatus>,
    /// The app was suspended: its refill came back after its money was spent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub app_suspended: bool,
}

/// One immutable ledger record: `amount` moved from `source` to `destination`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusChange {
    pub status: TransferStatus,
    pub previous_status: Option<TransferStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// `invalid_request`, `authentication`, `not_found`, `conflict`, `rate_limited`, `internal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Stable and machine-readable, e.g. `insufficient_funds`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// After a wrong one-time code (`invalid_code`): how many tries that code has left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<i64>,
    /// A refused batch (`batch_items_refused`): every refused item, with why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemError>>,
}

/// Why one item of a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemError {
    /// The item's position in the request, from 0.
    pub index: usize,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// A batch of payouts (`POST /v2/payout-batches`): made together, in one database
/// transaction, or not at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayoutBatch {
    pub id: String,
    /// `processing` while any of its payouts is on its way; `completed` once every
    /// one is final (completed, failed, canceled or reversed).
    pub status: String,
    pub currency: String,
    /// The sum of the items' amounts, in minor units.
    pub total_amount: i64,
    /// The sum of the fees the app's wallet pays besides.
    pub total_app_fees: i64,
    pub items: Vec<BatchItem>,
    pub created_at: String,
    pub completed_at: Option<String>,
}

/// One item of a batch and what it made: a payout to a known user, or a payout link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchItem {
    pub index: usize,
    /// `payout` or `payout_link`.
    #[serde(rename = "type")]
    pub kind: String,
    pub amount: i64,
    pub user_id: Option<String>,
    pub transfer_id: Option<String>,
    pub payout_link_id: Option<String>,
    /// The payout's or the link's status now.
    pub status: String,
}

/// A payee's compliance details, as the app (`PUT /v2/users/{id}/compliance`) or the
/// payee (`PUT /flow/v1/compliance`, without the KYC states) sends them; absent
/// fields stay as they were.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ComplianceRequest {
    #[serde(default)]
    pub legal_first_name: Option<String>,
    #[serde(default)]
    pub legal_last_name: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    /// US SSN/ITIN/EIN: nine digits, dashes allowed.
    #[serde(default)]
    pub tax_id: Option<String>,
    #[serde(default)]
    pub kyc_status: Option<String>,
    #[serde(default)]
    pub id_verification_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub state: Option<String>,
    pub postal_code: String,
    /// ISO 3166 alpha-2.
    pub country: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePayoutMethodRequest {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub routing_number: Option<String>,
    #[serde(default)]
    pub account_number: Option<String>,
    #[serde(default)]
    pub account_type: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
}

/// A rule's threshold: an amount in minor units, or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Threshold(pub Option<i64>);

impl Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(amount) => s.serialize_i64(amount),
            None => s.serialize_str("off"),
        }
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Threshold, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "off" => Ok(Threshold(None)),
            serde_json::Value::Number(n) => {
                n.as_i64().map(|a| Threshold(Some(a))).ok_or_else(|| serde::de::Error::custom("not an amount"))
            }
            _ => Err(serde::de::Error::custom("a threshold is an amount or \"off\"")),
        }
    }
}

/// The app's payout rules (`/v2/apps/me/rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppRules {
    /// Payouts above it wait for review (`flagged`).
    pub review_threshold: Threshold,
    /// A payee's first payout above it waits for review.
    pub first_payout_review_threshold: Threshold,
    /// Above this much paid to a payee in a calendar year, a tax id is required.
    pub tax_id_threshold: Threshold,
    /// The least a payee may withdraw in a flow's `payout` step (`null`: one minor unit).
    pub flow_payout_min: Threshold,
    /// The most a payee may withdraw in a flow's `payout` step (`null`: their balance).
    pub flow_payout_max: Threshold,
    /// Who pays a payout's fee unless the payout names it.
    pub fee_party: FeeParty,
    /// The payout fee schedule the operator set for this app.
    pub fees: FeeSchedule,
}

/// Where the app's pages may embed the widget, and its brand (`/v2/apps/me/settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppSettings {
    pub allowed_origins: Option<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub brand: Option<serde_json::Value>,
    /// ISO 3166 alpha-2: where a payee's phone number is read when typed without a
    /// calling code (the widget's country list starts there); `null`: the payee's browser.
    pub default_country: Option<String>,
}

/// A new API secret (shown once) and when the previous one stops working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretRotation {
    /// `null` in an idempotent replay: the secret is never stored.
    pub api_secret: Option<String>,
    pub previous_secret_expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayoutLink {
    pub id: String,
    /// The page the payee opens; it holds the link's bearer token. Absent from events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `active`, `claimed`, `canceled` or `expired`.
    pub status: String,
    pub amount: i64,
    /// The payout's fee, worked out when the link was made and kept for its claim.
    pub fee: i64,
    /// What the payee receives.
    pub net: i64,
    pub fee_party: FeeParty,
    pub currency: String,
    pub phone_number: Option<String>,
    pub email: Option<String>,
    pub memo: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub brand: Option<serde_json::Value>,
    pub user_id: Option<String>,
    pub payout_transfer_id: Option<String>,
    pub expires_at: String,
    pub claimed_at: Option<String>,
    pub created_at: String,
    /// How the link reaches its payee.
    pub delivery: LinkDelivery,
    pub metadata: Metadata,
}

/// How a payout link reaches its payee: the server sends it (`sms`, `email`) or the
/// app does (`none`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkDelivery {
    /// `none`, `sms` or `email`.
    pub method: String,
    /// `pending` (being sent, or waiting to be tried again), `sent` or `failed`
    /// (given up after five tries); `null` when the app delivers the link.
    pub status: Option<String>,
    /// Sends tried since the last (re)send was asked for.
    pub attempts: i64,
    /// When the last send was accepted by the SMS provider or the email relay.
    pub delivered_at: Option<String>,
}

/// A flow just made: its session token is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowCreated {
    pub id: String,
    /// The flow as a page of its own; in the first answer it carries the token in its fragment.
    pub url: String,
    /// `null` in an idempotent replay.
    pub token: Option<String>,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flow {
    pub id: String,
    pub url: String,
    pub user_id: Option<String>,
    pub payout_link_id: Option<String>,
    pub steps: Vec<String>,
    pub redirect_url: Option<String>,
    /// `active`, `completed` or `revoked`.
    pub status: String,
    pub expires_at: String,
    pub completed_at: Option<String>,
    pub metadata: Metadata,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// Event types it receives; `["*"]` for all.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// `enabled` or `disabled`.
    pub status: String,
    pub disabled_reason: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    /// The signing secret (`whsec_…`): in the answer that made or rotated it only;
    /// `null` in its idempotent replay.
    #[serde(default, skip_serializing_if = "Secret::is_absent")]
    pub secret: Secret,
}

/// A secret field shown once: absent from reads, a string in the answer that made
/// it, `null` in that answer's replay.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Secret {
    #[default]
    Absent,
    Shown(String),
    Withheld,
}

impl Secret {
    pub fn is_absent(&self) -> bool {
        matches!(self, Secret::Absent)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Secret::Shown(secret) => s.serialize_str(secret),
            Secret::Absent | Secret::Withheld => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map_or(Secret::Withheld, Secret::Shown))
    }
}

/// What a delete answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Redelivery {
    pub event_id: String,
    pub deliveries_queued: i64,
}

/// An event as webhooks carry it (Standard Webhooks body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

/// A member of an app's team (`/dashboard/api`): their account and their role in
/// each app they belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub id: String,
    pub email: String,
    /// Whether their two-factor sign-in is on (owners and admins need it to make changes).
    pub two_factor: bool,
    pub memberships: Vec<Membership>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub app_id: String,
    pub app_name: String,
    /// `owner`, `admin`, `reviewer` or `viewer`.
    pub role: String,
}

/// A signed-in dashboard session: who, and the token every change it makes must
/// carry in `X-CSRF-Token` (the session itself is an HttpOnly cookie).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DashboardSession {
    pub member: Member,
    pub csrf_token: String,
    /// When the session ends whatever happens (it ends sooner after 30 idle minutes).
    pub expires_at: String,
}

/// A member of the app's team, as its owners see them (`GET /v2/members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamMember {
    pub id: String,
    pub email: String,
    pub role: String,
    /// Whether their two-factor sign-in is on.
    pub two_factor: bool,
    pub joined: String,
}

/// Two-factor sign-in being set up: the secret for an authenticator app (base32),
/// also as an `otpauth://` link (a QR code's content). Shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_url: String,
}

/// Two-factor sign-in is on: the single-use recovery codes, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// An invitation to join an app's team. `url` (the single-use link) is shown only
/// when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitation {
    pub id: String,
    pub app_id: String,
    pub email: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub expires_at: String,
    /// Whether the link went out by email (answered once, when it is made by a team).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emailed: Option<bool>,
}

/// One change in the app's audit log (`GET /v2/audit-log`): who made it, what,
/// which object, when and from where. Only changes that were kept are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: String,
    /// The app whose data changed (none for the operator's sign-ins).
    pub app_id: Option<String>,
    pub actor: AuditActor,
    /// The method and route: `POST /v2/users/{id}/payout-methods`.
    pub action: String,
    /// The path as requested (without its query).
    pub path: String,
    /// The object the change made or changed, when its answer names one.
    pub object_id: Option<String>,
    /// The answer's HTTP status.
    pub status: u16,
    /// The client's address, as the server saw it (or a trusted proxy forwarded it).
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub created: String,
}

/// Who made a change: `api_key` (the app's client id), `payee` (a flow session),
/// `link_holder` (whoever opened a payout link) or `operator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditActor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    /// The start of what the endpoint last answered (2 KB at most), as text.
    #[serde(default)]
    pub last_response: Option<String>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

/// A payee's compliance record. The full date of birth and address are shown to
/// the app; the payee's own widget sees only whether they are filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Compliance {
    pub user_id: String,
    pub legal_first_name: Option<String>,
    pub legal_last_name: Option<String>,
    pub date_of_birth: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub address: Option<serde_json::Value>,
    pub tax_id_last4: Option<String>,
    pub kyc_status: String,
    pub id_verification_status: String,
    pub requirements: ComplianceRequirements,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComplianceRequirements {
    /// A tax id is needed before the next payout.
    pub tax_id: bool,
}

/// A payout method as it may be shown: never a full account number, email or phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayoutMethod {
    pub id: String,
    /// `bank`, `paypal` or `venmo`; the field of that name holds its masked details.
    #[serde(rename = "type")]
    pub kind: String,
    pub user_id: String,
    pub created_at: String,
    /// The method a payout goes to when it names none (a payee's first method,
    /// until another is made the default).
    pub default: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<MaskedBank>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paypal: Option<MaskedPaypal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venmo: Option<MaskedVenmo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaskedBank {
    pub account_last4: String,
    pub account_type: String,
    pub routing_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaskedPaypal {
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaskedVenmo {
    pub phone_number: String,
}

/// The compliance record as the payee's own widget sees it: whether the date of
/// birth and address are filled in, never their values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayeeCompliance {
    pub user_id: String,
    pub legal_first_name: Option<String>,
    pub legal_last_name: Option<String>,
    pub date_of_birth: bool,
    pub address: bool,
    pub tax_id_last4: Option<String>,
    pub kyc_status: String,
    pub id_verification_status: String,
    pub requirements: ComplianceRequirements,
    pub updated_at: Option<String>,
}

/// A claimed payout link (`POST /flow/v1/claim`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claimed {
    pub flow_id: String,
    pub payout_link_id: String,
    pub payout: ClaimedPayout,
    /// The claim ends the session; this one follows the payout on the link's page
    /// (shown once; `null` in an idempotent replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimedPayout {
    pub id: String,
    pub status: TransferStatus,
    pub amount: i64,
    pub currency: String,
}

#[cfg(feature = "openapi")]
mod schemas {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type};

    impl utoipa::PartialSchema for super::Threshold {
        fn schema() -> RefOr<Schema> {
            OneOfBuilder::new()
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .minimum(Some(0)),
                )
                .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["off"])))
                .description(Some("An amount in minor units, or \"off\"."))
                .into()
        }
    }

    impl utoipa::ToSchema for super::Threshold {}

    impl utoipa::PartialSchema for super::Secret {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some("Shown once, in the answer that made it; null in that answer's replay."))
                .into()
        }
    }

    impl utoipa::ToSchema for super::Secret {}
}

/// The types of the events of an app (webhooks, `GET /v2/events`, the event stream).
pub mod event_types {
    pub const USER_CREATED: &str = "user.created";
    pub const USER_VERIFIED: &str = "user.verified";
    pub const USER_UPDATED: &str = "user.updated";
    pub const PAYOUT_LINK_CREATED: &str = "payout_link.created";
    pub const PAYOUT_LINK_CLAIMED: &str = "payout_link.claimed";
    pub const PAYOUT_LINK_CANCELED: &str = "payout_link.canceled";
    pub const PAYOUT_BATCH_CREATED: &str = "payout_batch.created";
    pub const PAYOUT_BATCH_COMPLETED: &str = "payout_batch.completed";
    pub const PAYOUT_LINK_DELIVERED: &str = "payout_link.delivered";
    pub const PAYOUT_LINK_DELIVERY_FAILED: &str = "payout_link.delivery_failed";
    pub const FLOW_COMPLETED: &str = "flow.completed";
    pub const FLOW_REVOKED: &str = "flow.revoked";
    pub const PAYOUT_METHOD_CREATED: &str = "payout_method.created";
    pub const PAYOUT_METHOD_UPDATED: &str = "payout_method.updated";
    pub const PAYOUT_METHOD_DELETED: &str = "payout_method.deleted";
    pub const TRANSFER_CREATED: &str = "transfer.created";
    pub const TRANSFER_UPDATED: &str = "transfer.updated";

    /// Every event type.
    pub const ALL: [&str; 17] = [
        USER_CREATED,
        USER_VERIFIED,
        USER_UPDATED,
        PAYOUT_LINK_CREATED,
        PAYOUT_LINK_CLAIMED,
        PAYOUT_LINK_CANCELED,
        PAYOUT_BATCH_CREATED,
        PAYOUT_BATCH_COMPLETED,
        PAYOUT_LINK_DELIVERED,
        PAYOUT_LINK_DELIVERY_FAILED,
        FLOW_COMPLETED,
        FLOW_REVOKED,
        PAYOUT_METHOD_CREATED,
        PAYOUT_METHOD_UPDATED,
        PAYOUT_METHOD_DELETED,
        TRANSFER_CREATED,
        TRANSFER_UPDATED,
    ];
}

/// `GET /v2/apps/me/volume`: the app's completed payouts of the last 30 days, a day
/// at a time (UTC), oldest first; days without any are there with zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Volume {
    pub currency: String,
    pub days: Vec<VolumeDay>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VolumeDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Paid out that day, in minor units.
    pub amount: i64,
    /// How many payouts.
    pub count: i64,
}
