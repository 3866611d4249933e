//! Charges held for review (issue 15; METI's monitoring, PSD2 RTS article 2): a velocity rule of
//! `inkan_core::risk` set a new charge aside as `held_for_review`, and a person with an operator
//! key of the `review` scope lists them and decides. Approving lets the charge go on to the shopper,
//! who is told and may confirm it within a fresh charge lifetime; declining is final. Either way
//! the shopper hears of it in the live feed, the terminal waiting on the charge wakes, and the
//! decision is in the audit trail with its why.

use axum::extract::{Path, State};
use inkan_api::admin::{HeldCharge, HeldCharges, ReviewDecision};
use inkan_api::feed::Notice;
use inkan_api::merchant::Charge;
use inkan_core::operator::Action;
use inkan_core::{ChargeEvent, ChargeStatus};
use sqlx::Row;

use crate::audit::{self, Entry};
use crate::auth::OperatorAuth;
use crate::charge_sql::Move;
use crate::clock::{from_ms, to_ms};
use crate::error::{AppError, Json, Result};
use crate::hub::Change;
use crate::state::AppState;
use crate::{feed, flow};

/// How many held charges a listing shows at most (the oldest, which expire first).
const MAX_LISTED: i64 = 500;

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
    operator.allow(Action::ListReviews)?;
    let rows = sqlx::query(
        "SELECT c.id, c.account_id, c.device_id, c.merchant_id, m.name AS merchant_name, t.country, c.amount, \
         c.currency, c.hold_reason, c.created_at, c.expires_at \
         FROM charges c JOIN merchants m ON m.id = c.merchant_id JOIN terminals t ON t.id = c.terminal_id \
         WHERE c.status = $1 AND c.expires_at > $2 ORDER BY c.created_at LIMIT $3",
    )
    .bind(ChargeStatus::HeldForReview.as_str())
    .bind(to_ms(app.clock.now()))
    .bind(MAX_LISTED)
    .fetch_all(app.db.pool())
    .await?;
    let charges = rows
        .iter()
        .map(|row| {
            Ok(HeldCharge {
                charge_id: row.try_get("id")?,
                account_id: row.try_get("account_id")?,
                device_id: row.try_get("device_id")?,
                merchant_id: row.try_get("merchant_id")?,
                merchant_name: row.try_get("merchant_name")?,
                terminal_country: row.try_get("country")?,
                amount: row.try_get("amount")?,
                currency: row.try_get("currency")?,
                reason: row.try_get::<Option<String>, _>("hold_reason")?.unwrap_or_default(),
                created_at: from_ms(row.try_get("created_at")?),
                expires_at: from_ms(row.try_get("expires_at")?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Json(HeldCharges { charges }))
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
    decide(&app, &operator, &charge_id, Action::ApproveCharge, &body).await.map(Json)
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
    decide(&app, &operator, &charge_id, Action::DeclineCharge, &body).await.map(Json)
}

/// Applies the operator's decision (`action`: approve or decline) to a held charge, with the
/// shopper's notice and the audit entry, in one transaction.
async fn decide(
    app: &AppState,
    operator: &OperatorAuth,
    charge_id: &str,
    action: Action,
    body: &ReviewDecision,
) -> Result<Charge> {
    operator.allow(action)?;
    let why = crate::operator::reason(&body.reason)?;
    let event = if action == Action::ApproveCharge { ChargeEvent::Approve } else { ChargeEvent::Decline };
    let decision = Move::from_only(ChargeStatus::HeldForReview, event)?;
    let next = decision.to;
    let now = app.clock.now();
    // Approved: the shopper gets a whole charge lifetime from now. Declined: decided now, and
    // its challenge can never be answered.
    let (set, from) = (decision.set(), &decision.from);
    let sql = match next {
        ChargeStatus::PendingConfirmation => format!(
            "UPDATE charges SET {set}, expires_at = $1 WHERE id = $2 AND status IN ({from}) AND expires_at > $3 \
             RETURNING account_id, merchant_id, amount, currency"
        ),
        _ => format!(
            "UPDATE charges SET {set}, decided_at = $1, auth_state = NULL, auth_request = NULL \
             WHERE id = $2 AND status IN ({from}) AND expires_at > $1 \
             RETURNING account_id, merchant_id, amount, currency"
        ),
    };
    let query = match next {
        ChargeStatus::PendingConfirmation => {
            sqlx::query(&sql).bind(to_ms(now + app.settings.charge_ttl)).bind(charge_id).bind(to_ms(now))
        }
        _ => sqlx::query(&sql).bind(to_ms(now)).bind(charge_id),
    };
    let mut tx = app.db.begin().await?;
    let row = if charge_id.len() > 64 { None } else { query.fetch_optional(tx.conn()).await? };
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(not_held(app, charge_id).await);
    };
    let account_id: String = row.try_get("account_id")?;
    let merchant_name: String = sqlx::query_scalar("SELECT name FROM merchants WHERE id = $1")
        .bind(row.try_get::<String, _>("merchant_id")?)
        .fetch_one(tx.conn())
        .await?;
    let (amount, currency) = (row.try_get("amount")?, row.try_get("currency")?);
    let charge_id = charge_id.to_owned();
    let notice = match next {
        // The shopper's app shows its Confirm sheet for a pending charge, as for a new one.
        ChargeStatus::PendingConfirmation => {
            Notice::ChargePending { charge_id: charge_id.clone(), amount, currency, merchant_name }
        }
        _ => Notice::ChargeReviewDeclined { charge_id: charge_id.clone(), amount, currency, merchant_name },
    };
    feed::append(&mut tx, &app.issuer, &account_id, &notice, now).await?;
    let entry =
        Entry { operator_id: &operator.operator_id, action: action.as_str(), subject: &charge_id, reason: &why };
    audit::record(tx.conn(), entry, now).await?;
    tx.announce(Change::Charge(charge_id.clone()));
    tx.commit(&app.hub).await?;
    tracing::warn!(charge = %charge_id, operator = %operator.operator_id, decision = action.as_str(), %why, "held charge decided");
    flow::charges::merchant_charge(app, &charge_id).await?.ok_or_else(|| AppError::not_found("charge"))
}

/// Why a charge could not be decided: no such charge, or not (or no longer) held.
async fn not_held(app: &AppState, charge_id: &str) -> AppError {
    match flow::charges::merchant_charge(app, charge_id).await {
        Ok(None) => AppError::not_found("charge"),
        Ok(Some(charge)) if charge.status == ChargeStatus::HeldForReview => {
            AppError::invalid_state("this charge's review window has passed: it has expired")
        }
        Ok(Some(charge)) => AppError::invalid_state(format!("this charge is {}, not held for review", charge.status)),
        Err(e) => e,
    }
}
