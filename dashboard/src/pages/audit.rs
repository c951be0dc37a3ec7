//! The audit log: every change made to the app — by its API key, its team, a
//! payee or the operator — with who, what, which object, when and from where.

use dots_shared::api::{AuditEntry, List, TeamMember};
use leptos::prelude::*;

use super::{cols, load_path, shown, table_region};
use crate::show;

/// What a change was, in words, from its method and route.
pub(crate) fn what(action: &str) -> String {
    let known = match action {
        "POST /v2/users" => "Added a user",
        "PATCH /v2/users/{id}" => "Changed a user",
        "PUT /v2/users/{id}/compliance" | "PUT /flow/v1/compliance" => "Changed identity or tax details",
        "POST /v2/users/{id}/payout-methods" | "POST /flow/v1/payout-methods" => "Added a payout method",
        "DELETE /v2/users/{id}/payout-methods/{pm}" => "Removed a payout method",
        "POST /v2/payouts" | "POST /flow/v1/payout" => "Sent a payout",
        "POST /v2/transfers" => "Made a balance transfer",
        "POST /v2/refills" => "Added money to the app's wallet",
        "POST /v2/transfers/{id}/approve" => "Approved a payout",
        "POST /v2/transfers/{id}/deny" => "Denied a payout",
        "POST /v2/transfers/{id}/cancel" => "Canceled a transfer",
        "POST /v2/transfers/{id}/reverse" => "Reversed a transfer",
        "POST /v2/payout-links" => "Made a payout link",
        "POST /v2/payout-links/{id}/send" => "Sent a payout link",
        "POST /v2/payout-links/{id}/cancel" => "Canceled a payout link",
        "POST /v2/payout-batches" => "Sent a batch of payouts",
        "POST /flow/v1/claim" => "Claimed a payout link",
        "POST /flow/v1/verification/check" | "POST /v2/users/{id}/verification/check" => "Verified a phone number",
        "POST /flow/v1/verification" | "POST /v2/users/{id}/verification" => "Sent a phone verification code",
        "POST /flow/v1/sessions" => "Opened a payout link",
        "POST /v2/users/{id}/payout-methods/{pm}/default" => "Chose where a user's money goes",
        "POST /v2/flows" => "Started an onboarding flow",
        "POST /v2/members/invitations" | "POST /v2/apps/{id}/invitations" => "Invited someone to the team",
        "POST /dashboard/api/invitations/accept" => "Joined the team",
        "PUT /v2/members/{id}" => "Changed a team member's role",
        "DELETE /v2/members/{id}" => "Removed a team member",
        "POST /dashboard/api/sign-in" => "Signed in",
        "POST /dashboard/api/sign-out" => "Signed out",
        "POST /dashboard/api/two-factor/confirm" => "Turned on two-factor sign-in",
        "PUT /v2/apps/me/settings" => "Changed the app's settings",
        "PUT /v2/apps/me/rules" => "Changed the payout rules",
        "POST /v2/apps/me/secret/rotate" => "Replaced the API secret",
        "POST /v2/webhooks" => "Added a webhook endpoint",
        "DELETE /v2/webhooks/{id}" => "Removed a webhook endpoint",
        "POST /v2/webhooks/{id}/disable" => "Turned a webhook endpoint off",
        "POST /v2/webhooks/{id}/enable" => "Turned a webhook endpoint on",
        "POST /v2/webhooks/{id}/rotate-secret" => "Replaced a webhook signing secret",
        "POST /v2/events/{id}/redeliver" => "Sent a webhook again",
        "POST /v2/flows/{id}/revoke" => "Ended an onboarding flow",
        "POST /v2/apps" => "Made an app",
        "PUT /v2/apps/{id}/fees" => "Set an app's fees",
        "POST /v2/apps/{id}/suspend" => "Suspended the app",
        "POST /v2/apps/{id}/resume" => "Resumed the app",
        "POST /dashboard/api/operator/sign-in" => "Signed in to the operator console",
        "POST /dashboard/api/operator/sign-out" => "Signed out of the operator console",
        _ => "",
    };
    if known.is_empty() { format!("Made a change ({action})") } else { known.to_string() }
}

/// Who made a change, in words. A member joining is recorded before their account
/// has an id of its own: the member it made is the entry's object.
fn who(kind: &str, id: &str, object: Option<&str>, team: &[TeamMember]) -> String {
    match kind {
        "member" => team
            .iter()
            .find(|m| m.id == id || Some(m.id.as_str()) == object)
            .map_or_else(|| "A former team member".into(), |m| m.email.clone()),
        "api_key" => format!("API key {id}"),
        "payee" => "A payee, in the onboarding flow".into(),
        "link_holder" => "A payee, from a payout link".into(),
        "operator" => "The Dots operator".into(),
        _ => "Someone".into(),
    }
}

pub fn page() -> impl IntoView {
    let log = load_path::<List<AuditEntry>>(|| "/v2/audit-log?limit=100".into());
    let team = load_path::<Vec<TeamMember>>(|| "/v2/members".into());
    view! {
        <h1>"Audit log"</h1>
        <p>"Every change made to this app, newest first. Entries can't be edited or removed."</p>
        {shown(team, move |team| shown(log, move |l| table(l, team.clone())))}
    }
}

fn table(list: List<AuditEntry>, team: Vec<TeamMember>) -> impl IntoView {
    if list.data.is_empty() {
        return view! { <p class="empty">"No changes yet."</p> }.into_any();
    }
    let rows = list
        .data
        .into_iter()
        .map(|e| {
            view! {
                <tr data-action=e.action.clone()>
                    <td>{show::time(&e.created)}</td>
                    <td>{who(&e.actor.kind, &e.actor.id, e.object_id.as_deref(), &team)}</td>
                    <td>{what(&e.action)}</td>
                    <td class="id">{e.object_id.clone().unwrap_or_default()}</td>
                    <td class="id">{e.ip.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {table_region("Audit log", cols(&["When", "Who", "What", "Object", "From"]), rows)}
        {list.has_more.then(|| view! { <p class="help">"Showing the newest 100 changes."</p> })}
    }
    .into_any()
}
