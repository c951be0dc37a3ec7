//! Signing in (with the authenticator's code once two-factor sign-in is on),
//! joining a team from an invitation's link, resetting a forgotten password, and
//! turning two-factor sign-in on.

use dots_shared::api::{DashboardSession, Member, RecoveryCodes, TotpSetup};
use leptos::prelude::*;
use serde_json::json;

use super::{Change, field, link};
use crate::api;
use crate::{Route, ctx};

/// A page for visitors who are not signed in.
pub fn public_page(route: Route) -> impl IntoView {
    let page = match route {
        Route::Accept => accept().into_any(),
        Route::Reset => reset().into_any(),
        _ => sign_in().into_any(),
    };
    view! {
        <main id="page" class="narrow">
            <p class="brand"><span class="dot" aria-hidden="true"></span>"Dots"</p>
            {page}
        </main>
    }
}

/// The token after `#` in the address bar, taken out of it (it is a secret; the
/// address bar, history and screenshots should not keep it).
fn token_from_address() -> String {
    let Some(window) = web_sys::window() else { return String::new() };
    let hash = window.location().hash().unwrap_or_default();
    let token = hash.trim_start_matches('#').to_string();
    if !token.is_empty() {
        let path = window.location().pathname().unwrap_or_default();
        let _ = window.history().and_then(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path)));
    }
    token
}

pub(crate) fn notice_view() -> impl IntoView {
    let ctx = ctx();
    move || {
        let text = ctx.notice.get();
        (!text.is_empty()).then(|| view! { <p class="banner good" role="status">{text}</p> })
    }
}

fn sign_in() -> impl IntoView {
    let ctx = ctx();
    let (email, password, code) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let asks_code = RwSignal::new(false);
    let change = Change::new();
    let forgot = RwSignal::new(false);
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let body = json!({
            "email": email.get_untracked(),
            "password": password.get_untracked(),
            "code": asks_code.get_untracked().then(|| code.get_untracked()),
        });
        change.run(
            move |key| async move {
                let answer = api::send::<_, DashboardSession>("POST", "/dashboard/api/sign-in", &body, &key).await;
                if let Err(e) = &answer
                    && e.code == "two_factor_code_required"
                {
                    asks_code.set(true);
                }
                answer
            },
            move |session| {
                ctx.notice.set(String::new());
                ctx.signed_in(session);
                ctx.go("/");
            },
        );
    };
    let code_field = move || {
        asks_code.get().then(|| {
            view! {
                <div class="field">
                    <label for="code">"Code from your authenticator app"</label>
                    <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        aria-describedby="code-help" prop:value=move || code.get()
                        on:input=move |e| code.set(event_target_value(&e)) />
                    <p id="code-help" class="help">"Six digits, or one of your recovery codes."</p>
                </div>
            }
        })
    };
    view! {
        <h1>"Sign in"</h1>
        {notice_view()}
        {move || if forgot.get() { forgot_password(forgot).into_any() } else { view! {
            <form on:submit=submit novalidate>
                {field("Email", "email", "email", "username", email)}
                {field("Password", "password", "password", "current-password", password)}
                {code_field}
                {change.error_view()}
                <button type="submit" class="primary" disabled=move || change.busy.get()>
                    {move || if change.busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
            <p><button class="quiet" on:click=move |_| forgot.set(true)>"Forgot your password?"</button></p>
        }.into_any() }}
    }
}

/// Asks for a reset link by email.
fn forgot_password(forgot: RwSignal<bool>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let sent = RwSignal::new(false);
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let body = json!({ "email": email.get_untracked() });
        change.run(
            move |key| async move {
                api::send::<_, serde_json::Value>("POST", "/dashboard/api/password-reset", &body, &key).await
            },
            move |_| sent.set(true),
        );
    };
    view! {
        {move || if sent.get() {
            view! { <p class="banner good" role="status">
                "If that email has a dashboard account, a link to choose a new password is on its way. It works for an hour."
            </p> }.into_any()
        } else {
            view! {
                <form on:submit=submit novalidate>
                    <p>"We'll email you a link to choose a new password."</p>
                    {field("Email", "reset-email", "email", "username", email)}
                    {change.error_view()}
                    <button type="submit" class="primary" disabled=move || change.busy.get()>"Email me a link"</button>
                </form>
            }.into_any()
        }}
        <p><button class="quiet" on:click=move |_| forgot.set(false)>"Back to signing in"</button></p>
    }
}

/// An invitation's page: a new account's password, or the existing account's.
fn accept() -> impl IntoView {
    let words = PasswordPage {
        title: "Join your team on Dots",
        intro: "Choose a password of at least 12 characters. If you already have a Dots dashboard account, enter its password instead.",
        label: "Password",
        button: "Join the team",
    };
    password_page(words, "/dashboard/api/invitations/accept", |answer, ctx| {
        let member: Option<Member> = serde_json::from_value(answer).ok();
        let apps: Vec<String> = member.iter().flat_map(|m| &m.memberships).map(|m| m.app_name.clone()).collect();
        ctx.notice.set(format!("You joined {}. Sign in to start.", apps.join(", ")));
    })
}

/// A password reset's page: the new password.
fn reset() -> impl IntoView {
    let words = PasswordPage {
        title: "Choose a new password",
        intro: "Every other session of your account will be signed out.",
        label: "New password (at least 12 characters)",
        button: "Save the new password",
    };
    password_page(words, "/dashboard/api/password-reset/confirm", |_, ctx| {
        ctx.notice.set("Your password is changed, and every other session is signed out. Sign in.".into());
    })
}

struct PasswordPage {
    title: &'static str,
    intro: &'static str,
    label: &'static str,
    button: &'static str,
}

/// A page that sends the token of its link (after `#`) with a password to `path`,
/// then says `done` and goes to signing in.
fn password_page(
    words: PasswordPage,
    path: &'static str,
    done: impl Fn(serde_json::Value, crate::Ctx) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let ctx = ctx();
    let token = token_from_address();
    let password = RwSignal::new(String::new());
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let body = json!({ "token": token.clone(), "password": password.get_untracked() });
        change.run(
            move |key| async move { api::send::<_, serde_json::Value>("POST", path, &body, &key).await },
            move |answer| {
                done(answer, ctx);
                ctx.go("/sign-in");
            },
        );
    };
    view! {
        <h1>{words.title}</h1>
        <p>{words.intro}</p>
        <form on:submit=submit novalidate>
            {field(words.label, "new-password", "password", "new-password", password)}
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get()>{words.button}</button>
        </form>
        <p>{link("/sign-in", "Back to signing in", None)}</p>
    }
}

/// Two-factor sign-in: on or off, and turning it on.
pub fn security() -> impl IntoView {
    let ctx = ctx();
    let on = move || ctx.session.with(|s| s.as_ref().is_some_and(|s| s.member.two_factor));
    let setup = RwSignal::new(None::<TotpSetup>);
    let codes = RwSignal::new(None::<Vec<String>>);
    let code = RwSignal::new(String::new());
    let (start, confirm) = (Change::new(), Change::new());
    let begin = move |_| {
        start.run(
            move |key| async move { api::send::<_, TotpSetup>("POST", "/dashboard/api/two-factor", &(), &key).await },
            move |s| setup.set(Some(s)),
        );
    };
    let finish = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let body = json!({ "code": code.get_untracked() });
        confirm.run(
            move |key| async move {
                api::send::<_, RecoveryCodes>("POST", "/dashboard/api/two-factor/confirm", &body, &key).await
            },
            move |answer| {
                codes.set(Some(answer.recovery_codes));
                setup.set(None);
                ctx.session.update(|s| {
                    if let Some(s) = s {
                        s.member.two_factor = true;
                    }
                });
            },
        );
    };
    let body = move || {
        if let Some(list) = codes.get() {
            let items = list.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view();
            return view! {
                <p class="banner good" role="status">"Two-factor sign-in is on."</p>
                <h2>"Your recovery codes"</h2>
                <p>"Each works once, in place of a code, if you lose your phone. Keep them somewhere safe: they are not shown again."</p>
                <ul class="codes" id="recovery-codes">{items}</ul>
            }
            .into_any();
        }
        if on() {
            return view! { <p>"Two-factor sign-in is on: signing in asks for a code from your authenticator app."</p> }
                .into_any();
        }
        match setup.get() {
            None => view! {
                <p>"Signing in will ask for a code from an authenticator app on your phone as well as your password. Owners and admins need it to make changes."</p>
                {start.error_view()}
                <button class="primary" on:click=begin disabled=move || start.busy.get()>"Turn on two-factor sign-in"</button>
            }
            .into_any(),
            Some(s) => view! {
                <ol class="steps">
                    <li>"In your authenticator app, add an account with this key: "
                        <code id="totp-secret" class="secret">{s.secret.clone()}</code>
                        " (or " <a href=s.otpauth_url.clone()>"open it in the app"</a> " on this device)."</li>
                    <li>"Enter the six-digit code the app shows."</li>
                </ol>
                <form on:submit=finish novalidate>
                    <div class="field">
                        <label for="totp-code">"Code"</label>
                        <input id="totp-code" name="totp-code" type="text" inputmode="numeric" autocomplete="one-time-code"
                            prop:value=move || code.get() on:input=move |e| code.set(event_target_value(&e)) />
                    </div>
                    {confirm.error_view()}
                    <button type="submit" class="primary" disabled=move || confirm.busy.get()>"Turn it on"</button>
                </form>
            }
            .into_any(),
        }
    };
    view! {
        <h1>"Security"</h1>
        <h2>"Two-factor sign-in"</h2>
        {body}
    }
}
