//! One-time codes: 6 digits, stored as a keyed hash, valid 10 minutes, at most 5
//! tries, a resend cool-down, and rate limits per destination and per client
//! address. A code belongs to one subject (a user, or a flow) and one destination:
//! it verifies nothing else.

use dots_shared::ErrorCode;
use dots_shared::ids;
use sqlx::{AnyConnection, Row};

use crate::error::{Error, TxResult};
use crate::limits::{Limit, rate_limits};
use crate::secrets::{Keys, numeric_code};
use crate::sms::mask_phone;
use crate::store::new_id;

pub const CODE_DIGITS: u32 = 6;
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;
pub const MAX_ATTEMPTS: i64 = 5;
pub const RESEND_COOLDOWN_MS: i64 = 30 * 1000;
const HOUR_MS: i64 = 3600 * 1000;
/// Codes one phone may be sent by one app in an hour (the app's users cannot
/// exhaust another app's budget for the same phone)…
pub const SENDS_PER_DESTINATION_PER_HOUR: i64 = 5;
/// …and by all apps together: the ceiling that keeps a phone from being flooded.
pub const SENDS_PER_DESTINATION_ALL_APPS_PER_HOUR: i64 = 15;
/// Codes one subject (a flow session, or a user through the API) may ask for in
/// an hour, whatever the phones: a session of an email-only link can type any.
pub const SENDS_PER_SUBJECT_PER_HOUR: i64 = 10;

/// A code about to be sent: only its hash goes to the database.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub id: String,
    pub app_id: String,
    /// `user:<id>` or `flow:<id>`.
    pub subject: String,
    /// E.164 phone number.
    pub destination: String,
    pub code_hash: String,
    /// The caller's network address and its hourly limit (flow API only).
    pub client: Option<(String, i64)>,
    /// The payee typed the number in this request: the answer writes it back.
    pub typed: bool,
}

impl NewCode {
    /// The new code and its plaintext, which only the SMS will carry.
    pub fn generate(
        keys: &Keys,
        app_id: &str,
        subject: String,
        destination: &str,
        client: Option<(String, i64)>,
    ) -> (NewCode, String) {
        let id = new_id(ids::VERIFICATION);
        let code = numeric_code(CODE_DIGITS);
        let code_hash = keys.code_hash(&id, &code);
        (
            NewCode {
                id,
                app_id: app_id.to_string(),
                subject,
                destination: destination.to_string(),
                code_hash,
                client,
                typed: false,
            },
            code,
        )
    }
}

pub use dots_shared::flow::CodeSent;

/// The SMS text; its last line lets browsers autofill the code (WebOTP).
pub fn message(app_name: &str, code: &str, origin_host: &str) -> String {
    format!(
        "{app_name} verification code: {code}. It expires in {} minutes; never share it.\n\n@{origin_host} #{code}",
        CODE_TTL_MS / 60_000
    )
}

pub async fn start(conn: &mut AnyConnection, code: &NewCode, now_ms: i64) -> TxResult<CodeSent> {
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT created_at FROM verifications WHERE app_id = $1 AND subject = $2 ORDER BY seq DESC LIMIT 1",
    )
    .bind(&code.app_id)
    .bind(&code.subject)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(last) = last
        && now_ms - last < RESEND_COOLDOWN_MS
    {
        let wait_s = (RESEND_COOLDOWN_MS - (now_ms - last) + 999) / 1000;
        return Err(
            Error::new(ErrorCode::ResendTooSoon, format!("A code was just sent; ask again in {wait_s} s.")).into()
        );
    }
    let to = &code.destination;
    let (subject, to_in_app, to_anywhere) =
        (format!("sms-subject:{}", code.subject), format!("sms-to:{}:{to}", code.app_id), format!("sms-to:{to}"));
    let client = code.client.as_ref().map(|(client, per_hour)| (format!("sms-client:{client}"), *per_hour));
    let mut limits = vec![
        Limit { key: &subject, window_ms: HOUR_MS, max: SENDS_PER_SUBJECT_PER_HOUR },
        Limit { key: &to_in_app, window_ms: HOUR_MS, max: SENDS_PER_DESTINATION_PER_HOUR },
        Limit { key: &to_anywhere, window_ms: HOUR_MS, max: SENDS_PER_DESTINATION_ALL_APPS_PER_HOUR },
    ];
    if let Some((key, max)) = &client {
        limits.push(Limit { key, window_ms: HOUR_MS, max: *max });
    }
    rate_limits(conn, &limits, now_ms).await?;
    sqlx::query(
        "INSERT INTO verifications (id, app_id, subject, destination, code_hash, attempts, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
    )
    .bind(&code.id)
    .bind(&code.app_id)
    .bind(&code.subject)
    .bind(&code.destination)
    .bind(&code.code_hash)
    .bind(now_ms + CODE_TTL_MS)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(CodeSent {
        id: code.id.clone(),
        status: "sent".into(),
        channel: "sms".into(),
        to: mask_phone(&code.destination),
        phone_number: code.typed.then(|| crate::contact::international(&code.destination)),
        expires_at: dots_shared::time::rfc3339_from_unix_ms(now_ms + CODE_TTL_MS),
        resend_available_at: dots_shared::time::rfc3339_from_unix_ms(now_ms + RESEND_COOLDOWN_MS),
    })
}

/// The outcome of a check. A refusal is still a committed change (the try is
/// counted), so it is not a `TxError::Rejected`.
pub enum Checked {
    Verified { destination: String },
    Refused(Error),
}

/// Checks `code` against the subject's latest code. Each call uses up one try,
/// right or wrong; after [`MAX_ATTEMPTS`] even the right code is refused.
pub async fn check(
    conn: &mut AnyConnection,
    keys: &Keys,
    app_id: &str,
    subject: &str,
    code: &str,
    now_ms: i64,
) -> TxResult<Checked> {
    let latest = sqlx::query(
        "SELECT id, destination, code_hash, expires_at, verified_at FROM verifications
         WHERE app_id = $1 AND subject = $2 ORDER BY seq DESC LIMIT 1",
    )
    .bind(app_id)
    .bind(subject)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = latest else {
        return Ok(Checked::Refused(Error::new(
            ErrorCode::VerificationNotStarted,
            "No code was sent; ask for one first.",
        )));
    };
    let id: String = row.try_get("id")?;
    if row.try_get::<Option<i64>, _>("verified_at")?.is_some() {
        return Ok(Checked::Refused(Error::new(
            ErrorCode::CodeAlreadyUsed,
            "This code was used already; ask for a new one.",
        )));
    }
    // Counting the try is one atomic step, so concurrent guesses cannot exceed the limit.
    let tried: Option<i64> = sqlx::query_scalar(
        "UPDATE verifications SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 RETURNING attempts",
    )
    .bind(&id)
    .bind(MAX_ATTEMPTS)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(tried) = tried else {
        return Ok(Checked::Refused(Error::new(
            ErrorCode::TooManyAttempts,
            "Too many wrong codes; ask for a new one.",
        )));
    };
    if row.try_get::<i64, _>("expires_at")? <= now_ms {
        return Ok(Checked::Refused(Error::invalid(
            ErrorCode::CodeExpired,
            "code",
            "This code has expired; ask for a new one.",
        )));
    }
    let stored: String = row.try_get("code_hash")?;
    let well_formed = code.len() == CODE_DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit());
    if !well_formed || !keys.code_matches(&id, code, &stored) {
        let left = MAX_ATTEMPTS - tried;
        let tries = if left == 1 { "try" } else { "tries" };
        let mut refused = Error::invalid(
            ErrorCode::InvalidCode,
            "code",
            match left {
                0 => "That code is not right, and it was its last try; ask for a new one.".to_string(),
                _ => format!("That code is not right; {left} {tries} left."),
            },
        );
        refused.tries_left = Some(left);
        return Ok(Checked::Refused(refused));
    }
    sqlx::query("UPDATE verifications SET verified_at = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    Ok(Checked::Verified { destination: row.try_get("destination")? })
}
