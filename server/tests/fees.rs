//! Payout fees (issue 16, part 1): the operator's schedule, who pays it, the fee
//! as its own transaction to the operator's fee revenue, and the fee coming back
//! whenever the payout's money does — on SQLite and PostgreSQL, under concurrency,
//! with the ledger check (which knows each payout's fee) after every scenario.

mod common;

use axum::http::StatusCode;
use common::{Creds, Resp, TestApp};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

on_both_databases!(
    the_operator_sets_the_schedule_and_the_app_chooses_who_pays,
    a_fee_the_payee_pays_comes_out_of_the_amount,
    a_fee_the_app_pays_comes_from_its_wallet_besides,
    a_fee_that_leaves_the_payee_nothing_is_refused,
    a_canceled_failed_or_returned_payout_gives_its_fee_back,
    bad_fee_input_is_refused_and_changes_nothing,
    concurrent_payouts_with_fees_never_overdraw_a_wallet,
    generated_schedules_and_amounts_keep_fee_and_net_whole,
);

/// $0.25 + 1 %: the fee of $10.00 is 35 cents.
fn schedule() -> Value {
    json!({"fixed": 25, "bps": 100})
}

async fn fees_set(t: &TestApp, app: &Creds, schedule: Value) {
    let r = t.set_fees(app, schedule).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

async fn payout(t: &TestApp, app: &Creds, user: &str, amount: i64, fee_party: Option<&str>) -> Resp {
    let mut body = json!({"user_id": user, "amount": amount, "currency": "USD"});
    if let Some(party) = fee_party {
        body["fee_party"] = party.into();
    }
    t.post(app, "/v2/payouts", body).await
}

/// A funded app and a payee holding `held` in their wallet.
async fn payee_holding(t: &TestApp, held: i64) -> (Creds, String) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 100_000).await;
    let user = t.create_payee(&app).await;
    assert_eq!(t.transfer(&app, "balance", &user, held).await.status, StatusCode::CREATED);
    (app, user)
}

async fn fee_revenue(t: &TestApp) -> i64 {
    t.count("SELECT balance FROM accounts WHERE id = 'sys_fee_revenue_USD'").await
}

fn transactions(r: &Resp) -> Vec<(String, i64, String, String)> {
    r.json["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["type"].as_str().unwrap().to_string(),
                x["amount"].as_i64().unwrap(),
                x["source"]["kind"].as_str().unwrap().to_string(),
                x["destination"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn tx(kind: &str, amount: i64, from: &str, to: &str) -> (String, i64, String, String) {
    (kind.to_string(), amount, from.to_string(), to.to_string())
}

async fn the_operator_sets_the_schedule_and_the_app_chooses_who_pays(t: TestApp) {
    let app = t.create_app("Acme").await;
    let rules = t.get(&app, "/v2/apps/me/rules").await;
    assert_eq!(rules.json["fees"], json!({"fixed": 0, "bps": 0, "min": null, "max": null}), "{}", rules.json);
    assert_eq!(rules.json["fee_party"], "app", "no fee, and the app pays any until it says otherwise");
    let set = t.set_fees(&app, json!({"fixed": 25, "bps": 100, "min": 50, "max": 2_000})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.json);
    assert_eq!(set.json["fees"], json!({"fixed": 25, "bps": 100, "min": 50, "max": 2_000}));
    assert_eq!(t.get(&app, "/v2/apps/me/rules").await.json, set.json);
    // The app chooses who pays; it cannot set its own price.
    let chosen = t.put(&app, "/v2/apps/me/rules", json!({"fee_party": "user"})).await;
    assert_eq!((chosen.status, &chosen.json["fee_party"]), (StatusCode::OK, &json!("user")), "{}", chosen.json);
    let own = t.put(&app, &format!("/v2/apps/{}/fees", app.id), schedule()).await;
    assert_eq!(own.status, StatusCode::UNAUTHORIZED, "{}", own.json);
    // Another app's schedule is its own.
    let other = t.create_app("Other").await;
    assert_eq!(t.get(&other, "/v2/apps/me/rules").await.json["fees"]["fixed"], 0);
}

async fn a_fee_the_payee_pays_comes_out_of_the_amount(t: TestApp) {
    let (app, user) = payee_holding(&t, 1_000).await;
    fees_set(&t, &app, schedule()).await;
    let paid = payout(&t, &app, &user, 1_000, Some("user")).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.json);
    assert_eq!(
        (&paid.json["amount"], &paid.json["fee"], &paid.json["net"], &paid.json["fee_party"]),
        (&json!(1_000), &json!(35), &json!(965), &json!("user"))
    );
    assert_eq!(
        transactions(&paid),
        [
            tx("payout_reserve", 965, "user_wallet", "payout_clearing"),
            tx("payout_fee", 35, "user_wallet", "fee_revenue")
        ]
    );
    assert_eq!(t.user_wallet(&app, &user).await, (0, 1_000), "the whole amount left the wallet");
    assert_eq!(fee_revenue(&t).await, 35);
    t.settle_payouts().await;
    let done = t.get(&app, &format!("/v2/transfers/{}", paid.id())).await;
    assert_eq!(done.json["status"], "completed", "{}", done.json);
    assert_eq!(transactions(&done)[2], tx("payout_settlement", 965, "payout_clearing", "external_payouts"));
    assert_eq!(t.count("SELECT balance FROM accounts WHERE id = 'sys_external_payouts_USD'").await, 965);
    assert_eq!((fee_revenue(&t).await, t.user_wallet(&app, &user).await), (35, (0, 0)));
    // The transfer's event carries the fee too.
    let event = t
        .count(&format!(
            "SELECT COUNT(*) FROM events WHERE type = 'transfer.created' AND data LIKE '%{}%' AND data LIKE '%\"net\":965%'",
            paid.id()
        ))
        .await;
    assert_eq!(event, 1);
}

async fn a_fee_the_app_pays_comes_from_its_wallet_besides(t: TestApp) {
    let (app, user) = payee_holding(&t, 1_000).await;
    fees_set(&t, &app, schedule()).await;
    let app_before = t.app_available(&app).await;
    let paid = payout(&t, &app, &user, 1_000, None).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.json);
    assert_eq!(
        (&paid.json["fee"], &paid.json["net"], &paid.json["fee_party"]),
        (&json!(35), &json!(1_000), &json!("app"))
    );
    assert_eq!(
        transactions(&paid),
        [
            tx("payout_reserve", 1_000, "user_wallet", "payout_clearing"),
            tx("payout_fee", 35, "app_wallet", "fee_revenue")
        ]
    );
    assert_eq!((t.app_available(&app).await, fee_revenue(&t).await), (app_before - 35, 35));
    t.settle_payouts().await;
    assert_eq!(t.count("SELECT balance FROM accounts WHERE id = 'sys_external_payouts_USD'").await, 1_000);

    // An app wallet short of the fee: refused, nothing changed.
    let poor = t.create_app("Poor").await;
    fees_set(&t, &poor, schedule()).await;
    t.refill(&poor, 500).await;
    let payee = t.create_payee(&poor).await;
    assert_eq!(t.transfer(&poor, "balance", &payee, 490).await.status, StatusCode::CREATED);
    let before = t.snapshot().await;
    let r = payout(&t, &poor, &payee, 490, Some("app")).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "insufficient_funds"), "{}", r.json);
    assert!(r.json["error"]["message"].as_str().unwrap().contains("fee"), "{}", r.json);
    assert_eq!(t.snapshot().await, before);
    // The payee paying it instead goes through.
    assert_eq!(payout(&t, &poor, &payee, 490, Some("user")).await.json["net"], 490 - 30);
}

async fn a_fee_that_leaves_the_payee_nothing_is_refused(t: TestApp) {
    let (app, user) = payee_holding(&t, 1_000).await;
    fees_set(&t, &app, json!({"fixed": 500})).await;
    let before = t.snapshot().await;
    for amount in [1, 499, 500] {
        let r = payout(&t, &app, &user, amount, Some("user")).await;
        assert_eq!((r.status, r.code(), r.param()), (StatusCode::UNPROCESSABLE_ENTITY, "amount_below_fee", "amount"));
    }
    assert_eq!(t.snapshot().await, before, "nothing moved");
    assert_eq!(payout(&t, &app, &user, 501, Some("user")).await.json["net"], 1);
    assert_eq!(
        payout(&t, &app, &user, 499, Some("app")).await.json["net"],
        499,
        "the app may pay a fee above the amount"
    );
}

async fn a_canceled_failed_or_returned_payout_gives_its_fee_back(t: TestApp) {
    let (app, user) = payee_holding(&t, 3_000).await;
    fees_set(&t, &app, schedule()).await;
    let app_before = t.app_available(&app).await;
    // Canceled before the rail took it: the payee's fee comes back with the money.
    let canceled = payout(&t, &app, &user, 1_000, Some("user")).await.id();
    let r = t.post(&app, &format!("/v2/transfers/{canceled}/cancel"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        transactions(&r)[2..],
        [
            tx("payout_release", 965, "payout_clearing", "user_wallet"),
            tx("fee_refund", 35, "fee_revenue", "user_wallet")
        ]
    );
    assert_eq!((t.user_wallet(&app, &user).await, fee_revenue(&t).await), ((3_000, 0), 0));

    // Failed at the rail (an account number ending 0000 is closed): the app's fee back in its wallet.
    let closed = t.add_bank_account(&app, &user, "000000000000").await;
    let body =
        json!({"user_id": user, "amount": 1_000, "currency": "USD", "payout_method_id": closed, "fee_party": "app"});
    let failing = t.post(&app, "/v2/payouts", body).await.id();
    assert_eq!(t.app_available(&app).await, app_before - 35);
    t.settle_payouts().await;
    let failed = t.get(&app, &format!("/v2/transfers/{failing}")).await;
    assert_eq!(failed.json["status"], "failed", "{}", failed.json);
    assert_eq!(transactions(&failed)[3], tx("fee_refund", 35, "fee_revenue", "app_wallet"));
    assert_eq!((t.app_available(&app).await, t.user_wallet(&app, &user).await), (app_before, (3_000, 0)));

    // Paid, then returned by the rail: the money and the payee's fee come back.
    let body = json!({"user_id": user, "amount": 2_000, "currency": "USD", "fee_party": "user",
                      "payout_method_id": t.add_bank_account(&app, &user, "000222333444").await});
    let paid = t.post(&app, "/v2/payouts", body).await.id();
    t.settle_payouts().await;
    assert_eq!((t.user_wallet(&app, &user).await, fee_revenue(&t).await), ((1_000, 0), 45));
    let returned = t.post(&app, &format!("/v2/dev/payouts/{paid}/return"), json!({})).await;
    assert_eq!(returned.status, StatusCode::OK, "{}", returned.json);
    assert_eq!(
        transactions(&returned)[3..],
        [
            tx("payout_reversal", 1_955, "external_payouts", "user_wallet"),
            tx("fee_refund", 45, "fee_revenue", "user_wallet")
        ]
    );
    assert_eq!((t.user_wallet(&app, &user).await, fee_revenue(&t).await), ((3_000, 0), 0));
}

async fn bad_fee_input_is_refused_and_changes_nothing(t: TestApp) {
    let (app, user) = payee_holding(&t, 1_000).await;
    let rules_before = t.get(&app, "/v2/apps/me/rules").await.json;
    let before = t.snapshot().await;
    for (schedule, param) in [
        (json!({"fixed": -1}), "fixed"),
        (json!({"bps": 10_001}), "bps"),
        (json!({"bps": -5}), "bps"),
        (json!({"min": -1}), "min"),
        (json!({"max": 1_000_000_000_001_i64}), "max"),
        (json!({"min": 10, "max": 9}), "min"),
    ] {
        let r = t.set_fees(&app, schedule.clone()).await;
        assert_eq!(
            (r.status, r.code(), r.param()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_fee_schedule", param),
            "{schedule}"
        );
    }
    for schedule in [json!({"fixed": "25"}), json!({"bps": 1.5}), json!({"percent": 1})] {
        let r = t.set_fees(&app, schedule.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{schedule}: {}", r.json);
        assert!(!r.code().is_empty(), "{}", r.json);
    }
    let bearer = format!("Bearer {}", common::OPERATOR_KEY);
    for path in ["/v2/apps/app_nothing/fees", "/v2/apps/usr_123/fees"] {
        let r = t.call(axum::http::Method::PUT, path, Some(&bearer), &[], Some(&schedule().to_string())).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "app_not_found"), "{path}: {}", r.json);
    }
    let r = payout(&t, &app, &user, 100, Some("both")).await;
    assert_eq!((r.status, r.code(), r.param()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_fee_party", "fee_party"));
    let body = json!({"type": "balance", "user_id": user, "amount": 100, "currency": "USD", "fee_party": "user"});
    let r = t.post(&app, "/v2/transfers", body).await;
    assert_eq!((r.status, r.code(), r.param()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "fee_party"));
    let body = json!({"amount": 100, "currency": "USD", "phone_number": "+12015550123", "fee_party": "nobody"});
    let r = t.post(&app, "/v2/payout-links", body).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_fee_party"), "{}", r.json);
    let r = t.put(&app, "/v2/apps/me/rules", json!({"fee_party": "operator"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_fee_party"), "{}", r.json);
    assert_eq!(t.snapshot().await, before);
    assert_eq!(t.get(&app, "/v2/apps/me/rules").await.json, rules_before);
}

async fn concurrent_payouts_with_fees_never_overdraw_a_wallet(t: TestApp) {
    // The payee pays (the 28 fee comes out of each 300): 10 payouts race for 1,000.
    let (app, user) = payee_holding(&t, 1_000).await;
    fees_set(&t, &app, schedule()).await;
    let answers = common::at_once(10, |_| {
        let (t, app, user) = (t.clone(), app.clone(), user.clone());
        async move { payout(&t, &app, &user, 300, Some("user")).await }
    })
    .await;
    let won = answers.iter().filter(|r| r.status == StatusCode::CREATED).count();
    for r in answers.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(r.code(), "insufficient_funds", "{}", r.json);
    }
    assert_eq!(won, 3);
    assert_eq!(t.user_wallet(&app, &user).await, (100, 900));

    // The app pays: its wallet holds three fees' worth; payees hold plenty.
    let poor = t.create_app("Poor").await;
    fees_set(&t, &poor, json!({"fixed": 100})).await;
    t.refill(&poor, 5_300).await;
    let mut payees = Vec::new();
    for _ in 0..5 {
        let payee = t.create_payee(&poor).await;
        assert_eq!(t.transfer(&poor, "balance", &payee, 1_000).await.status, StatusCode::CREATED);
        payees.push(payee);
    }
    let answers = common::at_once(10, |i| {
        let (t, poor, payee) = (t.clone(), poor.clone(), payees[i % 5].clone());
        async move { payout(&t, &poor, &payee, 100, Some("app")).await }
    })
    .await;
    let won = answers.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(won, 3, "{:?}", answers.iter().map(|r| r.json.to_string()).collect::<Vec<_>>());
    assert_eq!(t.app_available(&poor).await, 0);
}

/// Random schedules, amounts and payers through the API: every payout's fee follows
/// the stated rule, `fee + net` is what its payer gave up, no wallet goes below
/// zero, and a canceled payout gives everything back (the ledger check after the
/// scenario verifies every transfer's postings too).
async fn generated_schedules_and_amounts_keep_fee_and_net_whole(t: TestApp) {
    let (app, user) = payee_holding(&t, 50_000).await;
    let cases = (0i64..=300, 0i64..=2_000, proptest::option::of(0i64..=200), proptest::option::of(0i64..=900))
        .prop_flat_map(|s| (proptest::strategy::Just(s), 1i64..=20_000, proptest::bool::ANY));
    let mut runner = TestRunner::deterministic();
    for case in 0..24 {
        let ((fixed, bps, min, max), amount, user_pays) = cases.new_tree(&mut runner).unwrap().current();
        let (min, max) = match (min, max) {
            (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
            other => other,
        };
        fees_set(&t, &app, json!({"fixed": fixed, "bps": bps, "min": min, "max": max})).await;
        let expected = dots_shared::FeeSchedule { fixed, bps, min, max }.fee_for(amount);
        let party = if user_pays { "user" } else { "app" };
        let (user_before, app_before) = (t.user_wallet(&app, &user).await.0, t.app_available(&app).await);
        let r = payout(&t, &app, &user, amount, Some(party)).await;
        let context = format!("case {case}: {fixed}+{bps}bps [{min:?},{max:?}] of {amount}, {party} pays: {}", r.json);
        if user_pays && expected >= amount {
            assert_eq!(r.code(), "amount_below_fee", "{context}");
            continue;
        }
        if amount > user_before {
            assert_eq!(r.code(), "insufficient_funds", "{context}");
            continue;
        }
        assert_eq!(r.status, StatusCode::CREATED, "{context}");
        let (fee, net) = (r.json["fee"].as_i64().unwrap(), r.json["net"].as_i64().unwrap());
        assert_eq!(fee, expected, "{context}");
        let (user_after, app_after) = (t.user_wallet(&app, &user).await.0, t.app_available(&app).await);
        assert!(fee >= 0 && net > 0, "{context}");
        if user_pays {
            assert_eq!((fee + net, user_before - user_after, app_before - app_after), (amount, amount, 0), "{context}");
        } else {
            assert_eq!((net, user_before - user_after, app_before - app_after), (amount, amount, fee), "{context}");
        }
        let canceled = t.post(&app, &format!("/v2/transfers/{}/cancel", r.id()), json!({})).await;
        assert_eq!(canceled.status, StatusCode::OK, "{context}");
        assert_eq!(
            (t.user_wallet(&app, &user).await.0, t.app_available(&app).await),
            (user_before, app_before),
            "{context}: a canceled payout gives back its money and fee"
        );
    }
}
