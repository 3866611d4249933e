//! The `idempotency_keys` table: a terminal's key, the hash of the request it came with, and the
//! answer a retry gets.

use crate::db::Tx;
use crate::error::Result;

/// What was kept for a key: the request's hash and the answer (JSON).
pub(crate) struct Kept {
    pub(crate) request_hash: String,
    pub(crate) response: String,
}

/// Keeps `response` for the terminal's `key`. `false` (nothing written) when a concurrent request
/// with the same key kept its own first.
pub(crate) async fn keep(
    tx: &mut Tx,
    terminal_id: &str,
    key: &str,
    (request_hash, charge_id): (&str, &str),
    response: &str,
    at_ms: i64,
) -> Result<bool> {
    let kept = sqlx::query(
        "INSERT INTO idempotency_keys (terminal_id, key, request_hash, charge_id, response, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (terminal_id, key) DO NOTHING",
    )
    .bind(terminal_id)
    .bind(key)
    .bind(request_hash)
    .bind(charge_id)
    .bind(response)
    .bind(at_ms)
    .execute(tx.conn())
    .await?;
    Ok(kept.rows_affected() == 1)
}

/// What was kept for the terminal's `key`, if anything.
pub(crate) async fn kept(db: &crate::db::Reads, terminal_id: &str, key: &str) -> Result<Option<Kept>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT request_hash, response FROM idempotency_keys WHERE terminal_id = $1 AND key = $2")
            .bind(terminal_id)
            .bind(key)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(request_hash, response)| Kept { request_hash, response }))
}
