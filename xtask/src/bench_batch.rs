//! `cargo xtask bench batch`: how long one payout batch of 1,000 items takes on the
//! release server, on SQLite and on PostgreSQL. Two kinds of batch: 1,000 payouts to
//! known, verified payees (each funded from the app wallet: a balance transfer and a
//! payout per item) and 1,000 payout links by phone. Each is timed from the request
//! to its answer (every item made, committed), three times; the median is printed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Result;
use crate::bench::{Http, OPERATOR_KEY, basic, database, release_binary, runtime, start_server};

const ITEMS: usize = 1_000;
const RUNS: usize = 3;

pub fn batch(args: &[String]) -> Result {
    let backends: Vec<&str> = match args {
        [] => vec!["sqlite", "postgres"],
        [flag, value] if flag == "--backend" && (value == "sqlite" || value == "postgres") => vec![value.as_str()],
        _ => return Err("usage: cargo xtask bench batch [--backend sqlite|postgres]".into()),
    };
    let binary = release_binary()?;
    let rt = runtime();
    println!("batch bench: one POST /v2/payout-batches of {ITEMS} items, {RUNS} runs, median (and spread)");
    println!("{:<10} {:<28} {:>10} {:>12} {:>20}", "database", "batch", "seconds", "items/s", "runs (s)");
    for backend in backends {
        let url = database(backend)?;
        let server = start_server(&binary, &url, &[("DOTS_SMS_PER_CLIENT_PER_HOUR", "100000000")])?;
        let results = rt.block_on(runs(&server.base))?;
        for (what, mut times) in results {
            times.sort();
            let median = times[times.len() / 2];
            let runs: Vec<String> = times.iter().map(|t| format!("{:.2}", t.as_secs_f64())).collect();
            println!(
                "{:<10} {:<28} {:>10.2} {:>12.0} {:>20}",
                backend,
                what,
                median.as_secs_f64(),
                ITEMS as f64 / median.as_secs_f64(),
                runs.join(" ")
            );
        }
    }
    Ok(())
}

async fn runs(base: &str) -> Result<Vec<(&'static str, Vec<Duration>)>> {
    let http = Http::new(base);
    let app = http.ok("POST", "/v2/apps", &format!("Bearer {OPERATOR_KEY}"), json!({"name": "Bench"})).await;
    let auth = basic(&app);
    http.ok("POST", "/v2/refills", &auth, json!({"amount": 900_000_000_000i64, "currency": "USD"})).await;
    let payees = payees(&http, &auth).await?;
    let (mut payouts, mut links) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let items: Vec<Value> =
            payees.iter().map(|user| json!({"user_id": user, "amount": 100, "currency": "USD"})).collect();
        payouts.push(timed(&http, &auth, &format!("payouts-{run}"), items).await?);
        let items: Vec<Value> = (0..ITEMS)
            .map(
                |i| json!({"amount": 100, "currency": "USD", "phone_number": format!("+1415{:03}{:04}", 200 + run, i)}),
            )
            .collect();
        links.push(timed(&http, &auth, &format!("links-{run}"), items).await?);
    }
    Ok(vec![("1,000 payouts to payees", payouts), ("1,000 payout links", links)])
}

async fn timed(http: &Http, auth: &str, key: &str, items: Vec<Value>) -> Result<Duration> {
    let started = Instant::now();
    let (status, answer) = http.call_keyed("POST", "/v2/payout-batches", auth, key, &json!({"items": items})).await;
    let took = started.elapsed();
    if status != 201 || answer["items"].as_array().map(Vec::len) != Some(ITEMS) {
        return Err(format!(
            "the batch was not made: {status} {}",
            answer.to_string().chars().take(400).collect::<String>()
        ));
    }
    Ok(took)
}

/// `ITEMS` payees who proved their phone and added a bank account, made 32 at a time.
async fn payees(http: &Http, auth: &str) -> Result<Vec<String>> {
    let mut made = Vec::with_capacity(ITEMS);
    for chunk in (0..ITEMS).collect::<Vec<_>>().chunks(32) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let (http, auth) = (http.clone(), auth.to_string());
                tokio::spawn(async move { payee(&http, &auth, i).await })
            })
            .collect();
        for task in tasks {
            made.push(task.await.map_err(|e| e.to_string())?.ok_or("a bench payee could not be set up")?);
        }
    }
    Ok(made)
}

async fn payee(http: &Http, auth: &str, i: usize) -> Option<String> {
    let phone = format!("+1201{:03}{:04}", 300 + i / 10_000, i % 10_000);
    let user = http
        .try_ok(
            "POST",
            "/v2/users",
            auth,
            json!({"first_name": "Bench", "last_name": format!("Payee {i}"), "email": format!("p{i}@example.com"), "phone_number": phone}),
        )
        .await?;
    let id = user["id"].as_str()?.to_string();
    http.try_ok("POST", &format!("/v2/users/{id}/verification"), auth, json!({})).await?;
    let outbox = http.get_json(&format!("/v2/dev/sms?phone_number={}", phone.replace('+', "%2B")), auth).await;
    let code = outbox["data"][0]["body"].as_str()?.split("code: ").nth(1)?.get(..6)?.to_string();
    http.try_ok("POST", &format!("/v2/users/{id}/verification/check"), auth, json!({"code": code})).await?;
    let bank = json!({"type": "bank", "routing_number": "011000015", "account_number": "000123456789"});
    http.try_ok("POST", &format!("/v2/users/{id}/payout-methods"), auth, bank).await?;
    Some(id)
}
