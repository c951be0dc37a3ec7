//! Payout links the server sends (issue 16, part 4): by SMS through the SMS sender,
//! by email through a real SMTP conversation with a server the test starts, branded
//! with the app; retried, then given up; resends rate-limited and only for active
//! links; on SQLite and PostgreSQL, with the ledger check after each.

mod common;

use axum::http::{Method, StatusCode};
use common::{Creds, Resp, SmtpServer, TestApp};
use serde_json::{Value, json};

on_both_databases!(
    an_sms_link_reaches_the_payees_phone_once,
    bad_delivery_requests_are_refused_and_change_nothing,
    resends_are_rate_limited_and_only_for_active_links,
    concurrent_senders_send_a_link_once,
);

const PHONE: &str = "+12015550123";

async fn link(t: &TestApp, app: &Creds, body: Value) -> Resp {
    let mut full = json!({"amount": 2_500, "currency": "USD", "memo": "June invoice"});
    full.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    t.post(app, "/v2/payout-links", full).await
}

async fn link_now(t: &TestApp, app: &Creds, id: &str) -> Value {
    t.get(app, &format!("/v2/payout-links/{id}")).await.json
}

/// Runs the delivery worker until nothing is due (the request's own send may have
/// done the work already).
async fn deliver(t: &TestApp) {
    for _ in 0..20 {
        let taken =
            dots_server::link_delivery::deliver_due(&t.store, &t.state.writer, &t.state.services).await.unwrap();
        if taken == 0 {
            return;
        }
    }
}

/// Waits for link `id`'s delivery to leave `pending`.
async fn settled(t: &TestApp, app: &Creds, id: &str) -> Value {
    for _ in 0..200 {
        deliver(t).await;
        let now = link_now(t, app, id).await;
        if now["delivery"]["status"] != "pending" {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the link's delivery stayed pending: {}", link_now(t, app, id).await);
}

async fn sms_to(t: &TestApp, app: &Creds, phone: &str) -> Vec<String> {
    let outbox = t.get(app, &format!("/v2/dev/sms?phone_number={}", phone.replace('+', "%2B"))).await;
    outbox.json["data"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_string()).collect()
}

async fn an_sms_link_reaches_the_payees_phone_once(t: TestApp) {
    let app = t.create_app("Acme").await;
    let created = link(&t, &app, json!({"phone_number": PHONE, "delivery": {"method": "sms"}})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(created.json["delivery"]["method"], "sms");
    let url = created.json["url"].as_str().unwrap().to_string();
    let now = settled(&t, &app, &created.id()).await;
    assert_eq!((&now["delivery"]["status"], &now["delivery"]["attempts"]), (&json!("sent"), &json!(1)), "{now}");
    assert!(now["delivery"]["delivered_at"].is_string());
    let sent = sms_to(&t, &app, PHONE).await;
    assert_eq!(sent, [format!("Acme sent you $25.00 (June invoice). Claim it: {url}")]);
    let delivered = t.count("SELECT COUNT(*) FROM events WHERE type = 'payout_link.delivered'").await;
    assert_eq!(delivered, 1);
    let leaked = t.count("SELECT COUNT(*) FROM events WHERE data LIKE '%plt_%'").await;
    assert_eq!(leaked, 0, "no event carries the link's bearer token");
    // A retried creation sends nothing more.
    deliver(&t).await;
    assert_eq!(sms_to(&t, &app, PHONE).await.len(), 1);
    // A link the app delivers itself is not sent.
    let own = link(&t, &app, json!({"phone_number": "+12015550124"})).await;
    assert_eq!((&own.json["delivery"]["method"], &own.json["delivery"]["status"]), (&json!("none"), &Value::Null));
    deliver(&t).await;
    assert!(sms_to(&t, &app, "+12015550124").await.is_empty());
}

async fn bad_delivery_requests_are_refused_and_change_nothing(t: TestApp) {
    let app = t.create_app("Acme").await;
    let before = t.snapshot().await;
    for (delivery, status, code) in [
        (json!({"method": "pigeon"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery"),
        (json!({"method": "email"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery"),
        (json!({"method": "sms", "to": "+15555550100"}), StatusCode::BAD_REQUEST, ""),
        (json!("sms"), StatusCode::BAD_REQUEST, ""),
    ] {
        let r = link(&t, &app, json!({"phone_number": PHONE, "delivery": delivery})).await;
        assert_eq!(r.status, status, "{delivery}: {}", r.json);
        if !code.is_empty() {
            assert_eq!((r.code(), r.param()), (code, "delivery.method"), "{delivery}");
        }
    }
    let r = link(&t, &app, json!({"email": "payee@example.com", "delivery": {"method": "sms"}})).await;
    assert_eq!(r.code(), "invalid_delivery", "an emailed-only link cannot go by SMS: {}", r.json);
    assert_eq!(t.snapshot().await, before);
    assert_eq!(t.count("SELECT COUNT(*) FROM payout_links").await, 0);
}

async fn resends_are_rate_limited_and_only_for_active_links(t: TestApp) {
    let app = t.create_app("Acme").await;
    let created =
        link(&t, &app, json!({"phone_number": PHONE, "email": "payee@example.com", "delivery": {"method": "sms"}}))
            .await;
    let id = created.id();
    settled(&t, &app, &id).await;
    let send = |body: Value| {
        let (t, app, id) = (t.clone(), app.clone(), id.clone());
        async move { t.post(&app, &format!("/v2/payout-links/{id}/send"), body).await }
    };
    // The link's own method again, then by email.
    let again = send(json!({})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.json);
    assert_eq!(
        (&again.json["delivery"]["status"], &again.json["delivery"]["attempts"]),
        (&json!("pending"), &json!(0))
    );
    settled(&t, &app, &id).await;
    let by_email = send(json!({"method": "email"})).await;
    assert_eq!(by_email.status, StatusCode::ACCEPTED, "{}", by_email.json);
    let now = settled(&t, &app, &id).await;
    assert_eq!((&now["delivery"]["method"], &now["delivery"]["status"]), (&json!("email"), &json!("sent")));
    let emails = t.get(&app, "/v2/dev/emails?to=payee%40example.com").await;
    assert_eq!(emails.json["data"][0]["subject"], "Acme sent you $25.00", "{}", emails.json);
    assert_eq!(sms_to(&t, &app, PHONE).await.len(), 2);
    // Three sends an hour: the fourth is refused and changes nothing.
    let before = link_now(&t, &app, &id).await;
    let r = send(json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", r.json);
    assert_eq!(link_now(&t, &app, &id).await, before);

    // Bad resends.
    let r = send(json!({"method": "fax"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery"));
    let plain = link(&t, &app, json!({"phone_number": "+12015550125"})).await.id();
    let r = t.post(&app, &format!("/v2/payout-links/{plain}/send"), json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery"), "no method to resend by");
    let r = t.post(&app, &format!("/v2/payout-links/{plain}/send"), json!({"method": "email"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery"), "no email to send to");
    assert_eq!(t.post(&app, &format!("/v2/payout-links/{plain}/cancel"), json!({})).await.status, StatusCode::OK);
    let r = t.post(&app, &format!("/v2/payout-links/{plain}/send"), json!({"method": "sms"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "payout_link_not_active"), "{}", r.json);
    let other = t.create_app("Other").await;
    let r = t.post(&other, &format!("/v2/payout-links/{id}/send"), json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "payout_link_not_found"));
}

async fn concurrent_senders_send_a_link_once(t: TestApp) {
    let app = t.create_app("Acme").await;
    let created = link(&t, &app, json!({"phone_number": PHONE, "delivery": {"method": "sms"}})).await;
    let id = created.id();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (t, id) = (t.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            dots_server::link_delivery::deliver_one(&t.store, &t.state.writer, &t.state.services, &id).await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    settled(&t, &app, &id).await;
    assert_eq!(sms_to(&t, &app, PHONE).await.len(), 1, "one send, whoever held the lease");
    assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'payout_link.delivered'").await, 1);
}

// ---- SMTP: a real conversation with a server this test starts ----------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_emailed_link_reaches_an_smtp_server_branded_and_opens_the_claim_page() {
    let smtp = SmtpServer::start().await;
    let addr = smtp.addr;
    let sms = common::fake_sms_provider().0.clone();
    common::run_with(
        dots_server::store::Backend::Sqlite,
        move |s| {
            common::live_ready(s, &sms, &format!("smtp://{addr}"));
            s.smtp.as_mut().unwrap().from = Some("Dots Payouts <payouts@dots.test>".into());
        },
        move |t| async move {
            // A test app's emails stay in the dev outbox, SMTP or not; a live app's go by SMTP.
            let test = t.create_app("Acme Test").await;
            let sent = link(&t, &test, json!({"email": "bob@example.com", "delivery": {"method": "email"}})).await;
            assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
            assert_eq!(settled(&t, &test, &sent.id()).await["delivery"]["status"], "sent");
            let outbox = t.get(&test, "/v2/dev/emails").await;
            assert_eq!(outbox.json["data"][0]["to"], "bob@example.com", "{}", outbox.json);
            let app = t.create_live_app("Acme").await;
            let brand = json!({"brand": {"name": "Acme Payroll", "primary_color": "#0b7a3b"}});
            assert_eq!(t.put(&app, "/v2/apps/me/settings", brand).await.status, StatusCode::OK);
            let created = link(&t, &app, json!({"email": "ada@example.com", "delivery": {"method": "email"}})).await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
            let url = created.json["url"].as_str().unwrap().to_string();
            let received = smtp.wait_for(1).await;
            assert_eq!(received.len(), 1, "the test app's email never reached SMTP");
            let mail = &received[0];
            assert_eq!(
                (mail.from.as_str(), mail.to.as_slice()),
                ("payouts@dots.test", ["ada@example.com".to_string()].as_slice())
            );
            assert_eq!(common::header_of(&mail.data, "Subject").as_deref(), Some("Acme Payroll sent you $25.00"));
            assert!(common::header_of(&mail.data, "Content-Type").unwrap().starts_with("multipart/alternative"));
            let text = common::mime_part(&mail.data, "text/plain").expect("a plain-text part");
            assert!(text.starts_with("Acme Payroll sent you $25.00.") && text.contains("June invoice"), "{text}");
            assert!(text.contains(&format!("\n{url}\n")), "{text}");
            let html = common::mime_part(&mail.data, "text/html").expect("an HTML part");
            assert!(html.contains(&format!("href=\"{url}\"")) && html.contains("background:#0b7a3b"), "{html}");
            assert!(html.contains("Claim $25.00"), "{html}");
            let now = settled(&t, &app, &created.id()).await;
            assert_eq!(now["delivery"]["status"], "sent");
            // The emailed link opens the app's claim page.
            let path = url.split_once("://").unwrap().1.split_once('/').unwrap().1;
            let page = t.call(Method::GET, &format!("/{path}"), None, &[], None).await;
            assert_eq!(page.status, StatusCode::OK);
            let page = String::from_utf8(page.bytes).unwrap();
            assert!(page.contains("<title>Get paid by Acme Payroll</title>"), "{page}");
            // A live app has no dev email outbox.
            assert_eq!(t.get(&app, "/v2/dev/emails").await.status, StatusCode::NOT_FOUND);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_relay_is_retried_then_given_up_and_a_resend_starts_again() {
    // A port nothing listens on: every send fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sms = common::fake_sms_provider().0.clone();
    common::run_with(
        dots_server::store::Backend::Sqlite,
        move |s| common::live_ready(s, &sms, &format!("smtp://{closed}")),
        move |t| async move {
            let app = t.create_live_app("Acme").await;
            let created = link(&t, &app, json!({"email": "ada@example.com", "delivery": {"method": "email"}})).await;
            let id = created.id();
            let mut attempts = Vec::new();
            for n in 1..=5 {
                // The request's own send, then the worker's retries, each once due.
                let mut now = link_now(&t, &app, &id).await;
                for _ in 0..200 {
                    if now["delivery"]["attempts"] == n {
                        break;
                    }
                    deliver(&t).await;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    now = link_now(&t, &app, &id).await;
                }
                attempts.push((
                    now["delivery"]["status"].as_str().unwrap().to_string(),
                    now["delivery"]["attempts"].as_i64().unwrap(),
                ));
                // Time passes: the next try is due.
                let mut tx = t.store.begin_write().await.unwrap();
                sqlx::query("UPDATE payout_links SET delivery_due_at = 0").execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            }
            let pending = |n| ("pending".to_string(), n);
            assert_eq!(attempts, [pending(1), pending(2), pending(3), pending(4), ("failed".to_string(), 5)]);
            assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'payout_link.delivery_failed'").await, 1);
            assert_eq!(t.count("SELECT COUNT(*) FROM events WHERE type = 'payout_link.delivered'").await, 0);
            let again = t.post(&app, &format!("/v2/payout-links/{id}/send"), json!({})).await;
            assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.json);
            assert_eq!(
                (&again.json["delivery"]["status"], &again.json["delivery"]["attempts"]),
                (&json!("pending"), &json!(0))
            );
        },
    )
    .await;
}
