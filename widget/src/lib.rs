//! The Dots Flow widget: a Leptos client-side app that walks a payee through a
//! flow — phone, code, compliance details, payout method, review and claim — over
//! the flow API. It runs full page on a payout link's page or in the loader's
//! iframe; `frame.js` (widget/web) boots it and relays its messages to the host.

mod api;
mod json;
mod steps;
mod words;

use std::cell::RefCell;

use dots_shared::read::Json;
use dots_shared::theme::{Brand, Theme};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

pub(crate) use json::object;

thread_local! {
    /// How the widget tells its page about progress (`frame.js` turns these into
    /// postMessages to the host). One widget per page.
    static EMIT: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Sends `(type, payload)` to the page: `ready`, `event`, `success` or `exit`.
pub(crate) fn emit(kind: &str, payload: JsValue) {
    EMIT.with(|emit| {
        if let Some(f) = emit.borrow().as_ref() {
            let _ = f.call2(&JsValue::NULL, &JsValue::from_str(kind), &json::stringify(&payload).into());
        }
    });
}

/// An informational event for the host's `onEvent`.
pub(crate) fn emit_event(name: &str, metadata: JsValue) {
    emit("event", object(&[("name", name.into()), ("metadata", metadata)]));
}

/// What the page passes to [`mount`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Config {
    /// A payout link's token (the full-page claim), or
    pub link_token: Option<String>,
    /// a flow session's token (the host page's loader sent it).
    pub session_token: Option<String>,
    /// The host page's `appearance`, as a brand.
    pub appearance: Brand,
    /// In the loader's iframe (the payee can close it) rather than a page of its own.
    pub embedded: bool,
    /// In the loader's modal (it has a close button) rather than inline.
    pub modal: bool,
    /// A BCP 47 tag: the widget's language (English unless `frame.js` fetched the
    /// words for it) and how numbers and amounts are written.
    pub locale: String,
    /// A link's page opens the session and reads it while the Wasm loads
    /// (`frame.js`): the answers to `POST /flow/v1/sessions` and `GET /flow/v1/session`.
    pub opened: Option<api::Answer>,
    pub state: Option<api::Answer>,
}

/// Mounts the widget into `el`. `config` is JSON (see [`Config`]); `emit` is
/// called as `emit(type, payloadJson)`.
#[wasm_bindgen]
pub fn mount(el: web_sys::HtmlElement, config: String, emit: js_sys::Function) {
    let raw = json::Js(json::parse(&config));
    let field = |key: &str| raw.field(key).unwrap_or(json::Js(JsValue::NULL));
    let text = |key: &str| field(key).string();
    let answer = |key: &str| {
        let answer = field(key);
        Some(api::Answer { ok: answer.field("ok")?.boolean()?, body: answer.field("body")?.string()? })
    };
    let config = Config {
        opened: answer("opened"),
        state: answer("state"),
        link_token: text("link_token"),
        session_token: text("session_token"),
        appearance: Brand::from_appearance(&field("appearance")),
        embedded: field("embedded").boolean().unwrap_or(false),
        modal: field("modal").boolean().unwrap_or(false),
        locale: text("locale")
            .filter(|l| !l.is_empty() && l.len() <= 35)
            .or_else(browser_language)
            .unwrap_or_else(|| "en-US".into()),
    };
    EMIT.with(|e| *e.borrow_mut() = Some(emit));
    // `frame.js` fetched the payee's language, unless it is English or not served.
    let served = <Vec<String> as dots_shared::read::FromJson>::from_json(&field("words"));
    let words = words::choose(&config.locale, served.and_then(words::Words::from_list));
    // The page's language is the widget's (screen readers pronounce by it).
    if let Some(html) = document().document_element() {
        let _ = html.set_attribute("lang", words.lang());
    }
    // Host appearance applies at once (before the session's brand arrives).
    apply_theme(&el, &Theme::default().with_brand(&config.appearance));
    let root = el.clone();
    let handle = leptos::mount::mount_to(el, move || view! { <steps::Flow config=config.clone() root=root.clone() /> });
    // The widget lives as long as its page (the loader removes the iframe).
    handle.forget();
}

/// The payee's first preferred language (`navigator.languages`, what the browser
/// asks sites for), else the browser's own.
fn browser_language() -> Option<String> {
    let navigator = web_sys::window()?.navigator();
    navigator.languages().get(0).as_string().or_else(|| navigator.language())
}

/// Writes the theme as CSS variables through the CSSOM (allowed under a strict
/// CSP, unlike style attributes) and the colour scheme as `data-scheme`.
pub(crate) fn apply_theme(root: &web_sys::HtmlElement, theme: &Theme) {
    let style = root.style();
    for (name, value) in theme.css_variables() {
        let _ = style.set_property(name, &value);
    }
    let _ = root.set_attribute("data-scheme", theme.scheme.as_str());
}
