//! Users are an app's payees: each gets a wallet at creation.

use dots_shared::ErrorCode;
use dots_shared::api::{self, CreateUserRequest, List, UpdateUserRequest};
use dots_shared::time::rfc3339_from_unix_ms;
use dots_shared::{Currency, ids};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::apps::AuthedApp;
use crate::contact::{Email, PhoneNumber};
use crate::error::{Error, TxResult};
use crate::events;
use crate::lists::{Listed, Page};
use crate::metadata::{self, FilterArg, ListFilter, Metadata};
use crate::store::{Backend, is_unique_violation, new_id};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub app_id: String,
    pub currency: Currency,
    pub first_name: String,
    pub last_name: String,
    /// None for a payee who came by phone alone (kept as an empty address).
    pub email: Option<Email>,
    pub phone_number: PhoneNumber,
    pub metadata: Metadata,
}

impl NewUser {
    pub fn validate(app: &AuthedApp, req: CreateUserRequest) -> Result<NewUser, Error> {
        Ok(NewUser {
            app_id: app.id.clone(),
            currency: app.currency,
            first_name: name(&req.first_name, "first_name")?,
            last_name: name(&req.last_name, "last_name")?,
            email: Some(Email::parse(&req.email)?),
            phone_number: PhoneNumber::parse(&req.phone_number, req.country_code.as_deref())?,
            metadata: metadata::from_request(req.metadata.as_ref())?,
        })
    }
}

/// A user's changes, validated as a new user's fields are.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<Email>,
    pub phone_number: Option<PhoneNumber>,
    /// Keys to set (`Some`) or remove (`None`).
    pub metadata: Option<std::collections::BTreeMap<String, Option<String>>>,
}

impl UserChanges {
    pub fn validate(req: UpdateUserRequest) -> Result<UserChanges, Error> {
        if req.country_code.is_some() && req.phone_number.is_none() {
            return Err(Error::invalid(
                ErrorCode::MissingField,
                "phone_number",
                "country_code only says how to read phone_number; send both",
            ));
        }
        Ok(UserChanges {
            first_name: req.first_name.as_deref().map(|n| name(n, "first_name")).transpose()?,
            last_name: req.last_name.as_deref().map(|n| name(n, "last_name")).transpose()?,
            email: req.email.as_deref().map(Email::parse).transpose()?,
            phone_number: req
                .phone_number
                .as_deref()
                .map(|p| PhoneNumber::parse(p, req.country_code.as_deref()))
                .transpose()?,
            metadata: metadata::changes(req.metadata.as_ref())?,
        })
    }
}

/// Changes a user. A phone number that changes is unproven again (`phone_verified`
/// false: no payout until the user proves the new one); the same number sent again
/// changes nothing. `user.updated` is recorded when anything changed.
pub async fn update(
    conn: &mut AnyConnection,
    app_id: &str,
    user_id: &str,
    changes: &UserChanges,
    now_ms: i64,
) -> TxResult<api::User> {
    let before = get(conn, app_id, user_id).await?;
    let first_name = changes.first_name.as_deref().unwrap_or(&before.first_name);
    let last_name = changes.last_name.as_deref().unwrap_or(&before.last_name);
    let email = changes.email.as_deref().unwrap_or(&before.email);
    let phone = changes.phone_number.as_deref().unwrap_or(&before.phone_number);
    let new_phone = phone != before.phone_number;
    let notes = match &changes.metadata {
        Some(changes) => metadata::merged(&before.metadata, changes)?,
        None => before.metadata.clone(),
    };
    if (first_name, last_name, email, new_phone, &notes)
        == (&*before.first_name, &*before.last_name, &*before.email, false, &before.metadata)
    {
        return Ok(before);
    }
    let updated = sqlx::query(
        "UPDATE users SET first_name = $1, last_name = $2, email = $3, phone_number = $4,
         phone_verified_at = CASE WHEN $5 = 1 THEN NULL ELSE phone_verified_at END, metadata = $8
         WHERE id = $6 AND app_id = $7",
    )
    .bind(first_name)
    .bind(last_name)
    .bind(email)
    .bind(phone)
    .bind(i64::from(new_phone))
    .bind(user_id)
    .bind(app_id)
    .bind(metadata::to_text(&notes))
    .execute(&mut *conn)
    .await;
    match updated {
        Err(e) if is_unique_violation(&e) => return Err(phone_number_taken().into()),
        other => other?,
    };
    let user = get(conn, app_id, user_id).await?;
    events::record(conn, app_id, events::USER_UPDATED, &user, now_ms).await?;
    Ok(user)
}

/// Another user of the app has that phone number (the database's unique key said so).
fn phone_number_taken() -> Error {
    Error::new(ErrorCode::PhoneNumberTaken, "This app already has a user with that phone number.")
        .with_param("phone_number")
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
        "INSERT INTO users (id, app_id, first_name, last_name, email, phone_number, wallet_id, created_at, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&user.app_id)
    .bind(&user.first_name)
    .bind(&user.last_name)
    .bind(user.email.as_deref().unwrap_or_default())
    .bind(user.phone_number.as_str())
    .bind(&wallet_id)
    .bind(now_ms)
    .bind(metadata::to_text(&user.metadata))
    .execute(&mut *conn)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(phone_number_taken().into()),
        other => other?,
    };
    let created = get(conn, &user.app_id, &id).await?;
    events::record(conn, &user.app_id, events::USER_CREATED, &created, now_ms).await?;
    Ok(created)
}

const USER_COLUMNS: &str = "u.id, (SELECT ap.mode FROM apps ap WHERE ap.id = u.app_id) AS app_mode, u.first_name, u.last_name, u.email, u.phone_number, u.phone_verified_at,
    u.created_at, u.wallet_id, a.balance, a.currency, u.metadata,
    (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM transfers t
      WHERE t.user_id = u.id AND t.kind = 'payout' AND t.status IN ('created', 'flagged', 'pending')) AS pending";

fn user_from_row(row: &AnyRow) -> Result<api::User, sqlx::Error> {
    Ok(api::User {
        livemode: row.try_get::<String, _>("app_mode")? == "live",
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
        metadata: metadata::parse(&row.try_get::<String, _>("metadata")?),
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

pub async fn list(
    conn: &mut AnyConnection,
    app_id: &str,
    filter: &ListFilter,
    search: Option<&str>,
    page: &Page,
) -> Result<List<api::User>, Error> {
    let before = page.cursor_seq(conn, Listed::Users, app_id).await?;
    let (mut clauses, mut args) = filter.sql(Backend::of(conn), "u", 4);
    if let Some(term) = search {
        // Name or email containing the words (any case), or a phone containing the digits.
        let n = 4 + args.len();
        let like = |s: &str| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let digits: String = term.chars().filter(char::is_ascii_digit).collect();
        clauses.push_str(&format!(
            " AND (LOWER(u.first_name || ' ' || u.last_name) LIKE ${n} ESCAPE '\\' OR LOWER(u.email) LIKE ${} ESCAPE '\\' \
             OR u.phone_number LIKE ${} ESCAPE '\\')",
            n + 1,
            n + 2
        ));
        let words = like(&term.to_lowercase());
        args.push(FilterArg::Text(words.clone()));
        args.push(FilterArg::Text(words));
        // No digits typed: no phone matches (a pattern that cannot match an E.164 number).
        args.push(FilterArg::Text(if digits.is_empty() { "x".into() } else { like(&digits) }));
    }
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u JOIN accounts a ON a.id = u.wallet_id
         WHERE u.app_id = $1 AND u.seq < $2{clauses} ORDER BY u.seq DESC LIMIT $3"
    );
    let query = sqlx::query(&sql).bind(app_id).bind(before).bind(page.limit() + 1);
    let rows = metadata::bind_all(query, args).fetch_all(conn).await?;
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
