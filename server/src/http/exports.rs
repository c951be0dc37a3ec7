//! `/v2/exports/*.csv`: an app's transfers and ledger transactions for a time
//! range, streamed as CSV (`crate::exports`) a page at a time.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use dots_shared::ErrorCode;

use super::extract::{AppAuth, list_query};
use super::{AppState, Routes};
use crate::error::Error;
use crate::exports::{Export, Table};

pub(super) fn routes(routes: Routes) -> Routes {
    routes.get("/v2/exports/transfers.csv", transfers).get("/v2/exports/transactions.csv", transactions)
}

/// This module's operations, for the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(transfers, transactions))]
pub(super) struct Doc;

/// The app's transfers created in `[created_after, created_before)` (RFC 3339; the
/// whole history without them), oldest first, as CSV (README, "Exports").
#[utoipa::path(get, path = "/v2/exports/transfers.csv", tag = "Exports", params(("created_after" = Option<String>, Query, description = "From this time (RFC 3339), included."), ("created_before" = Option<String>, Query, description = "Until this time (RFC 3339), excluded.")), responses((status = 200, description = "CSV: id, type, status, user_id, amount, amount_decimal, fee, net, currency, fee_party, direction, payout_method_id, created_at, updated_at.", content_type = "text/csv", body = String)))]
async fn transfers(State(state): State<AppState>, auth: AppAuth, RawQuery(query): RawQuery) -> Result<Response, Error> {
    export(state, auth, query, Table::Transfers).await
}

/// The app's ledger transactions created in `[created_after, created_before)`,
/// oldest first, as CSV (README, "Exports").
#[utoipa::path(get, path = "/v2/exports/transactions.csv", tag = "Exports", params(("created_after" = Option<String>, Query, description = "From this time (RFC 3339), included."), ("created_before" = Option<String>, Query, description = "Until this time (RFC 3339), excluded.")), responses((status = 200, description = "CSV: id, transfer_id, type, amount, amount_decimal, currency, source, source_wallet_id, source_user_id, destination, destination_wallet_id, destination_user_id, created_at.", content_type = "text/csv", body = String)))]
async fn transactions(
    State(state): State<AppState>,
    auth: AppAuth,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    export(state, auth, query, Table::Transactions).await
}

async fn export(
    state: AppState,
    AppAuth(app): AppAuth,
    query: Option<String>,
    table: Table,
) -> Result<Response, Error> {
    // `app` names the app for a dashboard session's download link (read by
    // `member_acting`); the range is the only filter.
    let query = list_query(query.as_deref(), &["created_after", "created_before", "app"])?;
    if query.page.limit.is_some() || query.page.starting_after.is_some() {
        return Err(Error::new(ErrorCode::UnknownParameter, "An export has no pages: it is the whole range.")
            .with_param("limit"));
    }
    if query.filter("app").is_some() && app.member.is_none() {
        return Err(Error::new(ErrorCode::UnknownParameter, "Unknown query parameter app.").with_param("app"));
    }
    let range = query.metadata()?;
    let (from_ms, to_ms) = (range.created_after.unwrap_or(0), range.created_before.unwrap_or(i64::MAX));
    let mut conn = state.store.reader().acquire().await?;
    let export = Export::start(&mut conn, table, &app.id, from_ms, to_ms).await?;
    drop(conn);
    let pages = futures_util::stream::unfold((state, export, false), |(state, mut export, started)| async move {
        if !started {
            let header = Bytes::from_static(export.table.header().as_bytes());
            return Some((Ok(header), (state, export, true)));
        }
        let page = async {
            let mut conn = state.store.reader().acquire().await?;
            export.next_page(&mut conn).await
        };
        match page.await {
            Ok(Some(csv)) => Some((Ok(Bytes::from(csv)), (state, export, true))),
            Ok(None) => None,
            // The download breaks off rather than ending as if it were whole.
            Err(e) => {
                tracing::warn!(error = %e.message, "an export could not read a page");
                Some((Err(std::io::Error::other("the export could not be read")), (state, export, true)))
            }
        }
    });
    let name = match table {
        Table::Transfers => "transfers",
        Table::Transactions => "transactions",
    };
    let mut response = Body::from_stream(pages).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}-{}.csv\"", app.id)) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}
