//! Contact details as parsed values. A [`PhoneNumber`] (E.164) or an [`Email`]
//! exists only by parsing what someone wrote — once, where a request is validated —
//! or by reading back one that was stored after parsing. Domain structs hold these
//! types, so nothing downstream carries an unchecked number or address, and nothing
//! parses one again. Their `Debug` masks them: a value that reaches a log line
//! shows no one's full number or address.

use std::fmt;

use dots_shared::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A string made only by a parser (or read back from storage, where only parsed
/// values are written): the type and what every such type shares.
macro_rules! parsed_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// One read back from the database, where only parsed values are written.
            pub fn stored(text: String) -> $name {
                $name(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

parsed_text!(
    /// A phone number in E.164 form (`+14155550123`).
    PhoneNumber
);

parsed_text!(
    /// An email address, its domain lower-cased.
    Email
);

impl PhoneNumber {
    /// What someone wrote, normalised; `country_code` is a calling code (`1`, `+44`)
    /// or an ISO 3166 region (`US`) for national digits.
    pub fn parse(raw: &str, country_code: Option<&str>) -> Result<PhoneNumber, Error> {
        phone_number(raw, country_code).map(PhoneNumber)
    }
}

impl Email {
    pub fn parse(raw: &str) -> Result<Email, Error> {
        email(raw).map(Email)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = &self.0[self.0.len().saturating_sub(2)..];
        write!(f, "PhoneNumber(…{last})")
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.split_once('@').map_or("", |(_, d)| d);
        write!(f, "Email(…@{domain})")
    }
}

/// An email address by the WHATWG "valid email address" rule (what browsers
/// accept for `<input type=email>`): a local part of letters, digits and
/// ``.!#$%&'*+/=?^_`{|}~-``, an `@`, and a domain of dot-separated labels of
/// letters, digits and inner hyphens (at most 63 characters each). We also ask
/// for at least two labels (an address on the internet), at most 64 characters
/// before the `@` and 254 in all. Surrounding spaces are trimmed; the domain is
/// lower-cased. Deliverability is proven by sending, not by a grammar.
fn email(raw: &str) -> Result<String, Error> {
    let trimmed = raw.trim_matches(' ');
    let invalid = || Error::invalid(ErrorCode::InvalidEmail, "email", "email is not a valid address");
    let (local, domain) = trimmed.split_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b));
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let domain_ok = domain.split('.').count() >= 2 && domain.split('.').all(label_ok);
    if trimmed.len() > 254 || !local_ok || !domain_ok {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// How people write phone numbers: an optional leading `+`, then digits with
/// spaces, dots, hyphens, slashes and parentheses between them. Letters (vanity
/// numbers, extensions), a second `+` and anything else are refused before the
/// number is parsed, so what is stored is what the payee typed.
fn plausibly_written(raw: &str) -> bool {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'.' | b'-' | b'/' | b'(' | b')'))
}

/// Normalises to E.164 with the `phonenumber` crate. `country_code` is a calling
/// code (`1`, `+44`) or an ISO 3166 region (`US`) for national digits.
///
/// Numbers this process has already accepted are answered from memory: parsing and
/// validating one costs ~150,000 instructions, and the same number comes back (a
/// payout link's phone, then the payee typing it to get a code). Only accepted
/// numbers are kept, at most [`KNOWN_NUMBERS`], all forgotten when that is reached.
fn phone_number(raw: &str, country_code: Option<&str>) -> Result<String, Error> {
    let raw = raw.trim();
    let key = (raw.to_owned(), country_code.map(str::to_owned));
    if let Some(number) = known_numbers(|known| known.get(&key).cloned()) {
        return Ok(number);
    }
    let number = parse_phone_number(raw, country_code)?;
    known_numbers(|known| {
        if known.len() >= KNOWN_NUMBERS {
            known.clear();
        }
        known.insert(key, number.clone());
    });
    Ok(number)
}

/// How many accepted phone numbers [`phone_number`] remembers.
const KNOWN_NUMBERS: usize = 10_000;

/// (as written, country code) → E.164.
type KnownNumbers = std::collections::HashMap<(String, Option<String>), String>;

fn known_numbers<R>(f: impl FnOnce(&mut KnownNumbers) -> R) -> R {
    static KNOWN: std::sync::Mutex<Option<KnownNumbers>> = std::sync::Mutex::new(None);
    let mut known = KNOWN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f(known.get_or_insert_with(KnownNumbers::new))
}

fn parse_phone_number(raw: &str, country_code: Option<&str>) -> Result<String, Error> {
    let invalid = |why: &str| Error::invalid(ErrorCode::InvalidPhoneNumber, "phone_number", why.to_string());
    if raw.is_empty() || raw.len() > 32 || !plausibly_written(raw) {
        return Err(invalid("phone_number must be a phone number in E.164 form, e.g. +14155550123"));
    }
    let region = country_code.map(parse_country_code).transpose()?;
    let parsed = match (raw.starts_with('+'), region) {
        (true, _) => phonenumber::parse(None, raw),
        (false, Some(CountryCode::Calling(digits))) => phonenumber::parse(None, format!("+{digits}{raw}")),
        (false, Some(CountryCode::Region(region))) => phonenumber::parse(Some(region), raw),
        (false, None) => {
            return Err(invalid("phone_number must start with + and a country code, or come with country_code"));
        }
    };
    let number = parsed.map_err(|_| invalid("phone_number is not a phone number"))?;
    if !number.is_valid() {
        return Err(invalid("phone_number is not a valid number for its country"));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// An E.164 number written the international way (`+1 415-555-0141`), for the
/// person who typed it; the number itself when the library cannot format it.
pub fn international(e164: &str) -> String {
    phonenumber::parse(None, e164)
        .map(|n| n.format().mode(phonenumber::Mode::International).to_string())
        .unwrap_or_else(|_| e164.to_string())
}

enum CountryCode {
    Calling(String),
    Region(phonenumber::country::Id),
}

fn parse_country_code(code: &str) -> Result<CountryCode, Error> {
    let code = code.trim();
    let digits = code.trim_start_matches('+');
    if !digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(CountryCode::Calling(digits.to_string()));
    }
    if code.len() == 2
        && let Ok(region) = code.to_ascii_uppercase().parse::<phonenumber::country::Id>()
    {
        return Ok(CountryCode::Region(region));
    }
    Err(Error::invalid(
        ErrorCode::InvalidCountryCode,
        "country_code",
        "country_code must be a calling code such as 1 or an ISO 3166 region such as US",
    ))
}

/// An ISO 3166 alpha-2 region the phone library knows (`mx` → `MX`), for an app's
/// default country.
pub fn region(code: &str) -> Result<String, Error> {
    let upper = code.trim().to_ascii_uppercase();
    match parse_country_code(&upper) {
        Ok(CountryCode::Region(_)) => Ok(upper),
        _ => Err(Error::invalid(
            ErrorCode::InvalidCountryCode,
            "default_country",
            "default_country must be an ISO 3166 region such as US",
        )),
    }
}

/// Loads the phone-number metadata now, so the first user request does not pay for it.
pub fn warm_up() {
    let _ = phone_number("+14155552671", None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(phone_number("+1 415 555 2671", None).unwrap(), "+14155552671");
        assert_eq!(phone_number("4155552671", Some("1")).unwrap(), "+14155552671");
        assert_eq!(phone_number("(415) 555-2671", Some("US")).unwrap(), "+14155552671");
        assert_eq!(phone_number("020 7946 0958", Some("GB")).unwrap(), "+442079460958");
    }

    #[test]
    fn numbers_are_written_back_the_international_way() {
        assert_eq!(international("+14155552671"), "+1 415-555-2671");
        assert_eq!(international("+442079460958"), "+44 20 7946 0958");
        assert_eq!(international(&phone_number("55 1234 5678", Some("MX")).unwrap()), "+52 55 1234 5678");
    }

    #[test]
    fn a_remembered_number_answers_as_parsing_would() {
        for _ in 0..3 {
            assert_eq!(phone_number("(201) 555-0141", Some("US")).unwrap(), "+12015550141");
            assert_eq!(phone_number(" +1 201 555 0141 ", None).unwrap(), "+12015550141");
            // Accepted with a country code is no reason to accept it without one,
            // and refusals are never remembered as answers.
            assert_eq!(phone_number("(201) 555-0141", None).unwrap_err().code.as_str(), "invalid_phone_number");
            assert_eq!(phone_number("+1 201 555 014", None).unwrap_err().code.as_str(), "invalid_phone_number");
        }
    }

    #[test]
    fn bad_phone_numbers_name_the_field() {
        for (raw, cc) in [("12", None), ("4155552671", None), ("+1 000", None), ("hello", Some("US"))] {
            let e = phone_number(raw, cc).unwrap_err();
            assert_eq!((e.code.as_str(), e.param.as_deref()), ("invalid_phone_number", Some("phone_number")), "{raw}");
        }
        assert_eq!(phone_number("4155552671", Some("ZZZ")).unwrap_err().code.as_str(), "invalid_country_code");
    }

    #[test]
    fn emails_are_checked_plainly() {
        assert_eq!(email(" Ada@Example.COM ").unwrap(), "Ada@example.com");
        for bad in ["", "ada", "ada@", "@x.io", "ada@x", "a da@x.io", "ada@x..io", "ada@@x.io"] {
            assert_eq!(email(bad).unwrap_err().code.as_str(), "invalid_email", "{bad}");
        }
        // The WHATWG rule: no angle brackets, quotes, spaces or non-ASCII; labels
        // neither start nor end with a hyphen.
        for bad in ["<a>@example.com", "<script>@example.com", "a\"b@example.com", "ada@-x.io", "ada@x-.io", "zoë@x.io"]
        {
            assert_eq!(email(bad).unwrap_err().code.as_str(), "invalid_email", "{bad}");
        }
        for good in ["a.b+tag@sub.example.co", "o'neil@example.ie", "x_y!#$%&'*/=?^`{|}~-@e-x.io"] {
            assert!(email(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn phone_numbers_are_refused_unless_written_as_people_write_them() {
        for bad in ["++14155552671", "+1 415 FLOWERS", "+1415555267l", "+1-415-555-2671 ext 2", "+(1)+4155552671"] {
            assert_eq!(phone_number(bad, None).unwrap_err().code.as_str(), "invalid_phone_number", "{bad}");
        }
        for good in ["+1 (415) 555-2671", "+1.415.555.2671", "+1 415 555 2671"] {
            assert!(phone_number(good, None).is_ok(), "{good}");
        }
        assert_eq!(phone_number("(201) 555-0141", Some("US")).unwrap(), "+12015550141");
    }

    #[test]
    fn parsed_values_do_not_show_in_full_when_debugged() {
        let phone = PhoneNumber::parse("+1 415 555 2671", None).unwrap();
        assert_eq!((phone.as_str(), format!("{phone:?}")), ("+14155552671", "PhoneNumber(…71)".to_string()));
        let email = Email::parse("Ada@Example.com").unwrap();
        assert_eq!((email.as_str(), format!("{email:?}")), ("Ada@example.com", "Email(…@example.com)".to_string()));
        assert_eq!(serde_json::to_string(&phone).unwrap(), "\"+14155552671\"");
    }
}
