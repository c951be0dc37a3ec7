//! Apps are the tenants: credentials, wallet and currency.

use dots_shared::ErrorCode;
use dots_shared::api::{self, CreateAppRequest};
use dots_shared::{Currency, FeeParty, FeeSchedule, ids};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use subtle::ConstantTimeEq;

use crate::error::{Error, TxResult};
use crate::store::{Store, new_id, random_base62};

/// The app a request authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthedApp {
    pub id: String,
    /// The API key it authenticated with (the audit log's actor).
    pub client_id: String,
    /// The dashboard member acting for the app, when it is not its API key.
    pub member: Option<String>,
    pub name: String,
    pub currency: Currency,
    pub wallet_id: String,
    /// The operator suspended it (`crate::operator`).
    pub suspended: bool,
    /// A live app (real money), not a test app (`crate::live`).
    pub live: bool,
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub name: String,
    pub currency: Currency,
    /// `test` or `live`.
    pub mode: &'static str,
    pub payout_method_types: Vec<String>,
}

impl NewApp {
    pub fn validate(req: CreateAppRequest) -> Result<NewApp, Error> {
        let name = req.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid(ErrorCode::InvalidName, "name", "name must be 1 to 100 characters"));
        }
        let currency = match req.currency.as_deref() {
            None => Currency::USD,
            Some(code) => parse_currency(code)?,
        };
        let mode = crate::live::parse_mode(req.mode.as_deref())?;
        let payout_method_types = crate::live::parse_method_types(req.payout_method_types.as_deref())?;
        Ok(NewApp { name, currency, mode, payout_method_types })
    }
}

pub use crate::ledger::parse_currency;

impl AuthedApp {
    /// The sandbox's routes (the dev outboxes, a rail's made-up return) are a test
    /// app's only: for a live app they do not exist.
    pub fn sandbox_only(&self) -> Result<(), Error> {
        if self.live {
            return Err(Error::new(ErrorCode::RouteNotFound, "The sandbox's routes are for test apps only."));
        }
        Ok(())
    }

    /// What the ledger needs of the app.
    pub fn wallet(&self) -> crate::ledger::AppWallet {
        crate::ledger::AppWallet {
            id: self.id.clone(),
            wallet_id: self.wallet_id.clone(),
            currency: self.currency,
            live: self.live,
        }
    }
}

/// SHA-256 of a high-entropy secret, hex. (A slow password hash buys nothing for
/// 238-bit random secrets and would cost every request.)
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    crate::secrets::hex(&digest)
}

/// A new app with its wallet; the answer holds its API secret, which is stored
/// only as a hash.
pub async fn create(conn: &mut AnyConnection, app: &NewApp, now_ms: i64) -> TxResult<api::App> {
    let id = new_id(ids::APP);
    let client_id = new_id(ids::CLIENT_ID);
    let api_secret = new_api_secret(app.mode == "live");
    let wallet_id = new_id(ids::WALLET);
    sqlx::query(
        "INSERT INTO accounts (id, kind, app_id, currency, balance, created_at) VALUES ($1, 'app_wallet', $2, $3, 0, $4)",
    )
    .bind(&wallet_id)
    .bind(&id)
    .bind(app.currency.code())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO apps (id, name, client_id, secret_hash, currency, wallet_id, created_at, mode, payout_method_types)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&app.name)
    .bind(&client_id)
    .bind(hash_secret(&api_secret))
    .bind(app.currency.code())
    .bind(&wallet_id)
    .bind(now_ms)
    .bind(app.mode)
    .bind(serde_json::to_string(&app.payout_method_types).map_err(Error::internal)?)
    .execute(&mut *conn)
    .await?;
    Ok(api::App {
        id,
        name: app.name.clone(),
        client_id,
        api_secret: Some(api_secret),
        currency: app.currency.code().to_string(),
        wallet: api::Wallet { id: wallet_id, available: 0, pending: 0, currency: app.currency.code().to_string() },
        created_at: dots_shared::time::rfc3339_from_unix_ms(now_ms),
        mode: app.mode.to_string(),
        suspended: None,
    })
}

/// Apps' credentials, as each process last read them. An entry is trusted for
/// [`CREDENTIALS_TTL_MS`] at most, and a secret that does not match is checked
/// against the database once more before it is refused, so a rotation (a new
/// secret, the old one's grace period ending) reaches every process within
/// seconds. Unknown client ids are not remembered.
#[derive(Default)]
pub struct Credentials {
    /// client id → what was read, and when.
    known: std::sync::Mutex<std::collections::HashMap<String, (StoredCredentials, i64)>>,
}

/// How long a process trusts what it read of an app's credentials.
pub const CREDENTIALS_TTL_MS: i64 = 2_000;
/// Past this many apps the cache starts over (a bound, not an eviction policy).
const MAX_CACHED_APPS: usize = 100_000;

#[derive(Clone)]
struct StoredCredentials {
    secret_hash: String,
    /// The secret before the last rotation, and until when it is still taken.
    previous: Option<(String, i64)>,
    app: AuthedApp,
}

impl StoredCredentials {
    /// Whether `offered` (a hash) is the secret, or the previous one in its grace period.
    fn accepts(&self, offered: &str, now_ms: i64) -> bool {
        let current = bool::from(offered.as_bytes().ct_eq(self.secret_hash.as_bytes()));
        let previous = match &self.previous {
            Some((hash, until)) => bool::from(offered.as_bytes().ct_eq(hash.as_bytes())) && now_ms < *until,
            None => false,
        };
        current | previous
    }
}

impl Credentials {
    /// Checks HTTP Basic credentials. The secret's hash is compared in constant
    /// time, and an unknown client id costs the same hash as a known one.
    pub async fn authenticate(&self, store: &Store, client_id: &str, api_secret: &str) -> Result<AuthedApp, Error> {
        let offered = hash_secret(api_secret);
        let invalid = || Error::new(ErrorCode::InvalidCredentials, "The client id or API secret is wrong.");
        let now = crate::store::now_ms();
        let cached = self.known.lock().expect("credentials lock").get(client_id).cloned();
        if let Some((stored, read_at)) = &cached
            && now - read_at < CREDENTIALS_TTL_MS
            && stored.accepts(&offered, now)
        {
            return Ok(stored.app.clone());
        }
        // Not known, read too long ago, or not matching what was read (the secret
        // may have been rotated by another process): read it again.
        let mut conn = store.reader().acquire().await?;
        let found = lookup(&mut conn, client_id).await?;
        drop(conn);
        let mut known = self.known.lock().expect("credentials lock");
        let Some(stored) = found else {
            known.remove(client_id);
            let _ = offered.as_bytes().ct_eq(hash_secret("").as_bytes());
            return Err(invalid());
        };
        if known.len() >= MAX_CACHED_APPS {
            known.clear();
        }
        known.insert(client_id.to_string(), (stored.clone(), now));
        if stored.accepts(&offered, now) { Ok(stored.app) } else { Err(invalid()) }
    }

    /// Forgets what this process read of the app's credentials (it was just
    /// suspended or resumed here; other processes see it within the TTL).
    pub fn forget_app(&self, app_id: &str) {
        self.known.lock().expect("credentials lock").retain(|_, (stored, _)| stored.app.id != app_id);
    }
}

/// The secret hashes and identity of the app with `client_id`.
async fn lookup(conn: &mut AnyConnection, client_id: &str) -> Result<Option<StoredCredentials>, Error> {
    let row = sqlx::query(
        "SELECT id, name, secret_hash, previous_secret_hash, previous_secret_expires_at, currency, wallet_id,
                suspended_at, mode FROM apps WHERE client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let currency: String = row.try_get("currency")?;
    let app = AuthedApp {
        id: row.try_get("id")?,
        client_id: client_id.to_string(),
        member: None,
        name: row.try_get("name")?,
        currency: Currency::parse(&currency).map_err(Error::internal)?,
        wallet_id: row.try_get("wallet_id")?,
        suspended: row.try_get::<Option<i64>, _>("suspended_at")?.is_some(),
        live: row.try_get::<String, _>("mode")? == "live",
    };
    let previous = match (
        row.try_get::<Option<String>, _>("previous_secret_hash")?,
        row.try_get::<Option<i64>, _>("previous_secret_expires_at")?,
    ) {
        (Some(hash), Some(until)) => Some((hash, until)),
        _ => None,
    };
    Ok(Some(StoredCredentials { secret_hash: row.try_get("secret_hash")?, previous, app }))
}

/// A new API secret: `sk_test_` or `sk_live_` and 40 base-62 characters (238 bits).
fn new_api_secret(live: bool) -> String {
    format!("{}{}_{}", ids::API_SECRET, if live { "live" } else { "test" }, random_base62(40))
}

/// The longest grace period a rotated secret may keep working.
pub const MAX_SECRET_GRACE_S: i64 = 7 * 24 * 3600;
/// The grace period when the rotation names none.
pub const DEFAULT_SECRET_GRACE_S: i64 = 3600;

/// `POST /v2/apps/me/secret/rotate`: an optional grace period for the old secret.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    #[serde(default)]
    pub grace_seconds: Option<i64>,
}

/// A rotation about to be written: the new secret exists only here and in the answer.
#[derive(Clone)]
pub struct SecretRotation {
    pub app_id: String,
    pub new_secret: String,
    pub grace_ms: i64,
}

impl std::fmt::Debug for SecretRotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRotation").field("app_id", &self.app_id).field("grace_ms", &self.grace_ms).finish()
    }
}

impl SecretRotation {
    pub fn validate(app: &AuthedApp, req: RotateSecretRequest) -> Result<SecretRotation, Error> {
        let grace = req.grace_seconds.unwrap_or(DEFAULT_SECRET_GRACE_S);
        if !(0..=MAX_SECRET_GRACE_S).contains(&grace) {
            return Err(Error::invalid(
                ErrorCode::InvalidGraceSeconds,
                "grace_seconds",
                format!("grace_seconds must be from 0 to {MAX_SECRET_GRACE_S} (7 days)"),
            ));
        }
        Ok(SecretRotation { app_id: app.id.clone(), new_secret: new_api_secret(app.live), grace_ms: grace * 1000 })
    }
}

/// Replaces the app's secret; the old one is taken until `now + grace` (a second
/// rotation ends the first one's grace at once). The new secret is answered once
/// and never stored, not even for the idempotent replay.
pub async fn rotate_secret(conn: &mut AnyConnection, r: &SecretRotation, now_ms: i64) -> TxResult<api::SecretRotation> {
    sqlx::query(
        "UPDATE apps SET previous_secret_hash = secret_hash, previous_secret_expires_at = $1, secret_hash = $2
         WHERE id = $3",
    )
    .bind(now_ms + r.grace_ms)
    .bind(hash_secret(&r.new_secret))
    .bind(&r.app_id)
    .execute(&mut *conn)
    .await?;
    Ok(api::SecretRotation {
        api_secret: Some(r.new_secret.clone()),
        previous_secret_expires_at: dots_shared::time::rfc3339_from_unix_ms(now_ms + r.grace_ms),
    })
}

pub async fn wallet(conn: &mut AnyConnection, app: &AuthedApp) -> Result<api::Wallet, Error> {
    let balance: i64 =
        sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1").bind(&app.wallet_id).fetch_one(conn).await?;
    Ok(api::Wallet {
        id: app.wallet_id.clone(),
        available: balance,
        pending: 0,
        currency: app.currency.code().to_string(),
    })
}

/// The app as `GET /v2/apps/me` shows it.
pub async fn me(conn: &mut AnyConnection, app: &AuthedApp) -> Result<api::App, Error> {
    let (created_at, suspended_at, reason): (i64, Option<i64>, Option<String>) =
        sqlx::query_as("SELECT created_at, suspended_at, suspended_reason FROM apps WHERE id = $1")
            .bind(&app.id)
            .fetch_one(&mut *conn)
            .await?;
    let mode = if app.live { "live" } else { "test" };
    let suspended = suspended_at.map(|at| api::Suspension {
        since: dots_shared::time::rfc3339_from_unix_ms(at),
        reason: reason.unwrap_or_default(),
    });
    Ok(api::App {
        id: app.id.clone(),
        name: app.name.clone(),
        client_id: app.client_id.clone(),
        api_secret: None,
        currency: app.currency.code().to_string(),
        wallet: wallet(conn, app).await?,
        created_at: dots_shared::time::rfc3339_from_unix_ms(created_at),
        mode: mode.into(),
        suspended,
    })
}

const DAY_MS: i64 = 86_400_000;

/// The app's completed payouts of the 30 days to `now_ms` (UTC days, today's
/// included), oldest first; days without any are there with zero.
pub async fn volume(conn: &mut AnyConnection, app: &AuthedApp, now_ms: i64) -> Result<api::Volume, Error> {
    let first = now_ms.div_euclid(DAY_MS) - 29;
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT created_at / 86400000 AS day, CAST(SUM(amount) AS BIGINT), COUNT(*) FROM transfers
         WHERE app_id = $1 AND kind = 'payout' AND status = 'completed' AND created_at >= $2
         GROUP BY created_at / 86400000",
    )
    .bind(&app.id)
    .bind(first * DAY_MS)
    .fetch_all(conn)
    .await?;
    let days = (first..first + 30)
        .map(|day| {
            let (amount, count) = rows.iter().find(|r| r.0 == day).map_or((0, 0), |r| (r.1, r.2));
            let date = dots_shared::time::rfc3339_from_unix_ms(day * DAY_MS)[..10].to_string();
            api::VolumeDay { date, amount, count }
        })
        .collect();
    Ok(api::Volume { currency: app.currency.code().to_string(), days })
}

/// The app's payout rules. A field left out keeps its rule; `"off"` turns it off.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRulesRequest {
    /// Payouts above this many minor units wait for review (`POST …/approve`).
    #[schema(value_type = Option<dots_shared::api::Threshold>)]
    #[serde(default)]
    pub review_threshold: Option<RuleValue>,
    /// A user's first payout above this waits for review.
    #[schema(value_type = Option<dots_shared::api::Threshold>)]
    #[serde(default)]
    pub first_payout_review_threshold: Option<RuleValue>,
    /// A tax id is required once a user's payouts this calendar year exceed this.
    #[schema(value_type = Option<dots_shared::api::Threshold>)]
    #[serde(default)]
    pub tax_id_threshold: Option<RuleValue>,
    /// The least a payee may withdraw in a flow's payout step.
    #[schema(value_type = Option<dots_shared::api::Threshold>)]
    #[serde(default)]
    pub flow_payout_min: Option<RuleValue>,
    /// The most a payee may withdraw in a flow's payout step.
    #[schema(value_type = Option<dots_shared::api::Threshold>)]
    #[serde(default)]
    pub flow_payout_max: Option<RuleValue>,
    /// Who pays a payout's fee when the payout does not say: `app` or `user`.
    #[serde(default)]
    pub fee_party: Option<String>,
}

/// A threshold in minor units, or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum RuleValue {
    Amount(i64),
    Off(Off),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Off {
    Off,
}

#[derive(Debug, Clone)]
pub struct AppRules {
    pub app_id: String,
    /// `(column, new value)`; `None` turns the rule off.
    pub changes: Vec<(&'static str, Option<i64>)>,
    pub fee_party: Option<FeeParty>,
}

impl AppRules {
    pub fn validate(app: &AuthedApp, req: AppRulesRequest) -> Result<AppRules, Error> {
        let mut changes = Vec::new();
        for (column, value) in [
            ("review_threshold", req.review_threshold),
            ("first_payout_review_threshold", req.first_payout_review_threshold),
            ("tax_id_threshold", req.tax_id_threshold),
            ("flow_payout_min", req.flow_payout_min),
            ("flow_payout_max", req.flow_payout_max),
        ] {
            match value {
                None => {}
                Some(RuleValue::Off(_)) => changes.push((column, None)),
                Some(RuleValue::Amount(n)) if (0..=dots_shared::money::MAX_AMOUNT_MINOR).contains(&n) => {
                    changes.push((column, Some(n)))
                }
                Some(RuleValue::Amount(_)) => {
                    return Err(Error::invalid(
                        ErrorCode::InvalidAmount,
                        column,
                        format!("{column} must be 0 or more minor units, or \"off\""),
                    ));
                }
            }
        }
        let fee_party = crate::ledger::transfers::parse_fee_party(req.fee_party.as_deref())?;
        Ok(AppRules { app_id: app.id.clone(), changes, fee_party })
    }
}

pub async fn update_rules(conn: &mut AnyConnection, rules: &AppRules) -> TxResult<api::AppRules> {
    for (column, value) in &rules.changes {
        // `column` comes from the fixed list in `AppRules::validate`, never from input.
        sqlx::query(&format!("UPDATE apps SET {column} = $1 WHERE id = $2"))
            .bind(*value)
            .bind(&rules.app_id)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(party) = rules.fee_party {
        sqlx::query("UPDATE apps SET fee_party = $1 WHERE id = $2")
            .bind(party.as_str())
            .bind(&rules.app_id)
            .execute(&mut *conn)
            .await?;
    }
    let now = get_rules(conn, &rules.app_id).await?;
    if let (Some(min), Some(max)) = (now.flow_payout_min.0, now.flow_payout_max.0)
        && min > max
    {
        return Err(Error::invalid(
            ErrorCode::InvalidAmount,
            "flow_payout_min",
            "flow_payout_min must not be above flow_payout_max",
        )
        .into());
    }
    Ok(now)
}

pub async fn get_rules(conn: &mut AnyConnection, app_id: &str) -> Result<api::AppRules, Error> {
    let row = sqlx::query(&format!(
        "SELECT review_threshold, first_payout_review_threshold, tax_id_threshold, flow_payout_min, flow_payout_max,
                {FEE_COLUMNS} FROM apps WHERE id = $1"
    ))
    .bind(app_id)
    .fetch_one(conn)
    .await?;
    let rule = |c: &str| -> Result<api::Threshold, Error> { Ok(api::Threshold(row.try_get::<Option<i64>, _>(c)?)) };
    let fees = FeeTerms::from_row(&row)?;
    Ok(api::AppRules {
        review_threshold: rule("review_threshold")?,
        first_payout_review_threshold: rule("first_payout_review_threshold")?,
        tax_id_threshold: rule("tax_id_threshold")?,
        flow_payout_min: rule("flow_payout_min")?,
        flow_payout_max: rule("flow_payout_max")?,
        fee_party: fees.party,
        fees: fees.schedule,
    })
}

/// `PUT /v2/apps/{id}/fees` (operator): an app's whole payout fee schedule. Amounts
/// are minor units of the app's currency; absent fields are 0 (or no bound).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeScheduleRequest {
    /// Charged on every payout.
    #[serde(default)]
    pub fixed: i64,
    /// Basis points of the amount (100 = 1 %), rounded half up to a minor unit.
    #[serde(default)]
    pub bps: i64,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct FeeScheduleChange {
    pub app_id: String,
    pub schedule: FeeSchedule,
}

impl FeeScheduleChange {
    pub fn validate(app_id: String, req: FeeScheduleRequest) -> Result<FeeScheduleChange, Error> {
        let schedule = FeeSchedule { fixed: req.fixed, bps: req.bps, min: req.min, max: req.max };
        schedule.check().map_err(|e| {
            Error::invalid(ErrorCode::InvalidFeeSchedule, e.field, format!("{} {}", e.field, e.message))
        })?;
        Ok(FeeScheduleChange { app_id, schedule })
    }
}

/// Sets an app's fee schedule; later payouts and payout links are charged by it
/// (a link keeps the fee it was made with).
pub async fn set_fees(conn: &mut AnyConnection, change: &FeeScheduleChange) -> TxResult<api::AppRules> {
    let s = change.schedule;
    let updated = sqlx::query("UPDATE apps SET fee_fixed = $1, fee_bps = $2, fee_min = $3, fee_max = $4 WHERE id = $5")
        .bind(s.fixed)
        .bind(s.bps)
        .bind(s.min)
        .bind(s.max)
        .bind(&change.app_id)
        .execute(&mut *conn)
        .await?;
    if updated.rows_affected() != 1 {
        return Err(not_found().into());
    }
    Ok(get_rules(conn, &change.app_id).await?)
}

pub fn not_found() -> Error {
    Error::new(ErrorCode::AppNotFound, "No such app.")
}

/// Where the app's pages may embed the Flow widget, and how it looks.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSettingsRequest {
    /// Origins (`https://merchant.example.com`) allowed to frame the widget.
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// `{name?, primary_color?, logo_url?}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub brand: Option<serde_json::Value>,
    /// ISO 3166 alpha-2 (`US`, `MX`): where payees' phone numbers are read when
    /// typed without a calling code.
    #[serde(default)]
    pub default_country: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AppSettings {
    pub app_id: String,
    pub allowed_origins: Option<String>,
    pub brand: Option<String>,
    pub default_country: Option<String>,
}

/// An app may list this many embedding origins.
pub const MAX_ALLOWED_ORIGINS: usize = 20;

/// `scheme://host[:port]` and nothing else; https, or http for local development.
pub fn origin(raw: &str) -> Result<String, Error> {
    let invalid = || {
        Error::invalid(
            ErrorCode::InvalidOrigin,
            "allowed_origins",
            format!("{raw} is not an origin like https://shop.example.com"),
        )
    };
    let uri: http::Uri = raw.parse().map_err(|_| invalid())?;
    let host = uri.host().ok_or_else(invalid)?;
    let local = host == "localhost" || host == "127.0.0.1";
    let scheme_ok = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => local,
        _ => false,
    };
    let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/") && !raw.ends_with('/');
    if !scheme_ok || !bare || raw.contains(['*', ' ', '"', '\'', ';']) {
        return Err(invalid());
    }
    Ok(raw.to_ascii_lowercase())
}

impl AppSettings {
    pub fn validate(app: &AuthedApp, req: AppSettingsRequest) -> Result<AppSettings, Error> {
        let allowed_origins = match req.allowed_origins {
            None => None,
            Some(list) if list.len() > MAX_ALLOWED_ORIGINS => {
                return Err(Error::invalid(
                    ErrorCode::InvalidOrigin,
                    "allowed_origins",
                    format!("at most {MAX_ALLOWED_ORIGINS} origins"),
                ));
            }
            Some(list) => {
                let mut origins = list.iter().map(|o| origin(o)).collect::<Result<Vec<_>, _>>()?;
                origins.dedup();
                Some(serde_json::to_string(&origins).map_err(Error::internal)?)
            }
        };
        let brand = req.brand.map(|b| brand(&b)).transpose()?;
        let default_country = req.default_country.map(|c| crate::contact::region(&c)).transpose()?;
        Ok(AppSettings { app_id: app.id.clone(), allowed_origins, brand, default_country })
    }
}

pub async fn update_settings(conn: &mut AnyConnection, s: &AppSettings) -> TxResult<api::AppSettings> {
    sqlx::query(
        "UPDATE apps SET allowed_origins = COALESCE($1, allowed_origins), brand = COALESCE($2, brand),
                         default_country = COALESCE($3, default_country) WHERE id = $4",
    )
    .bind(&s.allowed_origins)
    .bind(&s.brand)
    .bind(&s.default_country)
    .bind(&s.app_id)
    .execute(&mut *conn)
    .await?;
    Ok(get_settings(conn, &s.app_id).await?)
}

pub async fn get_settings(conn: &mut AnyConnection, app_id: &str) -> Result<api::AppSettings, Error> {
    let row = sqlx::query("SELECT allowed_origins, brand, default_country FROM apps WHERE id = $1")
        .bind(app_id)
        .fetch_one(conn)
        .await?;
    let origins: String = row.try_get("allowed_origins")?;
    let brand: String = row.try_get("brand")?;
    Ok(api::AppSettings {
        allowed_origins: serde_json::from_str(&origins).unwrap_or(None),
        brand: serde_json::from_str::<Option<serde_json::Value>>(&brand).unwrap_or(None),
        default_country: row.try_get("default_country")?,
    })
}

/// The operator's key (`DOTS_OPERATOR_KEY`): at least [`OPERATOR_KEY_MIN_BYTES`]
/// bytes; held only as an HMAC under a random key of this process, and compared
/// as one in constant time; failed attempts are throttled per client and overall.
pub struct OperatorKey {
    mac_key: [u8; 32],
    expected: [u8; 32],
    failures: std::sync::Mutex<OperatorFailures>,
}

pub const OPERATOR_KEY_MIN_BYTES: usize = 32;
/// Failed operator attempts one client may make per minute, and all clients together.
pub const OPERATOR_FAILURES_PER_CLIENT: u32 = 10;
pub const OPERATOR_FAILURES_IN_ALL: u32 = 100;

#[derive(Default)]
struct OperatorFailures {
    window_start: i64,
    total: u32,
    by_client: std::collections::HashMap<String, u32>,
}

impl OperatorKey {
    pub fn new(key: &str) -> Result<OperatorKey, String> {
        if key.len() < OPERATOR_KEY_MIN_BYTES {
            return Err(format!(
                "DOTS_OPERATOR_KEY must be at least {OPERATOR_KEY_MIN_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            ));
        }
        let mut mac_key = [0u8; 32];
        getrandom::fill(&mut mac_key).map_err(|e| format!("no random source: {e}"))?;
        let expected = Self::mac(&mac_key, key);
        Ok(OperatorKey { mac_key, expected, failures: Default::default() })
    }

    fn mac(mac_key: &[u8; 32], key: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(mac_key).expect("HMAC takes any key length");
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Checks an offered key from `client`: `Ok` when right; a refusal when wrong,
    /// or when this client (or everyone) failed too often this minute.
    pub fn check(&self, offered: &str, client: &str, now_ms: i64) -> Result<(), Error> {
        let throttled =
            || Error::new(ErrorCode::TooManyAttempts, "Too many wrong operator keys; try again in a minute.");
        {
            let mut f = self.failures.lock().expect("operator failures lock");
            if now_ms - f.window_start >= 60_000 {
                *f = OperatorFailures { window_start: now_ms, ..Default::default() };
            }
            if f.total >= OPERATOR_FAILURES_IN_ALL
                || f.by_client.get(client).is_some_and(|n| *n >= OPERATOR_FAILURES_PER_CLIENT)
            {
                return Err(throttled());
            }
        }
        if bool::from(Self::mac(&self.mac_key, offered).ct_eq(&self.expected)) {
            return Ok(());
        }
        let mut f = self.failures.lock().expect("operator failures lock");
        f.total += 1;
        if f.by_client.len() < 10_000 || f.by_client.contains_key(client) {
            *f.by_client.entry(client.to_string()).or_default() += 1;
        }
        Err(Error::new(ErrorCode::InvalidCredentials, "The operator key is wrong."))
    }
}

/// Only these brand keys (the widget's theme, `dots_shared::theme`): short strings,
/// `#rrggbb` colours, an https logo, a safe font list, a radius of 0–24 px, and a
/// colour scheme.
pub fn brand(value: &serde_json::Value) -> Result<String, Error> {
    use dots_shared::theme;
    use serde_json::Value;
    let invalid = |why: &str| Error::invalid(ErrorCode::InvalidBrand, "brand", why.to_string());
    let object = value.as_object().ok_or_else(|| invalid("brand must be an object"))?;
    for (key, v) in object {
        let ok = match (key.as_str(), v) {
            ("name", Value::String(s)) => !s.is_empty() && s.chars().count() <= 60,
            ("primary_color" | "background_color" | "text_color", Value::String(s)) => theme::is_color(s),
            ("logo_url", Value::String(s)) => theme::is_logo_url(s),
            ("font_family", Value::String(s)) => theme::is_font_family(s),
            ("color_scheme", Value::String(s)) => theme::Scheme::parse(s).is_some(),
            ("corner_radius", Value::Number(n)) => n.as_u64().is_some_and(|r| r <= theme::MAX_RADIUS_PX),
            (
                "name" | "primary_color" | "background_color" | "text_color" | "logo_url" | "font_family"
                | "color_scheme" | "corner_radius",
                _,
            ) => false,
            _ => {
                return Err(invalid(
                    "brand takes name, logo_url, primary_color, background_color, text_color, font_family, \
                     corner_radius and color_scheme",
                ));
            }
        };
        if !ok {
            return Err(invalid(&format!("brand.{key} is not acceptable")));
        }
    }
    Ok(value.to_string())
}

/// An app's payout fee schedule and who pays by default (`apps` columns `fee_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeTerms {
    pub schedule: FeeSchedule,
    pub party: FeeParty,
}

pub const FEE_COLUMNS: &str = "fee_fixed, fee_bps, fee_min, fee_max, fee_party";

impl FeeTerms {
    /// From a row holding [`FEE_COLUMNS`].
    pub fn from_row(row: &sqlx::any::AnyRow) -> Result<FeeTerms, Error> {
        let party: String = row.try_get("fee_party")?;
        Ok(FeeTerms {
            schedule: FeeSchedule {
                fixed: row.try_get("fee_fixed")?,
                bps: row.try_get("fee_bps")?,
                min: row.try_get("fee_min")?,
                max: row.try_get("fee_max")?,
            },
            party: FeeParty::parse(&party).ok_or_else(|| Error::internal(format!("unexpected fee_party {party:?}")))?,
        })
    }

    pub async fn of_app(conn: &mut AnyConnection, app_id: &str) -> Result<FeeTerms, Error> {
        let row =
            sqlx::query(&format!("SELECT {FEE_COLUMNS} FROM apps WHERE id = $1")).bind(app_id).fetch_one(conn).await?;
        FeeTerms::from_row(&row)
    }
}
