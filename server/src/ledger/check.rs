//! The ledger check: the invariants DESIGN.md §3 promises, verified on a live
//! database in one consistent snapshot. Tests run it after every scenario and
//! `dots ledger check` runs it in production.

use dots_shared::{Direction, Fee, FeeParty, TransferStatus, TransferType};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::store::{Backend, Store};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub accounts: i64,
    pub transactions: i64,
    pub transfers: i64,
    pub violations: Vec<Violation>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Single-column rules: each query returns one text column describing each offender.
const RULES: &[(&str, &str)] = &[
    (
        "transaction_balanced",
        "SELECT x.id FROM transactions x JOIN entries e ON e.transaction_id = x.id
         GROUP BY x.id, x.amount HAVING SUM(e.amount) <> 0 OR COUNT(*) <> 2 OR MAX(e.amount) <> x.amount",
    ),
    (
        "transaction_has_entries",
        "SELECT x.id FROM transactions x WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.transaction_id = x.id)",
    ),
    (
        "transfer_balanced",
        "SELECT x.transfer_id FROM transactions x JOIN entries e ON e.transaction_id = x.id
         GROUP BY x.transfer_id HAVING SUM(e.amount) <> 0",
    ),
    (
        "currency_sums_to_zero",
        "SELECT currency FROM accounts GROUP BY currency HAVING SUM(balance) <> 0",
    ),
    (
        "wallet_not_negative",
        "SELECT id FROM accounts WHERE kind IN ('app_wallet', 'user_wallet') AND balance < 0",
    ),
    (
        "cached_balance_matches_entries",
        "SELECT a.id FROM accounts a
         WHERE a.balance <> (SELECT CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) FROM entries e WHERE e.account_id = a.id)",
    ),
    (
        "entry_currency_matches_account",
        "SELECT CAST(e.seq AS TEXT) FROM entries e JOIN accounts a ON a.id = e.account_id WHERE a.currency <> e.currency",
    ),
    (
        "status_matches_history",
        "SELECT t.id FROM transfers t WHERE t.status <> COALESCE((SELECT c.to_status FROM transfer_status_changes c
           WHERE c.transfer_id = t.id ORDER BY c.seq DESC LIMIT 1), '')",
    ),
];

pub async fn check(store: &Store) -> Result<Report, sqlx::Error> {
    let mut tx = match store.backend() {
        Backend::Postgres => store.reader().begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?,
        Backend::Sqlite => store.reader().begin().await?,
    };
    let conn: &mut AnyConnection = &mut tx;
    let mut violations = Vec::new();
    for (rule, sql) in RULES {
        for row in sqlx::query(sql).fetch_all(&mut *conn).await? {
            violations.push(Violation { rule, detail: row.try_get::<String, _>(0)? });
        }
    }
    violations.extend(transfer_effects(conn).await?);
    violations.extend(system_accounts(conn).await?);
    let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
    let report = Report {
        accounts: sqlx::query_scalar(&count("accounts")).fetch_one(&mut *conn).await?,
        transactions: sqlx::query_scalar(&count("transactions")).fetch_one(&mut *conn).await?,
        transfers: sqlx::query_scalar(&count("transfers")).fetch_one(&mut *conn).await?,
        violations,
    };
    tx.rollback().await?;
    Ok(report)
}

/// Every supported currency has its system accounts (a migration creates them).
async fn system_accounts(conn: &mut AnyConnection) -> Result<Vec<Violation>, sqlx::Error> {
    let present: Vec<String> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE kind NOT IN ('app_wallet', 'user_wallet')")
            .fetch_all(&mut *conn)
            .await?;
    let mut violations = Vec::new();
    for currency in dots_shared::Currency::all() {
        for account in super::SystemAccount::ALL {
            let id = account.account_id(currency);
            if !present.contains(&id) {
                violations.push(Violation { rule: "system_account_exists", detail: id });
            }
        }
    }
    Ok(violations)
}

/// No transfer is half-applied: each one's net effect on wallets and clearing is
/// exactly what its type, direction and status say.
async fn transfer_effects(conn: &mut AnyConnection) -> Result<Vec<Violation>, sqlx::Error> {
    let sum_of = |kinds: &str| {
        format!("CAST(COALESCE(SUM(CASE WHEN a.kind IN ({kinds}) THEN e.amount ELSE 0 END), 0) AS BIGINT)")
    };
    let sql = format!(
        "SELECT t.id, t.kind, t.status, t.direction, t.amount, t.fee, t.fee_party,
                {} AS user_net, {} AS app_net, {} AS clearing_net, {} AS external_net, {} AS fee_net
         FROM transfers t
         LEFT JOIN transactions x ON x.transfer_id = t.id
         LEFT JOIN entries e ON e.transaction_id = x.id
         LEFT JOIN accounts a ON a.id = e.account_id
         GROUP BY t.id, t.kind, t.status, t.direction, t.amount, t.fee, t.fee_party",
        sum_of("'user_wallet'"),
        sum_of("'app_wallet'"),
        sum_of("'payout_clearing'"),
        sum_of("'external_payouts'"),
        sum_of("'fee_revenue'"),
    );
    let mut violations = Vec::new();
    for row in sqlx::query(&sql).fetch_all(conn).await? {
        let id: String = row.try_get("id")?;
        let kind = TransferType::parse(&row.try_get::<String, _>("kind")?);
        let status = TransferStatus::parse(&row.try_get::<String, _>("status")?);
        let direction = row.try_get::<Option<String>, _>("direction")?.as_deref().and_then(Direction::parse);
        let amount: i64 = row.try_get("amount")?;
        let fee_amount: i64 = row.try_get("fee")?;
        // A transfer without a fee party (not a payout) has no fee; an unknown party is reported.
        let fee = match row.try_get::<Option<String>, _>("fee_party")?.as_deref().map(FeeParty::parse) {
            None => Some(Fee { amount: fee_amount, party: FeeParty::App }),
            Some(party) => party.map(|party| Fee { amount: fee_amount, party }),
        };
        let actual: [i64; 5] = [
            row.try_get("user_net")?,
            row.try_get("app_net")?,
            row.try_get("clearing_net")?,
            row.try_get("external_net")?,
            row.try_get("fee_net")?,
        ];
        let expected = match (kind, status, fee) {
            (Some(kind), Some(status), Some(fee)) => expected_effect(kind, status, direction, amount, fee),
            _ => None,
        };
        match expected {
            Some(expected) if expected == actual => {}
            Some(expected) => violations.push(Violation {
                rule: "transfer_fully_applied",
                detail: format!("{id}: net [user, app, clearing, external, fees] is {actual:?}, expected {expected:?}"),
            }),
            None => violations.push(Violation { rule: "transfer_state_known", detail: id }),
        }
    }
    Ok(violations)
}

/// Net change of [user wallet, app wallet, payout clearing, external payouts, fee
/// revenue]. A payout's fee is charged while it is on its way or paid, and returned
/// to whoever paid it when its money comes back (DESIGN.md §3 Fees).
fn expected_effect(
    kind: TransferType,
    status: TransferStatus,
    direction: Option<Direction>,
    amount: i64,
    fee: Fee,
) -> Option<[i64; 5]> {
    use TransferStatus::*;
    let (net, app_fee) = (fee.net(amount), fee.amount - fee.paid_by_user());
    Some(match (kind, status) {
        (TransferType::Refill, Completed) => [0, amount, 0, 0, 0],
        (TransferType::Refill | TransferType::Balance, Reversed) => [0, 0, 0, 0, 0],
        // A live app's refill before its bank debit settles, or returned before.
        (TransferType::Refill, Pending | Failed) => [0, 0, 0, 0, 0],
        (TransferType::Balance, Completed) => match direction? {
            Direction::AppToUser => [amount, -amount, 0, 0, 0],
            Direction::UserToApp => [-amount, amount, 0, 0, 0],
        },
        (TransferType::Payout, s) if s.holds_reservation() => [-amount, -app_fee, net, 0, fee.amount],
        (TransferType::Payout, Completed) => [-amount, -app_fee, 0, net, fee.amount],
        (TransferType::Payout, Failed | Canceled | Reversed) => [0, 0, 0, 0, 0],
        _ => return None,
    })
}
