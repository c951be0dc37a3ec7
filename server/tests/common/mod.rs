//! The test harness: a fresh database per test (a SQLite file, or a new PostgreSQL
//! database), the real router driven in-process, and the ledger check after every
//! scenario — whether it passed or panicked.

#![allow(dead_code)]

use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use dots_server::http::{AppState, router};
use dots_server::store::{Backend, Store, random_base62};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, Row};
use tower::ServiceExt;

pub const OPERATOR_KEY: &str = "test-operator-key-of-at-least-32-bytes";
/// The PostgreSQL tests' encryption key (64 hex characters).
pub const TEST_ENCRYPTION_KEY: &str = "7e57000000000000000000000000000000000000000000000000000000000001";

/// The PostgreSQL server the suite creates its databases on. The PostgreSQL tests
/// fail (never skip) when it cannot be reached.
pub fn postgres_admin_url() -> String {
    std::env::var("DOTS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub store: Store,
    pub database_url: String,
}

/// An app's credentials, as `dots apps create` prints them.
#[derive(Clone, Debug)]
pub struct Creds {
    pub id: String,
    pub client_id: String,
    pub secret: String,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub bytes: Vec<u8>,
    pub json: Value,
}

impl Resp {
    /// The stable error code of an error body.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    pub fn param(&self) -> &str {
        self.json["error"]["param"].as_str().unwrap_or("")
    }

    pub fn id(&self) -> String {
        self.json["id"].as_str().expect("response has an id").to_string()
    }
}

/// Messages the stand-in SMS provider received: (to, body).
pub type SmsReceived = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A Twilio-style SMS provider standing in for a real one, on its own thread (one
/// per test process): it takes every message and keeps it.
pub fn fake_sms_provider() -> &'static (String, SmsReceived) {
    static PROVIDER: std::sync::OnceLock<(String, SmsReceived)> = std::sync::OnceLock::new();
    PROVIDER.get_or_init(|| {
        let received = SmsReceived::default();
        let kept = received.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(format!("http://{}", listener.local_addr().unwrap())).unwrap();
                let take = move |body: String| {
                    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
                    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                    kept.lock().unwrap().push((field("To").unwrap_or_default(), field("Body").unwrap_or_default()));
                    async { (StatusCode::CREATED, r#"{"sid":"SM1"}"#) }
                };
                let app =
                    Router::new().route("/2010-04-01/Accounts/{account}/Messages.json", axum::routing::post(take));
                axum::serve(listener, app).await.unwrap();
            });
        });
        (rx.recv().unwrap(), received)
    })
}

/// A NACHA return file from the bank of `file` (our file's text): the entries
/// with the given trace numbers sent back (a trace it lacks: a made-up entry),
/// each with its reason code, as Entry
/// Detail (credit return code: ours less one) and type-99 addenda — NACHA's
/// return layout, written here, not by the code under test.
pub fn return_file(file: &str, returns: &[(&str, &str)]) -> String {
    let record = |fields: &[&str]| -> String {
        let line: String = fields.concat();
        assert!(line.len() <= 94, "{line}");
        format!("{line:<94}")
    };
    let header = file.lines().next().expect("a file header");
    let mut lines = vec![record(&["101 ", &header[3..13], " 011000015", "2612080900A094101", "DOTS RETURNS"])];
    lines.push(format!(
        "5220{:<16}{:20}1234567890PPD{:<10}{:6}261208   1011000010000001",
        "DOTS RETURNS", "", "RETURN", ""
    ));
    let (mut count, mut hash, mut credit) = (0u64, 0u64, 0i64);
    for (seq, (trace, code)) in returns.iter().enumerate() {
        // A trace the file does not hold is returned as a made-up $1.00 entry.
        let made_up = format!("622011000015{:<17}0000000100", "1");
        let entry = file.lines().find(|l| l.starts_with('6') && &l[79..94] == *trace).unwrap_or(&made_up);
        let (routing, account, amount) = (&entry[3..12], &entry[12..29], &entry[29..39]);
        let return_code: u8 = entry[1..3].parse::<u8>().unwrap() - 1;
        let our_trace = format!("01100001{:07}", seq + 1);
        lines.push(record(&[
            "6",
            &return_code.to_string(),
            routing,
            account,
            amount,
            &format!("{:<15}", "RETURN"),
            &format!("{:<22}", "RETURNED ENTRY"),
            "  1",
            &our_trace,
        ]));
        lines.push(record(&["799", code, trace, "      ", &trace[..8], &" ".repeat(44), &our_trace]));
        count += 2;
        hash += routing[..8].parse::<u64>().unwrap();
        credit += amount.parse::<i64>().unwrap();
    }
    let hash = hash % 10_000_000_000;
    lines.push(record(&[
        &format!("8220{count:06}{hash:010}{:012}{credit:012}1234567890", 0),
        &" ".repeat(25),
        "01100001",
        "0000001",
    ]));
    let blocks = (lines.len() + 1).div_ceil(10);
    lines.push(record(&[&format!("9000001{blocks:06}{count:08}{hash:010}{:012}{credit:012}", 0)]));
    while lines.len() % 10 != 0 {
        lines.push("9".repeat(94));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The ACH rail the tests configure: a real routing number (its check digit holds).
pub const TEST_ODFI: &str = "091000019";

/// Settings with all a live app allowing bank payouts needs: a kept encryption
/// key, an SMS provider at `sms_url`, SMTP at `smtp_url`, and the ACH rail
/// (settled only by the operator).
pub fn live_ready(s: &mut dots_server::config::Settings, sms_url: &str, smtp_url: &str) {
    s.encryption_key = Some(TEST_ENCRYPTION_KEY.into());
    s.sms_http = Some(dots_server::config::SmsHttpSettings {
        base_url: sms_url.into(),
        account: "AC9".into(),
        token: "tok".into(),
        from: "+15005550006".into(),
    });
    s.smtp = Some(dots_server::config::SmtpSettings { url: smtp_url.into(), from: Some("payouts@dots.test".into()) });
    s.ach = Some(dots_server::config::AchSettings {
        odfi_routing: TEST_ODFI.into(),
        odfi_name: "Wells Fargo".into(),
        company_id: "1234567890".into(),
        company_name: "Dots Payouts".into(),
        cutoffs: vec![(15, 0)],
        settle_days: 0,
        dir: None,
    });
}

/// [`live_ready`] as a `dots` process's environment (SMS and SMTP at a port
/// nothing answers on: no live text or email is sent by the tests that use it).
pub const LIVE_ENV: [(&str, &str); 11] = [
    ("DOTS_ENCRYPTION_KEY", TEST_ENCRYPTION_KEY),
    ("DOTS_SMS_PROVIDER", "http"),
    ("DOTS_SMS_BASE_URL", "http://127.0.0.1:9"),
    ("DOTS_SMS_ACCOUNT", "AC1"),
    ("DOTS_SMS_TOKEN", "token"),
    ("DOTS_SMS_FROM", "+15005550006"),
    ("DOTS_SMTP_URL", "smtp://127.0.0.1:9"),
    ("DOTS_ACH_ODFI_ROUTING", TEST_ODFI),
    ("DOTS_ACH_ODFI_NAME", "Wells Fargo"),
    ("DOTS_ACH_COMPANY_ID", "1234567890"),
    ("DOTS_ACH_COMPANY_NAME", "Dots Payouts"),
];

/// Runs `scenario` against a fresh database of `backend`, then the ledger check,
/// then drops the database.
pub async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(backend, |_| {}, scenario).await
}

/// [`run`] with settings of the scenario's own (`adjust`).
pub async fn run_with<F, Fut>(backend: Backend, adjust: impl FnOnce(&mut dots_server::config::Settings), scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (database_url, cleanup) = fresh_database(backend).await;
    let app = TestApp::start_with(&database_url, adjust).await;
    let outcome = tokio::spawn(scenario(app.clone())).await;
    let report = dots_server::ledger::check(&app.store).await.expect("ledger check ran");
    let leaks = stored_secrets(&app.store).await;
    app.store.close().await;
    cleanup.run().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
    assert!(report.is_ok(), "ledger check failed: {:#?}", report.violations);
    assert!(leaks.is_empty(), "bearer tokens or secrets stored in plain text: {leaks:#?}");
}

/// Where `text` holds a token or secret in plain text (`dots_shared::ids`).
pub fn secrets_in(text: &str) -> Vec<String> {
    dots_shared::ids::plain_secrets_in(text).into_iter().map(str::to_string).collect()
}

/// Every text column of every table, searched for plain-text secrets: what a
/// database dump or a reader of `events`, `idempotency_keys` or logs would see.
pub async fn stored_secrets(store: &Store) -> Vec<String> {
    let mut conn = store.reader().acquire().await.unwrap();
    let columns: Vec<(String, String)> = match store.backend() {
        Backend::Sqlite => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            let mut columns = Vec::new();
            for table in tables {
                let rows = sqlx::query(&format!("SELECT name, type FROM pragma_table_info('{table}')"))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
                for row in rows {
                    if row.get::<String, _>(1).eq_ignore_ascii_case("TEXT") {
                        columns.push((table.clone(), row.get::<String, _>(0)));
                    }
                }
            }
            columns
        }
        Backend::Postgres => sqlx::query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb')",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
        .collect(),
    };
    assert!(columns.len() > 20, "the scan sees the schema: {columns:?}");
    let mut leaks = Vec::new();
    for (table, column) in columns {
        let values: Vec<Option<String>> = sqlx::query_scalar(&format!("SELECT CAST({column} AS TEXT) FROM {table}"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        for value in values.into_iter().flatten() {
            leaks.extend(secrets_in(&value).into_iter().map(|s| format!("{table}.{column}: {s}…")));
        }
    }
    leaks
}

/// Declares each scenario once per backend: `mod sqlite { fn x() }` and `mod postgres { fn x() }`.
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    $crate::common::run(dots_server::store::Backend::Sqlite, super::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    $crate::common::run(dots_server::store::Backend::Postgres, super::$scenario).await;
                }
            )*
        }
    };
}

pub enum Cleanup {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Cleanup {
    pub async fn run(self) {
        match self {
            Cleanup::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres(name) => {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
                    let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                }
            }
        }
    }
}

pub async fn fresh_database(backend: Backend) -> (String, Cleanup) {
    let suffix = random_base62(12).to_lowercase();
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("dots-test-{suffix}"));
            std::fs::create_dir_all(&dir).expect("temp dir");
            (format!("sqlite://{}", dir.join("dots.db").display()), Cleanup::Sqlite(dir))
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let mut admin = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is required for this test: {e}"));
            let name = format!("dots_test_{suffix}");
            admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
            let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
            (format!("{base}/{name}"), Cleanup::Postgres(name))
        }
    }
}

impl TestApp {
    pub async fn start(database_url: &str) -> TestApp {
        TestApp::start_with(database_url, |_| {}).await
    }

    /// The test settings: sandbox, instant settlement, webhooks allowed to reach
    /// the test's own loopback receivers, short retries; `adjust` changes them.
    pub async fn start_with(database_url: &str, adjust: impl FnOnce(&mut dots_server::config::Settings)) -> TestApp {
        TestApp::try_start_with(database_url, adjust).await.expect("services")
    }

    /// As [`TestApp::start_with`], or why the server would refuse to start.
    pub async fn try_start_with(
        database_url: &str,
        adjust: impl FnOnce(&mut dots_server::config::Settings),
    ) -> Result<TestApp, String> {
        let store = Store::open(database_url, 16).await.expect("open store");
        let mut settings = dots_server::config::Settings::sandbox(database_url);
        settings.operator_key = Some(OPERATOR_KEY.into());
        settings.sandbox_settle_ms = 0;
        settings.webhooks.allow_private = true;
        settings.webhooks.timeout_ms = 2_000;
        settings.webhooks.retry_base_ms = 10;
        settings.webhooks.disable_after = 8;
        if store.backend() == Backend::Postgres {
            // PostgreSQL deployments are given their key; SQLite ones make their own.
            settings.encryption_key = Some(TEST_ENCRYPTION_KEY.into());
        }
        adjust(&mut settings);
        let state = AppState::new(store.clone(), &settings)?;
        Ok(TestApp { router: router(state.clone()), state, store, database_url: database_url.to_string() })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        self.send(req.body(Body::from(body.unwrap_or("").to_string())).expect("request")).await
    }

    /// A request exactly as given: any header bytes, any body bytes, no defaults.
    pub async fn call_raw(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, axum::http::HeaderValue)],
        body: Vec<u8>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            req = req.header(*name, value.clone());
        }
        self.send(req.body(Body::from(body)).expect("request")).await
    }

    /// A request as if from `peer` over the network (what `ConnectInfo` carries).
    pub async fn call_from(
        &self,
        peer: std::net::SocketAddr,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let mut req = req.body(Body::from(body.unwrap_or("").to_string())).expect("request");
        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        self.send(req).await
    }

    /// A GET whose answer is read as it arrives (an event stream): its status and
    /// headers now, its body event by event ([`EventStream::next`]).
    pub async fn open_stream(&self, path: &str, headers: &[(&str, &str)]) -> (Resp, EventStream) {
        let mut req = Request::builder().method(Method::GET).uri(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let response = self.router.clone().oneshot(req.body(Body::empty()).expect("request")).await.expect("router");
        let (status, headers) = (response.status(), response.headers().clone());
        let stream = EventStream { body: response.into_body(), buffer: String::new() };
        (Resp { status, headers, bytes: Vec::new(), json: Value::Null }, stream)
    }

    /// Runs `req` through the router and reads the whole answer.
    async fn send(&self, req: Request<Body>) -> Resp {
        let response = self.router.clone().oneshot(req).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, headers, bytes, json }
    }

    pub async fn post(&self, creds: &Creds, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(&basic(creds)), &[], Some(&body.to_string())).await
    }

    pub async fn post_with_key(&self, creds: &Creds, path: &str, key: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(&basic(creds)), &[("idempotency-key", key)], Some(&body.to_string())).await
    }

    pub async fn post_raw(&self, creds: &Creds, path: &str, body: &str) -> Resp {
        self.call(Method::POST, path, Some(&basic(creds)), &[], Some(body)).await
    }

    pub async fn put(&self, creds: &Creds, path: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(&basic(creds)), &[], Some(&body.to_string())).await
    }

    pub async fn get(&self, creds: &Creds, path: &str) -> Resp {
        self.call(Method::GET, path, Some(&basic(creds)), &[], None).await
    }

    /// A new app through `POST /v2/apps`, as the operator.
    /// A live app (this server must be [`live_ready`]), allowing bank payouts only.
    pub async fn create_live_app(&self, name: &str) -> Creds {
        self.create_live_app_paying(name, &["bank"]).await
    }

    /// A live app allowing these payout method types.
    pub async fn create_live_app_paying(&self, name: &str, types: &[&str]) -> Creds {
        let bearer = format!("Bearer {OPERATOR_KEY}");
        let body = json!({"name": name, "mode": "live", "payout_method_types": types}).to_string();
        let r = self.call(Method::POST, "/v2/apps", Some(&bearer), &[], Some(&body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        let secret = r.json["api_secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("sk_live_"), "{secret}");
        Creds { id: r.id(), client_id: r.json["client_id"].as_str().unwrap().into(), secret }
    }

    /// An operator call (bearer key, an Idempotency-Key of its own).
    pub async fn operator(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let bearer = format!("Bearer {OPERATOR_KEY}");
        let body = body.map(|b| b.to_string());
        let key = random_base62(16);
        self.call(method, path, Some(&bearer), &[("Idempotency-Key", key.as_str())], body.as_deref()).await
    }

    /// Funds a live app as a real one is: its funding account registered and proven
    /// by pre-note, then a refill debited from it, each file settled by the operator
    /// (`server/tests/ach_rail.rs` checks every step).
    pub async fn fund_live_app(&self, app: &Creds, amount: i64) {
        let account = json!({"routing_number": "021000021", "account_number": "44556677", "holder_name": "Acme Inc"});
        let path = format!("/v2/apps/{}/funding-account", app.id);
        assert_eq!(self.operator(Method::PUT, &path, Some(account)).await.status, StatusCode::OK);
        self.cut_off_and_settle().await;
        let refill = self.post(app, "/v2/refills", json!({"amount": amount, "currency": "USD"})).await;
        assert_eq!(refill.status, StatusCode::CREATED, "{}", refill.json);
        self.cut_off_and_settle().await;
    }

    /// An ACH cut-off now, and its file settled.
    pub async fn cut_off_and_settle(&self) {
        let cut = self.operator(Method::POST, "/v2/ach/cutoff", None).await;
        assert_eq!(cut.status, StatusCode::CREATED, "{}", cut.json);
        let settle = format!("/v2/ach/files/{}/settle", cut.json["file"]["id"].as_str().unwrap());
        assert_eq!(self.operator(Method::POST, &settle, None).await.status, StatusCode::OK);
    }

    pub async fn create_app(&self, name: &str) -> Creds {
        let bearer = format!("Bearer {OPERATOR_KEY}");
        let body = json!({ "name": name }).to_string();
        let r = self.call(Method::POST, "/v2/apps", Some(&bearer), &[], Some(&body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        Creds {
            id: r.json["id"].as_str().unwrap().into(),
            client_id: r.json["client_id"].as_str().unwrap().into(),
            secret: r.json["api_secret"].as_str().unwrap().into(),
        }
    }

    /// `PUT /v2/apps/{id}/fees` as the operator: the app's payout fee schedule.
    pub async fn set_fees(&self, creds: &Creds, schedule: Value) -> Resp {
        let bearer = format!("Bearer {OPERATOR_KEY}");
        let path = format!("/v2/apps/{}/fees", creds.id);
        self.call(Method::PUT, &path, Some(&bearer), &[], Some(&schedule.to_string())).await
    }

    /// A user with a unique valid US number.
    pub async fn create_user(&self, creds: &Creds) -> String {
        let r = self.post(creds, "/v2/users", user_body(&unique_phone())).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.id()
    }

    /// A user who verified their phone and has a bank account to be paid to: what a
    /// payout needs.
    pub async fn create_payee(&self, creds: &Creds) -> String {
        let user = self.create_user(creds).await;
        self.verify_user(creds, &user).await;
        self.add_bank_account(creds, &user, "000123456789").await;
        user
    }

    /// Sends a code, reads it from the dev outbox as the payee would from their
    /// phone, and checks it.
    pub async fn verify_user(&self, creds: &Creds, user_id: &str) {
        let sent = self.post(creds, &format!("/v2/users/{user_id}/verification"), json!({})).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.json);
        let phone =
            self.get(creds, &format!("/v2/users/{user_id}")).await.json["phone_number"].as_str().unwrap().to_string();
        let code = self.last_code(creds, &phone).await;
        let checked = self.post(creds, &format!("/v2/users/{user_id}/verification/check"), json!({"code": code})).await;
        assert_eq!(checked.status, StatusCode::OK, "{}", checked.json);
        assert_eq!(checked.json["phone_verified"], true);
    }

    /// The code in the newest SMS to `phone`: in the dev outbox for a test app, at
    /// the stand-in SMS provider ([`fake_sms_provider`]) for a live one.
    pub async fn last_code(&self, creds: &Creds, phone: &str) -> String {
        if creds.secret.starts_with("sk_live_") {
            let (_, received) = fake_sms_provider();
            let body = received.lock().unwrap().iter().rev().find(|(to, _)| to == phone).map(|(_, body)| body.clone());
            return code_in(&body.unwrap_or_else(|| panic!("no SMS to {phone} at the provider")));
        }
        let outbox = self.get(creds, &format!("/v2/dev/sms?phone_number={}", phone.replace('+', "%2B"))).await;
        let body =
            outbox.json["data"][0]["body"].as_str().unwrap_or_else(|| panic!("no SMS to {phone}: {}", outbox.json));
        code_in(body)
    }

    pub async fn add_bank_account(&self, creds: &Creds, user_id: &str, account_number: &str) -> String {
        let body = json!({"type": "bank", "routing_number": "011000015", "account_number": account_number});
        let r = self.post(creds, &format!("/v2/users/{user_id}/payout-methods"), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.id()
    }

    /// Runs the payout worker until it finds nothing more to do.
    pub async fn settle_payouts(&self) {
        for _ in 0..50 {
            let taken =
                dots_server::payouts::work_once(&self.store, &self.state.writer, &self.state.services).await.unwrap();
            if taken == 0 {
                return;
            }
        }
        panic!("the payout worker kept finding work");
    }

    pub async fn refill(&self, creds: &Creds, amount: i64) {
        let r = self.post(creds, "/v2/refills", json!({"amount": amount, "currency": "USD"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }

    pub async fn transfer(&self, creds: &Creds, kind: &str, user_id: &str, amount: i64) -> Resp {
        self.post(
            creds,
            "/v2/transfers",
            json!({"type": kind, "user_id": user_id, "amount": amount, "currency": "USD"}),
        )
        .await
    }

    /// `(available, pending)` of a user's wallet.
    pub async fn user_wallet(&self, creds: &Creds, user_id: &str) -> (i64, i64) {
        let r = self.get(creds, &format!("/v2/users/{user_id}/wallet")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        (r.json["available"].as_i64().unwrap(), r.json["pending"].as_i64().unwrap())
    }

    pub async fn app_available(&self, creds: &Creds) -> i64 {
        let r = self.get(creds, "/v2/apps/me/wallet").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        r.json["available"].as_i64().unwrap()
    }

    /// Everything a request could change, as one comparable value.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut conn = self.store.reader().acquire().await.unwrap();
        let mut out = Vec::new();
        for table in
            ["apps", "users", "accounts", "transfers", "transfer_status_changes", "transactions", "entries", "events"]
        {
            let n: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *conn).await.unwrap();
            out.push(format!("{table}={n}"));
        }
        for row in sqlx::query("SELECT id, balance FROM accounts ORDER BY id").fetch_all(&mut *conn).await.unwrap() {
            out.push(format!("{}:{}", row.get::<String, _>(0), row.get::<i64, _>(1)));
        }
        for row in
            sqlx::query("SELECT id, status, updated_at FROM transfers ORDER BY id").fetch_all(&mut *conn).await.unwrap()
        {
            out.push(format!("{}:{}:{}", row.get::<String, _>(0), row.get::<String, _>(1), row.get::<i64, _>(2)));
        }
        out
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let mut conn = self.store.reader().acquire().await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut *conn).await.unwrap()
    }
}

/// Fires `n` requests at once and returns their statuses and codes.
/// A Server-Sent Events body, read as it arrives.
pub struct EventStream {
    body: Body,
    buffer: String,
}

/// One event of a stream: its `id:`, `event:` and `data:` (parsed JSON).
#[derive(Debug)]
pub struct StreamedEvent {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

impl EventStream {
    /// The next event (comments skipped), or None if none arrives within `wait`
    /// or the stream ends.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<StreamedEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !data.is_empty() {
                    return Some(StreamedEvent { id, kind, data: serde_json::from_str(&data).expect("JSON data") });
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame()).await.ok()??.ok()?;
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&bytes).expect("UTF-8 events"));
            }
        }
    }
}

impl EventStream {
    /// Whether the stream ends within `wait` (what it sends meanwhile is dropped).
    pub async fn ends_within(&mut self, wait: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

pub async fn at_once<F, Fut>(n: usize, request: F) -> Vec<Resp>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Resp> + Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let fut = request(i);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("request task"));
    }
    out
}

/// The six digits after "code: " in an SMS.
pub fn code_in(sms: &str) -> String {
    let start = sms.find("code: ").expect("the SMS carries a code") + "code: ".len();
    sms[start..start + 6].to_string()
}

pub fn basic(creds: &Creds) -> String {
    let raw = format!("{}:{}", creds.client_id, creds.secret);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

pub fn user_body(phone: &str) -> Value {
    json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone_number": phone})
}

/// A valid, unique US mobile-style number (+1 415 555 01xx is reserved for fiction,
/// but the `phonenumber` metadata rejects most 555 numbers, so use 201-area numbers).
pub fn unique_phone() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id() % 1000) * 10_000;
    format!("+1201555{:04}", n % 10_000)
}

/// One message a [`SmtpServer`] received: its envelope and its data, unstuffed.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A small SMTP server on a loopback port for the tests: it accepts every message
/// (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps it.
#[derive(Clone)]
pub struct SmtpServer {
    pub addr: std::net::SocketAddr,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind SMTP");
        let server = SmtpServer { addr: listener.local_addr().unwrap(), received: Default::default() };
        let received = server.received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let received = received.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read);
                    let _ = write.write_all(b"220 dots-test ESMTP\r\n").await;
                    let (mut from, mut to) = (String::new(), Vec::new());
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let command = line.trim_end().to_string();
                        let upper = command.to_ascii_uppercase();
                        let answer: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                            b"250 dots-test\r\n"
                        } else if let Some(rest) = upper.strip_prefix("MAIL FROM:") {
                            from = command[command.len() - rest.len()..].trim_matches(['<', '>', ' ']).to_string();
                            b"250 OK\r\n"
                        } else if let Some(rest) = upper.strip_prefix("RCPT TO:") {
                            to.push(command[command.len() - rest.len()..].trim_matches(['<', '>', ' ']).to_string());
                            b"250 OK\r\n"
                        } else if upper == "DATA" {
                            let _ = write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await;
                            let mut data = String::new();
                            loop {
                                line.clear();
                                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                            }
                            received.lock().unwrap().push(Received {
                                from: std::mem::take(&mut from),
                                to: std::mem::take(&mut to),
                                data,
                            });
                            b"250 OK queued\r\n"
                        } else if upper == "QUIT" {
                            let _ = write.write_all(b"221 Bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        let _ = write.write_all(answer).await;
                    }
                });
            }
        });
        server
    }

    /// The messages received so far, waiting up to 10 s for at least `n`.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the SMTP server received {} messages, not {n}", self.received.lock().unwrap().len());
    }
}

/// The decoded body of the MIME part of `data` whose type is `content_type`
/// (7bit, 8bit, quoted-printable or base64), from a multipart message, with `\n`
/// line ends.
pub fn mime_part(data: &str, content_type: &str) -> Option<String> {
    let boundary = data.split("boundary=").nth(1)?.trim_start_matches('"').split(['"', '\r', '\n', ';']).next()?;
    for part in data.split(&format!("--{boundary}")) {
        let Some((headers, body)) = part.split_once("\r\n\r\n") else { continue };
        let headers = headers.to_ascii_lowercase();
        if !headers.contains(&format!("content-type: {content_type}")) {
            continue;
        }
        let body = body.trim_end_matches("\r\n");
        let decoded = if headers.contains("content-transfer-encoding: base64") {
            let joined: String = body.split_whitespace().collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(joined).ok()?).ok()?
        } else if headers.contains("content-transfer-encoding: quoted-printable") {
            decode_quoted_printable(body)
        } else {
            body.to_string()
        };
        return Some(decoded.replace("\r\n", "\n"));
    }
    None
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A header's value in a message's top headers (`Subject`, `From`, …).
pub fn header_of(data: &str, name: &str) -> Option<String> {
    let top = data.split("\r\n\r\n").next()?;
    let prefix = format!("{}:", name.to_ascii_lowercase());
    top.lines().find(|l| l.to_ascii_lowercase().starts_with(&prefix)).map(|l| l[prefix.len()..].trim().to_string())
}
