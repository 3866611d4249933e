//! The `passkeys` table: each device's passkeys, as webauthn-rs's credential in JSON with its
//! signature counter in a column of its own (an assertion writes the counter; the JSON only when
//! something else of the credential changed). What the counter must do is `crate::passkeys`'s.

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::Result;

/// A stored passkey: webauthn-rs's credential in JSON, and the counter column.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Stored {
    pub(crate) passkey: String,
    pub(crate) counter: i64,
}

/// The passkeys of one device of an account, oldest first.
pub(crate) async fn of_device<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    account_id: &str,
    device_id: &str,
) -> Result<Vec<Stored>> {
    Ok(sqlx::query_as(
        "SELECT passkey, counter FROM passkeys WHERE account_id = $1 AND device_id = $2 ORDER BY created_at",
    )
    .bind(account_id)
    .bind(device_id)
    .fetch_all(conn)
    .await?)
}

/// Every passkey of an account, whatever its device, oldest first.
pub(crate) async fn of_account<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    account_id: &str,
) -> Result<Vec<Stored>> {
    Ok(sqlx::query_as("SELECT passkey, counter FROM passkeys WHERE account_id = $1 ORDER BY created_at")
        .bind(account_id)
        .fetch_all(conn)
        .await?)
}

/// A credential found by its id, with whose it is: its account, its device and whether that
/// device is active.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Owned {
    #[sqlx(flatten)]
    pub(crate) stored: Stored,
    pub(crate) account_id: String,
    pub(crate) device_id: String,
    pub(crate) active: i64,
}

/// The credential `cred_id` (base64url of its raw id) and its owner, if stored.
pub(crate) async fn by_id<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    cred_id: &str,
) -> Result<Option<Owned>> {
    Ok(sqlx::query_as(
        "SELECT p.passkey, p.counter, p.account_id, p.device_id, d.active FROM passkeys p \
         JOIN devices d ON d.id = p.device_id WHERE p.id = $1",
    )
    .bind(cred_id)
    .fetch_optional(conn)
    .await?)
}

/// Moves the credential's counter from `from` to `to` in `tx` (and replaces its JSON with
/// `passkey`, if given): `false`, and nothing written, if its counter is no longer `from`.
pub(crate) async fn move_counter(
    tx: &mut Tx,
    cred_id: &str,
    (from, to): (i64, i64),
    passkey: Option<&str>,
) -> Result<bool> {
    let updated =
        sqlx::query("UPDATE passkeys SET passkey = COALESCE($1, passkey), counter = $2 WHERE id = $3 AND counter = $4")
            .bind(passkey)
            .bind(to)
            .bind(cred_id)
            .bind(from)
            .execute(tx.conn())
            .await?;
    Ok(updated.rows_affected() == 1)
}

/// A passkey to store for a device.
#[derive(Debug)]
pub(crate) struct NewPasskey<'a> {
    pub(crate) cred_id: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) device_id: &'a str,
    pub(crate) stored: Stored,
    pub(crate) now: time::OffsetDateTime,
}

/// Stores a new passkey in `tx`.
pub(crate) async fn insert(tx: &mut Tx, new: &NewPasskey<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO passkeys (id, account_id, device_id, passkey, counter, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.cred_id)
    .bind(new.account_id)
    .bind(new.device_id)
    .bind(&new.stored.passkey)
    .bind(new.stored.counter)
    .bind(to_ms(new.now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes the device's passkeys; how many there were.
pub(crate) async fn delete_of_device(tx: &mut Tx, device_id: &str) -> Result<u64> {
    let deleted = sqlx::query("DELETE FROM passkeys WHERE device_id = $1").bind(device_id).execute(tx.conn()).await?;
    Ok(deleted.rows_affected())
}
