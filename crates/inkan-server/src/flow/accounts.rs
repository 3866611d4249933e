//! Accounts: signed in with a passkey, stepped up with one for what needs it, signed out. No
//! password, no e-mail, no birth date, no reset by anything but a passkey or a recovery code. A
//! wallet is created in `flow::enrolment`; what it and the joins share of a new device and a new
//! session is here (`check_device`, `insert_device`, `open_session`).

use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::feed::Notice;
use inkan_api::wallet::Assertion;
use inkan_api::wallet::{AssertionChallenge, BeginSignIn, BeginStepUp, NewDevice, Session, SignIn, StepUpAction};
use inkan_core::payment_code::DevicePublicKey;
use inkan_core::payment_code::v2::DeviceIndex;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::PasskeyAuthentication;

use crate::auth::{Ending, SessionAuth, end_sessions};
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::origin::{Client, Guarded};
use crate::passkeys::{self, ActingDevice, accept_assertion, put_ceremony, take_ceremony};
use crate::ratelimit::Flow;
use crate::secrets::{hash_secret, new_id, new_token};
use crate::state::AppState;
use crate::{feed, store};

#[derive(Serialize, Deserialize)]
struct SignInContext {
    device_id: String,
}

/// A step-up is asked for by a session, so by one device: only that device's passkeys answer it,
/// and only that device's session may use the answer.
#[derive(Serialize, Deserialize)]
struct StepUpContext {
    action: StepUpAction,
    device_id: String,
}

/// A display name: 1 to 64 characters after trimming, no control characters.
pub fn display_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > 64 || name.chars().any(char::is_control) {
        return Err(AppError::invalid("a name is 1 to 64 characters, without control characters"));
    }
    Ok(name.to_owned())
}

/// Checks a new device's key and its proof of possession over `challenge` (a ceremony or join
/// id the server chose), and its name.
pub fn check_device(device: &NewDevice, challenge: &str) -> Result<(DevicePublicKey, String)> {
    if !device.key_id.is_text_safe() {
        return Err(AppError::invalid(
            "this device key id would make payment codes that start with a space; make a new one",
        ));
    }
    let key = DevicePublicKey::from_sec1(&device.public_key.0)
        .map_err(|_| AppError::invalid("device public key: expected an uncompressed P-256 point"))?;
    key.verify_proof(challenge.as_bytes(), &device.proof.0)
        .map_err(|_| AppError::invalid("the device's proof of possession does not verify"))?;
    Ok((key, display_name(&device.name)?))
}

/// Inserts a device; a key id already registered is refused.
/// Adds a device (its key id, in hex, and its SEC1 public key) to an account, with a notice.
pub async fn insert_device(
    tx: &mut Tx,
    app: &AppState,
    account_id: &str,
    key_id: &str,
    public_key: &[u8],
    name: &str,
) -> Result<String> {
    let device_id = new_id("dev", &app.rng)?;
    if !store::devices::insert(tx, &device_id, account_id, key_id, public_key, name, app.clock.now()).await? {
        return Err(AppError::invalid_state("this device key is already registered"));
    }
    feed::append(
        tx,
        &app.issuer,
        account_id,
        &Notice::DeviceAdded { device_id: device_id.clone(), name: name.to_owned() },
        app.clock.now(),
    )
    .await?;
    Ok(device_id)
}

/// Opens a session for a device of an account, with the device's payment code keys (its index
/// given now if it has none: a device that enrolled before version 2).
pub async fn open_session(tx: &mut Tx, app: &AppState, account_id: &str, device_id: &str) -> Result<Session> {
    let token = new_token("ses", &app.rng)?;
    store::sessions::insert(tx, &hash_secret(&token), account_id, device_id, app.clock.now()).await?;
    let seconds = |d: time::Duration| u64::try_from(d.whole_seconds()).unwrap_or(0);
    Ok(Session {
        token,
        account_id: account_id.to_owned(),
        idle_timeout_seconds: seconds(app.settings.session_idle),
        max_lifetime_seconds: seconds(app.settings.session_max),
        payment_code: app.codes.keys_for(code_index(tx, app, device_id).await?),
    })
}

/// The device's payment code v2 index ([`store::devices::code_index`]).
async fn code_index(tx: &mut Tx, app: &AppState, device_id: &str) -> Result<DeviceIndex> {
    let candidate = DeviceIndex::generate(&app.rng).map_err(AppError::internal)?;
    let candidate = i64::try_from(candidate.get()).map_err(AppError::internal)?;
    let stored =
        store::devices::code_index(tx, device_id, candidate).await?.ok_or_else(|| AppError::not_found("device"))?;
    u64::try_from(stored)
        .ok()
        .and_then(DeviceIndex::new)
        .ok_or_else(|| AppError::internal("a stored device index is out of range"))
}

/// The device a sign-in names, if it is one of the account's: its public key and whether it is
/// still active.
async fn device_of<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    account_id: &str,
    device_id: &str,
) -> Result<(DevicePublicKey, bool)> {
    let (public_key, active) = store::devices::key_and_standing(db, account_id, device_id)
        .await?
        .ok_or_else(|| AppError::not_found("account"))?;
    Ok((DevicePublicKey::from_sec1(&public_key).map_err(AppError::internal)?, active))
}

/// As [`Client::admit_for`] for a request that names an account it may not know: the refusal is
/// the same whether the account exists or not, and only an account that exists hears of it.
pub async fn admit_for_account(app: &AppState, client: &Client, account_id: &str, flow: Guarded) -> Result<()> {
    if client.admit(app).is_ok() {
        return Ok(());
    }
    if account_exists(app.db.reads(), account_id).await? {
        client.admit_for(app, account_id, flow)
    } else {
        client.admit(app)
    }
}

/// Whether an account of this id exists.
pub async fn account_exists<'c>(db: impl sqlx::AnyExecutor<'c>, account_id: &str) -> Result<bool> {
    store::accounts::exists(db, account_id).await
}

fn device_revoked() -> AppError {
    AppError::new(StatusCode::FORBIDDEN, ErrorCode::DeviceRevoked, "this device was removed from the wallet")
}

/// Checks a step-up assertion for `action` by the session `auth` inside `tx` (and uses it up):
/// it must have been asked for by this session's device and answered by one of its passkeys.
pub async fn require_step_up(
    app: &AppState,
    tx: &mut Tx,
    auth: &SessionAuth,
    client: &Client,
    action: StepUpAction,
    step_up: Option<&Assertion>,
) -> Result<()> {
    let step_up = step_up.ok_or_else(|| {
        AppError::new(StatusCode::FORBIDDEN, ErrorCode::StepUpRequired, "confirm this with your passkey first")
    })?;
    let ceremony =
        take_ceremony::<PasskeyAuthentication, StepUpContext>(app, tx, "step_up", &step_up.ceremony_id).await?;
    if ceremony.account_id.as_deref() != Some(auth.account_id.as_str())
        || ceremony.context.action != action
        || ceremony.context.device_id != auth.device_id
    {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::StepUpRequired,
            "that passkey confirmation was for something else",
        ));
    }
    let device =
        ActingDevice { account_id: &auth.account_id, device_id: &auth.device_id, session: Some(auth.token_hash()) };
    accept_assertion(app, tx, device, client.address(), "step_up", &ceremony.state, &step_up.credential).await
}

/// The passkey request of a sign-in of the account's device `body.device_id`. A device that does
/// not exist gets a request like a real one, which nothing can answer: the answer must not tell
/// which account ids exist. (A removed device is told so: only whoever knew its id can ask, and its
/// owner needs to know.)
pub(crate) async fn begin_sign_in(app: &AppState, client: &Client, body: BeginSignIn) -> Result<AssertionChallenge> {
    if body.account_id.len() > 64 || body.device_id.len() > 64 {
        return Err(AppError::invalid("malformed account or device id"));
    }
    admit_for_account(app, client, &body.account_id, Guarded::SignIn).await?;
    client.limit(app, Flow::SignIn, Some(&body.account_id))?;
    let passkeys = match device_of(app.db.reads(), &body.account_id, &body.device_id).await {
        Ok((_, false)) => return Err(device_revoked()),
        Ok((_, true)) => passkeys::passkeys_of(app, &body.account_id, &body.device_id).await?,
        Err(e) if e.code == ErrorCode::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let (options, state) = if passkeys.is_empty() {
        (passkeys::decoy_challenge(app, &body.account_id, &body.device_id)?, None)
    } else {
        let (options, state) = app.webauthn.start_passkey_authentication(&passkeys).map_err(AppError::internal)?;
        (options, Some(state))
    };
    let context = SignInContext { device_id: body.device_id };
    // A stand-in's ceremony is kept like a real one (without state), so that finishing it fails
    // the way a real one does without the device.
    let account = state.is_some().then_some(body.account_id.as_str());
    let ceremony_id = put_ceremony(app, "sign_in", account, &state, &context).await?;
    Ok(AssertionChallenge { ceremony_id, public_key: options })
}

/// A sign-in finished with the device's passkey and its key's signature over the ceremony id: a
/// new session of that device.
pub(crate) async fn finish_sign_in(app: &AppState, client: &Client, body: &SignIn) -> Result<Session> {
    let mut tx = app.db.begin().await?;
    let ceremony =
        take_ceremony::<Option<PasskeyAuthentication>, SignInContext>(app, &mut tx, "sign_in", &body.ceremony_id)
            .await?;
    let not_the_device =
        || AppError::unauthorized("the device's signature does not verify: sign in from the device itself");
    // A stand-in for a device that does not exist: refused as a real one is without its device.
    let (Some(account_id), Some(state)) = (ceremony.account_id, ceremony.state) else {
        client.admit(app)?;
        return Err(not_the_device());
    };
    client.admit_for(app, &account_id, Guarded::SignIn)?;
    let device_id = ceremony.context.device_id;
    let (key, active) = device_of(tx.conn(), &account_id, &device_id).await?;
    if !active {
        return Err(device_revoked());
    }
    key.verify_sign_in(body.ceremony_id.as_bytes(), &body.device_signature.0).map_err(|_| not_the_device())?;
    let device = ActingDevice { account_id: &account_id, device_id: &device_id, session: None };
    accept_assertion(app, &mut tx, device, client.address(), "sign_in", &state, &body.credential).await?;
    let notice = Notice::SignedIn { device_id: Some(device_id.clone()) };
    feed::append(&mut tx, &app.issuer, &account_id, &notice, app.clock.now()).await?;
    let session = open_session(&mut tx, app, &account_id, &device_id).await?;
    tx.commit(&app.hub).await?;
    Ok(session)
}

/// Ends the session `auth` (its open feeds close).
pub(crate) async fn sign_out(app: &AppState, auth: &SessionAuth) -> Result<()> {
    let mut tx = app.db.begin().await?;
    end_sessions(&mut tx, &auth.account_id, Ending::Only(auth.token_hash())).await?;
    tx.commit(&app.hub).await?;
    Ok(())
}

/// The passkey request of a step-up for `body.action`, which only the session's device's passkeys
/// answer and only its session may use.
pub(crate) async fn begin_step_up(app: &AppState, auth: &SessionAuth, body: BeginStepUp) -> Result<AssertionChallenge> {
    let (options, state) = passkeys::challenge(app, &auth.account_id, &auth.device_id).await?;
    let context = StepUpContext { action: body.action, device_id: auth.device_id.clone() };
    let ceremony_id = put_ceremony(app, "step_up", Some(&auth.account_id), &state, &context).await?;
    Ok(AssertionChallenge { ceremony_id, public_key: options })
}
