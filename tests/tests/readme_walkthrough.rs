//! The README's curl walk-through, run exactly as written against the real binary,
//! on SQLite and on PostgreSQL. Each `# {...}` comment line under a command is the
//! output the README promises (a line starting with `{` or `[`); the test checks
//! the script printed exactly those.

use std::process::Command;

use dots_e2e::{Backend, OPERATOR_KEY, Server, TestDatabase};

fn walkthrough() -> String {
    let readme = std::fs::read_to_string(dots_e2e::workspace_root().join("README.md")).expect("README.md");
    let start = readme.find("<!-- walkthrough:start -->").expect("walkthrough start marker");
    let end = readme.find("<!-- walkthrough:end -->").expect("walkthrough end marker");
    let block = &readme[start..end];
    let code_start = block.find("```sh\n").expect("a ```sh block") + "```sh\n".len();
    let code_end = block[code_start..].find("```").expect("closing fence") + code_start;
    block[code_start..code_end].to_string()
}

fn promised_output(script: &str) -> Vec<String> {
    script
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('{') || l.starts_with('['))
        .map(str::to_string)
        .collect()
}

fn run_walkthrough(backend: Backend) {
    let db = TestDatabase::new(backend);
    let server = Server::start(&db.url);
    let script = walkthrough();
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("DOTS", &server.url)
        .env("DOTS_OPERATOR_KEY", OPERATOR_KEY)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "walk-through failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Vec<String> = stdout.lines().map(str::to_string).collect();
    assert_eq!(printed, promised_output(&script), "the README promises exactly this output");

    let check =
        Command::new(dots_e2e::dots_bin()).args(["ledger", "check"]).env("DATABASE_URL", &db.url).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

#[test]
fn readme_walkthrough_works_as_written_on_sqlite() {
    run_walkthrough(Backend::Sqlite);
}

#[test]
fn readme_walkthrough_works_as_written_on_postgres() {
    run_walkthrough(Backend::Postgres);
}
