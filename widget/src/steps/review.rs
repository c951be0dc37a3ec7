//! The review step: the amount and where it goes, then the claim (a payout
//! link) or the end of the flow.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{Ctx, Step, amount as offered, focus_step, input};
use crate::api;
use crate::words::{fill, t};
use crate::{emit, emit_event, object};
use dots_shared::{ErrorCode, Money, api as wire, flow};

/// What the widget reads of the payout a withdrawal made: its id.
struct Paid {
    id: String,
}

impl dots_shared::read::FromJson for Paid {
    fn from_json<J: dots_shared::read::Json>(value: &J) -> Option<Paid> {
        Some(Paid { id: dots_shared::read::FromJson::from_json(&value.field("id")?)? })
    }
}

/// An empty body (`{}`).
#[derive(serde::Serialize)]
struct NoFields {}

#[component]
pub(super) fn ReviewStep(ctx: Ctx) -> impl IntoView {
    let link = ctx.is_link();
    let destination = ctx.method.with_untracked(|m| m.as_ref().map(|(_, label)| label.clone()));
    let withdraws = ctx.withdraws();
    let offer = offered::offer();
    let (chosen, fee_minor, net_minor) = (offer.amount, offer.fee, offer.net);
    // What the payee types to take less than all they may: the priced amount until
    // they change it. Its minor units, if it reads as an amount.
    let typed =
        RwSignal::new(offer.currency.and_then(|c| Money::new(chosen, c).ok()).map(Money::decimal).unwrap_or_default());
    let typed_minor = move || Some(Money::from_typed(&typed.get(), offer.currency?).ok()?.amount());
    let amount = if withdraws { ctx.withdrawal_money(chosen) } else { ctx.amount() };
    // A fee the payee bears, and what they receive. No row when the app pays the
    // fee: a zero fee is no sum of money (`Money` is at least one minor unit).
    let fee = match withdraws {
        true => ctx.withdrawal_money(fee_minor).zip(ctx.withdrawal_money(net_minor)),
        false => ctx.link_money(|l| l.fee).zip(ctx.link_money(|l| l.net)),
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        ctx.run(async move {
            let (flow_id, user_id) = ctx.session.with_untracked(|s| (s.flow_id.clone(), s.user_id.clone()));
            if ctx.follows_claim() {
                // A failed payout's money, sent again to the method just chosen.
                let payout_method_id =
                    ctx.method.with_untracked(|m| m.as_ref().map(|(id, _)| id.clone())).unwrap_or_default();
                let resend = flow::ResendRequest { payout_method_id };
                let sent = api::send_json::<_, flow::LinkPayout>("POST", "/flow/v1/payout-link/resend", &resend).await;
                // Sent again already (another tab): the payout's page says where it is.
                const SENT: &[&str] = &[ErrorCode::PayoutNotResendable.as_str()];
                match sent {
                    Err(e) if !e.is_one_of(SENT) => return Err(e),
                    _ => ctx.resending.set(false),
                }
                ctx.refresh().await?;
                ctx.go(Step::Status);
                return Ok(());
            }
            let success = if withdraws {
                let wanted = typed_minor().filter(|a| (offer.min..=offered::most()).contains(a));
                let Some(wanted) = wanted else {
                    let bound = |minor| ctx.withdrawal_money(minor).unwrap_or_default();
                    ctx.field_error(
                        "dots-amount",
                        &fill(t().err_amount(), &[&bound(offer.min), &bound(offered::most())]),
                    );
                    return Ok(());
                };
                if wanted != chosen {
                    // Another amount: the server prices it, the review shows its fee
                    // and what arrives, and the payee withdraws it with the next press.
                    offered::reprice(api::get(&format!("/flow/v1/payout?amount={wanted}")).await?);
                    ctx.step.set(Step::Review);
                    request_animation_frame(focus_step);
                    return Ok(());
                }
                let payout_method_id =
                    ctx.method.with_untracked(|m| m.as_ref().map(|(id, _)| id.clone())).unwrap_or_default();
                let request = flow::WithdrawRequest { amount: Some(chosen), payout_method_id };
                let paid = api::send_json::<_, Paid>("POST", "/flow/v1/payout", &request).await?;
                object(&[
                    ("flow_id", flow_id.into()),
                    ("user_id", user_id.into()),
                    ("payout_transfer_id", paid.id.into()),
                ])
            } else if ctx.is_link() {
                let payout_method_id =
                    ctx.method.with_untracked(|m| m.as_ref().map(|(id, _)| id.clone())).unwrap_or_default();
                let claim = flow::ClaimRequest { payout_method_id };
                let claimed = api::send_json::<_, wire::Claimed>("POST", "/flow/v1/claim", &claim).await?;
                // The claim ended the session; its answer's token follows the payout.
                ctx.refresh().await?;
                object(&[
                    ("flow_id", flow_id.into()),
                    ("user_id", user_id.into()),
                    ("payout_link_id", claimed.payout_link_id.into()),
                    ("payout_transfer_id", claimed.payout.id.into()),
                ])
            } else {
                api::send_json::<_, ()>("POST", "/flow/v1/complete", &NoFields {}).await?;
                object(&[("flow_id", flow_id.into()), ("user_id", user_id.into())])
            };
            ctx.go(if ctx.is_link() { Step::Status } else { Step::Done });
            emit_event("SUCCESS", object(&[]));
            emit("success", success);
            Ok(())
        });
    };
    view! {
        <form class="dots-form" on:submit=submit novalidate>
            <h2 tabindex="-1">{t().review_title()}</h2>
            {withdraws.then(|| input(ctx, "dots-amount", t().amount(), typed, "text", "decimal", "off", false))}
            <dl class="dots-review">
                {amount.clone().filter(|_| !withdraws).map(|a| view! { <dt>{t().amount()}</dt><dd class="dots-amount">{a}</dd> })}
                {fee.map(|(fee, net)| view! {
                    <dt>{t().fee()}</dt><dd>{fee}</dd>
                    <dt>{t().you_receive()}</dt><dd class="dots-amount">{net}</dd>
                })}
                {destination.map(|d| view! { <dt>{t().to()}</dt><dd>{d}</dd> })}
            </dl>
            <button type="submit" class="dots-primary" data-autofocus disabled=ctx.busy>
                {move || match (link, amount.clone()) {
                    // Typed anew: priced before it can be withdrawn.
                    (false, Some(_)) if withdraws && typed_minor() != Some(chosen) => t().continue_label().to_string(),
                    (false, Some(a)) if withdraws => fill(t().withdraw(), &[&a]),
                    (true, Some(a)) if ctx.follows_claim() => fill(t().send_again(), &[&a]),
                    (true, Some(a)) => fill(t().claim(), &[&a]),
                    _ => t().finish().to_string(),
                }}
            </button>
        </form>
    }
}
