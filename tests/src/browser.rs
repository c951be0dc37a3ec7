//! Headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`), with the one raw HTTP client of these tests: no browser
//! download, no extra crate. Every wait is bounded; the session and the driver
//! end on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{free_port, http_get, http_request};

/// Where screenshots go: `screenshots/` of the workspace (README, "Screenshots"),
/// or `$DOTS_SCREENSHOTS`.
pub fn screenshots() -> std::path::PathBuf {
    std::env::var_os("DOTS_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("screenshots"))
}

/// A screenshot of the current page in light and in dark, on a desktop window and
/// on a 390×844 phone, each checked by axe-core: no serious or critical
/// accessibility violation.
pub fn shoot(browser: &Browser, name: &str) {
    for (size, (width, height)) in [("", (1024, 900)), ("-phone", (390, 844))] {
        browser.set_size(width, height);
        // An inline widget may sit below the fold of a phone-sized host page.
        browser.exec("document.querySelector('iframe.dots-frame')?.scrollIntoView({block: 'nearest'})", json!([]));
        for (dark, scheme) in [(false, "light"), (true, "dark")] {
            browser.set_dark(dark);
            browser.screenshot(&screenshots().join(format!("{name}-{scheme}{size}.png")));
            accessible(browser, &format!("{name} ({scheme}{size})"));
        }
    }
    browser.set_size(1024, 900);
    browser.set_dark(false);
}

/// axe-core finds no serious or critical violation in the current document or frame.
pub fn accessible(browser: &Browser, what: &str) {
    let violations = browser.accessibility_violations();
    assert!(violations.is_empty(), "axe-core on {what}: {violations:#?}");
}

/// How long any wait in a browser test may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempdir::Dir,
}

impl Browser {
    pub fn start() -> Browser {
        Browser::start_with(&[])
    }

    /// With extra Chromium flags (`--lang=de-DE`, …).
    pub fn start_with(flags: &[&str]) -> Browser {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("Chromium is missing: apt-get install chromium chromium-driver (cargo xtask test does)");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (apt-get install chromium-driver)");
        let deadline = Instant::now() + WAIT;
        while !http_get(&addr, "/status").is_some_and(|(s, body)| s == 200 && body.contains("\"ready\":true")) {
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempdir::Dir::new("dots-chromium");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1024,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path.display()));
        args.extend(flags.iter().map(|f| f.to_string()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let mut browser = Browser { driver, addr, session: String::new(), _profile: profile };
        let answer = browser.command("POST", "/session", Some(capabilities));
        browser.session = answer["sessionId"].as_str().expect("a WebDriver session").to_string();
        browser
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let (status, text) = http_request(&self.addr, method, path, None, body.as_deref())
            .unwrap_or_else(|| panic!("chromedriver did not answer {method} {path}"));
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status == 200, "WebDriver {method} {path}: {status} {text}");
        json["value"].clone()
    }

    fn session_command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens a new tab (its own `sessionStorage`) and switches to it; returns its handle.
    pub fn new_tab(&self) -> String {
        let tab = self.session_command("POST", "/window/new", Some(json!({"type": "tab"})));
        let handle = tab["handle"].as_str().expect("a window handle").to_string();
        self.switch_to(&handle);
        handle
    }

    /// The current tab's handle.
    pub fn tab(&self) -> String {
        self.session_command("GET", "/window", None).as_str().expect("a window handle").to_string()
    }

    /// Sizes the viewport (what a page sees, `innerWidth`×`innerHeight`), e.g. 390×844
    /// for a phone: the window is set, then grown by what its frame takes.
    pub fn set_size(&self, width: i64, height: i64) {
        self.session_command("POST", "/window/rect", Some(json!({"width": width, "height": height})));
        let inner = self.exec("return [innerWidth, innerHeight]", json!([]));
        let (w, h) = (inner[0].as_i64().unwrap_or(width), inner[1].as_i64().unwrap_or(height));
        if (w, h) != (width, height) {
            let rect = json!({"width": 2 * width - w, "height": 2 * height - h});
            self.session_command("POST", "/window/rect", Some(rect));
        }
    }

    pub fn switch_to(&self, tab: &str) {
        self.session_command("POST", "/window", Some(json!({"handle": tab})));
    }

    /// The value of the current page's cookie `name`, HttpOnly ones included.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.session_command("GET", "/cookie", None);
        cookies.as_array()?.iter().find(|c| c["name"] == name).and_then(|c| c["value"].as_str()).map(str::to_string)
    }

    pub fn goto(&self, url: &str) {
        self.session_command("POST", "/url", Some(json!({"url": url})));
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.session_command("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// axe-core's serious and critical accessibility violations on the current
    /// document (the current frame, after [`Browser::enter_frame`]), as
    /// `"rule: what (selector…)"` lines. axe-core comes from `DOTS_AXE_JS`, which
    /// `cargo xtask test` sets after installing it from npm.
    pub fn accessibility_violations(&self) -> Vec<String> {
        let path = std::env::var("DOTS_AXE_JS")
            .expect("DOTS_AXE_JS names axe-core's axe.min.js (cargo xtask test installs it from npm)");
        let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        if self.exec("return typeof window.axe", json!([])) != "object" {
            self.exec(&axe, json!([]));
        }
        let found = self.session_command(
            "POST",
            "/execute/async",
            Some(json!({"script": "const done = arguments[arguments.length - 1];
                axe.run(document, {resultTypes: ['violations']})
                  .then(r => done(r.violations.filter(v => v.impact == 'serious' || v.impact == 'critical')
                    .map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')')))
                  .catch(e => done(['axe failed: ' + e]));", "args": []})),
        );
        found.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }

    /// Polls a JavaScript expression until it is truthy; returns its value.
    pub fn wait_until(&self, expression: &str, what: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.exec(&format!("try {{ return ({expression}); }} catch (e) {{ return null; }}"), json!([]));
            if !(value.is_null() || value == false || value == "" || value == 0) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what} ({expression})");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for an element matching `css` that is displayed; returns its reference.
    pub fn wait_for(&self, css: &str) -> Value {
        let expression = format!(
            "(() => {{ const e = document.querySelector({css:?}); return e && e.offsetParent !== null ? true : null; }})()"
        );
        self.wait_until(&expression, css);
        let element = self.session_command("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        element.as_object().and_then(|o| o.values().next().cloned()).expect("an element reference")
    }

    fn element_id(&self, css: &str) -> String {
        self.wait_for(css).as_str().expect("element id").to_string()
    }

    /// Types like a person (focus, keys), so the widget's input handlers run.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element_id(css);
        self.session_command("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.session_command("POST", &format!("/element/{id}/value"), Some(json!({"text": text})));
    }

    pub fn click(&self, css: &str) {
        let id = self.element_id(css);
        self.session_command("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// A real mouse click at a point of the viewport (CSS pixels), whatever is there.
    pub fn click_at(&self, x: i64, y: i64) {
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "x": x, "y": y, "origin": "viewport"},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]});
        self.session_command("POST", "/actions", Some(actions));
        self.session_command("DELETE", "/actions", None);
    }

    /// Sends keys to whatever has focus (e.g. "\u{E00C}" for Escape).
    pub fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]});
        self.session_command("POST", "/actions", Some(actions));
    }

    pub fn text(&self, css: &str) -> String {
        let id = self.element_id(css);
        self.session_command("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or_default().to_string()
    }

    /// Enters the iframe matching `css` (until [`Browser::leave_frame`]).
    pub fn enter_frame(&self, css: &str) {
        let element = self.wait_for(css);
        let reference = json!({"element-6066-11e4-a52e-4f735466cecf": element});
        self.session_command("POST", "/frame", Some(json!({"id": reference})));
    }

    pub fn leave_frame(&self) {
        self.session_command("POST", "/frame", Some(json!({"id": null})));
    }

    /// `prefers-color-scheme` as the page sees it.
    pub fn set_dark(&self, dark: bool) {
        let params = json!({"media": "", "features": [{"name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" }}]});
        self.cdp("Emulation.setEmulatedMedia", params);
    }

    /// A Chrome DevTools Protocol command on the current tab (network throttling,
    /// cache clearing, scripts run before a page's own).
    pub fn cdp(&self, command: &str, params: Value) -> Value {
        self.session_command("POST", "/goog/cdp/execute", Some(json!({"cmd": command, "params": params})))
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let png = self.session_command("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default()).unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http_request(&self.addr, "DELETE", &format!("/session/{}", self.session), None, None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A throwaway directory, removed on drop.
mod tempdir {
    use std::path::PathBuf;

    pub struct Dir {
        pub path: PathBuf,
    }

    impl Dir {
        pub fn new(prefix: &str) -> Dir {
            let path = std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), crate::free_port()));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
