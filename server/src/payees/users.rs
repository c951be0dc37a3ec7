//! Users are an app's payees: each gets a wallet at creation.

use dots_shared::ErrorCode;
use dots_shared::api::{self, CreateUserRequest, List};
use dots_shared::time::rfc3339_from_unix_ms;
use dots_shared::{Currency, ids};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::apps::AuthedApp;
use crate::error::{Error, TxResult};
use crate::events;
use crate::lists::{Listed, Page};
use crate::store::{is_unique_violation, new_id};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub app_id: String,
    pub currency: Currency,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// E.164.
    pub phone_number: String,
}

impl NewUser {
    pub fn validate(app: &AuthedApp, req: CreateUserRequest) -> Result<NewUser, Error> {
        Ok(NewUser {
            app_id: app.id.clone(),
            currency: app.currency,
            first_name: name(&req.first_name, "first_name")?,
            last_name: name(&req.last_name, "last_name")?,
            email: email(&req.email)?,
            phone_number: phone_number(&req.phone_number, req.country_code.as_deref())?,
        })
    }
}

fn name(raw: &str, field: &str) -> Result<String, Error> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(
            ErrorCode::InvalidName,
            field,
            format!("{field} must be 1 to 100 printable characters"),
        ));
    }
    Ok(trimmed.to_string())
}

/// An email address by the WHATWG "valid email address" rule (what browsers
/// accept for `<input type=email>`): a local part of letters, digits and
/// ``.!#$%&'*+/=?^_`{|}~-``, an `@`, and a domain of dot-separated labels of
/// letters, digits and inner hyphens (at most 63 characters each). We also ask
/// for at least two labels (an address on the internet), at most 64 characters
/// before the `@` and 254 in all. Surrounding spaces are trimmed; the domain is
/// lower-cased. Deliverability is proven by sending, not by a grammar.
pub fn email(raw: &str) -> Result<String, Error> {
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
pub fn phone_number(raw: &str, country_code: Option<&str>) -> Result<String, Error> {
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

/// Loads the phone-number metadata now, so the first user request does not pay for it.
pub fn warm_up() {
    let _ = phone_number("+14155552671", None);
}

/// Creates the user and their wallet (the flow API creates payees this way too).
pub async fn insert(conn: &mut AnyConnection, user: &NewUser, now_ms: i64) -> TxResult<api::User> {
    let id = new_id(ids::USER);
    let wallet_id = new_id(ids::WALLET);
    sqlx::query(
        "INSERT INTO accounts (id, kind, app_id, user_id, currency, balance, created_at)
         VALUES ($1, 'user_wallet', $2, $3, $4, 0, $5)",
    )
    .bind(&wallet_id)
    .bind(&user.app_id)
    .bind(&id)
    .bind(user.currency.code())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, app_id, first_name, last_name, email, phone_number, wallet_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&user.app_id)
    .bind(&user.first_name)
    .bind(&user.last_name)
    .bind(&user.email)
    .bind(&user.phone_number)
    .bind(&wallet_id)
    .bind(now_ms)
    .execute(&mut *conn)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::new(ErrorCode::PhoneNumberTaken, "This app already has a user with that phone number.")
                .with_param("phone_number")
                .into());
        }
        other => other?,
    };
    let created = get(conn, &user.app_id, &id).await?;
    events::record(conn, &user.app_id, events::USER_CREATED, &created, now_ms).await?;
    Ok(created)
}

const USER_COLUMNS: &str = "u.id, u.first_name, u.last_name, u.email, u.phone_number, u.phone_verified_at,
    u.created_at, u.wallet_id, a.balance, a.currency,
    (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM transfers t
      WHERE t.user_id = u.id AND t.kind = 'payout' AND t.status IN ('created', 'flagged', 'pending')) AS pending";

fn user_from_row(row: &AnyRow) -> Result<api::User, sqlx::Error> {
    Ok(api::User {
        id: row.try_get("id")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        email: row.try_get("email")?,
        phone_number: row.try_get("phone_number")?,
        phone_verified: row.try_get::<Option<i64>, _>("phone_verified_at")?.is_some(),
        wallet: api::Wallet {
            id: row.try_get("wallet_id")?,
            available: row.try_get("balance")?,
            pending: row.try_get("pending")?,
            currency: row.try_get("currency")?,
        },
        created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
    })
}

pub fn not_found() -> Error {
    crate::ledger::user_not_found()
}

/// One of `app_id`'s users; another app's user is `user_not_found` too.
pub async fn get(conn: &mut AnyConnection, app_id: &str, user_id: &str) -> Result<api::User, Error> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u JOIN accounts a ON a.id = u.wallet_id WHERE u.id = $1 AND u.app_id = $2"
    );
    let row = sqlx::query(&sql).bind(user_id).bind(app_id).fetch_optional(conn).await?;
    let row = row.ok_or_else(not_found)?;
    Ok(user_from_row(&row)?)
}

pub async fn list(conn: &mut AnyConnection, app_id: &str, page: &Page) -> Result<List<api::User>, Error> {
    let before = page.cursor_seq(conn, Listed::Users, app_id).await?;
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u JOIN accounts a ON a.id = u.wallet_id
         WHERE u.app_id = $1 AND u.seq < $2 ORDER BY u.seq DESC LIMIT $3"
    );
    let rows = sqlx::query(&sql).bind(app_id).bind(before).bind(page.limit() + 1).fetch_all(conn).await?;
    let users = rows.iter().map(user_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(page.finish(users))
}

/// Records that the user proved their phone number, once, and announces it.
pub async fn mark_verified(conn: &mut AnyConnection, app_id: &str, user_id: &str, now_ms: i64) -> TxResult<api::User> {
    let marked = sqlx::query(
        "UPDATE users SET phone_verified_at = $1 WHERE id = $2 AND app_id = $3 AND phone_verified_at IS NULL",
    )
    .bind(now_ms)
    .bind(user_id)
    .bind(app_id)
    .execute(&mut *conn)
    .await?;
    let user = get(conn, app_id, user_id).await?;
    if marked.rows_affected() == 1 {
        events::record(conn, app_id, events::USER_VERIFIED, &user, now_ms).await?;
    }
    Ok(user)
}

/// The user's id and wallet, or `user_not_found` (also for another app's user).
pub async fn wallet_of(conn: &mut AnyConnection, app_id: &str, user_id: &str) -> Result<String, Error> {
    crate::ledger::user_wallet(conn, app_id, user_id).await
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
}
