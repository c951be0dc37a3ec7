//! Cursor lists: `?limit=&starting_after=<id>` → `{data, has_more}`, newest first.

use dots_shared::ErrorCode;
use dots_shared::api::List;
use sqlx::AnyConnection;

use crate::error::Error;

pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub limit: Option<i64>,
    pub starting_after: Option<String>,
}

impl Page {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// The `seq` below which the page starts. The cursor must be an object of the
    /// same kind and the same app.
    pub async fn cursor_seq(&self, conn: &mut AnyConnection, table: Listed, app_id: &str) -> Result<i64, Error> {
        let Some(id) = &self.starting_after else {
            return Ok(i64::MAX);
        };
        let sql = format!("SELECT seq FROM {} WHERE id = $1 AND app_id = $2", table.name());
        sqlx::query_scalar::<_, i64>(&sql).bind(id).bind(app_id).fetch_optional(conn).await?.ok_or_else(|| {
            Error::new(ErrorCode::InvalidCursor, "starting_after is not an object of this list")
                .with_param("starting_after")
        })
    }

    /// Rows were fetched with `LIMIT limit + 1`: the extra one only says there is more.
    pub fn finish<T>(&self, mut rows: Vec<T>) -> List<T> {
        let limit = self.limit() as usize;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        List { data: rows, has_more }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Listed {
    Users,
    Transfers,
    Transactions,
    PayoutLinks,
    Events,
    AuditLog,
    Flows,
}

impl Listed {
    fn name(self) -> &'static str {
        match self {
            Listed::Users => "users",
            Listed::Transfers => "transfers",
            Listed::Transactions => "transactions",
            Listed::PayoutLinks => "payout_links",
            Listed::Events => "events",
            Listed::AuditLog => "audit_log",
            Listed::Flows => "flows",
        }
    }
}
