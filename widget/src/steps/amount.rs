//! A flow that pays out (`payout`): what the payee may withdraw, read when the flow
//! starts — all the app lets them take — and its fee and what arrives.

use dots_shared::Currency;
use dots_shared::read::{FromJson, Json};

/// What the widget reads of a [`dots_shared::flow::PayoutOffer`]: the amount (all
/// the app lets the payee take), the fee the payee bears on it and what arrives.
#[derive(Clone, Copy, Default)]
pub(super) struct Offer {
    pub currency: Option<Currency>,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
}

impl FromJson for Offer {
    fn from_json<J: Json>(value: &J) -> Option<Offer> {
        let currency: String = FromJson::from_json(&value.field("currency")?)?;
        Some(Offer {
            currency: Currency::parse(&currency).ok(),
            amount: FromJson::from_json(&value.field("amount")?)?,
            fee: FromJson::from_json(&value.field("fee")?)?,
            net: FromJson::from_json(&value.field("net")?)?,
        })
    }
}

thread_local! {
    /// The flow's offer, read once when the flow starts. Not a signal: nothing
    /// redraws when it is set, and a signal of a new type costs reactive machinery.
    static OFFER: std::cell::Cell<Offer> = std::cell::Cell::new(Offer::default());
}

/// The flow's offer.
pub(super) fn offer() -> Offer {
    OFFER.with(std::cell::Cell::get)
}

pub(super) fn set_offer(offer: Offer) {
    OFFER.with(|o| o.set(offer));
}
