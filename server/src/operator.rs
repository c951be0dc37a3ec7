//! The operator's console (issue 18, part 1). The operator signs in to the
//! dashboard with the operator key and holds a session like a member's (an
//! HttpOnly cookie, only its hash kept, 30 idle minutes, 12 hours at most); lists
//! the apps with their wallet, volume and state; suspends and resumes them.
//!
//! A suspended app (`apps.suspended_at`): its API key's calls answer 403
//! `app_suspended` (`http::extract::AppAuth`), its members may still read but not
//! change, its payout links and flows say payouts are paused (`flows`, the pages),
//! and its webhook deliveries wait (`webhooks`) until it is resumed.

use dots_shared::ErrorCode;
use dots_shared::api;
use dots_shared::time::rfc3339_from_unix_ms;
use sqlx::{AnyConnection, Row};

use crate::apps::hash_secret;
use crate::error::{Error, TxResult};
use crate::lists::Page;
use crate::members::{SESSION_ABSOLUTE_MS, SESSION_IDLE_MS, csrf_token};
use crate::store::new_id;

/// The operator's session cookie (beside a member's: one browser may hold both).
pub const SESSION_COOKIE: &str = "dots_operator";
/// The longest reason an operator may give for a suspension.
pub const MAX_REASON_CHARS: usize = 200;

/// What a call without a live operator session gets.
pub fn not_signed_in() -> Error {
    Error::new(ErrorCode::NotSignedIn, "Sign in to the operator console with the operator key.")
}

/// The refusal every call of a suspended app gets.
pub fn app_suspended() -> Error {
    Error::new(
        ErrorCode::AppSuspended,
        "This app is suspended by the operator of this Dots server: payouts are paused until it is resumed.",
    )
}

/// What a payee is told (in a flow, on a payout link's page) while the app is suspended.
pub fn payouts_paused() -> Error {
    Error::new(ErrorCode::AppSuspended, "Payouts from this business are paused for now. Please try again later.")
}

/// Starts an operator session under `token` (the cookie's value).
pub async fn start_session(conn: &mut AnyConnection, token: &str, now_ms: i64) -> TxResult<api::OperatorSession> {
    let expires_at = now_ms + SESSION_ABSOLUTE_MS;
    sqlx::query(
        "INSERT INTO operator_sessions (id, token_hash, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(new_id("ops_"))
    .bind(hash_secret(token))
    .bind(now_ms)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(api::OperatorSession { csrf_token: csrf_token(token), expires_at: rfc3339_from_unix_ms(expires_at) })
}

/// A live operator session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session_id: String,
    pub expires_at: i64,
    /// Its last use is old enough to be written again ([`touch`]).
    pub stale: bool,
}

/// The session whose cookie is `token`, unless it ended.
pub async fn session(conn: &mut AnyConnection, token: &str, now_ms: i64) -> Result<SignedIn, Error> {
    let row = sqlx::query(
        "SELECT id, last_seen_at, expires_at FROM operator_sessions
         WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND last_seen_at > $3",
    )
    .bind(hash_secret(token))
    .bind(now_ms)
    .bind(now_ms - SESSION_IDLE_MS)
    .fetch_optional(conn)
    .await?
    .ok_or_else(not_signed_in)?;
    let last_seen: i64 = row.try_get("last_seen_at")?;
    Ok(SignedIn {
        session_id: row.try_get("id")?,
        expires_at: row.try_get("expires_at")?,
        stale: now_ms - last_seen >= crate::members::TOUCH_EVERY_MS,
    })
}

const DAY_MS: i64 = 86_400_000;

/// An app with its wallet, 30 days' completed payouts, users and state.
const OVERVIEW: &str = "SELECT a.seq, a.id, a.name, a.client_id, a.currency, a.wallet_id, a.created_at, a.suspended_at,
        a.suspended_reason, a.mode, w.balance,
        (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM transfers t WHERE t.app_id = a.id
            AND t.kind = 'payout' AND t.status = 'completed' AND t.created_at >= $1) AS volume,
        (SELECT COUNT(*) FROM transfers t WHERE t.app_id = a.id
            AND t.kind = 'payout' AND t.status = 'completed' AND t.created_at >= $1) AS payouts,
        (SELECT COUNT(*) FROM users u WHERE u.app_id = a.id) AS users
    FROM apps a JOIN accounts w ON w.id = a.wallet_id";

/// The owners' emails of each of `rows`' apps, in one query.
async fn owners_of(
    conn: &mut AnyConnection,
    rows: &[sqlx::any::AnyRow],
) -> Result<std::collections::HashMap<String, Vec<String>>, Error> {
    let mut owners: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    if rows.is_empty() {
        return Ok(owners);
    }
    let ids = rows.iter().map(|r| r.try_get::<String, _>("id")).collect::<Result<Vec<_>, _>>()?;
    let places: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT s.app_id, m.email FROM memberships s JOIN members m ON m.id = s.member_id
         WHERE s.role = 'owner' AND s.app_id IN ({}) ORDER BY m.email",
        places.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for id in &ids {
        query = query.bind(id);
    }
    for (app_id, email) in query.fetch_all(conn).await? {
        owners.entry(app_id).or_default().push(email);
    }
    Ok(owners)
}

fn overview(row: &sqlx::any::AnyRow, owners: Vec<String>) -> Result<api::AppOverview, Error> {
    let id: String = row.try_get("id")?;
    let currency: String = row.try_get("currency")?;
    let suspended = match row.try_get::<Option<i64>, _>("suspended_at")? {
        Some(at) => Some(api::Suspension {
            since: rfc3339_from_unix_ms(at),
            reason: row.try_get::<Option<String>, _>("suspended_reason")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(api::AppOverview {
        app: api::App {
            id,
            name: row.try_get("name")?,
            client_id: row.try_get("client_id")?,
            api_secret: None,
            wallet: api::Wallet {
                id: row.try_get("wallet_id")?,
                available: row.try_get("balance")?,
                pending: 0,
                currency: currency.clone(),
            },
            currency,
            created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
            mode: row.try_get("mode")?,
            suspended,
        },
        volume_30d: row.try_get("volume")?,
        payouts_30d: row.try_get("payouts")?,
        users: row.try_get("users")?,
        owners,
    })
}

/// Every app, newest first.
pub async fn apps(conn: &mut AnyConnection, page: &Page, now_ms: i64) -> Result<api::List<api::AppOverview>, Error> {
    let before: i64 = match &page.starting_after {
        None => i64::MAX,
        Some(id) => sqlx::query_scalar("SELECT seq FROM apps WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| {
                Error::new(ErrorCode::InvalidCursor, "starting_after is not an app").with_param("starting_after")
            })?,
    };
    let rows = sqlx::query(&format!("{OVERVIEW} WHERE a.seq < $2 ORDER BY a.seq DESC LIMIT $3"))
        .bind(now_ms - 30 * DAY_MS)
        .bind(before)
        .bind(page.limit() + 1)
        .fetch_all(&mut *conn)
        .await?;
    let mut owners = owners_of(conn, &rows).await?;
    let apps = rows
        .iter()
        .map(|row| overview(row, owners.remove(&row.try_get::<String, _>("id")?).unwrap_or_default()))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(page.finish(apps))
}

/// One app, as the console shows it.
pub async fn app(conn: &mut AnyConnection, app_id: &str, now_ms: i64) -> Result<api::AppOverview, Error> {
    let row = sqlx::query(&format!("{OVERVIEW} WHERE a.id = $2"))
        .bind(now_ms - 30 * DAY_MS)
        .bind(app_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(crate::apps::not_found)?;
    let owners = owners_of(conn, std::slice::from_ref(&row)).await?.into_values().next().unwrap_or_default();
    overview(&row, owners)
}

/// Suspending an app (with the operator's reason) or resuming it.
#[derive(Debug, Clone)]
pub struct Suspend {
    pub app_id: String,
    /// `None`: resume.
    pub reason: Option<String>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// Why, in a sentence the app's team will read (1 to 200 characters).
    pub reason: String,
}

impl Suspend {
    pub fn validate(app_id: String, req: SuspendRequest) -> Result<Suspend, Error> {
        let reason = req.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
            return Err(Error::invalid(
                ErrorCode::InvalidString,
                "reason",
                format!("reason must be 1 to {MAX_REASON_CHARS} characters on one line"),
            ));
        }
        Ok(Suspend { app_id, reason: Some(reason) })
    }
}

/// Suspends or resumes the app; the other way round from its state, else
/// 409 `invalid_transition`.
pub async fn set_suspended(conn: &mut AnyConnection, change: &Suspend, now_ms: i64) -> TxResult<api::AppOverview> {
    let changed = match &change.reason {
        Some(reason) => sqlx::query(
            "UPDATE apps SET suspended_at = $1, suspended_reason = $2 WHERE id = $3 AND suspended_at IS NULL",
        )
        .bind(now_ms)
        .bind(reason)
        .bind(&change.app_id),
        None => sqlx::query(
            "UPDATE apps SET suspended_at = NULL, suspended_reason = NULL WHERE id = $1 AND suspended_at IS NOT NULL",
        )
        .bind(&change.app_id),
    }
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let app = app(conn, &change.app_id, now_ms).await?;
    if changed == 0 {
        let now = if app.app.suspended.is_some() { "suspended" } else { "active" };
        return Err(Error::new(ErrorCode::InvalidTransition, format!("The app is already {now}.")).into());
    }
    Ok(app)
}

/// Whether the app is suspended now.
pub async fn is_suspended(conn: &mut AnyConnection, app_id: &str) -> Result<bool, Error> {
    let at: Option<Option<i64>> =
        sqlx::query_scalar("SELECT suspended_at FROM apps WHERE id = $1").bind(app_id).fetch_optional(conn).await?;
    Ok(matches!(at, Some(Some(_))))
}
