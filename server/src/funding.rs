//! Funding a live app (issue 19, part 4). A test app's refill is the sandbox's
//! money, complete at once. A live app's wallet fills only from its funding
//! account — a bank account the operator registers for it, details sealed — by
//! ACH debit:
//!
//! - **Proven by a pre-note.** A new (or replaced) account is `unverified`; the next
//!   cut-off sends a zero-dollar debit pre-note to it (`prenote_sent`); when the file
//!   holding it settles with no return for it the account is `verified`, and a
//!   return (R03 no such account, …) makes it `failed`. (Micro-deposits would need
//!   the app to type amounts back; a pre-note needs nobody.)
//! - **A refill is pending until its debit settles.** `POST /v2/refills` from a live
//!   app with a verified account makes a `pending` refill with no money in the wallet;
//!   the next cut-off debits it in the file's CCD batch; settlement completes it and
//!   only then is the money available. A debit returned before that fails the
//!   refill, and nothing was ever available.
//! - **A debit returned after settlement** (the one rule): the refill is reversed —
//!   its money leaves the app's wallet — if the wallet still holds it. If it does not
//!   (the money was paid out meanwhile), the refill stays `completed`, the return is
//!   recorded on its ACH entry, and the app is suspended with the shortfall in the
//!   reason: no more money leaves it until the operator has it repaid and resumes it.
//!   No wallet ever goes below zero. `DOTS_ACH_SETTLE_DAYS` (default 2 banking days)
//!   should cover the bank's usual return window so that this stays rare.

use dots_shared::api::{self, CreatePayoutMethodRequest, FundingAccount, FundingAccountRequest};
use dots_shared::time::rfc3339_from_unix_ms;
use dots_shared::{ErrorCode, Money};
use sqlx::{AnyConnection, Row};

use crate::error::{Error, TxResult};
use crate::rails::Destination;
use crate::secrets::Keys;

/// A funding account as registered: its details checked like a payee's bank
/// account's.
pub struct NewFundingAccount {
    pub app_id: String,
    pub bank: Destination,
    pub holder_name: String,
}

impl NewFundingAccount {
    pub fn validate(app_id: String, req: FundingAccountRequest) -> Result<NewFundingAccount, Error> {
        let bank = Destination::validate(CreatePayoutMethodRequest {
            kind: "bank".into(),
            routing_number: Some(req.routing_number),
            account_number: Some(req.account_number),
            account_type: req.account_type,
            email: None,
            phone_number: None,
        })?;
        let holder_name = req.holder_name.trim().to_string();
        if holder_name.is_empty() || holder_name.chars().count() > 100 {
            return Err(Error::invalid(
                ErrorCode::InvalidField,
                "holder_name",
                "holder_name must be 1 to 100 characters",
            ));
        }
        Ok(NewFundingAccount { app_id, bank, holder_name })
    }
}

fn seal_context(app_id: &str) -> String {
    format!("funding_account:{app_id}")
}

pub fn not_found() -> Error {
    Error::new(ErrorCode::FundingAccountNotFound, "This app has no funding account.")
}

/// Registers (or replaces) a live app's funding account: `unverified`, its pre-note
/// in the next file. A test app has none (`live_apps_only`).
pub async fn register(
    conn: &mut AnyConnection,
    keys: &Keys,
    account: &NewFundingAccount,
    now_ms: i64,
) -> TxResult<FundingAccount> {
    let mode: Option<String> = sqlx::query_scalar("SELECT mode FROM apps WHERE id = $1")
        .bind(&account.app_id)
        .fetch_optional(&mut *conn)
        .await?;
    match mode.as_deref() {
        None => return Err(crate::apps::not_found().into()),
        Some("live") => {}
        Some(_) => {
            return Err(Error::new(
                ErrorCode::LiveAppsOnly,
                "A test app is refilled with the sandbox's money; only a live app has a funding account.",
            )
            .into());
        }
    }
    let details = serde_json::to_string(&account.bank).map_err(Error::internal)?;
    let sealed = keys.seal(&seal_context(&account.app_id), &details);
    sqlx::query(
        "INSERT INTO funding_accounts (app_id, details_encrypted, display, holder_name, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'unverified', $5, $5)
         ON CONFLICT (app_id) DO UPDATE SET details_encrypted = excluded.details_encrypted, display = excluded.display,
           holder_name = excluded.holder_name, status = 'unverified', prenote_trace = NULL, return_code = NULL,
           verified_at = NULL, updated_at = excluded.updated_at",
    )
    .bind(&account.app_id)
    .bind(&sealed)
    .bind(account.bank.masked_json())
    .bind(&account.holder_name)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(get(conn, &account.app_id).await?)
}

/// The app's funding account, as shown (never its full account number).
pub async fn get(conn: &mut AnyConnection, app_id: &str) -> Result<FundingAccount, Error> {
    let row = sqlx::query(
        "SELECT display, holder_name, status, return_code, verified_at, created_at, updated_at
         FROM funding_accounts WHERE app_id = $1",
    )
    .bind(app_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    let code: Option<String> = row.try_get("return_code")?;
    Ok(FundingAccount {
        app_id: app_id.to_string(),
        bank: serde_json::from_str(&row.try_get::<String, _>("display")?).map_err(Error::internal)?,
        holder_name: row.try_get("holder_name")?,
        status: row.try_get("status")?,
        returned: code.map(|code| api::RailReturn {
            meaning: crate::ach::return_meaning(&code).unwrap_or("Returned by the bank").to_string(),
            code,
        }),
        verified_at: row.try_get::<Option<i64>, _>("verified_at")?.map(rfc3339_from_unix_ms),
        created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
        updated_at: rfc3339_from_unix_ms(row.try_get("updated_at")?),
    })
}

/// The account's bank details and holder, to debit it.
pub async fn details(conn: &mut AnyConnection, keys: &Keys, app_id: &str) -> Result<(Destination, String), Error> {
    let row = sqlx::query("SELECT details_encrypted, holder_name FROM funding_accounts WHERE app_id = $1")
        .bind(app_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(not_found)?;
    let plain =
        keys.open(&seal_context(app_id), &row.try_get::<String, _>("details_encrypted")?).map_err(Error::internal)?;
    Ok((serde_json::from_str(&plain).map_err(Error::internal)?, row.try_get("holder_name")?))
}

/// A live app may refill only from a verified funding account.
pub async fn require_verified(conn: &mut AnyConnection, app_id: &str) -> Result<(), Error> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM funding_accounts WHERE app_id = $1")
        .bind(app_id)
        .fetch_optional(&mut *conn)
        .await?;
    match status.as_deref() {
        Some("verified") => Ok(()),
        None => Err(Error::new(
            ErrorCode::FundingAccountRequired,
            "A live app's wallet is refilled by bank debit from its funding account, and this app has none yet: \
             ask the operator to register it.",
        )),
        Some("failed") => Err(Error::new(
            ErrorCode::FundingAccountUnverified,
            "The bank refused this app's funding account; the operator must register another.",
        )),
        Some(_) => Err(Error::new(
            ErrorCode::FundingAccountUnverified,
            "This app's funding account is being verified by its bank (a pre-note); refills can be made once it is.",
        )),
    }
}

/// The reason an app is suspended for a debit returned after its money was spent.
pub fn shortfall_reason(money: Money, code: &str, refill_id: &str) -> String {
    format!(
        "The bank returned the debit of {} for refill {refill_id} ({code}: {}) after its money was spent; payouts \
         are paused until it is repaid.",
        money.display(),
        crate::ach::return_meaning(code).unwrap_or("returned")
    )
}
