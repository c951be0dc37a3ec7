//! Every word the widget shows, one file per language (`en.rs`, `es.rs`): a
//! [`Words`] each, so a message missing from a language fails to compile, and a
//! test (`tests/tests/widget_words.rs`) holds every language to English's
//! placeholders. `{}` in a message is filled in order by [`fill`]. The language is
//! the host's `locale` or the browser's, else English.
//!
//! This module is plain Rust (no browser APIs): the test crate includes it.

mod en;
mod es;

use std::cell::Cell;

macro_rules! catalogue {
    ($($key:ident),* $(,)?) => {
        /// One language's messages.
        pub struct Words {
            /// The language's BCP 47 tag.
            pub lang: &'static str,
            $(pub $key: &'static str,)*
        }

        impl Words {
            /// Every message with its key (for the tests).
            #[allow(dead_code)]
            pub fn entries(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($key), self.$key)),*]
            }
        }
    };
}

catalogue! {
    loading, secured_by, close, progress, step_of, title_sent_you, title_get_paid,
    phone_title, phone_claimed_intro, phone_known, country_label, phone_label, phone_hint_link, phone_hint, send_code,
    code_sent, code_sent_to, code_title, code_label, code_hint, code_locked_wait, code_locked_now, verify, resend,
    resend_in, code_resent,
    details_title, details_intro, first_name, last_name, date_of_birth, tax_id, tax_id_optional, continue_label,
    method_title, method_legend, method_new, method_kind, bank_account, paypal, venmo, paypal_email,
    venmo_phone, routing_number, account_number, bank_ending, bank_ending_sentence, your_method,
    review_title, amount, fee, you_receive, to, claim, send_again, finish, withdraw,
    done_title, done_embedded, done_page, done_button,
    ended_title, expired_title, unusable_title, link_canceled_title, link_expired_title, already_done_title, already_done, load_failed_title,
    start_again, ask_new_link, no_flow,
    status_missing, status_on_its_way, status_goes_to, status_paid, status_paid_on, status_failed,
    status_resend_hint, status_contact, use_another, your_money, your_account,
    why_account_closed, why_account_not_found, why_rail_rejected, why_method_removed, why_canceled, why_other,
    err_generic, err_network, err_phone, err_phone_mismatch, err_too_soon, err_rate_limited, err_sms,
    err_code_format, err_code_wrong_one, err_code_wrong, err_code_last, err_code_dead,
    err_name, err_date_of_birth, err_tax_id, err_address, err_routing, err_account, err_email, err_missing,
    err_text, err_app_funds, err_compliance, err_link_unusable, err_link_canceled, err_link_expired, err_session_expired, err_session_ended,
    err_not_verified, err_method_missing,
}

/// The languages, English first (the fallback).
pub const LANGUAGES: [&Words; 2] = [&en::EN, &es::ES];

thread_local! {
    static CHOSEN: Cell<&'static Words> = const { Cell::new(&en::EN) };
}

/// The words for `locale` (`es-MX` → Spanish); English when there are none.
pub fn choose(locale: &str) -> &'static Words {
    let lang = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    let words = LANGUAGES.into_iter().find(|w| w.lang == lang).unwrap_or(&en::EN);
    CHOSEN.with(|c| c.set(words));
    words
}

/// The chosen language's words.
pub fn t() -> &'static Words {
    CHOSEN.with(Cell::get)
}

/// `template` with each `{}` replaced by the next of `values`.
pub fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut values = values.iter();
    let mut parts = template.split("{}");
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for part in parts {
        out.push_str(values.next().copied().unwrap_or_default());
        out.push_str(part);
    }
    out
}
