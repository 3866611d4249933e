//! Charges: made by a terminal from a payment code, held until the shopper confirms with a
//! passkey assertion bound to that charge, then paid in the ledger in the same transaction; or
//! declined, expired or refunded. Every decision is the core's (`inkan_core::payment::admit`,
//! `may_pay`, `CodeRefusals`, the charge's moves); the SQL is the store's.

use std::time::Duration as StdDuration;

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::merchant::{Charge, CreateCharge};
use inkan_api::wallet::{ConfirmCharge, PendingCharge, WalletCharge};
use inkan_core::limits::LimitError;
use inkan_core::payment::{Admission, CodeRefusals, PaymentFacts, PaymentRefusal, Stage, admit, may_pay};
use inkan_core::payment_code::PaymentCodeError;
use inkan_core::region::Country;
use inkan_core::risk::HoldReason;
use inkan_core::tally::Counted;
use inkan_core::{ChargeEvent, ChargeStatus, Money};
use sqlx::Row;
use sqlx::any::AnyRow;
use webauthn_rs::prelude::{
    AuthenticationResult, PasskeyAuthentication, PublicKeyCredential, RequestChallengeResponse,
};

use crate::auth::{SessionAuth, TerminalAuth};
use crate::charge_sql::Move;
use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::flow::codes::{PayingDevice, paying_device};
use crate::flow::tally::{self, Moved};
use crate::hub::Change;
use crate::origin::{Client, Guarded};
use crate::secrets::new_ordered_id;
use crate::state::AppState;
use crate::store::charges::{currency_of, merchant_view, status_of, wallet_view};
use crate::{activity, feed, freezing, idempotency, ledger, origin, passkeys, store, switches};

/// Largest single charge the API accepts at all, before any wallet limit (¥10,000,000).
const MAX_AMOUNT: i64 = 10_000_000;
/// Longest wait for a decision a terminal may ask for, in seconds.
const MAX_WAIT_SECONDS: u64 = 60;

/// The answer to a payment the wallet may not make.
impl From<PaymentRefusal> for AppError {
    fn from(refusal: PaymentRefusal) -> AppError {
        match refusal {
            PaymentRefusal::DeviceRemoved => {
                AppError::new(StatusCode::FORBIDDEN, ErrorCode::DeviceRevoked, refusal.to_string())
            }
            PaymentRefusal::Held => switches::held(),
            PaymentRefusal::Frozen => {
                AppError::new(StatusCode::FORBIDDEN, ErrorCode::WalletFrozen, "the shopper's wallet is frozen")
            }
            PaymentRefusal::Limit(e) => e.into(),
            PaymentRefusal::InsufficientFunds => AppError::new(
                StatusCode::PAYMENT_REQUIRED,
                ErrorCode::InsufficientFunds,
                "the wallet's balance is too low",
            ),
            PaymentRefusal::Money(e) => AppError::invalid(e.to_string()),
        }
    }
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

/// The charge as its merchant sees it, if there is one with this id.
pub(crate) async fn merchant_charge(app: &AppState, id: &str) -> Result<Option<Charge>> {
    store::charges::load(app.db.reads(), id).await?.as_ref().map(merchant_view).transpose()
}

// ---------------------------------------------------------------------------------------------
// A terminal makes a charge.

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

/// A terminal's request for a charge, as a retry must repeat it.
struct Request<'a> {
    terminal: &'a TerminalAuth,
    key: &'a str,
    hash: String,
}

impl Request<'_> {
    /// The answer an earlier request with this key got: the same charge if the body was the same,
    /// `409 idempotency_conflict` if not; `None` if there was none.
    async fn answered(&self, app: &AppState) -> Result<Option<Charge>> {
        let Some(kept) = store::idempotency::kept(app.db.reads(), &self.terminal.terminal_id, self.key).await? else {
            return Ok(None);
        };
        if kept.request_hash != self.hash {
            return Err(idempotency::conflict());
        }
        Ok(Some(serde_json::from_str(&kept.response)?))
    }
}

/// A charge from a shopper's payment code, shown to the terminal, with its `Idempotency-Key`. It
/// waits for the shopper's passkey (`pending_confirmation`), or, when a velocity rule sets it
/// aside, for the operator's review first (`held_for_review`); the shopper is told either way. A
/// retry with the same key gets the same charge.
pub(crate) async fn create(app: &AppState, terminal: &TerminalAuth, key: &str, body: &CreateCharge) -> Result<Charge> {
    let request = Request { terminal, key, hash: idempotency::request_hash(body)? };
    if let Some(charge) = request.answered(app).await? {
        return Ok(charge);
    }
    let (amount, description) = requested(body)?;
    let now = app.clock.now();
    switches::ensure_running(app.db.reads(), Service::Charges).await?;
    let device = paying_device(app, &body.payment_code, now).await?;
    // A genuine code, shown to a terminal in a country that is not served (a code relayed abroad):
    // refused, and the shopper told.
    let country = origin::admit_terminal(app, &terminal.country, &device.account_id)?;
    // The passkey challenge bound to this charge. Read before the transaction: a flow never holds
    // a transaction's connection while it waits for a second one from the pool. Only a passkey of
    // the device that showed the code can pay it.
    let challenge = passkeys::challenge(app, &device.account_id, &device.id).await?;
    let mut tx = app.db.begin().await?;
    // The account before the device, as everywhere (`db`: the lock order).
    let account = store::accounts::lock_for_payment(&mut tx, &device.account_id).await?;
    if !store::devices::use_code(&mut tx, &device.id, device.counter).await? {
        // A concurrent retry with the same key may have used the code a moment ago: answer as it
        // did (its transaction came first: ours waited on the account row it locked, and the
        // rollback returns once it is durable and visible).
        tx.rollback().await?;
        return request.answered(app).await?.ok_or_else(|| PaymentCodeError::CounterNotFresh.into());
    }
    let admission = match admission(&mut tx, app, &account, &device, amount, country, now).await? {
        Ok(admission) => admission,
        Err(refusal) => {
            // A refused charge leaves the code alive, up to its third refusal.
            tx.rollback().await?;
            note_code_refusal(app, &device.id, device.counter).await?;
            let refused = AppError::from(refusal);
            crate::telemetry::charge_refused(refused.code);
            return Err(refused);
        }
    };
    let made = Made::new(app, terminal, admission, amount, description, now)?;
    if !record(&mut tx, app, &request, &made, (&device, &account), challenge).await? {
        // A request with the same key (another body: another code) made its charge first.
        tx.rollback().await?;
        return request.answered(app).await?.ok_or_else(|| AppError::internal("idempotency key vanished"));
    }
    if let Err(e) = tx.commit(&app.hub).await {
        // A retry with the same key that raced us and won made the same charge: answer as it did.
        return request.answered(app).await?.ok_or(e.into());
    }
    let charge = made.charge;
    crate::telemetry::charge(charge.status);
    tracing::info!(charge = %charge.id, merchant = %terminal.merchant_id, amount = charge.amount, status = %charge.status, reason = made.hold.map(HoldReason::as_str), "charge made");
    Ok(charge)
}

/// What the core makes of a new charge ([`admit`]), with the wallet's account row locked in `tx`
/// (`account`) and its spending and recent activity read there.
async fn admission(
    tx: &mut Tx,
    app: &AppState,
    account: &AnyRow,
    device: &PayingDevice,
    amount: Money,
    country: Country,
    now: time::OffsetDateTime,
) -> Result<std::result::Result<Admission, PaymentRefusal>> {
    let wallet = wallet_of(account, &device.account_id)?;
    if wallet.currency != amount.currency() {
        return Err(AppError::invalid(format!("this wallet holds {}", wallet.currency)));
    }
    let paying = DeviceFacts { active: true, enrolled_at: device.enrolled_at };
    let facts = payment_facts(tx, app, account, &wallet, paying, now, None, now).await?;
    let rules = &app.settings.risk;
    let activity = activity::recent(tx, rules, &device.account_id, &device.id, device.enrolled_at, now).await?;
    Ok(admit(&facts, &activity, amount, country, &app.settings.new_device_cap, rules, now))
}

/// A charge the core admitted: as its merchant sees it, and why it was set aside for review.
struct Made {
    charge: Charge,
    hold: Option<HoldReason>,
}

impl Made {
    fn new(
        app: &AppState,
        terminal: &TerminalAuth,
        admission: Admission,
        amount: Money,
        description: Option<String>,
        now: time::OffsetDateTime,
    ) -> Result<Made> {
        let (status, expires_at, hold) = match admission {
            Admission::AwaitShopper => (ChargeStatus::PendingConfirmation, now + app.settings.charge_ttl, None),
            Admission::Review(reason) => (ChargeStatus::HeldForReview, now + app.settings.review_window, Some(reason)),
        };
        let charge = Charge {
            id: new_ordered_id("ch", now, &app.rng)?,
            status,
            amount: amount.minor(),
            currency: amount.currency(),
            description,
            merchant_id: terminal.merchant_id.clone(),
            merchant_name: terminal.merchant_name.clone(),
            // As stored, in milliseconds: the answer, a retry's, the push and every read agree.
            created_at: from_ms(to_ms(now)),
            expires_at: from_ms(to_ms(expires_at)),
            decided_at: None,
            refunded_at: None,
        };
        Ok(Made { charge, hold })
    }

    /// What the shopper is told of it.
    fn notice(&self) -> Notice {
        let charge = &self.charge;
        let (charge_id, amount) = (charge.id.clone(), charge.amount);
        let (currency, merchant_name) = (charge.currency.code().to_owned(), charge.merchant_name.clone());
        match self.hold {
            None => Notice::ChargePending { charge_id, amount, currency, merchant_name },
            Some(reason) => {
                let reason = reason.as_str().to_owned();
                Notice::ChargeHeld { charge_id, amount, currency, merchant_name, reason }
            }
        }
    }
}

/// Writes the admitted charge in `tx`: its row, with the passkey challenge bound to it; the answer
/// a retry with the terminal's key gets; the shopper's notice. `false` (with nothing kept: the
/// caller rolls back) when a concurrent request with the same key kept its answer first.
async fn record(
    tx: &mut Tx,
    app: &AppState,
    request: &Request<'_>,
    made: &Made,
    (device, account): (&PayingDevice, &AnyRow),
    (passkey_request, auth_state): (RequestChallengeResponse, PasskeyAuthentication),
) -> Result<bool> {
    let charge = &made.charge;
    let row = store::charges::NewCharge {
        charge,
        terminal_id: &request.terminal.terminal_id,
        account_id: &device.account_id,
        device_id: &device.id,
        code_counter: device.counter,
        hold: made.hold.map(HoldReason::as_str),
        auth_request: serde_json::to_string(&passkey_request)?,
        auth_state: serde_json::to_string(&auth_state)?,
    };
    store::charges::insert(tx, &row).await?;
    let answer = serde_json::to_string(charge)?;
    let (terminal_id, what) = (&request.terminal.terminal_id, (request.hash.as_str(), charge.id.as_str()));
    if !store::idempotency::keep(tx, terminal_id, request.key, what, &answer, to_ms(charge.created_at)).await? {
        return Ok(false);
    }
    let (amount, at) = (Money::new(charge.currency, charge.amount), charge.created_at);
    let wallet = wallet_of(account, &device.account_id)?;
    let moved = (Counted { created_at: at, amount }, Moved::Made(charge.status));
    write_account(tx, app, (account, &wallet), moved, &made.notice(), Money::zero(charge.currency), at).await?;
    if made.hold.is_none() {
        // Its feeds push the charge with its passkey request from memory, without reading it.
        let pending = PendingCharge { charge: WalletCharge::from(charge), public_key: passkey_request };
        tx.attach_pending(&device.account_id, pending);
    }
    tx.announce(Change::Charge(charge.id.clone()));
    Ok(true)
}

/// Counts a refused charge against the payment code `counter` of `device_id`; on the code's
/// last allowed refusal ([`CodeRefusals::after_refusal`]), kills it and every older code of the
/// device, as paying with it would. A code used or killed meanwhile is left as it is.
async fn note_code_refusal(app: &AppState, device_id: &str, counter: u32) -> Result<()> {
    let mut tx = app.db.begin().await?;
    let Some((refused_counter, refusals)) = store::devices::refusals_if_alive(&mut tx, device_id, counter).await?
    else {
        tx.rollback().await?;
        return Ok(());
    };
    let previous = match (refused_counter.map(u32::try_from), u32::try_from(refusals)) {
        (Some(Ok(counter)), Ok(refusals)) => Some(CodeRefusals { counter, refusals }),
        _ => None,
    };
    let (count, dead) = CodeRefusals::after_refusal(previous, counter);
    store::devices::set_refusals(&mut tx, device_id, count.counter, count.refusals, dead).await?;
    tx.commit(&app.hub).await?;
    if dead {
        tracing::info!(device = %device_id, counter, "payment code refused too often: dead");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// What a payment is judged on, when it is made and when it is confirmed.

/// The paying device, as [`payment_facts`] needs it.
#[derive(Debug, Clone, Copy)]
struct DeviceFacts {
    active: bool,
    enrolled_at: time::OffsetDateTime,
}

impl DeviceFacts {
    /// The paying device as it stands now, read in `tx`; a device gone is not active.
    async fn read(tx: &mut Tx, device_id: &str, now: time::OffsetDateTime) -> Result<DeviceFacts> {
        Ok(match store::devices::standing(tx, device_id).await? {
            Some((active, enrolled_at)) => DeviceFacts { active, enrolled_at: from_ms(enrolled_at) },
            None => DeviceFacts { active: false, enrolled_at: now },
        })
    }
}

/// The wallet of the account row `account` (`store::accounts::lock_for_payment`'s), with its
/// running totals.
fn wallet_of<'a>(account: &AnyRow, account_id: &'a str) -> Result<tally::Wallet<'a>> {
    let currency = currency_of(account)?;
    Ok(tally::Wallet { id: account_id, currency, kept: store::accounts::tally_of(account, currency)? })
}

/// What [`may_pay`] judges, read inside `tx` once the account is locked (`account`: the row of
/// `store::accounts::lock_for_payment`, `wallet` its totals): for a charge made `at`, not
/// counting the charge `except` itself.
#[allow(clippy::too_many_arguments, reason = "each is one fact of a different source")]
async fn payment_facts(
    tx: &mut Tx,
    app: &AppState,
    account: &AnyRow,
    wallet: &tally::Wallet<'_>,
    device: DeviceFacts,
    at: time::OffsetDateTime,
    except: Option<(&str, Counted)>,
    now: time::OffsetDateTime,
) -> Result<PaymentFacts> {
    let currency = wallet.currency;
    let sums = tally::sums(tx.conn(), app, wallet, at, except, now).await?;
    Ok(PaymentFacts {
        device_active: device.active,
        device_enrolled_at: device.enrolled_at,
        frozen: account.try_get::<i64, _>("frozen")? != 0,
        held: account.try_get::<Option<String>, _>("held")?.is_some(),
        limits: serde_json::from_str(&account.try_get::<String, _>("limits")?)?,
        balance: Money::new(currency, account.try_get("balance")?),
        pending_elsewhere: sums.open,
        spent: sums.spent,
    })
}

/// A charge row moved by one of the store's writes (`created_at, amount, currency` returned), as
/// the wallet's totals count it.
pub(crate) fn counted(row: &AnyRow) -> Result<Counted> {
    let amount = Money::new(currency_of(row)?, row.try_get("amount")?);
    Ok(Counted { created_at: from_ms(row.try_get("created_at")?), amount })
}

// ---------------------------------------------------------------------------------------------
// The shopper decides: confirm or decline.

/// Why a charge could not be decided: gone, someone else's, or no longer pending.
async fn not_decidable(app: &AppState, id: &str, account_id: &str) -> AppError {
    match store::charges::load(app.db.reads(), id).await {
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

/// The passkey assertion for the charge `id` pays it. The session comes first (nothing about a
/// charge is told to a caller without one of its wallet); then the assertion, which must come from
/// a passkey of the device whose code made the charge. What may have changed since the charge was
/// made is judged again in the paying transaction ([`may_pay`] at [`Stage::Confirm`]): the
/// device, a freeze or hold, the limits, the balance.
pub(crate) async fn confirm(
    app: &AppState,
    auth: &SessionAuth,
    client: &Client,
    id: &str,
    body: &ConfirmCharge,
) -> Result<WalletCharge> {
    client.admit_for(app, &auth.account_id, Guarded::Payment)?;
    let started = std::time::Instant::now();
    let now = app.clock.now();
    switches::ensure_running(app.db.reads(), Service::Charges).await?;
    // The assertion is checked against the charge's challenge before the transaction: the check
    // needs no database, and no transaction waits on it. It counts only if the transaction below
    // still finds the charge pending (a charge's challenge never changes while it is) and the
    // credential's counter moves forward there. The charge's merchant and device never change, so
    // they are read here too, and so is the credential: the transaction then writes, each write
    // conditional on what was read.
    let confirming = Move::of(ChargeEvent::Confirm)?;
    let found = match id.len() > 64 {
        true => None,
        false => store::charges::confirmable(app.db.reads(), &confirming, id, &auth.account_id, now).await?,
    };
    let Some(found) = found else {
        return Err(not_decidable(app, id, &auth.account_id).await);
    };
    // A passkey of the device whose code made the charge, still in the wallet.
    let device = passkeys::ActingDevice {
        account_id: &auth.account_id,
        device_id: &found.device_id,
        session: Some(auth.token_hash()),
    };
    let (verified, counter) = check_assertion(app, device, client, &found.auth_state, &body.credential).await?;

    let mut tx = app.db.begin().await?;
    // Taking the charge out of `pending_confirmation` and its challenge out of the row is the
    // first write: a replayed assertion finds nothing to confirm.
    let Some(row) = store::charges::decide(&mut tx, &confirming, id, &auth.account_id, now).await? else {
        tx.rollback().await?;
        return Err(not_decidable(app, id, &auth.account_id).await);
    };
    let amount = Money::new(currency_of(&row)?, row.try_get("amount")?);
    let created_at = from_ms(row.try_get("created_at")?);
    // Judged again, with the account locked: what changed since the charge was made counts. The
    // account is locked before the passkey, as everywhere (`db`: the lock order).
    let account = store::accounts::lock_for_payment(&mut tx, &auth.account_id).await?;
    if !passkeys::apply_counter(&mut tx, &counter).await? {
        // Another assertion with the credential committed since it was read: judge this one
        // against what that one left.
        let refused = |e: AppError| passkeys::note_refusal(e, device, client.address(), "payment");
        passkeys::record_assertion(&mut tx, device, &verified).await.map_err(refused)?;
    }
    let paying = DeviceFacts::read(&mut tx, &found.device_id, now).await?;
    let (wallet, charge) = (wallet_of(&account, &auth.account_id)?, Counted { created_at, amount });
    let facts = payment_facts(&mut tx, app, &account, &wallet, paying, created_at, Some((id, charge)), now).await?;
    may_pay(Stage::Confirm, &facts, amount, &app.settings.new_device_cap, now).map_err(AppError::from)?;
    let merchant = (row.try_get::<String, _>("merchant_id")?, found.merchant_name);
    pay(&mut tx, app, (id, &wallet, charge), &merchant, (&account, now)).await?;
    tx.commit(&app.hub).await?;
    crate::telemetry::confirmed(started.elapsed(), now - created_at);
    tracing::info!(charge = %id, "charge confirmed");
    Ok(WalletCharge {
        id: id.to_owned(),
        status: confirming.to,
        amount,
        merchant_name: merchant.1,
        description: row.try_get("description")?,
        created_at,
        expires_at: from_ms(row.try_get("expires_at")?),
    })
}

/// The shopper's assertion checked against the charge's challenge (`auth_state`), before the
/// paying transaction, and the write of the credential's counter it calls for. A refusal counts
/// against the device's tries.
async fn check_assertion(
    app: &AppState,
    device: passkeys::ActingDevice<'_>,
    client: &Client,
    auth_state: &Option<String>,
    credential: &PublicKeyCredential,
) -> Result<(AuthenticationResult, passkeys::CounterUpdate)> {
    let state: PasskeyAuthentication = serde_json::from_str(auth_state.as_deref().unwrap_or_default())?;
    let refused = |e: AppError| passkeys::note_refusal(e, device, client.address(), "payment");
    passkeys::check_tries(app, &mut app.db.acquire().await?, device, client.address()).await?;
    let verified = passkeys::verify_assertion_off_workers(app, state, credential.clone()).await.map_err(refused)?;
    let counter = passkeys::counter_update(app.db.reads(), device, &verified).await.map_err(refused)?;
    Ok((verified, counter))
}

/// The money of a confirmed charge moves in `tx`: from the wallet's balance to the merchant, in
/// the ledger, with the shopper's notice (`account`: the locked row, for the history's head) and
/// the wallet's running totals, written to the account row in one statement.
async fn pay(
    tx: &mut Tx,
    app: &AppState,
    (id, wallet, charge): (&str, &tally::Wallet<'_>, Counted),
    (merchant_id, merchant_name): &(String, String),
    (account, now): (&AnyRow, time::OffsetDateTime),
) -> Result<()> {
    let (account_id, amount) = (wallet.id, charge.amount);
    let entries = [(ledger::wallet(account_id), amount.checked_neg()?), (ledger::merchant(merchant_id), amount)];
    ledger::post(tx, app, "charge", id, &entries).await?;
    let notice = Notice::ChargeSucceeded {
        charge_id: id.to_owned(),
        amount: amount.minor(),
        currency: amount.currency().code().to_owned(),
        merchant_name: merchant_name.clone(),
    };
    let moved = (charge, Moved::Event(ChargeEvent::Confirm));
    write_account(tx, app, (account, wallet), moved, &notice, amount.checked_neg()?, now).await?;
    tx.announce(Change::Charge(id.to_owned()));
    Ok(())
}

/// What a move of a charge (`moved`) changes on its wallet's account row, locked in `tx`
/// (`account`, `wallet`: the row and its totals as read there), written in one statement: the
/// shopper's `notice` appended to the history, the balance changed by `balance_change`, the
/// running totals moved with the charge.
async fn write_account(
    tx: &mut Tx,
    app: &AppState,
    (account, wallet): (&AnyRow, &tally::Wallet<'_>),
    (charge, moved): (Counted, Moved),
    notice: &Notice,
    balance_change: Money,
    now: time::OffsetDateTime,
) -> Result<()> {
    let head = feed::append_unheaded(tx, &app.issuer, feed::Head::of(account)?, wallet.id, notice, now).await?;
    let tally = tally::next(tx, app, wallet, charge, moved, now).await?;
    let write = store::accounts::PaymentWrite { balance_change, tally: &tally, head: &head };
    store::accounts::write_payment(tx, wallet.id, &write).await
}

/// As [`write_account`], after a move (`event`) of a charge written in `tx` without the wallet's
/// row locked: locks it first (after the charge's row, as every move of an existing charge does).
pub(crate) async fn lock_and_write_account(
    tx: &mut Tx,
    app: &AppState,
    account_id: &str,
    (charge, event): (Counted, ChargeEvent),
    notice: &Notice,
    balance_change: Money,
    now: time::OffsetDateTime,
) -> Result<()> {
    let account = store::accounts::lock_for_payment(tx, account_id).await?;
    let wallet = wallet_of(&account, account_id)?;
    let moved = (charge, Moved::Event(event));
    write_account(tx, app, (&account, &wallet), moved, notice, balance_change, now).await
}

/// The shopper declines the charge `id` (waiting for them or held for review); with `not_me`, the
/// wallet is frozen in the same step, every other device signed out.
pub(crate) async fn decline(app: &AppState, auth: &SessionAuth, id: &str, not_me: bool) -> Result<WalletCharge> {
    let now = app.clock.now();
    let declining = Move::of(ChargeEvent::Decline)?;
    let mut tx = app.db.begin().await?;
    let Some(row) = store::charges::decide(&mut tx, &declining, id, &auth.account_id, now).await? else {
        tx.rollback().await?;
        return Err(not_decidable(app, id, &auth.account_id).await);
    };
    let merchant_name = store::charges::merchant_name(&mut tx, &row.try_get::<String, _>("merchant_id")?).await?;
    let notice = Notice::ChargeDeclined {
        charge_id: id.to_owned(),
        amount: row.try_get("amount")?,
        currency: row.try_get("currency")?,
        merchant_name,
        not_me,
    };
    let (moved, zero) = ((counted(&row)?, ChargeEvent::Decline), Money::zero(currency_of(&row)?));
    lock_and_write_account(&mut tx, app, &auth.account_id, moved, &notice, zero, now).await?;
    if not_me {
        freezing::freeze_wallet(&mut tx, app, &auth.account_id, "this wasn't me", Some(&auth.device_id)).await?;
    }
    tx.announce(Change::Charge(id.to_owned()));
    tx.commit(&app.hub).await?;
    crate::telemetry::charge(declining.to);
    let row = store::charges::load(app.db.reads(), id).await?.ok_or_else(|| AppError::not_found("charge"))?;
    wallet_view(&row)
}

/// The wallet's charges waiting for the shopper, each with its passkey request bound to exactly
/// that charge.
pub(crate) async fn pending(app: &AppState, account_id: &str) -> Result<Vec<PendingCharge>> {
    expire_due(app, None).await?;
    store::charges::waiting(app.db.reads(), account_id, None, app.clock.now()).await
}

// ---------------------------------------------------------------------------------------------
// The merchant's side once a charge is made: waiting for the decision, refunding.

/// The merchant's charge `id`; with `wait` seconds (at most [`MAX_WAIT_SECONDS`]), answered once
/// it is decided (paid, declined or expired: neither held for review nor waiting for the shopper)
/// or the time is up.
pub(crate) async fn wait_for_decision(app: &AppState, terminal: &TerminalAuth, id: &str, wait: u64) -> Result<Charge> {
    let wait = wait.min(MAX_WAIT_SECONDS);
    let mut changes = app.hub.subscribe(Change::Charge(id.to_owned()));
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(wait);
    loop {
        expire_due(app, Some(id)).await?;
        let row = store::charges::load(app.db.reads(), id).await?.ok_or_else(|| AppError::not_found("charge"))?;
        if row.try_get::<String, _>("merchant_id")? != terminal.merchant_id {
            return Err(AppError::not_found("charge"));
        }
        let charge = merchant_view(&row)?;
        if !charge.status.is_open() || tokio::time::Instant::now() >= deadline {
            return Ok(charge);
        }
        // Wake at the next change of this charge, at its expiry, or at the deadline.
        let until_expiry = (charge.expires_at - app.clock.now()).max(time::Duration::ZERO);
        let expiry = tokio::time::Instant::now() + StdDuration::try_from(until_expiry).unwrap_or_default();
        let wake = deadline.min(expiry + StdDuration::from_millis(10));
        let _ = tokio::time::timeout_at(wake, changes.changed()).await;
    }
}

/// The whole amount of the merchant's charge `id` back to the shopper. Refunding a whole charge is
/// idempotent: a retry whose first answer was lost gets the refunded charge again, and the money
/// moved once.
pub(crate) async fn refund(app: &AppState, terminal: &TerminalAuth, id: &str) -> Result<Charge> {
    let now = app.clock.now();
    let refunding = Move::of(ChargeEvent::Refund)?;
    let mut tx = app.db.begin().await?;
    let Some(row) = store::charges::refund(&mut tx, &refunding, id, &terminal.merchant_id, now).await? else {
        tx.rollback().await?;
        let existing = store::charges::load(app.db.reads(), id)
            .await?
            .filter(|r| r.try_get::<String, _>("merchant_id").ok().as_deref() == Some(terminal.merchant_id.as_str()));
        return match existing {
            None => Err(AppError::not_found("charge")),
            Some(r) if status_of(&r)? == ChargeStatus::Refunded => merchant_view(&r),
            Some(r) => Err(AppError::invalid_state(format!("a {} charge cannot be refunded", status_of(&r)?))),
        };
    };
    let account_id: String = row.try_get("account_id")?;
    let amount = Money::new(currency_of(&row)?, row.try_get("amount")?);
    let entries =
        [(ledger::merchant(&terminal.merchant_id), amount.checked_neg()?), (ledger::wallet(&account_id), amount)];
    ledger::post(&mut tx, app, "refund", id, &entries).await?;
    let notice = Notice::ChargeRefunded {
        charge_id: id.to_owned(),
        amount: amount.minor(),
        currency: amount.currency().code().to_owned(),
        merchant_name: terminal.merchant_name.clone(),
    };
    let moved = (counted(&row)?, ChargeEvent::Refund);
    lock_and_write_account(&mut tx, app, &account_id, moved, &notice, amount, now).await?;
    tx.announce(Change::Charge(id.to_owned()));
    tx.commit(&app.hub).await?;
    crate::telemetry::charge(refunding.to);
    let row = store::charges::load(app.db.reads(), id).await?.ok_or_else(|| AppError::not_found("charge"))?;
    merchant_view(&row)
}

// ---------------------------------------------------------------------------------------------
// Time runs out.

/// Expires charges whose confirmation or review window has passed (all of them, or one), with a
/// notice each.
pub(crate) async fn expire_due(app: &AppState, only: Option<&str>) -> Result<usize> {
    let now = app.clock.now();
    let expiring = Move::of(ChargeEvent::Expire)?;
    let mut expired = 0;
    for (id, account_id) in store::charges::due_to_expire(app.db.reads(), &expiring, only, now).await? {
        let mut tx = app.db.begin().await?;
        let Some(row) = store::charges::expire(&mut tx, &expiring, &id, now).await? else { continue };
        let merchant_name = store::charges::merchant_name(&mut tx, &row.try_get::<String, _>("merchant_id")?).await?;
        let notice = Notice::ChargeExpired {
            charge_id: id.clone(),
            amount: row.try_get("amount")?,
            currency: row.try_get("currency")?,
            merchant_name,
        };
        let (moved, zero) = ((counted(&row)?, ChargeEvent::Expire), Money::zero(currency_of(&row)?));
        lock_and_write_account(&mut tx, app, &account_id, moved, &notice, zero, now).await?;
        tx.announce(Change::Charge(id.clone()));
        tx.commit(&app.hub).await?;
        crate::telemetry::charge(expiring.to);
        expired += 1;
    }
    Ok(expired)
}

/// Keeps unconfirmed charges expiring on time, once a second, until `shutdown`.
pub(crate) async fn expiry_sweeper(app: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
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
