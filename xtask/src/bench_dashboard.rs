//! `cargo xtask bench dashboard`: what the dashboard costs its first visit.
//!
//! - Transfer size: the page and every file it loads (stylesheet, boot script,
//!   wasm-bindgen glue, wasm), fetched from the release server with
//!   `Accept-Encoding: br`, counted as sent. Budget: 350 KB in total.
//! - Time from navigation to the sign-in form's email field, in headless Chromium,
//!   with an empty cache each run: on this machine's loopback, and on Lighthouse's
//!   throttled mobile network (150 ms round trip, 1.6 Mbit/s down).

use dots_e2e::browser::Browser;
use dots_e2e::{Backend, Server, TestDatabase};
use serde_json::json;

use crate::bench_widget::{print_sizes, transfer_sizes};
use crate::{Result, build_widget, cargo, debug_dir, ensure_test_packages, status};

/// The most the dashboard's first load may weigh, brotli, all files together.
const BUDGET_BYTES: usize = 350 * 1024;

/// Records, in the page, when the email field first exists (ms since navigation start).
const FIRST_INPUT: &str = "new MutationObserver((_, o) => { if (document.getElementById('email')) { \
     window.dashboardFirstInput = performance.now(); o.disconnect(); } }).observe(document, {subtree: true, childList: true});";

pub fn dashboard(args: &[String]) -> Result {
    let runs: usize = match args {
        [] => 5,
        [flag, n] if flag == "--runs" => n.parse().map_err(|_| "--runs takes a number")?,
        _ => return Err("usage: cargo xtask bench dashboard [--runs 5]".into()),
    };
    ensure_test_packages()?;
    build_widget()?;
    let mut build = cargo();
    build.args(["build", "--release", "-p", "dots-server", "--bin", "dots"]);
    status(build, "building the release server")?;
    let release = debug_dir().parent().expect("target dir").join("release");
    let db = TestDatabase::new(Backend::Sqlite);
    let server = Server::start_binary(release.join("dots"), &db.url, &[]);
    let (_, page) = server.request("GET", "/dashboard/sign-in", None, None);
    let asset = |file: &str| {
        page.split('"')
            .find(|part| part.starts_with("/dashboard-assets/") && part.ends_with(file))
            .map(str::to_string)
            .ok_or_else(|| format!("the dashboard's page loads no {file}"))
    };
    let files = [
        ("page", "/dashboard/sign-in".to_string()),
        ("dashboard.css", asset("dashboard.css")?),
        ("boot.js", asset("boot.js")?),
        ("wasm-bindgen glue", asset("dots_dashboard.js")?),
        ("wasm", asset("dots_dashboard_bg.wasm")?),
    ];
    let sizes = transfer_sizes(&server, &files)?;

    let browser = Browser::start();
    browser.cdp("Network.enable", json!({}));
    browser.cdp("Page.addScriptToEvaluateOnNewDocument", json!({"source": FIRST_INPUT}));
    let mut measured = Vec::new();
    for (name, conditions) in [
        ("loopback", json!({"offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})),
        (
            "throttled mobile (150 ms RTT, 1.6 Mbit/s)",
            json!({"offline": false, "latency": 150, "downloadThroughput": 200_000, "uploadThroughput": 93_750}),
        ),
    ] {
        browser.cdp("Network.emulateNetworkConditions", conditions);
        let mut times = Vec::new();
        for _ in 0..runs {
            browser.cdp("Network.clearBrowserCache", json!({}));
            browser.goto(&format!("{}/dashboard/sign-in", server.url));
            let at = browser.wait_until("window.dashboardFirstInput", "the sign-in form");
            times.push(at.as_f64().unwrap_or(f64::NAN));
        }
        times.sort_by(f64::total_cmp);
        measured.push((name, times));
    }
    drop(browser);

    let total = print_sizes("dashboard", &sizes, BUDGET_BYTES);
    println!("navigation → sign-in form, headless Chromium, empty cache, {runs} runs each:");
    for (name, times) in measured {
        println!("  {name}: median {:.0} ms, max {:.0} ms", times[times.len() / 2], times[times.len() - 1]);
    }
    if total > BUDGET_BYTES {
        return Err(format!("the dashboard weighs {total} bytes brotli, over the {BUDGET_BYTES}-byte budget"));
    }
    Ok(())
}
