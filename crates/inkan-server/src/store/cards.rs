//! The `cards` table: a wallet's cards to top up from, each first a reserved registration
//! attempt (`attempt`), then `verified`, `challenge_required`, `failed` or `blocked`. Only the
//! provider's token, the brand, the last four digits, a fingerprint and the number's keyed hash
//! are kept, never the number.

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::Result;

/// One card, as the wallet's flows read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CardRow {
    pub id: String,
    pub provider_token: String,
    pub brand: String,
    pub last4: String,
    pub fingerprint: String,
    pub status: String,
    /// The card number's keyed hash (`tries::card_number_key`), which its tries count against.
    pub number_key: String,
}

const COLUMNS: &str = "id, provider_token, brand, last4, fingerprint, status, number_key";

/// The wallet's card `id`.
pub(crate) async fn by_id(db: &crate::db::Reads, id: &str, account_id: &str) -> Result<Option<CardRow>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM cards WHERE id = $1 AND account_id = $2"))
        .bind(id)
        .bind(account_id)
        .fetch_optional(db)
        .await?)
}

/// The wallet's cards, oldest first, without the attempts still waiting for the provider.
pub(crate) async fn of_account(db: &crate::db::Reads, account_id: &str) -> Result<Vec<CardRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM cards WHERE account_id = $1 AND status <> 'attempt' ORDER BY created_at, id"
    ))
    .bind(account_id)
    .fetch_all(db)
    .await?)
}

/// In how many other wallets the card of `fingerprint` is verified.
pub(crate) async fn verified_elsewhere(db: &crate::db::Reads, fingerprint: &str, account_id: &str) -> Result<u32> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT account_id) FROM cards WHERE fingerprint = $1 AND account_id <> $2 AND status = 'verified'",
    )
    .bind(fingerprint)
    .bind(account_id)
    .fetch_one(db)
    .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Reserves a registration attempt of the wallet for the card number of `number_key`.
pub(crate) async fn insert_attempt(
    tx: &mut Tx,
    id: &str,
    account_id: &str,
    number_key: &str,
    now: time::OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO cards (id, account_id, provider_token, brand, last4, fingerprint, number_key, status, \
         failed_attempts, created_at) VALUES ($1, $2, '', '', '', '', $3, 'attempt', 0, $4)",
    )
    .bind(id)
    .bind(account_id)
    .bind(number_key)
    .bind(to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The provider refused the attempt `id` (of a card ending in `last4`).
pub(crate) async fn fail_attempt(tx: &mut Tx, id: &str, last4: &str) -> Result<()> {
    sqlx::query("UPDATE cards SET status = 'failed', last4 = $1 WHERE id = $2")
        .bind(last4)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The provider's registration of the attempt `id`: the card is `status` (`verified` or
/// `challenge_required`). `false` if there was no such attempt.
pub(crate) async fn register(
    tx: &mut Tx,
    id: &str,
    token: &str,
    (brand, last4, fingerprint): (&str, &str, &str),
    status: &str,
) -> Result<bool> {
    let taken = sqlx::query(
        "UPDATE cards SET provider_token = $1, brand = $2, last4 = $3, fingerprint = $4, status = $5, failed_attempts = 0 \
         WHERE id = $6 AND status = 'attempt'",
    )
    .bind(token)
    .bind(brand)
    .bind(last4)
    .bind(fingerprint)
    .bind(status)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Keeps the card `id` as `blocked` (verified in too many other wallets), with what identifies it.
pub(crate) async fn block(tx: &mut Tx, id: &str, (brand, last4, fingerprint): (&str, &str, &str)) -> Result<()> {
    sqlx::query("UPDATE cards SET status = 'blocked', brand = $1, last4 = $2, fingerprint = $3 WHERE id = $4")
        .bind(brand)
        .bind(last4)
        .bind(fingerprint)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The card `id` passed its challenge.
pub(crate) async fn mark_verified(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query("UPDATE cards SET status = 'verified' WHERE id = $1").bind(id).execute(tx.conn()).await?;
    Ok(())
}

/// The fingerprints of the cards refused for being verified in other wallets (`blocked`), newest
/// refusal first, at most `limit`.
pub(crate) async fn blocked_fingerprints(db: &crate::db::Reads, limit: i64) -> Result<Vec<String>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT fingerprint, MAX(created_at) AS refused_at FROM cards WHERE status = 'blocked' \
         GROUP BY fingerprint ORDER BY refused_at DESC, fingerprint LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(fingerprint, _)| fingerprint).collect())
}

/// The card of `fingerprint` in each wallet where it is verified, waits for its code or was
/// refused: (account, status, brand, last four digits, added at), oldest first.
pub(crate) async fn with_fingerprint(
    db: &crate::db::Reads,
    fingerprint: &str,
) -> Result<Vec<(String, String, String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT account_id, status, brand, last4, created_at FROM cards \
         WHERE fingerprint = $1 AND status IN ('verified', 'challenge_required', 'blocked') \
         ORDER BY created_at, CASE WHEN status = 'blocked' THEN 1 ELSE 0 END, id",
    )
    .bind(fingerprint)
    .fetch_all(db)
    .await?)
}
