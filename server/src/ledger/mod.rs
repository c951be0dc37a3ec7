//! The double-entry ledger: accounts, postings and the transfer state machine.
//!
//! Every balance change is a transaction of two entries (−amount from one account,
//! +amount to another), written in the caller's database transaction together with
//! the transfer's status change and its outbox events. Wallet balances are cached
//! on `accounts.balance`; every change locks the accounts and passes one rule
//! ([`post_within_bounds`]) first, so a wallet cannot go below zero whatever the
//! concurrency, on either database.

pub mod batch;
pub mod check;
pub mod transfers;

use dots_shared::ErrorCode;
use dots_shared::{Currency, Money, api, ids};
use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use crate::error::{Error, TxResult};
use crate::store::writes::{Bound, Col, Rows, RowsSql, Writes, arguments};
use crate::store::{Backend, new_id};

pub use check::{Violation, check};

/// The app a transfer belongs to: its id, its wallet, the currency it holds, and
/// whether it is a live app (real money) or a test one.
#[derive(Debug, Clone)]
pub struct AppWallet {
    pub id: String,
    pub wallet_id: String,
    pub currency: Currency,
    pub live: bool,
}

pub fn parse_currency(code: &str) -> Result<Currency, Error> {
    Currency::parse(code).map_err(|e| Error::invalid(ErrorCode::InvalidCurrency, "currency", e.to_string()))
}

pub fn user_not_found() -> Error {
    Error::new(ErrorCode::UserNotFound, "No such user.")
}

/// The wallet account of `app_id`'s user `user_id`; another app's user is
/// `user_not_found` too.
pub async fn user_wallet(conn: &mut AnyConnection, app_id: &str, user_id: &str) -> Result<String, Error> {
    if !ids::has_shape(user_id, ids::USER) {
        return Err(user_not_found().with_param("user_id"));
    }
    sqlx::query_scalar("SELECT wallet_id FROM users WHERE id = $1 AND app_id = $2")
        .bind(user_id)
        .bind(app_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| user_not_found().with_param("user_id"))
}

/// No account may hold more than this (in absolute value): it keeps every
/// `balance + amount` far from i64 overflow, which SQLite would turn into a float.
pub const BALANCE_LIMIT: i64 = 4_000_000_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemAccount {
    /// Money that entered from outside (refills). Runs negative.
    RefillSource,
    /// Reserved for payouts that have not settled.
    PayoutClearing,
    /// Money that left to payees' external accounts.
    ExternalPayouts,
    /// The operator's payout fees.
    FeeRevenue,
}

impl SystemAccount {
    pub const ALL: [SystemAccount; 4] = [
        SystemAccount::RefillSource,
        SystemAccount::PayoutClearing,
        SystemAccount::ExternalPayouts,
        SystemAccount::FeeRevenue,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            SystemAccount::RefillSource => "refill_source",
            SystemAccount::PayoutClearing => "payout_clearing",
            SystemAccount::ExternalPayouts => "external_payouts",
            SystemAccount::FeeRevenue => "fee_revenue",
        }
    }

    pub fn account_id(self, currency: Currency) -> String {
        format!("sys_{}_{}", self.kind(), currency.code())
    }
}

/// One side of a posting: which account, of what kind (a wallet may never go below
/// zero; a system account may), and whose.
#[derive(Debug, Clone)]
pub struct Leg {
    account_id: String,
    kind: &'static str,
    user_id: Option<String>,
}

impl Leg {
    pub fn app_wallet(wallet_id: &str) -> Leg {
        Leg { account_id: wallet_id.to_string(), kind: "app_wallet", user_id: None }
    }

    pub fn user_wallet(wallet_id: &str, user_id: &str) -> Leg {
        Leg { account_id: wallet_id.to_string(), kind: "user_wallet", user_id: Some(user_id.to_string()) }
    }

    pub fn system(account: SystemAccount, currency: Currency) -> Leg {
        Leg { account_id: account.account_id(currency), kind: account.kind(), user_id: None }
    }

    fn is_wallet(&self) -> bool {
        self.kind.ends_with("_wallet")
    }

    /// The lowest balance this account may hold: a wallet never goes below zero.
    fn floor(&self) -> i64 {
        if self.is_wallet() { 0 } else { -BALANCE_LIMIT }
    }

    /// How the API shows this side of a transaction.
    fn shown(&self) -> api::AccountRef {
        api::AccountRef {
            kind: self.kind.to_string(),
            wallet_id: self.is_wallet().then(|| self.account_id.clone()),
            user_id: self.user_id.clone(),
        }
    }
}

/// One ledger transaction to make: `money` moves from `from` to `to`.
#[derive(Debug, Clone)]
pub struct Posting {
    pub kind: &'static str,
    pub from: Leg,
    pub to: Leg,
    pub money: Money,
}

/// Records one ledger transaction of `transfer_id` and returns it as the API shows
/// it. Fails with `insufficient_funds` (and changes nothing) when `from` is a
/// wallet holding less than the amount.
pub async fn post(
    conn: &mut AnyConnection,
    writes: &mut Writes,
    app_id: &str,
    transfer_id: &str,
    posting: &Posting,
    now_ms: i64,
) -> TxResult<api::Transaction> {
    move_balances(conn, &posting.from, &posting.to, posting.money.amount()).await?;
    Ok(record_posting(writes, app_id, transfer_id, posting, now_ms))
}

static TRANSACTIONS: RowsSql = RowsSql {
    sql: "INSERT INTO transactions (id, app_id, transfer_id, kind, amount, currency, created_at)
          SELECT id, app_id, transfer_id, kind, amount, currency, created_at FROM {rows}",
    bound: Some(Bound::One(
        "INSERT INTO transactions (id, app_id, transfer_id, kind, amount, currency, created_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )),
    columns: &[
        Col::Text("id"),
        Col::Text("app_id"),
        Col::Text("transfer_id"),
        Col::Text("kind"),
        Col::Int("amount"),
        Col::Text("currency"),
        Col::Int("created_at"),
    ],
};

static ENTRIES: RowsSql = RowsSql {
    sql: "INSERT INTO entries (transaction_id, account_id, amount, currency)
          SELECT transaction_id, account_id, amount, currency FROM {rows}",
    bound: None,
    columns: &[Col::Text("transaction_id"), Col::Text("account_id"), Col::Int("amount"), Col::Text("currency")],
};

/// Adds the rows of a posting whose balances have already moved — the transaction
/// and its two entries — to `writes`, and returns the transaction as the API shows it.
pub fn record_posting(
    writes: &mut Writes,
    app_id: &str,
    transfer_id: &str,
    posting: &Posting,
    now_ms: i64,
) -> api::Transaction {
    let Posting { kind, from, to, money } = posting;
    assert_ne!(from.account_id, to.account_id, "a posting moves money between two accounts");
    let amount = money.amount();
    let transaction_id = new_id(ids::TRANSACTION);
    let currency = money.currency().code();
    writes.row(
        &TRANSACTIONS,
        [
            (&transaction_id).into(),
            app_id.into(),
            transfer_id.into(),
            (*kind).into(),
            amount.into(),
            currency.into(),
            now_ms.into(),
        ],
    );
    writes.row(&ENTRIES, [(&transaction_id).into(), (&from.account_id).into(), (-amount).into(), currency.into()]);
    writes.row(&ENTRIES, [(&transaction_id).into(), (&to.account_id).into(), amount.into(), currency.into()]);
    api::Transaction {
        id: transaction_id,
        transfer_id: transfer_id.to_string(),
        kind: kind.to_string(),
        amount,
        currency: currency.to_string(),
        source: from.shown(),
        destination: to.shown(),
        created_at: dots_shared::time::rfc3339_from_unix_ms(now_ms),
    }
}

/// A single posting's balance change: lock and read both accounts, apply the one
/// rule ([`post_within_bounds`]), then write both legs (in one round trip, the
/// statements a batch uses: `batch::BALANCES`). Both rows or neither: a refusal
/// is rolled back by the caller's savepoint.
pub(super) async fn move_balances(conn: &mut AnyConnection, from: &Leg, to: &Leg, amount: i64) -> TxResult<()> {
    let mut balances = lock_balances(conn, vec![from.account_id.as_str(), to.account_id.as_str()]).await?;
    post_within_bounds(&mut balances, from, to, amount)?;
    let mut writes = Writes::new();
    writes.row(&batch::BALANCES, [(&from.account_id).into(), (-amount).into()]);
    writes.row(&batch::BALANCES, [(&to.account_id).into(), amount.into()]);
    writes.run(conn).await?;
    Ok(())
}

/// The one rule for every balance change, single postings and batches alike: both
/// legs move or neither; the paying account stays at or above its floor (a wallet
/// never goes below zero) and the receiving one within the limit. `balances` holds
/// both accounts as [`lock_balances`] read them, locked until commit, and is
/// updated, so the next posting of a batch sees this one. The `CHECK (balance >= 0)`
/// on wallets is the backstop.
pub(super) fn post_within_bounds(
    balances: &mut HashMap<String, i64>,
    from: &Leg,
    to: &Leg,
    amount: i64,
) -> Result<(), Error> {
    let from_after = balances[&from.account_id] - amount;
    let to_after = balances[&to.account_id] + amount;
    if from_after < from.floor() {
        return Err(if from.is_wallet() { insufficient_funds() } else { balance_limit_exceeded() });
    }
    if to_after > BALANCE_LIMIT {
        return Err(balance_limit_exceeded());
    }
    balances.insert(from.account_id.clone(), from_after);
    balances.insert(to.account_id.clone(), to_after);
    Ok(())
}

/// SQLite: the writer holds the database's write lock already. (`CROSS JOIN`
/// keeps the rows as the outer loop, read as they come instead of copied into a
/// temporary table first.)
static ACCOUNTS: RowsSql = RowsSql {
    sql: "SELECT a.id, a.balance FROM {rows} CROSS JOIN accounts a WHERE a.id = r.id",
    bound: None,
    columns: &[Col::Text("id")],
};

/// PostgreSQL: the rows locked in id order.
static ACCOUNTS_LOCKED: RowsSql = RowsSql {
    sql: "SELECT a.id, a.balance FROM {rows} CROSS JOIN accounts a WHERE a.id = r.id ORDER BY a.id FOR UPDATE OF a",
    bound: None,
    columns: &[Col::Text("id")],
};

/// Locks and reads accounts' balances, in id order (so two writers never wait on
/// each other in a cycle): `FOR UPDATE` on PostgreSQL; on SQLite the writer
/// already holds the database's write lock. A missing account is an error.
pub(super) async fn lock_balances(
    conn: &mut AnyConnection,
    mut wanted: Vec<&str>,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = Backend::of(conn);
    let mut rows = Rows::new(match backend {
        Backend::Sqlite => &ACCOUNTS,
        Backend::Postgres => &ACCOUNTS_LOCKED,
    });
    for id in &wanted {
        rows.push([(*id).into()]);
    }
    let found = sqlx::query_with(rows.sql(backend, 1), arguments(rows.into_args())).fetch_all(&mut *conn).await?;
    let mut balances = HashMap::with_capacity(found.len());
    for row in found {
        balances.insert(row.try_get::<String, _>("id")?, row.try_get::<i64, _>("balance")?);
    }
    if let Some(missing) = wanted.iter().find(|id| !balances.contains_key(**id)) {
        return Err(sqlx::Error::RowNotFound)
            .inspect_err(|_| tracing::error!(account = %missing, "an account is missing"));
    }
    Ok(balances)
}

pub fn insufficient_funds() -> Error {
    Error::new(ErrorCode::InsufficientFunds, "The wallet does not hold enough funds for this transfer.")
}

pub fn balance_limit_exceeded() -> Error {
    Error::new(ErrorCode::BalanceLimitExceeded, "This transfer would take a balance beyond its limit.")
}
