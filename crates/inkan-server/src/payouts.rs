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

use axum::extract::State;
use axum::http::StatusCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::{CloseWallet, ClosedWallet, Payout, PayoutStatus, StepUpAction};
use inkan_core::closing::{
    self, CardFacts, CloseRefused, Closing, ClosingFacts, PayoutReason, PayoutSettlement, may_close, settle_payout,
};
use inkan_core::topup::{ProviderRecord, Settlement};
use inkan_core::{Currency, Money};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::accounts::require_step_up;
use crate::auth::SessionAuth;
use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Json, Result};
use crate::origin::Client;
use crate::provider::FundingError;
use crate::secrets::new_id;
use crate::settlement::{Ended, Movement, leave_pending};
use crate::state::AppState;
use crate::{feed, ledger};

/// A pay-out as written, with what settling it needs of its card.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub account_id: String,
    pub amount: Money,
    pub reason: PayoutReason,
    pub created_at: time::OffsetDateTime,
    token: String,
    last4: String,
}

const PENDING: &str = "SELECT p.id, p.account_id, p.amount, p.currency, p.reason, p.created_at, c.provider_token, c.last4 \
                       FROM payouts p JOIN cards c ON c.id = p.card_id";

fn pending_from(row: &AnyRow) -> Result<Pending> {
    let currency: Currency = row.try_get::<String, _>("currency")?.parse().map_err(AppError::internal)?;
    let reason: String = row.try_get("reason")?;
    Ok(Pending {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        amount: Money::new(currency, row.try_get("amount")?),
        reason: PayoutReason::parse(&reason).ok_or_else(|| AppError::internal(format!("pay-out reason {reason}")))?,
        created_at: from_ms(row.try_get("created_at")?),
        token: row.try_get("provider_token")?,
        last4: row.try_get("last4")?,
    })
}

/// How closing one wallet went.
#[derive(Debug, Clone)]
pub enum Closed {
    /// It was empty: closed at once.
    Empty,
    /// Paid back to the card.
    PaidOut(Pending),
    /// The provider has not answered yet.
    Waiting(Pending),
    /// The provider refused (why): the money is back in the wallet.
    Failed(String),
    /// It cannot be closed now.
    Refused(CloseRefused),
}

/// What `may_close` judges, read with the account row locked in `tx`.
async fn facts(tx: &mut Tx, account_id: &str) -> Result<(ClosingFacts, Option<String>)> {
    // The account first, as every transaction that writes it locks it first.
    let account =
        sqlx::query("UPDATE accounts SET balance = balance WHERE id = $1 RETURNING balance, currency, held, closed_at")
            .bind(account_id)
            .fetch_one(tx.conn())
            .await?;
    let currency: Currency = account.try_get::<String, _>("currency")?.parse().map_err(AppError::internal)?;
    let paying_out: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM payouts WHERE account_id = $1 AND status = 'pending'")
            .bind(account_id)
            .fetch_one(tx.conn())
            .await?;
    let open: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM charges WHERE account_id = $1 AND status IN ({})",
        crate::charge_sql::open()
    ))
    .bind(account_id)
    .fetch_one(tx.conn())
    .await?;
    let card = payout_card(tx, account_id).await?;
    let facts = ClosingFacts {
        closed: account.try_get::<Option<i64>, _>("closed_at")?.is_some(),
        paying_out: paying_out > 0,
        held: account.try_get::<Option<String>, _>("held")?.is_some(),
        open_charges: u32::try_from(open).unwrap_or(u32::MAX),
        balance: Money::new(currency, account.try_get("balance")?),
        card_to_pay: card.is_some(),
    };
    Ok((facts, card))
}

/// The card the balance goes back to, as `inkan_core::closing::payout_card` picks it from the
/// wallet's cards: its id.
async fn payout_card(tx: &mut Tx, account_id: &str) -> Result<Option<String>> {
    let rows = sqlx::query(
        "SELECT c.id, c.status, c.created_at, \
           (SELECT COUNT(*) FROM topups t WHERE t.card_id = c.id AND t.status = 'succeeded') AS funded, \
           (SELECT COUNT(*) FROM payouts p WHERE p.card_id = c.id AND p.status = 'failed') AS refused \
         FROM cards c WHERE c.account_id = $1",
    )
    .bind(account_id)
    .fetch_all(tx.conn())
    .await?;
    let cards = rows
        .iter()
        .map(|row| {
            Ok(CardFacts {
                id: row.try_get::<String, _>("id")?,
                added_at: from_ms(row.try_get("created_at")?),
                verified: row.try_get::<String, _>("status")? == "verified",
                funded: row.try_get::<i64, _>("funded")? > 0,
                refused_payout: row.try_get::<i64, _>("refused")? > 0,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(closing::payout_card(&cards).map(|card| card.id.clone()))
}

/// Phase 1, in `tx`: closes the wallet, and writes the pay-out of its balance if it has one.
/// `Ok(Err(refusal))` when it cannot be closed (nothing written).
async fn start(
    app: &AppState,
    tx: &mut Tx,
    account_id: &str,
    reason: PayoutReason,
) -> Result<Result<Option<Pending>, CloseRefused>> {
    let now = app.clock.now();
    let (facts, card) = facts(tx, account_id).await?;
    let closing = match may_close(&facts) {
        Ok(closing) => closing,
        Err(refusal) => return Ok(Err(refusal)),
    };
    sqlx::query("UPDATE accounts SET frozen = 1, closed_at = $1 WHERE id = $2")
        .bind(to_ms(now))
        .bind(account_id)
        .execute(tx.conn())
        .await?;
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
    sqlx::query(
        "INSERT INTO payouts (id, account_id, card_id, amount, currency, reason, status, provider_ref, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', '', $7)",
    )
    .bind(&id)
    .bind(account_id)
    .bind(&card_id)
    .bind(amount.minor())
    .bind(amount.currency().code())
    .bind(reason.as_str())
    .bind(to_ms(now))
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE accounts SET balance = balance - $1 WHERE id = $2")
        .bind(amount.minor())
        .bind(account_id)
        .execute(tx.conn())
        .await?;
    let entries = [(ledger::wallet(account_id), amount.checked_neg()?), (ledger::FUNDING_CLEARING.to_owned(), amount)];
    ledger::post(tx, app, "payout", &id, &entries).await?;
    let row = sqlx::query(&format!("{PENDING} WHERE p.id = $1")).bind(&id).fetch_one(tx.conn()).await?;
    Ok(Ok(Some(pending_from(&row)?)))
}

/// Closes `account_id`'s wallet and pays its balance back (phases 1 to 3).
pub async fn close(app: &AppState, account_id: &str, reason: PayoutReason) -> Result<Closed> {
    let mut tx = app.db.begin().await?;
    let started = start(app, &mut tx, account_id, reason).await?;
    finish(app, tx, started).await
}

/// Commits phase 1 (or rolls back a refusal), then asks the provider.
async fn finish(app: &AppState, tx: Tx, started: Result<Option<Pending>, CloseRefused>) -> Result<Closed> {
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
async fn pay(app: &AppState, payout: Pending) -> Closed {
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
async fn paid(app: &AppState, payout: &Pending, provider_ref: &str) -> Result<Closed> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    sqlx::query("UPDATE accounts SET balance = balance WHERE id = $1")
        .bind(&payout.account_id)
        .execute(tx.conn())
        .await?;
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
async fn failed(app: &AppState, payout: &Pending, reason: &str) -> Result<Closed> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    sqlx::query("UPDATE accounts SET balance = balance + $1, closed_at = NULL WHERE id = $2")
        .bind(payout.amount.minor())
        .bind(&payout.account_id)
        .execute(tx.conn())
        .await?;
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

async fn settled_elsewhere(app: &AppState, payout: &Pending) -> Result<Closed> {
    let row: (String, Option<String>) = sqlx::query_as("SELECT status, failure FROM payouts WHERE id = $1")
        .bind(&payout.id)
        .fetch_one(app.db.pool())
        .await?;
    Ok(match row {
        (status, _) if status == "succeeded" => Closed::PaidOut(payout.clone()),
        (status, failure) if status == "failed" => Closed::Failed(failure.unwrap_or_default()),
        _ => Closed::Waiting(payout.clone()),
    })
}

/// Settles every pay-out still `pending` by what the provider knows of it. `(paid, failed, waiting)`.
pub async fn reconcile(app: &AppState) -> Result<(u64, u64, u64)> {
    let rows = sqlx::query(&format!("{PENDING} WHERE p.status = 'pending' ORDER BY p.created_at LIMIT 500"))
        .fetch_all(app.db.pool())
        .await?;
    let mut done = (0, 0, 0);
    for row in &rows {
        let payout = pending_from(row)?;
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

fn view(payout: &Pending, status: PayoutStatus) -> Payout {
    Payout { id: payout.id.clone(), status, amount: payout.amount, card_last4: payout.last4.clone() }
}

/// The pay-out a closed (or closing) wallet already has: what closing it again answers.
async fn existing(app: &AppState, account_id: &str) -> Result<Option<(Pending, PayoutStatus)>> {
    let row = sqlx::query(&format!(
        "{PENDING} WHERE p.account_id = $1 AND p.status IN ('pending', 'succeeded') ORDER BY p.created_at DESC LIMIT 1"
    ))
    .bind(account_id)
    .fetch_optional(app.db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let status: String = sqlx::query_scalar("SELECT status FROM payouts WHERE id = $1")
        .bind(row.try_get::<String, _>("id")?)
        .fetch_one(app.db.pool())
        .await?;
    let status = if status == "succeeded" { PayoutStatus::Succeeded } else { PayoutStatus::Pending };
    Ok(Some((pending_from(&row)?, status)))
}

/// Close the wallet
///
/// With a `close_wallet` step-up: the wallet is closed for good (frozen; nothing lifts it) and
/// its balance is paid back where it came from: to the first card that topped it up and has not
/// refused a pay-out (never simply the newest card), in two phases: the pay-out is
/// recorded with the ledger movement, then the card provider pays it (with the pay-out's id as
/// its idempotency key). When the provider's answer does not come back, the answer is `202`
/// with the pay-out `pending`, and the feed says how it ended (`wallet_closed`, or
/// `payout_failed` with the money back in the wallet). Closing again answers with the same
/// pay-out.
#[utoipa::path(
    post,
    path = "/v1/wallet/close",
    operation_id = "close_wallet",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::CloseWallet,
    responses(
        (status = 200, description = "Closed: the balance paid back to the card (`payout`), or nothing to pay back (`payout: null`); also the answer to closing again.", body = inkan_api::wallet::ClosedWallet),
        (status = 202, description = "Closed, the pay-out waiting for the card provider's answer.", body = inkan_api::wallet::ClosedWallet),
        (status = 400, description = "`ceremony_expired`: the step-up is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify or is not of this session's device.", body = inkan_api::ErrorBody),
        (status = 402, description = "`card_declined`: the provider refused to pay the card; the money is in the wallet again (frozen, not closed): add another card.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action, account or device.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: payments are still open, the operator holds the account, or no card that topped the wallet up can take the balance back (add and verify a card and top up with it first).", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The wallet closed for good, confirmed with the passkey; its balance paid back to the first card
// that topped it up. Closing it again answers with the same pay-out.
pub async fn close_wallet(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<CloseWallet>,
) -> Result<(StatusCode, Json<ClosedWallet>)> {
    let mut tx = app.db.begin().await?;
    // The account is locked before the passkey, as everywhere (`db`: the lock order).
    let (facts, _) = facts(&mut tx, &auth.account_id).await?;
    if facts.closed || facts.paying_out {
        tx.rollback().await?;
        let answer = existing(&app, &auth.account_id).await?;
        let code = match answer {
            Some((_, PayoutStatus::Pending)) => StatusCode::ACCEPTED,
            _ => StatusCode::OK,
        };
        return Ok((code, Json(ClosedWallet { payout: answer.map(|(p, s)| view(&p, s)) })));
    }
    require_step_up(&app, &mut tx, &auth, &client, StepUpAction::CloseWallet, Some(&body.step_up)).await?;
    let started = start(&app, &mut tx, &auth.account_id, PayoutReason::Closed).await?;
    match finish(&app, tx, started).await? {
        Closed::Empty => Ok((StatusCode::OK, Json(ClosedWallet { payout: None }))),
        Closed::PaidOut(p) => {
            Ok((StatusCode::OK, Json(ClosedWallet { payout: Some(view(&p, PayoutStatus::Succeeded)) })))
        }
        Closed::Waiting(p) => {
            Ok((StatusCode::ACCEPTED, Json(ClosedWallet { payout: Some(view(&p, PayoutStatus::Pending)) })))
        }
        Closed::Failed(reason) => Err(AppError::new(
            StatusCode::PAYMENT_REQUIRED,
            inkan_api::ErrorCode::CardDeclined,
            format!("the card could not be paid ({reason}); the money is in your wallet again: add another card"),
        )),
        Closed::Refused(refusal) => Err(AppError::invalid_state(refusal.to_string())),
    }
}
