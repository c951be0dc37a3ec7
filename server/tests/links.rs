//! Payout links and flows through the flow API, end to end without a browser:
//! the happy path to a settled payout, and the attacks the claim must withstand.

mod common;

use axum::http::{Method, StatusCode};
use common::{Creds, Resp, TestApp, basic};
use serde_json::{Value, json};

on_both_databases!(
    a_payout_link_is_claimed_and_paid_out,
    claimed_expired_and_canceled_links_cannot_be_claimed,
    twenty_concurrent_claims_move_the_money_once,
    a_flow_token_reaches_only_its_own_flow_user_and_app,
    a_flow_code_is_bound_to_the_links_phone,
    a_pre_authenticated_flow_completes,
    payout_link_input_is_validated,
    a_claim_the_app_cannot_fund_leaves_the_link_active,
    the_claim_page_is_served_locked_down,
    a_link_opens_a_bounded_number_of_sessions,
    a_claimed_link_shows_its_payee_the_payout_and_resends_it_once_after_a_failure,
    a_national_number_is_read_in_the_chosen_country_and_the_app_sets_its_default,
    a_link_keeps_the_fee_it_was_made_with_and_its_payee_sees_it,
    an_unauthenticated_flow_recognises_an_existing_payee_by_their_phone,
    a_flow_payout_step_withdraws_the_wallet_once_within_the_apps_bounds,
);

const PAYEE_PHONE: &str = "+12015550177";

impl TestApp {
    async fn flow(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| b.to_string());
        self.call(method, path, Some(&format!("Bearer {token}")), &[], body.as_deref()).await
    }
}

async fn create_link(t: &TestApp, app: &Creds, amount: i64) -> Resp {
    let r = t
        .post(
            app,
            "/v2/payout-links",
            json!({"amount": amount, "currency": "USD", "phone_number": PAYEE_PHONE, "memo": "June invoice"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r
}

fn token_of(link: &Resp) -> String {
    link.json["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string()
}

/// Opens a session on the link and proves the payee's phone; returns the session token.
async fn verified_session(t: &TestApp, app: &Creds, link: &Resp) -> String {
    let opened = t
        .call(Method::POST, "/flow/v1/sessions", None, &[], Some(&json!({"link_token": token_of(link)}).to_string()))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.json);
    let token = opened.json["token"].as_str().unwrap().to_string();
    let sent = t
        .flow(
            &token,
            Method::POST,
            "/flow/v1/verification",
            Some(json!({"phone_number": "(201) 555-0177".replace("(", "+1 (")})),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    let code = t.last_code(app, PAYEE_PHONE).await;
    let checked = t.flow(&token, Method::POST, "/flow/v1/verification/check", Some(json!({"code": code}))).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.json);
    // Proving the phone replaces the session's token; the one used so far is dead.
    let fresh = checked.json["session_token"].as_str().expect("a new session token").to_string();
    assert_ne!(fresh, token);
    assert_eq!(t.flow(&token, Method::GET, "/flow/v1/session", None).await.status, StatusCode::UNAUTHORIZED);
    fresh
}

async fn add_bank(t: &TestApp, token: &str) -> String {
    let body = json!({"type": "bank", "routing_number": "011000015", "account_number": "000123456789"});
    let r = t.flow(token, Method::POST, "/flow/v1/payout-methods", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.id()
}

async fn a_payout_link_is_claimed_and_paid_out(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let link = create_link(&t, &app, 2_500).await;
    assert_eq!(link.json["status"], "active");
    assert!(link.json["url"].as_str().unwrap().contains("/claim/plt_"));
    assert_eq!(
        t.get(&app, &format!("/v2/payout-links/{}", link.id())).await.json,
        link.json,
        "the URL can be read again"
    );

    let token = verified_session(&t, &app, &link).await;
    let state = t.flow(&token, Method::GET, "/flow/v1/session", None).await;
    assert_eq!(state.json["verified"], true, "{}", state.json);
    assert_eq!(state.json["payout_link"]["amount"], 2_500);
    assert_eq!(state.json["payout_link"]["memo"], "June invoice");
    assert_eq!(state.json["payout_link"]["phone_hint"], "+1******0177");
    let method = add_bank(&t, &token).await;
    let claimed = t.flow(&token, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.json);
    let payout_id = claimed.json["payout"]["id"].as_str().unwrap().to_string();

    let link_now = t.get(&app, &format!("/v2/payout-links/{}", link.id())).await;
    assert_eq!(link_now.json["status"], "claimed");
    assert_eq!(link_now.json["payout_transfer_id"], payout_id.as_str());
    let user_id = link_now.json["user_id"].as_str().expect("the claimed link carries the user id").to_string();
    let user = t.get(&app, &format!("/v2/users/{user_id}")).await;
    assert_eq!(
        (user.json["phone_number"].as_str(), user.json["phone_verified"].as_bool()),
        (Some(PAYEE_PHONE), Some(true))
    );

    t.settle_payouts().await;
    let payout = t.get(&app, &format!("/v2/transfers/{payout_id}")).await;
    assert_eq!(payout.json["status"], "completed", "{}", payout.json);
    assert_eq!(t.app_available(&app).await, 7_500);
    assert_eq!(t.user_wallet(&app, &user_id).await, (0, 0));
    for event in ["payout_link.created", "payout_link.claimed", "flow.completed", "user.verified"] {
        assert_eq!(t.count(&format!("SELECT COUNT(*) FROM events WHERE type = '{event}'")).await, 1, "{event}");
    }

    // The app can pay the same user again by id.
    let again = t.post(&app, "/v2/payout-links", json!({"amount": 100, "currency": "USD", "user_id": user_id})).await;
    assert_eq!(again.json["phone_number"], PAYEE_PHONE, "{}", again.json);
}

async fn claimed_expired_and_canceled_links_cannot_be_claimed(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let open = |link: &Resp| {
        let body = json!({"link_token": token_of(link)}).to_string();
        let t = t.clone();
        async move { t.call(Method::POST, "/flow/v1/sessions", None, &[], Some(&body)).await }
    };

    // Claimed: a second session cannot even open, and an earlier one cannot claim.
    let link = create_link(&t, &app, 1_000).await;
    let first = verified_session(&t, &app, &link).await;
    let opened_early = open(&link).await.json["token"].as_str().unwrap().to_string();
    let method = add_bank(&t, &first).await;
    assert_eq!(
        t.flow(&first, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await.status,
        StatusCode::OK
    );
    // The claim ends every session of the link: their tokens can do nothing more.
    let again = t.flow(&first, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!((again.status, again.code()), (StatusCode::UNAUTHORIZED, "session_ended"));
    // Opening the claimed link again starts a follow-up session, which cannot claim.
    let follow_up = open(&link).await;
    assert_eq!(follow_up.status, StatusCode::CREATED, "{}", follow_up.json);
    let follow_up = follow_up.json["token"].as_str().unwrap().to_string();
    let r = t.flow(&follow_up, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!(r.code(), "phone_not_verified", "{}", r.json);
    let r = t.flow(&opened_early, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "session_ended"), "{}", r.json);
    assert_eq!(t.flow(&first, Method::GET, "/flow/v1/payout-methods", None).await.code(), "session_ended");

    // Canceled after a session was opened and verified.
    let link = create_link(&t, &app, 1_000).await;
    let session = verified_session_after_cooldown(&t, &app, &link).await;
    let method = add_bank(&t, &session).await;
    let canceled = t.post(&app, &format!("/v2/payout-links/{}/cancel", link.id()), json!({})).await;
    assert_eq!(canceled.json["status"], "canceled", "{}", canceled.json);
    let r = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!(
        (r.code(), r.json["error"]["message"].as_str()),
        ("session_ended", Some("The sender canceled this payment."))
    );
    assert_eq!(open(&link).await.code(), "payout_link_canceled");
    let twice = t.post(&app, &format!("/v2/payout-links/{}/cancel", link.id()), json!({})).await;
    assert_eq!(twice.code(), "payout_link_not_active");

    // Expired while a session was open.
    let link = create_link(&t, &app, 1_000).await;
    let session = verified_session_after_cooldown(&t, &app, &link).await;
    let method = add_bank(&t, &session).await;
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE payout_links SET expires_at = 1 WHERE id = $1")
        .bind(link.id())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(t.get(&app, &format!("/v2/payout-links/{}", link.id())).await.json["status"], "expired");
    let r = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!(r.code(), "session_ended");
    assert_eq!(open(&link).await.code(), "payout_link_expired");
    assert_eq!(t.app_available(&app).await, 9_000, "only the first link paid");
}

/// The resend cool-down is per session, but the same phone has a per-hour cap; step
/// the clock of earlier codes back so each scenario starts fresh.
async fn verified_session_after_cooldown(t: &TestApp, app: &Creds, link: &Resp) -> String {
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("DELETE FROM rate_limits").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    verified_session(t, app, link).await
}

async fn twenty_concurrent_claims_move_the_money_once(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let link = create_link(&t, &app, 3_000).await;
    let mut sessions = Vec::new();
    for _ in 0..4 {
        let session = verified_session_after_cooldown(&t, &app, &link).await;
        let method = add_bank(&t, &session).await;
        sessions.push((session, method));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (t, barrier) = (t.clone(), barrier.clone());
            let (session, method) = sessions[i % sessions.len()].clone();
            tokio::spawn(async move {
                barrier.wait().await;
                t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await
            })
        })
        .collect();
    let mut won = 0;
    for h in handles {
        let r = h.await.unwrap();
        match r.status {
            StatusCode::OK => won += 1,
            // Refused by the claim itself, or, once the winner committed, at the door.
            _ => assert!(matches!(r.code(), "payout_link_not_claimable" | "session_ended"), "{}", r.json),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM transfers WHERE kind = 'payout'").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM transfers WHERE kind = 'balance'").await, 1);
    assert_eq!(t.app_available(&app).await, 7_000);
}

async fn a_flow_token_reaches_only_its_own_flow_user_and_app(t: TestApp) {
    let (app, other) = (t.create_app("Acme").await, t.create_app("Other").await);
    let (ada, bob) = (t.create_payee(&app).await, t.create_payee(&app).await);
    let flow = t.post(&app, "/v2/flows", json!({"steps": ["payout_method"], "user_id": ada})).await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.json);
    let token = flow.json["token"].as_str().unwrap().to_string();

    let methods = t.flow(&token, Method::GET, "/flow/v1/payout-methods", None).await;
    let ids: Vec<&str> =
        methods.json["data"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ada.as_str()], "only the session's own user");
    let bobs_method = t.get(&app, &format!("/v2/users/{bob}/payout-methods")).await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t.flow(&token, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": bobs_method}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "not a payout-link flow: {}", r.json);

    // A link flow cannot claim with another user's method.
    t.refill(&app, 5_000).await;
    let link = create_link(&t, &app, 1_000).await;
    let session = verified_session(&t, &app, &link).await;
    let r = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": bobs_method}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "payout_method_not_found"), "{}", r.json);
    assert_eq!(t.get(&app, &format!("/v2/payout-links/{}", link.id())).await.json["status"], "active");

    // The token is no app credential, and app credentials are no token.
    for path in ["/v2/users", &format!("/v2/users/{ada}"), "/v2/transfers"] {
        assert_eq!(t.flow(&token, Method::GET, path, None).await.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let r = t.call(Method::GET, "/flow/v1/session", Some(&basic(&app)), &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let forged = t.flow("fst_forged", Method::GET, "/flow/v1/session", None).await;
    assert_eq!(forged.code(), "invalid_session");
    // Never a Basic challenge to the widget: browsers answer it with a password dialog.
    assert!(forged.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer "));
    // Another app cannot read the flow.
    let flow_id = flow.id();
    assert_eq!(t.get(&other, &format!("/v2/flows/{flow_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get(&app, &format!("/v2/flows/{flow_id}")).await.json["user_id"], ada.as_str());
    // An expired token is refused.
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE flows SET expires_at = 1 WHERE id = $1").bind(&flow_id).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let r = t.flow(&token, Method::GET, "/flow/v1/session", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "session_expired"));
}

async fn a_flow_code_is_bound_to_the_links_phone(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 5_000).await;
    let link = create_link(&t, &app, 1_000).await;
    let opened = t
        .call(Method::POST, "/flow/v1/sessions", None, &[], Some(&json!({"link_token": token_of(&link)}).to_string()))
        .await;
    let token = opened.json["token"].as_str().unwrap().to_string();
    let other_phone =
        t.flow(&token, Method::POST, "/flow/v1/verification", Some(json!({"phone_number": "+12015550178"}))).await;
    assert_eq!((other_phone.status, other_phone.code()), (StatusCode::UNPROCESSABLE_ENTITY, "phone_mismatch"));
    assert!(!other_phone.json.to_string().contains("0177"), "the link's phone is not revealed");
    // A code for another session (same phone) does not verify this one.
    let other_session = verified_session(&t, &app, &link).await;
    let others_code = t.last_code(&app, PAYEE_PHONE).await;
    let r = t.flow(&token, Method::POST, "/flow/v1/verification/check", Some(json!({"code": others_code}))).await;
    assert_eq!(r.code(), "verification_not_started");
    // Six tries: the sixth is refused even when right.
    t.flow(&token, Method::POST, "/flow/v1/verification", Some(json!({}))).await;
    let code = t.last_code(&app, PAYEE_PHONE).await;
    let wrong = if code == "999999" { "000000" } else { "999999" };
    for _ in 0..5 {
        let r = t.flow(&token, Method::POST, "/flow/v1/verification/check", Some(json!({"code": wrong}))).await;
        assert_eq!(r.code(), "invalid_code");
    }
    let r = t.flow(&token, Method::POST, "/flow/v1/verification/check", Some(json!({"code": code}))).await;
    assert_eq!(r.code(), "too_many_attempts");
    assert_eq!(t.flow(&token, Method::GET, "/flow/v1/session", None).await.json["verified"], false);
    let _ = other_session;
}

async fn a_pre_authenticated_flow_completes(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    let flow = t
        .post(&app, "/v2/flows", json!({"steps": ["verify_phone", "compliance", "payout_method"], "user_id": user}))
        .await;
    let token = flow.json["token"].as_str().unwrap().to_string();
    assert!(flow.json["url"].as_str().unwrap().ends_with(&format!("/flow/{}#{token}", flow.id())));
    let state = t.flow(&token, Method::GET, "/flow/v1/session", None).await;
    assert_eq!(
        (state.json["pre_authenticated"].as_bool(), state.json["verified"].as_bool()),
        (Some(true), Some(false))
    );
    let early = t.flow(&token, Method::POST, "/flow/v1/complete", Some(json!({}))).await;
    assert_eq!((early.code(), early.param()), ("flow_incomplete", "verify_phone"));

    t.flow(&token, Method::POST, "/flow/v1/verification", Some(json!({}))).await;
    let phone = t.get(&app, &format!("/v2/users/{user}")).await.json["phone_number"].as_str().unwrap().to_string();
    let code = t.last_code(&app, &phone).await;
    let checked = t.flow(&token, Method::POST, "/flow/v1/verification/check", Some(json!({"code": code}))).await;
    assert_eq!(checked.json["user_id"], user.as_str());
    let token = checked.json["session_token"].as_str().unwrap().to_string();
    let compliance = json!({"legal_first_name": "Ada", "legal_last_name": "Lovelace", "date_of_birth": "1990-01-01", "tax_id": "123456789"});
    let r = t.flow(&token, Method::PUT, "/flow/v1/compliance", Some(compliance)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!((r.json["date_of_birth"].as_bool(), r.json["tax_id_last4"].as_str()), (Some(true), Some("6789")));
    let kyc = t.flow(&token, Method::PUT, "/flow/v1/compliance", Some(json!({"kyc_status": "verified"}))).await;
    assert_eq!(kyc.code(), "invalid_field", "the payee cannot mark themselves verified");
    add_bank(&t, &token).await;
    let done = t.flow(&token, Method::POST, "/flow/v1/complete", Some(json!({}))).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.json);
    assert_eq!(t.get(&app, &format!("/v2/flows/{}", flow.id())).await.json["status"], "completed");
    let event: String = {
        let mut conn = t.store.reader().acquire().await.unwrap();
        sqlx::query_scalar("SELECT data FROM events WHERE type = 'flow.completed'").fetch_one(&mut *conn).await.unwrap()
    };
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!(event, json!({"flow_id": flow.id(), "user_id": user}), "opaque ids only");
}

async fn payout_link_input_is_validated(t: TestApp) {
    let (app, other) = (t.create_app("Acme").await, t.create_app("Other").await);
    let stranger = t.create_user(&other).await;
    let before = t.snapshot().await;
    for (body, status, code, param) in [
        (json!({"amount": 100, "currency": "USD"}), StatusCode::UNPROCESSABLE_ENTITY, "missing_field", "phone_number"),
        (
            json!({"amount": 0, "currency": "USD", "phone_number": PAYEE_PHONE}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
            "amount",
        ),
        (
            json!({"amount": 100, "currency": "XYZ", "phone_number": PAYEE_PHONE}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_currency",
            "currency",
        ),
        (
            json!({"amount": 100, "currency": "USD", "phone_number": "123"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone_number",
            "phone_number",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
            "email",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "expires_at": "2001-01-01T00:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_expires_at",
            "expires_at",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "expires_at": "soon"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_expires_at",
            "expires_at",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "brand": {"css": "x"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_brand",
            "brand",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "brand": {"logo_url": "javascript:alert(1)"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_brand",
            "brand",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "brand": {"corner_radius": 99}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_brand",
            "brand",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "brand": {"corner_radius": "8"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_brand",
            "brand",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "brand": {"font_family": "x;background:url(y)"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_brand",
            "brand",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "brand": {"color_scheme": "sepia"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_brand",
            "brand",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "brand": {"text_color": "black"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_brand",
            "brand",
        ),
        (
            json!({"amount": 100, "currency": "USD", "user_id": stranger}),
            StatusCode::NOT_FOUND,
            "user_not_found",
            "user_id",
        ),
        (
            json!({"amount": 100, "currency": "USD", "email": "a@b.co", "tip": 1}),
            StatusCode::BAD_REQUEST,
            "unknown_field",
            "tip",
        ),
    ] {
        let r = t.post(&app, "/v2/payout-links", body).await;
        assert_eq!((r.status, r.code(), r.param()), (status, code, param), "{}", r.json);
    }
    for body in [
        json!({"steps": []}),
        json!({"steps": ["dance"]}),
        json!({"steps": ["payout_method", "payout_method"]}),
        json!({"steps": ["payout_method"], "redirect_url": "ftp://x"}),
    ] {
        let r = t.post(&app, "/v2/flows", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    }
    assert_eq!(t.snapshot().await, before);
    let by_email =
        t.post(&app, "/v2/payout-links", json!({"amount": 100, "currency": "USD", "email": "Ada@Example.com"})).await;
    assert_eq!(by_email.json["email"], "Ada@example.com");
    create_link(&t, &app, 200).await;
    let list = t.get(&app, "/v2/payout-links?limit=1").await;
    assert_eq!((list.json["data"].as_array().unwrap().len(), list.json["has_more"].as_bool()), (1, Some(true)));
    assert_eq!(t.get(&other, &format!("/v2/payout-links/{}", by_email.id())).await.status, StatusCode::NOT_FOUND);
}

async fn a_claim_the_app_cannot_fund_leaves_the_link_active(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 500).await;
    let link = create_link(&t, &app, 1_000).await;
    let session = verified_session(&t, &app, &link).await;
    let method = add_bank(&t, &session).await;
    let before = t.snapshot().await;
    let r = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "app_insufficient_funds"), "{}", r.json);
    assert_eq!(t.snapshot().await, before);
    t.refill(&app, 1_000).await;
    let r = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

async fn the_claim_page_is_served_locked_down(t: TestApp) {
    let app = t.create_app("Acme").await;
    // A dark brand, with a name that needs escaping.
    let brand = json!({"name": "Ada & <Co>", "primary_color": "#0b7a3b", "background_color": "#111418",
                       "color_scheme": "dark"});
    let (auth, body) = (basic(&app), json!({"brand": brand}).to_string());
    let set = t.call(Method::PUT, "/v2/apps/me/settings", Some(&auth), &[], Some(&body)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.json);
    let link = create_link(&t, &app, 100).await;
    let path = link.json["url"].as_str().unwrap().splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap();
    let page = t.call(Method::GET, &path, None, &[], None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.bytes.clone()).unwrap();
    let version = dots_server::http::pages::WIDGET_VERSION;
    assert!(html.contains(&format!("/widget/v1/{version}/frame.js")) && html.contains("data-mode=\"link\""));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    // Branded from the first paint: the app's name in the title, its colours and
    // scheme before any script runs (a style the CSP allows by this page's nonce).
    assert!(html.contains("<title>Get paid by Ada &amp; &lt;Co&gt;</title>"), "{html}");
    assert!(html.contains("data-scheme=\"dark\"") && html.contains("--dots-bg:#111418;"), "{html}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|n| n.split('\'').next()).expect("a style nonce");
    assert!(html.contains(&format!("<style nonce=\"{nonce}\">#dots-root{{--dots-primary:#0b7a3b;")), "{html}");
    assert!(html.contains("<link rel=\"icon\" href=\"data:image/svg+xml,") && html.contains("%230b7a3b"), "{html}");
    // Another page load, another nonce; an unknown token gets the unbranded page.
    let again = t.call(Method::GET, &path, None, &[], None).await;
    assert_ne!(again.headers["content-security-policy"], page.headers["content-security-policy"]);
    let unknown = t.call(Method::GET, "/claim/plt_nothing", None, &[], None).await;
    let html = String::from_utf8(unknown.bytes.clone()).unwrap();
    assert!(html.contains("<title>Get paid</title>") && !html.contains("<style"), "{html}");
    // The page names its link's id (the page leaves it in the address bar in
    // place of the token); a reload by the id is branded the same.
    let page = String::from_utf8(page.bytes.clone()).unwrap();
    assert!(page.contains(&format!("data-link=\"{}\"", link.id())), "{page}");
    assert!(page.contains("data-app=\"Ada &amp; &lt;Co&gt;\""), "{page}");
    let reload = t.call(Method::GET, &format!("/claim?link={}", link.id()), None, &[], None).await;
    let html = String::from_utf8(reload.bytes.clone()).unwrap();
    assert!(html.contains("<title>Get paid by Ada &amp; &lt;Co&gt;</title>"), "{html}");
    assert!(html.contains("data-scheme=\"dark\"") && html.contains("--dots-bg:#111418;"), "{html}");
    for bare in ["/claim", "/claim?link=plt_nothing", "/claim?link=", "/claim?other=1"] {
        let r = t.call(Method::GET, bare, None, &[], None).await;
        let html = String::from_utf8(r.bytes.clone()).unwrap();
        assert!(r.status == StatusCode::OK && html.contains("<title>Get paid</title>"), "{bare}: {html}");
    }
}

async fn a_link_opens_a_bounded_number_of_sessions(t: TestApp) {
    let app = t.create_app("Acme").await;
    let link = create_link(&t, &app, 100).await;
    let body = json!({"link_token": token_of(&link)}).to_string();
    for _ in 0..dots_server::flows::SESSIONS_PER_LINK_PER_HOUR {
        let r = t.call(Method::POST, "/flow/v1/sessions", None, &[], Some(&body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let r = t.call(Method::POST, "/flow/v1/sessions", None, &[], Some(&body)).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let count = t.count("SELECT COUNT(*) FROM flows").await;
    assert_eq!(count, dots_server::flows::SESSIONS_PER_LINK_PER_HOUR);
}

/// Proves the payee's phone in a follow-up session (the code goes to the phone of
/// the payee who claimed); returns the session's new token.
async fn prove_phone_again(t: &TestApp, app: &Creds, token: &str) -> String {
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("DELETE FROM rate_limits").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let sent = t.flow(token, Method::POST, "/flow/v1/verification", Some(json!({}))).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    assert_eq!(sent.json.get("phone_number"), None, "a number nobody typed is not written back");
    let code = t.last_code(app, PAYEE_PHONE).await;
    let checked = t.flow(token, Method::POST, "/flow/v1/verification/check", Some(json!({"code": code}))).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.json);
    checked.json["session_token"].as_str().unwrap().to_string()
}

async fn a_claimed_link_shows_its_payee_the_payout_and_resends_it_once_after_a_failure(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let link = create_link(&t, &app, 2_500).await;
    let session = verified_session(&t, &app, &link).await;
    // The sandbox rail fails payouts to accounts ending 0000 ("account_closed").
    let closed = json!({"type": "bank", "routing_number": "011000015", "account_number": "000123450000"});
    let closed = t.flow(&session, Method::POST, "/flow/v1/payout-methods", Some(closed)).await.id();
    let claimed = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": closed}))).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.json);
    let first_payout = claimed.json["payout"]["id"].as_str().unwrap().to_string();
    // The claim ends its session and answers a follow-up one, which sees the payout.
    let following = claimed.json["session_token"].as_str().expect("a follow-up token").to_string();
    assert_eq!(t.flow(&session, Method::GET, "/flow/v1/session", None).await.code(), "session_ended");
    let state = t.flow(&following, Method::GET, "/flow/v1/session", None).await;
    assert_eq!(state.status, StatusCode::OK, "{}", state.json);
    let payout = &state.json["payout_link"]["payout"];
    assert_eq!((payout["id"].as_str(), payout["resendable"].as_bool()), (Some(first_payout.as_str()), Some(false)));
    assert_eq!(payout["payout_method"]["bank"]["account_last4"], "0000", "{payout}");
    assert_eq!(state.json["payout_link"]["status"], "claimed");

    t.settle_payouts().await;
    let state = t.flow(&following, Method::GET, "/flow/v1/session", None).await;
    let payout = &state.json["payout_link"]["payout"];
    assert_eq!(
        (payout["status"].as_str(), payout["failure_code"].as_str(), payout["resendable"].as_bool()),
        (Some("failed"), Some("account_closed"), Some(true)),
        "{payout}"
    );
    let user_id = state.json["user_id"].as_str().unwrap().to_string();
    assert_eq!(t.user_wallet(&app, &user_id).await, (2_500, 0), "the failed payout's money is back");

    // Reopened later (another tab, the SMS again): nothing shows before the phone is proven.
    let opened = t
        .call(Method::POST, "/flow/v1/sessions", None, &[], Some(&json!({"link_token": token_of(&link)}).to_string()))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.json);
    let fresh = opened.json["token"].as_str().unwrap().to_string();
    let state = t.flow(&fresh, Method::GET, "/flow/v1/session", None).await;
    assert_eq!((state.json["verified"].as_bool(), state.json["payout_link"]["payout"].is_null()), (Some(false), true));
    let refused =
        t.flow(&fresh, Method::POST, "/flow/v1/payout-link/resend", Some(json!({"payout_method_id": closed})));
    assert_eq!(refused.await.code(), "phone_not_verified");
    // The code goes to the payee who claimed; another number is refused.
    let other = t.flow(&fresh, Method::POST, "/flow/v1/verification", Some(json!({"phone_number": "+12015550100"})));
    assert_eq!(other.await.code(), "phone_mismatch");
    let second_tab = prove_phone_again(&t, &app, &fresh).await;
    let state = t.flow(&second_tab, Method::GET, "/flow/v1/session", None).await;
    assert_eq!(state.json["payout_link"]["payout"]["status"], "failed", "{}", state.json);

    // Twenty resends at once from both tabs, each with its own key: one payout.
    let good = add_bank(&t, &second_tab).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (t, barrier, good) = (t.clone(), barrier.clone(), good.clone());
            let token = if i % 2 == 0 { following.clone() } else { second_tab.clone() };
            tokio::spawn(async move {
                barrier.wait().await;
                let body = json!({"payout_method_id": good}).to_string();
                let key = format!("resend-{i}");
                let auth = format!("Bearer {token}");
                t.call(
                    Method::POST,
                    "/flow/v1/payout-link/resend",
                    Some(&auth),
                    &[("Idempotency-Key", &key)],
                    Some(&body),
                )
                .await
            })
        })
        .collect();
    let mut sent = Vec::new();
    for h in handles {
        let r = h.await.unwrap();
        match r.status {
            StatusCode::OK => sent.push(r.json["id"].as_str().unwrap().to_string()),
            _ => assert_eq!(r.code(), "payout_not_resendable", "{}", r.json),
        }
    }
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_ne!(sent[0], first_payout);
    assert_eq!(t.count("SELECT COUNT(*) FROM transfers WHERE kind = 'payout'").await, 2);
    let link_now = t.get(&app, &format!("/v2/payout-links/{}", link.id())).await;
    assert_eq!(link_now.json["payout_transfer_id"], sent[0].as_str());
    assert_eq!(t.user_wallet(&app, &user_id).await.0, 0, "the resent payout holds the money");

    t.settle_payouts().await;
    let state = t.flow(&following, Method::GET, "/flow/v1/session", None).await;
    let payout = &state.json["payout_link"]["payout"];
    assert_eq!((payout["status"].as_str(), payout["resendable"].as_bool()), (Some("completed"), Some(false)));
    let again =
        t.flow(&following, Method::POST, "/flow/v1/payout-link/resend", Some(json!({"payout_method_id": good})));
    assert_eq!(again.await.code(), "payout_not_resendable");
    assert_eq!(t.app_available(&app).await, 7_500);
    assert_eq!(t.user_wallet(&app, &user_id).await, (0, 0));
    // A host page's flow has no link to resend.
    let flow = t.post(&app, "/v2/flows", json!({"steps": ["payout_method"], "user_id": user_id})).await;
    let host = flow.json["token"].as_str().unwrap().to_string();
    let r = t.flow(&host, Method::POST, "/flow/v1/payout-link/resend", Some(json!({"payout_method_id": good})));
    assert_eq!(r.await.code(), "payout_not_resendable");
}

async fn a_national_number_is_read_in_the_chosen_country_and_the_app_sets_its_default(t: TestApp) {
    let app = t.create_app("Acme").await;
    let auth = basic(&app);
    let put = |body: Value| {
        let (t, auth) = (t.clone(), auth.clone());
        async move { t.call(Method::PUT, "/v2/apps/me/settings", Some(&auth), &[], Some(&body.to_string())).await }
    };
    let set = put(json!({"default_country": "mx"})).await;
    assert_eq!((set.status, set.json["default_country"].as_str()), (StatusCode::OK, Some("MX")), "{}", set.json);
    let before = t.snapshot().await;
    for bad in ["ZZ", "USA", "1", ""] {
        let r = put(json!({"default_country": bad})).await;
        assert_eq!((r.code(), r.json["error"]["param"].as_str()), ("invalid_country_code", Some("default_country")));
    }
    assert_eq!(t.snapshot().await, before, "a refused setting changes nothing");
    let link = create_link(&t, &app, 100).await;
    let opened = t
        .call(Method::POST, "/flow/v1/sessions", None, &[], Some(&json!({"link_token": token_of(&link)}).to_string()))
        .await;
    let token = opened.json["token"].as_str().unwrap().to_string();
    let state = t.flow(&token, Method::GET, "/flow/v1/session", None).await;
    assert_eq!(state.json["app"]["default_country"], "MX", "the widget starts its country list there");
    // The payee typed the national number and chose the United States.
    let national = json!({"phone_number": "(201) 555-0177", "country_code": "US"});
    let sent = t.flow(&token, Method::POST, "/flow/v1/verification", Some(national)).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    // Written back the international way for the payee to check; the link's own
    // phone, asked for without typing it, stays masked.
    assert_eq!(sent.json["phone_number"], "+1 201-555-0177", "{}", sent.json);
    // Read in another country it is another number.
    let elsewhere = json!({"phone_number": "(201) 555-0177", "country_code": "GB"});
    let r = t.flow(&token, Method::POST, "/flow/v1/verification", Some(elsewhere)).await;
    assert!(matches!(r.code(), "phone_mismatch" | "invalid_phone_number"), "{}", r.json);
}

async fn a_link_keeps_the_fee_it_was_made_with_and_its_payee_sees_it(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    // $0.50 + 2 %: the fee of $25.00 is $1.00.
    assert_eq!(t.set_fees(&app, json!({"fixed": 50, "bps": 200})).await.status, StatusCode::OK);
    let body = json!({"amount": 2_500, "currency": "USD", "phone_number": PAYEE_PHONE, "fee_party": "user"});
    let link = t.post(&app, "/v2/payout-links", body).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.json);
    assert_eq!(
        (&link.json["fee"], &link.json["net"], &link.json["fee_party"]),
        (&json!(100), &json!(2_400), &json!("user"))
    );
    // A later price does not change what the link promised.
    assert_eq!(t.set_fees(&app, json!({"fixed": 999})).await.status, StatusCode::OK);
    let session = verified_session(&t, &app, &link).await;
    let state = t.flow(&session, Method::GET, "/flow/v1/session", None).await;
    let shown = &state.json["payout_link"];
    assert_eq!(
        (&shown["amount"], &shown["fee"], &shown["net"]),
        (&json!(2_500), &json!(100), &json!(2_400)),
        "{}",
        state.json
    );
    let method = add_bank(&t, &session).await;
    let claimed = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.json);
    let payout = t.get(&app, &format!("/v2/transfers/{}", claimed.json["payout"]["id"].as_str().unwrap())).await;
    assert_eq!(
        (&payout.json["fee"], &payout.json["net"], &payout.json["fee_party"]),
        (&json!(100), &json!(2_400), &json!("user"))
    );
    t.settle_payouts().await;
    assert_eq!(t.app_available(&app).await, 7_500);
    assert_eq!(t.count("SELECT balance FROM accounts WHERE id = 'sys_fee_revenue_USD'").await, 100);

    // The app pays this one's fee ($9.99 now): its wallet must hold the amount and the fee.
    let body = json!({"amount": 7_500, "currency": "USD", "phone_number": PAYEE_PHONE});
    let link = t.post(&app, "/v2/payout-links", body).await;
    assert_eq!(
        (&link.json["fee"], &link.json["net"], &link.json["fee_party"]),
        (&json!(999), &json!(7_500), &json!("app"))
    );
    let session = verified_session_after_cooldown(&t, &app, &link).await;
    let state = t.flow(&session, Method::GET, "/flow/v1/session", None).await;
    let shown = &state.json["payout_link"];
    assert_eq!((&shown["fee"], &shown["net"]), (&json!(0), &json!(7_500)), "the payee bears no fee: {}", state.json);
    let before = t.snapshot().await;
    let r = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "app_insufficient_funds"), "{}", r.json);
    assert_eq!(t.snapshot().await, before, "short of the fee, nothing moves and the link stays active");
    t.refill(&app, 999).await;
    let r = t.flow(&session, Method::POST, "/flow/v1/claim", Some(json!({"payout_method_id": method}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(t.app_available(&app).await, 0);
    assert_eq!(t.count("SELECT balance FROM accounts WHERE id = 'sys_fee_revenue_USD'").await, 1_099);
}

/// The "log in" branch: a payee the app already knows proves their phone in a flow
/// opened without a user, and the flow is theirs — no second user is made.
async fn an_unauthenticated_flow_recognises_an_existing_payee_by_their_phone(t: TestApp) {
    let app = t.create_app("Acme").await;
    let known = t.post(&app, "/v2/users", common::user_body(PAYEE_PHONE)).await;
    assert_eq!(known.status, StatusCode::CREATED, "{}", known.json);
    let users_before = t.count("SELECT COUNT(*) FROM users").await;
    let flow = t.post(&app, "/v2/flows", json!({"steps": ["verify_phone", "payout_method"]})).await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.json);
    let token = flow.json["token"].as_str().unwrap().to_string();
    let state = t.flow(&token, Method::GET, "/flow/v1/session", None).await;
    assert_eq!((&state.json["pre_authenticated"], &state.json["user_id"]), (&json!(false), &Value::Null));
    let sent =
        t.flow(&token, Method::POST, "/flow/v1/verification", Some(json!({"phone_number": "+1 (201) 555-0177"}))).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    let code = t.last_code(&app, PAYEE_PHONE).await;
    let checked = t.flow(&token, Method::POST, "/flow/v1/verification/check", Some(json!({"code": code}))).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.json);
    assert_eq!(checked.json["user_id"], known.id(), "recognised, not duplicated");
    assert_eq!(t.count("SELECT COUNT(*) FROM users").await, users_before);
    assert_eq!(t.get(&app, &format!("/v2/users/{}", known.id())).await.json["phone_verified"], true);
    let token = checked.json["session_token"].as_str().unwrap().to_string();
    add_bank(&t, &token).await;
    assert_eq!(t.flow(&token, Method::POST, "/flow/v1/complete", Some(json!({}))).await.status, StatusCode::OK);
    let done = t.get(&app, &format!("/v2/flows/{}", flow.id())).await;
    assert_eq!((&done.json["status"], &done.json["user_id"]), (&json!("completed"), &json!(known.id())));
    let methods = t.get(&app, &format!("/v2/users/{}/payout-methods", known.id())).await;
    assert_eq!(methods.json["data"].as_array().unwrap().len(), 1, "the method went to the known payee");
}

/// The flow's `payout` step (issue 16, part 3, the server's side): a pre-authenticated
/// payee withdraws their wallet, within the app's bounds and under its fee rule, once;
/// the flow completes with the payout.
async fn a_flow_payout_step_withdraws_the_wallet_once_within_the_apps_bounds(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let user = t.create_payee(&app).await;
    assert_eq!(t.transfer(&app, "balance", &user, 5_000).await.status, StatusCode::CREATED);
    let method = t.get(&app, &format!("/v2/users/{user}/payout-methods")).await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rules = json!({"flow_payout_min": 100, "flow_payout_max": 4_000, "fee_party": "user"});
    let set = t.call(Method::PUT, "/v2/apps/me/rules", Some(&basic(&app)), &[], Some(&rules.to_string())).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.json);
    assert_eq!(t.set_fees(&app, json!({"fixed": 50})).await.status, StatusCode::OK);
    let r = t.post(&app, "/v2/flows", json!({"steps": ["payout", "payout_method"], "user_id": user})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_steps"), "payout comes last");
    let flow = t.post(&app, "/v2/flows", json!({"steps": ["payout_method", "payout"], "user_id": user})).await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.json);
    let token = flow.json["token"].as_str().unwrap().to_string();
    let offer = t.flow(&token, Method::GET, "/flow/v1/payout", None).await;
    assert_eq!(
        offer.json,
        json!({"available": 5_000, "currency": "USD", "min": 100, "max": 4_000,
               "fees": {"fixed": 50, "bps": 0, "min": null, "max": null}, "fee_party": "user",
               "amount": 4_000, "fee": 50, "net": 3_950})
    );
    let priced = t.flow(&token, Method::GET, "/flow/v1/payout?amount=1000", None).await;
    assert_eq!(
        (&priced.json["amount"], &priced.json["fee"], &priced.json["net"]),
        (&json!(1_000), &json!(50), &json!(950))
    );
    for bad in ["amount=0", "amount=x", "amount=-5", "other=1"] {
        let r = t.flow(&token, Method::GET, &format!("/flow/v1/payout?{bad}"), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{bad}: {}", r.json);
    }
    let before = t.snapshot().await;
    for (amount, why) in
        [(None, "the whole balance is above the app's maximum"), (Some(99), "below the minimum"), (Some(0), "nothing")]
    {
        let mut body = json!({"payout_method_id": method});
        if let Some(a) = amount {
            body["amount"] = a.into();
        }
        let r = t.flow(&token, Method::POST, "/flow/v1/payout", Some(body)).await;
        assert_eq!(
            (r.status, r.code(), r.param()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount", "amount"),
            "{why}: {}",
            r.json
        );
    }
    assert_eq!(t.snapshot().await, before);
    // Two withdrawals at once: one is made, once.
    let answers = common::at_once(2, |_| {
        let (t, token, method) = (t.clone(), token.clone(), method.clone());
        async move {
            t.flow(&token, Method::POST, "/flow/v1/payout", Some(json!({"amount": 3_000, "payout_method_id": method})))
                .await
        }
    })
    .await;
    let made: Vec<_> = answers.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    assert_eq!(made.len(), 1, "{:?}", answers.iter().map(|r| r.json.to_string()).collect::<Vec<_>>());
    for r in answers.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert!(matches!(r.code(), "flow_payout_made" | "session_ended"), "{}", r.json);
    }
    let payout = t.get(&app, &format!("/v2/transfers/{}", made[0].json["id"].as_str().unwrap())).await;
    assert_eq!(
        (&payout.json["amount"], &payout.json["fee"], &payout.json["net"]),
        (&json!(3_000), &json!(50), &json!(2_950))
    );
    assert_eq!(t.user_wallet(&app, &user).await, (2_000, 3_000));
    let done = t.get(&app, &format!("/v2/flows/{}", flow.id())).await;
    assert_eq!(done.json["status"], "completed");
    let event = t
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE type = 'flow.completed' AND data LIKE '%\"payout_transfer_id\":\"{}\"%'",
            made[0].json["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(event, 1, "flow.completed carries the payout");
    // A flow without the step offers nothing.
    let plain = t.post(&app, "/v2/flows", json!({"steps": ["payout_method"], "user_id": user})).await;
    let plain = plain.json["token"].as_str().unwrap().to_string();
    let r = t.flow(&plain, Method::GET, "/flow/v1/payout", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_steps"));
}
