//! The brand editor: the name, logo, colours, font, corner radius and light or
//! dark look payees see in the onboarding flow and on payout links. Its preview
//! is the real widget (`/dashboard/preview`, this server's own bundle, showing a
//! made-up payout link) in a frame, loaded again as the owner edits; saving goes
//! through `PUT /v2/apps/me/settings`, which checks the brand as the API does.

use std::cell::Cell;
use std::rc::Rc;

use dots_shared::api::{App, AppSettings};
use dots_shared::theme;
use leptos::prelude::*;
use serde_json::{Map, Value, json};
use wasm_bindgen::prelude::*;

use super::{Change, choice, field, load_path, shown};
use crate::{api, ctx};

pub fn page() -> impl IntoView {
    let app = load_path::<App>(|| "/v2/apps/me".into());
    let settings = load_path::<AppSettings>(|| "/v2/apps/me/settings".into());
    view! {
        <h1>"Brand"</h1>
        <p>"How the onboarding flow and your payout links look to the people you pay. The preview shows the real flow as you edit; payees see it once you save."</p>
        {shown(app, move |a| shown(settings, move |s| editor(a.name.clone(), s.brand.unwrap_or_default())))}
    }
}

/// One brand field as the form holds it (text; empty is Dots' default).
fn text(brand: &Value, key: &str) -> RwSignal<String> {
    RwSignal::new(brand.get(key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_default())
}

/// Fonts offered: a name payees read and the font list it stands for.
const FONTS: [(&str, &str); 5] = [
    ("", "Dots' default (the payee's system font)"),
    ("Helvetica, Arial, sans-serif", "Helvetica or Arial"),
    ("Georgia, 'Times New Roman', serif", "Georgia (serif)"),
    ("'Trebuchet MS', Verdana, sans-serif", "Trebuchet or Verdana"),
    ("'Courier New', monospace", "Courier (typewriter)"),
];

struct Fields {
    name: RwSignal<String>,
    logo: RwSignal<String>,
    primary: RwSignal<String>,
    background: RwSignal<String>,
    text: RwSignal<String>,
    font: RwSignal<String>,
    radius: RwSignal<String>,
    scheme: RwSignal<String>,
}

impl Fields {
    /// The brand as the API takes it, or what is wrong with it, in words.
    fn brand(&self) -> Result<Value, String> {
        let mut brand = Map::new();
        let name = self.name.get().trim().to_string();
        if name.chars().count() > 60 {
            return Err("The name can be up to 60 characters.".into());
        }
        let logo = self.logo.get().trim().to_string();
        if !logo.is_empty() && !theme::is_logo_url(&logo) {
            return Err("The logo's address must start with https:// (an image on your site).".into());
        }
        for (value, words) in [(&name, "name"), (&logo, "logo_url")] {
            if !value.is_empty() {
                brand.insert(words.into(), json!(value));
            }
        }
        for (signal, key, words) in [
            (self.primary, "primary_color", "main colour"),
            (self.background, "background_color", "background colour"),
            (self.text, "text_color", "text colour"),
        ] {
            let colour = signal.get().trim().to_lowercase();
            if colour.is_empty() {
                continue;
            }
            if !theme::is_color(&colour) {
                return Err(format!("The {words} must be written like #3b5bdb."));
            }
            brand.insert(key.into(), json!(colour));
        }
        let font = self.font.get();
        if !font.is_empty() {
            brand.insert("font_family".into(), json!(font));
        }
        let radius: i64 = self.radius.get().parse().unwrap_or(12);
        brand.insert("corner_radius".into(), json!(radius.clamp(0, theme::MAX_RADIUS_PX as i64)));
        brand.insert("color_scheme".into(), json!(self.scheme.get()));
        Ok(Value::Object(brand))
    }
}

/// A colour: its text field (empty: Dots' default, which the picker beside it
/// shows) and the picker.
fn colour(label: &'static str, id: &'static str, default: &'static str, value: RwSignal<String>) -> impl IntoView {
    let picked = move || {
        let v = value.get();
        if theme::is_color(&v) { v } else { default.to_string() }
    };
    view! {
        <div class="field colour">
            <label for=id>{label}</label>
            <div class="pair">
                <input id=id name=id type="text" autocomplete="off" placeholder="Dots' default" spellcheck="false"
                    prop:value=move || value.get() on:input=move |e| value.set(event_target_value(&e)) />
                <input type="color" aria-label=format!("Pick the {}", label.to_lowercase()) prop:value=picked
                    on:input=move |e| value.set(event_target_value(&e)) />
            </div>
        </div>
    }
}

fn editor(app_name: String, brand: Value) -> impl IntoView {
    let ctx = ctx();
    let f = Fields {
        name: text(&brand, "name"),
        logo: text(&brand, "logo_url"),
        primary: text(&brand, "primary_color"),
        background: text(&brand, "background_color"),
        text: text(&brand, "text_color"),
        font: text(&brand, "font_family"),
        radius: RwSignal::new(brand.get("corner_radius").and_then(Value::as_i64).unwrap_or(12).to_string()),
        scheme: RwSignal::new(brand.get("color_scheme").and_then(Value::as_str).unwrap_or("auto").to_string()),
    };
    let look = RwSignal::new("light".to_string());
    let problem = RwSignal::new(String::new());
    let src = RwSignal::new(String::new());
    let f = StoredValue::new(f);
    // The preview follows the form, a moment after the last keystroke.
    let generation = Rc::new(Cell::new(0u32));
    Effect::new(move |_| {
        let brand = f.with_value(Fields::brand);
        let look = look.get();
        let url = match brand {
            Ok(brand) => {
                problem.set(String::new());
                let query = api::query(&[("brand", brand.to_string()), ("name", app_name.clone()), ("scheme", look)]);
                format!("/dashboard/preview{query}")
            }
            Err(why) => {
                problem.set(why);
                return;
            }
        };
        let this = generation.get().wrapping_add(1);
        generation.set(this);
        let generation = generation.clone();
        let load = Closure::once_into_js(move || {
            if generation.get() == this {
                src.set(url);
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(load.unchecked_ref(), 250);
        }
    });
    let saved = RwSignal::new(false);
    let change = Change::new();
    let save = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let brand = match f.with_value(Fields::brand) {
            Ok(brand) => brand,
            Err(why) => return change.error.set(why),
        };
        saved.set(false);
        let body = json!({ "brand": brand });
        change.run(
            move |key| async move { api::send::<_, AppSettings>("PUT", "/v2/apps/me/settings", &body, &key).await },
            move |_| saved.set(true),
        );
    };
    let fonts = FONTS.iter().map(|(v, l)| (v.to_string(), l.to_string())).collect::<Vec<_>>();
    let custom_font = f.with_value(|f| f.font.get_untracked());
    let fonts = if FONTS.iter().any(|(v, _)| *v == custom_font) {
        fonts
    } else {
        [fonts, vec![(custom_font.clone(), custom_font)]].concat()
    };
    let radius = f.with_value(|f| f.radius);
    view! {
        <div class="brand-editor">
            <form class="panel" on:submit=save novalidate aria-label="Brand">
                {f.with_value(|f| field("Name payees see (if not the app's)", "brand-name", "text", "organization", f.name))}
                {f.with_value(|f| field("Logo (an https:// address of an image)", "brand-logo", "url", "off", f.logo))}
                {f.with_value(|f| colour("Main colour", "brand-primary", "#3b5bdb", f.primary))}
                {f.with_value(|f| colour("Background colour", "brand-background", "#ffffff", f.background))}
                {f.with_value(|f| colour("Text colour", "brand-text", "#1a1b1f", f.text))}
                {f.with_value(|f| choice("Font", "brand-font", fonts.clone(), f.font))}
                <div class="field">
                    <label for="brand-radius">"Corner roundness: "{move || radius.get()}" px"</label>
                    <input id="brand-radius" type="range" min="0" max=theme::MAX_RADIUS_PX.to_string() step="1"
                        prop:value=move || radius.get() on:input=move |e| radius.set(event_target_value(&e)) />
                </div>
                {f.with_value(|f| choice("Light or dark", "brand-scheme", vec![
                    ("auto".into(), "As the payee's device is set".into()),
                    ("light".into(), "Always light".into()),
                    ("dark".into(), "Always dark".into()),
                ], f.scheme))}
                {move || (!problem.get().is_empty()).then(|| view! { <p class="error" role="alert">{problem.get()}</p> })}
                {change.error_view()}
                {move || saved.get().then(|| view! { <p class="banner good" role="status">"Saved. New flows and payout links show this brand."</p> })}
                <button type="submit" class="primary" disabled=move || change.busy.get() || !ctx.can_change("owner")>"Save the brand"</button>
            </form>
            <section class="preview" aria-label="Preview">
                <div class="preview-head">
                    <h2>"Preview"</h2>
                    {choice("Show it", "preview-look", vec![
                        ("light".into(), "Light".into()),
                        ("dark".into(), "Dark".into()),
                    ], look)}
                </div>
                <p class="help">"The real flow, with an example payment. Its buttons do nothing here."</p>
                <iframe id="brand-preview" title="Preview of what payees see" src=move || src.get()></iframe>
            </section>
        </div>
    }
}
