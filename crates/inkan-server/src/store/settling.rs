//! A top-up's or pay-out's row leaving `pending` (`topups`, `payouts`). When, and what that moves,
//! is `crate::settlement`'s.

use crate::db::Tx;
use crate::error::Result;

/// Which table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    Topups,
    Payouts,
}

/// How the row ends: `succeeded` under the provider's reference, or `failed` for a reason.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    Succeeded { provider_ref: &'a str },
    Failed { reason: &'a str },
}

/// Moves the row `id` out of `pending` in `tx`, settled `at` (milliseconds): whether it was
/// still pending.
pub(crate) async fn leave_pending(tx: &mut Tx, table: Table, id: &str, outcome: Outcome<'_>, at: i64) -> Result<bool> {
    let table = match table {
        Table::Topups => "topups",
        Table::Payouts => "payouts",
    };
    let (set, value) = match outcome {
        Outcome::Succeeded { provider_ref } => ("status = 'succeeded', provider_ref = $1", provider_ref),
        Outcome::Failed { reason } => ("status = 'failed', failure = $1", reason),
    };
    let moved = sqlx::query(&format!("UPDATE {table} SET {set}, settled_at = $2 WHERE id = $3 AND status = 'pending'"))
        .bind(value)
        .bind(at)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(moved.rows_affected() == 1)
}
