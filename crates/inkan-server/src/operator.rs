//! The operator's kill switches (brief rule 7): suspend charges, top-ups or enrolment for
//! everyone, or put one account on hold.
//!
//! A switch is a row in the database, and every request it stops reads that row itself: there is
//! no cache to refresh, so a switch holds on every server instance of the database from the
//! moment it commits (the rule asks for within 1 s).
//!
//! - `charges`: new charges (`POST /v1/charges`) and confirmations of pending ones. Declines,
//!   refunds and the expiry of pending charges go on: they move no money to a merchant.
//! - `top_ups`: top-ups and card registration (adding a card, its verification code).
//! - `enrolment`: new wallets and new devices joining a wallet. Sign-in goes on.
//! - An account on hold can neither pay, top up, add a card nor take a new device, until the
//!   operator lifts the hold; the shopper cannot. The shopper is told why, in the live feed.
//!
//! The operator calls `/v1/admin/...` with an operator key (`inkan-server admin operator
//! create`); the keys are stored as hashes, like terminal keys.

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::admin::{Service, Suspend, Suspension, Unlock, Unlocked};
use inkan_api::feed::Notice;
use inkan_core::operator::Action;
use sqlx::Row;

use crate::audit::{self, Entry};
use crate::auth::OperatorAuth;
use crate::clock::from_ms;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::{feed, store};

/// The longest reason the operator may give (it reaches the shopper for a hold).
pub const MAX_REASON_CHARS: usize = 200;

/// An operator's optional why (lifting a suspension, a hold or a lock): empty when none is given,
/// otherwise checked as [`reason`].
pub fn optional_reason(text: Option<&str>) -> Result<String> {
    match text.map(str::trim) {
        None | Some("") => Ok(String::new()),
        Some(text) => reason(text),
    }
}

/// An operator's why, checked: 1 to [`MAX_REASON_CHARS`] characters, no control characters.
pub fn reason(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid("reason: say why (it is kept, and shown to the shopper for a hold)"));
    }
    if text.chars().count() > MAX_REASON_CHARS || text.chars().any(char::is_control) {
        return Err(AppError::invalid(format!("reason: at most {MAX_REASON_CHARS} characters, no control characters")));
    }
    Ok(text.to_owned())
}

fn service_of(path: &str) -> Result<Service> {
    Service::parse(path).ok_or_else(|| {
        AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such service: charges, top_ups or enrolment")
    })
}

/// `entry` written in `tx` if the action went through (`changed` is its outcome).
async fn audited(tx: &mut Tx, app: &AppState, entry: Entry<'_>, changed: Result<bool>) -> Result<bool> {
    let changed = changed?;
    audit::record(tx.conn(), entry, app.clock.now()).await?;
    Ok(changed)
}

async fn finish(tx: Tx, app: &AppState, changed: Result<bool>) -> Result<()> {
    match changed {
        Ok(_) => tx.commit(&app.hub).await.map_err(AppError::from),
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// Sets or clears the hold inside `tx`, with a notice if it changed; `not_found` for an unknown
/// account.
async fn set_held(tx: &mut Tx, app: &AppState, account_id: &str, reason: Option<&str>) -> Result<bool> {
    if account_id.len() > 64 {
        return Err(AppError::not_found("account"));
    }
    // Takes the account row first (its lock on PostgreSQL), with the head of its history.
    let before = store::accounts::lock_hold(tx, account_id).await?.ok_or_else(|| AppError::not_found("account"))?;
    if before.try_get::<Option<String>, _>("held")?.as_deref() == reason {
        return Ok(false);
    }
    store::accounts::set_hold(tx, account_id, reason).await?;
    let notice = match reason {
        Some(reason) => Notice::AccountHeld { reason: reason.to_owned() },
        None => Notice::AccountReleased,
    };
    feed::append_at(tx, &app.issuer, feed::Head::of(&before)?, account_id, &notice, app.clock.now()).await?;
    if reason.is_some() {
        // Whoever is signed in, the shopper or someone with their session, starts again from a
        // passkey sign-in, and sees the hold there.
        crate::freezing::end_sessions_because(tx, app, account_id, crate::auth::Ending::All, "account_held").await?;
    }
    Ok(true)
}

/// How many flags `GET /v1/admin/flags` lists at most (the newest).
pub const MAX_FLAGS: i64 = 200;

/// The cards refused in a wallet because they are verified in others, newest refusal first, with
/// every wallet each is in (`funding`, `inkan_core::cards`).
pub async fn card_flags(db: &crate::db::Db) -> Result<Vec<inkan_api::admin::CardFlag>> {
    use inkan_api::admin::{CardFlag, FlaggedAccount};
    let flagged = store::cards::blocked_fingerprints(db.reads(), MAX_FLAGS).await?;
    let mut flags = Vec::with_capacity(flagged.len());
    for fingerprint in flagged {
        let rows = store::cards::with_fingerprint(db.reads(), &fingerprint).await?;
        let Some((_, _, brand, last4, _)) = rows.first().cloned() else { continue };
        let accounts = rows
            .into_iter()
            .map(|(account_id, status, _, _, at)| FlaggedAccount {
                account_id,
                status: if status == "blocked" { "refused".to_owned() } else { status },
                added_at: from_ms(at),
            })
            .collect();
        flags.push(CardFlag { fingerprint, brand, last4, accounts });
    }
    Ok(flags)
}

/// Every suspension, for an operator allowed to list them.
pub(crate) async fn suspensions(app: &AppState, operator: &OperatorAuth) -> Result<Vec<Suspension>> {
    operator.allow(Action::ListSuspensions)?;
    store::suspensions::all(app.db.reads()).await
}

/// Suspends the service named `service` (a path segment), with the operator's reason, audited.
pub(crate) async fn suspend(
    app: &AppState,
    operator: &OperatorAuth,
    service: &str,
    body: &Suspend,
) -> Result<Suspension> {
    operator.allow(Action::Suspend)?;
    let service = service_of(service)?;
    let reason = reason(&body.reason)?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::Suspend.as_str(),
        subject: service.as_str(),
        reason: &reason,
    };
    audit::record(tx.conn(), entry, now).await?;
    let suspension = store::suspensions::upsert(&mut tx, service, &reason, &operator.operator_id, now).await?;
    tx.commit(&app.hub).await?;
    tracing::warn!(service = service.as_str(), operator = %operator.operator_id, %reason, "service suspended");
    Ok(suspension)
}

/// Lifts the suspension of the service named `service`, audited with the operator's optional why.
pub(crate) async fn resume(app: &AppState, operator: &OperatorAuth, service: &str, why: Option<&str>) -> Result<()> {
    operator.allow(Action::Resume)?;
    let service = service_of(service)?;
    let why = optional_reason(why)?;
    let mut tx = app.db.begin().await?;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::Resume.as_str(),
        subject: service.as_str(),
        reason: &why,
    };
    audit::record(tx.conn(), entry, app.clock.now()).await?;
    let lifted = store::suspensions::delete(&mut tx, service).await?;
    tx.commit(&app.hub).await?;
    if lifted {
        tracing::warn!(service = service.as_str(), operator = %operator.operator_id, "service resumed");
    }
    Ok(())
}

/// Puts the account on hold with the operator's reason (the shopper is told, and signed out),
/// audited.
pub(crate) async fn hold(app: &AppState, operator: &OperatorAuth, account_id: &str, why: &str) -> Result<()> {
    operator.allow(Action::Hold)?;
    let reason = reason(why)?;
    let mut tx = app.db.begin().await?;
    let changed = set_held(&mut tx, app, account_id, Some(&reason)).await;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::Hold.as_str(),
        subject: account_id,
        reason: &reason,
    };
    let changed = audited(&mut tx, app, entry, changed).await;
    finish(tx, app, changed).await?;
    tracing::warn!(account = %account_id, operator = %operator.operator_id, %reason, "account held");
    Ok(())
}

/// Lifts the account's hold (the shopper is told), audited with the operator's optional why.
pub(crate) async fn release(
    app: &AppState,
    operator: &OperatorAuth,
    account_id: &str,
    why: Option<&str>,
) -> Result<()> {
    operator.allow(Action::Release)?;
    let why = optional_reason(why)?;
    let mut tx = app.db.begin().await?;
    let changed = set_held(&mut tx, app, account_id, None).await;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::Release.as_str(),
        subject: account_id,
        reason: &why,
    };
    let changed = audited(&mut tx, app, entry, changed).await;
    finish(tx, app, changed).await?;
    tracing::warn!(account = %account_id, operator = %operator.operator_id, "account hold lifted");
    Ok(())
}

/// Unlocks the failed tries counted against exactly one account, device, address or card number.
pub(crate) async fn unlock(app: &AppState, operator: &OperatorAuth, body: &Unlock) -> Result<Unlocked> {
    use inkan_core::attempts::Against;
    operator.allow(Action::Unlock)?;
    let why = optional_reason(body.reason.as_deref())?;
    let id_ok = |id: &str| !id.is_empty() && id.len() <= 64;
    let given = (body.account.as_deref(), body.device.as_deref(), body.address.as_deref(), body.card_number.as_deref());
    let (against, subject) = match given {
        (Some(account), None, None, None) if id_ok(account) => (Against::Account, account.to_owned()),
        (None, Some(device), None, None) if id_ok(device) => (Against::Device, device.to_owned()),
        (None, None, Some(address), None) => {
            let address = address.trim().parse().map_err(|_| AppError::invalid("address: an IPv4 or IPv6 address"))?;
            (Against::Address, crate::tries::address_subject(address))
        }
        (None, None, None, Some(number)) => {
            let digits = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect::<String>();
            if !(12..=19).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(AppError::invalid("card_number: 12 to 19 digits"));
            }
            (Against::CardNumber, crate::tries::card_number_key(&app.issuer, &digits))
        }
        _ => return Err(AppError::invalid("give exactly one of account, device (ids), address or card_number")),
    };
    let by = crate::attempts::Unlocker { operator_id: &operator.operator_id, reason: &why };
    let unlocked = crate::attempts::unlock(&app.db, against, &subject, by, app.clock.now()).await?;
    tracing::warn!(against = against.as_str(), operator = %operator.operator_id, unlocked, "failed tries unlocked");
    Ok(Unlocked { unlocked })
}
