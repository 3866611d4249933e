//! The double-entry ledger. Every transaction's entries sum to zero; wallet balances on the
//! `accounts` rows move in the same database transaction as their entries.
//!
//! Books: `wallet:<account>`, `merchant:<merchant>` (what Inkan owes the merchant) and
//! `funding_clearing` (money on its way in from card top-ups).

use inkan_core::Money;

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::secrets::new_id;
use crate::state::AppState;

pub fn wallet(account_id: &str) -> String {
    format!("wallet:{account_id}")
}

pub fn merchant(merchant_id: &str) -> String {
    format!("merchant:{merchant_id}")
}

pub const FUNDING_CLEARING: &str = "funding_clearing";

/// Records one balanced transaction. Refuses (as an internal error: it is a bug) entries that do
/// not sum to zero or mix currencies.
pub async fn post(
    tx: &mut Tx,
    app: &AppState,
    kind: &str,
    reference: &str,
    entries: &[(String, Money)],
) -> Result<String> {
    let currency =
        entries.first().map(|(_, m)| m.currency()).ok_or_else(|| AppError::internal("empty ledger transaction"))?;
    let total = Money::checked_sum(currency, entries.iter().map(|(_, m)| *m)).map_err(AppError::internal)?;
    if total.minor() != 0 {
        return Err(AppError::internal(format!("unbalanced ledger transaction {kind} {reference}: {total}")));
    }
    let id = new_id("ltx", &app.rng)?;
    sqlx::query("INSERT INTO ledger_transactions (id, kind, reference, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(kind)
        .bind(reference)
        .bind(to_ms(app.clock.now()))
        .execute(tx.conn())
        .await?;
    // Every entry in one statement: ($1, $2, $3, $4), ($1, $2, $5, $6), … (placeholders numbered
    // in the order they first appear, as `db` requires).
    let rows: Vec<String> = (0..entries.len()).map(|i| format!("($1, $2, ${}, ${})", 3 + 2 * i, 4 + 2 * i)).collect();
    let sql = format!("INSERT INTO ledger_entries (transaction_id, currency, book, amount) VALUES {}", rows.join(", "));
    let mut insert = sqlx::query(&sql).bind(&id).bind(currency.code());
    for (book, amount) in entries {
        insert = insert.bind(book).bind(amount.minor());
    }
    let inserted = insert.execute(tx.conn()).await?;
    if usize::try_from(inserted.rows_affected()).ok() != Some(entries.len()) {
        return Err(AppError::internal(format!("ledger transaction {kind} {reference}: entries not all written")));
    }
    Ok(id)
}
