//! Top-ups from cards, through a funding provider that verifies the card (3-D Secure in
//! production) and holds the card number. Inkan keeps only the provider's token, the brand, the
//! last four digits and a fingerprint (to spot one card across many accounts).
//!
//! [`SandboxProvider`] is the provider for development and tests. Its test cards:
//!
//! | number | result |
//! | --- | --- |
//! | `4242 4242 4242 4242` | verified at once |
//! | `4000 0000 0000 3220` | needs a challenge; the one-time code is `123456` |
//! | `4000 0000 0000 0002` | declined |
//! | `5555 5555 5555 4444` | verified at once (Mastercard) |
//!
//! Any other number that passes the Luhn check is declined; an expiry in the past is declined.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::wallet::{AddCard, Card, CardStatus, TopUp, TopUpResult, VerifyCard};
use inkan_core::Money;
use inkan_core::attempts::Against;
use ring::digest::{SHA256, digest};
use sqlx::Row;

use crate::auth::SessionAuth;
use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::{AppError, Json, Result};
use crate::origin::{Client, Guarded};
use crate::ratelimit::Flow;
use crate::secrets::new_id;
use crate::state::AppState;
use crate::{attempts, feed, ledger, operator};

/// Failed card attempts (registration or challenge) per wallet, and challenge attempts per card
/// across all wallets, before cards are locked. Failures are also counted by card number, device
/// and client address across every wallet (`attempts`, `inkan_core::attempts`).
pub const MAX_CARD_FAILURES: i64 = 5;
/// Largest single top-up (¥500,000).
const MAX_TOPUP: i64 = 500_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FundingError {
    #[error("the card was declined")]
    Declined,
    #[error("the card details are not valid")]
    InvalidCard,
    #[error("the verification code is wrong")]
    ChallengeFailed,
    #[error("the funding provider is unavailable")]
    Unavailable,
}

/// What the provider says about a card it has taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub fingerprint: String,
    pub challenge_required: bool,
}

/// A card verifier and payment source. Implementations own the card numbers; Inkan never does.
///
/// This is where a real acquirer plugs in: implement it over the acquirer's API (tokenise and
/// verify a card with its 3-D Secure challenge, collect a top-up, refund), add a variant to the
/// server's `--funding` choice in `main.rs`, and pass it to `AppState::new`. The only provider
/// built today is [`SandboxProvider`], which takes the documented test cards and moves no money:
/// `serve` uses it only when told `--funding sandbox`.
pub trait FundingProvider: Send + Sync + 'static {
    fn register(
        &self,
        number: &str,
        exp_month: u8,
        exp_year: u16,
        cvc: &str,
        now: time::OffsetDateTime,
    ) -> Result<Registration, FundingError>;
    fn verify(&self, token: &str, code: &str) -> Result<(), FundingError>;
    /// Takes `amount` from the card; returns the provider's reference.
    fn collect(&self, token: &str, amount: Money) -> Result<String, FundingError>;
}

/// The documented sandbox (see the module docs). Deterministic, offline.
#[derive(Debug, Default)]
pub struct SandboxProvider;

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl FundingProvider for SandboxProvider {
    fn register(
        &self,
        number: &str,
        exp_month: u8,
        exp_year: u16,
        cvc: &str,
        now: time::OffsetDateTime,
    ) -> Result<Registration, FundingError> {
        let digits: Vec<u8> = number
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .map(|c| c.to_digit(10).and_then(|d| u8::try_from(d).ok()).unwrap_or(255))
            .collect();
        if !(12..=19).contains(&digits.len()) || digits.contains(&255) || !luhn(&digits) {
            return Err(FundingError::InvalidCard);
        }
        if cvc.len() != 3 || !cvc.bytes().all(|b| b.is_ascii_digit()) || !(1..=12).contains(&exp_month) {
            return Err(FundingError::InvalidCard);
        }
        let (year, month) = (i32::from(exp_year), u8::from(now.month()));
        if year < now.year() || (year == now.year() && exp_month < month) {
            return Err(FundingError::Declined);
        }
        let number: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        let challenge_required = match number.as_str() {
            "4242424242424242" | "5555555555554444" => false,
            "4000000000003220" => true,
            _ => return Err(FundingError::Declined),
        };
        let fingerprint = hex::encode(digest(&SHA256, format!("sandbox-card:{number}").as_bytes()));
        Ok(Registration {
            token: format!("sandbox_tok_{}", &fingerprint[..24]),
            brand: if number.starts_with('5') { "mastercard" } else { "visa" }.to_owned(),
            last4: number[number.len() - 4..].to_owned(),
            fingerprint,
            challenge_required,
        })
    }

    fn verify(&self, _token: &str, code: &str) -> Result<(), FundingError> {
        if code == "123456" { Ok(()) } else { Err(FundingError::ChallengeFailed) }
    }

    fn collect(&self, token: &str, _amount: Money) -> Result<String, FundingError> {
        match token.strip_prefix("sandbox_tok_") {
            Some(reference) => Ok(format!("sandbox_pay_{reference}")),
            None => Err(FundingError::Declined),
        }
    }
}

fn card_error(e: FundingError) -> AppError {
    match e {
        FundingError::Unavailable => AppError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Internal, e.to_string()),
        _ => AppError::new(StatusCode::PAYMENT_REQUIRED, ErrorCode::CardDeclined, e.to_string()),
    }
}

fn locked() -> AppError {
    AppError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::CardLocked,
        "too many failed card attempts: adding cards is locked for this wallet; contact support",
    )
}

fn card_locked() -> AppError {
    AppError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::CardLocked,
        "too many failed verification attempts on this card: it is locked; contact support",
    )
}

/// Takes the wallet's account row in `tx` (its lock on PostgreSQL; SQLite has one writer), so
/// card attempts of one wallet are counted one at a time, and fails with `card_locked` once the
/// wallet has [`MAX_CARD_FAILURES`] failed attempts. Attempts still in flight count as failed:
/// each is reserved (written as a failure) before the provider is asked, and taken back only if
/// the provider says yes, so parallel requests cannot get more than the allowed tries between
/// them.
async fn check_wallet_attempts(tx: &mut Tx, account_id: &str) -> Result<()> {
    sqlx::query("UPDATE accounts SET balance = balance WHERE id = $1").bind(account_id).execute(tx.conn()).await?;
    let failed: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(failed_attempts), 0) AS BIGINT) FROM cards WHERE account_id = $1")
            .bind(account_id)
            .fetch_one(tx.conn())
            .await?;
    if failed >= MAX_CARD_FAILURES { Err(locked()) } else { Ok(()) }
}

/// Tells the wallet's devices, inside `tx`, that a card attempt failed, and whether that was the
/// last try: for the wallet, or (`fingerprint`, a card that was added) for the card in any wallet.
async fn note_failure(
    tx: &mut Tx,
    app: &AppState,
    account_id: &str,
    last4: &str,
    fingerprint: Option<&str>,
) -> Result<()> {
    let wallet_failed: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(failed_attempts), 0) AS BIGINT) FROM cards WHERE account_id = $1")
            .bind(account_id)
            .fetch_one(tx.conn())
            .await?;
    let card_failed: i64 = match fingerprint {
        Some(fingerprint) => {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(failed_attempts), 0) AS BIGINT) FROM cards WHERE fingerprint = $1",
            )
            .bind(fingerprint)
            .fetch_one(tx.conn())
            .await?
        }
        None => 0,
    };
    let locked = wallet_failed >= MAX_CARD_FAILURES || card_failed >= MAX_CARD_FAILURES;
    let notice = Notice::CardVerificationFailed { last4: last4.to_owned(), locked };
    feed::append(tx, &app.issuer, account_id, &notice, app.clock.now()).await?;
    Ok(())
}

/// The refusal when a card try's counter other than the wallet's is at its limit.
fn locked_by(against: Against) -> AppError {
    let message = match against {
        Against::CardNumber => {
            "this card has been tried too many times with wrong details: it is locked; contact support"
        }
        Against::Device => "too many failed card attempts on this device: adding cards is locked; contact support",
        Against::Address => "too many failed card attempts from this network: try again in an hour",
    };
    AppError::new(StatusCode::FORBIDDEN, ErrorCode::CardLocked, message)
}

/// The card number's keyed hash: what its failures are counted by, in every wallet. Keyed with a
/// secret derived from the issuer key, so that the database alone does not tell which number it
/// is (a bare hash of a 16-digit number is found by trying them all). Digits only.
pub fn card_number_key(issuer: &crate::issuer::Issuer, number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &issuer.derive("card numbers"));
    hex::encode(ring::hmac::sign(&key, digits.as_bytes()))
}

/// Reserves one card try on each of `counters` in `tx`, or fails with `card_locked` (rolling
/// nothing back itself: the caller's transaction must not commit).
async fn reserve_counters(app: &AppState, tx: &mut Tx, counters: &[attempts::Counter]) -> Result<()> {
    match attempts::reserve(tx, &app.settings.card_attempts, counters, app.clock.now()).await? {
        Some(against) => Err(locked_by(against)),
        None => Ok(()),
    }
}

/// Reserves one card registration attempt of the wallet: a `cards` row in status `attempt` that
/// counts as one failure until the provider has answered, and one try on `counters` (the card
/// number, the device, the address). Returns its id.
async fn reserve_registration(app: &AppState, account_id: &str, counters: &[attempts::Counter]) -> Result<String> {
    let mut tx = app.db.begin().await?;
    let checked = match check_wallet_attempts(&mut tx, account_id).await {
        Ok(()) => reserve_counters(app, &mut tx, counters).await,
        Err(e) => Err(e),
    };
    if let Err(e) = checked {
        tx.rollback().await?;
        return Err(e);
    }
    let id = new_id("card", &app.rng)?;
    sqlx::query(
        "INSERT INTO cards (id, account_id, provider_token, brand, last4, fingerprint, status, failed_attempts, created_at) \
         VALUES ($1, $2, '', '', '', '', 'attempt', 1, $3)",
    )
    .bind(&id)
    .bind(account_id)
    .bind(to_ms(app.clock.now()))
    .execute(tx.conn())
    .await?;
    tx.commit(&app.hub).await?;
    Ok(id)
}

fn status_from(s: &str) -> CardStatus {
    match s {
        "verified" => CardStatus::Verified,
        "challenge_required" => CardStatus::ChallengeRequired,
        "locked" => CardStatus::Locked,
        _ => CardStatus::Failed,
    }
}

/// `GET /v1/wallet/cards`: the wallet's cards, oldest first.
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

/// `POST /v1/wallet/cards`
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
    operator::ensure_allowed(&app, Service::TopUps, &auth.account_id).await?;
    let counters = [
        attempts::Counter::card_number(&card_number_key(&app.issuer, &body.number)),
        attempts::Counter::device(&auth.device_id),
        attempts::Counter::address(client.address()),
    ];
    let id = reserve_registration(&app, &auth.account_id, &counters).await?;
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
                if !matches!(e, FundingError::Unavailable) {
                    note_failure(&mut tx, &app, &auth.account_id, &tail, None).await?;
                }
                tx.commit(&app.hub).await?;
                return Err(card_error(e));
            }
        };
    let shared: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT account_id) FROM cards WHERE fingerprint = $1 AND account_id <> $2")
            .bind(&registration.fingerprint)
            .bind(&auth.account_id)
            .fetch_one(app.db.pool())
            .await?;
    if shared > 0 {
        // One card across many wallets is how stolen card lists are used: flag it for the operator.
        tracing::warn!(account = %auth.account_id, other_accounts = shared, "card fingerprint seen on other accounts");
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

/// `POST /v1/wallet/cards/{id}/verify`: the card's one-time code. Failures count against the
/// wallet and against the card itself, in every wallet it was added to (one card's code cannot be
/// guessed five times per wallet).
pub async fn verify_card(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<VerifyCard>,
) -> Result<Json<Card>> {
    client.admit_for(&app, &auth.account_id, Guarded::Card)?;
    client.limit(&app, Flow::Card, Some(&auth.account_id))?;
    if body.code.len() > 16 {
        return Err(AppError::invalid("malformed verification code"));
    }
    operator::ensure_allowed(&app, Service::TopUps, &auth.account_id).await?;
    let counters = [attempts::Counter::device(&auth.device_id), attempts::Counter::address(client.address())];
    let mut tx = app.db.begin().await?;
    let card = match reserve_verification(&mut tx, &auth.account_id, &id).await {
        Ok(row) => reserve_counters(&app, &mut tx, &counters).await.map(|()| row),
        Err(e) => Err(e),
    };
    let row = match card {
        Ok(row) => row,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    tx.commit(&app.hub).await?;
    let token: String = row.try_get("provider_token")?;
    let outcome = app.funding.verify(&token, &body.code);
    if let Err(e) = outcome {
        // The reserved attempt stays counted: it failed.
        if !matches!(e, FundingError::Unavailable) {
            let mut tx = app.db.begin().await?;
            let (last4, fingerprint): (String, String) = (row.try_get("last4")?, row.try_get("fingerprint")?);
            note_failure(&mut tx, &app, &auth.account_id, &last4, Some(&fingerprint)).await?;
            tx.commit(&app.hub).await?;
        }
        return Err(card_error(e));
    }
    // The right code is never a failure, even when a parallel request with it verified the card a
    // moment ago: the attempt is taken back either way, and the card is verified.
    let mut tx = app.db.begin().await?;
    sqlx::query("UPDATE cards SET status = 'verified', failed_attempts = failed_attempts - 1 WHERE id = $1")
        .bind(&id)
        .execute(tx.conn())
        .await?;
    attempts::take_back(&mut tx, &counters).await?;
    tx.commit(&app.hub).await?;
    Ok(Json(Card { id, brand: row.try_get("brand")?, last4: row.try_get("last4")?, status: CardStatus::Verified }))
}

/// Checks that the wallet and the card may try a code, then counts the attempt as failed (taken
/// back if the code is right). After the wallet's account row it takes the card's first row (on
/// PostgreSQL, its lock), so attempts on one card from any wallet are counted one at a time.
async fn reserve_verification(tx: &mut Tx, account_id: &str, id: &str) -> Result<sqlx::any::AnyRow> {
    check_wallet_attempts(tx, account_id).await?;
    let row = sqlx::query(
        "SELECT provider_token, brand, last4, status, fingerprint FROM cards WHERE id = $1 AND account_id = $2",
    )
    .bind(id)
    .bind(account_id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| AppError::not_found("card"))?;
    if row.try_get::<String, _>("status")? != "challenge_required" {
        return Err(AppError::invalid_state("this card is not waiting for a verification code"));
    }
    let fingerprint: String = row.try_get("fingerprint")?;
    // One row stands for the card: the first wallet's (a card added later is never earlier), so
    // every attempt on the card waits for the same lock, and two cannot take locks crosswise.
    sqlx::query(
        "UPDATE cards SET failed_attempts = failed_attempts \
         WHERE id = (SELECT id FROM cards WHERE fingerprint = $1 ORDER BY created_at, id LIMIT 1)",
    )
    .bind(&fingerprint)
    .execute(tx.conn())
    .await?;
    let failed: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(failed_attempts), 0) AS BIGINT) FROM cards WHERE fingerprint = $1",
    )
    .bind(&fingerprint)
    .fetch_one(tx.conn())
    .await?;
    if failed >= MAX_CARD_FAILURES {
        return Err(card_locked());
    }
    sqlx::query("UPDATE cards SET failed_attempts = failed_attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(row)
}

/// `POST /v1/wallet/topups`
pub async fn top_up(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<TopUp>,
) -> Result<(StatusCode, Json<TopUpResult>)> {
    client.admit_for(&app, &auth.account_id, Guarded::TopUp)?;
    let amount = body.amount;
    if amount.minor() <= 0 || amount.minor() > MAX_TOPUP {
        return Err(AppError::invalid(format!("a top-up is between 1 and {MAX_TOPUP}")));
    }
    // Checked before the card is charged; once it is, the money is credited whatever happens.
    operator::ensure_allowed(&app, Service::TopUps, &auth.account_id).await?;
    let card = sqlx::query("SELECT provider_token, last4, status FROM cards WHERE id = $1 AND account_id = $2")
        .bind(&body.card_id)
        .bind(&auth.account_id)
        .fetch_optional(app.db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("card"))?;
    if card.try_get::<String, _>("status")? != "verified" {
        return Err(AppError::invalid_state("this card is not verified"));
    }
    let last4: String = card.try_get("last4")?;
    let now = app.clock.now();
    let provider_ref = match app.funding.collect(&card.try_get::<String, _>("provider_token")?, amount) {
        Ok(r) => r,
        Err(e) => {
            let mut tx = app.db.begin().await?;
            let notice = Notice::TopUpFailed {
                amount: amount.minor(),
                currency: amount.currency().code().to_owned(),
                card_last4: last4,
                reason: e.to_string(),
            };
            feed::append(&mut tx, &app.issuer, &auth.account_id, &notice, now).await?;
            tx.commit(&app.hub).await?;
            return Err(card_error(e));
        }
    };
    let mut tx = app.db.begin().await?;
    let row =
        sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2 AND currency = $3 RETURNING balance")
            .bind(amount.minor())
            .bind(&auth.account_id)
            .bind(amount.currency().code())
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| AppError::invalid("this wallet holds another currency"))?;
    let balance = Money::new(amount.currency(), row.try_get("balance")?);
    let id = new_id("top", &app.rng)?;
    sqlx::query(
        "INSERT INTO topups (id, account_id, card_id, amount, currency, provider_ref, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&auth.account_id)
    .bind(&body.card_id)
    .bind(amount.minor())
    .bind(amount.currency().code())
    .bind(&provider_ref)
    .bind(to_ms(now))
    .execute(tx.conn())
    .await?;
    ledger::post(
        &mut tx,
        &app,
        "top_up",
        &id,
        &[(ledger::FUNDING_CLEARING.to_owned(), amount.checked_neg()?), (ledger::wallet(&auth.account_id), amount)],
    )
    .await?;
    let notice = Notice::TopUpSucceeded {
        topup_id: id.clone(),
        amount: amount.minor(),
        currency: amount.currency().code().to_owned(),
        card_last4: last4,
    };
    feed::append(&mut tx, &app.issuer, &auth.account_id, &notice, now).await?;
    tx.commit(&app.hub).await?;
    Ok((StatusCode::CREATED, Json(TopUpResult { id, amount, balance })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sandbox_cards_behave_as_documented() {
        let now = datetime!(2026-06-10 12:00 UTC);
        let p = SandboxProvider;
        let ok = p.register("4242 4242 4242 4242", 12, 2030, "123", now).unwrap();
        assert!(!ok.challenge_required);
        assert_eq!((ok.brand.as_str(), ok.last4.as_str()), ("visa", "4242"));
        assert!(!ok.token.contains("4242424242424242") && !ok.fingerprint.contains("4242424242424242"));
        assert!(p.register("4000000000003220", 12, 2030, "123", now).unwrap().challenge_required);
        assert_eq!(p.register("4000000000000002", 12, 2030, "123", now), Err(FundingError::Declined));
        assert_eq!(p.register("4242424242424241", 12, 2030, "123", now), Err(FundingError::InvalidCard));
        assert_eq!(p.register("4242424242424242", 5, 2026, "123", now), Err(FundingError::Declined));
        assert_eq!(p.register("4242424242424242", 13, 2030, "123", now), Err(FundingError::InvalidCard));
        assert_eq!(p.register("4242424242424242", 12, 2030, "12", now), Err(FundingError::InvalidCard));
        assert_eq!(p.register("42424242４2424242", 12, 2030, "123", now), Err(FundingError::InvalidCard));
        assert_eq!(p.verify(&ok.token, "123456"), Ok(()));
        assert_eq!(p.verify(&ok.token, "000000"), Err(FundingError::ChallengeFailed));
    }
}
