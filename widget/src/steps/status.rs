//! A claimed link's page: where the payout is, in words (on its way, paid on a
//! day, or not delivered and why), kept up to date while it moves; a payout that
//! did not go through can be sent to another account.

use std::time::Duration;

use dots_shared::TransferStatus;
use leptos::prelude::*;

use super::method::in_sentence;
use super::{Ctx, Step};
use crate::words::{fill, t};

/// How often a payout on its way is looked at again.
const POLL: Duration = Duration::from_secs(3);

#[component]
pub(super) fn StatusStep(ctx: Ctx) -> impl IntoView {
    let payout = move || ctx.session.with(|s| s.payout_link.as_ref().and_then(|l| l.payout.clone()));
    let moving = move || payout().is_some_and(|p| p.status.holds_reservation());
    if let Ok(timer) = set_interval_with_handle(
        move || {
            if moving() && !ctx.busy.get_untracked() {
                ctx.run(async move { ctx.refresh().await })
            }
        },
        POLL,
    ) {
        on_cleanup(move || timer.clear());
    }
    let amount = ctx.amount().unwrap_or_else(|| t().your_money().into());
    let resend = move |_| {
        ctx.resending.set(true);
        ctx.method.set(None);
        ctx.go(Step::Method);
    };
    move || {
        let Some(p) = payout() else {
            return view! { <section class="dots-result"><h2 tabindex="-1" data-autofocus>{t().status_missing()}</h2></section> }.into_any();
        };
        let to = p.payout_method.as_ref().map_or_else(|| t().your_account().into(), in_sentence);
        let (class, title, detail) = match p.status {
            TransferStatus::Completed => (
                "dots-result dots-success",
                fill(t().status_paid(), &[&amount]),
                fill(t().status_paid_on(), &[&ctx.locale.with_untracked(|l| local_date(&p.updated_at, l)), &to]),
            ),
            TransferStatus::Failed | TransferStatus::Canceled | TransferStatus::Reversed => (
                "dots-result dots-failure",
                t().status_failed().to_string(),
                format!(
                    "{} {}",
                    why(p.failure_code.as_deref().unwrap_or_default()),
                    match p.resendable {
                        true => t().status_resend_hint(),
                        false => t().status_contact(),
                    }
                ),
            ),
            _ => (
                "dots-result dots-success",
                fill(t().status_on_its_way(), &[&amount]),
                fill(t().status_goes_to(), &[&to]),
            ),
        };
        view! {
            <section class=class aria-live="polite">
                <h2 tabindex="-1" data-autofocus=(!p.resendable).then_some("")>{title}</h2>
                <p>{detail}</p>
                {p.resendable.then(|| view! {
                    <button type="button" class="dots-primary" data-autofocus on:click=resend>{t().use_another()}</button>
                })}
            </section>
        }
        .into_any()
    }
}

/// Why a payout did not go through, in the payee's words.
fn why(code: &str) -> &'static str {
    match code {
        "account_closed" => t().why_account_closed(),
        "account_not_found" => t().why_account_not_found(),
        "rail_rejected" => t().why_rail_rejected(),
        "payout_method_removed" => t().why_method_removed(),
        "canceled" => t().why_canceled(),
        _ => t().why_other(),
    }
}

/// `2026-12-01T…Z` as the payee's locale writes a day ("December 1, 2026"); the
/// date part itself when the browser cannot.
fn local_date(rfc3339: &str, locale: &str) -> String {
    use js_sys::{Array, Function, Object, Reflect};
    use wasm_bindgen::JsCast;
    let date = js_sys::Date::new(&rfc3339.into());
    let options = Object::new();
    let _ = Reflect::set(&options, &"dateStyle".into(), &"long".into());
    // Through Reflect: a malformed locale throws, and that must become the fallback.
    Reflect::get(&date, &"toLocaleDateString".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| Reflect::apply(&f, &date, &Array::of2(&locale.into(), &options)).ok())
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| rfc3339.chars().take(10).collect())
}
