//! The wallet's own state: balance, limits, freeze, devices.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::{Device, Freeze, Limits, RemoveDevice, SetLimits, StepUpAction, Wallet};
use inkan_core::device_binding::{RevokeRefusal, may_revoke};
use inkan_core::freeze::{UnfreezeFacts, may_lift_freeze};
use inkan_core::{Currency, LimitSettings, Money};
use sqlx::Row;

use crate::accounts::require_step_up;
use crate::auth::{Ending, SessionAuth};
use crate::clock::{from_ms, to_ms};
use crate::db::Tx;
use crate::error::{AppError, Json, Result};
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
    let mut conn = app.db.pool().acquire().await?;
    let spent = store::charges::spending(&mut conn, &app.settings, account_id, currency, now).await?;
    let enrolled: Option<i64> = sqlx::query_scalar("SELECT enrolled_at FROM devices WHERE id = $1 AND account_id = $2")
        .bind(device_id)
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
    let policy = match enrolled {
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

/// The wallet
///
/// Balance, frozen flag, and the limits with what has been spent against them.
#[utoipa::path(
    get,
    path = "/v1/wallet",
    operation_id = "get_wallet",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The wallet.", body = inkan_api::wallet::Wallet),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn show(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Wallet>> {
    let row = sqlx::query("SELECT display_name, balance, currency, frozen, held, limits FROM accounts WHERE id = $1")
        .bind(&auth.account_id)
        .fetch_one(app.db.pool())
        .await?;
    let currency: Currency = row.try_get::<String, _>("currency")?.parse().map_err(AppError::internal)?;
    let settings: LimitSettings = serde_json::from_str(&row.try_get::<String, _>("limits")?)?;
    Ok(Json(Wallet {
        account_id: auth.account_id.clone(),
        display_name: row.try_get("display_name")?,
        balance: Money::new(currency, row.try_get("balance")?),
        frozen: row.try_get::<i64, _>("frozen")? != 0,
        held: row.try_get("held")?,
        limits: limits_view(&app, &auth.account_id, &settings, currency, &auth.device_id).await?,
    }))
}

/// Set the limits
///
/// Lowering applies at once. Raising any limit needs `step_up` (an assertion for a
/// `raise_limits` step-up) and applies after the cooling-off, as `pending`.
#[utoipa::path(
    put,
    path = "/v1/wallet/limits",
    operation_id = "set_limits",
    tag = "wallet",
    security(("session" = [])),
    request_body = inkan_api::wallet::SetLimits,
    responses(
        (status = 200, description = "The limits as they now stand.", body = inkan_api::wallet::Limits),
        (status = 400, description = "`invalid_request`: limits in another currency, negative, not `per_charge ≤ daily ≤ monthly`, or a malformed body. `ceremony_expired`: the step-up ceremony is unknown, used or expired.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the step-up assertion did not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: a raise without a step-up, or with one for another action or account.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Lowering applies at once; raising needs a passkey step-up and applies after the cooling-off, with
// a notice either way.
pub async fn set_limits(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<SetLimits>,
) -> Result<Json<Limits>> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let row = sqlx::query("UPDATE accounts SET limits = limits WHERE id = $1 RETURNING limits, currency")
        .bind(&auth.account_id)
        .fetch_one(tx.conn())
        .await?;
    let currency: Currency = row.try_get::<String, _>("currency")?.parse().map_err(AppError::internal)?;
    if body.limits.get(inkan_core::LimitKind::Daily).currency() != currency {
        return Err(AppError::invalid(format!("this wallet's limits are in {currency}")));
    }
    let settings: LimitSettings = serde_json::from_str(&row.try_get::<String, _>("limits")?)?;
    let change = settings
        .request(body.limits, now, app.settings.limits_cooling_off)
        .map_err(|e| AppError::invalid(e.to_string()))?;
    if change.needs_step_up() {
        require_step_up(&app, &mut tx, &auth, &client, StepUpAction::RaiseLimits, body.step_up.as_ref()).await?;
    }
    sqlx::query("UPDATE accounts SET limits = $1 WHERE id = $2")
        .bind(serde_json::to_string(&change.settings)?)
        .bind(&auth.account_id)
        .execute(tx.conn())
        .await?;
    let current = change.settings.current;
    let minor = |kind| current.get(kind).minor();
    use inkan_core::LimitKind::{Daily, Monthly, PerCharge};
    feed::append(
        &mut tx,
        &app.issuer,
        &auth.account_id,
        &Notice::LimitsLowered { per_charge: minor(PerCharge), daily: minor(Daily), monthly: minor(Monthly) },
        now,
    )
    .await?;
    if let Some(raise) = change.settings.pending {
        let p = raise.policy;
        feed::append(
            &mut tx,
            &app.issuer,
            &auth.account_id,
            &Notice::LimitsRaiseRequested {
                per_charge: p.get(PerCharge).minor(),
                daily: p.get(Daily).minor(),
                monthly: p.get(Monthly).minor(),
                effective_at: raise.effective_at,
            },
            now,
        )
        .await?;
    }
    tx.commit(&app.hub).await?;
    Ok(Json(limits_view(&app, &auth.account_id, &change.settings, currency, &auth.device_id).await?))
}

/// Freeze the wallet
///
/// Any signed-in device may freeze, without a step-up: no charge can be created or confirmed
/// until the wallet is unfrozen. Every other device's sessions end.
#[utoipa::path(
    post,
    path = "/v1/wallet/freeze",
    operation_id = "freeze",
    tag = "wallet",
    security(("session" = [])),
    request_body(content = inkan_api::wallet::Freeze, description = "An empty object, `{}`."),
    responses(
        (status = 204, description = "The wallet is frozen (also if it already was)."),
        (status = 400, description = "`invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Any signed-in device, no step-up: stopping payments must be easy. Every other device's sessions
// end.
pub async fn freeze(
    State(app): State<AppState>,
    auth: SessionAuth,
    Json(Freeze {}): Json<Freeze>,
) -> Result<StatusCode> {
    let mut tx = app.db.begin().await?;
    freezing::freeze_wallet(&mut tx, &app, &auth.account_id, &auth.device_id, Some(&auth.device_id)).await?;
    tx.commit(&app.hub).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What [`inkan_core::freeze::may_lift_freeze`] needs to know of the session's device, read in `tx`.
async fn unfreeze_facts(tx: &mut Tx, auth: &SessionAuth) -> Result<UnfreezeFacts> {
    let enrolled: i64 = sqlx::query_scalar("SELECT enrolled_at FROM devices WHERE id = $1 AND account_id = $2")
        .bind(&auth.device_id)
        .bind(&auth.account_id)
        .fetch_one(tx.conn())
        .await?;
    // Every device but the one the wallet was created with came by a join (removed ones too).
    let latest_join: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(enrolled_at) FROM devices WHERE account_id = $1 \
         AND enrolled_at > (SELECT MIN(enrolled_at) FROM devices WHERE account_id = $1)",
    )
    .bind(&auth.account_id)
    .fetch_one(tx.conn())
    .await?;
    Ok(UnfreezeFacts { device_enrolled_at: from_ms(enrolled), latest_join_at: latest_join.map(from_ms) })
}

/// Unfreeze the wallet
///
/// Needs an assertion for an `unfreeze` step-up, by a passkey of a settled device: one in the
/// wallet for 72 hours, and older than the wallet's most recent join. Otherwise a recovery code
/// is needed (`POST /v1/wallet/unfreeze/recovery-code`).
#[utoipa::path(
    post,
    path = "/v1/wallet/unfreeze",
    operation_id = "unfreeze",
    tag = "wallet",
    security(("session" = [])),
    request_body(content = inkan_api::wallet::Assertion, description = "The assertion answering an `unfreeze` step-up."),
    responses(
        (status = 204, description = "The wallet is not frozen (also if it was not)."),
        (status = 400, description = "`ceremony_expired`: the step-up ceremony is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action, account or device. `unfreeze_not_allowed`: this device joined less than 72 hours ago or is the wallet's most recent one.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A passkey step-up of a settled device (in the wallet for 72 hours, and older than its latest
// join); otherwise a recovery code is needed.
pub async fn unfreeze(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Json(body): Json<inkan_api::wallet::Assertion>,
) -> Result<StatusCode> {
    let mut tx = app.db.begin().await?;
    store::accounts::lock_unclosed(&mut tx, &auth.account_id).await?;
    if let Err(refusal) = may_lift_freeze(unfreeze_facts(&mut tx, &auth).await?, app.clock.now()) {
        tx.rollback().await?;
        return Err(AppError::new(StatusCode::FORBIDDEN, ErrorCode::UnfreezeNotAllowed, refusal.to_string()));
    }
    require_step_up(&app, &mut tx, &auth, &client, StepUpAction::Unfreeze, Some(&body)).await?;
    freezing::set_frozen(&mut tx, &app, &auth.account_id, false, "").await?;
    tx.commit(&app.hub).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The wallet's devices
///
/// Every device ever enrolled, revoked ones included (`active: false`), oldest first.
#[utoipa::path(
    get,
    path = "/v1/wallet/devices",
    operation_id = "list_devices",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The devices.", body = [inkan_api::wallet::Device]),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn devices(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Vec<Device>>> {
    let rows = sqlx::query(
        "SELECT d.id, d.key_id, d.name, d.active, d.enrolled_at, \
         (SELECT MIN(p.created_at) FROM passkeys p WHERE p.device_id = d.id) AS passkey_added_at \
         FROM devices d WHERE d.account_id = $1 ORDER BY d.enrolled_at",
    )
    .bind(&auth.account_id)
    .fetch_all(app.db.pool())
    .await?;
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
        .collect::<Result<Vec<_>>>()
        .map(Json)
}

/// Remove a device
///
/// Confirmed with a passkey of the device asking (a step-up for `remove_device`). In one step
/// the removed device's payment codes stop working, its passkeys are deleted and its sessions
/// end (its open feeds close). The wallet's last active device cannot be removed.
#[utoipa::path(
    post,
    path = "/v1/wallet/devices/{id}/remove",
    operation_id = "revoke_device",
    tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, description = "The device id (`dev_…`).")),
    request_body = inkan_api::wallet::RemoveDevice,
    responses(
        (status = 204, description = "The device is removed."),
        (status = 400, description = "`ceremony_expired`: the step-up is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the step-up assertion did not verify or is not of this session's device.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action or another device.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such active device in this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: this is the wallet's last active device.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Confirmed with a passkey of the session's device: in one transaction the device's codes stop
// working, its passkeys are deleted and its sessions end (its open feeds close within a second, on
// every instance); the other devices hear of it once that has committed. Never the last device.
pub async fn revoke_device(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<RemoveDevice>,
) -> Result<StatusCode> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    // The account row first: two removals at once are decided one after the other, so they cannot
    // remove the last two devices together.
    sqlx::query("UPDATE accounts SET frozen = frozen WHERE id = $1").bind(&auth.account_id).execute(tx.conn()).await?;
    let target: Option<(String, i64)> =
        sqlx::query_as("SELECT name, active FROM devices WHERE id = $1 AND account_id = $2")
            .bind(&id)
            .bind(&auth.account_id)
            .fetch_optional(tx.conn())
            .await?;
    let active_devices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE account_id = $1 AND active = 1")
        .bind(&auth.account_id)
        .fetch_one(tx.conn())
        .await?;
    let (name, active) = target.unwrap_or_default();
    if let Err(refusal) = may_revoke(active == 1, u64::try_from(active_devices).unwrap_or(0)) {
        tx.rollback().await?;
        return Err(match refusal {
            RevokeRefusal::NotActive => AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, refusal.to_string()),
            RevokeRefusal::LastDevice => AppError::invalid_state(refusal.to_string()),
        });
    }
    require_step_up(&app, &mut tx, &auth, &client, StepUpAction::RemoveDevice, Some(&body.step_up)).await?;
    sqlx::query("UPDATE devices SET active = 0, revoked_at = $1 WHERE id = $2")
        .bind(to_ms(now))
        .bind(&id)
        .execute(tx.conn())
        .await?;
    let passkeys = sqlx::query("DELETE FROM passkeys WHERE device_id = $1").bind(&id).execute(tx.conn()).await?;
    feed::append(&mut tx, &app.issuer, &auth.account_id, &Notice::DeviceRevoked { device_id: id.clone(), name }, now)
        .await?;
    let count = u32::try_from(passkeys.rows_affected()).unwrap_or(u32::MAX);
    if count > 0 {
        feed::append(
            &mut tx,
            &app.issuer,
            &auth.account_id,
            &Notice::PasskeyRemoved { device_id: id.clone(), count },
            now,
        )
        .await?;
    }
    freezing::end_sessions_because(&mut tx, &app, &auth.account_id, Ending::OfDevice(&id), "device_removed").await?;
    tx.commit(&app.hub).await?;
    Ok(StatusCode::NO_CONTENT)
}
