//! Counters of failed tries of a secret (card details, passkeys, recovery codes) by card number,
//! account, device and client address, across every wallet and every instance
//! (`inkan_core::attempts` decides; this keeps the counts in the database and words the answers).
//!
//! Two ways to count, for two kinds of secret:
//! - A card try is [`reserve`]d: counted as failed in a transaction of its own before the provider
//!   is asked, and taken back only if it succeeds, so tries sent at once get no more than the
//!   limit between them (a card's details can be guessed).
//! - A passkey assertion or a recovery code is [`check`]ed first, and a failure is counted after
//!   the request's own transaction has rolled back ([`AppError::failed_try`], recorded by
//!   `refusals::record`). Neither can be guessed (a signature, an 80-bit code), and the rate
//!   limits bound what runs at once; a success on the money path costs one read, no write.

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_core::attempts::{Against, AttemptPolicy, Purpose, Secret, Standing, locks};
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, PendingFailure, Result};
use crate::store;
use crate::tries::Counter;

/// A try refused without being made: one of its counters is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub secret: Secret,
    pub against: Against,
    /// When the lock ends on its own; `None`: when the operator lifts it.
    pub until: Option<OffsetDateTime>,
}

impl Locked {
    /// The refusal: `card_locked` for a card, `attempts_locked` for the others.
    pub fn refusal(self) -> AppError {
        let message: &'static str = match (self.secret, self.against) {
            (Secret::Card, Against::CardNumber) => {
                "this card has been tried too many times with wrong details: it is locked; contact support"
            }
            (Secret::Card, Against::Account) => {
                "too many failed card attempts: adding cards is locked for this wallet; contact support"
            }
            (Secret::Card, Against::Device | Against::Session) => {
                "too many failed card attempts on this device: adding cards is locked; contact support"
            }
            (Secret::Card, Against::Address) => "too many failed card attempts from this network: try again later",
            (Secret::Passkey, _) => "too many refused passkey confirmations: passkeys are locked for a while",
            (Secret::RecoveryCode, _) => "too many wrong recovery codes: recovery codes are locked for a while",
        };
        let code = if self.secret == Secret::Card { ErrorCode::CardLocked } else { ErrorCode::AttemptsLocked };
        AppError { locked_until: self.until, ..AppError::new(StatusCode::FORBIDDEN, code, message) }
    }
}

/// Counts a failed try in `tx` (the refusal's own, after the request's): the refusal worded again
/// when its counters warn or lock, with the notice that tells the wallet's devices.
pub async fn record_failure(
    tx: &mut Tx,
    app: &crate::state::AppState,
    pending: PendingFailure,
) -> Result<Option<AppError>> {
    let PendingFailure { failed, status, code, message } = pending;
    let now = app.clock.now();
    let counted = count_failure(tx, &app.settings.attempts, &failed.counters, now).await?;
    if let (Some(token_hash), Some(account_id)) = (&counted.session_locked, failed.account_id.as_deref()) {
        // The session's last try: it ends (a stolen one with it), and the device stays unlocked.
        let ending = crate::auth::Ending::Only(token_hash);
        if crate::auth::end_sessions(tx, account_id, ending).await? > 0 {
            let notice = Notice::SessionsEnded { count: 1, reason: "passkey_refused".to_owned() };
            crate::feed::append(tx, &app.issuer, account_id, &notice, now).await?;
        }
        let ended = AppError::unauthorized(
            "too many refused passkey confirmations in this session: it has ended; sign in again with your passkey",
        );
        return Ok(Some(AppError { tries_left: Some(0), ..ended }));
    }
    let (error, notice) = worded(AppError::new(status, code, message), failed.secret, counted.standing);
    if let (Some(notice), Some(account_id)) = (notice, failed.account_id.as_deref()) {
        crate::feed::append(tx, &app.issuer, account_id, &notice, now).await?;
    }
    Ok((error.tries_left.is_some()).then_some(error))
}

/// Where each counter stands, in `conn`: the first that is locked refuses the try, if its lock
/// refuses tries for `purpose` (`inkan_core::attempts::locks`).
pub async fn check(
    conn: &mut crate::db::Conn,
    policy: &AttemptPolicy,
    counters: &[Counter],
    purpose: Purpose,
    now: OffsetDateTime,
) -> Result<std::result::Result<(), Locked>> {
    let locking: Vec<&Counter> = counters.iter().filter(|c| locks(c.secret, c.against, purpose)).collect();
    let counts = store::attempt_counters::counts(conn, &locking).await?;
    for (counter, count) in locking.into_iter().zip(counts) {
        let Some(store::attempt_counters::Count { failures, last_failed_at }) = count else { continue };
        let forgotten = policy.forgotten_by(counter.secret, counter.against, now).map_or(i64::MIN, to_ms);
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        if last_failed_at > forgotten && !policy.admits(failures) {
            let until = match policy.standing(counter.secret, counter.against, failures, from_ms(last_failed_at)) {
                Standing::Locked { until } => until,
                _ => None,
            };
            return Ok(Err(Locked { secret: counter.secret, against: counter.against, until }));
        }
    }
    Ok(Ok(()))
}

/// Where one more failure left its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The gravest of their standings.
    pub standing: Standing,
    /// The token hash of a session whose counter this failure locked: the session ends.
    pub session_locked: Option<String>,
}

/// Counts one more failure on each counter in `tx`.
pub async fn count_failure(
    tx: &mut Tx,
    policy: &AttemptPolicy,
    counters: &[Counter],
    now: OffsetDateTime,
) -> Result<Counted> {
    let mut counted = Counted { standing: Standing::Counted { left: policy.max_failures }, session_locked: None };
    for counter in counters {
        let failures = bump(tx, policy, counter, now).await?;
        let standing = policy.standing(counter.secret, counter.against, failures, now);
        if counter.against == Against::Session && matches!(standing, Standing::Locked { .. }) {
            counted.session_locked = Some(counter.subject.clone());
        } else {
            counted.standing = counted.standing.graver(standing);
        }
    }
    Ok(counted)
}

/// One more failure on `counter`, in `tx`: the failures it now remembers.
async fn bump(tx: &mut Tx, policy: &AttemptPolicy, counter: &Counter, now: OffsetDateTime) -> Result<u32> {
    // Failures last counted at or before this instant are forgotten.
    let forgotten = policy.forgotten_by(counter.secret, counter.against, now).map_or(i64::MIN, to_ms);
    let failures = store::attempt_counters::bump(tx, counter, to_ms(now), forgotten).await?;
    Ok(u32::try_from(failures).unwrap_or(u32::MAX))
}

/// A card try, counted as failed before it is made (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// Where the counters stand if the try fails.
    pub if_failed: Standing,
}

/// Counts one more failed try on each counter, in `tx` (a row lock on PostgreSQL, the single
/// writer on SQLite); the caller commits, and takes the try back if it succeeds. A counter that
/// was already at the limit refuses (the caller then rolls back).
pub async fn reserve(
    tx: &mut Tx,
    policy: &AttemptPolicy,
    counters: &[Counter],
    now: OffsetDateTime,
) -> Result<std::result::Result<Reserved, Locked>> {
    if let Err(locked) = check(tx.conn(), policy, counters, Purpose::Access, now).await? {
        return Ok(Err(locked));
    }
    let mut if_failed = Standing::Counted { left: policy.max_failures };
    for counter in counters {
        let failures = bump(tx, policy, counter, now).await?;
        let before = failures.saturating_sub(1);
        if !policy.admits(before) {
            // A try counted since the check above took the last one (they raced): locked from
            // about now.
            let until = match policy.standing(counter.secret, counter.against, before, now) {
                Standing::Locked { until } => until,
                _ => None,
            };
            return Ok(Err(Locked { secret: counter.secret, against: counter.against, until }));
        }
        if_failed = if_failed.graver(policy.standing(counter.secret, counter.against, failures, now));
    }
    Ok(Ok(Reserved { if_failed }))
}

/// Takes back the try reserved on each counter: it succeeded.
pub async fn take_back(tx: &mut Tx, counters: &[Counter]) -> Result<()> {
    for counter in counters {
        store::attempt_counters::take_back(tx, counter).await?;
    }
    Ok(())
}

/// Who lifts a lock, and why (empty if they gave no reason), for the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct Unlocker<'a> {
    pub operator_id: &'a str,
    pub reason: &'a str,
}

/// Lifts the locks of every secret against one subject (the operator's `admin unlock`): their
/// failures are forgotten, and the audit entry of `by` is written in the same transaction (naming
/// the subject, but never a card number's key). Whether there was anything to lift.
pub async fn unlock(
    db: &crate::db::Db,
    against: Against,
    subject: &str,
    by: Unlocker<'_>,
    now: OffsetDateTime,
) -> Result<bool> {
    let named = format!("{} {}", against.as_str(), if against == Against::CardNumber { "(keyed)" } else { subject });
    let audit = crate::audit::Entry {
        operator_id: by.operator_id,
        action: inkan_core::operator::Action::Unlock.as_str(),
        subject: &named,
        reason: by.reason,
    };
    // A `Tx`, as every write: on SQLite it joins the writer's batch instead of waiting for it.
    let mut tx = db.begin().await?;
    let deleted = store::attempt_counters::delete_of_subject(tx.conn(), against.as_str(), subject).await?;
    crate::audit::record(tx.conn(), audit, now).await?;
    // Nothing is announced: no feed is told of an unlock.
    tx.commit(&crate::hub::Hub::default()).await?;
    Ok(deleted)
}

/// Deletes the counters whose failures are forgotten at `now` (housekeeping): an address's and a
/// passkey's or recovery code's, once their memory has passed. A card's are kept until lifted.
pub async fn sweep(tx: &mut crate::db::Tx, policy: &AttemptPolicy, now: OffsetDateTime) -> Result<u64> {
    let mut deleted = 0;
    for secret in Secret::ALL {
        for against in Against::ALL {
            let Some(forgotten) = policy.forgotten_by(secret, against, now) else { continue };
            deleted +=
                store::attempt_counters::delete_forgotten(tx, secret.as_str(), against.as_str(), to_ms(forgotten))
                    .await?;
        }
    }
    Ok(deleted)
}

/// `error`, the refusal of a failed try, worded for where its counters now stand (one try left, or
/// locked), with the notices that tell the wallet's devices.
pub fn worded(error: AppError, secret: Secret, standing: Standing) -> (AppError, Option<Notice>) {
    let secret_name = secret.as_str().to_owned();
    match standing {
        Standing::Counted { .. } => (error, None),
        Standing::LastTry => {
            let message = format!("{}; one more failure locks it", error.message);
            let notice = Notice::TriesRunningOut { secret: secret_name, left: 1 };
            (AppError { message: message.into(), tries_left: Some(1), ..error }, Some(notice))
        }
        Standing::Locked { until } => {
            let message = match until {
                Some(until) => format!(
                    "{}; that was the last try: locked until {}",
                    error.message,
                    until.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
                ),
                None => format!("{}; that was the last try: locked, contact support", error.message),
            };
            let notice = Notice::TriesLocked { secret: secret_name, until };
            (AppError { message: message.into(), tries_left: Some(0), locked_until: until, ..error }, Some(notice))
        }
    }
}
