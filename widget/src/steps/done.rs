//! The last screens: done, or ended (a session that cannot go on).

use leptos::prelude::*;

use dots_shared::ErrorCode;

use super::Ctx;
use crate::words::{fill, t};
use crate::{emit, object};

#[component]
pub(super) fn DoneStep(ctx: Ctx) -> impl IntoView {
    // (A payout link's claim goes on to its payout's page, `status.rs`.) Inside a
    // host page the payee goes on there; a page of its own may be closed.
    let detail = match ctx.embedded {
        true => fill(t().done_embedded(), &[&ctx.app_name()]),
        false => t().done_page().to_string(),
    };
    // A withdrawal: what is on its way (what the payee receives).
    let title = match ctx.withdraws() {
        true => {
            let net = super::amount::offer().net;
            fill(t().status_on_its_way(), &[&ctx.withdrawal_money(net).unwrap_or_default()])
        }
        false => t().done_title().to_string(),
    };
    // A flow opened as a page of its own goes back to the app, if it said where.
    let back = ctx.session.with_untracked(|s| s.redirect_url.clone());
    let next = match (ctx.embedded, back) {
        (true, _) => Some(
            view! {
                <button type="button" class="dots-primary" data-autofocus
                    on:click=move |_| emit("exit", object(&[("reason", "done".into())]))>{t().done_button()}</button>
            }
            .into_any(),
        ),
        (false, Some(url)) => {
            Some(view! { <a class="dots-primary" href=url data-autofocus>{t().continue_label()}</a> }.into_any())
        }
        (false, None) => None,
    };
    view! {
        <section class="dots-result dots-success">
            <h2 tabindex="-1">{title}</h2>
            <p>{detail}</p>
            {next}
        </section>
    }
}

#[component]
pub(super) fn EndedStep(ctx: Ctx) -> impl IntoView {
    let (title, message, code) = ctx.ended.get_untracked();
    const EXPIRED: [&str; 2] = [ErrorCode::SessionExpired.as_str(), ErrorCode::InvalidSession.as_str()];
    let expired = EXPIRED.contains(&code.as_str());
    let close = {
        let (code, message) = (code.clone(), message.clone());
        move |_| {
            let error = object(&[("code", code.as_str().into()), ("message", message.as_str().into())]);
            emit("exit", object(&[("reason", "error".into()), ("error", error)]))
        }
    };
    view! {
        <section class="dots-result dots-failure">
            <h2 tabindex="-1" data-autofocus>{title}</h2>
            <p>{message}</p>
            {if ctx.embedded {
                view! { <button type="button" class="dots-primary" on:click=close>{t().close()}</button> }.into_any()
            } else if expired {
                view! {
                    <button type="button" class="dots-primary"
                        on:click=move |_| { let _ = window().location().reload(); }>{t().start_again()}</button>
                }.into_any()
            } else {
                view! { <p class="dots-hint">{t().ask_new_link()}</p> }.into_any()
            }}
        </section>
    }
}
