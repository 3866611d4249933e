//! The `sessions` table: a device's signed-in sessions, stored by their token's hash. Looking one
//! up, refreshing it and ending sessions are `crate::auth`'s.

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::Result;

/// Opens a session of the account's device in `tx`, under the hash of its token.
pub(crate) async fn insert(
    tx: &mut Tx,
    token_hash: &str,
    account_id: &str,
    device_id: &str,
    now: time::OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, account_id, device_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(device_id)
    .bind(to_ms(now))
    .bind(to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}
