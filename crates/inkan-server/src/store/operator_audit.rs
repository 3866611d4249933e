//! The `operator_audit` table: one row per operator action. What an entry says, and when one is
//! written, is `crate::audit`'s.

use crate::error::Result;

/// An entry as stored: id, at (milliseconds), operator, action, subject, reason.
pub(crate) type Stored = (i64, i64, String, String, String, String);

/// Writes an entry made `at` (milliseconds) on `conn`: operator, action, subject, reason.
pub(crate) async fn insert(
    conn: &mut crate::db::Conn,
    at: i64,
    (operator_id, action, subject, reason): (&str, &str, &str, &str),
) -> Result<()> {
    sqlx::query("INSERT INTO operator_audit (at, operator_id, action, subject, reason) VALUES ($1, $2, $3, $4, $5)")
        .bind(at)
        .bind(operator_id)
        .bind(action)
        .bind(subject)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest `limit` entries, newest first.
pub(crate) async fn newest(db: &crate::db::Reads, limit: i64) -> Result<Vec<Stored>> {
    Ok(sqlx::query_as(
        "SELECT id, at, operator_id, action, subject, reason FROM operator_audit ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}
