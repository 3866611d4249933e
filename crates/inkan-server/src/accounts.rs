//! Accounts: created with a first passkey and a first device, signed in with a passkey. No
//! password, no e-mail, no birth date, no reset by anything but a passkey or a recovery code.

use axum::extract::State;
use axum::http::StatusCode;
use inkan_api::ErrorCode;
use inkan_api::admin::Service;
use inkan_api::feed::Notice;
use inkan_api::wallet::Assertion;
use inkan_api::wallet::{
    AssertionChallenge, BeginRegistration, BeginSignIn, BeginStepUp, Enrolled, FinishRegistration, NewDevice,
    RegistrationChallenge, Session, StepUpAction,
};
use inkan_core::LimitSettings;
use inkan_core::history::GENESIS;
use inkan_core::payment_code::DevicePublicKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{PasskeyAuthentication, PasskeyRegistration};

use crate::auth::SessionAuth;
use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::{AppError, Json, Result};
use crate::passkeys::{self, accept_assertion, put_ceremony, take_ceremony};
use crate::secrets::{hash_secret, hex, new_id, new_recovery_code, new_token, normalize_recovery_code};
use crate::state::AppState;
use crate::{feed, operator};

/// How many recovery codes an account gets at enrolment.
const RECOVERY_CODES: usize = 10;

#[derive(Serialize, Deserialize)]
struct RegistrationContext {
    display_name: String,
    user: Uuid,
}

#[derive(Serialize, Deserialize)]
struct SignInContext {
    device_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StepUpContext {
    action: StepUpAction,
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

/// `POST /v1/accounts/registration`
pub async fn begin_registration(
    State(app): State<AppState>,
    Json(body): Json<BeginRegistration>,
) -> Result<Json<RegistrationChallenge>> {
    let display_name = display_name(&body.display_name)?;
    operator::ensure_running(app.db.pool(), Service::Enrolment).await?;
    let user = Uuid::new_v4();
    let (options, state) = app
        .webauthn
        .start_passkey_registration(user, &display_name, &display_name, None)
        .map_err(AppError::internal)?;
    let context = RegistrationContext { display_name, user };
    let ceremony_id = put_ceremony(&app, "registration", None, &state, &context).await?;
    Ok(Json(RegistrationChallenge { ceremony_id, public_key: options }))
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
    let inserted = sqlx::query(
        "INSERT INTO devices (id, account_id, key_id, public_key, name, active, last_counter, enrolled_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, 1, NULL, $6, NULL) ON CONFLICT (key_id) DO NOTHING",
    )
    .bind(&device_id)
    .bind(account_id)
    .bind(key_id)
    .bind(public_key)
    .bind(name)
    .bind(to_ms(app.clock.now()))
    .execute(tx.conn())
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(AppError::invalid_state("this device key is already registered"));
    }
    feed::append(
        tx,
        account_id,
        &Notice::DeviceAdded { device_id: device_id.clone(), name: name.to_owned() },
        app.clock.now(),
    )
    .await?;
    Ok(device_id)
}

/// Opens a session for an account.
pub async fn open_session(tx: &mut Tx, app: &AppState, account_id: &str, device_id: Option<&str>) -> Result<Session> {
    let token = new_token("ses", &app.rng)?;
    let now = to_ms(app.clock.now());
    sqlx::query(
        "INSERT INTO sessions (token_hash, account_id, device_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_secret(&token))
    .bind(account_id)
    .bind(device_id)
    .bind(now)
    .bind(now)
    .execute(tx.conn())
    .await?;
    let idle = u64::try_from(app.settings.session_idle.whole_seconds()).unwrap_or(0);
    Ok(Session { token, account_id: account_id.to_owned(), idle_timeout_seconds: idle })
}

/// `POST /v1/accounts`: the passkey is registered, the first device added, recovery codes made.
pub async fn finish_registration(
    State(app): State<AppState>,
    Json(body): Json<FinishRegistration>,
) -> Result<(StatusCode, Json<Enrolled>)> {
    let (key, device_name) = check_device(&body.device, &body.ceremony_id)?;
    operator::ensure_running(app.db.pool(), Service::Enrolment).await?;
    let mut tx = app.db.begin().await?;
    let ceremony =
        take_ceremony::<PasskeyRegistration, RegistrationContext>(&app, &mut tx, "registration", &body.ceremony_id)
            .await?;
    let now = app.clock.now();
    let account_id = new_id("acct", &app.rng)?;
    let limits = LimitSettings::new(app.settings.initial_limits);
    sqlx::query(
        "INSERT INTO accounts (id, display_name, webauthn_user, currency, balance, frozen, limits, event_seq, last_hash, created_at) \
         VALUES ($1, $2, $3, $4, 0, 0, $5, 0, $6, $7)",
    )
    .bind(&account_id)
    .bind(&ceremony.context.display_name)
    .bind(ceremony.context.user.to_string())
    .bind(inkan_core::Currency::Jpy.code())
    .bind(serde_json::to_string(&limits)?)
    .bind(hex(&GENESIS))
    .bind(to_ms(now))
    .execute(tx.conn())
    .await?;
    passkeys::register(&app, &mut tx, &account_id, &body.credential, &ceremony.state).await?;
    feed::append(&mut tx, &account_id, &Notice::AccountCreated { display_name: ceremony.context.display_name }, now)
        .await?;
    let key_id = body.device.key_id.to_string();
    let device_id = insert_device(&mut tx, &app, &account_id, &key_id, key.as_sec1(), &device_name).await?;
    let mut recovery_codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = new_recovery_code(&app.rng)?;
        sqlx::query("INSERT INTO recovery_codes (code_hash, account_id, used_at) VALUES ($1, $2, NULL)")
            .bind(hash_secret(&normalize_recovery_code(&code)))
            .bind(&account_id)
            .execute(tx.conn())
            .await?;
        recovery_codes.push(code);
    }
    let session = open_session(&mut tx, &app, &account_id, Some(&device_id)).await?;
    tx.commit(&app.hub).await?;
    tracing::info!(%account_id, %device_id, "account created");
    Ok((StatusCode::CREATED, Json(Enrolled { account_id, device_id, recovery_codes, session })))
}

/// `POST /v1/sessions/challenge`
pub async fn begin_sign_in(
    State(app): State<AppState>,
    Json(body): Json<BeginSignIn>,
) -> Result<Json<AssertionChallenge>> {
    if body.account_id.len() > 64 {
        return Err(AppError::invalid("malformed account id"));
    }
    let (options, state) = passkeys::challenge(&app, &body.account_id).await?;
    let context = SignInContext { device_id: body.device_id };
    let ceremony_id = put_ceremony(&app, "sign_in", Some(&body.account_id), &state, &context).await?;
    Ok(Json(AssertionChallenge { ceremony_id, public_key: options }))
}

/// `POST /v1/sessions`
pub async fn finish_sign_in(
    State(app): State<AppState>,
    Json(body): Json<Assertion>,
) -> Result<(StatusCode, Json<Session>)> {
    let mut tx = app.db.begin().await?;
    let ceremony =
        take_ceremony::<PasskeyAuthentication, SignInContext>(&app, &mut tx, "sign_in", &body.ceremony_id).await?;
    let account_id = ceremony.account_id.ok_or_else(|| AppError::internal("sign-in ceremony without account"))?;
    accept_assertion(&app, &mut tx, &account_id, &ceremony.state, &body.credential).await?;
    let device_id = match ceremony.context.device_id {
        Some(id) => {
            let active: Option<i64> =
                sqlx::query_scalar("SELECT active FROM devices WHERE id = $1 AND account_id = $2")
                    .bind(&id)
                    .bind(&account_id)
                    .fetch_optional(tx.conn())
                    .await?;
            match active {
                Some(1) => Some(id),
                Some(_) => {
                    return Err(AppError::new(
                        StatusCode::FORBIDDEN,
                        ErrorCode::DeviceRevoked,
                        "this device was removed from the wallet",
                    ));
                }
                None => return Err(AppError::not_found("device")),
            }
        }
        None => None,
    };
    feed::append(&mut tx, &account_id, &Notice::SignedIn { device_id: device_id.clone() }, app.clock.now()).await?;
    let session = open_session(&mut tx, &app, &account_id, device_id.as_deref()).await?;
    tx.commit(&app.hub).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// `DELETE /v1/sessions/current`
pub async fn sign_out(State(app): State<AppState>, auth: SessionAuth) -> Result<StatusCode> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(auth.token_hash()).execute(app.db.pool()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/wallet/step-up`: a passkey request for one sensitive action of this account.
pub async fn begin_step_up(
    State(app): State<AppState>,
    auth: SessionAuth,
    Json(body): Json<BeginStepUp>,
) -> Result<Json<AssertionChallenge>> {
    let (options, state) = passkeys::challenge(&app, &auth.account_id).await?;
    let context = StepUpContext { action: body.action };
    let ceremony_id = put_ceremony(&app, "step_up", Some(&auth.account_id), &state, &context).await?;
    Ok(Json(AssertionChallenge { ceremony_id, public_key: options }))
}

/// Checks a step-up assertion for `action` of `account_id` inside `tx` (and uses it up).
pub async fn require_step_up(
    app: &AppState,
    tx: &mut Tx,
    account_id: &str,
    action: StepUpAction,
    step_up: Option<&Assertion>,
) -> Result<()> {
    let step_up = step_up.ok_or_else(|| {
        AppError::new(StatusCode::FORBIDDEN, ErrorCode::StepUpRequired, "confirm this with your passkey first")
    })?;
    let ceremony =
        take_ceremony::<PasskeyAuthentication, StepUpContext>(app, tx, "step_up", &step_up.ceremony_id).await?;
    if ceremony.account_id.as_deref() != Some(account_id) || ceremony.context.action != action {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::StepUpRequired,
            "that passkey confirmation was for something else",
        ));
    }
    accept_assertion(app, tx, account_id, &ceremony.state, &step_up.credential).await
}
