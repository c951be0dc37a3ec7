//! SMS senders behind one trait: the development outbox (sandbox: messages are
//! kept in memory and listed by `GET /v2/dev/sms`) and a Twilio-style HTTP provider.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde::Serialize;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone)]
pub struct Sms {
    pub app_id: String,
    /// E.164.
    pub to: String,
    pub body: String,
}

pub trait SmsSender: Send + Sync {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<(), String>>;
}

/// The last `capacity` things sent, newest last, with when: in memory only (what
/// the dev outboxes keep — codes and links never reach the database or the logs).
pub struct Kept<T> {
    items: Mutex<VecDeque<(T, i64)>>,
    capacity: usize,
}

impl<T: Clone> Kept<T> {
    pub fn new(capacity: usize) -> Kept<T> {
        Kept { items: Mutex::new(VecDeque::with_capacity(capacity)), capacity }
    }

    pub fn keep(&self, item: T) {
        let mut items = self.items.lock().expect("outbox lock");
        if items.len() == self.capacity {
            items.pop_front();
        }
        items.push_back((item, crate::store::now_ms()));
    }

    /// The kept items `wanted` picks, newest first, with when they were kept.
    pub fn recent(&self, wanted: impl Fn(&T) -> bool) -> Vec<(T, String)> {
        let items = self.items.lock().expect("outbox lock");
        items
            .iter()
            .rev()
            .filter(|(item, _)| wanted(item))
            .map(|(item, at)| (item.clone(), dots_shared::time::rfc3339_from_unix_ms(*at)))
            .collect()
    }
}

/// The development SMS outbox: the last [`DevOutbox::CAPACITY`] messages.
pub struct DevOutbox {
    messages: Kept<Sms>,
}

impl Default for DevOutbox {
    fn default() -> DevOutbox {
        DevOutbox { messages: Kept::new(DevOutbox::CAPACITY) }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DevSms {
    pub to: String,
    pub body: String,
    pub created_at: String,
}

impl DevOutbox {
    pub const CAPACITY: usize = 500;

    /// The app's messages, newest first, optionally only those to `to`.
    pub fn recent(&self, app_id: &str, to: Option<&str>) -> Vec<DevSms> {
        self.messages
            .recent(|sms| sms.app_id == app_id && to.is_none_or(|to| sms.to == to))
            .into_iter()
            .map(|(sms, created_at)| DevSms { to: sms.to, body: sms.body, created_at })
            .collect()
    }
}

impl SmsSender for DevOutbox {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.messages.keep(sms.clone());
            tracing::info!(to = %mask_phone(&sms.to), "sms kept in the dev outbox (GET /v2/dev/sms)");
            Ok(())
        })
    }
}

/// A Twilio-style provider: `POST {base}/2010-04-01/Accounts/{account}/Messages.json`
/// with a form body `To`, `From`, `Body` and HTTP Basic `account:token`.
pub struct HttpSms {
    endpoint: String,
    authorization: String,
    from: String,
    client: crate::outbound::HttpClient,
}

/// A provider that does not answer within this is a failed send.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

impl HttpSms {
    pub fn new(base_url: &str, account: &str, token: &str, from: &str) -> HttpSms {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{account}:{token}"));
        HttpSms {
            endpoint: format!("{}/2010-04-01/Accounts/{account}/Messages.json", base_url.trim_end_matches('/')),
            authorization: format!("Basic {credentials}"),
            from: from.to_string(),
            // The operator chose this address; it may be internal (a relay, a test double).
            client: crate::outbound::client(true),
        }
    }
}

impl SmsSender for HttpSms {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let form = serde_urlencoded::to_string([("To", &sms.to), ("From", &self.from), ("Body", &sms.body)])
                .map_err(|e| e.to_string())?;
            let request = http::Request::post(&self.endpoint)
                .header("authorization", &self.authorization)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(form)))
                .map_err(|e| e.to_string())?;
            let response = tokio::time::timeout(SEND_TIMEOUT, self.client.request(request))
                .await
                .map_err(|_| "the SMS provider did not answer in time".to_string())?
                .map_err(|e| format!("the SMS provider could not be reached: {e}"))?;
            let status = response.status();
            // Drain the body so the connection can be reused; its content is not logged.
            let _ = response.into_body().collect().await;
            if status.is_success() { Ok(()) } else { Err(format!("the SMS provider answered {status}")) }
        })
    }
}

/// `+1******2671`: enough to recognise a number, not enough to use it.
pub fn mask_phone(e164: &str) -> String {
    let chars: Vec<char> = e164.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (2, 4);
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked_to_the_last_four() {
        assert_eq!(mask_phone("+14155552671"), "+1******2671");
        assert_eq!(mask_phone("+44"), "***");
    }

    #[tokio::test]
    async fn the_outbox_keeps_each_apps_messages_apart_and_bounded() {
        let outbox = DevOutbox::default();
        for i in 0..(DevOutbox::CAPACITY + 3) {
            let app = if i % 2 == 0 { "app_a" } else { "app_b" };
            outbox.send(&Sms { app_id: app.into(), to: format!("+1{i}"), body: format!("m{i}") }).await.unwrap();
        }
        let a = outbox.recent("app_a", None);
        assert!(a.iter().all(|m| m.body.trim_start_matches('m').parse::<usize>().unwrap() % 2 == 0));
        assert_eq!(a.len() + outbox.recent("app_b", None).len(), DevOutbox::CAPACITY);
        assert_eq!(a[0].body, format!("m{}", DevOutbox::CAPACITY + 2), "newest first");
    }
}
