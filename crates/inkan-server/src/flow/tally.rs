//! A wallet's running totals (`inkan_core::tally`), read where a payment is judged and written in
//! the transaction of every move of a charge: a charge made, confirmed, declined, approved,
//! expired or refunded. A wallet older than its totals gets them from its charges, summed once,
//! at its next move.

use inkan_core::tally::{Counted, Sums, Tally};
use inkan_core::{ChargeEvent, ChargeStatus, Currency};

use crate::db::Tx;
use crate::error::Result;
use crate::state::AppState;
use crate::store;

/// A wallet's account, as its totals need it: read with the row locked, or not.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wallet<'a> {
    pub(crate) id: &'a str,
    pub(crate) currency: Currency,
    /// Its totals, `None` until its first move since they were introduced.
    pub(crate) kept: Option<Tally>,
}

/// What a payment made `at` is judged on of the wallet's charges other than `except` (an open
/// charge): from its totals, or summed from its charges when they cannot say (none kept yet, or
/// `at` in a day or month they have turned past: a charge made before midnight, confirmed after).
pub(crate) async fn sums(
    conn: &mut crate::db::Conn,
    app: &AppState,
    wallet: &Wallet<'_>,
    at: time::OffsetDateTime,
    except: Option<(&str, Counted)>,
    now: time::OffsetDateTime,
) -> Result<Sums> {
    if let Some(sums) = wallet.kept.and_then(|tally| tally.sums(at, except.map(|(_, charge)| charge))) {
        return Ok(sums);
    }
    let except = except.map(|(id, _)| id);
    store::charges::sums(conn, &app.settings, wallet.id, wallet.currency, at, except, now).await
}

/// What moved: a charge made with its first status, or an event that happened to one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Moved {
    Made(ChargeStatus),
    Event(ChargeEvent),
}

/// The wallet's totals once `charge` has moved in `tx` (its row locked there): its totals moved
/// with it, or, when it has none yet, its charges summed as they now stand. The caller writes
/// them with the rest of the row (`store::accounts::write_payment`).
pub(crate) async fn next(
    tx: &mut Tx,
    app: &AppState,
    wallet: &Wallet<'_>,
    charge: Counted,
    moved: Moved,
    now: time::OffsetDateTime,
) -> Result<Tally> {
    Ok(match (wallet.kept, moved) {
        (Some(tally), Moved::Made(status)) => tally.moved(charge, None, status, now)?,
        (Some(tally), Moved::Event(event)) => tally.after(charge, event, now)?,
        (None, _) => {
            let sums = store::charges::sums(tx.conn(), &app.settings, wallet.id, wallet.currency, now, None, now);
            Tally::of_sums(sums.await?, now)
        }
    })
}
