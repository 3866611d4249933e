//! The `passkeys` table, as a device's removal writes it.

use crate::db::Tx;
use crate::error::Result;

/// Deletes the device's passkeys; how many there were.
pub(crate) async fn delete_of_device(tx: &mut Tx, device_id: &str) -> Result<u64> {
    let deleted = sqlx::query("DELETE FROM passkeys WHERE device_id = $1").bind(device_id).execute(tx.conn()).await?;
    Ok(deleted.rows_affected())
}
