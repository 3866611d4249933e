//! Money out: a wallet closed, its balance paid back to the first card that funded it
//! (`inkan_core::closing`),
//! in two phases as top-ups are.
//!
//! 1. With the account locked, `inkan_core::closing::may_close` decides. The pay-out is written
//!    `pending`, the balance moves out of the wallet's book to the provider's clearing book (a
//!    ledger `payout`), and the account is frozen and closed, in one transaction.
//! 2. The provider is asked to pay the card, with the pay-out's id as its idempotency key.
//! 3. Its answer settles the pay-out: `succeeded` (`wallet_closed` notice), or `failed`: the money
//!    goes back to the wallet (a ledger `payout_returned`), which stays frozen but no longer
//!    closed (`payout_failed` notice), so the shopper can add another card and close it again.
//!
//! A pay-out whose answer is lost stays `pending` for [`reconcile`] (with the top-ups', at start-up
//! and every `reconcile_every`), which also sends one the provider never received (the server
//! stopped between phases 1 and 2). Closing again answers with the pay-out already made.

use axum::http::StatusCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::{CloseWallet, ClosedWallet, Payout, PayoutStatus, StepUpAction};
use inkan_core::closing::{
    self, CloseRefused, Closing, ClosingFacts, PayoutReason, PayoutSettlement, may_close, settle_payout,
};
use inkan_core::topup::{ProviderRecord, Settlement};
use inkan_core::{Currency, Money};

use crate::auth::SessionAuth;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::flow::accounts::require_step_up;
use crate::origin::Client;
use crate::provider::FundingError;
use crate::secrets::new_id;
use crate::settlement::{Ended, Movement, leave_pending};
use crate::state::AppState;
use crate::store::payouts::PayoutRow;
use crate::{feed, ledger, store};

/// How closing one wallet went.
#[derive(Debug, Clone)]
pub(crate) enum Closed {
    /// It was empty: closed at once.
    Empty,
    /// Paid back to the card.
    PaidOut(PayoutRow),
    /// The provider has not answered yet.
    Waiting(PayoutRow),
    /// The provider refused (why): the money is back in the wallet.
    Failed(String),
    /// It cannot be closed now.
    Refused(CloseRefused),
}

/// What `may_close` judges, read with the account row locked in `tx`, and the card
/// `inkan_core::closing::payout_card` picks to pay back (its id).
async fn facts(tx: &mut Tx, account_id: &str) -> Result<(ClosingFacts, Option<String>)> {
    // The account first, as every transaction that writes it locks it first.
    let account = store::accounts::lock_for_closing(tx, account_id).await?;
    let currency: Currency = account.currency.parse().map_err(AppError::internal)?;
    let paying_out = store::payouts::pending_count(tx, account_id).await?;
    let open_charges = store::charges::open_count(tx, account_id).await?;
    let cards = store::payouts::card_facts(tx, account_id).await?;
    let card = closing::payout_card(&cards).map(|card| card.id.clone());
    let facts = ClosingFacts {
        closed: account.closed_at.is_some(),
        paying_out: paying_out > 0,
        held: account.held.is_some(),
        open_charges,
        balance: Money::new(currency, account.balance),
        card_to_pay: card.is_some(),
    };
    Ok((facts, card))
}

/// Phase 1, in `tx`: closes the wallet, and writes the pay-out of its balance if it has one.
/// `Ok(Err(refusal))` when it cannot be closed (nothing written).
async fn start(
    app: &AppState,
    tx: &mut Tx,
    account_id: &str,
    reason: PayoutReason,
) -> Result<Result<Option<PayoutRow>, CloseRefused>> {
    let now = app.clock.now();
    let (facts, card) = facts(tx, account_id).await?;
    let closing = match may_close(&facts) {
        Ok(closing) => closing,
        Err(refusal) => return Ok(Err(refusal)),
    };
    store::accounts::close(tx, account_id, now).await?;
    let amount = match closing {
        Closing::PayBack(amount) => amount,
        Closing::Empty => {
            let notice = Notice::WalletClosed {
                reason: reason.as_str().to_owned(),
                amount: 0,
                currency: facts.balance.currency().code().to_owned(),
                card_last4: None,
            };
            feed::append(tx, &app.issuer, account_id, &notice, now).await?;
            return Ok(Ok(None));
        }
    };
    // `may_close` pays back only to the card `payout_card` found.
    let card_id = card.ok_or_else(|| AppError::internal("a pay-out with no card to pay"))?;
    let id = new_id("pay", &app.rng)?;
    let new = store::payouts::NewPayout { id: &id, account_id, card_id: &card_id, amount, reason, now };
    store::payouts::insert(tx, &new).await?;
    store::accounts::add_to_balance(tx, account_id, amount.checked_neg()?).await?;
    let entries = [(ledger::wallet(account_id), amount.checked_neg()?), (ledger::FUNDING_CLEARING.to_owned(), amount)];
    ledger::post(tx, app, "payout", &id, &entries).await?;
    Ok(Ok(Some(store::payouts::by_id(tx.conn(), &id).await?)))
}

/// Closes `account_id`'s wallet and pays its balance back (phases 1 to 3).
pub(crate) async fn close(app: &AppState, account_id: &str, reason: PayoutReason) -> Result<Closed> {
    let mut tx = app.db.begin().await?;
    let started = start(app, &mut tx, account_id, reason).await?;
    finish(app, tx, started).await
}

/// Commits phase 1 (or rolls back a refusal), then asks the provider.
async fn finish(app: &AppState, tx: Tx, started: Result<Option<PayoutRow>, CloseRefused>) -> Result<Closed> {
    match started {
        Err(refusal) => {
            tx.rollback().await?;
            Ok(Closed::Refused(refusal))
        }
        Ok(None) => {
            tx.commit(&app.hub).await?;
            Ok(Closed::Empty)
        }
        Ok(Some(payout)) => {
            tx.commit(&app.hub).await?;
            Ok(pay(app, payout).await)
        }
    }
}

/// Phases 2 and 3: the provider pays the card; its answer settles the pay-out. What cannot be
/// settled now stays pending for the reconciler.
async fn pay(app: &AppState, payout: PayoutRow) -> Closed {
    let settled = match app.funding.pay_out(&payout.token, payout.amount, &payout.id) {
        Ok(provider_ref) => paid(app, &payout, &provider_ref).await,
        Err(e) if e.is_refusal() => failed(app, &payout, &e.to_string()).await,
        Err(e) => {
            tracing::warn!(payout = %payout.id, error = %e, "no answer from the funding provider; the pay-out waits for the reconciler");
            return Closed::Waiting(payout);
        }
    };
    settled.unwrap_or_else(|e| {
        tracing::warn!(payout = %payout.id, code = ?e.code, "settling a pay-out failed; the reconciler will");
        Closed::Waiting(payout)
    })
}

/// The card was paid: the pay-out succeeds, and the shopper is told.
async fn paid(app: &AppState, payout: &PayoutRow, provider_ref: &str) -> Result<Closed> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    store::accounts::lock(&mut tx, &payout.account_id).await?;
    if !leave_pending(&mut tx, Movement::Payout, &payout.id, Ended::Succeeded { provider_ref }, now).await? {
        tx.rollback().await?;
        return settled_elsewhere(app, payout).await;
    }
    let notice = Notice::WalletClosed {
        reason: payout.reason.as_str().to_owned(),
        amount: payout.amount.minor(),
        currency: payout.amount.currency().code().to_owned(),
        card_last4: Some(payout.last4.clone()),
    };
    feed::append(&mut tx, &app.issuer, &payout.account_id, &notice, now).await?;
    tx.commit(&app.hub).await?;
    tracing::info!(payout = %payout.id, amount = payout.amount.minor(), "paid back to the card");
    Ok(Closed::PaidOut(payout.clone()))
}

/// Nothing was paid: the money goes back to the wallet, which stays frozen but is no longer
/// closed, and the shopper is told why.
async fn failed(app: &AppState, payout: &PayoutRow, reason: &str) -> Result<Closed> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    store::accounts::reopen_with(&mut tx, &payout.account_id, payout.amount).await?;
    if !leave_pending(&mut tx, Movement::Payout, &payout.id, Ended::Failed { reason }, now).await? {
        tx.rollback().await?;
        return settled_elsewhere(app, payout).await;
    }
    let back = [
        (ledger::FUNDING_CLEARING.to_owned(), payout.amount.checked_neg()?),
        (ledger::wallet(&payout.account_id), payout.amount),
    ];
    ledger::post(&mut tx, app, "payout_returned", &payout.id, &back).await?;
    let notice = Notice::PayoutFailed {
        amount: payout.amount.minor(),
        currency: payout.amount.currency().code().to_owned(),
        card_last4: payout.last4.clone(),
        reason: reason.to_owned(),
    };
    feed::append(&mut tx, &app.issuer, &payout.account_id, &notice, now).await?;
    tx.commit(&app.hub).await?;
    Ok(Closed::Failed(reason.to_owned()))
}

async fn settled_elsewhere(app: &AppState, payout: &PayoutRow) -> Result<Closed> {
    let now = store::payouts::by_id(app.db.reads(), &payout.id).await?;
    Ok(match now.status.as_str() {
        "succeeded" => Closed::PaidOut(payout.clone()),
        "failed" => Closed::Failed(now.failure.unwrap_or_default()),
        _ => Closed::Waiting(payout.clone()),
    })
}

/// How many pending pay-outs one run of [`reconcile`] looks at.
const RECONCILE_BATCH: i64 = 500;

/// Settles every pay-out still `pending` by what the provider knows of it. `(paid, failed, waiting)`.
pub async fn reconcile(app: &AppState) -> Result<(u64, u64, u64)> {
    let mut done = (0, 0, 0);
    for payout in store::payouts::pending(app.db.reads(), RECONCILE_BATCH).await? {
        let looked = match app.funding.lookup(&payout.id) {
            Ok(looked) => looked,
            Err(FundingError::Unavailable) => {
                done.2 += 1;
                continue;
            }
            Err(e) => {
                // One pay-out that cannot be looked up never holds the others back.
                tracing::warn!(payout = %payout.id, error = %e, "a pending pay-out could not be looked up; asked again later");
                done.2 += 1;
                continue;
            }
        };
        let id = payout.id.clone();
        let outcome = match settle_payout(&looked.record, payout.amount, payout.created_at, app.clock.now()) {
            // Decided, its money out of the wallet, never received (the server stopped first).
            PayoutSettlement::Send => Ok(pay(app, payout).await),
            PayoutSettlement::Settle(Settlement::Credit) => {
                paid(app, &payout, &looked.provider_ref.unwrap_or_default()).await
            }
            PayoutSettlement::Settle(Settlement::Fail) if looked.record == ProviderRecord::NotFound => {
                failed(app, &payout, "the card provider never received the pay-out").await
            }
            PayoutSettlement::Settle(Settlement::Fail) => {
                failed(app, &payout, &FundingError::Declined.to_string()).await
            }
            PayoutSettlement::Settle(Settlement::Wait | Settlement::Mismatch { .. }) => Ok(Closed::Waiting(payout)),
        };
        match outcome {
            Ok(Closed::PaidOut(_)) => done.0 += 1,
            Ok(Closed::Failed(..)) => done.1 += 1,
            Ok(_) => done.2 += 1,
            Err(e) => {
                tracing::warn!(payout = %id, code = ?e.code, "a pending pay-out could not be settled; asked again later");
                done.2 += 1;
            }
        }
    }
    Ok(done)
}

fn view(payout: &PayoutRow, status: PayoutStatus) -> Payout {
    Payout { id: payout.id.clone(), status, amount: payout.amount, card_last4: payout.last4.clone() }
}

/// The pay-out a closed (or closing) wallet already has, with its status: what closing it again
/// answers.
async fn existing(app: &AppState, account_id: &str) -> Result<Option<(PayoutRow, PayoutStatus)>> {
    let Some(payout) = store::payouts::latest_not_failed(app.db.reads(), account_id).await? else { return Ok(None) };
    let status = if payout.status == "succeeded" { PayoutStatus::Succeeded } else { PayoutStatus::Pending };
    Ok(Some((payout, status)))
}

/// What closing the wallet from its own device answers: its pay-out, if its balance had one, and
/// whether the provider's answer is still awaited (`202`).
#[derive(Debug)]
pub(crate) struct ClosedOwn {
    pub answer: ClosedWallet,
    pub waiting: bool,
}

/// The shopper closes their wallet, with a `close_wallet` step-up: closed for good and its balance
/// paid back to the card (phases 1 to 3). Closing it again answers with the pay-out already made.
pub(crate) async fn close_own(
    app: &AppState,
    auth: &SessionAuth,
    client: &Client,
    body: &CloseWallet,
) -> Result<ClosedOwn> {
    let answer = |payout: Option<(&PayoutRow, PayoutStatus)>, waiting| ClosedOwn {
        answer: ClosedWallet { payout: payout.map(|(p, s)| view(p, s)) },
        waiting,
    };
    let mut tx = app.db.begin().await?;
    // The account is locked before the passkey, as everywhere (`db`: the lock order).
    let (facts, _) = facts(&mut tx, &auth.account_id).await?;
    if facts.closed || facts.paying_out {
        tx.rollback().await?;
        let found = existing(app, &auth.account_id).await?;
        let waiting = matches!(found, Some((_, PayoutStatus::Pending)));
        return Ok(answer(found.as_ref().map(|(p, s)| (p, *s)), waiting));
    }
    require_step_up(app, &mut tx, auth, client, StepUpAction::CloseWallet, Some(&body.step_up)).await?;
    let started = start(app, &mut tx, &auth.account_id, PayoutReason::Closed).await?;
    match finish(app, tx, started).await? {
        Closed::Empty => Ok(answer(None, false)),
        Closed::PaidOut(p) => Ok(answer(Some((&p, PayoutStatus::Succeeded)), false)),
        Closed::Waiting(p) => Ok(answer(Some((&p, PayoutStatus::Pending)), true)),
        Closed::Failed(reason) => Err(AppError::new(
            StatusCode::PAYMENT_REQUIRED,
            inkan_api::ErrorCode::CardDeclined,
            format!("the card could not be paid ({reason}); the money is in your wallet again: add another card"),
        )),
        Closed::Refused(refusal) => Err(AppError::invalid_state(refusal.to_string())),
    }
}
