//! `metadata` (issue 16, part 6): the app's own bounded notes on users, transfers,
//! payout links and flows, kept and shown, changed on users, and filtered on by
//! lists (`metadata[key]=value`, `created_after`, `created_before`) — on SQLite and
//! PostgreSQL.

mod common;

use axum::http::{Method, StatusCode};
use common::{Creds, TestApp};
use serde_json::{Value, json};

on_both_databases!(
    notes_are_kept_on_every_object_and_lists_filter_on_them,
    users_notes_change_key_by_key,
    bad_notes_and_bad_filters_are_refused_and_change_nothing,
);

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
}

async fn user_with(t: &TestApp, app: &Creds, phone: &str, notes: Value) -> String {
    let mut body = common::user_body(phone);
    body["metadata"] = notes;
    let r = t.post(app, "/v2/users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.id()
}

async fn notes_are_kept_on_every_object_and_lists_filter_on_them(t: TestApp) {
    let app = t.create_app("Acme").await;
    let refill = t
        .post(&app, "/v2/refills", json!({"amount": 10_000, "currency": "USD", "metadata": {"source": "wire-7"}}))
        .await;
    assert_eq!(refill.json["metadata"], json!({"source": "wire-7"}), "{}", refill.json);
    let driver = user_with(&t, &app, "+12015550131", json!({"role": "driver", "city": "Oslo"})).await;
    let rider = user_with(&t, &app, "+12015550132", json!({"role": "rider"})).await;
    assert_eq!(
        t.get(&app, &format!("/v2/users/{driver}")).await.json["metadata"],
        json!({"city": "Oslo", "role": "driver"})
    );
    let drivers = t.get(&app, "/v2/users?metadata[role]=driver").await;
    assert_eq!(ids(&drivers.json), [driver.as_str()], "{}", drivers.json);
    let both = t.get(&app, "/v2/users?metadata%5Brole%5D=driver&metadata%5Bcity%5D=Oslo").await;
    assert_eq!(ids(&both.json), [driver.as_str()], "two keys, both must match; brackets may be encoded");
    assert!(ids(&t.get(&app, "/v2/users?metadata[role]=pilot").await.json).is_empty());
    // Created after the first user: the second only.
    let first_at = t.get(&app, &format!("/v2/users/{driver}")).await.json["created_at"].as_str().unwrap().to_string();
    let later = t.get(&app, &format!("/v2/users?created_after={}", first_at.replace(':', "%3A"))).await;
    assert_eq!(ids(&later.json), [rider.as_str()], "{}", later.json);
    let earlier = t.get(&app, &format!("/v2/users?created_before={}", first_at.replace(':', "%3A"))).await;
    assert!(ids(&earlier.json).is_empty());

    let sent = t
        .post(&app, "/v2/transfers", json!({"type": "balance", "user_id": driver, "amount": 500, "currency": "USD", "metadata": {"order": "A-1"}}))
        .await;
    assert_eq!(sent.json["metadata"], json!({"order": "A-1"}), "{}", sent.json);
    t.transfer(&app, "balance", &rider, 300).await;
    let orders = t.get(&app, "/v2/transfers?metadata[order]=A-1").await;
    assert_eq!(ids(&orders.json), [sent.id()], "{}", orders.json);
    let refills = t.get(&app, "/v2/transfers?metadata[source]=wire-7&type=refill").await;
    assert_eq!(ids(&refills.json), [refill.id()]);

    let link = t
        .post(&app, "/v2/payout-links", json!({"amount": 100, "currency": "USD", "phone_number": "+12015550133", "metadata": {"campaign": "spring"}}))
        .await;
    assert_eq!(link.json["metadata"], json!({"campaign": "spring"}), "{}", link.json);
    t.post(&app, "/v2/payout-links", json!({"amount": 100, "currency": "USD", "phone_number": "+12015550134"})).await;
    let spring = t.get(&app, "/v2/payout-links?metadata[campaign]=spring").await;
    assert_eq!(ids(&spring.json), [link.id()]);
    assert_eq!(t.get(&app, "/v2/payout-links").await.json["data"].as_array().unwrap().len(), 2);

    let flow = t.post(&app, "/v2/flows", json!({"steps": ["verify_phone"], "metadata": {"ticket": "9"}})).await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.json);
    assert_eq!(t.get(&app, &format!("/v2/flows/{}", flow.id())).await.json["metadata"], json!({"ticket": "9"}));

    // Another app filtering on the same notes sees none of these.
    let other = t.create_app("Other").await;
    assert!(ids(&t.get(&other, "/v2/users?metadata[role]=driver").await.json).is_empty());
}

async fn users_notes_change_key_by_key(t: TestApp) {
    let app = t.create_app("Acme").await;
    let user = user_with(&t, &app, "+12015550141", json!({"a": "1", "b": "2"})).await;
    let patch = |body: Value| {
        let (t, app, user) = (t.clone(), app.clone(), user.clone());
        async move {
            t.call(
                Method::PATCH,
                &format!("/v2/users/{user}"),
                Some(&common::basic(&app)),
                &[],
                Some(&body.to_string()),
            )
            .await
        }
    };
    let changed = patch(json!({"metadata": {"b": null, "c": "3"}})).await;
    assert_eq!(
        (changed.status, &changed.json["metadata"]),
        (StatusCode::OK, &json!({"a": "1", "c": "3"})),
        "{}",
        changed.json
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'user.updated'").await, 1);
    // The same notes again change nothing and announce nothing.
    assert_eq!(patch(json!({"metadata": {"a": "1"}})).await.status, StatusCode::OK);
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'user.updated'").await, 1);
    // Twenty keys at most, counting those kept.
    let many: serde_json::Map<String, Value> = (0..19).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = patch(json!({ "metadata": many })).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_metadata"), "{}", r.json);
    assert_eq!(t.get(&app, &format!("/v2/users/{user}")).await.json["metadata"], json!({"a": "1", "c": "3"}));
}

async fn bad_notes_and_bad_filters_are_refused_and_change_nothing(t: TestApp) {
    let app = t.create_app("Acme").await;
    t.refill(&app, 1_000).await;
    let user = t.create_payee(&app).await;
    let before = t.snapshot().await;
    let bad_notes = [json!("text"), json!({"n": 5}), json!({"has space": "x"}), json!({"k": "x".repeat(501)})];
    for notes in &bad_notes {
        for (path, mut body) in [
            ("/v2/users", common::user_body("+12015550151")),
            ("/v2/transfers", json!({"type": "balance", "user_id": user, "amount": 1, "currency": "USD"})),
            ("/v2/payouts", json!({"user_id": user, "amount": 1, "currency": "USD"})),
            ("/v2/refills", json!({"amount": 1, "currency": "USD"})),
            ("/v2/payout-links", json!({"amount": 1, "currency": "USD", "phone_number": "+12015550152"})),
            ("/v2/flows", json!({"steps": ["verify_phone"]})),
        ] {
            body["metadata"] = notes.clone();
            let r = t.post(&app, path, body).await;
            assert_eq!(
                (r.status, r.code(), r.param()),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_metadata", "metadata"),
                "{path} {notes}: {}",
                r.json
            );
        }
    }
    assert_eq!(t.snapshot().await, before);
    assert_eq!(t.count("SELECT COUNT(*) FROM payout_links").await + t.count("SELECT COUNT(*) FROM flows").await, 0);
    for query in [
        "/v2/users?metadata[bad key]=x",
        "/v2/users?metadata[]=x",
        "/v2/users?created_after=yesterday",
        "/v2/transfers?created_before=2026-13-01T00:00:00Z",
        "/v2/users?metadata[a]=1&metadata[a]=2",
    ] {
        let r = t.get(&app, &query.replace(' ', "%20")).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{query}: {}", r.json);
    }
    let r = t.get(&app, "/v2/transactions?metadata[a]=1").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "unknown_parameter"),
        "transactions carry no notes: {}",
        r.json
    );
}
