//! Webhooks: the app's endpoints (add one, choose its events, turn it off and on,
//! replace its signing secret, remove it) and an endpoint's deliveries — what was
//! sent, what came back — with sending one again.

use dots_shared::api::{Deleted, Delivery, Event, List, Redelivery, Secret, WebhookEndpoint, event_types};
use leptos::prelude::*;
use serde_json::json;

use super::{Change, cols, field, link, load_path, opener, shown, table_region};
use crate::api;
use crate::{ctx, show};

/// An endpoint's state, in words.
fn state(endpoint: &WebhookEndpoint) -> String {
    match (endpoint.status.as_str(), endpoint.disabled_reason.as_deref()) {
        ("enabled", _) => "On".into(),
        (_, Some("disabled_by_app")) => "Off (turned off here)".into(),
        (_, Some(reason)) => format!("Off: {reason}"),
        _ => "Off".into(),
    }
}

fn events(endpoint: &WebhookEndpoint) -> String {
    if endpoint.events.iter().any(|e| e == "*") { "Every event".into() } else { endpoint.events.join(", ") }
}

/// A secret shown once, to copy now.
fn secret_shown(id: &'static str, words: &'static str, secret: String) -> impl IntoView {
    view! {
        <div class="banner good" role="status">
            <p>{words}</p>
            <code id=id class="secret">{secret}</code>
        </div>
    }
}

pub fn page() -> impl IntoView {
    let endpoints = load_path::<List<WebhookEndpoint>>(|| "/v2/webhooks".into());
    let creating = RwSignal::new(false);
    let made = RwSignal::new(None::<String>);
    view! {
        <h1>"Webhooks"</h1>
        <p>"Dots tells your server what happens — a user verified, a payout completed — by sending each event to the addresses here, signed with the endpoint's secret."</p>
        {opener("Add an endpoint", "owner", creating)}
        {move || made.get().map(|secret| secret_shown("webhook-secret", "The endpoint's signing secret, shown only now: keep it with your server.", secret))}
        {move || creating.get().then(|| create(endpoints, creating, made))}
        <div aria-live="polite">{shown(endpoints, rows)}</div>
    }
}

fn create(
    endpoints: LocalResource<Result<List<WebhookEndpoint>, api::ApiError>>,
    creating: RwSignal<bool>,
    made: RwSignal<Option<String>>,
) -> impl IntoView {
    let ctx = ctx();
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<&'static str>::new());
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let picked = chosen.get_untracked();
        let mut body = json!({ "url": url.get_untracked().trim() });
        if !picked.is_empty() {
            body["events"] = json!(picked);
        }
        if !description.get_untracked().trim().is_empty() {
            body["description"] = json!(description.get_untracked().trim());
        }
        change.run(
            move |key| async move { api::send::<_, WebhookEndpoint>("POST", "/v2/webhooks", &body, &key).await },
            move |endpoint| {
                if let Secret::Shown(secret) = endpoint.secret {
                    made.set(Some(secret));
                }
                creating.set(false);
                endpoints.refetch();
            },
        );
    };
    let boxes = event_types::ALL
        .iter()
        .map(|kind| {
            let id = format!("event-{}", kind.replace('.', "-"));
            let toggle = move |_| {
                chosen.update(|c| {
                    if let Some(at) = c.iter().position(|k| k == kind) {
                        c.remove(at);
                    } else {
                        c.push(kind);
                    }
                })
            };
            view! {
                <label class="check">
                    <input type="checkbox" id=id on:change=toggle />
                    <code>{*kind}</code>
                </label>
            }
        })
        .collect_view();
    view! {
        <form class="panel" on:submit=submit novalidate aria-label="Add an endpoint">
            <h2>"Add an endpoint"</h2>
            {field("Address (https://…)", "webhook-url", "url", "off", url)}
            {field("What it is for (optional)", "webhook-description", "text", "off", description)}
            <fieldset>
                <legend>"Events to send (none chosen: every event)"</legend>
                <div class="checks">{boxes}</div>
            </fieldset>
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get() || !ctx.can_change("owner")>"Add the endpoint"</button>
        </form>
    }
}

fn rows(list: List<WebhookEndpoint>) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"No endpoints yet."</p> }.into_any();
    }
    let rows = list
        .data
        .into_iter()
        .map(|e| {
            let path = format!("/webhooks/{}", e.id);
            view! {
                <tr data-id=e.id.clone() data-status=e.status.clone()>
                    <td>{link(&path, e.url.clone(), None)}</td>
                    <td>{events(&e)}</td>
                    <td>{state(&e)}</td>
                    <td>{e.description.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {table_region("Endpoints", cols(&["Address", "Events", "State", "For"]), rows)}
    }
    .into_any()
}

pub fn detail(id: String) -> impl IntoView {
    let endpoint = load_path::<WebhookEndpoint>({
        let id = id.clone();
        move || format!("/v2/webhooks/{id}")
    });
    let deliveries = load_path::<List<Delivery>>({
        let id = id.clone();
        move || format!("/v2/webhooks/{id}/deliveries?limit=100")
    });
    let secret = RwSignal::new(None::<String>);
    view! {
        <p>{link("/webhooks", "← All endpoints", None)}</p>
        {shown(endpoint, move |e| endpoint_view(e, endpoint, secret))}
        <h2>"Deliveries"</h2>
        <div aria-live="polite">{shown(deliveries, move |l| delivery_rows(l, id.clone(), deliveries))}</div>
    }
}

fn endpoint_view(
    e: WebhookEndpoint,
    endpoint: LocalResource<Result<WebhookEndpoint, api::ApiError>>,
    secret: RwSignal<Option<String>>,
) -> impl IntoView {
    let ctx = ctx();
    let change = Change::new();
    let id = e.id.clone();
    let act = move |method: &'static str, what: &'static str, body: serde_json::Value| {
        let path = if what.is_empty() { format!("/v2/webhooks/{id}") } else { format!("/v2/webhooks/{id}/{what}") };
        change.run(
            move |key| async move {
                if method == "DELETE" {
                    api::send::<_, Deleted>(method, &path, &body, &key).await.map(|_| None)
                } else {
                    api::send::<_, WebhookEndpoint>(method, &path, &body, &key).await.map(Some)
                }
            },
            move |changed| match changed {
                Some(changed) => {
                    if let Secret::Shown(s) = changed.secret {
                        secret.set(Some(s));
                    }
                    endpoint.refetch();
                }
                None => {
                    ctx.notice.set("The endpoint is removed.".into());
                    ctx.go("/webhooks");
                }
            },
        );
    };
    let enabled = e.status == "enabled";
    let busy = move || change.busy.get();
    let buttons = ctx.can_change("owner").then(|| {
        let (a, b, c) = (act.clone(), act.clone(), act.clone());
        view! {
            <div class="actions">
                {if enabled {
                    view! { <button class="quiet" disabled=busy on:click=move |_| a("POST", "disable", json!({}))>"Turn off"</button> }.into_any()
                } else {
                    view! { <button class="primary" disabled=busy on:click=move |_| a("POST", "enable", json!({}))>"Turn on"</button> }.into_any()
                }}
                <button class="quiet" disabled=busy on:click=move |_| b("POST", "rotate-secret", json!({}))>"Replace the signing secret"</button>
                <button class="danger" disabled=busy on:click=move |_| c("DELETE", "", json!({}))>"Remove"</button>
                {change.error_view()}
            </div>
        }
    });
    let until = e
        .previous_secret_expires_at
        .clone()
        .map(|at| format!("The old secret keeps signing too until {}.", show::time(&at)));
    view! {
        <h1>"Endpoint"</h1>
        {move || secret.get().map(|s| secret_shown("webhook-secret", "The new signing secret, shown only now: keep it with your server.", s))}
        <dl class="facts">
            <dt>"Address"</dt><dd class="id">{e.url.clone()}</dd>
            <dt>"Events"</dt><dd>{events(&e)}</dd>
            <dt>"State"</dt><dd id="webhook-state">{state(&e)}</dd>
            <dt>"Added"</dt><dd>{show::time(&e.created_at)}</dd>
        </dl>
        {until.map(|u| view! { <p class="help">{u}</p> })}
        {buttons}
    }
}

fn delivery_rows(
    list: List<Delivery>,
    endpoint_id: String,
    deliveries: LocalResource<Result<List<Delivery>, api::ApiError>>,
) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"Nothing has been sent to this endpoint yet."</p> }.into_any();
    }
    let ctx = ctx();
    let items = list
        .data
        .into_iter()
        .map(|d| {
            let answer = match (d.last_status_code, d.last_error.as_deref()) {
                (Some(code), _) => format!("Your server answered HTTP {code}"),
                (None, Some(error)) => format!("Not reached: {error}"),
                (None, None) => "Not tried yet".into(),
            };
            let state = match d.status.as_str() {
                "delivered" => "Delivered",
                "failed" => "Failed",
                _ => "Trying again",
            };
            let came_back = match (d.last_status_code, d.last_response.clone()) {
                (Some(code), Some(body)) if !body.trim().is_empty() => Some(format!("HTTP {code}\n\n{body}")),
                (Some(code), _) => Some(format!("HTTP {code} (no body)")),
                _ => None,
            };
            let sent = RwSignal::new(None::<String>);
            let event_id = d.event_id.clone();
            let open = move |_| {
                let event_id = event_id.clone();
                leptos::task::spawn_local(async move {
                    let body = match api::get::<Event>(&format!("/v2/events/{event_id}")).await {
                        Ok(event) => serde_json::to_string_pretty(&event).unwrap_or_default(),
                        Err(e) => e.message,
                    };
                    sent.set(Some(body));
                });
            };
            let change = Change::new();
            let (event_id, endpoint) = (d.event_id.clone(), endpoint_id.clone());
            let again = move |_| {
                let path = format!("/v2/events/{event_id}/redeliver");
                let body = json!({ "endpoint_id": endpoint.clone() });
                change.run(
                    move |key| async move { api::send::<_, Redelivery>("POST", &path, &body, &key).await },
                    move |_| deliveries.refetch(),
                );
            };
            view! {
                <li class="card" data-id=d.id.clone() data-status=d.status.clone()>
                    <p><code>{d.event_type.clone()}</code>" · "<strong>{state}</strong>" · "{answer}
                        " · "{d.attempts}{if d.attempts == 1 { " try" } else { " tries" }}" · "{show::time(&d.created_at)}</p>
                    <div class="actions">
                        <button class="quiet" on:click=open>"What was sent and what came back"</button>
                        {ctx.can_change("admin").then(|| view! {
                            <button class="quiet" disabled=move || change.busy.get() on:click=again>"Send again"</button>
                        })}
                        {change.error_view()}
                    </div>
                    {move || sent.get().map(|body| {
                        let answer = came_back.clone().map(|a| view! {
                            <h3>"What came back"</h3>
                            <pre class="payload" tabindex="0">{a}</pre>
                        });
                        view! {
                            <h3>"What was sent"</h3>
                            <pre class="payload" tabindex="0">{body}</pre>
                            {answer}
                        }
                    })}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="cards-list">{items}</ul> }.into_any()
}
