//! The `device_joins` table: a new device's request to join a wallet, from its opening to the
//! passkey that completes it. Every move is a conditional write on the join's status and
//! expiry, so two requests racing on one join cannot both move it.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::Result;

/// The columns of a join the flows read.
const COLUMNS: &str = "id, account_id, status, name, key_id, public_key, expires_at";

/// One join, as stored.
#[derive(Debug, Clone)]
pub(crate) struct JoinRow {
    pub id: String,
    pub account_id: String,
    /// `awaiting_device`, `awaiting_approval`, `approved`, `completed` or `rejected`.
    pub status: String,
    pub name: Option<String>,
    pub key_id: Option<String>,
    /// The joining device's key (SEC1), once it has submitted it.
    pub public_key: Option<Vec<u8>>,
    pub expires_at: time::OffsetDateTime,
}

impl JoinRow {
    fn of(row: &AnyRow) -> Result<JoinRow> {
        Ok(JoinRow {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            status: row.try_get("status")?,
            name: row.try_get("name")?,
            key_id: row.try_get("key_id")?,
            public_key: row.try_get("public_key")?,
            expires_at: from_ms(row.try_get("expires_at")?),
        })
    }

    fn optional(row: Option<AnyRow>) -> Result<Option<JoinRow>> {
        row.as_ref().map(JoinRow::of).transpose()
    }
}

/// The join `id`, if there is one.
pub(crate) async fn by_id(db: &crate::db::Reads, id: &str) -> Result<Option<JoinRow>> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM device_joins WHERE id = $1")).bind(id).fetch_optional(db).await?;
    JoinRow::optional(row)
}

/// How many joins of the wallet are still open at `now`, and when the first of them expires.
pub(crate) async fn open_count(
    tx: &mut Tx,
    account_id: &str,
    now: time::OffsetDateTime,
) -> Result<(u64, Option<time::OffsetDateTime>)> {
    let (open, first_expiry): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(expires_at) FROM device_joins WHERE account_id = $1 \
         AND status IN ('awaiting_device', 'awaiting_approval', 'approved') AND expires_at > $2",
    )
    .bind(account_id)
    .bind(to_ms(now))
    .fetch_one(tx.conn())
    .await?;
    Ok((u64::try_from(open).unwrap_or(u64::MAX), first_expiry.map(from_ms)))
}

/// Opens a join in `awaiting_device`.
pub(crate) async fn insert(
    tx: &mut Tx,
    id: &str,
    account_id: &str,
    now: time::OffsetDateTime,
    expires_at: time::OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO device_joins (id, account_id, status, name, key_id, public_key, approved_by, created_at, expires_at) \
         VALUES ($1, $2, 'awaiting_device', NULL, NULL, NULL, NULL, $3, $4)",
    )
    .bind(id)
    .bind(account_id)
    .bind(to_ms(now))
    .bind(to_ms(expires_at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The joining device's name and key, if the join still waits for them: it now waits for
/// approval.
pub(crate) async fn submit_device(
    tx: &mut Tx,
    id: &str,
    name: &str,
    key_id: &str,
    public_key: &[u8],
    now: time::OffsetDateTime,
) -> Result<Option<JoinRow>> {
    let row = sqlx::query(&format!(
        "UPDATE device_joins SET status = 'awaiting_approval', name = $1, key_id = $2, public_key = $3 \
         WHERE id = $4 AND status = 'awaiting_device' AND expires_at > $5 RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(key_id)
    .bind(public_key.to_vec())
    .bind(id)
    .bind(to_ms(now))
    .fetch_optional(tx.conn())
    .await?;
    JoinRow::optional(row)
}

/// Approves the wallet's join `id` by `approved_by` (a device id, or `recovery_code`), if it
/// waits for approval and has not expired at `now`.
pub(crate) async fn approve(
    tx: &mut Tx,
    id: &str,
    account_id: &str,
    approved_by: &str,
    now: time::OffsetDateTime,
) -> Result<Option<JoinRow>> {
    let row = sqlx::query(&format!(
        "UPDATE device_joins SET status = 'approved', approved_by = $1 \
         WHERE id = $2 AND account_id = $3 AND status = 'awaiting_approval' AND expires_at > $4 RETURNING {COLUMNS}"
    ))
    .bind(approved_by)
    .bind(id)
    .bind(account_id)
    .bind(to_ms(now))
    .fetch_optional(tx.conn())
    .await?;
    JoinRow::optional(row)
}

/// Ends the join: a wrong recovery code was given for it.
pub(crate) async fn reject(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query("UPDATE device_joins SET status = 'rejected' WHERE id = $1").bind(id).execute(tx.conn()).await?;
    Ok(())
}

/// Completes the join, if it is approved and has not expired at `now`.
pub(crate) async fn complete(tx: &mut Tx, id: &str, now: time::OffsetDateTime) -> Result<Option<JoinRow>> {
    let row = sqlx::query(&format!(
        "UPDATE device_joins SET status = 'completed' WHERE id = $1 AND status = 'approved' AND expires_at > $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(to_ms(now))
    .fetch_optional(tx.conn())
    .await?;
    JoinRow::optional(row)
}

/// The wallet's joins waiting for approval at `now`, oldest first.
pub(crate) async fn awaiting_approval(
    db: &crate::db::Reads,
    account_id: &str,
    now: time::OffsetDateTime,
) -> Result<Vec<JoinRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM device_joins \
         WHERE account_id = $1 AND status = 'awaiting_approval' AND expires_at > $2 ORDER BY created_at"
    ))
    .bind(account_id)
    .bind(to_ms(now))
    .fetch_all(db)
    .await?;
    rows.iter().map(JoinRow::of).collect()
}

/// Deletes the joins that expired at or before `by`; how many.
pub(crate) async fn delete_expired(tx: &mut Tx, by: time::OffsetDateTime) -> Result<u64> {
    let done =
        sqlx::query("DELETE FROM device_joins WHERE expires_at <= $1").bind(to_ms(by)).execute(tx.conn()).await?;
    Ok(done.rows_affected())
}
