//! The operator's console (issue 18, part 1): the operator signs in with the
//! operator key to a session (cookie + CSRF token), lists the apps with their
//! wallet, volume and state, makes an app, suspends it — its API answers 403
//! `app_suspended`, its members may read but not change, its payout links and
//! flows say payouts are paused, its webhooks wait — and resumes it; every one
//! of these is in the audit log. On SQLite and PostgreSQL.

mod common;

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use common::{Creds, OPERATOR_KEY, Resp, TestApp};
use dots_server::webhooks::Deliverer;
use serde_json::{Value, json};

on_both_databases!(
    the_operator_signs_in_lists_apps_and_makes_one,
    a_suspended_app_is_refused_paused_and_silent_until_resumed,
);

const PASSWORD: &str = "correct horse battery staple";

async fn operator_sign_in(t: &TestApp, key: &str) -> Resp {
    let body = json!({ "operator_key": key }).to_string();
    t.call(Method::POST, "/dashboard/api/operator/sign-in", None, &[], Some(&body)).await
}

/// The operator's session: its cookie (`name=value`) and CSRF token.
async fn operator(t: &TestApp) -> (String, String) {
    let signed_in = operator_sign_in(t, OPERATOR_KEY).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.json);
    let set = signed_in.headers["set-cookie"].to_str().unwrap();
    for flag in ["dots_operator=dos_", "HttpOnly", "SameSite=Strict"] {
        assert!(set.contains(flag), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    (cookie, signed_in.json["csrf_token"].as_str().unwrap().to_string())
}

async fn as_operator(t: &TestApp, (cookie, csrf): &(String, String), method: Method, path: &str, body: Value) -> Resp {
    let headers = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let body = (method != Method::GET).then(|| body.to_string());
    t.call(method, path, None, &headers, body.as_deref()).await
}

fn listed<'a>(apps: &'a Resp, id: &str) -> &'a Value {
    apps.json["data"].as_array().unwrap().iter().find(|a| a["id"] == id).unwrap_or_else(|| panic!("{}", apps.json))
}

async fn the_operator_signs_in_lists_apps_and_makes_one(t: TestApp) {
    // A wrong key is refused; the right one opens a session kept only as a hash.
    let wrong = operator_sign_in(&t, "not the key").await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "sign_in_failed"));
    assert!(wrong.headers["www-authenticate"].to_str().unwrap().starts_with("Session"), "no password dialog");
    let op = operator(&t).await;
    let token = op.0.split_once('=').unwrap().1;
    assert_eq!(t.count(&format!("SELECT COUNT(*) FROM operator_sessions WHERE token_hash = '{token}'")).await, 0);
    let session = as_operator(&t, &op, Method::GET, "/dashboard/api/operator/session", json!(null)).await;
    assert_eq!((session.status, &session.json["csrf_token"]), (StatusCode::OK, &json!(op.1)));

    // An app with a paying history: the list shows its wallet, 30 days' volume, users, owners.
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let payee = t.create_payee(&app).await;
    assert_eq!(t.transfer(&app, "balance", &payee, 3_000).await.status, StatusCode::CREATED);
    let payout = t.post(&app, "/v2/payouts", json!({"user_id": payee, "amount": 1_000, "currency": "USD"})).await;
    assert_eq!(payout.status, StatusCode::CREATED, "{}", payout.json);
    t.settle_payouts().await;
    let invitation = as_operator(
        &t,
        &op,
        Method::POST,
        &format!("/v2/apps/{}/invitations", app.id),
        json!({"email": "olive@example.com", "role": "owner"}),
    )
    .await;
    assert_eq!(invitation.status, StatusCode::CREATED, "{}", invitation.json);
    let token = invitation.json["url"].as_str().unwrap().rsplit('#').next().unwrap().to_string();
    let accept = json!({"token": token, "password": PASSWORD}).to_string();
    let joined = t.call(Method::POST, "/dashboard/api/invitations/accept", None, &[], Some(&accept)).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.json);

    let apps = as_operator(&t, &op, Method::GET, "/v2/apps", json!(null)).await;
    assert_eq!(apps.status, StatusCode::OK, "{}", apps.json);
    let acme = listed(&apps, &app.id);
    assert_eq!(acme["wallet"]["available"], 7_000, "{acme}");
    assert_eq!((&acme["volume_30d"], &acme["payouts_30d"], &acme["users"]), (&json!(1_000), &json!(1), &json!(1)));
    assert_eq!(acme["owners"], json!(["olive@example.com"]));
    assert!(acme.get("suspended").is_none() && acme.get("api_secret").is_none(), "{acme}");
    let one = as_operator(&t, &op, Method::GET, &format!("/v2/apps/{}", app.id), json!(null)).await;
    assert_eq!(&one.json, acme);

    // The console makes an app: its secret is in that answer only. A change needs the CSRF token.
    let unsigned = t.call(Method::POST, "/v2/apps", None, &[("cookie", &op.0)], Some(r#"{"name":"Globex"}"#)).await;
    assert_eq!(unsigned.code(), "csrf_token_invalid");
    let made = as_operator(&t, &op, Method::POST, "/v2/apps", json!({"name": "Globex"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    assert!(made.json["api_secret"].as_str().unwrap().starts_with("sk_"));
    let apps = as_operator(&t, &op, Method::GET, "/v2/apps?limit=1", json!(null)).await;
    assert_eq!((apps.json["data"][0]["id"].clone(), &apps.json["has_more"]), (made.json["id"].clone(), &json!(true)));
    // An app's key is not the operator.
    assert_eq!(t.get(&app, "/v2/apps").await.status, StatusCode::UNAUTHORIZED);

    // The operator's log: signing in, making the app, inviting its owner.
    let log = as_operator(&t, &op, Method::GET, "/v2/operator/audit-log", json!(null)).await;
    let actions: Vec<&str> =
        log.json["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["POST /dashboard/api/operator/sign-in", "POST /v2/apps", "POST /v2/apps/{id}/invitations"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }

    // Signed out, the cookie opens nothing.
    let out = as_operator(&t, &op, Method::POST, "/dashboard/api/operator/sign-out", json!({})).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.json);
    assert_eq!(as_operator(&t, &op, Method::GET, "/v2/apps", json!(null)).await.code(), "not_signed_in");
}

/// A webhook receiver counting what it gets.
async fn receiver() -> (String, Arc<Mutex<usize>>) {
    let got = Arc::new(Mutex::new(0));
    let counter = got.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                *counter.lock().unwrap() += 1;
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, got)
}

/// One pass of the webhook deliverer: how many deliveries it started.
async fn deliver_once(t: &TestApp) -> usize {
    let deliverer = Arc::new(Deliverer::new(t.store.clone(), t.state.services.clone()));
    let mut started = deliverer.start_due().await.unwrap();
    let mut n = 0;
    while started.join_next().await.is_some() {
        n += 1;
    }
    n
}

async fn a_suspended_app_is_refused_paused_and_silent_until_resumed(t: TestApp) {
    let op = operator(&t).await;
    let app: Creds = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let payee = t.create_payee(&app).await;
    let link = t
        .post(&app, "/v2/payout-links", json!({"amount": 500, "currency": "USD", "phone_number": "+14155550123"}))
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.json);
    let link_token = link.json["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let flow = t.post(&app, "/v2/flows", json!({"steps": ["payout_method"], "user_id": payee})).await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.json);
    let flow_token = flow.json["token"].as_str().unwrap().to_string();
    // A reviewer of the app's team.
    let invitation = as_operator(
        &t,
        &op,
        Method::POST,
        &format!("/v2/apps/{}/invitations", app.id),
        json!({"email": "rita@example.com", "role": "reviewer"}),
    )
    .await;
    let token = invitation.json["url"].as_str().unwrap().rsplit('#').next().unwrap().to_string();
    let accept = json!({"token": token, "password": PASSWORD}).to_string();
    assert_eq!(
        t.call(Method::POST, "/dashboard/api/invitations/accept", None, &[], Some(&accept)).await.status,
        StatusCode::CREATED
    );
    let sign_in = json!({"email": "rita@example.com", "password": PASSWORD}).to_string();
    let signed_in = t.call(Method::POST, "/dashboard/api/sign-in", None, &[], Some(&sign_in)).await;
    let member_cookie = signed_in.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let member_csrf = signed_in.json["csrf_token"].as_str().unwrap().to_string();
    let as_member = |method: Method, path: String| {
        let (t, cookie, csrf, app_id) = (&t, member_cookie.clone(), member_csrf.clone(), app.id.clone());
        async move {
            let headers = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str()), ("dots-app", app_id.as_str())];
            let body = (method != Method::GET).then_some("{}");
            t.call(method, &path, None, &headers, body).await
        }
    };
    // A payout on its way, and an endpoint to hear how it ends.
    assert_eq!(t.transfer(&app, "balance", &payee, 3_000).await.status, StatusCode::CREATED);
    let (url, got) = receiver().await;
    assert_eq!(
        t.post(&app, "/v2/webhooks", json!({"url": url, "events": ["transfer.updated"]})).await.status,
        StatusCode::CREATED
    );
    let payout = t.post(&app, "/v2/payouts", json!({"user_id": payee, "amount": 1_000, "currency": "USD"})).await;
    assert_eq!(payout.status, StatusCode::CREATED, "{}", payout.json);
    // What was announced before the suspension goes out.
    while deliver_once(&t).await > 0 {}
    let before = *got.lock().unwrap();

    // Suspended, with a reason (one is required).
    let path = format!("/v2/apps/{}/suspend", app.id);
    assert_eq!(as_operator(&t, &op, Method::POST, &path, json!({"reason": " "})).await.code(), "invalid_string");
    let suspended = as_operator(&t, &op, Method::POST, &path, json!({"reason": "Unpaid invoice"})).await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.json);
    assert_eq!(suspended.json["suspended"]["reason"], "Unpaid invoice");
    assert_eq!(
        as_operator(&t, &op, Method::POST, &path, json!({"reason": "again"})).await.code(),
        "invalid_transition"
    );

    // Its API: 403 app_suspended, reads and changes alike; nothing changed.
    for refused in [
        t.get(&app, "/v2/users").await,
        t.post(&app, "/v2/users", common::user_body(&common::unique_phone())).await,
        t.transfer(&app, "balance", &payee, 100).await,
    ] {
        assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "app_suspended"), "{}", refused.json);
    }
    // Its members may look, not change.
    assert_eq!(as_member(Method::GET, "/v2/apps/me".into()).await.json["suspended"]["reason"], "Unpaid invoice");
    assert_eq!(as_member(Method::GET, "/v2/users".into()).await.status, StatusCode::OK);
    let approve = as_member(Method::POST, format!("/v2/transfers/{}/approve", payout.id())).await;
    assert_eq!(approve.code(), "app_suspended");
    // Its payees: the link's page and the flow say payouts are paused; their API too.
    let claim = t.call(Method::GET, &format!("/claim/{link_token}"), None, &[], None).await;
    let page = String::from_utf8_lossy(&claim.bytes).to_string();
    assert!(page.contains("Payouts from Acme are paused"), "{page}");
    assert!(!page.contains("frame.js"), "no widget while paused");
    let flow_page = t.call(Method::GET, &format!("/flow/{}", flow.id()), None, &[], None).await;
    assert!(String::from_utf8_lossy(&flow_page.bytes).contains("paused"));
    let open = json!({"link_token": link_token}).to_string();
    assert_eq!(t.call(Method::POST, "/flow/v1/sessions", None, &[], Some(&open)).await.code(), "app_suspended");
    let bearer = format!("Bearer {flow_token}");
    assert_eq!(t.call(Method::GET, "/flow/v1/session", Some(&bearer), &[], None).await.code(), "app_suspended");
    // Its links' messages wait too: a text due again (a retry) is not sent.
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE payout_links SET delivery_method = 'sms', delivery_status = 'pending', delivery_due_at = 0 WHERE id = $1")
        .bind(link.id())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let services = &t.state.services;
    assert_eq!(dots_server::link_delivery::deliver_due(&t.store, &t.state.writer, services).await, Ok(0));
    // Its webhooks wait: the payout completes at the rail, its event is not sent.
    t.settle_payouts().await;
    assert_eq!(deliver_once(&t).await, 0);
    assert_eq!(*got.lock().unwrap(), before);
    let held = t.count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending' AND attempts = 0").await;
    assert!(held >= 1, "the completed payout's event waits");

    // Resumed: everything works again, and the held event goes out.
    let resume = format!("/v2/apps/{}/resume", app.id);
    let resumed = as_operator(&t, &op, Method::POST, &resume, json!({})).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.json);
    assert!(resumed.json.get("suspended").is_none());
    assert_eq!(as_operator(&t, &op, Method::POST, &resume, json!({})).await.code(), "invalid_transition");
    assert_eq!(t.get(&app, "/v2/users").await.status, StatusCode::OK);
    assert_eq!(t.call(Method::GET, "/flow/v1/session", Some(&bearer), &[], None).await.status, StatusCode::OK);
    let claim = t.call(Method::GET, &format!("/claim/{link_token}"), None, &[], None).await;
    assert!(String::from_utf8_lossy(&claim.bytes).contains("Get paid by Acme") || claim.code() == "widget_not_built");
    while deliver_once(&t).await > 0 {}
    assert_eq!(*got.lock().unwrap() as i64, before as i64 + held);
    assert_eq!(dots_server::link_delivery::deliver_due(&t.store, &t.state.writer, services).await, Ok(1));
    // The flows the app made are listed; its links' sessions are not flows it made.
    let opened = t.call(Method::POST, "/flow/v1/sessions", None, &[], Some(&open)).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.json);
    let flows = t.get(&app, "/v2/flows").await;
    let ids: Vec<&str> = flows.json["data"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [flow.id()], "{}", flows.json);
    assert_eq!(t.get(&app, &format!("/v2/flows?user_id={payee}")).await.json["data"][0]["id"], flow.id());
    assert_eq!(t.get(&app, "/v2/flows?user_id=usr_nobody").await.json["data"], json!([]));

    // The app's audit log shows the operator's suspension and resumption.
    let log = t.get(&app, "/v2/audit-log").await.json;
    let by_operator: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["type"] == "operator")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(by_operator.contains(&"POST /v2/apps/{id}/suspend"), "{by_operator:?}");
    assert!(by_operator.contains(&"POST /v2/apps/{id}/resume"), "{by_operator:?}");
}
