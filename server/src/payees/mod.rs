//! The people being paid: users and their wallets' owners (`users`), proving a
//! phone (`verify`), what compliance asks of them (`compliance`) and where their
//! money goes (`payout_methods`). Nothing here moves money: that is the ledger's,
//! and whether a payout may start is `payouts`'.

pub mod compliance;
pub mod payout_methods;
pub mod users;
pub mod verify;
