//! The `devices` table, as the money path reads and writes it: the device a payment code names,
//! the code's counter, and the refusals counted against a code.

use sqlx::any::AnyRow;

use crate::db::Tx;
use crate::error::Result;

/// The active device whose key has the id `key_id` (a payment code's), with its public key and the
/// last counter it paid with.
pub(crate) async fn active_by_key_id(db: &crate::db::Reads, key_id: &str) -> Result<Option<AnyRow>> {
    Ok(sqlx::query(
        "SELECT id, account_id, public_key, enrolled_at, last_counter FROM devices WHERE key_id = $1 AND active = 1",
    )
    .bind(key_id)
    .fetch_optional(db)
    .await?)
}

/// The active device whose payment code v2 index is `index`, with the last counter it paid with.
pub(crate) async fn active_by_code_index(db: &crate::db::Reads, index: i64) -> Result<Option<AnyRow>> {
    Ok(sqlx::query(
        "SELECT id, account_id, enrolled_at, last_counter FROM devices WHERE code_index = $1 AND active = 1",
    )
    .bind(index)
    .fetch_optional(db)
    .await?)
}

/// The device's payment code v2 index, set to `candidate` (random) if it has none yet: the same
/// index from then on. `None` if there is no such device.
pub(crate) async fn code_index(tx: &mut Tx, device_id: &str, candidate: i64) -> Result<Option<i64>> {
    sqlx::query("UPDATE devices SET code_index = $1 WHERE id = $2 AND code_index IS NULL")
        .bind(candidate)
        .bind(device_id)
        .execute(tx.conn())
        .await?;
    let index: Option<(Option<i64>,)> = sqlx::query_as("SELECT code_index FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(index.and_then(|(index,)| index))
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

/// Whether a device (active or removed) has the key with id `key_id`: a key joins one wallet once.
pub(crate) async fn key_registered(tx: &mut Tx, key_id: &str) -> Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM devices WHERE key_id = $1").bind(key_id).fetch_optional(tx.conn()).await?;
    Ok(found.is_some())
}

/// When the wallet's device `device_id` was enrolled (ms), if it is the wallet's.
pub(crate) async fn enrolled_at<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    device_id: &str,
    account_id: &str,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT enrolled_at FROM devices WHERE id = $1 AND account_id = $2")
        .bind(device_id)
        .bind(account_id)
        .fetch_optional(conn)
        .await?)
}

/// When the wallet's latest joined device was enrolled (ms): every device but the one the wallet
/// was created with came by a join (removed ones too).
pub(crate) async fn latest_join(tx: &mut Tx, account_id: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(enrolled_at) FROM devices WHERE account_id = $1 \
         AND enrolled_at > (SELECT MIN(enrolled_at) FROM devices WHERE account_id = $1)",
    )
    .bind(account_id)
    .fetch_one(tx.conn())
    .await?)
}

/// The wallet's device `device_id`: its name and whether it is active.
pub(crate) async fn name_and_standing(
    tx: &mut Tx,
    device_id: &str,
    account_id: &str,
) -> Result<Option<(String, bool)>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT name, active FROM devices WHERE id = $1 AND account_id = $2")
            .bind(device_id)
            .bind(account_id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(row.map(|(name, active)| (name, active == 1)))
}

/// How many active devices the wallet has.
pub(crate) async fn active_count(tx: &mut Tx, account_id: &str) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE account_id = $1 AND active = 1")
        .bind(account_id)
        .fetch_one(tx.conn())
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Removes the device: its payment codes stop working from this commit on.
pub(crate) async fn deactivate(tx: &mut Tx, device_id: &str, now: time::OffsetDateTime) -> Result<()> {
    sqlx::query("UPDATE devices SET active = 0, revoked_at = $1 WHERE id = $2")
        .bind(crate::clock::to_ms(now))
        .bind(device_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Every device the wallet ever enrolled, oldest first, with when its first passkey was added.
pub(crate) async fn of_account(db: &crate::db::Reads, account_id: &str) -> Result<Vec<AnyRow>> {
    Ok(sqlx::query(
        "SELECT d.id, d.key_id, d.name, d.active, d.enrolled_at, \
         (SELECT MIN(p.created_at) FROM passkeys p WHERE p.device_id = d.id) AS passkey_added_at \
         FROM devices d WHERE d.account_id = $1 ORDER BY d.enrolled_at",
    )
    .bind(account_id)
    .fetch_all(db)
    .await?)
}

/// Adds the device to the account in `tx`, active: `false` (nothing written) if its key id is
/// registered already.
pub(crate) async fn insert(
    tx: &mut Tx,
    id: &str,
    account_id: &str,
    key_id: &str,
    public_key: &[u8],
    name: &str,
    now: time::OffsetDateTime,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO devices (id, account_id, key_id, public_key, name, active, last_counter, enrolled_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, 1, NULL, $6, NULL) ON CONFLICT (key_id) DO NOTHING",
    )
    .bind(id)
    .bind(account_id)
    .bind(key_id)
    .bind(public_key)
    .bind(name)
    .bind(crate::clock::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The SEC1 public key of the account's device `device_id` and whether it is still active, if the
/// account has such a device.
pub(crate) async fn key_and_standing<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    account_id: &str,
    device_id: &str,
) -> Result<Option<(Vec<u8>, bool)>> {
    let row: Option<(Vec<u8>, i64)> =
        sqlx::query_as("SELECT public_key, active FROM devices WHERE id = $1 AND account_id = $2")
            .bind(device_id)
            .bind(account_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(key, active)| (key, active == 1)))
}
