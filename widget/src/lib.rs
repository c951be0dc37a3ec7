//! The Dots Flow widget. Until the widget issue lands this is a placeholder whose
//! job is to prove that `dots-shared` builds for wasm32-unknown-unknown.

use dots_shared::{Currency, Money};

/// Validates an amount the way the server does; exported so the wasm module has
/// something real to link.
#[unsafe(no_mangle)]
pub extern "C" fn dots_amount_is_valid(amount_minor: i64) -> bool {
    Money::new(amount_minor, Currency::USD).is_ok()
}
