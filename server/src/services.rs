//! What the server is configured with beyond its database: keys, the SMS sender,
//! the payout rail, and where payees reach it.

use std::sync::Arc;

use crate::config::Settings;
use crate::email::{DevEmailOutbox, EmailSender, Smtp};
use crate::rails::{Destination, PayoutRail, SandboxRail};
use crate::secrets::Keys;
use crate::sms::{DevOutbox, HttpSms, SmsSender};
use crate::store::Store;

pub struct Services {
    pub keys: Keys,
    /// Test apps' SMS messages: the dev outbox (`GET /v2/dev/sms`), never a phone.
    pub outbox: Arc<DevOutbox>,
    /// Test apps' emails: the dev email outbox (`GET /v2/dev/emails`).
    pub email_outbox: Arc<DevEmailOutbox>,
    /// Live apps' SMS provider, when configured (`DOTS_SMS_PROVIDER=http`).
    live_sms: Option<Arc<dyn SmsSender>>,
    /// Live apps' emails, when SMTP is configured (`DOTS_SMTP_URL`).
    live_email: Option<Arc<dyn EmailSender>>,
    /// The teams' own emails (invitations, password resets): SMTP when configured,
    /// else the dev email outbox (a development deployment).
    pub email: Arc<dyn EmailSender>,
    /// Test apps' payouts.
    pub sandbox_rail: Arc<dyn PayoutRail>,
    /// Live apps' bank payouts, gathered into NACHA files, when configured.
    pub ach: Option<crate::config::AchSettings>,
    /// Live apps' PayPal and Venmo payouts (the PayPal Payouts API), when configured.
    pub paypal_rail: Option<Arc<dyn PayoutRail>>,
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

/// Where a payout goes, by its app's mode and its destination's type.
pub enum Route<'a> {
    /// Submitted one by one to this rail by the payout worker.
    Rail(&'a Arc<dyn PayoutRail>),
    /// Gathered into the next NACHA file at a cut-off (`crate::ach_rail`): the
    /// worker leaves it.
    AchFile,
    /// No rail is configured for it (a live app's method type this server cannot
    /// pay; refused at the app's making, so only after a configuration change).
    None,
}

impl Services {
    pub fn new(settings: &Settings, store: &Store) -> Result<Services, String> {
        let keys = settings.keys()?;
        let live_sms: Option<Arc<dyn SmsSender>> = settings
            .sms_http
            .as_ref()
            .map(|http| Arc::new(HttpSms::new(&http.base_url, &http.account, &http.token, &http.from)) as _);
        let live_email: Option<Arc<dyn EmailSender>> = match &settings.smtp {
            Some(smtp) => {
                let from = match &smtp.from {
                    Some(from) => from.clone(),
                    None => format!("payouts@{}", host_of(&settings.public_url())),
                };
                Some(Arc::new(Smtp::new(&smtp.url, &from)?))
            }
            None => None,
        };
        let outbox = Arc::new(DevOutbox::default());
        let email_outbox = Arc::new(DevEmailOutbox::default());
        let email = live_email.clone().unwrap_or_else(|| email_outbox.clone() as Arc<dyn EmailSender>);
        Ok(Services {
            keys,
            outbox,
            email_outbox,
            live_sms,
            live_email,
            email,
            sandbox_rail: Arc::new(SandboxRail::new(store.clone(), settings.sandbox_settle_ms)),
            ach: settings.ach.clone(),
            paypal_rail: settings
                .paypal
                .clone()
                .map(|p| Arc::new(crate::paypal::PaypalRail::new(p)) as Arc<dyn PayoutRail>),
            public_url: settings.public_url(),
            worker_lease_ms: settings.worker_lease_ms,
            webhooks: settings.webhooks.clone(),
            sms_per_client_per_hour: settings.sms_per_client_per_hour,
            limits: settings.limits.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
            readiness: crate::live::Readiness::of(settings),
        })
    }

    /// The SMS sender of a test app (the dev outbox) or a live one (the provider).
    pub fn sms(&self, live: bool) -> Result<&dyn SmsSender, String> {
        match (live, &self.live_sms) {
            (false, _) => Ok(self.outbox.as_ref()),
            (true, Some(sender)) => Ok(sender.as_ref()),
            (true, None) => Err("no SMS provider is configured for live apps (DOTS_SMS_PROVIDER=http)".into()),
        }
    }

    /// The email sender of a test app's payees (the dev email outbox) or a live
    /// app's (SMTP).
    pub fn app_email(&self, live: bool) -> Result<&dyn EmailSender, String> {
        match (live, &self.live_email) {
            (false, _) => Ok(self.email_outbox.as_ref()),
            (true, Some(sender)) => Ok(sender.as_ref()),
            (true, None) => Err("no email sender is configured for live apps (DOTS_SMTP_URL)".into()),
        }
    }

    /// Where a payout of a test or live app to `destination` goes.
    pub fn route(&self, live: bool, destination: &Destination) -> Route<'_> {
        match (live, destination) {
            (false, _) => Route::Rail(&self.sandbox_rail),
            (true, Destination::Bank { .. }) if self.ach.is_some() => Route::AchFile,
            (true, Destination::Paypal { .. } | Destination::Venmo { .. }) => {
                self.paypal_rail.as_ref().map_or(Route::None, Route::Rail)
            }
            (true, _) => Route::None,
        }
    }

    /// The polled rail a payout was handed to, by the name it recorded.
    pub fn rail_named(&self, name: &str) -> Option<&Arc<dyn PayoutRail>> {
        match name {
            "sandbox" => Some(&self.sandbox_rail),
            "paypal" => self.paypal_rail.as_ref(),
            _ => None,
        }
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
