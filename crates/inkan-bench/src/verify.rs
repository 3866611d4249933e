//! After a run: the ledger read straight from the server's database (with the server's own
//! invariants: every ledger transaction sums to zero, each wallet's entries equal its balance,
//! no balance is negative).

use anyhow::Result;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
pub struct LedgerCheck {
    pub transactions: i64,
    pub unbalanced_transactions: usize,
    pub total: i64,
    pub accounts: usize,
    /// Accounts whose balance differs from their ledger book, or is negative.
    pub wrong_accounts: Vec<String>,
    pub succeeded_charges: i64,
}

impl LedgerCheck {
    pub fn balanced(&self) -> bool {
        self.unbalanced_transactions == 0 && self.total == 0 && self.wrong_accounts.is_empty()
    }
}

pub async fn ledger(pool: &sqlx::AnyPool) -> Result<LedgerCheck> {
    let transactions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_transactions").fetch_one(pool).await?;
    let unbalanced: Vec<String> =
        sqlx::query_scalar("SELECT transaction_id FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount) <> 0")
            .fetch_all(pool)
            .await?;
    let total: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM ledger_entries").fetch_one(pool).await?;
    let rows = sqlx::query(
        "SELECT a.id, a.balance, (SELECT CAST(SUM(e.amount) AS BIGINT) FROM ledger_entries e WHERE e.book = 'wallet:' || a.id) AS book \
         FROM accounts a",
    )
    .fetch_all(pool)
    .await?;
    let mut wrong_accounts = Vec::new();
    for row in &rows {
        let id: String = row.try_get("id")?;
        let balance: i64 = row.try_get("balance")?;
        let book: Option<i64> = row.try_get("book")?;
        if balance < 0 || book.unwrap_or(0) != balance {
            wrong_accounts.push(id);
        }
    }
    let succeeded_charges: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM charges WHERE status = 'succeeded'").fetch_one(pool).await?;
    Ok(LedgerCheck {
        transactions,
        unbalanced_transactions: unbalanced.len(),
        total: total.unwrap_or(0),
        accounts: rows.len(),
        wrong_accounts,
        succeeded_charges,
    })
}
