//! `cargo xtask bench export`: a million ledger transactions exported as CSV by the
//! release server on SQLite (`GET /v2/exports/transactions.csv`), with the server's
//! resident memory sampled every 50 ms during the export (budget: at most 50 MB of
//! growth), the rows read back by Python's `csv` module and their sum checked
//! against the app's wallet. The rows are made through the API first (refills of
//! 1 to 1,000 cents, 64 at a time): each is one transfer and one transaction.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dots_e2e::{Backend, Server, TestDatabase, create_named_app};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::bench::{Http, runtime};
use crate::{Result, cargo, debug_dir, status};

const BUDGET_BYTES: u64 = 50 * 1024 * 1024;

/// A line of the server's /proc status (`VmRSS`, `RssAnon`), in bytes.
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.strip_prefix(':')))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The server's resident memory (VmRSS: heap and mapped files) and its heap alone (RssAnon).
fn rss(pid: u32) -> (u64, u64) {
    (memory(pid, "VmRSS"), memory(pid, "RssAnon"))
}

pub fn export(args: &[String]) -> Result {
    let rows: u64 = match args {
        [] => 1_000_000,
        [flag, n] if flag == "--rows" => n.parse().map_err(|_| "--rows takes a number")?,
        _ => return Err("usage: cargo xtask bench export [--rows 1000000]".into()),
    };
    let mut build = cargo();
    build.args(["build", "--release", "-p", "dots-server", "--bin", "dots"]);
    status(build, "building the release server")?;
    let release = debug_dir().parent().expect("target dir").join("release");
    let db = TestDatabase::new(Backend::Sqlite);
    let server = Server::start_binary(release.join("dots"), &db.url, &[("DOTS_LOG", "warn")]);
    let app = create_named_app(&server, "Export bench");

    // The rows: refills through the API.
    let made = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (failed, expected_sum) = runtime().block_on(async {
        let http = Http::new(&server.url);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (http, made, auth) = (http.clone(), made.clone(), app.basic.clone());
                tokio::spawn(async move {
                    let (mut failed, mut sum) = (0u64, 0u64);
                    loop {
                        let n = made.fetch_add(1, Ordering::Relaxed);
                        if n >= rows {
                            return (failed, sum);
                        }
                        let amount = 1 + n % 1_000;
                        let body = json!({"amount": amount, "currency": "USD"});
                        let (code, _) =
                            http.call_keyed("POST", "/v2/refills", &auth, &format!("seed-{n}"), &body).await;
                        if code == 201 { sum += amount } else { failed += 1 }
                    }
                })
            })
            .collect();
        let (mut failed, mut sum) = (0, 0);
        for task in tasks {
            let (f, s) = task.await.map_err(|e| e.to_string())?;
            (failed, sum) = (failed + f, sum + s);
        }
        Ok::<_, String>((failed, sum))
    })?;
    let seeded = started.elapsed();
    if failed > 0 {
        return Err(format!("{failed} refills failed while making the rows"));
    }
    println!(
        "made {rows} transactions through the API in {:.0} s ({:.0}/s)",
        seeded.as_secs_f64(),
        rows as f64 / seeded.as_secs_f64()
    );

    // The export, with the server's memory sampled meanwhile.
    let pid = server.pid();
    std::thread::sleep(Duration::from_secs(2));
    let baseline = rss(pid);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = (0, 0);
            while !done.load(Ordering::Relaxed) {
                let now = rss(pid);
                peak = (peak.0.max(now.0), peak.1.max(now.1));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    let file = std::env::temp_dir().join(format!("dots-export-bench-{}.csv", std::process::id()));
    let started = Instant::now();
    let bytes = runtime().block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<hyper::body::Bytes>>();
        let request = hyper::Request::get(format!("{}/v2/exports/transactions.csv", server.url))
            .header("authorization", &app.basic)
            .body(Empty::new())
            .expect("request");
        let response = client.request(request).await.map_err(|e| format!("the export: {e}"))?;
        if response.status() != 200 {
            return Err(format!("the export answered {}", response.status()));
        }
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(|e| e.to_string())?);
        let mut body = response.into_body();
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("the export broke off: {e}"))?;
            if let Ok(data) = frame.into_data() {
                bytes += data.len() as u64;
                out.write_all(&data).map_err(|e| e.to_string())?;
            }
        }
        out.flush().map_err(|e| e.to_string())?;
        Ok::<_, String>(bytes)
    })?;
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let peak = sampler.join().map_err(|_| "the memory sampler failed")?;

    // Read back by a standard CSV reader; the sum is the wallet's.
    let read = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv, sys\nr = csv.DictReader(open(sys.argv[1], newline=''))\nn = s = 0\nfor row in r:\n    n += 1; s += int(row['amount'])\nprint(n, s)",
        ])
        .arg(&file)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let _ = std::fs::remove_file(&file);
    let read = String::from_utf8_lossy(&read.stdout).trim().to_string();
    let (count, sum) = read.split_once(' ').ok_or(format!("python3 could not read the CSV: {read}"))?;
    let (count, sum): (u64, u64) = (count.parse().unwrap_or(0), sum.parse().unwrap_or(0));
    let wallet = dots_e2e::call(&server, "GET", "/v2/apps/me/wallet", &app.basic, json!(null))["available"].as_u64();
    let growth = peak.0.saturating_sub(baseline.0);
    println!();
    println!("export of {count} transactions (SQLite, release server):");
    println!(
        "  {:.1} MB of CSV in {:.1} s ({:.0} rows/s)",
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );
    println!(
        "  server RSS {:.1} MB before, {:.1} MB at most during: growth {:.1} MB (budget {} MB: {}); of it heap {:.1} → {:.1} MB",
        baseline.0 as f64 / 1048576.0,
        peak.0 as f64 / 1048576.0,
        growth as f64 / 1048576.0,
        BUDGET_BYTES / 1048576,
        if growth <= BUDGET_BYTES { "within" } else { "OVER" },
        baseline.1 as f64 / 1048576.0,
        peak.1 as f64 / 1048576.0,
    );
    println!(
        "  read back by Python's csv: {count} rows, amounts summing to {sum} (the wallet holds {wallet:?}; made {expected_sum})"
    );
    if count != rows || Some(sum) != wallet || sum != expected_sum {
        return Err("the export does not add up to the ledger".into());
    }
    if growth > BUDGET_BYTES {
        return Err(format!("the server grew {growth} bytes during the export, over the budget"));
    }
    Ok(())
}
