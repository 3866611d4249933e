//! Charges: created by a terminal from a payment code, held until the shopper confirms with a
//! passkey assertion bound to that charge, then settled in the ledger in the same transaction.

use std::time::Duration as StdDuration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use inkan_api::ErrorCode;
use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::merchant::{Charge, CreateCharge, RefundCharge};
use inkan_api::wallet::{ConfirmCharge, DeclineCharge, PendingCharge, WalletCharge};
use inkan_core::limits::LimitError;
use inkan_core::payment::{Admission, CodeRefusals, PaymentFacts, PaymentRefusal, Stage, admit, may_pay};
use inkan_core::payment_code::{DevicePublicKey, PaymentCode, PaymentCodeError};
use inkan_core::risk::HoldReason;
use inkan_core::{ChargeEvent, ChargeStatus, Money};
use serde::Deserialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use webauthn_rs::prelude::{PasskeyAuthentication, RequestChallengeResponse};

use crate::auth::{SessionAuth, TerminalAuth};
use crate::charge_sql::Move;
use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Json, Query, Result};
use crate::hub::Change;
use crate::origin::{Client, Guarded};
use crate::secrets::new_id;
use crate::state::AppState;
use crate::store::charges::{currency_of, merchant_view, status_of, wallet_view};
use crate::{activity, feed, idempotency, ledger, origin, passkeys, store, switches};

/// Largest single charge the API accepts at all, before any wallet limit (¥10,000,000).
const MAX_AMOUNT: i64 = 10_000_000;
/// Longest `?wait=` a terminal may ask for.
const MAX_WAIT_SECONDS: u64 = 60;

/// A payment code refused, as a terminal hears it: every refusal of the core named (no wildcard),
/// so that a new one cannot slip through as another.
impl From<PaymentCodeError> for AppError {
    fn from(e: PaymentCodeError) -> AppError {
        let (status, code) = match e {
            PaymentCodeError::Expired | PaymentCodeError::NotYetValid => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::PaymentCodeExpired)
            }
            PaymentCodeError::CounterNotFresh => (StatusCode::CONFLICT, ErrorCode::PaymentCodeUsed),
            PaymentCodeError::WrongLength(_)
            | PaymentCodeError::NotBase45
            | PaymentCodeError::UnsupportedVersion(_)
            | PaymentCodeError::BadValidityWindow
            | PaymentCodeError::BadSignature
            | PaymentCodeError::BadKey
            | PaymentCodeError::TimeOutOfRange => (StatusCode::BAD_REQUEST, ErrorCode::PaymentCodeInvalid),
        };
        AppError::new(status, code, e.to_string())
    }
}

fn unknown_code() -> AppError {
    AppError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::PaymentCodeInvalid,
        "this payment code is not from an active device",
    )
}

fn frozen() -> AppError {
    AppError::new(StatusCode::FORBIDDEN, ErrorCode::WalletFrozen, "the shopper's wallet is frozen")
}

fn insufficient() -> AppError {
    AppError::new(StatusCode::PAYMENT_REQUIRED, ErrorCode::InsufficientFunds, "the wallet's balance is too low")
}

/// The charge as its merchant sees it, if there is one with this id.
pub async fn merchant_charge(app: &AppState, id: &str) -> Result<Option<Charge>> {
    load(app, id).await?.as_ref().map(merchant_view).transpose()
}

async fn load(app: &AppState, id: &str) -> Result<Option<AnyRow>> {
    store::charges::load(app.db.pool(), id).await
}

/// Locks the wallet's account row inside `tx` (a charge and a confirmation of the same wallet
/// take turns from here) and reads what a payment needs of it, with the history's head.
async fn lock_account(tx: &mut Tx, account_id: &str) -> Result<AnyRow> {
    Ok(sqlx::query(&format!(
        "UPDATE accounts SET balance = balance WHERE id = $1 RETURNING balance, frozen, held, limits, currency, {}",
        feed::HEAD_COLUMNS
    ))
    .bind(account_id)
    .fetch_one(tx.conn())
    .await?)
}

/// The paying device, as [`payment_facts`] needs it.
#[derive(Debug, Clone, Copy)]
struct DeviceFacts {
    active: bool,
    enrolled_at: time::OffsetDateTime,
}

/// What [`may_pay`] judges, read inside `tx` once the account is locked (`account`: the row of
/// [`lock_account`]): for a charge made `at`, not counting the charge `except` itself.
#[allow(clippy::too_many_arguments, reason = "each is one fact of a different source")]
async fn payment_facts(
    tx: &mut Tx,
    app: &AppState,
    account: &AnyRow,
    account_id: &str,
    device: DeviceFacts,
    at: time::OffsetDateTime,
    except: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<PaymentFacts> {
    let currency = currency_of(account)?;
    let sums = store::charges::sums(tx.conn(), &app.settings, account_id, currency, at, except, now).await?;
    Ok(PaymentFacts {
        device_active: device.active,
        device_enrolled_at: device.enrolled_at,
        frozen: account.try_get::<i64, _>("frozen")? != 0,
        held: account.try_get::<Option<String>, _>("held")?.is_some(),
        limits: serde_json::from_str(&account.try_get::<String, _>("limits")?)?,
        balance: Money::new(currency, account.try_get("balance")?),
        pending_elsewhere: sums.pending,
        spent: sums.spent,
    })
}

/// The answer to a payment the wallet may not make.
impl From<PaymentRefusal> for AppError {
    fn from(refusal: PaymentRefusal) -> AppError {
        match refusal {
            PaymentRefusal::DeviceRemoved => {
                AppError::new(StatusCode::FORBIDDEN, ErrorCode::DeviceRevoked, refusal.to_string())
            }
            PaymentRefusal::Held => switches::held(),
            PaymentRefusal::Frozen => frozen(),
            PaymentRefusal::Limit(e) => e.into(),
            PaymentRefusal::InsufficientFunds => insufficient(),
            PaymentRefusal::Money(e) => AppError::invalid(e.to_string()),
        }
    }
}

/// Counts a refused charge against the payment code `counter` of `device_id`; on the code's
/// last allowed refusal ([`CodeRefusals::after_refusal`]), kills it and every older code of the
/// device, as paying with it would. A code used or killed meanwhile is left as it is.
async fn note_code_refusal(app: &AppState, device_id: &str, counter: u32) -> Result<()> {
    let mut tx = app.db.begin().await?;
    let row: Option<(Option<i64>, i64)> = sqlx::query_as(
        "UPDATE devices SET refusals = refusals WHERE id = $1 AND (last_counter IS NULL OR last_counter < $2) \
         RETURNING refused_counter, refusals",
    )
    .bind(device_id)
    .bind(i64::from(counter))
    .fetch_optional(tx.conn())
    .await?;
    let Some((refused_counter, refusals)) = row else {
        tx.rollback().await?;
        return Ok(());
    };
    let previous = match (refused_counter.map(u32::try_from), u32::try_from(refusals)) {
        (Some(Ok(counter)), Ok(refusals)) => Some(CodeRefusals { counter, refusals }),
        _ => None,
    };
    let (count, dead) = CodeRefusals::after_refusal(previous, counter);
    let update = if dead {
        "UPDATE devices SET refused_counter = $1, refusals = $2, last_counter = $1 WHERE id = $3"
    } else {
        "UPDATE devices SET refused_counter = $1, refusals = $2 WHERE id = $3"
    };
    sqlx::query(update)
        .bind(i64::from(count.counter))
        .bind(i64::from(count.refusals))
        .bind(device_id)
        .execute(tx.conn())
        .await?;
    tx.commit(&app.hub).await?;
    if dead {
        tracing::info!(device = %device_id, counter, "payment code refused too often: dead");
    }
    Ok(())
}

/// A limit refusal, as the terminal hears it: only that a limit was reached. Which limit and how
/// much is left is the shopper's business (their app shows their limits), never the shop's.
impl From<LimitError> for AppError {
    fn from(e: LimitError) -> AppError {
        match e {
            LimitError::Exceeded { .. } => AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::LimitExceeded,
                "over one of the shopper's spending limits: the shopper can see them in the Inkan app",
            ),
            LimitError::Negative(_)
            | LimitError::Inconsistent
            | LimitError::AmountNotPositive
            | LimitError::Money(_) => AppError::invalid(e.to_string()),
        }
    }
}

/// The amount and description of a new charge, checked.
fn requested(body: &CreateCharge) -> Result<(Money, Option<String>)> {
    if body.amount <= 0 || body.amount > MAX_AMOUNT {
        return Err(AppError::invalid(format!("amount must be between 1 and {MAX_AMOUNT}")));
    }
    let description = match body.description.as_deref().map(str::trim) {
        Some(d) if d.chars().count() > 200 || d.chars().any(char::is_control) => {
            return Err(AppError::invalid("description: at most 200 characters, no control characters"));
        }
        Some("") | None => None,
        Some(d) => Some(d.to_owned()),
    };
    Ok((Money::new(body.currency, body.amount), description))
}

/// The active device whose payment code a terminal presents, the code checked (signature and
/// validity; its counter is used atomically by [`create`]).
struct PayingDevice {
    id: String,
    account_id: String,
    enrolled_at: time::OffsetDateTime,
    counter: u32,
}

async fn paying_device(app: &AppState, payment_code: &str, now: time::OffsetDateTime) -> Result<PayingDevice> {
    let code = PaymentCode::parse(payment_code).map_err(AppError::from)?;
    let device =
        sqlx::query("SELECT id, account_id, public_key, enrolled_at FROM devices WHERE key_id = $1 AND active = 1")
            .bind(code.key_id().to_string())
            .fetch_optional(app.db.pool())
            .await?
            .ok_or_else(unknown_code)?;
    let public_key =
        DevicePublicKey::from_sec1(&device.try_get::<Vec<u8>, _>("public_key")?).map_err(AppError::internal)?;
    let verified = code.verify(&public_key, now, None).map_err(AppError::from)?;
    Ok(PayingDevice {
        id: device.try_get("id")?,
        account_id: device.try_get("account_id")?,
        enrolled_at: from_ms(device.try_get("enrolled_at")?),
        counter: verified.claims().counter,
    })
}

/// `POST /v1/charges`: a charge from a shopper's payment code. It waits for the shopper's passkey
/// (`pending_confirmation`), or, when a velocity rule sets it aside, for the operator's review
/// first (`held_for_review`); the shopper is told either way.
pub async fn create(
    State(app): State<AppState>,
    terminal: TerminalAuth,
    headers: HeaderMap,
    Json(body): Json<CreateCharge>,
) -> Result<(StatusCode, Json<Charge>)> {
    let key = idempotency::key(&headers)?;
    let request_hash = idempotency::request_hash(&body)?;
    if let Some(row) = stored_response(&app, &terminal, &key).await? {
        return replay(&row, &request_hash);
    }
    let (amount, description) = requested(&body)?;
    let now = app.clock.now();
    switches::ensure_running(app.db.pool(), Service::Charges).await?;
    let device = paying_device(&app, &body.payment_code, now).await?;
    let account_id = device.account_id.clone();
    // A genuine code, shown to a terminal in a country that is not served (a code relayed abroad):
    // refused, and the shopper told.
    let country = origin::admit_terminal(&app, &terminal.country, &account_id)?;

    // The passkey challenge bound to this charge. Read before the transaction: a handler never
    // holds a transaction's connection while it waits for a second one from the pool.
    // Only a passkey of the device that showed the code can pay it.
    let (request, auth_state) = passkeys::challenge(&app, &account_id, &device.id).await?;
    let mut tx = app.db.begin().await?;
    // The account before the device, as everywhere (`db`: the lock order).
    let account = lock_account(&mut tx, &account_id).await?;
    // Using a code kills it and every older code of the device. Of two terminals racing with one
    // code, exactly one passes this conditional update.
    let used = sqlx::query(
        "UPDATE devices SET last_counter = $1 WHERE id = $2 AND active = 1 AND (last_counter IS NULL OR last_counter < $1)",
    )
    .bind(i64::from(device.counter))
    .bind(&device.id)
    .execute(tx.conn())
    .await?;
    if used.rows_affected() != 1 {
        // A concurrent retry with the same key may have used the code a moment ago: answer as
        // it did (its transaction came first: ours waited on the account row it locked, and the
        // rollback returns once it is durable and visible).
        tx.rollback().await?;
        if let Some(row) = stored_response(&app, &terminal, &key).await? {
            return replay(&row, &request_hash);
        }
        return Err(PaymentCodeError::CounterNotFresh.into());
    }
    let currency = currency_of(&account)?;
    if currency != body.currency {
        return Err(AppError::invalid(format!("this wallet holds {currency}")));
    }
    let paying = DeviceFacts { active: true, enrolled_at: device.enrolled_at };
    let facts = payment_facts(&mut tx, &app, &account, &account_id, paying, now, None, now).await?;
    let rules = &app.settings.risk;
    let activity = activity::recent(&mut tx, rules, &account_id, &device.id, device.enrolled_at, now).await?;
    let admission = match admit(&facts, &activity, amount, country, &app.settings.new_device_cap, rules, now) {
        Ok(admission) => admission,
        Err(refusal) => {
            // A refused charge leaves the code alive, up to its third refusal.
            tx.rollback().await?;
            note_code_refusal(&app, &device.id, device.counter).await?;
            return Err(refusal.into());
        }
    };
    let (status, expires_at, hold) = match admission {
        Admission::AwaitShopper => (ChargeStatus::PendingConfirmation, now + app.settings.charge_ttl, None),
        Admission::Review(reason) => (ChargeStatus::HeldForReview, now + app.settings.review_window, Some(reason)),
    };
    let charge = Charge {
        id: new_id("ch", &app.rng)?,
        status,
        amount: body.amount,
        currency,
        description,
        merchant_id: terminal.merchant_id.clone(),
        merchant_name: terminal.merchant_name.clone(),
        created_at: now,
        expires_at,
        decided_at: None,
        refunded_at: None,
    };
    let made = NewCharge { charge: &charge, terminal: &terminal, account_id: &account_id, device: &device, hold };
    if !insert(&mut tx, &made, &key, &request_hash, (&request, &auth_state)).await? {
        // A request with the same key (another body: another code) made its charge first.
        tx.rollback().await?;
        let row = stored_response(&app, &terminal, &key)
            .await?
            .ok_or_else(|| AppError::internal("idempotency key vanished"))?;
        return replay(&row, &request_hash);
    }
    let (id, amount, merchant_name) = (charge.id.clone(), body.amount, terminal.merchant_name.clone());
    let currency_code = currency.code().to_owned();
    let notice = match hold {
        None => Notice::ChargePending { charge_id: id.clone(), amount, currency: currency_code, merchant_name },
        Some(reason) => {
            let reason = reason.as_str().to_owned();
            Notice::ChargeHeld { charge_id: id.clone(), amount, currency: currency_code, merchant_name, reason }
        }
    };
    feed::append_at(&mut tx, &app.issuer, feed::Head::of(&account)?, &account_id, &notice, now).await?;
    tx.announce(Change::Charge(id.clone()));
    if let Err(e) = tx.commit(&app.hub).await {
        // A retry with the same key that raced us and won made the same charge: answer as it did.
        if let Some(row) = stored_response(&app, &terminal, &key).await? {
            return replay(&row, &request_hash);
        }
        return Err(e.into());
    }
    tracing::info!(charge = %id, merchant = %terminal.merchant_id, amount, status = %status, reason = hold.map(HoldReason::as_str), "charge made");
    Ok((StatusCode::CREATED, Json(charge)))
}

/// A charge being made, and what it is made of.
struct NewCharge<'a> {
    charge: &'a Charge,
    terminal: &'a TerminalAuth,
    account_id: &'a str,
    device: &'a PayingDevice,
    hold: Option<HoldReason>,
}

/// Writes a new charge, with its passkey challenge, and the terminal's idempotency key with the
/// answer a retry gets. `false` (with nothing kept: the caller rolls back) when a concurrent
/// request with the same key wrote its own first.
async fn insert(
    tx: &mut Tx,
    made: &NewCharge<'_>,
    key: &str,
    request_hash: &str,
    (request, auth_state): (&RequestChallengeResponse, &PasskeyAuthentication),
) -> Result<bool> {
    let charge = made.charge;
    sqlx::query(
        "INSERT INTO charges (id, merchant_id, terminal_id, account_id, device_id, amount, currency, description, status, \
         code_counter, auth_state, auth_request, created_at, expires_at, decided_at, refunded_at, hold_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, NULL, $15)",
    )
    .bind(&charge.id)
    .bind(&made.terminal.merchant_id)
    .bind(&made.terminal.terminal_id)
    .bind(made.account_id)
    .bind(&made.device.id)
    .bind(charge.amount)
    .bind(charge.currency.code())
    .bind(&charge.description)
    .bind(charge.status.as_str())
    .bind(i64::from(made.device.counter))
    .bind(serde_json::to_string(auth_state)?)
    .bind(serde_json::to_string(request)?)
    .bind(to_ms(charge.created_at))
    .bind(to_ms(charge.expires_at))
    .bind(made.hold.map(HoldReason::as_str))
    .execute(tx.conn())
    .await?;
    let kept = sqlx::query(
        "INSERT INTO idempotency_keys (terminal_id, key, request_hash, charge_id, response, created_at)          VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (terminal_id, key) DO NOTHING",
    )
    .bind(&made.terminal.terminal_id)
    .bind(key)
    .bind(request_hash)
    .bind(&charge.id)
    .bind(serde_json::to_string(charge)?)
    .bind(to_ms(charge.created_at))
    .execute(tx.conn())
    .await?;
    Ok(kept.rows_affected() == 1)
}

async fn stored_response(app: &AppState, terminal: &TerminalAuth, key: &str) -> Result<Option<AnyRow>> {
    Ok(sqlx::query("SELECT request_hash, response FROM idempotency_keys WHERE terminal_id = $1 AND key = $2")
        .bind(&terminal.terminal_id)
        .bind(key)
        .fetch_optional(app.db.pool())
        .await?)
}

/// Answers a retried request: the stored response if the body is the same, 409 if not.
fn replay(row: &AnyRow, request_hash: &str) -> Result<(StatusCode, Json<Charge>)> {
    let stored: String = row.try_get("request_hash")?;
    if stored != request_hash {
        return Err(idempotency::conflict());
    }
    let charge: Charge = serde_json::from_str(&row.try_get::<String, _>("response")?)?;
    Ok((StatusCode::CREATED, Json(charge)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    #[serde(default)]
    wait: Option<u64>,
}

/// `GET /v1/charges/{id}?wait=SECONDS`: the charge; with `wait`, holds the request until the charge
/// is decided (paid, declined or expired: neither held for review nor waiting for the shopper) or
/// the time is up.
pub async fn get(
    State(app): State<AppState>,
    terminal: TerminalAuth,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Json<Charge>> {
    let wait = query.wait.unwrap_or(0).min(MAX_WAIT_SECONDS);
    let mut changes = app.hub.subscribe(Change::Charge(id.clone()));
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(wait);
    loop {
        expire_due(&app, Some(&id)).await?;
        let row = load(&app, &id).await?.ok_or_else(|| AppError::not_found("charge"))?;
        if row.try_get::<String, _>("merchant_id")? != terminal.merchant_id {
            return Err(AppError::not_found("charge"));
        }
        let charge = merchant_view(&row)?;
        if !charge.status.is_open() || tokio::time::Instant::now() >= deadline {
            return Ok(Json(charge));
        }
        // Wake at the next change of this charge, at its expiry, or at the deadline.
        let until_expiry = (charge.expires_at - app.clock.now()).max(time::Duration::ZERO);
        let expiry = tokio::time::Instant::now() + StdDuration::try_from(until_expiry).unwrap_or_default();
        let wake = deadline.min(expiry + StdDuration::from_millis(10));
        let _ = tokio::time::timeout_at(wake, changes.changed()).await;
    }
}

/// `POST /v1/charges/{id}/refund`: the whole amount back to the shopper.
pub async fn refund(
    State(app): State<AppState>,
    terminal: TerminalAuth,
    Path(id): Path<String>,
    Json(RefundCharge {}): Json<RefundCharge>,
) -> Result<Json<Charge>> {
    let now = app.clock.now();
    let refund = Move::of(ChargeEvent::Refund)?;
    let mut tx = app.db.begin().await?;
    let row = sqlx::query(&format!(
        "UPDATE charges SET {}, refunded_at = $1 WHERE id = $2 AND merchant_id = $3 AND status IN ({}) \
         RETURNING account_id, amount, currency",
        refund.set(),
        refund.from
    ))
    .bind(to_ms(now))
    .bind(&id)
    .bind(&terminal.merchant_id)
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        let existing = load(&app, &id)
            .await?
            .filter(|r| r.try_get::<String, _>("merchant_id").ok() == Some(terminal.merchant_id.clone()));
        return match existing {
            None => Err(AppError::not_found("charge")),
            // Refunding a whole charge is idempotent: a retry whose first answer was lost gets
            // the refunded charge again, and the money moved once.
            Some(r) if status_of(&r)? == ChargeStatus::Refunded => Ok(Json(merchant_view(&r)?)),
            Some(r) => Err(AppError::invalid_state(format!("a {} charge cannot be refunded", status_of(&r)?))),
        };
    };
    let account_id: String = row.try_get("account_id")?;
    let amount = Money::new(currency_of(&row)?, row.try_get("amount")?);
    sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
        .bind(amount.minor())
        .bind(&account_id)
        .execute(tx.conn())
        .await?;
    ledger::post(
        &mut tx,
        &app,
        "refund",
        &id,
        &[(ledger::merchant(&terminal.merchant_id), amount.checked_neg()?), (ledger::wallet(&account_id), amount)],
    )
    .await?;
    let notice = Notice::ChargeRefunded {
        charge_id: id.clone(),
        amount: amount.minor(),
        currency: amount.currency().code().to_owned(),
        merchant_name: terminal.merchant_name.clone(),
    };
    feed::append(&mut tx, &app.issuer, &account_id, &notice, now).await?;
    tx.announce(Change::Charge(id.clone()));
    tx.commit(&app.hub).await?;
    let row = load(&app, &id).await?.ok_or_else(|| AppError::not_found("charge"))?;
    Ok(Json(merchant_view(&row)?))
}

/// `GET /v1/wallet/charges/pending`: charges waiting for this wallet, each with its passkey
/// request bound to exactly that charge.
pub async fn pending(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Vec<PendingCharge>>> {
    expire_due(&app, None).await?;
    Ok(Json(store::charges::waiting(app.db.pool(), &auth.account_id, None, app.clock.now()).await?))
}

/// Why a charge could not be decided: gone, someone else's, or no longer pending.
async fn not_decidable(app: &AppState, id: &str, account_id: &str) -> AppError {
    match load(app, id).await {
        Ok(Some(row)) if row.try_get::<String, _>("account_id").ok().as_deref() == Some(account_id) => {
            match status_of(&row) {
                Ok(ChargeStatus::PendingConfirmation) | Ok(ChargeStatus::Expired) => {
                    AppError::invalid_state("this charge has expired")
                }
                Ok(ChargeStatus::HeldForReview) => AppError::invalid_state(
                    "Inkan is checking this charge: it can be confirmed once it is approved (you will be told)",
                ),
                Ok(status) => AppError::invalid_state(format!("this charge is already {status}")),
                Err(e) => e,
            }
        }
        Ok(_) => AppError::not_found("charge"),
        Err(e) => e,
    }
}

/// `POST /v1/wallet/charges/{id}/confirm`: the passkey assertion for this charge pays it. The
/// session comes first (nothing about a charge is told to a caller without one of its wallet);
/// then the assertion, which must come from a passkey of the device whose code made the charge.
/// What may have changed since the charge was made is judged again in the paying transaction
/// ([`may_pay`] at [`Stage::Confirm`]): the device, a freeze or hold, the limits, the balance.
pub async fn confirm(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<ConfirmCharge>,
) -> Result<Json<WalletCharge>> {
    client.admit_for(&app, &auth.account_id, Guarded::Payment)?;
    let now = app.clock.now();
    switches::ensure_running(app.db.pool(), Service::Charges).await?;
    // The assertion is checked against the charge's challenge before the transaction: the check
    // needs no database, and no transaction waits on it. It counts only if the transaction below
    // still finds the charge pending (a charge's challenge never changes while it is) and the
    // credential's counter moves forward there.
    // The charge's merchant and device never change, so they are read here too, and so is the
    // credential: the transaction then writes, each write conditional on what was read.
    let confirming = Move::of(ChargeEvent::Confirm)?;
    let pending: Option<(Option<String>, String, String)> = if id.len() > 64 {
        None
    } else {
        sqlx::query_as(&format!(
            "SELECT c.auth_state, m.name, c.device_id FROM charges c JOIN merchants m ON m.id = c.merchant_id \
             WHERE c.id = $1 AND c.account_id = $2 AND c.status IN ({}) AND c.expires_at > $3",
            confirming.from
        ))
        .bind(&id)
        .bind(&auth.account_id)
        .bind(to_ms(now))
        .fetch_optional(app.db.pool())
        .await?
    };
    let Some((state, merchant_name, device_id)) = pending else {
        return Err(not_decidable(&app, &id, &auth.account_id).await);
    };
    let account_id = auth.account_id.clone();
    let state: PasskeyAuthentication = serde_json::from_str(&state.unwrap_or_default())?;
    // A passkey of the device whose code made the charge, still in the wallet.
    let device =
        passkeys::ActingDevice { account_id: &account_id, device_id: &device_id, session: Some(auth.token_hash()) };
    let refused = |e: AppError| passkeys::note_refusal(e, device, client.address(), "payment");
    passkeys::check_tries(&app, &mut *app.db.pool().acquire().await?, device, client.address()).await?;
    let verified = passkeys::verify_assertion(&app, &state, &body.credential).map_err(refused)?;
    let counter = passkeys::counter_update(app.db.pool(), device, &verified).await.map_err(refused)?;

    let mut tx = app.db.begin().await?;
    // Taking the charge out of `pending_confirmation` and its challenge out of the row is the
    // first write: a replayed assertion finds nothing to confirm.
    let row = sqlx::query(&format!(
        "UPDATE charges SET {}, decided_at = $1, auth_state = NULL, auth_request = NULL \
         WHERE id = $2 AND account_id = $3 AND status IN ({}) AND expires_at > $1 \
         RETURNING merchant_id, amount, currency, description, created_at, expires_at",
        confirming.set(),
        confirming.from
    ))
    .bind(to_ms(now))
    .bind(&id)
    .bind(&account_id)
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(not_decidable(&app, &id, &account_id).await);
    };
    let merchant_id: String = row.try_get("merchant_id")?;
    let amount = Money::new(currency_of(&row)?, row.try_get("amount")?);
    let created_at = from_ms(row.try_get("created_at")?);
    // Judged again, with the account locked: what changed since the charge was made counts. The
    // account is locked before the passkey, as everywhere (`db`: the lock order).
    let account = lock_account(&mut tx, &account_id).await?;
    if !passkeys::apply_counter(&mut tx, &counter).await? {
        // Another assertion with the credential committed since it was read: judge this one
        // against what that one left.
        passkeys::record_assertion(&mut tx, device, &verified).await.map_err(refused)?;
    }
    let paying: Option<(i64, i64)> = sqlx::query_as("SELECT active, enrolled_at FROM devices WHERE id = $1")
        .bind(&device_id)
        .fetch_optional(tx.conn())
        .await?;
    let paying = match paying {
        Some((active, enrolled_at)) => DeviceFacts { active: active == 1, enrolled_at: from_ms(enrolled_at) },
        None => DeviceFacts { active: false, enrolled_at: now },
    };
    let facts = payment_facts(&mut tx, &app, &account, &account_id, paying, created_at, Some(&id), now).await?;
    may_pay(Stage::Confirm, &facts, amount, &app.settings.new_device_cap, now).map_err(AppError::from)?;
    sqlx::query("UPDATE accounts SET balance = balance - $1 WHERE id = $2")
        .bind(amount.minor())
        .bind(&account_id)
        .execute(tx.conn())
        .await?;
    ledger::post(
        &mut tx,
        &app,
        "charge",
        &id,
        &[(ledger::wallet(&account_id), amount.checked_neg()?), (ledger::merchant(&merchant_id), amount)],
    )
    .await?;
    let notice = Notice::ChargeSucceeded {
        charge_id: id.clone(),
        amount: amount.minor(),
        currency: amount.currency().code().to_owned(),
        merchant_name: merchant_name.clone(),
    };
    feed::append_at(&mut tx, &app.issuer, feed::Head::of(&account)?, &account_id, &notice, now).await?;
    tx.announce(Change::Charge(id.clone()));
    tx.commit(&app.hub).await?;
    tracing::info!(charge = %id, "charge confirmed");
    Ok(Json(WalletCharge {
        id,
        status: confirming.to,
        amount,
        merchant_name,
        description: row.try_get("description")?,
        created_at,
        expires_at: from_ms(row.try_get("expires_at")?),
    }))
}

/// `POST /v1/wallet/charges/{id}/decline` (waiting for the shopper or held for review); with
/// `not_me`, the wallet is frozen in the same step.
pub async fn decline(
    State(app): State<AppState>,
    auth: SessionAuth,
    Path(id): Path<String>,
    Json(body): Json<DeclineCharge>,
) -> Result<Json<WalletCharge>> {
    let now = app.clock.now();
    let declining = Move::of(ChargeEvent::Decline)?;
    let mut tx = app.db.begin().await?;
    let row = sqlx::query(&format!(
        "UPDATE charges SET {}, auth_state = NULL, auth_request = NULL, decided_at = $1 \
         WHERE id = $2 AND account_id = $3 AND status IN ({}) \
         RETURNING merchant_id, amount, currency",
        declining.set(),
        declining.from
    ))
    .bind(to_ms(now))
    .bind(&id)
    .bind(&auth.account_id)
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(not_decidable(&app, &id, &auth.account_id).await);
    };
    let merchant_name: String = sqlx::query_scalar("SELECT name FROM merchants WHERE id = $1")
        .bind(row.try_get::<String, _>("merchant_id")?)
        .fetch_one(tx.conn())
        .await?;
    let notice = Notice::ChargeDeclined {
        charge_id: id.clone(),
        amount: row.try_get("amount")?,
        currency: row.try_get("currency")?,
        merchant_name,
        not_me: body.not_me,
    };
    feed::append(&mut tx, &app.issuer, &auth.account_id, &notice, now).await?;
    if body.not_me {
        crate::freezing::freeze_wallet(&mut tx, &app, &auth.account_id, "this wasn't me", Some(&auth.device_id))
            .await?;
    }
    tx.announce(Change::Charge(id.clone()));
    tx.commit(&app.hub).await?;
    let row = load(&app, &id).await?.ok_or_else(|| AppError::not_found("charge"))?;
    Ok(Json(wallet_view(&row)?))
}

/// Expires charges whose confirmation or review window has passed (all of them, or one), with a
/// notice each.
pub async fn expire_due(app: &AppState, only: Option<&str>) -> Result<usize> {
    let now = to_ms(app.clock.now());
    let expiring = Move::of(ChargeEvent::Expire)?;
    let due: Vec<(String, String)> = match only {
        Some(id) => {
            sqlx::query_as(&format!(
                "SELECT id, account_id FROM charges WHERE id = $1 AND status IN ({}) AND expires_at <= $2",
                expiring.from
            ))
            .bind(id)
            .bind(now)
            .fetch_all(app.db.pool())
            .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT id, account_id FROM charges WHERE status IN ({}) AND expires_at <= $1 LIMIT 500",
                expiring.from
            ))
            .bind(now)
            .fetch_all(app.db.pool())
            .await?
        }
    };
    let mut expired = 0;
    for (id, account_id) in due {
        let mut tx = app.db.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE charges SET {}, auth_state = NULL, auth_request = NULL, decided_at = $1 \
             WHERE id = $2 AND status IN ({}) AND expires_at <= $1 \
             RETURNING merchant_id, amount, currency",
            expiring.set(),
            expiring.from
        ))
        .bind(now)
        .bind(&id)
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = row else { continue };
        let merchant_name: String = sqlx::query_scalar("SELECT name FROM merchants WHERE id = $1")
            .bind(row.try_get::<String, _>("merchant_id")?)
            .fetch_one(tx.conn())
            .await?;
        let notice = Notice::ChargeExpired {
            charge_id: id.clone(),
            amount: row.try_get("amount")?,
            currency: row.try_get("currency")?,
            merchant_name,
        };
        feed::append(&mut tx, &app.issuer, &account_id, &notice, from_ms(now)).await?;
        tx.announce(Change::Charge(id.clone()));
        tx.commit(&app.hub).await?;
        expired += 1;
    }
    Ok(expired)
}

/// Keeps unconfirmed charges expiring on time, once a second, until `shutdown`.
pub async fn expiry_sweeper(app: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(StdDuration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = expire_due(&app, None).await {
                    tracing::warn!(code = ?e.code, "expiry sweep failed; will retry");
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
