//! The `ceremonies` table: a passkey ceremony's state between its "begin" and its "finish", kept
//! as JSON under an id the client is given, and deleted by the transaction that acts on it (so it
//! acts once). What a ceremony holds is `crate::passkeys`'s; expired ones are swept by
//! `crate::housekeeping`.

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::Result;

/// A ceremony to keep.
#[derive(Debug)]
pub(crate) struct NewCeremony<'a> {
    pub(crate) id: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) account_id: Option<&'a str>,
    pub(crate) state: String,
    pub(crate) context: String,
    pub(crate) expires_at: time::OffsetDateTime,
}

/// Keeps a ceremony, in `tx`.
pub(crate) async fn insert(tx: &mut Tx, new: &NewCeremony<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO ceremonies (id, kind, account_id, state, context, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.id)
    .bind(new.kind)
    .bind(new.account_id)
    .bind(&new.state)
    .bind(&new.context)
    .bind(to_ms(new.expires_at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A ceremony as it was kept (`expires_at` in milliseconds).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Taken {
    pub(crate) account_id: Option<String>,
    pub(crate) state: String,
    pub(crate) context: String,
    pub(crate) expires_at: i64,
}

/// Deletes the ceremony `id` of `kind` in `tx`, and returns it if there was one, expired or not.
pub(crate) async fn take(tx: &mut Tx, id: &str, kind: &str) -> Result<Option<Taken>> {
    Ok(sqlx::query_as(
        "DELETE FROM ceremonies WHERE id = $1 AND kind = $2 RETURNING account_id, state, context, expires_at",
    )
    .bind(id)
    .bind(kind)
    .fetch_optional(tx.conn())
    .await?)
}

/// Deletes the ceremonies expired at `now`; how many.
pub(crate) async fn delete_expired(tx: &mut Tx, now: time::OffsetDateTime) -> Result<u64> {
    let done = sqlx::query("DELETE FROM ceremonies WHERE expires_at <= $1").bind(to_ms(now)).execute(tx.conn()).await?;
    Ok(done.rows_affected())
}
