//! Transfers: the list (by type, status, dates, user) and one transfer with its
//! status history, ledger transactions and fee, and what the member's role may
//! do to it (approve or deny a held payout, cancel, reverse).

use dots_shared::api::{List, Transfer};
use dots_shared::transfer::{TransferStatus, TransferType};
use leptos::prelude::*;
use serde_json::json;

use super::{Change, choice, cols, link, load_path, money_actions, shown, table_region};
use crate::api::{self, query};
use crate::{ctx, show};

/// Transfers as a table (newest first), each opening its page.
pub fn table(list: List<Transfer>, empty: &'static str) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    let more = list
        .has_more
        .then(|| view! { <p class="help">"Showing the newest 100. Narrow the filters to see others."</p> });
    let rows = list
        .data
        .into_iter()
        .map(|t| {
            let path = format!("/transfers/{}", t.id);
            let who = t.user_id.clone().unwrap_or_else(|| "The app".to_string());
            view! {
                <tr data-id=t.id.clone() data-type=t.kind.as_str() data-status=t.status.as_str()>
                    <td>{link(&path, show::kind(t.kind), None)}</td>
                    <td class="num">{show::money(t.amount, &t.currency)}</td>
                    <td><span class=show::tone(t.status)>{show::status(t.status)}</span></td>
                    <td class="id">{who}</td>
                    <td>{show::time(&t.created_at)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {table_region("Transfers", view! {
            <th scope="col">"Type"</th><th scope="col" class="num">"Amount"</th>{cols(&["Status", "User", "Created"])}
        }, rows)}
        {more}
    }
    .into_any()
}

/// The day a date field holds, as the start (or the end) of that day in the
/// member's time zone, in RFC 3339.
fn day_bound(date: &str, end: bool) -> String {
    if date.trim().is_empty() {
        return String::new();
    }
    let time = if end { "T23:59:59.999" } else { "T00:00:00" };
    let at = js_sys::Date::new(&format!("{date}{time}").into());
    if at.get_time().is_nan() { String::new() } else { String::from(at.to_iso_string()) }
}

pub fn list() -> impl IntoView {
    let kind = RwSignal::new(String::new());
    let status = RwSignal::new(super::from_address("status"));
    let user = RwSignal::new(super::from_address("user_id"));
    let (from, to) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let data = load_path::<List<Transfer>>(move || {
        format!(
            "/v2/transfers{}",
            query(&[
                ("limit", "100".into()),
                ("type", kind.get()),
                ("status", status.get()),
                ("user_id", user.get()),
                ("created_after", day_bound(&from.get(), false)),
                ("created_before", day_bound(&to.get(), true)),
            ])
        )
    });
    let kinds = std::iter::once((String::new(), "Any type".to_string()))
        .chain(
            [TransferType::Payout, TransferType::Balance, TransferType::Refill]
                .map(|k| (k.as_str().into(), show::kind(k).into())),
        )
        .collect();
    let statuses = std::iter::once((String::new(), "Any status".to_string()))
        .chain(TransferStatus::ALL.map(|s| (s.as_str().into(), show::status(s).into())))
        .collect();
    let date = |label: &'static str, id: &'static str, value: RwSignal<String>| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input id=id type="date" prop:value=move || value.get() on:change=move |e| value.set(event_target_value(&e)) />
            </div>
        }
    };
    view! {
        <h1>"Transfers"</h1>
        {money_actions()}
        <form class="filters" aria-label="Filter transfers" on:submit=|e| e.prevent_default()>
            {choice("Type", "filter-type", kinds, kind)}
            {choice("Status", "filter-status", statuses, status)}
            {date("From", "filter-from", from)}
            {date("To", "filter-to", to)}
            <div class="field">
                <label for="filter-user">"User ID"</label>
                <input id="filter-user" type="search" placeholder="usr_…" prop:value=move || user.get()
                    on:change=move |e| user.set(event_target_value(&e)) />
            </div>
        </form>
        {downloads(from, to)}
        <div aria-live="polite">{shown(data, |l| table(l, "No transfers match."))}</div>
    }
}

/// Links to the CSV exports of the dates chosen (or everything): a plain
/// download, named by the app in its query (a link sends no header).
fn downloads(from: RwSignal<String>, to: RwSignal<String>) -> impl IntoView {
    let ctx = ctx();
    let href = move |table: &'static str| {
        let app = ctx.app.with(|a| a.as_ref().map(|a| a.app_id.clone()).unwrap_or_default());
        let range = [
            ("app", app),
            ("created_after", day_bound(&from.get(), false)),
            ("created_before", day_bound(&to.get(), true)),
        ];
        format!("/v2/exports/{table}.csv{}", query(&range))
    };
    view! {
        <p class="help downloads">"Download as a spreadsheet (CSV), for the dates chosen or everything: "
            <a id="export-transfers" href=move || href("transfers") download>"transfers"</a>" · "
            <a id="export-transactions" href=move || href("transactions") download>"ledger entries"</a>
        </p>
    }
}

/// An account a transaction moved money between, in words.
fn account(kind: &str) -> &'static str {
    match kind {
        "app_wallet" => "App wallet",
        "user_wallet" => "User's wallet",
        "refill_source" => "Money added from outside",
        "payout_clearing" => "Held for the payout",
        "external_payouts" => "Paid out",
        "fee_revenue" => "Fees",
        _ => "Other",
    }
}

fn words(code: &str) -> String {
    let spaced = code.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

pub fn detail(id: String) -> impl IntoView {
    let path = format!("/v2/transfers/{id}");
    let data = load_path::<Transfer>(move || path.clone());
    view! {
        <p>{link("/transfers", "← All transfers", None)}</p>
        {shown(data, move |t| transfer(t, data))}
    }
}

fn transfer(t: Transfer, data: LocalResource<Result<Transfer, api::ApiError>>) -> impl IntoView {
    let c = t.currency.clone();
    let history = t
        .status_history
        .iter()
        .map(|s| {
            let reason = s.reason.clone().map(|r| format!(" — {}", words(&r)));
            view! { <li><span class=show::tone(s.status)>{show::status(s.status)}</span>" "{show::time(&s.at)}{reason}</li> }
        })
        .collect_view();
    let entries = t
        .transactions
        .iter()
        .map(|x| {
            view! {
                <tr>
                    <td>{words(&x.kind)}</td>
                    <td>{account(&x.source.kind)}</td>
                    <td>{account(&x.destination.kind)}</td>
                    <td class="num">{show::money(x.amount, &x.currency)}</td>
                </tr>
            }
        })
        .collect_view();
    // The user by name (their id until it is read, or if it cannot be).
    let user = t.user_id.clone().map(|u| {
        let path = format!("/users/{u}");
        let read = {
            let u = u.clone();
            load_path::<dots_shared::api::User>(move || format!("/v2/users/{u}"))
        };
        let name = move || {
            read.get()
                .and_then(Result::ok)
                .map_or_else(|| u.clone(), |p| show::name(&p.first_name, &p.last_name, &p.email))
        };
        view! { <dt>"User"</dt><dd>{link(&path, name, None)}</dd> }
    });
    let fee = (t.kind == TransferType::Payout).then(|| {
        let who = match t.fee_party.map(|p| p.as_str()) {
            Some("user") => "paid by the user",
            _ => "paid by the app",
        };
        view! {
            <dt>"Fee"</dt><dd>{show::money(t.fee, &c)}" ("{who}")"</dd>
            <dt>"Arrives"</dt><dd>{show::money(t.net, &c)}</dd>
        }
    });
    view! {
        <h1>{show::kind(t.kind)}" of "{show::money(t.amount, &t.currency)}</h1>
        <p><span class=show::tone(t.status) id="transfer-status">{show::status(t.status)}</span></p>
        {actions(&t, data)}
        <dl class="facts">
            <dt>"Transfer"</dt><dd class="id">{t.id.clone()}</dd>
            {user}
            {fee}
            <dt>"Created"</dt><dd>{show::time(&t.created_at)}</dd>
        </dl>
        <h2>"What happened"</h2>
        <ol class="history">{history}</ol>
        <h2>"Ledger entries"</h2>
        {table_region("Ledger entries", view! {
            {cols(&["Entry", "From", "To"])}<th scope="col" class="num">"Amount"</th>
        }, entries)}
    }
}

/// The changes the member's role may make to this transfer in its status.
fn actions(t: &Transfer, data: LocalResource<Result<Transfer, api::ApiError>>) -> impl IntoView + use<> {
    let ctx = ctx();
    let change = Change::new();
    let id = t.id.clone();
    let act = move |verb: &'static str, body: serde_json::Value| {
        let path = format!("/v2/transfers/{id}/{verb}");
        change.run(
            move |key| async move { api::send::<_, Transfer>("POST", &path, &body, &key).await },
            move |_| data.refetch(),
        );
    };
    let reason = RwSignal::new(String::new());
    let mut buttons = Vec::new();
    let busy = move || change.busy.get();
    if t.status == TransferStatus::Flagged && ctx.can_change("reviewer") {
        let (a, d) = (act.clone(), act.clone());
        buttons.push(view! { <button class="primary" disabled=busy on:click=move |_| a("approve", json!({}))>"Approve"</button> }.into_any());
        buttons.push(
            view! { <button class="danger" disabled=busy on:click=move |_| d("deny", json!({}))>"Deny"</button> }
                .into_any(),
        );
    }
    let cancelable = t.status.can_become(TransferStatus::Canceled);
    if cancelable && ctx.can_change("admin") {
        let c = act.clone();
        buttons.push(
            view! { <button class="danger" disabled=busy on:click=move |_| c("cancel", json!({}))>"Cancel"</button> }
                .into_any(),
        );
    }
    // A payout is reversed only by its rail (a returned payment).
    let reversible = t.status.can_become(TransferStatus::Reversed) && t.kind != TransferType::Payout;
    if reversible && ctx.can_change("admin") {
        let r = act.clone();
        buttons.push(
            view! {
                <form class="inline" on:submit=move |e| { e.prevent_default(); r("reverse", json!({ "reason": reason.get_untracked() })) }>
                    {super::field("Why reverse it?", "reverse-reason", "text", "off", reason)}
                    <button type="submit" class="danger" disabled=busy>"Reverse"</button>
                </form>
            }
            .into_any(),
        );
    }
    (!buttons.is_empty()).then(|| view! { <div class="actions">{buttons}{change.error_view()}</div> })
}
