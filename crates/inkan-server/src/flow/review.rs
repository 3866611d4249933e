//! Charges held for review (issue 15; METI's monitoring, PSD2 RTS article 2): a velocity rule of
//! `inkan_core::risk` set a new charge aside as `held_for_review`, and a person with an operator
//! key of the `review` scope lists them and decides. Approving lets the charge go on to the shopper,
//! who is told and may confirm it within a fresh charge lifetime; declining is final. Either way
//! the shopper hears of it in the live feed, the terminal waiting on the charge wakes, and the
//! decision is in the audit trail with its why.

use inkan_api::admin::{HeldCharges, ReviewDecision};
use inkan_api::feed::Notice;
use inkan_api::merchant::Charge;
use inkan_core::operator::Action;
use inkan_core::{ChargeEvent, ChargeStatus, Money};
use sqlx::Row;

use crate::audit::{self, Entry};
use crate::auth::OperatorAuth;
use crate::charge_sql::Move;
use crate::error::{AppError, Result};
use crate::hub::Change;
use crate::state::AppState;
use crate::{flow, store};

/// How many held charges a listing shows at most (the oldest, which expire first).
const MAX_LISTED: i64 = 500;

/// Applies the operator's decision (`action`: approve or decline) to a held charge, with the
/// shopper's notice and the audit entry, in one transaction.
pub(crate) async fn decide(
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
    let expires_at = now + app.settings.charge_ttl;
    let mut tx = app.db.begin().await?;
    let Some(row) = store::charges::decide_held(&mut tx, &decision, charge_id, now, expires_at).await? else {
        tx.rollback().await?;
        return Err(not_held(app, charge_id).await);
    };
    let account_id: String = row.try_get("account_id")?;
    let merchant_name = store::charges::merchant_name(&mut tx, &row.try_get::<String, _>("merchant_id")?).await?;
    let (amount, currency) = (row.try_get("amount")?, row.try_get("currency")?);
    let charge_id = charge_id.to_owned();
    let notice = match next {
        // The shopper's app shows its Confirm sheet for a pending charge, as for a new one.
        ChargeStatus::PendingConfirmation => {
            Notice::ChargePending { charge_id: charge_id.clone(), amount, currency, merchant_name }
        }
        _ => Notice::ChargeReviewDeclined { charge_id: charge_id.clone(), amount, currency, merchant_name },
    };
    let (counted, zero) = (flow::charges::counted(&row)?, Money::zero(store::charges::currency_of(&row)?));
    flow::charges::lock_and_write_account(&mut tx, app, &account_id, (counted, event), &notice, zero, now).await?;
    let entry =
        Entry { operator_id: &operator.operator_id, action: action.as_str(), subject: &charge_id, reason: &why };
    audit::record(tx.conn(), entry, now).await?;
    tx.announce(Change::Charge(charge_id.clone()));
    tx.commit(&app.hub).await?;
    crate::telemetry::charge(next);
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

/// The charges held for review, oldest first (at most [`MAX_LISTED`]), for an operator with the
/// `review` scope.
pub(crate) async fn held(app: &AppState, operator: &OperatorAuth) -> Result<HeldCharges> {
    operator.allow(Action::ListReviews)?;
    let charges = store::charges::held(app.db.reads(), app.clock.now(), MAX_LISTED).await?;
    Ok(HeldCharges { charges })
}
