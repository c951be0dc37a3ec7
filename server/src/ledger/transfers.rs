//! Transfers: creating refills, balance transfers and payouts, moving them along
//! the state machine, and reading them back with their transactions and history.

use dots_shared::ErrorCode;
use std::collections::HashMap;

use dots_shared::api::{self, CreatePayoutRequest, CreateTransferRequest, List, RefillRequest};
use dots_shared::time::rfc3339_from_unix_ms;
use dots_shared::{Currency, Direction, Fee, FeeParty, Money, TransferStatus, TransferType, ids};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{AppWallet, parse_currency};
use super::{Leg, Posting, SystemAccount, move_balances, post, record_posting};
use crate::error::{Error, TxResult};
use crate::events;
use crate::lists::{Listed, Page};
use crate::metadata::Metadata;
use crate::store::new_id;
use crate::store::writes::{Bound, Col, RowsSql, Writes};

#[derive(Debug, Clone)]
pub struct Refill {
    pub app: AppWallet,
    pub money: Money,
    pub metadata: Metadata,
}

impl Refill {
    pub fn validate(app: &AppWallet, req: RefillRequest) -> Result<Refill, Error> {
        Ok(Refill {
            app: app.clone(),
            money: money_for(app, &req.amount, &req.currency)?,
            metadata: crate::metadata::from_request(req.metadata.as_ref())?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewTransfer {
    pub app: AppWallet,
    pub kind: TransferType,
    pub user_id: String,
    pub money: Money,
    /// `Some` for balance transfers only.
    pub direction: Option<Direction>,
    /// Payouts only.
    pub payout_method_id: Option<String>,
    /// Payouts only: who pays the fee, when the request says (else the app's rule).
    pub fee_party: Option<FeeParty>,
    /// Payouts only: a fee worked out earlier (a payout link's, fixed when it was
    /// made) instead of the app's schedule now.
    pub quoted_fee: Option<Fee>,
    /// The app's notes.
    pub metadata: Metadata,
}

/// `fee_party` of a request: `app`, `user`, or absent.
pub fn parse_fee_party(raw: Option<&str>) -> Result<Option<FeeParty>, Error> {
    raw.map(|p| {
        FeeParty::parse(p)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidFeeParty, "fee_party", "fee_party must be app or user"))
    })
    .transpose()
}

impl NewTransfer {
    pub fn validate(app: &AppWallet, req: CreateTransferRequest) -> Result<NewTransfer, Error> {
        let kind = match TransferType::parse(&req.kind) {
            Some(kind @ (TransferType::Balance | TransferType::Payout)) => kind,
            Some(TransferType::Refill) => {
                return Err(Error::invalid(ErrorCode::InvalidType, "type", "refills are made with POST /v2/refills"));
            }
            None => {
                return Err(Error::invalid(ErrorCode::InvalidType, "type", "type must be balance or payout"));
            }
        };
        let direction = match (kind, req.direction.as_deref()) {
            (TransferType::Balance, None) => Some(Direction::default()),
            (TransferType::Balance, Some(d)) => Some(Direction::parse(d).ok_or_else(|| {
                Error::invalid(ErrorCode::InvalidDirection, "direction", "direction must be app_to_user or user_to_app")
            })?),
            (TransferType::Payout, None) => None,
            (_, _) => {
                return Err(Error::invalid(
                    ErrorCode::InvalidDirection,
                    "direction",
                    "direction applies to balance transfers only",
                ));
            }
        };
        for (field, given) in
            [("payout_method_id", req.payout_method_id.is_some()), ("fee_party", req.fee_party.is_some())]
        {
            if kind == TransferType::Balance && given {
                return Err(Error::invalid(ErrorCode::InvalidField, field, format!("{field} applies to payouts only")));
            }
        }
        Ok(NewTransfer {
            app: app.clone(),
            kind,
            user_id: req.user_id,
            money: money_for(app, &req.amount, &req.currency)?,
            direction,
            payout_method_id: req.payout_method_id,
            fee_party: parse_fee_party(req.fee_party.as_deref())?,
            quoted_fee: None,
            metadata: crate::metadata::from_request(req.metadata.as_ref())?,
        })
    }

    pub fn payout(app: &AppWallet, req: CreatePayoutRequest) -> Result<NewTransfer, Error> {
        Ok(NewTransfer {
            app: app.clone(),
            kind: TransferType::Payout,
            user_id: req.user_id,
            money: money_for(app, &req.amount, &req.currency)?,
            direction: None,
            payout_method_id: req.payout_method_id,
            fee_party: parse_fee_party(req.fee_party.as_deref())?,
            quoted_fee: None,
            metadata: crate::metadata::from_request(req.metadata.as_ref())?,
        })
    }
}

/// The amount and currency of a request, checked against the app's currency.
pub fn money_for(app: &AppWallet, amount: &serde_json::Number, currency: &str) -> Result<Money, Error> {
    let currency = parse_currency(currency)?;
    if currency != app.currency {
        return Err(Error::invalid(
            ErrorCode::CurrencyMismatch,
            "currency",
            format!("this app's wallets hold {}", app.currency),
        ));
    }
    Money::from_json(amount, currency).map_err(|e| Error::invalid(ErrorCode::InvalidAmount, "amount", e.to_string()))
}

/// Refills and balance transfers complete in the transaction that creates them.
const COMPLETES_AT_ONCE: &[TransferStatus] = &[TransferStatus::Pending, TransferStatus::Completed];

/// A refill or a balance transfer: one posting, complete in the database
/// transaction that creates it. The writer applies a batch of them together
/// (`ledger::batch`); a payout-link claim makes one alone.
pub(super) struct Immediate<'a> {
    pub(super) row: TransferRow<'a>,
    pub(super) posting: Posting,
}

impl<'a> Immediate<'a> {
    pub(super) fn refill(id: &'a str, refill: &'a Refill) -> Immediate<'a> {
        let app = &refill.app;
        Immediate {
            row: TransferRow {
                id,
                app,
                user_id: None,
                kind: TransferType::Refill,
                direction: None,
                money: refill.money,
                payout_method_id: None,
                fee: None,
                metadata: &refill.metadata,
            },
            posting: Posting {
                kind: "refill",
                from: Leg::system(SystemAccount::RefillSource, app.currency),
                to: Leg::app_wallet(&app.wallet_id),
                money: refill.money,
            },
        }
    }

    /// `t` must be a balance transfer; `user_wallet` is its user's wallet.
    pub(super) fn balance(id: &'a str, t: &'a NewTransfer, user_wallet: &str) -> Immediate<'a> {
        assert_eq!(t.kind, TransferType::Balance, "a balance transfer");
        let (user, app_wallet) = (Leg::user_wallet(user_wallet, &t.user_id), Leg::app_wallet(&t.app.wallet_id));
        let (from, to) = match t.direction.unwrap_or_default() {
            Direction::AppToUser => (app_wallet, user),
            Direction::UserToApp => (user, app_wallet),
        };
        let row = TransferRow::of(id, t, None, None);
        Immediate { row, posting: Posting { kind: "balance", from, to, money: t.money } }
    }

    /// Adds its rows — the transfer, its history, the transaction and its entries —
    /// to `writes`; the balances must have moved already. Returns it as the API shows it.
    pub(super) fn write(&self, writes: &mut Writes, now_ms: i64) -> api::Transfer {
        let history = insert(writes, &self.row, COMPLETES_AT_ONCE, None, now_ms);
        let transaction = record_posting(writes, &self.row.app.id, self.row.id, &self.posting, now_ms);
        created(&self.row, history, vec![transaction], now_ms)
    }

    /// Moves the balances (conditionally) and sends every row, alone.
    async fn apply(&self, conn: &mut AnyConnection, now_ms: i64) -> TxResult<api::Transfer> {
        let posting = &self.posting;
        move_balances(conn, &posting.from, &posting.to, posting.money.amount()).await?;
        let mut writes = Writes::new();
        let transfer = self.write(&mut writes, now_ms);
        announce_created(conn, writes, &self.row.app.id, transfer, now_ms).await
    }
}

/// A live app's refill (`crate::funding`): `pending`, nothing in the wallet, until
/// the bank debit that brings its money settles (then `completed`, its posting
/// made by the status door) or is returned (`failed`, nothing to undo).
pub async fn create_pending_refill(conn: &mut AnyConnection, refill: &Refill, now_ms: i64) -> TxResult<api::Transfer> {
    let id = new_id(ids::TRANSFER);
    let pending = Immediate::refill(&id, refill);
    let mut writes = Writes::new();
    let history = insert(&mut writes, &pending.row, &[TransferStatus::Pending], Some("awaiting_bank_debit"), now_ms);
    let transfer = created(&pending.row, history, Vec::new(), now_ms);
    announce_created(conn, writes, &refill.app.id, transfer, now_ms).await
}

/// A balance transfer alone, inside the caller's database transaction (a
/// payout-link claim makes one with its payout; the API's go through `batch`).
pub async fn create_balance(conn: &mut AnyConnection, t: &NewTransfer, now_ms: i64) -> TxResult<api::Transfer> {
    let user_wallet = super::user_wallet(conn, &t.app.id, &t.user_id).await?;
    let id = new_id(ids::TRANSFER);
    Immediate::balance(&id, t, &user_wallet).apply(conn, now_ms).await
}

/// A payout that `payouts::create` allowed: what the payee is to receive leaves
/// the wallet `user_wallet` for payout clearing now and stays there until it
/// settles, fails or is canceled; its fee (`fee`, worked out by the caller) goes
/// to the operator's fee revenue now, from the user's wallet or the app's, and
/// comes back if the payout's money does. `review` (why it must wait for a person,
/// if it must) makes it `flagged`.
pub async fn reserve_payout(
    conn: &mut AnyConnection,
    t: &NewTransfer,
    user_wallet: &str,
    method_id: &str,
    review: Option<&'static str>,
    fee: Fee,
    now_ms: i64,
) -> TxResult<api::Transfer> {
    let app = &t.app;
    let id = new_id(ids::TRANSFER);
    let path: &[TransferStatus] = if review.is_some() { &[TransferStatus::Flagged] } else { &[] };
    let row = TransferRow::of(&id, t, Some(method_id), Some(fee));
    // The balances move at once (conditionally); every row is written afterwards
    // in one round trip.
    let mut writes = Writes::new();
    let history = insert(&mut writes, &row, path, review, now_ms);
    let user = Leg::user_wallet(user_wallet, &t.user_id);
    let net = Money::new(fee.net(t.money.amount()), app.currency).map_err(Error::internal)?;
    let reserve = Posting {
        kind: "payout_reserve",
        from: user.clone(),
        to: Leg::system(SystemAccount::PayoutClearing, app.currency),
        money: net,
    };
    let mut transactions = vec![post(conn, &mut writes, &app.id, &id, &reserve, now_ms).await?];
    if fee.amount > 0 {
        let charge = Posting {
            kind: "payout_fee",
            from: match fee.party {
                FeeParty::User => user,
                FeeParty::App => Leg::app_wallet(&app.wallet_id),
            },
            to: Leg::system(SystemAccount::FeeRevenue, app.currency),
            money: Money::new(fee.amount, app.currency).map_err(Error::internal)?,
        };
        // A wallet short of the fee: the app's says so in its own words (a payee's
        // short wallet keeps the ledger's usual refusal).
        let charged = post(conn, &mut writes, &app.id, &id, &charge, now_ms).await.map_err(|e| match e {
            crate::error::TxError::Rejected(e)
                if e.code == ErrorCode::InsufficientFunds && fee.party == FeeParty::App =>
            {
                Error::new(
                    ErrorCode::InsufficientFunds,
                    "The app's wallet does not hold enough to pay this payout's fee.",
                )
                .into()
            }
            other => other,
        })?;
        transactions.push(charged);
    }
    let transfer = created(&row, history, transactions, now_ms);
    announce_created(conn, writes, &app.id, transfer, now_ms).await
}

/// A new transfer as the API shows it, built from what was just written rather than
/// read back (debug builds read it back and check they agree).
fn created(
    row: &TransferRow<'_>,
    status_history: Vec<api::StatusChange>,
    transactions: Vec<api::Transaction>,
    now_ms: i64,
) -> api::Transfer {
    let at = rfc3339_from_unix_ms(now_ms);
    api::Transfer {
        id: row.id.to_string(),
        livemode: row.app.live,
        kind: row.kind,
        status: status_history.last().map(|c| c.status).unwrap_or(TransferStatus::Created),
        user_id: row.user_id.map(str::to_string),
        amount: row.money.amount(),
        fee: row.fee.map_or(0, |f| f.amount),
        net: row.fee.map_or(row.money.amount(), |f| f.net(row.money.amount())),
        fee_party: row.fee.map(|f| f.party),
        currency: row.money.currency().code().to_string(),
        direction: row.direction,
        payout_method_id: row.payout_method_id.map(str::to_string),
        transactions,
        returned: None,
        status_history,
        metadata: row.metadata.clone(),
        created_at: at.clone(),
        updated_at: at,
    }
}

/// The payout worker is about to hand the payout to `rail`. This is committed
/// before the rail is called, so from here on the payout cannot be canceled: the
/// rail may have it. `created` becomes `pending` (an approved payout is already).
pub async fn mark_submitting(
    conn: &mut AnyConnection,
    app_id: &str,
    transfer_id: &str,
    rail: &str,
    now_ms: i64,
) -> TxResult<()> {
    let state = load_state(conn, app_id, transfer_id).await?;
    if state.status == TransferStatus::Created {
        change_status(conn, app_id, transfer_id, state, TransferStatus::Pending, Some("submitted_to_rail"), now_ms)
            .await?;
    }
    let marked = sqlx::query(
        "UPDATE transfers SET rail = $1 WHERE id = $2 AND status = 'pending' AND (rail IS NULL OR rail = $1)",
    )
    .bind(rail)
    .bind(transfer_id)
    .execute(&mut *conn)
    .await?;
    if marked.rows_affected() != 1 {
        return Err(
            Error::new(ErrorCode::TransferStatusChanged, "The payout is no longer waiting for its rail.").into()
        );
    }
    Ok(())
}

/// The rail accepted the payout under `rail_ref`; the worker lets go of it.
pub async fn record_rail_ref(
    conn: &mut AnyConnection,
    app_id: &str,
    transfer_id: &str,
    rail_ref: &str,
) -> TxResult<()> {
    sqlx::query(
        "UPDATE transfers SET rail_ref = $1, lease_until = NULL WHERE id = $2 AND app_id = $3 AND status = 'pending'",
    )
    .bind(rail_ref)
    .bind(transfer_id)
    .bind(app_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves a transfer to `to` and makes the postings that status change implies.
/// This is the ledger's one door for status changes: cancel, the payout worker
/// (next issue) and tests all come through it.
pub async fn set_status(
    conn: &mut AnyConnection,
    app_id: &str,
    transfer_id: &str,
    to: TransferStatus,
    reason: Option<&str>,
    now_ms: i64,
) -> TxResult<api::Transfer> {
    let current = load_state(conn, app_id, transfer_id).await?;
    change_status(conn, app_id, transfer_id, current, to, reason, now_ms).await
}

/// [`set_status`] for a transfer its caller has already read (`current`).
async fn change_status(
    conn: &mut AnyConnection,
    app_id: &str,
    transfer_id: &str,
    current: TransferState,
    to: TransferStatus,
    reason: Option<&str>,
    now_ms: i64,
) -> TxResult<api::Transfer> {
    if !current.status.can_become(to) {
        let code = if to == TransferStatus::Canceled {
            ErrorCode::TransferNotCancelable
        } else {
            ErrorCode::InvalidTransition
        };
        return Err(
            Error::new(code, format!("A {} transfer cannot become {}.", current.status.as_str(), to.as_str())).into()
        );
    }
    if to == TransferStatus::Canceled && current.rail.is_some() {
        return Err(Error::new(
            ErrorCode::TransferNotCancelable,
            "The payout was handed to its payout rail and can no longer be canceled.",
        )
        .into());
    }
    // Compare-and-set: of two concurrent changes from the same status only one wins,
    // so a reservation is never released twice, and a cancel loses to a rail hand-off.
    let updated = sqlx::query(
        "UPDATE transfers SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4 AND ($1 <> 'canceled' OR rail IS NULL)",
    )
    .bind(to.as_str())
    .bind(now_ms)
    .bind(transfer_id)
    .bind(current.status.as_str())
        .execute(&mut *conn)
        .await?;
    if updated.rows_affected() != 1 {
        return Err(
            Error::new(ErrorCode::TransferStatusChanged, "The transfer changed meanwhile; read it and retry.").into()
        );
    }
    record_change(conn, transfer_id, Some(current.status), to, reason, now_ms).await?;
    let mut writes = Writes::new();
    for posting in postings_for(&current, to)? {
        post(conn, &mut writes, app_id, transfer_id, &posting, now_ms).await?;
    }
    writes.run(conn).await?;
    let transfer = get(conn, app_id, transfer_id).await?;
    events::record(conn, app_id, events::TRANSFER_UPDATED, &transfer, now_ms).await?;
    Ok(transfer)
}

/// Reverses a completed balance transfer or refill (→ `reversed`): the money goes
/// back the way it came, only if the wallet it came to still holds it
/// (`insufficient_funds` otherwise, nothing changed). A payout cannot be reversed
/// by the app: its money has left for the payee's bank, and moving it back into the
/// wallet would make money; a payout is reversed when its rail returns it
/// ([`returned`]). `reason` goes into the status history.
pub async fn reverse(
    conn: &mut AnyConnection,
    app_id: &str,
    transfer_id: &str,
    reason: &str,
    now_ms: i64,
) -> TxResult<api::Transfer> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(
            Error::invalid(ErrorCode::MissingField, "reason", "reason must say why, in 1 to 200 characters.").into()
        );
    }
    let current = load_state(conn, app_id, transfer_id).await?;
    if current.kind == TransferType::Refill && current.rail.is_some() {
        return Err(Error::new(
            ErrorCode::TransferNotReversible,
            "A refill debited from the funding account is reversed only by its bank's return.",
        )
        .into());
    }
    if current.kind == TransferType::Payout {
        return Err(Error::new(
            ErrorCode::PayoutReversalByRailOnly,
            "A payout's money has left for the payee's account; only its payout rail can return it.",
        )
        .into());
    }
    if current.status != TransferStatus::Completed {
        return Err(Error::new(
            ErrorCode::TransferNotReversible,
            format!("Only a completed transfer can be reversed; this one is {}.", current.status.as_str()),
        )
        .into());
    }
    change_status(conn, app_id, transfer_id, current, TransferStatus::Reversed, Some(reason), now_ms).await
}

/// A completed payout its rail returned (an ACH return, a PayPal refund; in the
/// sandbox, the test helper): → `reversed`, the money back in the user's wallet,
/// `return_code` in the status history. So is a refill whose bank debit came back
/// after it settled: its money leaves the app's wallet (`insufficient_funds` when
/// the wallet no longer holds it: `crate::funding` says what happens then). Only
/// `rail` can return what it moved.
pub async fn returned(
    conn: &mut AnyConnection,
    app_id: &str,
    transfer_id: &str,
    rail: &str,
    return_code: &str,
    now_ms: i64,
) -> TxResult<api::Transfer> {
    let current = load_state(conn, app_id, transfer_id).await?;
    let moved_by_rail =
        matches!(current.kind, TransferType::Payout | TransferType::Refill) && current.rail.as_deref() == Some(rail);
    if !moved_by_rail || current.status != TransferStatus::Completed {
        return Err(Error::new(
            ErrorCode::TransferNotReversible,
            format!("Only a completed payout or refill of the {rail} rail can be returned by it."),
        )
        .into());
    }
    change_status(conn, app_id, transfer_id, current, TransferStatus::Reversed, Some(return_code), now_ms).await
}

/// Approves (→ `pending`) or denies (→ `canceled`) a payout flagged for review.
pub async fn review(
    conn: &mut AnyConnection,
    app_id: &str,
    transfer_id: &str,
    to: TransferStatus,
    reason: &str,
    now_ms: i64,
) -> TxResult<api::Transfer> {
    let current = load_state(conn, app_id, transfer_id).await?;
    if current.status != TransferStatus::Flagged {
        return Err(
            Error::new(ErrorCode::TransferNotFlagged, "Only a flagged payout can be approved or denied.").into()
        );
    }
    change_status(conn, app_id, transfer_id, current, to, Some(reason), now_ms).await
}

struct TransferState {
    kind: TransferType,
    status: TransferStatus,
    direction: Option<Direction>,
    money: Money,
    /// Payouts' fee; nothing for other transfers.
    fee: Fee,
    app_wallet: String,
    user_id: Option<String>,
    user_wallet: Option<String>,
    /// Which rail (`sandbox`…) may hold it, once handed to one.
    rail: Option<String>,
}

async fn load_state(conn: &mut AnyConnection, app_id: &str, transfer_id: &str) -> TxResult<TransferState> {
    let row = sqlx::query(
        "SELECT t.kind, t.status, t.direction, t.amount, t.fee, t.fee_party, t.currency, t.rail, t.user_id,
                a.wallet_id AS app_wallet, u.wallet_id AS user_wallet
         FROM transfers t JOIN apps a ON a.id = t.app_id LEFT JOIN users u ON u.id = t.user_id
         WHERE t.id = $1 AND t.app_id = $2",
    )
    .bind(transfer_id)
    .bind(app_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    let currency = Currency::parse(row.try_get("currency")?).map_err(Error::internal)?;
    Ok(TransferState {
        kind: parse_column(&row, "kind", TransferType::parse)?,
        status: parse_column(&row, "status", TransferStatus::parse)?,
        direction: row.try_get::<Option<String>, _>("direction")?.as_deref().and_then(Direction::parse),
        money: Money::new(row.try_get("amount")?, currency).map_err(Error::internal)?,
        fee: fee_of(&row)?.unwrap_or(Fee::none(FeeParty::App)),
        app_wallet: row.try_get("app_wallet")?,
        user_id: row.try_get("user_id")?,
        user_wallet: row.try_get("user_wallet")?,
        rail: row.try_get("rail")?,
    })
}

/// A payout's fee and who paid it, from a row with `fee` and `fee_party`; `None`
/// for a transfer that is not a payout.
fn fee_of(row: &AnyRow) -> Result<Option<Fee>, Error> {
    let party: Option<String> = row.try_get("fee_party")?;
    party
        .map(|p| {
            let party = FeeParty::parse(&p).ok_or_else(|| Error::internal(format!("unexpected fee_party {p:?}")))?;
            Ok(Fee { amount: row.try_get("fee")?, party })
        })
        .transpose()
}

/// The postings a status change implies. A payout's fee is the operator's while
/// the payout is on its way or paid; whenever its money comes back (canceled,
/// failed, returned by the rail) the fee goes back to whoever paid it, in the same
/// database transaction (DESIGN.md §3 Fees).
fn postings_for(t: &TransferState, to: TransferStatus) -> Result<Vec<Posting>, Error> {
    use TransferStatus::*;
    let currency = t.money.currency();
    let app = || Leg::app_wallet(&t.app_wallet);
    let user = || {
        let wallet = t.user_wallet.as_deref().expect("balance transfers and payouts have a user");
        Leg::user_wallet(wallet, t.user_id.as_deref().expect("balance transfers and payouts have a user"))
    };
    let clearing = || Leg::system(SystemAccount::PayoutClearing, currency);
    let external = || Leg::system(SystemAccount::ExternalPayouts, currency);
    let net = Money::new(t.fee.net(t.money.amount()), currency).map_err(Error::internal)?;
    let (kind, from, to, money_back) = match (t.kind, t.status, to) {
        (TransferType::Payout, from, Canceled | Failed) if from.holds_reservation() => {
            ("payout_release", clearing(), user(), true)
        }
        (TransferType::Payout, Pending, Completed) => ("payout_settlement", clearing(), external(), false),
        (TransferType::Payout, Completed, Reversed) => ("payout_reversal", external(), user(), true),
        (TransferType::Balance, Completed, Reversed) => match t.direction.unwrap_or_default() {
            Direction::AppToUser => ("balance_reversal", user(), app(), false),
            Direction::UserToApp => ("balance_reversal", app(), user(), false),
        },
        (TransferType::Refill, Pending, Completed) => {
            ("refill", Leg::system(SystemAccount::RefillSource, currency), app(), false)
        }
        (TransferType::Refill, Completed, Reversed) => {
            ("refill_reversal", app(), Leg::system(SystemAccount::RefillSource, currency), false)
        }
        _ => return Ok(Vec::new()),
    };
    let money = if t.kind == TransferType::Payout { net } else { t.money };
    let mut postings = vec![Posting { kind, from, to, money }];
    if money_back && t.fee.amount > 0 {
        postings.push(Posting {
            kind: "fee_refund",
            from: Leg::system(SystemAccount::FeeRevenue, currency),
            to: match t.fee.party {
                FeeParty::User => user(),
                FeeParty::App => app(),
            },
            money: Money::new(t.fee.amount, currency).map_err(Error::internal)?,
        });
    }
    Ok(postings)
}

pub(super) struct TransferRow<'a> {
    pub(super) id: &'a str,
    pub(super) app: &'a AppWallet,
    user_id: Option<&'a str>,
    kind: TransferType,
    direction: Option<Direction>,
    money: Money,
    payout_method_id: Option<&'a str>,
    /// Payouts only.
    fee: Option<Fee>,
    metadata: &'a Metadata,
}

impl<'a> TransferRow<'a> {
    fn of(id: &'a str, t: &'a NewTransfer, payout_method_id: Option<&'a str>, fee: Option<Fee>) -> TransferRow<'a> {
        TransferRow {
            id,
            app: &t.app,
            user_id: Some(&t.user_id),
            kind: t.kind,
            direction: t.direction,
            money: t.money,
            payout_method_id,
            fee,
            metadata: &t.metadata,
        }
    }
}

static TRANSFERS: RowsSql = RowsSql {
    sql: "INSERT INTO transfers (id, app_id, user_id, kind, direction, status, amount, fee, fee_party, currency,
                                 payout_method_id, metadata, created_at, updated_at)
          SELECT id, app_id, user_id, kind, direction, status, amount, fee, fee_party, currency, payout_method_id,
                 metadata, at_ms, at_ms FROM {rows}",
    bound: Some(Bound::One(
        "INSERT INTO transfers (id, app_id, user_id, kind, direction, status, amount, fee, fee_party, currency,
                                 payout_method_id, metadata, created_at, updated_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
    )),
    columns: &[
        Col::Text("id"),
        Col::Text("app_id"),
        Col::Text("user_id"),
        Col::Text("kind"),
        Col::Text("direction"),
        Col::Text("status"),
        Col::Int("amount"),
        Col::Int("fee"),
        Col::Text("fee_party"),
        Col::Text("currency"),
        Col::Text("payout_method_id"),
        Col::Text("metadata"),
        Col::Int("at_ms"),
    ],
};

static STATUS_CHANGES: RowsSql = RowsSql {
    sql: "INSERT INTO transfer_status_changes (transfer_id, from_status, to_status, reason, created_at)
          SELECT transfer_id, from_status, to_status, reason, at_ms FROM {rows}",
    bound: None,
    columns: &[
        Col::Text("transfer_id"),
        Col::Text("from_status"),
        Col::Text("to_status"),
        Col::Text("reason"),
        Col::Int("at_ms"),
    ],
};

/// Adds a new transfer that has already walked `path` from `created` (each step
/// must be allowed), with its whole status history, to `writes`; returns the history.
fn insert(
    writes: &mut Writes,
    row: &TransferRow<'_>,
    path: &[TransferStatus],
    reason: Option<&str>,
    now_ms: i64,
) -> Vec<api::StatusChange> {
    let mut steps = vec![(None, TransferStatus::Created, None)];
    for &to in path {
        let from = steps.last().expect("created is first").1;
        assert!(from.can_become(to), "{from:?} → {to:?} is not an allowed transition");
        steps.push((Some(from), to, reason));
    }
    let status = steps.last().expect("created is first").1;
    let money = row.money;
    writes.row(
        &TRANSFERS,
        [
            row.id.into(),
            (&row.app.id).into(),
            row.user_id.into(),
            row.kind.as_str().into(),
            row.direction.map(Direction::as_str).into(),
            status.as_str().into(),
            money.amount().into(),
            row.fee.map_or(0, |f| f.amount).into(),
            row.fee.map(|f| f.party.as_str()).into(),
            money.currency().code().into(),
            row.payout_method_id.into(),
            crate::metadata::to_text(row.metadata).into(),
            now_ms.into(),
        ],
    );
    for (from, to, reason) in &steps {
        writes.row(
            &STATUS_CHANGES,
            [
                row.id.into(),
                from.map(TransferStatus::as_str).into(),
                to.as_str().into(),
                (*reason).into(),
                now_ms.into(),
            ],
        );
    }
    let at = rfc3339_from_unix_ms(now_ms);
    steps
        .into_iter()
        .map(|(from, to, reason)| api::StatusChange {
            status: to,
            previous_status: from,
            reason: reason.map(str::to_string),
            at: at.clone(),
        })
        .collect()
}

async fn record_change(
    conn: &mut AnyConnection,
    transfer_id: &str,
    from: Option<TransferStatus>,
    to: TransferStatus,
    reason: Option<&str>,
    now_ms: i64,
) -> TxResult<()> {
    sqlx::query(
        "INSERT INTO transfer_status_changes (transfer_id, from_status, to_status, reason, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(transfer_id)
    .bind(from.map(TransferStatus::as_str))
    .bind(to.as_str())
    .bind(reason)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sends the new transfer's writes with its `transfer.created` event, in one round trip.
async fn announce_created(
    conn: &mut AnyConnection,
    mut writes: Writes,
    app_id: &str,
    transfer: api::Transfer,
    now_ms: i64,
) -> TxResult<api::Transfer> {
    events::record_into(&mut writes, app_id, events::TRANSFER_CREATED, &transfer, now_ms)?;
    writes.run(conn).await?;
    #[cfg(debug_assertions)]
    {
        let stored = get(conn, app_id, &transfer.id).await?;
        assert_eq!(transfer, stored, "the answer built in memory must equal the transfer as stored");
    }
    Ok(transfer)
}

pub fn not_found() -> Error {
    Error::new(ErrorCode::TransferNotFound, "No such transfer.")
}

pub fn transaction_not_found() -> Error {
    Error::new(ErrorCode::TransactionNotFound, "No such transaction.")
}

fn parse_column<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, Error> {
    let raw: String = row.try_get(column)?;
    parse(&raw).ok_or_else(|| Error::internal(format!("unexpected {column} {raw:?} in the database")))
}

// ---- reads -------------------------------------------------------------------------

/// Filters of `GET /v2/transfers` and `GET /v2/transactions`.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub user_id: Option<String>,
    pub status: Option<TransferStatus>,
    pub kind: Option<TransferType>,
    pub transfer_id: Option<String>,
    /// `metadata[key]=value`, `created_after`, `created_before` (transfers' list).
    pub list: crate::metadata::ListFilter,
}

impl HistoryFilter {
    /// `AND …` clauses on transfers aliased `t`, with their arguments from `$first` on.
    fn sql(&self, first: usize) -> (String, Vec<String>) {
        let mut clauses = String::new();
        let mut args = Vec::new();
        let mut add = |column: &str, value: String| {
            args.push(value);
            clauses.push_str(&format!(" AND {column} = ${}", first + args.len() - 1));
        };
        if let Some(user_id) = &self.user_id {
            add("t.user_id", user_id.clone());
        }
        if let Some(status) = self.status {
            add("t.status", status.as_str().to_string());
        }
        if let Some(kind) = self.kind {
            add("t.kind", kind.as_str().to_string());
        }
        if let Some(transfer_id) = &self.transfer_id {
            add("t.id", transfer_id.clone());
        }
        (clauses, args)
    }
}

pub async fn get(conn: &mut AnyConnection, app_id: &str, transfer_id: &str) -> Result<api::Transfer, Error> {
    let filter = HistoryFilter { transfer_id: Some(transfer_id.to_string()), ..Default::default() };
    let mut found = fetch_transfers(conn, app_id, &filter, i64::MAX, 1).await?;
    found.pop().ok_or_else(not_found)
}

pub async fn list(
    conn: &mut AnyConnection,
    app_id: &str,
    filter: &HistoryFilter,
    page: &Page,
) -> Result<List<api::Transfer>, Error> {
    let before = page.cursor_seq(conn, Listed::Transfers, app_id).await?;
    let rows = fetch_transfers(conn, app_id, filter, before, page.limit() + 1).await?;
    Ok(page.finish(rows))
}

async fn fetch_transfers(
    conn: &mut AnyConnection,
    app_id: &str,
    filter: &HistoryFilter,
    before_seq: i64,
    limit: i64,
) -> Result<Vec<api::Transfer>, Error> {
    let (clauses, args) = filter.sql(4);
    let (listed, list_args) = filter.list.sql(crate::store::Backend::of(conn), "t", 4 + args.len());
    let sql = format!(
        "SELECT t.id, (SELECT ap.mode FROM apps ap WHERE ap.id = t.app_id) AS app_mode, t.kind, t.status, t.user_id,
                t.direction, t.payout_method_id, t.amount, t.fee, t.fee_party,
                t.currency, t.metadata, t.created_at, t.updated_at
         FROM transfers t WHERE t.app_id = $1 AND t.seq < $2{clauses}{listed} ORDER BY t.seq DESC LIMIT $3"
    );
    let mut query = sqlx::query(&sql).bind(app_id).bind(before_seq).bind(limit);
    for arg in args {
        query = query.bind(arg);
    }
    let rows = crate::metadata::bind_all(query, list_args).fetch_all(&mut *conn).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    let mut transactions = group_by_transfer(fetch_transactions(conn, app_id, &ids).await?);
    let mut history = fetch_history(conn, &ids).await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let amount: i64 = row.try_get("amount")?;
            let fee = fee_of(row)?;
            let status_history = history.remove(&id).unwrap_or_default();
            Ok(api::Transfer {
                livemode: row.try_get::<String, _>("app_mode")? == "live",
                kind: parse_column(row, "kind", TransferType::parse)?,
                status: parse_column(row, "status", TransferStatus::parse)?,
                user_id: row.try_get("user_id")?,
                direction: row.try_get::<Option<String>, _>("direction")?.as_deref().and_then(Direction::parse),
                payout_method_id: row.try_get("payout_method_id")?,
                amount,
                fee: fee.map_or(0, |f| f.amount),
                net: fee.map_or(amount, |f| f.net(amount)),
                fee_party: fee.map(|f| f.party),
                currency: row.try_get("currency")?,
                transactions: transactions.remove(&id).unwrap_or_default(),
                returned: crate::ach::rail_return(&status_history),
                status_history,
                metadata: crate::metadata::parse(&row.try_get::<String, _>("metadata")?),
                created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
                updated_at: rfc3339_from_unix_ms(row.try_get("updated_at")?),
                id,
            })
        })
        .collect()
}

fn group_by_transfer(transactions: Vec<api::Transaction>) -> HashMap<String, Vec<api::Transaction>> {
    let mut grouped: HashMap<String, Vec<api::Transaction>> = HashMap::new();
    for t in transactions {
        grouped.entry(t.transfer_id.clone()).or_default().push(t);
    }
    grouped
}

fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

async fn fetch_history(
    conn: &mut AnyConnection,
    transfer_ids: &[String],
) -> Result<HashMap<String, Vec<api::StatusChange>>, Error> {
    let mut grouped: HashMap<String, Vec<api::StatusChange>> = HashMap::new();
    if transfer_ids.is_empty() {
        return Ok(grouped);
    }
    let sql = format!(
        "SELECT transfer_id, from_status, to_status, reason, created_at FROM transfer_status_changes
         WHERE transfer_id IN ({}) ORDER BY seq",
        placeholders(1, transfer_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in transfer_ids {
        query = query.bind(id);
    }
    for row in query.fetch_all(conn).await? {
        let from: Option<String> = row.try_get("from_status")?;
        grouped.entry(row.try_get("transfer_id")?).or_default().push(api::StatusChange {
            status: parse_column(&row, "to_status", TransferStatus::parse)?,
            previous_status: from.as_deref().and_then(TransferStatus::parse),
            reason: row.try_get("reason")?,
            at: rfc3339_from_unix_ms(row.try_get("created_at")?),
        });
    }
    Ok(grouped)
}

/// `GET /v2/transactions`: the app's transactions, newest first, filtered by the
/// transfer they belong to.
pub async fn list_transactions(
    conn: &mut AnyConnection,
    app_id: &str,
    filter: &HistoryFilter,
    page: &Page,
) -> Result<List<api::Transaction>, Error> {
    let before = page.cursor_seq(conn, Listed::Transactions, app_id).await?;
    let (clauses, filter_args) = filter.sql(3);
    let where_sql = format!(
        "x.seq IN (SELECT x2.seq FROM transactions x2 JOIN transfers t ON t.id = x2.transfer_id
                   WHERE x2.app_id = $1 AND x2.seq < $2{clauses} ORDER BY x2.seq DESC LIMIT {})",
        page.limit() + 1
    );
    let mut args = vec![Arg::Text(app_id.to_string()), Arg::Int(before)];
    args.extend(filter_args.into_iter().map(Arg::Text));
    let found = transactions_where(conn, &where_sql, args, "x.seq DESC").await?;
    Ok(page.finish(found))
}

/// The app's transactions with `seq` in `(after, until]`, oldest first (an export's
/// page: `exports` finds the bounds).
pub async fn transactions_between(
    conn: &mut AnyConnection,
    app_id: &str,
    after: i64,
    until: i64,
) -> Result<Vec<api::Transaction>, Error> {
    let args = vec![Arg::Text(app_id.to_string()), Arg::Int(after), Arg::Int(until)];
    transactions_where(conn, "x.app_id = $1 AND x.seq > $2 AND x.seq <= $3", args, "x.seq").await
}

pub async fn get_transaction(conn: &mut AnyConnection, app_id: &str, id: &str) -> Result<api::Transaction, Error> {
    let args = vec![Arg::Text(app_id.to_string()), Arg::Text(id.to_string())];
    let found = transactions_where(conn, "x.app_id = $1 AND x.id = $2", args, "x.seq").await?;
    found.into_iter().next().ok_or_else(transaction_not_found)
}

/// The transactions of the given transfers, oldest first.
async fn fetch_transactions(
    conn: &mut AnyConnection,
    app_id: &str,
    transfer_ids: &[String],
) -> Result<Vec<api::Transaction>, Error> {
    if transfer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let where_sql = format!("x.app_id = $1 AND x.transfer_id IN ({})", placeholders(2, transfer_ids.len()));
    let mut args = vec![Arg::Text(app_id.to_string())];
    args.extend(transfer_ids.iter().cloned().map(Arg::Text));
    transactions_where(conn, &where_sql, args, "x.seq").await
}

enum Arg {
    Text(String),
    Int(i64),
}

/// Transactions matching `where_sql` (over `transactions x`), each built from its
/// two entries: the negative one is the source, the positive one the destination.
async fn transactions_where(
    conn: &mut AnyConnection,
    where_sql: &str,
    args: Vec<Arg>,
    order: &str,
) -> Result<Vec<api::Transaction>, Error> {
    let sql = format!(
        "SELECT x.id, x.transfer_id, x.kind, x.amount, x.currency, x.created_at,
                e.amount AS entry_amount, a.id AS account_id, a.kind AS account_kind, a.user_id AS account_user
         FROM transactions x JOIN entries e ON e.transaction_id = x.id JOIN accounts a ON a.id = e.account_id
         WHERE {where_sql} ORDER BY {order}, e.seq"
    );
    let mut query = sqlx::query(&sql);
    for arg in args {
        query = match arg {
            Arg::Text(s) => query.bind(s),
            Arg::Int(n) => query.bind(n),
        };
    }
    let rows = query.fetch_all(conn).await?;
    // Rows come ordered by transaction, so a transaction's two entries are adjacent.
    let mut out: Vec<(api::Transaction, Option<api::AccountRef>, Option<api::AccountRef>)> = Vec::new();
    for row in &rows {
        let id: String = row.try_get("id")?;
        if out.last().is_none_or(|(t, _, _)| t.id != id) {
            let placeholder = api::AccountRef { kind: String::new(), wallet_id: None, user_id: None };
            out.push((
                api::Transaction {
                    id,
                    transfer_id: row.try_get("transfer_id")?,
                    kind: row.try_get("kind")?,
                    amount: row.try_get("amount")?,
                    currency: row.try_get("currency")?,
                    source: placeholder.clone(),
                    destination: placeholder,
                    created_at: rfc3339_from_unix_ms(row.try_get("created_at")?),
                },
                None,
                None,
            ));
        }
        let kind: String = row.try_get("account_kind")?;
        let account = api::AccountRef {
            wallet_id: if kind.ends_with("_wallet") { Some(row.try_get("account_id")?) } else { None },
            user_id: row.try_get("account_user")?,
            kind,
        };
        let slot = out.last_mut().expect("pushed above");
        if row.try_get::<i64, _>("entry_amount")? < 0 {
            slot.1 = Some(account);
        } else {
            slot.2 = Some(account);
        }
    }
    out.into_iter()
        .map(|(mut t, source, destination)| match (source, destination) {
            (Some(source), Some(destination)) => {
                t.source = source;
                t.destination = destination;
                Ok(t)
            }
            _ => Err(Error::internal(format!("transaction {} does not have two legs", t.id))),
        })
        .collect()
}
