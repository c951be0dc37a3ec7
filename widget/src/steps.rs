//! The flow, one component per step: phone → code → compliance → payout method →
//! review → done. Which steps a session needs comes from the server
//! (`GET /flow/v1/session`); the widget decides nothing about money.

use std::time::Duration;

use dots_shared::api::{ClaimedPayout, CreatePayoutMethodRequest, List, PayoutMethod};
use dots_shared::flow::{self, SessionState};
use dots_shared::theme::Theme;
use dots_shared::{Currency, Money, api as wire};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::api::{self, ApiError};
use crate::{Config, apply_theme, emit, emit_event};
use dots_shared::ErrorCode;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Step {
    Loading,
    Phone,
    Code,
    Compliance,
    Method,
    Review,
    Done,
    Ended,
}

const ORDER: [Step; 5] = [Step::Phone, Step::Code, Step::Compliance, Step::Method, Step::Review];

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Loading => "loading",
            Step::Phone => "phone",
            Step::Code => "code",
            Step::Compliance => "compliance",
            Step::Method => "payout_method",
            Step::Review => "review",
            Step::Done => "done",
            Step::Ended => "ended",
        }
    }
}

/// The flow's state, shared by every step (signals are `Copy`).
#[derive(Clone, Copy)]
struct Ctx {
    step: RwSignal<Step>,
    session: RwSignal<SessionState>,
    busy: RwSignal<bool>,
    notice: RwSignal<String>,
    error: RwSignal<String>,
    method: RwSignal<Option<PayoutMethod>>,
    result: RwSignal<Option<ClaimedPayout>>,
    /// Every step this session has needed so far (for the progress indicator: a
    /// step done stays counted).
    seen: RwSignal<Vec<Step>>,
    /// How the payee writes numbers (`de-DE`…): the host's `locale`, else the browser's.
    locale: RwSignal<String>,
    /// The number the payee typed, for a resend.
    typed_phone: RwSignal<String>,
    /// Title, words, and the error code of a flow that cannot go on.
    ended: RwSignal<(String, String, String)>,
    embedded: bool,
    modal: bool,
}

impl Ctx {
    fn is_link(&self) -> bool {
        self.session.with_untracked(|s| s.payout_link.is_some())
    }

    fn wants(&self, step: &str) -> bool {
        self.session.with_untracked(|s| s.steps.iter().any(|x| x == step))
    }

    fn applies(&self, step: Step) -> bool {
        let link = self.is_link();
        let s = self.session.get_untracked();
        match step {
            Step::Phone | Step::Code => (link || self.wants("verify_phone")) && !s.verified,
            Step::Compliance => {
                if link {
                    s.requirements.tax_id
                } else {
                    self.wants("compliance")
                }
            }
            Step::Method => link || self.wants("payout_method"),
            Step::Review => true,
            _ => false,
        }
    }

    /// The steps this session shows, for the progress indicator.
    fn plan(&self) -> Vec<Step> {
        self.seen.with(|seen| ORDER.into_iter().filter(|s| seen.contains(s)).collect())
    }

    fn go(&self, step: Step) {
        let needed: Vec<Step> = ORDER.into_iter().filter(|s| self.applies(*s) || *s == step).collect();
        self.seen.update(|seen| {
            for s in needed {
                if !seen.contains(&s) {
                    seen.push(s);
                }
            }
        });
        self.error.set(String::new());
        self.notice.set(String::new());
        self.busy.set(false);
        self.step.set(step);
        emit_event("STEP", json!({"step": step.name()}));
    }

    /// The next step after `from` that this session needs.
    fn advance(&self, from: Step) {
        let after = ORDER.iter().position(|s| *s == from).map_or(0, |i| i + 1);
        // The code step is only ever reached from the phone step.
        let next = ORDER[after..].iter().copied().find(|s| *s != Step::Code && self.applies(*s));
        self.go(next.unwrap_or(Step::Review));
    }

    fn end(&self, title: &str, error: &ApiError) {
        self.ended.set((title.to_string(), error.message.clone(), error.code.clone()));
        self.go(Step::Ended);
    }

    /// A refusal: the flow ends when it cannot go on, otherwise the payee reads why
    /// and tries again.
    fn fail(&self, error: ApiError) {
        self.busy.set(false);
        emit_event("ERROR", json!({"code": error.code, "step": self.step.get_untracked().name()}));
        if error.known() == Some(ErrorCode::SessionEnded) {
            // Claimed, canceled or ended by the sender: the message says which.
            self.end("This session has ended", &error);
        } else if error.is_session_over() {
            self.end("Your session has expired", &error);
        } else if matches!(error.known(), Some(ErrorCode::PayoutLinkNotFound | ErrorCode::PayoutLinkNotClaimable))
            || error.code == "flow_completed"
        {
            self.end("This link can't be used", &error);
        } else {
            self.error.set(error.message);
        }
    }

    /// Runs an action: busy while it runs, its refusal shown when it fails.
    fn run(self, action: impl std::future::Future<Output = Result<(), ApiError>> + 'static) {
        self.run_boxed(Box::pin(action));
    }

    // Boxed so that the widget carries one copy of this, not one per action.
    fn run_boxed(self, action: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>>>>) {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(String::new());
        spawn_local(async move {
            match action.await {
                Ok(()) => self.busy.set(false),
                Err(e) => self.fail(e),
            }
        });
    }

    async fn refresh(&self) -> Result<(), ApiError> {
        self.session.set(api::get::<SessionState>("/flow/v1/session").await?);
        Ok(())
    }

    fn amount(&self) -> Option<String> {
        let money = self.session.with_untracked(|s| {
            let link = s.payout_link.as_ref()?;
            Money::new(link.amount, Currency::parse(&link.currency).ok()?).ok()
        })?;
        Some(self.locale.with_untracked(|locale| format_money(money, locale)))
    }

    fn app_name(&self) -> String {
        self.session.with(|s| {
            s.brand["name"].as_str().unwrap_or(if s.app.name.is_empty() { "Dots" } else { &s.app.name }).to_string()
        })
    }
}

#[component]
pub(crate) fn Flow(config: Config, root: web_sys::HtmlElement) -> impl IntoView {
    let ctx = Ctx {
        step: RwSignal::new(Step::Loading),
        session: RwSignal::new(SessionState::default()),
        busy: RwSignal::new(false),
        notice: RwSignal::new(String::new()),
        error: RwSignal::new(String::new()),
        method: RwSignal::new(None),
        result: RwSignal::new(None),
        seen: RwSignal::new(Vec::new()),
        locale: RwSignal::new(config.locale.clone()),
        typed_phone: RwSignal::new(String::new()),
        ended: RwSignal::new(Default::default()),
        embedded: config.embedded,
        modal: config.modal,
    };
    spawn_local(start(ctx, config, root));
    // Focus moves to each new step (not on first load inside a host page: the
    // loader focuses the widget when it opens).
    Effect::new(move |previous: Option<Step>| {
        let step = ctx.step.get();
        if previous.is_some_and(|p| p != step) && (previous != Some(Step::Loading) || !ctx.embedded) {
            request_animation_frame(focus_step);
        }
        step
    });
    view! {
        <div class="dots-card" aria-busy=move || ctx.busy.get().to_string()>
            <Header ctx />
            <main class="dots-step">
                {move || match ctx.step.get() {
                    Step::Loading => view! { <p class="dots-loading">"Loading…"</p> }.into_any(),
                    Step::Phone => view! { <PhoneStep ctx /> }.into_any(),
                    Step::Code => view! { <CodeStep ctx /> }.into_any(),
                    Step::Compliance => view! { <ComplianceStep ctx /> }.into_any(),
                    Step::Method => view! { <MethodStep ctx /> }.into_any(),
                    Step::Review => view! { <ReviewStep ctx /> }.into_any(),
                    Step::Done => view! { <DoneStep ctx /> }.into_any(),
                    Step::Ended => view! { <EndedStep ctx /> }.into_any(),
                }}
                <p class="dots-error" role="alert">{move || ctx.error.get()}</p>
                <p class="dots-notice" role="status" aria-live="polite">{move || ctx.notice.get()}</p>
            </main>
            <footer class="dots-footer">"Secured by Dots"</footer>
        </div>
    }
}

fn focus_step() {
    let target = document()
        .query_selector("[data-autofocus]")
        .ok()
        .flatten()
        .or_else(|| document().query_selector(".dots-step h2").ok().flatten());
    if let Some(el) = target.and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok()) {
        let _ = el.focus();
    }
}

async fn start(ctx: Ctx, config: Config, root: web_sys::HtmlElement) {
    let opened = match (&config.session_token, &config.link_token) {
        (Some(token), _) => Ok(token.clone()),
        (None, Some(link)) => {
            let open = flow::OpenLinkRequest { link_token: link.clone() };
            api::send_json::<_, wire::FlowCreated>("POST", "/flow/v1/sessions", &open)
                .await
                .map(|s| s.token.unwrap_or_default())
        }
        (None, None) => {
            Err(ApiError { code: "invalid_session".into(), message: "This page was opened without a flow.".into() })
        }
    };
    let loaded = match opened {
        Ok(token) => {
            api::set_session_token(token);
            ctx.refresh().await
        }
        Err(e) => Err(e),
    };
    match loaded {
        Ok(()) => {
            let brand = ctx.session.with_untracked(|s| s.brand.clone());
            apply_theme(&root, &Theme::default().with_brand(&brand).with_appearance(&config.appearance));
            if ctx.session.with_untracked(|s| s.status == "completed") {
                ctx.end(
                    "This is already done",
                    &ApiError { code: "flow_completed".into(), message: "Nothing more is needed here.".into() },
                );
            } else {
                ctx.advance(Step::Loading);
            }
        }
        Err(e) => ctx.fail(e),
    }
    if ctx.step.get_untracked() == Step::Loading {
        // A failure that is not the end (a network error): say so and stop here.
        ctx.end("We couldn't load this", &ApiError { code: "load_failed".into(), message: ctx.error.get_untracked() });
    }
    emit("ready", json!({}));
}

#[component]
fn Header(ctx: Ctx) -> impl IntoView {
    let logo = move || ctx.session.with(|s| s.brand["logo_url"].as_str().map(str::to_string));
    let title = move || {
        ctx.session.track();
        match (ctx.is_link(), ctx.amount()) {
            (true, Some(amount)) => format!("{} sent you {amount}", ctx.app_name()),
            _ => format!("Get paid by {}", ctx.app_name()),
        }
    };
    let memo = move || ctx.session.with(|s| s.payout_link.as_ref().and_then(|l| l.memo.clone()).unwrap_or_default());
    let progress = move || {
        let step = ctx.step.get();
        ctx.session.track();
        let plan = ctx.plan();
        plan.iter().position(|s| *s == step).map(|i| (i + 1, plan.len()))
    };
    view! {
        <header class="dots-header">
            <div class="dots-brand">
                {move || logo().map(|src| view! { <img class="dots-logo" src=src alt="" /> })}
                <span class="dots-app">{move || ctx.app_name()}</span>
                <Show when=move || ctx.embedded && ctx.modal>
                    <button type="button" class="dots-close" aria-label="Close"
                        on:click=move |_| emit("exit", json!({"reason": "user"}))>"×"</button>
                </Show>
            </div>
            <h1 class="dots-title">{title}</h1>
            <p class="dots-memo">{memo}</p>
            {move || progress().map(|(at, of)| view! {
                <div class="dots-progress" role="progressbar" aria-label="Progress"
                    aria-valuemin="1" aria-valuemax=of.to_string() aria-valuenow=at.to_string()
                    aria-valuetext=format!("Step {at} of {of}")>
                    {(1..=of).map(|i| view! { <span class="dots-dot" class:dots-dot-done=move || { i <= at }></span> }).collect_view()}
                    <span class="dots-progress-text">{format!("Step {at} of {of}")}</span>
                </div>
            })}
        </header>
    }
}

#[component]
fn PhoneStep(ctx: Ctx) -> impl IntoView {
    let phone = RwSignal::new(String::new());
    let hint = ctx.session.with_untracked(|s| s.phone_hint.clone());
    // A pre-authenticated payee's phone is known: the code goes there.
    let known = !ctx.is_link() && ctx.session.with_untracked(|s| s.pre_authenticated);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed = phone.get_untracked().trim().to_string();
        if !known && !plausible_phone(&typed) {
            ctx.error.set("Enter your mobile number with its country code, like +1 201 555 0123.".into());
            return;
        }
        ctx.run(async move {
            let body = flow::SendCodeRequest { phone_number: (!known).then(|| typed.clone()) };
            ctx.typed_phone.set(if known { String::new() } else { typed.clone() });
            api::send_json::<_, flow::CodeSent>("POST", "/flow/v1/verification", &body).await?;
            emit_event("CODE_SENT", json!({}));
            ctx.go(Step::Code);
            ctx.notice.set("We sent you a code by text message.".into());
            Ok(())
        });
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">"Confirm it's you"</h2>
            {if known {
                view! { <p>"We'll text a 6-digit code to " {hint.clone().unwrap_or_default()} "."</p> }.into_any()
            } else {
                view! {
                    <label for="dots-phone">"Mobile number"</label>
                    <input id="dots-phone" type="tel" autocomplete="tel" inputmode="tel" required data-autofocus
                        placeholder="+1 201 555 0123" aria-describedby="dots-phone-hint"
                        prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev)) />
                    <p id="dots-phone-hint" class="dots-hint">
                        {match &hint {
                            Some(h) => format!("Use the number the payment was sent to ({h})."),
                            None => "We'll text you a code to confirm it's yours.".to_string(),
                        }}
                    </p>
                }.into_any()
            }}
            <button type="submit" class="dots-primary" data-autofocus=known.then_some("")
                disabled=move || ctx.busy.get()>"Send code"</button>
        </form>
    }
}

/// The amount as the payee's locale writes it, through `Intl.NumberFormat` given the
/// exact decimal string (no float); `Money::display` when the browser cannot.
fn format_money(money: Money, locale: &str) -> String {
    localized(money, locale).unwrap_or_else(|| money.display())
}

fn localized(money: Money, locale: &str) -> Option<String> {
    use js_sys::{Array, Function, Object, Reflect};
    use wasm_bindgen::JsCast;
    // Through Reflect: a malformed locale makes the constructor throw, and that must
    // become a fallback, not an exception through the wasm stack.
    let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let constructor: Function = Reflect::get(&intl, &"NumberFormat".into()).ok()?.dyn_into().ok()?;
    let options = Object::new();
    Reflect::set(&options, &"style".into(), &"currency".into()).ok()?;
    Reflect::set(&options, &"currency".into(), &money.currency().code().into()).ok()?;
    let formatter = Reflect::construct(&constructor, &Array::of2(&locale.into(), &options)).ok()?;
    let format: Function = Reflect::get(&formatter, &"format".into()).ok()?.dyn_into().ok()?;
    format.call1(&formatter, &money.decimal().into()).ok()?.as_string()
}

/// A cheap shape check; the server parses and validates the number for real.
fn plausible_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits) && s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// Seconds before another code may be asked for (the server's cool-down).
const RESEND_AFTER_S: u32 = 30;

#[component]
fn CodeStep(ctx: Ctx) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let wait = RwSignal::new(RESEND_AFTER_S);
    if let Ok(timer) =
        set_interval_with_handle(move || wait.update(|w| *w = w.saturating_sub(1)), Duration::from_secs(1))
    {
        on_cleanup(move || timer.clear());
    }
    listen_for_sms_code(code);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed: String = code.get_untracked().chars().filter(char::is_ascii_digit).collect();
        if typed.len() != 6 {
            ctx.error.set("Enter the 6 digits from the text message.".into());
            return;
        }
        ctx.run(async move {
            let check = flow::CheckCodeRequest { code: typed };
            api::send_json::<_, flow::CodeChecked>("POST", "/flow/v1/verification/check", &check).await?;
            ctx.refresh().await?;
            emit_event("PHONE_VERIFIED", json!({}));
            ctx.advance(Step::Code);
            ctx.notice.set("Phone confirmed.".into());
            Ok(())
        });
    };
    let resend = move |_: leptos::ev::MouseEvent| {
        ctx.run(async move {
            let typed = ctx.typed_phone.get_untracked();
            let body = flow::SendCodeRequest { phone_number: (!typed.is_empty()).then_some(typed) };
            api::send_json::<_, flow::CodeSent>("POST", "/flow/v1/verification", &body).await?;
            wait.set(RESEND_AFTER_S);
            ctx.notice.set("We sent a new code.".into());
            Ok(())
        });
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">"Enter your code"</h2>
            <label for="dots-code">"6-digit code"</label>
            <input id="dots-code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="6"
                pattern="[0-9]*" required data-autofocus aria-describedby="dots-code-hint"
                prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev)) />
            <p id="dots-code-hint" class="dots-hint">"The code works for 10 minutes."</p>
            <button type="submit" class="dots-primary" disabled=move || ctx.busy.get()>"Verify"</button>
            <button type="button" class="dots-link" disabled=move || { wait.get() > 0 || ctx.busy.get() } on:click=resend>
                {move || match wait.get() {
                    0 => "Send a new code".to_string(),
                    s => format!("Send a new code in {s} s"),
                }}
            </button>
        </form>
    }
}

/// WebOTP, where the browser has it: the SMS's last line (`@host #123456`) fills
/// the field.
fn listen_for_sms_code(code: RwSignal<String>) {
    let Some(window) = web_sys::window() else { return };
    if !js_sys::Reflect::has(&window, &"OTPCredential".into()).unwrap_or(false) {
        return;
    }
    let options = web_sys::CredentialRequestOptions::new();
    let otp = js_sys::Object::new();
    let transport = js_sys::Array::of1(&"sms".into());
    let _ = js_sys::Reflect::set(&otp, &"transport".into(), &transport);
    let _ = js_sys::Reflect::set(&options, &"otp".into(), &otp);
    let Ok(promise) = window.navigator().credentials().get_with_options(&options) else { return };
    spawn_local(async move {
        if let Ok(credential) = wasm_bindgen_futures::JsFuture::from(promise).await
            && let Some(value) = js_sys::Reflect::get(&credential, &"code".into()).ok().and_then(|c| c.as_string())
        {
            code.set(value);
        }
    });
}

#[component]
fn ComplianceStep(ctx: Ctx) -> impl IntoView {
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
            api::send_json::<_, wire::PayeeCompliance>("PUT", "/flow/v1/compliance", &body).await?;
            ctx.advance(Step::Compliance);
            Ok(())
        });
    };
    let field =
        |id: &'static str, label: &'static str, value: RwSignal<String>, kind: &'static str, auto: &'static str| {
            view! {
                <label for=id>{label}</label>
                <input id=id type=kind autocomplete=auto required
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            }
        };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">"A few details"</h2>
            <p class="dots-hint">"The sender needs these for tax reporting. We keep them encrypted."</p>
            <label for="dots-first">"Legal first name"</label>
            <input id="dots-first" autocomplete="given-name" required data-autofocus
                prop:value=move || first.get() on:input=move |ev| first.set(event_target_value(&ev)) />
            {field("dots-last", "Legal last name", last, "text", "family-name")}
            {field("dots-dob", "Date of birth", dob, "date", "bday")}
            <label for="dots-tax">{if tax_required { "SSN or ITIN" } else { "SSN or ITIN (optional)" }}</label>
            <input id="dots-tax" inputmode="numeric" autocomplete="off" placeholder="123-45-6789"
                prop:value=move || tax.get() on:input=move |ev| tax.set(event_target_value(&ev)) />
            <button type="submit" class="dots-primary" disabled=move || ctx.busy.get()>"Continue"</button>
        </form>
    }
}

/// "Bank account ending 6789", "PayPal ana@example.com", "Venmo +1 …".
fn describe(method: &PayoutMethod) -> String {
    match (&method.bank, &method.paypal, &method.venmo) {
        (Some(bank), _, _) => format!("Bank account ending {}", bank.account_last4),
        (_, Some(paypal), _) => format!("PayPal {}", paypal.email),
        (_, _, Some(venmo)) => format!("Venmo {}", venmo.phone_number),
        _ => "Your payout method".into(),
    }
}

#[component]
fn MethodStep(ctx: Ctx) -> impl IntoView {
    let saved = RwSignal::new(Vec::<PayoutMethod>::new());
    let choice = RwSignal::new("new".to_string());
    let kind = RwSignal::new("bank".to_string());
    let [routing, account, paypal, venmo] = std::array::from_fn(|_| RwSignal::new(String::new()));
    spawn_local(async move {
        if let Ok(list) = api::get::<List<PayoutMethod>>("/flow/v1/payout-methods").await {
            if let Some(first) = list.data.first() {
                choice.set(first.id.clone());
            }
            saved.set(list.data);
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let chosen = choice.get_untracked();
        if chosen != "new" {
            let method = saved.with_untracked(|m| m.iter().find(|m| m.id == chosen).cloned());
            ctx.method.set(method);
            ctx.advance(Step::Method);
            return;
        }
        let kind = kind.get_untracked();
        let field = |value: RwSignal<String>, of: &str| (kind == of).then(|| value.get_untracked().trim().to_string());
        let body = CreatePayoutMethodRequest {
            kind: if kind == "paypal" || kind == "venmo" { kind.clone() } else { "bank".into() },
            routing_number: field(routing, "bank"),
            account_number: field(account, "bank"),
            account_type: None,
            email: field(paypal, "paypal"),
            phone_number: field(venmo, "venmo"),
        };
        ctx.run(async move {
            let method = api::send_json::<_, PayoutMethod>("POST", "/flow/v1/payout-methods", &body).await?;
            ctx.method.set(Some(method));
            ctx.advance(Step::Method);
            Ok(())
        });
    };
    let input = move |id: &'static str, label: &'static str, value: RwSignal<String>, mode: &'static str| {
        view! {
            <label for=id>{label}</label>
            <input id=id inputmode=mode autocomplete="off" required
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
        }
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1" data-autofocus>"Where should we send it?"</h2>
            <fieldset class="dots-choices">
                <legend class="dots-sr">"Payout method"</legend>
                {move || saved.get().into_iter().map(|method| {
                    let id = method.id.clone();
                    let checked_id = id.clone();
                    view! {
                        <label class="dots-choice">
                            <input type="radio" name="dots-method" value=id.clone()
                                prop:checked=move || choice.get() == checked_id
                                on:change=move |_| choice.set(id.clone()) />
                            {describe(&method)}
                        </label>
                    }
                }).collect_view()}
                <Show when=move || !saved.get().is_empty()>
                    <label class="dots-choice">
                        <input type="radio" name="dots-method" value="new" prop:checked=move || choice.get() == "new"
                            on:change=move |_| choice.set("new".into()) />
                        "Add a new one"
                    </label>
                </Show>
            </fieldset>
            <Show when=move || choice.get() == "new">
                <fieldset class="dots-kinds">
                    <legend>"Send it to"</legend>
                    {[("bank", "Bank account"), ("paypal", "PayPal"), ("venmo", "Venmo")].map(|(value, label)| view! {
                        <label class="dots-choice">
                            <input type="radio" name="dots-kind" value=value prop:checked=move || kind.get() == value
                                on:change=move |_| kind.set(value.into()) />
                            {label}
                        </label>
                    }).collect_view()}
                </fieldset>
                {move || match kind.get().as_str() {
                    "paypal" => view! {
                        <label for="dots-paypal">"PayPal email"</label>
                        <input id="dots-paypal" type="email" autocomplete="email" required
                            prop:value=move || paypal.get() on:input=move |ev| paypal.set(event_target_value(&ev)) />
                    }.into_any(),
                    "venmo" => input("dots-venmo", "Venmo phone number", venmo, "tel").into_any(),
                    _ => view! {
                        {input("dots-routing", "Routing number", routing, "numeric")}
                        {input("dots-account", "Account number", account, "numeric")}
                    }.into_any(),
                }}
            </Show>
            <button type="submit" class="dots-primary" disabled=move || ctx.busy.get()>"Continue"</button>
        </form>
    }
}

#[component]
fn ReviewStep(ctx: Ctx) -> impl IntoView {
    let link = ctx.is_link();
    let destination = ctx.method.with_untracked(|m| m.as_ref().map(describe));
    let amount = ctx.amount();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        ctx.run(async move {
            let (flow_id, user_id) = ctx.session.with_untracked(|s| (s.flow_id.clone(), s.user_id.clone()));
            let success = if ctx.is_link() {
                let payout_method_id =
                    ctx.method.with_untracked(|m| m.as_ref().map(|m| m.id.clone())).unwrap_or_default();
                let claim = flow::ClaimRequest { payout_method_id };
                let claimed = api::send_json::<_, wire::Claimed>("POST", "/flow/v1/claim", &claim).await?;
                let success = json!({"flow_id": flow_id, "user_id": user_id, "payout_link_id": claimed.payout_link_id,
                       "payout_transfer_id": claimed.payout.id});
                ctx.result.set(Some(claimed.payout));
                success
            } else {
                api::send_json::<_, flow::Completed>("POST", "/flow/v1/complete", &json!({})).await?;
                json!({"flow_id": flow_id, "user_id": user_id})
            };
            ctx.go(Step::Done);
            ctx.notice.set("Done.".into());
            emit_event("SUCCESS", json!({}));
            emit("success", success);
            Ok(())
        });
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">"Review"</h2>
            <dl class="dots-review">
                {amount.clone().map(|a| view! { <dt>"Amount"</dt><dd class="dots-amount">{a}</dd> })}
                {destination.map(|d| view! { <dt>"To"</dt><dd>{d}</dd> })}
            </dl>
            <button type="submit" class="dots-primary" data-autofocus disabled=move || ctx.busy.get()>
                {match (link, amount) {
                    (true, Some(a)) => format!("Claim {a}"),
                    _ => "Finish".to_string(),
                }}
            </button>
        </form>
    }
}

#[component]
fn DoneStep(ctx: Ctx) -> impl IntoView {
    let (title, detail) = if ctx.is_link() {
        let status = ctx.result.with_untracked(|r| r.as_ref().map_or("pending", |p| p.status.as_str()).to_string());
        (
            format!("{} is on its way", ctx.amount().unwrap_or_else(|| "Your money".into())),
            format!(
                "It goes to: {}. Status: {status}.",
                ctx.method.with_untracked(|m| m.as_ref().map_or_else(|| "your payout method".into(), describe))
            ),
        )
    } else {
        ("You're all set".to_string(), "You can close this window.".to_string())
    };
    // A flow opened as a page of its own goes back to the app, if it said where.
    let back = ctx.session.with_untracked(|s| s.redirect_url.clone());
    let next = match (ctx.embedded, back) {
        (true, _) => Some(
            view! {
                <button type="button" class="dots-primary" data-autofocus
                    on:click=move |_| emit("exit", json!({"reason": "done"}))>"Done"</button>
            }
            .into_any(),
        ),
        (false, Some(url)) => Some(view! { <a class="dots-primary" href=url data-autofocus>"Continue"</a> }.into_any()),
        (false, None) => None,
    };
    view! {
        <section class="dots-result dots-success">
            <h2 tabindex="-1">{title}</h2>
            <p>{detail}</p>
            {next}
        </section>
    }
}

#[component]
fn EndedStep(ctx: Ctx) -> impl IntoView {
    let (title, message, code) = ctx.ended.get_untracked();
    let expired = code == "session_expired" || code == "invalid_session";
    let close = {
        let (code, message) = (code.clone(), message.clone());
        move |_| emit("exit", json!({"reason": "error", "error": {"code": code, "message": message}}))
    };
    view! {
        <section class="dots-result dots-failure">
            <h2 tabindex="-1" data-autofocus>{title}</h2>
            <p>{message}</p>
            {if ctx.embedded {
                view! { <button type="button" class="dots-primary" on:click=close>"Close"</button> }.into_any()
            } else if expired {
                view! {
                    <button type="button" class="dots-primary"
                        on:click=move |_| { let _ = window().location().reload(); }>"Start again"</button>
                }.into_any()
            } else {
                view! { <p class="dots-hint">"Ask the sender for a new link."</p> }.into_any()
            }}
        </section>
    }
}
