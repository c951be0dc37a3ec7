//! CSV exports of an app's transfers and ledger transactions for a time range
//! (`GET /v2/exports/transfers.csv`, `…/transactions.csv`), written a page at a
//! time so that a year of a million rows streams out in bounded memory: each page
//! is found by `seq` after the last one (keyset, no OFFSET), up to the last `seq`
//! that existed when the export began, so a row written meanwhile neither shows
//! up half-way nor shifts a page. Amounts are integer minor units, with the exact
//! decimal beside them; times are RFC 3339 UTC. The columns are listed in the
//! README ("Exports").

use dots_shared::money::{Currency, Money};
use dots_shared::time::rfc3339_from_unix_ms;
use sqlx::{AnyConnection, Row};

use crate::error::Error;

/// Rows read per page.
pub const PAGE_ROWS: i64 = 2_000;

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Transfers,
    Transactions,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Transfers => "transfers",
            Table::Transactions => "transactions",
        }
    }

    /// The CSV's first line.
    pub fn header(self) -> &'static str {
        match self {
            Table::Transfers => {
                "id,type,status,user_id,amount,amount_decimal,fee,net,currency,fee_party,direction,payout_method_id,created_at,updated_at\r\n"
            }
            Table::Transactions => {
                "id,transfer_id,type,amount,amount_decimal,currency,source,source_wallet_id,source_user_id,destination,destination_wallet_id,destination_user_id,created_at\r\n"
            }
        }
    }
}

/// An export under way: where the next page starts.
#[derive(Debug, Clone)]
pub struct Export {
    pub table: Table,
    pub app_id: String,
    /// Created at or after (Unix ms).
    pub from_ms: i64,
    /// Created before (Unix ms).
    pub to_ms: i64,
    after: i64,
    until: i64,
    page_rows: i64,
}

impl Export {
    /// Starts an export: fixes the last row it may include.
    pub async fn start(
        conn: &mut AnyConnection,
        table: Table,
        app_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Export, Error> {
        let until: Option<i64> =
            sqlx::query_scalar(&format!("SELECT MAX(seq) FROM {} WHERE app_id = $1", table.name()))
                .bind(app_id)
                .fetch_one(&mut *conn)
                .await?;
        let until = until.unwrap_or(0);
        Ok(Export { table, app_id: app_id.to_string(), from_ms, to_ms, after: 0, until, page_rows: PAGE_ROWS })
    }

    /// With pages of `rows` (tests: many pages from few rows).
    pub fn with_page_rows(self, rows: i64) -> Export {
        Export { page_rows: rows.clamp(1, PAGE_ROWS), ..self }
    }

    /// The next page as CSV lines, or `None` when the export is done. On SQLite the
    /// connection reads without its memory map meanwhile: the whole history read
    /// through it would stay mapped, resident in the server (measured: +730 MB for
    /// a million transactions; BENCHMARKS.md).
    pub async fn next_page(&mut self, conn: &mut AnyConnection) -> Result<Option<String>, Error> {
        let sqlite = crate::store::Backend::of(conn) == crate::store::Backend::Sqlite;
        if sqlite {
            sqlx::query("PRAGMA mmap_size = 0").execute(&mut *conn).await?;
        }
        let page = self.read_page(conn).await;
        if sqlite {
            let restore = format!("PRAGMA mmap_size = {}", crate::store::SQLITE_MMAP_BYTES);
            sqlx::query(&restore).execute(&mut *conn).await?;
        }
        page
    }

    async fn read_page(&mut self, conn: &mut AnyConnection) -> Result<Option<String>, Error> {
        if self.after >= self.until {
            return Ok(None);
        }
        // The page's last seq: PAGE_ROWS rows of the range on, or the end.
        let last: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT MAX(seq) FROM (SELECT seq FROM {} WHERE app_id = $1 AND seq > $2 AND seq <= $3
               AND created_at >= $4 AND created_at < $5 ORDER BY seq LIMIT {}) page",
            self.table.name(),
            self.page_rows
        ))
        .bind(&self.app_id)
        .bind(self.after)
        .bind(self.until)
        .bind(self.from_ms)
        .bind(self.to_ms)
        .fetch_one(&mut *conn)
        .await?;
        let Some(last) = last else {
            self.after = self.until;
            return Ok(None);
        };
        let mut csv = String::with_capacity(self.page_rows as usize * 160);
        match self.table {
            Table::Transfers => self.transfers(conn, last, &mut csv).await?,
            Table::Transactions => self.transactions(conn, last, &mut csv).await?,
        }
        self.after = last;
        Ok(Some(csv))
    }

    async fn transfers(&self, conn: &mut AnyConnection, last: i64, csv: &mut String) -> Result<(), Error> {
        let rows = sqlx::query(
            "SELECT id, kind, status, user_id, amount, fee, currency, fee_party, direction, payout_method_id,
                    created_at, updated_at
             FROM transfers WHERE app_id = $1 AND seq > $2 AND seq <= $3 AND created_at >= $4 AND created_at < $5
             ORDER BY seq",
        )
        .bind(&self.app_id)
        .bind(self.after)
        .bind(last)
        .bind(self.from_ms)
        .bind(self.to_ms)
        .fetch_all(conn)
        .await?;
        for row in rows {
            let (amount, fee): (i64, i64) = (row.try_get("amount")?, row.try_get("fee")?);
            let fee_party: Option<String> = row.try_get("fee_party")?;
            let currency: String = row.try_get("currency")?;
            let net = if fee_party.as_deref() == Some("user") { amount - fee } else { amount };
            let fields = [
                row.try_get::<String, _>("id")?,
                row.try_get("kind")?,
                row.try_get("status")?,
                row.try_get::<Option<String>, _>("user_id")?.unwrap_or_default(),
                amount.to_string(),
                decimal(amount, &currency),
                fee.to_string(),
                net.to_string(),
                currency,
                fee_party.unwrap_or_default(),
                row.try_get::<Option<String>, _>("direction")?.unwrap_or_default(),
                row.try_get::<Option<String>, _>("payout_method_id")?.unwrap_or_default(),
                rfc3339_from_unix_ms(row.try_get("created_at")?),
                rfc3339_from_unix_ms(row.try_get("updated_at")?),
            ];
            line(csv, &fields);
        }
        Ok(())
    }

    async fn transactions(&self, conn: &mut AnyConnection, last: i64, csv: &mut String) -> Result<(), Error> {
        let found = crate::ledger::transfers::transactions_between(conn, &self.app_id, self.after, last).await?;
        let (from, to) = (rfc3339_from_unix_ms(self.from_ms), rfc3339_from_unix_ms(self.to_ms));
        for x in found {
            // The page's bounds are by seq; the range is by time (same clock, same format).
            if x.created_at < from || x.created_at >= to {
                continue;
            }
            let fields = [
                x.id,
                x.transfer_id,
                x.kind,
                x.amount.to_string(),
                decimal(x.amount, &x.currency),
                x.currency,
                x.source.kind,
                x.source.wallet_id.unwrap_or_default(),
                x.source.user_id.unwrap_or_default(),
                x.destination.kind,
                x.destination.wallet_id.unwrap_or_default(),
                x.destination.user_id.unwrap_or_default(),
                x.created_at,
            ];
            line(csv, &fields);
        }
        Ok(())
    }
}

/// `1250` USD → `12.50`: exact, from integers.
fn decimal(minor: i64, currency: &str) -> String {
    Currency::parse(currency)
        .ok()
        .and_then(|c| Money::new(minor, c).ok())
        .map_or_else(|| minor.to_string(), Money::decimal)
}

/// One CSV record (RFC 4180): a field with a comma, quote or line break is quoted,
/// its quotes doubled.
fn line(csv: &mut String, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            csv.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            csv.push('"');
            csv.push_str(&field.replace('"', "\"\""));
            csv.push('"');
        } else {
            csv.push_str(field);
        }
    }
    csv.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        let mut csv = String::new();
        line(&mut csv, &["plain".into(), "a,b".into(), "say \"hi\"".into(), "two\nlines".into(), String::new()]);
        assert_eq!(csv, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
        assert_eq!(
            (decimal(1250, "USD"), decimal(500, "JPY"), decimal(7, "XXX")),
            ("12.50".into(), "500".into(), "7".into())
        );
    }
}
