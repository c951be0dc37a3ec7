//! Reversals (issue 16, part 2): a completed balance transfer or refill moves its
//! money back only while the wallet it went to still holds it; a payout is
//! returned by its rail, never by the app; each at most once, under real
//! concurrency, on SQLite and PostgreSQL. The ledger check runs after each.

mod common;

use axum::http::StatusCode;
use common::{Creds, Resp, TestApp};
use serde_json::json;

on_both_databases!(
    a_balance_transfer_is_reversed_once_and_its_money_goes_back,
    a_refill_is_reversed_only_while_the_app_wallet_holds_it,
    a_spent_balance_transfer_is_not_reversed,
    a_payout_is_returned_by_its_rail_not_reversed_by_the_app,
    bad_reversals_are_refused_and_change_nothing,
    twenty_concurrent_reversals_move_the_money_once,
    a_reversal_racing_a_spend_of_the_same_money_lets_one_win,
);

fn refused(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.json);
    assert!(!r.json["error"]["message"].as_str().unwrap_or("").is_empty(), "{}", r.json);
}

async fn reverse(t: &TestApp, app: &Creds, transfer: &str, reason: &str) -> Resp {
    t.post(app, &format!("/v2/transfers/{transfer}/reverse"), json!({"reason": reason})).await
}

/// A funded app and a user holding `amount` from a completed balance transfer.
async fn user_paid(t: &TestApp, amount: i64) -> (Creds, String, String) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let user = t.create_payee(&app).await;
    let sent = t.transfer(&app, "balance", &user, amount).await;
    assert_eq!((sent.status, sent.json["status"].as_str()), (StatusCode::CREATED, Some("completed")), "{}", sent.json);
    (app, user, sent.id())
}

async fn a_balance_transfer_is_reversed_once_and_its_money_goes_back(t: TestApp) {
    let (app, user, sent) = user_paid(&t, 1_000).await;
    assert_eq!((t.user_wallet(&app, &user).await.0, t.app_available(&app).await), (1_000, 9_000));
    let key = "reverse-once";
    let body = json!({"reason": "  sent to the wrong payee  "});
    let first = t.post_with_key(&app, &format!("/v2/transfers/{sent}/reverse"), key, body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    assert_eq!(first.json["status"], "reversed");
    let last = first.json["transactions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["type"].as_str(), last["amount"].as_i64()), (Some("balance_reversal"), Some(1_000)));
    let change = first.json["status_history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (change["previous_status"].as_str(), change["status"].as_str(), change["reason"].as_str()),
        (Some("completed"), Some("reversed"), Some("sent to the wrong payee"))
    );
    assert_eq!((t.user_wallet(&app, &user).await.0, t.app_available(&app).await), (0, 10_000));
    // The retry with the same key is the first answer; a second reversal is refused.
    let retry = t.post_with_key(&app, &format!("/v2/transfers/{sent}/reverse"), key, body).await;
    assert_eq!((retry.status, &retry.json), (StatusCode::OK, &first.json));
    let before = t.snapshot().await;
    refused(&reverse(&t, &app, &sent, "again").await, StatusCode::CONFLICT, "transfer_not_reversible");
    assert_eq!(t.snapshot().await, before);
    let events = t
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE type = 'transfer.updated' AND data LIKE '%{sent}%' AND data LIKE '%reversed%'"
        ))
        .await;
    assert_eq!(events, 1, "one transfer.updated for the reversal, in its transaction");

    // A user-to-app transfer reversed gives the money back to the user.
    let paid = t.transfer(&app, "balance", &user, 700).await.id();
    let taken = t
        .post(
            &app,
            "/v2/transfers",
            json!({"type": "balance", "user_id": user, "amount": 300, "currency": "USD", "direction": "user_to_app"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.json);
    assert_eq!(t.user_wallet(&app, &user).await.0, 400);
    assert_eq!(reverse(&t, &app, &taken.id(), "taken by mistake").await.status, StatusCode::OK);
    assert_eq!(t.user_wallet(&app, &user).await.0, 700);
    assert_eq!(reverse(&t, &app, &paid, "paid by mistake").await.status, StatusCode::OK);
    assert_eq!((t.user_wallet(&app, &user).await.0, t.app_available(&app).await), (0, 10_000));
}

async fn a_refill_is_reversed_only_while_the_app_wallet_holds_it(t: TestApp) {
    let app = t.create_app("Acme").await;
    let refill = t.post(&app, "/v2/refills", json!({"amount": 1_000, "currency": "USD"})).await;
    assert_eq!(refill.status, StatusCode::CREATED, "{}", refill.json);
    let user = t.create_payee(&app).await;
    let sent = t.transfer(&app, "balance", &user, 800).await.id();
    let before = t.snapshot().await;
    let r = reverse(&t, &app, &refill.id(), "the bank pulled it back").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert!(matches!(r.code(), "insufficient_funds" | "app_insufficient_funds"), "{}", r.json);
    assert_eq!(t.snapshot().await, before, "a refused reversal changes nothing");
    assert_eq!(reverse(&t, &app, &sent, "paid by mistake").await.status, StatusCode::OK);
    let r = reverse(&t, &app, &refill.id(), "the bank pulled it back").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["transactions"].as_array().unwrap().last().unwrap()["type"], "refill_reversal");
    assert_eq!(t.app_available(&app).await, 0);
}

async fn a_spent_balance_transfer_is_not_reversed(t: TestApp) {
    let (app, user, sent) = user_paid(&t, 1_000).await;
    let payout = t.post(&app, "/v2/payouts", json!({"user_id": user, "amount": 600, "currency": "USD"})).await;
    assert_eq!(payout.status, StatusCode::CREATED, "{}", payout.json);
    let before = t.snapshot().await;
    refused(&reverse(&t, &app, &sent, "paid by mistake").await, StatusCode::CONFLICT, "insufficient_funds");
    assert_eq!(t.snapshot().await, before, "the wallet holds 400 of the 1,000: nothing moves");
    assert_eq!(t.user_wallet(&app, &user).await, (400, 600));
}

async fn a_payout_is_returned_by_its_rail_not_reversed_by_the_app(t: TestApp) {
    let (app, user, _) = user_paid(&t, 1_000).await;
    let payout = t.post(&app, "/v2/payouts", json!({"user_id": user, "amount": 600, "currency": "USD"})).await;
    assert_eq!(payout.status, StatusCode::CREATED, "{}", payout.json);
    let id = payout.id();
    let early = t.post(&app, &format!("/v2/dev/payouts/{id}/return"), json!({})).await;
    refused(&early, StatusCode::CONFLICT, "transfer_not_reversible");
    t.settle_payouts().await;
    assert_eq!(t.get(&app, &format!("/v2/transfers/{id}")).await.json["status"], "completed");
    assert_eq!(t.user_wallet(&app, &user).await, (400, 0));
    let before = t.snapshot().await;
    refused(&reverse(&t, &app, &id, "changed my mind").await, StatusCode::CONFLICT, "payout_reversal_by_rail_only");
    assert_eq!(t.snapshot().await, before, "the app cannot make the paid money come back");
    // The sandbox rail returns it (a bank's return): the money is back in the wallet.
    let returned = t.post(&app, &format!("/v2/dev/payouts/{id}/return"), json!({})).await;
    assert_eq!(returned.status, StatusCode::OK, "{}", returned.json);
    assert_eq!(returned.json["status"], "reversed");
    let last = returned.json["transactions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["type"].as_str(), last["amount"].as_i64()), (Some("payout_reversal"), Some(600)));
    assert_eq!(returned.json["status_history"].as_array().unwrap().last().unwrap()["reason"], "returned_by_rail");
    assert_eq!(t.user_wallet(&app, &user).await, (1_000, 0));
    let twice = t.post(&app, &format!("/v2/dev/payouts/{id}/return"), json!({})).await;
    refused(&twice, StatusCode::CONFLICT, "transfer_not_reversible");
}

async fn bad_reversals_are_refused_and_change_nothing(t: TestApp) {
    let (app, _, sent) = user_paid(&t, 1_000).await;
    let other = t.create_app("Other").await;
    let before = t.snapshot().await;
    let path = format!("/v2/transfers/{sent}/reverse");
    for reason in ["", "   ", &"x".repeat(201)] {
        let r = t.post(&app, &path, json!({"reason": reason})).await;
        assert_eq!((r.status, r.code(), r.param()), (StatusCode::UNPROCESSABLE_ENTITY, "missing_field", "reason"));
    }
    let r = t.post(&app, &path, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "missing_field"), "{}", r.json);
    let r = t.post(&app, &path, json!({"reason": "x", "amount": 5})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    let r = t.post(&other, &path, json!({"reason": "not mine"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "transfer_not_found"), "{}", r.json);
    let r = t.post(&app, "/v2/transfers/tr_nothing/reverse", json!({"reason": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);
    let r = t.post(&app, &format!("/v2/dev/payouts/{sent}/return"), json!({})).await;
    refused(&r, StatusCode::CONFLICT, "transfer_not_reversible");
    assert_eq!(t.snapshot().await, before, "no refused reversal changed anything");
}

async fn twenty_concurrent_reversals_move_the_money_once(t: TestApp) {
    let (app, user, sent) = user_paid(&t, 1_000).await;
    let answers = common::at_once(20, |i| {
        let (t, app, sent) = (t.clone(), app.clone(), sent.clone());
        async move { reverse(&t, &app, &sent, &format!("attempt {i}")).await }
    })
    .await;
    let won = answers.iter().filter(|r| r.status == StatusCode::OK).count();
    for r in answers.iter().filter(|r| r.status != StatusCode::OK) {
        assert!(matches!(r.code(), "transfer_not_reversible" | "transfer_status_changed"), "{}", r.json);
    }
    assert_eq!(won, 1);
    assert_eq!((t.user_wallet(&app, &user).await.0, t.app_available(&app).await), (0, 10_000));
    assert_eq!(t.count("SELECT COUNT(*) FROM transactions WHERE kind = 'balance_reversal'").await, 1);
}

async fn a_reversal_racing_a_spend_of_the_same_money_lets_one_win(t: TestApp) {
    let (app, user, _) = user_paid(&t, 100).await;
    for round in 0..8 {
        let sent = t.transfer(&app, "balance", &user, 500).await.id();
        let held = t.user_wallet(&app, &user).await.0;
        // Either the reversal takes the 500 back or a payout spends it: never both.
        let answers = common::at_once(2, |i| {
            let (t, app, user, sent) = (t.clone(), app.clone(), user.clone(), sent.clone());
            async move {
                if i == 0 {
                    reverse(&t, &app, &sent, "race").await
                } else {
                    let body = json!({"user_id": user, "amount": held, "currency": "USD"});
                    t.post(&app, "/v2/payouts", body).await
                }
            }
        })
        .await;
        let won = answers.iter().filter(|r| r.status.is_success()).count();
        let lost: Vec<_> = answers.iter().filter(|r| !r.status.is_success()).collect();
        assert_eq!(won, 1, "round {round}: {:?}", answers.iter().map(|r| r.json.to_string()).collect::<Vec<_>>());
        assert_eq!(lost[0].code(), "insufficient_funds", "round {round}: {}", lost[0].json);
        let (available, _) = t.user_wallet(&app, &user).await;
        assert!(available >= 0 && available == if answers[0].status.is_success() { held - 500 } else { 0 });
    }
}
