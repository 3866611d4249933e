//! The `payouts` table: the balance of a closed wallet paid back to a card, written `pending` with
//! its ledger movement before the provider is asked, and moved out of `pending` once
//! (`crate::settlement::leave_pending`).

use inkan_core::closing::{CardFacts, PayoutReason};
use inkan_core::{Currency, Money};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Result};

/// A pay-out as written, with what settling it needs of its card.
#[derive(Debug, Clone)]
pub(crate) struct PayoutRow {
    pub id: String,
    pub account_id: String,
    pub amount: Money,
    pub reason: PayoutReason,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub failure: Option<String>,
    pub created_at: time::OffsetDateTime,
    /// The card's token at the provider.
    pub token: String,
    pub last4: String,
}

const SELECT: &str = "SELECT p.id, p.account_id, p.amount, p.currency, p.reason, p.status, p.failure, p.created_at, \
                      c.provider_token, c.last4 FROM payouts p JOIN cards c ON c.id = p.card_id";

fn from_row(row: &AnyRow) -> Result<PayoutRow> {
    let currency: Currency = row.try_get::<String, _>("currency")?.parse().map_err(AppError::internal)?;
    let reason: String = row.try_get("reason")?;
    Ok(PayoutRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        amount: Money::new(currency, row.try_get("amount")?),
        reason: PayoutReason::parse(&reason).ok_or_else(|| AppError::internal(format!("pay-out reason {reason}")))?,
        status: row.try_get("status")?,
        failure: row.try_get("failure")?,
        created_at: from_ms(row.try_get("created_at")?),
        token: row.try_get("provider_token")?,
        last4: row.try_get("last4")?,
    })
}

/// The pay-out `id`, which must exist.
pub(crate) async fn by_id<'c>(db: impl sqlx::AnyExecutor<'c>, id: &str) -> Result<PayoutRow> {
    let row = sqlx::query(&format!("{SELECT} WHERE p.id = $1")).bind(id).fetch_one(db).await?;
    from_row(&row)
}

/// The pay-outs still `pending`, oldest first, at most `limit`.
pub(crate) async fn pending(db: &crate::db::Reads, limit: i64) -> Result<Vec<PayoutRow>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE p.status = 'pending' ORDER BY p.created_at LIMIT $1"))
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The wallet's latest pay-out that is pending or succeeded, if there is one.
pub(crate) async fn latest_not_failed(db: &crate::db::Reads, account_id: &str) -> Result<Option<PayoutRow>> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE p.account_id = $1 AND p.status IN ('pending', 'succeeded') ORDER BY p.created_at DESC LIMIT 1"
    ))
    .bind(account_id)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// How many of the wallet's pay-outs are `pending`, in `tx`.
pub(crate) async fn pending_count(tx: &mut Tx, account_id: &str) -> Result<u32> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payouts WHERE account_id = $1 AND status = 'pending'")
        .bind(account_id)
        .fetch_one(tx.conn())
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// A pay-out to write `pending`.
#[derive(Debug)]
pub(crate) struct NewPayout<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub card_id: &'a str,
    pub amount: Money,
    pub reason: PayoutReason,
    pub now: time::OffsetDateTime,
}

pub(crate) async fn insert(tx: &mut Tx, new: &NewPayout<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO payouts (id, account_id, card_id, amount, currency, reason, status, provider_ref, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', '', $7)",
    )
    .bind(new.id)
    .bind(new.account_id)
    .bind(new.card_id)
    .bind(new.amount.minor())
    .bind(new.amount.currency().code())
    .bind(new.reason.as_str())
    .bind(to_ms(new.now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// What `inkan_core::closing::payout_card` picks from: each of the wallet's cards, with whether a
/// top-up from it succeeded and whether a pay-out to it failed, in `tx`.
pub(crate) async fn card_facts(tx: &mut Tx, account_id: &str) -> Result<Vec<CardFacts<String>>> {
    let rows = sqlx::query(
        "SELECT c.id, c.status, c.created_at, \
           (SELECT COUNT(*) FROM topups t WHERE t.card_id = c.id AND t.status = 'succeeded') AS funded, \
           (SELECT COUNT(*) FROM payouts p WHERE p.card_id = c.id AND p.status = 'failed') AS refused \
         FROM cards c WHERE c.account_id = $1",
    )
    .bind(account_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CardFacts {
                id: row.try_get::<String, _>("id")?,
                added_at: from_ms(row.try_get("created_at")?),
                verified: row.try_get::<String, _>("status")? == "verified",
                funded: row.try_get::<i64, _>("funded")? > 0,
                refused_payout: row.try_get::<i64, _>("refused")? > 0,
            })
        })
        .collect()
}
