//! `cargo xtask <task>`: the project's build, run and test tasks, in Rust rather
//! than shell scripts.
//!
//! - `cargo xtask run [dots serve flags]` — builds and starts everything on the
//!   embedded default (SQLite file `./dots.db`): the server with the widget, and the
//!   example host site for two demo apps with their own brands.
//! - `cargo xtask test` — every test: unit, HTTP integration and property tests on
//!   SQLite and PostgreSQL, end-to-end tests, the widget's wasm32 build and its
//!   browser tests (headless Chromium, installed from apt when missing).
//!   Starts the local PostgreSQL when it is down and fails when it cannot run.
//! - `cargo xtask widget` — builds the widget and the dashboard for wasm32-unknown-unknown.

mod bench;
mod bench_batch;
mod bench_dashboard;
mod bench_export;
mod bench_instructions;
mod bench_slowloris;
mod bench_widget;
mod demo;
mod schemathesis;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => demo::run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("widget") => build_widget(),
        Some("bench") => bench::bench(&args[1..]),
        Some("schemathesis") => {
            let mut build = cargo();
            build.args(["build", "-p", "dots-server", "--bin", "dots"]);
            status(build, "building the dots binary").and_then(|()| schemathesis::schemathesis_suite(&debug_dir().join("dots")))
        }
        _ => {
            Err("usage: cargo xtask run [--listen ADDR] | test [cargo test args] | widget | schemathesis | bench ledger|claim|widget|dashboard|export|slowloris|instructions"
                .into())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// The workspace `cargo xtask` was run in: found from the working directory, not
/// baked in at compile time, because clones sharing one target directory (as CI and
/// a developer's tree do) share one `target/debug/xtask` binary.
fn workspace_root() -> PathBuf {
    let start = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    start
        .ancestors()
        .find(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]")))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
        })
}

/// `target/debug` of this build: `cargo xtask` runs the xtask binary from there.
fn debug_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target/debug"))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn status(mut command: Command, what: &str) -> Result {
    eprintln!("xtask: {what}");
    let status = command.status().map_err(|e| format!("{what}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}

fn flag_value(flags: &[String], name: &str) -> Option<String> {
    flags.iter().position(|f| f == name).and_then(|i| flags.get(i + 1)).cloned()
}

fn test(extra: &[String]) -> Result {
    let postgres_url = std::env::var("DOTS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    ensure_postgres()?;
    ensure_standardwebhooks()?;
    ensure_test_packages()?;
    let axe = axe_core()?;
    build_widget()?;
    let mut build = cargo();
    build.args(["build", "-p", "dots-server", "-p", "dots-merchant", "--bins"]);
    status(build, "building the dots binary and the example merchant for the end-to-end tests")?;
    let mut tests = cargo();
    tests
        .args([
            "test",
            "--workspace",
            "--exclude",
            "dots-widget",
            "--exclude",
            "dots-dashboard",
            "--lib",
            "--bins",
            "--tests",
            // One failing test binary must not hide what the others say.
            "--no-fail-fast",
        ])
        .args(extra)
        .env("DOTS_BIN", debug_dir().join("dots"))
        .env("DOTS_AXE_JS", &axe)
        .env("DOTS_TEST_POSTGRES_URL", &postgres_url);
    let mut tally = run_tests(tests)?;
    eprintln!("xtask: {} of the passing tests ran on PostgreSQL", tally.postgres_passed);
    // The API against its OpenAPI document, from outside (both databases).
    match schemathesis::schemathesis_suite(&debug_dir().join("dots")) {
        Ok(()) => {
            println!("test schemathesis (sqlite, postgres) ... ok");
            tally.passed += 1;
            tally.postgres_passed += 1;
        }
        Err(e) => {
            println!("test schemathesis (sqlite, postgres) ... FAILED: {e}");
            tally.failed += 1;
        }
    }
    // The last line of the run: the plain tally CI reads.
    println!("summary: {} passed, {} failed", tally.passed, tally.failed);
    if tally.failed > 0 || !tally.all_ok {
        return Err("some tests failed".into());
    }
    if tally.postgres_passed == 0 {
        return Err("no PostgreSQL test ran: the PostgreSQL suite is required".into());
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    postgres_passed: u64,
    all_ok: bool,
}

/// Runs `cargo test`, echoing its output, and counts what ran.
fn run_tests(mut command: Command) -> Result<Tally> {
    use std::io::{BufRead, BufReader};
    eprintln!("xtask: running every test (SQLite and PostgreSQL)");
    let mut child = command.stdout(std::process::Stdio::piped()).spawn().map_err(|e| format!("cargo test: {e}"))?;
    let mut tally = Tally::default();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line.map_err(|e| format!("reading cargo test output: {e}"))?;
        println!("{line}");
        if let Some(name) = line.strip_prefix("test ").and_then(|l| l.strip_suffix(" ... ok")) {
            tally.passed += 1;
            if name.contains("postgres") {
                tally.postgres_passed += 1;
            }
        } else if line.starts_with("test ") && line.ends_with(" ... FAILED") {
            tally.failed += 1;
        }
    }
    tally.all_ok = child.wait().map_err(|e| format!("cargo test: {e}"))?.success();
    Ok(tally)
}

/// Makes sure PostgreSQL answers on 127.0.0.1:5432, starting the local cluster if
/// needed. The PostgreSQL half of the suite must run, so this fails rather than skips.
fn ensure_postgres() -> Result {
    if postgres_ready() {
        return Ok(());
    }
    eprintln!("xtask: PostgreSQL is not answering; starting the local cluster");
    let versions = std::fs::read_dir("/etc/postgresql")
        .map_err(|e| format!("no PostgreSQL installation found (/etc/postgresql: {e})"))?;
    for version in versions.flatten() {
        let version = version.file_name().to_string_lossy().into_owned();
        let _ = Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &version, "main", "start"]).status();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if postgres_ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err("PostgreSQL did not start on 127.0.0.1:5432; the PostgreSQL suite cannot run".into())
}

/// The webhook tests verify every delivery with the reference implementation
/// (PyPI `standardwebhooks`); install it when it is missing.
fn ensure_standardwebhooks() -> Result {
    ensure_python_package("standardwebhooks", "standardwebhooks==1.1.0", "the Standard Webhooks reference library")?;
    // The independent NACHA library the ACH file tests check our files with.
    ensure_python_package("achkit", "achkit==0.2.0", "the achkit NACHA library")
}

/// Installs `requirement` from PyPI unless `module` imports already.
fn ensure_python_package(module: &str, requirement: &str, what: &str) -> Result {
    let present =
        || Command::new("python3").args(["-c", &format!("import {module}")]).status().is_ok_and(|s| s.success());
    if present() {
        return Ok(());
    }
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "--quiet", requirement]);
    status(pip, &format!("installing {what} (PyPI)"))?;
    if present() { Ok(()) } else { Err(format!("{module} could not be imported after installing it")) }
}

/// Debian packages the suite needs, as (a program it provides, the package): `jq`
/// for the README walk-through, Chromium and chromedriver for the widget's browser
/// tests. Missing ones are installed with apt-get; the tests are part of the suite,
/// so this fails rather than skips.
const TEST_PACKAGES: [(&str, &str); 3] = [("jq", "jq"), ("chromium", "chromium"), ("chromedriver", "chromium-driver")];

pub(crate) fn ensure_test_packages() -> Result {
    let has = |program: &str| {
        Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
    };
    let missing: Vec<&str> = TEST_PACKAGES.iter().filter(|(p, _)| !has(p)).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = || {
        let mut apt = Command::new("apt-get");
        apt.args(["install", "-y", "-q"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive");
        status(apt, &format!("installing {} (Debian packages)", missing.join(", ")))
    };
    if install().is_err() {
        let mut update = Command::new("apt-get");
        update.args(["update", "-q"]);
        status(update, "apt-get update")?;
        install()?;
    }
    match TEST_PACKAGES.iter().find(|(p, _)| !has(p)) {
        Some((program, package)) => Err(format!("{program} is still missing after apt-get install {package}")),
        None => Ok(()),
    }
}

fn postgres_ready() -> bool {
    Command::new("pg_isready").args(["-h", "127.0.0.1", "-p", "5432", "-q"]).status().is_ok_and(|s| s.success())
}

/// A Leptos app compiled to wasm32 and served by the server: the widget and the dashboard.
struct WasmApp {
    /// The cargo package.
    package: &'static str,
    /// Its library's name (wasm-bindgen names the files after it).
    lib: &'static str,
    /// What the page's script imports from the glue (the rest is shaken out).
    exports: &'static str,
    /// Its hand-written files (in `<package dir>/web/`) that are minified.
    web: &'static str,
    minified: &'static [&'static str],
    /// Where the bundle goes, under the target directory (the server's build reads it).
    out: &'static str,
}

const WIDGET: WasmApp = WasmApp {
    package: "dots-widget",
    lib: "dots_widget",
    exports: "default, mount",
    web: "widget/web",
    minified: &["dots.js", "frame.js", "widget.css"],
    out: "widget",
};

const DASHBOARD: WasmApp = WasmApp {
    package: "dots-dashboard",
    lib: "dots_dashboard",
    exports: "default, start",
    web: "dashboard/web",
    minified: &["boot.js", "dashboard.css", "preview.js"],
    out: "dashboard",
};

/// Builds the widget and the dashboard for wasm32 (one cargo build, so the two
/// share its work) and runs wasm-bindgen on each (`--target web`), leaving
/// `<lib>.js` and `<lib>_bg.wasm` in `<target>/widget` and `<target>/dashboard`,
/// where the server's build embeds them from.
fn build_widget() -> Result {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if !installed.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == WASM_TARGET)) {
        let mut add = Command::new("rustup");
        add.args(["target", "add", WASM_TARGET]);
        status(add, "installing the wasm32 target")?;
    }
    let mut build = cargo();
    build.args(["build", "-p", WIDGET.package, "-p", DASHBOARD.package, "--target", WASM_TARGET]);
    build.args(["--profile", "wasm-release"]);
    status(build, "building the widget and the dashboard for wasm32")?;
    for app in [&WIDGET, &DASHBOARD] {
        bindgen(app)?;
    }
    Ok(())
}

fn bindgen(app: &WasmApp) -> Result {
    let target_dir = debug_dir().parent().expect("target dir").to_path_buf();
    let wasm = target_dir.join(WASM_TARGET).join("wasm-release").join(format!("{}.wasm", app.lib));
    let out = target_dir.join(app.out);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("xtask: wasm-bindgen → {}", out.display());
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e}"))?
        .typescript(false)
        // The name section is ~half the module's size and only helps debuggers.
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&out)
        .map_err(|e| format!("wasm-bindgen: {e}"))?;
    drop_unused_exports(&out.join(format!("{}_bg.wasm", app.lib)))?;
    // Minifying saves bytes, it is not needed to run: without npm the app is
    // served as written (and the size-budget tests say by how much it is over).
    if let Err(e) = minify(app, &out) {
        eprintln!("xtask: WARNING: {}'s JavaScript is not minified ({e}); it still works, only larger", app.package);
        let _ = std::fs::remove_dir_all(out.join("web"));
    }
    Ok(())
}

/// Exports of the `wasm-streams` crate, which Leptos links in for server functions
/// (`leptos/csr` turns on `server_fn/browser`): JavaScript stream classes exported
/// from every Wasm that links the crate. The widget has no server functions and
/// never builds those classes, but an export keeps its code, and theirs pulls in
/// futures and stream plumbing. Their exports are removed from the module, with
/// what only they reached (walrus' garbage collection); the glue's classes for them
/// stay, unused (calling one would fail loudly, not silently).
fn drop_unused_exports(wasm: &Path) -> Result {
    let unused = |name: &str| name.starts_with("intounderlying") || name.starts_with("__wbg_intounderlying");
    let mut module = walrus::ModuleConfig::new()
        .generate_name_section(false)
        .generate_producers_section(false)
        .parse_file(wasm)
        .map_err(|e| format!("{}: {e}", wasm.display()))?;
    let dropped: Vec<_> = module.exports.iter().filter(|e| unused(&e.name)).map(|e| e.id()).collect();
    if dropped.is_empty() {
        eprintln!(
            "xtask: note: no wasm-streams exports in the widget any more (drop_unused_exports has nothing to do)"
        );
    }
    for id in dropped {
        module.exports.delete(id);
    }
    walrus::passes::gc::run(&mut module);
    module.emit_wasm_file(wasm).map_err(|e| format!("{}: {e}", wasm.display()))
}

/// The esbuild release the JavaScript and CSS are minified with (npm, pinned).
const ESBUILD: &str = "0.25.12";
/// Minifies what a browser downloads besides the wasm: the wasm-bindgen glue (in
/// place) and the app's hand-written scripts and stylesheet (for the widget,
/// measured: 3.1 KB less brotli in all, of a 120 KB budget). Each minified web file
/// is written with a copy of the source it came from (`<name>.source`): the
/// server's build takes it only while that copy equals the source, so an edit
/// there is served as written until this runs again, never a stale file.
fn minify(app: &WasmApp, bundle: &Path) -> Result {
    let esbuild = esbuild()?;
    let run = |input: &Path, output: &Path| {
        let mut minify = Command::new(&esbuild);
        minify.arg(input).arg(format!("--outfile={}", output.display()));
        minify.args(["--minify", "--allow-overwrite", "--log-level=warning", "--charset=utf8"]);
        status(minify, &format!("minifying {}", input.display()))
    };
    // The glue is bundled from an entry that re-exports only what the page imports,
    // so that classes nothing imports (wasm-streams', see `drop_unused_exports`) are
    // shaken out.
    let glue = bundle.join(format!("{}.js", app.lib));
    let entry = bundle.join("glue_entry.js");
    std::fs::write(&entry, format!("export {{ {} }} from \"./{}.js\";\n", app.exports, app.lib))
        .map_err(|e| format!("{}: {e}", entry.display()))?;
    let mut shake = Command::new(&esbuild);
    shake.arg(&entry).arg(format!("--outfile={}", glue.display()));
    shake.args(["--bundle", "--format=esm", "--minify", "--allow-overwrite", "--log-level=warning", "--charset=utf8"]);
    status(shake, &format!("minifying {}", glue.display()))?;
    let _ = std::fs::remove_file(&entry);
    let web = bundle.join("web");
    std::fs::create_dir_all(&web).map_err(|e| format!("{}: {e}", web.display()))?;
    for name in app.minified {
        let source = workspace_root().join(app.web).join(name);
        run(&source, &web.join(name))?;
        std::fs::copy(&source, web.join(format!("{name}.source"))).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// esbuild from the npm registry, installed once beside the build.
fn esbuild() -> Result<PathBuf> {
    npm_package("esbuild", ESBUILD, ".bin/esbuild", "to minify the widget's JavaScript")
}

/// `file` of npm package `name@version`, installed once beside the build (under
/// `<target>/<name>-<version>`).
fn npm_package(name: &str, version: &str, file: &str, why: &str) -> Result<PathBuf> {
    let prefix = debug_dir().parent().expect("target dir").join(format!("{name}-{version}"));
    let path = prefix.join("node_modules").join(file);
    if path.exists() {
        return Ok(path);
    }
    let mut npm = Command::new("npm");
    npm.arg("install").arg("--prefix").arg(&prefix);
    npm.args(["--no-audit", "--no-fund", "--no-save", "--loglevel=error", &format!("{name}@{version}")]);
    status(npm, &format!("installing {name} (npm) {why}"))?;
    if path.exists() { Ok(path) } else { Err(format!("npm installed {name} but {} is missing", path.display())) }
}

/// The axe-core release the browser tests check accessibility with.
const AXE_CORE: &str = "4.14.1";

/// axe-core's `axe.min.js` from the npm registry, installed once beside the build;
/// the browser tests read it from `DOTS_AXE_JS` and run it on every step.
fn axe_core() -> Result<PathBuf> {
    npm_package("axe-core", AXE_CORE, "axe-core/axe.min.js", "for the browser tests' accessibility checks")
}
