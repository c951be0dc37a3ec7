//! `cargo xtask bench ledger|claim`: measured load against the release server
//! (`bench batch` is in `bench_batch.rs`).
//!
//! ledger: N concurrent clients make balance transfers (each with an
//! Idempotency-Key, webhooks on) among 1,000 user wallets of one app, on SQLite and
//! on PostgreSQL; then pgbench's built-in TPC-B-like run on the same PostgreSQL at
//! the same client count (scale 10), and the ratio.
//! claim: the whole payout-link claim through the flow API, claims per second.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::{Result, cargo, debug_dir, ensure_postgres, status};

pub(crate) const OPERATOR_KEY: &str = "bench-operator-key-of-at-least-32-bytes";
const USERS: usize = 1_000;

struct Options {
    clients: usize,
    seconds: u64,
    backends: Vec<&'static str>,
    /// `--no-webhooks`: leave the webhook endpoint out, to see what delivery costs.
    webhooks: bool,
    /// `--binary PATH`: measure another build (an older commit's release server).
    binary: Option<std::path::PathBuf>,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o =
        Options { clients: 32, seconds: 10, backends: vec!["sqlite", "postgres"], webhooks: true, binary: None };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--no-webhooks" => o.webhooks = false,
            "--binary" => o.binary = Some(value()?.into()),
            "--clients" => o.clients = value()?.parse().map_err(|_| "--clients takes a number")?,
            "--seconds" => o.seconds = value()?.parse().map_err(|_| "--seconds takes a number")?,
            "--backend" => {
                o.backends = match value()?.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["sqlite", "postgres"],
                    other => return Err(format!("--backend is sqlite, postgres or both, not {other}")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

pub fn bench(args: &[String]) -> Result {
    match args.first().map(String::as_str) {
        Some("ledger") => ledger(&options(&args[1..])?),
        Some("claim") => claim(&options(&args[1..])?),
        Some("batch") => crate::bench_batch::batch(&args[1..]),
        Some("widget") => crate::bench_widget::widget(&args[1..]),
        Some("dashboard") => crate::bench_dashboard::dashboard(&args[1..]),
        Some("export") => crate::bench_export::export(&args[1..]),
        Some("slowloris") => crate::bench_slowloris::slowloris(),
        Some("instructions") => crate::bench_instructions::instructions(&args[1..]),
        _ => {
            Err("usage: cargo xtask bench ledger|claim [--clients 32] [--seconds 10] [--backend sqlite|postgres|both] [--binary PATH] | batch [--backend sqlite|postgres] | widget [--runs 10] | dashboard [--runs 5] | export [--rows 1000000] | slowloris | instructions [--transfers 100] [--claims 10] [--runs 3] [--binary PATH]"
                .into())
        }
    }
}

pub(crate) fn release_binary() -> Result<std::path::PathBuf> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "dots-server", "--bin", "dots"]);
    status(build, "building the release server")?;
    Ok(debug_dir().parent().expect("target dir").join("release").join("dots"))
}

fn psql(sql: &str) -> Result {
    let ok = Command::new("psql")
        .args(["postgres://postgres@127.0.0.1:5432/postgres", "-q", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok { Ok(()) } else { Err(format!("psql: {sql} failed")) }
}

/// A database for one run: a fresh SQLite file or PostgreSQL database.
pub(crate) fn database(backend: &str) -> Result<String> {
    match backend {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("dots-bench-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            Ok(format!("sqlite://{}", dir.join("dots.db").display()))
        }
        _ => {
            ensure_postgres()?;
            psql("DROP DATABASE IF EXISTS dots_bench WITH (FORCE)")?;
            psql("CREATE DATABASE dots_bench")?;
            Ok("postgres://postgres@127.0.0.1:5432/dots_bench".into())
        }
    }
}

pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_server(binary: &std::path::Path, database_url: &str, extra: &[(&str, &str)]) -> Result<Server> {
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(binary)
        .args(["serve", "--listen", &listen])
        .env("DATABASE_URL", database_url)
        .env("DOTS_OPERATOR_KEY", OPERATOR_KEY)
        .env("DOTS_LOG", "warn")
        .env("DOTS_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("DOTS_DB_MAX_CONNECTIONS", "32")
        .env("DOTS_ENCRYPTION_KEY", "be0c000000000000000000000000000000000000000000000000000000000001")
        .envs(extra.iter().copied())
        .spawn()
        .map_err(|e| format!("starting dots: {e}"))?;
    let server = Server { child, base: format!("http://{listen}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(&listen).is_ok() {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("the server did not start".into())
}

#[derive(Clone)]
pub(crate) struct Http {
    client: Client<HttpConnector, Full<hyper::body::Bytes>>,
    base: String,
}

impl Http {
    pub(crate) fn new(base: &str) -> Http {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Http {
            client: Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build(connector),
            base: base.into(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        auth: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req =
            hyper::Request::builder().method(method).uri(format!("{}{path}", self.base)).header("authorization", auth);
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req.header("content-type", "application/json").body(Full::new(bytes.into())).expect("request");
        match self.client.request(req).await {
            Ok(res) => {
                let status = res.status().as_u16();
                let body = res.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// The body of a 2xx answer, or `None`.
    pub(crate) async fn try_ok(&self, method: &str, path: &str, auth: &str, body: Value) -> Option<Value> {
        let (status, json) = self.call(method, path, auth, None, Some(&body)).await;
        (200..300).contains(&status).then_some(json)
    }

    /// A POST with an Idempotency-Key: its status and body.
    pub(crate) async fn call_keyed(
        &self,
        method: &str,
        path: &str,
        auth: &str,
        key: &str,
        body: &Value,
    ) -> (u16, Value) {
        self.call(method, path, auth, Some(key), Some(body)).await
    }

    /// The body of a GET with credentials (`Null` when it failed).
    pub(crate) async fn get_json(&self, path: &str, auth: &str) -> Value {
        self.call("GET", path, auth, None, None).await.1
    }

    /// The status of a GET without credentials.
    pub(crate) async fn get_status(&self, path: &str) -> u16 {
        let req = hyper::Request::builder().uri(format!("{}{path}", self.base)).body(Full::default()).expect("request");
        match self.client.request(req).await {
            Ok(res) => {
                let status = res.status().as_u16();
                let _ = res.into_body().collect().await;
                status
            }
            Err(_) => 0,
        }
    }

    /// The status of a request with a JSON body.
    pub(crate) async fn status(&self, method: &str, path: &str, auth: &str, body: &Value) -> u16 {
        self.call(method, path, auth, None, Some(body)).await.0
    }

    pub(crate) async fn ok(&self, method: &str, path: &str, auth: &str, body: Value) -> Value {
        let (status, json) = self.call(method, path, auth, None, Some(&body)).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {json}");
        json
    }
}

pub(crate) fn basic(app: &Value) -> String {
    let raw = format!("{}:{}", app["client_id"].as_str().unwrap(), app["api_secret"].as_str().unwrap());
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// A webhook sink: answers 204 to everything, so delivery runs as it would in
/// production, and counts what it received.
async fn webhook_sink() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    async {
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder().status(204).body(Full::new(hyper::body::Bytes::new())).unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, received)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub(crate) struct Run {
    pub(crate) per_second: f64,
    /// Webhook deliveries the sink received during the measured seconds.
    webhooks: Option<usize>,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    ok: usize,
    pub(crate) refused: usize,
    pub(crate) failed: usize,
    /// The server's resident memory in MB: idle after start, and its peak by the
    /// end of the run (ledger only).
    memory: Option<(f64, f64)>,
    /// The server process's CPU time (user + system) per 2xx during the run (ledger only).
    cpu_per_op: Option<Duration>,
}

/// Runs `clients` loops of `one` for `seconds`, timing each 2xx.
pub(crate) async fn measure<F, Fut>(clients: usize, seconds: u64, one: F) -> Run
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = u16> + Send,
{
    let one = Arc::new(one);
    let (refused, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (one, refused, failed) = (one.clone(), refused.clone(), failed.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match one(c, n).await {
                        s if (200..300).contains(&s) => latencies.push(t.elapsed()),
                        409 => _ = refused.fetch_add(1, Ordering::Relaxed),
                        _ => _ = failed.fetch_add(1, Ordering::Relaxed),
                    }
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    Run {
        per_second: all.len() as f64 / elapsed,
        webhooks: None,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        ok: all.len(),
        refused: refused.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        memory: None,
        cpu_per_op: None,
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// The server to measure: `--binary`, or this checkout's release build.
fn binary(o: &Options) -> Result<std::path::PathBuf> {
    match &o.binary {
        Some(path) => Ok(path.clone()),
        None => release_binary(),
    }
}

/// A process's CPU time so far (user + system), from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s (USER_HZ) on every platform we run.
    Some(Duration::from_millis(ticks * 10))
}

/// A process's resident memory, `VmRSS` now and `VmHWM` (its peak), in MB.
fn memory_mb(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |field: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok()
    };
    Some((kb("VmRSS:")? / 1024.0, kb("VmHWM:")? / 1024.0))
}

fn ledger(o: &Options) -> Result {
    let binary = binary(o)?;
    let rt = runtime();
    let mut results = Vec::new();
    for backend in &o.backends {
        let url = database(backend)?;
        let server = start_server(&binary, &url, &[])?;
        // Idle: started, migrated, nothing asked of it yet (after a second's settling).
        std::thread::sleep(Duration::from_secs(1));
        let idle = memory_mb(server.child.id());
        let mut run = rt.block_on(ledger_run(&server.base, o, server.child.id()))?;
        run.memory = idle.zip(memory_mb(server.child.id())).map(|((idle, _), (_, peak))| (idle, peak));
        drop(server);
        let check = Command::new(&binary)
            .args(["ledger", "check"])
            .env("DATABASE_URL", &url)
            .output()
            .map_err(|e| e.to_string())?;
        println!("{backend}: {}", String::from_utf8_lossy(&check.stdout).trim());
        if !check.status.success() {
            return Err(format!("the ledger check failed after the {backend} run"));
        }
        results.push((*backend, run));
    }
    let pgbench = if o.backends.contains(&"postgres") { Some(pgbench(o.clients, o.seconds)?) } else { None };
    println!();
    println!(
        "ledger bench: {} clients, {} s, balance transfers among {USERS} wallets, Idempotency-Key on each, webhooks {}",
        o.clients,
        o.seconds,
        if o.webhooks { "on" } else { "off" }
    );
    println!(
        "{:<10} {:>14} {:>10} {:>10} {:>10} {:>9} {:>7} {:>16} {:>14} {:>12}",
        "database",
        "transfers/s",
        "p50 ms",
        "p99 ms",
        "2xx",
        "409",
        "errors",
        "webhooks sent",
        "RSS idle/peak",
        "server CPU"
    );
    for (backend, r) in &results {
        println!(
            "{:<10} {:>14.0} {:>10.2} {:>10.2} {:>10} {:>9} {:>7} {:>16} {:>14} {:>12}",
            backend,
            r.per_second,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.ok,
            r.refused,
            r.failed,
            r.webhooks.map_or("-".to_string(), |n| n.to_string()),
            r.memory.map_or("-".to_string(), |(idle, peak)| format!("{idle:.0}/{peak:.0} MB")),
            r.cpu_per_op.map_or("-".to_string(), |cpu| format!("{} µs/op", cpu.as_micros()))
        );
    }
    if o.webhooks {
        println!("(webhooks sent: deliveries the sink received during the measured seconds; the rest stay queued)");
    }
    if let Some(tps) = pgbench {
        println!("pgbench TPC-B-like (scale 10, {} clients, {} s): {tps:.0} tps", o.clients, o.seconds);
        if let Some((_, r)) = results.iter().find(|(b, _)| *b == "postgres") {
            println!("ratio dots/pgbench on PostgreSQL: {:.2}×", r.per_second / tps);
        }
    }
    Ok(())
}

async fn ledger_run(base: &str, o: &Options, pid: u32) -> Result<Run> {
    let http = Http::new(base);
    let app = http.ok("POST", "/v2/apps", &format!("Bearer {OPERATOR_KEY}"), json!({"name": "Bench"})).await;
    let auth = basic(&app);
    let sink = if o.webhooks {
        let (url, received) = webhook_sink().await;
        http.ok("POST", "/v2/webhooks", &auth, json!({"url": url})).await;
        Some(received)
    } else {
        None
    };
    http.ok("POST", "/v2/refills", &auth, json!({"amount": 900_000_000_000i64, "currency": "USD"})).await;
    let users: Vec<String> = {
        let mut handles = Vec::new();
        for chunk in (0..USERS).collect::<Vec<_>>().chunks(USERS / 16) {
            let (http, auth, chunk) = (http.clone(), auth.clone(), chunk.to_vec());
            handles.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in chunk {
                    let body = json!({"first_name": "B", "last_name": "U", "email": "b@u.co", "phone_number": format!("+1201{:07}", 5_550_000 + i)});
                    let user = http.ok("POST", "/v2/users", &auth, body).await;
                    let id = user["id"].as_str().unwrap().to_string();
                    http.ok("POST", "/v2/transfers", &auth, json!({"type": "balance", "user_id": id, "amount": 1_000_000, "currency": "USD"})).await;
                    ids.push(id);
                }
                ids
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all
    };
    let users = Arc::new(users);
    eprintln!("xtask: {base}: {USERS} funded users ready; measuring {} s", o.seconds);
    let (http2, auth2, users2) = (http.clone(), auth.clone(), users.clone());
    let before = sink.as_ref().map(|s| s.load(Ordering::Relaxed));
    let cpu_before = cpu_time(pid);
    let mut run = measure(o.clients, o.seconds, move |c, n| {
        let (http, auth, users) = (http2.clone(), auth2.clone(), users2.clone());
        async move {
            let user = &users[(c * 7919 + n * 104_729) % users.len()];
            let direction = if (c + n) % 2 == 0 { "app_to_user" } else { "user_to_app" };
            let body = json!({"type": "balance", "user_id": user, "amount": 1 + (n % 97), "currency": "USD", "direction": direction});
            let key = format!("bench-{c}-{n}");
            http.call("POST", "/v2/transfers", &auth, Some(&key), Some(&body)).await.0
        }
    })
    .await;
    run.webhooks = sink.zip(before).map(|(s, before)| s.load(Ordering::Relaxed) - before);
    // What the server process spent per transfer (the writes of the ones still
    // in flight at the end are in it too: a small overcount).
    run.cpu_per_op = cpu_before.zip(cpu_time(pid)).map(|(a, b)| (b - a) / run.ok.max(1) as u32);
    Ok(run)
}

/// pgbench's built-in TPC-B-like script on the same PostgreSQL.
fn pgbench(clients: usize, seconds: u64) -> Result<f64> {
    psql("DROP DATABASE IF EXISTS dots_pgbench WITH (FORCE)")?;
    psql("CREATE DATABASE dots_pgbench")?;
    let url = "postgres://postgres@127.0.0.1:5432/dots_pgbench";
    let init =
        Command::new("pgbench").args(["-i", "-q", "-s", "10", url]).output().map_err(|e| format!("pgbench: {e}"))?;
    if !init.status.success() {
        return Err(format!("pgbench -i failed: {}", String::from_utf8_lossy(&init.stderr)));
    }
    let run = Command::new("pgbench")
        .args(["-n", "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), url])
        .output()
        .map_err(|e| format!("pgbench: {e}"))?;
    let out = String::from_utf8_lossy(&run.stdout);
    let tps = out
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or(format!("no tps in pgbench output: {out}"))?;
    psql("DROP DATABASE IF EXISTS dots_pgbench WITH (FORCE)")?;
    Ok(tps)
}

fn claim(o: &Options) -> Result {
    let binary = binary(o)?;
    let rt = runtime();
    println!(
        "claim bench: {} clients, {} s; one claim = create link, open session, send code, read it, check it, add a payout method, claim",
        o.clients, o.seconds
    );
    println!("{:<10} {:>10} {:>10} {:>10} {:>8} {:>7}", "database", "claims/s", "p50 ms", "p99 ms", "claims", "errors");
    for backend in &o.backends {
        let url = database(backend)?;
        // One bench client stands for many payees: lift the per-address SMS limit.
        let server = start_server(&binary, &url, &[("DOTS_SMS_PER_CLIENT_PER_HOUR", "100000000")])?;
        let run = rt.block_on(claim_run(&server.base, o));
        println!(
            "{:<10} {:>10.1} {:>10.1} {:>10.1} {:>8} {:>7}",
            backend,
            run.per_second,
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3,
            run.ok,
            run.failed + run.refused
        );
    }
    Ok(())
}

async fn claim_run(base: &str, o: &Options) -> Run {
    let http = Http::new(base);
    let app = http.ok("POST", "/v2/apps", &format!("Bearer {OPERATOR_KEY}"), json!({"name": "Bench"})).await;
    let auth = basic(&app);
    http.ok("POST", "/v2/refills", &auth, json!({"amount": 900_000_000_000i64, "currency": "USD"})).await;
    measure(o.clients, o.seconds, move |c, n| {
        let (http, auth) = (http.clone(), auth.clone());
        async move {
            // A distinct, valid number per claim: exchange 200–899, line 0000–9999.
            let phone = format!("+1201{:03}{:04}", 200 + (c * 53 + n / 10_000) % 700, n % 10_000);
            let steps = async {
                let link = http
                    .try_ok(
                        "POST",
                        "/v2/payout-links",
                        &auth,
                        json!({"amount": 1000, "currency": "USD", "phone_number": phone}),
                    )
                    .await?;
                let token = link["url"].as_str()?.rsplit('/').next()?.to_string();
                let session = http.try_ok("POST", "/flow/v1/sessions", "", json!({"link_token": token})).await?;
                let bearer = format!("Bearer {}", session["token"].as_str()?);
                http.try_ok("POST", "/flow/v1/verification", &bearer, json!({"phone_number": phone})).await?;
                let outbox = http
                    .call("GET", &format!("/v2/dev/sms?phone_number={}", phone.replace('+', "%2B")), &auth, None, None)
                    .await
                    .1;
                let sms = outbox["data"][0]["body"].as_str()?;
                let code = sms.split("code: ").nth(1)?.get(..6)?.to_string();
                let checked =
                    http.try_ok("POST", "/flow/v1/verification/check", &bearer, json!({"code": code})).await?;
                // Proving the phone replaces the session's token (servers since
                // the security round; older ones keep the first).
                let bearer = match checked["session_token"].as_str() {
                    Some(token) => format!("Bearer {token}"),
                    None => bearer,
                };
                let method = http
                    .try_ok("POST", "/flow/v1/payout-methods", &bearer, json!({"type": "paypal", "email": "b@u.co"}))
                    .await?;
                let (status, _) = http
                    .call("POST", "/flow/v1/claim", &bearer, None, Some(&json!({"payout_method_id": method["id"]})))
                    .await;
                Some(status)
            };
            steps.await.unwrap_or(0)
        }
    })
    .await
}
