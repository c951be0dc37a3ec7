//! Settings: the app's API key (its client id; replacing the secret, shown once),
//! where the widget may be embedded and which country a typed phone number is
//! read in, and the payout rules (review thresholds, the tax-id rule, who pays
//! fees); the operator's fee schedule, to read.

use dots_shared::api::{App, AppRules, AppSettings, SecretRotation, Threshold};
use dots_shared::money::{Currency, Money};
use leptos::prelude::*;
use serde_json::json;

use super::{Change, choice, field, link, load_path, shown, typed_amount};
use crate::api;
use crate::{ctx, show};

pub fn page() -> impl IntoView {
    let app = load_path::<App>(|| "/v2/apps/me".into());
    let settings = load_path::<AppSettings>(|| "/v2/apps/me/settings".into());
    let rules = load_path::<AppRules>(|| "/v2/apps/me/rules".into());
    view! {
        <h1>"Settings"</h1>
        <h2>"API key"</h2>
        {shown(app, key)}
        <h2>"Embedding the onboarding flow"</h2>
        {shown(settings, embedding)}
        <h2>"Payout rules"</h2>
        {move || shown(app, move |a| shown(rules, move |r| payout_rules(r, a.currency.clone())))}
        <h2>"Team"</h2>
        <p>"Who may do what is on the "{link("/members", "Team", None)}" page."</p>
    }
}

fn key(app: App) -> impl IntoView {
    let ctx = ctx();
    let grace = RwSignal::new("86400".to_string());
    let rotated = RwSignal::new(None::<SecretRotation>);
    let change = Change::new();
    let rotate = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let seconds: i64 = grace.get_untracked().parse().unwrap_or(0);
        let body = json!({ "grace_seconds": seconds });
        change.run(
            move |key| async move {
                api::send::<_, SecretRotation>("POST", "/v2/apps/me/secret/rotate", &body, &key).await
            },
            move |r| rotated.set(Some(r)),
        );
    };
    view! {
        <dl class="facts">
            <dt>"App"</dt><dd>{app.name.clone()}</dd>
            <dt>"Client ID"</dt><dd class="id" id="client-id">{app.client_id.clone()}</dd>
            <dt>"Currency"</dt><dd>{app.currency.clone()}</dd>
        </dl>
        {move || rotated.get().map(|r| view! {
            <div class="banner good" role="status">
                <p>"The new API secret, shown only now: put it in your server's configuration."</p>
                <code id="api-secret" class="secret">{r.api_secret.clone().unwrap_or_default()}</code>
                <p>"The old secret works until "{show::time(&r.previous_secret_expires_at)}"."</p>
            </div>
        })}
        {ctx.can("owner").then(|| view! {
            <form class="panel" on:submit=rotate novalidate aria-label="Replace the API secret">
                {choice("The old secret keeps working for", "secret-grace", vec![
                    ("0".into(), "No time: stop it now".into()),
                    ("3600".into(), "An hour".into()),
                    ("86400".into(), "A day".into()),
                ], grace)}
                {change.error_view()}
                <button type="submit" class="danger" disabled=move || change.busy.get() || !ctx.can_change("owner")>"Replace the API secret"</button>
            </form>
        })}
    }
}

fn embedding(settings: AppSettings) -> impl IntoView {
    let ctx = ctx();
    let origins = RwSignal::new(settings.allowed_origins.clone().unwrap_or_default().join("\n"));
    let country = RwSignal::new(settings.default_country.clone().unwrap_or_default());
    let saved = RwSignal::new(false);
    let change = Change::new();
    let save = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let list: Vec<String> =
            origins.get_untracked().lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
        let mut body = json!({ "allowed_origins": list });
        let typed = country.get_untracked().trim().to_uppercase();
        if !typed.is_empty() {
            body["default_country"] = json!(typed);
        }
        saved.set(false);
        change.run(
            move |key| async move { api::send::<_, AppSettings>("PUT", "/v2/apps/me/settings", &body, &key).await },
            move |_| saved.set(true),
        );
    };
    view! {
        <form class="panel" on:submit=save novalidate aria-label="Embedding">
            <div class="field">
                <label for="origins">"Sites that may show the flow (one per line, like https://shop.example.com)"</label>
                <textarea id="origins" rows="4" prop:value=move || origins.get()
                    on:input=move |e| origins.set(event_target_value(&e))></textarea>
            </div>
            {field("Country a phone number is read in when typed without +code (like US)", "default-country", "text", "off", country)}
            {change.error_view()}
            {move || saved.get().then(|| view! { <p class="banner good" role="status">"Saved."</p> })}
            <button type="submit" class="primary" disabled=move || change.busy.get() || !ctx.can_change("owner")>"Save"</button>
        </form>
    }
}

/// A threshold as the form shows it: the amount, or empty when off.
fn typed(threshold: Threshold, currency: &str) -> String {
    let money = |minor| Currency::parse(currency).ok().and_then(|c| Money::new(minor, c).ok());
    threshold.0.and_then(money).map(Money::decimal).unwrap_or_default()
}

fn payout_rules(rules: AppRules, currency: String) -> impl IntoView {
    let ctx = ctx();
    let review = RwSignal::new(typed(rules.review_threshold, &currency));
    let first = RwSignal::new(typed(rules.first_payout_review_threshold, &currency));
    let tax = RwSignal::new(typed(rules.tax_id_threshold, &currency));
    let fee_party = RwSignal::new(rules.fee_party.as_str().to_string());
    let saved = RwSignal::new(false);
    let change = Change::new();
    let code = currency.clone();
    let save = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let mut body = json!({ "fee_party": fee_party.get_untracked() });
        for (name, value) in
            [("review_threshold", review), ("first_payout_review_threshold", first), ("tax_id_threshold", tax)]
        {
            let text = value.get_untracked();
            body[name] = if text.trim().is_empty() {
                json!("off")
            } else {
                match typed_amount(&text, &code, change) {
                    Some(money) => json!(money.amount()),
                    None => return,
                }
            };
        }
        saved.set(false);
        change.run(
            move |key| async move { api::send::<_, AppRules>("PUT", "/v2/apps/me/rules", &body, &key).await },
            move |_| saved.set(true),
        );
    };
    let fees = &rules.fees;
    let mut schedule = Vec::new();
    if fees.fixed > 0 {
        schedule.push(show::money(fees.fixed, &currency));
    }
    if fees.bps > 0 {
        schedule.push(format!("{}.{:02} %", fees.bps / 100, fees.bps % 100));
    }
    let schedule = if schedule.is_empty() { "No fee".to_string() } else { schedule.join(" + ") };
    view! {
        <form class="panel" on:submit=save novalidate aria-label="Payout rules">
            <p class="help">"Leave an amount empty to turn its rule off."</p>
            {field("Hold payouts above this amount for review", "rule-review", "text", "off", review)}
            {field("Hold a user's first payout above this amount for review", "rule-first", "text", "off", first)}
            {field("Ask for a tax ID once a user is paid more than this in a year", "rule-tax", "text", "off", tax)}
            {choice("Who pays a payout's fee", "rule-fee-party", vec![
                ("app".into(), "The app".into()),
                ("user".into(), "The user (taken from what they receive)".into()),
            ], fee_party)}
            <p>"The fee on each payout, set by Dots: "{schedule}"."</p>
            {change.error_view()}
            {move || saved.get().then(|| view! { <p class="banner good" role="status">"Saved."</p> })}
            <button type="submit" class="primary" disabled=move || change.busy.get() || !ctx.can_change("owner")>"Save the rules"</button>
        </form>
    }
}
