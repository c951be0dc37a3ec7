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
    // Integer SVG units: a bar 20 wide a day, up to 156 high; heights from the
    // amounts' ratio in integers (money never goes through a float).
    let (bar, height) = (20_i64, 160_i64);
    let width = bar * volume.days.len().max(1) as i64;
    let most = i128::from(volume.days.iter().map(|d| d.amount).max().unwrap_or(0).max(1));
    let total: i64 = volume.days.iter().map(|d| d.amount).sum();
    let count: i64 = volume.days.iter().map(|d| d.count).sum();
    let currency = volume.currency.clone();
    let bars = volume
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = if d.amount > 0 { (i128::from(d.amount) * 156 / most).max(2) as i64 } else { 0 };
            let label = format!(
                "{}: {} in {} payout{}",
                d.date,
                show::money(d.amount, &currency),
                d.count,
                if d.count == 1 { "" } else { "s" }
            );
            view! {
                <rect x=(i as i64 * bar + 1).to_string() y=(height - h).to_string() width=(bar - 2).to_string()
                    height=h.to_string() rx="2">
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
