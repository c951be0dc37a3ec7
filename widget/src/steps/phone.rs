//! The phone step: the number a code is texted to (or, for a pre-authenticated
//! payee, the number the app already proved).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{Ctx, Step, field_error};
use crate::api;
use crate::emit_event;
use crate::object;
use crate::words::{fill, t};
use dots_shared::flow;
use dots_shared::read::{FromJson, Json};

#[component]
pub(super) fn PhoneStep(ctx: Ctx) -> impl IntoView {
    let phone = RwSignal::new(String::new());
    let country = RwSignal::new(first_country(ctx));
    let hint = ctx.session.with_untracked(|s| s.phone_hint.clone());
    // A pre-authenticated payee's phone is known: the code goes there.
    let known = !ctx.is_link() && ctx.session.with_untracked(|s| s.pre_authenticated);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed = phone.get_untracked().trim().to_string();
        if !known && !plausible_phone(&typed) {
            ctx.field_error("dots-phone", t().err_phone());
            return;
        }
        ctx.run(async move {
            // A number without `+` is read in the chosen country (validated by the server).
            let body = flow::SendCodeRequest {
                phone_number: (!known).then_some(typed),
                country_code: (!known).then(|| country.get_untracked()),
            };
            ctx.typed_phone.set(body.clone());
            let sent = api::send_json::<_, Sent>("POST", "/flow/v1/verification", &body).await?;
            emit_event("CODE_SENT", object(&[]));
            ctx.go(Step::Code);
            // The number typed, written back the international way, to check (kept
            // on one line: no-break spaces and hyphens).
            ctx.notice.set(match sent.phone_number {
                Some(number) => fill(t().code_sent_to(), &[&number.replace(' ', "\u{a0}").replace('-', "\u{2011}")]),
                None => t().code_sent().into(),
            });
            Ok(())
        });
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">{t().phone_title()}</h2>
            {ctx.follows_claim().then(|| view! { <p>{t().phone_claimed_intro()}</p> })}
            {if known {
                view! { <p>{fill(t().phone_known(), &[hint.as_deref().unwrap_or_default()])}</p> }.into_any()
            } else {
                view! {
                    <label for="dots-country">{t().country_label()}</label>
                    <select id="dots-country" autocomplete="country"
                        on:change=move |ev| country.set(event_target_value(&ev))>
                        {COUNTRIES.iter().map(|(code, dial)| {
                            let name = ctx.locale.with_untracked(|l| region_name(code, l));
                            view! { <option value=*code selected=country.get_untracked() == *code>{format!("{name} (+{dial})")}</option> }
                        }).collect_view()}
                    </select>
                    <label for="dots-phone">{t().phone_label()}</label>
                    <input id="dots-phone" type="tel" autocomplete="tel" inputmode="tel" required data-autofocus
                        aria-describedby="dots-phone-hint dots-phone-error"
                        aria-invalid=ctx.invalid("dots-phone")
                        prop:value=phone
                        on:input=move |ev| { phone.set(event_target_value(&ev)); ctx.changed("dots-phone"); } />
                    {field_error(ctx, "dots-phone")}
                    <p id="dots-phone-hint" class="dots-hint">
                        {match &hint {
                            Some(h) => fill(t().phone_hint_link(), &[h]),
                            None => t().phone_hint().to_string(),
                        }}
                    </p>
                }.into_any()
            }}
            <button type="submit" class="dots-primary" data-autofocus=known.then_some("")
                disabled=ctx.busy>{t().send_code()}</button>
        </form>
    }
}

/// What the widget reads of a [`flow::CodeSent`]: the number written back (the
/// whole reader would be ~1.7 KB of Wasm for one field).
struct Sent {
    phone_number: Option<String>,
}

impl FromJson for Sent {
    fn from_json<J: Json>(value: &J) -> Option<Sent> {
        Some(Sent { phone_number: FromJson::from_json(&value.field("phone_number")?)? })
    }
}

/// A cheap shape check; the server parses and validates the number for real.
fn plausible_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits) && s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// The countries the phone step offers (ISO 3166 and calling code); a number
/// typed with `+` works from anywhere.
const COUNTRIES: [(&str, &str); 15] = [
    ("US", "1"),
    ("CA", "1"),
    ("MX", "52"),
    ("GB", "44"),
    ("ES", "34"),
    ("FR", "33"),
    ("DE", "49"),
    ("IT", "39"),
    ("BR", "55"),
    ("AR", "54"),
    ("CO", "57"),
    ("IN", "91"),
    ("PH", "63"),
    ("NG", "234"),
    ("AU", "61"),
];

/// The country the list starts at: the app's default country, else the region
/// of the payee's locale (`es-MX` → MX), else the United States.
fn first_country(ctx: Ctx) -> String {
    let app = ctx.session.with_untracked(|s| s.app.default_country.clone());
    let browser = ctx.locale.with_untracked(|l| l.rsplit(['-', '_']).next().map(str::to_ascii_uppercase));
    [app, browser]
        .into_iter()
        .flatten()
        .find(|c| COUNTRIES.iter().any(|(code, _)| code == c))
        .unwrap_or_else(|| "US".into())
}

/// A region's name in the payee's language (`Intl.DisplayNames`), else its code.
fn region_name(code: &str, locale: &str) -> String {
    use js_sys::{Array, Function, Object, Reflect};
    use wasm_bindgen::JsCast;
    let names = || {
        let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
        let constructor: Function = Reflect::get(&intl, &"DisplayNames".into()).ok()?.dyn_into().ok()?;
        let options = Object::new();
        Reflect::set(&options, &"type".into(), &"region".into()).ok()?;
        let names = Reflect::construct(&constructor, &Array::of2(&locale.into(), &options)).ok()?;
        let of: Function = Reflect::get(&names, &"of".into()).ok()?.dyn_into().ok()?;
        of.call1(&names, &code.into()).ok()?.as_string()
    };
    names().unwrap_or_else(|| code.to_string())
}
