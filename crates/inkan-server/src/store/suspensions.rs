//! The `suspensions` table: one row per service the operator has suspended (brief rule 7). Read
//! by every request it stops (`crate::switches`).

use inkan_api::admin::{Service, Suspension};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Result};

const COLUMNS: &str = "service, reason, operator_id, since";

fn from_row(row: &AnyRow) -> Result<Suspension> {
    let service: String = row.try_get("service")?;
    Ok(Suspension {
        service: Service::parse(&service).ok_or_else(|| AppError::internal(format!("unknown service {service:?}")))?,
        reason: row.try_get("reason")?,
        operator_id: row.try_get("operator_id")?,
        since: from_ms(row.try_get("since")?),
    })
}

/// Whether `service` is suspended now.
pub(crate) async fn is_suspended<'c>(db: impl sqlx::AnyExecutor<'c>, service: Service) -> Result<bool> {
    let since: Option<i64> = sqlx::query_scalar("SELECT since FROM suspensions WHERE service = $1")
        .bind(service.as_str())
        .fetch_optional(db)
        .await?;
    Ok(since.is_some())
}

/// Every suspension, by service.
pub(crate) async fn all(db: &crate::db::Reads) -> Result<Vec<Suspension>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM suspensions ORDER BY service")).fetch_all(db).await?;
    rows.iter().map(from_row).collect()
}

/// Suspends `service` in `tx` (or gives a suspension already there the new reason and operator,
/// keeping when it began).
pub(crate) async fn upsert(
    tx: &mut Tx,
    service: Service,
    reason: &str,
    operator_id: &str,
    now: time::OffsetDateTime,
) -> Result<Suspension> {
    let row = sqlx::query(&format!(
        "INSERT INTO suspensions (service, reason, operator_id, since) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (service) DO UPDATE SET reason = excluded.reason, operator_id = excluded.operator_id \
         RETURNING {COLUMNS}"
    ))
    .bind(service.as_str())
    .bind(reason)
    .bind(operator_id)
    .bind(to_ms(now))
    .fetch_one(tx.conn())
    .await?;
    from_row(&row)
}

/// Lifts the suspension of `service` in `tx`: whether there was one.
pub(crate) async fn delete(tx: &mut Tx, service: Service) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM suspensions WHERE service = $1").bind(service.as_str()).execute(tx.conn()).await?;
    Ok(done.rows_affected() > 0)
}
