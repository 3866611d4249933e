//! Settling what the funding provider was asked to move (a top-up from a card, a pay-out to one):
//! the row leaves `pending` once, whoever gets there first (the request, a retry, the
//! reconciler), and only that move moves money.

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::Result;
use crate::store;
use crate::store::settling::{Outcome, Table};

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
        Movement::TopUp => Table::Topups,
        Movement::Payout => Table::Payouts,
    };
    let outcome = match ended {
        Ended::Succeeded { provider_ref } => Outcome::Succeeded { provider_ref },
        Ended::Failed { reason } => Outcome::Failed { reason },
    };
    store::settling::leave_pending(tx, table, id, outcome, to_ms(now)).await
}
