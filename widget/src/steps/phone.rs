//! The phone step: the number a code is texted to (or, for a pre-authenticated
//! payee, the number the app already proved).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{Ctx, Step, field_error};
use crate::api;
use crate::emit_event;
use crate::object;
use crate::words::{fill, t};
use dots_shared::flow;

#[component]
pub(super) fn PhoneStep(ctx: Ctx) -> impl IntoView {
    let phone = RwSignal::new(String::new());
    let hint = ctx.session.with_untracked(|s| s.phone_hint.clone());
    // A pre-authenticated payee's phone is known: the code goes there.
    let known = !ctx.is_link() && ctx.session.with_untracked(|s| s.pre_authenticated);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed = phone.get_untracked().trim().to_string();
        if !known && !plausible_phone(&typed) {
            ctx.field_error("dots-phone", t().err_phone);
            return;
        }
        ctx.run(async move {
            let body = flow::SendCodeRequest { phone_number: (!known).then(|| typed.clone()) };
            ctx.typed_phone.set(if known { String::new() } else { typed.clone() });
            api::send_json::<_, ()>("POST", "/flow/v1/verification", &body).await?;
            emit_event("CODE_SENT", object(&[]));
            ctx.go(Step::Code);
            ctx.notice.set(t().code_sent.into());
            Ok(())
        });
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">{t().phone_title}</h2>
            {ctx.follows_claim().then(|| view! { <p>{t().phone_claimed_intro}</p> })}
            {if known {
                view! { <p>{fill(t().phone_known, &[hint.as_deref().unwrap_or_default()])}</p> }.into_any()
            } else {
                view! {
                    <label for="dots-phone">{t().phone_label}</label>
                    <input id="dots-phone" type="tel" autocomplete="tel" inputmode="tel" required data-autofocus
                        placeholder="+1 201 555 0123" aria-describedby="dots-phone-hint dots-phone-error"
                        aria-invalid=move || (ctx.field.get() == "dots-phone").then_some("true")
                        prop:value=move || phone.get()
                        on:input=move |ev| { phone.set(event_target_value(&ev)); ctx.changed("dots-phone"); } />
                    {field_error(ctx, "dots-phone")}
                    <p id="dots-phone-hint" class="dots-hint">
                        {match &hint {
                            Some(h) => fill(t().phone_hint_link, &[h]),
                            None => t().phone_hint.to_string(),
                        }}
                    </p>
                }.into_any()
            }}
            <button type="submit" class="dots-primary" data-autofocus=known.then_some("")
                disabled=move || ctx.busy.get()>{t().send_code}</button>
        </form>
    }
}

/// A cheap shape check; the server parses and validates the number for real.
fn plausible_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits) && s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
}
