//! Sign-in with a device's passkey and key, sign-out, and the passkey step-ups that what needs
//! one asks for; over `flow::accounts`.

use axum::extract::State;
use axum::http::StatusCode;
use inkan_api::wallet::{AssertionChallenge, BeginSignIn, BeginStepUp, Session, SignIn};

use crate::auth::SessionAuth;
use crate::error::{Json, Result};
use crate::flow::accounts;
use crate::origin::Client;
use crate::state::AppState;

/// Start signing in
///
/// Answers with passkey request options that only the passkeys of the named device can answer.
#[utoipa::path(
    post,
    path = "/v1/sessions/challenge",
    operation_id = "begin_sign_in",
    tag = "accounts",
    request_body = inkan_api::wallet::BeginSignIn,
    responses(
        (status = 200, description = "The passkey request options and their ceremony.", body = inkan_api::wallet::AssertionChallenge),
        (status = 400, description = "`invalid_request`: a malformed account id, device id or body.", body = inkan_api::ErrorBody),
        (status = 403, description = "`device_revoked`: the device was removed from the wallet.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such account, or no such device of it.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A passkey request that only the named device's passkeys answer.
pub async fn begin_sign_in(
    State(app): State<AppState>,
    client: Client,
    Json(body): Json<BeginSignIn>,
) -> Result<Json<AssertionChallenge>> {
    Ok(Json(accounts::begin_sign_in(&app, &client, body).await?))
}

/// Finish signing in
///
/// Verifies both proofs over the sign-in ceremony, the passkey assertion of a passkey of the
/// device and the device key's signature, and opens a session for that device.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    operation_id = "finish_sign_in",
    tag = "accounts",
    request_body = inkan_api::wallet::SignIn,
    responses(
        (status = 201, description = "A new session.", body = inkan_api::wallet::Session),
        (status = 400, description = "`ceremony_expired`: the ceremony is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`passkey_rejected`: the assertion did not verify, is not user-verified, is of another device or account, or its counter did not advance. `unauthorized`: the device's signature does not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`device_revoked`: the device was removed from the wallet.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A session for the device, given a passkey assertion of that device and the device key's signature
// over the same ceremony.
pub async fn finish_sign_in(
    State(app): State<AppState>,
    client: Client,
    Json(body): Json<SignIn>,
) -> Result<(StatusCode, Json<Session>)> {
    Ok((StatusCode::CREATED, Json(accounts::finish_sign_in(&app, &client, &body).await?)))
}

/// Sign out
///
/// Ends the session that makes this request.
#[utoipa::path(
    delete,
    path = "/v1/sessions/current",
    operation_id = "sign_out",
    tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 204, description = "The session has ended."),
        (status = 401, description = "`unauthorized`: no session, or it has already ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The session ends, and its open feeds close.
pub async fn sign_out(State(app): State<AppState>, auth: SessionAuth) -> Result<StatusCode> {
    accounts::sign_out(&app, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a passkey step-up
///
/// A passkey request for one sensitive action (raising limits, unfreezing, adding a device);
/// the assertion answering it goes with that action's request.
#[utoipa::path(
    post,
    path = "/v1/wallet/step-up",
    operation_id = "begin_step_up",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::BeginStepUp,
    responses(
        (status = 200, description = "The passkey request options and their ceremony.", body = inkan_api::wallet::AssertionChallenge),
        (status = 400, description = "`invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: the account has no passkey.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A passkey request for one sensitive action, that only a passkey of this session's device answers.
pub async fn begin_step_up(
    State(app): State<AppState>,
    auth: SessionAuth,
    Json(body): Json<BeginStepUp>,
) -> Result<Json<AssertionChallenge>> {
    Ok(Json(accounts::begin_step_up(&app, &auth, body).await?))
}
