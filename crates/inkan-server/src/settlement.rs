//! Settling what the funding provider was asked to move (a top-up from a card, a pay-out to one):
//! the row leaves `pending` once, whoever gets there first (the request, a retry, the
//! reconciler), and only that move moves money.

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::Result;

/// Whose row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    TopUp,
    Payout,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended<'a> {
    /// The provider moved the money, under its own reference.
    Succeeded { provider_ref: &'a str },
    /// Nothing moved, and why.
    Failed { reason: &'a str },
}

/// Moves the row `id` out of `pending` in `tx`: `false` (nothing written) if it was already
/// settled.
pub async fn leave_pending(
    tx: &mut Tx,
    movement: Movement,
    id: &str,
    ended: Ended<'_>,
    now: time::OffsetDateTime,
) -> Result<bool> {
    let table = match movement {
        Movement::TopUp => "topups",
        Movement::Payout => "payouts",
    };
    let (set, value) = match ended {
        Ended::Succeeded { provider_ref } => ("status = 'succeeded', provider_ref = $1", provider_ref),
        Ended::Failed { reason } => ("status = 'failed', failure = $1", reason),
    };
    let moved = sqlx::query(&format!("UPDATE {table} SET {set}, settled_at = $2 WHERE id = $3 AND status = 'pending'"))
        .bind(value)
        .bind(to_ms(now))
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(moved.rows_affected() == 1)
}
