//! Support for the end-to-end tests: the real `dots` binary as a child process, on
//! a free port, against a fresh SQLite file or PostgreSQL database.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod browser;
pub mod mail;

pub const OPERATOR_KEY: &str = "e2e-operator-key-of-at-least-32-bytes";
/// The end-to-end PostgreSQL servers' encryption key.
pub const E2E_ENCRYPTION_KEY: &str = "e2e0000000000000000000000000000000000000000000000000000000000001";

/// The `dots` binary: `$DOTS_BIN` (set by `cargo xtask test`), else the one
/// beside this test executable in `target/debug`.
pub fn dots_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("DOTS_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    let debug = exe.parent().and_then(|deps| deps.parent()).expect("target/debug/deps");
    let bin = debug.join("dots");
    assert!(bin.exists(), "{} is missing: run `cargo xtask test` (it builds the binary first)", bin.display());
    bin
}

/// The checkout the tests run in, read at run time (`cargo test` sets
/// `CARGO_MANIFEST_DIR` for the test process): clones sharing a target directory
/// can share a test binary, and each must read its own files.
pub fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| ".".into());
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

pub fn postgres_admin_url() -> String {
    std::env::var("DOTS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test, removed on drop.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Postgres(String),
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{}_{nanos}", std::process::id())
}

fn psql(sql: &str) {
    let status = Command::new("psql")
        .args([&postgres_admin_url(), "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .expect("psql runs");
    assert!(status.success(), "PostgreSQL is required for this test: `{sql}` failed");
}

impl TestDatabase {
    pub fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("dots-e2e-{}", unique_suffix()));
                std::fs::create_dir_all(&dir).unwrap();
                TestDatabase { url: format!("sqlite://{}", dir.join("dots.db").display()), cleanup: Cleanup::Dir(dir) }
            }
            Backend::Postgres => {
                let name = format!("dots_e2e_{}", unique_suffix());
                psql(&format!("CREATE DATABASE {name}"));
                let admin = postgres_admin_url();
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
                TestDatabase { url: format!("{base}/{name}"), cleanup: Cleanup::Postgres(name) }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres(name) => {
                let _ = Command::new("psql")
                    .args([&postgres_admin_url(), "-q", "-c", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// A running `dots serve`, killed on drop.
pub struct Server {
    pub url: String,
    pub addr: String,
    /// The `dots` binary it runs; the example merchant is built beside it.
    pub bin: PathBuf,
    child: Child,
    /// Where its log goes (every request's line included); checked for tokens when it stops.
    pub log: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    pub fn start(database_url: &str) -> Server {
        Server::start_with(database_url, &[])
    }

    /// Starts `dots serve` with extra environment (e.g. worker timings).
    pub fn start_with(database_url: &str, env: &[(&str, &str)]) -> Server {
        Server::start_binary(dots_bin(), database_url, env)
    }

    /// Starts a given `dots` binary (the benches use the release build).
    pub fn start_binary(bin: PathBuf, database_url: &str, env: &[(&str, &str)]) -> Server {
        let addr = format!("127.0.0.1:{}", free_port());
        let log =
            std::env::temp_dir().join(format!("dots-e2e-server-{}-{}.log", std::process::id(), addr.replace(':', "-")));
        let log_file = std::fs::File::create(&log).expect("a log file for the server");
        let child = Command::new(&bin)
            .args(["serve", "--listen", &addr])
            .env("DATABASE_URL", database_url)
            .env("DOTS_OPERATOR_KEY", OPERATOR_KEY)
            .env("DOTS_LOG", "info,sqlx=warn")
            // PostgreSQL deployments are given their key; SQLite ones keep theirs beside the file.
            .envs(database_url.starts_with("postgres").then_some(("DOTS_ENCRYPTION_KEY", E2E_ENCRYPTION_KEY)))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("dots serve starts");
        let server = Server { url: format!("http://{addr}"), addr, bin, child, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_get(&server.addr, "/health").is_some_and(|(status, _)| status == 200) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("dots serve did not become healthy on {}", server.addr);
    }
}

impl Server {
    /// The server's process id (benches read its memory from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no shutdown, no flushing, in-flight work simply stops.
    pub fn kill_9(self) {
        // Dropping kills it (SIGKILL) and checks its log.
        drop(self);
    }

    pub fn request(&self, method: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> (u16, String) {
        http_request(&self.addr, method, path, auth, body).unwrap_or_else(|| panic!("{method} {path}: no answer"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Whatever the server logged (request lines included) holds no token or secret.
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let leaks = dots_shared::ids::plain_secrets_in(&log);
        if std::thread::panicking() {
            eprintln!("the server's log is kept at {}", self.log.display());
            return;
        }
        assert!(leaks.is_empty(), "the server's log ({}) holds tokens or secrets: {leaks:?}", self.log.display());
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A minimal HTTP/1.1 request with an optional `Authorization` and JSON body.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    http_request_with(addr, method, path, &headers, body)
}

/// The one raw HTTP/1.1 client of these tests: any headers, an optional JSON body,
/// one connection per request; `None` when nothing answers (a killed server).
pub fn http_request_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.unwrap_or("");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    // Read the head, then exactly the body it announces: some servers (chromedriver)
    // say `Connection: close` but keep the socket open.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &raw[head_end..];
        let complete = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) if length.is_none() && !chunked => break,
            Err(_) => return None,
        }
    }
    let response = String::from_utf8_lossy(&raw).into_owned();
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let rest = &response[head_end..];
    // Bodies of this server are sent whole or chunked; undo chunking if used.
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Some((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// A one-value SQL query on PostgreSQL through `psql`.
pub fn psql_value(database_url: &str, sql: &str) -> String {
    let out = Command::new("psql").args([database_url, "-tA", "-c", sql]).output().expect("psql runs");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A minimal HTTP/1.1 GET: `(status, body)`, or `None` when nothing answers.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    http_request(addr, "GET", path, None, None)
}

/// A webhook receiver on a free loopback port: answers 204 and records each
/// request's `webhook-id`, in a thread of its own.
pub struct WebhookReceiver {
    pub url: String,
    pub ids: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl WebhookReceiver {
    pub fn start() -> WebhookReceiver {
        WebhookReceiver::start_on(0)
    }

    /// On `port` of the loopback (0: any free one).
    pub fn start_on(port: u16) -> WebhookReceiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = ids.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    if let Some(id) = read_webhook(stream) {
                        seen.lock().unwrap().push(id);
                    }
                });
            }
        });
        WebhookReceiver { url, ids }
    }

    pub fn received(&self) -> Vec<String> {
        self.ids.lock().unwrap().clone()
    }
}

/// Reads one request (headers, then `Content-Length` bytes), answers 204, and
/// returns its `webhook-id`.
fn read_webhook(mut stream: TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(pos) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
        })
    };
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let id = header("webhook-id");
    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    id
}

/// The JSON body of a 2xx answer (anything else fails the test).
/// `PUT /v2/apps/{id}/fees` as the operator: the app's payout fee schedule.
pub fn set_fees(server: &Server, app: &AppCredentials, schedule: serde_json::Value) -> serde_json::Value {
    call(server, "PUT", &format!("/v2/apps/{}/fees", app.id), &format!("Bearer {OPERATOR_KEY}"), schedule)
}

pub fn call(server: &Server, method: &str, path: &str, auth: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, text) = server.request(method, path, Some(auth), Some(&body.to_string()));
    assert!((200..300).contains(&status), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// A new app, made by the operator; returns its HTTP Basic `Authorization` value.
pub fn create_app(server: &Server) -> String {
    create_named_app(server, "Acme").basic
}

/// An app's credentials.
/// The two demo apps of `cargo xtask run`, name and brand: the browser tests walk
/// the widget in both (a light brand, and a dark one with a serif font).
pub fn demo_apps() -> [(&'static str, serde_json::Value); 2] {
    [
        ("Acme Payroll", serde_json::json!({"name": "Acme Payroll", "primary_color": "#0b7a3b", "corner_radius": 10})),
        (
            "Zest Rewards",
            serde_json::json!({"name": "Zest Rewards", "primary_color": "#c2410c", "corner_radius": 18,
                               "color_scheme": "dark", "font_family": "Georgia, serif"}),
        ),
    ]
}

pub struct AppCredentials {
    /// `app_…`: what the operator's routes name.
    pub id: String,
    pub client_id: String,
    pub api_secret: String,
    /// `Basic …`, for `Authorization`.
    pub basic: String,
}

pub fn create_named_app(server: &Server, name: &str) -> AppCredentials {
    use base64::Engine;
    let app = call(server, "POST", "/v2/apps", &format!("Bearer {OPERATOR_KEY}"), serde_json::json!({"name": name}));
    let (client_id, api_secret) =
        (app["client_id"].as_str().unwrap().to_string(), app["api_secret"].as_str().unwrap().to_string());
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{api_secret}")));
    AppCredentials { id: app["id"].as_str().unwrap().to_string(), client_id, api_secret, basic }
}

/// The example merchant backend (`examples/merchant`, serving `examples/host-site`)
/// for one app, killed on drop.
pub struct Merchant {
    pub url: String,
    child: Child,
}

impl Merchant {
    pub fn start(dots: &Server, app: &AppCredentials, name: &str) -> Merchant {
        let addr = format!("127.0.0.1:{}", free_port());
        let bin = dots.bin.with_file_name("merchant");
        let child = Command::new(&bin)
            .env("DOTS_URL", &dots.url)
            .env("DOTS_CLIENT_ID", &app.client_id)
            .env("DOTS_API_SECRET", &app.api_secret)
            .env("MERCHANT_LISTEN", &addr)
            .env("MERCHANT_NAME", name)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (cargo xtask test builds it)", bin.display()));
        let merchant = Merchant { url: format!("http://{addr}"), child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(&addr, "/health").is_none_or(|(s, _)| s != 200) {
            assert!(Instant::now() < deadline, "the merchant example did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        merchant
    }
}

impl Drop for Merchant {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last code the dev outbox holds for `phone`.
pub fn last_code(server: &Server, basic: &str, phone: &str) -> String {
    let path = format!("/v2/dev/sms?phone_number={}", phone.replace('+', "%2B"));
    let outbox = call(server, "GET", &path, basic, serde_json::Value::Null);
    let sms = outbox["data"][0]["body"].as_str().expect("an SMS in the dev outbox");
    sms[sms.find("code: ").expect("a code in the SMS") + 6..][..6].to_string()
}

/// A user whose phone is verified (the code read from the dev outbox) and who has
/// `method` to be paid to; returns the user's id.
pub fn verified_payee(server: &Server, basic: &str, phone: &str, method: serde_json::Value) -> String {
    use serde_json::json;
    let body = json!({"first_name": "P", "last_name": "Q", "email": "p@q.co", "phone_number": phone});
    let id = call(server, "POST", "/v2/users", basic, body)["id"].as_str().unwrap().to_string();
    call(server, "POST", &format!("/v2/users/{id}/verification"), basic, json!({}));
    let code = last_code(server, basic, phone);
    call(server, "POST", &format!("/v2/users/{id}/verification/check"), basic, json!({"code": code}));
    call(server, "POST", &format!("/v2/users/{id}/payout-methods"), basic, method);
    id
}

/// `dots ledger check` on the database; fails the test on a violation.
pub fn ledger_check(database_url: &str) {
    let out = Command::new(dots_bin()).args(["ledger", "check"]).env("DATABASE_URL", database_url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
