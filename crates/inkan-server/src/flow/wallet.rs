//! The wallet's own state: its balance and limits, a change of the limits, a lifted freeze and a
//! removed device. What each may do is the core's (`LimitSettings::request`, `may_lift_freeze`,
//! `may_revoke`, the new-device cap); the SQL is the store's.

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::{Assertion, Device, Limits, RemoveDevice, SetLimits, StepUpAction, Wallet};
use inkan_core::LimitKind::{Daily, Monthly, PerCharge};
use inkan_core::device_binding::{RevokeRefusal, may_revoke};
use inkan_core::freeze::{UnfreezeFacts, may_lift_freeze};
use inkan_core::{Currency, LimitSettings, Money};
use sqlx::Row;

use crate::auth::{Ending, SessionAuth};
use crate::clock::from_ms;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::flow::accounts::require_step_up;
use crate::flow::tally;
use crate::origin::Client;
use crate::state::AppState;
use crate::{feed, freezing, store};

/// The limits as the wallet sees them. `remaining` is what one charge could be now: with the
/// new-device cap when `device_id` (the session's device) is in its first hours.
async fn limits_view(
    app: &AppState,
    account_id: &str,
    settings: &LimitSettings,
    currency: Currency,
    device_id: &str,
) -> Result<Limits> {
    let now = app.clock.now();
    let settled = settings.settle(now);
    let mut conn = app.db.acquire().await?;
    let kept = store::accounts::tally(&mut conn, account_id, currency).await?;
    let wallet = tally::Wallet { id: account_id, currency, kept };
    let spent = tally::sums(&mut conn, app, &wallet, now, None, now).await?.spent;
    let policy = match store::devices::enrolled_at(&mut conn, device_id, account_id).await? {
        Some(at) => app
            .settings
            .new_device_cap
            .apply(&settled.current, from_ms(at), now)
            .map_err(|e| AppError::internal(e.to_string()))?,
        None => settled.current,
    };
    let remaining = policy.remaining(&spent).map_err(|e| AppError::internal(e.to_string()))?;
    Ok(Limits { current: settled.current, pending: settled.pending, spending: spent, remaining })
}

fn currency(text: &str) -> Result<Currency> {
    text.parse().map_err(AppError::internal)
}

/// The wallet as the session's device sees it.
pub(crate) async fn show(app: &AppState, auth: &SessionAuth) -> Result<Wallet> {
    let row = store::accounts::wallet(app.db.reads(), &auth.account_id).await?;
    let currency = currency(&row.currency)?;
    let settings: LimitSettings = serde_json::from_str(&row.limits)?;
    Ok(Wallet {
        account_id: auth.account_id.clone(),
        display_name: row.display_name,
        balance: Money::new(currency, row.balance),
        frozen: row.frozen,
        held: row.held,
        limits: limits_view(app, &auth.account_id, &settings, currency, &auth.device_id).await?,
    })
}

/// New limits: lowering applies at once; raising needs a passkey step-up and applies after the
/// cooling-off, with a notice either way.
pub(crate) async fn set_limits(
    app: &AppState,
    auth: &SessionAuth,
    client: &Client,
    body: &SetLimits,
) -> Result<Limits> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let (limits, currency) = store::accounts::lock_limits(&mut tx, &auth.account_id).await?;
    let currency = self::currency(&currency)?;
    if body.limits.get(Daily).currency() != currency {
        return Err(AppError::invalid(format!("this wallet's limits are in {currency}")));
    }
    let settings: LimitSettings = serde_json::from_str(&limits)?;
    let change = settings
        .request(body.limits, now, app.settings.limits_cooling_off)
        .map_err(|e| AppError::invalid(e.to_string()))?;
    if change.needs_step_up() {
        require_step_up(app, &mut tx, auth, client, StepUpAction::RaiseLimits, body.step_up.as_ref()).await?;
    }
    store::accounts::set_limits(&mut tx, &auth.account_id, &serde_json::to_string(&change.settings)?).await?;
    let current = change.settings.current;
    let minor = |kind| current.get(kind).minor();
    let lowered = Notice::LimitsLowered { per_charge: minor(PerCharge), daily: minor(Daily), monthly: minor(Monthly) };
    feed::append(&mut tx, &app.issuer, &auth.account_id, &lowered, now).await?;
    if let Some(raise) = change.settings.pending {
        let p = raise.policy;
        let requested = Notice::LimitsRaiseRequested {
            per_charge: p.get(PerCharge).minor(),
            daily: p.get(Daily).minor(),
            monthly: p.get(Monthly).minor(),
            effective_at: raise.effective_at,
        };
        feed::append(&mut tx, &app.issuer, &auth.account_id, &requested, now).await?;
    }
    tx.commit(&app.hub).await?;
    limits_view(app, &auth.account_id, &change.settings, currency, &auth.device_id).await
}

/// What [`inkan_core::freeze::may_lift_freeze`] needs to know of the session's device, read in `tx`.
async fn unfreeze_facts(tx: &mut Tx, auth: &SessionAuth) -> Result<UnfreezeFacts> {
    let enrolled = store::devices::enrolled_at(tx.conn(), &auth.device_id, &auth.account_id)
        .await?
        .ok_or_else(|| AppError::internal("the session's device is not the wallet's"))?;
    let latest_join = store::devices::latest_join(tx, &auth.account_id).await?;
    Ok(UnfreezeFacts { device_enrolled_at: from_ms(enrolled), latest_join_at: latest_join.map(from_ms) })
}

/// Lifts the freeze, with a step-up by a passkey of a settled device.
pub(crate) async fn unfreeze(app: &AppState, auth: &SessionAuth, client: &Client, step_up: &Assertion) -> Result<()> {
    let mut tx = app.db.begin().await?;
    store::accounts::lock_unclosed(&mut tx, &auth.account_id).await?;
    if let Err(refusal) = may_lift_freeze(unfreeze_facts(&mut tx, auth).await?, app.clock.now()) {
        tx.rollback().await?;
        return Err(AppError::new(StatusCode::FORBIDDEN, ErrorCode::UnfreezeNotAllowed, refusal.to_string()));
    }
    require_step_up(app, &mut tx, auth, client, StepUpAction::Unfreeze, Some(step_up)).await?;
    freezing::set_frozen(&mut tx, app, &auth.account_id, false, "").await?;
    tx.commit(&app.hub).await?;
    Ok(())
}

/// Every device the wallet ever enrolled, oldest first.
pub(crate) async fn devices(app: &AppState, account_id: &str) -> Result<Vec<Device>> {
    let rows = store::devices::of_account(app.db.reads(), account_id).await?;
    rows.iter()
        .map(|r| {
            Ok(Device {
                id: r.try_get("id")?,
                key_id: inkan_core::payment_code::DeviceKeyId::from_hex(&r.try_get::<String, _>("key_id")?)
                    .ok_or_else(|| AppError::internal("corrupt device key id"))?,
                name: r.try_get("name")?,
                active: r.try_get::<i64, _>("active")? != 0,
                enrolled_at: from_ms(r.try_get("enrolled_at")?),
                passkey_added_at: r.try_get::<Option<i64>, _>("passkey_added_at")?.map(from_ms),
            })
        })
        .collect()
}

/// Removes the wallet's device `id`, confirmed with a passkey of the session's device: in one
/// transaction its codes stop working, its passkeys are deleted and its sessions end (its open
/// feeds close within a second, on every instance); the other devices hear of it once that has
/// committed. Never the last device.
pub(crate) async fn revoke_device(
    app: &AppState,
    auth: &SessionAuth,
    client: &Client,
    id: &str,
    body: &RemoveDevice,
) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    // The account row first: two removals at once are decided one after the other, so they cannot
    // remove the last two devices together.
    store::accounts::lock(&mut tx, &auth.account_id).await?;
    let target = store::devices::name_and_standing(&mut tx, id, &auth.account_id).await?;
    let active_devices = store::devices::active_count(&mut tx, &auth.account_id).await?;
    let (name, active) = target.unwrap_or_default();
    if let Err(refusal) = may_revoke(active, active_devices) {
        tx.rollback().await?;
        return Err(match refusal {
            RevokeRefusal::NotActive => AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, refusal.to_string()),
            RevokeRefusal::LastDevice => AppError::invalid_state(refusal.to_string()),
        });
    }
    require_step_up(app, &mut tx, auth, client, StepUpAction::RemoveDevice, Some(&body.step_up)).await?;
    store::devices::deactivate(&mut tx, id, now).await?;
    let passkeys = store::passkeys::delete_of_device(&mut tx, id).await?;
    let revoked = Notice::DeviceRevoked { device_id: id.to_owned(), name };
    feed::append(&mut tx, &app.issuer, &auth.account_id, &revoked, now).await?;
    let count = u32::try_from(passkeys).unwrap_or(u32::MAX);
    if count > 0 {
        let removed = Notice::PasskeyRemoved { device_id: id.to_owned(), count };
        feed::append(&mut tx, &app.issuer, &auth.account_id, &removed, now).await?;
    }
    freezing::end_sessions_because(&mut tx, app, &auth.account_id, Ending::OfDevice(id), "device_removed").await?;
    tx.commit(&app.hub).await?;
    Ok(())
}
