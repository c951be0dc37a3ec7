//! Rate limits every server process shares: fixed-window counters in the
//! database (`rate_limits`), counted in the caller's transaction.

use dots_shared::ErrorCode;
use sqlx::AnyConnection;

use crate::error::{Error, TxResult};

/// A fixed-window counter shared by every server process: refuses the request
/// (and counts nothing) once `key` has reached `max` in the current window.
pub async fn rate_limit(conn: &mut AnyConnection, key: &str, window_ms: i64, max: i64, now_ms: i64) -> TxResult<()> {
    let window_start = now_ms - now_ms.rem_euclid(window_ms);
    let count: i64 = sqlx::query_scalar(
        "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
         ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN rate_limits.window_start < $2 THEN 1 ELSE rate_limits.count + 1 END,
             window_start = CASE WHEN rate_limits.window_start < $2 THEN $2 ELSE rate_limits.window_start END
         RETURNING count",
    )
    .bind(key)
    .bind(window_start)
    .fetch_one(&mut *conn)
    .await?;
    if count > max {
        return Err(Error::new(ErrorCode::RateLimited, "Too many requests; try again later.").into());
    }
    Ok(())
}
