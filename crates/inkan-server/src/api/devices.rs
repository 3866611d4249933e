//! A second (third, …) device joins a wallet only with the approval of a passkey of the wallet,
//! given through a signed-in device, or with a recovery code. Then it makes its own passkey.
//! Recovery codes also freeze a wallet from anywhere.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use inkan_api::devices::{ApproveJoin, BeginJoin, FinishJoin, FreezeWithRecoveryCode, Join, Joined, SubmitDevice};
use inkan_api::wallet::RegistrationChallenge;

use crate::auth::SessionAuth;
use crate::error::{Json, Result};
use crate::flow::{joins, recovery};
use crate::origin::Client;
use crate::state::AppState;

/// The joining device's signature of a step (header `inkan-device-signature`), if sent as text.
fn device_signature(headers: &HeaderMap) -> Option<&str> {
    headers.get(inkan_api::DEVICE_SIGNATURE_HEADER).and_then(|v| v.to_str().ok())
}

/// Ask to join a wallet
///
/// Step 1 for a new device: opens a join, valid for 15 minutes, in `awaiting_device`.
#[utoipa::path(
    post,
    path = "/v1/device-joins",
    operation_id = "begin_device_join",
    tag = "devices",
    request_body = inkan_api::devices::BeginJoin,
    responses(
        (status = 201, description = "The join.", body = inkan_api::devices::Join),
        (status = 400, description = "`invalid_request`: a malformed account id or body.", body = inkan_api::ErrorBody),
        (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such account.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn begin(
    State(app): State<AppState>,
    client: Client,
    Json(body): Json<BeginJoin>,
) -> Result<(StatusCode, Json<Join>)> {
    Ok((StatusCode::CREATED, Json(joins::begin(&app, &client, &body).await?)))
}

/// A join's state
///
/// The new device polls this while it waits for approval, signing each request once it has
/// submitted its key.
#[utoipa::path(
    get,
    path = "/v1/device-joins/{id}",
    operation_id = "get_device_join",
    tag = "devices",
    params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
    responses(
        (status = 200, description = "The join.", body = inkan_api::devices::Join),
        (status = 401, description = "`unauthorized`: the joining device's signature is missing or does not verify.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The new device polls this while it waits for approval, signing each request once its key is
// submitted.
pub async fn show(State(app): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Result<Json<Join>> {
    Ok(Json(joins::show(&app, &id, device_signature(&headers)).await?))
}

/// Submit the new device's key
///
/// Step 2: the device key with its proof of possession over the join id. With a recovery code
/// the join is approved at once (and the code used up); a wrong code ends the join (`rejected`).
/// Without one, the join waits for a signed-in device's approval.
#[utoipa::path(
    post,
    path = "/v1/device-joins/{id}/device",
    operation_id = "submit_join_device",
    tag = "devices",
    params(("id" = String, Path, description = "The join id (`join_…`).")),
    request_body = inkan_api::devices::SubmitDevice,
    responses(
        (status = 200, description = "The join, now `approved` or `awaiting_approval`.", body = inkan_api::devices::Join),
        (status = 400, description = "`invalid_request`: the device key is not an uncompressed P-256 point, its proof does not verify, its name is not 1 to 64 characters, or the body is malformed.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: the recovery code is not valid for this wallet; the join is now `rejected`.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the join is not waiting for a device (or has expired), or this device key is already registered.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn submit(
    State(app): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<SubmitDevice>,
) -> Result<Json<Join>> {
    Ok(Json(joins::submit(&app, &client, &id, &body).await?))
}

/// Joins waiting for approval
///
/// New devices asking to join this wallet, oldest first.
#[utoipa::path(
    get,
    path = "/v1/wallet/device-joins",
    operation_id = "list_device_joins",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The joins in `awaiting_approval`.", body = [inkan_api::devices::Join]),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Requests waiting for this wallet's approval.
pub async fn waiting(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Vec<Join>>> {
    Ok(Json(joins::waiting(&app, &auth.account_id).await?))
}

/// Approve a join with a passkey
///
/// Step 3 without a recovery code: needs an assertion for an `add_device` step-up.
#[utoipa::path(
    post,
    path = "/v1/wallet/device-joins/{id}/approve",
    operation_id = "approve_device_join",
    tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, description = "The join id (`join_…`).")),
    request_body = inkan_api::devices::ApproveJoin,
    responses(
        (status = 200, description = "The join, now `approved`.", body = inkan_api::devices::Join),
        (status = 400, description = "`ceremony_expired`: the step-up ceremony is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action or account.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join of this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the join is not waiting for approval (or has expired).", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A passkey of the wallet says yes.
pub async fn approve(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<ApproveJoin>,
) -> Result<Json<Join>> {
    Ok(Json(joins::approve(&app, &auth, &client, &id, &body).await?))
}

/// Start the new device's passkey
///
/// Step 4, once the join is `approved`: passkey creation options for the wallet's account.
/// No request body.
#[utoipa::path(
    post,
    path = "/v1/device-joins/{id}/passkey/challenge",
    operation_id = "begin_join_passkey",
    tag = "devices",
    params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
    responses(
        (status = 200, description = "The passkey creation options and their ceremony.", body = inkan_api::wallet::RegistrationChallenge),
        (status = 401, description = "`unauthorized`: the joining device's signature is missing or does not verify.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the join is not `approved`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// An approved device makes its own passkey.
pub async fn passkey_challenge(
    State(app): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RegistrationChallenge>> {
    Ok(Json(joins::passkey_challenge(&app, &client, &id, device_signature(&headers)).await?))
}

/// Finish joining
///
/// The new passkey and the device are added to the wallet together, and a session opens.
#[utoipa::path(
    post,
    path = "/v1/device-joins/{id}/passkey",
    operation_id = "finish_device_join",
    tag = "devices",
    params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
    request_body = inkan_api::devices::FinishJoin,
    responses(
        (status = 201, description = "The device is in the wallet, signed in.", body = inkan_api::devices::Joined),
        (status = 400, description = "`ceremony_expired`: the ceremony is unknown, used, expired or for another join. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`passkey_rejected`: the passkey attestation did not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the join is not `approved` (or has expired), or the device key is already registered.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The passkey and the device are added together.
pub async fn finish(
    State(app): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<FinishJoin>,
) -> Result<(StatusCode, Json<Joined>)> {
    let joined = joins::finish(&app, &client, &id, device_signature(&headers), &body).await?;
    Ok((StatusCode::CREATED, Json(joined)))
}

/// Freeze a wallet with a recovery code
///
/// For a lost phone: needs no session and no passkey, only a recovery code of the wallet,
/// which is not used up (freezing gives no access).
#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/freeze",
    operation_id = "freeze_with_recovery_code",
    tag = "accounts",
    params(("id" = String, Path, description = "The account id (`acct_…`).")),
    request_body = inkan_api::devices::FreezeWithRecoveryCode,
    responses(
        (status = 204, description = "The wallet is frozen (also if it already was)."),
        (status = 400, description = "`invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: the recovery code is not a valid, unused code of this account.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A recovery code freezes the wallet (and is not used up).
pub async fn freeze_with_recovery_code(
    State(app): State<AppState>,
    client: Client,
    Path(account_id): Path<String>,
    Json(body): Json<FreezeWithRecoveryCode>,
) -> Result<StatusCode> {
    recovery::freeze(&app, &client, &account_id, &body.recovery_code).await?;
    Ok(StatusCode::NO_CONTENT)
}
