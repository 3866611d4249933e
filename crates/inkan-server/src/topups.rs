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

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::wallet::{TopUp, TopUpResult, TopUpStatus as Answer};
use inkan_core::topup::{ProviderRecord, Settlement, TopUpStatus, check_amount, may_collect, settle};
use inkan_core::{Currency, Money};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::auth::SessionAuth;
use crate::clock::{from_ms, to_ms};
use crate::error::{AppError, Json, Result};
use crate::flow::cards::card_error;
use crate::origin::{Client, Guarded};
use crate::provider::FundingError;
use crate::secrets::new_id;
use crate::settlement::{Ended, Movement, leave_pending};
use crate::state::AppState;
use crate::{feed, idempotency, ledger, switches};

/// A top-up as written, with what settling it needs of its card.
#[derive(Debug, Clone)]
struct Written {
    id: String,
    account_id: String,
    amount: Money,
    status: TopUpStatus,
    failure: Option<String>,
    request_hash: Option<String>,
    created_at: time::OffsetDateTime,
    token: String,
    last4: String,
}

const WRITTEN: &str = "SELECT t.id, t.account_id, t.amount, t.currency, t.status, t.failure, t.request_hash, t.created_at, \
                       c.provider_token, c.last4 FROM topups t JOIN cards c ON c.id = t.card_id";

fn written(row: &AnyRow) -> Result<Written> {
    let currency: String = row.try_get("currency")?;
    let currency = currency.parse::<Currency>().map_err(AppError::internal)?;
    let status: String = row.try_get("status")?;
    Ok(Written {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        amount: Money::new(currency, row.try_get("amount")?),
        status: TopUpStatus::parse(&status).ok_or_else(|| AppError::internal(format!("top-up status {status}")))?,
        failure: row.try_get("failure")?,
        request_hash: row.try_get("request_hash")?,
        created_at: from_ms(row.try_get("created_at")?),
        token: row.try_get("provider_token")?,
        last4: row.try_get("last4")?,
    })
}

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

/// Top up from a card
///
/// Collects the amount from a verified card and credits the wallet, in two phases: the top-up
/// is recorded before the card provider is asked (with the top-up's id as the provider's
/// idempotency key), and settled by its answer. When the answer does not come back, the
/// answer is `202` with `status: pending`: the server asks the provider until it knows, and
/// the feed says how it ended (`top_up_succeeded` or `top_up_failed`). A retry with the same
/// `Idempotency-Key` and body answers with the same top-up and charges the card at most once;
/// with another body, `409 idempotency_conflict`.
#[utoipa::path(
    post,
    path = "/v1/wallet/topups",
    operation_id = "top_up",
    tag = "wallet",
    security(("session" = [])),
    params(
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
         description = "The wallet's retry key for this top-up (one per wallet): 1 to 255 printable ASCII characters, no spaces. Required."),
    ),
    request_body = inkan_api::wallet::TopUp,
    responses(
        (status = 201, description = "The top-up, credited (`status: succeeded`), and the new balance; also the answer to a retry.", body = inkan_api::wallet::TopUpResult),
        (status = 202, description = "The top-up, waiting for the card provider's answer (`status: pending`): it is credited if the card was charged, and the feed says so; the balance does not include it yet.", body = inkan_api::wallet::TopUpResult),
        (status = 400, description = "`invalid_request`: missing or malformed `Idempotency-Key`, an amount outside the top-up range, a currency the wallet does not hold, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 402, description = "`card_declined`: the provider refused the payment (nothing was taken); also the answer to a retry of it.", body = inkan_api::ErrorBody),
        (status = 403, description = "`top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such card of this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the card is not verified. `idempotency_conflict`: the key was used with a different body.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn top_up(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    headers: HeaderMap,
    Json(body): Json<TopUp>,
) -> Result<(StatusCode, Json<TopUpResult>)> {
    client.admit_for(&app, &auth.account_id, Guarded::TopUp)?;
    let key = idempotency::key(&headers)?;
    let request_hash = idempotency::request_hash(&body)?;
    if let Some(found) = by_key(&app, &auth.account_id, &key).await? {
        return retried(&app, found, &request_hash).await;
    }
    // Checked before the card is charged; once it is, the money is credited whatever happens.
    switches::ensure_allowed(&app, Service::TopUps, &auth.account_id).await?;
    let (currency, closed) = wallet_currency(&app, &auth.account_id).await?;
    if closed {
        return Err(AppError::invalid_state("this wallet is closed"));
    }
    check_amount(body.amount, currency).map_err(|e| AppError::invalid(e.to_string()))?;
    let card = sqlx::query("SELECT status FROM cards WHERE id = $1 AND account_id = $2")
        .bind(&body.card_id)
        .bind(&auth.account_id)
        .fetch_optional(app.db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("card"))?;
    if card.try_get::<String, _>("status")? != "verified" {
        return Err(AppError::invalid_state("this card is not verified"));
    }
    let Some(topup) = write_pending(&app, &auth.account_id, &body, &key, &request_hash).await? else {
        // A request with the same key wrote its top-up a moment before ours could.
        let found =
            by_key(&app, &auth.account_id, &key).await?.ok_or_else(|| AppError::internal("top-up key vanished"))?;
        return retried(&app, found, &request_hash).await;
    };
    let outcome = collect(&app, &topup).await;
    answer(&app, &topup, outcome).await
}

/// Answers a request whose key was used before: the same top-up, settled first if the provider
/// may still be asked.
async fn retried(app: &AppState, found: Written, request_hash: &str) -> Result<(StatusCode, Json<TopUpResult>)> {
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

async fn answer(app: &AppState, topup: &Written, outcome: Outcome) -> Result<(StatusCode, Json<TopUpResult>)> {
    let (status, code) = match outcome {
        Outcome::Succeeded => (Answer::Succeeded, StatusCode::CREATED),
        Outcome::Pending | Outcome::Mismatched => (Answer::Pending, StatusCode::ACCEPTED),
        Outcome::Failed(reason) => {
            return Err(AppError::new(StatusCode::PAYMENT_REQUIRED, inkan_api::ErrorCode::CardDeclined, reason));
        }
    };
    let balance: i64 = sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1")
        .bind(&topup.account_id)
        .fetch_one(app.db.pool())
        .await?;
    let result = TopUpResult {
        id: topup.id.clone(),
        status,
        amount: topup.amount,
        balance: Money::new(topup.amount.currency(), balance),
    };
    Ok((code, Json(result)))
}

/// The wallet's currency, and whether it is closed.
async fn wallet_currency(app: &AppState, account_id: &str) -> Result<(Currency, bool)> {
    let (code, closed_at): (String, Option<i64>) =
        sqlx::query_as("SELECT currency, closed_at FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_one(app.db.pool())
            .await?;
    Ok((code.parse::<Currency>().map_err(AppError::internal)?, closed_at.is_some()))
}

async fn by_key(app: &AppState, account_id: &str, key: &str) -> Result<Option<Written>> {
    let row = sqlx::query(&format!("{WRITTEN} WHERE t.account_id = $1 AND t.idempotency_key = $2"))
        .bind(account_id)
        .bind(key)
        .fetch_optional(app.db.pool())
        .await?;
    row.as_ref().map(written).transpose()
}

/// Phase 1: the top-up, `pending`, made durable before the provider hears of it. `None` when a
/// request with the same key wrote one first.
async fn write_pending(
    app: &AppState,
    account_id: &str,
    body: &TopUp,
    key: &str,
    request_hash: &str,
) -> Result<Option<Written>> {
    let id = new_id("top", &app.rng)?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    // A racing request with the same key meets the unique index; on SQLite, where writes take
    // turns, it sees the row first.
    let inserted = sqlx::query(
        "INSERT INTO topups (id, account_id, card_id, amount, currency, provider_ref, created_at, status, \
         idempotency_key, request_hash) VALUES ($1, $2, $3, $4, $5, '', $6, 'pending', $7, $8) \
         ON CONFLICT (account_id, idempotency_key) DO NOTHING",
    )
    .bind(&id)
    .bind(account_id)
    .bind(&body.card_id)
    .bind(body.amount.minor())
    .bind(body.amount.currency().code())
    .bind(to_ms(now))
    .bind(key)
    .bind(request_hash)
    .execute(tx.conn())
    .await?;
    if inserted.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    let row = sqlx::query(&format!("{WRITTEN} WHERE t.id = $1")).bind(&id).fetch_one(tx.conn()).await?;
    let topup = written(&row)?;
    tx.commit(&app.hub).await?;
    Ok(Some(topup))
}

/// Phase 2 and 3: asks the provider to collect, and settles the top-up by its answer. What cannot
/// be settled now (no answer, or the settling transaction failed) stays pending for the reconciler.
async fn collect(app: &AppState, topup: &Written) -> Outcome {
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
async fn credit(app: &AppState, topup: &Written, provider_ref: &str) -> Result<Outcome> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    // The account first, as every transaction that writes it locks it first.
    let balance =
        sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2 AND currency = $3 RETURNING balance")
            .bind(topup.amount.minor())
            .bind(&topup.account_id)
            .bind(topup.amount.currency().code())
            .fetch_optional(tx.conn())
            .await?;
    if balance.is_none() {
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
async fn fail(app: &AppState, topup: &Written, reason: &str) -> Result<Outcome> {
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
async fn settled_elsewhere(app: &AppState, topup: &Written) -> Result<Outcome> {
    let row = sqlx::query(&format!("{WRITTEN} WHERE t.id = $1")).bind(&topup.id).fetch_one(app.db.pool()).await?;
    let now = written(&row)?;
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
    let rows = sqlx::query(&format!("{WRITTEN} WHERE t.status = 'pending' ORDER BY t.created_at LIMIT $1"))
        .bind(RECONCILE_BATCH)
        .fetch_all(app.db.pool())
        .await?;
    let mut done = Reconciled::default();
    for row in &rows {
        let topup = written(row)?;
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
async fn reconcile_one(app: &AppState, topup: &Written) -> Result<Outcome> {
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
    let both = async { (reconcile(app).await, crate::payouts::reconcile(app).await) };
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
                match crate::payouts::reconcile(&app).await {
                    Ok((0, 0, _)) => {}
                    Ok((paid, failed, waiting)) => tracing::info!(paid, failed, waiting, "pay-outs reconciled"),
                    Err(e) => tracing::warn!(code = ?e.code, "reconciling pay-outs failed; will retry"),
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
