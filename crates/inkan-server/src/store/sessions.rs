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

/// A session as stored, with its device's standing.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Stored {
    pub(crate) account_id: String,
    pub(crate) device_id: String,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    /// Its device is active (1) or removed (0).
    pub(crate) active: i64,
}

/// The session stored under `token_hash`, if any.
pub(crate) async fn by_token_hash<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    token_hash: &str,
) -> Result<Option<Stored>> {
    Ok(sqlx::query_as(
        "SELECT s.account_id, s.device_id, s.created_at, s.last_seen_at, d.active FROM sessions s \
         JOIN devices d ON d.id = s.device_id WHERE s.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?)
}

/// Moves the session's last-seen time from `seen` to `now` in `tx`, if it is still there with
/// that time and its device is still active; whether it did. Two racing refreshes cannot both
/// pass, and a removal in between wins.
pub(crate) async fn refresh(
    tx: &mut Tx,
    token_hash: &str,
    seen: time::OffsetDateTime,
    now: time::OffsetDateTime,
) -> Result<bool> {
    let refreshed = sqlx::query(
        "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at = $3 \
         AND EXISTS (SELECT 1 FROM devices d WHERE d.id = sessions.device_id AND d.active = 1) \
         RETURNING account_id",
    )
    .bind(to_ms(now))
    .bind(token_hash)
    .bind(to_ms(seen))
    .fetch_optional(tx.conn())
    .await?;
    Ok(refreshed.is_some())
}

/// Which sessions of an account [`delete`] ends.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// Every session (a hold, a freeze by recovery code).
    All,
    /// Every session but those of this device (a freeze from this device).
    AllBut(&'a str),
    /// The sessions of this device (it was removed).
    OfDevice(&'a str),
    /// This session, by its token hash (sign-out).
    Only(&'a str),
}

/// Deletes the account's sessions `which` names, in `tx`; how many there were.
pub(crate) async fn delete(tx: &mut Tx, account_id: &str, which: Ending<'_>) -> Result<u64> {
    let (condition, other) = match which {
        Ending::All => ("", None),
        Ending::AllBut(device_id) => (" AND device_id <> $2", Some(device_id)),
        Ending::OfDevice(device_id) => (" AND device_id = $2", Some(device_id)),
        Ending::Only(token_hash) => (" AND token_hash = $2", Some(token_hash)),
    };
    let sql = format!("DELETE FROM sessions WHERE account_id = $1{condition}");
    let query = sqlx::query(&sql).bind(account_id);
    let query = match other {
        Some(value) => query.bind(value),
        None => query,
    };
    Ok(query.execute(tx.conn()).await?.rows_affected())
}

/// Deletes the sessions last seen at or before `last_seen_by`, or made at or before `created_by`;
/// how many.
pub(crate) async fn delete_ended(
    tx: &mut Tx,
    last_seen_by: time::OffsetDateTime,
    created_by: time::OffsetDateTime,
) -> Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at <= $1 OR created_at <= $2")
        .bind(to_ms(last_seen_by))
        .bind(to_ms(created_by))
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}
