//! The wallet's recovery codes from a signed-in device: lifting a freeze with one, replacing them
//! all with a step-up; over `flow::recovery`.

use axum::extract::State;
use axum::http::StatusCode;
use inkan_api::wallet::{RecoveryCodes, ReplaceRecoveryCodes, UnfreezeWithRecoveryCode};

use crate::auth::SessionAuth;
use crate::error::{Json, Result};
use crate::flow::recovery;
use crate::origin::Client;
use crate::state::AppState;

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
    recovery::unfreeze(&app, &auth, &client, &body.recovery_code).await?;
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
    let recovery_codes = recovery::replace(&app, &auth, &client, &body).await?;
    Ok((StatusCode::CREATED, Json(RecoveryCodes { recovery_codes })))
}
