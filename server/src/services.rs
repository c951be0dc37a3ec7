//! What the server is configured with beyond its database: keys, the SMS sender,
//! the payout rail, and where payees reach it.

use std::sync::Arc;

use crate::config::Settings;
use crate::email::{DevEmailOutbox, EmailSender, Smtp};
use crate::rails::{PayoutRail, SandboxRail};
use crate::secrets::Keys;
use crate::sms::{DevOutbox, HttpSms, SmsSender};
use crate::store::Store;

pub struct Services {
    pub keys: Keys,
    pub sms: Arc<dyn SmsSender>,
    /// The dev outbox, when it is the SMS sender (sandbox only).
    pub outbox: Option<Arc<DevOutbox>>,
    /// Payout-link emails: SMTP when `DOTS_SMTP_URL` is set, else (sandbox) the dev outbox.
    pub email: Option<Arc<dyn EmailSender>>,
    /// The dev email outbox, when it is the email sender (sandbox only).
    pub email_outbox: Option<Arc<DevEmailOutbox>>,
    pub rail: Arc<dyn PayoutRail>,
    /// Where payees reach this server: payout-link and flow URLs start here.
    pub public_url: String,
    /// How long the payout worker owns a payout step.
    pub worker_lease_ms: i64,
    pub webhooks: crate::config::DeliverySettings,
    pub sms_per_client_per_hour: i64,
    pub limits: crate::config::Limits,
    pub trusted_proxies: Vec<crate::clients::IpNet>,
    /// What live apps need of this deployment, and whether it has it (`crate::live`).
    pub readiness: crate::live::Readiness,
}

impl Services {
    pub fn new(settings: &Settings, store: &Store) -> Result<Services, String> {
        let keys = settings.keys()?;
        let (sms, outbox): (Arc<dyn SmsSender>, Option<Arc<DevOutbox>>) = match &settings.sms_http {
            Some(http) => (Arc::new(HttpSms::new(&http.base_url, &http.account, &http.token, &http.from)), None),
            None if settings.sandbox => {
                let outbox = Arc::new(DevOutbox::default());
                (outbox.clone(), Some(outbox))
            }
            None => return Err("outside the sandbox an SMS provider is required (DOTS_SMS_PROVIDER=http)".into()),
        };
        if !settings.sandbox {
            // The only rail so far is the sandbox's; a live rail plugs in here.
            return Err("no live payout rail is configured yet: run with DOTS_SANDBOX=true".into());
        }
        let (email, email_outbox): (Option<Arc<dyn EmailSender>>, _) = match &settings.smtp {
            Some(smtp) => {
                let from = match &smtp.from {
                    Some(from) => from.clone(),
                    None => format!("payouts@{}", host_of(&settings.public_url())),
                };
                (Some(Arc::new(Smtp::new(&smtp.url, &from)?)), None)
            }
            None if settings.sandbox => {
                let outbox = Arc::new(DevEmailOutbox::default());
                (Some(outbox.clone()), Some(outbox))
            }
            None => (None, None),
        };
        let rail: Arc<dyn PayoutRail> = Arc::new(SandboxRail::new(store.clone(), settings.sandbox_settle_ms));
        Ok(Services {
            keys,
            sms,
            outbox,
            email,
            email_outbox,
            rail,
            public_url: settings.public_url(),
            worker_lease_ms: settings.worker_lease_ms,
            webhooks: settings.webhooks.clone(),
            sms_per_client_per_hour: settings.sms_per_client_per_hour,
            limits: settings.limits.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
            readiness: crate::live::Readiness::of(settings),
        })
    }

    /// The host name SMS messages bind their codes to (WebOTP's `@host #code`).
    pub fn public_host(&self) -> String {
        host_of(&self.public_url)
    }
}

/// The host name of a URL (`https://pay.example.com:8443/x` → `pay.example.com`).
fn host_of(url: &str) -> String {
    let without_scheme = url.split("://").nth(1).unwrap_or(url);
    without_scheme.split(['/', ':']).next().unwrap_or("localhost").to_string()
}
