//! Real concurrency against the real router and database: requests run at once on
//! a multi-threaded runtime, on SQLite and on PostgreSQL.

mod common;

use std::collections::HashSet;

use axum::http::StatusCode;
use common::{TestApp, at_once};
use serde_json::json;

on_both_databases!(
    hundred_payouts_against_a_wallet_funded_for_ten,
    hundred_transfers_out_of_an_app_wallet_funded_for_ten,
    fifty_requests_with_one_idempotency_key_make_one_transfer,
    concurrent_cancels_release_a_payout_once,
    mixed_batches_move_money_once_per_key_and_balances_match_the_answers,
);

const DEBIT: i64 = 100;

fn tally(responses: &[common::Resp]) -> (usize, usize) {
    let ok = responses.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let refused =
        responses.iter().filter(|r| r.status == StatusCode::CONFLICT && r.code() == "insufficient_funds").count();
    let other: Vec<_> = responses
        .iter()
        .filter(|r| r.status != StatusCode::CREATED && r.code() != "insufficient_funds")
        .map(|r| r.json.to_string())
        .collect();
    assert!(other.is_empty(), "unexpected answers: {other:?}");
    (ok, refused)
}

async fn hundred_payouts_against_a_wallet_funded_for_ten(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    t.refill(&app, 10 * DEBIT).await;
    assert_eq!(t.transfer(&app, "balance", &user, 10 * DEBIT).await.status, StatusCode::CREATED);

    let responses = at_once(100, |_| {
        let (t, app, user) = (t.clone(), app.clone(), user.clone());
        async move { t.transfer(&app, "payout", &user, DEBIT).await }
    })
    .await;
    assert_eq!(tally(&responses), (10, 90));
    assert_eq!(t.user_wallet(&app, &user).await, (0, 10 * DEBIT));
    assert_eq!(t.count("SELECT COUNT(*) FROM transfers WHERE kind = 'payout'").await, 10);
}

async fn hundred_transfers_out_of_an_app_wallet_funded_for_ten(t: TestApp) {
    let app = t.create_app("Acme").await;
    let mut users = Vec::new();
    for _ in 0..5 {
        users.push(t.create_user(&app).await);
    }
    t.refill(&app, 10 * DEBIT).await;
    let users = std::sync::Arc::new(users);
    let responses = at_once(100, |i| {
        let (t, app, users) = (t.clone(), app.clone(), users.clone());
        async move { t.transfer(&app, "balance", &users[i % users.len()], DEBIT).await }
    })
    .await;
    assert_eq!(tally(&responses), (10, 90));
    assert_eq!(t.app_available(&app).await, 0);
    let mut total = 0;
    for user in users.iter() {
        total += t.user_wallet(&app, user).await.0;
    }
    assert_eq!(total, 10 * DEBIT);
}

async fn fifty_requests_with_one_idempotency_key_make_one_transfer(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_user(&app).await;
    t.refill(&app, 10_000).await;
    let responses = at_once(50, |_| {
        let (t, app, user) = (t.clone(), app.clone(), user.clone());
        async move {
            let body = json!({"type": "balance", "user_id": user, "amount": 700, "currency": "USD"});
            t.post_with_key(&app, "/v2/transfers", "one-key", body).await
        }
    })
    .await;
    let distinct: HashSet<(u16, Vec<u8>)> = responses.iter().map(|r| (r.status.as_u16(), r.bytes.clone())).collect();
    assert_eq!(distinct.len(), 1, "all 50 answers are identical");
    assert_eq!(responses[0].status, StatusCode::CREATED, "{}", responses[0].json);
    assert_eq!(t.count("SELECT COUNT(*) FROM transfers WHERE kind = 'balance'").await, 1);
    assert_eq!(t.user_wallet(&app, &user).await, (700, 0));
}

async fn concurrent_cancels_release_a_payout_once(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = t.create_payee(&app).await;
    t.refill(&app, 1_000).await;
    t.transfer(&app, "balance", &user, 1_000).await;
    let payout = t.transfer(&app, "payout", &user, 600).await.id();
    let responses = at_once(20, |_| {
        let (t, app, payout) = (t.clone(), app.clone(), payout.clone());
        async move { t.post(&app, &format!("/v2/transfers/{payout}/cancel"), json!({})).await }
    })
    .await;
    let ok = responses.iter().filter(|r| r.status == StatusCode::OK).count();
    let refused = responses
        .iter()
        .filter(|r| {
            r.status == StatusCode::CONFLICT
                && ["transfer_not_cancelable", "transfer_status_changed"].contains(&r.code())
        })
        .count();
    assert_eq!((ok, refused), (1, 19));
    assert_eq!(t.user_wallet(&app, &user).await, (1_000, 0));
    assert_eq!(t.count("SELECT COUNT(*) FROM transactions WHERE kind = 'payout_release'").await, 1);
}

/// Refills, transfers both ways and payouts at once, each key sent twice: the
/// writer batches the refills and balance transfers together and runs payouts
/// alone in the same database transactions. Every key's two answers are the same,
/// every 201 is one transfer, and the wallets hold exactly what the answers say.
async fn mixed_batches_move_money_once_per_key_and_balances_match_the_answers(t: TestApp) {
    let app = t.create_app("Acme").await;
    let payees = std::sync::Arc::new([t.create_payee(&app).await, t.create_payee(&app).await]);
    t.refill(&app, 500).await;
    const KEYS: usize = 60;
    let request = |i: usize| -> (&'static str, serde_json::Value) {
        let user = &payees[i % 2];
        match i % 4 {
            0 => ("/v2/refills", json!({"amount": 50, "currency": "USD"})),
            1 => ("/v2/transfers", json!({"type": "balance", "user_id": user, "amount": 100, "currency": "USD"})),
            2 => (
                "/v2/transfers",
                json!({"type": "balance", "user_id": user, "amount": 30, "currency": "USD", "direction": "user_to_app"}),
            ),
            _ => ("/v2/transfers", json!({"type": "payout", "user_id": user, "amount": 40, "currency": "USD"})),
        }
    };
    let responses = at_once(2 * KEYS, |n| {
        let (t, app) = (t.clone(), app.clone());
        let (path, body) = request(n % KEYS);
        async move { t.post_with_key(&app, path, &format!("mixed-{}", n % KEYS), body).await }
    })
    .await;
    let (mut app_wallet, mut users) = (500, [0i64; 2]);
    let mut created: i64 = 0;
    for i in 0..KEYS {
        let (first, second) = (&responses[i], &responses[i + KEYS]);
        assert_eq!((first.status, &first.bytes), (second.status, &second.bytes), "key {i}: one answer, given twice");
        if first.status != StatusCode::CREATED {
            assert_eq!((first.status, first.code()), (StatusCode::CONFLICT, "insufficient_funds"), "{}", first.json);
            continue;
        }
        created += 1;
        let u = i % 2;
        match i % 4 {
            0 => app_wallet += 50,
            1 => (app_wallet, users[u]) = (app_wallet - 100, users[u] + 100),
            2 => (app_wallet, users[u]) = (app_wallet + 30, users[u] - 30),
            _ => users[u] -= 40,
        }
    }
    assert!(created > (KEYS / 2) as i64, "most requests can be paid: {created} of {KEYS}");
    assert_eq!(t.count("SELECT COUNT(*) FROM transfers").await, created + 1, "the set-up refill, and no key twice");
    assert_eq!(t.app_available(&app).await, app_wallet);
    for (u, user) in payees.iter().enumerate() {
        assert_eq!(t.user_wallet(&app, user).await.0, users[u], "payee {u}");
    }
}
