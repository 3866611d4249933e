//! Winding the service down (what 7pay had to do by hand): every wallet closed, each balance paid
//! back to its card (`flow::payouts::close` with `PayoutReason::WindDown`), in batches an operator
//! runs one after another (`inkan-server admin wind-down`), resumable from anywhere: a closed wallet is
//! never looked at again, and one that could not be closed (no card, a hold, an open payment) is
//! tried again on the next run. The report sums what is left in the wallets, what was paid out and
//! what is on its way, and checks the wallets against their books in the ledger.

use axum::extract::State;
use inkan_api::admin::{WindDown, WindDownBatch, WindDownReport};
use inkan_core::operator::Action;

use crate::auth::OperatorAuth;
use crate::error::{Json, Result};
use crate::flow::wind_down;
use crate::state::AppState;

/// Wind the service down: close the next wallets
///
/// Closes the next 50 open wallets (by id, after `after`) for good, each balance paid back to
/// the first card that topped it up, as a shopper closing their own wallet would; each shopper
/// gets a `wallet_closed` notice. Run again with `next` until it is `null`; a run stopped
/// anywhere is resumed by starting again. Suspend charges, top-ups and enrolment first, so that
/// balances stop moving. Each batch is in the audit trail with its `reason`. Needs the
/// `switches` scope.
#[utoipa::path(
    post,
    path = "/v1/admin/wind-down",
    operation_id = "wind_down_batch",
    tag = "operator",
    security(("operator_key" = [])),
    request_body = inkan_api::admin::WindDown,
    responses(
        (status = 200, description = "What the batch did, and where the next one starts.", body = inkan_api::admin::WindDownBatch),
        (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, a malformed `after`, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Closes the next 50 open wallets after `after` (`flow::wind_down::batch`).
pub async fn batch(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Json(body): Json<WindDown>,
) -> Result<Json<WindDownBatch>> {
    operator.allow(Action::WindDown)?;
    Ok(Json(wind_down::batch(&app, &operator.operator_id, &body).await?))
}

/// Where the money stands in a wind-down
///
/// The wallets not closed yet, what every wallet still holds, what was paid back to cards
/// and what is on its way, and the wallets' books in the ledger (equal to what they hold).
/// Needs the `switches` scope.
#[utoipa::path(
    get,
    path = "/v1/admin/wind-down",
    operation_id = "wind_down_report",
    tag = "operator",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The report.", body = inkan_api::admin::WindDownReport),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Where the money stands.
pub async fn report(State(app): State<AppState>, operator: OperatorAuth) -> Result<Json<WindDownReport>> {
    operator.allow(Action::WindDown)?;
    Ok(Json(wind_down::report(&app).await?))
}
