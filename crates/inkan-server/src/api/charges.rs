//! The charges' HTTP handlers: the merchant's (make a charge, wait for it, refund it) and the
//! wallet's (the charges waiting for it, confirm, decline). Each extracts the request, calls its
//! flow (`flow::charges`) and answers; the description of each operation is on its handler.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use inkan_api::merchant::{Charge, CreateCharge, RefundCharge};
use inkan_api::wallet::{ConfirmCharge, DeclineCharge, PendingCharge, WalletCharge};
use serde::Deserialize;

use crate::auth::{SessionAuth, TerminalAuth};
use crate::error::{Json, Query, Result};
use crate::flow::charges as flow;
use crate::idempotency;
use crate::origin::Client;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    #[serde(default)]
    wait: Option<u64>,
}

/// Create a charge from a payment code
///
/// Verifies the shopper's payment code (signature, validity window, counter), checks the wallet's
/// limits and balance, and holds the charge in `pending_confirmation` until the shopper confirms
/// it with a passkey or it expires (`expires_at`). A charge that trips a velocity rule (many
/// charges in minutes, a top-up spent at once from a new device, two countries within the hour,
/// a large first payment from a new device) is made `held_for_review` instead: tell the
/// shopper that Inkan is checking the payment, and wait on it (`GET /v1/charges/{id}?wait=`);
/// Inkan's operator approves it (it becomes `pending_confirmation`, with a new `expires_at`) or
/// declines it (`declined`), or it expires at `expires_at`. A retry with the same `Idempotency-Key` and the
/// same body answers with the same charge; with another body, `409 idempotency_conflict`.
#[utoipa::path(
    post,
    path = "/v1/charges",
    operation_id = "create_charge",
    tag = "merchant",
    security(("terminal_key" = [])),
    params(
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
         description = "The terminal's retry key for this charge: 1 to 255 printable ASCII characters, no spaces. Required."),
    ),
    request_body = inkan_api::merchant::CreateCharge,
    responses(
        (status = 201, description = "The charge, waiting for the shopper's confirmation (`pending_confirmation`) or held for review (`held_for_review`); also the answer to a retry.", body = inkan_api::merchant::Charge),
        (status = 400, description = "`invalid_request`: missing or malformed `Idempotency-Key`, amount outside 1 to 10,000,000, a description over 200 characters or with control characters, a currency the wallet does not hold, or a malformed body. `payment_code_invalid`: the code is malformed, its signature does not verify, or its device is not active.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked terminal key.", body = inkan_api::ErrorBody),
        (status = 402, description = "`insufficient_funds`: the balance, less charges still pending, is too low.", body = inkan_api::ErrorBody),
        (status = 403, description = "`wallet_frozen`: the shopper's wallet is frozen. `account_held`: the operator has put the shopper's account on hold. `charges_suspended`: the operator has suspended charges.", body = inkan_api::ErrorBody),
        (status = 409, description = "`payment_code_used`: this code (or a newer one of the device) was already used, or three charges from it were refused (insufficient funds, a limit, a freeze or a hold): a code cannot be used to probe the wallet. `idempotency_conflict`: the key was used with a different body.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 422, description = "`payment_code_expired`: outside the code's validity window. `limit_exceeded`: over one of the shopper's limits (which one, and what is left, is told to the shopper only).", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn create(
    State(app): State<AppState>,
    terminal: TerminalAuth,
    headers: HeaderMap,
    Json(body): Json<CreateCharge>,
) -> Result<(StatusCode, Json<Charge>)> {
    let key = idempotency::key(&headers)?;
    let charge = flow::create(&app, &terminal, &key, &body).await?;
    Ok((StatusCode::CREATED, Json(charge)))
}

/// Get a charge, optionally waiting for the shopper
///
/// With `wait`, the answer is held until the charge is decided (confirmed, declined or
/// expired: neither `held_for_review` nor `pending_confirmation`) or `wait` seconds pass,
/// whichever is first.
#[utoipa::path(
    get,
    path = "/v1/charges/{id}",
    operation_id = "get_charge",
    tag = "merchant",
    security(("terminal_key" = [])),
    params(
        ("id" = String, Path, description = "The charge id (`ch_…`)."),
        ("wait" = Option<u64>, Query, description = "Seconds to long-poll while the charge is `held_for_review` or `pending_confirmation`; values above 60 are treated as 60. Default 0: answer at once."),
    ),
    responses(
        (status = 200, description = "The charge.", body = inkan_api::merchant::Charge),
        (status = 400, description = "`invalid_request`: the query string does not parse (`wait` is not a non-negative integer, or an unknown parameter).", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such charge of this merchant.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn get(
    State(app): State<AppState>,
    terminal: TerminalAuth,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Json<Charge>> {
    Ok(Json(flow::wait_for_decision(&app, &terminal, &id, query.wait.unwrap_or(0)).await?))
}

/// Refund a charge
///
/// Refunds the whole amount of a `succeeded` charge to the shopper's wallet.
#[utoipa::path(
    post,
    path = "/v1/charges/{id}/refund",
    operation_id = "refund_charge",
    tag = "merchant",
    security(("terminal_key" = [])),
    params(("id" = String, Path, description = "The charge id (`ch_…`).")),
    request_body(content = inkan_api::merchant::RefundCharge, description = "An empty object, `{}`."),
    responses(
        (status = 200, description = "The charge, now `refunded`.", body = inkan_api::merchant::Charge),
        (status = 400, description = "`invalid_request`: malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such charge of this merchant.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the charge is not `succeeded` (pending, declined, expired or already refunded).", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn refund(
    State(app): State<AppState>,
    terminal: TerminalAuth,
    Path(id): Path<String>,
    Json(RefundCharge {}): Json<RefundCharge>,
) -> Result<Json<Charge>> {
    Ok(Json(flow::refund(&app, &terminal, &id).await?))
}

/// Charges waiting for the shopper
///
/// Each with the passkey request bound to exactly that charge, oldest first.
#[utoipa::path(
    get,
    path = "/v1/wallet/charges/pending",
    operation_id = "list_pending_charges",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The pending charges.", body = [inkan_api::wallet::PendingCharge]),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn pending(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Vec<PendingCharge>>> {
    Ok(Json(flow::pending(&app, &auth.account_id).await?))
}

/// Confirm a charge with a passkey
///
/// A session of the charge's wallet first: without one nothing about the charge is told. Then
/// the passkey assertion for the request bound to this charge (from
/// `GET /v1/wallet/charges/pending`), by a passkey of the device whose code made it. What may
/// have changed since the charge was made is judged again in the same step as the money
/// moves: the device, a freeze or hold, the limits as they are now, the balance.
#[utoipa::path(
    post,
    path = "/v1/wallet/charges/{id}/confirm",
    operation_id = "confirm_charge",
    tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, description = "The charge id (`ch_…`).")),
    request_body = inkan_api::wallet::ConfirmCharge,
    responses(
        (status = 200, description = "The charge, now `succeeded`.", body = inkan_api::wallet::WalletCharge),
        (status = 400, description = "`invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify for this charge's request, is not user-verified, is not of the device that showed the code, or its counter did not advance.", body = inkan_api::ErrorBody),
        (status = 402, description = "`insufficient_funds`: the balance is too low.", body = inkan_api::ErrorBody),
        (status = 403, description = "`wallet_frozen`: the wallet was frozen after the charge was made. `account_held`: the operator has put the account on hold. `device_revoked`: the device that showed the code was removed. `charges_suspended`: the operator has suspended charges.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such charge in this session's wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the charge has expired, was already decided, or is held for review (it can be confirmed once Inkan approves it).", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 422, description = "`limit_exceeded`: a limit lowered since the charge was made no longer fits it.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn confirm(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<ConfirmCharge>,
) -> Result<Json<WalletCharge>> {
    Ok(Json(flow::confirm(&app, &auth, &client, &id, &body).await?))
}

/// Decline a charge
///
/// A charge waiting for confirmation, or one held for review. With `not_me: true` the wallet
/// is also frozen, in the same step.
#[utoipa::path(
    post,
    path = "/v1/wallet/charges/{id}/decline",
    operation_id = "decline_charge",
    tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, description = "The charge id (`ch_…`).")),
    request_body = inkan_api::wallet::DeclineCharge,
    responses(
        (status = 200, description = "The charge, now `declined`.", body = inkan_api::wallet::WalletCharge),
        (status = 400, description = "`invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such charge of this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the charge has expired or was already decided.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn decline(
    State(app): State<AppState>,
    auth: SessionAuth,
    Path(id): Path<String>,
    Json(body): Json<DeclineCharge>,
) -> Result<Json<WalletCharge>> {
    Ok(Json(flow::decline(&app, &auth, &id, body.not_me).await?))
}
