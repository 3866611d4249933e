//! A new device joins a wallet: it opens a join, submits its key (with a recovery code, approved
//! at once; without, it waits for a signed-in device's passkey), then makes its own passkey,
//! which adds the device and signs it in. Every step after the key is signed by that key, so
//! whoever else learns the join id can neither follow nor finish it. How many joins may wait,
//! and for how long, is the core's (`JoinPolicy`); the SQL is the store's (`store::joins`).

use axum::http::StatusCode;
use base64::Engine;
use inkan_api::ErrorCode;
use inkan_api::admin::Service;
use inkan_api::devices::{ApproveJoin, BeginJoin, FinishJoin, Join, JoinState, Joined, SubmitDevice};
use inkan_api::feed::Notice;
use inkan_api::wallet::{RegistrationChallenge, StepUpAction};
use inkan_core::attempts::Purpose;
use inkan_core::device_binding::JoinPolicy;
use inkan_core::payment_code::{DevicePublicKey, JoinStep};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::PasskeyRegistration;

use crate::auth::SessionAuth;
use crate::error::{AppError, Result};
use crate::flow::accounts::{account_exists, check_device, insert_device, open_session, require_step_up};
use crate::flow::recovery;
use crate::origin::{Client, Guarded};
use crate::passkeys::{ActingDevice, put_ceremony, take_ceremony};
use crate::ratelimit::Flow;
use crate::secrets::new_id;
use crate::state::AppState;
use crate::store::joins::JoinRow;
use crate::{feed, store, switches};

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

/// The join as its device and the wallet see it at `now` (an open join past its time has expired).
fn view(row: &JoinRow, now: time::OffsetDateTime) -> Result<Join> {
    let mut state = state_of(&row.status);
    if row.expires_at <= now && !matches!(state, JoinState::Completed | JoinState::Rejected) {
        state = JoinState::Expired;
    }
    Ok(Join {
        join_id: row.id.clone(),
        state,
        device_name: row.name.clone(),
        device_fingerprint: joining_key(row)?.map(|key| key.fingerprint()),
        expires_at: row.expires_at,
    })
}

/// The key the joining device submitted, once it has.
fn joining_key(row: &JoinRow) -> Result<Option<DevicePublicKey>> {
    row.public_key.as_deref().map(|bytes| DevicePublicKey::from_sec1(bytes).map_err(AppError::internal)).transpose()
}

/// Checks that this step of the join is signed by the key the joining device submitted
/// (`signature`: the `inkan-device-signature` header): whoever else knows the join id, a session
/// of the wallet among them, can neither follow nor finish it. A join still waiting for its key
/// has nothing to protect.
fn check_signed(signature: Option<&str>, row: &JoinRow, step: JoinStep<'_>) -> Result<()> {
    let Some(key) = joining_key(row)? else { return Ok(()) };
    let refused = || {
        AppError::unauthorized(
            "this step of the join must be signed by the joining device's key (header inkan-device-signature)",
        )
    };
    let signature = signature
        .filter(|v| v.len() <= 200)
        .and_then(|v| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v).ok())
        .ok_or_else(refused)?;
    key.verify_join_step(&row.id, step, &signature).map_err(|_| refused())
}

async fn load(app: &AppState, id: &str) -> Result<JoinRow> {
    if id.len() > 64 {
        return Err(AppError::not_found("device join"));
    }
    store::joins::by_id(app.db.reads(), id).await?.ok_or_else(|| AppError::not_found("device join"))
}

fn wrong_state(join: &Join) -> AppError {
    AppError::invalid_state(format!("this device join is {:?}", join.state).to_lowercase())
}

/// Opens a join of the wallet `body.account_id`, if it has room for one more.
pub(crate) async fn begin(app: &AppState, client: &Client, body: &BeginJoin) -> Result<Join> {
    if body.account_id.len() > 64 {
        return Err(AppError::invalid("malformed account id"));
    }
    crate::flow::accounts::admit_for_account(app, client, &body.account_id, Guarded::DeviceJoin).await?;
    client.limit(app, Flow::JoinBegin, Some(&body.account_id))?;
    switches::ensure_running(app.db.reads(), Service::Enrolment).await?;
    // An account id that does not exist gets a request like any other (kept, and never approved):
    // the answer must not tell which ids exist. A held account is the one that says so.
    if account_exists(app.db.reads(), &body.account_id).await? {
        switches::ensure_not_held(app.db.reads(), &body.account_id).await?;
    }
    let now = app.clock.now();
    // Counted and written in one transaction (on SQLite the writer's, one at a time: joins begun
    // at once are counted one after the other).
    let mut tx = app.db.begin().await?;
    let (open, first_expiry) = store::joins::open_count(&mut tx, &body.account_id, now).await?;
    if !JOINS.admits(open) {
        tx.rollback().await?;
        // No notice: a refused request is not one more thing for the shopper to dismiss.
        let free_in = first_expiry.map_or(JOINS.ttl, |at| at - now).whole_seconds();
        return Err(AppError::too_many_requests(
            format!("{} devices are already waiting to join this wallet; try again later", JOINS.max_waiting),
            u32::try_from(free_in).unwrap_or(u32::MAX),
        ));
    }
    let id = new_id("join", &app.rng)?;
    let expires_at = now + JOINS.ttl;
    store::joins::insert(&mut tx, &id, &body.account_id, now, expires_at).await?;
    tx.commit(&app.hub).await?;
    Ok(Join { join_id: id, state: JoinState::AwaitingDevice, device_name: None, device_fingerprint: None, expires_at })
}

/// The join, for its device (signed once it has submitted its key).
pub(crate) async fn show(app: &AppState, id: &str, signature: Option<&str>) -> Result<Join> {
    let row = load(app, id).await?;
    check_signed(signature, &row, JoinStep::Status)?;
    view(&row, app.clock.now())
}

/// The joining device's key, with its proof of possession over the join id; with a recovery
/// code, approved at once (a wrong one ends the join), otherwise waiting for approval.
pub(crate) async fn submit(app: &AppState, client: &Client, id: &str, body: &SubmitDevice) -> Result<Join> {
    client.admit(app)?;
    client.limit(app, Flow::JoinSubmit, None)?;
    let (key, name) = check_device(&body.device, id)?;
    let key_id = body.device.key_id.to_string();
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let Some(row) = store::joins::submit_device(&mut tx, id, &name, &key_id, key.as_sec1(), now).await? else {
        tx.rollback().await?;
        return Err(wrong_state(&view(&load(app, id).await?, now)?));
    };
    if store::devices::key_registered(&mut tx, &key_id).await? {
        return Err(AppError::invalid_state("this device key is already registered"));
    }
    let state = match body.recovery_code.as_deref() {
        Some(code) => approve_with_recovery_code(app, client, tx, &row, now, code).await?,
        None => {
            // A request for an id that is no wallet waits like any other, and tells nobody.
            if account_exists(tx.conn(), &row.account_id).await? {
                let fingerprint = Some(key.fingerprint());
                let notice = Notice::DeviceJoinRequested { join_id: None, name: name.clone(), fingerprint };
                feed::append(&mut tx, &app.issuer, &row.account_id, &notice, now).await?;
            }
            tx.commit(&app.hub).await?;
            JoinState::AwaitingApproval
        }
    };
    let device_fingerprint = Some(key.fingerprint());
    Ok(Join { join_id: row.id, state, device_name: Some(name), device_fingerprint, expires_at: row.expires_at })
}

/// A recovery code approves the join submitted in `tx` and is used up; a wrong one ends the join,
/// so that codes cannot be guessed through it (one try per join).
async fn approve_with_recovery_code(
    app: &AppState,
    client: &Client,
    mut tx: crate::db::Tx,
    row: &JoinRow,
    now: time::OffsetDateTime,
    code: &str,
) -> Result<JoinState> {
    let account_id = &row.account_id;
    client.limit(app, Flow::RecoveryCode, Some(account_id))?;
    if let Err(locked) = recovery::check_tries(app, account_id, None, client.address(), Purpose::Access).await {
        tx.rollback().await?;
        return Err(locked);
    }
    if !recovery::use_code(&mut tx, app, account_id, code).await? {
        tx.rollback().await?;
        let mut tx = app.db.begin().await?;
        store::joins::reject(&mut tx, &row.id).await?;
        tx.commit(&app.hub).await?;
        let message = "that recovery code is not valid for this wallet; start again";
        return Err(recovery::wrong_code(app, account_id, None, client.address(), message).await);
    }
    let approved = store::joins::approve(&mut tx, &row.id, account_id, "recovery_code", now).await?;
    if approved.is_none() {
        return Err(AppError::internal("a join submitted in this transaction could not be approved"));
    }
    tx.commit(&app.hub).await?;
    Ok(JoinState::Approved)
}

/// A passkey of the wallet approves the join (an `add_device` step-up).
pub(crate) async fn approve(
    app: &AppState,
    auth: &SessionAuth,
    client: &Client,
    id: &str,
    body: &ApproveJoin,
) -> Result<Join> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let Some(row) = store::joins::approve(&mut tx, id, &auth.account_id, &auth.device_id, now).await? else {
        tx.rollback().await?;
        let existing = load(app, id).await?;
        if existing.account_id != auth.account_id {
            return Err(AppError::not_found("device join"));
        }
        return Err(wrong_state(&view(&existing, now)?));
    };
    require_step_up(app, &mut tx, auth, client, StepUpAction::AddDevice, Some(&body.step_up)).await?;
    let join = view(&row, now)?;
    tx.commit(&app.hub).await?;
    Ok(join)
}

#[derive(Serialize, Deserialize)]
struct JoinPasskeyContext {
    join_id: String,
}

/// The creation options of the approved device's own passkey, for the wallet's WebAuthn user.
pub(crate) async fn passkey_challenge(
    app: &AppState,
    client: &Client,
    id: &str,
    signature: Option<&str>,
) -> Result<RegistrationChallenge> {
    client.admit(app)?;
    let row = load(app, id).await?;
    check_signed(signature, &row, JoinStep::PasskeyChallenge)?;
    let join = view(&row, app.clock.now())?;
    if join.state != JoinState::Approved {
        return Err(wrong_state(&join));
    }
    let (name, user) = store::accounts::passkey_user(app.db.reads(), &row.account_id).await?;
    let user = uuid::Uuid::parse_str(&user).map_err(AppError::internal)?;
    let existing: Vec<_> =
        crate::passkeys::all_passkeys_of(app, &row.account_id).await?.iter().map(|p| p.cred_id().clone()).collect();
    let (options, state) =
        app.webauthn.start_passkey_registration(user, &name, &name, Some(existing)).map_err(AppError::internal)?;
    let context = JoinPasskeyContext { join_id: row.id };
    let ceremony_id = put_ceremony(app, "join_passkey", Some(&row.account_id), &state, &context).await?;
    Ok(RegistrationChallenge { ceremony_id, public_key: options })
}

/// The new passkey and the device are added to the wallet together, and a session opens.
pub(crate) async fn finish(
    app: &AppState,
    client: &Client,
    id: &str,
    signature: Option<&str>,
    body: &FinishJoin,
) -> Result<Joined> {
    let now = app.clock.now();
    let join = load(app, id).await?;
    check_signed(signature, &join, JoinStep::Passkey { ceremony_id: &body.ceremony_id })?;
    client.admit_for(app, &join.account_id, Guarded::DeviceJoin)?;
    switches::ensure_allowed(app, Service::Enrolment, &join.account_id).await?;
    let mut tx = app.db.begin().await?;
    let Some(row) = store::joins::complete(&mut tx, id, now).await? else {
        tx.rollback().await?;
        return Err(wrong_state(&view(&join, now)?));
    };
    let ceremony =
        take_ceremony::<PasskeyRegistration, JoinPasskeyContext>(app, &mut tx, "join_passkey", &body.ceremony_id)
            .await?;
    if ceremony.context.join_id != id {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::CeremonyExpired,
            "that passkey request was for another join",
        ));
    }
    let (name, key_id) = (row.name.unwrap_or_default(), row.key_id.unwrap_or_default());
    let public_key = row.public_key.unwrap_or_default();
    let account_id = row.account_id;
    let device_id = insert_device(&mut tx, app, &account_id, &key_id, &public_key, &name).await?;
    let device = ActingDevice { account_id: &account_id, device_id: &device_id, session: None };
    crate::passkeys::register(app, &mut tx, device, &body.credential, &ceremony.state).await?;
    let session = open_session(&mut tx, app, &account_id, &device_id).await?;
    tx.commit(&app.hub).await?;
    Ok(Joined { account_id, device_id, session })
}

/// The wallet's joins waiting for its approval, oldest first.
pub(crate) async fn waiting(app: &AppState, account_id: &str) -> Result<Vec<Join>> {
    let now = app.clock.now();
    let rows = store::joins::awaiting_approval(app.db.reads(), account_id, now).await?;
    rows.iter().map(|r| view(r, now)).collect()
}
