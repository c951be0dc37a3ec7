//! Reading the flow API's answers back into the contract's types, for the widget.
//!
//! The server writes these types with serde. The widget could read them with serde
//! too, but a derived `Deserialize` is a visitor per type (field matching, duplicate
//! and missing-field bookkeeping) and serde_json's errors link float formatting:
//! measured on the widget, +25 KB brotli with `serde_json::from_value`, +8 KB with
//! a message-less deserializer, against a budget with 1.6 KB to spare. A payee
//! downloads every one of those bytes, often on a phone.
//!
//! So each type the widget reads has a [`FromJson`] written with [`from_json!`]:
//! one lookup per field, into the same struct, over any [`Json`] source (the
//! widget reads the browser's own `JSON.parse` result and carries no JSON parser). It names every field (a struct
//! literal), so adding or renaming a field fails to compile until the reader
//! follows; the tests below hold each reader to serde's own output, so a wire name
//! cannot drift either.

use serde_json::Value;

use crate::TransferStatus;
use crate::api::{
    Claimed, ClaimedPayout, ComplianceRequirements, FlowCreated, List, MaskedBank, MaskedPaypal, MaskedVenmo,
    PayoutMethod,
};
use crate::flow::{CodeSent, LinkPayout, SessionApp, SessionLink, SessionState};
use crate::theme::Brand;

/// A parsed JSON value the readers look into: serde_json's [`Value`] (the tests
/// here, any Rust client), or in the widget the browser's own `JSON.parse` result,
/// so that the Wasm carries no JSON parser.
pub trait Json: Sized {
    /// Field `name` of an object, `null` when absent; `None` when this is not an object.
    fn field(&self, name: &str) -> Option<Self>;
    fn string(&self) -> Option<String>;
    fn boolean(&self) -> Option<bool>;
    /// A whole number (not `1.5`, not `"1"`).
    fn integer(&self) -> Option<i64>;
    /// `null` (or, from the browser, `undefined`).
    fn is_null(&self) -> bool;
    fn items(&self) -> Option<Vec<Self>>;
}

impl Json for Value {
    fn field(&self, name: &str) -> Option<Value> {
        Some(self.as_object()?.get(name).cloned().unwrap_or(Value::Null))
    }

    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn integer(&self) -> Option<i64> {
        self.as_i64()
    }

    fn is_null(&self) -> bool {
        Value::is_null(self)
    }

    fn items(&self) -> Option<Vec<Value>> {
        self.as_array().cloned()
    }
}

/// A value read from the JSON its `Serialize` writes; `None` when the JSON does
/// not have that shape.
pub trait FromJson: Sized {
    fn from_json<J: Json>(value: &J) -> Option<Self>;
}

/// `FromJson` for a struct, field by field: `from_json!(Type { field, other = "wire_name" })`.
macro_rules! from_json {
    ($ty:ident { $($field:ident $(= $wire:literal)?),* $(,)? }) => {
        impl $crate::read::FromJson for $ty {
            fn from_json<J: $crate::read::Json>(value: &J) -> Option<Self> {
                Some($ty { $($field: $crate::read::FromJson::from_json(&value.field(from_json!(@wire $field $($wire)?))?)?,)* })
            }
        }
    };
    (@wire $field:ident) => { stringify!($field) };
    (@wire $field:ident $wire:literal) => { $wire };
}

/// An answer read for its success only.
impl FromJson for () {
    fn from_json<J: Json>(_: &J) -> Option<Self> {
        Some(())
    }
}

impl FromJson for String {
    fn from_json<J: Json>(value: &J) -> Option<Self> {
        value.string()
    }
}

impl FromJson for bool {
    fn from_json<J: Json>(value: &J) -> Option<Self> {
        value.boolean()
    }
}

impl FromJson for i64 {
    fn from_json<J: Json>(value: &J) -> Option<Self> {
        value.integer()
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json<J: Json>(value: &J) -> Option<Self> {
        if value.is_null() { Some(None) } else { T::from_json(value).map(Some) }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json<J: Json>(value: &J) -> Option<Self> {
        // A loop, not `collect::<Option<Vec<_>>>()`: that is 1 KB more of wasm.
        let items = value.items()?;
        let mut read = Vec::with_capacity(items.len());
        for item in &items {
            read.push(T::from_json(item)?);
        }
        Some(read)
    }
}

impl FromJson for TransferStatus {
    fn from_json<J: Json>(value: &J) -> Option<Self> {
        TransferStatus::parse(&value.string()?)
    }
}

impl<T: FromJson> FromJson for List<T> {
    fn from_json<J: Json>(value: &J) -> Option<Self> {
        Some(List {
            data: Vec::from_json(&value.field("data")?)?,
            has_more: bool::from_json(&value.field("has_more")?)?,
        })
    }
}

from_json!(SessionState {
    flow_id,
    status,
    steps,
    pre_authenticated,
    verified,
    phone_hint,
    user_id,
    app,
    brand,
    payout_link,
    requirements,
    redirect_url,
});
from_json!(SessionApp { name, brand, default_country });
from_json!(Brand {
    name,
    logo_url,
    primary_color,
    background_color,
    text_color,
    font_family,
    corner_radius,
    color_scheme
});
from_json!(SessionLink { amount, fee, net, currency, memo, status, expires_at, brand, phone_hint, payout });
from_json!(LinkPayout { id, status, failure_code, payout_method, updated_at, resendable });
from_json!(ComplianceRequirements { tax_id });
from_json!(FlowCreated { id, url, token, expires_at });
from_json!(PayoutMethod { id, kind = "type", user_id, created_at, default, bank, paypal, venmo });
from_json!(MaskedBank { account_last4, account_type, routing_number });
from_json!(MaskedPaypal { email });
from_json!(MaskedVenmo { phone_number });
from_json!(Claimed { flow_id, payout_link_id, payout, session_token });
from_json!(ClaimedPayout { id, status, amount, currency });
from_json!(CodeSent { id, status, channel, to, expires_at, resend_available_at, phone_number });

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::json;

    use super::*;

    /// What serde writes, the reader reads back unchanged.
    fn round_trips<T: FromJson + Serialize + PartialEq + std::fmt::Debug>(value: T) {
        let written = serde_json::to_value(&value).unwrap();
        assert_eq!(T::from_json(&written).as_ref(), Some(&value), "{written}");
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z0-9_ ]{0,8}"
    }

    fn maybe_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn brand() -> impl Strategy<Value = Brand> {
        let part = || maybe_text();
        (part(), part(), part(), part(), part(), part(), proptest::option::of(any::<i64>()), part()).prop_map(
            |(
                name,
                logo_url,
                primary_color,
                background_color,
                text_color,
                font_family,
                corner_radius,
                color_scheme,
            )| {
                Brand {
                    name,
                    logo_url,
                    primary_color,
                    background_color,
                    text_color,
                    font_family,
                    corner_radius,
                    color_scheme,
                }
            },
        )
    }

    fn status() -> impl Strategy<Value = TransferStatus> {
        proptest::sample::select(TransferStatus::ALL.to_vec())
    }

    fn payout() -> impl Strategy<Value = LinkPayout> {
        (text(), status(), maybe_text(), proptest::option::of(method()), text(), any::<bool>()).prop_map(
            |(id, status, failure_code, payout_method, updated_at, resendable)| LinkPayout {
                id,
                status,
                failure_code,
                payout_method,
                updated_at,
                resendable,
            },
        )
    }

    fn link() -> impl Strategy<Value = SessionLink> {
        (
            (any::<i64>(), text(), maybe_text(), text(), text()),
            (proptest::option::of(brand()), maybe_text(), proptest::option::of(payout()), any::<(i64, i64)>()),
        )
            .prop_map(
                |((amount, currency, memo, status, expires_at), (brand, phone_hint, payout, (fee, net)))| SessionLink {
                    amount,
                    fee,
                    net,
                    currency,
                    memo,
                    status,
                    expires_at,
                    brand,
                    phone_hint,
                    payout,
                },
            )
    }

    fn session() -> impl Strategy<Value = SessionState> {
        (
            (text(), text(), proptest::collection::vec(text(), 0..4), any::<bool>(), any::<bool>()),
            (maybe_text(), maybe_text(), text(), brand(), brand()),
            (proptest::option::of(link()), any::<bool>(), maybe_text()),
        )
            .prop_map(
                |(
                    (flow_id, status, steps, pre_authenticated, verified),
                    (phone_hint, user_id, name, app_brand, brand),
                    (payout_link, tax_id, redirect_url),
                )| SessionState {
                    flow_id,
                    status,
                    steps,
                    pre_authenticated,
                    verified,
                    phone_hint,
                    user_id,
                    app: SessionApp { name: name.clone(), brand: app_brand, default_country: Some(name) },
                    brand,
                    payout_link,
                    requirements: ComplianceRequirements { tax_id },
                    redirect_url,
                },
            )
    }

    fn method() -> impl Strategy<Value = PayoutMethod> {
        (text(), 0..3usize, text(), text(), (text(), text(), text()), any::<bool>()).prop_map(
            |(id, which, user_id, created_at, (a, b, c), default)| PayoutMethod {
                id,
                kind: ["bank", "paypal", "venmo"][which].into(),
                user_id,
                created_at,
                default,
                bank: (which == 0).then(|| MaskedBank { account_last4: a.clone(), account_type: b, routing_number: c }),
                paypal: (which == 1).then(|| MaskedPaypal { email: a.clone() }),
                venmo: (which == 2).then_some(MaskedVenmo { phone_number: a }),
            },
        )
    }

    proptest! {
        #[test]
        fn sessions_read_back(session in session()) {
            round_trips(session);
        }

        #[test]
        fn payout_methods_read_back(methods in proptest::collection::vec(method(), 0..4), has_more: bool) {
            round_trips(List { data: methods, has_more });
        }

        #[test]
        fn claims_and_flows_read_back(id in text(), token in maybe_text(), amount: i64, status in status()) {
            round_trips(Claimed {
                flow_id: id.clone(),
                payout_link_id: id.clone(),
                payout: ClaimedPayout { id: id.clone(), status, amount, currency: "USD".into() },
                session_token: token.clone(),
            });
            round_trips(FlowCreated { id: id.clone(), url: id.clone(), token: token.clone(), expires_at: id.clone() });
            round_trips(CodeSent {
                id: id.clone(),
                status: id.clone(),
                channel: id.clone(),
                to: id.clone(),
                expires_at: id.clone(),
                resend_available_at: id,
                phone_number: token,
            });
        }
    }

    #[test]
    fn another_shape_is_refused() {
        for wrong in [
            json!(null),
            json!([]),
            json!({"id": "tr_1", "status": "on_the_moon", "amount": 1, "currency": "USD"}),
            json!({"id": "tr_1", "status": "pending", "amount": 1.5, "currency": "USD"}),
            json!({"id": "tr_1", "status": "pending", "amount": "1", "currency": "USD"}),
            json!({"id": "tr_1", "status": "pending", "currency": "USD"}),
        ] {
            assert_eq!(ClaimedPayout::from_json(&wrong), None, "{wrong}");
        }
        // Fields a newer server adds are no reason to refuse an answer.
        let newer = json!({"id": "tr_1", "status": "pending", "amount": 1, "currency": "USD", "fee": 0});
        assert_eq!(ClaimedPayout::from_json(&newer).map(|p| p.amount), Some(1));
        let wrong_method = json!({"data": [{"id": "pm_1", "type": "bank"}], "has_more": false});
        assert_eq!(List::<PayoutMethod>::from_json(&wrong_method), None);
    }
}
