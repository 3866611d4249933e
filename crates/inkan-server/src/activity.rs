//! What the velocity rules (`inkan_core::risk`) read of a wallet's recent activity when a terminal
//! makes a charge: its charges of the last minutes and their terminals' countries, its latest
//! top-up, and whether the paying device has paid before. Read inside the charge's transaction,
//! once the wallet's account row is locked, so two charges of one wallet are judged in turn.

use inkan_core::payment::RecentActivity;
use inkan_core::region::Country;
use inkan_core::risk::{RecentCharge, RiskRules};
use time::OffsetDateTime;

use crate::clock::from_ms;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::store;

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
    let rows = store::charges::recent_with_countries(tx, account_id, since).await?;
    let recent = rows
        .into_iter()
        .map(|(at, country)| {
            let country: Country = country.parse().map_err(AppError::internal)?;
            Ok(RecentCharge { at: from_ms(at), country })
        })
        .collect::<Result<Vec<_>>>()?;
    let (last_top_up, device_has_paid) =
        store::charges::last_top_up_and_paid(tx, account_id, device_id, device_enrolled_at).await?;
    Ok(RecentActivity { recent, last_top_up: last_top_up.map(from_ms), device_has_paid })
}
