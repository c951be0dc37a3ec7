//! Apps are the tenants: credentials, wallet and currency.

use axum::http::StatusCode;
use dots_shared::api::{self, CreateAppRequest};
use dots_shared::{Currency, ids};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use subtle::ConstantTimeEq;

use crate::error::{Error, Reply, TxResult};
use crate::store::{new_id, random_base62};

/// The app a request authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthedApp {
    pub id: String,
    pub currency: Currency,
    pub wallet_id: String,
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub name: String,
    pub currency: Currency,
}

impl NewApp {
    pub fn validate(req: CreateAppRequest) -> Result<NewApp, Error> {
        let name = req.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("invalid_name", "name", "name must be 1 to 100 characters"));
        }
        let currency = match req.currency.as_deref() {
            None => Currency::USD,
            Some(code) => parse_currency(code)?,
        };
        Ok(NewApp { name, currency })
    }
}

pub fn parse_currency(code: &str) -> Result<Currency, Error> {
    Currency::parse(code).map_err(|e| Error::invalid("invalid_currency", "currency", e.to_string()))
}

/// SHA-256 of a high-entropy secret, hex. (A slow password hash buys nothing for
/// 238-bit random secrets and would cost every request.)
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn create(conn: &mut AnyConnection, app: &NewApp, now_ms: i64) -> TxResult<Reply> {
    let id = new_id(ids::APP);
    let client_id = new_id(ids::CLIENT_ID);
    let api_secret = format!("{}{}", ids::API_SECRET, random_base62(40));
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
        "INSERT INTO apps (id, name, client_id, secret_hash, currency, wallet_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&app.name)
    .bind(&client_id)
    .bind(hash_secret(&api_secret))
    .bind(app.currency.code())
    .bind(&wallet_id)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let mut created = api::App {
        id,
        name: app.name.clone(),
        client_id,
        api_secret: Some(api_secret),
        currency: app.currency.code().to_string(),
        wallet: api::Wallet { id: wallet_id, available: 0, pending: 0, currency: app.currency.code().to_string() },
        created_at: dots_shared::time::rfc3339_from_unix_ms(now_ms),
    };
    let mut reply = Reply::json(StatusCode::CREATED, &created)?;
    // The secret is shown once and never stored, not even in the idempotency record.
    created.api_secret = None;
    reply.replay_body = Some(Reply::json(StatusCode::CREATED, &created)?.body);
    Ok(reply)
}

/// Checks HTTP Basic credentials. The secret's hash is compared in constant time,
/// and an unknown client id costs the same hash as a known one.
pub async fn authenticate(conn: &mut AnyConnection, client_id: &str, api_secret: &str) -> Result<AuthedApp, Error> {
    let offered = hash_secret(api_secret);
    let row = sqlx::query("SELECT id, secret_hash, currency, wallet_id FROM apps WHERE client_id = $1")
        .bind(client_id)
        .fetch_optional(conn)
        .await?;
    let invalid = || Error::unauthenticated("invalid_credentials", "The client id or API secret is wrong.");
    let Some(row) = row else {
        let _ = offered.as_bytes().ct_eq(hash_secret("").as_bytes());
        return Err(invalid());
    };
    let stored: String = row.try_get("secret_hash")?;
    if !bool::from(offered.as_bytes().ct_eq(stored.as_bytes())) {
        return Err(invalid());
    }
    let currency: String = row.try_get("currency")?;
    Ok(AuthedApp {
        id: row.try_get("id")?,
        currency: Currency::parse(&currency).map_err(Error::internal)?,
        wallet_id: row.try_get("wallet_id")?,
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
