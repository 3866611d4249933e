//! The `attempt_counters` table: failed tries of a secret, per what they count against and whose
//! (`crate::tries::Counter`). What the counts mean (locked, warned, forgotten) is
//! `inkan_core::attempts`'s, asked by `crate::attempts`.

use crate::db::Tx;
use crate::error::Result;
use crate::tries::Counter;

/// Where one counter stands, as stored: its failures and the last one's time (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count {
    pub(crate) failures: i64,
    pub(crate) last_failed_at: i64,
}

/// The stored counts of `counters`, in their order (`None`: never failed, or swept), in one
/// statement.
pub(crate) async fn counts(conn: &mut crate::db::Conn, counters: &[&Counter]) -> Result<Vec<Option<Count>>> {
    if counters.is_empty() {
        return Ok(Vec::new());
    }
    // (secret = $1 AND against = $2 AND subject = $3) OR (secret = $4 …), placeholders in order.
    let each: Vec<String> = (0..counters.len())
        .map(|i| format!("(secret = ${} AND against = ${} AND subject = ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    let sql = format!(
        "SELECT secret, against, subject, failures, last_failed_at FROM attempt_counters WHERE {}",
        each.join(" OR ")
    );
    let mut query = sqlx::query_as::<_, (String, String, String, i64, i64)>(&sql);
    for counter in counters {
        query = query.bind(counter.secret.as_str()).bind(counter.against.as_str()).bind(&counter.subject);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(counters
        .iter()
        .map(|c| {
            rows.iter()
                .find(|(secret, against, subject, ..)| {
                    secret == c.secret.as_str() && against == c.against.as_str() && *subject == c.subject
                })
                .map(|&(.., failures, last_failed_at)| Count { failures, last_failed_at })
        })
        .collect())
}

/// One more failure on `counter` at `now` (milliseconds), in `tx`; its failures before
/// `forgotten` (milliseconds; at or before it) are forgotten first. The failures it now counts.
pub(crate) async fn bump(tx: &mut Tx, counter: &Counter, now: i64, forgotten: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO attempt_counters (secret, against, subject, failures, last_failed_at) \
         VALUES ($1, $2, $3, 1, $4) \
         ON CONFLICT (secret, against, subject) DO UPDATE SET \
         failures = CASE WHEN attempt_counters.last_failed_at <= $5 THEN 1 ELSE attempt_counters.failures + 1 END, \
         last_failed_at = $4 \
         RETURNING failures",
    )
    .bind(counter.secret.as_str())
    .bind(counter.against.as_str())
    .bind(&counter.subject)
    .bind(now)
    .bind(forgotten)
    .fetch_one(tx.conn())
    .await?)
}

/// One failure fewer on `counter` (never below none), in `tx`.
pub(crate) async fn take_back(tx: &mut Tx, counter: &Counter) -> Result<()> {
    sqlx::query(
        "UPDATE attempt_counters SET failures = failures - 1 \
         WHERE secret = $1 AND against = $2 AND subject = $3 AND failures > 0",
    )
    .bind(counter.secret.as_str())
    .bind(counter.against.as_str())
    .bind(&counter.subject)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes every counter against `subject` (any secret); whether there was one.
pub(crate) async fn delete_of_subject<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    against: &str,
    subject: &str,
) -> Result<bool> {
    let deleted = sqlx::query("DELETE FROM attempt_counters WHERE against = $1 AND subject = $2")
        .bind(against)
        .bind(subject)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Deletes the counters of `secret` against `against` whose last failure was at or before
/// `forgotten` (milliseconds); how many.
pub(crate) async fn delete_forgotten(tx: &mut Tx, secret: &str, against: &str, forgotten: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM attempt_counters WHERE secret = $1 AND against = $2 AND last_failed_at <= $3")
        .bind(secret)
        .bind(against)
        .bind(forgotten)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}
