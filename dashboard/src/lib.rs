//! The Dots dashboard: a Leptos client-side app where an app's team signs in and
//! runs its payouts. Served by the server at `/dashboard` (`boot.js` loads it);
//! every page calls the same `/v2` API as an app's backend, as the signed-in
//! member (the session cookie, `Dots-App`, the CSRF token): the server decides what
//! a role may do, the pages only leave out what it would refuse.

mod api;
mod pages;
mod show;

use dots_shared::api::{DashboardSession, Membership};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;

/// Where the member is: one page of the dashboard, from the address bar.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    SignIn,
    /// An invitation's link (its token after `#`).
    Accept,
    /// A password reset's link (its token after `#`).
    Reset,
    Security,
    Overview,
    Users,
    User(String),
    Transfers,
    Transfer(String),
    /// A new payout, balance transfer or refill.
    New(NewKind),
    Links,
    Members,
    Audit,
    Webhooks,
    Webhook(String),
    Settings,
    /// The brand editor, with the real widget as its preview.
    Brand,
    /// Onboarding flows: making one, and those made.
    Flows,
    /// The operator's console (signed in with the operator key).
    Operator(Op),
    NotFound,
}

/// The operator console's pages.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Apps,
    App(String),
    Audit,
    /// The ACH rail's NACHA files.
    BankFiles,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NewKind {
    Payout,
    Balance,
    Refill,
}

/// The dashboard's paths all live under this one.
pub const BASE: &str = "/dashboard";

impl Route {
    fn parse(path: &str) -> Route {
        let rest = path.strip_prefix(BASE).unwrap_or(path).trim_matches('/');
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [] => Route::Overview,
            ["sign-in"] => Route::SignIn,
            ["accept"] => Route::Accept,
            ["reset"] => Route::Reset,
            ["security"] => Route::Security,
            ["users"] => Route::Users,
            ["users", id] => Route::User(id.to_string()),
            ["transfers"] => Route::Transfers,
            ["transfers", "new-payout"] => Route::New(NewKind::Payout),
            ["transfers", "new-balance"] => Route::New(NewKind::Balance),
            ["transfers", "new-refill"] => Route::New(NewKind::Refill),
            ["transfers", id] => Route::Transfer(id.to_string()),
            ["links"] => Route::Links,
            ["members"] => Route::Members,
            ["audit-log"] => Route::Audit,
            ["webhooks"] => Route::Webhooks,
            ["webhooks", id] => Route::Webhook(id.to_string()),
            ["settings"] => Route::Settings,
            ["brand"] => Route::Brand,
            ["flows"] => Route::Flows,
            ["operator"] => Route::Operator(Op::Apps),
            ["operator", "apps", id] => Route::Operator(Op::App(id.to_string())),
            ["operator", "audit-log"] => Route::Operator(Op::Audit),
            ["operator", "bank-files"] => Route::Operator(Op::BankFiles),
            _ => Route::NotFound,
        }
    }

    /// Pages a visitor sees without signing in.
    fn public(&self) -> bool {
        matches!(self, Route::SignIn | Route::Accept | Route::Reset)
    }
}

/// What every page shares: where the member is, who they are, the app they act
/// for, and a counter the live event stream moves on (pages reload their data
/// when it does).
#[derive(Clone, Copy)]
pub struct Ctx {
    pub route: RwSignal<Route>,
    pub session: RwSignal<Option<DashboardSession>>,
    pub app: RwSignal<Option<Membership>>,
    pub live: RwSignal<u32>,
    /// Whether the live stream is connected (shown in the header).
    pub connected: RwSignal<bool>,
    /// A sentence shown at the top of the next page (after a change).
    pub notice: RwSignal<String>,
    /// The operator's console is signed in (its own session, beside a member's).
    pub operator: RwSignal<bool>,
}

impl Ctx {
    /// The member's role in the app they act for.
    pub fn role(&self) -> String {
        self.app.with(|a| a.as_ref().map(|m| m.role.clone()).unwrap_or_default())
    }

    /// Whether their role is `needed` or above (the server's own order).
    pub fn can(&self, needed: &str) -> bool {
        let rank = |role: &str| ["viewer", "reviewer", "admin", "owner"].iter().position(|r| *r == role);
        matches!((rank(&self.role()), rank(needed)), (Some(have), Some(need)) if have >= need)
    }

    /// Whether they may make changes now: owners and admins need two-factor sign-in on.
    pub fn can_change(&self, needed: &str) -> bool {
        let two_factor = self.session.with(|s| s.as_ref().is_some_and(|s| s.member.two_factor));
        self.can(needed) && (two_factor || !matches!(self.role().as_str(), "owner" | "admin"))
    }

    /// Goes to `path` (under [`BASE`]) without reloading the page.
    pub fn go(&self, path: &str) {
        let full = if path.starts_with(BASE) { path.to_string() } else { format!("{BASE}{path}") };
        if let Some(window) = web_sys::window() {
            let _ = window.history().and_then(|h| h.push_state_with_url(&JsValue::NULL, "", Some(&full)));
            window.scroll_to_with_x_and_y(0.0, 0.0);
        }
        let route = Route::parse(full.split(['?', '#']).next().unwrap_or_default());
        self.route.set(route);
    }

    /// The session began (or was found): act in the member's chosen app.
    pub fn signed_in(&self, session: DashboardSession) {
        let saved = storage().and_then(|s| s.get_item(APP_KEY).ok().flatten());
        let memberships = &session.member.memberships;
        let app = memberships.iter().find(|m| Some(&m.app_id) == saved.as_ref()).or(memberships.first()).cloned();
        api::set_caller(&session.csrf_token, app.as_ref().map_or("", |a| a.app_id.as_str()));
        self.app.set(app);
        self.session.set(Some(session));
    }

    /// Acts for another of the member's apps.
    pub fn switch_app(&self, app_id: &str) {
        let Some(session) = self.session.get_untracked() else { return };
        if let Some(app) = session.member.memberships.iter().find(|m| m.app_id == app_id).cloned() {
            if let Some(s) = storage() {
                let _ = s.set_item(APP_KEY, app_id);
            }
            api::set_caller(&session.csrf_token, &app.app_id);
            self.app.set(Some(app));
            self.go("/");
        }
    }

    /// The session is over (signed out, timed out, revoked): back to signing in.
    pub fn signed_out(&self, notice: &str) {
        api::set_caller("", "");
        if matches!(self.route.get_untracked(), Route::Operator(_)) {
            // The console asks for the operator key again, where it is.
            self.notice.set(notice.to_string());
            self.operator.set(false);
            return;
        }
        self.session.set(None);
        self.app.set(None);
        self.notice.set(notice.to_string());
        self.go("/sign-in");
    }
}

const APP_KEY: &str = "dots-dashboard-app";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

pub fn ctx() -> Ctx {
    expect_context::<Ctx>()
}

/// Starts the dashboard in `<main id="dots-dashboard">` (`boot.js` calls it once
/// the Wasm is loaded).
#[wasm_bindgen]
pub fn start() {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("dots-dashboard"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    root.set_inner_html("");
    let handle = leptos::mount::mount_to(root, app);
    // The dashboard is the page: it lives as long as the page does.
    std::mem::forget(handle);
}

fn current_path() -> String {
    web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_else(|| BASE.into())
}

fn app() -> impl IntoView {
    let ctx = Ctx {
        route: RwSignal::new(Route::parse(&current_path())),
        session: RwSignal::new(None),
        app: RwSignal::new(None),
        live: RwSignal::new(0),
        connected: RwSignal::new(false),
        notice: RwSignal::new(String::new()),
        operator: RwSignal::new(false),
    };
    provide_context(ctx);
    // Back and forward buttons.
    let on_pop = Closure::<dyn Fn()>::new(move || ctx.route.set(Route::parse(&current_path())));
    if let Some(window) = web_sys::window() {
        window.set_onpopstate(Some(on_pop.as_ref().unchecked_ref()));
    }
    on_pop.forget();
    let checked = RwSignal::new(false);
    // Is there a session already (a reload, a new tab)? (The operator's console
    // looks for its own.)
    if !matches!(ctx.route.get_untracked(), Route::Operator(_)) {
        spawn_local(async move {
            if let Ok(session) = api::get::<DashboardSession>("/dashboard/api/session").await {
                ctx.signed_in(session);
                if ctx.route.get_untracked() == Route::SignIn {
                    ctx.go("/");
                }
            } else if !ctx.route.get_untracked().public() {
                ctx.go("/sign-in");
            }
            checked.set(true);
        });
    }
    pages::live::follow(ctx);
    let signed_in = Memo::new(move |_| ctx.session.with(Option::is_some));
    // A page is drawn again only when the place or signing in changes: what it reads
    // while being built (the role, the session) does not redraw it (its own
    // closures follow what they show).
    move || {
        let (checked, route, signed_in) = (checked.get(), ctx.route.get(), signed_in.get());
        untrack(move || {
            if let Route::Operator(op) = route {
                pages::operator::console(op).into_any()
            } else if !checked {
                view! { <p class="loading" role="status">"Loading…"</p> }.into_any()
            } else if route.public() {
                pages::auth::public_page(route).into_any()
            } else if !signed_in {
                pages::auth::public_page(Route::SignIn).into_any()
            } else {
                pages::shell(route).into_any()
            }
        })
    }
}
