//! A second (third, …) device joins a wallet only with the approval of a passkey of the wallet,
//! given through a signed-in device, or with a recovery code. Then it makes its own passkey.
//! Recovery codes also freeze a wallet from anywhere.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use inkan_api::ErrorCode;
use inkan_api::admin::Service;
use inkan_api::devices::{
    ApproveJoin, BeginJoin, FinishJoin, FreezeWithRecoveryCode, Join, JoinState, Joined, SubmitDevice,
};
use inkan_api::feed::Notice;
use inkan_api::wallet::{RegistrationChallenge, StepUpAction};
use inkan_core::attempts::Purpose;
use inkan_core::device_binding::JoinPolicy;
use inkan_core::payment_code::{DevicePublicKey, JoinStep};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use webauthn_rs::prelude::PasskeyRegistration;

use crate::accounts::{account_exists, check_device, insert_device, open_session, require_step_up};
use crate::auth::SessionAuth;
use crate::clock::{from_ms, to_ms};
use crate::error::{AppError, Json, Result};
use crate::origin::{Client, Guarded};
use crate::passkeys::{ActingDevice, put_ceremony, take_ceremony};
use crate::ratelimit::Flow;
use crate::secrets::new_id;
use crate::state::AppState;
use crate::{feed, recovery, switches};

/// How many joins may wait per wallet, and how long one may take from request to new passkey.
const JOINS: JoinPolicy = JoinPolicy::DEFAULT;

fn state_of(s: &str) -> JoinState {
    match s {
        "awaiting_device" => JoinState::AwaitingDevice,
        "awaiting_approval" => JoinState::AwaitingApproval,
        "approved" => JoinState::Approved,
        "completed" => JoinState::Completed,
        "rejected" => JoinState::Rejected,
        _ => JoinState::Expired,
    }
}

fn view(row: &AnyRow, now: time::OffsetDateTime) -> Result<Join> {
    let expires_at = from_ms(row.try_get("expires_at")?);
    let mut state = state_of(&row.try_get::<String, _>("status")?);
    if expires_at <= now && !matches!(state, JoinState::Completed | JoinState::Rejected) {
        state = JoinState::Expired;
    }
    Ok(Join {
        join_id: row.try_get("id")?,
        state,
        device_name: row.try_get("name")?,
        device_fingerprint: joining_key(row)?.map(|key| key.fingerprint()),
        expires_at,
    })
}

/// The key the joining device submitted, once it has.
fn joining_key(row: &AnyRow) -> Result<Option<DevicePublicKey>> {
    row.try_get::<Option<Vec<u8>>, _>("public_key")?
        .map(|bytes| DevicePublicKey::from_sec1(&bytes).map_err(AppError::internal))
        .transpose()
}

/// Checks that this step of the join is signed by the key the joining device submitted (header
/// `inkan-device-signature`): whoever else knows the join id, a session of the wallet among them,
/// can neither follow nor finish it. A join still waiting for its key has nothing to protect.
fn check_signed(headers: &HeaderMap, row: &AnyRow, step: JoinStep<'_>) -> Result<()> {
    let Some(key) = joining_key(row)? else { return Ok(()) };
    let join_id: String = row.try_get("id")?;
    let refused = || {
        AppError::unauthorized(
            "this step of the join must be signed by the joining device's key (header inkan-device-signature)",
        )
    };
    let signature = headers
        .get(inkan_api::DEVICE_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 200)
        .and_then(|v| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v).ok())
        .ok_or_else(refused)?;
    key.verify_join_step(&join_id, step, &signature).map_err(|_| refused())
}

async fn load(app: &AppState, id: &str) -> Result<AnyRow> {
    if id.len() > 64 {
        return Err(AppError::not_found("device join"));
    }
    sqlx::query("SELECT id, account_id, status, name, key_id, public_key, expires_at FROM device_joins WHERE id = $1")
        .bind(id)
        .fetch_optional(app.db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("device join"))
}

fn wrong_state(join: &Join) -> AppError {
    AppError::invalid_state(format!("this device join is {:?}", join.state).to_lowercase())
}

/// Ask to join a wallet
///
/// Step 1 for a new device: opens a join, valid for 15 minutes, in `awaiting_device`.
#[utoipa::path(
    post,
    path = "/v1/device-joins",
    operation_id = "begin_device_join",
    tag = "devices",
    request_body = inkan_api::devices::BeginJoin,
    responses(
        (status = 201, description = "The join.", body = inkan_api::devices::Join),
        (status = 400, description = "`invalid_request`: a malformed account id or body.", body = inkan_api::ErrorBody),
        (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such account.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn begin(
    State(app): State<AppState>,
    client: Client,
    Json(body): Json<BeginJoin>,
) -> Result<(StatusCode, Json<Join>)> {
    if body.account_id.len() > 64 {
        return Err(AppError::invalid("malformed account id"));
    }
    crate::accounts::admit_for_account(&app, &client, &body.account_id, Guarded::DeviceJoin).await?;
    client.limit(&app, Flow::JoinBegin, Some(&body.account_id))?;
    switches::ensure_running(app.db.pool(), Service::Enrolment).await?;
    // An account id that does not exist gets a request like any other (kept, and never approved):
    // the answer must not tell which ids exist. A held account is the one that says so.
    if account_exists(app.db.pool(), &body.account_id).await? {
        switches::ensure_not_held(app.db.pool(), &body.account_id).await?;
    }
    let now = app.clock.now();
    let (waiting, oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(expires_at) FROM device_joins WHERE account_id = $1 \
         AND status IN ('awaiting_device', 'awaiting_approval', 'approved') AND expires_at > $2",
    )
    .bind(&body.account_id)
    .bind(to_ms(now))
    .fetch_one(app.db.pool())
    .await?;
    if !JOINS.admits(u64::try_from(waiting).unwrap_or(u64::MAX)) {
        // No notice: a refused request is not one more thing for the shopper to dismiss.
        let free_in = oldest.map_or(JOINS.ttl, |at| from_ms(at) - now).whole_seconds();
        return Err(AppError::too_many_requests(
            format!("{} devices are already waiting to join this wallet; try again later", JOINS.max_waiting),
            u32::try_from(free_in).unwrap_or(u32::MAX),
        ));
    }
    let id = new_id("join", &app.rng)?;
    let expires_at = now + JOINS.ttl;
    sqlx::query(
        "INSERT INTO device_joins (id, account_id, status, name, key_id, public_key, approved_by, created_at, expires_at) \
         VALUES ($1, $2, 'awaiting_device', NULL, NULL, NULL, NULL, $3, $4)",
    )
    .bind(&id)
    .bind(&body.account_id)
    .bind(to_ms(now))
    .bind(to_ms(expires_at))
    .execute(app.db.pool())
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Join {
            join_id: id,
            state: JoinState::AwaitingDevice,
            device_name: None,
            device_fingerprint: None,
            expires_at,
        }),
    ))
}

/// A join's state
///
/// The new device polls this while it waits for approval, signing each request once it has
/// submitted its key.
#[utoipa::path(
    get,
    path = "/v1/device-joins/{id}",
    operation_id = "get_device_join",
    tag = "devices",
    params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
    responses(
        (status = 200, description = "The join.", body = inkan_api::devices::Join),
        (status = 401, description = "`unauthorized`: the joining device's signature is missing or does not verify.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The new device polls this while it waits for approval, signing each request once its key is
// submitted.
pub async fn show(State(app): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Result<Json<Join>> {
    let row = load(&app, &id).await?;
    check_signed(&headers, &row, JoinStep::Status)?;
    Ok(Json(view(&row, app.clock.now())?))
}

/// Submit the new device's key
///
/// Step 2: the device key with its proof of possession over the join id. With a recovery code
/// the join is approved at once (and the code used up); a wrong code ends the join (`rejected`).
/// Without one, the join waits for a signed-in device's approval.
#[utoipa::path(
    post,
    path = "/v1/device-joins/{id}/device",
    operation_id = "submit_join_device",
    tag = "devices",
    params(("id" = String, Path, description = "The join id (`join_…`).")),
    request_body = inkan_api::devices::SubmitDevice,
    responses(
        (status = 200, description = "The join, now `approved` or `awaiting_approval`.", body = inkan_api::devices::Join),
        (status = 400, description = "`invalid_request`: the device key is not an uncompressed P-256 point, its proof does not verify, its name is not 1 to 64 characters, or the body is malformed.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: the recovery code is not valid for this wallet; the join is now `rejected`.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the join is not waiting for a device (or has expired), or this device key is already registered.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
pub async fn submit(
    State(app): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<SubmitDevice>,
) -> Result<Json<Join>> {
    client.admit(&app)?;
    client.limit(&app, Flow::JoinSubmit, None)?;
    let (key, name) = check_device(&body.device, &id)?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let row = sqlx::query(
        "UPDATE device_joins SET status = 'awaiting_approval', name = $1, key_id = $2, public_key = $3 \
         WHERE id = $4 AND status = 'awaiting_device' AND expires_at > $5 RETURNING account_id, expires_at",
    )
    .bind(&name)
    .bind(body.device.key_id.to_string())
    .bind(key.as_sec1().to_vec())
    .bind(&id)
    .bind(to_ms(now))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(wrong_state(&view(&load(&app, &id).await?, now)?));
    };
    let account_id: String = row.try_get("account_id")?;
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM devices WHERE key_id = $1")
        .bind(body.device.key_id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    if taken.is_some() {
        return Err(AppError::invalid_state("this device key is already registered"));
    }
    let state = match body.recovery_code.as_deref() {
        Some(code) => {
            client.limit(&app, Flow::RecoveryCode, Some(&account_id))?;
            let checked = recovery::check_tries(&app, &account_id, None, client.address(), Purpose::Access).await;
            if let Err(locked) = checked {
                tx.rollback().await?;
                return Err(locked);
            }
            if !recovery::use_code(&mut tx, &app, &account_id, code).await? {
                // One try per join: a wrong code ends it, so codes cannot be guessed through it.
                tx.rollback().await?;
                sqlx::query("UPDATE device_joins SET status = 'rejected' WHERE id = $1")
                    .bind(&id)
                    .execute(app.db.pool())
                    .await?;
                let message = "that recovery code is not valid for this wallet; start again";
                return Err(recovery::wrong_code(&app, &account_id, None, client.address(), message).await);
            }
            sqlx::query("UPDATE device_joins SET status = 'approved', approved_by = 'recovery_code' WHERE id = $1")
                .bind(&id)
                .execute(tx.conn())
                .await?;
            JoinState::Approved
        }
        None => {
            // A request for an id that is no wallet waits like any other, and tells nobody.
            if account_exists(tx.conn(), &account_id).await? {
                feed::append(
                    &mut tx,
                    &app.issuer,
                    &account_id,
                    &Notice::DeviceJoinRequested {
                        join_id: None,
                        name: name.clone(),
                        fingerprint: Some(key.fingerprint()),
                    },
                    now,
                )
                .await?;
            }
            JoinState::AwaitingApproval
        }
    };
    tx.commit(&app.hub).await?;
    let expires_at = from_ms(row.try_get("expires_at")?);
    let device_fingerprint = Some(key.fingerprint());
    Ok(Json(Join { join_id: id, state, device_name: Some(name), device_fingerprint, expires_at }))
}

/// Joins waiting for approval
///
/// New devices asking to join this wallet, oldest first.
#[utoipa::path(
    get,
    path = "/v1/wallet/device-joins",
    operation_id = "list_device_joins",
    tag = "wallet",
    security(("session" = [])),
    responses(
        (status = 200, description = "The joins in `awaiting_approval`.", body = [inkan_api::devices::Join]),
        (status = 401, description = "`unauthorized`: no session, or it has ended.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// Requests waiting for this wallet's approval.
pub async fn waiting(State(app): State<AppState>, auth: SessionAuth) -> Result<Json<Vec<Join>>> {
    let now = app.clock.now();
    let rows = sqlx::query(
        "SELECT id, account_id, status, name, key_id, public_key, expires_at FROM device_joins \
         WHERE account_id = $1 AND status = 'awaiting_approval' AND expires_at > $2 ORDER BY created_at",
    )
    .bind(&auth.account_id)
    .bind(to_ms(now))
    .fetch_all(app.db.pool())
    .await?;
    rows.iter().map(|r| view(r, now)).collect::<Result<Vec<_>>>().map(Json)
}

/// Approve a join with a passkey
///
/// Step 3 without a recovery code: needs an assertion for an `add_device` step-up.
#[utoipa::path(
    post,
    path = "/v1/wallet/device-joins/{id}/approve",
    operation_id = "approve_device_join",
    tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, description = "The join id (`join_…`).")),
    request_body = inkan_api::devices::ApproveJoin,
    responses(
        (status = 200, description = "The join, now `approved`.", body = inkan_api::devices::Join),
        (status = 400, description = "`ceremony_expired`: the step-up ceremony is unknown, used or expired. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: no session, or it has ended. `passkey_rejected`: the assertion did not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`step_up_required`: the step-up was for another action or account.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join of this wallet.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the join is not waiting for approval (or has expired).", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A passkey of the wallet says yes.
pub async fn approve(
    State(app): State<AppState>,
    auth: SessionAuth,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<ApproveJoin>,
) -> Result<Json<Join>> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let approved_by = auth.device_id.clone();
    let row = sqlx::query(
        "UPDATE device_joins SET status = 'approved', approved_by = $1 \
         WHERE id = $2 AND account_id = $3 AND status = 'awaiting_approval' AND expires_at > $4 \
         RETURNING id, account_id, status, name, key_id, public_key, expires_at",
    )
    .bind(&approved_by)
    .bind(&id)
    .bind(&auth.account_id)
    .bind(to_ms(now))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        let existing = load(&app, &id).await?;
        if existing.try_get::<String, _>("account_id")? != auth.account_id {
            return Err(AppError::not_found("device join"));
        }
        return Err(wrong_state(&view(&existing, now)?));
    };
    require_step_up(&app, &mut tx, &auth, &client, StepUpAction::AddDevice, Some(&body.step_up)).await?;
    let join = view(&row, now)?;
    tx.commit(&app.hub).await?;
    Ok(Json(join))
}

#[derive(Serialize, Deserialize)]
struct JoinPasskeyContext {
    join_id: String,
}

/// Start the new device's passkey
///
/// Step 4, once the join is `approved`: passkey creation options for the wallet's account.
/// No request body.
#[utoipa::path(
    post,
    path = "/v1/device-joins/{id}/passkey/challenge",
    operation_id = "begin_join_passkey",
    tag = "devices",
    params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
    responses(
        (status = 200, description = "The passkey creation options and their ceremony.", body = inkan_api::wallet::RegistrationChallenge),
        (status = 401, description = "`unauthorized`: the joining device's signature is missing or does not verify.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the join is not `approved`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// An approved device makes its own passkey.
pub async fn passkey_challenge(
    State(app): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RegistrationChallenge>> {
    client.admit(&app)?;
    let row = load(&app, &id).await?;
    check_signed(&headers, &row, JoinStep::PasskeyChallenge)?;
    let join = view(&row, app.clock.now())?;
    if join.state != JoinState::Approved {
        return Err(wrong_state(&join));
    }
    let account_id: String = row.try_get("account_id")?;
    let account = sqlx::query("SELECT display_name, webauthn_user FROM accounts WHERE id = $1")
        .bind(&account_id)
        .fetch_one(app.db.pool())
        .await?;
    let name: String = account.try_get("display_name")?;
    let user = uuid::Uuid::parse_str(&account.try_get::<String, _>("webauthn_user")?).map_err(AppError::internal)?;
    let existing: Vec<_> =
        crate::passkeys::all_passkeys_of(&app, &account_id).await?.iter().map(|p| p.cred_id().clone()).collect();
    let (options, state) =
        app.webauthn.start_passkey_registration(user, &name, &name, Some(existing)).map_err(AppError::internal)?;
    let context = JoinPasskeyContext { join_id: id };
    let ceremony_id = put_ceremony(&app, "join_passkey", Some(&account_id), &state, &context).await?;
    Ok(Json(RegistrationChallenge { ceremony_id, public_key: options }))
}

/// Finish joining
///
/// The new passkey and the device are added to the wallet together, and a session opens.
#[utoipa::path(
    post,
    path = "/v1/device-joins/{id}/passkey",
    operation_id = "finish_device_join",
    tag = "devices",
    params(("id" = String, Path, description = "The join id (`join_…`)."), ("inkan-device-signature" = Option<String>, Header, description = "The joining device key's signature over the join id and this step (`DeviceSigningKey::sign_join_step`), unpadded base64url. Required once the device has submitted its key.")),
    request_body = inkan_api::devices::FinishJoin,
    responses(
        (status = 201, description = "The device is in the wallet, signed in.", body = inkan_api::devices::Joined),
        (status = 400, description = "`ceremony_expired`: the ceremony is unknown, used, expired or for another join. `invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`passkey_rejected`: the passkey attestation did not verify.", body = inkan_api::ErrorBody),
        (status = 403, description = "`enrolment_suspended`: the operator has suspended new wallets and devices. `account_held`: the operator has put the account on hold.", body = inkan_api::ErrorBody),
        (status = 404, description = "`not_found`: no such join.", body = inkan_api::ErrorBody),
        (status = 409, description = "`invalid_state`: the join is not `approved` (or has expired), or the device key is already registered.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// The passkey and the device are added together.
pub async fn finish(
    State(app): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<FinishJoin>,
) -> Result<(StatusCode, Json<Joined>)> {
    let now = app.clock.now();
    let join = load(&app, &id).await?;
    check_signed(&headers, &join, JoinStep::Passkey { ceremony_id: &body.ceremony_id })?;
    client.admit_for(&app, &join.try_get::<String, _>("account_id")?, Guarded::DeviceJoin)?;
    switches::ensure_allowed(&app, Service::Enrolment, &join.try_get::<String, _>("account_id")?).await?;
    let mut tx = app.db.begin().await?;
    let row = sqlx::query(
        "UPDATE device_joins SET status = 'completed' WHERE id = $1 AND status = 'approved' AND expires_at > $2 \
         RETURNING account_id, name, key_id, public_key",
    )
    .bind(&id)
    .bind(to_ms(now))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(wrong_state(&view(&join, now)?));
    };
    let ceremony =
        take_ceremony::<PasskeyRegistration, JoinPasskeyContext>(&app, &mut tx, "join_passkey", &body.ceremony_id)
            .await?;
    if ceremony.context.join_id != id {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::CeremonyExpired,
            "that passkey request was for another join",
        ));
    }
    let account_id: String = row.try_get("account_id")?;
    let name: String = row.try_get::<Option<String>, _>("name")?.unwrap_or_default();
    let key_id: String = row.try_get::<Option<String>, _>("key_id")?.unwrap_or_default();
    let public_key: Vec<u8> = row.try_get::<Option<Vec<u8>>, _>("public_key")?.unwrap_or_default();
    let device_id = insert_device(&mut tx, &app, &account_id, &key_id, &public_key, &name).await?;
    let device = ActingDevice { account_id: &account_id, device_id: &device_id, session: None };
    crate::passkeys::register(&app, &mut tx, device, &body.credential, &ceremony.state).await?;
    let session = open_session(&mut tx, &app, &account_id, &device_id).await?;
    tx.commit(&app.hub).await?;
    Ok((StatusCode::CREATED, Json(Joined { account_id, device_id, session })))
}

/// Freeze a wallet with a recovery code
///
/// For a lost phone: needs no session and no passkey, only a recovery code of the wallet,
/// which is not used up (freezing gives no access).
#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/freeze",
    operation_id = "freeze_with_recovery_code",
    tag = "accounts",
    params(("id" = String, Path, description = "The account id (`acct_…`).")),
    request_body = inkan_api::devices::FreezeWithRecoveryCode,
    responses(
        (status = 204, description = "The wallet is frozen (also if it already was)."),
        (status = 400, description = "`invalid_request`: a malformed body.", body = inkan_api::ErrorBody),
        (status = 401, description = "`unauthorized`: the recovery code is not a valid, unused code of this account.", body = inkan_api::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = inkan_api::ErrorBody),
        (status = 415, description = "`invalid_request`: the body is not sent as `application/json`.", body = inkan_api::ErrorBody),
        (status = 500, description = "`internal`.", body = inkan_api::ErrorBody),
    )
)]
// A recovery code freezes the wallet (and is not used up).
pub async fn freeze_with_recovery_code(
    State(app): State<AppState>,
    client: Client,
    Path(account_id): Path<String>,
    Json(body): Json<FreezeWithRecoveryCode>,
) -> Result<StatusCode> {
    client.limit(&app, Flow::RecoveryCode, Some(&account_id))?;
    recovery::check_tries(&app, &account_id, None, client.address(), Purpose::Freeze).await?;
    if !recovery::is_valid(&app, &account_id, &body.recovery_code).await? {
        let message = "that recovery code is not valid for this wallet";
        return Err(recovery::wrong_code(&app, &account_id, None, client.address(), message).await);
    }
    let mut tx = app.db.begin().await?;
    crate::freezing::freeze_wallet(&mut tx, &app, &account_id, "recovery code", None).await?;
    tx.commit(&app.hub).await?;
    Ok(StatusCode::NO_CONTENT)
}
