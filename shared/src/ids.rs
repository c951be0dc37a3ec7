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
pub const PAYOUT_BATCH: &str = "pb_";
pub const FLOW: &str = "flow_";
pub const WEBHOOK: &str = "we_";
pub const DELIVERY: &str = "whd_";
pub const CLIENT_ID: &str = "ci_";
pub const ACH_FILE: &str = "achf_";
pub const API_SECRET: &str = "sk_";

/// The prefixes of the bearer tokens and secrets we issue: payout-link tokens,
/// flow session tokens, API secrets, webhook secrets, and the dashboard's session,
/// invitation and password-reset tokens, and the operator console's session token.
/// None may be kept or logged in plain text.
pub const SECRET_PREFIXES: [&str; 8] = ["plt_", "fst_", API_SECRET, "whsec_", "dms_", "dmi_", "dmr_", "dos_"];

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

/// Ids of the objects an API path names, each its own type: a `TransferId` cannot
/// be passed where a `UserId` belongs, and one exists only with the right shape
/// (checked once, where it enters: the path).
macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident = $prefix:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// `None` unless `id` has this type's prefix and a well-formed body.
            pub fn parse(id: &str) -> Option<$name> {
                has_shape(id, $prefix).then(|| $name(id.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_types! {
    /// An app (`app_…`).
    AppId = APP;
    /// A payee (`usr_…`).
    UserId = USER;
    /// A transfer (`tr_…`).
    TransferId = TRANSFER;
    /// A ledger transaction (`txn_…`).
    TransactionId = TRANSACTION;
    /// A payout link (`pl_…`).
    PayoutLinkId = PAYOUT_LINK;
    /// A payout batch (`pb_…`).
    PayoutBatchId = PAYOUT_BATCH;
    /// A payout method (`pm_…`).
    PayoutMethodId = PAYOUT_METHOD;
    /// A flow (`flow_…`).
    FlowId = FLOW;
    /// A webhook endpoint (`we_…`).
    WebhookId = WEBHOOK;
    /// A webhook delivery (`whd_…`).
    DeliveryId = DELIVERY;
    /// An event (`evt_…`).
    EventId = EVENT;
    /// A NACHA file of the ACH rail (`achf_…`).
    AchFileId = ACH_FILE;
}

/// True when `id` has the prefix and a body of 1–64 ASCII alphanumerics: a cheap
/// shape check before any database look-up.
pub fn has_shape(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|body| (1..=64).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_id_type_takes_only_its_own_ids() {
        assert_eq!(UserId::parse("usr_01ABC").map(|id| id.to_string()), Some("usr_01ABC".into()));
        for wrong in ["tr_01ABC", "usr_", "usr_01-ABC", "usr_01ABC ", "USR_01ABC", "", "usr_é"] {
            assert_eq!(UserId::parse(wrong), None, "{wrong}");
        }
        assert_eq!(TransferId::parse("usr_01ABC"), None);
        assert_eq!(&*TransferId::parse("tr_9").unwrap(), "tr_9");
    }

    proptest! {
        /// Whatever the path holds, a typed id exists exactly when the shape check passes.
        #[test]
        fn parsing_is_the_shape_check(body in "[a-zA-Z0-9_é -]{0,70}") {
            let id = format!("{USER}{body}");
            prop_assert_eq!(UserId::parse(&id).is_some(), has_shape(&id, USER));
            prop_assert_eq!(UserId::parse(&id).map(|u| u.as_str().to_owned()), has_shape(&id, USER).then(|| id.clone()));
        }
    }
}
