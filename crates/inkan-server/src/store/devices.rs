//! The `devices` table, as the money path reads and writes it: the device a payment code names,
//! the code's counter, and the refusals counted against a code.

use sqlx::any::AnyRow;

use crate::db::Tx;
use crate::error::Result;

/// The active device whose key has the id `key_id` (a payment code's), with its public key.
pub(crate) async fn active_by_key_id(db: &sqlx::AnyPool, key_id: &str) -> Result<Option<AnyRow>> {
    Ok(sqlx::query("SELECT id, account_id, public_key, enrolled_at FROM devices WHERE key_id = $1 AND active = 1")
        .bind(key_id)
        .fetch_optional(db)
        .await?)
}

/// Uses the payment code `counter` of the active device: it and every older code die. `false`
/// when the code was used (or killed) already: of two terminals racing with one code, exactly
/// one passes this conditional write.
pub(crate) async fn use_code(tx: &mut Tx, device_id: &str, counter: u32) -> Result<bool> {
    let used = sqlx::query(
        "UPDATE devices SET last_counter = $1 WHERE id = $2 AND active = 1 AND (last_counter IS NULL OR last_counter < $1)",
    )
    .bind(i64::from(counter))
    .bind(device_id)
    .execute(tx.conn())
    .await?;
    Ok(used.rows_affected() == 1)
}

/// Whether the device is active, and when it was enrolled; `None` if it is gone.
pub(crate) async fn standing(tx: &mut Tx, device_id: &str) -> Result<Option<(bool, i64)>> {
    let row: Option<(i64, i64)> = sqlx::query_as("SELECT active, enrolled_at FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.map(|(active, enrolled_at)| (active == 1, enrolled_at)))
}

/// Locks the device row in `tx` and reads the refusals counted against its codes (the code they
/// were counted for, and how many), if the code `counter` is still alive.
pub(crate) async fn refusals_if_alive(
    tx: &mut Tx,
    device_id: &str,
    counter: u32,
) -> Result<Option<(Option<i64>, i64)>> {
    Ok(sqlx::query_as(
        "UPDATE devices SET refusals = refusals WHERE id = $1 AND (last_counter IS NULL OR last_counter < $2) \
         RETURNING refused_counter, refusals",
    )
    .bind(device_id)
    .bind(i64::from(counter))
    .fetch_optional(tx.conn())
    .await?)
}

/// Writes the refusals counted against the code `counter`; with `dead`, that code and every older
/// one die, as if it had been used.
pub(crate) async fn set_refusals(tx: &mut Tx, device_id: &str, counter: u32, refusals: u32, dead: bool) -> Result<()> {
    let update = if dead {
        "UPDATE devices SET refused_counter = $1, refusals = $2, last_counter = $1 WHERE id = $3"
    } else {
        "UPDATE devices SET refused_counter = $1, refusals = $2 WHERE id = $3"
    };
    sqlx::query(update).bind(i64::from(counter)).bind(i64::from(refusals)).bind(device_id).execute(tx.conn()).await?;
    Ok(())
}
