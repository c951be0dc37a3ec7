//! Every word the widget shows, one file per language (`en.rs`, `es.rs`): a
//! [`Words`] each, so a message missing from a language fails to compile, and a
//! test (`tests/tests/widget_words.rs`) holds every language to English's
//! placeholders. `{}` in a message is filled in order by [`fill`]. The language is
//! the host's `locale` or the browser's, else English.
//!
//! Only English (the fallback) is compiled into the Wasm. The server's build script
//! includes this module and writes every other language beside the bundle as
//! `words-{lang}.json` (the tag, then each message in this catalogue's order);
//! `frame.js` fetches the payee's while the Wasm downloads, and [`Words::from_list`]
//! reads it. A payee in English downloads no other language.
//!
//! This module is plain Rust (no browser APIs): the test crate includes it.

mod en;
#[cfg(not(target_arch = "wasm32"))]
mod es;

use std::cell::Cell;

macro_rules! catalogue {
    ($($key:ident),* $(,)?) => {
        /// One language's messages as its file writes them, every one named (a
        /// message missing from a language does not compile); [`Words::new`] lists them.
        pub struct Messages {
            /// The language's BCP 47 tag.
            pub lang: &'static str,
            $(pub $key: &'static str,)*
        }

        /// Where each message is in a [`Words`] (the tag first).
        #[allow(non_camel_case_types, dead_code)]
        enum Key { lang, $($key),* }

        const COUNT: usize = 1 + [$(stringify!($key)),*].len();

        /// One language's messages: the tag, then every message in the catalogue's
        /// order (the order a served language lists them in). A list, so reading a
        /// served language is one check of its length, not code per message.
        pub struct Words([&'static str; COUNT]);

        #[allow(dead_code)]
        impl Words {
            pub const fn new(messages: Messages) -> Words {
                Words([messages.lang, $(messages.$key),*])
            }

            /// The language's BCP 47 tag.
            pub fn lang(&self) -> &'static str {
                self.0[Key::lang as usize]
            }

            $(pub fn $key(&self) -> &'static str {
                self.0[Key::$key as usize]
            })*

            /// Every message with its key (for the tests and the served files).
            pub fn entries(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($key), self.$key())),*]
            }

            /// A served language (`words-{lang}.json`): its tag, then every message in
            /// this catalogue's order; kept for the page's life. None if the list is
            /// not one whole catalogue.
            pub fn from_list(list: Vec<String>) -> Option<&'static Words> {
                if list.len() != COUNT {
                    return None;
                }
                let list: &'static [String] = list.leak();
                Some(Box::leak(Box::new(Words(std::array::from_fn(|i| list[i].as_str())))))
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
    err_not_verified, err_method_missing, err_amount, err_paused,
}

/// The languages compiled in, English first (the fallback): only English in the
/// Wasm, every language elsewhere (the tests, and the build script that writes the
/// served files).
#[cfg(target_arch = "wasm32")]
pub const LANGUAGES: &[&Words] = &[&en::EN];
#[cfg(not(target_arch = "wasm32"))]
pub const LANGUAGES: &[&Words] = &[&en::EN, &es::ES];

thread_local! {
    static CHOSEN: Cell<&'static Words> = const { Cell::new(&en::EN) };
}

/// The words for `locale` (`es-MX` → Spanish): `served` if it is that language
/// (fetched beside the Wasm), else a compiled-in one; English when there are none.
pub fn choose(locale: &str, served: Option<&'static Words>) -> &'static Words {
    let lang = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    let words = served.into_iter().chain(LANGUAGES.iter().copied()).find(|w| w.lang() == lang).unwrap_or(&en::EN);
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
