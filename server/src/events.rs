//! The outbox: every event is written in the same database transaction as the
//! change it announces, with a delivery row for each webhook endpoint that wants
//! it; the webhook worker (`webhooks`) delivers them.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::error::{Error, TxResult};
use crate::store::new_id;
use crate::store::writes::{Arg, Bound, Col, RowsSql, Writes};

pub use dots_shared::api::event_types::*;

pub async fn record<T: Serialize>(
    conn: &mut AnyConnection,
    app_id: &str,
    event_type: &str,
    object: &T,
    now_ms: i64,
) -> TxResult<()> {
    let mut writes = Writes::new();
    record_into(&mut writes, app_id, event_type, object, now_ms)?;
    Ok(writes.run(conn).await?)
}

/// Adds the event and its webhook deliveries to `writes` (sent with them).
pub fn record_into<T: Serialize>(
    writes: &mut Writes,
    app_id: &str,
    event_type: &str,
    object: &T,
    now_ms: i64,
) -> Result<(), Error> {
    let data = serde_json::to_string(object).map_err(Error::internal)?;
    record_json(writes, app_id, event_type, data, now_ms);
    Ok(())
}

static EVENTS: RowsSql = RowsSql {
    sql: "INSERT INTO events (id, app_id, type, data, created_at) SELECT id, app_id, type, data, at_ms FROM {rows}",
    bound: Some(Bound::One("INSERT INTO events (id, app_id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)")),
    columns: &[Col::Text("id"), Col::Text("app_id"), Col::Text("type"), Col::Text("data"), Col::Int("at_ms")],
};

/// [`record_into`] for an object already serialised to JSON (`data`).
pub fn record_json(writes: &mut Writes, app_id: &str, event_type: &str, data: String, now_ms: i64) {
    let id = new_id(dots_shared::ids::EVENT);
    writes.row(&EVENTS, [(&id).into(), app_id.into(), event_type.into(), data.into(), now_ms.into()]);
    fan_out(writes, app_id, &id, event_type, now_ms);
}

/// A delivery of each event `r.event_id` (queued at `r.at_ms`) for every enabled
/// endpoint of its app `r.app_id` whose filter is everything or matches `r.filter`
/// (`%"<type>"%`). One statement for any number of events.
pub(crate) static FAN_OUT: RowsSql = RowsSql {
    sql: "INSERT INTO webhook_deliveries (id, app_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at, updated_at)
     SELECT 'whd_' || SUBSTR(r.event_id, 5) || SUBSTR(e.id, 4), e.app_id, e.id, r.event_id, 'pending', 0, r.at_ms, r.at_ms, r.at_ms
     FROM {rows} CROSS JOIN webhook_endpoints e
     WHERE e.app_id = r.app_id AND e.deleted_at IS NULL AND e.status = 'enabled'
       AND (e.events LIKE '%\"*\"%' OR e.events LIKE r.filter)",
    bound: None,
    columns: &[Col::Text("event_id"), Col::Int("at_ms"), Col::Text("app_id"), Col::Text("filter")],
};

pub(crate) fn fan_out_row(app_id: &str, event_id: &str, event_type: &str, now_ms: i64) -> [Arg; 4] {
    [event_id.into(), now_ms.into(), app_id.into(), format!("%\"{event_type}\"%").into()]
}

/// Queues the event for every enabled endpoint of the app that wants its type,
/// with the writes it goes out with (the caller's database transaction).
pub fn fan_out(writes: &mut Writes, app_id: &str, event_id: &str, event_type: &str, now_ms: i64) {
    writes.row(&FAN_OUT, fan_out_row(app_id, event_id, event_type, now_ms));
}
