//! Overview: the app's wallet, the payouts waiting for review or on their way,
//! and the last 30 days' payouts as a bar chart (SVG).

use dots_shared::api::{List, Transfer, Volume, Wallet};
use leptos::prelude::*;

use super::transfers::table;
use super::{load_path, money_actions, shown};
use crate::show;

pub fn page() -> impl IntoView {
    let wallet = load_path::<Wallet>(|| "/v2/apps/me/wallet".into());
    let flagged = load_path::<List<Transfer>>(|| "/v2/transfers?status=flagged&limit=100".into());
    let pending = load_path::<List<Transfer>>(|| "/v2/transfers?status=pending&type=payout&limit=100".into());
    let volume = load_path::<Volume>(|| "/v2/apps/me/volume".into());
    view! {
        <h1>"Overview"</h1>
        {money_actions()}
        <section class="cards" aria-label="Wallet">
            {shown(wallet, |w| view! {
                <div class="card"><h2>"Available"</h2><p class="big" id="wallet-available">{show::money(w.available, &w.currency)}</p></div>
                <div class="card"><h2>"Held for payouts on their way"</h2><p class="big">{show::money(w.pending, &w.currency)}</p></div>
            })}
        </section>
        <section aria-labelledby="volume-title">
            <h2 id="volume-title">"Payouts, last 30 days"</h2>
            {shown(volume, chart)}
        </section>
        <section aria-labelledby="flagged-title">
            <h2 id="flagged-title">"Needs review"</h2>
            {shown(flagged, |l| table(l, "Nothing is waiting for review."))}
        </section>
        <section aria-labelledby="pending-title">
            <h2 id="pending-title">"Payouts on their way"</h2>
            {shown(pending, |l| table(l, "No payouts are on their way."))}
        </section>
    }
}

/// A bar a day; each bar's title says the day and its total.
fn chart(volume: Volume) -> impl IntoView {
    let (width, height, gap) = (600.0_f64, 160.0_f64, 2.0_f64);
    let days = volume.days.len().max(1) as f64;
    let bar = width / days;
    let most = volume.days.iter().map(|d| d.amount).max().unwrap_or(0).max(1) as f64;
    let total: i64 = volume.days.iter().map(|d| d.amount).sum();
    let count: i64 = volume.days.iter().map(|d| d.count).sum();
    let currency = volume.currency.clone();
    let bars = volume
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = if d.amount > 0 { (d.amount as f64 / most * (height - 4.0)).max(2.0) } else { 0.0 };
            let label = format!(
                "{}: {} in {} payout{}",
                d.date,
                show::money(d.amount, &currency),
                d.count,
                if d.count == 1 { "" } else { "s" }
            );
            view! {
                <rect x=format!("{:.1}", i as f64 * bar + gap / 2.0) y=format!("{:.1}", height - h)
                    width=format!("{:.1}", (bar - gap).max(1.0)) height=format!("{h:.1}") rx="2">
                    <title>{label}</title>
                </rect>
            }
        })
        .collect_view();
    let summary = format!(
        "{} paid out in {} payout{} over the last 30 days.",
        show::money(total, &volume.currency),
        count,
        if count == 1 { "" } else { "s" }
    );
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {width} {height}") role="img" aria-label=summary.clone() preserveAspectRatio="none">
                <line x1="0" y1=height x2=width y2=height class="axis" />
                {bars}
            </svg>
            <figcaption>{summary}</figcaption>
        </figure>
    }
}
