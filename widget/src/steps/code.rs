//! The code step: the six digits from the text message, a resend after the
//! cool-down, and WebOTP where the browser has it.

use std::time::Duration;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{Ctx, Step, field_error};
use crate::api::{self, ApiError};
use crate::words::{fill, t};
use crate::{emit_event, object};
use dots_shared::ErrorCode;
use dots_shared::flow;

/// Seconds before another code may be asked for (the server's cool-down).
const RESEND_AFTER_S: u32 = 30;

#[component]
pub(super) fn CodeStep(ctx: Ctx) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let wait = RwSignal::new(RESEND_AFTER_S);
    // The code can take no more tries (or has expired): only a new one helps.
    let locked = RwSignal::new(false);
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
            ctx.field_error("dots-code", t().err_code_format());
            return;
        }
        ctx.run(async move {
            let check = flow::CheckCodeRequest { code: typed };
            if let Err(refused) = api::send_json::<_, ()>("POST", "/flow/v1/verification/check", &check).await {
                return Err(refused_code(refused, code, locked));
            }
            ctx.refresh().await?;
            emit_event("PHONE_VERIFIED", object(&[]));
            // The next step's heading takes focus and says where the payee is; a
            // "confirmed" line would stay under it.
            ctx.advance(Step::Code);
            Ok(())
        });
    };
    let resend = move |_: leptos::ev::MouseEvent| {
        ctx.run(async move {
            let body = ctx.typed_phone.get_untracked();
            api::send_json::<_, ()>("POST", "/flow/v1/verification", &body).await?;
            wait.set(RESEND_AFTER_S);
            locked.set(false);
            code.set(String::new());
            ctx.notice.set(t().code_resent().into());
            Ok(())
        });
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">{t().code_title()}</h2>
            <label for="dots-code">{t().code_label()}</label>
            <input id="dots-code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="6"
                pattern="[0-9]*" required data-autofocus aria-describedby="dots-code-hint dots-code-error"
                aria-invalid=ctx.invalid("dots-code")
                prop:value=code
                on:input=move |ev| { code.set(event_target_value(&ev)); ctx.changed("dots-code"); } />
            {field_error(ctx, "dots-code")}
            <p id="dots-code-hint" class="dots-hint">
                {move || match (locked.get(), wait.get()) {
                    (false, _) => t().code_hint().to_string(),
                    (true, 0) => t().code_locked_now().to_string(),
                    (true, s) => fill(t().code_locked_wait(), &[&s.to_string()]),
                }}
            </p>
            <button type="submit" class="dots-primary" disabled=move || ctx.busy.get() || locked.get()>{t().verify()}</button>
            <button type="button" class="dots-link" disabled=move || { wait.get() > 0 || ctx.busy.get() } on:click=resend>
                {move || match wait.get() {
                    0 => t().resend().to_string(),
                    s => fill(t().resend_in(), &[&s.to_string()]),
                }}
            </button>
        </form>
    }
}

/// A refused code (`api` words it for the payee): the field is emptied for the next
/// one, and a code that can take no more tries locks the step until a new one is sent.
fn refused_code(refused: ApiError, code: RwSignal<String>, locked: RwSignal<bool>) -> ApiError {
    const DEAD: &[&str] = &[
        ErrorCode::TooManyAttempts.as_str(),
        ErrorCode::CodeExpired.as_str(),
        ErrorCode::CodeAlreadyUsed.as_str(),
        ErrorCode::VerificationNotStarted.as_str(),
    ];
    const WRONG: &[&str] = &[ErrorCode::InvalidCode.as_str()];
    if refused.is_one_of(DEAD) || refused.is_one_of(WRONG) {
        code.set(String::new());
        locked.set(refused.is_one_of(DEAD) || refused.tries_left == Some(0));
    }
    refused
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
