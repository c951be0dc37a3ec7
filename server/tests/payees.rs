//! Phone verification, payout methods and compliance over HTTP, on both databases.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, code_in};
use serde_json::json;

on_both_databases!(
    a_payee_verifies_their_phone_with_the_code_sent_to_it,
    the_sixth_wrong_code_is_refused_even_when_right,
    an_expired_code_fails,
    a_code_sent_to_one_phone_cannot_verify_another,
    sends_are_cooled_down_and_rate_limited_per_phone,
    payout_methods_are_validated_masked_and_sealed,
    compliance_keeps_only_the_last_four_of_a_tax_id,
    a_user_is_changed_and_a_new_phone_is_proven_again_before_a_payout,
    bad_user_changes_are_refused_and_change_nothing,
    a_payout_naming_no_method_goes_to_the_default,
);

async fn sms_to(t: &TestApp, app: &common::Creds, phone: &str) -> Vec<String> {
    let r = t.get(app, &format!("/v2/dev/sms?phone_number={}", phone.replace('+', "%2B"))).await;
    r.json["data"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_string()).collect()
}

async fn phone_of(t: &TestApp, app: &common::Creds, user: &str) -> String {
    t.get(app, &format!("/v2/users/{user}")).await.json["phone_number"].as_str().unwrap().to_string()
}

async fn a_payee_verifies_their_phone_with_the_code_sent_to_it(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    let phone = phone_of(&t, &app, &user).await;
    let sent = t.post(&app, &format!("/v2/users/{user}/verification"), json!({})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
    assert_eq!(sent.json["status"], "sent");
    let masked = sent.json["to"].as_str().unwrap();
    assert!(masked.ends_with(&phone[phone.len() - 4..]) && masked.contains('*') && !masked.contains(&phone[2..8]));

    let messages = sms_to(&t, &app, &phone).await;
    assert_eq!(messages.len(), 1);
    let code = code_in(&messages[0]);
    assert!(messages[0].ends_with(&format!("#{code}")), "WebOTP line: {}", messages[0]);
    let stored = t.count(&format!("SELECT COUNT(*) FROM verifications WHERE code_hash LIKE '%{code}%'")).await;
    assert_eq!(stored, 0, "only a keyed hash of the code is stored");

    let wrong = t.post(&app, &format!("/v2/users/{user}/verification/check"), json!({"code": "12345x"})).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code"));
    let ok = t.post(&app, &format!("/v2/users/{user}/verification/check"), json!({"code": code})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    assert_eq!(ok.json["phone_verified"], true);
    let again = t.post(&app, &format!("/v2/users/{user}/verification/check"), json!({"code": code})).await;
    assert_eq!(again.code(), "code_already_used");
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'user.verified'").await, 1);

    // Another app cannot send to or check this user.
    let other = t.create_app("Other").await;
    let r = t.post(&other, &format!("/v2/users/{user}/verification"), json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(sms_to(&t, &other, &phone).await.is_empty());
}

async fn the_sixth_wrong_code_is_refused_even_when_right(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    t.post(&app, &format!("/v2/users/{user}/verification"), json!({})).await;
    let code = t.last_code(&app, &phone_of(&t, &app, &user).await).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        let r = t.post(&app, &format!("/v2/users/{user}/verification/check"), json!({"code": wrong})).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code"), "{}", r.json);
        assert_eq!(r.json["error"]["tries_left"], left, "{}", r.json);
        let words = match left {
            0 => "its last try".to_string(),
            1 => "1 try left".to_string(),
            n => format!("{n} tries left"),
        };
        assert!(r.json["error"]["message"].as_str().unwrap().contains(&words), "{}", r.json);
    }
    let right = t.post(&app, &format!("/v2/users/{user}/verification/check"), json!({"code": code})).await;
    assert_eq!((right.status, right.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "{}", right.json);
    assert_eq!(t.get(&app, &format!("/v2/users/{user}")).await.json["phone_verified"], false);
}

async fn an_expired_code_fails(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    t.post(&app, &format!("/v2/users/{user}/verification"), json!({})).await;
    let code = t.last_code(&app, &phone_of(&t, &app, &user).await).await;
    // Eleven minutes pass.
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE verifications SET expires_at = expires_at - 660000, created_at = created_at - 660000")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = t.post(&app, &format!("/v2/users/{user}/verification/check"), json!({"code": code})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "code_expired"), "{}", r.json);
    assert_eq!(t.get(&app, &format!("/v2/users/{user}")).await.json["phone_verified"], false);
}

async fn a_code_sent_to_one_phone_cannot_verify_another(t: TestApp) {
    let app = t.create_app("Acme").await;
    let (ada, bob) = (t.create_user(&app).await, t.create_user(&app).await);
    t.post(&app, &format!("/v2/users/{ada}/verification"), json!({})).await;
    let adas_code = t.last_code(&app, &phone_of(&t, &app, &ada).await).await;
    let r = t.post(&app, &format!("/v2/users/{bob}/verification/check"), json!({"code": adas_code})).await;
    assert_eq!(r.code(), "verification_not_started");
    t.post(&app, &format!("/v2/users/{bob}/verification"), json!({})).await;
    let bobs_code = t.last_code(&app, &phone_of(&t, &app, &bob).await).await;
    if bobs_code != adas_code {
        let r = t.post(&app, &format!("/v2/users/{bob}/verification/check"), json!({"code": adas_code})).await;
        assert_eq!(r.code(), "invalid_code");
    }
    assert_eq!(t.get(&app, &format!("/v2/users/{bob}")).await.json["phone_verified"], false);
    assert_eq!(t.get(&app, &format!("/v2/users/{ada}")).await.json["phone_verified"], false);
}

async fn sends_are_cooled_down_and_rate_limited_per_phone(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    let path = format!("/v2/users/{user}/verification");
    let send = || t.post(&app, &path, json!({}));
    assert_eq!(send().await.status, StatusCode::CREATED);
    let soon = send().await;
    assert_eq!((soon.status, soon.code()), (StatusCode::TOO_MANY_REQUESTS, "resend_too_soon"));
    let step_back = || async {
        let mut tx = t.store.begin_write().await.unwrap();
        sqlx::query("UPDATE verifications SET created_at = created_at - 31000").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    };
    for _ in 0..4 {
        step_back().await;
        assert_eq!(send().await.status, StatusCode::CREATED);
    }
    step_back().await;
    let sixth = send().await;
    assert_eq!((sixth.status, sixth.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", sixth.json);
    assert_eq!(sms_to(&t, &app, &phone_of(&t, &app, &user).await).await.len(), 5);
    // Every window (per payee, per phone in the app, per phone anywhere) counted
    // the five sends; the refused sixth counted in none of them.
    let counted = "SELECT COUNT(*) FROM rate_limits WHERE key LIKE 'sms-%' AND count = 5";
    assert_eq!(t.count(counted).await, 3);
    assert_eq!(t.count("SELECT COUNT(*) FROM rate_limits WHERE key LIKE 'sms-%' AND count <> 5").await, 0);
}

async fn payout_methods_are_validated_masked_and_sealed(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    let path = format!("/v2/users/{user}/payout-methods");
    let bank = t
        .post(&app, &path, json!({"type": "bank", "routing_number": "021000021", "account_number": "987654321012"}))
        .await;
    assert_eq!(bank.status, StatusCode::CREATED, "{}", bank.json);
    assert_eq!(
        bank.json["bank"],
        json!({"routing_number": "021000021", "account_last4": "1012", "account_type": "checking"})
    );
    assert!(!bank.json.to_string().contains("987654321012"));
    let sealed = t.count("SELECT COUNT(*) FROM payout_methods WHERE details_encrypted LIKE '%98765432%' OR display LIKE '%98765432%'").await;
    assert_eq!(sealed, 0, "the account number is sealed at rest");

    let paypal = t.post(&app, &path, json!({"type": "paypal", "email": "ada@example.com"})).await;
    assert_eq!(paypal.json["paypal"]["email"], "a***@example.com");
    let venmo = t.post(&app, &path, json!({"type": "venmo", "phone_number": "+1 201 555 0199"})).await;
    assert_eq!(venmo.json["venmo"]["phone_number"], "+1******0199");

    let before = t.snapshot().await;
    for (body, code, param) in [
        (
            json!({"type": "bank", "routing_number": "021000022", "account_number": "1234"}),
            "invalid_routing_number",
            "routing_number",
        ),
        (
            json!({"type": "bank", "routing_number": "021000021", "account_number": "12"}),
            "invalid_account_number",
            "account_number",
        ),
        (json!({"type": "bank", "routing_number": "021000021"}), "missing_field", "account_number"),
        (
            json!({"type": "bank", "routing_number": "021000021", "account_number": "1234", "email": "a@b.co"}),
            "invalid_field",
            "email",
        ),
        (json!({"type": "paypal", "email": "nope"}), "invalid_email", "email"),
        (json!({"type": "venmo", "phone_number": "12"}), "invalid_phone_number", "phone_number"),
        (json!({"type": "crypto"}), "invalid_type", "type"),
    ] {
        let r = t.post(&app, &path, body).await;
        assert_eq!((r.status, r.code(), r.param()), (StatusCode::UNPROCESSABLE_ENTITY, code, param), "{}", r.json);
    }
    assert_eq!(t.snapshot().await, before);

    let list = t.get(&app, &path).await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 3);
    assert_eq!(list.json["data"][0]["type"], "venmo", "newest first");
    let other = t.create_app("Other").await;
    assert_eq!(t.get(&other, &path).await.status, StatusCode::NOT_FOUND);
    let r = t
        .call(axum::http::Method::DELETE, &format!("{path}/{}", bank.id()), Some(&common::basic(&other)), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .call(axum::http::Method::DELETE, &format!("{path}/{}", bank.id()), Some(&common::basic(&app)), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(t.get(&app, &path).await.json["data"].as_array().unwrap().len(), 2);
}

async fn compliance_keeps_only_the_last_four_of_a_tax_id(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    let path = format!("/v2/users/{user}/compliance");
    let empty = t.get(&app, &path).await;
    assert_eq!(empty.json["kyc_status"], "not_started");
    assert_eq!(empty.json["requirements"]["tax_id"], false);
    let body = json!({
        "legal_first_name": "Ada", "legal_last_name": "Lovelace", "date_of_birth": "1990-12-10",
        "address": {"line1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"},
        "tax_id": "123-45-6789", "kyc_status": "verified"
    });
    let r = t.call(axum::http::Method::PUT, &path, Some(&common::basic(&app)), &[], Some(&body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["tax_id_last4"], "6789");
    assert_eq!(r.json["kyc_status"], "verified");
    assert!(!r.json.to_string().contains("123456789") && !r.json.to_string().contains("123-45"));
    assert_eq!(t.count("SELECT COUNT(*) FROM compliance WHERE tax_id_encrypted LIKE '%12345%'").await, 0);
    // A partial update keeps the rest.
    let r = t
        .call(
            axum::http::Method::PUT,
            &path,
            Some(&common::basic(&app)),
            &[],
            Some(r#"{"id_verification_status":"pending"}"#),
        )
        .await;
    assert_eq!((r.json["legal_last_name"].as_str(), r.json["tax_id_last4"].as_str()), (Some("Lovelace"), Some("6789")));
    let before = t.snapshot().await;
    for (body, code) in [
        (json!({"date_of_birth": "1990-02-30"}), "invalid_date_of_birth"),
        (json!({"date_of_birth": "2024-01-01"}), "invalid_date_of_birth"),
        (json!({"tax_id": "12-345"}), "invalid_tax_id"),
        (json!({"kyc_status": "great"}), "invalid_status"),
        (json!({"address": {"line1": "", "city": "X", "postal_code": "1", "country": "US"}}), "invalid_address"),
    ] {
        let r = t.call(axum::http::Method::PUT, &path, Some(&common::basic(&app)), &[], Some(&body.to_string())).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{}", r.json);
    }
    assert_eq!(t.snapshot().await, before);
}

async fn patch(t: &TestApp, app: &common::Creds, user: &str, body: serde_json::Value) -> common::Resp {
    let auth = common::basic(app);
    t.call(axum::http::Method::PATCH, &format!("/v2/users/{user}"), Some(&auth), &[], Some(&body.to_string())).await
}

async fn a_user_is_changed_and_a_new_phone_is_proven_again_before_a_payout(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let user = t.create_payee(&app).await;
    assert_eq!(t.transfer(&app, "balance", &user, 1_000).await.status, StatusCode::CREATED);
    let events = || t.count("SELECT COUNT(*) FROM events WHERE type = 'user.updated'");
    // Names and email: changed, announced, the phone still proven.
    let r = patch(&t, &app, &user, json!({"first_name": " Augusta ", "email": "Ada@Example.COM"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!((r.json["first_name"].as_str(), r.json["last_name"].as_str()), (Some("Augusta"), Some("Lovelace")));
    assert_eq!((r.json["email"].as_str(), r.json["phone_verified"].as_bool()), (Some("Ada@example.com"), Some(true)));
    assert_eq!(events().await, 1);
    // The same values again, or nothing at all: no change, no event.
    let same =
        patch(&t, &app, &user, json!({"first_name": "Augusta", "phone_number": phone_of(&t, &app, &user).await})).await;
    assert_eq!((same.status, same.json["phone_verified"].as_bool()), (StatusCode::OK, Some(true)), "{}", same.json);
    assert_eq!(patch(&t, &app, &user, json!({})).await.status, StatusCode::OK);
    assert_eq!(events().await, 1);
    // A new phone (national digits with a region, as on create) is unproven until proven.
    let r = patch(&t, &app, &user, json!({"phone_number": "(201) 555-0166", "country_code": "US"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        (r.json["phone_number"].as_str(), r.json["phone_verified"].as_bool()),
        (Some("+12015550166"), Some(false))
    );
    let payout = json!({"user_id": user, "amount": 500, "currency": "USD"});
    let before = t.snapshot().await;
    assert_eq!(t.post(&app, "/v2/payouts", payout.clone()).await.code(), "phone_not_verified");
    assert_eq!(t.snapshot().await, before, "a refused payout moves nothing");
    // (The first code went out seconds ago: step its clock past the resend cool-down.)
    let mut tx = t.store.begin_write().await.unwrap();
    sqlx::query("UPDATE verifications SET created_at = created_at - 60000").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    t.verify_user(&app, &user).await;
    assert_eq!(t.post(&app, "/v2/payouts", payout).await.status, StatusCode::CREATED);
    assert_eq!(events().await, 2);
    // A retry with the same key is the first answer.
    let auth = common::basic(&app);
    let body = json!({"last_name": "King"}).to_string();
    let key = [("idempotency-key", "rename-1")];
    let path = format!("/v2/users/{user}");
    let first = t.call(axum::http::Method::PATCH, &path, Some(&auth), &key, Some(&body)).await;
    let again = t.call(axum::http::Method::PATCH, &path, Some(&auth), &key, Some(&body)).await;
    assert_eq!((first.status, &first.json), (again.status, &again.json));
    assert_eq!(events().await, 3);
}

async fn bad_user_changes_are_refused_and_change_nothing(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    let taken = t.create_user(&app).await;
    let taken_phone = phone_of(&t, &app, &taken).await;
    let other = t.create_app("Other").await;
    let before = t.snapshot().await;
    for (body, code, param) in [
        (json!({"first_name": "  "}), "invalid_name", "first_name"),
        (json!({"last_name": "x".repeat(101)}), "invalid_name", "last_name"),
        (json!({"email": "ada@"}), "invalid_email", "email"),
        (json!({"phone_number": "555"}), "invalid_phone_number", "phone_number"),
        (json!({"country_code": "US"}), "missing_field", "phone_number"),
        (json!({"phone_number": taken_phone}), "phone_number_taken", "phone_number"),
        (json!({"wallet": "w"}), "unknown_field", "wallet"),
        (json!({"first_name": 7}), "invalid_field", "first_name"),
    ] {
        let r = patch(&t, &app, &user, body.clone()).await;
        assert_eq!((r.code(), r.param()), (code, param), "{body}: {}", r.json);
        assert!(r.status.is_client_error(), "{body}: {}", r.json);
    }
    let r = patch(&t, &other, &user, json!({"first_name": "Mallory"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "user_not_found"), "{}", r.json);
    assert_eq!(t.snapshot().await, before, "no refused change changed anything");
    // Another app may hold the same phone number.
    let elsewhere = t.create_user(&other).await;
    let r = patch(&t, &other, &elsewhere, json!({"phone_number": taken_phone})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

async fn a_payout_naming_no_method_goes_to_the_default(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let user = t.create_payee(&app).await;
    assert_eq!(t.transfer(&app, "balance", &user, 5_000).await.status, StatusCode::CREATED);
    let methods = t.get(&app, &format!("/v2/users/{user}/payout-methods")).await;
    let first = methods.json["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(methods.json["data"][0]["default"], true, "a payee's first method is their default");
    let second = t.add_bank_account(&app, &user, "000555666777").await;
    let listed = t.get(&app, &format!("/v2/users/{user}/payout-methods")).await;
    let defaults: Vec<(&str, bool)> = listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["default"].as_bool().unwrap()))
        .collect();
    assert_eq!(defaults, [(second.as_str(), false), (first.as_str(), true)]);
    let pay = |t: TestApp, app: common::Creds, user: String| async move {
        t.post(&app, "/v2/payouts", json!({"user_id": user, "amount": 100, "currency": "USD"})).await
    };
    let paid = pay(t.clone(), app.clone(), user.clone()).await;
    assert_eq!(paid.json["payout_method_id"], first.as_str(), "{}", paid.json);
    // The payee's choice changes: later payouts go to the new default.
    let path = format!("/v2/users/{user}/payout-methods/{second}/default");
    let made = t.post(&app, &path, json!({})).await;
    assert_eq!((made.status, &made.json["default"]), (StatusCode::OK, &json!(true)), "{}", made.json);
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'payout_method.updated'").await, 1);
    assert_eq!(t.post(&app, &path, json!({})).await.status, StatusCode::OK, "making it default again is a no-op");
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'payout_method.updated'").await, 1);
    let first_now = t.get(&app, &format!("/v2/users/{user}/payout-methods")).await;
    assert_eq!(first_now.json["data"][1]["default"], false);
    assert_eq!(pay(t.clone(), app.clone(), user.clone()).await.json["payout_method_id"], second.as_str());
    // The default deleted with two methods left: no guess; the payout must name one.
    let third = t.add_bank_account(&app, &user, "000888999000").await;
    let r = t
        .call(
            Method::DELETE,
            &format!("/v2/users/{user}/payout-methods/{second}"),
            Some(&common::basic(&app)),
            &[],
            Some("{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let before = t.snapshot().await;
    let r = pay(t.clone(), app.clone(), user.clone()).await;
    assert_eq!(
        (r.status, r.code(), r.param()),
        (StatusCode::UNPROCESSABLE_ENTITY, "payout_method_required", "payout_method_id"),
        "{}",
        r.json
    );
    assert_eq!(t.snapshot().await, before);
    let body = json!({"user_id": user, "amount": 100, "currency": "USD", "payout_method_id": third});
    assert_eq!(t.post(&app, "/v2/payouts", body).await.status, StatusCode::CREATED);
    // Not another user's method, nor a deleted one.
    let other = t.create_payee(&app).await;
    let r = t.post(&app, &format!("/v2/users/{other}/payout-methods/{first}/default"), json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "payout_method_not_found"));
    let r = t.post(&app, &format!("/v2/users/{user}/payout-methods/{second}/default"), json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "payout_method_not_found"));
}
