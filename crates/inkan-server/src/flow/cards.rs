//! The wallet's cards, verified through the funding provider (3-D Secure in production), which
//! holds the card number. A card try is reserved before the provider is asked and counted as
//! failed until it answers (`inkan_core::attempts`), against the number, the wallet, the device
//! and the address; one card verified in as many other wallets as `card_sharing` allows is
//! declined and flagged for the operator. The SQL is the store's (`store::cards`).

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::wallet::{AddCard, Card, CardStatus, VerifyCard};
use inkan_core::attempts::{Secret, Standing};

use crate::auth::SessionAuth;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::origin::{Client, Guarded};
use crate::provider::{FundingError, Registration};
use crate::ratelimit::Flow;
use crate::secrets::new_id;
use crate::state::AppState;
use crate::store::cards::CardRow;
use crate::{attempts, audit, feed, store, switches, tries};

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
    let elsewhere = store::cards::verified_elsewhere(app.db.reads(), fingerprint, account_id).await?;
    Ok(app.settings.card_sharing.admits(elsewhere))
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
    store::cards::block(&mut tx, id, card).await?;
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
    store::cards::insert_attempt(&mut tx, &id, account_id, number_key, app.clock.now()).await?;
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

fn card_of(row: &CardRow) -> Card {
    Card { id: row.id.clone(), brand: row.brand.clone(), last4: row.last4.clone(), status: status_from(&row.status) }
}

/// The wallet's cards, oldest first.
pub(crate) async fn list(app: &AppState, account_id: &str) -> Result<Vec<Card>> {
    Ok(store::cards::of_account(app.db.reads(), account_id).await?.iter().map(card_of).collect())
}

/// The last four digits of a card number as typed, for a notice of its failure.
fn last4_of(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(4)..].iter().collect()
}

/// A new card: one try reserved, the number sent to the provider (never stored), and the card
/// `verified` or `challenge_required`; or the try counted as failed, with a notice.
pub(crate) async fn add(app: &AppState, auth: &SessionAuth, client: &Client, body: &AddCard) -> Result<Card> {
    client.admit_for(app, &auth.account_id, Guarded::Card)?;
    client.limit(app, Flow::Card, Some(&auth.account_id))?;
    if body.number.len() > 32 || body.cvc.len() > 8 {
        return Err(AppError::invalid("the card details are not valid"));
    }
    switches::ensure_allowed(app, Service::TopUps, &auth.account_id).await?;
    let number_key = tries::card_number_key(&app.issuer, &body.number);
    let counters = card_tries(&number_key, auth, client);
    let (id, if_failed) = reserve_registration(app, &auth.account_id, &number_key, &counters).await?;
    let registered = app.funding.register(&body.number, body.exp_month, body.exp_year, &body.cvc, app.clock.now());
    let registration = match registered {
        Ok(r) => r,
        Err(e) => {
            return Err(registration_failed(app, &auth.account_id, &id, &last4_of(&body.number), if_failed, e).await?);
        }
    };
    let card = (registration.brand.as_str(), registration.last4.as_str(), registration.fingerprint.as_str());
    if !shareable(app, &registration.fingerprint, &auth.account_id).await? {
        return Err(refuse_shared(app, &auth.account_id, &id, card, if_failed).await?);
    }
    let status = if registration.challenge_required { "challenge_required" } else { "verified" };
    let mut tx = app.db.begin().await?;
    // The reserved attempt becomes the card, and no longer counts as a failure.
    if !store::cards::register(&mut tx, &id, &registration.token, card, status).await? {
        return Err(AppError::internal(format!("card attempt {id} vanished")));
    }
    attempts::take_back(&mut tx, &counters).await?;
    feed::append(&mut tx, &app.issuer, &auth.account_id, &added(&id, &registration), app.clock.now()).await?;
    tx.commit(&app.hub).await?;
    Ok(Card { id, brand: registration.brand, last4: registration.last4, status: status_from(status) })
}

fn added(id: &str, registration: &Registration) -> Notice {
    Notice::CardAdded {
        card_id: id.to_owned(),
        brand: registration.brand.clone(),
        last4: registration.last4.clone(),
        verified: !registration.challenge_required,
    }
}

/// The provider refused the registration attempt `id`: the reserved try stays counted (it
/// failed), and the wallet hears of it; unless the provider was unavailable, which is no try.
async fn registration_failed(
    app: &AppState,
    account_id: &str,
    id: &str,
    last4: &str,
    if_failed: Standing,
    e: FundingError,
) -> Result<AppError> {
    let mut tx = app.db.begin().await?;
    store::cards::fail_attempt(&mut tx, id, last4).await?;
    let refusal = if matches!(e, FundingError::Unavailable) {
        card_error(e)
    } else {
        note_failure(&mut tx, app, account_id, last4, if_failed, card_error(e)).await?
    };
    tx.commit(&app.hub).await?;
    Ok(refusal)
}

/// The answer to a card's challenge: one try reserved, the code sent to the provider, and the
/// card verified; or the try counted as failed, with a notice.
pub(crate) async fn verify(
    app: &AppState,
    auth: &SessionAuth,
    client: &Client,
    id: &str,
    body: &VerifyCard,
) -> Result<Card> {
    client.admit_for(app, &auth.account_id, Guarded::Card)?;
    client.limit(app, Flow::Card, Some(&auth.account_id))?;
    if body.code.len() > 16 || id.len() > 64 {
        return Err(AppError::invalid("malformed verification code"));
    }
    switches::ensure_allowed(app, Service::TopUps, &auth.account_id).await?;
    let row =
        store::cards::by_id(app.db.reads(), id, &auth.account_id).await?.ok_or_else(|| AppError::not_found("card"))?;
    if row.status != "challenge_required" {
        return Err(AppError::invalid_state("this card is not waiting for a verification code"));
    }
    let counters = card_tries(&row.number_key, auth, client);
    let mut tx = app.db.begin().await?;
    let if_failed = match reserve_counters(app, &mut tx, &counters).await {
        Ok(standing) => standing,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    tx.commit(&app.hub).await?;
    if let Err(e) = app.funding.verify(&row.provider_token, &body.code) {
        return Err(challenge_failed(app, &auth.account_id, &row, if_failed, e).await?);
    }
    if !shareable(app, &row.fingerprint, &auth.account_id).await? {
        let card = (row.brand.as_str(), row.last4.as_str(), row.fingerprint.as_str());
        return Err(refuse_shared(app, &auth.account_id, id, card, if_failed).await?);
    }
    // The right code is never a failure, even when a parallel request with it verified the card a
    // moment ago: the try is taken back either way, and the card is verified.
    let mut tx = app.db.begin().await?;
    store::cards::mark_verified(&mut tx, id).await?;
    attempts::take_back(&mut tx, &counters).await?;
    tx.commit(&app.hub).await?;
    Ok(Card { status: CardStatus::Verified, ..card_of(&row) })
}

/// A wrong answer to the card's challenge: the reserved try stays counted (it failed), and the
/// wallet hears of it; unless the provider was unavailable.
async fn challenge_failed(
    app: &AppState,
    account_id: &str,
    row: &CardRow,
    if_failed: Standing,
    e: FundingError,
) -> Result<AppError> {
    if matches!(e, FundingError::Unavailable) {
        return Ok(card_error(e));
    }
    let mut tx = app.db.begin().await?;
    let refusal = note_failure(&mut tx, app, account_id, &row.last4, if_failed, card_error(e)).await?;
    tx.commit(&app.hub).await?;
    Ok(refusal)
}
