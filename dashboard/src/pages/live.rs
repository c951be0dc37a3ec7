//! Lists that update without a reload: the app's event stream
//! (`GET /v2/events/stream`, Server-Sent Events) moves [`Ctx::live`], and every
//! page's data is loaded again when it moves. A burst of events is one reload
//! (they are gathered for 300 ms); a dropped stream is reopened, resuming after
//! the last event it saw (the browser sends Last-Event-ID).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use dots_shared::api::event_types;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::EventSource;

use crate::Ctx;

/// Follows the stream of the app the member acts in, while signed in.
pub fn follow(ctx: Ctx) {
    let open: Rc<RefCell<Option<EventSource>>> = Rc::default();
    let retry = RwSignal::new(0u32);
    Effect::new(move |_| {
        retry.track();
        if let Some(old) = open.borrow_mut().take() {
            old.close();
        }
        ctx.connected.set(false);
        let Some(app_id) = ctx.app.with(|a| a.as_ref().map(|a| a.app_id.clone())) else { return };
        let url = format!("/v2/events/stream?app={}", String::from(js_sys::encode_uri_component(&app_id)));
        let Ok(source) = EventSource::new(&url) else { return };
        let pending = Rc::new(Cell::new(false));
        let on_event = Closure::<dyn Fn()>::new(move || {
            if pending.replace(true) {
                return;
            }
            let pending = pending.clone();
            let bump = Closure::once_into_js(move || {
                pending.set(false);
                ctx.live.update(|n| *n = n.wrapping_add(1));
            });
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(bump.unchecked_ref(), 300);
            }
        });
        for kind in event_types::ALL {
            let _ = source.add_event_listener_with_callback(kind, on_event.as_ref().unchecked_ref());
        }
        on_event.forget();
        let on_open = Closure::<dyn Fn()>::new(move || ctx.connected.set(true));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        on_open.forget();
        let watched = source.clone();
        let on_error = Closure::<dyn Fn()>::new(move || {
            ctx.connected.set(false);
            // The browser retries by itself unless the server refused the stream
            // (signed out, say); then try again in a while, if still signed in.
            if watched.ready_state() == EventSource::CLOSED {
                let again = Closure::once_into_js(move || {
                    if ctx.session.with_untracked(Option::is_some) {
                        retry.update(|n| *n += 1);
                    }
                });
                if let Some(window) = web_sys::window() {
                    let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), 5_000);
                }
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        *open.borrow_mut() = Some(source);
    });
}
