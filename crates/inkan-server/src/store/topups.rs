//! The `topups` table: a wallet's top-ups, each written `pending` under the wallet's
//! `Idempotency-Key` before the provider is asked, and moved out of `pending` once
//! (`crate::settlement::leave_pending`).

use inkan_core::topup::TopUpStatus;
use inkan_core::{Currency, Money};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Result};

/// A top-up as written, with what settling it needs of its card.
#[derive(Debug, Clone)]
pub(crate) struct TopUpRow {
    pub id: String,
    pub account_id: String,
    pub amount: Money,
    pub status: TopUpStatus,
    pub failure: Option<String>,
    pub request_hash: Option<String>,
    pub created_at: time::OffsetDateTime,
    /// The card's token at the provider.
    pub token: String,
    pub last4: String,
}

const SELECT: &str = "SELECT t.id, t.account_id, t.amount, t.currency, t.status, t.failure, t.request_hash, \
                      t.created_at, c.provider_token, c.last4 FROM topups t JOIN cards c ON c.id = t.card_id";

fn from_row(row: &AnyRow) -> Result<TopUpRow> {
    let currency: String = row.try_get("currency")?;
    let currency = currency.parse::<Currency>().map_err(AppError::internal)?;
    let status: String = row.try_get("status")?;
    Ok(TopUpRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        amount: Money::new(currency, row.try_get("amount")?),
        status: TopUpStatus::parse(&status).ok_or_else(|| AppError::internal(format!("top-up status {status}")))?,
        failure: row.try_get("failure")?,
        request_hash: row.try_get("request_hash")?,
        created_at: from_ms(row.try_get("created_at")?),
        token: row.try_get("provider_token")?,
        last4: row.try_get("last4")?,
    })
}

/// The wallet's top-up written under `key`, if there is one.
pub(crate) async fn by_key(db: &crate::db::Reads, account_id: &str, key: &str) -> Result<Option<TopUpRow>> {
    let row = sqlx::query(&format!("{SELECT} WHERE t.account_id = $1 AND t.idempotency_key = $2"))
        .bind(account_id)
        .bind(key)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The top-up `id`, which must exist.
pub(crate) async fn by_id<'c>(db: impl sqlx::AnyExecutor<'c>, id: &str) -> Result<TopUpRow> {
    let row = sqlx::query(&format!("{SELECT} WHERE t.id = $1")).bind(id).fetch_one(db).await?;
    from_row(&row)
}

/// The top-ups still `pending`, oldest first, at most `limit`.
pub(crate) async fn pending(db: &crate::db::Reads, limit: i64) -> Result<Vec<TopUpRow>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE t.status = 'pending' ORDER BY t.created_at LIMIT $1"))
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

/// A top-up to write `pending`.
#[derive(Debug)]
pub(crate) struct NewTopUp<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub card_id: &'a str,
    pub amount: Money,
    pub idempotency_key: &'a str,
    pub request_hash: &'a str,
    pub now: time::OffsetDateTime,
}

/// Writes the top-up `pending` in `tx`: `false` (nothing written) when the wallet already has one
/// under the same key. A racing request with the same key meets the unique index; on SQLite,
/// where writes take turns, it sees the row first.
pub(crate) async fn insert_pending(tx: &mut Tx, new: &NewTopUp<'_>) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO topups (id, account_id, card_id, amount, currency, provider_ref, created_at, status, \
         idempotency_key, request_hash) VALUES ($1, $2, $3, $4, $5, '', $6, 'pending', $7, $8) \
         ON CONFLICT (account_id, idempotency_key) DO NOTHING",
    )
    .bind(new.id)
    .bind(new.account_id)
    .bind(new.card_id)
    .bind(new.amount.minor())
    .bind(new.amount.currency().code())
    .bind(to_ms(new.now))
    .bind(new.idempotency_key)
    .bind(new.request_hash)
    .execute(tx.conn())
    .await?;
    Ok(inserted.rows_affected() == 1)
}
