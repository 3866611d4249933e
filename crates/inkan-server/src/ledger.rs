//! The double-entry ledger. Every transaction's entries sum to zero; wallet balances on the
//! `accounts` rows move in the same database transaction as their entries.
//!
//! Books: `wallet:<account>`, `merchant:<merchant>` (what Inkan owes the merchant) and
//! `funding_clearing` (money on its way in from card top-ups).

use inkan_core::Money;

use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::secrets::new_ordered_id;
use crate::state::AppState;
use crate::store;

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
    let now = app.clock.now();
    let id = new_ordered_id("ltx", now, &app.rng)?;
    let new = store::ledger::NewTransaction { id: &id, kind, reference, currency, entries, now };
    if store::ledger::insert(tx, &new).await? != entries.len() {
        return Err(AppError::internal(format!("ledger transaction {kind} {reference}: entries not all written")));
    }
    Ok(id)
}
