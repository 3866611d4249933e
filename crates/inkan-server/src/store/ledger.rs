//! The ledger's tables: `ledger_transactions` and their `ledger_entries`. Whether entries balance
//! is `crate::ledger`'s.

use inkan_core::{Currency, Money};

use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::Result;

/// A ledger transaction to write: its id, what it is (`kind`, and the row it is about), and its
/// entries, all in one currency.
#[derive(Debug)]
pub(crate) struct NewTransaction<'a> {
    pub(crate) id: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) reference: &'a str,
    pub(crate) currency: Currency,
    pub(crate) entries: &'a [(String, Money)],
    pub(crate) now: time::OffsetDateTime,
}

/// Writes the transaction and its entries in `tx`, in two statements; how many entries were
/// written.
pub(crate) async fn insert(tx: &mut Tx, new: &NewTransaction<'_>) -> Result<usize> {
    sqlx::query("INSERT INTO ledger_transactions (id, kind, reference, created_at) VALUES ($1, $2, $3, $4)")
        .bind(new.id)
        .bind(new.kind)
        .bind(new.reference)
        .bind(to_ms(new.now))
        .execute(tx.conn())
        .await?;
    // Every entry in one statement: ($1, $2, $3, $4), ($1, $2, $5, $6), … (placeholders numbered
    // in the order they first appear, as `db` requires).
    let rows: Vec<String> =
        (0..new.entries.len()).map(|i| format!("($1, $2, ${}, ${})", 3 + 2 * i, 4 + 2 * i)).collect();
    let sql = format!("INSERT INTO ledger_entries (transaction_id, currency, book, amount) VALUES {}", rows.join(", "));
    let mut insert = sqlx::query(&sql).bind(new.id).bind(new.currency.code());
    for (book, amount) in new.entries {
        insert = insert.bind(book).bind(amount.minor());
    }
    let inserted = insert.execute(tx.conn()).await?;
    Ok(usize::try_from(inserted.rows_affected()).unwrap_or(usize::MAX))
}
