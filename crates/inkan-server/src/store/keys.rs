//! The bearer keys of terminals (`terminals`, with their merchant) and operators
//! (`operator_keys`), looked up by the SHA-256 of the key, and the merchants terminals belong to.
//! When to make and revoke them is `crate::admin`'s.

use crate::db::Tx;
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

/// A new merchant (`created_at` in milliseconds).
pub(crate) async fn insert_merchant(tx: &mut Tx, id: &str, name: &str, created_at: i64) -> Result<()> {
    sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(name)
        .bind(created_at)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether the merchant `id` exists.
pub(crate) async fn merchant_exists(db: &crate::db::Reads, id: &str) -> Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM merchants WHERE id = $1").bind(id).fetch_optional(db).await?;
    Ok(found.is_some())
}

/// A new terminal, active, whose key hashes to `key_hash`.
pub(crate) struct NewTerminal<'a> {
    pub(crate) id: &'a str,
    pub(crate) merchant_id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) key_hash: &'a str,
    pub(crate) created_at: i64,
    pub(crate) country: &'a str,
}

pub(crate) async fn insert_terminal(tx: &mut Tx, terminal: &NewTerminal<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO terminals (id, merchant_id, name, key_hash, active, created_at, country) \
         VALUES ($1, $2, $3, $4, 1, $5, $6)",
    )
    .bind(terminal.id)
    .bind(terminal.merchant_id)
    .bind(terminal.name)
    .bind(terminal.key_hash)
    .bind(terminal.created_at)
    .bind(terminal.country)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A new operator key, active, whose key hashes to `key_hash`, with its scopes as stored.
pub(crate) async fn insert_operator(
    tx: &mut Tx,
    (id, name): (&str, &str),
    key_hash: &str,
    created_at: i64,
    scopes: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO operator_keys (id, name, key_hash, active, created_at, scopes) VALUES ($1, $2, $3, 1, $4, $5)",
    )
    .bind(id)
    .bind(name)
    .bind(key_hash)
    .bind(created_at)
    .bind(scopes)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whose key: a terminal's or an operator's.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Holder {
    Terminal,
    Operator,
}

/// Marks the key `id` inactive (the next request with it is refused): whether there was one.
pub(crate) async fn deactivate(tx: &mut Tx, holder: Holder, id: &str) -> Result<bool> {
    let table = match holder {
        Holder::Terminal => "terminals",
        Holder::Operator => "operator_keys",
    };
    let done = sqlx::query(&format!("UPDATE {table} SET active = 0 WHERE id = $1")).bind(id).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}
