//! Moving money: a new payout (a user's wallet to their bank or wallet), a
//! balance transfer (between the app's wallet and a user's) and a refill (money
//! into the app's wallet). The same API calls as an app's backend makes.

use dots_shared::api::{Transfer, Wallet};
use leptos::prelude::*;
use serde_json::json;

use super::{Change, choice, field, link, load_path, shown, typed_amount};
use crate::api;
use crate::{NewKind, ctx};

pub fn new(kind: NewKind) -> impl IntoView {
    let wallet = load_path::<Wallet>(|| "/v2/apps/me/wallet".into());
    view! {
        <p>{link("/transfers", "← All transfers", None)}</p>
        {shown(wallet, move |w| form(kind, w))}
    }
}

fn form(kind: NewKind, wallet: Wallet) -> impl IntoView {
    let ctx = ctx();
    let user = RwSignal::new(super::from_address("user_id"));
    let amount = RwSignal::new(String::new());
    let fee_party = RwSignal::new(String::new());
    let direction = RwSignal::new("app_to_user".to_string());
    let change = Change::new();
    let currency = wallet.currency.clone();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let Some(money) = typed_amount(&amount.get_untracked(), &currency, change) else { return };
        let (minor, code) = (money.amount(), money.currency().code());
        let (path, body) = match kind {
            NewKind::Payout => {
                let fee = fee_party.get_untracked();
                let mut body = json!({ "user_id": user.get_untracked().trim(), "amount": minor, "currency": code });
                if !fee.is_empty() {
                    body["fee_party"] = json!(fee);
                }
                ("/v2/payouts", body)
            }
            NewKind::Balance => (
                "/v2/transfers",
                json!({ "type": "balance", "user_id": user.get_untracked().trim(), "amount": minor, "currency": code,
                        "direction": direction.get_untracked() }),
            ),
            NewKind::Refill => ("/v2/refills", json!({ "amount": minor, "currency": code })),
        };
        change.run(
            move |key| async move { api::send::<_, Transfer>("POST", path, &body, &key).await },
            move |t| ctx.go(&format!("/transfers/{}", t.id)),
        );
    };
    let (title, intro, button) = match kind {
        NewKind::Payout => (
            "New payout",
            "Sends money from a user's wallet to the bank account or wallet they chose.",
            "Send the payout",
        ),
        NewKind::Balance => (
            "New balance transfer",
            "Moves money between the app's wallet and a user's wallet on Dots.",
            "Move the money",
        ),
        NewKind::Refill => ("Add money", "Adds money to the app's wallet, to pay users from.", "Add the money"),
    };
    let available = crate::show::money(wallet.available, &wallet.currency);
    view! {
        <h1>{title}</h1>
        <p>{intro}" The app's wallet holds "{available}"."</p>
        <form class="panel" on:submit=submit novalidate>
            {(kind != NewKind::Refill).then(|| field("User ID (from the user's page)", "money-user", "text", "off", user))}
            {field("Amount", "money-amount", "text", "off", amount)}
            {(kind == NewKind::Payout).then(|| choice("Who pays the fee", "money-fee", vec![
                (String::new(), "As the app's settings say".into()),
                ("app".into(), "The app".into()),
                ("user".into(), "The user (taken from what they receive)".into()),
            ], fee_party))}
            {(kind == NewKind::Balance).then(|| choice("Direction", "money-direction", vec![
                ("app_to_user".into(), "From the app's wallet to the user".into()),
                ("user_to_app".into(), "From the user back to the app's wallet".into()),
            ], direction))}
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get() || !ctx.can_change("admin")>{button}</button>
        </form>
    }
}
