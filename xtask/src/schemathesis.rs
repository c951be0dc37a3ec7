//! `cargo xtask schemathesis`: the API checked from outside against its own
//! contract. Schemathesis (PyPI, pinned) reads `GET /openapi.json` from a live
//! server and sends generated requests, valid and invalid, to every operation; a
//! run fails on any 5xx, on a status the document does not list, on a wrong content
//! type and on a body that does not match its schema. On SQLite and on PostgreSQL;
//! `cargo xtask test` runs it after the Rust tests.
//!
//! Four runs per database, because an operation is reached only with its own
//! credentials: the app's API (HTTP Basic, a fresh app), the operator's `POST
//! /v2/apps` (Bearer operator key), the flow API (Bearer session token of a flow
//! made for a verified payee) and last the app's secret rotation (which ends the
//! credentials the first run uses). Each is bounded by examples and seconds.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::Result;
use crate::bench::{Http, OPERATOR_KEY, basic, database, runtime, start_server};

/// The schemathesis release the suite is pinned to, and the Hypothesis under it
/// (schemathesis accepts any 6.x; a new one must not change a run unannounced).
const VERSION: &str = "4.32.5";
const HYPOTHESIS: &str = "6.170.17";
/// The checks that make a run fail (schemathesis' names).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

/// A virtual environment with schemathesis, kept beside the build (under the target
/// directory), made once.
fn schemathesis() -> Result<PathBuf> {
    let venv = crate::debug_dir().parent().expect("target dir").join("schemathesis-venv");
    let bin = venv.join("bin").join("schemathesis");
    let version_ok = || {
        Command::new(&bin).arg("--version").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(VERSION))
    };
    if version_ok() {
        return Ok(bin);
    }
    let mut make = Command::new("python3");
    make.arg("-m").arg("venv").arg(&venv);
    crate::status(make, "making a Python environment for schemathesis")?;
    let mut pip = Command::new(venv.join("bin").join("pip"));
    pip.args(["install", "--quiet", &format!("schemathesis=={VERSION}"), &format!("hypothesis=={HYPOTHESIS}")]);
    crate::status(pip, &format!("installing schemathesis {VERSION} (PyPI)"))?;
    if version_ok() { Ok(bin) } else { Err("schemathesis did not install".into()) }
}

/// One schemathesis run; its output goes to the console.
struct Run<'a> {
    what: &'a str,
    header: String,
    /// `--include-…`/`--exclude-…` options choosing the operations.
    select: Vec<&'a str>,
    max_examples: u32,
    max_seconds: u32,
}

fn run(bin: &Path, base: &str, r: &Run<'_>) -> Result {
    let mut st = Command::new(bin);
    st.arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &r.max_examples.to_string()])
        .args(["--max-time", &r.max_seconds.to_string()])
        // One worker: with two threads, Hypothesis' `ast.parse` of a lambda's source
        // (describing a filtered strategy) races in CPython 3.11's shared AST state and
        // fails the run with "AST constructor recursion depth mismatch" (CPython
        // gh-106905; seen on a fresh machine, 2026-12-01). The runs are time-bounded.
        .args(["--workers", "1", "--request-timeout", "10"])
        .args(["--header", &r.header])
        .args(&r.select)
        .env("NO_COLOR", "1");
    eprintln!("xtask: schemathesis: {}", r.what);
    let ok = st.status().is_ok_and(|s| s.success());
    if ok { Ok(()) } else { Err(format!("schemathesis found failures in {}", r.what)) }
}

pub fn schemathesis_suite(binary: &Path) -> Result {
    let bin = schemathesis()?;
    for backend in ["sqlite", "postgres"] {
        let url = database(backend)?;
        let server = start_server(binary, &url, &[("DOTS_SMS_PER_CLIENT_PER_HOUR", "100000000")])?;
        let (app, flow_token) = runtime().block_on(setup(&server.base))?;
        let operator = format!("Authorization: Bearer {OPERATOR_KEY}");
        let runs = [
            Run {
                what: &format!("{backend}: the app API (/v2, Basic)"),
                header: format!("Authorization: {app}"),
                // The event stream never ends (server/tests/event_stream.rs tests it).
                select: vec![
                    "--include-path-regex",
                    "^/v2/",
                    "--exclude-path",
                    "/v2/apps/me/secret/rotate",
                    "--exclude-path",
                    "/v2/events/stream",
                ],
                max_examples: 20,
                max_seconds: 60,
            },
            Run {
                what: &format!("{backend}: the operator API (POST /v2/apps, Bearer)"),
                header: operator,
                select: vec!["--include-path", "/v2/apps", "--include-method", "POST"],
                max_examples: 20,
                max_seconds: 10,
            },
            Run {
                what: &format!("{backend}: the flow API (/flow/v1, Bearer session)"),
                header: format!("Authorization: Bearer {flow_token}"),
                select: vec!["--include-path-regex", "^/flow/v1/"],
                max_examples: 20,
                max_seconds: 40,
            },
            Run {
                what: &format!("{backend}: the app's secret rotation"),
                header: format!("Authorization: {app}"),
                select: vec!["--include-path", "/v2/apps/me/secret/rotate"],
                max_examples: 10,
                max_seconds: 10,
            },
        ];
        for r in &runs {
            run(&bin, &server.base, r)?;
        }
        drop(server);
        let check = Command::new(binary)
            .args(["ledger", "check"])
            .env("DATABASE_URL", &url)
            .output()
            .map_err(|e| e.to_string())?;
        if !check.status.success() {
            return Err(format!(
                "the ledger check failed after schemathesis on {backend}: {}",
                String::from_utf8_lossy(&check.stdout)
            ));
        }
    }
    Ok(())
}

/// A funded app with a user, and a flow session for that user: the app's Basic
/// credentials and the session token.
async fn setup(base: &str) -> Result<(String, String)> {
    let http = Http::new(base);
    let app = http.ok("POST", "/v2/apps", &format!("Bearer {OPERATOR_KEY}"), json!({"name": "Schemathesis"})).await;
    let auth = basic(&app);
    http.ok("POST", "/v2/refills", &auth, json!({"amount": 1_000_000, "currency": "USD"})).await;
    let user = http
        .ok(
            "POST",
            "/v2/users",
            &auth,
            json!({"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "phone_number": "+12015550199"}),
        )
        .await;
    let user_id = user["id"].as_str().ok_or("no user id")?;
    let flow = http
        .ok(
            "POST",
            "/v2/flows",
            &auth,
            json!({"steps": ["verify_phone", "compliance", "payout_method"], "user_id": user_id}),
        )
        .await;
    let token = flow["token"].as_str().ok_or("no flow token")?.to_string();
    Ok((auth, token))
}
