//! The Flow widget in a real browser (headless Chromium over WebDriver): a payout
//! link claimed on its hosted page, the embedded flow on the example host site in
//! modal and inline modes, the ways it must refuse, and two brands. Screenshots of
//! every step, light and dark, go to `screenshots/` (README, "Screenshots").

use std::time::{Duration, Instant};

use dots_e2e::browser::{Browser, accessible, shoot};
use dots_e2e::{
    AppCredentials, Backend, Merchant, Server, TestDatabase, call, create_named_app, demo_apps, last_code, ledger_check,
};
use serde_json::{Value, json};

/// A server with settled-quickly sandbox payouts and one funded, branded app whose
/// pages may be framed by `origins`.
struct Demo {
    db: TestDatabase,
    server: Server,
}

impl Demo {
    fn start() -> Demo {
        let db = TestDatabase::new(Backend::Sqlite);
        let server =
            Server::start_with(&db.url, &[("DOTS_SANDBOX_SETTLE_MS", "100"), ("DOTS_WORKER_INTERVAL_MS", "50")]);
        Demo { db, server }
    }

    /// One of the two demo apps of `cargo xtask run` (0: Acme Payroll, light; 1: Zest
    /// Rewards, dark, serif), so that what is screenshot is what the demo shows.
    fn demo_app(&self, which: usize) -> AppCredentials {
        let (name, brand) = demo_apps()[which].clone();
        self.app(name, brand, &[])
    }

    fn app(&self, name: &str, brand: Value, origins: &[&str]) -> AppCredentials {
        let app = create_named_app(&self.server, name);
        call(
            &self.server,
            "PUT",
            "/v2/apps/me/settings",
            &app.basic,
            json!({"brand": brand, "allowed_origins": origins}),
        );
        call(&self.server, "POST", "/v2/refills", &app.basic, json!({"amount": 100_000, "currency": "USD"}));
        app
    }

    fn link(&self, app: &AppCredentials, phone: &str, extra: Value) -> Value {
        let mut body = json!({"amount": 1250, "currency": "USD", "phone_number": phone, "memo": "October invoice"});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        call(&self.server, "POST", "/v2/payout-links", &app.basic, body)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        ledger_check(&self.db.url);
    }
}

/// Types the code the dev outbox holds for `phone` and submits it.
fn enter_code(browser: &Browser, demo: &Demo, app: &AppCredentials, phone: &str) {
    browser.wait_for("#dots-code");
    browser.type_into("#dots-code", &last_code(&demo.server, &app.basic, phone));
    browser.click(".dots-form button[type=submit]");
}

/// The status line under the step (hidden while empty, so read, not waited for).
fn notice(browser: &Browser) -> Value {
    browser.exec("return document.querySelector('.dots-notice').textContent", json!([]))
}

/// Fills the compliance step: name, date of birth (set as a date picker would) and tax id.
fn fill_in_details(browser: &Browser) {
    browser.type_into("#dots-first", "Ada");
    browser.type_into("#dots-last", "Lovelace");
    browser.exec(
        "const d = document.getElementById('dots-dob'); \
         Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(d, '1990-12-10'); \
         d.dispatchEvent(new Event('input', {bubbles: true}));",
        json!([]),
    );
    browser.type_into("#dots-tax", "123-45-6789");
}

/// Enters a bank account on the payout-method step and waits for the review.
fn add_bank_and_review(browser: &Browser) {
    browser.type_into("#dots-routing", "011000015");
    browser.type_into("#dots-account", "000123456789");
    browser.click(".dots-form button[type=submit]");
    browser.wait_until(
        "document.querySelector('.dots-review') && document.querySelector('.dots-review').innerText",
        "review",
    );
}

#[test]
fn a_payout_link_is_claimed_on_its_page_from_phone_to_completed_payout() {
    let demo = Demo::start();
    let app = demo.demo_app(0);
    // A tax id is needed above $10 a year, so the compliance step shows.
    // Payouts above $10 wait for the app's review, so the payout's page shows it on its way.
    call(
        &demo.server,
        "PUT",
        "/v2/apps/me/rules",
        &app.basic,
        json!({"tax_id_threshold": 1000, "review_threshold": 1000}),
    );
    // A fee of $0.50 that the payee bears: the review shows it and what they receive.
    dots_e2e::set_fees(&demo.server, &app, json!({"fixed": 50}));
    let phone = "+14155552671";
    let link = demo.link(&app, phone, json!({"fee_party": "user"}));
    let browser = Browser::start();
    browser.goto(link["url"].as_str().unwrap());

    browser.wait_for("#dots-phone");
    assert_eq!(browser.text(".dots-title"), "Acme Payroll sent you $12.50");
    assert_eq!(browser.exec("return document.title", json!([])), "Get paid by Acme Payroll");
    assert_eq!(browser.text(".dots-progress-text"), "Step 1 of 4");
    // The token left the address bar; the link's id stays there, so what a reload
    // gets from the server is branded from its first paint too.
    let place = browser.exec("return location.pathname + location.search", json!([]));
    assert_eq!(place, format!("/claim?link={}", link["id"].as_str().unwrap()));
    let reloaded = browser.exec(
        "const r = new XMLHttpRequest(); r.open('GET', location.href, false); r.send(); return r.responseText",
        json!([]),
    );
    let reloaded = reloaded.as_str().unwrap_or_default();
    assert!(reloaded.contains("<title>Get paid by Acme Payroll</title>") && reloaded.contains("#0b7a3b"), "{reloaded}");
    shoot(&browser, "link-1-phone");
    // A number that is no phone number is refused in the payee's words (the API's
    // message names fields), under the field.
    browser.type_into("#dots-phone", "555-0141");
    browser.click(".dots-form button[type=submit]");
    let refusal = browser.wait_until("document.getElementById('dots-phone-error').innerText", "the refusal");
    assert_eq!(refusal, "Check the number: choose your country, then type your mobile number.");
    // People type national numbers: read in the country chosen (the United States here).
    assert_eq!(browser.exec("return document.getElementById('dots-country').value", json!([])), "US");
    browser.exec("document.getElementById('dots-phone').value = ''", json!([]));
    browser.type_into("#dots-phone", "(415) 555-2671");
    browser.click(".dots-form button[type=submit]");

    browser.wait_for("#dots-code");
    assert_eq!(browser.exec("return document.activeElement.id", json!([])), "dots-code", "focus moves to the new step");
    // The number typed is shown back formatted, to check.
    assert_eq!(notice(&browser), "We sent a code by text message to +1\u{a0}415\u{2011}555\u{2011}2671.");
    shoot(&browser, "link-2-code");
    enter_code(&browser, &demo, &app, phone);

    browser.wait_for("#dots-first");
    // No message of an earlier step stays under this one ("Phone confirmed.").
    assert_eq!(notice(&browser), "", "a stale notice on the compliance step");
    shoot(&browser, "link-3-compliance");
    fill_in_details(&browser);
    // Submitted from the keyboard: the next step's heading then takes focus the way
    // `:focus-visible` matches (a click would hide a focus ring that keys show).
    browser.press("\u{E007}");

    browser.wait_for("#dots-routing");
    // Every target is at least 24×24 CSS pixels (WCAG 2.2 2.5.8); a radio's target is its label.
    let small = browser.exec(
        "return [...document.querySelectorAll('#dots-root button, #dots-root input:not([type=radio]), #dots-root label.dots-choice')]
           .filter(e => { const r = e.getBoundingClientRect(); return r.width < 24 || r.height < 24; })
           .map(e => e.outerHTML.slice(0, 80))",
        json!([]),
    );
    assert_eq!(small, json!([]), "targets under 24×24 px");
    // The step's heading has focus (read out), without a focus ring around it.
    let focused = browser
        .exec("const e = document.activeElement; return [e.tagName, getComputedStyle(e).outlineStyle]", json!([]));
    assert_eq!(focused, json!(["H2", "none"]), "the focused heading shows no ring");
    shoot(&browser, "link-4-payout-method");
    // A routing number that fails its checksum: words for the payee, not the field's name.
    browser.type_into("#dots-routing", "123456789");
    browser.type_into("#dots-account", "000123456789");
    browser.click(".dots-form button[type=submit]");
    let refusal = browser.wait_until("document.getElementById('dots-routing-error').innerText", "the refusal");
    assert_eq!(refusal, "Check the routing number: 9 digits, printed at the bottom left of a check.");
    // Under its field, tied to it for screen readers, and nowhere else.
    let placed = browser.exec(
        "const i = document.getElementById('dots-routing');
         return [i.nextElementSibling.id, i.getAttribute('aria-invalid'), i.getAttribute('aria-describedby'),
                 document.querySelector('.dots-step > .dots-error').innerText]",
        json!([]),
    );
    assert_eq!(placed, json!(["dots-routing-error", "true", "dots-routing-error", ""]));
    shoot(&browser, "link-error-routing-number");
    // Changing the field answers its error.
    browser.exec("document.getElementById('dots-routing').value = ''", json!([]));
    browser.type_into("#dots-routing", "0");
    let cleared = browser.exec(
        "return [document.getElementById('dots-routing-error').innerText,
                 document.getElementById('dots-routing').getAttribute('aria-invalid')]",
        json!([]),
    );
    assert_eq!(cleared, json!(["", null]));
    browser
        .exec("for (const id of ['dots-routing', 'dots-account']) document.getElementById(id).value = ''", json!([]));
    add_bank_and_review(&browser);
    let review = browser.text(".dots-review");
    assert!(review.contains("Bank account ending 6789"), "{review}");
    assert!(review.contains("Fee\n$0.50") && review.contains("You receive\n$12.00"), "{review}");
    shoot(&browser, "link-5-review");
    assert_eq!(browser.text(".dots-form button[type=submit]"), "Claim $12.50");
    browser.click(".dots-form button[type=submit]");

    wait_for_status(&browser, "$12.50 is on its way");
    assert_eq!(browser.text(".dots-success p"), "It goes to your bank account ending 6789.");
    assert_eq!(notice(&browser), "", "a stray notice under the success screen (\"Done.\")");
    shoot(&browser, "link-6-on-its-way");

    // The app approves it; the page follows it to paid, with the day.
    let link = call(
        &demo.server,
        "GET",
        &format!("/v2/payout-links/{}", link["id"].as_str().unwrap()),
        &app.basic,
        Value::Null,
    );
    assert_eq!(link["status"], "claimed");
    let payout = format!("/v2/transfers/{}", link["payout_transfer_id"].as_str().unwrap());
    call(&demo.server, "POST", &format!("{payout}/approve"), &app.basic, json!({}));
    wait_for_status(&browser, "$12.50 was paid");
    let words = browser.text(".dots-success p");
    assert!(words.starts_with("Paid on ") && words.ends_with(" to your bank account ending 6789."), "{words}");
    shoot(&browser, "link-7-paid");

    // The ledger: the payout settled on the sandbox rail.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let transfer = call(&demo.server, "GET", &payout, &app.basic, Value::Null);
        if transfer["status"] == "completed" {
            assert_eq!((transfer["type"].as_str(), transfer["amount"].as_i64()), (Some("payout"), Some(1250)));
            break;
        }
        assert!(Instant::now() < deadline, "the payout did not settle: {transfer}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A new link for `phone` opened in a new browser, its code sent: the link, the
/// browser at the code step, the right code and a wrong one.
fn at_the_code_step(demo: &Demo, app: &AppCredentials, phone: &str) -> (Value, Browser, String, &'static str) {
    let link = demo.link(app, phone, json!({}));
    let browser = Browser::start();
    browser.goto(link["url"].as_str().unwrap());
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    browser.wait_for("#dots-code");
    let right = last_code(&demo.server, &app.basic, phone);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    (link, browser, right, wrong)
}

#[test]
fn a_wrong_code_is_refused_in_words_and_a_used_or_expired_link_says_so() {
    let demo = Demo::start();
    let app = demo.app("Acme", json!({"name": "Acme Payroll"}), &[]);
    let phone = "+14155550188";
    let (link, browser, _, wrong) = at_the_code_step(&demo, &app, phone);
    browser.type_into("#dots-code", wrong);
    browser.click(".dots-form button[type=submit]");
    let error = browser.wait_until("document.getElementById('dots-code-error').innerText", "the refusal");
    assert!(error.as_str().unwrap().to_lowercase().contains("code"), "{error}");
    assert_eq!(
        browser.exec("return document.getElementById('dots-code-error').getAttribute('role')", json!([])),
        "alert"
    );
    assert!(browser.exec("return !!document.getElementById('dots-code')", json!([])) == true, "still on the code step");
    assert_eq!(notice(&browser), "", "\"we sent you a code\" stays under the refusal");
    shoot(&browser, "link-error-wrong-code");

    // A canceled link cannot be claimed; its page says so.
    call(
        &demo.server,
        "POST",
        &format!("/v2/payout-links/{}/cancel", link["id"].as_str().unwrap()),
        &app.basic,
        json!({}),
    );
    browser.goto(link["url"].as_str().unwrap());
    browser.wait_for(".dots-failure");
    assert_eq!(browser.text(".dots-failure h2"), "This payment was canceled");
    // No session could be opened, yet the page names the app (the server wrote it in).
    assert_eq!(browser.text(".dots-app"), "Acme Payroll");
    assert_eq!(browser.text(".dots-failure p"), "The sender canceled this payment, so it can't be claimed.");
    assert_eq!(browser.text(".dots-failure .dots-hint"), "Ask the sender for a new link.");

    // A link that expires while its page is open: the session ends with it, the
    // page says so and offers to start again, and starting again finds it expired.
    let now_ms = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let expires_ms = now_ms() + 4000;
    let short = demo.link(&app, phone, json!({"expires_at": dots_shared::time::rfc3339_from_unix_ms(expires_ms)}));
    browser.goto(short["url"].as_str().unwrap());
    browser.wait_for("#dots-phone");
    std::thread::sleep(Duration::from_millis((expires_ms - now_ms() + 500).max(0) as u64));
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    browser.wait_for(".dots-failure");
    assert_eq!(browser.text(".dots-failure h2"), "Your session has expired");
    shoot(&browser, "link-error-session-expired");
    browser.click(".dots-failure button");
    browser.wait_until("document.querySelector('.dots-failure h2').innerText == 'This link has expired'", "the reload");
    let words = browser.text(".dots-failure p");
    assert!(words.starts_with("Payment links work for a limited time"), "{words}");
    shoot(&browser, "link-error-expired");

    // A link the sender cancels while its page is open: the session ends with it,
    // the page opens the link again and says what it has become.
    let canceled = demo.link(&app, phone, json!({}));
    browser.goto(canceled["url"].as_str().unwrap());
    browser.wait_for("#dots-phone");
    call(
        &demo.server,
        "POST",
        &format!("/v2/payout-links/{}/cancel", canceled["id"].as_str().unwrap()),
        &app.basic,
        json!({}),
    );
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    browser.wait_for(".dots-failure");
    assert_eq!(browser.text(".dots-failure h2"), "This payment was canceled");
    shoot(&browser, "link-error-canceled");
}

#[test]
fn a_code_out_of_tries_says_when_a_new_one_can_be_asked_for_and_the_new_one_works() {
    let demo = Demo::start();
    let app = demo.app("Acme", json!({"name": "Acme Payroll"}), &[]);
    let phone = "+14155550166";
    let (_, browser, right, wrong) = at_the_code_step(&demo, &app, phone);
    let error = || browser.text("#dots-code-error");
    for left in [4, 3, 2, 1] {
        browser.type_into("#dots-code", wrong);
        browser.click(".dots-form button[type=submit]");
        let expected =
            if left == 1 { "You have 1 try left.".to_string() } else { format!("You have {left} tries left.") };
        browser.wait_until(
            &format!("document.getElementById('dots-code-error').innerText.endsWith({})", json!(expected)),
            &expected,
        );
        // The wrong code does not stay in the field.
        assert_eq!(browser.exec("return document.getElementById('dots-code').value", json!([])), "");
    }
    assert_eq!(error(), "That code isn't right. You have 1 try left.");
    browser.type_into("#dots-code", wrong);
    browser.click(".dots-form button[type=submit]");
    browser.wait_until("document.getElementById('dots-code-error').innerText.includes('last try')", "the last try");
    // Locked: the screen says when a new code can be asked for; checking is off until then.
    let hint = browser.text("#dots-code-hint");
    assert!(hint.starts_with("You can ask for a new code in "), "{hint}");
    assert_eq!(
        browser.exec("return document.querySelector('.dots-form button[type=submit]').disabled", json!([])),
        true
    );
    assert_eq!(browser.exec("return document.getElementById('dots-code').value", json!([])), "");
    shoot(&browser, "link-error-code-locked");
    // When the cool-down ends (30 s after the first code), asking works and the new code verifies.
    let deadline = Instant::now() + Duration::from_secs(40);
    while browser.exec("return document.querySelector('.dots-link').disabled", json!([])) == true {
        assert!(Instant::now() < deadline, "the resend button never came back");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(browser.text("#dots-code-hint"), "Ask for a new code below.");
    browser.click(".dots-link");
    browser.wait_until("document.querySelector('.dots-notice').innerText == 'We sent a new code.'", "the new code");
    let fresh = last_code(&demo.server, &app.basic, phone);
    assert_ne!(fresh, right, "a new code was sent");
    browser.type_into("#dots-code", &fresh);
    browser.click(".dots-form button[type=submit]");
    browser.wait_for("#dots-routing");
}

#[test]
fn a_payee_whose_browser_speaks_spanish_claims_a_link_in_spanish() {
    let demo = Demo::start();
    // The other demo app (dark, serif) in the other language.
    let app = demo.demo_app(1);
    call(&demo.server, "PUT", "/v2/apps/me/rules", &app.basic, json!({"tax_id_threshold": 1000}));
    // The app pays this link's fee: the payee sees no fee at all.
    dots_e2e::set_fees(&demo.server, &app, json!({"fixed": 50}));
    let phone = "+14155550177";
    let link = demo.link(&app, phone, json!({}));
    let browser = Browser::start_with(&["--lang=es-MX", "--accept-lang=es-MX,es"]);
    browser.goto(link["url"].as_str().unwrap());
    browser.wait_for("#dots-phone");
    assert_eq!(browser.exec("return document.documentElement.lang", json!([])), "es");
    assert!(browser.text(".dots-title").starts_with("Zest Rewards te envió "), "{}", browser.text(".dots-title"));
    assert_eq!(browser.text(".dots-form h2"), "Confirma que eres tú");
    assert_eq!(browser.text(".dots-progress-text"), "Paso 1 de 4");
    shoot(&browser, "link-es-1-phone");
    // The country list starts at the payee's region, named in their language.
    let country = browser.exec(
        "const s = document.getElementById('dots-country'); return [s.value, s.selectedOptions[0].text]",
        json!([]),
    );
    assert_eq!(country, json!(["MX", "México (+52)"]));
    browser.type_into("#dots-phone", "555-0141");
    browser.click(".dots-form button[type=submit]");
    let refusal = browser.wait_until("document.getElementById('dots-phone-error').innerText", "the refusal");
    assert_eq!(refusal, "Revisa el número: elige tu país y escribe tu número de celular.");
    shoot(&browser, "link-es-error-phone");
    browser.exec("document.getElementById('dots-phone').value = ''", json!([]));
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    browser.wait_for("#dots-code");
    assert_eq!(browser.text(".dots-form h2"), "Escribe tu código");
    shoot(&browser, "link-es-2-code");
    enter_code(&browser, &demo, &app, phone);
    browser.wait_for("#dots-first");
    assert_eq!(browser.text(".dots-form h2"), "Algunos datos");
    shoot(&browser, "link-es-3-compliance");
    fill_in_details(&browser);
    browser.click(".dots-form button[type=submit]");
    browser.wait_for("#dots-routing");
    assert_eq!(browser.text(".dots-form h2"), "¿Adónde te lo enviamos?");
    shoot(&browser, "link-es-4-payout-method");
    add_bank_and_review(&browser);
    let review = browser.text(".dots-review");
    assert!(review.contains("Cuenta bancaria terminada en 6789") && !review.contains("Comisión"), "{review}");
    assert!(browser.text(".dots-form button[type=submit]").starts_with("Reclamar "));
    shoot(&browser, "link-es-5-review");
    browser.click(".dots-form button[type=submit]");
    browser.wait_until(
        "document.querySelector('.dots-result h2') && document.querySelector('.dots-result h2').innerText.endsWith('fue pagado')",
        "the payout paid, in Spanish",
    );
    assert!(browser.text(".dots-result p").starts_with("Pagado el "), "{}", browser.text(".dots-result p"));
    shoot(&browser, "link-es-6-paid");
}

/// Waits for the payout page's heading to read `title`.
fn wait_for_status(browser: &Browser, title: &str) {
    browser.wait_until(
        &format!(
            "document.querySelector('.dots-result h2') && document.querySelector('.dots-result h2').innerText == {}",
            json!(title)
        ),
        title,
    );
}

#[test]
fn a_claimed_link_follows_its_payout_resends_a_failed_one_and_a_second_tab_moves_there() {
    let demo = Demo::start();
    let app = demo.app("Acme", json!({"name": "Acme Payroll", "primary_color": "#0b7a3b"}), &[]);
    let phone = "+14155550142";
    let link = demo.link(&app, phone, json!({}));
    let url = link["url"].as_str().unwrap();
    let browser = Browser::start();
    // A second tab opens the same link and waits at the phone step.
    let first = browser.tab();
    browser.goto(url);
    browser.wait_for("#dots-phone");
    let second = browser.new_tab();
    browser.goto(url);
    browser.wait_for("#dots-phone");
    browser.switch_to(&first);

    // Claimed to an account the sandbox rail closes (ending 0000).
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    enter_code(&browser, &demo, &app, phone);
    browser.wait_for("#dots-routing");
    browser.type_into("#dots-routing", "011000015");
    browser.type_into("#dots-account", "000123450000");
    browser.click(".dots-form button[type=submit]");
    browser.wait_until("document.querySelector('.dots-review')", "review");
    browser.click(".dots-form button[type=submit]");
    // On its way, then (settled after 100 ms) failed, in words, with a way forward.
    wait_for_status(&browser, "This payment didn't go through");
    let words = browser.text(".dots-result p");
    assert!(words.contains("The account is closed.") && words.contains("another account"), "{words}");
    assert!(!words.to_lowercase().contains("status"), "no status word: {words}");
    shoot(&browser, "link-status-failed");

    // The second tab learns at its next request that the link was claimed: it opens
    // the link's page again, where the payee proves the phone to follow the payout.
    browser.switch_to(&second);
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    browser.wait_until(
        "document.querySelector('#dots-root') && document.querySelector('#dots-root').innerText.includes('has been claimed')",
        "the claimed link's page",
    );
    assert!(browser.exec("return !!document.getElementById('dots-code')", json!([])) == false);
    shoot(&browser, "link-status-prove-phone");
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    enter_code(&browser, &demo, &app, phone);
    wait_for_status(&browser, "This payment didn't go through");

    // The first tab sends the money again, to another account.
    browser.switch_to(&first);
    browser.click(".dots-result button");
    browser.wait_for("#dots-routing");
    browser.type_into("#dots-routing", "011000015");
    browser.type_into("#dots-account", "000123456789");
    browser.click(".dots-form button[type=submit]");
    browser.wait_until("document.querySelector('.dots-review')", "review");
    assert_eq!(browser.text(".dots-form button[type=submit]"), "Send $12.50");
    browser.click(".dots-form button[type=submit]");
    wait_for_status(&browser, "$12.50 was paid");
    let words = browser.text(".dots-result p");
    assert!(words.starts_with("Paid on ") && words.ends_with("to your bank account ending 6789."), "{words}");
    shoot(&browser, "link-status-paid");

    // The second tab, still showing the failed payout, cannot send it a second
    // time: it is told where the money went instead.
    browser.switch_to(&second);
    browser.click(".dots-result button");
    browser.wait_for("input[name=dots-method]");
    browser.click(".dots-form button[type=submit]");
    browser.wait_until("document.querySelector('.dots-review')", "review");
    browser.click(".dots-form button[type=submit]");
    wait_for_status(&browser, "$12.50 was paid");
    // Reloaded later, the link's page shows the payout paid once the phone is proven.
    browser.goto(url);
    browser.wait_for("#dots-phone");
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    std::thread::sleep(Duration::from_millis(1100));
    enter_code(&browser, &demo, &app, phone);
    wait_for_status(&browser, "$12.50 was paid");

    let link = call(
        &demo.server,
        "GET",
        &format!("/v2/payout-links/{}", link["id"].as_str().unwrap()),
        &app.basic,
        Value::Null,
    );
    let transfers = call(&demo.server, "GET", "/v2/transfers?type=payout", &app.basic, Value::Null);
    let statuses: Vec<&str> =
        transfers["data"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 2, "one failed payout and one resent: {statuses:?}");
    let paid = call(
        &demo.server,
        "GET",
        &format!("/v2/transfers/{}", link["payout_transfer_id"].as_str().unwrap()),
        &app.basic,
        Value::Null,
    );
    assert_eq!(paid["status"], "completed");
}

/// The flow inside the host page's iframe, from phone to the success screen.
fn complete_embedded_flow(browser: &Browser, demo: &Demo, app: &AppCredentials, phone: &str, shots: Option<&str>) {
    // This flow's onExit(done) is the next one: an earlier flow's must not count.
    let done = "window.dotsLog.filter(e => e.name == 'exit' && e.data.metadata.reason == 'done').length";
    let done_before = browser.exec(&format!("return {done}"), json!([])).as_u64().unwrap_or(0);
    // A step in its frame checked by axe-core, then the whole page shot (and checked).
    let shoot_step = |step: &str| {
        if let Some(prefix) = shots {
            accessible(browser, &format!("{prefix}, {step} in its frame"));
            browser.leave_frame();
            shoot(browser, &format!("{prefix}-{step}"));
            browser.enter_frame("iframe.dots-frame");
        }
    };
    browser.enter_frame("iframe.dots-frame");
    browser.wait_for("#dots-phone");
    shoot_step("1-phone");
    browser.type_into("#dots-phone", phone);
    browser.click(".dots-form button[type=submit]");
    browser.wait_for("#dots-code");
    shoot_step("2-code");
    enter_code(browser, demo, app, phone);
    browser.wait_for("input[name=dots-kind]");
    shoot_step("3-payout-method");
    browser.click("input[name=dots-kind][value=paypal]");
    browser.type_into("#dots-paypal", "ada@example.com");
    browser.click(".dots-form button[type=submit]");
    browser.wait_for(".dots-review");
    shoot_step("4-review");
    browser.click(".dots-form button[type=submit]");
    browser.wait_for(".dots-success");
    // Inside a host page the payee goes on there: no "close this window".
    let words = browser.text(".dots-success p");
    assert!(!words.contains("close this window"), "{words}");
    shoot_step("5-success");
    browser.click(".dots-success button");
    browser.leave_frame();
    browser.wait_until(&format!("{done} > {done_before}"), "onExit(done)");
}

/// What reached the host page's callbacks.
fn host_log(browser: &Browser) -> Vec<Value> {
    browser.exec("return window.dotsLog", json!([])).as_array().cloned().unwrap_or_default()
}

#[test]
fn the_embedded_flow_fires_on_success_with_opaque_ids_in_modal_and_inline_modes() {
    let demo = Demo::start();
    let browser = Browser::start();
    // The merchant's origin is only known once it listens: allow it afterwards.
    let app = demo.demo_app(1);
    let merchant = Merchant::start(&demo.server, &app, "Zest Rewards");
    call(&demo.server, "PUT", "/v2/apps/me/settings", &app.basic, json!({"allowed_origins": [merchant.url]}));
    browser.goto(&merchant.url);

    // Modal: open, then Escape closes it and focus returns to the opener.
    browser.click("#open-modal");
    browser.wait_until("window.dotsLog.some(e => e.name == 'event:OPEN')", "the modal to open");
    assert_eq!(
        browser.exec("return document.querySelector('.dots-dialog').getAttribute('aria-modal')", json!([])),
        "true"
    );
    // The page behind the dialog is inert while it is open (focus cannot reach it).
    assert_eq!(browser.exec("return document.querySelector('main').inert", json!([])), true);
    // The page's CSP allows styles only with its nonce: the loader's overlay rules
    // applying means the nonce reached the one <style> element it adds.
    let overlay = browser.exec("return getComputedStyle(document.querySelector('.dots-overlay')).position", json!([]));
    assert_eq!(overlay, "fixed");
    // The dialog takes its content's height (it was a fixed 720 px, half of it empty).
    browser.wait_until(
        "(() => { const h = document.querySelector('.dots-dialog').getBoundingClientRect().height;
                  return h > 200 && h < 600 ? h : null; })()",
        "the dialog to take its content's height",
    );
    browser.enter_frame("iframe.dots-frame");
    assert_eq!(browser.exec("return document.activeElement.id", json!([])), "dots-phone", "focus is in the widget");
    let card = browser.exec(
        "return [Math.round(document.querySelector('.dots-card').getBoundingClientRect().height), innerHeight]",
        json!([]),
    );
    assert!((card[0].as_i64().unwrap() - card[1].as_i64().unwrap()).abs() <= 1, "card and dialog agree: {card}");
    browser.press("\u{E00C}");
    browser.leave_frame();
    browser.wait_until("window.dotsLog.some(e => e.name == 'exit' && e.data.metadata.reason == 'user')", "onExit");
    assert_eq!(browser.exec("return document.querySelector('.dots-overlay').hidden", json!([])), true);
    assert_eq!(browser.exec("return document.activeElement.id", json!([])), "open-modal", "focus returns");
    assert_eq!(browser.exec("return document.querySelector('main').inert", json!([])), false);

    // A click on the backdrop first: Escape still closes the modal.
    browser.exec("window.dotsLog.length = 0", json!([]));
    browser.click("#open-modal");
    browser.wait_until("window.dotsLog.some(e => e.name == 'event:OPEN')", "the modal to open again");
    browser.click_at(4, 4);
    browser.press("\u{E00C}");
    browser.wait_until(
        "window.dotsLog.some(e => e.name == 'exit' && e.data.metadata.reason == 'user')",
        "onExit after a click on the backdrop",
    );
    assert_eq!(browser.exec("return document.querySelector('.dots-overlay').hidden", json!([])), true);

    browser.click("#open-modal");
    complete_embedded_flow(&browser, &demo, &app, "+14155550111", Some("flow-modal"));
    let log = host_log(&browser);
    let success = log.iter().find(|e| e["name"] == "success").expect("onSuccess fired").clone();
    let data = success["data"].as_object().unwrap();
    assert!(data["flow_id"].as_str().unwrap().starts_with("flow_"));
    assert!(data["user_id"].as_str().unwrap().starts_with("usr_"));
    assert!(data.keys().all(|k| k.ends_with("_id")), "only opaque ids reach the host: {success}");
    let everything = Value::Array(log.clone()).to_string();
    for secret in ["fst_", "5550111", "ada@example.com"] {
        assert!(!everything.contains(secret), "{secret} reached the host page: {everything}");
    }
    let flow =
        call(&demo.server, "GET", &format!("/v2/flows/{}", data["flow_id"].as_str().unwrap()), &app.basic, Value::Null);
    assert_eq!(flow["status"], "completed");

    // Inline: the iframe sits in the container and follows its content's height.
    browser.click("#destroy");
    assert_eq!(
        browser.exec("return document.querySelectorAll('iframe.dots-frame, .dots-overlay').length", json!([])),
        0
    );
    browser.click("#open-inline");
    browser.wait_for("#inline-container iframe.dots-frame");
    browser.wait_until(
        "document.querySelector('#inline-container iframe').offsetHeight > 200",
        "the inline frame to grow",
    );
    complete_embedded_flow(&browser, &demo, &app, "+14155550112", Some("flow-inline"));
    let successes = host_log(&browser).iter().filter(|e| e["name"] == "success").count();
    assert_eq!(successes, 2);
    assert_eq!(
        browser.exec("return document.querySelector('#inline-container iframe').style.display", json!([])),
        "none"
    );
    // The host page's log shows its item numbers whole, and the result stays in its card.
    let fits = browser.exec(
        "const ol = document.getElementById('events'), cs = getComputedStyle(ol);
         const ctx = document.createElement('canvas').getContext('2d'); ctx.font = cs.font;
         const r = document.getElementById('result');
         return [ol.children.length >= 10, ctx.measureText('10. ').width <= parseFloat(cs.paddingLeft),
                 r.scrollWidth <= r.clientWidth]",
        json!([]),
    );
    assert_eq!(fits, json!([true, true, true]), "[ten events, numbers fit, result fits]");
    // Its payout-link form answers a national number in words, not the API's field names.
    browser.type_into("#link-phone", "(201) 555-0141");
    browser.click("#link-form button[type=submit]");
    let answer = browser.wait_until("document.getElementById('link-url').innerText", "the link form's answer");
    assert_eq!(answer, "Enter your mobile number with its country code, like +1 415 555 2671.");

    // Two more instances at once on the same page, one of them for a known, verified
    // payee (pre-authenticated: no phone step): each gets ready in its own frame.
    let wallet = json!({"type": "paypal", "email": "k@example.com"});
    let known = dots_e2e::verified_payee(&demo.server, &app.basic, "+14155550113", wallet);
    let body = json!({"steps": ["verify_phone", "payout_method"], "user_id": known});
    let preauth = call(&demo.server, "POST", "/v2/flows", &app.basic, body);
    browser.exec(
        "const [token] = arguments;
         for (const i of [0, 1]) {
           const box = document.createElement('div'); box.id = 'extra-' + i; document.body.appendChild(box);
         }
         // open() right after create(): queued until the frame is ready.
         const start = (i, tok) => Dots.create({ token: tok, container: '#extra-' + i,
           onReady: () => window.dotsLog.push({ name: 'extra-ready-' + i }) }).open();
         start(0, token);
         fetch('/api/flows', { method: 'POST' }).then(r => r.json()).then(a => start(1, a.token));",
        json!([preauth["token"]]),
    );
    let both = "['extra-ready-0', 'extra-ready-1'].every(n => window.dotsLog.some(e => e.name == n))";
    browser.wait_until(both, "both instances");
    browser.enter_frame("#extra-0 iframe");
    let method_step = "document.querySelector('.dots-form h2').innerText.startsWith('Where')";
    browser.wait_until(method_step, "the pre-authenticated flow to skip the phone");
    browser.leave_frame();
    browser.enter_frame("#extra-1 iframe");
    browser.wait_for("#dots-phone");
    browser.leave_frame();
}

#[test]
fn a_payee_whose_browser_speaks_spanish_gets_the_embedded_flow_in_spanish() {
    let demo = Demo::start();
    // The other demo app (light) in the other language; the host page stays the
    // merchant's own (English), the widget follows the browser.
    let app = demo.demo_app(0);
    let merchant = Merchant::start(&demo.server, &app, "Acme Payroll");
    call(&demo.server, "PUT", "/v2/apps/me/settings", &app.basic, json!({"allowed_origins": [merchant.url]}));
    let browser = Browser::start_with(&["--lang=es-MX", "--accept-lang=es-MX,es"]);
    browser.goto(&merchant.url);
    browser.click("#open-modal");
    browser.enter_frame("iframe.dots-frame");
    browser.wait_for("#dots-phone");
    assert_eq!(browser.exec("return document.documentElement.lang", json!([])), "es");
    assert_eq!(browser.text(".dots-form h2"), "Confirma que eres tú");
    browser.leave_frame();
    complete_embedded_flow(&browser, &demo, &app, "+14155550121", Some("flow-es-modal"));
    browser.click("#destroy");
    browser.click("#open-inline");
    browser.wait_for("#inline-container iframe.dots-frame");
    browser.enter_frame("iframe.dots-frame");
    browser.wait_for("#dots-phone");
    browser.type_into("#dots-phone", "+14155550122");
    browser.click(".dots-form button[type=submit]");
    browser.wait_for("#dots-code");
    assert_eq!(notice(&browser), "Te enviamos un código por SMS al +1\u{a0}415\u{2011}555\u{2011}0122.");
    browser.leave_frame();
    shoot(&browser, "flow-es-inline-2-code");
}

#[test]
fn a_flow_opened_as_a_page_of_its_own_sends_the_payee_back_to_the_app() {
    let demo = Demo::start();
    let app = demo.app("Acme", json!({"name": "Acme Payroll"}), &[]);
    let back = "http://127.0.0.1:9/payouts/done";
    let body = json!({"steps": ["verify_phone", "payout_method"], "redirect_url": back});
    let flow = call(&demo.server, "POST", "/v2/flows", &app.basic, body);
    let browser = Browser::start();
    browser.goto(flow["url"].as_str().unwrap());
    let phone = "+14155550131";
    browser.type_into("#dots-phone", phone);
    // The token left the address bar (and history) as soon as the page read it.
    assert_eq!(browser.exec("return location.hash", json!([])), "");
    browser.click(".dots-form button[type=submit]");
    enter_code(&browser, &demo, &app, phone);
    browser.click("input[name=dots-kind][value=paypal]");
    browser.type_into("#dots-paypal", "ada@example.com");
    browser.click(".dots-form button[type=submit]");
    browser.wait_until("document.querySelector('.dots-form h2').innerText == 'Review'", "review");
    browser.click(".dots-form button[type=submit]");
    browser.wait_for(".dots-success");
    assert_eq!(browser.exec("return document.querySelector('.dots-success a').href", json!([])), back);
    let flow =
        call(&demo.server, "GET", &format!("/v2/flows/{}", flow["id"].as_str().unwrap()), &app.basic, Value::Null);
    assert_eq!(flow["status"], "completed");
}

#[test]
fn a_host_origin_not_on_the_allowlist_gets_no_frame() {
    let demo = Demo::start();
    let browser = Browser::start();
    let app = demo.app("Acme", json!({"name": "Acme"}), &["https://shop.example.com"]);
    let merchant = Merchant::start(&demo.server, &app, "Not allowed");
    browser.goto(&merchant.url);
    browser.click("#open-modal");
    let exit = browser.wait_until("window.dotsLog.find(e => e.name == 'exit')", "onExit with the refusal");
    assert_eq!(exit["data"]["error"]["code"], "frame_refused", "{exit}");
    assert!(!host_log(&browser).iter().any(|e| e["name"] == "ready"), "the widget never started");
    // The page itself refuses, whatever origin the loader claims.
    let flow = call(&demo.server, "POST", "/v2/flows", &app.basic, json!({"steps": ["verify_phone"]}));
    let path = format!("/flow/{}?origin={}", flow["id"].as_str().unwrap(), "https%3A%2F%2Fevil.example");
    let (status, _) = demo.server.request("GET", &path, None, None);
    assert_eq!(status, 403);
}

#[test]
fn two_apps_render_with_their_own_brand_colours() {
    let demo = Demo::start();
    let browser = Browser::start();
    let brands = [("Acme", "#0b7a3b", "rgb(11, 122, 59)"), ("Zest", "#c2410c", "rgb(194, 65, 12)")];
    for (name, colour, rgb) in brands {
        let app = demo.app(name, json!({"name": name, "primary_color": colour, "corner_radius": 4}), &[]);
        let link = demo.link(&app, "+14155550123", json!({}));
        browser.goto(link["url"].as_str().unwrap());
        browser.wait_for("#dots-phone");
        let style = browser.exec(
            "const b = getComputedStyle(document.querySelector('.dots-primary')); \
             return [b.backgroundColor, b.borderTopLeftRadius]",
            json!([]),
        );
        assert_eq!(style, json!([rgb, "4px"]), "{name}");
        shoot(&browser, &format!("brand-{}", name.to_lowercase()));
    }
    // Amounts are written the payee's way (the browser's language on a link's page).
    let app = demo.app("Acme DE", json!({"name": "Acme GmbH"}), &[]);
    let link = demo.link(&app, "+14155550124", json!({"amount": 123_456}));
    let german = Browser::start_with(&["--lang=de-DE", "--accept-lang=de-DE"]);
    german.goto(link["url"].as_str().unwrap());
    german.wait_for("#dots-phone");
    assert_eq!(german.text(".dots-title"), "Acme GmbH sent you 1.234,56 $");
}

/// A session planted on a victim (issue: an attacker opens an email-only link's
/// session and sends the victim its `/flow/{id}#fst_…` page): the victim proves
/// their own phone in the browser, the browser's session goes on with a fresh
/// token, and the attacker's copy is refused by every flow API route.
#[test]
fn a_planted_session_dies_when_its_victim_verifies_in_the_browser() {
    let demo = Demo::start();
    let app = demo.app("Acme", json!({"name": "Acme Payroll"}), &[]);
    let link = call(
        &demo.server,
        "POST",
        "/v2/payout-links",
        &app.basic,
        json!({"amount": 1250, "currency": "USD", "email": "ada@example.com"}),
    );
    let link_token = link["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let (status, opened) =
        demo.server.request("POST", "/flow/v1/sessions", None, Some(&json!({"link_token": link_token}).to_string()));
    assert_eq!(status, 201, "{opened}");
    let opened: Value = serde_json::from_str(&opened).unwrap();
    let (flow_id, planted) = (opened["id"].as_str().unwrap(), opened["token"].as_str().unwrap());

    let browser = Browser::start();
    browser.goto(&format!("{}/flow/{flow_id}#{planted}", demo.server.url));
    browser.wait_for("#dots-phone");
    let phone = "+14155552671";
    browser.type_into("#dots-phone", "+1 415 555 2671");
    browser.click(".dots-form button[type=submit]");
    enter_code(&browser, &demo, &app, phone);
    browser.wait_for("#dots-routing");

    let bearer = format!("Bearer {planted}");
    let attempts = [
        ("GET", "/flow/v1/session", None),
        ("GET", "/flow/v1/compliance", None),
        ("PUT", "/flow/v1/compliance", Some(json!({"legal_first_name": "Mallory"}))),
        ("GET", "/flow/v1/payout-methods", None),
        ("POST", "/flow/v1/payout-methods", Some(json!({"type": "paypal", "email": "mallory@example.com"}))),
        ("POST", "/flow/v1/verification", Some(json!({"phone_number": "+14155550999"}))),
        ("POST", "/flow/v1/verification/check", Some(json!({"code": "123456"}))),
        ("POST", "/flow/v1/claim", Some(json!({"payout_method_id": "pm_x"}))),
        ("POST", "/flow/v1/complete", Some(json!({}))),
    ];
    for (method, path, body) in attempts {
        let body = body.map(|b| b.to_string());
        let (status, text) = demo.server.request(method, path, Some(&bearer), body.as_deref());
        assert_eq!(status, 401, "{method} {path} with the planted token: {text}");
    }

    // The victim's browser, holding the new token, finishes and is paid.
    add_bank_and_review(&browser);
    browser.click(".dots-form button[type=submit]");
    browser.wait_for(".dots-success");
    let methods = call(
        &demo.server,
        "GET",
        &format!("/v2/payout-links/{}", link["id"].as_str().unwrap()),
        &app.basic,
        Value::Null,
    );
    assert_eq!(methods["status"], "claimed", "{methods}");
}

#[test]
fn a_flow_with_a_payout_step_withdraws_the_wallet_to_a_bank_account() {
    let demo = Demo::start();
    let app = demo.demo_app(0);
    // The payee bears a $0.50 fee and may take at most $20.00 at a time.
    dots_e2e::set_fees(&demo.server, &app, json!({"fixed": 50}));
    call(&demo.server, "PUT", "/v2/apps/me/rules", &app.basic, json!({"fee_party": "user", "flow_payout_max": 2000}));
    let phone = "+14155550161";
    let body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone_number": phone});
    let user = call(&demo.server, "POST", "/v2/users", &app.basic, body);
    let user = user["id"].as_str().unwrap().to_string();
    call(&demo.server, "POST", "/v2/refills", &app.basic, json!({"amount": 10_000, "currency": "USD"}));
    let body = json!({"type": "balance", "user_id": user, "amount": 2_500, "currency": "USD"});
    call(&demo.server, "POST", "/v2/transfers", &app.basic, body);
    let body = json!({"steps": ["verify_phone", "payout_method", "payout"], "user_id": user});
    let flow = call(&demo.server, "POST", "/v2/flows", &app.basic, body);
    let browser = Browser::start();
    browser.goto(flow["url"].as_str().unwrap());
    // The payee proves the phone the app knows, then adds a bank account.
    browser.wait_for("#dots-phone, .dots-form button[type=submit]");
    browser.click(".dots-form button[type=submit]");
    enter_code(&browser, &demo, &app, phone);
    browser.wait_for("#dots-routing");
    browser.type_into("#dots-routing", "011000015");
    browser.type_into("#dots-account", "000123456789");
    browser.click(".dots-form button[type=submit]");
    // The review: all the app lets the payee take ($20.00 of $25.00), the fee, what arrives.
    browser.wait_until(
        "document.querySelector('.dots-review') && document.querySelector('.dots-review').innerText",
        "review",
    );
    assert_eq!(browser.exec("return document.getElementById('dots-amount').value", json!([])), "20.00");
    let review = browser.text(".dots-review");
    assert!(review.contains("Fee\n$0.50") && review.contains("You receive\n$19.50"), "{review}");
    assert!(review.contains("Bank account ending 6789"), "{review}");
    assert_eq!(browser.text(".dots-form button[type=submit]"), "Withdraw $20.00");
    shoot(&browser, "flow-payout-1-review");
    // More than the app allows: said under the field, nothing moves.
    browser.type_into("#dots-amount", "25");
    assert_eq!(browser.text(".dots-form button[type=submit]"), "Continue");
    browser.click(".dots-form button[type=submit]");
    browser.wait_until("document.getElementById('dots-amount-error').innerText", "the amount's error");
    assert_eq!(browser.text("#dots-amount-error"), "Enter an amount from $0.01 to $20.00.");
    assert_eq!(
        browser.exec("return document.getElementById('dots-amount').getAttribute('aria-invalid')", json!([])),
        "true"
    );
    // A smaller amount: priced by the server (its fee, what arrives), then withdrawn.
    browser.type_into("#dots-amount", "12,5");
    browser.click(".dots-form button[type=submit]");
    browser.wait_until(
        "document.querySelector('.dots-form button[type=submit]').innerText == 'Withdraw $12.50'",
        "priced",
    );
    let review = browser.text(".dots-review");
    assert!(review.contains("Fee\n$0.50") && review.contains("You receive\n$12.00"), "{review}");
    assert_eq!(browser.exec("return document.activeElement.type", json!([])), "submit", "focus on the withdrawal");
    shoot(&browser, "flow-payout-2-typed");
    let none = call(&demo.server, "GET", &format!("/v2/transfers?user_id={user}&type=payout"), &app.basic, Value::Null);
    assert_eq!(none["data"], json!([]), "pricing moves no money");
    browser.click(".dots-form button[type=submit]");
    browser.wait_for(".dots-success");
    assert_eq!(browser.text(".dots-success h2"), "$12.00 is on its way");
    shoot(&browser, "flow-payout-3-done");
    let flow =
        call(&demo.server, "GET", &format!("/v2/flows/{}", flow["id"].as_str().unwrap()), &app.basic, Value::Null);
    assert_eq!(flow["status"], "completed");
    let payouts =
        call(&demo.server, "GET", &format!("/v2/transfers?user_id={user}&type=payout"), &app.basic, Value::Null);
    let payout = &payouts["data"][0];
    assert_eq!(
        (&payout["amount"], &payout["fee"], &payout["net"]),
        (&json!(1_250), &json!(50), &json!(1_200)),
        "{payout}"
    );
    let wallet = call(&demo.server, "GET", &format!("/v2/users/{user}/wallet"), &app.basic, Value::Null);
    assert_eq!(wallet["available"], 1_250);
}
