//! The flow, one component per step: phone → code → compliance → payout method →
//! review → done. Which steps a session needs comes from the server
//! (`GET /flow/v1/session`); the widget decides nothing about money.

use dots_shared::ErrorCode;
use dots_shared::flow::{self, SessionState};
use dots_shared::theme::Theme;
use dots_shared::{Currency, Money, api as wire};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::words::{fill, t};
use crate::{Config, apply_theme, emit, emit_event, object};

mod amount;
mod code;
mod compliance;
mod done;
mod method;
mod phone;
mod review;
mod status;

use code::CodeStep;
use compliance::ComplianceStep;
use done::{DoneStep, EndedStep};
use method::{Destination, MethodStep};
use phone::PhoneStep;
use review::ReviewStep;
use status::StatusStep;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Step {
    Loading,
    Phone,
    Code,
    Compliance,
    Method,
    Review,
    Done,
    /// A claimed link's payout, followed on the link's page.
    Status,
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
            Step::Status => "payout_status",
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
    /// The field `error` is about (its input's id), shown under it; empty: under the step.
    field: RwSignal<&'static str>,
    /// Where the money goes: the chosen payout method's id and how it reads.
    method: RwSignal<Option<Destination>>,
    /// Every step this session has needed so far (for the progress indicator: a
    /// step done stays counted).
    seen: RwSignal<Vec<Step>>,
    /// How the payee writes numbers (`de-DE`…): the host's `locale`, else the browser's.
    locale: RwSignal<String>,
    /// Where the last code went (the number and country the payee chose), for a resend.
    typed_phone: RwSignal<flow::SendCodeRequest>,
    /// Title, words, and the error code of a flow that cannot go on.
    ended: RwSignal<(String, String, String)>,
    /// A claimed link's failed payout is being sent again, to another method.
    resending: RwSignal<bool>,
    embedded: bool,
    modal: bool,
}

impl Ctx {
    fn is_link(&self) -> bool {
        self.session.with_untracked(|s| s.payout_link.is_some())
    }

    /// A claimed link's page: the payee follows the payout (and may resend it).
    fn follows_claim(&self) -> bool {
        self.session.with_untracked(|s| s.payout_link.as_ref().is_some_and(|l| l.status == "claimed"))
    }

    fn wants(&self, step: &str) -> bool {
        self.session.with_untracked(|s| s.steps.iter().any(|x| x == step))
    }

    fn applies(&self, step: Step) -> bool {
        let link = self.is_link();
        // Read in place: a copy of the session would bring its `Clone` into the widget.
        let (verified, tax_id) = self.session.with_untracked(|s| (s.verified, s.requirements.tax_id));
        if self.follows_claim() {
            // Prove the phone again; choose a method and review only to resend.
            return match step {
                Step::Phone | Step::Code => !verified,
                Step::Method | Step::Review => self.resending.get_untracked(),
                _ => false,
            };
        }
        match step {
            Step::Phone | Step::Code => (link || self.wants("verify_phone")) && !verified,
            Step::Compliance => {
                if link {
                    tax_id
                } else {
                    self.wants("compliance")
                }
            }
            Step::Method => link || self.wants("payout_method") || self.wants("payout"),
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
        self.field.set("");
        self.notice.set(String::new());
        self.busy.set(false);
        self.step.set(step);
        emit_event("STEP", object(&[("step", step.name().into())]));
    }

    /// The next step after `from` that this session needs.
    fn advance(&self, from: Step) {
        if self.follows_claim() && self.session.with_untracked(|s| s.verified) && !self.resending.get_untracked() {
            return self.go(Step::Status);
        }
        let after = ORDER.iter().position(|s| *s == from).map_or(0, |i| i + 1);
        // The code step is only ever reached from the phone step.
        let next = ORDER[after..].iter().copied().find(|s| *s != Step::Code && self.applies(*s));
        self.go(next.unwrap_or(Step::Review));
    }

    /// An error of the payee's own input, shown under it (the input `id`).
    fn field_error(&self, id: &'static str, words: &str) {
        self.field.set(id);
        self.error.set(words.into());
    }

    /// `aria-invalid` of input `id`. One closure type for every input: each
    /// distinct reactive closure is its own copy of Leptos' effect code in the Wasm.
    fn invalid(self, id: &'static str) -> impl Fn() -> Option<&'static str> + Copy + Send + Sync + 'static {
        move || (self.field.get() == id).then_some("true")
    }

    /// The error under input `id` (one closure type, as for [`Ctx::invalid`]).
    fn error_of(self, id: &'static str) -> impl Fn() -> String + Copy + Send + Sync + 'static {
        move || if self.field.get() == id { self.error.get() } else { String::new() }
    }

    /// The payee changed input `id`: its error is answered.
    fn changed(&self, id: &'static str) {
        if self.field.get_untracked() == id {
            self.field.set("");
            self.error.set(String::new());
        }
    }

    fn end(&self, title: &str, error: &ApiError) {
        self.ended.set((title.to_string(), error.message.clone(), error.code.clone()));
        self.go(Step::Ended);
    }

    /// A refusal: the flow ends when it cannot go on, otherwise the payee reads why
    /// and tries again.
    fn fail(&self, error: ApiError) {
        const ENDED: &[&str] = &[ErrorCode::SessionEnded.as_str()];
        const UNUSABLE: &[&str] = &[ErrorCode::PayoutLinkNotFound.as_str(), ErrorCode::PayoutLinkNotClaimable.as_str()];
        const CANCELED: &[&str] = &[ErrorCode::PayoutLinkCanceled.as_str()];
        const EXPIRED: &[&str] = &[ErrorCode::PayoutLinkExpired.as_str()];
        self.busy.set(false);
        // An earlier "we sent you a code" is not what the payee needs under a refusal.
        self.notice.set(String::new());
        emit_event(
            "ERROR",
            object(&[("code", error.code.as_str().into()), ("step", self.step.get_untracked().name().into())]),
        );
        if error.is_one_of(ENDED) && self.is_link() && !self.follows_claim() {
            // The link was claimed (in another tab?), canceled or has expired: its
            // page opens it again and shows what it has become.
            let _ = window().location().reload();
        } else if error.is_one_of(ENDED) {
            // Ended by the sender: the message says so.
            self.end(t().ended_title(), &error);
        } else if error.is_session_over() {
            self.end(t().expired_title(), &error);
        } else if error.is_one_of(CANCELED) {
            self.end(t().link_canceled_title(), &error);
        } else if error.is_one_of(EXPIRED) {
            self.end(t().link_expired_title(), &error);
        } else if error.is_one_of(UNUSABLE) || error.code == "flow_completed" {
            self.end(t().unusable_title(), &error);
        } else {
            self.field.set(field_of(error.param.as_deref()));
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
        self.field.set("");
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
        self.link_money(|link| link.amount)
    }

    /// A flow that pays out (its `payout` step) rather than a link's claim.
    fn withdraws(&self) -> bool {
        !self.is_link() && self.wants("payout")
    }

    /// `money` as the payee's locale writes it.
    fn format(&self, money: Money) -> String {
        self.locale.with_untracked(|locale| format_money(money, locale))
    }

    /// Minor units of the withdrawal's currency, formatted.
    fn withdrawal_money(&self, minor: i64) -> Option<String> {
        let currency = amount::offer().currency?;
        Money::new(minor, currency).ok().map(|m| self.format(m))
    }

    /// A sum of the payout link's (`pick` chooses which), formatted in its currency.
    fn link_money(&self, pick: impl Fn(&dots_shared::flow::SessionLink) -> i64) -> Option<String> {
        let money = self.session.with_untracked(|s| {
            let link = s.payout_link.as_ref()?;
            Money::new(pick(link), Currency::parse(&link.currency).ok()?).ok()
        })?;
        Some(self.format(money))
    }

    /// The app's name: the session's, else the page's (the server names the app of
    /// a link it could not open a session for), else "Dots".
    fn app_name(&self) -> String {
        self.session.with(|s| {
            let name = s.brand.name.as_deref().unwrap_or(&s.app.name);
            match name {
                "" => document()
                    .document_element()
                    .and_then(|html| html.get_attribute("data-app"))
                    .unwrap_or_else(|| "Dots".into()),
                name => name.to_string(),
            }
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
        field: RwSignal::new(""),
        method: RwSignal::new(None),
        seen: RwSignal::new(Vec::new()),
        locale: RwSignal::new(config.locale.clone()),
        typed_phone: RwSignal::new(Default::default()),
        ended: RwSignal::new(Default::default()),
        resending: RwSignal::new(false),
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
                    Step::Loading => view! { <p class="dots-loading">{t().loading()}</p> }.into_any(),
                    Step::Phone => view! { <PhoneStep ctx /> }.into_any(),
                    Step::Code => view! { <CodeStep ctx /> }.into_any(),
                    Step::Compliance => view! { <ComplianceStep ctx /> }.into_any(),
                    Step::Method => view! { <MethodStep ctx /> }.into_any(),
                    Step::Review => view! { <ReviewStep ctx /> }.into_any(),
                    Step::Done => view! { <DoneStep ctx /> }.into_any(),
                    Step::Status => view! { <StatusStep ctx /> }.into_any(),
                    Step::Ended => view! { <EndedStep ctx /> }.into_any(),
                }}
                <p class="dots-error" role="alert">
                    {ctx.error_of("")}
                </p>
                <p class="dots-notice" role="status" aria-live="polite">{move || ctx.notice.get()}</p>
            </main>
            <footer class="dots-footer">{t().secured_by()}</footer>
        </div>
    }
}

/// The input a refused request field was typed in: the first of its inputs on
/// the page (a phone number is the phone step's or Venmo's); none is "".
fn field_of(param: Option<&str>) -> &'static str {
    const INPUTS: &[(&str, &[&str])] = &[
        ("phone_number", &["dots-phone", "dots-venmo"]),
        ("code", &["dots-code"]),
        ("legal_first_name", &["dots-first"]),
        ("legal_last_name", &["dots-last"]),
        ("date_of_birth", &["dots-dob"]),
        ("tax_id", &["dots-tax"]),
        ("routing_number", &["dots-routing"]),
        ("account_number", &["dots-account"]),
        ("email", &["dots-paypal"]),
    ];
    let Some(ids) = INPUTS.iter().find(|(p, _)| Some(*p) == param).map(|(_, ids)| *ids) else { return "" };
    ids.iter().copied().find(|id| document().get_element_by_id(id).is_some()).unwrap_or_default()
}

/// An input of the payee's with its label and its error under it (see
/// [`field_error`]); `focus` marks the step's first input.
#[allow(clippy::too_many_arguments)]
fn input(
    ctx: Ctx,
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    kind: &'static str,
    mode: &'static str,
    auto: &'static str,
    focus: bool,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input id=id type=kind inputmode=mode autocomplete=auto required data-autofocus=focus.then_some("")
            aria-invalid=ctx.invalid(id) aria-describedby=format!("{id}-error")
            prop:value=value
            on:input=move |ev| {
                value.set(event_target_value(&ev));
                ctx.changed(id);
            } />
        {field_error(ctx, id)}
    }
}

/// The error of input `id`, under it (set by [`Ctx::fail`] or the step, cleared
/// when the payee changes the value: [`Ctx::changed`]).
fn field_error(ctx: Ctx, id: &'static str) -> impl IntoView {
    view! {
        <p class="dots-error dots-field-error" id=format!("{id}-error") role="alert">
            {ctx.error_of(id)}
        </p>
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
        (None, Some(link)) => match config.opened.clone() {
            // Opened by the page while the Wasm was loading.
            Some(answer) => api::read::<wire::FlowCreated>(answer),
            None => {
                let open = flow::OpenLinkRequest { link_token: link.clone() };
                api::send_json::<_, wire::FlowCreated>("POST", "/flow/v1/sessions", &open).await
            }
        }
        .map(|s| s.token.unwrap_or_default()),
        (None, None) => Err(ApiError::new("invalid_session", t().no_flow())),
    };
    let loaded = match opened {
        Ok(token) => {
            api::set_session_token(token);
            let state = match config.state.clone() {
                Some(state) => api::read::<SessionState>(state).map(|s| ctx.session.set(s)),
                None => ctx.refresh().await,
            };
            // A flow that pays out: what the payee may withdraw, read once, now.
            match state {
                Ok(()) if ctx.withdraws() && ctx.session.with_untracked(|s| s.status == "active") => {
                    // Priced at all the payee may take, unless they type less on the review.
                    api::get::<amount::Offer>("/flow/v1/payout").await.map(amount::set_offer)
                }
                other => other,
            }
        }
        Err(e) => Err(e),
    };
    match loaded {
        Ok(()) => {
            let brand = ctx.session.with_untracked(|s| s.brand.clone());
            apply_theme(&root, &Theme::default().with_brand(&brand).with_brand(&config.appearance));
            if ctx.session.with_untracked(|s| s.status == "completed") {
                ctx.end(t().already_done_title(), &ApiError::new("flow_completed", t().already_done()));
            } else {
                ctx.advance(Step::Loading);
            }
        }
        Err(e) => ctx.fail(e),
    }
    if ctx.step.get_untracked() == Step::Loading {
        // A failure that is not the end (a network error): say so and stop here.
        ctx.end(t().load_failed_title(), &ApiError::new("load_failed", ctx.error.get_untracked()));
    }
    emit("ready", object(&[]));
}

#[component]
fn Header(ctx: Ctx) -> impl IntoView {
    let logo = move || ctx.session.with(|s| s.brand.logo_url.clone());
    let title = move || {
        ctx.session.track();
        match (ctx.is_link(), ctx.amount()) {
            (true, Some(amount)) => fill(t().title_sent_you(), &[&ctx.app_name(), &amount]),
            _ => fill(t().title_get_paid(), &[&ctx.app_name()]),
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
                    <button type="button" class="dots-close" aria-label=t().close()
                        on:click=move |_| emit("exit", object(&[("reason", "user".into())]))>"×"</button>
                </Show>
            </div>
            <h1 class="dots-title">{title}</h1>
            <p class="dots-memo">{memo}</p>
            {move || progress().map(|(at, of)| view! {
                <div class="dots-progress" role="progressbar" aria-label=t().progress()
                    aria-valuemin="1" aria-valuemax=of.to_string() aria-valuenow=at.to_string()
                    aria-valuetext=fill(t().step_of(), &[&at.to_string(), &of.to_string()])>
                    {(1..=of).map(|i| view! { <span class="dots-dot" class:dots-dot-done=move || { i <= at }></span> }).collect_view()}
                    <span class="dots-progress-text">{fill(t().step_of(), &[&at.to_string(), &of.to_string()])}</span>
                </div>
            })}
        </header>
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
