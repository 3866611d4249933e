//! Freezing a wallet and ending its sessions, with the notices that tell its devices: the steps
//! that a freeze (`wallet`), a "this wasn't me" (`charges`), a recovery code (`devices`) and the
//! operator's hold (`operator`) share.

use inkan_api::feed::Notice;

use crate::auth::{Ending, end_sessions};
use crate::db::Tx;
use crate::error::Result;
use crate::feed;
use crate::state::AppState;

/// Sets the frozen flag inside `tx`, with a notice if it changed.
pub async fn set_frozen(tx: &mut Tx, app: &AppState, account_id: &str, frozen: bool, by: &str) -> Result<bool> {
    let changed = crate::store::accounts::set_frozen(tx, account_id, frozen).await?;
    if changed {
        let notice = if frozen { Notice::WalletFrozen { by: by.to_owned() } } else { Notice::WalletUnfrozen };
        feed::append(tx, &app.issuer, account_id, &notice, app.clock.now()).await?;
    }
    Ok(changed)
}

/// Ends sessions of `account_id` inside `tx` for a security `reason` (`device_removed`,
/// `wallet_frozen`, `account_held`); if any ended, the wallet's devices are told how many.
pub async fn end_sessions_because(
    tx: &mut Tx,
    app: &AppState,
    account_id: &str,
    which: Ending<'_>,
    reason: &str,
) -> Result<u64> {
    let ended = end_sessions(tx, account_id, which).await?;
    if ended > 0 {
        let notice =
            Notice::SessionsEnded { count: u32::try_from(ended).unwrap_or(u32::MAX), reason: reason.to_owned() };
        feed::append(tx, &app.issuer, account_id, &notice, app.clock.now()).await?;
    }
    Ok(ended)
}

/// Freezes the wallet inside `tx` and ends every session but those of `keep` (the device that
/// froze it, if one did): whoever else holds a session, a thief among them, is signed out.
pub async fn freeze_wallet(tx: &mut Tx, app: &AppState, account_id: &str, by: &str, keep: Option<&str>) -> Result<()> {
    set_frozen(tx, app, account_id, true, by).await?;
    let ending = match keep {
        Some(device_id) => Ending::AllBut(device_id),
        None => Ending::All,
    };
    end_sessions_because(tx, app, account_id, ending, "wallet_frozen").await?;
    Ok(())
}
