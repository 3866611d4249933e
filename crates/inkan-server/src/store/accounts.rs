//! The `accounts` table: reads, locks and writes of the wallet's account row that several
//! operations share.

use inkan_core::Money;
use sqlx::any::AnyRow;

use crate::db::Tx;
use crate::error::{AppError, Result};

/// Locks the account in `tx` (as a freeze's lift does first) and refuses if the wallet is closed
/// (`inkan_core::closing::may_unfreeze`): a closed wallet stays frozen.
pub async fn lock_unclosed(tx: &mut Tx, account_id: &str) -> Result<()> {
    let closed_at: Option<i64> =
        sqlx::query_scalar("UPDATE accounts SET frozen = frozen WHERE id = $1 RETURNING closed_at")
            .bind(account_id)
            .fetch_one(tx.conn())
            .await?;
    inkan_core::closing::may_unfreeze(closed_at.is_some()).map_err(|e| AppError::invalid_state(e.to_string()))
}

/// The columns of the account row that hold where its history stands (`feed::Head::of` reads
/// them): returned by a write of the row, they save the history's append a statement.
pub const HEAD_COLUMNS: &str = "event_seq, last_hash";

/// Locks the wallet's account row inside `tx` (a charge and a confirmation of the same wallet take
/// turns from here) and reads what a payment judges of it, with the history's head
/// ([`HEAD_COLUMNS`]).
pub(crate) async fn lock_for_payment(tx: &mut Tx, account_id: &str) -> Result<AnyRow> {
    Ok(sqlx::query(&format!(
        "UPDATE accounts SET balance = balance WHERE id = $1 RETURNING balance, frozen, held, limits, currency, {HEAD_COLUMNS}"
    ))
    .bind(account_id)
    .fetch_one(tx.conn())
    .await?)
}

/// Adds `amount` (negative to take it) to the balance of the account, in `tx`.
pub(crate) async fn add_to_balance(tx: &mut Tx, account_id: &str, amount: Money) -> Result<()> {
    sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
        .bind(amount.minor())
        .bind(account_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
