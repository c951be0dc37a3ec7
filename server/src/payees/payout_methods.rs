//! Where a payee's money goes: a bank account (ABA routing number with its
//! checksum), PayPal (email) or Venmo (phone). Details are sealed at rest and only
//! masked forms ever leave the server.

use dots_shared::ErrorCode;
use dots_shared::api;
use dots_shared::ids;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::contact::{Email, PhoneNumber};
use crate::error::{Error, TxResult};
pub use crate::rails::Destination;
use crate::secrets::Keys;
use crate::sms::mask_phone;
use crate::store::new_id;
pub use dots_shared::api::CreatePayoutMethodRequest;

/// A payee may keep this many methods at once.
pub const MAX_METHODS_PER_USER: i64 = 10;

impl Destination {
    pub fn kind(&self) -> &'static str {
        match self {
            Destination::Bank { .. } => "bank",
            Destination::Paypal { .. } => "paypal",
            Destination::Venmo { .. } => "venmo",
        }
    }

    pub fn validate(req: CreatePayoutMethodRequest) -> Result<Destination, Error> {
        let require = |value: Option<String>, field: &str| {
            value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                Error::invalid(ErrorCode::MissingField, field, format!("{field} is required for this type"))
            })
        };
        let refuse_extra = |fields: &[(&str, &Option<String>)]| -> Result<(), Error> {
            match fields.iter().find(|(_, v)| v.is_some()) {
                Some((name, _)) => {
                    Err(Error::invalid(ErrorCode::InvalidField, name, format!("{name} does not apply to this type")))
                }
                None => Ok(()),
            }
        };
        match req.kind.as_str() {
            "bank" => {
                refuse_extra(&[("email", &req.email), ("phone_number", &req.phone_number)])?;
                let routing = require(req.routing_number, "routing_number")?.trim().to_string();
                if !aba_checksum_ok(&routing) {
                    return Err(Error::invalid(
                        ErrorCode::InvalidRoutingNumber,
                        "routing_number",
                        "routing_number must be 9 digits with a valid ABA checksum",
                    ));
                }
                let account = require(req.account_number, "account_number")?.trim().to_string();
                if !(4..=17).contains(&account.len()) || !account.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::invalid(
                        ErrorCode::InvalidAccountNumber,
                        "account_number",
                        "account_number must be 4 to 17 digits",
                    ));
                }
                let account_type = req.account_type.unwrap_or_else(|| "checking".into());
                if !matches!(account_type.as_str(), "checking" | "savings") {
                    return Err(Error::invalid(
                        ErrorCode::InvalidAccountType,
                        "account_type",
                        "account_type must be checking or savings",
                    ));
                }
                Ok(Destination::Bank { routing_number: routing, account_number: account, account_type })
            }
            "paypal" => {
                refuse_extra(&[
                    ("routing_number", &req.routing_number),
                    ("account_number", &req.account_number),
                    ("phone_number", &req.phone_number),
                ])?;
                Ok(Destination::Paypal { email: Email::parse(&require(req.email, "email")?)? })
            }
            "venmo" => {
                refuse_extra(&[
                    ("routing_number", &req.routing_number),
                    ("account_number", &req.account_number),
                    ("email", &req.email),
                ])?;
                let phone = PhoneNumber::parse(&require(req.phone_number, "phone_number")?, Some("US"))?;
                Ok(Destination::Venmo { phone_number: phone })
            }
            _ => Err(Error::invalid(ErrorCode::InvalidType, "type", "type must be bank, paypal or venmo")),
        }
    }

    /// What may be shown, as kept in the `display` column: never a full account
    /// number, email or phone.
    pub fn masked_json(&self) -> String {
        let shown = match self {
            Destination::Bank { routing_number, account_number, account_type } => {
                serde_json::to_string(&api::MaskedBank {
                    routing_number: routing_number.clone(),
                    account_last4: account_number[account_number.len() - 4..].to_string(),
                    account_type: account_type.clone(),
                })
            }
            Destination::Paypal { email } => serde_json::to_string(&api::MaskedPaypal { email: mask_email(email) }),
            Destination::Venmo { phone_number } => {
                serde_json::to_string(&api::MaskedVenmo { phone_number: mask_phone(phone_number) })
            }
        };
        shown.unwrap_or_default()
    }
}

/// ABA routing numbers: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
pub fn aba_checksum_ok(routing: &str) -> bool {
    let digits: Vec<u32> = routing.chars().filter_map(|c| c.to_digit(10)).collect();
    if routing.len() != 9 || digits.len() != 9 || digits.iter().all(|d| *d == 0) {
        return false;
    }
    let sum: u32 = digits.chunks(3).map(|c| 3 * c[0] + 7 * c[1] + c[2]).sum();
    sum.is_multiple_of(10)
}

fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

#[derive(Debug, Clone)]
pub struct NewPayoutMethod {
    pub id: String,
    pub app_id: String,
    pub user_id: String,
    pub destination: Destination,
    pub sealed: String,
}

impl NewPayoutMethod {
    pub fn new(keys: &Keys, app_id: &str, user_id: &str, destination: Destination) -> NewPayoutMethod {
        let id = new_id(ids::PAYOUT_METHOD);
        let plain = serde_json::to_string(&destination).expect("destinations serialise");
        let sealed = keys.seal(&seal_context(&id), &plain);
        NewPayoutMethod { id, app_id: app_id.into(), user_id: user_id.into(), destination, sealed }
    }
}

pub fn seal_context(method_id: &str) -> String {
    format!("payout_method:{method_id}")
}

pub async fn create(conn: &mut AnyConnection, m: &NewPayoutMethod, now_ms: i64) -> TxResult<api::PayoutMethod> {
    crate::payees::users::wallet_of(conn, &m.app_id, &m.user_id).await?;
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM payout_methods WHERE user_id = $1 AND deleted_at IS NULL")
            .bind(&m.user_id)
            .fetch_one(&mut *conn)
            .await?;
    if count >= MAX_METHODS_PER_USER {
        return Err(Error::new(ErrorCode::TooManyPayoutMethods, "Delete a payout method before adding another.").into());
    }
    // Only the kinds the app pays to (a live app: those its server has a rail for).
    let allowed: String = sqlx::query_scalar("SELECT payout_method_types FROM apps WHERE id = $1")
        .bind(&m.app_id)
        .fetch_one(&mut *conn)
        .await?;
    let allowed: Vec<String> = serde_json::from_str(&allowed).unwrap_or_default();
    let kind = m.destination.kind();
    if !allowed.iter().any(|t| t == kind) {
        let words = |t: &str| match t {
            "bank" => "a bank account",
            "paypal" => "PayPal",
            _ => "Venmo",
        };
        let offered: Vec<&str> = allowed.iter().map(|t| words(t)).collect();
        return Err(Error::invalid(
            ErrorCode::PayoutMethodTypeNotAllowed,
            "type",
            format!("This business doesn't pay to {}; it pays to {}.", words(kind), offered.join(" or ")),
        )
        .into());
    }
    // A payee's first method is their default.
    sqlx::query(
        "INSERT INTO payout_methods (id, app_id, user_id, kind, details_encrypted, display, created_at, is_default)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&m.id)
    .bind(&m.app_id)
    .bind(&m.user_id)
    .bind(m.destination.kind())
    .bind(&m.sealed)
    .bind(m.destination.masked_json())
    .bind(now_ms)
    .bind(i64::from(count == 0))
    .execute(&mut *conn)
    .await?;
    let created = get(conn, &m.app_id, &m.user_id, &m.id).await?;
    // Where a payee's money goes changed: the app hears of it, with the masked method only.
    crate::events::record(conn, &m.app_id, crate::events::PAYOUT_METHOD_CREATED, &created, now_ms).await?;
    Ok(created)
}

fn from_row(row: &AnyRow) -> Result<api::PayoutMethod, Error> {
    let kind: String = row.try_get("kind")?;
    let display: String = row.try_get("display")?;
    let mut method = api::PayoutMethod {
        id: row.try_get("id")?,
        kind: kind.clone(),
        user_id: row.try_get("user_id")?,
        created_at: dots_shared::time::rfc3339_from_unix_ms(row.try_get("created_at")?),
        default: row.try_get::<i64, _>("is_default")? == 1,
        bank: None,
        paypal: None,
        venmo: None,
    };
    let bad = |e: serde_json::Error| Error::internal(format!("payout method {}: {e}", method.id));
    match kind.as_str() {
        "bank" => method.bank = Some(serde_json::from_str(&display).map_err(bad)?),
        "paypal" => method.paypal = Some(serde_json::from_str(&display).map_err(bad)?),
        "venmo" => method.venmo = Some(serde_json::from_str(&display).map_err(bad)?),
        other => return Err(Error::internal(format!("payout method {} of kind {other}", method.id))),
    }
    Ok(method)
}

pub fn not_found() -> Error {
    Error::new(ErrorCode::PayoutMethodNotFound, "No such payout method.")
}

pub async fn get(conn: &mut AnyConnection, app_id: &str, user_id: &str, id: &str) -> Result<api::PayoutMethod, Error> {
    let row = sqlx::query(
        "SELECT id, kind, user_id, display, created_at, is_default FROM payout_methods
         WHERE id = $1 AND user_id = $2 AND app_id = $3 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(user_id)
    .bind(app_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(not_found)?;
    from_row(&row)
}

/// The user's methods, newest first.
pub async fn list(conn: &mut AnyConnection, app_id: &str, user_id: &str) -> Result<Vec<api::PayoutMethod>, Error> {
    let rows = sqlx::query(
        "SELECT id, kind, user_id, display, created_at, is_default FROM payout_methods
         WHERE user_id = $1 AND app_id = $2 AND deleted_at IS NULL ORDER BY seq DESC",
    )
    .bind(user_id)
    .bind(app_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn delete(
    conn: &mut AnyConnection,
    app_id: &str,
    user_id: &str,
    id: &str,
    now_ms: i64,
) -> TxResult<api::Deleted> {
    // A deleted method is no one's default; no other is made default in its place
    // (a guess would pay wherever was added last): a payout names one, or the
    // payee's only method is taken.
    let deleted = sqlx::query(
        "UPDATE payout_methods SET deleted_at = $1, is_default = 0
         WHERE id = $2 AND user_id = $3 AND app_id = $4 AND deleted_at IS NULL",
    )
    .bind(now_ms)
    .bind(id)
    .bind(user_id)
    .bind(app_id)
    .execute(&mut *conn)
    .await?;
    if deleted.rows_affected() != 1 {
        return Err(not_found().into());
    }
    let data = serde_json::json!({"id": id, "user_id": user_id, "deleted": true});
    crate::events::record(conn, app_id, crate::events::PAYOUT_METHOD_DELETED, &data, now_ms).await?;
    Ok(api::Deleted { id: id.to_string(), deleted: true })
}

/// Makes method `id` the user's default (the one a payout without a method goes
/// to), in place of any other.
pub async fn make_default(
    conn: &mut AnyConnection,
    app_id: &str,
    user_id: &str,
    id: &str,
    now_ms: i64,
) -> TxResult<api::PayoutMethod> {
    get(conn, app_id, user_id, id).await?;
    sqlx::query("UPDATE payout_methods SET is_default = 0 WHERE user_id = $1 AND is_default = 1 AND id <> $2")
        .bind(user_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let changed = sqlx::query("UPDATE payout_methods SET is_default = 1 WHERE id = $1 AND is_default = 0")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let method = get(conn, app_id, user_id, id).await?;
    if changed.rows_affected() == 1 {
        crate::events::record(conn, app_id, crate::events::PAYOUT_METHOD_UPDATED, &method, now_ms).await?;
    }
    Ok(method)
}

/// The user's default method, if they have a live one.
pub async fn default_of(conn: &mut AnyConnection, user_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM payout_methods WHERE user_id = $1 AND is_default = 1 AND deleted_at IS NULL")
        .bind(user_id)
        .fetch_optional(conn)
        .await
}

/// The destination of one of the user's live methods, unsealed for a payout rail.
pub async fn destination(conn: &mut AnyConnection, keys: &Keys, user_id: &str, id: &str) -> Result<Destination, Error> {
    let sealed: String = sqlx::query_scalar(
        "SELECT details_encrypted FROM payout_methods WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| not_found().with_param("payout_method_id"))?;
    let plain = keys.open(&seal_context(id), &sealed).map_err(Error::internal)?;
    serde_json::from_str(&plain).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aba_checksums() {
        for good in ["011000015", "021000021", "121000358", "026009593"] {
            assert!(aba_checksum_ok(good), "{good}");
        }
        for bad in ["011000016", "12345678", "0110000150", "00000000a", "000000000"] {
            assert!(!aba_checksum_ok(bad), "{bad}");
        }
    }

    #[test]
    fn masks_hide_the_details() {
        let bank = Destination::Bank {
            routing_number: "011000015".into(),
            account_number: "000123456789".into(),
            account_type: "checking".into(),
        };
        let shown: serde_json::Value = serde_json::from_str(&bank.masked_json()).unwrap();
        assert_eq!(shown["account_last4"], "6789");
        assert!(!bank.masked_json().contains("123456789"));
        let paypal: serde_json::Value = serde_json::from_str(
            &Destination::Paypal { email: Email::parse("ada@example.com").unwrap() }.masked_json(),
        )
        .unwrap();
        assert_eq!(paypal["email"], "a***@example.com");
    }
}
