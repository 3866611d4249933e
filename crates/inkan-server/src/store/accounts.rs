//! The `accounts` table: reads and locks of the wallet's account row that several operations share.

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
