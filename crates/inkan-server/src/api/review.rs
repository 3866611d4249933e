//! The operator's review queue (`/v1/admin/reviews`, `review` scope): the held charges, and the
//! decision on one; over `flow::review`.

use axum::extract::{Path, State};
use inkan_api::admin::{HeldCharges, ReviewDecision};
use inkan_api::merchant::Charge;
use inkan_core::operator::Action;

use crate::auth::OperatorAuth;
use crate::error::{Json, Result};
use crate::flow::review;
use crate::state::AppState;

/// Charges held for review
///
/// Charges a velocity rule set aside (`reason`), waiting for a decision, oldest first (at most
/// 500). Unless decided, each expires at `expires_at` (the server's `[risk]
/// review_window_minutes`, default 10). Needs the `review` scope.
#[utoipa::path(
    get,
    path = "/v1/admin/reviews",
    operation_id = "list_reviews",
    tag = "operator",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The held charges.", body = inkan_api::admin::HeldCharges),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The charges waiting for a decision, oldest first.
pub async fn list(State(app): State<AppState>, operator: OperatorAuth) -> Result<Json<HeldCharges>> {
    Ok(Json(review::held(&app, &operator).await?))
}

/// Approve a held charge
///
/// The charge becomes `pending_confirmation` with a whole charge lifetime from now, and the
/// shopper gets a `charge_pending` notice: they may confirm it with their passkey. The decision
/// and its `reason` go to the audit trail. Needs the `review` scope.
#[utoipa::path(
    post,
    path = "/v1/admin/reviews/{id}/approve",
    operation_id = "approve_review",
    tag = "operator",
    security(("operator_key" = [])),
    params(("id" = String, Path, description = "The charge id (`ch_…`).")),
    request_body = inkan_api::admin::ReviewDecision,
    responses(
        (status = 200, description = "The charge, now `pending_confirmation`.", body = inkan_api::merchant::Charge),
        (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such charge.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the charge is not held for review (already decided, declined by the shopper, or expired).", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The shopper may now confirm the charge.
pub async fn approve(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Path(charge_id): Path<String>,
    Json(body): Json<ReviewDecision>,
) -> Result<Json<Charge>> {
    review::decide(&app, &operator, &charge_id, Action::ApproveCharge, &body).await.map(Json)
}

/// Decline a held charge
///
/// The charge becomes `declined` for good; the shopper gets a `charge_review_declined` notice
/// and the terminal waiting on it hears `declined`. The decision and its `reason` go to the
/// audit trail. Needs the `review` scope.
#[utoipa::path(
    post,
    path = "/v1/admin/reviews/{id}/decline",
    operation_id = "decline_review",
    tag = "operator",
    security(("operator_key" = [])),
    params(("id" = String, Path, description = "The charge id (`ch_…`).")),
    request_body = inkan_api::admin::ReviewDecision,
    responses(
        (status = 200, description = "The charge, now `declined`.", body = inkan_api::merchant::Charge),
        (status = 400, description = "`invalid_request`: an empty reason, one over 200 characters or with control characters, or a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: missing, unknown or revoked operator key.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such charge.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the charge is not held for review (already decided, declined by the shopper, or expired).", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The charge is declined for good.
pub async fn decline(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Path(charge_id): Path<String>,
    Json(body): Json<ReviewDecision>,
) -> Result<Json<Charge>> {
    review::decide(&app, &operator, &charge_id, Action::DeclineCharge, &body).await.map(Json)
}
