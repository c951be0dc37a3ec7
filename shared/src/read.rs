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
//! one lookup per field, into the same struct. It names every field (a struct
//! literal), so adding or renaming a field fails to compile until the reader
//! follows; the tests below hold each reader to serde's own output, so a wire name
//! cannot drift either.

use serde_json::{Map, Value};

use crate::TransferStatus;
use crate::api::{
    Claimed, ClaimedPayout, ComplianceRequirements, FlowCreated, List, MaskedBank, MaskedPaypal, MaskedVenmo,
    PayoutMethod,
};
use crate::flow::{SessionApp, SessionLink, SessionState};

/// A value read from the JSON its `Serialize` writes; `None` when the JSON does
/// not have that shape.
pub trait FromJson: Sized {
    fn from_json(value: &Value) -> Option<Self>;
}

/// Field `name` of an object; an absent field reads as `null` (an `Option` is `None`).
pub fn field<'a>(object: &'a Map<String, Value>, name: &str) -> &'a Value {
    object.get(name).unwrap_or(&Value::Null)
}

/// `FromJson` for a struct, field by field: `from_json!(Type { field, other = "wire_name" })`.
macro_rules! from_json {
    ($ty:ident { $($field:ident $(= $wire:literal)?),* $(,)? }) => {
        impl $crate::read::FromJson for $ty {
            fn from_json(value: &serde_json::Value) -> Option<Self> {
                let object = value.as_object()?;
                Some($ty { $($field: $crate::read::FromJson::from_json($crate::read::field(object, from_json!(@wire $field $($wire)?)))?,)* })
            }
        }
    };
    (@wire $field:ident) => { stringify!($field) };
    (@wire $field:ident $wire:literal) => { $wire };
}

/// An answer read for its success only.
impl FromJson for () {
    fn from_json(_: &Value) -> Option<Self> {
        Some(())
    }
}

impl FromJson for String {
    #[inline(never)]
    fn from_json(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
}

impl FromJson for bool {
    #[inline(never)]
    fn from_json(value: &Value) -> Option<Self> {
        value.as_bool()
    }
}

impl FromJson for i64 {
    #[inline(never)]
    fn from_json(value: &Value) -> Option<Self> {
        value.as_i64()
    }
}

/// Free-form parts (a brand) stay JSON.
impl FromJson for Value {
    fn from_json(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

impl<T: FromJson> FromJson for Option<T> {
    #[inline(never)]
    fn from_json(value: &Value) -> Option<Self> {
        if value.is_null() { Some(None) } else { T::from_json(value).map(Some) }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Value) -> Option<Self> {
        // A loop, not `collect::<Option<Vec<_>>>()`: that is 1 KB more of wasm.
        let items = value.as_array()?;
        let mut read = Vec::with_capacity(items.len());
        for item in items {
            read.push(T::from_json(item)?);
        }
        Some(read)
    }
}

impl FromJson for TransferStatus {
    fn from_json(value: &Value) -> Option<Self> {
        TransferStatus::parse(value.as_str()?)
    }
}

impl<T: FromJson> FromJson for List<T> {
    fn from_json(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        Some(List {
            data: Vec::from_json(field(object, "data"))?,
            has_more: bool::from_json(field(object, "has_more"))?,
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
from_json!(SessionApp { name, brand });
from_json!(SessionLink { amount, currency, memo, status, expires_at, brand, phone_hint });
from_json!(ComplianceRequirements { tax_id });
from_json!(FlowCreated { id, url, token, expires_at });
from_json!(PayoutMethod { id, kind = "type", user_id, created_at, bank, paypal, venmo });
from_json!(MaskedBank { account_last4, account_type, routing_number });
from_json!(MaskedPaypal { email });
from_json!(MaskedVenmo { phone_number });
from_json!(Claimed { flow_id, payout_link_id, payout });
from_json!(ClaimedPayout { id, status, amount, currency });

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

    fn brand() -> impl Strategy<Value = Value> {
        prop_oneof![Just(json!({})), text().prop_map(|c| json!({"primary_color": c, "radius": 1.5, "dark": true}))]
    }

    fn link() -> impl Strategy<Value = SessionLink> {
        (any::<i64>(), text(), maybe_text(), text(), text(), proptest::option::of(brand()), maybe_text()).prop_map(
            |(amount, currency, memo, status, expires_at, brand, phone_hint)| SessionLink {
                amount,
                currency,
                memo,
                status,
                expires_at,
                brand,
                phone_hint,
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
                    app: SessionApp { name, brand: app_brand },
                    brand,
                    payout_link,
                    requirements: ComplianceRequirements { tax_id },
                    redirect_url,
                },
            )
    }

    fn method() -> impl Strategy<Value = PayoutMethod> {
        (text(), 0..3usize, text(), text(), (text(), text(), text())).prop_map(
            |(id, which, user_id, created_at, (a, b, c))| PayoutMethod {
                id,
                kind: ["bank", "paypal", "venmo"][which].into(),
                user_id,
                created_at,
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
        fn claims_and_flows_read_back(id in text(), token in maybe_text(), amount: i64, status in 0..7usize) {
            let status = [
                TransferStatus::Created, TransferStatus::Flagged, TransferStatus::Pending, TransferStatus::Completed,
                TransferStatus::Failed, TransferStatus::Reversed, TransferStatus::Canceled,
            ][status];
            round_trips(Claimed {
                flow_id: id.clone(),
                payout_link_id: id.clone(),
                payout: ClaimedPayout { id: id.clone(), status, amount, currency: "USD".into() },
            });
            round_trips(FlowCreated { id: id.clone(), url: id.clone(), token, expires_at: id });
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
