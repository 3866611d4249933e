//! A new wallet's two steps: passkey creation options for a display name, then the account with
//! its first device, passkey, recovery codes and a session (`flow::enrolment`).

use axum::extract::State;
use axum::http::StatusCode;
use inkan_api::wallet::{BeginRegistration, Enrolled, FinishRegistration, RegistrationChallenge};

use crate::error::{Json, Result};
use crate::flow::enrolment;
use crate::origin::Client;
use crate::state::AppState;

/// Start creating an account
///
/// Answers with passkey creation options for the authenticator, valid for one ceremony.
#[utoipa::path(
    post,
    path = "/v1/accounts/registration",
    operation_id = "begin_registration",
    tag = "accounts",
    request_body = inkan_api::wallet::BeginRegistration,
    responses(
        (status = 200, description = "The passkey creation options and their ceremony.", body = inkan_api::wallet::RegistrationChallenge),
        (status = 400, description = "`invalid_request`: a display name that is empty, over 64 characters or has control characters; or a malformed body.", body = inkan_api::ErrorBody),
        (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn begin_registration(
    State(app): State<AppState>,
    client: Client,
    Json(body): Json<BeginRegistration>,
) -> Result<Json<RegistrationChallenge>> {
    Ok(Json(enrolment::begin(&app, &client, &body).await?))
}

/// Finish creating an account
///
/// Registers the new passkey and the first device (with its proof of possession over the
/// ceremony id), and opens a session. The recovery codes are shown this once.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    operation_id = "finish_registration",
    tag = "accounts",
    request_body = inkan_api::wallet::FinishRegistration,
    responses(
        (status = 201, description = "The account, its first device, its recovery codes and a session.", body = inkan_api::wallet::Enrolled),
        (status = 400, description = "`invalid_request`: the device key is not an uncompressed P-256 point, its proof does not verify, its name is not 1 to 64 characters, or the body is malformed. `ceremony_expired`: the ceremony is unknown, used or expired.", body = inkan_api::ErrorBody),
        (status = 401, description = "`passkey_rejected`: the passkey attestation did not verify. `unauthorized`: the joining device's signature (over the join id and this ceremony) is missing or does not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: this device key is already registered.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The passkey is registered, the first device added, recovery codes made.
pub async fn finish_registration(
    State(app): State<AppState>,
    client: Client,
    Json(body): Json<FinishRegistration>,
) -> Result<(StatusCode, Json<Enrolled>)> {
    Ok((StatusCode::CREATED, Json(enrolment::finish(&app, &client, &body).await?)))
}
