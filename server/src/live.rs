//! Test and live apps in one deployment (issue 19, part 1). A test app moves no
//! real money: the sandbox rail, the dev outboxes. A live app needs what this
//! deployment must be given for real money — an encryption key it keeps, a real
//! SMS provider, SMTP, and a configured payout rail for each payout method type the
//! app allows. Making a live app, or starting with one, is refused with the whole
//! list of what is missing, at once.
//!
//! A deployment declared live (`DOTS_SANDBOX=false`) must have all of it but the
//! rails at start, and at least one rail: it does not start half-configured.
//!
//! Rails: ACH by NACHA file for `bank` (`crate::ach_rail`); the PayPal Payouts API
//! for `paypal` and `venmo` (`crate::paypal`).

use sqlx::Row;

use crate::config::Settings;
use crate::error::Error;
use crate::store::Store;
use dots_shared::ErrorCode;

/// The payout method types an app may allow.
pub const METHOD_TYPES: [&str; 3] = ["bank", "paypal", "venmo"];

/// What this deployment has for live apps, read from its settings at start.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    /// `DOTS_ENCRYPTION_KEY` is set (not a key made beside a SQLite file).
    pub encryption_key: bool,
    /// A real SMS provider (`DOTS_SMS_PROVIDER=http`).
    pub sms_provider: bool,
    /// `DOTS_SMTP_URL`.
    pub smtp: bool,
    /// The payout method types a live rail is configured for.
    pub rails: Vec<&'static str>,
}

impl Readiness {
    pub fn of(settings: &Settings) -> Readiness {
        Readiness {
            encryption_key: settings.encryption_key.is_some(),
            sms_provider: settings.sms_http.is_some(),
            smtp: settings.smtp.is_some(),
            rails: [
                ("bank", settings.ach.is_some()),
                ("paypal", settings.paypal.is_some()),
                ("venmo", settings.paypal.is_some()),
            ]
            .into_iter()
            .filter_map(|(rail, configured)| configured.then_some(rail))
            .collect(),
        }
    }

    /// What a live app allowing `method_types` would need that is missing, one
    /// sentence each (empty: ready).
    pub fn missing(&self, method_types: &[String]) -> Vec<String> {
        let mut missing = Vec::new();
        if !self.encryption_key {
            missing.push(
                "DOTS_ENCRYPTION_KEY (64 hex characters, kept safe outside the database): live apps' bank details \
                 and tax ids are sealed with it"
                    .to_string(),
            );
        }
        if !self.sms_provider {
            missing.push(
                "an SMS provider (DOTS_SMS_PROVIDER=http with DOTS_SMS_BASE_URL, DOTS_SMS_ACCOUNT, DOTS_SMS_TOKEN, \
                 DOTS_SMS_FROM): live payees' codes go by real text messages"
                    .to_string(),
            );
        }
        if !self.smtp {
            missing.push("DOTS_SMTP_URL (and DOTS_SMTP_FROM): live apps' emails go by SMTP".to_string());
        }
        for method in method_types {
            if !self.rails.contains(&method.as_str()) {
                let rail = match method.as_str() {
                    "bank" => "bank payouts (ACH by NACHA file)",
                    "paypal" => "PayPal payouts (the PayPal Payouts API)",
                    _ => "Venmo payouts (the PayPal Payouts API)",
                };
                let how = match method.as_str() {
                    "bank" => {
                        "DOTS_ACH_ODFI_ROUTING, DOTS_ACH_ODFI_NAME, DOTS_ACH_COMPANY_ID and DOTS_ACH_COMPANY_NAME"
                    }
                    _ => "DOTS_PAYPAL_CLIENT_ID and DOTS_PAYPAL_SECRET",
                };
                missing.push(format!("a payout rail for {rail}: {how}"));
            }
        }
        missing
    }
}

impl Readiness {
    /// What a deployment declared live (`DOTS_SANDBOX=false`) lacks: everything a
    /// live app needs but the rails, and at least one rail.
    pub fn deployment_missing(&self) -> Vec<String> {
        let mut missing = self.missing(&[]);
        if self.rails.is_empty() {
            missing.push(
                "a payout rail: bank payouts by ACH file (DOTS_ACH_ODFI_ROUTING, DOTS_ACH_ODFI_NAME, \
                 DOTS_ACH_COMPANY_ID, DOTS_ACH_COMPANY_NAME) or PayPal and Venmo payouts (DOTS_PAYPAL_CLIENT_ID, \
                 DOTS_PAYPAL_SECRET)"
                    .to_string(),
            );
        }
        missing
    }
}

/// A live deployment's start: refused, with the whole list, when it lacks anything.
pub fn check_deployment(sandbox: bool, readiness: &Readiness) -> Result<(), String> {
    let missing = readiness.deployment_missing();
    if sandbox || missing.is_empty() {
        return Ok(());
    }
    Err(format!("This server is declared live (DOTS_SANDBOX=false) but lacks: {}.", missing.join("; ")))
}

/// Keys that are published (the demo's, the benchmarks'): never a live deployment's.
const PUBLISHED_OPERATOR_KEYS: [&str; 2] =
    ["dots-dev-operator-key-for-the-demo-only", "bench-operator-key-of-at-least-32-bytes"];

/// How bad a finding of `dots doctor` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A live deployment cannot run without it.
    Missing,
    /// It runs, but money or personal data is at risk.
    Unsafe,
    /// Worth knowing.
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Missing => "missing",
            Severity::Unsafe => "unsafe",
            Severity::Note => "note",
        }
    }
}

/// What `dots doctor` finds in a configuration, for a live deployment: what is
/// missing (as the start would refuse) and what is unsafe.
pub fn doctor(settings: &Settings) -> Vec<(Severity, String)> {
    let mut found: Vec<(Severity, String)> =
        Readiness::of(settings).deployment_missing().into_iter().map(|m| (Severity::Missing, m)).collect();
    let mut unsafe_ = |text: &str| found.push((Severity::Unsafe, text.to_string()));
    match settings.public_url.as_deref() {
        None => unsafe_("DOTS_PUBLIC_URL is not set: payout links would point at http://<listen address>"),
        Some(url) if !url.starts_with("https://") => unsafe_(
            "DOTS_PUBLIC_URL is not https://: payees' links, codes and bank details would cross the network in the clear",
        ),
        Some(_) => {}
    }
    match settings.operator_key.as_deref() {
        Some(key) if PUBLISHED_OPERATOR_KEYS.contains(&key) => unsafe_(
            "DOTS_OPERATOR_KEY is a published key (the demo's or the benchmarks'): anyone can make apps and move money",
        ),
        Some(key) if key.len() < 32 => {
            unsafe_("DOTS_OPERATOR_KEY is shorter than 32 characters: make one with `openssl rand -hex 32`")
        }
        _ => {}
    }
    if settings.database_url.starts_with("sqlite:") {
        unsafe_(
            "the database is SQLite: one server process only, and its backups are yours to make; several processes \
             (or a standby) need PostgreSQL (DATABASE_URL=postgres://…)",
        );
    }
    if let Some(smtp) = &settings.smtp
        && smtp.url.starts_with("smtp://")
        && !smtp.url.contains("tls=required")
    {
        unsafe_("DOTS_SMTP_URL is smtp:// without tls=required: payout-link emails would leave unencrypted");
    }
    if let Some(paypal) = &settings.paypal
        && !paypal.base_url.starts_with("https://")
    {
        unsafe_(
            "DOTS_PAYPAL_BASE_URL is not https://: PayPal credentials and payees' details would cross the network in the clear",
        );
    }
    if let Some(sms) = &settings.sms_http
        && !sms.base_url.starts_with("https://")
    {
        unsafe_("DOTS_SMS_BASE_URL is not https://: verification codes would cross the network in the clear");
    }
    if settings.webhooks.allow_private {
        unsafe_("DOTS_WEBHOOK_ALLOW_PRIVATE=true: an app's webhook could reach your private network");
    }
    if let Some(ach) = &settings.ach {
        if ach.settle_days == 1 {
            unsafe_(
                "DOTS_ACH_SETTLE_DAYS=1: a refill's money would be available before most debit returns can arrive (2 banking days)",
            );
        }
        if let Some(dir) = &ach.dir {
            let probe = std::path::Path::new(dir).join(".dots-doctor");
            match std::fs::write(&probe, b"") {
                Ok(()) => {
                    let _ = std::fs::remove_file(&probe);
                }
                Err(e) => found.push((Severity::Missing, format!("DOTS_ACH_DIR {dir} is not writable: {e}"))),
            }
        }
        if ach.settle_days == 0 {
            found.push((
                Severity::Note,
                "DOTS_ACH_SETTLE_DAYS=0: ACH files settle only when the operator settles them".into(),
            ));
        }
    }
    if settings.sandbox {
        found.push((
            Severity::Note,
            "DOTS_SANDBOX is true (a development deployment): a live one sets DOTS_SANDBOX=false, and then refuses to \
             start without what is missing above"
                .into(),
        ));
    }
    found
}

/// The refusal of a live app this deployment cannot serve: every missing setting.
pub fn not_ready(app: &str, missing: &[String]) -> Error {
    Error::new(
        ErrorCode::LiveModeNotReady,
        format!("{app} cannot be live on this server; it needs: {}.", missing.join("; ")),
    )
}

/// `test` or `live`.
pub fn parse_mode(mode: Option<&str>) -> Result<&'static str, Error> {
    match mode.map(str::trim) {
        None | Some("test") => Ok("test"),
        Some("live") => Ok("live"),
        Some(_) => Err(Error::invalid(ErrorCode::InvalidField, "mode", "mode must be test or live")),
    }
}

/// The payout method types an app allows: some of [`METHOD_TYPES`], each once, at
/// least one; all of them when none are named.
pub fn parse_method_types(types: Option<&[String]>) -> Result<Vec<String>, Error> {
    let Some(types) = types else { return Ok(METHOD_TYPES.iter().map(|t| t.to_string()).collect()) };
    let invalid = |why: &str| Error::invalid(ErrorCode::InvalidField, "payout_method_types", why.to_string());
    if types.is_empty() {
        return Err(invalid("payout_method_types needs at least one of bank, paypal, venmo"));
    }
    let mut seen = Vec::new();
    for t in types {
        if !METHOD_TYPES.contains(&t.as_str()) {
            return Err(invalid("payout_method_types takes bank, paypal and venmo"));
        }
        if seen.contains(t) {
            return Err(invalid("payout_method_types names each type once"));
        }
        seen.push(t.clone());
    }
    Ok(seen)
}

/// At start: every live app must be servable by this deployment. The answer
/// names each app that is not, with everything it is missing.
pub async fn check_live_apps(store: &Store, readiness: &Readiness) -> Result<(), String> {
    let rows = sqlx::query("SELECT name, payout_method_types FROM apps WHERE mode = 'live' ORDER BY seq")
        .fetch_all(store.reader())
        .await
        .map_err(|e| format!("reading the live apps: {e}"))?;
    let mut refusals = Vec::new();
    for row in rows {
        let name: String = row.try_get("name").map_err(|e| e.to_string())?;
        let types: String = row.try_get("payout_method_types").map_err(|e| e.to_string())?;
        let types: Vec<String> = serde_json::from_str(&types).unwrap_or_default();
        let missing = readiness.missing(&types);
        if !missing.is_empty() {
            refusals.push(not_ready(&format!("The live app “{name}”"), &missing).message);
        }
    }
    if refusals.is_empty() { Ok(()) } else { Err(refusals.join("\n")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_app_needs_every_setting_and_a_rail_for_each_method_type() {
        let none = Readiness::default();
        let all = parse_method_types(None).unwrap();
        let missing = none.missing(&all);
        assert_eq!(missing.len(), 6, "{missing:#?}");
        for (i, needle) in
            ["DOTS_ENCRYPTION_KEY", "DOTS_SMS_PROVIDER", "DOTS_SMTP_URL", "bank payouts", "PayPal", "Venmo"]
                .iter()
                .enumerate()
        {
            assert!(missing[i].contains(needle), "{needle}: {}", missing[i]);
        }
        let ready = Readiness { encryption_key: true, sms_provider: true, smtp: true, rails: vec!["paypal"] };
        assert!(ready.missing(&["paypal".into()]).is_empty());
        assert_eq!(ready.missing(&["paypal".into(), "bank".into()]).len(), 1);
        assert!(parse_method_types(Some(&[])).is_err());
        assert!(parse_method_types(Some(&["bank".into(), "bank".into()])).is_err());
        assert!(parse_method_types(Some(&["wire".into()])).is_err());
        assert_eq!(parse_mode(None).unwrap(), "test");
        assert!(parse_mode(Some("prod")).is_err());
    }
}
