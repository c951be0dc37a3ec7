//! Object ids are opaque strings with a type prefix, so a misplaced id is obvious
//! in logs and requests (`usr_…` where a `tr_…` belongs).

pub const APP: &str = "app_";
pub const USER: &str = "usr_";
pub const WALLET: &str = "wal_";
pub const TRANSFER: &str = "tr_";
pub const TRANSACTION: &str = "txn_";
pub const EVENT: &str = "evt_";
pub const VERIFICATION: &str = "ver_";
pub const PAYOUT_METHOD: &str = "pm_";
pub const PAYOUT_LINK: &str = "pl_";
pub const FLOW: &str = "flow_";
pub const WEBHOOK: &str = "we_";
pub const DELIVERY: &str = "whd_";
pub const CLIENT_ID: &str = "ci_";
pub const API_SECRET: &str = "sk_";

/// True when `id` has the prefix and a body of 1–64 ASCII alphanumerics: a cheap
/// shape check before any database look-up.
pub fn has_shape(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|body| (1..=64).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_alphanumeric()))
}
