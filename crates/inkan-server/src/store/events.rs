//! The `events` table: each wallet's history of notices, chained by hash, the head signed by the
//! issuer. What a notice says, how the chain links and who signs are `crate::feed`'s.

use crate::db::Tx;
use crate::error::Result;

/// A notice as stored (`at` in milliseconds; `signed_by` and `signature` absent on notices from
/// before heads were signed).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Stored {
    pub(crate) seq: i64,
    pub(crate) at: i64,
    pub(crate) payload: String,
    pub(crate) hash: String,
    pub(crate) signed_by: Option<String>,
    pub(crate) signature: Option<String>,
}

/// Writes the account's notice `event` in `tx`.
pub(crate) async fn insert(tx: &mut Tx, account_id: &str, event: &Stored) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (account_id, seq, at, payload, hash, signed_by, signature) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(account_id)
    .bind(event.seq)
    .bind(event.at)
    .bind(&event.payload)
    .bind(&event.hash)
    .bind(&event.signed_by)
    .bind(&event.signature)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The account's notices after `after`, oldest first, at most `limit`.
pub(crate) async fn after(db: &crate::db::Reads, account_id: &str, after: i64, limit: i64) -> Result<Vec<Stored>> {
    Ok(sqlx::query_as(
        "SELECT seq, at, payload, hash, signed_by, signature FROM events \
         WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(account_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Every account whose latest notice has no signature: its id, and that notice's number and hash.
pub(crate) async fn unsigned_heads(db: &crate::db::Reads) -> Result<Vec<(String, i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT e.account_id, e.seq, e.hash FROM events e JOIN accounts a \
         ON a.id = e.account_id AND e.seq = a.event_seq WHERE e.signature IS NULL",
    )
    .fetch_all(db)
    .await?)
}

/// Signs the account's notice `seq` in `tx`, if it is still unsigned and its hash is `hash`:
/// whether it was.
pub(crate) async fn sign(
    tx: &mut Tx,
    (account_id, seq, hash): (&str, i64, &str),
    (signed_by, signature): (&str, &str),
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE events SET signed_by = $1, signature = $2 \
         WHERE account_id = $3 AND seq = $4 AND hash = $5 AND signature IS NULL",
    )
    .bind(signed_by)
    .bind(signature)
    .bind(account_id)
    .bind(seq)
    .bind(hash)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
