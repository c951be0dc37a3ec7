//! Webhooks: per-app endpoints, deliveries queued in the same database transaction
//! as their event (the outbox), and a delivery worker that signs each request the
//! Standard Webhooks way and retries with exponential back-off and jitter.
//!
//! Several server processes share the deliveries through a lease column (as the
//! payout worker does): an attempt is made by whoever holds the lease, and the
//! lease outlives the request's timeout, so no attempt is sent twice at once. A
//! process killed mid-attempt leaves the delivery pending; it is retried after
//! the lease lapses (at-least-once: receivers dedupe on `webhook-id`).

use dots_shared::{ErrorCode, api};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use dots_shared::ids;
use dots_shared::time::rfc3339_from_unix_ms;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::{AnyConnection, Row};
use tokio::task::JoinSet;

use crate::error::{Error, TxResult};
use crate::lists::Page;
use crate::outbound::{HttpClient, check_url};
use crate::secrets::Keys;
use crate::services::Services;
use crate::store::writes::{Arg, Col, Rows, RowsSql, Writes, arguments};
use crate::store::{Backend, Store, new_id, now_ms};

pub const MAX_ENDPOINTS_PER_APP: i64 = 16;
/// A delivery is tried this many times, then it is `failed`.
pub const MAX_ATTEMPTS: i64 = 10;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 6 * 3600 * 1000;
/// How many requests are in flight at once, and how many of those may wait on
/// one endpoint (so a slow one cannot take all).
pub const MAX_IN_FLIGHT: usize = 32;
pub const MAX_IN_FLIGHT_PER_ENDPOINT: usize = 4;
/// The old secret keeps signing for this long after a rotation unless told otherwise.
pub const DEFAULT_ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;

pub use dots_shared::api::event_types::ALL as EVENT_TYPES;

// ---- endpoints -------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    pub url: String,
    /// Event types to receive; every type when absent.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub id: String,
    pub app_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
    pub secret_sealed: String,
}

pub fn secret_context(endpoint_id: &str) -> String {
    format!("webhook_secret:{endpoint_id}")
}

fn new_secret() -> String {
    let mut raw = [0u8; 24];
    getrandom::fill(&mut raw).expect("the operating system's random source failed");
    format!("whsec_{}", B64.encode(raw))
}

impl NewEndpoint {
    pub fn validate(
        keys: &Keys,
        app_id: &str,
        req: CreateWebhookRequest,
        allow_private: bool,
    ) -> Result<NewEndpoint, Error> {
        check_url(&req.url, allow_private)
            .map_err(|why| Error::invalid(ErrorCode::WebhookUrlNotAllowed, "url", why))?;
        let events = match req.events {
            None => vec!["*".to_string()],
            Some(list) if list.is_empty() => {
                return Err(Error::invalid(ErrorCode::InvalidEvents, "events", "events lists at least one event type"));
            }
            Some(list) => {
                if let Some(unknown) = list.iter().find(|e| !EVENT_TYPES.contains(&e.as_str()) && *e != "*") {
                    return Err(Error::invalid(
                        ErrorCode::InvalidEvents,
                        "events",
                        format!("unknown event type {unknown}"),
                    ));
                }
                list
            }
        };
        let description = req.description.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
        if description.as_ref().is_some_and(|d| d.chars().count() > 200) {
            return Err(Error::invalid(
                ErrorCode::InvalidDescription,
                "description",
                "description is at most 200 characters",
            ));
        }
        let id = new_id(ids::WEBHOOK);
        let secret = new_secret();
        let secret_sealed = keys.seal(&secret_context(&id), &secret);
        Ok(NewEndpoint { id, app_id: app_id.into(), url: req.url, events, description, secret, secret_sealed })
    }
}

/// A new endpoint; the answer holds its signing secret (shown once).
pub async fn create_endpoint(conn: &mut AnyConnection, e: &NewEndpoint, now_ms: i64) -> TxResult<api::WebhookEndpoint> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE app_id = $1 AND deleted_at IS NULL")
            .bind(&e.app_id)
            .fetch_one(&mut *conn)
            .await?;
    if count >= MAX_ENDPOINTS_PER_APP {
        return Err(Error::new(
            ErrorCode::TooManyWebhooks,
            format!("An app has at most {MAX_ENDPOINTS_PER_APP} webhook endpoints."),
        )
        .into());
    }
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, app_id, url, events, description, secret_encrypted, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&e.id)
    .bind(&e.app_id)
    .bind(&e.url)
    .bind(serde_json::to_string(&e.events).map_err(Error::internal)?)
    .bind(&e.description)
    .bind(&e.secret_sealed)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let created = get_endpoint(conn, &e.app_id, &e.id).await?;
    Ok(api::WebhookEndpoint { secret: api::Secret::Shown(e.secret.clone()), ..created })
}

pub fn endpoint_not_found() -> Error {
    Error::new(ErrorCode::WebhookNotFound, "No such webhook endpoint.")
}

fn endpoint_from_row(row: &sqlx::any::AnyRow) -> Result<api::WebhookEndpoint, Error> {
    let id: String = row.try_get("id")?;
    let events = serde_json::from_str(&row.try_get::<String, _>("events")?)
        .map_err(|e| Error::internal(format!("webhook endpoint {id}'s events: {e}")))?;
    Ok(api::WebhookEndpoint {
        id,
        url: row.try_get("url")?,
        events,
        description: row.try_get("description")?,
        status: row.try_get("status")?,
        disabled_reason: row.try_get("disabled_reason")?,
        previous_secret_expires_at: row
            .try_get::<Option<i64>, _>("previous_secret_expires_at")?
            .map(rfc3339_from_unix_ms),
        created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
        secret: api::Secret::Absent,
    })
}

const ENDPOINT_COLUMNS: &str =
    "id, url, events, description, status, disabled_reason, previous_secret_expires_at, created_at";

pub async fn get_endpoint(conn: &mut AnyConnection, app_id: &str, id: &str) -> Result<api::WebhookEndpoint, Error> {
    let row = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND app_id = $2 AND deleted_at IS NULL"
    ))
    .bind(id)
    .bind(app_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(endpoint_not_found)?;
    endpoint_from_row(&row)
}

pub async fn list_endpoints(conn: &mut AnyConnection, app_id: &str) -> Result<Vec<api::WebhookEndpoint>, Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE app_id = $1 AND deleted_at IS NULL ORDER BY seq DESC"
    ))
    .bind(app_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(endpoint_from_row).collect()
}

/// Removes the endpoint; its undelivered deliveries are canceled.
pub async fn delete_endpoint(conn: &mut AnyConnection, app_id: &str, id: &str, now_ms: i64) -> TxResult<api::Deleted> {
    let deleted = sqlx::query(
        "UPDATE webhook_endpoints SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND app_id = $3 AND deleted_at IS NULL",
    )
    .bind(now_ms)
    .bind(id)
    .bind(app_id)
    .execute(&mut *conn)
    .await?;
    if deleted.rows_affected() != 1 {
        return Err(endpoint_not_found().into());
    }
    sqlx::query("UPDATE webhook_deliveries SET status = 'canceled', updated_at = $1 WHERE endpoint_id = $2 AND status = 'pending'")
        .bind(now_ms)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(api::Deleted { id: id.to_string(), deleted: true })
}

/// A new secret, shown once; the old one keeps signing (beside it) for `overlap_ms`.
pub async fn rotate_secret(
    conn: &mut AnyConnection,
    keys: &Keys,
    app_id: &str,
    id: &str,
    overlap_ms: i64,
    now_ms: i64,
) -> TxResult<api::WebhookEndpoint> {
    let current: String = sqlx::query_scalar(
        "SELECT secret_encrypted FROM webhook_endpoints WHERE id = $1 AND app_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(app_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(endpoint_not_found)?;
    let secret = new_secret();
    sqlx::query(
        "UPDATE webhook_endpoints SET secret_encrypted = $1, previous_secret_encrypted = $2,
             previous_secret_expires_at = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(keys.seal(&secret_context(id), &secret))
    .bind(current)
    .bind(now_ms + overlap_ms)
    .bind(now_ms)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let rotated = get_endpoint(conn, app_id, id).await?;
    Ok(api::WebhookEndpoint { secret: api::Secret::Shown(secret), ..rotated })
}

/// Turns an endpoint on (its pending deliveries resume) or off (by the app: they
/// wait).
pub async fn set_endpoint_enabled(
    conn: &mut AnyConnection,
    app_id: &str,
    id: &str,
    enabled: bool,
    now_ms: i64,
) -> TxResult<api::WebhookEndpoint> {
    // Disabled by the app: nothing is sent to it (deliveries wait) until it is enabled.
    let (status, reason) = if enabled { ("enabled", None) } else { ("disabled", Some("disabled_by_app")) };
    let changed = sqlx::query(
        "UPDATE webhook_endpoints SET status = $1, disabled_reason = $2, consecutive_failures = 0, updated_at = $3
         WHERE id = $4 AND app_id = $5 AND deleted_at IS NULL",
    )
    .bind(status)
    .bind(reason)
    .bind(now_ms)
    .bind(id)
    .bind(app_id)
    .execute(&mut *conn)
    .await?;
    if changed.rows_affected() != 1 {
        return Err(endpoint_not_found().into());
    }
    Ok(get_endpoint(conn, app_id, id).await?)
}

/// Sends the event again now to each enabled endpoint that wants it (or to one).
pub async fn redeliver(
    conn: &mut AnyConnection,
    app_id: &str,
    event_id: &str,
    endpoint_id: Option<&str>,
    now_ms: i64,
) -> TxResult<api::Redelivery> {
    let event_type: String = sqlx::query_scalar("SELECT type FROM events WHERE id = $1 AND app_id = $2")
        .bind(event_id)
        .bind(app_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(event_not_found)?;
    let backend = Backend::of(conn);
    let mut rows = Rows::new(&crate::events::FAN_OUT);
    rows.push(crate::events::fan_out_row(app_id, event_id, &event_type, now_ms));
    let sql = format!(
        "{} AND e.id = COALESCE($1, e.id)
         ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending', attempts = 0,
           next_attempt_at = excluded.next_attempt_at, lease_until = NULL, updated_at = excluded.updated_at",
        rows.sql(backend, 2)
    );
    let mut args = vec![Arg::from(endpoint_id)];
    args.extend(rows.into_args());
    let queued = sqlx::query_with(&sql, arguments(args)).execute(&mut *conn).await?.rows_affected();
    if endpoint_id.is_some() && queued == 0 {
        return Err(endpoint_not_found().with_param("endpoint_id").into());
    }
    Ok(api::Redelivery { event_id: event_id.to_string(), deliveries_queued: i64::try_from(queued).unwrap_or(i64::MAX) })
}

pub fn event_not_found() -> Error {
    Error::new(ErrorCode::EventNotFound, "No such event.")
}

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<api::Event, Error> {
    Ok(api::Event {
        id: row.try_get("id")?,
        kind: row.try_get("type")?,
        created: rfc3339_from_unix_ms(row.try_get("created_at")?),
        data: serde_json::from_str(&row.try_get::<String, _>("data")?).unwrap_or(Value::Null),
    })
}

pub async fn get_event(conn: &mut AnyConnection, app_id: &str, id: &str) -> Result<api::Event, Error> {
    let row = sqlx::query("SELECT id, type, data, created_at FROM events WHERE id = $1 AND app_id = $2")
        .bind(id)
        .bind(app_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(event_not_found)?;
    event_from_row(&row)
}

pub async fn list_events(
    conn: &mut AnyConnection,
    app_id: &str,
    page: &Page,
    event_type: Option<&str>,
) -> Result<api::List<api::Event>, Error> {
    let before = page.cursor_seq(conn, crate::lists::Listed::Events, app_id).await?;
    let filter = if event_type.is_some() { " AND type = $4" } else { "" };
    let sql = format!(
        "SELECT id, type, data, created_at FROM events WHERE app_id = $1 AND seq < $2{filter} ORDER BY seq DESC LIMIT $3"
    );
    let mut query = sqlx::query(&sql).bind(app_id).bind(before).bind(page.limit() + 1);
    if let Some(t) = event_type {
        query = query.bind(t);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(page.finish(rows.iter().map(event_from_row).collect::<Result<Vec<_>, _>>()?))
}

/// The endpoint's deliveries, newest first, each with its attempts.
pub async fn list_deliveries(
    conn: &mut AnyConnection,
    app_id: &str,
    endpoint_id: &str,
    page: &Page,
) -> Result<api::List<api::Delivery>, Error> {
    get_endpoint(conn, app_id, endpoint_id).await?;
    let before = match &page.starting_after {
        None => i64::MAX,
        Some(id) => sqlx::query_scalar("SELECT seq FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2")
            .bind(id)
            .bind(endpoint_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| {
                Error::new(ErrorCode::InvalidCursor, "starting_after is not a delivery of this endpoint")
                    .with_param("starting_after")
            })?,
    };
    let rows = sqlx::query(
        "SELECT d.id, d.event_id, ev.type, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error,
                d.last_response, d.delivered_at, d.created_at
         FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id
         WHERE d.endpoint_id = $1 AND d.seq < $2 ORDER BY d.seq DESC LIMIT $3",
    )
    .bind(endpoint_id)
    .bind(before)
    .bind(page.limit() + 1)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for row in rows {
        let status: String = row.try_get("status")?;
        let next_attempt_at = (status == "pending")
            .then(|| row.try_get::<i64, _>("next_attempt_at").map(rfc3339_from_unix_ms))
            .transpose()?;
        out.push(api::Delivery {
            id: row.try_get("id")?,
            event_id: row.try_get("event_id")?,
            event_type: row.try_get("type")?,
            status,
            attempts: row.try_get("attempts")?,
            next_attempt_at,
            last_status_code: row.try_get("last_status_code")?,
            last_error: row.try_get("last_error")?,
            last_response: row.try_get("last_response")?,
            delivered_at: row.try_get::<Option<i64>, _>("delivered_at")?.map(rfc3339_from_unix_ms),
            created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
        });
    }
    Ok(page.finish(out))
}

// ---- signing -----------------------------------------------------------------------------

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the secret's bytes (the
/// base64 after `whsec_`), as Standard Webhooks specifies.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = B64.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).map_err(|_| "the secret is not base64")?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|_| "bad key")?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

// ---- the delivery worker ------------------------------------------------------------------

/// Endpoints one pass starts a queue for.
const ENDPOINTS_PER_PASS: usize = 64;
/// Deliveries leased for one endpoint at a time; its queue is worked through
/// [`MAX_IN_FLIGHT_PER_ENDPOINT`] requests at a time.
const QUEUE_PER_ENDPOINT: usize = 256;
/// Attempt results are recorded in one write transaction once this many have
/// gathered, or once the oldest has waited [`RECORD_AFTER`].
const RECORD_BATCH: usize = 128;
const RECORD_AFTER: Duration = Duration::from_millis(200);

/// The lease keeps this much room past an attempt's timeout.
const LEASE_MARGIN_MS: i64 = 2_000;

/// A leased delivery with what its request needs.
struct Leased {
    id: String,
    attempts: i64,
    event_id: String,
    body: Vec<u8>,
}

/// One endpoint's leased deliveries.
struct Queue {
    endpoint_id: String,
    url: String,
    secrets: Vec<Result<String, String>>,
    consecutive_failures: i64,
    lease_until: i64,
    deliveries: Vec<Leased>,
}

/// What an attempt came to.
struct Attempted {
    id: String,
    attempts_before: i64,
    outcome: Result<u16, String>,
    /// The start of what the endpoint answered (`RESPONSE_EXCERPT` bytes at most).
    response: Option<String>,
    duration_ms: i64,
}

/// How much of an endpoint's answer is kept, to show the app what came back.
pub const RESPONSE_EXCERPT: usize = 2048;

/// Takes the due deliveries of `{rows}` (column `id`) whose lease is free.
static LEASE: RowsSql = RowsSql {
    sql: "UPDATE webhook_deliveries SET lease_until = $1
     WHERE id IN (SELECT r.id FROM {rows}) AND status = 'pending' AND (lease_until IS NULL OR lease_until < $2)
     RETURNING id",
    bound: None,
    columns: &[Col::Text("id")],
};

/// What each leased delivery's request needs, oldest first.
static LEASED: RowsSql = RowsSql {
    sql: "SELECT d.id, d.endpoint_id, d.attempts, e.url, e.secret_encrypted, e.previous_secret_encrypted,
            e.previous_secret_expires_at, e.consecutive_failures, ev.id AS event_id, ev.type, ev.data, ev.created_at
     FROM {rows} JOIN webhook_deliveries d ON d.id = r.id JOIN webhook_endpoints e ON e.id = d.endpoint_id
       JOIN events ev ON ev.id = d.event_id
     ORDER BY d.next_attempt_at, d.seq",
    bound: None,
    columns: &[Col::Text("id")],
};

static ATTEMPTS: RowsSql = RowsSql {
    sql: "INSERT INTO webhook_attempts (delivery_id, status_code, error, duration_ms, created_at)
     SELECT r.id, r.status_code, r.error, r.duration_ms, r.at FROM {rows}",
    bound: None,
    columns: &[Col::Text("id"), Col::Int("status_code"), Col::Text("error"), Col::Int("duration_ms"), Col::Int("at")],
};

/// An attempt's result on its delivery, unless the delivery stopped being pending
/// meanwhile (its endpoint deleted, or another process finished it after our lease).
static RESULTS: RowsSql = RowsSql {
    sql: "UPDATE webhook_deliveries SET status = r.status, attempts = r.attempts, last_status_code = r.status_code,
         last_error = r.error, last_response = r.response, next_attempt_at = r.next_at, delivered_at = COALESCE(r.delivered_at, webhook_deliveries.delivered_at),
         lease_until = NULL, updated_at = r.at
     FROM {rows} WHERE webhook_deliveries.id = r.id AND webhook_deliveries.status = 'pending'",
    bound: None,
    columns: &[
        Col::Text("id"),
        Col::Text("status"),
        Col::Int("attempts"),
        Col::Int("status_code"),
        Col::Text("error"),
        Col::Text("response"),
        Col::Int("next_at"),
        Col::Int("delivered_at"),
        Col::Int("at"),
    ],
};

/// Leased deliveries not attempted, handed back (only while the lease is still ours).
static RELEASES: RowsSql = RowsSql {
    sql: "UPDATE webhook_deliveries SET lease_until = NULL
     FROM {rows} WHERE webhook_deliveries.id = r.id AND webhook_deliveries.lease_until = r.lease_until",
    bound: None,
    columns: &[Col::Text("id"), Col::Int("lease_until")],
};

pub struct Deliverer {
    store: Store,
    services: Arc<Services>,
    client: HttpClient,
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Endpoints whose leased queue is being worked through.
    busy: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Where the next pass starts in the list of endpoints with work.
    next_endpoint: AtomicUsize,
    /// Signalled when an endpoint's queue is done, so the next pass starts at once
    /// while deliveries are queued instead of a poll interval later.
    slot_freed: tokio::sync::Notify,
}

impl Deliverer {
    pub fn new(store: Store, services: Arc<Services>) -> Deliverer {
        let client = crate::outbound::client(services.webhooks.allow_private);
        Deliverer {
            store,
            services,
            client,
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            busy: Default::default(),
            next_endpoint: AtomicUsize::new(0),
            slot_freed: tokio::sync::Notify::new(),
        }
    }

    /// Delivers until the process ends. Each endpoint's queue runs as its own task,
    /// so a slow endpoint holds up only its own deliveries.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        loop {
            match self.clone().start_due().await {
                Ok(mut started) => {
                    if started.is_empty() {
                        tokio::time::sleep(interval).await;
                        continue;
                    }
                    // Reap finished queues without waiting for slow ones.
                    tokio::spawn(async move { while started.join_next().await.is_some() {} });
                    // Work was waiting: go again as soon as a queue ends.
                    let _ = tokio::time::timeout(interval, self.slot_freed.notified()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "webhook worker pass failed");
                    tokio::time::sleep(interval).await;
                }
            }
        }
    }

    /// Leases due deliveries of endpoints not already being worked on — up to
    /// [`QUEUE_PER_ENDPOINT`] each, all in one write — and starts a queue per
    /// endpoint; the set resolves when they are all done (tests wait on it).
    pub async fn start_due(self: Arc<Self>) -> Result<JoinSet<()>, sqlx::Error> {
        let now = now_ms();
        let mut started = JoinSet::new();
        // Endpoint by endpoint, so one endpoint's backlog cannot hide another's
        // deliveries; each endpoint's pending ones come in due order from its index.
        let with_work: Vec<String> = sqlx::query_scalar(
            "SELECT e.id FROM webhook_endpoints e WHERE e.status = 'enabled' AND e.deleted_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM apps a WHERE a.id = e.app_id AND a.suspended_at IS NOT NULL)
               AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending'
                             AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1))
             ORDER BY e.id",
        )
        .bind(now)
        .fetch_all(self.store.reader())
        .await?;
        let taken: Vec<String> = {
            let mut busy = self.busy.lock().expect("busy lock");
            // A pass takes at most ENDPOINTS_PER_PASS of them, starting where the
            // last pass stopped, so all are served in turn.
            let skip = self.next_endpoint.fetch_add(ENDPOINTS_PER_PASS, Ordering::Relaxed) % with_work.len().max(1);
            let taken: Vec<String> = with_work
                .iter()
                .cycle()
                .skip(skip)
                .take(with_work.len())
                .filter(|e| !busy.contains(*e))
                .take(ENDPOINTS_PER_PASS)
                .cloned()
                .collect();
            busy.extend(taken.iter().cloned());
            taken
        };
        if taken.is_empty() {
            return Ok(started);
        }
        let mut chosen = Rows::new(&LEASE);
        for endpoint_id in &taken {
            let due: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(
                "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'
                   AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
                 ORDER BY next_attempt_at LIMIT $3",
            )
            .bind(endpoint_id)
            .bind(now)
            .bind(QUEUE_PER_ENDPOINT as i64)
            .fetch_all(self.store.reader())
            .await;
            match due {
                Ok(due) => due.iter().for_each(|id| chosen.push([id.into()])),
                Err(e) => {
                    self.free(&taken);
                    return Err(e);
                }
            }
        }
        let queues = self.lease(chosen, now).await;
        let queues = match queues {
            Ok(queues) => queues,
            Err(e) => {
                self.free(&taken);
                return Err(e);
            }
        };
        // Endpoints that got nothing (another process leased it all first) are free again.
        let working: std::collections::HashSet<&str> = queues.iter().map(|q| q.endpoint_id.as_str()).collect();
        self.free(&taken.iter().filter(|e| !working.contains(e.as_str())).cloned().collect::<Vec<_>>());
        for queue in queues {
            let this = self.clone();
            started.spawn(async move {
                let endpoint_id = queue.endpoint_id.clone();
                this.work_through(queue).await;
                this.free(std::slice::from_ref(&endpoint_id));
                this.slot_freed.notify_one();
            });
        }
        Ok(started)
    }

    fn free(&self, endpoints: &[String]) {
        let mut busy = self.busy.lock().expect("busy lock");
        for endpoint_id in endpoints {
            busy.remove(endpoint_id);
        }
    }

    /// Leases `chosen` in one statement and reads what their requests need, grouped
    /// by endpoint.
    async fn lease(&self, chosen: Rows, now: i64) -> Result<Vec<Queue>, sqlx::Error> {
        // The lease outlives the first request's timeout and then some; no request
        // starts unless it can end (time out) before the lease lapses, so nobody
        // else sends the same delivery at the same time.
        let lease_until = now + 2 * self.services.webhooks.timeout_ms + LEASE_MARGIN_MS;
        let backend = self.store.backend();
        let mut tx = self.store.begin_write().await?;
        let sql = chosen.sql(backend, 3);
        let mut args = vec![Arg::from(lease_until), Arg::from(now)];
        args.extend(chosen.into_args());
        let leased: Vec<String> = sqlx::query_scalar_with(sql, arguments(args)).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        if leased.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Rows::new(&LEASED);
        for id in &leased {
            ids.push([id.into()]);
        }
        let rows =
            sqlx::query_with(ids.sql(backend, 1), arguments(ids.into_args())).fetch_all(self.store.reader()).await?;
        let keys = &self.services.keys;
        let mut queues: Vec<Queue> = Vec::new();
        for row in rows {
            let endpoint_id: String = row.try_get("endpoint_id")?;
            let at = match queues.iter().position(|q| q.endpoint_id == endpoint_id) {
                Some(at) => at,
                None => {
                    let mut secrets =
                        vec![keys.open(&secret_context(&endpoint_id), &row.try_get::<String, _>("secret_encrypted")?)];
                    let previous: Option<String> = row.try_get("previous_secret_encrypted")?;
                    let previous_until: Option<i64> = row.try_get("previous_secret_expires_at")?;
                    if let (Some(previous), Some(until)) = (previous, previous_until)
                        && until > now
                    {
                        secrets.push(keys.open(&secret_context(&endpoint_id), &previous));
                    }
                    queues.push(Queue {
                        url: row.try_get("url")?,
                        secrets,
                        consecutive_failures: row.try_get("consecutive_failures")?,
                        lease_until,
                        deliveries: Vec::new(),
                        endpoint_id,
                    });
                    queues.len() - 1
                }
            };
            let event_id: String = row.try_get("event_id")?;
            let data: Value = serde_json::from_str(&row.try_get::<String, _>("data")?).unwrap_or(Value::Null);
            let body = serde_json::to_vec(&json!({
                "id": event_id,
                "type": row.try_get::<String, _>("type")?,
                "created": rfc3339_from_unix_ms(row.try_get("created_at")?),
                "data": data,
            }))
            .unwrap_or_default();
            queues[at].deliveries.push(Leased {
                id: row.try_get("id")?,
                attempts: row.try_get("attempts")?,
                event_id,
                body,
            });
        }
        Ok(queues)
    }

    /// Sends the queue's deliveries, [`MAX_IN_FLIGHT_PER_ENDPOINT`] at a time,
    /// recording results in batches. Stops early once the endpoint has failed often
    /// enough to be disabled, or is found disabled or deleted; what it did not send
    /// is handed back.
    async fn work_through(self: &Arc<Self>, queue: Queue) {
        let Queue { endpoint_id, url, secrets, mut consecutive_failures, lease_until, deliveries } = queue;
        let url = Arc::new(url);
        let secrets = Arc::new(secrets);
        let timeout_ms = self.services.webhooks.timeout_ms;
        let disable_after = self.services.webhooks.disable_after;
        let mut waiting = deliveries.into_iter();
        let mut sending: JoinSet<Attempted> = JoinSet::new();
        let mut results: Vec<Attempted> = Vec::new();
        let mut oldest_result: Option<Instant> = None;
        let mut stop = false;
        loop {
            while !stop && sending.len() < MAX_IN_FLIGHT_PER_ENDPOINT {
                // Only a request that ends (or times out) inside the lease starts.
                if now_ms() + timeout_ms + LEASE_MARGIN_MS > lease_until {
                    stop = true;
                    break;
                }
                let Some(delivery) = waiting.next() else { break };
                let Ok(permit) = self.in_flight.clone().acquire_owned().await else { break };
                let (this, url, secrets) = (self.clone(), url.clone(), secrets.clone());
                sending.spawn(async move {
                    let started = Instant::now();
                    let sent = this.send(&url, &delivery.event_id, &secrets, delivery.body).await;
                    drop(permit);
                    let (outcome, response) = match sent {
                        Ok((code, body)) => (Ok(code), Some(body)),
                        Err(e) => (Err(e), None),
                    };
                    Attempted {
                        id: delivery.id,
                        attempts_before: delivery.attempts,
                        outcome,
                        response,
                        duration_ms: started.elapsed().as_millis() as i64,
                    }
                });
            }
            let Some(done) = sending.join_next().await else { break };
            let Ok(attempted) = done else {
                // The attempt's task died: its delivery stays leased and is retried
                // once the lease lapses.
                continue;
            };
            if matches!(attempted.outcome, Ok(code) if (200..300).contains(&code)) {
                consecutive_failures = 0;
            } else {
                consecutive_failures += 1;
                stop |= consecutive_failures >= disable_after;
            }
            results.push(attempted);
            let oldest = *oldest_result.get_or_insert_with(Instant::now);
            if results.len() >= RECORD_BATCH || oldest.elapsed() >= RECORD_AFTER {
                oldest_result = None;
                match self.record(&endpoint_id, std::mem::take(&mut results), &[], lease_until).await {
                    Ok(still_enabled) => stop |= !still_enabled,
                    Err(e) => {
                        tracing::warn!(endpoint = %endpoint_id, error = %e, "webhook attempts could not be recorded");
                        stop = true;
                    }
                }
            }
        }
        let unsent: Vec<String> = waiting.map(|d| d.id).collect();
        if (!results.is_empty() || !unsent.is_empty())
            && let Err(e) = self.record(&endpoint_id, results, &unsent, lease_until).await
        {
            tracing::warn!(endpoint = %endpoint_id, error = %e, "webhook attempts could not be recorded");
        }
    }

    async fn send(
        &self,
        url: &str,
        msg_id: &str,
        secrets: &[Result<String, String>],
        body: Vec<u8>,
    ) -> Result<(u16, String), String> {
        check_url(url, self.services.webhooks.allow_private)?;
        let timestamp = now_ms() / 1000;
        let mut signatures = Vec::new();
        for secret in secrets {
            signatures.push(sign(secret.as_ref().map_err(|e| e.clone())?, msg_id, timestamp, &body)?);
        }
        let request = http::Request::post(url)
            .header("content-type", "application/json")
            .header("user-agent", "Dots-Webhooks/1")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let timeout = Duration::from_millis(self.services.webhooks.timeout_ms as u64);
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| format!("connection failed: {e}"))?;
            let status = response.status().as_u16();
            // Read at most a little of the body, so the connection can be reused; its
            // start is kept to show what came back.
            let body = http_body_util::Limited::new(response.into_body(), 64 * 1024).collect().await;
            let body = body.map(|b| b.to_bytes()).unwrap_or_default();
            let excerpt = String::from_utf8_lossy(&body[..body.len().min(RESPONSE_EXCERPT)]).into_owned();
            Ok::<(u16, String), String>((status, excerpt))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
    }

    /// Records `results` (in the order they ended) and hands back `unsent`, in one
    /// write transaction: the attempts, the deliveries' new state, and the
    /// endpoint's run of failures — disabling it when the run reaches the threshold.
    /// Answers whether the endpoint is still enabled.
    async fn record(
        &self,
        endpoint_id: &str,
        results: Vec<Attempted>,
        unsent: &[String],
        lease_until: i64,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let settings = &self.services.webhooks;
        let mut writes = Writes::new();
        // Failures after the last success, and whether there was one.
        let (mut succeeded, mut tail, mut last_error) = (false, 0i64, None);
        for r in &results {
            let attempts = r.attempts_before + 1;
            let (status_code, error) = match &r.outcome {
                Ok(code) if (200..300).contains(code) => (Some(i64::from(*code)), None),
                Ok(code) => (Some(i64::from(*code)), Some(format!("HTTP {code}"))),
                Err(e) => (None, Some(e.chars().take(300).collect::<String>())),
            };
            let (status, next, delivered_at) = match &error {
                None => ("delivered", now, Some(now)),
                Some(_) if attempts >= MAX_ATTEMPTS => ("failed", now, None),
                Some(_) => ("pending", now + backoff_ms(settings.retry_base_ms, attempts), None),
            };
            if error.is_none() {
                (succeeded, tail) = (true, 0);
            } else {
                tail += 1;
                last_error = error.clone();
            }
            writes.row(
                &ATTEMPTS,
                [r.id.as_str().into(), status_code.into(), error.clone().into(), r.duration_ms.into(), now.into()],
            );
            writes.row(
                &RESULTS,
                [
                    r.id.as_str().into(),
                    status.into(),
                    attempts.into(),
                    status_code.into(),
                    error.into(),
                    r.response.clone().into(),
                    next.into(),
                    delivered_at.into(),
                    now.into(),
                ],
            );
        }
        for id in unsent {
            writes.row(&RELEASES, [id.into(), lease_until.into()]);
        }
        let mut tx = self.store.begin_write().await?;
        writes.run(&mut tx).await?;
        if results.is_empty() {
            // Only handing deliveries back: the endpoint's run of failures is unchanged.
            tx.commit().await?;
            return Ok(true);
        }
        let endpoint: Option<(i64, String)> = sqlx::query_as(
            "UPDATE webhook_endpoints SET consecutive_failures = CASE WHEN $2 = 1 THEN $3 ELSE consecutive_failures + $3 END
             WHERE id = $1 AND deleted_at IS NULL RETURNING consecutive_failures, status",
        )
        .bind(endpoint_id)
        .bind(i64::from(succeeded))
        .bind(tail)
        .fetch_optional(&mut *tx)
        .await?;
        let enabled = match endpoint {
            None => false,
            Some((failures, status)) if failures >= settings.disable_after && tail > 0 && status == "enabled" => {
                // The run crossed the threshold within these results: at the attempt
                // that made it `disable_after` long, or at the first of them if it
                // was already past (another process's attempts).
                let at = settings.disable_after.max(failures - tail + 1);
                let reason = format!(
                    "disabled after {at} failed attempts in a row; the last: {}",
                    last_error.unwrap_or_default()
                );
                sqlx::query(
                    "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $1, updated_at = $2
                     WHERE id = $3 AND status = 'enabled'",
                )
                .bind(&reason)
                .bind(now)
                .bind(endpoint_id)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(endpoint = %endpoint_id, "{reason}");
                false
            }
            Some((_, status)) => status == "enabled",
        };
        tx.commit().await?;
        Ok(enabled)
    }
}

/// base × 4^(n−1), at most 6 h, ± 25 % jitter so retries from many deliveries spread out.
pub fn backoff_ms(base_ms: i64, attempts: i64) -> i64 {
    let exponent = (attempts - 1).clamp(0, 15) as u32;
    let wait = base_ms.saturating_mul(4i64.saturating_pow(exponent)).min(MAX_BACKOFF_MS);
    let mut r = [0u8; 2];
    getrandom::fill(&mut r).expect("the operating system's random source failed");
    let jitter = i64::from(u16::from_le_bytes(r)) * (wait / 2) / i64::from(u16::MAX) - wait / 4;
    (wait + jitter).max(1)
}

/// How long a hole in the event log's sequence is waited for before the stream
/// goes past it. On PostgreSQL several servers commit concurrently, so an event may
/// become visible after one with a later `seq`; a rolled-back insert leaves a hole
/// for ever. Dots' transactions last milliseconds (a 1,000-item batch a few
/// seconds), so a hole older than this is a rollback.
pub const STREAM_HOLE_GRACE_MS: i64 = 10_000;

/// Where an app's event stream starts: after the event `last_event_id` (the
/// client's `Last-Event-ID`), or after everything so far.
pub async fn stream_start(conn: &mut AnyConnection, app_id: &str, last_event_id: Option<&str>) -> Result<i64, Error> {
    match last_event_id {
        Some(id) => sqlx::query_scalar::<_, i64>("SELECT seq FROM events WHERE id = $1 AND app_id = $2")
            .bind(id)
            .bind(app_id)
            .fetch_optional(conn)
            .await?
            .ok_or_else(|| {
                Error::new(ErrorCode::InvalidCursor, "Last-Event-ID is not an event of this app.")
                    .with_param("Last-Event-ID")
            }),
        None => {
            Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM events").fetch_one(conn).await?.unwrap_or(0))
        }
    }
}

/// The app's events after `after` (a position in the whole log), oldest first, up to
/// the last position with no hole younger than [`STREAM_HOLE_GRACE_MS`] before it;
/// and that position, where the next read starts.
pub async fn stream_next(
    conn: &mut AnyConnection,
    app_id: &str,
    after: i64,
    now_ms: i64,
) -> Result<(Vec<api::Event>, i64), Error> {
    let positions: Vec<(i64, i64)> =
        sqlx::query_as("SELECT seq, created_at FROM events WHERE seq > $1 ORDER BY seq LIMIT 500")
            .bind(after)
            .fetch_all(&mut *conn)
            .await?;
    let mut safe = after;
    for (seq, created_at) in positions {
        if seq != safe + 1 && created_at > now_ms - STREAM_HOLE_GRACE_MS {
            break;
        }
        safe = seq;
    }
    if safe == after {
        return Ok((Vec::new(), after));
    }
    let rows = sqlx::query(
        "SELECT id, type, data, created_at FROM events WHERE app_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
    )
    .bind(app_id)
    .bind(after)
    .bind(safe)
    .fetch_all(conn)
    .await?;
    Ok((rows.iter().map(event_from_row).collect::<Result<Vec<_>, _>>()?, safe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for n in 1..=12 {
            let base = 1000 * 4i64.pow((n - 1).min(15) as u32);
            let wait = backoff_ms(1000, n);
            let expected = base.min(MAX_BACKOFF_MS);
            assert!(wait >= expected * 3 / 4 && wait <= expected * 5 / 4, "attempt {n}: {wait}");
        }
    }

    #[test]
    fn signatures_follow_the_standard_webhooks_test_vector() {
        // From the Standard Webhooks specification's examples.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
