//! Payout links: make one (and have Dots text or email it), copy its address,
//! send it again, cancel it, and see whether it was claimed.

use dots_shared::api::{List, PayoutLink, Wallet};
use leptos::prelude::*;
use serde_json::json;

use super::{Change, choice, field, link, load_path, opener, shown, typed_amount};
use crate::api;
use crate::{ctx, show};

pub fn page() -> impl IntoView {
    let links = load_path::<List<PayoutLink>>(|| "/v2/payout-links?limit=100".into());
    let wallet = load_path::<Wallet>(|| "/v2/apps/me/wallet".into());
    let creating = RwSignal::new(false);
    view! {
        <h1>"Payout links"</h1>
        <p>"A payout link pays someone who may not be a user yet: they open it, prove their phone, choose where the money goes and are paid."</p>
        {opener("New payout link", "admin", creating)}
        {move || creating.get().then(|| shown(wallet, move |w| create(w.currency, links, creating)))}
        <div aria-live="polite">{shown(links, move |l| rows(l, links))}</div>
    }
}

fn create(
    currency: String,
    links: LocalResource<Result<List<PayoutLink>, api::ApiError>>,
    creating: RwSignal<bool>,
) -> impl IntoView {
    let ctx = ctx();
    let [amount, phone, email, user, memo] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let delivery = RwSignal::new("sms".to_string());
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let Some(money) = typed_amount(&amount.get_untracked(), &currency, change) else { return };
        let mut body = json!({ "amount": money.amount(), "currency": money.currency().code() });
        for (name, value) in [("phone_number", phone), ("email", email), ("user_id", user), ("memo", memo)] {
            let value = value.get_untracked().trim().to_string();
            if !value.is_empty() {
                body[name] = json!(value);
            }
        }
        let how = delivery.get_untracked();
        if how != "none" {
            body["delivery"] = json!({ "method": how });
        }
        change.run(
            move |key| async move { api::send::<_, PayoutLink>("POST", "/v2/payout-links", &body, &key).await },
            move |made| {
                ctx.notice.set(format!("The payout link for {} is made.", show::money(made.amount, &made.currency)));
                creating.set(false);
                links.refetch();
            },
        );
    };
    view! {
        <form class="panel" on:submit=submit novalidate aria-label="New payout link">
            <h2>"New payout link"</h2>
            {field("Amount", "link-amount", "text", "off", amount)}
            {field("Their mobile phone", "link-phone", "tel", "off", phone)}
            {field("Or their email", "link-email", "email", "off", email)}
            {field("User ID, to pay a user you already have (optional)", "link-user", "text", "off", user)}
            {field("Note they will see (optional)", "link-memo", "text", "off", memo)}
            {choice("How it reaches them", "link-delivery", vec![
                ("sms".into(), "Dots texts it to their phone".into()),
                ("email".into(), "Dots emails it".into()),
                ("none".into(), "I'll share the link myself".into()),
            ], delivery)}
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get()>"Make the link"</button>
        </form>
    }
}

fn rows(list: List<PayoutLink>, links: LocalResource<Result<List<PayoutLink>, api::ApiError>>) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"No payout links yet."</p> }.into_any();
    }
    let ctx = ctx();
    let items = list
        .data
        .into_iter()
        .map(|l| {
            let to = l.phone_number.clone().or(l.email.clone()).unwrap_or_else(|| "Anyone with the link".into());
            let user = l.user_id.clone().map(|u| {
                let path = format!("/users/{u}");
                view! { " · " {link(&path, "their user page", None)} }
            });
            let payout = l.payout_transfer_id.clone().map(|t| {
                let path = format!("/transfers/{t}");
                view! { " · " {link(&path, "the payout", None)} }
            });
            let active = l.status == "active";
            let url = l.url.clone().filter(|_| active);
            let change = Change::new();
            let id = l.id.clone();
            let act = move |what: &'static str, body: serde_json::Value| {
                let path = format!("/v2/payout-links/{id}/{what}");
                change.run(
                    move |key| async move { api::send::<_, PayoutLink>("POST", &path, &body, &key).await },
                    move |_| links.refetch(),
                );
            };
            let (cancel, resend) = (act.clone(), act);
            let via = if l.phone_number.is_some() { "sms" } else { "email" };
            let label = format!("Link for {}", to);
            view! {
                <li class="card row" data-id=l.id.clone() data-status=l.status.clone()>
                    <div>
                        <strong>{show::money(l.amount, &l.currency)}</strong>" to "{to.clone()}" "
                        <span class="badge">{show::link_status(&l.status)}</span>
                        {l.memo.clone().map(|m| view! { <p class="help">{m}</p> })}
                        <p class="help">"Expires "{show::time(&l.expires_at)}{user}{payout}</p>
                    </div>
                    {url.map(|u| view! {
                        <div class="copy">
                            <input class="link-url" readonly aria-label=label value=u.clone() />
                            <button class="quiet" on:click=move |_| copy(&u)>"Copy"</button>
                        </div>
                    })}
                    {(active && ctx.can_change("admin")).then(|| view! {
                        <div class="actions">
                            {(l.phone_number.is_some() || l.email.is_some()).then(|| view! {
                                <button class="quiet" disabled=move || change.busy.get()
                                    on:click=move |_| resend("send", json!({ "method": via }))>"Send again"</button>
                            })}
                            <button class="danger" disabled=move || change.busy.get()
                                on:click=move |_| cancel("cancel", json!({}))>"Cancel"</button>
                            {change.error_view()}
                        </div>
                    })}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="cards-list">{items}</ul> }.into_any()
}

fn copy(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}
