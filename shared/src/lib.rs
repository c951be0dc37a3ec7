//! Types that cross the wire or are shared by the Dots server and widget.
//!
//! No I/O here: this crate compiles to wasm32 as well as the host.

pub mod api;
pub mod errors;
pub mod fees;
pub mod flow;
pub mod ids;
pub mod money;
pub mod read;
pub mod theme;
pub mod time;
pub mod transfer;

pub use errors::ErrorCode;
pub use fees::{Fee, FeeParty, FeeSchedule};
pub use money::{Currency, Money, MoneyError};
pub use transfer::{Direction, TransferStatus, TransferType};
