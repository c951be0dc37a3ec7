//! Settings come from the environment, and `dots serve` flags override them.

use tracing_subscriber::EnvFilter;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded default: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://dots.db";

/// The key earlier versions sealed with when none was given. It was public, so
/// nothing it sealed was secret: it is never used to seal again, only to open
/// values sealed before keys had ids, which the server then re-seals at start.
const FORMER_PUBLIC_KEY: [u8; 32] = *b"dots-sandbox-development-key-v1!";

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
    /// `DOTS_SANDBOX` (default true): a development deployment. `false` declares a
    /// live one: the server then refuses to start without everything live apps need
    /// (`crate::live`). Test apps are served either way (the sandbox rail, the dev
    /// outboxes); live apps only with their settings.
    pub sandbox: bool,
    /// `DOTS_PUBLIC_URL`: where payees reach this server (payout-link and flow URLs).
    /// Default `http://<listen>`.
    pub public_url: Option<String>,
    /// `DOTS_ENCRYPTION_KEY`: 64 hex characters. Required with PostgreSQL; on SQLite
    /// a random key is made at first start and kept in `<database file>.key`.
    pub encryption_key: Option<String>,
    /// `DOTS_ENCRYPTION_KEYS_OLD`: keys being rotated out; they open, never seal.
    pub older_encryption_keys: Vec<String>,
    /// `DOTS_SMS_PROVIDER=http` with `DOTS_SMS_BASE_URL`, `DOTS_SMS_ACCOUNT`,
    /// `DOTS_SMS_TOKEN`, `DOTS_SMS_FROM`; otherwise the dev outbox.
    pub sms_http: Option<SmsHttpSettings>,
    /// `DOTS_SMTP_URL` (`smtps://user:pass@host`, `smtp://host:port?tls=required`, …)
    /// and `DOTS_SMTP_FROM`: where payout-link emails go out; without it, in the
    /// sandbox, the dev email outbox (`GET /v2/dev/emails`).
    pub smtp: Option<SmtpSettings>,
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
    pub webhooks: DeliverySettings,
    /// `DOTS_SMS_PER_CLIENT_PER_HOUR` (default 20): codes one network address may
    /// ask for through the flow API per hour.
    pub sms_per_client_per_hour: i64,
    /// What a reverse proxy would otherwise bound: connections and slow clients.
    pub limits: Limits,
    /// `DOTS_TRUSTED_PROXIES`: whose `X-Forwarded-For`/`Forwarded` is believed.
    pub trusted_proxies: Vec<crate::clients::IpNet>,
    /// The ACH rail for live apps' bank payouts (`DOTS_ACH_*`), when configured.
    pub ach: Option<AchSettings>,
    /// The PayPal Payouts API for live apps' PayPal and Venmo payouts (`DOTS_PAYPAL_*`).
    pub paypal: Option<PaypalSettings>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// The PayPal Payouts API (`crate::paypal`).
pub struct PaypalSettings {
    /// `DOTS_PAYPAL_BASE_URL` (default `https://api-m.paypal.com`).
    pub base_url: String,
    /// `DOTS_PAYPAL_CLIENT_ID`, `DOTS_PAYPAL_SECRET`.
    pub client_id: String,
    pub secret: String,
    /// `DOTS_PAYPAL_POLL_MS` (default 60000): how often a pending payout is read back.
    pub poll_ms: i64,
    /// `DOTS_PAYPAL_TIMEOUT_MS` (default 30000): a call not answered by then is retried.
    pub timeout_ms: u64,
}

/// The bank that takes our NACHA files, and who we are to it (`crate::ach_rail`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AchSettings {
    /// `DOTS_ACH_ODFI_ROUTING`: the originating bank's 9-digit routing number.
    pub odfi_routing: String,
    /// `DOTS_ACH_ODFI_NAME`: its name, as the file header carries it.
    pub odfi_name: String,
    /// `DOTS_ACH_COMPANY_ID`: our 10-character company identification at the bank.
    pub company_id: String,
    /// `DOTS_ACH_COMPANY_NAME`: the originator on payees' statements (16 characters).
    pub company_name: String,
    /// `DOTS_ACH_CUTOFFS` (default `15:00`): the UTC times, each day, at which the
    /// waiting bank payouts are gathered into a file.
    pub cutoffs: Vec<(u32, u32)>,
    /// `DOTS_ACH_SETTLE_DAYS` (default 2): banking days after a file's effective
    /// date at which its payouts not returned by then are settled; 0: only when the
    /// operator settles the file.
    pub settle_days: u32,
    /// `DOTS_ACH_DIR`: where each new file is also written, for an SFTP uploader.
    pub dir: Option<String>,
}

/// How deliveries behave; from `Settings`.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Allow endpoints on loopback and private networks (`DOTS_WEBHOOK_ALLOW_PRIVATE`).
    pub allow_private: bool,
    /// Per request (`DOTS_WEBHOOK_TIMEOUT_MS`, default 10 s).
    pub timeout_ms: i64,
    /// First retry wait; each further one is 4× longer, up to 6 h (`DOTS_WEBHOOK_RETRY_BASE_MS`).
    pub retry_base_ms: i64,
    /// An endpoint is disabled after this many failed attempts in a row (`DOTS_WEBHOOK_DISABLE_AFTER`).
    pub disable_after: i64,
}

/// How many codes one client address may have sent per hour, across phones.
pub const SENDS_PER_CLIENT_PER_HOUR: i64 = 20;

/// Connection limits (README "Connection limits"). Every timeout is in milliseconds.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `DOTS_MAX_CONNECTIONS` (default 8192): open connections at once; past it a
    /// new connection is answered `503 server_busy` and closed. Lowered at start to
    /// fit the process's open-file limit.
    pub max_connections: usize,
    /// `DOTS_HEADER_TIMEOUT_MS` (default 10000): a request's headers must arrive
    /// whole within it, and a kept-alive connection that sends nothing for this long
    /// is closed (hyper starts the same timer while it waits for the next request).
    pub header_timeout_ms: u64,
    /// `DOTS_BODY_IDLE_TIMEOUT_MS` (default 10000): longest pause inside a body.
    pub body_idle_timeout_ms: u64,
    /// `DOTS_BODY_TIMEOUT_MS` (default 30000): a whole body must arrive within it.
    pub body_timeout_ms: u64,
}

impl Limits {
    /// The defaults (README, "Connection limits"); `dots serve`'s flags start from them.
    pub const DEFAULT: Limits = Limits {
        max_connections: 8192,
        header_timeout_ms: 10_000,
        body_idle_timeout_ms: 10_000,
        body_timeout_ms: 30_000,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

impl Limits {
    pub fn header_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.header_timeout_ms)
    }

    pub fn body_idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.body_idle_timeout_ms)
    }

    pub fn body_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.body_timeout_ms)
    }
}

#[derive(Clone)]
pub struct SmtpSettings {
    /// Never logged: it may hold the relay's password.
    pub url: String,
    /// `Acme Payouts <payouts@example.com>`; `payouts@<public host>` by default.
    pub from: Option<String>,
}

#[derive(Clone)]
pub struct SmsHttpSettings {
    pub base_url: String,
    pub account: String,
    pub token: String,
    pub from: String,
}

/// Every setting of `dots serve` (and `dots apps create`), each a flag and an
/// environment variable: the one place they are named, parsed and documented
/// (`dots serve --help` prints them).
#[derive(clap::Args, Debug, Clone)]
pub struct SettingsArgs {
    /// Address to listen on.
    #[arg(long, env = "DOTS_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Database: sqlite://PATH (embedded default) or postgres://…
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Enables the operator API (POST /v2/apps) with this bearer key.
    #[arg(long, env = "DOTS_OPERATOR_KEY", hide_env_values = true)]
    pub operator_key: Option<String>,
    /// Database connections per pool (1 to 1000).
    #[arg(long, env = "DOTS_DB_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,
    /// A development deployment (true) or a live one (false: the server refuses to start without everything
    /// live apps need). Test apps are served either way
    #[arg(long, env = "DOTS_SANDBOX", default_value = "true", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub sandbox: bool,
    /// Where payees reach this server (payout-link and flow URLs) [default: http://<listen>]
    #[arg(long, env = "DOTS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// 64 hex characters sealing data at rest. Required with PostgreSQL; on SQLite a random key is made at
    /// first start and kept beside the database (<file>.key, mode 0600)
    #[arg(long, env = "DOTS_ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,
    /// Keys being rotated out (comma-separated, 64 hex each): they still open what they sealed; the server
    /// and `dots keys rotate` re-seal it under DOTS_ENCRYPTION_KEY
    #[arg(long, env = "DOTS_ENCRYPTION_KEYS_OLD", hide_env_values = true, default_value = "")]
    pub encryption_keys_old: String,
    /// SMS sender: dev (outbox, sandbox only) or http (Twilio-style provider).
    #[arg(long, env = "DOTS_SMS_PROVIDER", default_value = "dev", value_parser = ["dev", "http"])]
    pub sms_provider: String,
    /// The HTTP SMS provider's base URL.
    #[arg(long, env = "DOTS_SMS_BASE_URL")]
    pub sms_base_url: Option<String>,
    /// The HTTP SMS provider's account.
    #[arg(long, env = "DOTS_SMS_ACCOUNT")]
    pub sms_account: Option<String>,
    /// The HTTP SMS provider's token.
    #[arg(long, env = "DOTS_SMS_TOKEN", hide_env_values = true)]
    pub sms_token: Option<String>,
    /// The sender number or name of the HTTP SMS provider.
    #[arg(long, env = "DOTS_SMS_FROM")]
    pub sms_from: Option<String>,
    /// SMTP relay for payout-link emails: smtps://user:pass@host[:port], or smtp://host:port?tls=required
    /// (smtp:// without tls= is unencrypted: a local relay or a test server only)
    #[arg(long, env = "DOTS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From of payout-link emails (default payouts@<public host>)
    #[arg(long, env = "DOTS_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// How long sandbox payouts take to settle, in ms.
    #[arg(long, env = "DOTS_SANDBOX_SETTLE_MS", default_value_t = 2000)]
    pub sandbox_settle_ms: u32,
    /// How often the payout and webhook workers look for work, in ms.
    #[arg(long, env = "DOTS_WORKER_INTERVAL_MS", default_value_t = 250)]
    pub worker_interval_ms: u32,
    /// How long a worker owns a payout step, in ms (a crashed worker's work is taken up after it).
    #[arg(long, env = "DOTS_WORKER_LEASE_MS", default_value_t = 30_000)]
    pub worker_lease_ms: u32,
    /// Let webhook endpoints be private or loopback addresses (tests, local demos).
    #[arg(long, env = "DOTS_WEBHOOK_ALLOW_PRIVATE", default_value = "false", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// Webhook request timeout, in ms.
    #[arg(long, env = "DOTS_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u32,
    /// First webhook retry delay, in ms (doubling after each failure).
    #[arg(long, env = "DOTS_WEBHOOK_RETRY_BASE_MS", default_value_t = 5_000)]
    pub webhook_retry_base_ms: u32,
    /// Failed webhook attempts in a row after which an endpoint is disabled.
    #[arg(long, env = "DOTS_WEBHOOK_DISABLE_AFTER", default_value_t = 50)]
    pub webhook_disable_after: u32,
    /// Codes one network address may ask for through the flow API per hour.
    #[arg(long, env = "DOTS_SMS_PER_CLIENT_PER_HOUR", default_value_t = SENDS_PER_CLIENT_PER_HOUR as u32)]
    pub sms_per_client_per_hour: u32,
    /// Open connections at once; past it a new connection gets 503 server_busy.
    #[arg(long, env = "DOTS_MAX_CONNECTIONS", default_value_t = Limits::DEFAULT.max_connections as u32)]
    pub max_connections: u32,
    /// A request's headers must arrive within it; also the longest idle keep-alive, in ms.
    #[arg(long, env = "DOTS_HEADER_TIMEOUT_MS", default_value_t = Limits::DEFAULT.header_timeout_ms as u32)]
    pub header_timeout_ms: u32,
    /// Longest pause inside a request body, in ms.
    #[arg(long, env = "DOTS_BODY_IDLE_TIMEOUT_MS", default_value_t = Limits::DEFAULT.body_idle_timeout_ms as u32)]
    pub body_idle_timeout_ms: u32,
    /// A whole request body must arrive within it, in ms.
    #[arg(long, env = "DOTS_BODY_TIMEOUT_MS", default_value_t = Limits::DEFAULT.body_timeout_ms as u32)]
    pub body_timeout_ms: u32,
    /// Reverse proxies whose X-Forwarded-For / Forwarded is believed: comma-separated addresses or blocks
    /// (10.0.0.0/8, ::1). Default: none, so rate limits key on the connecting address.
    #[arg(long, env = "DOTS_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// ACH rail: the originating bank's 9-digit routing number (with the three settings below, it turns the
    /// rail on)
    #[arg(long, env = "DOTS_ACH_ODFI_ROUTING")]
    pub ach_odfi_routing: Option<String>,
    /// ACH rail: the originating bank's name
    #[arg(long, env = "DOTS_ACH_ODFI_NAME")]
    pub ach_odfi_name: Option<String>,
    /// ACH rail: your 10-character company identification at the bank (often 1 and your EIN)
    #[arg(long, env = "DOTS_ACH_COMPANY_ID")]
    pub ach_company_id: Option<String>,
    /// ACH rail: your name on payees' bank statements (up to 16 characters)
    #[arg(long, env = "DOTS_ACH_COMPANY_NAME")]
    pub ach_company_name: Option<String>,
    /// ACH rail: the UTC times at which waiting bank payouts are gathered into a file (HH:MM, comma-separated)
    #[arg(long, env = "DOTS_ACH_CUTOFFS", default_value = "15:00")]
    pub ach_cutoffs: String,
    /// ACH rail: banking days after a file's effective date at which its payouts settle (0: only by the operator)
    #[arg(long, env = "DOTS_ACH_SETTLE_DAYS", default_value_t = 2)]
    pub ach_settle_days: u32,
    /// ACH rail: a directory each new file is also written to (for an SFTP uploader)
    #[arg(long, env = "DOTS_ACH_DIR")]
    pub ach_dir: Option<String>,
    /// PayPal Payouts API: the REST app's client id (with the secret, it turns on PayPal and Venmo payouts)
    #[arg(long, env = "DOTS_PAYPAL_CLIENT_ID")]
    pub paypal_client_id: Option<String>,
    /// PayPal Payouts API: the REST app's secret
    #[arg(long, env = "DOTS_PAYPAL_SECRET", hide_env_values = true)]
    pub paypal_secret: Option<String>,
    /// PayPal Payouts API: where it is (the sandbox: https://api-m.sandbox.paypal.com)
    #[arg(long, env = "DOTS_PAYPAL_BASE_URL", default_value = "https://api-m.paypal.com")]
    pub paypal_base_url: String,
    /// PayPal Payouts API: how often a pending payout is read back, in ms
    #[arg(long, env = "DOTS_PAYPAL_POLL_MS", default_value_t = 60_000)]
    pub paypal_poll_ms: u32,
    /// PayPal Payouts API: a call not answered within it is tried again, in ms
    #[arg(long, env = "DOTS_PAYPAL_TIMEOUT_MS", default_value_t = 30_000)]
    pub paypal_timeout_ms: u32,
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!("{other} is not true or false")),
    }
}

impl Settings {
    pub fn from_args(a: SettingsArgs) -> Result<Settings, String> {
        let sms_http = match a.sms_provider.as_str() {
            "http" => {
                let need = |value: Option<String>, name: &str| {
                    value.filter(|v| !v.trim().is_empty()).ok_or(format!("DOTS_SMS_PROVIDER=http needs {name}"))
                };
                Some(SmsHttpSettings {
                    base_url: need(a.sms_base_url, "DOTS_SMS_BASE_URL")?,
                    account: need(a.sms_account, "DOTS_SMS_ACCOUNT")?,
                    token: need(a.sms_token, "DOTS_SMS_TOKEN")?,
                    from: need(a.sms_from, "DOTS_SMS_FROM")?,
                })
            }
            _ => None,
        };
        let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        Ok(Settings {
            listen: a.listen,
            database_url: a.database_url,
            operator_key: nonempty(a.operator_key),
            max_connections: a.db_max_connections,
            sandbox: a.sandbox,
            public_url: nonempty(a.public_url).map(|u| u.trim_end_matches('/').to_string()),
            encryption_key: nonempty(a.encryption_key),
            older_encryption_keys: a
                .encryption_keys_old
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
            sms_http,
            smtp: nonempty(a.smtp_url).map(|url| SmtpSettings { url, from: nonempty(a.smtp_from) }),
            sandbox_settle_ms: i64::from(a.sandbox_settle_ms),
            worker_interval_ms: u64::from(a.worker_interval_ms),
            worker_lease_ms: i64::from(a.worker_lease_ms).max(100),
            webhooks: DeliverySettings {
                allow_private: a.webhook_allow_private,
                timeout_ms: i64::from(a.webhook_timeout_ms).max(100),
                retry_base_ms: i64::from(a.webhook_retry_base_ms).max(1),
                disable_after: i64::from(a.webhook_disable_after).max(1),
            },
            sms_per_client_per_hour: i64::from(a.sms_per_client_per_hour).max(1),
            limits: Limits {
                max_connections: (a.max_connections as usize).max(1),
                header_timeout_ms: u64::from(a.header_timeout_ms).max(100),
                body_idle_timeout_ms: u64::from(a.body_idle_timeout_ms).max(100),
                body_timeout_ms: u64::from(a.body_timeout_ms).max(100),
            },
            trusted_proxies: crate::clients::parse_trusted(&a.trusted_proxies)
                .map_err(|e| format!("DOTS_TRUSTED_PROXIES: {e}"))?,
            ach: AchSettings::from_parts(
                [a.ach_odfi_routing, a.ach_odfi_name, a.ach_company_id, a.ach_company_name].map(nonempty),
                &a.ach_cutoffs,
                a.ach_settle_days,
                nonempty(a.ach_dir),
            )?,
            paypal: match (nonempty(a.paypal_client_id), nonempty(a.paypal_secret)) {
                (None, None) => None,
                (Some(client_id), Some(secret)) => Some(PaypalSettings {
                    base_url: a.paypal_base_url,
                    client_id,
                    secret,
                    poll_ms: i64::from(a.paypal_poll_ms).max(10),
                    timeout_ms: u64::from(a.paypal_timeout_ms).max(100),
                }),
                _ => return Err("PayPal payouts need both DOTS_PAYPAL_CLIENT_ID and DOTS_PAYPAL_SECRET".into()),
            },
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
            older_encryption_keys: Vec::new(),
            sms_http: None,
            smtp: None,
            sandbox_settle_ms: 2000,
            worker_interval_ms: 250,
            worker_lease_ms: 30_000,
            webhooks: DeliverySettings {
                allow_private: false,
                timeout_ms: 10_000,
                retry_base_ms: 5_000,
                disable_after: 50,
            },
            sms_per_client_per_hour: SENDS_PER_CLIENT_PER_HOUR,
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            ach: None,
            paypal: None,
        }
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The keys everything at rest is sealed with: `DOTS_ENCRYPTION_KEY`, or on
    /// SQLite the key file beside the database (made at first start); older keys
    /// open what they sealed until it is re-sealed.
    pub fn keys(&self) -> Result<crate::secrets::Keys, String> {
        use crate::secrets::parse_hex_key;
        let primary = match &self.encryption_key {
            Some(hex) => parse_hex_key(hex).map_err(|e| format!("DOTS_ENCRYPTION_KEY: {e}"))?,
            None if self.database_url.starts_with("sqlite:") => key_file(&self.database_url)?,
            None => {
                return Err("DOTS_ENCRYPTION_KEY is required with PostgreSQL: every process must seal with the same \
                            key. Make one with `openssl rand -hex 32` and keep it in your secret store."
                    .into());
            }
        };
        let mut older = self
            .older_encryption_keys
            .iter()
            .map(|hex| parse_hex_key(hex).map_err(|e| format!("DOTS_ENCRYPTION_KEYS_OLD: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        older.push(FORMER_PUBLIC_KEY);
        Ok(crate::secrets::Keys::with_older(&primary, &older))
    }
}

impl AchSettings {
    /// The rail's settings: none of the four names (no ACH rail), or all of them,
    /// each checked; a partial set is refused, naming what is missing.
    fn from_parts(
        [routing, odfi_name, company_id, company_name]: [Option<String>; 4],
        cutoffs: &str,
        settle_days: u32,
        dir: Option<String>,
    ) -> Result<Option<AchSettings>, String> {
        let names = ["DOTS_ACH_ODFI_ROUTING", "DOTS_ACH_ODFI_NAME", "DOTS_ACH_COMPANY_ID", "DOTS_ACH_COMPANY_NAME"];
        let given = [&routing, &odfi_name, &company_id, &company_name];
        if given.iter().all(|v| v.is_none()) {
            return Ok(None);
        }
        let missing: Vec<&str> = names.iter().zip(given).filter(|(_, v)| v.is_none()).map(|(n, _)| *n).collect();
        if !missing.is_empty() {
            return Err(format!("the ACH rail needs {} as well", missing.join(", ")));
        }
        let (routing, odfi_name, company_id, company_name) = (
            routing.unwrap_or_default(),
            odfi_name.unwrap_or_default(),
            company_id.unwrap_or_default(),
            company_name.unwrap_or_default(),
        );
        if !crate::ach::routing_number_ok(&routing) {
            return Err(format!("DOTS_ACH_ODFI_ROUTING: {routing} is not a 9-digit routing number"));
        }
        if company_id.len() != 10 || !company_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("DOTS_ACH_COMPANY_ID: 10 letters or digits (often 1 followed by the EIN)".into());
        }
        if company_name.chars().count() > 16 {
            return Err("DOTS_ACH_COMPANY_NAME: at most 16 characters (bank statements show no more)".into());
        }
        let mut times = Vec::new();
        for time in cutoffs.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let parsed = time
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
                .filter(|&(h, m)| h < 24 && m < 60);
            times.push(parsed.ok_or(format!("DOTS_ACH_CUTOFFS: {time} is not a time of day (HH:MM, UTC)"))?);
        }
        if times.is_empty() {
            return Err("DOTS_ACH_CUTOFFS: at least one time of day (HH:MM, UTC)".into());
        }
        times.sort_unstable();
        times.dedup();
        Ok(Some(AchSettings {
            odfi_routing: routing,
            odfi_name,
            company_id,
            company_name,
            cutoffs: times,
            settle_days,
            dir,
        }))
    }
}

/// The SQLite deployment's own key: `<database file>.key` (64 hex characters, mode
/// 0600), made from the operating system's random source at first start. Two
/// processes starting at once agree: only one file can be created.
fn key_file(database_url: &str) -> Result<[u8; 32], String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = database_url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.contains(":memory:") {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no random source: {e}"))?;
        return Ok(key);
    }
    let key_path = format!("{path}.key");
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no random source: {e}"))?;
    let hex = crate::secrets::hex(&key);
    // Written whole to a file of our own, then linked into place: the link either
    // creates the key file, complete, or finds one another process made first.
    let draft = format!("{key_path}.{}.tmp", std::process::id());
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&draft)
        .and_then(|mut file| file.write_all(format!("{hex}\n").as_bytes()).and_then(|()| file.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&draft);
        return Err(format!("writing the key file {draft}: {e}"));
    }
    let linked = std::fs::hard_link(&draft, &key_path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => {
            tracing::warn!(
                path = %key_path,
                "made a new encryption key for this database; back it up with the database: without it, sealed \
                 data (tax ids, bank details, link tokens, webhook secrets) cannot be read"
            );
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text =
                std::fs::read_to_string(&key_path).map_err(|e| format!("reading the key file {key_path}: {e}"))?;
            crate::secrets::parse_hex_key(&text).map_err(|e| format!("the key file {key_path}: {e}"))
        }
        Err(e) => Err(format!("creating the key file {key_path}: {e}")),
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
