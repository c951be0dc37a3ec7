//! The phone step: the number a code is texted to (or, for a pre-authenticated
//! payee, the number the app already proved).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{Ctx, Step};
use crate::api;
use crate::emit_event;
use crate::object;
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
            ctx.error.set("Enter your mobile number with its country code, like +1 201 555 0123.".into());
            return;
        }
        ctx.run(async move {
            let body = flow::SendCodeRequest { phone_number: (!known).then(|| typed.clone()) };
            ctx.typed_phone.set(if known { String::new() } else { typed.clone() });
            api::send_json::<_, ()>("POST", "/flow/v1/verification", &body).await?;
            emit_event("CODE_SENT", object(&[]));
            ctx.go(Step::Code);
            ctx.notice.set("We sent you a code by text message.".into());
            Ok(())
        });
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">"Confirm it's you"</h2>
            {ctx.follows_claim().then(|| view! { <p>"This payment has been claimed. Confirm it's you to see where it is."</p> })}
            {if known {
                view! { <p>"We'll text a 6-digit code to " {hint.clone().unwrap_or_default()} "."</p> }.into_any()
            } else {
                view! {
                    <label for="dots-phone">"Mobile number"</label>
                    <input id="dots-phone" type="tel" autocomplete="tel" inputmode="tel" required data-autofocus
                        placeholder="+1 201 555 0123" aria-describedby="dots-phone-hint"
                        prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev)) />
                    <p id="dots-phone-hint" class="dots-hint">
                        {match &hint {
                            Some(h) => format!("Use the number the payment was sent to ({h})."),
                            None => "We'll text you a code to confirm it's yours.".to_string(),
                        }}
                    </p>
                }.into_any()
            }}
            <button type="submit" class="dots-primary" data-autofocus=known.then_some("")
                disabled=move || ctx.busy.get()>"Send code"</button>
        </form>
    }
}

/// A cheap shape check; the server parses and validates the number for real.
fn plausible_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits) && s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
}
