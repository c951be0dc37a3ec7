//! Refills and balance transfers, a batch at a time.
//!
//! The writer hands over every refill and balance transfer of a group commit at
//! once. Their accounts are locked and read in one statement (`FOR UPDATE` on
//! PostgreSQL; on SQLite the writer already holds the database's write lock), each
//! posting is checked against its accounts' floor and limit in memory, in arrival
//! order, and every row of the batch — transfers, histories, transactions, entries,
//! events, webhook deliveries and the accounts' net balance changes — goes to the
//! database in the caller's one round trip. A batch of a hundred transfers costs
//! about as many round trips as one.
//!
//! No wallet goes below zero: the balances read are locked until commit, each
//! posting is refused unless both accounts stay within bounds after it, and the
//! `CHECK (balance >= 0)` on wallets is the backstop.

use std::collections::{BTreeMap, HashMap};

use dots_shared::{Currency, api, ids};
use http::StatusCode;
use sqlx::{AnyConnection, Row};

use super::post_within_bounds;
use super::transfers::{Immediate, NewTransfer, Refill};
use crate::error::{Error, Reply};
use crate::events;
use crate::store::writes::{Bound, Col, Rows, RowsSql, Writes, arguments};
use crate::store::{Backend, new_id};

/// A request the batch can apply.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    Refill(&'a Refill),
    /// A balance transfer (never a payout).
    Balance(&'a NewTransfer),
}

/// What a batch did: one reply per request (created, or refused), and the
/// transfers it created with their app, for the debug builds' read-back check.
pub struct Applied {
    pub replies: Vec<Reply>,
    pub created: Vec<(String, api::Transfer)>,
}

/// Users' wallet ids, which never change once a user exists: looked up once per
/// process. Only users that exist are kept.
#[derive(Default)]
pub struct WalletIds {
    /// user id → (app id, wallet id).
    known: std::sync::Mutex<HashMap<String, (String, String)>>,
}

/// Past this many users the cache starts over (a bound, not an eviction policy).
const MAX_CACHED_WALLETS: usize = 1_000_000;

impl WalletIds {
    fn get(&self, user_id: &str) -> Option<(String, String)> {
        self.known.lock().expect("wallet ids lock").get(user_id).cloned()
    }

    fn remember(&self, user_id: String, app_id: String, wallet_id: String) {
        let mut known = self.known.lock().expect("wallet ids lock");
        if known.len() >= MAX_CACHED_WALLETS {
            known.clear();
        }
        known.insert(user_id, (app_id, wallet_id));
    }
}

static USERS: RowsSql = RowsSql {
    sql: "SELECT u.id, u.app_id, u.wallet_id FROM {rows} CROSS JOIN users u WHERE u.id = r.id",
    bound: None,
    columns: &[Col::Text("id")],
};

/// The batch's net balance changes, one row per account. Up to
/// [`MAX_BOUND_ROWS`](crate::store::writes::MAX_BOUND_ROWS) accounts (a transfer
/// moves two) by [`balances_bound`]: SQLite copies the rows of an `UPDATE … FROM`
/// into two temporary tables first.
pub(super) static BALANCES: RowsSql = RowsSql {
    sql: "UPDATE accounts SET balance = accounts.balance + r.delta FROM {rows} WHERE accounts.id = r.id",
    bound: Some(Bound::Rows(balances_bound)),
    columns: &[Col::Text("id"), Col::Int("delta")],
};

/// The balance updates for `accounts` (id, delta) pairs `$1, $2, …`; a padding
/// pair's `NULL` id matches nothing. On SQLite one single-row `UPDATE … WHERE id = $1`
/// per account: a row found by its key, changed without a statement journal,
/// where `WHERE id IN (…)` builds a temporary index of the list first and journals
/// the statement (BENCHMARKS.md, `bench instructions`). On PostgreSQL one statement,
/// `UPDATE accounts SET balance = balance + CASE id WHEN $1 THEN $2 … END WHERE id IN ($1, …)`.
fn balances_bound(backend: Backend, accounts: usize) -> String {
    if backend == Backend::Sqlite {
        let updates: Vec<String> = (0..accounts)
            .map(|i| format!("UPDATE accounts SET balance = balance + ${} WHERE id = ${}", 2 * i + 2, 2 * i + 1))
            .collect();
        return updates.join(";\n");
    }
    let whens: Vec<String> = (0..accounts).map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2)).collect();
    let ids: Vec<String> = (0..accounts).map(|i| format!("${}", 2 * i + 1)).collect();
    format!("UPDATE accounts SET balance = balance + CASE id {} END WHERE id IN ({})", whens.join(" "), ids.join(", "))
}

/// Applies `requests` in order inside the caller's database transaction: rows go
/// to `writes`, which the caller sends (with its own rows) before anything else
/// reads them. A refused request (`user_not_found`, `insufficient_funds`, …) writes
/// nothing and gets its error as its reply.
pub async fn apply(
    conn: &mut AnyConnection,
    wallets: &WalletIds,
    requests: &[Request<'_>],
    writes: &mut Writes,
    now_ms: i64,
) -> Result<Applied, sqlx::Error> {
    let backend = Backend::of(conn);
    let user_wallets = user_wallets(conn, backend, wallets, requests).await?;
    let ids: Vec<String> = requests.iter().map(|_| new_id(ids::TRANSFER)).collect();
    let plans: Vec<Result<Immediate<'_>, Error>> = requests
        .iter()
        .zip(&ids)
        .map(|(request, id)| match *request {
            Request::Refill(refill) => Ok(Immediate::refill(id, refill)),
            Request::Balance(t) => {
                let wallet = user_wallets.get(t.user_id.as_str()).filter(|(app_id, _)| *app_id == t.app.id);
                match wallet {
                    Some((_, wallet_id)) => Ok(Immediate::balance(id, t, wallet_id)),
                    None => Err(super::user_not_found().with_param("user_id")),
                }
            }
        })
        .collect();
    let mut balances = lock_accounts(conn, &plans).await?;
    let mut deltas: BTreeMap<String, (i64, Currency)> = BTreeMap::new();
    let mut applied = Applied { replies: Vec::with_capacity(plans.len()), created: Vec::new() };
    for plan in &plans {
        let plan = match plan {
            Ok(plan) => plan,
            Err(refused) => {
                applied.replies.push(Reply::from_error(refused));
                continue;
            }
        };
        if let Err(refused) =
            post_within_bounds(&mut balances, &plan.posting.from, &plan.posting.to, plan.posting.money.amount())
        {
            applied.replies.push(Reply::from_error(&refused));
            continue;
        }
        let (amount, currency) = (plan.posting.money.amount(), plan.posting.money.currency());
        deltas.entry(plan.posting.from.account_id.clone()).or_insert((0, currency)).0 -= amount;
        deltas.entry(plan.posting.to.account_id.clone()).or_insert((0, currency)).0 += amount;
        let transfer = plan.write(writes, now_ms);
        let data = serde_json::to_string(&transfer).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        events::record_json(writes, &plan.row.app.id, events::TRANSFER_CREATED, data.clone(), now_ms);
        applied.replies.push(Reply {
            status: StatusCode::CREATED,
            body: data.into_bytes(),
            replayed: false,
            replay_body: None,
            seal_replay: false,
        });
        applied.created.push((plan.row.app.id.clone(), transfer));
    }
    for currency in Currency::all() {
        let net: i64 = deltas.values().filter(|(_, c)| *c == currency).map(|(d, _)| d).sum();
        assert_eq!(net, 0, "a batch's postings in {} must sum to zero", currency.code());
    }
    for (account_id, (delta, _)) in deltas.into_iter().filter(|(_, (d, _))| *d != 0) {
        writes.row(&BALANCES, [account_id.into(), delta.into()]);
    }
    Ok(applied)
}

/// The wallet of every user the requests name: from [`WalletIds`], the rest in one
/// query. Users that do not exist are absent.
async fn user_wallets(
    conn: &mut AnyConnection,
    backend: Backend,
    wallets: &WalletIds,
    requests: &[Request<'_>],
) -> Result<HashMap<String, (String, String)>, sqlx::Error> {
    let mut found = HashMap::new();
    let mut missing = Rows::new(&USERS);
    for request in requests {
        let Request::Balance(t) = request else { continue };
        if found.contains_key(&t.user_id) || !ids::has_shape(&t.user_id, ids::USER) {
            continue;
        }
        match wallets.get(&t.user_id) {
            Some(known) => _ = found.insert(t.user_id.clone(), known),
            None => missing.push([(&t.user_id).into()]),
        }
    }
    if missing.is_empty() {
        return Ok(found);
    }
    let rows = sqlx::query_with(missing.sql(backend, 1), arguments(missing.into_args())).fetch_all(&mut *conn).await?;
    for row in rows {
        let (user_id, app_id, wallet_id): (String, String, String) =
            (row.try_get("id")?, row.try_get("app_id")?, row.try_get("wallet_id")?);
        wallets.remember(user_id.clone(), app_id.clone(), wallet_id.clone());
        found.insert(user_id, (app_id, wallet_id));
    }
    Ok(found)
}

/// Locks and reads every account the plans post to (`ledger::lock_balances`).
async fn lock_accounts(
    conn: &mut AnyConnection,
    plans: &[Result<Immediate<'_>, Error>],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let wanted: Vec<&str> = plans
        .iter()
        .flatten()
        .flat_map(|plan| [plan.posting.from.account_id.as_str(), plan.posting.to.account_id.as_str()])
        .collect();
    super::lock_balances(conn, wanted).await
}

/// Debug builds: every transfer the batch created reads back exactly as answered.
pub async fn check_stored(conn: &mut AnyConnection, created: &[(String, api::Transfer)]) -> Result<(), Error> {
    for (app_id, transfer) in created {
        let stored = super::transfers::get(conn, app_id, &transfer.id).await?;
        assert_eq!(*transfer, stored, "the answer built in memory must equal the transfer as stored");
    }
    Ok(())
}
