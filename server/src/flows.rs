//! Payout links, flows and their sessions, and the claim.
//!
//! A flow is one run of the onboarding widget. `POST /v2/flows` makes one for a
//! host page (pre-authenticated when it names a user); opening a payout link makes
//! one for its claim. Each flow has one bearer token, stored hashed, scoped to the
//! flow, its app and (once known) its user, and short-lived.

use crate::contact::{Email, PhoneNumber};
use crate::sms::mask_phone;
use dots_shared::theme::Brand;
use dots_shared::time::{parse_rfc3339_ms, rfc3339_from_unix_ms};
use dots_shared::{ErrorCode, api, flow};
use dots_shared::{Fee, FeeParty, Money, TransferStatus, ids};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::apps::AuthedApp;
use crate::error::{Error, TxResult};
use crate::events;
use crate::ledger::transfers::{self, NewTransfer};
use crate::lists::Page;
use crate::metadata::{self, Metadata};
use crate::payees::{payout_methods, users};
use crate::secrets::{Keys, token_hash};
use crate::store::{new_id, random_base62};

/// Payout links live a week unless told otherwise, and at most 90 days.
pub const LINK_DEFAULT_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
pub const LINK_MAX_TTL_MS: i64 = 90 * 24 * 3600 * 1000;
/// A flow's session token lives an hour (Plaid's link tokens live four).
pub const FLOW_TTL_MS: i64 = 3600 * 1000;
pub const STEPS: &[&str] = &["verify_phone", "compliance", "payout_method", "payout"];

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayoutLinkRequest {
    #[schema(value_type = i64)]
    pub amount: serde_json::Number,
    pub currency: String,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub memo: Option<String>,
    /// RFC 3339; a week from now when absent.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Pay a known user: their phone must verify the claim.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `{name?, primary_color?, logo_url?}`, shown on the claim page.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub brand: Option<Value>,
    /// Who pays the payout's fee: `app` or `user` (the app's rule when absent).
    /// The fee is worked out now and kept for the claim.
    #[serde(default)]
    pub fee_party: Option<String>,
    /// `{"method": "sms" | "email"}`: the server sends the link to the payee's phone
    /// or email (branded with the app), and retries a failed send; `none` (the
    /// default): the app delivers the URL itself.
    #[serde(default)]
    pub delivery: Option<DeliveryRequest>,
    /// The app's own notes: up to 20 string keys and values; its payout carries them too.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// How a link reaches its payee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryMethod {
    /// The app delivers the URL itself.
    #[default]
    None,
    Sms,
    Email,
}

impl DeliveryMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMethod::None => "none",
            DeliveryMethod::Sms => "sms",
            DeliveryMethod::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryMethod> {
        [DeliveryMethod::None, DeliveryMethod::Sms, DeliveryMethod::Email].into_iter().find(|m| m.as_str() == s)
    }

    /// `delivery` of a request: `{"method": "sms" | "email" | "none"}`.
    pub fn from_request(delivery: Option<&DeliveryRequest>) -> Result<Option<DeliveryMethod>, Error> {
        delivery
            .and_then(|d| d.method.as_deref())
            .map(|m| {
                DeliveryMethod::parse(m).ok_or_else(|| {
                    Error::invalid(
                        ErrorCode::InvalidDelivery,
                        "delivery.method",
                        "delivery.method must be sms, email or none",
                    )
                })
            })
            .transpose()
    }
}

/// `delivery` of `POST /v2/payout-links` and `POST /v2/payout-links/{id}/send`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequest {
    /// `sms` (to the link's phone), `email` (to its email) or `none` (the app
    /// delivers the URL itself; the default).
    #[serde(default)]
    pub method: Option<String>,
}

/// Sends of one link an app may ask for per hour (the first included).
pub const SENDS_PER_HOUR: i64 = 3;

/// The link's delivery as the API shows it, from its row.
pub fn delivery_shown(row: &sqlx::any::AnyRow) -> Result<api::LinkDelivery, Error> {
    Ok(api::LinkDelivery {
        method: row.try_get("delivery_method")?,
        status: row.try_get("delivery_status")?,
        attempts: row.try_get("delivery_attempts")?,
        delivered_at: row.try_get::<Option<i64>, _>("delivered_at")?.map(dots_shared::time::rfc3339_from_unix_ms),
    })
}

/// Makes the link's delivery by `method` due now, in the caller's transaction (the
/// link's creation or a resend): the link must be active and have the destination
/// the method needs, and the app may ask at most [`SENDS_PER_HOUR`] sends of it an hour.
pub async fn schedule_delivery(
    conn: &mut AnyConnection,
    app_id: &str,
    link_id: &str,
    method: DeliveryMethod,
    now_ms: i64,
) -> TxResult<()> {
    let row =
        sqlx::query("SELECT status, expires_at, phone_number, email FROM payout_links WHERE id = $1 AND app_id = $2")
            .bind(link_id)
            .bind(app_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(link_not_found)?;
    let active = row.try_get::<String, _>("status")? == "active" && row.try_get::<i64, _>("expires_at")? > now_ms;
    if !active {
        return Err(Error::new(
            ErrorCode::PayoutLinkNotActive,
            "Only an active link can be sent; this one was claimed, canceled or has expired.",
        )
        .into());
    }
    let missing = match method {
        DeliveryMethod::None => return Ok(()),
        DeliveryMethod::Sms => row.try_get::<Option<String>, _>("phone_number")?.is_none().then_some("a phone_number"),
        DeliveryMethod::Email => row.try_get::<Option<String>, _>("email")?.is_none().then_some("an email"),
    };
    if let Some(what) = missing {
        return Err(Error::invalid(
            ErrorCode::InvalidDelivery,
            "delivery.method",
            format!("delivery by {} needs the link to have {what}", method.as_str()),
        )
        .into());
    }
    crate::limits::rate_limit(conn, &format!("link_send:{link_id}"), 3_600_000, SENDS_PER_HOUR, now_ms).await.map_err(
        |e| match e {
            crate::error::TxError::Rejected(_) => Error::new(
                ErrorCode::RateLimited,
                format!("This link was sent {SENDS_PER_HOUR} times in the last hour; try again later."),
            )
            .into(),
            other => other,
        },
    )?;
    sqlx::query(
        "UPDATE payout_links SET delivery_method = $1, delivery_status = 'pending', delivery_attempts = 0,
                delivery_due_at = $2, delivery_lease_until = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(method.as_str())
    .bind(now_ms)
    .bind(link_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The method a resend uses: the one asked for, else the link's own.
pub async fn method_for_resend(
    conn: &mut AnyConnection,
    app_id: &str,
    link_id: &str,
    asked: Option<DeliveryMethod>,
) -> Result<DeliveryMethod, Error> {
    let own: Option<String> =
        sqlx::query_scalar("SELECT delivery_method FROM payout_links WHERE id = $1 AND app_id = $2")
            .bind(link_id)
            .bind(app_id)
            .fetch_optional(conn)
            .await?;
    let own = own.ok_or_else(link_not_found)?;
    match asked.or(DeliveryMethod::parse(&own)) {
        Some(DeliveryMethod::None) | None => Err(Error::invalid(
            ErrorCode::InvalidDelivery,
            "delivery.method",
            "this link has no delivery method; name one: sms or email",
        )),
        Some(method) => Ok(method),
    }
}

#[derive(Debug, Clone)]
pub struct NewPayoutLink {
    pub id: String,
    pub app: AuthedApp,
    pub money: Money,
    pub phone_number: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub memo: Option<String>,
    pub expires_at: i64,
    pub user_id: Option<String>,
    pub brand: Option<String>,
    pub fee_party: Option<FeeParty>,
    pub delivery: DeliveryMethod,
    pub metadata: Metadata,
    pub token_hash: String,
    pub token_sealed: String,
}

pub fn link_token_context(id: &str) -> String {
    format!("payout_link:{id}")
}

impl NewPayoutLink {
    pub fn validate(keys: &Keys, app: &AuthedApp, req: CreatePayoutLinkRequest, now_ms: i64) -> Result<Self, Error> {
        let money = transfers::money_for(&app.wallet(), &req.amount, &req.currency)?;
        let phone_number = req.phone_number.as_deref().map(|p| PhoneNumber::parse(p, None)).transpose()?;
        let email = req.email.as_deref().map(Email::parse).transpose()?;
        if phone_number.is_none() && email.is_none() && req.user_id.is_none() {
            return Err(Error::invalid(
                ErrorCode::MissingField,
                "phone_number",
                "a payout link needs the payee's phone_number or email",
            ));
        }
        let memo = match req.memo.map(|m| m.trim().to_string()) {
            Some(m) if m.chars().count() > 200 || m.chars().any(char::is_control) => {
                return Err(Error::invalid(
                    ErrorCode::InvalidMemo,
                    "memo",
                    "memo must be at most 200 printable characters",
                ));
            }
            other => other.filter(|m| !m.is_empty()),
        };
        let expires_at = match req.expires_at.as_deref() {
            None => now_ms + LINK_DEFAULT_TTL_MS,
            Some(raw) => {
                let at = parse_rfc3339_ms(raw).ok_or_else(|| {
                    Error::invalid(ErrorCode::InvalidExpiresAt, "expires_at", "expires_at must be an RFC 3339 time")
                })?;
                if at <= now_ms || at > now_ms + LINK_MAX_TTL_MS {
                    return Err(Error::invalid(
                        ErrorCode::InvalidExpiresAt,
                        "expires_at",
                        "expires_at must be in the next 90 days",
                    ));
                }
                at
            }
        };
        let brand = req.brand.map(|b| crate::apps::brand(&b)).transpose()?;
        let fee_party = transfers::parse_fee_party(req.fee_party.as_deref())?;
        let delivery = DeliveryMethod::from_request(req.delivery.as_ref())?.unwrap_or_default();
        let metadata = metadata::from_request(req.metadata.as_ref())?;
        let id = new_id(ids::PAYOUT_LINK);
        let token = format!("plt_{}", random_base62(32));
        Ok(NewPayoutLink {
            token_hash: token_hash(&token),
            token_sealed: keys.seal(&link_token_context(&id), &token),
            id,
            app: app.clone(),
            money,
            phone_number,
            email,
            memo,
            expires_at,
            user_id: req.user_id,
            brand,
            fee_party,
            delivery,
            metadata,
        })
    }
}

pub async fn create_link(
    conn: &mut AnyConnection,
    keys: &Keys,
    public_url: &str,
    l: &NewPayoutLink,
    now_ms: i64,
) -> TxResult<api::PayoutLink> {
    let mut phone = l.phone_number.as_deref().map(str::to_owned);
    let mut email = l.email.as_deref().map(str::to_owned);
    if let Some(user_id) = &l.user_id {
        let user = users::get(conn, &l.app.id, user_id).await.map_err(|e| e.with_param("user_id"))?;
        // A known payee's email is where an emailed link goes, unless the app names another.
        email = email.or(Some(user.email));
        match &phone {
            Some(p) if *p != user.phone_number => {
                return Err(Error::invalid(
                    ErrorCode::PhoneMismatch,
                    "phone_number",
                    "phone_number is not this user's",
                )
                .into());
            }
            _ => phone = Some(user.phone_number),
        }
    }
    let terms = crate::apps::FeeTerms::of_app(conn, &l.app.id).await?;
    let fee = crate::payouts::fee_for(&terms, l.fee_party, l.money)?;
    // The new row comes back as stored (`RETURNING`), so the answer is read from
    // the database without a second query; a delivery, which changes the row,
    // reads it again after.
    static INSERT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "INSERT INTO payout_links (id, app_id, token_hash, token_encrypted, amount, currency, phone_number, email,
                                       memo, brand, status, user_id, expires_at, created_at, updated_at, fee,
                                       fee_party, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active', $11, $12, $13, $13, $14, $15, $16)
             RETURNING {LINK_COLUMNS}"
        )
    });
    let inserted = sqlx::query(&INSERT)
        .bind(&l.id)
        .bind(&l.app.id)
        .bind(&l.token_hash)
        .bind(&l.token_sealed)
        .bind(l.money.amount())
        .bind(l.money.currency().code())
        .bind(&phone)
        .bind(&email)
        .bind(&l.memo)
        .bind(&l.brand)
        .bind(&l.user_id)
        .bind(l.expires_at)
        .bind(now_ms)
        .bind(fee.amount)
        .bind(fee.party.as_str())
        .bind(metadata::to_text(&l.metadata))
        .fetch_one(&mut *conn)
        .await?;
    let link = if l.delivery == DeliveryMethod::None {
        link_from_row(keys, public_url, &inserted, now_ms)?
    } else {
        schedule_delivery(conn, &l.app.id, &l.id, l.delivery, now_ms).await?;
        get_link(conn, keys, public_url, &l.app.id, &l.id, now_ms).await?
    };
    events::record(conn, &l.app.id, events::PAYOUT_LINK_CREATED, &without_url(&link), now_ms).await?;
    Ok(link)
}

/// A link as events carry it: its URL holds the bearer token that claims it, and
/// events are kept for good and sent to webhooks; the app reads the URL from the
/// link (`GET /v2/payout-links/{id}`) when it needs it.
fn without_url(link: &api::PayoutLink) -> api::PayoutLink {
    api::PayoutLink { url: None, ..link.clone() }
}

const LINK_COLUMNS: &str = "id, token_encrypted, amount, fee, fee_party, currency, phone_number, email, memo, brand,
    status, user_id, payout_transfer_id, expires_at, claimed_at, created_at,
    delivery_method, delivery_status, delivery_attempts, delivered_at, metadata";

/// A link's fee, from a row with its `fee` and `fee_party`.
fn link_fee(row: &AnyRow) -> Result<Fee, Error> {
    let party: String = row.try_get("fee_party")?;
    let party = FeeParty::parse(&party).ok_or_else(|| Error::internal(format!("unexpected fee_party {party:?}")))?;
    Ok(Fee { amount: row.try_get("fee")?, party })
}

/// A link's status as the world sees it: an active link past its time is expired.
fn link_status(stored: &str, expires_at: i64, now_ms: i64) -> &str {
    if stored == "active" && expires_at <= now_ms { "expired" } else { stored }
}

fn link_from_row(keys: &Keys, public_url: &str, row: &AnyRow, now_ms: i64) -> Result<api::PayoutLink, Error> {
    let id: String = row.try_get("id")?;
    // A token no given key opens (a key taken away too soon) leaves the link
    // without its URL rather than failing the whole list; the log says why.
    let url = match keys.open(&link_token_context(&id), &row.try_get::<String, _>("token_encrypted")?) {
        Ok(token) => Some(format!("{public_url}/claim/{token}")),
        Err(e) => {
            tracing::error!(link = %id, error = %e, "a payout link's token does not open");
            None
        }
    };
    let expires_at: i64 = row.try_get("expires_at")?;
    let status: String = row.try_get("status")?;
    let brand: Option<String> = row.try_get("brand")?;
    let amount: i64 = row.try_get("amount")?;
    let fee = link_fee(row)?;
    Ok(api::PayoutLink {
        id,
        url,
        status: link_status(&status, expires_at, now_ms).to_string(),
        amount,
        fee: fee.amount,
        net: fee.net(amount),
        fee_party: fee.party,
        currency: row.try_get("currency")?,
        phone_number: row.try_get("phone_number")?,
        email: row.try_get("email")?,
        memo: row.try_get("memo")?,
        brand: brand.and_then(|b| serde_json::from_str::<Value>(&b).ok()),
        user_id: row.try_get("user_id")?,
        payout_transfer_id: row.try_get("payout_transfer_id")?,
        expires_at: rfc3339_from_unix_ms(expires_at),
        claimed_at: row.try_get::<Option<i64>, _>("claimed_at")?.map(rfc3339_from_unix_ms),
        created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
        delivery: delivery_shown(row)?,
        metadata: metadata::parse(&row.try_get::<String, _>("metadata")?),
    })
}

pub fn flow_not_found() -> Error {
    Error::new(ErrorCode::FlowNotFound, "No such flow.")
}

pub fn link_not_found() -> Error {
    Error::new(ErrorCode::PayoutLinkNotFound, "No such payout link.")
}

pub async fn get_link(
    conn: &mut AnyConnection,
    keys: &Keys,
    public_url: &str,
    app_id: &str,
    id: &str,
    now_ms: i64,
) -> Result<api::PayoutLink, Error> {
    let row = sqlx::query(&format!("SELECT {LINK_COLUMNS} FROM payout_links WHERE id = $1 AND app_id = $2"))
        .bind(id)
        .bind(app_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(link_not_found)?;
    link_from_row(keys, public_url, &row, now_ms)
}

pub async fn list_links(
    conn: &mut AnyConnection,
    keys: &Keys,
    public_url: &str,
    app_id: &str,
    filter: &metadata::ListFilter,
    page: &Page,
    now_ms: i64,
) -> Result<api::List<api::PayoutLink>, Error> {
    let before = page.cursor_seq(conn, crate::lists::Listed::PayoutLinks, app_id).await?;
    let (clauses, args) = filter.sql(crate::store::Backend::of(conn), "l", 4);
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM payout_links l WHERE l.app_id = $1 AND l.seq < $2{clauses}
         ORDER BY l.seq DESC LIMIT $3"
    );
    let query = sqlx::query(&sql).bind(app_id).bind(before).bind(page.limit() + 1);
    let rows = metadata::bind_all(query, args).fetch_all(conn).await?;
    let links = rows.iter().map(|r| link_from_row(keys, public_url, r, now_ms)).collect::<Result<Vec<_>, _>>()?;
    Ok(page.finish(links))
}

pub async fn cancel_link(
    conn: &mut AnyConnection,
    keys: &Keys,
    public_url: &str,
    app_id: &str,
    id: &str,
    now_ms: i64,
) -> TxResult<api::PayoutLink> {
    let canceled = sqlx::query(
        "UPDATE payout_links SET status = 'canceled', updated_at = $1
         WHERE id = $2 AND app_id = $3 AND status = 'active' AND expires_at > $1",
    )
    .bind(now_ms)
    .bind(id)
    .bind(app_id)
    .execute(&mut *conn)
    .await?;
    let link = get_link(conn, keys, public_url, app_id, id, now_ms).await?;
    if canceled.rows_affected() != 1 {
        return Err(Error::new(ErrorCode::PayoutLinkNotActive, format!("The payout link is {}.", link.status)).into());
    }
    events::record(conn, app_id, events::PAYOUT_LINK_CANCELED, &without_url(&link), now_ms).await?;
    Ok(link)
}

// ---- flows and sessions --------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFlowRequest {
    pub steps: Vec<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub redirect_url: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub theme: Option<Value>,
    /// The app's own notes: up to 20 string keys and values.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct NewFlow {
    pub id: String,
    pub app_id: String,
    pub user_id: Option<String>,
    pub payout_link_id: Option<String>,
    pub steps: Vec<String>,
    pub redirect_url: Option<String>,
    pub theme: Option<String>,
    pub token: String,
    pub expires_at: i64,
    /// `flow`, or `follow_up` for a claimed link's page ([`PURPOSE_FOLLOW_UP`]).
    pub purpose: &'static str,
    /// The phone this session has proven already (a follow-up of the claim that proved it).
    pub verified_phone: Option<String>,
    pub metadata: Metadata,
}

/// A follow-up session's `purpose` (see [`Session::follows_claim`]).
pub const PURPOSE_FOLLOW_UP: &str = "follow_up";

impl NewFlow {
    pub fn validate(app: &AuthedApp, req: CreateFlowRequest, now_ms: i64) -> Result<NewFlow, Error> {
        if req.steps.is_empty() || req.steps.len() > STEPS.len() {
            return Err(Error::invalid(
                ErrorCode::InvalidSteps,
                "steps",
                format!("steps is a list of {}", STEPS.join(", ")),
            ));
        }
        for (i, step) in req.steps.iter().enumerate() {
            if !STEPS.contains(&step.as_str()) || req.steps[..i].contains(step) {
                return Err(Error::invalid(
                    ErrorCode::InvalidSteps,
                    "steps",
                    format!("steps is a list of distinct {}", STEPS.join(", ")),
                ));
            }
        }
        if req.steps.iter().position(|s| s == "payout").is_some_and(|at| at + 1 != req.steps.len()) {
            return Err(Error::invalid(
                ErrorCode::InvalidSteps,
                "steps",
                "payout is the last step: the payee withdraws once everything else is done",
            ));
        }
        if let Some(url) = &req.redirect_url
            && !redirect_url_ok(url)
        {
            return Err(Error::invalid(
                ErrorCode::InvalidRedirectUrl,
                "redirect_url",
                "redirect_url must be an https URL",
            ));
        }
        let id = new_id(ids::FLOW);
        Ok(NewFlow {
            token: session_token(&id),
            id,
            app_id: app.id.clone(),
            user_id: req.user_id,
            payout_link_id: None,
            steps: req.steps,
            redirect_url: req.redirect_url,
            theme: req.theme.map(|t| crate::apps::brand(&t)).transpose()?,
            expires_at: now_ms + FLOW_TTL_MS,
            purpose: "flow",
            metadata: metadata::from_request(req.metadata.as_ref())?,
            verified_phone: None,
        })
    }

    /// The session a link's page opens: the flow that claims an active link (its
    /// session ends when the link does), or a claimed link's follow-up.
    pub fn for_link(link: &LinkSummary, now_ms: i64) -> NewFlow {
        if link.claimed {
            return NewFlow::follow_up(&link.app_id, link.user_id.clone(), &link.id, None, now_ms);
        }
        let id = new_id(ids::FLOW);
        NewFlow {
            token: session_token(&id),
            id,
            app_id: link.app_id.clone(),
            user_id: link.user_id.clone(),
            payout_link_id: Some(link.id.clone()),
            steps: STEPS.iter().map(|s| s.to_string()).collect(),
            redirect_url: None,
            theme: None,
            expires_at: (now_ms + FLOW_TTL_MS).min(link.expires_at),
            purpose: "flow",
            metadata: Metadata::new(),
            verified_phone: None,
        }
    }

    /// A claimed link's follow-up session for its payee (who proves the phone in it,
    /// unless the claim that starts it just did).
    fn follow_up(
        app_id: &str,
        user_id: Option<String>,
        link_id: &str,
        verified_phone: Option<String>,
        now_ms: i64,
    ) -> NewFlow {
        let id = new_id(ids::FLOW);
        NewFlow {
            token: session_token(&id),
            id,
            app_id: app_id.to_string(),
            user_id,
            payout_link_id: Some(link_id.to_string()),
            steps: vec!["verify_phone".into()],
            redirect_url: None,
            theme: None,
            expires_at: now_ms + FLOW_TTL_MS,
            purpose: PURPOSE_FOLLOW_UP,
            metadata: Metadata::new(),
            verified_phone,
        }
    }
}

/// Where a finished flow's own page may send the payee: an `https` URL, or `http`
/// to this machine itself (`localhost`, `127.0.0.1`, `[::1]`, for development),
/// parsed as a browser would, with the host compared exactly and no user name or
/// password in it (`http://localhost@evil.com` is a visit to evil.com).
pub fn redirect_url_ok(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else { return false };
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    raw.len() <= 500
        && url.username().is_empty()
        && url.password().is_none()
        && url.host_str().is_some()
        && (url.scheme() == "https" || (url.scheme() == "http" && local))
}

/// `fst_<flow id body>_<secret>`: the loader reads the flow id from the token to
/// open the flow's page (`/flow/{id}`), whose framing policy is the app's; the
/// secret part never leaves the token.
fn session_token(flow_id: &str) -> String {
    format!("fst_{}_{}", flow_id.trim_start_matches(ids::FLOW), random_base62(32))
}

/// Sessions one payout link may open per hour: a link's URL can be opened by
/// anyone who has it, and each opening is a row.
pub const SESSIONS_PER_LINK_PER_HOUR: i64 = 30;

/// A new flow and its session; the answer holds the session token (shown once).
pub async fn create_flow(
    conn: &mut AnyConnection,
    public_url: &str,
    f: &NewFlow,
    now_ms: i64,
) -> TxResult<api::FlowCreated> {
    // Anyone holding a link's URL can open sessions on it; a claim's own follow-up
    // comes from the claim and is not counted.
    if let Some(link_id) = f.payout_link_id.as_ref().filter(|_| f.verified_phone.is_none()) {
        let key = format!("link-sessions:{link_id}");
        crate::limits::rate_limit(conn, &key, 3600 * 1000, SESSIONS_PER_LINK_PER_HOUR, now_ms).await?;
    }
    if let Some(user_id) = &f.user_id {
        users::get(conn, &f.app_id, user_id).await.map_err(|e| e.with_param("user_id"))?;
    }
    sqlx::query(
        "INSERT INTO flows (id, app_id, user_id, payout_link_id, steps, redirect_url, theme, status, token_hash,
                            expires_at, created_at, purpose, verified_phone, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $11, $12, $13)",
    )
    .bind(&f.id)
    .bind(&f.app_id)
    .bind(&f.user_id)
    .bind(&f.payout_link_id)
    .bind(serde_json::to_string(&f.steps).map_err(Error::internal)?)
    .bind(&f.redirect_url)
    .bind(&f.theme)
    .bind(token_hash(&f.token))
    .bind(f.expires_at)
    .bind(now_ms)
    .bind(f.purpose)
    .bind(&f.verified_phone)
    .bind(metadata::to_text(&f.metadata))
    .execute(&mut *conn)
    .await?;
    // `url` is the flow as a page of its own (link or redirect the payee there); it
    // carries the token in its fragment, which browsers never send to a server.
    Ok(api::FlowCreated {
        id: f.id.clone(),
        url: format!("{public_url}/flow/{}#{}", f.id, f.token),
        token: Some(f.token.clone()),
        expires_at: rfc3339_from_unix_ms(f.expires_at),
    })
}

/// What an idempotent replay of [`create_flow`]'s answer shows: neither the token
/// nor the URL that carries it.
pub fn without_token(created: &api::FlowCreated) -> api::FlowCreated {
    let page = created.url.split('#').next().unwrap_or_default().to_string();
    api::FlowCreated { url: page, token: None, ..created.clone() }
}

pub async fn get_flow(conn: &mut AnyConnection, public_url: &str, app_id: &str, id: &str) -> Result<api::Flow, Error> {
    let row = sqlx::query(&format!("{FLOW_COLUMNS} WHERE id = $1 AND app_id = $2"))
        .bind(id)
        .bind(app_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(flow_not_found)?;
    flow_of(public_url, &row)
}

const FLOW_COLUMNS: &str = "SELECT id, user_id, payout_link_id, steps, redirect_url, status, expires_at, completed_at,
        created_at, metadata FROM flows";

/// The flows the app made (`POST /v2/flows`; not the sessions of its payout
/// links), newest first; `user_id` narrows them to one user's.
pub async fn list_flows(
    conn: &mut AnyConnection,
    public_url: &str,
    app_id: &str,
    page: &crate::lists::Page,
    user_id: Option<&str>,
) -> Result<api::List<api::Flow>, Error> {
    let before = page.cursor_seq(conn, crate::lists::Listed::Flows, app_id).await?;
    let by_user = if user_id.is_some() { " AND user_id = $4" } else { "" };
    let sql = format!(
        "{FLOW_COLUMNS} WHERE app_id = $1 AND seq < $2 AND purpose = 'flow' AND payout_link_id IS NULL{by_user}
         ORDER BY seq DESC LIMIT $3"
    );
    let mut query = sqlx::query(&sql).bind(app_id).bind(before).bind(page.limit() + 1);
    if let Some(user) = user_id {
        query = query.bind(user);
    }
    let rows = query.fetch_all(conn).await?;
    let flows = rows.iter().map(|row| flow_of(public_url, row)).collect::<Result<Vec<_>, Error>>()?;
    Ok(page.finish(flows))
}

fn flow_of(public_url: &str, row: &sqlx::any::AnyRow) -> Result<api::Flow, Error> {
    let id: String = row.try_get("id")?;
    let steps: String = row.try_get("steps")?;
    Ok(api::Flow {
        url: format!("{public_url}/flow/{id}"),
        user_id: row.try_get("user_id")?,
        payout_link_id: row.try_get("payout_link_id")?,
        steps: serde_json::from_str(&steps).map_err(|e| Error::internal(format!("flow {id}'s steps: {e}")))?,
        redirect_url: row.try_get("redirect_url")?,
        status: row.try_get("status")?,
        expires_at: rfc3339_from_unix_ms(row.try_get("expires_at")?),
        completed_at: row.try_get::<Option<i64>, _>("completed_at")?.map(rfc3339_from_unix_ms),
        metadata: metadata::parse(&row.try_get::<String, _>("metadata")?),
        created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
        id,
    })
}

/// What a payout link's token opens.
#[derive(Debug, Clone)]
pub struct LinkSummary {
    pub id: String,
    pub app_id: String,
    pub user_id: Option<String>,
    pub expires_at: i64,
    /// Claimed already: its page follows the payout (a follow-up session).
    pub claimed: bool,
}

/// Finds a link its page can open by its token: an active link (to claim) or a
/// claimed one (to follow its payout). A canceled or expired link is refused with a
/// code of its own, so its page can tell the payee which.
pub async fn link_by_token(conn: &mut AnyConnection, token: &str, now_ms: i64) -> Result<LinkSummary, Error> {
    let row = sqlx::query(
        "SELECT l.id, l.app_id, l.user_id, l.status, l.expires_at, a.suspended_at
         FROM payout_links l JOIN apps a ON a.id = l.app_id WHERE l.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(conn)
    .await?
    .ok_or_else(link_not_found)?;
    if row.try_get::<Option<i64>, _>("suspended_at")?.is_some() {
        return Err(crate::operator::payouts_paused());
    }
    let status: String = row.try_get("status")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    // A claimed link stays claimed whatever its expiry said.
    let status = if status == "claimed" { "claimed" } else { link_status(&status, expires_at, now_ms) };
    match status {
        "active" | "claimed" => {}
        "canceled" => return Err(Error::new(ErrorCode::PayoutLinkCanceled, "The app canceled this payout link.")),
        "expired" => return Err(Error::new(ErrorCode::PayoutLinkExpired, "This payout link has expired.")),
        other => {
            return Err(Error::new(ErrorCode::PayoutLinkNotClaimable, format!("This payout link is {other}.")));
        }
    }
    Ok(LinkSummary {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        user_id: row.try_get("user_id")?,
        expires_at,
        claimed: status == "claimed",
    })
}

/// A flow API caller: who the bearer token speaks for.
#[derive(Debug, Clone)]
pub struct Session {
    pub flow_id: String,
    pub app_id: String,
    pub user_id: Option<String>,
    pub payout_link_id: Option<String>,
    pub steps: Vec<String>,
    pub status: String,
    /// The phone this session proved, if it did.
    pub verified_phone: Option<String>,
    /// The flow's brand override (JSON), and where its own page sends the payee when done.
    pub theme: Option<String>,
    pub redirect_url: Option<String>,
    /// A claimed link's follow-up session: it lives past the claim and only follows
    /// (and resends) the link's payout, for the payee who claimed it.
    pub follows_claim: bool,
}

impl Session {
    pub fn subject(&self) -> String {
        format!("flow:{}", self.flow_id)
    }

    /// The session's user once the phone is proven (or, pre-authenticated, at once).
    pub fn user(&self) -> Result<&str, Error> {
        match (&self.user_id, &self.verified_phone, &self.payout_link_id) {
            (Some(user), _, None) => Ok(user),
            (Some(user), Some(_), Some(_)) => Ok(user),
            _ => Err(Error::new(ErrorCode::PhoneNotVerified, "Verify the phone number first.")),
        }
    }
}

pub async fn session_by_token(conn: &mut AnyConnection, token: &str, now_ms: i64) -> Result<Session, Error> {
    let row = sqlx::query(
        "SELECT f.id, f.app_id, f.user_id, f.payout_link_id, f.steps, f.status, f.verified_phone, f.theme,
                f.redirect_url, f.expires_at, f.purpose, l.status AS link_status, l.expires_at AS link_expires_at,
                a.suspended_at
         FROM flows f JOIN apps a ON a.id = f.app_id LEFT JOIN payout_links l ON l.id = f.payout_link_id
         WHERE f.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::new(ErrorCode::InvalidSession, "This session is not valid; start again from the link."))?;
    if row.try_get::<i64, _>("expires_at")? <= now_ms {
        return Err(Error::new(ErrorCode::SessionExpired, "This session has expired; start again from the link."));
    }
    if row.try_get::<Option<i64>, _>("suspended_at")?.is_some() {
        return Err(crate::operator::payouts_paused());
    }
    // A session ends with its flow (completed or revoked) and with its link
    // (claimed, canceled or expired): its token can do nothing more. A follow-up
    // session begins with the claim and ends only with itself.
    let follows_claim = row.try_get::<String, _>("purpose")? == PURPOSE_FOLLOW_UP;
    let link_expired = row.try_get::<Option<i64>, _>("link_expires_at")?.is_some_and(|e| e <= now_ms);
    let why = match (row.try_get::<String, _>("status")?.as_str(), row.try_get::<Option<String>, _>("link_status")?) {
        ("active", Some(_)) if follows_claim => None,
        (_, Some(link)) if link == "claimed" => Some("This payment has already been claimed."),
        (_, Some(link)) if link == "canceled" => Some("The sender canceled this payment."),
        (_, Some(_)) if link_expired => Some("This payment link has expired."),
        ("revoked", _) => Some("The sender ended this session."),
        ("active", _) => None,
        _ => Some("This session has ended."),
    };
    if let Some(why) = why {
        return Err(Error::new(ErrorCode::SessionEnded, why));
    }
    Ok(Session {
        flow_id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        user_id: row.try_get("user_id")?,
        payout_link_id: row.try_get("payout_link_id")?,
        steps: serde_json::from_str(&row.try_get::<String, _>("steps")?).unwrap_or_default(),
        status: row.try_get("status")?,
        verified_phone: row.try_get("verified_phone")?,
        theme: row.try_get("theme")?,
        redirect_url: row.try_get("redirect_url")?,
        follows_claim,
    })
}

/// Where the session's code goes: a link's or a known user's phone, or the phone
/// the payee typed when the link was sent by email.
pub async fn code_destination(
    conn: &mut AnyConnection,
    session: &Session,
    typed: Option<&str>,
    country_code: Option<&str>,
) -> Result<String, Error> {
    let typed = typed.map(|p| PhoneNumber::parse(p, country_code)).transpose()?.map(PhoneNumber::into_string);
    let expected: Option<String> = match (&session.payout_link_id, &session.user_id) {
        // After the claim the code goes to the payee who claimed it.
        (Some(_), Some(user)) if session.follows_claim => {
            Some(users::get(conn, &session.app_id, user).await?.phone_number)
        }
        (Some(link), _) => {
            sqlx::query_scalar("SELECT phone_number FROM payout_links WHERE id = $1")
                .bind(link)
                .fetch_one(&mut *conn)
                .await?
        }
        (None, Some(user)) => Some(users::get(conn, &session.app_id, user).await?.phone_number),
        (None, None) => None,
    };
    match (expected, typed) {
        // The typed number must be the one the payment was meant for; which one
        // that is stays unsaid.
        (Some(expected), Some(typed)) if expected != typed => Err(Error::invalid(
            ErrorCode::PhoneMismatch,
            "phone_number",
            "This payment was sent to a different phone number.",
        )),
        (Some(expected), _) => Ok(expected),
        (None, Some(typed)) => Ok(typed),
        (None, None) => Err(Error::invalid(ErrorCode::MissingField, "phone_number", "phone_number is required")),
    }
}

/// After a right code: the session's user is the app's user with that phone (made
/// now if there is none), and their phone is verified.
pub async fn verified(
    conn: &mut AnyConnection,
    session: &Session,
    phone: &str,
    email: Option<String>,
    now_ms: i64,
) -> TxResult<Verified> {
    let existing: Option<String> = match &session.user_id {
        Some(user) => Some(user.clone()),
        None => {
            sqlx::query_scalar("SELECT id FROM users WHERE app_id = $1 AND phone_number = $2")
                .bind(&session.app_id)
                .bind(phone)
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    let user_id = match existing {
        Some(user) => user,
        None => {
            let currency: String = sqlx::query_scalar("SELECT currency FROM apps WHERE id = $1")
                .bind(&session.app_id)
                .fetch_one(&mut *conn)
                .await?;
            let new_user = users::NewUser {
                metadata: Default::default(),
                app_id: session.app_id.clone(),
                currency: dots_shared::Currency::parse(&currency).map_err(Error::internal)?,
                first_name: String::new(),
                last_name: String::new(),
                email: email.map(Email::stored),
                phone_number: PhoneNumber::stored(phone.to_string()),
            };
            users::insert(conn, &new_user, now_ms).await?.id
        }
    };
    users::mark_verified(conn, &session.app_id, &user_id, now_ms).await?;
    // The browser that proved the phone gets a fresh token and the old one dies:
    // a token handed to someone else (a planted link or flow URL) is useless once
    // its victim verifies.
    let token = session_token(&session.flow_id);
    sqlx::query("UPDATE flows SET user_id = $1, verified_phone = $2, token_hash = $3 WHERE id = $4")
        .bind(&user_id)
        .bind(phone)
        .bind(token_hash(&token))
        .bind(&session.flow_id)
        .execute(&mut *conn)
        .await?;
    Ok(Verified { user_id, session_token: token })
}

/// A right code's outcome: the payee, and the session's new token.
pub struct Verified {
    pub user_id: String,
    pub session_token: String,
}

/// Ends a flow's session (`POST /v2/flows/{id}/revoke`): its token answers `401
/// session_ended` from now on. A completed or already revoked flow is left as it is.
pub async fn revoke(
    conn: &mut AnyConnection,
    public_url: &str,
    app_id: &str,
    id: &str,
    now_ms: i64,
) -> TxResult<api::Flow> {
    let revoked =
        sqlx::query("UPDATE flows SET status = 'revoked' WHERE id = $1 AND app_id = $2 AND status = 'active'")
            .bind(id)
            .bind(app_id)
            .execute(&mut *conn)
            .await?;
    if revoked.rows_affected() == 1 {
        events::record(conn, app_id, events::FLOW_REVOKED, &json!({"flow_id": id}), now_ms).await?;
    }
    Ok(get_flow(conn, public_url, app_id, id).await?)
}

/// The claim: in one database transaction the link becomes `claimed` (only one
/// claim can win), the amount moves app wallet → payee wallet, and a payout of it
/// is made to the chosen method. Any refusal leaves all three undone.
pub async fn claim(
    conn: &mut AnyConnection,
    session: &Session,
    payout_method_id: &str,
    now_ms: i64,
) -> TxResult<api::Claimed> {
    let user_id = session.user()?.to_string();
    let link_id = session
        .payout_link_id
        .clone()
        .ok_or_else(|| Error::new(ErrorCode::NotAPayoutLink, "This flow has no payout link to claim."))?;
    let won = sqlx::query(
        "UPDATE payout_links SET status = 'claimed', user_id = $1, claimed_at = $2, updated_at = $2
         WHERE id = $3 AND status = 'active' AND expires_at > $2",
    )
    .bind(&user_id)
    .bind(now_ms)
    .bind(&link_id)
    .execute(&mut *conn)
    .await?;
    if won.rows_affected() != 1 {
        return Err(Error::new(
            ErrorCode::PayoutLinkNotClaimable,
            "This payout link was claimed, canceled or has expired.",
        )
        .into());
    }
    let row = sqlx::query(
        "SELECT l.amount, l.fee, l.fee_party, l.currency, l.metadata, a.id, a.wallet_id, a.mode
         FROM payout_links l JOIN apps a ON a.id = l.app_id WHERE l.id = $1",
    )
    .bind(&link_id)
    .fetch_one(&mut *conn)
    .await?;
    let currency = dots_shared::Currency::parse(&row.try_get::<String, _>("currency")?).map_err(Error::internal)?;
    let live = row.try_get::<String, _>("mode")? == "live";
    let app = crate::ledger::AppWallet { id: row.try_get("id")?, wallet_id: row.try_get("wallet_id")?, currency, live };
    let money = Money::new(row.try_get("amount")?, currency).map_err(Error::internal)?;
    let payout = NewTransfer {
        app: app.clone(),
        kind: dots_shared::TransferType::Payout,
        user_id: user_id.clone(),
        money,
        direction: None,
        payout_method_id: Some(payout_method_id.into()),
        fee_party: None,
        quoted_fee: Some(link_fee(&row)?),
        metadata: metadata::parse(&row.try_get::<String, _>("metadata")?),
    };
    let (_, payout) = crate::payouts::fund_and_pay(conn, &payout, now_ms).await?;
    sqlx::query("UPDATE payout_links SET payout_transfer_id = $1 WHERE id = $2")
        .bind(&payout.id)
        .bind(&link_id)
        .execute(&mut *conn)
        .await?;
    complete(conn, session, now_ms).await?;
    let claimed =
        json!({"payout_link_id": link_id, "user_id": user_id, "payout_transfer_id": payout.id, "status": "claimed"});
    events::record(conn, &app.id, events::PAYOUT_LINK_CLAIMED, &claimed, now_ms).await?;
    // The claim ends this session; the payee follows the payout in a new one, with
    // the phone they just proved.
    let phone = session.verified_phone.clone();
    let follow_up = NewFlow::follow_up(&app.id, Some(user_id), &link_id, phone, now_ms);
    let follow_up = create_flow(conn, "", &follow_up, now_ms).await?;
    Ok(api::Claimed {
        flow_id: session.flow_id.clone(),
        payout_link_id: link_id,
        payout: api::ClaimedPayout {
            id: payout.id,
            status: payout.status,
            amount: payout.amount,
            currency: payout.currency,
        },
        session_token: follow_up.token,
    })
}

/// Why a link's payout is not resendable, for [`resend`].
fn not_resendable(why: &str) -> Error {
    Error::new(ErrorCode::PayoutNotResendable, why.to_string())
}

/// The claimed link a follow-up session may follow: its id, and its current payout.
async fn followed_link(conn: &mut AnyConnection, session: &Session) -> Result<(String, String, String), Error> {
    let user = session.user()?.to_string();
    let link_id = match (&session.payout_link_id, session.follows_claim) {
        (Some(link), true) => link.clone(),
        _ => return Err(not_resendable("Only a claimed link's page can send its money again.")),
    };
    let payout: Option<String> =
        sqlx::query_scalar("SELECT payout_transfer_id FROM payout_links WHERE id = $1 AND user_id = $2")
            .bind(&link_id)
            .bind(&user)
            .fetch_optional(&mut *conn)
            .await?
            .flatten();
    let payout = payout.ok_or_else(|| not_resendable("This payment has no payout to follow."))?;
    Ok((link_id, user, payout))
}

/// A link's payout as its payee follows it: status, reason, where it goes.
async fn link_payout(conn: &mut AnyConnection, session: &Session) -> Result<flow::LinkPayout, Error> {
    let (_, user, payout_id) = followed_link(conn, session).await?;
    payout_view(conn, &session.app_id, &user, &payout_id).await
}

/// Payout `payout_id` of `user` as the link's page shows it.
async fn payout_view(
    conn: &mut AnyConnection,
    app_id: &str,
    user: &str,
    payout_id: &str,
) -> Result<flow::LinkPayout, Error> {
    let transfer = transfers::get(conn, app_id, payout_id).await?;
    let failure_code = match transfer.status {
        TransferStatus::Failed | TransferStatus::Reversed => {
            transfer.status_history.last().and_then(|change| change.reason.clone())
        }
        TransferStatus::Canceled => Some("canceled".into()),
        _ => None,
    };
    let payout_method = match &transfer.payout_method_id {
        Some(id) => payout_methods::get(conn, app_id, user, id).await.ok(),
        None => None,
    };
    Ok(flow::LinkPayout {
        resendable: matches!(transfer.status, TransferStatus::Failed | TransferStatus::Canceled),
        id: transfer.id,
        status: transfer.status,
        failure_code,
        payout_method,
        updated_at: transfer.updated_at,
    })
}

/// Sends a claimed link's money again, to `payout_method_id`, after its payout
/// failed or was canceled (the money went back to the payee's wallet): one new
/// payout, which becomes the link's. Two resends of one failed payout (a double
/// click, two tabs) make one: the link moves to the new payout only from the
/// failed one, and the loser's whole transaction rolls back.
pub async fn resend(
    conn: &mut AnyConnection,
    session: &Session,
    payout_method_id: &str,
    now_ms: i64,
) -> TxResult<flow::LinkPayout> {
    // Resends of one link queue here (a row lock on PostgreSQL; SQLite has one
    // writer): the second reads the first's payout, not the failed one.
    if let Some(link) = &session.payout_link_id {
        sqlx::query("UPDATE payout_links SET updated_at = updated_at WHERE id = $1")
            .bind(link)
            .execute(&mut *conn)
            .await?;
    }
    let (link_id, user_id, failed) = followed_link(conn, session).await?;
    let current = payout_view(conn, &session.app_id, &user_id, &failed).await?;
    if !current.resendable {
        return Err(not_resendable("This payment's payout has not failed; it cannot be sent again.").into());
    }
    let row = sqlx::query(
        "SELECT l.amount, l.fee, l.fee_party, l.currency, l.metadata, a.wallet_id, a.mode
         FROM payout_links l JOIN apps a ON a.id = l.app_id WHERE l.id = $1",
    )
    .bind(&link_id)
    .fetch_one(&mut *conn)
    .await?;
    let currency = dots_shared::Currency::parse(&row.try_get::<String, _>("currency")?).map_err(Error::internal)?;
    let live = row.try_get::<String, _>("mode")? == "live";
    let app =
        crate::ledger::AppWallet { id: session.app_id.clone(), wallet_id: row.try_get("wallet_id")?, currency, live };
    let payout = NewTransfer {
        app,
        kind: dots_shared::TransferType::Payout,
        user_id: user_id.clone(),
        money: Money::new(row.try_get("amount")?, currency).map_err(Error::internal)?,
        direction: None,
        payout_method_id: Some(payout_method_id.to_string()),
        fee_party: None,
        quoted_fee: Some(link_fee(&row)?),
        metadata: metadata::parse(&row.try_get::<String, _>("metadata")?),
    };
    let payout = crate::payouts::create(conn, &payout, now_ms).await?;
    let moved = sqlx::query(
        "UPDATE payout_links SET payout_transfer_id = $1, updated_at = $2 WHERE id = $3 AND payout_transfer_id = $4",
    )
    .bind(&payout.id)
    .bind(now_ms)
    .bind(&link_id)
    .bind(&failed)
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(not_resendable("This payment was sent again already.").into());
    }
    Ok(payout_view(conn, &session.app_id, &user_id, &payout.id).await?)
}

/// Marks the flow completed (once) and announces it with opaque ids only.
pub async fn complete(conn: &mut AnyConnection, session: &Session, now_ms: i64) -> TxResult<()> {
    let done =
        sqlx::query("UPDATE flows SET status = 'completed', completed_at = $1 WHERE id = $2 AND status = 'active'")
            .bind(now_ms)
            .bind(&session.flow_id)
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() == 1 {
        let (user_id, payout): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT user_id, payout_transfer_id FROM flows WHERE id = $1")
                .bind(&session.flow_id)
                .fetch_one(&mut *conn)
                .await?;
        let mut data = json!({"flow_id": session.flow_id, "user_id": user_id});
        if let Some(payout) = payout {
            data["payout_transfer_id"] = payout.into();
        }
        events::record(conn, &session.app_id, events::FLOW_COMPLETED, &data, now_ms).await?;
    }
    Ok(())
}

/// What the payee of a flow with a `payout` step may withdraw now.
pub async fn payout_offer(
    conn: &mut AnyConnection,
    session: &Session,
    amount: Option<i64>,
) -> Result<flow::PayoutOffer, Error> {
    if !session.steps.iter().any(|s| s == "payout") {
        return Err(Error::new(ErrorCode::InvalidSteps, "This flow has no payout step.").with_param("steps"));
    }
    let user = users::get(conn, &session.app_id, session.user()?).await?;
    let row = sqlx::query(&format!(
        "SELECT flow_payout_min, flow_payout_max, {} FROM apps WHERE id = $1",
        crate::apps::FEE_COLUMNS
    ))
    .bind(&session.app_id)
    .fetch_one(&mut *conn)
    .await?;
    let terms = crate::apps::FeeTerms::from_row(&row)?;
    let max: Option<i64> = row.try_get("flow_payout_max")?;
    let available = user.wallet.available;
    let amount = amount.unwrap_or_else(|| max.map_or(available, |max| max.min(available)));
    let fee = Fee { amount: terms.schedule.fee_for(amount), party: terms.party };
    Ok(flow::PayoutOffer {
        available,
        currency: user.wallet.currency,
        min: row.try_get("flow_payout_min")?,
        max,
        fees: terms.schedule,
        fee_party: terms.party,
        amount,
        fee: fee.paid_by_user(),
        net: fee.net(amount),
    })
}

/// The flow's `payout` step: the payee withdraws `amount` (their whole balance when
/// absent), within the app's bounds, to one of their methods; the app's fee rule
/// applies. Once, per flow: the flow keeps the payout, and completes with it when
/// its other steps are done (`flow.completed` carries `payout_transfer_id`).
pub async fn withdraw(
    conn: &mut AnyConnection,
    session: &Session,
    amount: Option<i64>,
    payout_method_id: &str,
    now_ms: i64,
) -> TxResult<api::ClaimedPayout> {
    let offer = payout_offer(conn, session, None).await?;
    let user_id = session.user()?.to_string();
    let amount = amount.unwrap_or(offer.available);
    let bad = |message: String| Error::invalid(ErrorCode::InvalidAmount, "amount", message);
    if amount <= 0 {
        return Err(match offer.available {
            0 => crate::ledger::insufficient_funds(),
            _ => bad("amount must be a whole number of minor units above 0".into()),
        }
        .into());
    }
    if let Some(min) = offer.min.filter(|min| amount < *min) {
        return Err(bad(format!("at least {min} minor units may be withdrawn here")).into());
    }
    if let Some(max) = offer.max.filter(|max| amount > *max) {
        return Err(bad(format!("at most {max} minor units may be withdrawn here")).into());
    }
    // One payout per flow: of two concurrent withdrawals only one takes the flow.
    let taken = sqlx::query("UPDATE flows SET payout_transfer_id = '' WHERE id = $1 AND payout_transfer_id IS NULL")
        .bind(&session.flow_id)
        .execute(&mut *conn)
        .await?;
    if taken.rows_affected() != 1 {
        return Err(Error::new(ErrorCode::FlowPayoutMade, "This flow's payout was made already.").into());
    }
    let currency = dots_shared::Currency::parse(&offer.currency).map_err(Error::internal)?;
    let app = sqlx::query("SELECT wallet_id, mode FROM apps WHERE id = $1")
        .bind(&session.app_id)
        .fetch_one(&mut *conn)
        .await?;
    let (wallet, live): (String, bool) = (app.try_get("wallet_id")?, app.try_get::<String, _>("mode")? == "live");
    let payout = NewTransfer {
        app: crate::ledger::AppWallet { id: session.app_id.clone(), wallet_id: wallet, currency, live },
        kind: dots_shared::TransferType::Payout,
        user_id,
        money: Money::new(amount, currency).map_err(|e| bad(e.to_string()))?,
        direction: None,
        payout_method_id: Some(payout_method_id.to_string()),
        fee_party: None,
        quoted_fee: None,
        metadata: Metadata::new(),
    };
    let paid = crate::payouts::create(conn, &payout, now_ms).await?;
    sqlx::query("UPDATE flows SET payout_transfer_id = $1 WHERE id = $2")
        .bind(&paid.id)
        .bind(&session.flow_id)
        .execute(&mut *conn)
        .await?;
    require_steps(conn, session).await?;
    complete(conn, session, now_ms).await?;
    Ok(api::ClaimedPayout { id: paid.id, status: paid.status, amount: paid.amount, currency: paid.currency })
}

/// A host-page flow completes only when each of its steps is done.
pub async fn require_steps(conn: &mut AnyConnection, session: &Session) -> TxResult<()> {
    let user_id = session.user()?.to_string();
    let incomplete =
        |step: &str| Error::new(ErrorCode::FlowIncomplete, format!("The {step} step is not done.")).with_param(step);
    for step in &session.steps {
        let done = match step.as_str() {
            "verify_phone" => sqlx::query_scalar::<_, Option<i64>>("SELECT phone_verified_at FROM users WHERE id = $1")
                .bind(&user_id)
                .fetch_one(&mut *conn)
                .await?
                .is_some(),
            "payout_method" => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM payout_methods WHERE user_id = $1 AND deleted_at IS NULL",
                )
                .bind(&user_id)
                .fetch_one(&mut *conn)
                .await?
                    > 0
            }
            "payout" => sqlx::query_scalar::<_, Option<String>>("SELECT payout_transfer_id FROM flows WHERE id = $1")
                .bind(&session.flow_id)
                .fetch_one(&mut *conn)
                .await?
                .is_some_and(|id| !id.is_empty()),
            "compliance" => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM compliance WHERE user_id = $1 AND legal_first_name IS NOT NULL
                     AND legal_last_name IS NOT NULL AND date_of_birth IS NOT NULL",
                )
                .bind(&user_id)
                .fetch_one(&mut *conn)
                .await?
                    > 0
            }
            _ => true,
        };
        if !done {
            return Err(incomplete(step).into());
        }
    }
    Ok(())
}

/// Everything the widget needs to choose its steps and dress itself: the app's
/// brand with the flow's or link's override on top, the link it claims, whether
/// the phone is proven, and what compliance still asks.
pub async fn session_state(
    conn: &mut AnyConnection,
    keys: &Keys,
    session: &Session,
    now_ms: i64,
) -> Result<flow::SessionState, Error> {
    let (app_name, app_brand, default_country) = sqlx::query_as::<_, (String, String, Option<String>)>(
        "SELECT name, brand, default_country FROM apps WHERE id = $1",
    )
    .bind(&session.app_id)
    .fetch_one(&mut *conn)
    .await?;
    let app_brand = stored_brand(&app_brand);
    let mut brand = app_brand.clone().with(&session.theme.as_deref().map(stored_brand).unwrap_or_default());
    let (mut verified, mut phone_hint) = (session.verified_phone.is_some(), None);
    let mut payout_link = None;
    let mut amount = 0;
    if let Some(link_id) = &session.payout_link_id {
        // The URL is not needed here (nor shown): no public URL is passed.
        let link = get_link(conn, keys, "", &session.app_id, link_id, now_ms).await?;
        amount = link.amount;
        phone_hint = link.phone_number.as_deref().map(mask_phone);
        if let Some(over) = &link.brand {
            brand = brand.with(&Brand::from_value(over));
        }
        let fee = Fee { amount: link.fee, party: link.fee_party };
        payout_link = Some(flow::SessionLink {
            amount: link.amount,
            fee: fee.paid_by_user(),
            net: link.net,
            currency: link.currency,
            memo: link.memo,
            status: link.status,
            expires_at: link.expires_at,
            brand: link.brand.as_ref().map(Brand::from_value),
            phone_hint: phone_hint.clone(),
            // Only to the payee who claimed it, once they proved their phone here.
            payout: match session.follows_claim && session.verified_phone.is_some() {
                true => Some(link_payout(conn, session).await?),
                false => None,
            },
        });
    } else if let Some(user) = &session.user_id {
        let user = users::get(conn, &session.app_id, user).await?;
        verified = verified || user.phone_verified;
        phone_hint = Some(mask_phone(&user.phone_number));
    }
    let tax_id = match session.user() {
        Ok(user) => crate::payees::compliance::tax_id_required(conn, &session.app_id, user, amount, now_ms).await?,
        Err(_) => false,
    };
    Ok(flow::SessionState {
        flow_id: session.flow_id.clone(),
        status: session.status.clone(),
        steps: session.steps.clone(),
        pre_authenticated: session.payout_link_id.is_none() && session.user_id.is_some(),
        verified,
        phone_hint,
        user_id: session.user().ok().map(str::to_string),
        app: flow::SessionApp { name: app_name, brand: app_brand, default_country },
        brand,
        payout_link,
        requirements: api::ComplianceRequirements { tax_id },
        redirect_url: session.redirect_url.clone(),
    })
}

/// A brand as stored (JSON text); unreadable text is no brand.
pub fn stored_brand(text: &str) -> Brand {
    serde_json::from_str::<Value>(text).map(|v| Brand::from_value(&v)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::redirect_url_ok;

    #[test]
    fn redirect_urls_are_parsed_and_their_host_compared_exactly() {
        for good in [
            "https://merchant.example/done",
            "https://merchant.example:8443/done?x=1#top",
            "http://localhost:8081/done",
            "http://127.0.0.1/done",
            "http://[::1]:3000/",
        ] {
            assert!(redirect_url_ok(good), "{good}");
        }
        for bad in [
            "http://localhost.evil.com/",
            "http://localhost@evil.com/",
            "http://127.0.0.1.nip.io/",
            "https://user:pass@merchant.example/",
            "http://merchant.example/",
            "javascript:alert(1)",
            "ftp://merchant.example/",
            "//evil.com",
        ] {
            assert!(!redirect_url_ok(bad), "{bad}");
        }
        assert!(!redirect_url_ok(&format!("https://x.io/{}", "a".repeat(500))));
    }
}
