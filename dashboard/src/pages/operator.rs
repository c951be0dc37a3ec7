//! The operator's console (`/dashboard/operator`): signed in with the operator
//! key, then a session of its own. The apps with their wallet, last 30 days'
//! payouts and state; making an app and inviting its first owner; suspending an
//! app (its API, links and flows stop, its webhooks wait) and resuming it; the
//! operator's own actions from the audit log.

use dots_shared::api::{
    AchCutOff, AchFile, AchReturns, App, AppOverview, AuditEntry, Invitation, List, OperatorSession,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use super::auth::notice_view;
use super::{Change, choice, cols, field, link, load_path, shown, table_region};
use crate::api;
use crate::{Op, ctx, show};

/// The console: its sign-in until the operator is signed in, then its pages.
pub fn console(op: Op) -> impl IntoView {
    let ctx = ctx();
    let checked = RwSignal::new(ctx.operator.get_untracked());
    if !checked.get_untracked() {
        spawn_local(async move {
            if let Ok(session) = api::get::<OperatorSession>("/dashboard/api/operator/session").await {
                api::set_caller(&session.csrf_token, "");
                ctx.operator.set(true);
            }
            checked.set(true);
        });
    }
    let op = StoredValue::new(op);
    move || {
        if !checked.get() {
            view! { <p class="loading" role="status">"Loading…"</p> }.into_any()
        } else if !ctx.operator.get() {
            sign_in().into_any()
        } else {
            untrack(move || frame(op.get_value())).into_any()
        }
    }
}

fn sign_in() -> impl IntoView {
    let ctx = ctx();
    let key = RwSignal::new(String::new());
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let body = json!({ "operator_key": key.get_untracked() });
        change.run(
            move |k| async move {
                api::send::<_, OperatorSession>("POST", "/dashboard/api/operator/sign-in", &body, &k).await
            },
            move |session| {
                api::set_caller(&session.csrf_token, "");
                ctx.notice.set(String::new());
                ctx.operator.set(true);
            },
        );
    };
    let notice = notice_view();
    view! {
        <main id="page" class="narrow">
            <p class="brand"><span class="dot" aria-hidden="true"></span>"Dots operator console"</p>
            <h1>"Sign in as the operator"</h1>
            {notice}
            <p>"Use the operator key this Dots server was started with."</p>
            <form class="panel" on:submit=submit novalidate aria-label="Operator sign-in">
                {field("Operator key", "operator-key", "password", "current-password", key)}
                {change.error_view()}
                <button type="submit" class="primary" disabled=move || change.busy.get()>"Sign in"</button>
            </form>
        </main>
    }
}

fn frame(op: Op) -> impl IntoView {
    let ctx = ctx();
    let here = match op {
        Op::Apps | Op::App(_) => "apps",
        Op::Audit => "audit",
        Op::BankFiles => "bank-files",
    };
    let page = match op {
        Op::Apps => apps().into_any(),
        Op::App(id) => app(id).into_any(),
        Op::Audit => audit().into_any(),
        Op::BankFiles => bank_files().into_any(),
    };
    let nav = move |name: &'static str, path: &'static str, label: &'static str| {
        view! { <li>{link(path, label, (here == name).then_some("page"))}</li> }
    };
    let sign_out = move |_| {
        spawn_local(async move {
            let _ = api::send::<_, serde_json::Value>("POST", "/dashboard/api/operator/sign-out", &(), &api::new_key())
                .await;
            ctx.signed_out("You signed out of the operator console.");
        });
    };
    let notice = notice_view();
    view! {
        <header class="top">
            <a class="skip" href="#page">"Skip to the page"</a>
            <span class="brand"><span class="dot" aria-hidden="true"></span>"Dots operator console"</span>
            <span class="who">"Operator"</span>
            <button class="quiet" on:click=sign_out>"Sign out"</button>
        </header>
        <nav aria-label="Sections">
            <ul>
                {nav("apps", "/operator", "Apps")}
                {nav("bank-files", "/operator/bank-files", "Bank files")}
                {nav("audit", "/operator/audit-log", "Audit log")}
            </ul>
        </nav>
        <main id="page" tabindex="-1">
            {notice}
            {page}
        </main>
    }
}

/// "Test" (the sandbox) or "Live" (real money).
fn kind(app: &App) -> impl IntoView + use<> {
    if app.mode == "live" {
        view! { <span class="badge warn">"Live"</span> }.into_any()
    } else {
        view! { <span class="badge">"Test"</span> }.into_any()
    }
}

/// "Active", or "Suspended" and why.
fn state(app: &App) -> impl IntoView + use<> {
    match &app.suspended {
        None => view! { <span class="badge good">"Active"</span> }.into_any(),
        Some(s) => view! { <span class="badge bad" title=s.reason.clone()>"Suspended"</span> }.into_any(),
    }
}

fn apps() -> impl IntoView {
    let list = load_path::<List<AppOverview>>(|| "/v2/apps?limit=100".into());
    let open = RwSignal::new(false);
    view! {
        <h1>"Apps"</h1>
        <p>"Every business on this Dots server: what its wallet holds, what it paid out in the last 30 days, and whether it may work."</p>
        <div class="actions">
            <button class="primary" on:click=move |_| open.update(|o| *o = !*o) aria-expanded=move || open.get().to_string()>
                "New app"
            </button>
        </div>
        {move || open.get().then(new_app)}
        {shown(list, apps_table)}
    }
}

fn apps_table(list: List<AppOverview>) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"No apps yet. Make the first one with New app."</p> }.into_any();
    }
    let rows = list
        .data
        .into_iter()
        .map(|a| {
            let path = format!("/operator/apps/{}", a.app.id);
            let owners = if a.owners.is_empty() { "No owner yet".to_string() } else { a.owners.join(", ") };
            view! {
                <tr data-app=a.app.id.clone()>
                    <td>{link(&path, a.app.name.clone(), None)}" "{kind(&a.app)}</td>
                    <td>{state(&a.app)}</td>
                    <td class="num">{show::money(a.app.wallet.available, &a.app.currency)}</td>
                    <td class="num">{show::money(a.volume_30d, &a.app.currency)}" ("{a.payouts_30d}")"</td>
                    <td class="num">{a.users}</td>
                    <td>{owners}</td>
                    <td>{show::time(&a.app.created_at)}</td>
                </tr>
            }
        })
        .collect_view();
    let head = ["App", "State", "Wallet", "Paid out, 30 days (payouts)", "Users", "Owners", "Made"];
    view! {
        {table_region("Apps", cols(&head), rows)}
        {list.has_more.then(|| view! { <p class="help">"Showing the newest 100 apps."</p> })}
    }
    .into_any()
}

/// What making an app answered: the app (its secret shown only now) and the
/// owner's invitation.
#[derive(Clone)]
struct Made {
    app: App,
    invitation: Option<Invitation>,
}

fn new_app() -> impl IntoView {
    let ctx = ctx();
    let (name, currency, owner) =
        (RwSignal::new(String::new()), RwSignal::new("USD".to_string()), RwSignal::new(String::new()));
    let mode = RwSignal::new("test".to_string());
    let made = RwSignal::new(None::<Made>);
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        if owner.get_untracked().trim().is_empty() {
            change.error.set("Enter the email of the app's first owner.".into());
            return;
        }
        let body = json!({
            "name": name.get_untracked(),
            "currency": currency.get_untracked().trim().to_uppercase(),
            "mode": mode.get_untracked(),
        });
        let email = owner.get_untracked();
        change.run(
            move |key| async move {
                let app = api::send::<_, App>("POST", "/v2/apps", &body, &key).await?;
                // The owner is invited in a second step: if it fails, the app is
                // made all the same, and its page invites again.
                let path = format!("/v2/apps/{}/invitations", app.id);
                let invite = json!({ "email": email, "role": "owner" });
                let invitation = api::send::<_, Invitation>("POST", &path, &invite, &format!("{key}-owner")).await.ok();
                Ok(Made { app, invitation })
            },
            move |m| {
                // The form is ready for another app (pressing again must not make this one twice).
                name.set(String::new());
                owner.set(String::new());
                made.set(Some(m));
                ctx.live.update(|n| *n = n.wrapping_add(1));
            },
        );
    };
    view! {
        {move || made.get().map(|m| view! {
            <div class="banner good" role="status">
                <p>{m.app.name.clone()}" is ready. Its API secret, shown only now: give it to the business for its server."</p>
                <code id="new-app-secret" class="secret">{m.app.api_secret.clone().unwrap_or_default()}</code>
                {match m.invitation.clone() {
                    Some(i) => view! {
                        <p>"Send this link to "{i.email.clone()}" so they can set a password and run the app (it works once, for 7 days):"</p>
                        <code id="owner-invitation" class="secret">{i.url.clone().unwrap_or_default()}</code>
                    }.into_any(),
                    None => view! {
                        <p>"The owner could not be invited. Invite them from the app's page."</p>
                    }.into_any(),
                }}
            </div>
        })}
        <form class="panel" on:submit=submit novalidate aria-label="New app">
            {field("The business's name", "app-name", "text", "organization", name)}
            {field("Currency (like USD)", "app-currency", "text", "off", currency)}
            {choice("Kind", "app-mode", vec![
                ("test".into(), "Test: the sandbox, no real money".into()),
                ("live".into(), "Live: real money".into()),
            ], mode)}
            {field("Email of its first owner", "app-owner", "email", "off", owner)}
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get()>"Make the app"</button>
        </form>
    }
}

fn app(id: String) -> impl IntoView {
    let path = format!("/v2/apps/{id}");
    let app = load_path::<AppOverview>(move || path.clone());
    view! {
        <p>{link("/operator", "← All apps", None)}</p>
        {shown(app, detail)}
    }
}

fn detail(a: AppOverview) -> impl IntoView {
    let owners = if a.owners.is_empty() { "No owner yet".to_string() } else { a.owners.join(", ") };
    let currency = a.app.currency.clone();
    view! {
        <h1>{a.app.name.clone()}" "{state(&a.app)}</h1>
        <dl class="facts">
            <dt>"App ID"</dt><dd class="id">{a.app.id.clone()}</dd>
            <dt>"Client ID"</dt><dd class="id">{a.app.client_id.clone()}</dd>
            <dt>"Kind"</dt><dd>{if a.app.mode == "live" { "Live: real money" } else { "Test: the sandbox, no real money" }}</dd>
            <dt>"Wallet"</dt><dd>{show::money(a.app.wallet.available, &currency)}</dd>
            <dt>"Paid out in the last 30 days"</dt>
            <dd>{show::money(a.volume_30d, &currency)}" in "{a.payouts_30d}" payouts"</dd>
            <dt>"Users"</dt><dd>{a.users}</dd>
            <dt>"Owners"</dt><dd>{owners}</dd>
            <dt>"Made"</dt><dd>{show::time(&a.app.created_at)}</dd>
        </dl>
        {suspension(a.app.clone())}
        <h2>"Invite an owner"</h2>
        {invite(a.app.id.clone())}
    }
}

fn suspension(app: App) -> impl IntoView {
    let ctx = ctx();
    let reason = RwSignal::new(String::new());
    let change = Change::new();
    let (id, name) = (app.id.clone(), app.name.clone());
    let suspended = app.suspended.clone();
    let act = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let resume = suspended.is_some();
        if !resume && reason.get_untracked().trim().is_empty() {
            change.error.set("Say why, in a sentence the business's team will read.".into());
            return;
        }
        let (path, body) = if resume {
            (format!("/v2/apps/{id}/resume"), json!({}))
        } else {
            (format!("/v2/apps/{id}/suspend"), json!({ "reason": reason.get_untracked() }))
        };
        let name = name.clone();
        change.run(
            move |key| async move { api::send::<_, AppOverview>("POST", &path, &body, &key).await },
            move |_| {
                let done = if resume { "is active again" } else { "is suspended" };
                ctx.notice.set(format!("{name} {done}."));
                ctx.live.update(|n| *n = n.wrapping_add(1));
            },
        );
    };
    match app.suspended {
        Some(s) => view! {
            <h2>"Suspended"</h2>
            <p>"Since "{show::time(&s.since)}": "{s.reason.clone()}</p>
            <p>"Its API refuses every call, its payout links and flows tell payees that payouts are paused, and its webhooks wait."</p>
            <form class="panel" on:submit=act novalidate aria-label="Resume the app">
                {change.error_view()}
                <button type="submit" class="primary" disabled=move || change.busy.get()>"Resume "{app.name.clone()}</button>
            </form>
        }
        .into_any(),
        None => view! {
            <h2>"Suspend"</h2>
            <p>"While suspended, its API refuses every call, its payout links and flows tell payees that payouts are paused, and its webhooks wait. Its team can still sign in and look. Nothing is lost: resuming puts everything back."</p>
            <form class="panel" on:submit=act novalidate aria-label="Suspend the app">
                <div class="field">
                    <label for="suspend-reason">"Why (the business's team will read this)"</label>
                    <textarea id="suspend-reason" rows="2" maxlength="200" prop:value=move || reason.get()
                        on:input=move |e| reason.set(event_target_value(&e))></textarea>
                </div>
                {change.error_view()}
                <button type="submit" class="danger" disabled=move || change.busy.get()>"Suspend "{app.name.clone()}</button>
            </form>
        }
        .into_any(),
    }
}

fn invite(app_id: String) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let sent = RwSignal::new(None::<Invitation>);
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let path = format!("/v2/apps/{app_id}/invitations");
        let body = json!({ "email": email.get_untracked(), "role": "owner" });
        change.run(
            move |key| async move { api::send::<_, Invitation>("POST", &path, &body, &key).await },
            move |i| sent.set(Some(i)),
        );
    };
    view! {
        {move || sent.get().map(|i| view! {
            <div class="banner good" role="status">
                <p>"Send this link to "{i.email.clone()}" (it works once, for 7 days):"</p>
                <code class="secret">{i.url.clone().unwrap_or_default()}</code>
            </div>
        })}
        <form class="panel" on:submit=submit novalidate aria-label="Invite an owner">
            {field("Their email", "owner-email", "email", "off", email)}
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get()>"Invite"</button>
        </form>
    }
}

fn audit() -> impl IntoView {
    let log = load_path::<List<AuditEntry>>(|| "/v2/operator/audit-log?limit=100".into());
    let apps = load_path::<List<AppOverview>>(|| "/v2/apps?limit=100".into());
    view! {
        <h1>"Audit log"</h1>
        <p>"What the operator did, newest first. Entries can't be edited or removed."</p>
        {shown(apps, move |apps| shown(log, move |l| audit_table(l, apps.data.clone())))}
    }
}

fn audit_table(list: List<AuditEntry>, apps: Vec<AppOverview>) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"Nothing yet."</p> }.into_any();
    }
    let rows = list
        .data
        .into_iter()
        .map(|e| {
            // An app made is the entry's object (no app's data changed before it was).
            let named = e.app_id.as_deref().or(e.object_id.as_deref().filter(|o| o.starts_with("app_")));
            let app = named.map_or_else(String::new, |id| {
                apps.iter().find(|a| a.app.id == id).map_or_else(|| id.to_string(), |a| a.app.name.clone())
            });
            view! {
                <tr data-action=e.action.clone()>
                    <td>{show::time(&e.created)}</td>
                    <td>{super::audit::what(&e.action)}</td>
                    <td>{app}</td>
                    <td class="id">{e.ip.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {table_region("Operator's audit log", cols(&["When", "What", "App", "From"]), rows)}
        {list.has_more.then(|| view! { <p class="help">"Showing the newest 100 changes."</p> })}
    }
    .into_any()
}

/// The bank payouts' NACHA files: made at each cut-off (or now), downloaded for
/// the bank, marked settled when the bank confirms them, and the bank's return
/// files taken in.
fn bank_files() -> impl IntoView {
    let ctx = ctx();
    let list = super::load(|| async {
        api::get::<List<AchFile>>("/v2/ach/files?limit=100").await.map_err(|mut e| {
            if e.code == "ach_not_configured" {
                e.message = "Bank payouts by file are not set up on this server yet.".into();
            }
            e
        })
    });
    let make = Change::new();
    let make_now = move |_| {
        make.run(
            move |key| async move { api::send::<_, AchCutOff>("POST", "/v2/ach/cutoff", &json!({}), &key).await },
            move |cut| {
                ctx.notice.set(match cut.file {
                    Some(f) if f.entries == 1 => "A file of 1 entry was made. Download it for the bank.".into(),
                    Some(f) => format!("A file of {} entries was made. Download it for the bank.", f.entries),
                    None => "Nothing was waiting, so no file was made.".into(),
                });
                ctx.live.update(|n| *n = n.wrapping_add(1));
            },
        );
    };
    view! {
        <h1>"Bank files"</h1>
        <p>"At each cut-off, one file for the bank gathers the waiting bank payouts, the refills taken from funding accounts, and the zero-dollar checks of new funding accounts. Download each file and send it to the bank; mark it settled when the bank confirms it."</p>
        <div class="actions">
            <button class="primary" on:click=make_now disabled=move || make.busy.get()>"Make a file now"</button>
        </div>
        {make.error_view()}
        {shown(list, files_table)}
        {returns_form()}
    }
}

fn files_table(list: List<AchFile>) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"No files yet. One is made at the next cut-off when a payment is waiting."</p> }
            .into_any();
    }
    let rows = list.data.into_iter().map(file_row).collect_view();
    let head = ["Made", "Money moves", "Entries", "Paid out", "Collected", "Returned", "State", ""];
    view! {
        {table_region("Bank files", cols(&head), rows)}
        {list.has_more.then(|| view! { <p class="help">"Showing the newest 100 files."</p> })}
    }
    .into_any()
}

fn file_row(f: AchFile) -> impl IntoView {
    let ctx = ctx();
    let settle = Change::new();
    let id = f.id.clone();
    let mark_settled = move |_| {
        let path = format!("/v2/ach/files/{id}/settle");
        settle.run(
            move |key| async move { api::send::<_, AchFile>("POST", &path, &json!({}), &key).await },
            move |_| {
                ctx.notice.set("The file is settled: its payouts are complete.".into());
                ctx.live.update(|n| *n = n.wrapping_add(1));
            },
        );
    };
    let settled = f.settled_at.is_some();
    let download = format!("/v2/ach/files/{}/download", f.id);
    let name = format!("{}.ach", f.id);
    view! {
        <tr data-file=f.id.clone()>
            <td>{show::time(&f.created_at)}</td>
            <td>{show::day(&f.effective_date)}</td>
            <td class="num">{f.entries}</td>
            <td class="num">{show::money(f.credit_total, "USD")}</td>
            <td class="num">{show::money(f.debit_total, "USD")}</td>
            <td class="num">{f.returns}</td>
            <td>
                {if settled {
                    view! { <span class="badge good">"Settled"</span> }.into_any()
                } else {
                    view! { <span class="badge">"Sent"</span> }.into_any()
                }}
            </td>
            <td>
                <a href=download download=name>"Download"</a>
                {(!settled).then(|| view! {
                    " "
                    <button class="quiet" on:click=mark_settled disabled=move || settle.busy.get()>"Mark settled"</button>
                })}
                {settle.error_view()}
            </td>
        </tr>
    }
}

/// The bank's return file, chosen from the computer and sent whole.
fn returns_form() -> impl IntoView {
    let ctx = ctx();
    let change = Change::new();
    let input = NodeRef::<leptos::html::Input>::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let file = input.get_untracked().and_then(|i| i.files()).and_then(|f| f.get(0));
        let Some(file) = file else {
            change.error.set("Choose the return file the bank sent.".into());
            return;
        };
        change.run(
            move |key| async move {
                let text = wasm_bindgen_futures::JsFuture::from(file.text()).await.ok().and_then(|t| t.as_string());
                let lines: Vec<String> = text.unwrap_or_default().lines().map(str::to_string).collect();
                api::send::<_, AchReturns>("POST", "/v2/ach/returns", &json!({ "lines": lines }), &key).await
            },
            move |report| {
                let mut said = format!("{} returned payments taken in", report.applied.len());
                if report.already_applied > 0 {
                    said.push_str(&format!("; {} were already in", report.already_applied));
                }
                if !report.unmatched.is_empty() {
                    said.push_str(&format!("; {} match no payment of ours", report.unmatched.len()));
                }
                ctx.notice.set(format!("{said}."));
                ctx.live.update(|n| *n = n.wrapping_add(1));
            },
        );
    };
    view! {
        <h2>"Returned payments"</h2>
        <p>"When the bank sends back payments it could not make, take in its return file: each payout not yet settled fails, each settled one is reversed, and the money goes back to the payee. Taking in the same file twice changes nothing."</p>
        <form class="panel" on:submit=submit novalidate aria-label="Take in a return file">
            <div class="field">
                <label for="return-file">"Return file from the bank"</label>
                <input id="return-file" type="file" node_ref=input />
            </div>
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get()>"Take in the returns"</button>
        </form>
    }
}
