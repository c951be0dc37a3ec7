//! `cargo xtask bench widget`: what the Flow widget costs a payee.
//!
//! - Transfer size: every file a first visit downloads (loader, frame page, boot
//!   script, stylesheet, wasm-bindgen glue, wasm), fetched from the release server
//!   with `Accept-Encoding: br`, counted as sent. Budget: 120 KB in total.
//! - Time from `open()` to an interactive phone field: the example host site in
//!   headless Chromium calls `Dots.create(…).open()`; the widget reports `OPEN` once
//!   its first field has focus. The first run has an empty browser cache (cold),
//!   the others a warm one; each run is a new iframe.
//! - A payout link's page on a throttled mobile connection (Lighthouse's mobile
//!   profile: 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up, applied by
//!   Chromium's network emulation; no CPU slowdown): from navigation start to the
//!   phone field in the page, each run a new link with an empty cache. Budget 1.0 s.

use std::time::Duration;

use dots_e2e::browser::Browser;
use dots_e2e::{Backend, Merchant, Server, TestDatabase, call, create_named_app};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::bench::runtime;
use crate::{Result, build_widget, cargo, debug_dir, ensure_test_packages, status};

/// The most the widget may weigh, brotli, all files together.
const BUDGET_BYTES: usize = 120 * 1024;

/// Lighthouse's throttled mobile network, as DevTools takes it (bytes per second).
const MOBILE: (u64, u64, u64) = (150, 1_600_000 / 8, 750_000 / 8);

/// Records, in the page, when the phone field first exists (ms since navigation start).
const FIRST_INPUT: &str = "new MutationObserver((_, o) => { if (document.getElementById('dots-phone')) { \
     window.dotsFirstInput = performance.now(); o.disconnect(); } }).observe(document, {subtree: true, childList: true});";

/// Each file as a browser taking brotli gets it: its name, bytes sent and encoding.
pub fn transfer_sizes<'a>(server: &Server, files: &[(&'a str, String)]) -> Result<Vec<(&'a str, usize, String)>> {
    runtime().block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<hyper::body::Bytes>>();
        let mut sizes = Vec::new();
        for (name, path) in files {
            let request = hyper::Request::get(format!("{}{path}", server.url))
                .header("accept-encoding", "br")
                .body(Empty::new())
                .expect("request");
            let response = client.request(request).await.map_err(|e| format!("GET {path}: {e}"))?;
            let encoding = response.headers().get("content-encoding").map(|v| v.to_str().unwrap_or("").to_string());
            let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            sizes.push((*name, body.len(), encoding.unwrap_or_else(|| "identity".into())));
        }
        Ok(sizes)
    })
}

/// Prints the sizes and their total against `budget` bytes.
pub fn print_sizes(what: &str, sizes: &[(&str, usize, String)], budget: usize) -> usize {
    let total: usize = sizes.iter().map(|(_, n, _)| n).sum();
    println!();
    println!("{what} transfer size (brotli as served):");
    for (name, bytes, encoding) in sizes {
        println!("  {name:<24} {:>8.1} KB  ({encoding})", *bytes as f64 / 1024.0);
    }
    println!(
        "  {:<24} {:>8.1} KB  (budget {} KB: {})",
        "total",
        total as f64 / 1024.0,
        budget / 1024,
        if total <= budget { "within" } else { "OVER" }
    );
    total
}

pub fn widget(args: &[String]) -> Result {
    let runs: usize = match args {
        [] => 10,
        [flag, n] if flag == "--runs" => n.parse().map_err(|_| "--runs takes a number")?,
        _ => return Err("usage: cargo xtask bench widget [--runs 10]".into()),
    };
    ensure_test_packages()?;
    build_widget()?;
    let mut build = cargo();
    build.args(["build", "--release", "-p", "dots-server", "-p", "dots-merchant", "--bins"]);
    status(build, "building the release server and the example merchant")?;
    let release = debug_dir().parent().expect("target dir").join("release");
    let db = TestDatabase::new(Backend::Sqlite);
    let server = Server::start_binary(release.join("dots"), &db.url, &[]);

    let manifest = call(&server, "GET", "/widget/v1/manifest.json", "", json!(null));
    let files = [
        ("loader dots.js", "/widget/v1/dots.js".to_string()),
        ("page (claim or frame)", "/claim/plt_bench".to_string()),
        ("frame.js", manifest["frame"].as_str().unwrap_or_default().to_string()),
        ("widget.css", manifest["css"].as_str().unwrap_or_default().to_string()),
        ("wasm-bindgen glue", manifest["js"].as_str().unwrap_or_default().to_string()),
        ("wasm", manifest["wasm"].as_str().unwrap_or_default().to_string()),
    ];
    let sizes = transfer_sizes(&server, &files)?;
    let total: usize = sizes.iter().map(|(_, n, _)| n).sum();

    let app = create_named_app(&server, "Bench");
    let merchant = Merchant::start(&server, &app, "Bench");
    call(&server, "PUT", "/v2/apps/me/settings", &app.basic, json!({"allowed_origins": [merchant.url]}));
    let browser = Browser::start();
    browser.goto(&merchant.url);
    let mut times_ms = Vec::new();
    for run in 0..runs {
        browser.exec("window.dotsLog = []; document.getElementById('open-modal').click();", json!([]));
        let open = browser.wait_until("window.dotsLog.find(e => e.name == 'event:OPEN')", "the widget to open");
        let focused = open["data"]["focused"].as_str().unwrap_or_default().to_string();
        if focused != "dots-phone" {
            return Err(format!("run {run}: the widget opened with {focused:?} focused, not the phone field"));
        }
        let elapsed =
            browser.exec("return window.dotsLog.find(e => e.name == 'event:OPEN').at - window.dotsOpenedAt", json!([]));
        times_ms.push(elapsed.as_f64().unwrap_or(f64::NAN));
        std::thread::sleep(Duration::from_millis(200));
    }

    // The link page, throttled, cold each time.
    let (latency, down, up) = MOBILE;
    browser.cdp("Network.enable", json!({}));
    browser.cdp(
        "Network.emulateNetworkConditions",
        json!({"offline": false, "latency": latency, "downloadThroughput": down, "uploadThroughput": up}),
    );
    browser.cdp("Page.addScriptToEvaluateOnNewDocument", json!({"source": FIRST_INPUT}));
    let mut page_ms = Vec::new();
    for run in 0..runs.min(5) {
        let link = call(
            &server,
            "POST",
            "/v2/payout-links",
            &app.basic,
            json!({"amount": 1250, "currency": "USD", "phone_number": format!("+1415555{:04}", 2600 + run)}),
        );
        browser.cdp("Network.clearBrowserCache", json!({}));
        browser.goto(link["url"].as_str().ok_or("a link URL")?);
        let at = browser.wait_until("window.dotsFirstInput", "the link page's phone field");
        page_ms.push(at.as_f64().unwrap_or(f64::NAN));
    }
    drop(browser);

    print_sizes("widget", &sizes, BUDGET_BYTES);
    let cold = times_ms[0];
    let mut warm = times_ms[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    let pick = |p: f64| warm.get(((warm.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN);
    println!("open() → interactive phone field, headless Chromium, {runs} runs:");
    println!(
        "  cold (empty cache) {cold:.0} ms; warm median {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        pick(0.5),
        pick(0.9),
        pick(1.0)
    );
    page_ms.sort_by(f64::total_cmp);
    println!(
        "payout link page → phone field, throttled mobile ({latency} ms RTT, {:.1} Mbit/s down), cold, {} runs:",
        down as f64 * 8.0 / 1e6,
        page_ms.len()
    );
    println!(
        "  median {:.0} ms, max {:.0} ms (budget 1000 ms: {})",
        page_ms[page_ms.len() / 2],
        page_ms[page_ms.len() - 1],
        if page_ms[page_ms.len() / 2] <= 1000.0 { "within" } else { "OVER" }
    );
    if total > BUDGET_BYTES {
        return Err(format!("the widget weighs {total} bytes brotli, over the {BUDGET_BYTES}-byte budget"));
    }
    Ok(())
}
