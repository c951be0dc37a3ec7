//! The compliance step: legal name, date of birth and tax id when the sender needs them.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{Ctx, Step};
use crate::api;
use crate::words::t;
use dots_shared::api as wire;

#[component]
pub(super) fn ComplianceStep(ctx: Ctx) -> impl IntoView {
    let [first, last, dob, tax] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let tax_required = ctx.session.with_untracked(|s| s.requirements.tax_id);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let tax_id = tax.get_untracked().trim().to_string();
        let body = wire::ComplianceRequest {
            legal_first_name: Some(first.get_untracked().trim().to_string()),
            legal_last_name: Some(last.get_untracked().trim().to_string()),
            date_of_birth: Some(dob.get_untracked()),
            tax_id: (!tax_id.is_empty() || tax_required).then_some(tax_id),
            ..Default::default()
        };
        ctx.run(async move {
            api::send_json::<_, ()>("PUT", "/flow/v1/compliance", &body).await?;
            ctx.advance(Step::Compliance);
            Ok(())
        });
    };
    let field =
        |id: &'static str, label: &'static str, value: RwSignal<String>, kind: &'static str, auto: &'static str| {
            view! {
                <label for=id>{label}</label>
                <input id=id type=kind autocomplete=auto required
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            }
        };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">{t().details_title}</h2>
            <p class="dots-hint">{t().details_intro}</p>
            <label for="dots-first">{t().first_name}</label>
            <input id="dots-first" autocomplete="given-name" required data-autofocus
                prop:value=move || first.get() on:input=move |ev| first.set(event_target_value(&ev)) />
            {field("dots-last", t().last_name, last, "text", "family-name")}
            {field("dots-dob", t().date_of_birth, dob, "date", "bday")}
            <label for="dots-tax">{if tax_required { t().tax_id } else { t().tax_id_optional }}</label>
            <input id="dots-tax" inputmode="numeric" autocomplete="off" placeholder="123-45-6789"
                prop:value=move || tax.get() on:input=move |ev| tax.set(event_target_value(&ev)) />
            <button type="submit" class="dots-primary" disabled=move || ctx.busy.get()>{t().continue_label}</button>
        </form>
    }
}
