//! Top-ups: money taken from a verified card and credited to the wallet, in two phases that no
//! crash, timeout or lost answer can split (`inkan_core::topup`).
//!
//! 1. The top-up is written `pending` and committed, keyed by the shopper's `Idempotency-Key`.
//! 2. The provider is asked to collect, with the top-up's id as its idempotency key: asked twice,
//!    it takes the money once.
//! 3. Its answer settles the top-up in a second transaction: `succeeded` and credited (exactly
//!    once: only the move out of `pending` credits), or `failed`.
//!
//! A top-up whose answer was lost stays `pending`: the shopper gets `202`, and [`reconcile`], run
//! at start-up and every `settings.reconcile_every`, asks the provider what became of it and
//! settles it, with a notice either way. A retry with the same key answers with the same top-up
//! (settling it first if it can); with another body, `409 idempotency_conflict`.

use axum::http::StatusCode;
use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::wallet::{TopUp, TopUpResult, TopUpStatus as Answer};
use inkan_core::topup::{
    ProviderRecord, Settlement, TopUpFacts, TopUpRefused, TopUpStatus, may_collect, may_top_up, settle,
};
use inkan_core::{Currency, Money};

use crate::error::{AppError, Result};
use crate::flow::cards::card_error;
use crate::provider::FundingError;
use crate::secrets::new_ordered_id;
use crate::settlement::{Ended, Movement, leave_pending};
use crate::state::AppState;
use crate::store::topups::TopUpRow;
use crate::{feed, idempotency, ledger, store, switches};

/// How a top-up ended up, once the request is done with it.
#[derive(Debug)]
enum Outcome {
    Succeeded,
    /// The provider's answer is not known yet; the reconciler will settle it.
    Pending,
    Failed(String),
    /// The provider took another amount than the top-up's: never credited on a guess; it stays
    /// pending, for the operator.
    Mismatched,
}

/// How a top-up request is answered: the top-up and the wallet's balance, and whether it is
/// still waiting for the provider's answer (`202`) rather than credited (`201`).
#[derive(Debug)]
pub(crate) struct Answered {
    pub result: TopUpResult,
    pub waiting: bool,
}

/// The wallet's top-up of `body.amount` from its card `body.card_id`, under its idempotency `key`
/// (`request_hash`: the body's): a key used before answers with its top-up, settled first if the
/// provider may still be asked; a new one is written `pending` before the provider is asked to
/// collect, and settled by its answer.
pub(crate) async fn top_up(
    app: &AppState,
    account_id: &str,
    key: &str,
    request_hash: &str,
    body: &TopUp,
) -> Result<Answered> {
    let pool = app.db.reads();
    if let Some(found) = store::topups::by_key(pool, account_id, key).await? {
        return retried(app, found, request_hash).await;
    }
    // Checked before the card is charged; once it is, the money is credited whatever happens.
    switches::ensure_allowed(app, Service::TopUps, account_id).await?;
    let (currency, closed_at) = store::accounts::currency_and_closed(pool, account_id).await?;
    let card = store::cards::by_id(pool, &body.card_id, account_id).await?;
    let facts = TopUpFacts {
        wallet: currency.parse::<Currency>().map_err(AppError::internal)?,
        closed: closed_at.is_some(),
        card_verified: card.map(|c| c.status == "verified"),
    };
    may_top_up(body.amount, &facts).map_err(refused)?;
    let Some(topup) = write_pending(app, account_id, body, key, request_hash).await? else {
        // A request with the same key wrote its top-up a moment before ours could.
        let found = store::topups::by_key(pool, account_id, key)
            .await?
            .ok_or_else(|| AppError::internal("top-up key vanished"))?;
        return retried(app, found, request_hash).await;
    };
    let outcome = collect(app, &topup).await;
    answer(app, &topup, outcome).await
}

/// The answer to a top-up the core refused.
fn refused(refusal: TopUpRefused) -> AppError {
    match refusal {
        TopUpRefused::OutOfRange | TopUpRefused::OtherCurrency(_) => AppError::invalid(refusal.to_string()),
        TopUpRefused::NoSuchCard => AppError::not_found("card"),
        TopUpRefused::Closed | TopUpRefused::CardNotVerified => AppError::invalid_state(refusal.to_string()),
    }
}

/// Answers a request whose key was used before: the same top-up, settled first if the provider
/// may still be asked.
async fn retried(app: &AppState, found: TopUpRow, request_hash: &str) -> Result<Answered> {
    if found.request_hash.as_deref() != Some(request_hash) {
        return Err(idempotency::conflict());
    }
    let outcome = match found.status {
        TopUpStatus::Succeeded => Outcome::Succeeded,
        TopUpStatus::Failed => Outcome::Failed(found.failure.clone().unwrap_or_default()),
        TopUpStatus::Pending if may_collect(found.created_at, app.clock.now()) => collect(app, &found).await,
        TopUpStatus::Pending => reconcile_one(app, &found).await?,
    };
    answer(app, &found, outcome).await
}

async fn answer(app: &AppState, topup: &TopUpRow, outcome: Outcome) -> Result<Answered> {
    let (status, waiting) = match outcome {
        Outcome::Succeeded => (Answer::Succeeded, false),
        Outcome::Pending | Outcome::Mismatched => (Answer::Pending, true),
        Outcome::Failed(reason) => {
            return Err(AppError::new(StatusCode::PAYMENT_REQUIRED, inkan_api::ErrorCode::CardDeclined, reason));
        }
    };
    let balance = store::accounts::balance(app.db.reads(), &topup.account_id).await?;
    let result = TopUpResult {
        id: topup.id.clone(),
        status,
        amount: topup.amount,
        balance: Money::new(topup.amount.currency(), balance),
    };
    Ok(Answered { result, waiting })
}

/// Phase 1: the top-up, `pending`, made durable before the provider hears of it. `None` when a
/// request with the same key wrote one first.
async fn write_pending(
    app: &AppState,
    account_id: &str,
    body: &TopUp,
    key: &str,
    request_hash: &str,
) -> Result<Option<TopUpRow>> {
    let now = app.clock.now();
    let id = new_ordered_id("top", now, &app.rng)?;
    let new = store::topups::NewTopUp {
        id: &id,
        account_id,
        card_id: &body.card_id,
        amount: body.amount,
        idempotency_key: key,
        request_hash,
        now,
    };
    let mut tx = app.db.begin().await?;
    if !store::topups::insert_pending(&mut tx, &new).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let topup = store::topups::by_id(tx.conn(), &id).await?;
    tx.commit(&app.hub).await?;
    Ok(Some(topup))
}

/// Phase 2 and 3: asks the provider to collect, and settles the top-up by its answer. What cannot
/// be settled now (no answer, or the settling transaction failed) stays pending for the reconciler.
async fn collect(app: &AppState, topup: &TopUpRow) -> Outcome {
    let settled = match app.funding.collect(&topup.token, topup.amount, &topup.id) {
        Ok(provider_ref) => credit(app, topup, &provider_ref).await,
        Err(e) if e.is_refusal() => fail(app, topup, &e.to_string()).await,
        Err(e) => {
            tracing::warn!(topup = %topup.id, error = %e, "no answer from the funding provider; the top-up waits for the reconciler");
            return Outcome::Pending;
        }
    };
    settled.unwrap_or_else(|e| {
        tracing::warn!(topup = %topup.id, code = ?e.code, "settling a top-up failed; the reconciler will");
        Outcome::Pending
    })
}

/// The provider took the money: the top-up succeeds and the wallet is credited, once. Whoever
/// moves it out of `pending` first credits it; anyone else finds it settled.
async fn credit(app: &AppState, topup: &TopUpRow, provider_ref: &str) -> Result<Outcome> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    // The account first, as every transaction that writes it locks it first.
    if !store::accounts::credit(&mut tx, &topup.account_id, topup.amount).await? {
        return Err(AppError::internal(format!("top-up {}: the wallet holds another currency", topup.id)));
    }
    if !leave_pending(&mut tx, Movement::TopUp, &topup.id, Ended::Succeeded { provider_ref }, now).await? {
        tx.rollback().await?;
        return settled_elsewhere(app, topup).await;
    }
    let wallet = ledger::wallet(&topup.account_id);
    let entries = [(ledger::FUNDING_CLEARING.to_owned(), topup.amount.checked_neg()?), (wallet, topup.amount)];
    ledger::post(&mut tx, app, "top_up", &topup.id, &entries).await?;
    let notice = Notice::TopUpSucceeded {
        topup_id: topup.id.clone(),
        amount: topup.amount.minor(),
        currency: topup.amount.currency().code().to_owned(),
        card_last4: topup.last4.clone(),
    };
    feed::append(&mut tx, &app.issuer, &topup.account_id, &notice, now).await?;
    tx.commit(&app.hub).await?;
    tracing::info!(topup = %topup.id, amount = topup.amount.minor(), "top-up credited");
    Ok(Outcome::Succeeded)
}

/// Nothing was taken: the top-up fails, and the wallet's devices are told why.
async fn fail(app: &AppState, topup: &TopUpRow, reason: &str) -> Result<Outcome> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if !leave_pending(&mut tx, Movement::TopUp, &topup.id, Ended::Failed { reason }, now).await? {
        tx.rollback().await?;
        return settled_elsewhere(app, topup).await;
    }
    let notice = Notice::TopUpFailed {
        amount: topup.amount.minor(),
        currency: topup.amount.currency().code().to_owned(),
        card_last4: topup.last4.clone(),
        reason: reason.to_owned(),
    };
    feed::append(&mut tx, &app.issuer, &topup.account_id, &notice, now).await?;
    tx.commit(&app.hub).await?;
    Ok(Outcome::Failed(reason.to_owned()))
}

/// How a top-up someone else settled first ended.
async fn settled_elsewhere(app: &AppState, topup: &TopUpRow) -> Result<Outcome> {
    let now = store::topups::by_id(app.db.reads(), &topup.id).await?;
    Ok(match now.status {
        TopUpStatus::Succeeded => Outcome::Succeeded,
        TopUpStatus::Failed => Outcome::Failed(now.failure.unwrap_or_default()),
        TopUpStatus::Pending => Outcome::Pending,
    })
}

/// What one run of [`reconcile`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub credited: u64,
    pub failed: u64,
    /// Still pending: the provider may not have received them yet.
    pub waiting: u64,
    /// The provider took another amount than the top-up's: left pending, for the operator.
    pub mismatched: u64,
}

/// How many pending top-ups one run of [`reconcile`] looks at.
const RECONCILE_BATCH: i64 = 500;

/// Asks the provider about every top-up still `pending` (oldest first) and settles each as
/// `inkan_core::topup::settle` decides: credited, failed, or left to wait.
pub async fn reconcile(app: &AppState) -> Result<Reconciled> {
    let mut done = Reconciled::default();
    for topup in store::topups::pending(app.db.reads(), RECONCILE_BATCH).await? {
        match reconcile_one(app, &topup).await {
            Ok(Outcome::Succeeded) => done.credited += 1,
            Ok(Outcome::Failed(_)) => done.failed += 1,
            Ok(Outcome::Pending) => done.waiting += 1,
            Ok(Outcome::Mismatched) => done.mismatched += 1,
            // One top-up that cannot be settled now never holds the others back.
            Err(e) => {
                tracing::warn!(topup = %topup.id, code = ?e.code, "a pending top-up could not be settled; asked again later");
                done.waiting += 1;
            }
        }
    }
    Ok(done)
}

/// Settles one pending top-up by what the provider knows of it.
async fn reconcile_one(app: &AppState, topup: &TopUpRow) -> Result<Outcome> {
    let looked = match app.funding.lookup(&topup.id) {
        Ok(looked) => looked,
        Err(FundingError::Unavailable) => return Ok(Outcome::Pending),
        Err(e) => return Err(card_error(e)),
    };
    match settle(&looked.record, topup.amount, topup.created_at, app.clock.now()) {
        Settlement::Credit => {
            let provider_ref = looked.provider_ref.unwrap_or_default();
            credit(app, topup, &provider_ref).await
        }
        Settlement::Fail if looked.record == ProviderRecord::NotFound => {
            fail(app, topup, "the card provider never received the top-up; nothing was taken").await
        }
        Settlement::Fail => fail(app, topup, &FundingError::Declined.to_string()).await,
        Settlement::Wait => Ok(Outcome::Pending),
        Settlement::Mismatch { collected } => {
            tracing::error!(topup = %topup.id, asked = %topup.amount, %collected, "the provider took another amount; left pending for the operator");
            Ok(Outcome::Mismatched)
        }
    }
}

/// How long the start-up reconciliation may hold the server back before it serves.
const AT_START_AT_MOST: std::time::Duration = std::time::Duration::from_secs(30);

/// Settles, before the server serves its first request, what a crash left pending: top-ups and
/// pay-outs. A provider that does not answer within [`AT_START_AT_MOST`] holds the start no longer;
/// the schedule goes on asking.
pub async fn reconcile_at_start(app: &AppState) {
    let both = async { (reconcile(app).await, crate::flow::payouts::reconcile(app).await) };
    match tokio::time::timeout(AT_START_AT_MOST, both).await {
        Ok((Ok(topups), Ok(payouts))) => {
            if topups != Reconciled::default() || payouts.0 + payouts.1 > 0 {
                tracing::info!(?topups, ?payouts, "reconciled at start-up");
            }
        }
        Ok((topups, payouts)) => {
            tracing::warn!(
                topups = topups.is_ok(),
                payouts = payouts.is_ok(),
                "reconciling at start-up failed; the schedule will retry"
            );
        }
        Err(_) => tracing::warn!("the card provider is slow: reconciling goes on in the background"),
    }
}

/// Reconciles top-ups and pay-outs (`payouts::reconcile`) every `settings.reconcile_every`, until
/// `shutdown` changes (the first run is [`reconcile_at_start`]'s).
pub async fn reconciler(app: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let every = app.settings.reconcile_every;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match reconcile(&app).await {
                    Ok(done) if done != Reconciled::default() => tracing::info!(?done, "top-ups reconciled"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(code = ?e.code, "reconciling top-ups failed; will retry"),
                }
                match crate::flow::payouts::reconcile(&app).await {
                    Ok((0, 0, _)) => {}
                    Ok((paid, failed, waiting)) => tracing::info!(paid, failed, waiting, "pay-outs reconciled"),
                    Err(e) => tracing::warn!(code = ?e.code, "reconciling pay-outs failed; will retry"),
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
