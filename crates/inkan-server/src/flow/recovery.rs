//! Recovery codes: ten made at enrolment and shown once, stored only as hashes. One lets a new
//! device join at once, or lifts a freeze, and is used up; any valid one freezes the wallet from
//! anywhere (a lost phone) without being used up. A passkey step-up replaces them all. A wrong
//! code is a notice to every device of the wallet.

use std::net::IpAddr;

use inkan_api::feed::Notice;
use inkan_core::attempts::{Purpose, Secret};

use crate::attempts;
use crate::auth::SessionAuth;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::flow::accounts::{account_exists, require_step_up};
use crate::origin::Client;
use crate::ratelimit::Flow;
use crate::state::AppState;
use crate::{feed, store};

/// Whether `code` is an unused recovery code of `account_id` (freezing does not use it up).
pub async fn is_valid(app: &AppState, account_id: &str, code: &str) -> Result<bool> {
    store::recovery_codes::is_unused(app.db.reads(), account_id, code).await
}

/// Uses up a recovery code of `account_id` inside `tx`; a notice tells how many are left.
/// `false` (nothing written) if it is not an unused code of this wallet.
pub async fn use_code(tx: &mut Tx, app: &AppState, account_id: &str, code: &str) -> Result<bool> {
    if !store::recovery_codes::use_up(tx, account_id, code, app.clock.now()).await? {
        return Ok(false);
    }
    let remaining = store::recovery_codes::unused_count(tx, account_id).await?;
    feed::append(tx, &app.issuer, account_id, &Notice::RecoveryCodeUsed { remaining }, app.clock.now()).await?;
    Ok(true)
}

/// The counters of a recovery-code try for `account_id` (from `device`, when a session names one)
/// from `address`.
fn tries(account_id: &str, device_id: Option<&str>, address: IpAddr) -> Vec<crate::tries::Counter> {
    crate::tries::Counter::of(Secret::RecoveryCode, account_id, device_id, address)
}

/// Refuses, with `attempts_locked`, a recovery-code try that a locked counter forbids for
/// `purpose` (a lock of the wallet does not stop a freeze: `inkan_core::attempts::locks`).
pub async fn check_tries(
    app: &AppState,
    account_id: &str,
    device_id: Option<&str>,
    address: IpAddr,
    purpose: Purpose,
) -> Result<()> {
    let counters = tries(account_id, device_id, address);
    let mut conn = app.db.acquire().await?;
    attempts::check(&mut conn, &app.settings.attempts, &counters, purpose, app.clock.now())
        .await?
        .map_err(attempts::Locked::refusal)
}

/// The refusal of a wrong code: a failed try of the wallet, the device and the address, and a
/// notice to the wallet's devices (an account id that is no wallet's is told nothing, and answered
/// alike). Both are written once the request's own transaction is over.
pub async fn wrong_code(
    app: &AppState,
    account_id: &str,
    device_id: Option<&str>,
    address: IpAddr,
    message: &'static str,
) -> AppError {
    let exists = account_id.len() <= 64 && matches!(account_exists(app.db.reads(), account_id).await, Ok(true));
    let failed = crate::tries::FailedTry {
        secret: Secret::RecoveryCode,
        account_id: exists.then(|| account_id.to_owned()),
        counters: tries(account_id, device_id, address),
    };
    let refusal = AppError::unauthorized(message).failed_try(failed);
    if exists { refusal.with_notice(account_id, Notice::RecoveryCodeRejected) } else { refusal }
}

/// A recovery code (used up) lifts the wallet's freeze, whichever device the session is on; a
/// wrong one is a failed try and a notice.
pub(crate) async fn unfreeze(app: &AppState, auth: &SessionAuth, client: &Client, code: &str) -> Result<()> {
    client.limit(app, Flow::RecoveryCode, Some(&auth.account_id))?;
    check_tries(app, &auth.account_id, Some(&auth.device_id), client.address(), Purpose::Access).await?;
    let mut tx = app.db.begin().await?;
    store::accounts::lock_unclosed(&mut tx, &auth.account_id).await?;
    if !use_code(&mut tx, app, &auth.account_id, code).await? {
        tx.rollback().await?;
        let message = "that recovery code is not valid for this wallet";
        return Err(wrong_code(app, &auth.account_id, Some(&auth.device_id), client.address(), message).await);
    }
    crate::freezing::set_frozen(&mut tx, app, &auth.account_id, false, "").await?;
    tx.commit(&app.hub).await?;
    Ok(())
}

/// A recovery code freezes the wallet `account_id` from anywhere (a lost phone), without being used
/// up; a wrong one is a failed try and a notice.
pub(crate) async fn freeze(app: &AppState, client: &Client, account_id: &str, code: &str) -> Result<()> {
    client.limit(app, Flow::RecoveryCode, Some(account_id))?;
    check_tries(app, account_id, None, client.address(), Purpose::Freeze).await?;
    if !is_valid(app, account_id, code).await? {
        let message = "that recovery code is not valid for this wallet";
        return Err(wrong_code(app, account_id, None, client.address(), message).await);
    }
    let mut tx = app.db.begin().await?;
    crate::freezing::freeze_wallet(&mut tx, app, account_id, "recovery code", None).await?;
    tx.commit(&app.hub).await?;
    Ok(())
}

/// With a `replace_recovery_codes` step-up, ten new codes (returned, to show this once); every
/// older code, used or not, stops working, and every device is told.
pub(crate) async fn replace(
    app: &AppState,
    auth: &SessionAuth,
    client: &Client,
    body: &inkan_api::wallet::ReplaceRecoveryCodes,
) -> Result<Vec<String>> {
    let mut tx = app.db.begin().await?;
    store::accounts::lock(&mut tx, &auth.account_id).await?;
    let action = inkan_api::wallet::StepUpAction::ReplaceRecoveryCodes;
    require_step_up(app, &mut tx, auth, client, action, Some(&body.step_up)).await?;
    store::recovery_codes::delete_all(&mut tx, &auth.account_id).await?;
    let recovery_codes = store::recovery_codes::issue(&mut tx, app, &auth.account_id).await?;
    let count = u32::try_from(recovery_codes.len()).unwrap_or(u32::MAX);
    feed::append(&mut tx, &app.issuer, &auth.account_id, &Notice::RecoveryCodesReplaced { count }, app.clock.now())
        .await?;
    tx.commit(&app.hub).await?;
    Ok(recovery_codes)
}
