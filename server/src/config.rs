//! Settings come from the environment, and `dots serve` flags override them.

use tracing_subscriber::EnvFilter;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded default: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://dots.db";

/// The sandbox's development key: public, so nothing sealed with it is secret.
const SANDBOX_KEY: [u8; 32] = *b"dots-sandbox-development-key-v1!";

#[derive(Clone)]
pub struct Settings {
    /// `DOTS_LISTEN` or `--listen`.
    pub listen: String,
    /// `DATABASE_URL` or `--database-url`.
    pub database_url: String,
    /// `DOTS_OPERATOR_KEY`: enables `POST /v2/apps`. Never logged.
    pub operator_key: Option<String>,
    /// `DOTS_DB_MAX_CONNECTIONS` (default 16).
    pub max_connections: u32,
    /// `DOTS_SANDBOX` (default true): sandbox rail, dev SMS outbox, `GET /v2/dev/sms`.
    pub sandbox: bool,
    /// `DOTS_PUBLIC_URL`: where payees reach this server (payout-link and flow URLs).
    /// Default `http://<listen>`.
    pub public_url: Option<String>,
    /// `DOTS_ENCRYPTION_KEY`: 64 hex characters. Required outside the sandbox; the
    /// sandbox falls back to a fixed development key (and says so).
    pub encryption_key: Option<String>,
    /// `DOTS_SMS_PROVIDER=http` with `DOTS_SMS_BASE_URL`, `DOTS_SMS_ACCOUNT`,
    /// `DOTS_SMS_TOKEN`, `DOTS_SMS_FROM`; otherwise the dev outbox.
    pub sms_http: Option<SmsHttpSettings>,
    /// `DOTS_SANDBOX_SETTLE_MS` (default 2000): how long sandbox payouts take.
    pub sandbox_settle_ms: i64,
    /// `DOTS_WORKER_INTERVAL_MS` (default 250): how often the payout worker looks for work.
    pub worker_interval_ms: u64,
    /// `DOTS_WORKER_LEASE_MS` (default 30000): how long a worker owns a payout step;
    /// a crashed worker's payouts are taken up by others after it.
    pub worker_lease_ms: i64,
    /// Webhook delivery: `DOTS_WEBHOOK_ALLOW_PRIVATE` (default false),
    /// `DOTS_WEBHOOK_TIMEOUT_MS` (10000), `DOTS_WEBHOOK_RETRY_BASE_MS` (5000),
    /// `DOTS_WEBHOOK_DISABLE_AFTER` (50 failed attempts in a row).
    pub webhooks: crate::webhooks::DeliverySettings,
    /// `DOTS_SMS_PER_CLIENT_PER_HOUR` (default 20): codes one network address may
    /// ask for through the flow API per hour.
    pub sms_per_client_per_hour: i64,
}

#[derive(Clone)]
pub struct SmsHttpSettings {
    pub base_url: String,
    pub account: String,
    pub token: String,
    pub from: String,
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
        let number = |name: &str, default: i64| -> Result<i64, String> {
            match var(name) {
                None => Ok(default),
                Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or(format!("{name} must be a whole number")),
            }
        };
        let sms_http = match var("DOTS_SMS_PROVIDER").as_deref() {
            None | Some("dev") => None,
            Some("http") => {
                let need = |name: &str| var(name).ok_or(format!("DOTS_SMS_PROVIDER=http needs {name}"));
                Some(SmsHttpSettings {
                    base_url: need("DOTS_SMS_BASE_URL")?,
                    account: need("DOTS_SMS_ACCOUNT")?,
                    token: need("DOTS_SMS_TOKEN")?,
                    from: need("DOTS_SMS_FROM")?,
                })
            }
            Some(other) => return Err(format!("DOTS_SMS_PROVIDER must be dev or http, not {other}")),
        };
        Ok(Settings {
            listen: var("DOTS_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            operator_key: var("DOTS_OPERATOR_KEY"),
            max_connections,
            sandbox: var("DOTS_SANDBOX").is_none_or(|v| !matches!(v.as_str(), "0" | "false" | "no")),
            public_url: var("DOTS_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string()),
            encryption_key: var("DOTS_ENCRYPTION_KEY"),
            sms_http,
            sandbox_settle_ms: number("DOTS_SANDBOX_SETTLE_MS", 2000)?,
            worker_interval_ms: number("DOTS_WORKER_INTERVAL_MS", 250)? as u64,
            worker_lease_ms: number("DOTS_WORKER_LEASE_MS", 30_000)?.max(100),
            webhooks: crate::webhooks::DeliverySettings {
                allow_private: var("DOTS_WEBHOOK_ALLOW_PRIVATE")
                    .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes")),
                timeout_ms: number("DOTS_WEBHOOK_TIMEOUT_MS", 10_000)?.max(100),
                retry_base_ms: number("DOTS_WEBHOOK_RETRY_BASE_MS", 5_000)?.max(1),
                disable_after: number("DOTS_WEBHOOK_DISABLE_AFTER", 50)?.max(1),
            },
            sms_per_client_per_hour: number("DOTS_SMS_PER_CLIENT_PER_HOUR", crate::verify::SENDS_PER_CLIENT_PER_HOUR)?
                .max(1),
        })
    }

    /// Sandbox defaults around one database (tests, tools).
    pub fn sandbox(database_url: &str) -> Settings {
        Settings {
            listen: DEFAULT_LISTEN.to_string(),
            database_url: database_url.to_string(),
            operator_key: None,
            max_connections: 16,
            sandbox: true,
            public_url: None,
            encryption_key: None,
            sms_http: None,
            sandbox_settle_ms: 2000,
            worker_interval_ms: 250,
            worker_lease_ms: 30_000,
            webhooks: crate::webhooks::DeliverySettings {
                allow_private: false,
                timeout_ms: 10_000,
                retry_base_ms: 5_000,
                disable_after: 50,
            },
            sms_per_client_per_hour: crate::verify::SENDS_PER_CLIENT_PER_HOUR,
        }
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The key everything at rest is sealed with.
    pub fn keys(&self) -> Result<crate::secrets::Keys, String> {
        match (&self.encryption_key, self.sandbox) {
            (Some(hex), _) => crate::secrets::Keys::from_hex(hex),
            (None, true) => Ok(crate::secrets::Keys::new(&SANDBOX_KEY)),
            (None, false) => Err("DOTS_ENCRYPTION_KEY is required outside the sandbox (DOTS_SANDBOX=false)".into()),
        }
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
