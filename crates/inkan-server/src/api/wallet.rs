//! The wallet's own state: balance, limits, freeze, devices.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_api::wallet::{Device, Freeze, Limits, RemoveDevice, SetLimits, Wallet};

use crate::auth::SessionAuth;
use crate::error::{Json, Result};
use crate::flow::wallet;
use crate::freezing;
use crate::origin::Client;
use crate::state::AppState;

/// The wallet
///
/// Balance, frozen flag, and the limits with what has been spent against them.
#[utoipa::path(
    get,
    path = "/v1/wallet",
    operation_id = "get_wallet",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The wallet.", body = inkan_api::wallet::Wallet),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn show(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Wallet>> {
    Ok(Json(wallet::show(&app, &auth).await?))
}

/// Set the limits
///
/// Lowering applies at once. Raising any limit needs `step_up` (an assertion for a
/// `raise_limits` step-up) and applies after the cooling-off, as `pending`.
#[utoipa::path(
    put,
    path = "/v1/wallet/limits",
    operation_id = "set_limits",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::SetLimits,
    responses(
        (status = 200, description = "The limits as they now stand.", body = inkan_api::wallet::Limits),
        (status = 400, description = "`invalid_request`: limits in another currency, negative, not `per_charge ≤ daily ≤ monthly`, or a malformed body. `ceremony_expired`: the step-up ceremony is unknown, used or expired.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the step-up assertion did not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: a raise without a step-up, or with one for another action or account.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Lowering applies at once; raising needs a passkey step-up and applies after the cooling-off, with
// a notice either way.
pub async fn set_limits(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<SetLimits>,
) -> Result<Json<Limits>> {
    Ok(Json(wallet::set_limits(&app, &auth, &client, &body).await?))
}

/// Freeze the wallet
///
/// Any signed-in device may freeze, without a step-up: no charge can be created or confirmed
/// until the wallet is unfrozen. Every other device's sessions end.
#[utoipa::path(
    post,
    path = "/v1/wallet/freeze",
    operation_id = "freeze",
    tag = "wallet",
    security(("session" = [])),
    request_body(content = inkan_api::wallet::Freeze, description = "An empty object, `{}`."),
    responses(
        (status = 204, description = "The wallet is frozen (also if it already was)."),
        (status = 400, description = "`invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Any signed-in device, no step-up: stopping payments must be easy. Every other device's sessions
// end.
pub async fn freeze(
    State(app): State<AppState>,
    auth: SessionAuth,
    Json(Freeze {}): Json<Freeze>,
) -> Result<StatusCode> {
    let mut tx = app.db.begin().await?;
    freezing::freeze_wallet(&mut tx, &app, &auth.account_id, &auth.device_id, Some(&auth.device_id)).await?;
    tx.commit(&app.hub).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unfreeze the wallet
///
/// Needs an assertion for an `unfreeze` step-up, by a passkey of a settled device: one in the
/// wallet for 72 hours, and older than the wallet's most recent join. Otherwise a recovery code
/// is needed (`POST /v1/wallet/unfreeze/recovery-code`).
#[utoipa::path(
    post,
    path = "/v1/wallet/unfreeze",
    operation_id = "unfreeze",
    tag = "wallet",
    security(("session" = [])),
    request_body(content = inkan_api::wallet::Assertion, description = "The assertion answering an `unfreeze` step-up."),
    responses(
        (status = 204, description = "The wallet is not frozen (also if it was not)."),
        (status = 400, description = "`ceremony_expired`: the step-up ceremony is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action, account or device. `unfreeze_not_allowed`: this device joined less than 72 hours ago or is the wallet's most recent one.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A passkey step-up of a settled device (in the wallet for 72 hours, and older than its latest
// join); otherwise a recovery code is needed.
pub async fn unfreeze(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<inkan_api::wallet::Assertion>,
) -> Result<StatusCode> {
    wallet::unfreeze(&app, &auth, &client, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The wallet's devices
///
/// Every device ever enrolled, revoked ones included (`active: false`), oldest first.
#[utoipa::path(
    get,
    path = "/v1/wallet/devices",
    operation_id = "list_devices",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The devices.", body = [inkan_api::wallet::Device]),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn devices(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Vec<Device>>> {
    Ok(Json(wallet::devices(&app, &auth.account_id).await?))
}

/// Remove a device
///
/// Confirmed with a passkey of the device asking (a step-up for `remove_device`). In one step
/// the removed device's payment codes stop working, its passkeys are deleted and its sessions
/// end (its open feeds close). The wallet's last active device cannot be removed.
#[utoipa::path(
    post,
    path = "/v1/wallet/devices/{id}/remove",
    operation_id = "revoke_device",
    tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, description = "The device id (`dev_…`).")),
    request_body = inkan_api::wallet::RemoveDevice,
    responses(
        (status = 204, description = "The device is removed."),
        (status = 400, description = "`ceremony_expired`: the step-up is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the step-up assertion did not verify or is not of this session's device.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action or another device.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such active device in this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: this is the wallet's last active device.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Confirmed with a passkey of the session's device: in one transaction the device's codes stop
// working, its passkeys are deleted and its sessions end (its open feeds close within a second, on
// every instance); the other devices hear of it once that has committed. Never the last device.
pub async fn revoke_device(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<RemoveDevice>,
) -> Result<StatusCode> {
    wallet::revoke_device(&app, &auth, &client, &id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
