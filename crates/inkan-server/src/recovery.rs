//! Recovery codes: ten made at enrolment and shown once, stored only as hashes. One lets a new
//! device join at once, or lifts a freeze, and is used up; any valid one freezes the wallet from
//! anywhere (a lost phone) without being used up. A passkey step-up replaces them all. A wrong
//! code is a notice to every device of the wallet.

use axum::extract::State;
use axum::http::StatusCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::{RecoveryCodes, ReplaceRecoveryCodes, StepUpAction, UnfreezeWithRecoveryCode};

use crate::accounts::require_step_up;
use crate::auth::SessionAuth;
use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::{AppError, Json, Result};
use crate::feed;
use crate::origin::Client;
use crate::ratelimit::Flow;
use crate::secrets::{hash_secret, new_recovery_code, normalize_recovery_code};
use crate::state::AppState;

/// How many recovery codes an account has.
pub const RECOVERY_CODES: usize = 10;

/// Makes a fresh set of codes for `account_id` inside `tx` and returns them (to show once).
pub async fn issue(tx: &mut Tx, app: &AppState, account_id: &str) -> Result<Vec<String>> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = new_recovery_code(&app.rng)?;
        sqlx::query("INSERT INTO recovery_codes (code_hash, account_id, used_at) VALUES ($1, $2, NULL)")
            .bind(hash_secret(&normalize_recovery_code(&code)))
            .bind(account_id)
            .execute(tx.conn())
            .await?;
        codes.push(code);
    }
    Ok(codes)
}

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

/// Tells the wallet's devices that a wrong recovery code was given for it, in a transaction of
/// its own (the one that tried the code has been rolled back). An unknown account is left alone.
pub async fn rejected(app: &AppState, account_id: &str) -> Result<()> {
    if account_id.len() > 64 {
        return Ok(());
    }
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_optional(app.db.pool())
        .await?;
    if exists.is_none() {
        return Ok(());
    }
    let mut tx = app.db.begin().await?;
    feed::append(&mut tx, &app.issuer, account_id, &Notice::RecoveryCodeRejected, app.clock.now()).await?;
    tx.commit(&app.hub).await?;
    Ok(())
}

/// The refusal of a wrong code, after its notice.
pub async fn wrong_code(app: &AppState, account_id: &str, message: &'static str) -> AppError {
    if let Err(e) = rejected(app, account_id).await {
        tracing::warn!(error = ?e, %account_id, "could not record a wrong recovery code");
    }
    AppError::unauthorized(message)
}

/// `POST /v1/wallet/unfreeze/recovery-code`: a recovery code (used up) lifts the freeze, whichever
/// device the session is on.
pub async fn unfreeze(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<UnfreezeWithRecoveryCode>,
) -> Result<StatusCode> {
    client.limit(&app, Flow::RecoveryCode, Some(&auth.account_id))?;
    let mut tx = app.db.begin().await?;
    sqlx::query("UPDATE accounts SET frozen = frozen WHERE id = $1").bind(&auth.account_id).execute(tx.conn()).await?;
    if !use_code(&mut tx, &app, &auth.account_id, &body.recovery_code).await? {
        tx.rollback().await?;
        return Err(wrong_code(&app, &auth.account_id, "that recovery code is not valid for this wallet").await);
    }
    crate::wallet::set_frozen(&mut tx, &app, &auth.account_id, false, "").await?;
    tx.commit(&app.hub).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/wallet/recovery-codes`: with a passkey step-up, ten new codes, shown this once; every
/// older code, used or not, stops working.
pub async fn replace(
    State(app): State<AppState>,
    auth: SessionAuth,
    Json(body): Json<ReplaceRecoveryCodes>,
) -> Result<(StatusCode, Json<RecoveryCodes>)> {
    let mut tx = app.db.begin().await?;
    sqlx::query("UPDATE accounts SET frozen = frozen WHERE id = $1").bind(&auth.account_id).execute(tx.conn()).await?;
    require_step_up(&app, &mut tx, &auth, StepUpAction::ReplaceRecoveryCodes, Some(&body.step_up)).await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(&auth.account_id).execute(tx.conn()).await?;
    let recovery_codes = issue(&mut tx, &app, &auth.account_id).await?;
    let count = u32::try_from(recovery_codes.len()).unwrap_or(u32::MAX);
    feed::append(&mut tx, &app.issuer, &auth.account_id, &Notice::RecoveryCodesReplaced { count }, app.clock.now())
        .await?;
    tx.commit(&app.hub).await?;
    Ok((StatusCode::CREATED, Json(RecoveryCodes { recovery_codes })))
}
