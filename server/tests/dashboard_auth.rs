//! The dashboard's sign-in (issue 17, part 2): the operator invites an app's first
//! owner; the single-use link makes the account (argon2id); signing in sets an
//! HttpOnly, SameSite=Strict session cookie; changes need its CSRF token and a
//! same-origin request; sign-out ends the session on the server; five wrong
//! passwords lock the account; sessions end when idle or old — on SQLite and
//! PostgreSQL.

mod common;

use axum::http::{Method, StatusCode};
use common::{Creds, OPERATOR_KEY, Resp, TestApp};
use serde_json::{Value, json};

on_both_databases!(
    an_invited_owner_signs_in_and_out,
    five_wrong_passwords_lock_the_account,
    sessions_end_when_idle_or_old,
    an_account_joins_a_second_app_by_proving_its_password,
    roles_are_enforced_by_the_server_on_every_route,
    two_factor_sign_in_needs_a_code_each_time_and_each_code_works_once,
    owners_run_the_team_and_a_changed_role_ends_the_members_sessions,
    sign_in_tries_from_one_address_are_limited_whatever_the_accounts,
    the_dashboards_reads_search_users_chart_payouts_and_follow_the_stream,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forgotten_password_is_reset_by_email_on_sqlite() {
    forgotten_password(dots_server::store::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forgotten_password_is_reset_by_email_on_postgres() {
    forgotten_password(dots_server::store::Backend::Postgres).await;
}

const PASSWORD: &str = "correct horse battery staple";

async fn invite(t: &TestApp, app: &Creds, email: &str, role: &str) -> Resp {
    let bearer = format!("Bearer {OPERATOR_KEY}");
    let body = json!({"email": email, "role": role}).to_string();
    t.call(Method::POST, &format!("/v2/apps/{}/invitations", app.id), Some(&bearer), &[], Some(&body)).await
}

fn token_of(invitation: &Resp) -> String {
    invitation.json["url"].as_str().unwrap().rsplit('#').next().unwrap().to_string()
}

async fn accept(t: &TestApp, token: &str, password: &str) -> Resp {
    let body = json!({"token": token, "password": password}).to_string();
    t.call(Method::POST, "/dashboard/api/invitations/accept", None, &[], Some(&body)).await
}

async fn sign_in(t: &TestApp, email: &str, password: &str) -> Resp {
    let body = json!({"email": email, "password": password}).to_string();
    t.call(Method::POST, "/dashboard/api/sign-in", None, &[], Some(&body)).await
}

/// The session cookie's `name=value`, from a sign-in's Set-Cookie.
fn cookie_of(signed_in: &Resp) -> String {
    let set = signed_in.headers["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

async fn member(t: &TestApp, app: &Creds, email: &str) -> (String, String) {
    member_as(t, app, email, "owner").await
}

/// A signed-in member of `app` with `role`: their session cookie and CSRF token.
async fn member_as(t: &TestApp, app: &Creds, email: &str, role: &str) -> (String, String) {
    let invitation = invite(t, app, email, role).await;
    assert_eq!(invitation.status, StatusCode::CREATED, "{}", invitation.json);
    assert_eq!(accept(t, &token_of(&invitation), PASSWORD).await.status, StatusCode::CREATED);
    let signed_in = sign_in(t, email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.json);
    (cookie_of(&signed_in), signed_in.json["csrf_token"].as_str().unwrap().to_string())
}

/// Moves a clock-kept value (a lock's end, a session's last use) into the past.
async fn change(t: &TestApp, sql: &str, value: i64) {
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query(sql).bind(value).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn an_invited_owner_signs_in_and_out(t: TestApp) {
    let app = t.create_app("Acme").await;
    // The operator invites the app's first owner: a link shown once.
    let bearer = format!("Bearer {OPERATOR_KEY}");
    let body = json!({"email": "Ada@Example.com", "role": "owner"}).to_string();
    let path = format!("/v2/apps/{}/invitations", app.id);
    let keyed = [("idempotency-key", "invite-ada")];
    let invitation = t.call(Method::POST, &path, Some(&bearer), &keyed, Some(&body)).await;
    assert_eq!(invitation.status, StatusCode::CREATED, "{}", invitation.json);
    assert_eq!((&invitation.json["email"], &invitation.json["role"]), (&json!("ada@example.com"), &json!("owner")));
    let url = invitation.json["url"].as_str().unwrap();
    assert!(url.contains("/dashboard/accept#dmi_"), "{url}");
    let again = t.call(Method::POST, &path, Some(&bearer), &keyed, Some(&body)).await;
    assert_eq!((again.json["id"].clone(), again.json.get("url")), (invitation.json["id"].clone(), None), "shown once");
    let token = token_of(&invitation);
    // Not the operator: not allowed; a bad role or email: refused.
    let as_app = t.post(&app, &path, json!({"email": "eve@example.com", "role": "owner"})).await;
    assert_eq!(as_app.status, StatusCode::UNAUTHORIZED);
    assert_eq!(invite(&t, &app, "eve@example.com", "king").await.code(), "invalid_field");
    assert_eq!(invite(&t, &app, "not an email", "owner").await.code(), "invalid_email");

    // The link makes the account, with a password of some length.
    assert_eq!(accept(&t, &token, "short").await.code(), "weak_password");
    let joined = accept(&t, &token, PASSWORD).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.json);
    assert_eq!(joined.json["memberships"], json!([{"app_id": app.id, "app_name": "Acme", "role": "owner"}]));
    assert_eq!(accept(&t, &token, PASSWORD).await.code(), "invitation_invalid", "single use");
    assert_eq!(invite(&t, &app, "ada@example.com", "viewer").await.code(), "member_exists");
    let stored = t.count(&format!("SELECT COUNT(*) FROM members WHERE password_hash LIKE '$argon2id$%' AND password_hash NOT LIKE '%{PASSWORD}%'")).await;
    assert_eq!(stored, 1, "kept as an argon2id hash, never the password");

    // A wrong password and an unknown email get the same answer, and no password dialog.
    let wrong = sign_in(&t, "ada@example.com", "not the password").await;
    let unknown = sign_in(&t, "nobody@example.com", PASSWORD).await;
    for refused in [&wrong, &unknown] {
        assert_eq!((refused.status, refused.code()), (StatusCode::UNAUTHORIZED, "sign_in_failed"));
        assert!(refused.headers["www-authenticate"].to_str().unwrap().starts_with("Session"));
    }
    assert_eq!(wrong.json["error"]["message"], unknown.json["error"]["message"]);

    let signed_in = sign_in(&t, "ADA@example.com", PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.json);
    let set_cookie = signed_in.headers["set-cookie"].to_str().unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    assert!(!signed_in.bytes.windows(4).any(|w| w == b"dms_"), "the session token is only in the cookie");
    let cookie = cookie_of(&signed_in);
    let csrf = signed_in.json["csrf_token"].as_str().unwrap().to_string();
    let session = t.call(Method::GET, "/dashboard/api/session", None, &[("cookie", &cookie)], None).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.json);
    assert_eq!(
        (&session.json["csrf_token"], &session.json["member"]["email"]),
        (&json!(csrf), &json!("ada@example.com"))
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM member_sessions WHERE token_hash LIKE 'dms_%'").await, 0, "kept hashed");

    // A change without the CSRF token, or from another site, is refused.
    let out = |headers: Vec<(&'static str, String)>| {
        let t = &t;
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            t.call(Method::POST, "/dashboard/api/sign-out", None, &headers, Some("{}")).await
        }
    };
    assert_eq!(out(vec![("cookie", cookie.clone())]).await.code(), "csrf_token_invalid");
    assert_eq!(
        out(vec![("cookie", cookie.clone()), ("x-csrf-token", "0".repeat(32))]).await.code(),
        "csrf_token_invalid"
    );
    let cross_site =
        vec![("cookie", cookie.clone()), ("x-csrf-token", csrf.clone()), ("origin", "https://evil.example".into())];
    assert_eq!(out(cross_site).await.code(), "cross_site_request");
    let cross_sign_in = t
        .call(
            Method::POST,
            "/dashboard/api/sign-in",
            None,
            &[("origin", "https://evil.example")],
            Some(&json!({"email": "ada@example.com", "password": PASSWORD}).to_string()),
        )
        .await;
    assert_eq!(cross_sign_in.code(), "cross_site_request");

    // Signed out: the server forgets the session, the browser is told to.
    let signed_out = out(vec![("cookie", cookie.clone()), ("x-csrf-token", csrf.clone())]).await;
    assert_eq!(signed_out.status, StatusCode::OK, "{}", signed_out.json);
    assert!(signed_out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = t.call(Method::GET, "/dashboard/api/session", None, &[("cookie", &cookie)], None).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "not_signed_in"));
    let none = t.call(Method::GET, "/dashboard/api/session", None, &[], None).await;
    assert_eq!(none.code(), "not_signed_in");

    // The app's audit log has the invitation and the joining.
    let log = t.get(&app, "/v2/audit-log").await.json;
    let actions: Vec<(&str, &str)> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"]["type"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&("operator", "POST /v2/apps/{id}/invitations")), "{actions:?}");
    assert!(actions.contains(&("member", "POST /dashboard/api/invitations/accept")), "{actions:?}");
}

async fn five_wrong_passwords_lock_the_account(t: TestApp) {
    let app = t.create_app("Acme").await;
    member(&t, &app, "ada@example.com").await;
    for _ in 0..4 {
        assert_eq!(sign_in(&t, "ada@example.com", "guess guess guess").await.code(), "sign_in_failed");
    }
    let fifth = sign_in(&t, "ada@example.com", "guess guess guess").await;
    assert_eq!((fifth.status, fifth.code()), (StatusCode::TOO_MANY_REQUESTS, "account_locked"));
    // Locked: the right password does not get in either.
    assert_eq!(sign_in(&t, "ada@example.com", PASSWORD).await.code(), "account_locked");
    // Fifteen minutes later it does (the lock's end, moved to the past).
    change(&t, "UPDATE members SET locked_until = $1", 1).await;
    assert_eq!(sign_in(&t, "ada@example.com", PASSWORD).await.status, StatusCode::OK);

    // Wrong passwords at once are all counted: the account locks all the same.
    member(&t, &app, "grace@example.com").await;
    let tries = common::at_once(8, |_| {
        let t = t.clone();
        async move { sign_in(&t, "grace@example.com", "guess guess guess").await }
    })
    .await;
    assert!(
        tries.iter().all(|r| r.status.is_client_error()),
        "{:?}",
        tries.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(sign_in(&t, "grace@example.com", PASSWORD).await.code(), "account_locked");
}

async fn sessions_end_when_idle_or_old(t: TestApp) {
    let app = t.create_app("Acme").await;
    let (cookie, _) = member(&t, &app, "ada@example.com").await;
    let session = |cookie: String| {
        let t = &t;
        async move { t.call(Method::GET, "/dashboard/api/session", None, &[("cookie", &cookie)], None).await }
    };
    assert_eq!(session(cookie.clone()).await.status, StatusCode::OK);
    // Thirty-one idle minutes.
    change(&t, "UPDATE member_sessions SET last_seen_at = $1", dots_server::store::now_ms() - 31 * 60 * 1000).await;
    assert_eq!(session(cookie).await.code(), "not_signed_in");
    // Past its twelve hours, however recently used.
    let signed_in = sign_in(&t, "ada@example.com", PASSWORD).await;
    let cookie = cookie_of(&signed_in);
    change(&t, "UPDATE member_sessions SET expires_at = $1", dots_server::store::now_ms() - 1).await;
    assert_eq!(session(cookie).await.code(), "not_signed_in");
}

async fn an_account_joins_a_second_app_by_proving_its_password(t: TestApp) {
    let first = t.create_app("Acme").await;
    let second = t.create_app("Globex").await;
    member(&t, &first, "ada@example.com").await;
    let invitation = invite(&t, &second, "ada@example.com", "viewer").await;
    let token = token_of(&invitation);
    assert_eq!(accept(&t, &token, "someone else's password").await.code(), "sign_in_failed");
    let joined = accept(&t, &token, PASSWORD).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.json);
    let roles: Vec<(Value, Value)> = joined.json["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["app_name"].clone(), m["role"].clone()))
        .collect();
    assert_eq!(roles, vec![(json!("Acme"), json!("owner")), (json!("Globex"), json!("viewer"))]);
    assert_eq!(t.count("SELECT COUNT(*) FROM members").await, 1, "one account");
}

/// A request from the dashboard's own page: the member's session, the app it acts
/// for, and (for a change) the CSRF token.
async fn as_member(
    t: &TestApp,
    (cookie, csrf): &(String, String),
    app: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    let body = body.map(|b| b.to_string());
    let headers = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str()), ("dots-app", app)];
    t.call(method, path, None, &headers, body.as_deref()).await
}

async fn roles_are_enforced_by_the_server_on_every_route(t: TestApp) {
    let app = t.create_app("Acme").await;
    let other = t.create_app("Globex").await;
    let owner = member_as(&t, &app, "olive@example.com", "owner").await;
    let admin = member_as(&t, &app, "adam@example.com", "admin").await;
    let reviewer = member_as(&t, &app, "rita@example.com", "reviewer").await;
    let viewer = member_as(&t, &app, "vic@example.com", "viewer").await;
    // A flagged payout for the reviewer, made by the app's server.
    t.refill(&app, 20_000).await;
    let rules = t.put(&app, "/v2/apps/me/rules", json!({"review_threshold": 1000})).await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.json);
    let payee = t.create_payee(&app).await;
    t.transfer(&app, "balance", &payee, 10_000).await;
    let flagged = t.post(&app, "/v2/payouts", json!({"user_id": payee, "amount": 3_000, "currency": "USD"})).await;
    assert_eq!(flagged.json["status"], "flagged", "{}", flagged.json);

    // Everyone reads.
    for who in [&owner, &admin, &reviewer, &viewer] {
        let users = as_member(&t, who, &app.id, Method::GET, "/v2/users", None).await;
        assert_eq!(users.status, StatusCode::OK, "{}", users.json);
    }
    // Owners and admins can move money: not before their two-factor sign-in is on.
    let early =
        as_member(&t, &admin, &app.id, Method::POST, "/v2/users", Some(common::user_body("+12015550160"))).await;
    assert_eq!((early.status, early.code()), (StatusCode::FORBIDDEN, "two_factor_setup_required"), "{}", early.json);
    enroll(&t, &owner).await;
    enroll(&t, &admin).await;
    // An admin moves money and makes users; the audit log says it was them.
    let made = as_member(&t, &admin, &app.id, Method::POST, "/v2/users", Some(common::user_body("+12015550161"))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let log = t.get(&app, &format!("/v2/audit-log?object_id={}", made.id())).await.json;
    assert_eq!(log["data"][0]["actor"]["type"], "member", "{log}");
    // A reviewer approves the flagged payout but cannot make one: the server says no,
    // whatever a page shows (403, error type permission).
    let approve = format!("/v2/transfers/{}/approve", flagged.id());
    let approved = as_member(&t, &reviewer, &app.id, Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.json);
    let payout = json!({"user_id": payee, "amount": 100, "currency": "USD"});
    let forged = as_member(&t, &reviewer, &app.id, Method::POST, "/v2/payouts", Some(payout.clone())).await;
    assert_eq!((forged.status, forged.code()), (StatusCode::FORBIDDEN, "insufficient_role"), "{}", forged.json);
    assert_eq!(forged.json["error"]["type"], "permission");
    for (who, method, path, body) in [
        (&viewer, Method::POST, "/v2/users", common::user_body("+12015550162")),
        (&viewer, Method::POST, approve.as_str(), json!({})),
        (&admin, Method::PUT, "/v2/apps/me/rules", json!({"review_threshold": 5000})),
        (&admin, Method::POST, "/v2/webhooks", json!({"url": "https://example.com/h"})),
    ] {
        let refused = as_member(&t, who, &app.id, method.clone(), path, Some(body)).await;
        assert_eq!(refused.code(), "insufficient_role", "{method} {path}: {}", refused.json);
    }
    let owned =
        as_member(&t, &owner, &app.id, Method::PUT, "/v2/apps/me/rules", Some(json!({"review_threshold": 5000}))).await;
    assert_eq!(owned.status, StatusCode::OK, "{}", owned.json);
    // Another app is not theirs; no app named is no app; a change needs the CSRF token.
    let theirs = as_member(&t, &owner, &other.id, Method::GET, "/v2/users", None).await;
    assert_eq!((theirs.status, theirs.code()), (StatusCode::FORBIDDEN, "not_a_member"));
    let unnamed = t.call(Method::GET, "/v2/users", None, &[("cookie", owner.0.as_str())], None).await;
    assert_eq!(unnamed.code(), "not_a_member");
    let no_csrf = [("cookie", admin.0.as_str()), ("dots-app", app.id.as_str())];
    let body = common::user_body("+12015550163").to_string();
    let unsure = t.call(Method::POST, "/v2/users", None, &no_csrf, Some(&body)).await;
    assert_eq!(unsure.code(), "csrf_token_invalid");
    // Nothing the refusals touched changed: one user made by a member, the payout approved once.
    assert_eq!(t.count("SELECT COUNT(*) FROM users").await, 2);
    // A signed-out session acts for no app.
    let out = as_member(&t, &viewer, &app.id, Method::POST, "/dashboard/api/sign-out", Some(json!({}))).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.json);
    assert_eq!(as_member(&t, &viewer, &app.id, Method::GET, "/v2/users", None).await.code(), "not_signed_in");
}

/// The member's current step's TOTP code, from the secret the setup showed.
fn code_at(secret: &str, offset: i64) -> String {
    let secret = dots_server::members::base32_decode(secret).unwrap();
    let step = dots_server::store::now_ms() / 30_000 + offset;
    dots_server::members::totp_code(&secret, step)
}

/// Turns two-factor sign-in on: its secret and recovery codes.
async fn enroll(t: &TestApp, who: &(String, String)) -> (String, Vec<String>) {
    let headers = [("cookie", who.0.as_str()), ("x-csrf-token", who.1.as_str())];
    let setup = t.call(Method::POST, "/dashboard/api/two-factor", None, &headers, Some("{}")).await;
    assert_eq!(setup.status, StatusCode::CREATED, "{}", setup.json);
    let secret = setup.json["secret"].as_str().unwrap().to_string();
    assert!(setup.json["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/Dots:"), "{}", setup.json);
    let wrong = json!({"code": "000000"}).to_string();
    let refused = t.call(Method::POST, "/dashboard/api/two-factor/confirm", None, &headers, Some(&wrong)).await;
    // (One in a million: 000000 may be the current code; then it is on already.)
    if refused.status != StatusCode::OK {
        assert_eq!(refused.code(), "invalid_code", "{}", refused.json);
        let body = json!({"code": code_at(&secret, 0)}).to_string();
        let on = t.call(Method::POST, "/dashboard/api/two-factor/confirm", None, &headers, Some(&body)).await;
        assert_eq!(on.status, StatusCode::OK, "{}", on.json);
        let codes: Vec<String> =
            on.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
        return (secret, codes);
    }
    let codes =
        refused.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    (secret, codes)
}

async fn sign_in_with(t: &TestApp, email: &str, code: &str) -> Resp {
    let body = json!({"email": email, "password": PASSWORD, "code": code}).to_string();
    t.call(Method::POST, "/dashboard/api/sign-in", None, &[], Some(&body)).await
}

async fn two_factor_sign_in_needs_a_code_each_time_and_each_code_works_once(t: TestApp) {
    let app = t.create_app("Acme").await;
    let ada = member(&t, &app, "ada@example.com").await;
    let (secret, recovery) = enroll(&t, &ada).await;
    assert_eq!(recovery.len(), 10);
    assert_eq!(t.count("SELECT COUNT(*) FROM members WHERE totp_secret_encrypted LIKE 'v2$%'").await, 1, "sealed");
    let headers = [("cookie", ada.0.as_str()), ("x-csrf-token", ada.1.as_str())];
    let again = t.call(Method::POST, "/dashboard/api/two-factor", None, &headers, Some("{}")).await;
    assert_eq!(again.code(), "two_factor_already_on");

    // The password alone no longer signs in.
    let bare = sign_in(&t, "ada@example.com", PASSWORD).await;
    assert_eq!((bare.status, bare.code()), (StatusCode::UNAUTHORIZED, "two_factor_code_required"));
    assert!(bare.headers["www-authenticate"].to_str().unwrap().starts_with("Session"));
    assert_eq!(sign_in_with(&t, "ada@example.com", "123456x").await.code(), "sign_in_failed");
    // The next step's code (the current one confirmed the setup) works, once.
    let next = code_at(&secret, 1);
    assert_eq!(sign_in_with(&t, "ada@example.com", &next).await.status, StatusCode::OK);
    assert_eq!(sign_in_with(&t, "ada@example.com", &next).await.code(), "sign_in_failed", "a code works once");
    // A recovery code works in its place, once.
    assert_eq!(sign_in_with(&t, "ada@example.com", &recovery[0]).await.status, StatusCode::OK);
    assert_eq!(sign_in_with(&t, "ada@example.com", &recovery[0]).await.code(), "sign_in_failed");
    assert_eq!(t.count("SELECT COUNT(*) FROM member_recovery_codes WHERE used_at IS NOT NULL").await, 1);
    // Wrong codes count like wrong passwords (one wrong code above, one replayed recovery code).
    for _ in 0..3 {
        assert_eq!(sign_in_with(&t, "ada@example.com", "999999x").await.code(), "sign_in_failed");
    }
    assert_eq!(sign_in_with(&t, "ada@example.com", "999999x").await.code(), "account_locked");
}

async fn owners_run_the_team_and_a_changed_role_ends_the_members_sessions(t: TestApp) {
    let app = t.create_app("Acme").await;
    let owner = member_as(&t, &app, "olive@example.com", "owner").await;
    enroll(&t, &owner).await;
    // The owner invites an admin from the dashboard: the link goes out by email.
    let body = json!({"email": "adam@example.com", "role": "admin"});
    let invited = as_member(&t, &owner, &app.id, Method::POST, "/v2/members/invitations", Some(body)).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.json);
    assert_eq!(invited.json["emailed"], true, "{}", invited.json);
    let url = invited.json["url"].as_str().unwrap();
    let emails = t.get(&app, "/v2/dev/emails?to=adam%40example.com").await.json;
    assert_eq!(emails["data"][0]["subject"], "Join Acme on Dots", "{emails}");
    assert!(emails["data"][0]["text"].as_str().unwrap().contains(url), "{emails}");
    let token = url.rsplit('#').next().unwrap();
    assert_eq!(accept(&t, token, PASSWORD).await.status, StatusCode::CREATED);
    let signed_in = sign_in(&t, "adam@example.com", PASSWORD).await;
    let admin = (cookie_of(&signed_in), signed_in.json["csrf_token"].as_str().unwrap().to_string());
    let team = as_member(&t, &owner, &app.id, Method::GET, "/v2/members", None).await.json;
    let roles: Vec<(&str, &str)> =
        team.as_array().unwrap().iter().map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap())).collect();
    assert_eq!(roles, [("olive@example.com", "owner"), ("adam@example.com", "admin")]);
    let (olive, adam) = (team[0]["id"].as_str().unwrap().to_string(), team[1]["id"].as_str().unwrap().to_string());
    assert_eq!((&team[0]["two_factor"], &team[1]["two_factor"]), (&json!(true), &json!(false)));
    // The team is the owners' to run.
    let body = json!({"email": "eve@example.com", "role": "owner"});
    let refused = as_member(&t, &admin, &app.id, Method::POST, "/v2/members/invitations", Some(body)).await;
    assert_eq!(refused.code(), "insufficient_role");

    // Made a viewer: what the admin could do ends with their sessions now.
    let path = format!("/v2/members/{adam}");
    let changed = as_member(&t, &owner, &app.id, Method::PUT, &path, Some(json!({"role": "viewer"}))).await;
    assert_eq!((changed.status, &changed.json["role"]), (StatusCode::OK, &json!("viewer")), "{}", changed.json);
    let after = t.call(Method::GET, "/dashboard/api/session", None, &[("cookie", admin.0.as_str())], None).await;
    assert_eq!(after.code(), "not_signed_in");
    // An app keeps an owner.
    let own = format!("/v2/members/{olive}");
    let demoted = as_member(&t, &owner, &app.id, Method::PUT, &own, Some(json!({"role": "admin"}))).await;
    assert_eq!((demoted.status, demoted.code()), (StatusCode::CONFLICT, "last_owner"));
    assert_eq!(as_member(&t, &owner, &app.id, Method::DELETE, &own, Some(json!({}))).await.code(), "last_owner");
    // Taken off the team, and no such member after that.
    let removed = as_member(&t, &owner, &app.id, Method::DELETE, &path, Some(json!({}))).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.json);
    assert_eq!(as_member(&t, &owner, &app.id, Method::DELETE, &path, Some(json!({}))).await.code(), "member_not_found");
    let bogus = as_member(&t, &owner, &app.id, Method::PUT, "/v2/members/x", Some(json!({"role": "viewer"}))).await;
    assert_eq!(bogus.code(), "member_not_found");
    let team = as_member(&t, &owner, &app.id, Method::GET, "/v2/members", None).await.json;
    assert_eq!(team.as_array().unwrap().len(), 1);
    assert_eq!(sign_in(&t, "adam@example.com", PASSWORD).await.json["member"]["memberships"], json!([]));
}

/// A reset link goes by email (SMTP, to a server this test starts) to an account's
/// address only; it sets a new password once, unlocks the account and ends its
/// sessions; the answer is the same for an email without an account.
async fn forgotten_password(backend: dots_server::store::Backend) {
    let smtp = common::SmtpServer::start().await;
    let addr = smtp.addr;
    common::run_with(
        backend,
        move |s| s.smtp = Some(dots_server::config::SmtpSettings { url: format!("smtp://{addr}"), from: None }),
        move |t| async move {
            let app = t.create_app("Acme").await;
            let (cookie, _) = member(&t, &app, "olive@example.com").await;
            for _ in 0..5 {
                sign_in(&t, "olive@example.com", "not the password at all").await;
            }
            assert_eq!(sign_in(&t, "olive@example.com", PASSWORD).await.code(), "account_locked");
            let ask = |email: &'static str| {
                let t = t.clone();
                async move {
                    let body = json!({"email": email}).to_string();
                    t.call(Method::POST, "/dashboard/api/password-reset", None, &[], Some(&body)).await
                }
            };
            let (unknown, known) = (ask("nobody@example.com").await, ask("Olive@Example.com").await);
            assert_eq!((unknown.status, &unknown.json), (known.status, &known.json), "the same answer either way");
            assert_eq!(known.status, StatusCode::ACCEPTED);
            let received = smtp.wait_for(1).await;
            assert_eq!(received.len(), 1, "no email for an address without an account");
            assert_eq!(received[0].to, ["olive@example.com".to_string()]);
            let text = common::mime_part(&received[0].data, "text/plain").expect("a plain-text part");
            let token: String = text
                .split("/dashboard/reset#")
                .nth(1)
                .expect("the link")
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(token.starts_with("dmr_"), "{text}");

            let confirm = |password: &'static str| {
                let (t, token) = (t.clone(), token.clone());
                async move {
                    let body = json!({"token": token, "password": password}).to_string();
                    t.call(Method::POST, "/dashboard/api/password-reset/confirm", None, &[], Some(&body)).await
                }
            };
            assert_eq!(confirm("short").await.code(), "weak_password");
            let done = confirm("a brand new passphrase").await;
            assert_eq!(done.status, StatusCode::OK, "{}", done.json);
            // Used once; the old session and password open nothing; the lock is gone.
            assert_eq!(confirm("another new passphrase").await.code(), "reset_link_invalid");
            let session =
                t.call(Method::GET, "/dashboard/api/session", None, &[("cookie", cookie.as_str())], None).await;
            assert_eq!(session.code(), "not_signed_in");
            assert_eq!(sign_in(&t, "olive@example.com", PASSWORD).await.code(), "sign_in_failed");
            assert_eq!(sign_in(&t, "olive@example.com", "a brand new passphrase").await.status, StatusCode::OK);
            assert_eq!(t.count("SELECT COUNT(*) FROM member_password_resets WHERE used_at IS NULL").await, 0);
        },
    )
    .await;
}

/// One address may try signing in so many times in 15 minutes, whatever the
/// accounts (guessing one password each across many accounts); another address
/// is not held back.
async fn sign_in_tries_from_one_address_are_limited_whatever_the_accounts(t: TestApp) {
    let app = t.create_app("Acme").await;
    member(&t, &app, "olive@example.com").await;
    let from = |peer: &'static str, email: String| {
        let t = t.clone();
        async move {
            let body = json!({"email": email, "password": "not the password at all"}).to_string();
            t.call_from(peer.parse().unwrap(), Method::POST, "/dashboard/api/sign-in", &[], Some(&body)).await
        }
    };
    for i in 0..30 {
        assert_eq!(from("198.51.100.7:4000", format!("guess{i}@example.com")).await.code(), "sign_in_failed");
    }
    assert_eq!(from("198.51.100.7:4000", "guess@example.com".into()).await.code(), "rate_limited");
    let elsewhere = from("203.0.113.9:4000", "olive@example.com".into()).await;
    assert_eq!(elsewhere.code(), "sign_in_failed", "another address is not held back");
}

/// What the dashboard's pages read besides the app API's lists: users found by
/// name, email or phone; the last 30 days' completed payouts a day at a time; and
/// the app's event stream, named by `?app=` (a browser's EventSource sends no
/// header of its own), for members only.
async fn the_dashboards_reads_search_users_chart_payouts_and_follow_the_stream(t: TestApp) {
    let app = t.create_app("Acme").await;
    let viewer = member_as(&t, &app, "vera@example.com", "viewer").await;
    let mut ids = Vec::new();
    for (first, last, email, phone) in [
        ("Grace", "Hopper", "grace@navy.example", "+14155552680"),
        ("Ada", "Lovelace", "ada@example.com", "+14155552681"),
        ("Alan", "Turing", "alan_t@example.com", "+442071838750"),
    ] {
        let body = json!({"first_name": first, "last_name": last, "email": email, "phone_number": phone});
        ids.push(t.post(&app, "/v2/users", body).await.id());
    }
    let found = |query: &'static str| {
        let (t, viewer, app_id) = (t.clone(), viewer.clone(), app.id.clone());
        async move {
            let answer = as_member(&t, &viewer, &app_id, Method::GET, &format!("/v2/users?search={query}"), None).await;
            assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.json);
            let names: Vec<String> = answer.json["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["last_name"].as_str().unwrap().into())
                .collect();
            names
        }
    };
    assert_eq!(found("hopp").await, ["Hopper"]);
    assert_eq!(found("grace%20HOPPER").await, ["Hopper"]);
    assert_eq!(found("NAVY.example").await, ["Hopper"]);
    assert_eq!(found("(415)%20555-2681").await, ["Lovelace"]);
    assert_eq!(found("415555").await, ["Lovelace", "Hopper"]);
    // `_` and `%` are what they are, not patterns.
    assert_eq!(found("n_t").await, ["Turing"]);
    assert_eq!(found("%25").await, Vec::<String>::new());
    let long = "x".repeat(101);
    let refused = as_member(&t, &viewer, &app.id, Method::GET, &format!("/v2/users?search={long}"), None).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::BAD_REQUEST, "invalid_query"));

    // The chart: completed payouts of the last 30 days, zero days included.
    t.refill(&app, 10_000).await;
    let payee = t.create_payee(&app).await;
    for amount in [1250, 750] {
        assert_eq!(t.transfer(&app, "balance", &payee, amount).await.status, StatusCode::CREATED);
        let payout = t.post(&app, "/v2/payouts", json!({"user_id": payee, "amount": amount, "currency": "USD"})).await;
        assert_eq!(payout.status, StatusCode::CREATED, "{}", payout.json);
    }
    t.settle_payouts().await;
    let volume = as_member(&t, &viewer, &app.id, Method::GET, "/v2/apps/me/volume", None).await.json;
    let days = volume["days"].as_array().unwrap();
    assert_eq!((days.len(), volume["currency"].as_str()), (30, Some("USD")));
    let today = dots_shared::time::rfc3339_from_unix_ms(dots_server::store::now_ms())[..10].to_string();
    assert_eq!(days[29], json!({"date": today, "amount": 2000, "count": 2}));
    assert!(days[..29].iter().all(|d| d["amount"] == 0 && d["count"] == 0), "{volume}");

    // The stream, for a member naming the app in the query …
    let headers = [("cookie", viewer.0.as_str())];
    let (opened, mut stream) = t.open_stream(&format!("/v2/events/stream?app={}", app.id), &headers).await;
    assert_eq!(opened.status, StatusCode::OK);
    let wait = std::time::Duration::from_secs(10);
    t.create_user(&app).await;
    let event = stream.next(wait).await.expect("the app's events as they happen");
    assert_eq!(event.kind, "user.created");
    // … not for an app they are not on, nor as a query an API key sends.
    let other = t.create_app("Globex").await;
    let (refused, _) = t.open_stream(&format!("/v2/events/stream?app={}", other.id), &headers).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let basic = common::basic(&app);
    let (stray, _) =
        t.open_stream(&format!("/v2/events/stream?app={}", app.id), &[("authorization", basic.as_str())]).await;
    assert_eq!(stray.status, StatusCode::BAD_REQUEST);
    // A signed-out member's open stream ends: what it may read is looked at again.
    let signed_out = as_member(&t, &viewer, &app.id, Method::POST, "/dashboard/api/sign-out", None).await;
    assert_eq!(signed_out.status, StatusCode::OK, "{}", signed_out.json);
    assert!(stream.ends_within(wait).await, "the stream outlived its session");
}
