//! Settings come from the environment, and `dots serve` flags override them.

use tracing_subscriber::EnvFilter;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded default: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://dots.db";

#[derive(Debug, Clone)]
pub struct Settings {
    /// `DOTS_LISTEN` or `--listen`.
    pub listen: String,
    /// `DATABASE_URL` or `--database-url`.
    pub database_url: String,
    /// `DOTS_OPERATOR_KEY`: enables `POST /v2/apps`. Never logged.
    pub operator_key: Option<String>,
    /// `DOTS_DB_MAX_CONNECTIONS` (default 16).
    pub max_connections: u32,
}

impl Settings {
    pub fn from_env() -> Result<Settings, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let max_connections = match var("DOTS_DB_MAX_CONNECTIONS") {
            None => 16,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or("DOTS_DB_MAX_CONNECTIONS must be a number from 1 to 1000")?,
        };
        Ok(Settings {
            listen: var("DOTS_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            operator_key: var("DOTS_OPERATOR_KEY"),
            max_connections,
        })
    }
}

/// Logs go to stderr (stdout stays clean for `--json` output): text by default,
/// JSON lines with `DOTS_LOG_FORMAT=json`; levels from `DOTS_LOG` (EnvFilter syntax).
pub fn init_logging() {
    let filter = EnvFilter::try_from_env("DOTS_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let json = std::env::var("DOTS_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
