//! The team: who is on it and with which role; owners invite (the link goes out
//! by email), change roles and remove members.

use dots_shared::api::{Deleted, Invitation, TeamMember};
use leptos::prelude::*;
use serde_json::json;

use super::{Change, choice, cols, field, load_path, shown, table_region};
use crate::api;
use crate::{ctx, show};

const ROLES: [&str; 4] = ["owner", "admin", "reviewer", "viewer"];

fn role_options(with_help: bool) -> Vec<(String, String)> {
    ROLES
        .iter()
        .map(|r| {
            let label =
                if with_help { format!("{} — {}", show::role(r), show::role_help(r)) } else { show::role(r).into() };
            (r.to_string(), label)
        })
        .collect()
}

pub fn page() -> impl IntoView {
    let ctx = ctx();
    let team = load_path::<Vec<TeamMember>>(|| "/v2/members".into());
    let owner = ctx.can("owner");
    view! {
        <h1>"Team"</h1>
        {owner.then(|| invite(team))}
        <div aria-live="polite">{shown(team, move |list| rows(list, team))}</div>
    }
}

fn invite(team: LocalResource<Result<Vec<TeamMember>, api::ApiError>>) -> impl IntoView {
    let ctx = ctx();
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("viewer".to_string());
    let made = RwSignal::new(None::<Invitation>);
    let change = Change::new();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        let body = json!({ "email": email.get_untracked(), "role": role.get_untracked() });
        change.run(
            move |key| async move { api::send::<_, Invitation>("POST", "/v2/members/invitations", &body, &key).await },
            move |invitation| {
                email.set(String::new());
                made.set(Some(invitation));
                team.refetch();
            },
        );
    };
    let sent = move || {
        made.get().map(|i| {
            let emailed = i.emailed == Some(true);
            let words = if emailed {
                format!("An invitation is on its way to {}. Its link works once, for 7 days.", i.email)
            } else {
                format!("The email to {} could not be sent. Give them this link yourself (it works once, for 7 days):", i.email)
            };
            view! {
                <p class="banner good" role="status">{words}</p>
                {(!emailed).then(|| i.url.map(|u| view! { <input class="link-url" readonly aria-label="Invitation link" value=u /> }))}
            }
        })
    };
    view! {
        <form class="panel" on:submit=submit novalidate aria-label="Invite someone">
            <h2>"Invite someone"</h2>
            {field("Their work email", "invite-email", "email", "off", email)}
            {choice("Role", "invite-role", role_options(true), role)}
            {change.error_view()}
            <button type="submit" class="primary" disabled=move || change.busy.get() || !ctx.can_change("owner")>"Send the invitation"</button>
        </form>
        {sent}
    }
}

fn rows(list: Vec<TeamMember>, team: LocalResource<Result<Vec<TeamMember>, api::ApiError>>) -> impl IntoView {
    let ctx = ctx();
    let me = ctx.session.with_untracked(|s| s.as_ref().map(|s| s.member.id.clone()).unwrap_or_default());
    let owner = ctx.can_change("owner");
    let items = list
        .into_iter()
        .map(|m| {
            let change = Change::new();
            let role = RwSignal::new(m.role.clone());
            let path = format!("/v2/members/{}", m.id);
            let (save_path, remove_path) = (path.clone(), path);
            let save = move |_| {
                let (path, body) = (save_path.clone(), json!({ "role": role.get_untracked() }));
                change.run(
                    move |key| async move { api::send::<_, TeamMember>("PUT", &path, &body, &key).await },
                    move |_| team.refetch(),
                );
            };
            let remove = move |_| {
                let path = remove_path.clone();
                change.run(
                    move |key| async move { api::send::<_, Deleted>("DELETE", &path, &(), &key).await },
                    move |_| team.refetch(),
                );
            };
            let you = (m.id == me).then_some(" (you)");
            let id = format!("role-{}", m.id);
            let label = format!("Role of {}", m.email);
            let manage = (owner && m.id != me).then(|| {
                let options = role_options(false)
                    .into_iter()
                    .map(|(v, l)| {
                        let selected = v == role.get_untracked();
                        view! { <option value=v selected=selected>{l}</option> }
                    })
                    .collect_view();
                view! {
                    <select id=id aria-label=label on:change=move |e| role.set(event_target_value(&e))>{options}</select>
                    <button class="quiet" disabled=move || change.busy.get() on:click=save>"Save"</button>
                    <button class="danger" disabled=move || change.busy.get() on:click=remove>"Remove"</button>
                    {change.error_view()}
                }
            });
            view! {
                <tr data-id=m.id.clone()>
                    <td>{m.email.clone()}{you}</td>
                    <td>{show::role(&m.role)}</td>
                    <td>{if m.two_factor { "On" } else { "Off" }}</td>
                    <td>{show::time(&m.joined)}</td>
                    <td class="manage">{manage}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {table_region("Team", view! {
            {cols(&["Email", "Role", "Two-factor", "Joined"])}<th scope="col"><span class="sr">"Change"</span></th>
        }, items)}
    }
}
