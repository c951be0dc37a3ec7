//! The compliance step: legal name, date of birth and tax id when the sender needs them.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{Ctx, Step, input};
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
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">{t().details_title()}</h2>
            <p class="dots-hint">{t().details_intro()}</p>
            {input(ctx, "dots-first", t().first_name(), first, "text", "text", "given-name", true)}
            {input(ctx, "dots-last", t().last_name(), last, "text", "text", "family-name", false)}
            {input(ctx, "dots-dob", t().date_of_birth(), dob, "date", "text", "bday", false)}
            {input(ctx, "dots-tax", if tax_required { t().tax_id() } else { t().tax_id_optional() }, tax, "text", "numeric", "off", false)}
            <button type="submit" class="dots-primary" disabled=ctx.busy>{t().continue_label()}</button>
        </form>
    }
}
