//! Payout batches (issue 16, part 5): up to [`MAX_ITEMS`] payouts to known users
//! (each funded from the app's wallet, as a link claim is) and payout links by phone
//! or email, made in one database transaction — all of them, or none.
//!
//! Every item is checked on its own first (its shape, then, inside the
//! transaction, everything its payout or link needs: the user, their verified
//! phone and method, the app wallet's funds); if any is refused, nothing is kept
//! and the answer lists every refused item with why (`batch_items_refused`). A
//! batch is `processing` while any payout it made is on its way and `completed`
//! once each is final; `payout_batch.completed` says so, with the counts.

use std::time::Duration;

use dots_shared::api::{self, ItemError};
use dots_shared::time::rfc3339_from_unix_ms;
use dots_shared::{ErrorCode, TransferType, ids};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::apps::AuthedApp;
use crate::error::{Error, Reply, TxError, TxResult};
use crate::events;
use crate::flows::{self, CreatePayoutLinkRequest, DeliveryRequest, NewPayoutLink};
use crate::ledger::transfers::{self, NewTransfer};
use crate::secrets::Keys;
use crate::store::{Store, new_id};
use crate::writer::Writer;

/// The most items one batch may hold.
pub const MAX_ITEMS: usize = 1_000;

/// `POST /v2/payout-batches`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBatchRequest {
    /// 1 to 1,000 items.
    pub items: Vec<BatchItemRequest>,
}

/// One item: a payout to a known user (`user_id`, optionally `payout_method_id`),
/// funded from the app's wallet; or a payout link to a phone number or email
/// (optionally sent: `delivery`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItemRequest {
    #[schema(value_type = i64)]
    pub amount: serde_json::Number,
    pub currency: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub payout_method_id: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub memo: Option<String>,
    #[serde(default)]
    pub fee_party: Option<String>,
    #[serde(default)]
    pub delivery: Option<DeliveryRequest>,
    /// The app's own notes, on the item's payout (and its funding transfer) or link.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
enum Item {
    Payout(NewTransfer),
    Link(Box<NewPayoutLink>),
}

impl Item {
    fn validate(keys: &Keys, app: &AuthedApp, req: BatchItemRequest, now_ms: i64) -> Result<Item, Error> {
        if req.user_id.is_some() {
            let link_only = [
                ("phone_number", req.phone_number.is_some()),
                ("email", req.email.is_some()),
                ("memo", req.memo.is_some()),
                ("delivery", req.delivery.is_some()),
            ];
            if let Some((field, _)) = link_only.into_iter().find(|(_, given)| *given) {
                return Err(Error::invalid(
                    ErrorCode::InvalidField,
                    field,
                    format!("a payout to a user_id takes no {field}; a payout link does"),
                ));
            }
            let wallet = app.wallet();
            return Ok(Item::Payout(NewTransfer {
                money: transfers::money_for(&wallet, &req.amount, &req.currency)?,
                app: wallet,
                kind: TransferType::Payout,
                user_id: req.user_id.unwrap_or_default(),
                direction: None,
                payout_method_id: req.payout_method_id,
                fee_party: transfers::parse_fee_party(req.fee_party.as_deref())?,
                quoted_fee: None,
                metadata: crate::metadata::from_request(req.metadata.as_ref())?,
            }));
        }
        if req.payout_method_id.is_some() {
            return Err(Error::invalid(
                ErrorCode::InvalidField,
                "payout_method_id",
                "payout_method_id goes with user_id; a payout link's payee chooses their own",
            ));
        }
        let link = CreatePayoutLinkRequest {
            amount: req.amount,
            currency: req.currency,
            phone_number: req.phone_number,
            email: req.email,
            memo: req.memo,
            expires_at: None,
            user_id: None,
            brand: None,
            fee_party: req.fee_party,
            delivery: req.delivery,
            metadata: req.metadata,
        };
        Ok(Item::Link(Box::new(NewPayoutLink::validate(keys, app, link, now_ms)?)))
    }
}

/// A batch whose every item has the right shape.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub id: String,
    app: AuthedApp,
    items: Vec<Item>,
}

impl NewBatch {
    pub fn validate(keys: &Keys, app: &AuthedApp, req: CreateBatchRequest, now_ms: i64) -> Result<NewBatch, Error> {
        if req.items.is_empty() || req.items.len() > MAX_ITEMS {
            return Err(Error::invalid(
                ErrorCode::InvalidBatch,
                "items",
                format!("a batch holds 1 to {MAX_ITEMS} items"),
            ));
        }
        let mut items = Vec::with_capacity(req.items.len());
        let mut refused = Vec::new();
        for (index, item) in req.items.into_iter().enumerate() {
            match Item::validate(keys, app, item, now_ms) {
                Ok(item) => items.push(item),
                Err(e) => refused.push(item_error(index, e)),
            }
        }
        if !refused.is_empty() {
            return Err(refusal(refused));
        }
        Ok(NewBatch { id: new_id(ids::PAYOUT_BATCH), app: app.clone(), items })
    }

    /// The links whose delivery the batch scheduled (sent after the commit).
    pub fn links_to_deliver(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Link(link) if link.delivery != flows::DeliveryMethod::None => Some(link.id.clone()),
                _ => None,
            })
            .collect()
    }
}

fn item_error(index: usize, e: Error) -> ItemError {
    ItemError { index, code: e.code.as_str().to_string(), message: e.message, param: e.param }
}

fn refusal(items: Vec<ItemError>) -> Error {
    let n = items.len();
    let mut error = Error::new(
        ErrorCode::BatchItemsRefused,
        format!(
            "{n} item{} of the batch {} refused; nothing was made.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "was" } else { "were" }
        ),
    );
    error.items = Some(items);
    error
}

/// Makes every item of the batch, each under its own savepoint so that every
/// refusal is seen; any refusal undoes the whole batch (the caller's transaction
/// is rolled back with the error).
pub async fn create(
    conn: &mut AnyConnection,
    keys: &Keys,
    public_url: &str,
    batch: &NewBatch,
    now_ms: i64,
) -> TxResult<api::PayoutBatch> {
    let mut made = Vec::with_capacity(batch.items.len());
    let mut refused = Vec::new();
    let mut app_fees = 0;
    for (index, item) in batch.items.iter().enumerate() {
        sqlx::query("SAVEPOINT batch_item").execute(&mut *conn).await?;
        let outcome = match item {
            Item::Payout(payout) => crate::payouts::fund_and_pay(conn, payout, now_ms).await.map(|(_, paid)| {
                if paid.fee_party == Some(dots_shared::FeeParty::App) {
                    app_fees += paid.fee;
                }
                Made::Payout { user_id: payout.user_id.clone(), amount: payout.money.amount(), transfer_id: paid.id }
            }),
            Item::Link(link) => flows::create_link(conn, keys, public_url, link, now_ms)
                .await
                .map(|l| Made::Link { amount: l.amount, payout_link_id: l.id }),
        };
        match outcome {
            Ok(m) => {
                sqlx::query("RELEASE SAVEPOINT batch_item").execute(&mut *conn).await?;
                made.push(m);
            }
            Err(TxError::Rejected(e)) => {
                sqlx::query("ROLLBACK TO SAVEPOINT batch_item").execute(&mut *conn).await?;
                sqlx::query("RELEASE SAVEPOINT batch_item").execute(&mut *conn).await?;
                refused.push(item_error(index, e));
            }
            Err(db) => return Err(db),
        }
    }
    if !refused.is_empty() {
        return Err(refusal(refused).into());
    }
    let total: i64 = made.iter().map(Made::amount).sum();
    let any_payout = made.iter().any(|m| matches!(m, Made::Payout { .. }));
    sqlx::query(
        "INSERT INTO payout_batches (id, app_id, status, currency, total_amount, total_app_fees, created_at)
         VALUES ($1, $2, 'processing', $3, $4, $5, $6)",
    )
    .bind(&batch.id)
    .bind(&batch.app.id)
    .bind(batch.app.currency.code())
    .bind(total)
    .bind(app_fees)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    for (position, m) in made.iter().enumerate() {
        let (kind, user_id, transfer_id, link_id) = match m {
            Made::Payout { user_id, transfer_id, .. } => ("payout", Some(user_id), Some(transfer_id), None),
            Made::Link { payout_link_id, .. } => ("payout_link", None, None, Some(payout_link_id)),
        };
        sqlx::query(
            "INSERT INTO payout_batch_items (batch_id, position, kind, amount, user_id, transfer_id, payout_link_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&batch.id)
        .bind(position as i64)
        .bind(kind)
        .bind(m.amount())
        .bind(user_id)
        .bind(transfer_id)
        .bind(link_id)
        .execute(&mut *conn)
        .await?;
    }
    let created = get(conn, &batch.app.id, &batch.id).await?;
    events::record(conn, &batch.app.id, events::PAYOUT_BATCH_CREATED, &Summary::of(&created), now_ms).await?;
    if !any_payout {
        // Links only: nothing of the batch is on its way; it is done.
        return Ok(complete(conn, &batch.app.id, &batch.id, now_ms).await?.unwrap_or(created));
    }
    Ok(created)
}

enum Made {
    Payout { user_id: String, amount: i64, transfer_id: String },
    Link { amount: i64, payout_link_id: String },
}

impl Made {
    fn amount(&self) -> i64 {
        match self {
            Made::Payout { amount, .. } | Made::Link { amount, .. } => *amount,
        }
    }
}

pub fn not_found() -> Error {
    Error::new(ErrorCode::BatchNotFound, "No such payout batch.")
}

/// A batch with its items as they stand now.
pub async fn get(conn: &mut AnyConnection, app_id: &str, id: &str) -> Result<api::PayoutBatch, Error> {
    let row = sqlx::query(
        "SELECT id, status, currency, total_amount, total_app_fees, created_at, completed_at
         FROM payout_batches WHERE id = $1 AND app_id = $2",
    )
    .bind(id)
    .bind(app_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    let items = sqlx::query(
        "SELECT i.position, i.kind, i.amount, i.user_id, i.transfer_id, i.payout_link_id,
                t.status AS transfer_status, l.status AS link_status, l.expires_at
         FROM payout_batch_items i
         LEFT JOIN transfers t ON t.id = i.transfer_id LEFT JOIN payout_links l ON l.id = i.payout_link_id
         WHERE i.batch_id = $1 ORDER BY i.position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let now = crate::store::now_ms();
    let items = items
        .iter()
        .map(|r| {
            let status = match r.try_get::<Option<String>, _>("transfer_status")? {
                Some(s) => s,
                None => {
                    let stored: String = r.try_get::<Option<String>, _>("link_status")?.unwrap_or_default();
                    let expires_at: i64 = r.try_get::<Option<i64>, _>("expires_at")?.unwrap_or(0);
                    if stored == "active" && expires_at <= now { "expired".into() } else { stored }
                }
            };
            Ok(api::BatchItem {
                index: usize::try_from(r.try_get::<i64, _>("position")?).unwrap_or_default(),
                kind: r.try_get("kind")?,
                amount: r.try_get("amount")?,
                user_id: r.try_get("user_id")?,
                transfer_id: r.try_get("transfer_id")?,
                payout_link_id: r.try_get("payout_link_id")?,
                status,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(api::PayoutBatch {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        currency: row.try_get("currency")?,
        total_amount: row.try_get("total_amount")?,
        total_app_fees: row.try_get("total_app_fees")?,
        items,
        created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
        completed_at: row.try_get::<Option<i64>, _>("completed_at")?.map(rfc3339_from_unix_ms),
    })
}

/// What a batch's events carry: counts, not its items.
#[derive(Debug, Serialize)]
struct Summary {
    payout_batch_id: String,
    status: String,
    items: usize,
    payouts: usize,
    payout_links: usize,
    /// Payouts by status (`completed`, `failed`, …), once the batch is completed.
    payouts_by_status: std::collections::BTreeMap<String, usize>,
    total_amount: i64,
}

impl Summary {
    fn of(batch: &api::PayoutBatch) -> Summary {
        let mut payouts_by_status = std::collections::BTreeMap::new();
        for item in batch.items.iter().filter(|i| i.kind == "payout") {
            *payouts_by_status.entry(item.status.clone()).or_insert(0) += 1;
        }
        let payouts = batch.items.iter().filter(|i| i.kind == "payout").count();
        Summary {
            payout_batch_id: batch.id.clone(),
            status: batch.status.clone(),
            items: batch.items.len(),
            payouts,
            payout_links: batch.items.len() - payouts,
            payouts_by_status,
            total_amount: batch.total_amount,
        }
    }
}

/// Marks a processing batch completed and announces it; returns it as it is now,
/// or `None` when it was completed already.
async fn complete(conn: &mut AnyConnection, app_id: &str, id: &str, now_ms: i64) -> TxResult<Option<api::PayoutBatch>> {
    let done = sqlx::query(
        "UPDATE payout_batches SET status = 'completed', completed_at = $1 WHERE id = $2 AND status = 'processing'",
    )
    .bind(now_ms)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let batch = get(conn, app_id, id).await?;
    events::record(conn, app_id, events::PAYOUT_BATCH_COMPLETED, &Summary::of(&batch), now_ms).await?;
    Ok(Some(batch))
}

/// Completes every processing batch none of whose payouts is still on its way
/// (found by a read; the writer is used only when there is one). Returns how many
/// it completed. A finished batch stays finished: a final payout never goes back.
pub async fn complete_finished(store: &Store, writer: &Writer) -> Result<usize, Error> {
    let finished: Vec<(String, String)> = sqlx::query_as(
        "SELECT b.app_id, b.id FROM payout_batches b WHERE b.status = 'processing' AND NOT EXISTS (
             SELECT 1 FROM payout_batch_items i JOIN transfers t ON t.id = i.transfer_id
             WHERE i.batch_id = b.id AND t.status IN ('created', 'flagged', 'pending'))
         ORDER BY b.seq LIMIT 100",
    )
    .fetch_all(store.reader())
    .await?;
    if finished.is_empty() {
        return Ok(0);
    }
    let n = finished.len();
    writer
        .run(crate::writer::Origin::default(), finished, |conn, finished, now| {
            Box::pin(async move {
                for (app_id, id) in finished {
                    complete(conn, app_id, id, now).await?;
                }
                Ok(Reply::done())
            })
        })
        .await?;
    Ok(n)
}

/// Runs the batch completer until the process ends.
pub async fn run_worker(store: Store, writer: Writer, interval: Duration) {
    loop {
        match complete_finished(&store, &writer).await {
            Ok(n) if n > 0 => {}
            Ok(_) => tokio::time::sleep(interval).await,
            Err(e) => {
                tracing::warn!(error = %e, "completing payout batches failed");
                tokio::time::sleep(interval).await;
            }
        }
    }
}
