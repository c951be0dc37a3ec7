//! The pages, the frame around them (header, navigation) and what they share:
//! loading data, forms that make a change once, and their error messages.

pub mod audit;
pub mod auth;
pub mod brand;
pub mod flows;
pub mod links;
pub mod live;
pub mod members;
pub mod money;
pub mod operator;
pub mod overview;
pub mod settings;
pub mod transfers;
pub mod users;
pub mod webhooks;

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;

use crate::api::{self, ApiError};
use crate::{Ctx, NewKind, Route, ctx};

/// The signed-in frame: the app's name, the sections, the page.
pub fn shell(route: Route) -> impl IntoView {
    let ctx = ctx();
    let page = match route.clone() {
        Route::Overview => overview::page().into_any(),
        Route::Users => users::list().into_any(),
        Route::User(id) => users::detail(id).into_any(),
        Route::Transfers => transfers::list().into_any(),
        Route::Transfer(id) => transfers::detail(id).into_any(),
        Route::New(kind) => money::new(kind).into_any(),
        Route::Links => links::page().into_any(),
        Route::Members => members::page().into_any(),
        Route::Audit => audit::page().into_any(),
        Route::Webhooks => webhooks::page().into_any(),
        Route::Webhook(id) => webhooks::detail(id).into_any(),
        Route::Settings => settings::page().into_any(),
        Route::Brand => brand::page().into_any(),
        Route::Flows => flows::page().into_any(),
        Route::Security => auth::security().into_any(),
        _ => view! { <h1>"Page not found"</h1><p>"There is nothing at this address."</p> }.into_any(),
    };
    let section = |r: &Route| match r {
        Route::Overview => "overview",
        Route::Users | Route::User(_) => "users",
        Route::Transfers | Route::Transfer(_) | Route::New(_) => "transfers",
        Route::Links => "links",
        Route::Members => "members",
        Route::Audit => "audit",
        Route::Webhooks | Route::Webhook(_) => "webhooks",
        Route::Settings => "settings",
        Route::Brand => "brand",
        Route::Flows => "flows",
        Route::Security => "security",
        _ => "",
    };
    let here = section(&route);
    let nav = move |name: &'static str, path: &'static str, label: &'static str| {
        let current = (here == name).then_some("page");
        view! { <li>{link(path, label, current)}</li> }
    };
    let email = ctx.session.with(|s| s.as_ref().map(|s| s.member.email.clone()).unwrap_or_default());
    let apps = ctx.session.with(|s| s.as_ref().map(|s| s.member.memberships.clone()).unwrap_or_default());
    let acting = ctx.app.with(|a| a.as_ref().map(|a| (a.app_id.clone(), a.app_name.clone())).unwrap_or_default());
    let switcher = (apps.len() > 1).then(|| {
        let options = apps
            .iter()
            .map(|m| {
                let selected = m.app_id == acting.0;
                view! { <option value=m.app_id.clone() selected=selected>{m.app_name.clone()}</option> }
            })
            .collect_view();
        view! {
            <label class="switch">"App "
                <select on:change=move |e| ctx.switch_app(&event_target_value(&e))>{options}</select>
            </label>
        }
    });
    let banner = move || {
        let needs_two_factor = !ctx.can_change("viewer") && ctx.can("admin");
        needs_two_factor.then(|| {
            view! {
                <p class="banner warn" role="status">
                    "Turn on two-factor sign-in before you make changes. "
                    {link("/security", "Set it up now", None)}
                </p>
            }
        })
    };
    let notice = auth::notice_view();
    // A suspended app: its team may look, not change.
    let app = load_path::<dots_shared::api::App>(|| "/v2/apps/me".into());
    let suspended = move || {
        let reason = app.get().and_then(Result::ok).and_then(|a| a.suspended).map(|s| s.reason)?;
        Some(view! {
            <p class="banner warn" role="status">
                "The operator of this Dots server has paused this app: “"{reason}"”. Payouts, payout links and flows are stopped until it is resumed; you can still look around."
            </p>
        })
    };
    view! {
        <header class="top">
            <a class="skip" href="#page">"Skip to the page"</a>
            <span class="brand"><span class="dot" aria-hidden="true"></span>{acting.1}</span>
            {switcher}
            <span class="live" title="Lists update by themselves while this is on">
                {move || if ctx.connected.get() { "● Live" } else { "○ Reconnecting" }}
            </span>
            <span class="who">{email}</span>
            <button class="quiet" on:click=move |_| sign_out(ctx)>"Sign out"</button>
        </header>
        <nav aria-label="Sections">
            <ul>
                {nav("overview", "/", "Overview")}
                {nav("users", "/users", "Users")}
                {nav("transfers", "/transfers", "Transfers")}
                {nav("links", "/links", "Payout links")}
                {nav("flows", "/flows", "Flows")}
                {nav("members", "/members", "Team")}
                {nav("audit", "/audit-log", "Audit log")}
                {nav("webhooks", "/webhooks", "Webhooks")}
                {nav("brand", "/brand", "Brand")}
                {nav("settings", "/settings", "Settings")}
                {nav("security", "/security", "Security")}
            </ul>
        </nav>
        <main id="page" tabindex="-1">
            {suspended}
            {banner}
            {notice}
            {page}
        </main>
    }
}

fn sign_out(ctx: Ctx) {
    spawn_local(async move {
        let _ = api::send::<_, serde_json::Value>("POST", "/dashboard/api/sign-out", &(), &api::new_key()).await;
        ctx.signed_out("You signed out.");
    });
}

/// Plain column heads, for [`table_region`].
pub fn cols(heads: &[&'static str]) -> impl IntoView + use<> {
    heads.iter().map(|h| view! { <th scope="col">{*h}</th> }).collect_view()
}

/// A table in a region of its own (scrolled sideways on a phone, reachable by
/// keyboard), under its column heads (`<th>` cells; [`cols`] for plain ones).
pub fn table_region(
    label: &'static str,
    head: impl IntoView + 'static,
    rows: impl IntoView + 'static,
) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label=label>
            <table>
                <thead><tr>{head}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// A link inside the dashboard: followed without reloading the page.
pub fn link<L: IntoView + 'static>(path: &str, label: L, current: Option<&'static str>) -> impl IntoView + use<L> {
    let ctx = ctx();
    let href = format!("{}{}", crate::BASE, if path == "/" { "" } else { path });
    let target = path.to_string();
    view! {
        <a href=href aria-current=current on:click=move |e: leptos::ev::MouseEvent| {
            if !(e.ctrl_key() || e.meta_key() || e.shift_key()) {
                e.prevent_default();
                ctx.notice.set(String::new());
                ctx.go(&target);
            }
        }>{label}</a>
    }
}

/// Data a page shows: loaded when the page opens and again whenever the live
/// stream reports a change (or `also` changes, for filters).
pub fn load<T, F, Fut>(fetch: F) -> LocalResource<Result<T, ApiError>>
where
    T: 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let ctx = ctx();
    LocalResource::new(move || {
        ctx.live.track();
        fetch()
    })
}

/// GET `path` as [`load`] does.
pub fn load_path<T: DeserializeOwned + 'static>(
    path: impl Fn() -> String + 'static,
) -> LocalResource<Result<T, ApiError>> {
    load(move || {
        let path = path();
        async move { api::get::<T>(&path).await }
    })
}

/// What `data` holds, drawn by `show`; "Loading…" until it comes, the error if it failed.
pub fn shown<T, V>(data: LocalResource<Result<T, ApiError>>, show: impl Fn(T) -> V + 'static) -> impl IntoView
where
    T: Clone + 'static,
    V: IntoView + 'static,
{
    let ctx = ctx();
    // Kept in the reactive arena: a view's closures must be shareable, `show` need not be.
    let show = StoredValue::new_local(show);
    move || match data.get() {
        None => view! { <p class="loading" role="status">"Loading…"</p> }.into_any(),
        Some(Ok(value)) => show.with_value(|show| show(value).into_any()),
        Some(Err(e)) => {
            if e.signed_out() {
                ctx.signed_out("Your session ended. Sign in again.");
            }
            view! { <p class="error" role="alert">{e.message}</p> }.into_any()
        }
    }
}

/// A form's change in flight: busy while it runs, its error, and the
/// Idempotency-Key it keeps until the change is made.
#[derive(Clone, Copy)]
pub struct Change {
    pub busy: RwSignal<bool>,
    pub error: RwSignal<String>,
    key: RwSignal<String>,
}

impl Change {
    pub fn new() -> Change {
        Change { busy: RwSignal::new(false), error: RwSignal::new(String::new()), key: RwSignal::new(api::new_key()) }
    }

    /// Runs `make(key)` unless one is running; `done` gets its answer.
    pub fn run<T, Fut>(self, make: impl FnOnce(String) -> Fut + 'static, done: impl FnOnce(T) + 'static)
    where
        T: 'static,
        Fut: Future<Output = Result<T, ApiError>> + 'static,
    {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(String::new());
        let ctx = ctx();
        let key = self.key.get_untracked();
        spawn_local(async move {
            let result = make(key).await;
            self.busy.set(false);
            match result {
                Ok(value) => {
                    self.key.set(api::new_key());
                    done(value);
                }
                Err(e) if e.signed_out() => ctx.signed_out("Your session ended. Sign in again."),
                Err(e) => self.error.set(e.message),
            }
        });
    }

    /// The error, announced, under the form.
    pub fn error_view(self) -> impl IntoView {
        move || {
            let text = self.error.get();
            (!text.is_empty()).then(|| view! { <p class="error" role="alert">{text}</p> })
        }
    }
}

/// The value of `name` in the address bar's query (`?user_id=usr_…`), or empty.
pub fn from_address(name: &str) -> String {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .map(|v| js_sys::decode_uri_component(v).map(String::from).unwrap_or_default())
        .unwrap_or_default()
}

/// The amount typed into a form, in `currency`; `None` (and the form's error
/// says how to write one) when it is not an amount.
pub fn typed_amount(text: &str, currency: &str, change: Change) -> Option<dots_shared::money::Money> {
    use dots_shared::money::{Currency, Money};
    let money = Currency::parse(currency).ok().and_then(|c| Money::from_typed(text, c).ok());
    if money.is_none() {
        change.error.set("Enter an amount, like 25 or 25.50.".into());
    }
    money
}

/// A labelled text field bound to `value`.
pub fn field(
    label: &'static str,
    id: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id name=id type=kind autocomplete=autocomplete
                prop:value=move || value.get()
                on:input=move |e| value.set(event_target_value(&e)) />
        </div>
    }
}

/// A labelled choice bound to `value`: `(value, label)` options.
pub fn choice(
    label: &'static str,
    id: &'static str,
    options: Vec<(String, String)>,
    value: RwSignal<String>,
) -> impl IntoView {
    let options = options
        .into_iter()
        .map(|(v, l)| {
            let selected = v == value.get_untracked();
            view! { <option value=v selected=selected>{l}</option> }
        })
        .collect_view();
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id name=id on:change=move |e| value.set(event_target_value(&e))>{options}</select>
        </div>
    }
}

/// The button that opens (and closes) a page's form for something new, for the
/// roles from `needed` up.
pub fn opener(label: &'static str, needed: &str, open: RwSignal<bool>) -> impl IntoView + use<> {
    ctx().can(needed).then(|| {
        view! {
            <div class="actions">
                <button class="primary" on:click=move |_| open.update(|o| *o = !*o) aria-expanded=move || open.get().to_string()>
                    {label}
                </button>
            </div>
        }
    })
}

/// The buttons to make a new payout, transfer or refill, for those who may.
pub fn money_actions() -> impl IntoView {
    let ctx = ctx();
    ctx.can("admin").then(|| {
        let to = |kind: NewKind| match kind {
            NewKind::Payout => "/transfers/new-payout",
            NewKind::Balance => "/transfers/new-balance",
            NewKind::Refill => "/transfers/new-refill",
        };
        view! {
            <div class="actions">
                {link(to(NewKind::Payout), "New payout", None)}
                {link(to(NewKind::Balance), "New balance transfer", None)}
                {link(to(NewKind::Refill), "Add money", None)}
            </div>
        }
    })
}
