//! Onboarding flows: start one for a user (or for anyone who proves a phone),
//! with the steps it asks for, and hand its address over; see those made and
//! whether they were finished. A flow shows the app's brand (the Brand page).

use dots_shared::api::{Flow, FlowCreated, List};
use leptos::prelude::*;
use serde_json::json;

use super::{Change, cols, field, link, load_path, opener, shown, table_region};
use crate::{api, ctx, show};

/// The steps a flow may ask for, as the API names them and as people read them.
const STEPS: [(&str, &str); 3] = [
    ("verify_phone", "Prove their phone number"),
    ("compliance", "Give identity and tax details"),
    ("payout_method", "Choose where their money goes"),
];

fn step_words(step: &str) -> &'static str {
    STEPS.iter().find(|(s, _)| *s == step).map_or("Another step", |(_, w)| w)
}

fn status_words(status: &str) -> &'static str {
    match status {
        "active" => "Open",
        "completed" => "Finished",
        "revoked" => "Ended",
        _ => "Unknown",
    }
}

pub fn page() -> impl IntoView {
    let flows = load_path::<List<Flow>>(|| "/v2/flows?limit=100".into());
    let creating = RwSignal::new(false);
    view! {
        <h1>"Flows"</h1>
        <p>"A flow is the onboarding page your payees go through, in your brand: proving their phone, identity and tax details, where their money goes. Embed it in your site with the script tag, or send its address."</p>
        {opener("New flow", "admin", creating)}
        {move || creating.get().then(|| create(flows))}
        <div aria-live="polite">{shown(flows, table)}</div>
    }
}

fn create(flows: LocalResource<Result<List<Flow>, api::ApiError>>) -> impl IntoView {
    let ctx = ctx();
    // The user a user's page sent here for (`?user_id=`), if any.
    let user = RwSignal::new(super::from_address("user_id"));
    let redirect = RwSignal::new(String::new());
    let chosen: Vec<RwSignal<bool>> = STEPS.iter().map(|_| RwSignal::new(true)).collect();
    let made = RwSignal::new(None::<FlowCreated>);
    let change = Change::new();
    let picked = chosen.clone();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let steps: Vec<&str> =
            STEPS.iter().zip(&picked).filter(|(_, on)| on.get_untracked()).map(|((s, _), _)| *s).collect();
        if steps.is_empty() {
            change.error.set("Choose at least one step.".into());
            return;
        }
        let mut body = json!({ "steps": steps });
        for (name, value) in [("user_id", user), ("redirect_url", redirect)] {
            let value = value.get_untracked().trim().to_string();
            if !value.is_empty() {
                body[name] = json!(value);
            }
        }
        change.run(
            move |key| async move { api::send::<_, FlowCreated>("POST", "/v2/flows", &body, &key).await },
            move |f| {
                made.set(Some(f));
                flows.refetch();
            },
        );
    };
    let boxes = STEPS
        .iter()
        .zip(chosen)
        .map(|((step, words), on)| {
            let (id, label_for) = (format!("flow-step-{step}"), format!("flow-step-{step}"));
            view! {
                <label class="check" for=label_for>
                    <input type="checkbox" id=id prop:checked=move || on.get()
                        on:change=move |e| on.set(event_target_checked(&e)) />
                    " "{*words}
                </label>
            }
        })
        .collect_view();
    view! {
        {move || made.get().map(|f| view! {
            <div class="banner good" role="status">
                <p>"The flow is ready. Its address works for one person and carries their session: send it to them, or open it yourself to try it (shown only now)."</p>
                <code id="flow-url" class="secret">{f.url.clone()}</code>
                <p>"It works until "{show::time(&f.expires_at)}"."</p>
            </div>
        })}
        <form class="panel" on:submit=submit novalidate aria-label="New flow">
            <h2>"New flow"</h2>
            <fieldset>
                <legend>"What it asks for"</legend>
                {boxes}
            </fieldset>
            {field("User ID, for a user you already have (empty: anyone who proves a phone)", "flow-user", "text", "off", user)}
            {field("Where to send them when they finish (optional, https://…)", "flow-redirect", "url", "off", redirect)}
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get() || !ctx.can_change("admin")>"Make the flow"</button>
        </form>
    }
}

fn table(list: List<Flow>) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"No flows yet."</p> }.into_any();
    }
    let rows = list
        .data
        .into_iter()
        .map(|f| {
            let steps: Vec<&str> = f.steps.iter().map(|s| step_words(s)).collect();
            let user = match f.user_id.clone() {
                Some(u) => {
                    let path = format!("/users/{u}");
                    link(&path, u, None).into_any()
                }
                None => "Anyone who proves a phone".into_any(),
            };
            view! {
                <tr data-id=f.id.clone() data-status=f.status.clone()>
                    <td>{show::time(&f.created_at)}</td>
                    <td>{user}</td>
                    <td>{steps.join(", ")}</td>
                    <td><span class="badge">{status_words(&f.status)}</span></td>
                    <td>{show::time(&f.expires_at)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {table_region("Flows", cols(&["Made", "For", "Steps", "State", "Works until"]), rows)}
        {list.has_more.then(|| view! { <p class="help">"Showing the newest 100 flows."</p> })}
    }
    .into_any()
}
