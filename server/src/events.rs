//! The outbox: every event is written in the same database transaction as the
//! change it announces; the webhook worker (a later issue) delivers them.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::error::{Error, TxResult};
use crate::store::new_id;

pub const USER_CREATED: &str = "user.created";
pub const USER_VERIFIED: &str = "user.verified";
pub const PAYOUT_LINK_CREATED: &str = "payout_link.created";
pub const PAYOUT_LINK_CLAIMED: &str = "payout_link.claimed";
pub const PAYOUT_LINK_CANCELED: &str = "payout_link.canceled";
pub const FLOW_COMPLETED: &str = "flow.completed";
pub const TRANSFER_CREATED: &str = "transfer.created";
pub const TRANSFER_UPDATED: &str = "transfer.updated";

pub async fn record<T: Serialize>(
    conn: &mut AnyConnection,
    app_id: &str,
    event_type: &str,
    object: &T,
    now_ms: i64,
) -> TxResult<()> {
    let data = serde_json::to_string(object).map_err(Error::internal)?;
    let id = new_id(dots_shared::ids::EVENT);
    sqlx::query("INSERT INTO events (id, app_id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(app_id)
        .bind(event_type)
        .bind(data)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    crate::webhooks::enqueue(conn, app_id, &id, event_type, now_ms).await
}
