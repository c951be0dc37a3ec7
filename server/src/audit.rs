//! The audit log (issue 17, part 5): one row per change made through the API — who
//! (an app's API key, the operator, a payee in a flow, the holder of a payout link),
//! what (the route), which object, when, and from where (address and request id).
//!
//! The writer records it in the transaction of the change itself, only when the
//! change was kept (a 2xx answer): a refused request changed nothing, and a replayed
//! one (same Idempotency-Key) changed nothing again. The background workers (rail
//! results, link delivery, batch completion) are not requests and are not recorded
//! here; their changes are announced by their events. The table is append-only: the
//! database refuses UPDATE and DELETE (migration 0015), as for ledger rows.

use dots_shared::api;
use sqlx::{AnyConnection, Row};

use crate::error::{Error, Reply};
use crate::lists::Page;
use crate::store::new_id;
use crate::store::writes::{Arg, Bound, Col, RowsSql, Writes};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The app whose data changed (the operator's own changes name none, unless
    /// they act on an app: then the handler names it).
    pub app_id: Option<String>,
    pub kind: ActorKind,
    /// The API key's client id, the flow session, or `operator`.
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// An app's server, by its API credentials.
    ApiKey,
    /// The deployment's operator, by the operator key.
    Operator,
    /// A payee, in a flow session (the widget).
    Payee,
    /// Whoever holds a payout link's URL (opening its session).
    LinkHolder,
    /// A member of an app's team, in the dashboard.
    Member,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::ApiKey => "api_key",
            ActorKind::Operator => "operator",
            ActorKind::Payee => "payee",
            ActorKind::LinkHolder => "link_holder",
            ActorKind::Member => "member",
        }
    }
}

/// A request that may change something, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Audit {
    pub actor: Actor,
    /// The method and route: `POST /v2/users/{id}/payout-methods`.
    pub action: String,
    /// The path as requested (ids, no query).
    pub path: String,
    /// The client's address (forwarded only by a trusted proxy).
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// The statement that records a group of rows at once (the writer's batched
/// refills and balance transfers).
pub static ROWS: RowsSql = RowsSql {
    sql: "INSERT INTO audit_log (id, app_id, actor_type, actor_id, action, path, object_id, status, ip, request_id, created_at)
          SELECT id, app_id, actor_type, actor_id, action, path, object_id, status, ip, request_id, at_ms FROM {rows} WHERE true",
    bound: Some(Bound::One(
        "INSERT INTO audit_log (id, app_id, actor_type, actor_id, action, path, object_id, status, ip, request_id, created_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )),
    columns: &[
        Col::Text("id"),
        Col::Text("app_id"),
        Col::Text("actor_type"),
        Col::Text("actor_id"),
        Col::Text("action"),
        Col::Text("path"),
        Col::Text("object_id"),
        Col::Int("status"),
        Col::Text("ip"),
        Col::Text("request_id"),
        Col::Int("at_ms"),
    ],
};

impl Audit {
    /// Whether `reply` is a change to record: kept (2xx) and not a replay.
    pub fn records(reply: &Reply) -> bool {
        reply.status.is_success() && !reply.replayed
    }

    /// The row's values in [`ROWS`]' column order.
    pub fn row(&self, reply: &Reply, now_ms: i64) -> [Arg; 11] {
        let text = |v: Option<&str>| v.map(str::to_string).into();
        [
            new_id("aud_").into(),
            text(self.actor.app_id.as_deref()),
            self.actor.kind.as_str().into(),
            (&self.actor.id).into(),
            (&self.action).into(),
            (&self.path).into(),
            object_of(reply).into(),
            i64::from(reply.status.as_u16()).into(),
            text(self.ip.as_deref()),
            text(self.request_id.as_deref()),
            now_ms.into(),
        ]
    }

    /// Records one change (the writer calls this in the change's transaction).
    pub async fn record(&self, conn: &mut AnyConnection, reply: &Reply, now_ms: i64) -> Result<(), sqlx::Error> {
        let mut writes = Writes::new();
        writes.row(&ROWS, self.row(reply, now_ms));
        writes.run(conn).await
    }
}

/// The object a change made or changed: the answer's `id`, when it has one (a
/// deletion answers `{id, deleted}`; an answer without an id names none, and the
/// path still says which object).
fn object_of(reply: &Reply) -> Option<String> {
    // Answers that name an object name it first (`{"id":"tr_…",…}`): read it
    // there without parsing the rest (a transfer's answer is ~1 KB).
    if let Some(rest) = reply.body.strip_prefix(br#"{"id":""#)
        && let Some(end) = rest.iter().position(|&b| b == b'"' || b == b'\\')
        && rest[end] == b'"'
    {
        return std::str::from_utf8(&rest[..end]).ok().map(str::to_string);
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        id: Option<String>,
    }
    serde_json::from_slice::<Answer>(&reply.body).ok().and_then(|a| a.id)
}

/// The app's audit log, newest first; `actor_id` and `object_id` narrow it.
pub async fn list(
    conn: &mut AnyConnection,
    app_id: &str,
    page: &Page,
    actor_id: Option<&str>,
    object_id: Option<&str>,
) -> Result<api::List<api::AuditEntry>, Error> {
    let before = page.cursor_seq(conn, crate::lists::Listed::AuditLog, app_id).await?;
    let mut sql = String::from(
        "SELECT id, app_id, actor_type, actor_id, action, path, object_id, status, ip, request_id, created_at
         FROM audit_log WHERE app_id = $1 AND seq < $2",
    );
    let mut next = 4;
    for (column, value) in [("actor_id", actor_id), ("object_id", object_id)] {
        if value.is_some() {
            sql.push_str(&format!(" AND {column} = ${next}"));
            next += 1;
        }
    }
    sql.push_str(" ORDER BY seq DESC LIMIT $3");
    let mut query = sqlx::query(&sql).bind(app_id).bind(before).bind(page.limit() + 1);
    for value in [actor_id, object_id].into_iter().flatten() {
        query = query.bind(value);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(page.finish(entries(&rows)?))
}

/// The operator's own changes (on every app and on none), newest first.
pub async fn operator_list(conn: &mut AnyConnection, page: &Page) -> Result<api::List<api::AuditEntry>, Error> {
    let before: i64 = match &page.starting_after {
        None => i64::MAX,
        Some(id) => sqlx::query_scalar("SELECT seq FROM audit_log WHERE id = $1 AND actor_type = 'operator'")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| {
                Error::new(dots_shared::ErrorCode::InvalidCursor, "starting_after is not an entry of this list")
                    .with_param("starting_after")
            })?,
    };
    let rows = sqlx::query(
        "SELECT id, app_id, actor_type, actor_id, action, path, object_id, status, ip, request_id, created_at
         FROM audit_log WHERE actor_type = 'operator' AND seq < $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(before)
    .bind(page.limit() + 1)
    .fetch_all(conn)
    .await?;
    Ok(page.finish(entries(&rows)?))
}

fn entries(rows: &[sqlx::any::AnyRow]) -> Result<Vec<api::AuditEntry>, sqlx::Error> {
    rows.iter()
        .map(|row| {
            Ok(api::AuditEntry {
                id: row.try_get("id")?,
                app_id: row.try_get("app_id")?,
                actor: api::AuditActor { kind: row.try_get("actor_type")?, id: row.try_get("actor_id")? },
                action: row.try_get("action")?,
                path: row.try_get("path")?,
                object_id: row.try_get("object_id")?,
                status: row.try_get::<i64, _>("status")? as u16,
                ip: row.try_get("ip")?,
                request_id: row.try_get("request_id")?,
                created: dots_shared::time::rfc3339_from_unix_ms(row.try_get("created_at")?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: &str) -> Reply {
        Reply {
            status: http::StatusCode::OK,
            body: body.as_bytes().to_vec(),
            replayed: false,
            replay_body: None,
            seal_replay: false,
        }
    }

    #[test]
    fn the_object_is_the_answers_id_wherever_it_stands() {
        assert_eq!(object_of(&reply(r#"{"id":"tr_1","amount":5}"#)).as_deref(), Some("tr_1"));
        assert_eq!(object_of(&reply(r#"{"amount":5,"id":"tr_2"}"#)).as_deref(), Some("tr_2"));
        assert_eq!(object_of(&reply(r#"{"id":"a\"b"}"#)).as_deref(), Some("a\"b"), "escapes: parsed whole");
        assert_eq!(object_of(&reply(r#"{"id":null}"#)), None);
        assert_eq!(object_of(&reply(r#"{"data":[]}"#)), None);
        assert_eq!(object_of(&reply(r#"{"id":"unterminated"#)), None);
    }
}
