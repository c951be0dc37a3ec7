//! The Dots Flow widget (work in progress): a Leptos client-side app mounted by
//! the loader into an element of the iframe page.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[component]
fn Widget() -> impl IntoView {
    view! { <p class="dots-widget">"Dots"</p> }
}

/// Mounts the widget into `el`; the loader calls this once the module is loaded.
#[wasm_bindgen]
pub fn mount(el: web_sys::HtmlElement) {
    let handle = leptos::mount::mount_to(el, Widget);
    // The widget lives as long as its page.
    handle.forget();
}
