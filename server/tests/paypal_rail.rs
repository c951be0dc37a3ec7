//! PayPal and Venmo payouts through the PayPal Payouts API (issue 19, part 3),
//! against a local stand-in for PayPal written here from PayPal's documented
//! shapes: OAuth2 client credentials (`POST /v1/oauth2/token`), `POST
//! /v1/payments/payouts` (a `sender_batch_header` and items with `sender_item_id`,
//! `recipient_wallet`, `amount {value, currency}`; `PayPal-Request-Id` replays the
//! first answer; a `sender_batch_id` used before is refused with a link to the
//! original batch), and `GET /v1/payments/payouts/{id}` (items with
//! `transaction_status`). It counts payments per `sender_item_id`: whatever goes
//! wrong — 5xx bursts before and after PayPal recorded the batch, an answer later
//! than our timeout, `kill -9` of the server between the submission and the answer
//! — every payout is paid exactly once.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use common::{Creds, TestApp};
use serde_json::{Value, json};

const CLIENT_ID: &str = "AYSq3RDGsmBLJE-otTkBtM-jBRd1TCQwFf9RGfwddNXWz0uFU9ztymylOhRS";
const SECRET: &str = "EGnHDxD_qRPdaLdZz8iCr8N7_MzF-YHPTkjs6NKYQvQSBngp4PTTVWkPZRbL";

/// One payout item as the stand-in keeps it.
#[derive(Clone, Debug)]
struct Item {
    payout_item_id: String,
    sender_item_id: String,
    receiver: String,
    wallet: String,
    amount: Value,
    status: String,
}

#[derive(Default)]
struct Book {
    tokens: Vec<String>,
    /// payout_batch_id → (sender_batch_id, items)
    batches: HashMap<String, (String, Vec<Item>)>,
    by_sender_batch: HashMap<String, String>,
    /// PayPal-Request-Id → the first 201's body.
    replays: HashMap<String, Value>,
    /// Payments made per sender_item_id: must never pass 1.
    paid: HashMap<String, u32>,
    /// The next create calls answered 500 before anything is recorded.
    fail_before: u32,
    /// The next create calls recorded, then answered 500.
    fail_after: u32,
    /// Every create call is recorded, then answered after this long.
    hold_ms: u64,
    /// Whether PayPal-Request-Id replays the first answer (else a retry meets the duplicate refusal).
    replay_request_ids: bool,
    creates: u32,
}

#[derive(Clone)]
struct FakePaypal {
    base: String,
    book: Arc<Mutex<Book>>,
}

impl FakePaypal {
    async fn start() -> FakePaypal {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake =
            FakePaypal { base, book: Arc::new(Mutex::new(Book { replay_request_ids: true, ..Book::default() })) };
        let app = Router::new()
            .route("/v1/oauth2/token", post(token))
            .route("/v1/payments/payouts", post(create))
            .route("/v1/payments/payouts/{id}", get(read))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    fn with<T>(&self, f: impl FnOnce(&mut Book) -> T) -> T {
        f(&mut self.book.lock().unwrap())
    }

    /// Sets the status of the item paying `transfer`.
    fn set_status(&self, transfer: &str, status: &str) {
        self.with(|b| {
            for (_, items) in b.batches.values_mut() {
                for item in items.iter_mut().filter(|i| i.sender_item_id == transfer) {
                    item.status = status.to_string();
                }
            }
        });
    }

    fn paid(&self) -> HashMap<String, u32> {
        self.with(|b| b.paid.clone())
    }

    fn item(&self, transfer: &str) -> Item {
        self.with(|b| {
            b.batches.values().flat_map(|(_, items)| items.iter()).find(|i| i.sender_item_id == transfer).cloned()
        })
        .expect("PayPal has the item")
    }

    fn settings(&self, timeout_ms: u64) -> dots_server::config::PaypalSettings {
        dots_server::config::PaypalSettings {
            base_url: self.base.clone(),
            client_id: CLIENT_ID.into(),
            secret: SECRET.into(),
            poll_ms: 20,
            timeout_ms,
        }
    }
}

fn paypal_error(status: StatusCode, name: &str, extra: Value) -> (StatusCode, axum::Json<Value>) {
    let mut body = json!({"name": name, "message": name.replace('_', " ").to_lowercase(), "debug_id": "f4a3b2c1d0e9f",
        "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    (status, axum::Json(body))
}

fn bearer_ok(fake: &FakePaypal, headers: &HeaderMap) -> bool {
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    fake.with(|b| b.tokens.iter().any(|t| given == format!("Bearer {t}")))
}

async fn token(State(fake): State<FakePaypal>, headers: HeaderMap, body: String) -> (StatusCode, axum::Json<Value>) {
    use base64::Engine;
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}")));
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    if !basic || body != "grant_type=client_credentials" {
        let refused = json!({"error": "invalid_client", "error_description": "Client Authentication failed"});
        return (StatusCode::UNAUTHORIZED, axum::Json(refused));
    }
    let token = format!("A21AA{}", dots_server::store::random_base62(40));
    fake.with(|b| b.tokens.push(token.clone()));
    (
        StatusCode::OK,
        axum::Json(json!({"scope": "https://uri.paypal.com/services/payments/payouts", "access_token": token,
            "token_type": "Bearer", "app_id": "APP-80W284485P519543T", "expires_in": 32400, "nonce": "2026-12-05T00:00:00Z"})),
    )
}

async fn create(State(fake): State<FakePaypal>, headers: HeaderMap, body: String) -> (StatusCode, axum::Json<Value>) {
    if !bearer_ok(&fake, &headers) {
        return paypal_error(StatusCode::UNAUTHORIZED, "AUTHENTICATION_FAILURE", json!({}));
    }
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let request_id = headers.get("paypal-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let sender_batch_id = request["sender_batch_header"]["sender_batch_id"].as_str().unwrap_or("").to_string();
    let link = |id: &str| json!([{"href": format!("{}/v1/payments/payouts/{id}", fake.base), "rel": "self", "method": "GET", "encType": "application/json"}]);
    let (answer, hold) = {
        let mut book = fake.book.lock().unwrap();
        book.creates += 1;
        if book.fail_before > 0 {
            book.fail_before -= 1;
            return paypal_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVICE_ERROR", json!({}));
        }
        if let Some(first) = request_id.as_ref().filter(|_| book.replay_request_ids).and_then(|id| book.replays.get(id))
        {
            return (StatusCode::CREATED, axum::Json(first.clone()));
        }
        if let Some(original) = book.by_sender_batch.get(&sender_batch_id) {
            let details = json!({"details": [{"field": "SENDER_BATCH_ID", "location": "body",
                "issue": "Batch with given sender_batch_id already exists"}], "links": link(original)});
            return paypal_error(StatusCode::BAD_REQUEST, "USER_BUSINESS_ERROR", details);
        }
        let item = &request["items"][0];
        let receiver = item["receiver"].as_str().unwrap_or("").to_string();
        if receiver.starts_with("invalid") {
            let details = json!({"details": [{"field": "items[0].receiver", "location": "body", "issue": "Receiver is invalid or does not match with type"}]});
            return paypal_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", details);
        }
        let batch_id = dots_server::store::random_base62(13).to_uppercase();
        let sender_item_id = item["sender_item_id"].as_str().unwrap_or("").to_string();
        let status = if receiver.starts_with("unclaimed") {
            "UNCLAIMED"
        } else if receiver.starts_with("blocked") {
            "BLOCKED"
        } else {
            "PENDING"
        };
        book.batches.insert(
            batch_id.clone(),
            (
                sender_batch_id.clone(),
                vec![Item {
                    payout_item_id: dots_server::store::random_base62(13).to_uppercase(),
                    sender_item_id: sender_item_id.clone(),
                    receiver,
                    wallet: item["recipient_wallet"].as_str().unwrap_or("PAYPAL").to_string(),
                    amount: item["amount"].clone(),
                    status: status.into(),
                }],
            ),
        );
        book.by_sender_batch.insert(sender_batch_id.clone(), batch_id.clone());
        *book.paid.entry(sender_item_id).or_default() += 1;
        let answer = json!({"batch_header": {"sender_batch_header": request["sender_batch_header"].clone(),
            "payout_batch_id": batch_id, "batch_status": "PENDING"}, "links": link(&batch_id)});
        if let Some(id) = request_id {
            book.replays.insert(id, answer.clone());
        }
        if book.fail_after > 0 {
            book.fail_after -= 1;
            return paypal_error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", json!({}));
        }
        (answer, book.hold_ms)
    };
    tokio::time::sleep(Duration::from_millis(hold)).await;
    (StatusCode::CREATED, axum::Json(answer))
}

async fn read(
    State(fake): State<FakePaypal>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> (StatusCode, axum::Json<Value>) {
    if !bearer_ok(&fake, &headers) {
        return paypal_error(StatusCode::UNAUTHORIZED, "AUTHENTICATION_FAILURE", json!({}));
    }
    let Some((sender_batch_id, items)) = fake.with(|b| b.batches.get(&id).cloned()) else {
        return paypal_error(StatusCode::NOT_FOUND, "INVALID_RESOURCE_ID", json!({}));
    };
    let items: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"payout_item_id": i.payout_item_id, "transaction_status": i.status, "payout_batch_id": id,
                "payout_item": {"recipient_type": if i.wallet == "VENMO" { "PHONE" } else { "EMAIL" }, "amount": i.amount,
                    "receiver": i.receiver, "sender_item_id": i.sender_item_id, "recipient_wallet": i.wallet}})
        })
        .collect();
    let done = items.iter().all(|i| i["transaction_status"] != "PENDING");
    let body = json!({"batch_header": {"payout_batch_id": id, "batch_status": if done { "SUCCESS" } else { "PROCESSING" },
        "sender_batch_header": {"sender_batch_id": sender_batch_id}}, "items": items});
    (StatusCode::OK, axum::Json(body))
}

/// Runs the payout worker until `done` holds of the transfers (or fails after 20 s).
async fn work_until(t: &TestApp, app: &Creds, ids: &[&str], done: &[&str]) {
    for _ in 0..400 {
        let _ = dots_server::payouts::work_once(&t.store, &t.state.writer, &t.state.services).await;
        let mut all = true;
        for (id, want) in ids.iter().zip(done) {
            all &= t.get(app, &format!("/v2/transfers/{id}")).await.json["status"] == *want;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in ids {
        eprintln!("{id}: {}", t.get(app, &format!("/v2/transfers/{id}")).await.json["status"]);
    }
    panic!("the payouts did not reach {done:?}");
}

/// Runs the payout worker until PayPal's answer for each transfer is recorded
/// (its batch id), however many tries that takes.
async fn work_until_submitted(t: &TestApp, ids: &[&str]) {
    for _ in 0..400 {
        let _ = dots_server::payouts::work_once(&t.store, &t.state.writer, &t.state.services).await;
        let mut all = true;
        for id in ids {
            let rail_ref: Option<String> = sqlx::query_scalar("SELECT rail_ref FROM transfers WHERE id = $1")
                .bind(id)
                .fetch_one(t.store.reader())
                .await
                .unwrap();
            all &= rail_ref.is_some();
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("PayPal's answers for {ids:?} were never recorded");
}

async fn paypal_payee(t: &TestApp, app: &Creds, method: Value) -> String {
    let user = t.create_user(app).await;
    t.verify_user(app, &user).await;
    let r = t.post(app, &format!("/v2/users/{user}/payout-methods"), method).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let funded = t
        .post(app, "/v2/transfers", json!({"type": "balance", "user_id": user, "amount": 50_000, "currency": "USD"}))
        .await;
    assert_eq!(funded.status, StatusCode::CREATED, "{}", funded.json);
    user
}

async fn pay(t: &TestApp, app: &Creds, user: &str, amount: i64) -> String {
    let body = json!({"type": "payout", "user_id": user, "amount": amount, "currency": "USD"});
    let r = t.post(app, "/v2/transfers", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.id()
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn paypal_and_venmo_payouts_are_paid_exactly_once() {
        super::scenario(dots_server::store::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn paypal_and_venmo_payouts_are_paid_exactly_once() {
        super::scenario(dots_server::store::Backend::Postgres).await;
    }
}

async fn scenario(backend: dots_server::store::Backend) {
    let fake = FakePaypal::start().await;
    let sms = common::fake_sms_provider().0.clone();
    let settings = fake.settings(400);
    let scenario_fake = fake.clone();
    common::run_with(
        backend,
        move |s| {
            common::live_ready(s, &sms, "smtp://127.0.0.1:9");
            s.paypal = Some(settings);
        },
        move |t| paid_once(t, scenario_fake),
    )
    .await;
}

async fn paid_once(t: TestApp, fake: FakePaypal) {
    let app = t.create_live_app_paying("Acme", &["bank", "paypal", "venmo"]).await;
    t.fund_live_app(&app, 1_000_000).await;
    let ada = paypal_payee(&t, &app, json!({"type": "paypal", "email": "ada@example.com"})).await;
    let bob = paypal_payee(&t, &app, json!({"type": "venmo", "phone_number": "+12015550123"})).await;

    // Plain: PayPal and Venmo, each its own batch, amounts as decimal strings.
    let to_ada = pay(&t, &app, &ada, 1_234).await;
    let to_bob = pay(&t, &app, &bob, 500).await;
    work_until_submitted(&t, &[&to_ada, &to_bob]).await;
    let item = fake.item(&to_ada);
    assert_eq!((item.receiver.as_str(), item.wallet.as_str()), ("ada@example.com", "PAYPAL"));
    assert_eq!(item.amount, json!({"value": "12.34", "currency": "USD"}));
    let venmo = fake.item(&to_bob);
    assert_eq!((venmo.receiver.as_str(), venmo.wallet.as_str()), ("+12015550123", "VENMO"));
    fake.set_status(&to_ada, "SUCCESS");
    fake.set_status(&to_bob, "SUCCESS");
    work_until(&t, &app, &[&to_ada, &to_bob], &["completed", "completed"]).await;

    // After it succeeded: PayPal's webhook is a nudge, read back from the API. A
    // forged "refunded" changes nothing; a real refund reverses the payout.
    let batch: String = sqlx::query_scalar("SELECT rail_ref FROM transfers WHERE id = $1")
        .bind(&to_bob)
        .fetch_one(t.store.reader())
        .await
        .unwrap();
    let event = json!({"event_type": "PAYMENT.PAYOUTS-ITEM.REFUNDED", "resource": {"payout_batch_id": batch, "transaction_status": "REFUNDED"}});
    let (before, _) = t.user_wallet(&app, &bob).await;
    let body = event.to_string();
    let nudge = || t.call(axum::http::Method::POST, "/rails/paypal/webhook", None, &[], Some(body.as_str()));
    assert_eq!(nudge().await.status, StatusCode::OK);
    assert_eq!(t.get(&app, &format!("/v2/transfers/{to_bob}")).await.json["status"], "completed", "not believed");
    fake.set_status(&to_bob, "REFUNDED");
    assert_eq!(nudge().await.status, StatusCode::OK);
    let refunded = t.get(&app, &format!("/v2/transfers/{to_bob}")).await.json;
    assert_eq!(refunded["status"], "reversed", "{refunded}");
    assert_eq!(refunded["status_history"].as_array().unwrap().last().unwrap()["reason"], "paypal_refunded");
    assert_eq!(t.user_wallet(&app, &bob).await.0, before + 500);
    assert_eq!(nudge().await.status, StatusCode::OK, "again: nothing more to do");

    // A burst of 5xx before PayPal recorded anything, then one after it did, then an
    // answer slower than our timeout: each retried with the same sender_batch_id.
    fake.with(|b| b.fail_before = 3);
    let burst = pay(&t, &app, &ada, 700).await;
    work_until_submitted(&t, &[&burst]).await;
    fake.with(|b| b.fail_after = 1);
    let after = pay(&t, &app, &ada, 800).await;
    work_until_submitted(&t, &[&after]).await;
    fake.with(|b| b.hold_ms = 1_000);
    let slow = pay(&t, &app, &bob, 900).await;
    for _ in 0..3 {
        let _ = dots_server::payouts::work_once(&t.store, &t.state.writer, &t.state.services).await;
    }
    fake.with(|b| b.hold_ms = 0);
    work_until_submitted(&t, &[&slow]).await;
    // The same, with PayPal refusing the retried batch as a duplicate instead of replaying.
    fake.with(|b| {
        b.replay_request_ids = false;
        b.fail_after = 1;
    });
    let duplicate = pay(&t, &app, &bob, 1_000).await;
    work_until_submitted(&t, &[&duplicate]).await;
    for id in [&burst, &after, &slow, &duplicate] {
        fake.set_status(id, "SUCCESS");
    }
    work_until(&t, &app, &[&burst, &after, &slow, &duplicate], &["completed"; 4]).await;

    // PayPal's statuses: unclaimed waits, then returned fails it; blocked fails it; an
    // invalid receiver is refused outright. The money comes back each time.
    let (before, _) = t.user_wallet(&app, &ada).await;
    let unclaimed = paypal_payee(&t, &app, json!({"type": "paypal", "email": "unclaimed@example.com"})).await;
    let blocked = paypal_payee(&t, &app, json!({"type": "paypal", "email": "blocked@example.com"})).await;
    let invalid = paypal_payee(&t, &app, json!({"type": "paypal", "email": "invalid@example.com"})).await;
    let waits = pay(&t, &app, &unclaimed, 2_000).await;
    let stops = pay(&t, &app, &blocked, 2_000).await;
    let refused = pay(&t, &app, &invalid, 2_000).await;
    work_until(&t, &app, &[&stops, &refused], &["failed", "failed"]).await;
    work_until_submitted(&t, &[&waits]).await;
    for _ in 0..5 {
        let _ = dots_server::payouts::work_once(&t.store, &t.state.writer, &t.state.services).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(t.get(&app, &format!("/v2/transfers/{waits}")).await.json["status"], "pending", "unclaimed: it waits");
    fake.set_status(&waits, "RETURNED");
    work_until(&t, &app, &[&waits], &["failed"]).await;
    for (id, user, reason) in [
        (&waits, &unclaimed, "paypal_returned"),
        (&stops, &blocked, "paypal_blocked"),
        (&refused, &invalid, "paypal_validation_error"),
    ] {
        let failed = t.get(&app, &format!("/v2/transfers/{id}")).await.json;
        assert_eq!(failed["status_history"].as_array().unwrap().last().unwrap()["reason"], reason, "{failed}");
        assert_eq!(t.user_wallet(&app, user).await.0, 50_000, "the money is back");
    }
    assert_eq!(t.user_wallet(&app, &ada).await.0, before);

    // Exactly once each, whatever happened on the way.
    let paid = fake.paid();
    for id in [&to_ada, &to_bob, &burst, &after, &slow, &duplicate, &waits, &stops] {
        assert_eq!(paid.get(id.as_str()), Some(&1), "{id}: {paid:?}");
    }
    assert!(!paid.contains_key(refused.as_str()));
    assert!(fake.with(|b| b.creates) > paid.len() as u32, "the retries happened");
}

/// A child server that is killed (SIGKILL) when the test is done with it, or panics.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `kill -9` of the server between the submission and PayPal's answer: the payouts
/// reached PayPal, no answer was recorded; the restarted server pays none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_while_paypal_answers_pays_each_payout_once() {
    let fake = FakePaypal::start().await;
    let sms = common::fake_sms_provider().0.clone();
    let (database_url, cleanup) = common::fresh_database(dots_server::store::Backend::Sqlite).await;
    let paypal = fake.settings(10_000);
    let t = TestApp::start_with(&database_url, |s| {
        common::live_ready(s, &sms, "smtp://127.0.0.1:9");
        s.paypal = Some(paypal);
    })
    .await;
    let app = t.create_live_app_paying("Acme", &["bank", "paypal"]).await;
    t.fund_live_app(&app, 1_000_000).await;
    let mut payouts = Vec::new();
    for n in 0..3 {
        let user = paypal_payee(&t, &app, json!({"type": "paypal", "email": format!("payee{n}@example.com")})).await;
        payouts.push(pay(&t, &app, &user, 1_000 + n).await);
    }
    // PayPal records each batch, then holds its answer far longer than we wait.
    fake.with(|b| b.hold_ms = 60_000);
    let serve = |fake: &FakePaypal| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dots"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &database_url)
            .env("DOTS_LOG", "warn")
            .envs(common::LIVE_ENV)
            .envs([
                ("DOTS_WORKER_INTERVAL_MS", "20"),
                ("DOTS_WORKER_LEASE_MS", "1000"),
                ("DOTS_PAYPAL_CLIENT_ID", CLIENT_ID),
                ("DOTS_PAYPAL_SECRET", SECRET),
                ("DOTS_PAYPAL_BASE_URL", fake.base.as_str()),
                ("DOTS_PAYPAL_POLL_MS", "20"),
                ("DOTS_PAYPAL_TIMEOUT_MS", "30000"),
            ])
            .spawn()
            .expect("dots serve")
    };
    let mut server = Killed(serve(&fake));
    // The worker hands payouts over one at a time: the first reaches PayPal and waits.
    for _ in 0..400 {
        if !fake.paid().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(fake.paid().len(), 1, "a payout reached PayPal before the kill");
    let in_flight = fake.paid().into_keys().next().unwrap();
    server.0.kill().expect("kill -9");
    server.0.wait().unwrap();
    for id in &payouts {
        let answer: Option<String> = sqlx::query_scalar("SELECT rail_ref FROM transfers WHERE id = $1")
            .bind(id)
            .fetch_one(t.store.reader())
            .await
            .unwrap();
        assert_eq!(answer, None, "no answer was recorded before the kill");
    }
    // Started again, with PayPal answering at once: the same batches, read back.
    fake.with(|b| b.hold_ms = 0);
    let server = Killed(serve(&fake));
    for id in &payouts {
        for _ in 0..400 {
            let rail_ref: Option<String> = sqlx::query_scalar("SELECT rail_ref FROM transfers WHERE id = $1")
                .bind(id)
                .fetch_one(t.store.reader())
                .await
                .unwrap();
            if rail_ref.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        fake.set_status(id, "SUCCESS");
    }
    for _ in 0..400 {
        let completed = t.count("SELECT COUNT(*) FROM transfers WHERE kind = 'payout' AND status = 'completed'").await;
        if completed == payouts.len() as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(server);
    assert_eq!(t.count("SELECT COUNT(*) FROM transfers WHERE kind = 'payout' AND status = 'completed'").await, 3);
    let paid = fake.paid();
    for id in &payouts {
        assert_eq!(paid.get(id.as_str()), Some(&1), "{id}: {paid:?}");
    }
    assert!(fake.with(|b| b.creates) > 3, "the payout in flight at the kill was submitted again: {in_flight}");
    let report = dots_server::ledger::check(&t.store).await.unwrap();
    assert!(report.is_ok(), "{:#?}", report.violations);
    t.store.close().await;
    cleanup.run().await;
}
