//! The bearer keys of terminals (`terminals`, with their merchant) and operators
//! (`operator_keys`), looked up by the SHA-256 of the key. Making and revoking them is
//! `crate::admin`'s.

use crate::error::Result;

/// An active terminal, with its merchant.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Terminal {
    pub(crate) id: String,
    pub(crate) merchant_id: String,
    pub(crate) merchant_name: String,
    pub(crate) country: String,
}

/// The active terminal whose key hashes to `key_hash`.
pub(crate) async fn terminal<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    key_hash: &str,
) -> Result<Option<Terminal>> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.merchant_id, m.name AS merchant_name, t.country FROM terminals t \
         JOIN merchants m ON m.id = t.merchant_id WHERE t.key_hash = $1 AND t.active = 1",
    )
    .bind(key_hash)
    .fetch_optional(conn)
    .await?)
}

/// The id and scopes (as stored) of the active operator key that hashes to `key_hash`.
pub(crate) async fn operator<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    key_hash: &str,
) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as("SELECT id, scopes FROM operator_keys WHERE key_hash = $1 AND active = 1")
        .bind(key_hash)
        .fetch_optional(conn)
        .await?)
}
