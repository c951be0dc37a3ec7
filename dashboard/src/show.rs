//! How things read on screen: amounts, times, statuses and roles in words for
//! the people at the business, never field names or codes.

use dots_shared::money::{Currency, Money};
use dots_shared::transfer::{TransferStatus, TransferType};

/// `$1,234.56` (or `1,000.00 MXN`), from minor units.
pub fn money(amount: i64, currency: &str) -> String {
    Currency::parse(currency).map_or_else(|_| format!("{amount} {currency}"), |c| Money::display_balance(amount, c))
}

/// A time the API gave (RFC 3339), in the member's own time zone: `Dec 5, 2026, 9:41 AM`.
pub fn time(rfc3339: &str) -> String {
    formatted(rfc3339, rfc3339, &[("dateStyle", "medium"), ("timeStyle", "short")])
}

/// A calendar day (`2026-12-07`, a bank's day) as people write it: `Dec 7, 2026`.
pub fn day(iso_date: &str) -> String {
    formatted(&format!("{iso_date}T12:00:00Z"), iso_date, &[("dateStyle", "medium"), ("timeZone", "UTC")])
}

/// `instant` as `Intl.DateTimeFormat` writes it in US English with `options`;
/// `fallback` when it is not a date.
fn formatted(instant: &str, fallback: &str, options: &[(&str, &str)]) -> String {
    let date = js_sys::Date::new(&instant.into());
    if date.get_time().is_nan() {
        return fallback.to_string();
    }
    let set = js_sys::Object::new();
    for (key, value) in options {
        let _ = js_sys::Reflect::set(&set, &(*key).into(), &(*value).into());
    }
    date.to_locale_string("en-US", &set).into()
}

pub fn status(status: TransferStatus) -> &'static str {
    match status {
        TransferStatus::Created => "Created",
        TransferStatus::Flagged => "Needs review",
        TransferStatus::Pending => "On its way",
        TransferStatus::Completed => "Completed",
        TransferStatus::Failed => "Failed",
        TransferStatus::Reversed => "Reversed",
        TransferStatus::Canceled => "Canceled",
    }
}

/// The badge's colour class for a status.
pub fn tone(status: TransferStatus) -> &'static str {
    match status {
        TransferStatus::Completed => "badge good",
        TransferStatus::Flagged => "badge warn",
        TransferStatus::Failed | TransferStatus::Canceled | TransferStatus::Reversed => "badge bad",
        TransferStatus::Created | TransferStatus::Pending => "badge",
    }
}

pub fn kind(kind: TransferType) -> &'static str {
    match kind {
        TransferType::Payout => "Payout",
        TransferType::Balance => "Balance transfer",
        TransferType::Refill => "Refill",
    }
}

pub fn role(role: &str) -> &'static str {
    match role {
        "owner" => "Owner",
        "admin" => "Admin",
        "reviewer" => "Reviewer",
        "viewer" => "Viewer",
        _ => "Member",
    }
}

/// What a role may do, for the invitation form.
pub fn role_help(role: &str) -> &'static str {
    match role {
        "owner" => "Everything, including the team and the app's settings",
        "admin" => "Creates users and sends money",
        "reviewer" => "Approves or denies payouts held for review, and sees everything",
        _ => "Sees everything, changes nothing",
    }
}

pub fn link_status(status: &str) -> &'static str {
    match status {
        "active" => "Waiting to be claimed",
        "claimed" => "Claimed",
        "canceled" => "Canceled",
        "expired" => "Expired",
        _ => "Unknown",
    }
}

/// A person's name, or their email when they have none yet.
pub fn name(first: &str, last: &str, email: &str) -> String {
    let full = format!("{first} {last}").trim().to_string();
    if full.is_empty() { email.to_string() } else { full }
}
