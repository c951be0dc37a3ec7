//! A flow that pays out (`payout`): what the payee may withdraw, read when the flow
//! starts — all the app lets them take — and its fee and what arrives; priced
//! again by the server when the payee types a smaller amount on the review.

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
    /// The least the app lets the payee take (one minor unit when it sets none).
    pub min: i64,
}

impl FromJson for Offer {
    fn from_json<J: Json>(value: &J) -> Option<Offer> {
        let currency: String = FromJson::from_json(&value.field("currency")?)?;
        Some(Offer {
            currency: Currency::parse(&currency).ok(),
            amount: FromJson::from_json(&value.field("amount")?)?,
            fee: FromJson::from_json(&value.field("fee")?)?,
            net: FromJson::from_json(&value.field("net")?)?,
            min: value.field("min").and_then(|min| FromJson::from_json(&min)).unwrap_or(1),
        })
    }
}

thread_local! {
    /// The amount priced last, and the most the payee may take (the first offer's
    /// amount). Not a signal: the review is drawn again when it is priced anew,
    /// and a signal of a new type costs reactive machinery.
    static OFFER: std::cell::Cell<(Offer, i64)> = std::cell::Cell::new((Offer::default(), 0));
}

/// The amount priced last: its fee and what arrives.
pub(super) fn offer() -> Offer {
    OFFER.with(std::cell::Cell::get).0
}

/// The most the payee may take.
pub(super) fn most() -> i64 {
    OFFER.with(std::cell::Cell::get).1
}

/// The flow's first offer: all the app lets the payee take.
pub(super) fn set_offer(offer: Offer) {
    OFFER.with(|o| o.set((offer, offer.amount)));
}

/// The amount the payee typed, priced by the server.
pub(super) fn reprice(offer: Offer) {
    OFFER.with(|o| o.set((offer, o.get().1)));
}
