//! The ACH rail (issue 19, part 2): live apps' bank payouts leave in NACHA files
//! (`crate::ach` writes and reads the format).
//!
//! - **Cut-off.** At each of `DOTS_ACH_CUTOFFS` (UTC), one database transaction
//!   gathers every live, unsuspended app's bank payout that is waiting (`created`,
//!   or `pending` after a review, and not yet with a rail) into one file: each
//!   payout becomes `pending` on the `ach` rail with its trace number, the file's
//!   text is sealed and stored, and its entries recorded. Until then a payout may
//!   still be canceled. The same file debits the live apps' pending refills from
//!   their funding accounts and carries the pre-notes of new funding accounts
//!   (`crate::funding`). Two servers cutting off at once make one file: each
//!   transfer is taken by a compare-and-set on its `rail`.
//! - **Settlement.** A file's payouts become `completed` when the operator settles
//!   it, or `DOTS_ACH_SETTLE_DAYS` banking days after its effective date (weekends
//!   and the Federal Reserve's holidays are not banking days).
//! - **Returns.** A bank's return file names our entries by trace number: a
//!   payout returned before it settled `failed`, after it `reversed`, either way
//!   with its money and fee back where they came from (the fees rule), and the
//!   return code on the transfer and in its webhook. A return already applied
//!   changes nothing, so a file ingested twice is ingested once.

use std::fmt::Write as _;

use dots_shared::api;
use dots_shared::time::{civil_from_days, days_from_civil, rfc3339_from_unix_ms};
use dots_shared::{ErrorCode, FeeParty, TransferStatus};
use sqlx::{AnyConnection, Row};

use crate::ach::{self, Batch, Entry, Sec, TransactionCode};
use crate::config::AchSettings;
use crate::error::{Error, Reply, TxResult};
use crate::ledger::transfers;
use crate::rails::Destination;
use crate::secrets::Keys;
use crate::services::Services;
use crate::store::{Store, new_id, now_ms};
use crate::writer::{Origin, Writer};
use http::StatusCode;
use std::sync::Arc;
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;
/// Trace numbers run from 1 to this, then start again (a return names an entry of
/// the last few months; the newest entry with the trace is the one).
const TRACE_WRAP: i64 = 9_999_999;

/// The Federal Reserve's holidays of the day `day` (days since 1970-01-01): the
/// eleven of 5 U.S.C. 6103, a Sunday one observed on the Monday after (a Saturday
/// one is not observed by the Fed).
fn fed_holiday(day: i64) -> bool {
    let (year, month, dom) = civil_from_days(day);
    let weekday = weekday(day);
    let nth_weekday = |n: u32, wd: i64| weekday == wd && (dom - 1) / 7 + 1 == n;
    let last_weekday = |wd: i64| weekday == wd && dom + 7 > days_in_month(year, month);
    let fixed = |m: u32, d: u32| (month, dom) == (m, d) || (weekday == 1 && civil_from_days(day - 1) == (year, m, d));
    fixed(1, 1)
        || (month == 1 && nth_weekday(3, 1))
        || (month == 2 && nth_weekday(3, 1))
        || (month == 5 && last_weekday(1))
        || fixed(6, 19)
        || fixed(7, 4)
        || (month == 9 && nth_weekday(1, 1))
        || (month == 10 && nth_weekday(2, 1))
        || fixed(11, 11)
        || (month == 11 && nth_weekday(4, 4))
        || fixed(12, 25)
}

/// 0 Sunday … 6 Saturday.
fn weekday(day: i64) -> i64 {
    (day + 4).rem_euclid(7)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let next = if month == 12 { days_from_civil(year + 1, 1, 1) } else { days_from_civil(year, month + 1, 1) };
    (next - days_from_civil(year, month, 1)) as u32
}

pub fn banking_day(day: i64) -> bool {
    !matches!(weekday(day), 0 | 6) && !fed_holiday(day)
}

/// The `n`th banking day after `day` (`n` = 0: `day` itself if a banking day, else the next).
pub fn banking_days_after(day: i64, n: u32) -> i64 {
    let mut d = day;
    while !banking_day(d) {
        d += 1;
    }
    for _ in 0..n {
        d += 1;
        while !banking_day(d) {
            d += 1;
        }
    }
    d
}

fn yymmdd(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{:02}{m:02}{d:02}", y.rem_euclid(100))
}

fn iso_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The next cut-off after `now_ms`, in ms since the epoch.
pub fn next_cutoff_ms(ach: &AchSettings, now_ms: i64) -> i64 {
    let today = now_ms.div_euclid(DAY_MS);
    (0..=1)
        .flat_map(|d| ach.cutoffs.iter().map(move |&(h, m)| (today + d) * DAY_MS + i64::from(h * 60 + m) * 60_000))
        .find(|&at| at > now_ms)
        .unwrap_or((today + 1) * DAY_MS)
}

/// The sealing context of a file's text.
fn seal_context(file_id: &str) -> String {
    format!("ach_file:{file_id}")
}

/// An entry going into the file being made.
struct Outgoing {
    kind: &'static str,
    transfer_id: Option<String>,
    app_id: String,
    trace: String,
    entry: Entry,
}

/// Trace numbers for a new file: on from the last file's, starting again after
/// 9,999,999.
struct Traces {
    odfi: String,
    first: i64,
    used: i64,
}

impl Traces {
    fn next(&mut self) -> String {
        let seq = (self.first - 1 + self.used) % TRACE_WRAP + 1;
        self.used += 1;
        format!("{}{seq:07}", self.odfi)
    }

    fn last(&self) -> i64 {
        (self.first - 1 + self.used - 1).rem_euclid(TRACE_WRAP) + 1
    }
}

/// The last 15 characters of an id: an entry's identification number.
fn id_number(id: &str) -> String {
    id[id.len().saturating_sub(15)..].to_string()
}

/// Gathers into a new file (`None`: nothing was waiting), in the caller's
/// transaction: the live apps' waiting bank payouts (credits, a PPD batch), their
/// pending refills (debits from their verified funding accounts) and the pre-notes
/// of their new funding accounts (a CCD batch: apps are businesses). Each is taken
/// by a compare-and-set, so one a concurrent cut-off (or a cancel) took is left.
pub async fn cut_off(
    conn: &mut AnyConnection,
    keys: &Keys,
    ach: &AchSettings,
    now_ms: i64,
) -> TxResult<Option<api::AchFile>> {
    let last_trace: Option<i64> = sqlx::query_scalar("SELECT last_trace FROM ach_files ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let mut traces = Traces {
        odfi: ach.odfi_routing[..8].to_string(),
        first: last_trace.map_or(1, |t| t % TRACE_WRAP + 1),
        used: 0,
    };
    let mut out = payouts_waiting(conn, keys, &mut traces, now_ms).await?;
    out.extend(refills_waiting(conn, keys, &mut traces).await?);
    out.extend(prenotes_waiting(conn, keys, &mut traces, now_ms).await?);
    if out.is_empty() {
        return Ok(None);
    }
    let today = now_ms.div_euclid(DAY_MS);
    let files_today: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ach_files WHERE creation_day = $1")
        .bind(today)
        .fetch_one(&mut *conn)
        .await?;
    let modifier = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        .get(files_today as usize)
        .map(|&b| b as char)
        .ok_or_else(|| Error::new(ErrorCode::InvalidTransition, "A bank takes at most 36 files a day."))?;
    // The money moves on the next banking day.
    let effective = banking_days_after(today + 1, 0);
    let batch = |sec: Sec, description: &str, credits: bool| Batch {
        sec,
        company_name: ach.company_name.clone(),
        company_id: ach.company_id.clone(),
        entry_description: description.into(),
        effective_date: yymmdd(effective),
        entries: out.iter().filter(|o| (o.kind == "payout") == credits).map(|o| o.entry.clone()).collect(),
    };
    let batches: Vec<Batch> = [batch(Sec::Ppd, "PAYOUT", true), batch(Sec::Ccd, "REFILL", false)]
        .into_iter()
        .filter(|b| !b.entries.is_empty())
        .collect();
    // Entries go in batch order, so their trace numbers must too: payouts were taken first.
    let minutes = now_ms.rem_euclid(DAY_MS) / 60_000;
    let file = ach::File {
        destination_routing: ach.odfi_routing.clone(),
        destination_name: ach.odfi_name.clone(),
        origin_id: ach.company_id.clone(),
        origin_name: ach.company_name.clone(),
        odfi: traces.odfi.clone(),
        creation_date: yymmdd(today),
        creation_time: format!("{:02}{:02}", minutes / 60, minutes % 60),
        file_id_modifier: modifier,
        first_trace: traces.first as u64,
        batches,
    };
    let text = file.render().map_err(|e| Error::internal(format!("the ACH file: {}", e.0)))?;
    let total = |credit: bool| {
        out.iter().filter(|o| o.entry.transaction_code.is_credit() == credit).map(|o| o.entry.amount).sum::<i64>()
    };
    let file_id = new_id(dots_shared::ids::ACH_FILE);
    sqlx::query(
        "INSERT INTO ach_files (id, file_id_modifier, creation_day, effective_day, first_trace, last_trace, entries,
         credit_total, debit_total, text_encrypted, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&file_id)
    .bind(modifier.to_string())
    .bind(today)
    .bind(effective)
    .bind(traces.first)
    .bind(traces.last())
    .bind(out.len() as i64)
    .bind(total(true))
    .bind(total(false))
    .bind(keys.seal(&seal_context(&file_id), &text))
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    for o in &out {
        sqlx::query(
            "INSERT INTO ach_entries (file_id, kind, transfer_id, app_id, trace, amount, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&file_id)
        .bind(o.kind)
        .bind(&o.transfer_id)
        .bind(&o.app_id)
        .bind(&o.trace)
        .bind(o.entry.amount)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(file_of(conn, &file_id).await?))
}

/// Takes a waiting transfer for the file under `trace` (compare-and-set).
async fn take(conn: &mut AnyConnection, id: &str, trace: &str, statuses: &str) -> TxResult<bool> {
    let took = sqlx::query(&format!(
        "UPDATE transfers SET rail = 'ach', rail_ref = $1, lease_until = NULL
         WHERE id = $2 AND rail IS NULL AND status IN ({statuses})"
    ))
    .bind(trace)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(took.rows_affected() == 1)
}

/// The live apps' bank payouts waiting for a file (`created`, or `pending` after a
/// review), made `pending` on the ACH rail.
async fn payouts_waiting(
    conn: &mut AnyConnection,
    keys: &Keys,
    traces: &mut Traces,
    now_ms: i64,
) -> TxResult<Vec<Outgoing>> {
    let rows = sqlx::query(
        "SELECT t.id, t.app_id, t.user_id, t.payout_method_id, t.amount, t.fee, t.fee_party, t.status,
                c.legal_first_name, c.legal_last_name
         FROM transfers t JOIN apps a ON a.id = t.app_id JOIN payout_methods m ON m.id = t.payout_method_id
         LEFT JOIN compliance c ON c.user_id = t.user_id
         WHERE t.kind = 'payout' AND t.status IN ('created', 'pending') AND t.rail IS NULL
           AND a.mode = 'live' AND a.suspended_at IS NULL AND m.kind = 'bank' AND m.deleted_at IS NULL
           AND t.currency = 'USD'
         ORDER BY t.seq LIMIT 10000",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (id, app_id, user_id, method_id): (String, String, String, String) =
            (row.try_get("id")?, row.try_get("app_id")?, row.try_get("user_id")?, row.try_get("payout_method_id")?);
        let trace = traces.next();
        if !take(conn, &id, &trace, "'created', 'pending'").await? {
            traces.used -= 1;
            continue;
        }
        let Destination::Bank { routing_number, account_number, account_type } =
            crate::payees::payout_methods::destination(conn, keys, &user_id, &method_id).await?
        else {
            return Err(Error::internal("a bank payout method without bank details").into());
        };
        if row.try_get::<String, _>("status")? == TransferStatus::Created.as_str() {
            transfers::set_status(conn, &app_id, &id, TransferStatus::Pending, Some("in_ach_file"), now_ms).await?;
        }
        // The bank pays what the payee receives: the amount less a fee they pay.
        let (amount, fee): (i64, i64) = (row.try_get("amount")?, row.try_get("fee")?);
        let user_pays = row.try_get::<Option<String>, _>("fee_party")?.as_deref() == Some(FeeParty::User.as_str());
        let name = [row.try_get::<Option<String>, _>("legal_first_name")?, row.try_get("legal_last_name")?]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let entry = Entry {
            transaction_code: TransactionCode::of(&account_type, true)
                .ok_or_else(|| Error::internal(format!("unknown account type {account_type}")))?,
            routing_number,
            account_number,
            amount: if user_pays { amount - fee } else { amount },
            id_number: id_number(&id),
            name: if name.trim().is_empty() { "PAYEE".into() } else { name },
        };
        out.push(Outgoing { kind: "payout", transfer_id: Some(id), app_id, trace, entry });
    }
    Ok(out)
}

/// The live apps' pending refills, each a debit from the app's verified funding account.
async fn refills_waiting(conn: &mut AnyConnection, keys: &Keys, traces: &mut Traces) -> TxResult<Vec<Outgoing>> {
    let rows = sqlx::query(
        "SELECT t.id, t.app_id, t.amount FROM transfers t JOIN apps a ON a.id = t.app_id
         JOIN funding_accounts f ON f.app_id = t.app_id
         WHERE t.kind = 'refill' AND t.status = 'pending' AND t.rail IS NULL AND a.mode = 'live'
           AND f.status = 'verified' AND t.currency = 'USD'
         ORDER BY t.seq LIMIT 10000",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (id, app_id, amount): (String, String, i64) =
            (row.try_get("id")?, row.try_get("app_id")?, row.try_get("amount")?);
        let trace = traces.next();
        if !take(conn, &id, &trace, "'pending'").await? {
            traces.used -= 1;
            continue;
        }
        let entry = funding_entry(conn, keys, &app_id, |t| TransactionCode::of(t, false), amount, &id).await?;
        out.push(Outgoing { kind: "refill", transfer_id: Some(id), app_id, trace, entry });
    }
    Ok(out)
}

/// An entry debiting (or proving) the app's funding account.
async fn funding_entry(
    conn: &mut AnyConnection,
    keys: &Keys,
    app_id: &str,
    code_of: impl Fn(&str) -> Option<TransactionCode>,
    amount: i64,
    reference: &str,
) -> TxResult<Entry> {
    let (bank, holder) = crate::funding::details(conn, keys, app_id).await?;
    let Destination::Bank { routing_number, account_number, account_type } = bank else {
        return Err(Error::internal("a funding account without bank details").into());
    };
    Ok(Entry {
        transaction_code: code_of(&account_type)
            .ok_or_else(|| Error::internal(format!("unknown account type {account_type}")))?,
        routing_number,
        account_number,
        amount,
        id_number: id_number(reference),
        name: holder,
    })
}

/// A zero-dollar pre-note to each new funding account of a live, active app.
async fn prenotes_waiting(
    conn: &mut AnyConnection,
    keys: &Keys,
    traces: &mut Traces,
    now_ms: i64,
) -> TxResult<Vec<Outgoing>> {
    let apps: Vec<String> = sqlx::query_scalar(
        "SELECT f.app_id FROM funding_accounts f JOIN apps a ON a.id = f.app_id
         WHERE f.status = 'unverified' AND a.mode = 'live' AND a.suspended_at IS NULL ORDER BY f.seq",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(apps.len());
    for app_id in apps {
        let trace = traces.next();
        let took = sqlx::query(
            "UPDATE funding_accounts SET status = 'prenote_sent', prenote_trace = $1, updated_at = $2
             WHERE app_id = $3 AND status = 'unverified'",
        )
        .bind(&trace)
        .bind(now_ms)
        .bind(&app_id)
        .execute(&mut *conn)
        .await?;
        if took.rows_affected() != 1 {
            traces.used -= 1;
            continue;
        }
        let entry = funding_entry(conn, keys, &app_id, TransactionCode::prenote_of, 0, &app_id).await?;
        out.push(Outgoing { kind: "prenote", transfer_id: None, app_id, trace, entry });
    }
    Ok(out)
}

const FILE_COLUMNS: &str = "f.id, f.file_id_modifier, f.effective_day, f.entries, f.credit_total, f.debit_total,
     f.settled_at, f.created_at, (SELECT COUNT(*) FROM ach_entries e WHERE e.file_id = f.id AND e.return_code IS NOT NULL) AS returns";

fn file_from_row(row: &sqlx::any::AnyRow) -> Result<api::AchFile, sqlx::Error> {
    let settled_at: Option<i64> = row.try_get("settled_at")?;
    Ok(api::AchFile {
        id: row.try_get("id")?,
        file_id_modifier: row.try_get("file_id_modifier")?,
        effective_date: iso_date(row.try_get("effective_day")?),
        entries: row.try_get("entries")?,
        credit_total: row.try_get("credit_total")?,
        debit_total: row.try_get("debit_total")?,
        returns: row.try_get("returns")?,
        status: if settled_at.is_some() { "settled" } else { "sent" }.to_string(),
        settled_at: settled_at.map(rfc3339_from_unix_ms),
        created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
    })
}

pub fn file_not_found() -> Error {
    Error::new(ErrorCode::AchFileNotFound, "No ACH file has this id.")
}

/// One file.
pub async fn file_of(conn: &mut AnyConnection, id: &str) -> Result<api::AchFile, Error> {
    let row = sqlx::query(&format!("SELECT {FILE_COLUMNS} FROM ach_files f WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(file_not_found)?;
    Ok(file_from_row(&row)?)
}

/// The newest files first (at most `limit`), older than the file `after` if given.
pub async fn files(conn: &mut AnyConnection, limit: i64, after: Option<&str>) -> Result<Vec<api::AchFile>, Error> {
    let rows = sqlx::query(&format!(
        "SELECT {FILE_COLUMNS} FROM ach_files f
         WHERE $1 IS NULL OR f.seq < (SELECT seq FROM ach_files WHERE id = $1) ORDER BY f.seq DESC LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(file_from_row).collect::<Result<_, _>>()?)
}

/// A file's NACHA text, as the bank takes it.
pub async fn file_text(conn: &mut AnyConnection, keys: &Keys, id: &str) -> Result<String, Error> {
    let sealed: String = sqlx::query_scalar("SELECT text_encrypted FROM ach_files WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(file_not_found)?;
    keys.open(&seal_context(id), &sealed).map_err(Error::internal)
}

/// Settles a file: each of its payouts and refills not returned becomes
/// `completed` (a refill's money is then in the app's wallet), and each funding
/// account whose pre-note was not returned is `verified`. A file settles once
/// (`invalid_transition` after).
pub async fn settle(conn: &mut AnyConnection, id: &str, now_ms: i64) -> TxResult<api::AchFile> {
    let file = file_of(conn, id).await?;
    let marked = sqlx::query("UPDATE ach_files SET settled_at = $1 WHERE id = $2 AND settled_at IS NULL")
        .bind(now_ms)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if marked.rows_affected() != 1 {
        return Err(Error::new(
            ErrorCode::InvalidTransition,
            format!("The ACH file {id} was settled on {}.", file.settled_at.unwrap_or_default()),
        )
        .into());
    }
    let entries = sqlx::query(
        "SELECT e.app_id, e.transfer_id FROM ach_entries e JOIN transfers t ON t.id = e.transfer_id
         WHERE e.file_id = $1 AND e.return_code IS NULL AND t.status = 'pending' ORDER BY e.seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for e in entries {
        let (app_id, transfer_id): (String, String) = (e.try_get("app_id")?, e.try_get("transfer_id")?);
        transfers::set_status(conn, &app_id, &transfer_id, TransferStatus::Completed, Some("settled"), now_ms).await?;
    }
    sqlx::query(
        "UPDATE funding_accounts SET status = 'verified', verified_at = $1, updated_at = $1
         WHERE status = 'prenote_sent' AND prenote_trace IN
           (SELECT trace FROM ach_entries WHERE file_id = $2 AND kind = 'prenote' AND return_code IS NULL)",
    )
    .bind(now_ms)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(file_of(conn, id).await?)
}

/// The files due to settle by the calendar: `settle_days` banking days after
/// their effective date (none when `settle_days` is 0).
pub async fn due_to_settle(conn: &mut AnyConnection, ach: &AchSettings, now_ms: i64) -> Result<Vec<String>, Error> {
    if ach.settle_days == 0 {
        return Ok(Vec::new());
    }
    let today = now_ms.div_euclid(DAY_MS);
    let rows = sqlx::query("SELECT id, effective_day FROM ach_files WHERE settled_at IS NULL ORDER BY seq")
        .fetch_all(&mut *conn)
        .await?;
    let mut due = Vec::new();
    for row in rows {
        let effective: i64 = row.try_get("effective_day")?;
        if banking_days_after(effective, ach.settle_days) <= today {
            due.push(row.try_get("id")?);
        }
    }
    Ok(due)
}

/// Applies a bank's return file (`crate::ach::parse_returns`): each return, matched
/// by trace number and amount to the newest entry with that trace, is applied once
/// (`crate::funding` for refills and pre-notes).
pub async fn apply_returns(conn: &mut AnyConnection, text: &str, now_ms: i64) -> TxResult<api::AchReturns> {
    let returns = ach::parse_returns(text).map_err(|e| {
        Error::invalid(ErrorCode::InvalidField, "lines", format!("This is not a NACHA return file: {}.", e.0))
    })?;
    let mut report = api::AchReturns { applied: Vec::new(), already_applied: 0, unmatched: Vec::new() };
    for r in returns {
        let entry = sqlx::query(
            "SELECT seq, kind, app_id, transfer_id, amount, return_code FROM ach_entries WHERE trace = $1
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(&r.original_trace)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(entry) = entry.filter(|e| e.try_get::<i64, _>("amount").is_ok_and(|a| a == r.amount)) else {
            report.unmatched.push(r.original_trace);
            continue;
        };
        let marked = sqlx::query(
            "UPDATE ach_entries SET return_code = $1, returned_at = $2 WHERE seq = $3 AND return_code IS NULL",
        )
        .bind(&r.code)
        .bind(now_ms)
        .bind(entry.try_get::<i64, _>("seq")?)
        .execute(&mut *conn)
        .await?;
        if marked.rows_affected() == 0 {
            report.already_applied += 1;
            continue;
        }
        let (kind, app_id, transfer_id): (String, String, Option<String>) =
            (entry.try_get("kind")?, entry.try_get("app_id")?, entry.try_get("transfer_id")?);
        let mut applied = api::AchReturnApplied {
            trace: r.original_trace.clone(),
            kind: kind.clone(),
            app_id: app_id.clone(),
            transfer_id: transfer_id.clone(),
            meaning: ach::return_meaning(&r.code).unwrap_or("Returned by the bank").to_string(),
            code: r.code.clone(),
            status: None,
            app_suspended: false,
        };
        match (kind.as_str(), transfer_id) {
            ("prenote", _) => {
                sqlx::query(
                    "UPDATE funding_accounts SET status = 'failed', return_code = $1, updated_at = $2
                     WHERE app_id = $3 AND prenote_trace = $4",
                )
                .bind(&r.code)
                .bind(now_ms)
                .bind(&app_id)
                .bind(&r.original_trace)
                .execute(&mut *conn)
                .await?;
            }
            (_, Some(id)) => {
                let (status, suspended) = return_transfer(conn, &app_id, &id, &r.code, r.amount, now_ms).await?;
                applied.status = Some(status);
                applied.app_suspended = suspended;
            }
            (_, None) => return Err(Error::internal("an ACH entry of a transfer without its transfer").into()),
        }
        report.applied.push(applied);
    }
    Ok(report)
}

/// A returned payout or refill: not yet settled, it fails (nothing had moved for
/// good); settled, it is reversed — unless it is a refill whose money the app's
/// wallet no longer holds: then it stays `completed` and the app is suspended
/// (`crate::funding`). Answers its status and whether the app was suspended.
async fn return_transfer(
    conn: &mut AnyConnection,
    app_id: &str,
    id: &str,
    code: &str,
    amount: i64,
    now_ms: i64,
) -> TxResult<(TransferStatus, bool)> {
    let row = sqlx::query(
        "SELECT t.kind, t.status, t.currency, w.balance FROM transfers t JOIN apps a ON a.id = t.app_id
         JOIN accounts w ON w.id = a.wallet_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let (kind, status): (String, String) = (row.try_get("kind")?, row.try_get("status")?);
    if status != TransferStatus::Completed.as_str() {
        let failed = transfers::set_status(conn, app_id, id, TransferStatus::Failed, Some(code), now_ms).await?;
        return Ok((failed.status, false));
    }
    if kind == "refill" && row.try_get::<i64, _>("balance")? < amount {
        let currency = dots_shared::Currency::parse(&row.try_get::<String, _>("currency")?).map_err(Error::internal)?;
        let money = dots_shared::Money::new(amount, currency).map_err(Error::internal)?;
        sqlx::query("UPDATE apps SET suspended_at = $1, suspended_reason = $2 WHERE id = $3 AND suspended_at IS NULL")
            .bind(now_ms)
            .bind(crate::funding::shortfall_reason(money, code, id))
            .bind(app_id)
            .execute(&mut *conn)
            .await?;
        return Ok((TransferStatus::Completed, true));
    }
    let reversed = transfers::returned(conn, app_id, id, "ach", code, now_ms).await?;
    Ok((reversed.status, false))
}

/// The cut-off, through the writer: the new file (if any payout was waiting),
/// also written to `DOTS_ACH_DIR` when set.
pub async fn cut_off_now(
    store: &Store,
    writer: &Writer,
    services: &Arc<Services>,
    origin: Origin,
) -> Result<Reply, Error> {
    let reply = writer
        .run(origin, services.clone(), |conn, services, now| {
            Box::pin(async move {
                let ach = services.ach.as_ref().ok_or_else(not_configured)?;
                let file = cut_off(conn, &services.keys, ach, now).await?;
                let status = if file.is_some() { StatusCode::CREATED } else { StatusCode::OK };
                Ok(Reply::json(status, &api::AchCutOff { file })?)
            })
        })
        .await?;
    if reply.status == StatusCode::CREATED && !reply.replayed {
        let made: api::AchCutOff = serde_json::from_slice(&reply.body).map_err(Error::internal)?;
        let id = made.file.map(|f| f.id).unwrap_or_default();
        if let Err(e) = write_to_dir(store, services, &id).await {
            tracing::error!(file = %id, error = %e, "the ACH file could not be written to DOTS_ACH_DIR");
        }
    }
    Ok(reply)
}

/// Writes a file's text to `DOTS_ACH_DIR` (whole, then renamed into place, so an
/// uploader never reads half a file).
async fn write_to_dir(store: &Store, services: &Services, id: &str) -> Result<(), String> {
    let Some(dir) = services.ach.as_ref().and_then(|a| a.dir.as_deref()) else { return Ok(()) };
    let mut conn = store.reader().acquire().await.map_err(|e| e.to_string())?;
    let text = file_text(&mut conn, &services.keys, id).await.map_err(|e| e.message)?;
    let (draft, path) = (format!("{dir}/.{id}.ach.tmp"), format!("{dir}/{id}.ach"));
    std::fs::write(&draft, text).and_then(|()| std::fs::rename(&draft, &path)).map_err(|e| e.to_string())
}

/// Settles a file through the writer.
pub async fn settle_now(writer: &Writer, origin: Origin, id: String) -> Result<Reply, Error> {
    writer
        .run(origin, id, |conn, id, now| {
            Box::pin(async move { Ok(Reply::json(StatusCode::OK, &settle(conn, id, now).await?)?) })
        })
        .await
}

/// Applies a return file through the writer.
pub async fn returns_now(writer: &Writer, origin: Origin, text: String) -> Result<Reply, Error> {
    writer
        .run(origin, text, |conn, text, now| {
            Box::pin(async move { Ok(Reply::json(StatusCode::OK, &apply_returns(conn, text, now).await?)?) })
        })
        .await
}

pub fn not_configured() -> Error {
    Error::new(
        ErrorCode::AchNotConfigured,
        "This server has no ACH rail: set DOTS_ACH_ODFI_ROUTING, DOTS_ACH_ODFI_NAME, DOTS_ACH_COMPANY_ID and \
         DOTS_ACH_COMPANY_NAME.",
    )
}

/// Cuts off at each configured time and settles the files due, until the process
/// ends. Several processes may run it: a payout goes into one file only.
pub async fn run_worker(store: Store, writer: Writer, services: Arc<Services>) {
    let Some(ach) = services.ach.clone() else { return };
    let mut next = next_cutoff_ms(&ach, now_ms());
    loop {
        let wait = (next - now_ms()).clamp(0, 60_000);
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        if now_ms() >= next {
            match cut_off_now(&store, &writer, &services, Origin::default()).await {
                Ok(_) => next = next_cutoff_ms(&ach, now_ms()),
                // Tried again in a minute; the cut-off stays due until it is made.
                Err(e) => tracing::warn!(error = %e, "the ACH cut-off failed; it will be retried"),
            }
        }
        let due = match store.reader().acquire().await {
            Ok(mut conn) => due_to_settle(&mut conn, &ach, now_ms()).await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        for id in due {
            if let Err(e) = settle_now(&writer, Origin::default(), id.clone()).await {
                tracing::warn!(file = %id, error = %e, "settling an ACH file failed; it will be retried");
            }
        }
    }
}

/// A file as the operator's command line lists it.
pub fn describe(file: &api::AchFile) -> String {
    let mut line = String::new();
    let _ = write!(
        line,
        "{}  {}  effective {}  {} entries  credits {}  debits {}  {}",
        file.id,
        file.created_at,
        file.effective_date,
        file.entries,
        cents(file.credit_total),
        cents(file.debit_total),
        file.status
    );
    if file.returns > 0 {
        let _ = write!(line, "  {} returned", file.returns);
    }
    line
}

fn cents(amount: i64) -> String {
    format!("${}.{:02}", amount / 100, amount % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i64, m: u32, d: u32) -> i64 {
        days_from_civil(y, m, d)
    }

    #[test]
    fn banking_days_skip_weekends_and_the_feds_holidays() {
        // 2026: Thanksgiving is Thursday 26 November; Christmas a Friday; 4 July a
        // Saturday (not observed by the Fed); 1 January 2028 a Saturday.
        for holiday in [
            day(2026, 1, 1),
            day(2026, 1, 19),
            day(2026, 2, 16),
            day(2026, 5, 25),
            day(2026, 6, 19),
            day(2026, 9, 7),
            day(2026, 10, 12),
            day(2026, 11, 11),
            day(2026, 11, 26),
            day(2026, 12, 25),
            day(2027, 7, 5), // 4 July 2027 is a Sunday: observed Monday
        ] {
            assert!(!banking_day(holiday), "{}", iso_date(holiday));
        }
        for open in [day(2026, 7, 3), day(2026, 11, 27), day(2026, 12, 24), day(2026, 5, 18), day(2027, 12, 31)] {
            assert!(banking_day(open), "{}", iso_date(open));
        }
        // Friday 4 December 2026 + 1 banking day = Monday 7 December.
        assert_eq!(banking_days_after(day(2026, 12, 4), 1), day(2026, 12, 7));
        // Wednesday 25 November + 1 = Friday 27 (Thanksgiving between).
        assert_eq!(banking_days_after(day(2026, 11, 25), 1), day(2026, 11, 27));
        // A Saturday, 0 days: the Monday after.
        assert_eq!(banking_days_after(day(2026, 12, 5), 0), day(2026, 12, 7));
    }

    #[test]
    fn the_next_cutoff_is_the_first_time_of_day_after_now() {
        let ach = AchSettings {
            odfi_routing: "011000015".into(),
            odfi_name: "BANK".into(),
            company_id: "1234567890".into(),
            company_name: "DOTS".into(),
            cutoffs: vec![(9, 30), (15, 0)],
            settle_days: 2,
            dir: None,
        };
        let midnight = day(2026, 12, 1) * DAY_MS;
        let at = |h: i64, m: i64| midnight + (h * 60 + m) * 60_000;
        assert_eq!(next_cutoff_ms(&ach, at(8, 0)), at(9, 30));
        assert_eq!(next_cutoff_ms(&ach, at(9, 30)), at(15, 0));
        assert_eq!(next_cutoff_ms(&ach, at(16, 0)), at(24 + 9, 30));
    }
}
