//! Users (payees): search by name, email or phone, create one, and one user's
//! page — wallet, phone verification, compliance (masked), where their money goes
//! and their transfers.

use dots_shared::api::{Compliance, List, PayoutMethod, Transfer, User};
use leptos::prelude::*;
use serde_json::json;

use super::transfers::table;
use super::{Change, cols, field, link, load_path, opener, shown, table_region};
use crate::api::{self, query};
use crate::{ctx, show};

pub fn list() -> impl IntoView {
    let search = RwSignal::new(String::new());
    let data = load_path::<List<User>>(move || {
        format!("/v2/users{}", query(&[("limit", "100".into()), ("search", search.get())]))
    });
    let creating = RwSignal::new(false);
    view! {
        <h1>"Users"</h1>
        {opener("New user", "admin", creating)}
        {move || creating.get().then(create)}
        <form class="filters" role="search" on:submit=|e| e.prevent_default()>
            <div class="field grow">
                <label for="user-search">"Search by name, email or phone"</label>
                <input id="user-search" type="search" prop:value=move || search.get()
                    on:change=move |e| search.set(event_target_value(&e)) />
            </div>
        </form>
        <div aria-live="polite">{shown(data, rows)}</div>
    }
}

fn rows(list: List<User>) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"No users match."</p> }.into_any();
    }
    let rows = list
        .data
        .into_iter()
        .map(|u| {
            let path = format!("/users/{}", u.id);
            let verified = if u.phone_verified { "Verified" } else { "Not verified yet" };
            view! {
                <tr data-id=u.id.clone()>
                    <td>{link(&path, show::name(&u.first_name, &u.last_name, &u.email), None)}</td>
                    <td>{u.email.clone()}</td>
                    <td>{u.phone_number.clone()}" · "{verified}</td>
                    <td class="num">{show::money(u.wallet.available, &u.wallet.currency)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {table_region("Users", view! {
            {cols(&["Name", "Email", "Phone"])}<th scope="col" class="num">"Wallet"</th>
        }, rows)}
    }
    .into_any()
}

/// The form for a new user.
fn create() -> impl IntoView {
    let ctx = ctx();
    let [first, last, email, phone] = std::array::from_fn(|_| RwSignal::new(String::new()));
    // A number typed without its +code is read in the app's default country (Settings), else the US.
    let settings = load_path::<dots_shared::api::AppSettings>(|| "/v2/apps/me/settings".into());
    let country =
        move || settings.get().and_then(Result::ok).and_then(|s| s.default_country).unwrap_or_else(|| "US".into());
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let body = json!({
            "first_name": first.get_untracked(),
            "last_name": last.get_untracked(),
            "email": email.get_untracked(),
            "phone_number": phone.get_untracked(),
            "country_code": untrack(country),
        });
        change.run(
            move |key| async move { api::send::<_, User>("POST", "/v2/users", &body, &key).await },
            move |user| {
                ctx.notice.set(format!("{} is added.", show::name(&user.first_name, &user.last_name, &user.email)));
                ctx.go(&format!("/users/{}", user.id));
            },
        );
    };
    view! {
        <form class="panel" on:submit=submit novalidate aria-label="New user">
            <h2>"New user"</h2>
            {field("First name", "first-name", "text", "off", first)}
            {field("Last name", "last-name", "text", "off", last)}
            {field("Email", "user-email", "email", "off", email)}
            {field("Mobile phone", "user-phone", "tel", "off", phone)}
            <p class="help">{move || format!("A number from {} needs no +code; others start with + and their country code.", country_name(&country()))}</p>
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get()>"Add user"</button>
        </form>
    }
}

pub fn detail(id: String) -> impl IntoView {
    let user = load_path::<User>({
        let id = id.clone();
        move || format!("/v2/users/{id}")
    });
    let compliance = load_path::<Compliance>({
        let id = id.clone();
        move || format!("/v2/users/{id}/compliance")
    });
    let methods = load_path::<List<PayoutMethod>>({
        let id = id.clone();
        move || format!("/v2/users/{id}/payout-methods")
    });
    let transfers = load_path::<List<Transfer>>({
        let id = id.clone();
        move || format!("/v2/transfers?user_id={id}&limit=100")
    });
    let pay = format!("/transfers/new-payout?user_id={id}");
    let fund = format!("/transfers/new-balance?user_id={id}");
    let ctx = ctx();
    view! {
        <p>{link("/users", "← All users", None)}</p>
        {shown(user, |u| view! {
            <h1>{show::name(&u.first_name, &u.last_name, &u.email)}</h1>
            <dl class="facts">
                <dt>"Email"</dt><dd>{u.email.clone()}</dd>
                <dt>"Phone"</dt><dd>{u.phone_number.clone()}" · "{if u.phone_verified { "verified" } else { "not verified yet" }}</dd>
                <dt>"Wallet"</dt><dd id="user-wallet">{show::money(u.wallet.available, &u.wallet.currency)}
                    {(u.wallet.pending > 0).then(|| format!(" (and {} held for payouts on their way)", show::money(u.wallet.pending, &u.wallet.currency)))}</dd>
                <dt>"User ID"</dt><dd class="id">{u.id.clone()}</dd>
                <dt>"Added"</dt><dd>{show::time(&u.created_at)}</dd>
            </dl>
        })}
        {ctx.can("admin").then(|| view! {
            <div class="actions">{link(&fund, "Send to their wallet", None)}{link(&pay, "Pay out", None)}</div>
        })}
        <h2>"Identity and tax"</h2>
        {shown(compliance, |c| {
            let legal = show::name(c.legal_first_name.as_deref().unwrap_or(""), c.legal_last_name.as_deref().unwrap_or(""), "Not given");
            view! {
                <dl class="facts">
                    <dt>"Legal name"</dt><dd>{legal}</dd>
                    <dt>"Date of birth"</dt><dd>{if c.date_of_birth.is_some() { "On file" } else { "Not given" }}</dd>
                    <dt>"Tax ID"</dt><dd>{c.tax_id_last4.map_or_else(|| "Not given".to_string(), |l| format!("Ending {l}"))}</dd>
                    <dt>"Identity check"</dt><dd>{words(&c.kyc_status)}</dd>
                    <dt>"ID document check"</dt><dd>{words(&c.id_verification_status)}</dd>
                    <dt>"Before the next payout"</dt><dd>{if c.requirements.tax_id { "A tax ID is needed" } else { "Nothing more is needed" }}</dd>
                </dl>
            }
        })}
        <h2>"Where their money goes"</h2>
        {shown(methods, method_list)}
        <h2>"Transfers"</h2>
        {shown(transfers, |l| table(l, "No transfers yet."))}
    }
}

fn words(status: &str) -> &'static str {
    match status {
        "verified" => "Passed",
        "pending" => "In progress",
        "rejected" => "Did not pass",
        _ => "Not started",
    }
}

fn method_list(methods: List<PayoutMethod>) -> impl IntoView {
    let methods = methods.data;
    if methods.is_empty() {
        return view! { <p class="empty">"They haven't added a bank account or wallet yet."</p> }.into_any();
    }
    let items = methods
        .into_iter()
        .map(|m| {
            let what = match (&m.bank, &m.paypal, &m.venmo) {
                (Some(b), _, _) => format!("Bank account ending {}", b.account_last4),
                (_, Some(_), _) => "PayPal".to_string(),
                (_, _, Some(_)) => "Venmo".to_string(),
                _ => "Other".to_string(),
            };
            let default = m.default.then_some(" (used unless another is chosen)");
            view! { <li>{what}{default}</li> }
        })
        .collect_view();
    view! { <ul class="plain">{items}</ul> }.into_any()
}

/// A country as the form's hint names it: the common ones by name, others by code.
fn country_name(code: &str) -> String {
    match code {
        "US" => "the United States".into(),
        "CA" => "Canada".into(),
        "MX" => "Mexico".into(),
        "GB" => "the United Kingdom".into(),
        other => other.to_string(),
    }
}
