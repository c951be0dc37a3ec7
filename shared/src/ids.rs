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

/// The prefixes of the bearer tokens and secrets we issue: payout-link tokens,
/// flow session tokens, API secrets, webhook secrets. None may be kept or logged
/// in plain text.
pub const SECRET_PREFIXES: [&str; 4] = ["plt_", "fst_", API_SECRET, "whsec_"];

/// Where `text` holds a token or secret in plain text: one of [`SECRET_PREFIXES`]
/// at the start of a word, followed by at least 16 of its characters (up to 24
/// of them are returned, enough to recognise, not to use).
pub fn plain_secrets_in(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for prefix in SECRET_PREFIXES {
        for (at, _) in text.match_indices(prefix) {
            let word_start = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
            let tail = bytes[at + prefix.len()..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'+' || **b == b'/')
                .count();
            if word_start && tail >= 16 {
                found.push(&text[at..at + prefix.len() + tail.min(24)]);
            }
        }
    }
    found
}

/// True when `id` has the prefix and a body of 1–64 ASCII alphanumerics: a cheap
/// shape check before any database look-up.
pub fn has_shape(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|body| (1..=64).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_alphanumeric()))
}
