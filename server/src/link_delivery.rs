//! Payout links the server delivers itself (issue 16, part 4): by SMS through the
//! SMS sender, or by email through SMTP (`DOTS_SMTP_URL`; the dev outbox in the
//! sandbox), branded with the app's name and colour.
//!
//! A delivery is part of the link's row, written in the transaction that makes (or
//! resends) the link: `delivery_status = 'pending'`, due now. Right after the
//! commit the request hands it to [`deliver_one`]; the delivery worker takes up
//! whatever is still due (a crash between commit and send, a relay that was down)
//! with a lease, as the payout worker does, so a delivery is attempted by one
//! process at a time. A send is retried after 10 s, 1 min, 5 min and 30 min, then
//! the delivery is `failed`. `payout_link.delivered` or `payout_link.delivery_failed`
//! announces the outcome. A relay that accepted the message but answered too late
//! may be asked again: at-least-once, as email itself is.

use std::sync::Arc;
use std::time::Duration;

use dots_shared::theme::Brand;
use dots_shared::{Currency, Money};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::email::Email;
use crate::error::{Reply, TxResult};
use crate::events;
use crate::flows::DeliveryMethod;
use crate::services::Services;
use crate::sms::Sms;
use crate::store::{Store, now_ms};
use crate::writer::Writer;

/// When a failed send is tried again, after the first: then the delivery is `failed`.
const RETRY_AFTER_MS: [i64; 4] = [10_000, 60_000, 300_000, 1_800_000];
/// How long one process owns a delivery while it sends.
const LEASE_MS: i64 = 60_000;
/// Runs the delivery worker until the process ends.
pub async fn run_worker(store: Store, writer: Writer, services: Arc<Services>, interval: Duration) {
    loop {
        match deliver_due(&store, &writer, &services).await {
            Ok(0) => tokio::time::sleep(interval).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "link delivery pass failed");
                tokio::time::sleep(interval).await;
            }
        }
    }
}

/// One pass: every due delivery, each attempted once (a suspended app's wait for
/// its resumption). Returns how many it took.
pub async fn deliver_due(store: &Store, writer: &Writer, services: &Services) -> Result<usize, String> {
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM payout_links WHERE delivery_status = 'pending' AND delivery_due_at <= $1
         AND (delivery_lease_until IS NULL OR delivery_lease_until < $1)
         AND NOT EXISTS (SELECT 1 FROM apps a WHERE a.id = payout_links.app_id AND a.suspended_at IS NOT NULL)
         ORDER BY delivery_due_at LIMIT 20",
    )
    .bind(now_ms())
    .fetch_all(store.reader())
    .await
    .map_err(|e| e.to_string())?;
    let mut taken = 0;
    for id in due {
        if deliver_one(store, writer, services, &id).await? {
            taken += 1;
        }
    }
    Ok(taken)
}

/// Attempts link `id`'s due delivery, if no one else holds it: sends, then records
/// the outcome. Returns whether it took it.
pub async fn deliver_one(store: &Store, writer: &Writer, services: &Services, id: &str) -> Result<bool, String> {
    let now = now_ms();
    let mut tx = store.begin_write().await.map_err(|e| e.to_string())?;
    let leased = sqlx::query(
        "UPDATE payout_links SET delivery_lease_until = $1 WHERE id = $2 AND delivery_status = 'pending'
         AND delivery_due_at <= $3 AND (delivery_lease_until IS NULL OR delivery_lease_until < $3)",
    )
    .bind(now + LEASE_MS)
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    if leased.rows_affected() != 1 {
        return Ok(false);
    }
    let outcome = match compose(store, services, id, now).await {
        Ok(Some(message)) => send(services, &message).await,
        Ok(None) => Err("the link is no longer active".to_string()),
        Err(e) => return Err(e),
    };
    if let Err(e) = &outcome {
        tracing::warn!(link = %id, error = %e, "a payout link's delivery failed");
    }
    let args = (id.to_string(), outcome.err());
    let recorded = writer.run(crate::writer::Origin::default(), args, |conn, (id, failure), now| {
        Box::pin(async move {
            record(conn, id, failure.as_deref(), now).await?;
            Ok(Reply::done())
        })
    });
    match recorded.await {
        Ok(_) => Ok(true),
        Err(e) => Err(e.to_string()),
    }
}

/// What goes out: an SMS or an email, to whom, for a test app (the dev outboxes)
/// or a live one (the providers).
enum Message {
    Sms(Sms, bool),
    Email(Email, bool),
}

async fn send(services: &Services, message: &Message) -> Result<(), String> {
    match message {
        Message::Sms(sms, live) => services.sms(*live)?.send(sms).await,
        Message::Email(email, live) => services.app_email(*live)?.send(email).await,
    }
}

/// The message for link `id`, or `None` when it may no longer be sent (claimed,
/// canceled or expired meanwhile).
async fn compose(store: &Store, services: &Services, id: &str, now_ms: i64) -> Result<Option<Message>, String> {
    let mut conn = store.reader().acquire().await.map_err(|e| e.to_string())?;
    let row = sqlx::query("SELECT app_id, delivery_method FROM payout_links WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    let app_id: String = row.get("app_id");
    let method = DeliveryMethod::parse(row.get("delivery_method")).unwrap_or_default();
    let link = crate::flows::get_link(&mut conn, &services.keys, &services.public_url, &app_id, id, now_ms)
        .await
        .map_err(|e| e.to_string())?;
    let (Some(url), "active") = (link.url.as_deref(), link.status.as_str()) else {
        return Ok(None);
    };
    let app = sqlx::query("SELECT name, brand, mode FROM apps WHERE id = $1")
        .bind(&app_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    let mut brand = crate::flows::stored_brand(&app.get::<String, _>("brand"));
    if let Some(over) = &link.brand {
        brand = brand.with(&Brand::from_value(over));
    }
    let name = brand.name.clone().unwrap_or_else(|| app.get("name"));
    let live = app.get::<String, _>("mode") == "live";
    let currency = Currency::parse(&link.currency).map_err(|e| e.to_string())?;
    let amount = Money::new(link.amount, currency).map_err(|e| e.to_string())?.display();
    let words = Words { app: &name, amount: &amount, memo: link.memo.as_deref(), url, expires_at: &link.expires_at };
    Ok(match (method, link.phone_number, link.email) {
        (DeliveryMethod::Sms, Some(to), _) => Some(Message::Sms(Sms { app_id, to, body: words.sms() }, live)),
        (DeliveryMethod::Email, _, Some(to)) => Some(Message::Email(
            Email {
                app_id,
                to,
                subject: words.subject(),
                text: words.text(),
                html: words.html(brand.primary_color.as_deref().unwrap_or(DEFAULT_COLOUR)),
            },
            live,
        )),
        _ => None,
    })
}

/// The outcome of one attempt, with its event when the delivery is done.
async fn record(conn: &mut AnyConnection, id: &str, failure: Option<&str>, now_ms: i64) -> TxResult<()> {
    let row = sqlx::query("SELECT app_id, delivery_method, delivery_attempts FROM payout_links WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let app_id: String = row.try_get("app_id")?;
    let attempts = row.try_get::<i64, _>("delivery_attempts")? + 1;
    let retry = usize::try_from(attempts - 1).ok().and_then(|i| RETRY_AFTER_MS.get(i));
    let status = match (failure, retry) {
        (None, _) => "sent",
        (Some(_), Some(_)) => "pending",
        (Some(_), None) => "failed",
    };
    sqlx::query(
        "UPDATE payout_links SET delivery_status = $1, delivery_attempts = $2, delivery_due_at = $3,
                delivery_lease_until = NULL, delivered_at = CASE WHEN $1 = 'sent' THEN $4 ELSE delivered_at END
         WHERE id = $5 AND delivery_status = 'pending'",
    )
    .bind(status)
    .bind(attempts)
    .bind(now_ms + retry.copied().unwrap_or(0))
    .bind(now_ms)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let event = match status {
        "sent" => events::PAYOUT_LINK_DELIVERED,
        "failed" => events::PAYOUT_LINK_DELIVERY_FAILED,
        _ => return Ok(()),
    };
    let data = Delivered {
        payout_link_id: id.to_string(),
        method: row.try_get("delivery_method")?,
        status: status.to_string(),
        attempts,
    };
    events::record(conn, &app_id, event, &data, now_ms).await?;
    Ok(())
}

/// `payout_link.delivered` / `payout_link.delivery_failed`: ids and outcome only
/// (never the URL, which holds the link's bearer token).
#[derive(Debug, Serialize)]
struct Delivered {
    payout_link_id: String,
    method: String,
    status: String,
    attempts: i64,
}

/// The colour of an unbranded app's button (the widget's default primary).
const DEFAULT_COLOUR: &str = "#1d4ed8";

/// The words of one link's message.
struct Words<'a> {
    app: &'a str,
    amount: &'a str,
    memo: Option<&'a str>,
    url: &'a str,
    expires_at: &'a str,
}

impl Words<'_> {
    fn subject(&self) -> String {
        format!("{} sent you {}", self.app, self.amount)
    }

    fn sms(&self) -> String {
        let memo = self.memo.map(|m| format!(" ({m})")).unwrap_or_default();
        format!("{} sent you {}{memo}. Claim it: {}", self.app, self.amount, self.url)
    }

    /// The day the link stops working, as people write it (`4 December 2026`).
    fn until(&self) -> String {
        dots_shared::time::parse_rfc3339_ms(self.expires_at).map(day_of).unwrap_or_default()
    }

    fn text(&self) -> String {
        let memo = self.memo.map(|m| format!("{m}\n\n")).unwrap_or_default();
        format!(
            "{app} sent you {amount}.\n\n{memo}Claim it here (the link works until {until}):\n{url}\n\n\
             You'll confirm your phone number, then choose where the money goes.\n\
             If you weren't expecting this, you can ignore this email.\n",
            app = self.app,
            amount = self.amount,
            until = self.until(),
            url = self.url,
        )
    }

    fn html(&self, colour: &str) -> String {
        let e = crate::email::escape_html;
        let memo =
            self.memo.map(|m| format!("<p style=\"margin:0 0 16px;color:#4b5563\">{}</p>", e(m))).unwrap_or_default();
        format!(
            "<!doctype html><html lang=\"en\"><body style=\"margin:0;padding:24px;background:#f3f4f6;\
             font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#111827\">\
             <div style=\"max-width:480px;margin:0 auto;background:#ffffff;border-radius:12px;padding:32px\">\
             <p style=\"margin:0 0 8px;font-weight:600;color:{colour}\">{app}</p>\
             <h1 style=\"margin:0 0 16px;font-size:24px\">{app} sent you {amount}</h1>{memo}\
             <p style=\"margin:24px 0\"><a href=\"{url}\" style=\"display:inline-block;background:{colour};color:#ffffff;\
             text-decoration:none;font-weight:600;padding:12px 24px;border-radius:8px\">Claim {amount}</a></p>\
             <p style=\"margin:0 0 8px;color:#4b5563;font-size:14px\">The link works until {until}. You'll confirm your \
             phone number, then choose where the money goes.</p>\
             <p style=\"margin:0;color:#6b7280;font-size:13px\">If you weren't expecting this, you can ignore this email.</p>\
             </div></body></html>",
            colour = e(colour),
            app = e(self.app),
            amount = e(self.amount),
            url = e(self.url),
            until = e(&self.until()),
        )
    }
}

/// `4 December 2026` (UTC) from Unix milliseconds.
fn day_of(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let at = dots_shared::time::rfc3339_from_unix_ms(ms);
    let (year, month, day) = (&at[0..4], at[5..7].parse::<usize>().unwrap_or(1), at[8..10].trim_start_matches('0'));
    format!("{day} {} {year}", MONTHS[month.clamp(1, 12) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_carry_the_app_the_amount_and_the_link_and_nothing_unescaped() {
        let words = Words {
            app: "Acme <Payroll>",
            amount: "$25.00",
            memo: Some("June & July"),
            url: "https://pay.example/claim/plt_abc",
            expires_at: "2026-12-11T10:00:00.000Z",
        };
        assert_eq!(words.subject(), "Acme <Payroll> sent you $25.00");
        assert_eq!(
            words.sms(),
            "Acme <Payroll> sent you $25.00 (June & July). Claim it: https://pay.example/claim/plt_abc"
        );
        assert!(words.text().contains("works until 11 December 2026):\nhttps://pay.example/claim/plt_abc\n"));
        let html = words.html("#0b7a3b\"><script>");
        assert!(html.contains("Acme &lt;Payroll&gt; sent you $25.00") && html.contains("June &amp; July"));
        assert!(html.contains("href=\"https://pay.example/claim/plt_abc\""));
        assert!(!html.contains("<script>") && !html.contains("<Payroll>"), "{html}");
    }

    #[test]
    fn days_are_written_for_people() {
        assert_eq!(day_of(0), "1 January 1970");
        assert_eq!(day_of(1_796_000_000_000), "30 November 2026");
    }
}
