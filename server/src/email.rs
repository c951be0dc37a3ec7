//! Email senders behind one trait: the development outbox (sandbox without SMTP:
//! messages are kept in memory and listed by `GET /v2/dev/emails`) and an SMTP
//! relay (`DOTS_SMTP_URL`), through `lettre`.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

use crate::sms::{BoxFuture, Kept};

/// One email: a plain-text body and an HTML body of the same words.
#[derive(Debug, Clone)]
pub struct Email {
    pub app_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub trait EmailSender: Send + Sync {
    fn send<'a>(&'a self, email: &'a Email) -> BoxFuture<'a, Result<(), String>>;
}

/// The development outbox: the last [`DevEmailOutbox::CAPACITY`] emails (their
/// links carry bearer tokens: they never reach the database or the logs).
pub struct DevEmailOutbox {
    emails: Kept<Email>,
}

impl Default for DevEmailOutbox {
    fn default() -> DevEmailOutbox {
        DevEmailOutbox { emails: Kept::new(DevEmailOutbox::CAPACITY) }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DevEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub created_at: String,
}

impl DevEmailOutbox {
    pub const CAPACITY: usize = 200;

    /// The app's emails, newest first, optionally only those to `to`.
    pub fn recent(&self, app_id: &str, to: Option<&str>) -> Vec<DevEmail> {
        self.emails
            .recent(|e| e.app_id == app_id && to.is_none_or(|to| e.to.eq_ignore_ascii_case(to)))
            .into_iter()
            .map(|(e, created_at)| DevEmail { to: e.to, subject: e.subject, text: e.text, html: e.html, created_at })
            .collect()
    }
}

impl EmailSender for DevEmailOutbox {
    fn send<'a>(&'a self, email: &'a Email) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.emails.keep(email.clone());
            tracing::info!(to = %mask_email(&email.to), "email kept in the dev outbox (GET /v2/dev/emails)");
            Ok(())
        })
    }
}

/// A relay that does not answer within this is a failed send.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// An SMTP relay, reached anew for each email (links are sent one at a time).
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// `url` as lettre reads it (`smtps://…`, `smtp://…?tls=required`); `from` a
    /// mailbox (`Acme <payouts@example.com>`). Errors name the setting, never its value.
    pub fn new(url: &str, from: &str) -> Result<Smtp, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("DOTS_SMTP_URL is not a usable SMTP URL ({})", redact(&e.to_string(), url)))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = from.parse::<Mailbox>().map_err(|e| format!("DOTS_SMTP_FROM is not a mailbox: {e}"))?;
        Ok(Smtp { transport, from })
    }
}

impl EmailSender for Smtp {
    fn send<'a>(&'a self, email: &'a Email) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let to = email.to.parse::<Mailbox>().map_err(|e| format!("not a mailbox: {e}"))?;
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(&email.subject)
                .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
                .map_err(|e| e.to_string())?;
            self.transport.send(message).await.map(|_| ()).map_err(|e| format!("the SMTP relay refused or failed: {e}"))
        })
    }
}

/// An error message with the URL (and so any password in it) taken out.
fn redact(message: &str, url: &str) -> String {
    message.replace(url, "…")
}

/// `a***@example.com`: enough to recognise an address, not to use it.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// Text for HTML: the app's name and words in pages and emails.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_email("ada@example.com"), "a***@example.com");
        assert_eq!(mask_email("nobody"), "***");
    }

    #[test]
    fn a_bad_relay_url_or_sender_is_named_without_its_secrets() {
        let e = Smtp::new("ftp://user:hunter2@mail.example.com", "payouts@example.com").err().unwrap();
        assert!(e.starts_with("DOTS_SMTP_URL") && !e.contains("hunter2"), "{e}");
        let e = Smtp::new("smtp://127.0.0.1:2525", "not a mailbox").err().unwrap();
        assert!(e.starts_with("DOTS_SMTP_FROM"), "{e}");
        assert!(Smtp::new("smtps://user:pass@mail.example.com", "Acme <payouts@example.com>").is_ok());
    }

    #[tokio::test]
    async fn the_outbox_keeps_each_apps_emails_apart_and_bounded() {
        let outbox = DevEmailOutbox::default();
        for i in 0..(DevEmailOutbox::CAPACITY + 3) {
            let app = if i % 2 == 0 { "app_a" } else { "app_b" };
            let email = Email {
                app_id: app.into(),
                to: format!("p{i}@example.com"),
                subject: format!("s{i}"),
                text: String::new(),
                html: String::new(),
            };
            outbox.send(&email).await.unwrap();
        }
        let a = outbox.recent("app_a", None);
        assert_eq!(a.len() + outbox.recent("app_b", None).len(), DevEmailOutbox::CAPACITY);
        assert_eq!(a[0].subject, format!("s{}", DevEmailOutbox::CAPACITY + 2), "newest first");
        assert_eq!(outbox.recent("app_a", Some("P4@example.com")).len(), 1);
    }
}
