//! `cargo xtask bench slowloris`: what 2,000 stalled connections cost everyone
//! else. The release server on SQLite with its default connection limits; `/health`
//! and balance transfers are timed without, then with, 1,000 connections whose
//! headers never end and 1,000 whose bodies never end; then how long until the
//! server has closed every stalled one (the default timeouts are 10 s).

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Result;
use crate::bench::{Http, OPERATOR_KEY, basic, database, measure, release_binary, runtime, start_server};

const STALLED: usize = 2_000;

pub fn slowloris() -> Result {
    let binary = release_binary()?;
    let url = database("sqlite")?;
    let server = start_server(&binary, &url, &[])?;
    let rt = runtime();
    rt.block_on(run(&server.base))
}

async fn run(base: &str) -> Result {
    let http = Http::new(base);
    let app = http.ok("POST", "/v2/apps", &format!("Bearer {OPERATOR_KEY}"), json!({"name": "Bench"})).await;
    let auth = basic(&app);
    http.ok("POST", "/v2/refills", &auth, json!({"amount": 900_000_000_000i64, "currency": "USD"})).await;
    let user = http
        .ok(
            "POST",
            "/v2/users",
            &auth,
            json!({"first_name": "A", "last_name": "B", "email": "a@example.com", "phone_number": "+12015550100"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let address = base.trim_start_matches("http://").to_string();
    println!("slowloris bench: {STALLED} stalled connections; /health and balance transfers, 4 clients, 5 s each");
    println!("{:<34} {:>8} {:>9} {:>9} {:>7}", "", "req/s", "p50 ms", "p99 ms", "errors");
    let report = |label: &str, run: crate::bench::Run| {
        println!(
            "{label:<34} {:>8.0} {:>9.2} {:>9.2} {:>7}",
            run.per_second,
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3,
            run.failed + run.refused
        );
    };
    let health = |http: Http| {
        move |_: usize, _: usize| {
            let http = http.clone();
            async move { http.get_status("/health").await }
        }
    };
    let transfer = |http: Http, auth: String, user: String| {
        move |_: usize, _: usize| {
            let (http, auth, user) = (http.clone(), auth.clone(), user.clone());
            async move {
                let body = json!({"type": "balance", "user_id": user, "amount": 1, "currency": "USD"});
                http.status("POST", "/v2/transfers", &auth, &body).await
            }
        }
    };
    report("/health, no stalled connections", measure(4, 5, health(http.clone())).await);
    report(
        "transfers, no stalled connections",
        measure(4, 5, transfer(http.clone(), auth.clone(), user.clone())).await,
    );
    let opened = Instant::now();
    let mut stalled = Vec::with_capacity(STALLED);
    for i in 0..STALLED {
        let mut stream = TcpStream::connect(&address).await.map_err(|e| format!("connect: {e}"))?;
        let first = if i % 2 == 0 {
            format!("POST /v2/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n")
        } else {
            format!(
                "POST /v2/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n\
                 Content-Length: 1000\r\n\r\n{{\"type\":"
            )
        };
        stream.write_all(first.as_bytes()).await.map_err(|e| e.to_string())?;
        stalled.push(stream);
    }
    println!("({STALLED} stalled connections opened in {:.2} s)", opened.elapsed().as_secs_f64());
    report(&format!("/health, {STALLED} stalled"), measure(4, 5, health(http.clone())).await);
    report(&format!("transfers, {STALLED} stalled"), measure(4, 5, transfer(http.clone(), auth, user)).await);
    let mut last_closed = Duration::ZERO;
    let mut open = 0;
    for stream in &mut stalled {
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
                Err(_) => {
                    open += 1;
                    break;
                }
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => continue,
            }
        }
        last_closed = last_closed.max(opened.elapsed());
    }
    println!(
        "stalled connections still open after 30 s: {open}; the last was closed {:.1} s after the first was opened",
        last_closed.as_secs_f64()
    );
    if open > 0 { Err(format!("{open} stalled connections were never closed")) } else { Ok(()) }
}
