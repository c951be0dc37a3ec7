//! Rate limits every server process shares: fixed-window counters in the
//! database (`rate_limits`), counted in the caller's transaction.

use dots_shared::ErrorCode;
use sqlx::AnyConnection;

use crate::error::{Error, TxResult};
use crate::store::Backend;
use crate::store::writes::{Col, Rows, RowsSql, arguments};

/// One fixed-window limit: at most `max` counted under `key` per `window_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Limit<'a> {
    pub key: &'a str,
    pub window_ms: i64,
    pub max: i64,
}

/// Each row's counter goes up by one, or starts again at one in a newer window.
static COUNT: RowsSql = RowsSql {
    sql: "INSERT INTO rate_limits (key, window_start, count) SELECT key, window_start, 1 FROM {rows} WHERE true
          ON CONFLICT (key) DO UPDATE SET
              count = CASE WHEN rate_limits.window_start < excluded.window_start THEN 1 ELSE rate_limits.count + 1 END,
              window_start = CASE WHEN rate_limits.window_start < excluded.window_start
                                  THEN excluded.window_start ELSE rate_limits.window_start END
          RETURNING key, count",
    bound: None,
    columns: &[Col::Text("key"), Col::Int("window_start")],
};

/// A fixed-window counter shared by every server process: refuses the request
/// (and counts nothing) once `key` has reached `max` in the current window.
pub async fn rate_limit(conn: &mut AnyConnection, key: &str, window_ms: i64, max: i64, now_ms: i64) -> TxResult<()> {
    rate_limits(conn, &[Limit { key, window_ms, max }], now_ms).await
}

/// Several limits counted in one statement (one round trip, whatever their number;
/// keys must differ): refused when any of them has reached its `max`. A refusal
/// is a [`TxError::Rejected`](crate::error::TxError), so the caller's savepoint
/// rolls every count of the request back: nothing is counted.
pub async fn rate_limits(conn: &mut AnyConnection, limits: &[Limit<'_>], now_ms: i64) -> TxResult<()> {
    let mut rows = Rows::new(&COUNT);
    for (i, limit) in limits.iter().enumerate() {
        assert!(limits[..i].iter().all(|l| l.key != limit.key), "one row per key in a statement");
        rows.push([limit.key.into(), (now_ms - now_ms.rem_euclid(limit.window_ms)).into()]);
    }
    if rows.is_empty() {
        return Ok(());
    }
    let counted: Vec<(String, i64)> =
        sqlx::query_as_with(rows.sql(Backend::of(conn), 1), arguments(rows.into_args())).fetch_all(&mut *conn).await?;
    let over = counted.iter().any(|(key, count)| limits.iter().any(|l| l.key == key && *count > l.max));
    if over {
        return Err(Error::new(ErrorCode::RateLimited, "Too many requests; try again later.").into());
    }
    Ok(())
}
