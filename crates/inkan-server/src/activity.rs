//! What the velocity rules (`inkan_core::risk`) read of a wallet's recent activity when a terminal
//! makes a charge: its charges of the last minutes and their terminals' countries, its latest
//! top-up, and whether the paying device has paid before. Read inside the charge's transaction,
//! once the wallet's account row is locked, so two charges of one wallet are judged in turn.

use inkan_core::payment::RecentActivity;
use inkan_core::region::Country;
use inkan_core::risk::{RecentCharge, RiskRules};
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Result};

/// The wallet's activity as [`inkan_core::payment::admit`] needs it, for a charge made `now` by
/// `device_id` (which joined the wallet at `device_enrolled_at`).
pub async fn recent(
    tx: &mut Tx,
    rules: &RiskRules,
    account_id: &str,
    device_id: &str,
    device_enrolled_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<RecentActivity> {
    let since = now - rules.lookback();
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT c.created_at, t.country FROM charges c JOIN terminals t ON t.id = c.terminal_id \
         WHERE c.account_id = $1 AND c.created_at > $2 ORDER BY c.created_at DESC LIMIT 1000",
    )
    .bind(account_id)
    .bind(to_ms(since))
    .fetch_all(tx.conn())
    .await?;
    let recent = rows
        .into_iter()
        .map(|(at, country)| {
            let country: Country = country.parse().map_err(AppError::internal)?;
            Ok(RecentCharge { at: from_ms(at), country })
        })
        .collect::<Result<Vec<_>>>()?;
    let last_top_up: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM topups WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(tx.conn())
        .await?;
    // Charges of the wallet since the device joined, by time (an index): a device that has paid
    // is found at its first payment, one that joined today has few to look through.
    let paid: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM charges WHERE account_id = $1 AND created_at >= $2 AND device_id = $3 \
         AND status IN ({}) LIMIT 1",
        crate::charge_sql::paid()
    ))
    .bind(account_id)
    .bind(to_ms(device_enrolled_at))
    .bind(device_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(RecentActivity { recent, last_top_up: last_top_up.map(from_ms), device_has_paid: paid.is_some() })
}
