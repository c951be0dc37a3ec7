//! Money: an integer amount in a currency's minor units. Never a float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest amount one request may move: 10^12 minor units (ten billion dollars).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// The currencies Dots holds, with their minor-unit exponent (ISO 4217).
const CURRENCIES: &[(&str, u8)] =
    &[("USD", 2), ("EUR", 2), ("GBP", 2), ("CAD", 2), ("AUD", 2), ("MXN", 2), ("INR", 2), ("JPY", 0)];

/// A supported ISO 4217 currency. Only constructible from the supported list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(&'static str);

impl Currency {
    pub const USD: Currency = Currency("USD");

    /// Parses an upper-case ISO 4217 code; anything not in the supported list is refused.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        CURRENCIES.iter().find(|(c, _)| *c == code).map(|(c, _)| Currency(c)).ok_or(MoneyError::UnknownCurrency)
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    pub fn exponent(self) -> u8 {
        CURRENCIES.iter().find(|(c, _)| *c == self.0).map(|(_, e)| *e).unwrap_or(2)
    }

    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|(c, _)| Currency(c))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyError {
    /// Not a whole number, zero, negative, or above [`MAX_AMOUNT_MINOR`].
    InvalidAmount,
    UnknownCurrency,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::InvalidAmount => {
                write!(f, "amount must be a whole number of minor units between 1 and {MAX_AMOUNT_MINOR}")
            }
            MoneyError::UnknownCurrency => f.write_str("currency is not a supported ISO 4217 code"),
        }
    }
}

impl std::error::Error for MoneyError {}

/// A positive amount of minor units in one currency. Can only be built valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Money {
    amount: i64,
    currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Result<Money, MoneyError> {
        if (1..=MAX_AMOUNT_MINOR).contains(&amount) {
            Ok(Money { amount, currency })
        } else {
            Err(MoneyError::InvalidAmount)
        }
    }

    /// Validates a JSON number as it arrived on the wire: floats, fractions and
    /// integers out of range are refused rather than rounded.
    pub fn from_json(amount: &serde_json::Number, currency: Currency) -> Result<Money, MoneyError> {
        let minor = amount.as_i64().ok_or(MoneyError::InvalidAmount)?;
        Money::new(minor, currency)
    }

    /// What a person typed — `12`, `12.5`, `12,50`: digits, then a decimal point or
    /// comma and at most the currency's minor digits, no grouping — in minor units.
    /// Anything else is refused, never rounded or guessed (`1,000` is not a
    /// thousand here, nor a one: it has three decimals).
    pub fn from_typed(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let exponent = usize::from(currency.exponent());
        let text = text.trim();
        let (whole, fraction) = text.split_once(['.', ',']).unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let pointless = fraction.is_empty() && whole.len() < text.len();
        if whole.is_empty()
            || whole.len() > 13
            || !digits(whole)
            || !digits(fraction)
            || fraction.len() > exponent
            || pointless
        {
            return Err(MoneyError::InvalidAmount);
        }
        let padding = std::iter::repeat_n(b'0', exponent - fraction.len());
        let minor =
            whole.bytes().chain(fraction.bytes()).chain(padding).fold(0, |n: i64, b| n * 10 + i64::from(b - b'0'));
        Money::new(minor, currency)
    }

    pub fn amount(self) -> i64 {
        self.amount
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// The amount in major units as an exact decimal string: `1234.50`, `500` (JPY).
    /// For formatters that take decimal strings (`Intl.NumberFormat`), never a float.
    pub fn decimal(self) -> String {
        let exponent = u32::from(self.currency.exponent());
        let unit = 10_i64.pow(exponent);
        let (whole, minor) = (self.amount / unit, self.amount % unit);
        if exponent == 0 { whole.to_string() } else { format!("{whole}.{minor:0width$}", width = exponent as usize) }
    }

    /// For people: `$1,234.50`, `€12.00`, `¥500`, `1,000.00 MXN`; integer arithmetic only.
    pub fn display(self) -> String {
        Money::display_balance(self.amount, self.currency)
    }

    /// A balance or a total for people, as [`Money::display`] writes an amount, but
    /// zero too (`$0.00`) and below it (`-$5.00`).
    pub fn display_balance(amount: i64, currency: Currency) -> String {
        if amount < 0 {
            return format!("-{}", Money::display_balance(amount.saturating_neg(), currency));
        }
        let exponent = u32::from(currency.exponent());
        let unit = 10_i64.pow(exponent);
        let (whole, minor) = (amount / unit, amount % unit);
        let digits = whole.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let number =
            if exponent == 0 { grouped } else { format!("{grouped}.{minor:0width$}", width = exponent as usize) };
        match currency.code() {
            "USD" => format!("${number}"),
            "EUR" => format!("€{number}"),
            "GBP" => format!("£{number}"),
            "JPY" => format!("¥{number}"),
            code => format!("{number} {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn displays_amounts_for_people() {
        let usd = |a| Money::new(a, Currency::USD).unwrap().display();
        assert_eq!((usd(1), usd(1250), usd(123_456_789)), ("$0.01".into(), "$12.50".into(), "$1,234,567.89".into()));
        assert_eq!(Money::new(500, Currency::parse("JPY").unwrap()).unwrap().display(), "¥500");
        let balance = |a| Money::display_balance(a, Currency::USD);
        assert_eq!((balance(0), balance(-500), balance(7)), ("$0.00".into(), "-$5.00".into(), "$0.07".into()));
        assert_eq!(Money::new(100_000, Currency::parse("MXN").unwrap()).unwrap().display(), "1,000.00 MXN");
        assert_eq!((usd(123_456).len(), Money::new(123_456, Currency::USD).unwrap().decimal()), (9, "1234.56".into()));
        assert_eq!(Money::new(7, Currency::USD).unwrap().decimal(), "0.07");
        assert_eq!(Money::new(500, Currency::parse("JPY").unwrap()).unwrap().decimal(), "500");
    }

    #[test]
    fn typed_amounts_are_read_exactly_or_refused() {
        let usd = |text| Money::from_typed(text, Currency::USD).map(Money::amount);
        assert_eq!((usd("12"), usd(" 12.5 "), usd("12,50"), usd("0.07")), (Ok(1200), Ok(1250), Ok(1250), Ok(7)));
        for refused in ["", "12.", ".5", "1,000", "12.505", "1 000", "-5", "+5", "1e3", "0", "0.00", "12.5.0", "$12"] {
            assert_eq!(usd(refused), Err(MoneyError::InvalidAmount), "{refused:?}");
        }
        let yen = Currency::parse("JPY").unwrap();
        assert_eq!(
            (Money::from_typed("500", yen).map(Money::amount), Money::from_typed("500.5", yen)),
            (Ok(500), Err(MoneyError::InvalidAmount))
        );
        assert_eq!(usd("99999999999999"), Err(MoneyError::InvalidAmount), "fourteen digits");
        assert_eq!(usd("10000000000"), Ok(MAX_AMOUNT_MINOR));
        assert_eq!(usd("10000000000.01"), Err(MoneyError::InvalidAmount));
    }

    proptest! {
        /// Every amount reads back from its decimal, with a point or a comma; and
        /// whatever is typed is either refused or read as the amount it writes.
        #[test]
        fn typed_amounts_round_trip(minor in 1..=MAX_AMOUNT_MINOR, currency in prop::sample::select(Currency::all().collect::<Vec<_>>()), typed in "[0-9.,]{0,16}") {
            let money = Money::new(minor, currency).unwrap();
            prop_assert_eq!(Money::from_typed(&money.decimal(), currency), Ok(money));
            prop_assert_eq!(Money::from_typed(&money.decimal().replace('.', ","), currency), Ok(money));
            if let Ok(read) = Money::from_typed(&typed, currency) {
                let (whole, fraction) = typed.split_once(['.', ',']).unwrap_or((&typed, ""));
                let decimal = read.decimal();
                let (read_whole, read_fraction) = decimal.split_once('.').unwrap_or((&decimal, ""));
                prop_assert_eq!(whole.trim_start_matches('0'), read_whole.trim_start_matches('0'));
                prop_assert_eq!(read_fraction.trim_end_matches('0'), fraction.trim_end_matches('0'));
            }
        }
    }

    #[test]
    fn refuses_zero_negative_and_too_large_amounts() {
        assert_eq!(Money::new(0, Currency::USD), Err(MoneyError::InvalidAmount));
        assert_eq!(Money::new(-1, Currency::USD), Err(MoneyError::InvalidAmount));
        assert_eq!(Money::new(MAX_AMOUNT_MINOR + 1, Currency::USD), Err(MoneyError::InvalidAmount));
        assert!(Money::new(MAX_AMOUNT_MINOR, Currency::USD).is_ok());
    }

    #[test]
    fn json_floats_and_huge_integers_are_not_amounts() {
        let float: serde_json::Number = serde_json::from_str("12.5").unwrap();
        assert!(Money::from_json(&float, Currency::USD).is_err());
        let whole_float: serde_json::Number = serde_json::from_str("100.0").unwrap();
        assert!(Money::from_json(&whole_float, Currency::USD).is_err());
        let huge: serde_json::Number = serde_json::from_str("99999999999999999999999").unwrap();
        assert!(Money::from_json(&huge, Currency::USD).is_err());
    }

    #[test]
    fn currencies_are_exact_iso_codes() {
        assert_eq!(Currency::parse("USD").unwrap().code(), "USD");
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("XYZ").is_err());
    }

    proptest! {
        #[test]
        fn money_new_accepts_exactly_the_valid_range(amount in any::<i64>()) {
            let ok = Money::new(amount, Currency::USD).is_ok();
            prop_assert_eq!(ok, (1..=MAX_AMOUNT_MINOR).contains(&amount));
        }
    }
}
