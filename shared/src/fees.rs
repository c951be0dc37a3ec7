//! Payout fees: an app's schedule, the one rounding rule, and who pays.
//!
//! The fee of a payout of `amount` minor units is
//!
//! ```text
//! fee = clamp(fixed + round_half_up(amount × bps / 10 000), min, max)
//! ```
//!
//! in integer minor units of the payout's currency: the percentage part is rounded
//! to the nearest minor unit, halves up (0.5 cent → 1 cent), then `fixed` is added,
//! then the result is raised to `min` and lowered to `max` when they are set. No
//! float is involved anywhere.
//!
//! Who pays (`fee_party`): `user` — the fee comes out of the amount, the payee
//! receives `net = amount − fee` (a payout whose fee would leave nothing is
//! refused); `app` — the payee receives the whole amount and the app's wallet pays
//! the fee besides. Either way `fee + net` is what the payer's wallets give up:
//! `amount` for the user, `amount + fee` for the app.

use serde::{Deserialize, Serialize};

use crate::money::MAX_AMOUNT_MINOR;

/// Who pays a payout's fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FeeParty {
    /// The app's wallet pays the fee on top; the payee receives the whole amount.
    #[default]
    App,
    /// The fee comes out of the amount; the payee receives the rest.
    User,
}

impl FeeParty {
    pub const ALL: [FeeParty; 2] = [FeeParty::App, FeeParty::User];

    pub fn as_str(self) -> &'static str {
        match self {
            FeeParty::App => "app",
            FeeParty::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<FeeParty> {
        FeeParty::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The largest percentage part a schedule may name: 100 %.
pub const MAX_BPS: i64 = 10_000;

/// An app's payout fee schedule (set by the operator). All amounts are minor units
/// of the app's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeeSchedule {
    /// Charged on every payout.
    pub fixed: i64,
    /// Basis points of the amount (100 = 1 %), rounded half up to a minor unit.
    pub bps: i64,
    /// No payout's fee is below this.
    pub min: Option<i64>,
    /// No payout's fee is above this.
    pub max: Option<i64>,
}

/// Why a schedule is refused: which field, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub field: &'static str,
    pub message: &'static str,
}

impl FeeSchedule {
    /// A schedule is whole: every amount within 0 and the largest amount, `bps`
    /// within 0 and 10 000, and `min` at most `max`.
    pub fn check(&self) -> Result<(), ScheduleError> {
        let amount = |field, value: i64| {
            if (0..=MAX_AMOUNT_MINOR).contains(&value) {
                Ok(())
            } else {
                Err(ScheduleError { field, message: "must be between 0 and 1000000000000 minor units" })
            }
        };
        amount("fixed", self.fixed)?;
        if !(0..=MAX_BPS).contains(&self.bps) {
            return Err(ScheduleError { field: "bps", message: "must be between 0 and 10000 basis points" });
        }
        if let Some(min) = self.min {
            amount("min", min)?;
        }
        if let Some(max) = self.max {
            amount("max", max)?;
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min > max
        {
            return Err(ScheduleError { field: "min", message: "must not be above max" });
        }
        Ok(())
    }

    /// The fee of a payout of `amount` minor units (see the module's rule). For a
    /// checked schedule and an amount up to the largest amount it is never
    /// negative and never above `fixed + amount` or `max`.
    pub fn fee_for(&self, amount: i64) -> i64 {
        // In i64: amount × bps is at most 10^12 × 10^4 for checked input, far below
        // i64's 9.2 × 10^18 (saturating beyond); no i128 (the widget computes fees
        // too, and i128 division would cost it kilobytes).
        let scaled = amount.saturating_mul(self.bps);
        // Half up: add half the divisor before the (floor) division; amounts are positive.
        let percent = scaled.saturating_add(MAX_BPS / 2) / MAX_BPS;
        let mut fee = self.fixed.saturating_add(percent);
        if let Some(min) = self.min {
            fee = fee.max(min);
        }
        if let Some(max) = self.max {
            fee = fee.min(max);
        }
        fee
    }
}

/// A payout's fee, once worked out: how much and who pays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fee {
    pub amount: i64,
    pub party: FeeParty,
}

impl Fee {
    pub fn none(party: FeeParty) -> Fee {
        Fee { amount: 0, party }
    }

    /// What the payee receives of a payout of `amount`.
    pub fn net(&self, amount: i64) -> i64 {
        match self.party {
            FeeParty::App => amount,
            FeeParty::User => amount - self.amount,
        }
    }

    /// The fee the payee bears (nothing when the app pays it).
    pub fn paid_by_user(&self) -> i64 {
        match self.party {
            FeeParty::App => 0,
            FeeParty::User => self.amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn schedule() -> impl Strategy<Value = FeeSchedule> {
        let amount = 0..=MAX_AMOUNT_MINOR;
        (amount.clone(), 0..=MAX_BPS, proptest::option::of(amount.clone()), proptest::option::of(amount)).prop_map(
            |(fixed, bps, min, max)| {
                let (min, max) = match (min, max) {
                    (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                    other => other,
                };
                FeeSchedule { fixed, bps, min, max }
            },
        )
    }

    #[test]
    fn rounding_is_half_up_to_the_minor_unit() {
        let pct = |bps| FeeSchedule { bps, ..FeeSchedule::default() };
        // 1 % of 149 is 1.49 → 1; of 150 is 1.5 → 2; of 151 is 1.51 → 2.
        assert_eq!(pct(100).fee_for(149), 1);
        assert_eq!(pct(100).fee_for(150), 2);
        assert_eq!(pct(100).fee_for(151), 2);
        // 2.9 % + 30 of 10 000 (Stripe's card price): 290 + 30.
        assert_eq!(FeeSchedule { fixed: 30, bps: 290, ..FeeSchedule::default() }.fee_for(10_000), 320);
        // 0.25 % of 1 rounds to nothing; a minimum lifts it.
        assert_eq!(pct(25).fee_for(1), 0);
        assert_eq!(FeeSchedule { bps: 25, min: Some(5), ..FeeSchedule::default() }.fee_for(1), 5);
        // The maximum is applied last, above the fixed part too.
        assert_eq!(FeeSchedule { fixed: 500, bps: 100, max: Some(200), min: None }.fee_for(1_000_000), 200);
    }

    #[test]
    fn a_bad_schedule_names_its_field() {
        let bad = |s: FeeSchedule| s.check().unwrap_err().field;
        assert_eq!(bad(FeeSchedule { fixed: -1, ..FeeSchedule::default() }), "fixed");
        assert_eq!(bad(FeeSchedule { bps: 10_001, ..FeeSchedule::default() }), "bps");
        assert_eq!(bad(FeeSchedule { min: Some(-1), ..FeeSchedule::default() }), "min");
        assert_eq!(bad(FeeSchedule { max: Some(MAX_AMOUNT_MINOR + 1), ..FeeSchedule::default() }), "max");
        assert_eq!(bad(FeeSchedule { min: Some(10), max: Some(9), ..FeeSchedule::default() }), "min");
        assert_eq!(FeeSchedule { min: Some(10), max: Some(10), ..FeeSchedule::default() }.check(), Ok(()));
    }

    proptest! {
        /// The rule, restated with exact rational arithmetic: the percentage part is
        /// the nearest integer to amount × bps / 10 000 with halves up.
        #[test]
        fn fee_follows_the_stated_rule(s in schedule(), amount in 1..=MAX_AMOUNT_MINOR) {
            prop_assert!(s.check().is_ok());
            let fee = s.fee_for(amount);
            let exact = i128::from(amount) * i128::from(s.bps); // × 1/10 000
            let percent = fee_percent_part(exact);
            // percent − exact/10 000 lies in (−½, ½]: nearest, and exactly ½ only when rounding up.
            let diff = percent * 10_000 - exact;
            prop_assert!(diff > -5_000 && diff <= 5_000);
            let mut expected = i128::from(s.fixed) + percent;
            if let Some(min) = s.min { expected = expected.max(min.into()); }
            if let Some(max) = s.max { expected = expected.min(max.into()); }
            prop_assert_eq!(i128::from(fee), expected);
            prop_assert!(fee >= 0);
            if let Some(max) = s.max { prop_assert!(fee <= max); }
            prop_assert!(i128::from(fee) <= i128::from(s.fixed) + i128::from(amount) || s.min.is_some_and(|m| fee == m));
        }

        /// What a payer gives up is always fee + net, and neither part is negative
        /// when the payout is allowed (the payee receives something).
        #[test]
        fn fee_and_net_add_up(s in schedule(), amount in 1..=MAX_AMOUNT_MINOR, user_pays in any::<bool>()) {
            let party = if user_pays { FeeParty::User } else { FeeParty::App };
            let fee = Fee { amount: s.fee_for(amount), party };
            let net = fee.net(amount);
            match party {
                FeeParty::User => {
                    prop_assert_eq!(fee.amount + net, amount);
                    prop_assert_eq!(fee.paid_by_user(), fee.amount);
                }
                FeeParty::App => {
                    prop_assert_eq!(net, amount);
                    prop_assert_eq!(fee.paid_by_user(), 0);
                }
            }
            if net > 0 {
                prop_assert!(fee.amount >= 0 && fee.amount < amount || party == FeeParty::App);
            }
        }

        /// An exact half always rounds up: 50 % of an odd amount, 25 % of 2 mod 4.
        #[test]
        fn halves_round_up(k in 0..MAX_AMOUNT_MINOR / 4) {
            let pct = |bps| FeeSchedule { bps, ..FeeSchedule::default() };
            prop_assert_eq!(pct(5_000).fee_for(2 * k + 1), k + 1);
            prop_assert_eq!(pct(2_500).fee_for(4 * k + 2), k + 1);
        }

        /// More money never costs a smaller fee.
        #[test]
        fn fee_never_falls_as_the_amount_grows(s in schedule(), a in 1..=MAX_AMOUNT_MINOR, b in 1..=MAX_AMOUNT_MINOR) {
            let (low, high) = (a.min(b), a.max(b));
            prop_assert!(s.fee_for(low) <= s.fee_for(high));
        }
    }

    /// The nearest integer to `exact / 10 000`, halves up, found from the remainder
    /// rather than by the add-half-then-divide the code uses.
    fn fee_percent_part(exact: i128) -> i128 {
        let floor = exact / 10_000;
        let rest = exact - floor * 10_000;
        if rest * 2 >= 10_000 { floor + 1 } else { floor }
    }
}
