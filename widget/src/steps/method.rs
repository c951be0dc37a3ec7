//! The payout method step: a saved method, or a new bank account, PayPal or Venmo.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{Ctx, Step, input};
use crate::api;
use crate::words::{fill, t};
use dots_shared::api::{CreatePayoutMethodRequest, List, PayoutMethod};

/// A payout method as the payee sees it: its id, and how it reads.
pub(super) type Destination = (String, String);

/// "Bank account ending 6789", "PayPal ana@example.com", "Venmo +1 …".
pub(super) fn destination(method: &PayoutMethod) -> Destination {
    let label = match (&method.bank, &method.paypal, &method.venmo) {
        (Some(bank), _, _) => fill(t().bank_ending(), &[&bank.account_last4]),
        (_, Some(paypal), _) => format!("PayPal {}", paypal.email),
        (_, _, Some(venmo)) => format!("Venmo {}", venmo.phone_number),
        _ => t().your_method().into(),
    };
    (method.id.clone(), label)
}

/// How a method reads inside a sentence: "It goes to your bank account ending 6789."
pub(super) fn in_sentence(method: &PayoutMethod) -> String {
    match &method.bank {
        Some(bank) => fill(t().bank_ending_sentence(), &[&bank.account_last4]),
        None => destination(method).1,
    }
}

#[component]
pub(super) fn MethodStep(ctx: Ctx) -> impl IntoView {
    let saved = RwSignal::new(Vec::<Destination>::new());
    let choice = RwSignal::new("new".to_string());
    let kind = RwSignal::new("bank".to_string());
    let [routing, account, paypal, venmo] = std::array::from_fn(|_| RwSignal::new(String::new()));
    // Sending a failed payout again: not to the account it failed on.
    let failed = ctx.session.with_untracked(|s| {
        let payout = s.payout_link.as_ref()?.payout.as_ref()?;
        payout.payout_method.as_ref().map(|m| m.id.clone())
    });
    spawn_local(async move {
        if let Ok(list) = api::get::<List<PayoutMethod>>("/flow/v1/payout-methods").await {
            let usable: Vec<Destination> =
                list.data.iter().filter(|m| failed.as_ref() != Some(&m.id)).map(destination).collect();
            if let Some((first, _)) = usable.first() {
                choice.set(first.clone());
            }
            saved.set(usable);
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let chosen = choice.get_untracked();
        if chosen != "new" {
            let method = saved.with_untracked(|m| m.iter().find(|(id, _)| *id == chosen).cloned());
            ctx.method.set(method);
            ctx.advance(Step::Method);
            return;
        }
        let kind = kind.get_untracked();
        let field = |value: RwSignal<String>, of: &str| (kind == of).then(|| value.get_untracked().trim().to_string());
        let body = CreatePayoutMethodRequest {
            kind: if kind == "paypal" || kind == "venmo" { kind.clone() } else { "bank".into() },
            routing_number: field(routing, "bank"),
            account_number: field(account, "bank"),
            account_type: None,
            email: field(paypal, "paypal"),
            phone_number: field(venmo, "venmo"),
        };
        ctx.run(async move {
            let method = api::send_json::<_, PayoutMethod>("POST", "/flow/v1/payout-methods", &body).await?;
            ctx.method.set(Some(destination(&method)));
            ctx.advance(Step::Method);
            Ok(())
        });
    };
    let input = move |id, label, value, mode| input(ctx, id, label, value, "text", mode, "off", false);
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1" data-autofocus>{t().method_title()}</h2>
            <fieldset class="dots-choices">
                <legend class="dots-sr">{t().method_legend()}</legend>
                {move || saved.get().into_iter().map(|(id, label)| {
                    let checked_id = id.clone();
                    view! {
                        <label class="dots-choice">
                            <input type="radio" name="dots-method" value=id.clone()
                                prop:checked=move || choice.get() == checked_id
                                on:change=move |_| choice.set(id.clone()) />
                            {label}
                        </label>
                    }
                }).collect_view()}
                <Show when=move || !saved.get().is_empty()>
                    <label class="dots-choice">
                        <input type="radio" name="dots-method" value="new" prop:checked=move || choice.get() == "new"
                            on:change=move |_| choice.set("new".into()) />
                        {t().method_new()}
                    </label>
                </Show>
            </fieldset>
            <Show when=move || choice.get() == "new">
                <fieldset class="dots-kinds">
                    <legend>{t().method_kind()}</legend>
                    {[("bank", t().bank_account()), ("paypal", t().paypal()), ("venmo", t().venmo())].map(|(value, label)| view! {
                        <label class="dots-choice">
                            <input type="radio" name="dots-kind" value=value prop:checked=move || kind.get() == value
                                on:change=move |_| kind.set(value.into()) />
                            {label}
                        </label>
                    }).collect_view()}
                </fieldset>
                {move || match kind.get().as_str() {
                    "paypal" => super::input(ctx, "dots-paypal", t().paypal_email(), paypal, "email", "email", "email", false).into_any(),
                    "venmo" => input("dots-venmo", t().venmo_phone(), venmo, "tel").into_any(),
                    _ => view! {
                        {input("dots-routing", t().routing_number(), routing, "numeric")}
                        {input("dots-account", t().account_number(), account, "numeric")}
                    }.into_any(),
                }}
            </Show>
            <button type="submit" class="dots-primary" disabled=ctx.busy>{t().continue_label()}</button>
        </form>
    }
}
