//! The dashboard in a real browser (headless Chromium over WebDriver), as an app's
//! team uses it: the operator invites the first owner, who joins, turns on
//! two-factor sign-in and signs in with it, and invites an admin and a reviewer
//! (their invitations read from this test's SMTP server). The admin adds a user
//! and sends a payout link, a second browser claims it, and the admin's transfer
//! list shows it completed without a reload. The reviewer approves a held payout
//! but has no way to make one, and the server refuses a forged one (403
//! `permission`); a cross-site form post is refused; a signed-out session's cookie
//! opens nothing; five wrong passwords lock the account; a forgotten password is
//! reset by email. The operator signs in to its console with the operator key, makes
//! an app and its owner, suspends it (its API answers 403 `app_suspended`, its claim
//! page says payouts are paused) and resumes it; the owner edits the brand and the
//! preview — the real widget — changes colour before saving, then a new flow shows the
//! saved brand. Every page is screenshot light and dark, desktop and phone, and
//! checked with axe-core; the audit log holds a row for every change made.

use std::time::{SystemTime, UNIX_EPOCH};

use dots_e2e::browser::{Browser, shoot};
use dots_e2e::mail::SmtpServer;
use dots_e2e::{
    AppCredentials, Backend, OPERATOR_KEY, Server, TestDatabase, WebhookReceiver, call, create_named_app, demo_apps,
    free_port, http_request_with, last_code, ledger_check, verified_payee,
};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// The refusal under a form once its answer came (its button is pressable again).
const ANSWERED: &str = "!document.querySelector('main button[type=submit]').disabled \
     && document.querySelector('main .error')?.innerText";

/// The authenticator's code for a base32 secret at a 30-second step: what an
/// authenticator app shows (the server's RFC 6238 code, checked against the RFC's
/// vectors in its unit tests).
fn totp(secret: &str, step: u64) -> String {
    let key = dots_server::members::base32_decode(secret).expect("a base32 secret");
    dots_server::members::totp_code(&key, step as i64)
}

fn step_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 30
}

/// Waits until the page's heading reads `title` and nothing is loading.
fn at_page(browser: &Browser, title: &str) {
    browser.wait_until(
        &format!(
            "!document.querySelector('.loading') && document.querySelector('main h1')?.innerText == {title:?} ? true : null"
        ),
        &format!("the page “{title}”"),
    );
}

/// Follows the navigation's link to `path` (under /dashboard) and waits for its page.
fn open(browser: &Browser, path: &str, title: &str) {
    let path = if path == "/" { "" } else { path };
    browser.click(&format!("nav a[href='/dashboard{path}']"));
    at_page(browser, title);
}

/// Sets a `<select>` as a person choosing an option does.
fn choose(browser: &Browser, css: &str, value: &str) {
    browser.exec(
        "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
         s.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([css, value]),
    );
}

/// The second factor a sign-in gives, once two-factor sign-in is on.
#[derive(Clone, Copy)]
enum Factor<'a> {
    None,
    /// The authenticator's code, from this secret.
    Totp(&'a str),
    /// One of the recovery codes.
    Recovery(&'a str),
}

fn sign_in(browser: &Browser, email: &str, password: &str, factor: Factor) {
    browser.wait_for("#email");
    browser.type_into("#email", email);
    browser.type_into("#password", password);
    browser.click("main button[type=submit]");
    let code = match factor {
        Factor::None => None,
        // The next step's code: the current one may have been used to turn it on
        // (each step's code works once), and the server takes one step either side.
        Factor::Totp(secret) => Some(totp(secret, step_now() + 1)),
        Factor::Recovery(code) => Some(code.to_string()),
    };
    if let Some(code) = code {
        browser.wait_for("#code");
        browser.type_into("#code", &code);
        browser.click("main button[type=submit]");
    }
    at_page(browser, "Overview");
}

/// Opens an invitation's link and joins with a new password; the sign-in page follows.
fn join(browser: &Browser, url: &str) {
    browser.goto(url);
    browser.wait_for("#new-password");
    browser.type_into("#new-password", PASSWORD);
    browser.click("main button[type=submit]");
    browser.wait_until("document.querySelector('.banner.good')?.innerText", "the joined notice");
}

/// Turns on two-factor sign-in from the Security page; answers the secret and the
/// recovery codes.
fn turn_on_two_factor(browser: &Browser) -> (String, Vec<String>) {
    open(browser, "/security", "Security");
    browser.click("main button.primary");
    browser.wait_for("#totp-secret");
    let secret = browser.text("#totp-secret");
    browser.type_into("#totp-code", &totp(&secret, step_now()));
    browser.click("main button[type=submit]");
    browser.wait_for("#recovery-codes");
    let codes =
        browser.exec("return [...document.querySelectorAll('#recovery-codes code')].map(c => c.innerText)", json!([]));
    let codes: Vec<String> = codes.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10, "ten recovery codes");
    (secret, codes)
}

/// The invitation emailed to `email`: its link.
fn invitation(smtp: &SmtpServer, server: &Server, email: &str) -> String {
    let token = smtp.wait_for(email, "/dashboard/accept#").token_after("/dashboard/accept#").expect("a token");
    format!("{}/dashboard/accept#{token}", server.url)
}

fn invite(browser: &Browser, email: &str, role: &str) {
    browser.type_into("#invite-email", email);
    choose(browser, "#invite-role", role);
    browser.click("form[aria-label='Invite someone'] button[type=submit]");
    browser.wait_until(
        &format!("document.querySelector('.banner.good')?.innerText.includes({email:?}) ? true : null"),
        "the invitation's notice",
    );
}

/// A payee claims a payout link in their own browser: phone code, bank account, claim.
fn claim(server: &Server, app: &AppCredentials, url: &str, phone: &str) {
    let payee = Browser::start();
    payee.goto(url);
    payee.wait_until("document.querySelector('#dots-phone, #dots-code') ? true : null", "the first step");
    if payee.exec("return !!document.querySelector('#dots-phone')", json!([])) == true {
        payee.type_into("#dots-phone", phone);
        payee.click(".dots-form button[type=submit]");
    }
    payee.wait_for("#dots-code");
    payee.type_into("#dots-code", &last_code(server, &app.basic, phone));
    payee.click(".dots-form button[type=submit]");
    payee.wait_for("#dots-routing");
    payee.type_into("#dots-routing", "011000015");
    payee.type_into("#dots-account", "000123456789");
    payee.click(".dots-form button[type=submit]");
    payee.wait_until("document.querySelector('.dots-review')?.innerText", "the review");
    payee.click(".dots-form button[type=submit]");
    payee.wait_for(".dots-success");
}

/// A raw request with the session cookie `cookie` (no browser): its status and body.
fn with_cookie(server: &Server, method: &str, path: &str, cookie: &str) -> (u16, String) {
    let cookie = format!("dots_session={cookie}");
    http_request_with(&server.addr, method, path, &[("Cookie", cookie.as_str())], None).expect("an answer")
}

#[test]
fn a_team_signs_in_and_runs_its_payouts_from_the_dashboard() {
    let smtp = SmtpServer::start();
    let db = TestDatabase::new(Backend::Sqlite);
    let smtp_url = smtp.url();
    let server = Server::start_with(
        &db.url,
        &[("DOTS_SANDBOX_SETTLE_MS", "100"), ("DOTS_WORKER_INTERVAL_MS", "50"), ("DOTS_SMTP_URL", &smtp_url)],
    );
    let (name, brand) = demo_apps()[0].clone();
    let app = create_named_app(&server, name);
    call(&server, "PUT", "/v2/apps/me/settings", &app.basic, json!({"brand": brand, "allowed_origins": []}));
    call(&server, "POST", "/v2/refills", &app.basic, json!({"amount": 100_000, "currency": "USD"}));
    // Payouts above $50 wait for a reviewer.
    call(&server, "PUT", "/v2/apps/me/rules", &app.basic, json!({"review_threshold": 5000}));

    // The operator invites the app's first owner.
    let operator = format!("Bearer {OPERATOR_KEY}");
    let invited = call(
        &server,
        "POST",
        &format!("/v2/apps/{}/invitations", app.id),
        &operator,
        json!({"email": "olive@acme.test", "role": "owner"}),
    );
    let owner = Browser::start();
    owner.goto(invited["url"].as_str().unwrap());
    owner.wait_for("#new-password");
    // The token left the address bar.
    assert_eq!(owner.exec("return location.hash", json!([])), "");
    shoot(&owner, "dashboard-01-accept");
    owner.type_into("#new-password", PASSWORD);
    owner.click("main button[type=submit]");
    let joined = owner.wait_until("document.querySelector('.banner.good')?.innerText", "the joined notice");
    assert_eq!(joined, "You joined Acme Payroll. Sign in to start.");
    shoot(&owner, "dashboard-02-sign-in");

    // An owner moves money and runs the team: two-factor sign-in first.
    sign_in(&owner, "olive@acme.test", PASSWORD, Factor::None);
    let banner = owner.text(".banner.warn");
    assert!(banner.starts_with("Turn on two-factor sign-in"), "{banner}");
    let (secret, recovery) = turn_on_two_factor(&owner);
    shoot(&owner, "dashboard-03-security");
    owner.click("header button");
    sign_in(&owner, "olive@acme.test", PASSWORD, Factor::Totp(&secret));

    // The owner invites an admin and a reviewer; the links come by email.
    open(&owner, "/members", "Team");
    invite(&owner, "adam@acme.test", "admin");
    invite(&owner, "rita@acme.test", "reviewer");
    owner.wait_until("document.querySelectorAll('tbody tr').length", "the team");
    shoot(&owner, "dashboard-05-team");
    let (admin_link, reviewer_link) =
        (invitation(&smtp, &server, "adam@acme.test"), invitation(&smtp, &server, "rita@acme.test"));

    // The admin joins, turns on two-factor sign-in, and adds a user.
    let admin = Browser::start();
    join(&admin, &admin_link);
    sign_in(&admin, "adam@acme.test", PASSWORD, Factor::None);
    turn_on_two_factor(&admin);
    open(&admin, "/users", "Users");
    admin.click("main .actions button.primary");
    admin.type_into("#first-name", "Grace");
    admin.type_into("#last-name", "Hopper");
    admin.type_into("#user-email", "grace@example.com");
    admin.type_into("#user-phone", "(415) 555-2680");
    admin.click("form[aria-label='New user'] button[type=submit]");
    at_page(&admin, "Grace Hopper");
    let user_id = admin.text(".facts dd.id");
    assert!(user_id.starts_with("usr_"), "{user_id}");
    shoot(&admin, "dashboard-06-user");
    open(&admin, "/users", "Users");
    admin.type_into("#user-search", "hopper\n");
    admin.wait_until("document.querySelectorAll('tbody tr').length == 1 ? true : null", "one user found");
    shoot(&admin, "dashboard-07-users");

    // … and sends them a payout link by text message.
    open(&admin, "/links", "Payout links");
    admin.click("main .actions button.primary");
    admin.type_into("#link-amount", "12.50");
    admin.type_into("#link-phone", "+14155552680");
    admin.type_into("#link-memo", "October invoice");
    admin.click("form[aria-label='New payout link'] button[type=submit]");
    let url =
        admin.wait_until("document.querySelector('li[data-status=active] .link-url')?.value", "the link's address");
    shoot(&admin, "dashboard-08-links");

    // The admin watches the transfers while a second browser claims the link.
    open(&admin, "/transfers", "Transfers");
    admin.exec("window.stillThisPage = true", json!([]));
    claim(&server, &app, url.as_str().unwrap(), "+14155552680");
    admin.wait_until(
        "document.querySelector('tbody tr[data-type=payout][data-status=completed]') && window.stillThisPage ? true : null",
        "the claimed payout completed in the admin's list, without a reload",
    );
    assert_eq!(admin.text("tbody tr[data-type=payout][data-status=completed] td:nth-child(2)"), "$12.50");
    shoot(&admin, "dashboard-09-transfers");
    // The list as a spreadsheet: the download link works for the member as it is.
    let csv = admin.exec(
        "const r = new XMLHttpRequest(); r.open('GET', document.getElementById('export-transfers').href, false);
         r.send(); return [r.status, r.getResponseHeader('content-type'), r.responseText];",
        json!([]),
    );
    assert_eq!((&csv[0], &csv[1]), (&json!(200), &json!("text/csv; charset=utf-8")), "{csv}");
    let csv = csv[2].as_str().unwrap();
    assert!(csv.starts_with("id,type,status,") && csv.contains(",payout,completed,"), "{csv}");
    admin.click("tbody tr[data-type=payout][data-status=completed] a");
    at_page(&admin, "Payout of $12.50");
    assert_eq!(admin.text("#transfer-status"), "Completed");
    shoot(&admin, "dashboard-10-transfer");
    open(&admin, "/", "Overview");
    let chart = admin.wait_until("document.querySelector('.chart figcaption')?.innerText", "the chart");
    assert_eq!(chart, "$12.50 paid out in 1 payout over the last 30 days.");
    shoot(&admin, "dashboard-04-overview");
    for (path, title, shot) in [
        ("/transfers/new-payout", "New payout", "dashboard-11-new-payout"),
        ("/transfers/new-balance", "New balance transfer", "dashboard-12-new-balance"),
        ("/transfers/new-refill", "Add money", "dashboard-13-refill"),
    ] {
        open(&admin, "/transfers", "Transfers");
        admin.click(&format!("main .actions a[href='/dashboard{path}']"));
        at_page(&admin, title);
        shoot(&admin, shot);
    }
    // Money moves from the dashboard: $5 to Grace's wallet (the user's page links here).
    let fund = format!("/transfers/new-balance?user_id={user_id}");
    admin.goto(&format!("{}/dashboard{fund}", server.url));
    at_page(&admin, "New balance transfer");
    admin.type_into("#money-amount", "5");
    admin.click("main button[type=submit]");
    at_page(&admin, "Balance transfer of $5.00");

    // A payout above $50 waits for review.
    let payee = verified_payee(&server, &app.basic, "+14155552691", json!({"type": "paypal", "email": "p@q.co"}));
    call(
        &server,
        "POST",
        "/v2/transfers",
        &app.basic,
        json!({"type": "balance", "user_id": payee, "amount": 6000, "currency": "USD"}),
    );
    let held =
        call(&server, "POST", "/v2/payouts", &app.basic, json!({"user_id": payee, "amount": 6000, "currency": "USD"}));
    assert_eq!(held["status"], "flagged");
    let held = held["id"].as_str().unwrap().to_string();

    // The reviewer joins (no two-factor needed to review), sees it and approves it …
    let reviewer = Browser::start();
    join(&reviewer, &reviewer_link);
    sign_in(&reviewer, "rita@acme.test", PASSWORD, Factor::None);
    assert_eq!(reviewer.exec("return document.querySelectorAll('.banner.warn').length", json!([])), 0);
    open(&reviewer, "/transfers", "Transfers");
    // … has no way to make one …
    assert_eq!(reviewer.exec("return document.querySelectorAll('main .actions a').length", json!([])), 0);
    reviewer.click(&format!("tbody tr[data-id='{held}'] a"));
    at_page(&reviewer, "Payout of $60.00");
    assert_eq!(reviewer.text("#transfer-status"), "Needs review");
    shoot(&reviewer, "dashboard-14-review");
    reviewer.click("main .actions button.primary");
    reviewer.wait_until(
        "document.getElementById('transfer-status')?.innerText != 'Needs review' ? true : null",
        "approved",
    );
    // … and the server refuses the request a forged page would make.
    let forged = reviewer.exec(
        "const s = new XMLHttpRequest(); s.open('GET', '/dashboard/api/session', false); s.send();
         const r = new XMLHttpRequest(); r.open('POST', '/v2/payouts', false);
         r.setRequestHeader('Content-Type', 'application/json');
         r.setRequestHeader('X-CSRF-Token', JSON.parse(s.responseText).csrf_token);
         r.setRequestHeader('Dots-App', arguments[0]);
         r.send(JSON.stringify({user_id: arguments[1], amount: 100, currency: 'USD'}));
         return [r.status, JSON.parse(r.responseText).error];",
        json!([app.id, payee]),
    );
    assert_eq!(forged[0], 403, "{forged}");
    assert_eq!(
        (forged[1]["type"].as_str(), forged[1]["code"].as_str()),
        (Some("permission"), Some("insufficient_role"))
    );
    open(&reviewer, "/audit-log", "Audit log");
    shoot(&reviewer, "dashboard-15-audit-log");

    // A page of another site posts a form to the dashboard's API: refused.
    let port = server.addr.rsplit(':').next().unwrap();
    reviewer.goto(&format!("http://localhost:{port}/health"));
    reviewer.exec(
        "const f = document.createElement('form'); f.method = 'POST'; f.action = arguments[0];
         document.body.appendChild(f); f.submit();",
        json!([format!("{}/v2/transfers/{held}/cancel", server.url)]),
    );
    let refused = reviewer.wait_until(
        "location.host.startsWith('127.0.0.1') && document.body.innerText.includes('error') ? document.body.innerText : null",
        "the cross-site post's answer",
    );
    assert!(refused.as_str().unwrap().contains("cross_site_request"), "{refused}");

    // Signing out ends the session on the server: its cookie opens nothing.
    let cookie = admin.cookie("dots_session").expect("the session cookie");
    assert_eq!(with_cookie(&server, "GET", "/dashboard/api/session", &cookie).0, 200);
    admin.click("header button");
    admin.wait_for("#email");
    assert_eq!(with_cookie(&server, "GET", "/dashboard/api/session", &cookie).0, 401);

    // Five wrong passwords in a row lock the account, whatever comes next.
    for _ in 0..4 {
        admin.type_into("#email", "rita@acme.test");
        admin.type_into("#password", "not the password at all");
        // (A press clears the last refusal at once; the next one comes with the answer.)
        admin.click("main button[type=submit]");
        let refusal = admin.wait_until(ANSWERED, "the refusal");
        assert_eq!(refusal, "The email or password is wrong.");
    }
    for password in ["not the password at all", PASSWORD] {
        admin.type_into("#password", password);
        admin.click("main button[type=submit]");
        let locked = admin.wait_until(ANSWERED, "the lock");
        assert!(
            locked
                .as_str()
                .unwrap()
                .starts_with("Too many wrong passwords: signing in to this account is paused for 15 more minutes."),
            "{locked}"
        );
    }
    shoot(&admin, "dashboard-16-locked");

    // A forgotten password: a link by email, a new password, and the old sessions end.
    let owner_cookie = owner.cookie("dots_session").expect("the owner's session cookie");
    admin.click("main button.quiet");
    admin.type_into("#reset-email", "olive@acme.test");
    admin.click("main button[type=submit]");
    admin.wait_until("document.querySelector('.banner.good')?.innerText", "the reset notice");
    let token = smtp.wait_for("olive@acme.test", "/dashboard/reset#").token_after("/dashboard/reset#").unwrap();
    admin.goto(&format!("{}/dashboard/reset#{token}", server.url));
    admin.wait_for("#new-password");
    shoot(&admin, "dashboard-17-reset");
    admin.type_into("#new-password", "a brand new passphrase");
    admin.click("main button[type=submit]");
    admin.wait_until(
        "document.querySelector('.banner.good')?.innerText.includes('password is changed') ? true : null",
        "reset",
    );
    assert_eq!(with_cookie(&server, "GET", "/dashboard/api/session", &owner_cookie).0, 401);
    // (A recovery code: the authenticator's next code may have been used above.)
    sign_in(&admin, "olive@acme.test", "a brand new passphrase", Factor::Recovery(&recovery[0]));

    // Every change made above is in the audit log, by who made it.
    let log = call(&server, "GET", "/v2/audit-log?limit=100", &app.basic, Value::Null);
    let rows: Vec<(String, String)> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap().to_string(), r["actor"]["type"].as_str().unwrap().to_string()))
        .collect();
    for (action, actor) in [
        ("POST /v2/apps/{id}/invitations", "operator"),
        ("POST /dashboard/api/invitations/accept", "member"),
        ("POST /v2/members/invitations", "member"),
        ("POST /v2/users", "member"),
        ("POST /v2/payout-links", "member"),
        ("POST /v2/transfers", "member"),
        ("POST /v2/transfers/{id}/approve", "member"),
        ("POST /flow/v1/sessions", "link_holder"),
        ("POST /flow/v1/claim", "payee"),
        ("POST /v2/payouts", "api_key"),
        ("PUT /v2/apps/me/rules", "api_key"),
    ] {
        assert!(rows.iter().any(|(a, k)| a == action && k == actor), "no audit row for {action} by {actor}: {rows:?}");
    }
    let accepted = rows.iter().filter(|(a, _)| a == "POST /dashboard/api/invitations/accept").count();
    assert_eq!(accepted, 3, "one row per member joining");
    drop(server);
    ledger_check(&db.url);
}

/// Reloads the page at `path` until `expression` holds (what the page shows of
/// things no event announces, like a webhook's delivery attempts).
fn reload_until(browser: &Browser, server: &Server, path: &str, title: &str, expression: &str, what: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        browser.goto(&format!("{}/dashboard{path}", server.url));
        at_page(browser, title);
        let value = browser.exec(&format!("try {{ return ({expression}); }} catch (e) {{ return null; }}"), json!([]));
        if !(value.is_null() || value == false || value == "") {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn an_owner_runs_webhooks_keys_and_settings_from_the_dashboard() {
    let db = TestDatabase::new(Backend::Sqlite);
    // Loopback receivers are allowed here; a failed delivery is not retried by
    // itself within the test (only from its page).
    let server = Server::start_with(
        &db.url,
        &[("DOTS_WEBHOOK_ALLOW_PRIVATE", "true"), ("DOTS_WEBHOOK_RETRY_BASE_MS", "600000")],
    );
    let app = create_named_app(&server, "Acme Payroll");
    let operator = format!("Bearer {OPERATOR_KEY}");
    let path = format!("/v2/apps/{}/invitations", app.id);
    let invited = call(&server, "POST", &path, &operator, json!({"email": "olive@acme.test", "role": "owner"}));
    let owner = Browser::start();
    join(&owner, invited["url"].as_str().unwrap());
    sign_in(&owner, "olive@acme.test", PASSWORD, Factor::None);
    turn_on_two_factor(&owner);

    // An endpoint on a port nobody listens on yet.
    let port = free_port();
    open(&owner, "/webhooks", "Webhooks");
    owner.click("main .actions button.primary");
    owner.type_into("#webhook-url", &format!("http://127.0.0.1:{port}/hook"));
    owner.type_into("#webhook-description", "Our payroll server");
    owner.click("#event-user-created");
    owner.click("form[aria-label='Add an endpoint'] button[type=submit]");
    let secret = owner.wait_until("document.getElementById('webhook-secret')?.innerText", "the signing secret");
    assert!(secret.as_str().unwrap().starts_with("whsec_"), "{secret}");
    owner.wait_until("document.querySelectorAll('tbody tr').length", "the endpoint listed");
    shoot(&owner, "dashboard-18-webhooks");
    let endpoint = owner.exec("return document.querySelector('tbody tr').dataset.id", json!([]));
    let endpoint = endpoint.as_str().unwrap().to_string();

    // An event: its delivery fails against the closed port …
    call(
        &server,
        "POST",
        "/v2/users",
        &app.basic,
        json!({"first_name": "Grace", "last_name": "Hopper",
        "email": "grace@example.com", "phone_number": "+14155552680"}),
    );
    let detail = format!("/webhooks/{endpoint}");
    reload_until(
        &owner,
        &server,
        &detail,
        "Endpoint",
        "document.querySelector('li[data-status]')?.innerText.includes('Not reached')",
        "the failed delivery",
    );
    owner.click("li[data-status] .actions button.quiet");
    let sent = owner.wait_until("document.querySelector('pre.payload')?.innerText", "what was sent");
    assert!(sent.as_str().unwrap().contains("\"user.created\""), "{sent}");
    // … and, once a receiver listens there, is sent again from its page.
    let receiver = WebhookReceiver::start_on(port);
    owner.click("li[data-status] .actions button.quiet:nth-of-type(2)");
    reload_until(
        &owner,
        &server,
        &detail,
        "Endpoint",
        "document.querySelector('li[data-status=delivered]') ? true : null",
        "the delivery sent again",
    );
    assert_eq!(receiver.received().len(), 1);
    owner.click("li[data-status=delivered] .actions button.quiet");
    owner.wait_for("pre.payload");
    let shown = owner.text("li[data-status=delivered]");
    assert!(shown.contains("What came back") && shown.contains("HTTP 204 (no body)"), "{shown}");
    shoot(&owner, "dashboard-19-webhook");
    // Turned off and on from its page.
    owner.click("main .actions button.quiet");
    let off = owner.wait_until("document.getElementById('webhook-state')?.innerText.startsWith('Off') ? document.getElementById('webhook-state').innerText : null", "off");
    assert_eq!(off, "Off (turned off here)");
    owner.click("main .actions button.primary");
    owner.wait_until("document.getElementById('webhook-state')?.innerText == 'On' ? true : null", "on again");

    // The API key: the client id, and a new secret. With an hour's grace the old
    // one still works; replaced again with no grace, the secrets before stop at once.
    open(&owner, "/settings", "Settings");
    assert_eq!(owner.text("#client-id"), app.client_id);
    choose(&owner, "#secret-grace", "3600");
    owner.click("form[aria-label='Replace the API secret'] button[type=submit]");
    let first = owner.wait_until("document.getElementById('api-secret')?.innerText", "the new API secret");
    assert!(owner.text("main .banner.good").contains("The old secret works until"));
    assert_eq!(server.request("GET", "/v2/apps/me", Some(&app.basic), None).0, 200, "in its grace period");
    choose(&owner, "#secret-grace", "0");
    owner.click("form[aria-label='Replace the API secret'] button[type=submit]");
    let new_secret = owner.wait_until(
        &format!("document.getElementById('api-secret')?.innerText != {first} ? document.getElementById('api-secret')?.innerText : null"),
        "the second new API secret",
    );
    let new_secret = new_secret.as_str().unwrap().to_string();
    assert!(new_secret.starts_with("sk_"), "{new_secret}");
    let (old_status, _) = server.request("GET", "/v2/apps/me", Some(&app.basic), None);
    assert_eq!(old_status, 401, "the old secret stopped");
    use base64::Engine;
    let first_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", app.client_id, first.as_str().unwrap()))
    );
    assert_eq!(server.request("GET", "/v2/apps/me", Some(&first_basic), None).0, 401, "no grace: stopped at once");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{new_secret}", app.client_id))
    );
    assert_eq!(call(&server, "GET", "/v2/apps/me", &basic, Value::Null)["client_id"], app.client_id);

    // Where the flow may be embedded, and the payout rules.
    owner.type_into("#origins", "https://shop.example.com");
    owner.type_into("#default-country", "mx");
    owner.click("form[aria-label='Embedding'] button[type=submit]");
    owner.wait_until("document.querySelector('form[aria-label=Embedding] .banner.good') ? true : null", "saved");
    let settings = call(&server, "GET", "/v2/apps/me/settings", &basic, Value::Null);
    assert_eq!(
        (&settings["allowed_origins"], &settings["default_country"]),
        (&json!(["https://shop.example.com"]), &json!("MX"))
    );
    owner.type_into("#rule-review", "50");
    owner.click("form[aria-label='Payout rules'] button[type=submit]");
    owner.wait_until("document.querySelector(\"form[aria-label='Payout rules'] .banner.good\") ? true : null", "saved");
    assert_eq!(call(&server, "GET", "/v2/apps/me/rules", &basic, Value::Null)["review_threshold"], 5000);
    shoot(&owner, "dashboard-20-settings");

    // Each change is in the audit log, by the owner.
    let log = call(&server, "GET", "/v2/audit-log?limit=100", &basic, Value::Null);
    for action in [
        "POST /v2/webhooks",
        "POST /v2/events/{id}/redeliver",
        "POST /v2/webhooks/{id}/disable",
        "POST /v2/webhooks/{id}/enable",
        "POST /v2/apps/me/secret/rotate",
        "PUT /v2/apps/me/settings",
        "PUT /v2/apps/me/rules",
    ] {
        let by_member =
            log["data"].as_array().unwrap().iter().any(|r| r["action"] == action && r["actor"]["type"] == "member");
        assert!(by_member, "no audit row for {action} by the owner: {log}");
    }
    drop(server);
    ledger_check(&db.url);
}

/// The computed background colour of the preview's main button (the real
/// widget in the brand editor's frame), once it is there.
const PREVIEW_BUTTON: &str = "(() => { const d = document.getElementById('brand-preview')?.contentDocument; \
     const b = d?.documentElement.dataset.ready && d.querySelector('.dots-primary'); \
     return b ? getComputedStyle(b).backgroundColor : null; })()";

#[test]
fn the_operator_runs_the_apps_and_an_owner_brands_the_flow() {
    let db = TestDatabase::new(Backend::Sqlite);
    // Ready for live apps too (a kept key, SMS, SMTP, the ACH rail): the bank files page.
    let smtp = SmtpServer::start();
    let smtp_url = smtp.url();
    let server = Server::start_with(
        &db.url,
        &[
            ("DOTS_SANDBOX_SETTLE_MS", "100"),
            ("DOTS_WORKER_INTERVAL_MS", "50"),
            ("DOTS_ENCRYPTION_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
            ("DOTS_SMS_PROVIDER", "http"),
            ("DOTS_SMS_BASE_URL", "http://127.0.0.1:9"),
            ("DOTS_SMS_ACCOUNT", "AC1"),
            ("DOTS_SMS_TOKEN", "token"),
            ("DOTS_SMS_FROM", "+15005550006"),
            ("DOTS_SMTP_URL", &smtp_url),
            ("DOTS_ACH_ODFI_ROUTING", "091000019"),
            ("DOTS_ACH_ODFI_NAME", "Wells Fargo"),
            ("DOTS_ACH_COMPANY_ID", "1234567890"),
            ("DOTS_ACH_COMPANY_NAME", "Dots Payouts"),
            ("DOTS_ACH_SETTLE_DAYS", "0"),
        ],
    );

    // The operator signs in to the console with the operator key.
    let operator = Browser::start();
    operator.goto(&format!("{}/dashboard/operator", server.url));
    operator.wait_for("#operator-key");
    shoot(&operator, "dashboard-21-operator-sign-in");
    operator.type_into("#operator-key", "not the key");
    operator.click("main button[type=submit]");
    let refused = operator.wait_until(ANSWERED, "the refusal");
    assert_eq!(refused, "The operator key is wrong.");
    operator.type_into("#operator-key", OPERATOR_KEY);
    operator.click("main button[type=submit]");
    at_page(&operator, "Apps");

    // It makes an app and invites its first owner.
    operator.click("main .actions button.primary");
    operator.type_into("#app-name", "Globex Rewards");
    operator.type_into("#app-owner", "owen@globex.test");
    operator.click("form[aria-label='New app'] button[type=submit]");
    let secret = operator.wait_until("document.getElementById('new-app-secret')?.innerText", "the new app's secret");
    let secret = secret.as_str().unwrap().to_string();
    let owner_link = operator.text("#owner-invitation");
    assert!(owner_link.contains("/dashboard/accept#dmi_"), "{owner_link}");
    operator.wait_until("document.querySelector('tr[data-app]') ? true : null", "the app listed");
    shoot(&operator, "dashboard-22-operator-apps");
    let app_id = operator.exec("return document.querySelector('tr[data-app]').dataset.app", json!([]));
    let app_id = app_id.as_str().unwrap().to_string();
    let bearer = format!("Bearer {OPERATOR_KEY}");
    let client_id = call(&server, "GET", &format!("/v2/apps/{app_id}"), &bearer, Value::Null)["client_id"].clone();
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", client_id.as_str().unwrap()))
    );
    call(&server, "POST", "/v2/refills", &basic, json!({"amount": 10_000, "currency": "USD"}));
    let link = call(
        &server,
        "POST",
        "/v2/payout-links",
        &basic,
        json!({"amount": 2_500, "currency": "USD", "phone_number": "+14155550142"}),
    );
    let link_url = link["url"].as_str().unwrap().to_string();

    // Suspended from its page: its API answers 403 app_suspended, its claim page says payouts are paused.
    operator.click(&format!("tr[data-app='{app_id}'] a"));
    operator.wait_for("#suspend-reason");
    operator.type_into("#suspend-reason", "Unpaid invoice");
    operator.click("form[aria-label='Suspend the app'] button[type=submit]");
    operator.wait_until(
        "document.querySelector('.banner.good')?.innerText == 'Globex Rewards is suspended.' && \
         document.querySelector(\"form[aria-label='Resume the app']\") ? true : null",
        "the suspension",
    );
    shoot(&operator, "dashboard-23-operator-app");
    let (status, body) = server.request("GET", "/v2/users", Some(&basic), None);
    assert_eq!(status, 403, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "app_suspended");
    let payee = Browser::start();
    payee.goto(&link_url);
    let paused = payee.wait_until("document.querySelector('main h1')?.innerText", "the paused page");
    assert_eq!(paused, "Payouts from Globex Rewards are paused");
    shoot(&payee, "claim-paused");

    // Resumed: the API and the link work again.
    operator.click("form[aria-label='Resume the app'] button[type=submit]");
    operator.wait_until(
        "document.querySelector('.banner.good')?.innerText == 'Globex Rewards is active again.' && \
         document.querySelector(\"form[aria-label='Suspend the app']\") ? true : null",
        "the resumption",
    );
    assert_eq!(server.request("GET", "/v2/users", Some(&basic), None).0, 200);
    payee.goto(&link_url);
    payee.wait_until("document.querySelector('#dots-phone, #dots-code') ? true : null", "the claim's first step");

    // The operator's actions, in its audit log.
    open(&operator, "/operator/audit-log", "Audit log");
    let actions =
        operator.exec("return [...document.querySelectorAll('tr[data-action]')].map(r => r.dataset.action)", json!([]));
    for action in [
        "POST /dashboard/api/operator/sign-in",
        "POST /v2/apps",
        "POST /v2/apps/{id}/invitations",
        "POST /v2/apps/{id}/suspend",
        "POST /v2/apps/{id}/resume",
    ] {
        assert!(actions.as_array().unwrap().iter().any(|a| a == action), "{action}: {actions}");
    }
    assert!(operator.text("main tbody").contains("Suspended the app"));
    shoot(&operator, "dashboard-24-operator-audit");

    // Bank files: a live app's new funding account waits for its check (a pre-note);
    // the operator makes the file now, downloads it, and marks it settled.
    let live = call(
        &server,
        "POST",
        "/v2/apps",
        &bearer,
        json!({"name": "Globex Live", "mode": "live", "payout_method_types": ["bank"]}),
    );
    let funding = format!("/v2/apps/{}/funding-account", live["id"].as_str().unwrap());
    let account = json!({"routing_number": "021000021", "account_number": "44556677", "holder_name": "Globex Inc"});
    call(&server, "PUT", &funding, &bearer, account);
    open(&operator, "/operator/bank-files", "Bank files");
    operator.wait_for("main p.empty");
    operator.click("main .actions button.primary");
    operator.wait_until("document.querySelector('tr[data-file]') ? true : null", "the new file");
    assert_eq!(operator.text(".banner.good"), "A file of 1 entry was made. Download it for the bank.");
    shoot(&operator, "dashboard-27-operator-bank-files");
    let file_id = operator.exec("return document.querySelector('tr[data-file]').dataset.file", json!([]));
    let (status, text) =
        server.request("GET", &format!("/v2/ach/files/{}/download", file_id.as_str().unwrap()), Some(&bearer), None);
    assert_eq!(status, 200);
    assert!(text.starts_with("101 091000019") && text.contains("GLOBEX INC"), "{text}");
    operator.click("tr[data-file] button");
    operator.wait_until(
        "document.querySelector('tr[data-file] .badge.good')?.innerText == 'Settled' ? true : null",
        "the settled file",
    );
    assert_eq!(call(&server, "GET", &funding, &bearer, Value::Null)["status"], "verified");

    // The owner joins from the operator's link and edits the brand: the preview (the real
    // widget) changes colour before anything is saved.
    let owner = Browser::start();
    join(&owner, &owner_link);
    sign_in(&owner, "owen@globex.test", PASSWORD, Factor::None);
    turn_on_two_factor(&owner);
    open(&owner, "/brand", "Brand");
    let before = owner.wait_until(PREVIEW_BUTTON, "the preview's button");
    assert_eq!(before, "rgb(59, 91, 219)", "Dots' default colour");
    owner.type_into("#brand-primary", "#d6336c");
    owner
        .wait_until(&format!("{PREVIEW_BUTTON} == 'rgb(214, 51, 108)' ? true : null"), "the preview in the new colour");
    let stored = call(&server, "GET", "/v2/apps/me/settings", &basic, Value::Null);
    assert!(stored["brand"]["primary_color"].is_null(), "not saved yet: {stored}");
    // A colour that is not one is said so, and the preview keeps the last good one.
    owner.type_into("#brand-background", "#12345");
    let problem = owner.wait_until("document.querySelector('form[aria-label=Brand] .error')?.innerText", "the problem");
    assert_eq!(problem, "The background colour must be written like #3b5bdb.");
    owner.type_into("#brand-background", "#fdfdfc");
    owner.wait_until("document.querySelector('form[aria-label=Brand] .error') ? null : true", "the problem gone");
    // The preview redrawn with it (it reloads a moment after the last keystroke).
    owner.wait_until(
        "(() => { const d = document.getElementById('brand-preview')?.contentDocument; \
         return d?.documentElement.dataset.ready && d.location.search.includes('fdfdfc') ? true : null; })()",
        "the preview with the new background",
    );
    owner.enter_frame("#brand-preview");
    dots_e2e::browser::accessible(&owner, "the brand preview");
    owner.leave_frame();
    shoot(&owner, "dashboard-25-brand");
    owner.click("form[aria-label=Brand] button[type=submit]");
    owner.wait_until("document.querySelector('form[aria-label=Brand] .banner.good') ? true : null", "saved");
    let stored = call(&server, "GET", "/v2/apps/me/settings", &basic, Value::Null);
    assert_eq!(stored["brand"]["primary_color"], "#d6336c", "{stored}");

    // A new flow, made from the dashboard, shows the saved brand.
    open(&owner, "/flows", "Flows");
    owner.click("main .actions button.primary");
    owner.click("form[aria-label='New flow'] button[type=submit]");
    let flow_url = owner.wait_until("document.getElementById('flow-url')?.innerText", "the flow's address");
    owner.wait_until("document.querySelector('tr[data-status=active]') ? true : null", "the flow listed");
    shoot(&owner, "dashboard-26-flows");
    payee.goto(flow_url.as_str().unwrap());
    let colour = payee.wait_until(
        "(() => { const b = document.querySelector('.dots-primary'); return b ? getComputedStyle(b).backgroundColor : null; })()",
        "the flow's button",
    );
    assert_eq!(colour, "rgb(214, 51, 108)");
    drop(server);
    ledger_check(&db.url);
}
