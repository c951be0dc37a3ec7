//! `cargo xtask bench instructions`: CPU work per balance transfer and per
//! payout-link claim, counted in instructions by valgrind's callgrind, so the figure
//! repeats whatever else the shared cores are doing (throughput does not).
//!
//! The release server runs under callgrind on a fresh SQLite file. One client sends
//! requests one after another over keep-alive HTTP. For each measured window the
//! counters are zeroed (`callgrind_control -z`), the requests are made, and the
//! counters dumped (`-d`); then an idle window of the same wall-clock length (no
//! requests) is counted the same way and subtracted, because the server's
//! background timers (WAL checkpoints, the payout and webhook workers) follow the
//! wall clock, which valgrind stretches. The marginal cost is the difference between
//! a window of 3N requests and one of N, over 2N: what a window costs once (the
//! first-touch allocations, a timer that happened to fire) drops out.
//! Requests are paced, one every 150 ms of wall-clock time (`--pace-ms`): SQLite's
//! background checkpoint runs every 50 ms, and how much it copies per request
//! depends on how many requests fall between two checkpoints; paced, each
//! request's pages are checkpointed on their own, however fast the machine is
//! that day. (Unpaced runs spread by 7–10 %; paced ones by a few per cent.)
//! The payout and webhook workers are set to sleep through the run (a claim's payout
//! is executed later, asynchronously), so the claim figure is the claim's requests.
//! Three runs; the median and the spread are printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Result;
use crate::bench::{Http, OPERATOR_KEY, basic, database, release_binary, runtime};

struct Options {
    transfers: usize,
    claims: usize,
    runs: usize,
    /// `--binary PATH`: measure another build (an older commit's release server).
    binary: Option<PathBuf>,
    pace: Duration,
    /// `--keep DIR`: keep callgrind's dumps (`DIR/run-<n>/cg.out.<k>`) to read
    /// with `callgrind_annotate`. Dumps 1–8 are, in pairs of busy then idle: N
    /// transfers, 3N transfers, M claims, 3M claims.
    keep: Option<PathBuf>,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o =
        Options { transfers: 50, claims: 5, runs: 3, binary: None, pace: Duration::from_millis(150), keep: None };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--transfers" => o.transfers = value()?.parse().map_err(|_| "--transfers takes a number")?,
            "--claims" => o.claims = value()?.parse().map_err(|_| "--claims takes a number")?,
            "--runs" => o.runs = value()?.parse().map_err(|_| "--runs takes a number")?,
            "--binary" => o.binary = Some(PathBuf::from(value()?)),
            "--keep" => o.keep = Some(PathBuf::from(value()?)),
            "--pace-ms" => o.pace = Duration::from_millis(value()?.parse().map_err(|_| "--pace-ms takes a number")?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.transfers == 0 || o.claims == 0 || o.runs == 0 {
        return Err("--transfers, --claims and --runs must be at least 1".into());
    }
    Ok(o)
}

fn ensure_valgrind() -> Result {
    if Command::new("callgrind_control").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    eprintln!("xtask: installing valgrind (apt)");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "-q", "valgrind"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    if ok { Ok(()) } else { Err("valgrind is missing and apt-get could not install it".into()) }
}

/// The server under callgrind; its dumps go to `dir`.
struct Profiled {
    child: Child,
    dir: PathBuf,
    base: String,
    dumps: usize,
    /// Where the dumps go when the run ends, instead of away.
    keep: Option<PathBuf>,
}

impl Drop for Profiled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(keep) = &self.keep {
            let _ = std::fs::remove_dir_all(keep);
            let moved = std::fs::create_dir_all(keep.parent().unwrap_or(Path::new("."))).and_then(|()| {
                std::fs::rename(&self.dir, keep).or_else(|_| {
                    // Another file system: copy.
                    std::fs::create_dir_all(keep)?;
                    for entry in std::fs::read_dir(&self.dir)? {
                        let entry = entry?;
                        std::fs::copy(entry.path(), keep.join(entry.file_name()))?;
                    }
                    Ok(())
                })
            });
            if let Err(e) = moved {
                eprintln!("xtask: could not keep the dumps in {}: {e}", keep.display());
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Profiled {
    fn start(binary: &Path, run: usize, keep: Option<PathBuf>) -> Result<Profiled> {
        let dir = std::env::temp_dir().join(format!("dots-callgrind-{}-{run}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let url = database("sqlite")?;
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", dir.join("cg.out").display()))
            .args(["--dump-instr=no", "--dump-line=no", "--compress-strings=no"])
            .arg(binary)
            .args(["serve", "--listen", &listen])
            .env("DATABASE_URL", &url)
            .env("DOTS_OPERATOR_KEY", OPERATOR_KEY)
            .env("DOTS_LOG", "warn")
            .env("DOTS_ENCRYPTION_KEY", "be0c000000000000000000000000000000000000000000000000000000000001")
            // One bench client stands for many payees.
            .env("DOTS_SMS_PER_CLIENT_PER_HOUR", "100000000")
            // The payout and webhook workers sleep through the measurement: a claim's
            // payout is executed later, at a time valgrind's slowness would scatter
            // between windows. The figure is the requests' own work.
            .env("DOTS_WORKER_INTERVAL_MS", "3600000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting valgrind: {e}"))?;
        let mut server = Profiled { child, dir, base: format!("http://{listen}"), dumps: 0, keep };
        let deadline = Instant::now() + Duration::from_secs(180);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&listen).is_ok() {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("the server under valgrind exited: {status}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err("the server under valgrind did not start in 180 s".into())
    }

    fn control(&self, flag: &str) -> Result {
        let out = Command::new("callgrind_control")
            .args([flag, &self.child.id().to_string()])
            .output()
            .map_err(|e| format!("callgrind_control: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("callgrind_control {flag}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn zero(&self) -> Result {
        self.control("-z")
    }

    /// Dumps the counters and reads the instructions since the last zero.
    fn dump(&mut self) -> Result<u64> {
        self.control("-d")?;
        self.dumps += 1;
        let file = self.dir.join(format!("cg.out.{}", self.dumps));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(&file)
                && let Some(total) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
            {
                return Ok(total);
            }
            if Instant::now() > deadline {
                return Err(format!("no totals in {}", file.display()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Instructions of `work`, less those of an idle window as long as it took.
    fn window<F: std::future::Future<Output = Result>>(
        &mut self,
        rt: &tokio::runtime::Runtime,
        work: impl FnOnce() -> F,
    ) -> Result<i64> {
        self.zero()?;
        let started = Instant::now();
        rt.block_on(work())?;
        let took = started.elapsed();
        let busy = self.dump()?;
        self.zero()?;
        std::thread::sleep(took);
        let idle = self.dump()?;
        Ok(busy as i64 - idle as i64)
    }
}

/// A funded app with a few funded users.
struct Setup {
    http: Http,
    auth: String,
    users: Vec<String>,
    pacer: Pacer,
}

/// Starts requests at a fixed wall-clock rate.
struct Pacer {
    every: Duration,
    next: std::sync::Mutex<Instant>,
    /// Requests that started late because the one before took longer than `every`.
    late: std::sync::atomic::AtomicUsize,
}

impl Pacer {
    fn new(every: Duration) -> Pacer {
        Pacer { every, next: std::sync::Mutex::new(Instant::now()), late: Default::default() }
    }

    async fn tick(&self) {
        let wait = {
            let mut next = self.next.lock().expect("pacer");
            let now = Instant::now();
            if *next < now {
                if !self.every.is_zero() {
                    self.late.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                *next = now;
            }
            let start = *next;
            *next = start + self.every;
            start - now
        };
        tokio::time::sleep(wait).await;
    }
}

async fn setup(base: &str, pace: Duration) -> Result<Setup> {
    let http = Http::new(base);
    let app = http.ok("POST", "/v2/apps", &format!("Bearer {OPERATOR_KEY}"), json!({"name": "Bench"})).await;
    let auth = basic(&app);
    http.ok("POST", "/v2/refills", &auth, json!({"amount": 900_000_000_000i64, "currency": "USD"})).await;
    let mut users = Vec::new();
    for i in 0..10 {
        let body = json!({"first_name": "B", "last_name": "U", "email": "b@u.co", "phone_number": format!("+1201555{:04}", 100 + i)});
        let user = http.ok("POST", "/v2/users", &auth, body).await;
        let id = user["id"].as_str().ok_or("no user id")?.to_string();
        http.ok(
            "POST",
            "/v2/transfers",
            &auth,
            json!({"type": "balance", "user_id": id, "amount": 1_000_000, "currency": "USD"}),
        )
        .await;
        users.push(id);
    }
    Ok(Setup { http, auth, users, pacer: Pacer::new(pace) })
}

async fn transfers(s: &Setup, from: usize, n: usize) -> Result {
    for i in from..from + n {
        let user = &s.users[i % s.users.len()];
        let direction = if i % 2 == 0 { "app_to_user" } else { "user_to_app" };
        let body = json!({"type": "balance", "user_id": user, "amount": 1 + (i % 97), "currency": "USD", "direction": direction});
        s.pacer.tick().await;
        let (status, answer) = s.http.call_keyed("POST", "/v2/transfers", &s.auth, &format!("instr-{i}"), &body).await;
        if status != 201 {
            return Err(format!("transfer {i}: {status} {answer}"));
        }
    }
    Ok(())
}

/// One whole claim: create a link, open its session, send and check the code, add
/// a payout method, claim.
async fn claim(s: &Setup, i: usize) -> Result {
    let phone = format!("+1201{:03}{:04}", 200 + i / 10_000, i % 10_000);
    let fail = |what: &str| format!("claim {i}: {what}");
    s.pacer.tick().await;
    let link = s
        .http
        .try_ok("POST", "/v2/payout-links", &s.auth, json!({"amount": 1000, "currency": "USD", "phone_number": phone}))
        .await
        .ok_or_else(|| fail("link"))?;
    let token = link["url"].as_str().and_then(|u| u.rsplit('/').next()).ok_or_else(|| fail("link url"))?;
    s.pacer.tick().await;
    let session = s
        .http
        .try_ok("POST", "/flow/v1/sessions", "", json!({"link_token": token}))
        .await
        .ok_or_else(|| fail("session"))?;
    let mut bearer = format!("Bearer {}", session["token"].as_str().ok_or_else(|| fail("token"))?);
    s.pacer.tick().await;
    s.http
        .try_ok("POST", "/flow/v1/verification", &bearer, json!({"phone_number": phone}))
        .await
        .ok_or_else(|| fail("send code"))?;
    s.pacer.tick().await;
    let outbox: Value =
        s.http.get_json(&format!("/v2/dev/sms?phone_number={}", phone.replace('+', "%2B")), &s.auth).await;
    let code = outbox["data"][0]["body"]
        .as_str()
        .and_then(|sms| sms.split("code: ").nth(1))
        .and_then(|rest| rest.get(..6))
        .ok_or_else(|| fail("code in the outbox"))?
        .to_string();
    s.pacer.tick().await;
    let checked = s
        .http
        .try_ok("POST", "/flow/v1/verification/check", &bearer, json!({"code": code}))
        .await
        .ok_or_else(|| fail("check code"))?;
    // Servers since the security round replace the session's token here.
    if let Some(token) = checked["session_token"].as_str() {
        bearer = format!("Bearer {token}");
    }
    s.pacer.tick().await;
    let method = s
        .http
        .try_ok("POST", "/flow/v1/payout-methods", &bearer, json!({"type": "paypal", "email": "b@u.co"}))
        .await
        .ok_or_else(|| fail("payout method"))?;
    s.pacer.tick().await;
    s.http
        .try_ok("POST", "/flow/v1/claim", &bearer, json!({"payout_method_id": method["id"]}))
        .await
        .ok_or_else(|| fail("claim"))?;
    Ok(())
}

async fn claims(s: &Setup, from: usize, n: usize) -> Result {
    for i in from..from + n {
        claim(s, i).await?;
    }
    Ok(())
}

struct Sample {
    transfer: f64,
    claim: f64,
}

fn one_run(binary: &Path, o: &Options, run: usize) -> Result<Sample> {
    let rt = runtime();
    let mut server = Profiled::start(binary, run, o.keep.as_ref().map(|k| k.join(format!("run-{run}"))))?;
    let s = rt.block_on(setup(&server.base, Duration::ZERO))?;
    // Warm-up: the first requests touch code and caches once.
    rt.block_on(transfers(&s, 0, 20))?;
    rt.block_on(claims(&s, 0, 2))?;
    let s = Setup { pacer: Pacer::new(o.pace), ..s };
    let n = o.transfers;
    let short = server.window(&rt, || transfers(&s, 1_000, n))?;
    let long = server.window(&rt, || transfers(&s, 10_000, 3 * n))?;
    let m = o.claims;
    let short_claims = server.window(&rt, || claims(&s, 100, m))?;
    let long_claims = server.window(&rt, || claims(&s, 1_000, 3 * m))?;
    let late = s.pacer.late.load(std::sync::atomic::Ordering::Relaxed);
    if late > 0 {
        eprintln!("xtask: {late} requests took longer than --pace-ms and started late; the figure may spread more");
    }
    Ok(Sample {
        transfer: (long - short) as f64 / (2 * n) as f64,
        claim: (long_claims - short_claims) as f64 / (2 * m) as f64,
    })
}

fn median_and_spread(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    let spread = (values[values.len() - 1] - values[0]) / median * 100.0;
    (median, spread)
}

pub fn instructions(args: &[String]) -> Result {
    let o = options(args)?;
    ensure_valgrind()?;
    let binary = match &o.binary {
        Some(path) => path.clone(),
        None => release_binary()?,
    };
    let mut samples = Vec::new();
    for run in 1..=o.runs {
        let sample = one_run(&binary, &o, run)?;
        eprintln!("xtask: run {run}: {:.0} instructions per transfer, {:.0} per claim", sample.transfer, sample.claim);
        samples.push(sample);
    }
    let (transfer, transfer_spread) = median_and_spread(samples.iter().map(|s| s.transfer).collect());
    let (claim, claim_spread) = median_and_spread(samples.iter().map(|s| s.claim).collect());
    println!(
        "instructions bench: {} (release, SQLite, under callgrind), one client, keep-alive, one request per {} ms, idle windows subtracted",
        binary.display(),
        o.pace.as_millis()
    );
    println!("marginal cost from windows of N and 3N requests, median of {} runs (spread = (max-min)/median)", o.runs);
    println!("{:<28} {:>16} {:>9}", "", "instructions", "spread");
    println!(
        "{:<28} {:>16.0} {:>8.1}%",
        format!("per balance transfer (N={})", o.transfers),
        transfer,
        transfer_spread
    );
    println!("{:<28} {:>16.0} {:>8.1}%", format!("per link claim (N={})", o.claims), claim, claim_spread);
    Ok(())
}
