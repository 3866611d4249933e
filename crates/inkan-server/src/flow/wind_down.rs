//! Winding the service down: every wallet closed, each balance paid back to its card
//! (`payouts::close` with `PayoutReason::WindDown`), in batches an operator runs one after
//! another, resumable from anywhere; and the report of where the money stands.

use inkan_api::admin::{NotClosed, WindDown, WindDownBatch, WindDownReport};
use inkan_core::closing::PayoutReason;
use inkan_core::operator::Action;

use crate::audit::{self, Entry};
use crate::error::{AppError, Result};
use crate::flow::payouts::{self, Closed};
use crate::state::AppState;
use crate::store;

/// Wallets closed per batch: a request stays well inside the request timeout.
const BATCH: u32 = 50;

/// Closes the next [`BATCH`] open wallets after `body.after`, recorded in the audit trail as the
/// operator's with `body.reason`.
pub(crate) async fn batch(app: &AppState, operator_id: &str, body: &WindDown) -> Result<WindDownBatch> {
    let why = crate::operator::reason(&body.reason)?;
    let after = body.after.as_deref().unwrap_or_default();
    if after.len() > 64 {
        return Err(AppError::invalid("after: a wallet id"));
    }
    let ids = store::accounts::open_after(app.db.reads(), after, BATCH).await?;
    let subject = format!("{} wallet(s) after {:?}", ids.len(), after);
    let mut tx = app.db.begin().await?;
    let entry = Entry { operator_id, action: Action::WindDown.as_str(), subject: &subject, reason: &why };
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
        match payouts::close(app, id, PayoutReason::WindDown).await? {
            Closed::Empty => done.closed += 1,
            Closed::PaidOut(p) => {
                done.closed += 1;
                done.paid_out += p.amount.minor();
            }
            Closed::Waiting(p) => {
                done.closed += 1;
                done.waiting += p.amount.minor();
            }
            Closed::Failed(reason) => done.not_closed.push(NotClosed { account_id: id.clone(), reason }),
            Closed::Refused(refusal) => {
                done.not_closed.push(NotClosed { account_id: id.clone(), reason: refusal.to_string() });
            }
        }
    }
    if done.wallets == BATCH {
        done.next = ids.last().cloned();
    }
    tracing::warn!(operator = %operator_id, closed = done.closed, paid_out = done.paid_out, "wind-down batch");
    Ok(done)
}

/// The wallets not closed yet, what they hold, what was paid back and what is on its way, and the
/// wallets' books in the ledger.
pub(crate) async fn report(app: &AppState) -> Result<WindDownReport> {
    let sums = store::accounts::wind_down_sums(app.db.reads()).await?;
    Ok(WindDownReport {
        open_wallets: sums.open_wallets,
        left_in_wallets: sums.left_in_wallets,
        paid_out: sums.paid_out,
        waiting: sums.waiting,
        ledger_wallet_books: sums.ledger_wallet_books,
    })
}
