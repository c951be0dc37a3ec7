//! A payee's compliance record: legal name, date of birth, address, tax id (sealed
//! at rest; only its last four ever leave), KYC and ID-verification states, and the
//! app's rule for what a payout needs.

pub use dots_shared::api::{Address, ComplianceRequest};
use dots_shared::time::{parse_date, rfc3339_from_unix_ms, start_of_year_ms};
use dots_shared::{ErrorCode, api};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::error::{Error, TxResult};
use crate::secrets::Keys;

const STATUSES: &[&str] = &["not_started", "pending", "verified", "rejected"];

/// Validated changes; the tax id is already sealed for its row.
#[derive(Debug, Clone, Default)]
pub struct ComplianceUpdate {
    pub app_id: String,
    pub user_id: String,
    pub legal_first_name: Option<String>,
    pub legal_last_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub address: Option<String>,
    pub tax_id_sealed: Option<(String, String)>,
    pub kyc_status: Option<String>,
    pub id_verification_status: Option<String>,
}

pub fn seal_context(user_id: &str) -> String {
    format!("tax_id:{user_id}")
}

impl ComplianceUpdate {
    /// `today_ms` bounds the date of birth: a payee is at least 13 and born after 1900.
    pub fn validate(
        keys: &Keys,
        app_id: &str,
        user_id: &str,
        req: ComplianceRequest,
        today_ms: i64,
    ) -> Result<Self, Error> {
        let text = |value: Option<String>, field: &str| -> Result<Option<String>, Error> {
            match value.map(|v| v.trim().to_string()) {
                Some(v) if v.is_empty() || v.chars().count() > 100 || v.chars().any(char::is_control) => {
                    Err(Error::invalid(
                        ErrorCode::InvalidField,
                        field,
                        format!("{field} must be 1 to 100 printable characters"),
                    ))
                }
                other => Ok(other),
            }
        };
        let date_of_birth = match req.date_of_birth {
            None => None,
            Some(d) => {
                let (year, ..) = parse_date(&d).ok_or_else(|| {
                    Error::invalid(ErrorCode::InvalidDateOfBirth, "date_of_birth", "date_of_birth must be YYYY-MM-DD")
                })?;
                let this_year: i64 = rfc3339_from_unix_ms(today_ms)[..4].parse().unwrap_or(2026);
                if year < 1900 || year > this_year - 13 {
                    return Err(Error::invalid(
                        ErrorCode::InvalidDateOfBirth,
                        "date_of_birth",
                        "date_of_birth is not plausible",
                    ));
                }
                Some(d)
            }
        };
        let address = match req.address {
            None => None,
            Some(a) => {
                for (field, value) in
                    [("address.line1", &a.line1), ("address.city", &a.city), ("address.postal_code", &a.postal_code)]
                {
                    if value.trim().is_empty() || value.len() > 200 {
                        return Err(Error::invalid(ErrorCode::InvalidAddress, field, format!("{field} is required")));
                    }
                }
                if a.country.len() != 2 || !a.country.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(Error::invalid(
                        ErrorCode::InvalidAddress,
                        "address.country",
                        "address.country must be ISO 3166 alpha-2, e.g. US",
                    ));
                }
                Some(serde_json::to_string(&a).map_err(Error::internal)?)
            }
        };
        let tax_id_sealed = match req.tax_id {
            None => None,
            Some(t) => {
                let digits: String = t.chars().filter(|c| *c != '-' && *c != ' ').collect();
                if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.bytes().all(|b| b == b'0')
                {
                    return Err(Error::invalid(
                        ErrorCode::InvalidTaxId,
                        "tax_id",
                        "tax_id must be 9 digits (SSN, ITIN or EIN)",
                    ));
                }
                Some((keys.seal(&seal_context(user_id), &digits), digits[5..].to_string()))
            }
        };
        let status = |value: Option<String>, field: &str| match value {
            Some(v) if !STATUSES.contains(&v.as_str()) => Err(Error::invalid(
                ErrorCode::InvalidStatus,
                field,
                format!("{field} must be one of {}", STATUSES.join(", ")),
            )),
            other => Ok(other),
        };
        Ok(ComplianceUpdate {
            app_id: app_id.into(),
            user_id: user_id.into(),
            legal_first_name: text(req.legal_first_name, "legal_first_name")?,
            legal_last_name: text(req.legal_last_name, "legal_last_name")?,
            date_of_birth,
            address,
            tax_id_sealed,
            kyc_status: status(req.kyc_status, "kyc_status")?,
            id_verification_status: status(req.id_verification_status, "id_verification_status")?,
        })
    }
}

/// Applies the given fields and leaves the others as they were.
pub async fn update(conn: &mut AnyConnection, u: &ComplianceUpdate, now_ms: i64) -> TxResult<api::Compliance> {
    crate::payees::users::wallet_of(conn, &u.app_id, &u.user_id).await?;
    sqlx::query(
        "INSERT INTO compliance (user_id, app_id, updated_at) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(&u.user_id)
    .bind(&u.app_id)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let (tax_sealed, tax_last4) = u.tax_id_sealed.clone().unzip();
    sqlx::query(
        "UPDATE compliance SET
            legal_first_name = COALESCE($1, legal_first_name),
            legal_last_name = COALESCE($2, legal_last_name),
            date_of_birth = COALESCE($3, date_of_birth),
            address = COALESCE($4, address),
            tax_id_encrypted = COALESCE($5, tax_id_encrypted),
            tax_id_last4 = COALESCE($6, tax_id_last4),
            kyc_status = COALESCE($7, kyc_status),
            id_verification_status = COALESCE($8, id_verification_status),
            updated_at = $9
         WHERE user_id = $10",
    )
    .bind(&u.legal_first_name)
    .bind(&u.legal_last_name)
    .bind(&u.date_of_birth)
    .bind(&u.address)
    .bind(tax_sealed)
    .bind(tax_last4)
    .bind(&u.kyc_status)
    .bind(&u.id_verification_status)
    .bind(now_ms)
    .bind(&u.user_id)
    .execute(&mut *conn)
    .await?;
    Ok(get(conn, &u.app_id, &u.user_id, now_ms).await?)
}

/// What the payee's own widget is shown: whether the date of birth and address are
/// filled in, never the values (they were typed on this device, and a session
/// token is not the app's credentials).
pub fn for_payee(record: api::Compliance) -> api::PayeeCompliance {
    api::PayeeCompliance {
        date_of_birth: record.date_of_birth.is_some(),
        address: record.address.is_some(),
        user_id: record.user_id,
        legal_first_name: record.legal_first_name,
        legal_last_name: record.legal_last_name,
        tax_id_last4: record.tax_id_last4,
        kyc_status: record.kyc_status,
        id_verification_status: record.id_verification_status,
        requirements: record.requirements,
        updated_at: record.updated_at,
    }
}

/// The record as the API shows it, with what the app's rule still requires.
pub async fn get(conn: &mut AnyConnection, app_id: &str, user_id: &str, now_ms: i64) -> Result<api::Compliance, Error> {
    crate::payees::users::wallet_of(conn, app_id, user_id).await?;
    let row = sqlx::query(
        "SELECT legal_first_name, legal_last_name, date_of_birth, address, tax_id_last4, kyc_status,
                id_verification_status, updated_at FROM compliance WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let tax_id_required = tax_id_required(conn, app_id, user_id, 0, now_ms).await?;
    let Some(row) = row else {
        return Ok(api::Compliance {
            user_id: user_id.to_string(),
            legal_first_name: None,
            legal_last_name: None,
            date_of_birth: None,
            address: None,
            tax_id_last4: None,
            kyc_status: "not_started".into(),
            id_verification_status: "not_started".into(),
            requirements: api::ComplianceRequirements { tax_id: tax_id_required },
            updated_at: None,
        });
    };
    let address: Option<String> = row.try_get("address")?;
    let last4: Option<String> = row.try_get("tax_id_last4")?;
    Ok(api::Compliance {
        user_id: user_id.to_string(),
        legal_first_name: row.try_get("legal_first_name")?,
        legal_last_name: row.try_get("legal_last_name")?,
        date_of_birth: row.try_get("date_of_birth")?,
        address: address.and_then(|a| serde_json::from_str::<Value>(&a).ok()),
        requirements: api::ComplianceRequirements { tax_id: tax_id_required && last4.is_none() },
        tax_id_last4: last4,
        kyc_status: row.try_get("kyc_status")?,
        id_verification_status: row.try_get("id_verification_status")?,
        updated_at: Some(rfc3339_from_unix_ms(row.try_get("updated_at")?)),
    })
}

/// The app's rule: a tax id is required once the user's payouts this calendar year
/// (those not failed, canceled or reversed), plus `amount`, exceed the app's
/// `tax_id_threshold`.
pub async fn tax_id_required(
    conn: &mut AnyConnection,
    app_id: &str,
    user_id: &str,
    amount: i64,
    now_ms: i64,
) -> Result<bool, Error> {
    let threshold: Option<i64> = sqlx::query_scalar("SELECT tax_id_threshold FROM apps WHERE id = $1")
        .bind(app_id)
        .fetch_one(&mut *conn)
        .await?;
    let Some(threshold) = threshold else { return Ok(false) };
    let paid: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM transfers
         WHERE user_id = $1 AND kind = 'payout' AND created_at >= $2 AND status NOT IN ('failed', 'canceled', 'reversed')",
    )
    .bind(user_id)
    .bind(start_of_year_ms(now_ms))
    .fetch_one(&mut *conn)
    .await?;
    Ok(paid + amount > threshold)
}

/// Refuses a payout the app's rule does not allow yet.
pub async fn require_for_payout(
    conn: &mut AnyConnection,
    app_id: &str,
    user_id: &str,
    amount: i64,
    now_ms: i64,
) -> TxResult<()> {
    if !tax_id_required(conn, app_id, user_id, amount, now_ms).await? {
        return Ok(());
    }
    let has_tax_id: Option<String> = sqlx::query_scalar("SELECT tax_id_last4 FROM compliance WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
    if has_tax_id.is_none() {
        return Err(Error::new(
            ErrorCode::ComplianceRequired,
            "This payout needs the payee's tax id first (PUT …/compliance).",
        )
        .with_param("tax_id")
        .into());
    }
    Ok(())
}
