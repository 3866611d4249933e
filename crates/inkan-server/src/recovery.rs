//! Recovery codes: ten made at enrolment and shown once, stored only as hashes. One lets a new
//! device join at once, or lifts a freeze, and is used up; any valid one freezes the wallet from
//! anywhere (a lost phone) without being used up. A passkey step-up replaces them all. A wrong
//! code is a notice to every device of the wallet.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::{RecoveryCodes, ReplaceRecoveryCodes, StepUpAction, UnfreezeWithRecoveryCode};

use inkan_core::attempts::{Purpose, Secret};

use crate::accounts::{account_exists, require_step_up};
use crate::attempts;
use crate::auth::SessionAuth;
use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::{AppError, Json, Result};
use crate::feed;
use crate::origin::Client;
use crate::ratelimit::Flow;
use crate::secrets::{hash_secret, normalize_recovery_code};
use crate::state::AppState;

/// Whether `code` is an unused recovery code of `account_id` (freezing does not use it up).
pub async fn is_valid(app: &AppState, account_id: &str, code: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT account_id FROM recovery_codes WHERE code_hash = $1 AND account_id = $2 AND used_at IS NULL",
    )
    .bind(hash_secret(&normalize_recovery_code(code)))
    .bind(account_id)
    .fetch_optional(app.db.pool())
    .await?;
    Ok(found.is_some())
}

/// Uses up a recovery code of `account_id` inside `tx`; a notice tells how many are left.
/// `false` (nothing written) if it is not an unused code of this wallet.
pub async fn use_code(tx: &mut Tx, app: &AppState, account_id: &str, code: &str) -> Result<bool> {
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE code_hash = $2 AND account_id = $3 AND used_at IS NULL",
    )
    .bind(to_ms(app.clock.now()))
    .bind(hash_secret(&normalize_recovery_code(code)))
    .bind(account_id)
    .execute(tx.conn())
    .await?;
    if used.rows_affected() != 1 {
        return Ok(false);
    }
    let remaining: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL")
            .bind(account_id)
            .fetch_one(tx.conn())
            .await?;
    let remaining = u32::try_from(remaining).unwrap_or(0);
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
    let mut conn = app.db.pool().acquire().await?;
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
    let exists = account_id.len() <= 64 && matches!(account_exists(app.db.pool(), account_id).await, Ok(true));
    let failed = crate::tries::FailedTry {
        secret: Secret::RecoveryCode,
        account_id: exists.then(|| account_id.to_owned()),
        counters: tries(account_id, device_id, address),
    };
    let refusal = AppError::unauthorized(message).failed_try(failed);
    if exists { refusal.with_notice(account_id, Notice::RecoveryCodeRejected) } else { refusal }
}

/// Unfreeze with a recovery code
///
/// The recovery code is used up, and the wallet's devices are told. A wrong code changes
/// nothing but a notice to every device.
#[utoipa::path(
    post,
    path = "/v1/wallet/unfreeze/recovery-code",
    operation_id = "unfreeze_with_recovery_code",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::UnfreezeWithRecoveryCode,
    responses(
        (status = 204, description = "The wallet is not frozen (also if it was not); the code is used up."),
        (status = 400, description = "`invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended, or the recovery code is not an unused code of this wallet.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A recovery code (used up) lifts the freeze, whichever device the session is on.
pub async fn unfreeze(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<UnfreezeWithRecoveryCode>,
) -> Result<StatusCode> {
    client.limit(&app, Flow::RecoveryCode, Some(&auth.account_id))?;
    check_tries(&app, &auth.account_id, Some(&auth.device_id), client.address(), Purpose::Access).await?;
    let mut tx = app.db.begin().await?;
    crate::store::accounts::lock_unclosed(&mut tx, &auth.account_id).await?;
    if !use_code(&mut tx, &app, &auth.account_id, &body.recovery_code).await? {
        tx.rollback().await?;
        let message = "that recovery code is not valid for this wallet";
        return Err(wrong_code(&app, &auth.account_id, Some(&auth.device_id), client.address(), message).await);
    }
    crate::freezing::set_frozen(&mut tx, &app, &auth.account_id, false, "").await?;
    tx.commit(&app.hub).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the recovery codes
///
/// With a `replace_recovery_codes` step-up: ten new codes, shown only in this answer; every
/// older code stops working, and every device is told.
#[utoipa::path(
    post,
    path = "/v1/wallet/recovery-codes",
    operation_id = "replace_recovery_codes",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::ReplaceRecoveryCodes,
    responses(
        (status = 201, description = "The new codes.", body = inkan_api::wallet::RecoveryCodes),
        (status = 400, description = "`ceremony_expired`: the step-up is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify or is not of this session's device.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action, account or device.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// With a passkey step-up, ten new codes, shown this once; every older code, used or not, stops
// working.
pub async fn replace(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<ReplaceRecoveryCodes>,
) -> Result<(StatusCode, Json<RecoveryCodes>)> {
    let mut tx = app.db.begin().await?;
    sqlx::query("UPDATE accounts SET frozen = frozen WHERE id = $1").bind(&auth.account_id).execute(tx.conn()).await?;
    require_step_up(&app, &mut tx, &auth, &client, StepUpAction::ReplaceRecoveryCodes, Some(&body.step_up)).await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(&auth.account_id).execute(tx.conn()).await?;
    let recovery_codes = crate::store::recovery_codes::issue(&mut tx, &app, &auth.account_id).await?;
    let count = u32::try_from(recovery_codes.len()).unwrap_or(u32::MAX);
    feed::append(&mut tx, &app.issuer, &auth.account_id, &Notice::RecoveryCodesReplaced { count }, app.clock.now())
        .await?;
    tx.commit(&app.hub).await?;
    Ok((StatusCode::CREATED, Json(RecoveryCodes { recovery_codes })))
}
