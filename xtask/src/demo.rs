//! `cargo xtask run`: the whole thing on the embedded default — the Dots server
//! (SQLite file `./dots.db`, widget and dashboard embedded) and the example host
//! site for two demo apps with different brands, each served by the example
//! merchant backend; each app's dashboard owner is invited (the link is printed).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bench::{Http, basic, runtime};
use crate::{Result, build_widget, cargo, debug_dir, flag_value, status, workspace_root};

/// The operator key `cargo xtask run` uses unless `DOTS_OPERATOR_KEY` is set. For a
/// local demo only: the server listens on 127.0.0.1.
const DEV_OPERATOR_KEY: &str = "dots-dev-operator-key-for-the-demo-only";

/// The demo apps (the browser tests use the same two): name, brand, and the port
/// of its host site.
fn demo_apps() -> [(&'static str, Value, u16); 2] {
    let [(acme, acme_brand), (zest, zest_brand)] = dots_e2e::demo_apps();
    [(acme, acme_brand, 8081), (zest, zest_brand, 8082)]
}

/// Children killed when `run` ends, however it ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn run(flags: &[String]) -> Result {
    build_widget()?;
    let mut build = cargo();
    build.args(["build", "-p", "dots-server", "-p", "dots-merchant", "--bins"]);
    status(build, "building the server and the example merchant")?;
    let operator_key = std::env::var("DOTS_OPERATOR_KEY").unwrap_or_else(|_| DEV_OPERATOR_KEY.into());
    let database_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://dots.db".into());
    let listen = flag_value(flags, "--listen")
        .unwrap_or_else(|| std::env::var("DOTS_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into()));
    let dots_url = format!("http://{listen}");
    let mut children = Children(Vec::new());
    let mut serve = Command::new(debug_dir().join("dots"));
    serve
        .current_dir(workspace_root())
        .arg("serve")
        .args(flags)
        .env("DOTS_LISTEN", &listen)
        .env("DOTS_OPERATOR_KEY", &operator_key)
        .env("DATABASE_URL", &database_url);
    children.0.push(serve.spawn().map_err(|e| format!("dots serve: {e}"))?);
    wait_for(&listen, "dots serve")?;

    let mut sites = Vec::new();
    for (name, brand, port) in demo_apps() {
        let app = runtime().block_on(demo_app(&dots_url, &operator_key, name, &brand, port))?;
        let site = format!("127.0.0.1:{port}");
        let merchant = Command::new(debug_dir().join("merchant"))
            .env("DOTS_URL", &dots_url)
            .env("DOTS_CLIENT_ID", app["client_id"].as_str().unwrap_or_default())
            .env("DOTS_API_SECRET", app["api_secret"].as_str().unwrap_or_default())
            .env("MERCHANT_LISTEN", &site)
            .env("MERCHANT_NAME", name)
            .spawn()
            .map_err(|e| format!("merchant: {e}"))?;
        children.0.push(merchant);
        wait_for(&site, name)?;
        let credentials =
            format!("{}:{}", app["client_id"].as_str().unwrap_or(""), app["api_secret"].as_str().unwrap_or(""));
        sites.push((name, site, credentials, app["owner_invitation"].clone()));
    }
    println!();
    println!("  Dots API        {dots_url}   (health: {dots_url}/health)");
    println!("  database        {database_url}");
    println!("  operator key    {operator_key}   (POST /v2/apps with Authorization: Bearer <key>)");
    for (name, site, _, _) in &sites {
        println!("  demo host site  http://{site}   ({name}: the widget in a modal or inline, payout links)");
    }
    // Sandbox-only demo apps on a loopback server: their credentials are printed so
    // the codes the widget asks for can be read from the dev outbox.
    for (name, _, credentials, _) in &sites {
        println!("  {name} codes: curl -su '{credentials}' {dots_url}/v2/dev/sms | jq -r '.data[0].body'");
    }
    for (name, _, _, owner) in &sites {
        let (email, url) = (owner["email"].as_str().unwrap_or(""), owner["url"].as_str().unwrap_or(""));
        println!("  {name} dashboard: join as {email} at {url}");
    }
    println!("  walk-through    README.md, \"Try it with curl\"");
    println!();
    let status = children.0[0].wait().map_err(|e| format!("dots serve: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("dots serve exited ({status})")) }
}

fn wait_for(addr: &str, what: &str) -> Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not start on {addr}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A demo app: created with the operator key, branded, allowed on its host site's
/// origin, and funded with $10,000.00 of sandbox money.
async fn demo_app(dots_url: &str, operator_key: &str, name: &str, brand: &Value, port: u16) -> Result<Value> {
    let http = Http::new(dots_url);
    let operator = format!("Bearer {operator_key}");
    let app = http
        .try_ok("POST", "/v2/apps", &operator, json!({"name": name}))
        .await
        .ok_or("creating a demo app failed (is DOTS_OPERATOR_KEY the server's?)")?;
    let auth = basic(&app);
    let settings = json!({"brand": brand, "allowed_origins": [format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")]});
    http.try_ok("PUT", "/v2/apps/me/settings", &auth, settings).await.ok_or("branding a demo app failed")?;
    http.try_ok("POST", "/v2/refills", &auth, json!({"amount": 1_000_000, "currency": "USD"}))
        .await
        .ok_or("funding a demo app failed")?;
    // The dashboard's first owner: the operator's invitation (its link is printed;
    // without SMTP no email goes).
    let email = format!("owner@{}.example", name.split(' ').next().unwrap_or("demo").to_lowercase());
    let invited = http
        .try_ok(
            "POST",
            &format!("/v2/apps/{}/invitations", app["id"].as_str().unwrap_or("")),
            &operator,
            json!({"email": email, "role": "owner"}),
        )
        .await
        .ok_or("inviting a demo app's owner failed")?;
    let mut app = app;
    app["owner_invitation"] = json!({"email": email, "url": invited["url"]});
    Ok(app)
}
