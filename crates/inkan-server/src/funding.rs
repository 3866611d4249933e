//! The wallet's cards, verified through the funding provider (3-D Secure in production), which
//! holds the card number. Inkan keeps only the provider's token, the brand, the
//! last four digits and a fingerprint (to spot one card across many accounts: one verified in as
//! many other wallets as `--max-accounts-per-card` allows is declined, and listed for the
//! operator by `admin flags`).
//!
//! The provider ([`crate::provider`]) is the sandbox in development and tests ([`crate::sandbox`]: its
//! test cards). Top-ups are in [`crate::topups`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::wallet::{AddCard, Card, CardStatus, VerifyCard};
use inkan_core::attempts::{Secret, Standing};
use sqlx::Row;

use crate::auth::SessionAuth;
use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::{AppError, Json, Result};
use crate::origin::{Client, Guarded};
use crate::provider::FundingError;
use crate::ratelimit::Flow;
use crate::secrets::new_id;
use crate::state::AppState;
use crate::{attempts, audit, feed, switches, tries};

pub(crate) fn card_error(e: FundingError) -> AppError {
    match e {
        FundingError::Unavailable => AppError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal, e.to_string()),
        _ => AppError::new(StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined, e.to_string()),
    }
}

/// The counters a card try counts against: the card number (its keyed hash), the wallet, the
/// device and the client address.
fn card_tries(number_key: &str, auth: &SessionAuth, client: &Client) -> [tries::Counter; 4] {
    [
        tries::Counter::card_number(number_key),
        tries::Counter::account(Secret::Card, &auth.account_id),
        tries::Counter::device(Secret::Card, &auth.device_id),
        tries::Counter::address(Secret::Card, client.address()),
    ]
}

/// Reserves one card try on each of `counters` in `tx`, or fails with `card_locked` (rolling
/// nothing back itself: the caller's transaction must not commit).
async fn reserve_counters(app: &AppState, tx: &mut Tx, counters: &[tries::Counter]) -> Result<Standing> {
    match attempts::reserve(tx, &app.settings.attempts, counters, app.clock.now()).await? {
        Ok(reserved) => Ok(reserved.if_failed),
        Err(locked) => Err(locked.refusal()),
    }
}

/// A card try failed: the wallet's devices hear of it (with a warning before the last try, and of
/// the lock), inside `tx`; the refusal says the same.
async fn note_failure(
    tx: &mut Tx,
    app: &AppState,
    account_id: &str,
    last4: &str,
    if_failed: Standing,
    refusal: AppError,
) -> Result<AppError> {
    let locked = matches!(if_failed, Standing::Locked { .. });
    let now = app.clock.now();
    let notice = Notice::CardVerificationFailed { last4: last4.to_owned(), locked };
    feed::append(tx, &app.issuer, account_id, &notice, now).await?;
    let (refusal, warning) = attempts::worded(refusal, Secret::Card, if_failed);
    if let Some(warning) = warning {
        feed::append(tx, &app.issuer, account_id, &warning, now).await?;
    }
    Ok(refusal)
}

/// Whether the card of `fingerprint` may be verified in `account_id`'s wallet: it is not yet
/// verified in as many other wallets as `settings.card_sharing` allows (`inkan_core::cards`).
async fn shareable(app: &AppState, fingerprint: &str, account_id: &str) -> Result<bool> {
    let elsewhere: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT account_id) FROM cards WHERE fingerprint = $1 AND account_id <> $2 AND status = 'verified'",
    )
    .bind(fingerprint)
    .bind(account_id)
    .fetch_one(app.db.pool())
    .await?;
    Ok(app.settings.card_sharing.admits(u32::try_from(elsewhere).unwrap_or(u32::MAX)))
}

/// Declines a card verified in other wallets: its row `id` is kept as `blocked` (what
/// `operator::card_flags` lists), its try stays counted as failed, and the wallet's devices hear
/// of it as of any declined card. The refusal does not say why: that the card is in another
/// Inkan wallet is not the thief's to learn. `card`: brand, last four digits, fingerprint.
async fn refuse_shared(
    app: &AppState,
    account_id: &str,
    id: &str,
    card: (&str, &str, &str),
    if_failed: Standing,
) -> Result<AppError> {
    let (brand, last4, fingerprint) = card;
    let mut tx = app.db.begin().await?;
    sqlx::query("UPDATE cards SET status = 'blocked', brand = $1, last4 = $2, fingerprint = $3 WHERE id = $4")
        .bind(brand)
        .bind(last4)
        .bind(fingerprint)
        .bind(id)
        .execute(tx.conn())
        .await?;
    let refusal = note_failure(&mut tx, app, account_id, last4, if_failed, card_error(FundingError::Declined)).await?;
    let subject = format!("card {brand} …{last4} (fingerprint {fingerprint})");
    let reason = format!("verified in another wallet; declined in {account_id}");
    let entry = audit::Entry { operator_id: audit::SERVER, action: "card_flagged", subject: &subject, reason: &reason };
    audit::record(tx.conn(), entry, app.clock.now()).await?;
    tx.commit(&app.hub).await?;
    tracing::warn!(account = %account_id, "a card verified in other wallets was declined; see admin flags");
    Ok(refusal)
}

/// Reserves one card registration attempt of the wallet: a `cards` row in status `attempt`, and
/// one try on `counters` (the card number, the wallet, the device, the address), counted as failed
/// until the provider has answered. Its id, and where the counters stand if it fails.
async fn reserve_registration(
    app: &AppState,
    account_id: &str,
    number_key: &str,
    counters: &[tries::Counter],
) -> Result<(String, Standing)> {
    let mut tx = app.db.begin().await?;
    let if_failed = match reserve_counters(app, &mut tx, counters).await {
        Ok(standing) => standing,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let id = new_id("card", &app.rng)?;
    sqlx::query(
        "INSERT INTO cards (id, account_id, provider_token, brand, last4, fingerprint, number_key, status, \
         failed_attempts, created_at) VALUES ($1, $2, '', '', '', '', $3, 'attempt', 0, $4)",
    )
    .bind(&id)
    .bind(account_id)
    .bind(number_key)
    .bind(to_ms(app.clock.now()))
    .execute(tx.conn())
    .await?;
    tx.commit(&app.hub).await?;
    Ok((id, if_failed))
}

fn status_from(s: &str) -> CardStatus {
    match s {
        "verified" => CardStatus::Verified,
        "challenge_required" => CardStatus::ChallengeRequired,
        "locked" => CardStatus::Locked,
        _ => CardStatus::Failed,
    }
}

/// List the cards
///
/// The wallet's cards to top up from, oldest first: brand, last four digits and status.
#[utoipa::path(
    get,
    path = "/v1/wallet/cards",
    operation_id = "list_cards",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The cards.", body = Vec<inkan_api::wallet::Card>),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The wallet's cards, oldest first.
pub async fn list_cards(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Vec<Card>>> {
    let rows = sqlx::query("SELECT id, brand, last4, status FROM cards WHERE account_id = $1 AND status <> 'attempt' ORDER BY created_at, id")
        .bind(&auth.account_id)
        .fetch_all(app.db.pool())
        .await?;
    let cards = rows
        .iter()
        .map(|row| {
            Ok(Card {
                id: row.try_get("id")?,
                brand: row.try_get("brand")?,
                last4: row.try_get("last4")?,
                status: status_from(&row.try_get::<String, _>("status")?),
            })
        })
        .collect::<Result<Vec<Card>, sqlx::Error>>()?;
    Ok(Json(cards))
}

/// Add a card
///
/// The number goes to the funding provider and is never stored. The card is `verified` at once
/// or needs a challenge (`challenge_required`: answer with `POST /v1/wallet/cards/{id}/verify`).
#[utoipa::path(
    post,
    path = "/v1/wallet/cards",
    operation_id = "add_card",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::AddCard,
    responses(
        (status = 201, description = "The card.", body = inkan_api::wallet::Card),
        (status = 400, description = "`invalid_request`: card details too long, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 402, description = "`card_declined`: the provider refused the card.", body = inkan_api::ErrorBody),
        (status = 403, description = "`card_locked`: too many failed card attempts; adding cards is locked for this wallet. `top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
        (status = 503, description = "`internal`: the funding provider is unavailable; retry later.", body = inkan_api::ErrorBody),
    )
)]
pub async fn add_card(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<AddCard>,
) -> Result<(StatusCode, Json<Card>)> {
    client.admit_for(&app, &auth.account_id, Guarded::Card)?;
    client.limit(&app, Flow::Card, Some(&auth.account_id))?;
    if body.number.len() > 32 || body.cvc.len() > 8 {
        return Err(AppError::invalid("the card details are not valid"));
    }
    switches::ensure_allowed(&app, Service::TopUps, &auth.account_id).await?;
    let number_key = tries::card_number_key(&app.issuer, &body.number);
    let counters = card_tries(&number_key, &auth, &client);
    let (id, if_failed) = reserve_registration(&app, &auth.account_id, &number_key, &counters).await?;
    let registration =
        match app.funding.register(&body.number, body.exp_month, body.exp_year, &body.cvc, app.clock.now()) {
            Ok(r) => r,
            Err(e) => {
                let tail: String = body
                    .number
                    .chars()
                    .filter(char::is_ascii_digit)
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                // The reserved attempt stays counted: it failed.
                let mut tx = app.db.begin().await?;
                sqlx::query("UPDATE cards SET status = 'failed', last4 = $1 WHERE id = $2")
                    .bind(&tail)
                    .bind(&id)
                    .execute(tx.conn())
                    .await?;
                let refusal = if matches!(e, FundingError::Unavailable) {
                    card_error(e)
                } else {
                    note_failure(&mut tx, &app, &auth.account_id, &tail, if_failed, card_error(e)).await?
                };
                tx.commit(&app.hub).await?;
                return Err(refusal);
            }
        };
    if !shareable(&app, &registration.fingerprint, &auth.account_id).await? {
        let card = (registration.brand.as_str(), registration.last4.as_str(), registration.fingerprint.as_str());
        return Err(refuse_shared(&app, &auth.account_id, &id, card, if_failed).await?);
    }
    let status = if registration.challenge_required { "challenge_required" } else { "verified" };
    let mut tx = app.db.begin().await?;
    // The reserved attempt becomes the card, and no longer counts as a failure.
    let taken = sqlx::query(
        "UPDATE cards SET provider_token = $1, brand = $2, last4 = $3, fingerprint = $4, status = $5, failed_attempts = 0 \
         WHERE id = $6 AND status = 'attempt'",
    )
    .bind(&registration.token)
    .bind(&registration.brand)
    .bind(&registration.last4)
    .bind(&registration.fingerprint)
    .bind(status)
    .bind(&id)
    .execute(tx.conn())
    .await?;
    if taken.rows_affected() != 1 {
        return Err(AppError::internal(format!("card attempt {id} vanished")));
    }
    attempts::take_back(&mut tx, &counters).await?;
    let notice = Notice::CardAdded {
        card_id: id.clone(),
        brand: registration.brand.clone(),
        last4: registration.last4.clone(),
        verified: !registration.challenge_required,
    };
    feed::append(&mut tx, &app.issuer, &auth.account_id, &notice, app.clock.now()).await?;
    tx.commit(&app.hub).await?;
    let card = Card { id, brand: registration.brand, last4: registration.last4, status: status_from(status) };
    Ok((StatusCode::CREATED, Json(card)))
}

/// Answer a card's challenge
///
/// The one-time code of the card issuer's challenge, for a card in `challenge_required`.
#[utoipa::path(
    post,
    path = "/v1/wallet/cards/{id}/verify",
    operation_id = "verify_card",
    tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, description = "The card id (`card_…`).")),
    request_body = inkan_api::wallet::VerifyCard,
    responses(
        (status = 200, description = "The card, now `verified`.", body = inkan_api::wallet::Card),
        (status = 400, description = "`invalid_request`: a malformed code or body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 402, description = "`card_declined`: the code was wrong.", body = inkan_api::ErrorBody),
        (status = 403, description = "`card_locked`: too many failed card attempts. `top_ups_suspended`: the operator has suspended top-ups and card registration. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such card of this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the card is not waiting for a code.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
        (status = 503, description = "`internal`: the funding provider is unavailable; retry later.", body = inkan_api::ErrorBody),
    )
)]
// The card's one-time code. Failures count against the card number (in every wallet it was added
// to), the wallet, the device and the address.
pub async fn verify_card(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<VerifyCard>,
) -> Result<Json<Card>> {
    client.admit_for(&app, &auth.account_id, Guarded::Card)?;
    client.limit(&app, Flow::Card, Some(&auth.account_id))?;
    if body.code.len() > 16 || id.len() > 64 {
        return Err(AppError::invalid("malformed verification code"));
    }
    switches::ensure_allowed(&app, Service::TopUps, &auth.account_id).await?;
    let row = sqlx::query(
        "SELECT provider_token, brand, last4, fingerprint, status, number_key FROM cards WHERE id = $1 AND account_id = $2",
    )
    .bind(&id)
    .bind(&auth.account_id)
    .fetch_optional(app.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("card"))?;
    if row.try_get::<String, _>("status")? != "challenge_required" {
        return Err(AppError::invalid_state("this card is not waiting for a verification code"));
    }
    let counters = card_tries(&row.try_get::<String, _>("number_key")?, &auth, &client);
    let mut tx = app.db.begin().await?;
    let if_failed = match reserve_counters(&app, &mut tx, &counters).await {
        Ok(standing) => standing,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    tx.commit(&app.hub).await?;
    let token: String = row.try_get("provider_token")?;
    if let Err(e) = app.funding.verify(&token, &body.code) {
        // The reserved try stays counted: it failed.
        if matches!(e, FundingError::Unavailable) {
            return Err(card_error(e));
        }
        let mut tx = app.db.begin().await?;
        let last4: String = row.try_get("last4")?;
        let refusal = note_failure(&mut tx, &app, &auth.account_id, &last4, if_failed, card_error(e)).await?;
        tx.commit(&app.hub).await?;
        return Err(refusal);
    }
    let fingerprint: String = row.try_get("fingerprint")?;
    if !shareable(&app, &fingerprint, &auth.account_id).await? {
        let (brand, last4): (String, String) = (row.try_get("brand")?, row.try_get("last4")?);
        return Err(refuse_shared(&app, &auth.account_id, &id, (&brand, &last4, &fingerprint), if_failed).await?);
    }
    // The right code is never a failure, even when a parallel request with it verified the card a
    // moment ago: the try is taken back either way, and the card is verified.
    let mut tx = app.db.begin().await?;
    sqlx::query("UPDATE cards SET status = 'verified' WHERE id = $1").bind(&id).execute(tx.conn()).await?;
    attempts::take_back(&mut tx, &counters).await?;
    tx.commit(&app.hub).await?;
    Ok(Json(Card { id, brand: row.try_get("brand")?, last4: row.try_get("last4")?, status: CardStatus::Verified }))
}
