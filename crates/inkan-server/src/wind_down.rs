//! Winding the service down (what 7pay had to do by hand): every wallet closed, each balance paid
//! back to its card (`payouts::close` with `PayoutReason::WindDown`), in batches an operator runs
//! one after another (`inkan-server admin wind-down`), resumable from anywhere: a closed wallet is
//! never looked at again, and one that could not be closed (no card, a hold, an open payment) is
//! tried again on the next run. The report sums what is left in the wallets, what was paid out and
//! what is on its way, and checks the wallets against their books in the ledger.

use axum::extract::State;
use inkan_api::admin::{NotClosed, WindDown, WindDownBatch, WindDownReport};
use inkan_core::closing::PayoutReason;
use inkan_core::operator::Action;

use crate::audit::{self, Entry};
use crate::auth::OperatorAuth;
use crate::error::{AppError, Json, Result};
use crate::payouts::{self, Closed};
use crate::state::AppState;

/// Wallets closed per batch: a request stays well inside the request timeout.
const BATCH: i64 = 50;

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
// Closes the next [`BATCH`] open wallets after `after`.
pub async fn batch(
    State(app): State<AppState>,
    operator: OperatorAuth,
    Json(body): Json<WindDown>,
) -> Result<Json<WindDownBatch>> {
    operator.allow(Action::WindDown)?;
    let why = crate::operator::reason(&body.reason)?;
    let after = body.after.unwrap_or_default();
    if after.len() > 64 {
        return Err(AppError::invalid("after: a wallet id"));
    }
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE closed_at IS NULL AND id > $1 ORDER BY id LIMIT $2")
            .bind(&after)
            .bind(BATCH)
            .fetch_all(app.db.pool())
            .await?;
    let subject = format!("{} wallet(s) after {:?}", ids.len(), after);
    let mut tx = app.db.begin().await?;
    let entry = Entry {
        operator_id: &operator.operator_id,
        action: Action::WindDown.as_str(),
        subject: &subject,
        reason: &why,
    };
    audit::record(tx.conn(), entry, app.clock.now()).await?;
    tx.commit(&app.hub).await?;

    let mut done = WindDownBatch {
        wallets: u32::try_from(ids.len()).unwrap_or(u32::MAX),
        closed: 0,
        paid_out: 0,
        waiting: 0,
        not_closed: Vec::new(),
        next: None,
    };
    for id in &ids {
        match payouts::close(&app, id, PayoutReason::WindDown).await? {
            Closed::Empty => done.closed += 1,
            Closed::PaidOut(p) => {
                done.closed += 1;
                done.paid_out += p.amount.minor();
            }
            Closed::Waiting(p) => {
                done.closed += 1;
                done.waiting += p.amount.minor();
            }
            Closed::Failed(_, reason) => done.not_closed.push(NotClosed { account_id: id.clone(), reason }),
            Closed::Refused(refusal) => {
                done.not_closed.push(NotClosed { account_id: id.clone(), reason: refusal.to_string() });
            }
        }
    }
    if i64::try_from(ids.len()).unwrap_or(0) == BATCH {
        done.next = ids.last().cloned();
    }
    tracing::warn!(operator = %operator.operator_id, closed = done.closed, paid_out = done.paid_out, "wind-down batch");
    Ok(Json(done))
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
    let pool = app.db.pool();
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE closed_at IS NULL").fetch_one(pool).await?;
    let left: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(balance) AS BIGINT) FROM accounts").fetch_one(pool).await?;
    let paid: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM payouts WHERE status = 'succeeded'")
            .fetch_one(pool)
            .await?;
    let waiting: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM payouts WHERE status = 'pending'")
            .fetch_one(pool)
            .await?;
    let books: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_entries WHERE book LIKE 'wallet:%'")
            .fetch_one(pool)
            .await?;
    Ok(Json(WindDownReport {
        open_wallets: u64::try_from(open).unwrap_or(0),
        left_in_wallets: left.unwrap_or(0),
        paid_out: paid.unwrap_or(0),
        waiting: waiting.unwrap_or(0),
        ledger_wallet_books: books.unwrap_or(0),
    }))
}
