//! The flow API's contract (`/flow/v1/…`): what the widget sends and what it gets
//! back. The server answers with these types and the widget reads them, so a
//! renamed field fails to compile on both sides instead of in a browser.

use serde::{Deserialize, Serialize};

use crate::TransferStatus;
use crate::api::{ComplianceRequirements, PayoutMethod};
use crate::theme::Brand;

/// `POST /flow/v1/sessions`: open a payout link's session with the token from its URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenLinkRequest {
    pub link_token: String,
}

/// `POST /flow/v1/verification`: send a code (to the link's phone, or to this one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SendCodeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Where `phone_number` is read when it has no `+` calling code: an ISO 3166
    /// region (`US`) or a calling code (`1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
}

/// A code on its way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeSent {
    pub id: String,
    /// `sent`.
    pub status: String,
    /// `sms`.
    pub channel: String,
    /// The masked destination (`+1 ••• ••• 0141`).
    pub to: String,
    pub expires_at: String,
    pub resend_available_at: String,
    /// The number the payee typed in this request, written back the international
    /// way (`+1 415-555-0141`) so they can check it; absent when the request named
    /// no number, so a link's or a user's phone is never shown in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// `POST /flow/v1/verification/check`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckCodeRequest {
    pub code: String,
}

/// A proven phone. The session's token is replaced: `session_token` is the new
/// one (shown once; `null` in an idempotent replay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeChecked {
    pub verified: bool,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

/// `POST /flow/v1/claim`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub payout_method_id: String,
}

/// `POST /flow/v1/complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Completed {
    pub flow_id: String,
    /// `completed`.
    pub status: String,
}

/// `GET /flow/v1/payout`: what the payee of a flow with a `payout` step may withdraw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayoutOffer {
    /// The wallet's spendable balance, in minor units.
    pub available: i64,
    pub currency: String,
    /// The app's bounds on one withdrawal (`null`: none beyond the balance).
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// The app's fee schedule and who pays it.
    pub fees: crate::FeeSchedule,
    pub fee_party: crate::FeeParty,
    /// A withdrawal of `amount` (the query's, else the most the payee may take):
    /// the fee the payee bears on it (0 when the app pays) and what arrives.
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
}

/// `POST /flow/v1/payout`: withdraw `amount` (the whole balance when absent) to a
/// method of the payee's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    #[serde(default)]
    pub amount: Option<i64>,
    pub payout_method_id: String,
}

/// `GET /flow/v1/session`: everything the widget needs to choose its steps and
/// dress itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionState {
    pub flow_id: String,
    /// `active`, `completed` or `revoked`.
    pub status: String,
    /// The steps the app asked for (`verify_phone`, `compliance`, `payout_method`).
    pub steps: Vec<String>,
    /// The app's server vouched for this payee (a flow made for a user).
    pub pre_authenticated: bool,
    pub verified: bool,
    /// The masked phone a code goes to, when it is known.
    pub phone_hint: Option<String>,
    pub user_id: Option<String>,
    pub app: SessionApp,
    /// The app's brand with the flow's or link's override on top: what the widget shows.
    pub brand: Brand,
    pub payout_link: Option<SessionLink>,
    pub requirements: ComplianceRequirements,
    /// Where a flow opened as a page of its own sends the payee when done.
    pub redirect_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionApp {
    pub name: String,
    pub brand: Brand,
    /// The app's default country for phone numbers (ISO 3166), if it set one.
    pub default_country: Option<String>,
}

/// The payout link a session claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionLink {
    pub amount: i64,
    /// The fee the payee bears (0 when the app pays it).
    pub fee: i64,
    /// What the payee receives: `amount - fee`.
    pub net: i64,
    pub currency: String,
    pub memo: Option<String>,
    /// `active`, `claimed`, `canceled` or `expired`.
    pub status: String,
    pub expires_at: String,
    pub brand: Option<Brand>,
    pub phone_hint: Option<String>,
    /// Once the link is claimed: the payout it made, for the payee who claimed it
    /// and has proven their phone in this session (`null` otherwise).
    pub payout: Option<LinkPayout>,
}

/// A claimed link's payout as its payee follows it on the link's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkPayout {
    pub id: String,
    pub status: TransferStatus,
    /// Why it did not go through, when it did not: the rail's reason
    /// (`account_closed`, `account_not_found`, `rail_rejected`,
    /// `payout_method_removed`) or `canceled`.
    pub failure_code: Option<String>,
    /// Where the money goes, masked.
    pub payout_method: Option<PayoutMethod>,
    /// When it reached its status (the day it was paid, once `completed`).
    pub updated_at: String,
    /// The money is back in the payee's wallet and may be sent again, to another
    /// method (`POST /flow/v1/payout-link/resend`).
    pub resendable: bool,
}

/// `POST /flow/v1/payout-link/resend`: send a claimed link's money again, after
/// its payout failed, to this method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub payout_method_id: String,
}
