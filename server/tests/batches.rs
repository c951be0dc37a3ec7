//! Payout batches (issue 16, part 5): payouts to known users and payout links made
//! together in one database transaction or not at all; every refused item listed;
//! idempotent as a whole; completed once every payout is final — on SQLite and
//! PostgreSQL, with the ledger check after each.

mod common;

use axum::http::StatusCode;
use common::{Creds, Resp, TestApp};
use serde_json::{Value, json};

on_both_databases!(
    a_batch_pays_users_and_makes_links_together_then_completes,
    bad_shapes_are_listed_item_by_item_and_change_nothing,
    a_refused_item_undoes_the_whole_batch_and_every_refusal_is_listed,
    a_batch_is_idempotent_as_a_whole_and_two_racing_batches_never_overdraw,
);

async fn batch(t: &TestApp, app: &Creds, items: Value) -> Resp {
    t.post(app, "/v2/payout-batches", json!({ "items": items })).await
}

fn pay(user: &str, amount: i64) -> Value {
    json!({"user_id": user, "amount": amount, "currency": "USD"})
}

fn indexes(r: &Resp) -> Vec<(u64, String)> {
    r.json["error"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", r.json))
        .iter()
        .map(|i| (i["index"].as_u64().unwrap(), i["code"].as_str().unwrap().to_string()))
        .collect()
}

async fn complete_batches(t: &TestApp) {
    t.settle_payouts().await;
    dots_server::batches::complete_finished(&t.store, &t.state.writer).await.unwrap();
}

async fn a_batch_pays_users_and_makes_links_together_then_completes(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 100_000).await;
    let users = [t.create_payee(&app).await, t.create_payee(&app).await, t.create_payee(&app).await];
    let items = json!([
        pay(&users[0], 1_000),
        pay(&users[1], 2_000),
        pay(&users[2], 3_000),
        {"amount": 4_000, "currency": "USD", "phone_number": "+12015550123", "memo": "Prize"},
        {"amount": 5_000, "currency": "USD", "email": "grace@example.com", "delivery": {"method": "email"}},
    ]);
    let made = batch(&t, &app, items).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    assert_eq!((&made.json["status"], &made.json["total_amount"]), (&json!("processing"), &json!(15_000)));
    let items = made.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for (i, item) in items.iter().enumerate().take(3) {
        assert_eq!((&item["index"], &item["type"], &item["user_id"]), (&json!(i), &json!("payout"), &json!(users[i])));
        let payout = t.get(&app, &format!("/v2/transfers/{}", item["transfer_id"].as_str().unwrap())).await;
        assert_eq!((&payout.json["type"], &payout.json["user_id"]), (&json!("payout"), &json!(users[i])));
    }
    assert_eq!((&items[3]["type"], &items[3]["status"]), (&json!("payout_link"), &json!("active")));
    let link = t.get(&app, &format!("/v2/payout-links/{}", items[4]["payout_link_id"].as_str().unwrap())).await;
    assert_eq!((&link.json["email"], &link.json["delivery"]["method"]), (&json!("grace@example.com"), &json!("email")));
    // The payouts' money left the app wallet (via each payee's wallet); links wait for their claims.
    assert_eq!(t.app_available(&app).await, 100_000 - 6_000);
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'payout_batch.created'").await, 1);

    complete_batches(&t).await;
    let done = t.get(&app, &format!("/v2/payout-batches/{}", made.id())).await;
    assert_eq!(done.json["status"], "completed", "{}", done.json);
    assert!(done.json["completed_at"].is_string());
    assert!(done.json["items"].as_array().unwrap()[..3].iter().all(|i| i["status"] == "completed"));
    let event = t
        .count("SELECT COUNT(*) FROM events WHERE type = 'payout_batch.completed' AND data LIKE '%\"completed\":3%'")
        .await;
    assert_eq!(event, 1, "completed once, with the payouts counted by status");
    complete_batches(&t).await;
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'payout_batch.completed'").await, 1);
    // Another app cannot read it; a made-up id is not found.
    let other = t.create_app("Other").await;
    let r = t.get(&other, &format!("/v2/payout-batches/{}", made.id())).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "batch_not_found"));
    assert_eq!(t.get(&app, "/v2/payout-batches/pb_nothing").await.code(), "batch_not_found");
    // A batch of links only has nothing on its way: it is completed at once.
    let links = batch(&t, &app, json!([{"amount": 100, "currency": "USD", "phone_number": "+12015550124"}])).await;
    assert_eq!(links.json["status"], "completed", "{}", links.json);
}

async fn bad_shapes_are_listed_item_by_item_and_change_nothing(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 10_000).await;
    let user = t.create_payee(&app).await;
    let before = t.snapshot().await;
    let r = batch(&t, &app, json!([])).await;
    assert_eq!((r.status, r.code(), r.param()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_batch", "items"));
    let too_many: Vec<Value> = (0..1_001).map(|_| pay(&user, 1)).collect();
    let r = batch(&t, &app, json!(too_many)).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_batch"));
    let r = batch(
        &t,
        &app,
        json!([
            pay(&user, 100),
            {"user_id": user, "amount": 1.5, "currency": "USD"},
            {"amount": 100, "currency": "EUR", "phone_number": "+12015550123"},
            {"amount": 100, "currency": "USD", "phone_number": "not a phone"},
            {"amount": 100, "currency": "USD"},
            {"user_id": user, "amount": 100, "currency": "USD", "email": "a@example.com"},
            {"amount": 100, "currency": "USD", "phone_number": "+12015550123", "payout_method_id": "pm_1"},
            {"user_id": user, "amount": 100, "currency": "USD", "fee_party": "both"},
        ]),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "batch_items_refused"), "{}", r.json);
    let expected: Vec<(u64, String)> = [
        (1, "invalid_amount"),
        (2, "currency_mismatch"),
        (3, "invalid_phone_number"),
        (4, "missing_field"),
        (5, "invalid_field"),
        (6, "invalid_field"),
        (7, "invalid_fee_party"),
    ]
    .iter()
    .map(|(i, c)| (*i, c.to_string()))
    .collect();
    assert_eq!(indexes(&r), expected);
    assert!(r.json["error"]["message"].as_str().unwrap().starts_with("7 items of the batch were refused"));
    let r = t.post(&app, "/v2/payout-batches", json!({"items": [pay(&user, 100)], "note": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_eq!(t.snapshot().await, before);
}

async fn a_refused_item_undoes_the_whole_batch_and_every_refusal_is_listed(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 2_500).await;
    let user = t.create_payee(&app).await;
    let unverified = t.create_user(&app).await;
    let before = t.snapshot().await;
    let r = batch(
        &t,
        &app,
        json!([pay(&user, 1_000), pay("usr_nobody", 100), pay(&unverified, 100), pay(&user, 1_000), pay(&user, 1_000)]),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "batch_items_refused"), "{}", r.json);
    assert_eq!(
        indexes(&r),
        [
            (1, "user_not_found".to_string()),
            (2, "phone_not_verified".to_string()),
            (4, "app_insufficient_funds".to_string())
        ]
    );
    assert_eq!(t.snapshot().await, before, "the items that went through were undone too");
    assert_eq!(t.count("SELECT COUNT(*) FROM payout_batches").await, 0);
    // Fixed, it goes through.
    let r = batch(&t, &app, json!([pay(&user, 1_000), pay(&user, 1_000)])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(t.app_available(&app).await, 500);
}

async fn a_batch_is_idempotent_as_a_whole_and_two_racing_batches_never_overdraw(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 3_000).await;
    let users = [t.create_payee(&app).await, t.create_payee(&app).await];
    let body = json!({"items": [pay(&users[0], 1_000), pay(&users[1], 1_000)]});
    let first = t.post_with_key(&app, "/v2/payout-batches", "batch-1", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let again = t.post_with_key(&app, "/v2/payout-batches", "batch-1", body).await;
    assert_eq!((again.status, &again.json), (StatusCode::CREATED, &first.json));
    assert_eq!(t.count("SELECT COUNT(*) FROM payout_batches").await, 1);
    assert_eq!(t.app_available(&app).await, 1_000);
    // Two batches of 1,000 each race for the last 1,000: one is made, whole.
    let answers = common::at_once(2, |i| {
        let (t, app, user) = (t.clone(), app.clone(), users[i].clone());
        async move { t.post(&app, "/v2/payout-batches", json!({"items": [pay(&user, 600), pay(&user, 400)]})).await }
    })
    .await;
    let won = answers.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(won, 1, "{:?}", answers.iter().map(|r| r.json.to_string()).collect::<Vec<_>>());
    let lost = answers.iter().find(|r| r.status != StatusCode::CREATED).unwrap();
    assert_eq!(lost.code(), "batch_items_refused", "{}", lost.json);
    assert_eq!(t.app_available(&app).await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM payout_batches").await, 2);
}
