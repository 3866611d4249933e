//! Passkey ceremonies: their server-side state between "begin" and "finish", and the checks the
//! WebAuthn library leaves to us.
//!
//! webauthn-rs verifies signatures, challenges, origins and user verification, but not replay: an
//! assertion verified against a retained state verifies again. So ceremony state is deleted in the
//! same transaction that acts on it (`take_ceremony`), and the credential counter is compared with
//! the one in the database, not the snapshot inside the state (`accept_assertion`).

use std::net::IpAddr;

use serde::{Serialize, de::DeserializeOwned};
use webauthn_rs::prelude::{
    AuthenticationResult, Credential, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse,
};

use inkan_api::feed::Notice;
use inkan_core::attempts::{Against, Purpose, Secret};
use inkan_core::device_binding::{PasskeyOwner, passkey_acts_for};

use crate::attempts;
use crate::clock::to_ms;
use crate::db::Tx;
use crate::error::{AppError, Result};
use crate::secrets::new_ordered_id;
use crate::state::AppState;
use crate::store;

/// A ceremony read back and removed.
#[derive(Debug)]
pub struct Ceremony<S, C> {
    pub account_id: Option<String>,
    pub state: S,
    pub context: C,
}

/// Stores ceremony state; returns its id.
pub async fn put_ceremony<S: Serialize, C: Serialize>(
    app: &AppState,
    kind: &str,
    account_id: Option<&str>,
    state: &S,
    context: &C,
) -> Result<String> {
    let now = app.clock.now();
    let id = new_ordered_id("cer", now, &app.rng)?;
    let new = store::ceremonies::NewCeremony {
        id: &id,
        kind,
        account_id,
        state: serde_json::to_string(state)?,
        context: serde_json::to_string(context)?,
        expires_at: now + app.settings.ceremony_ttl,
    };
    let mut tx = app.db.begin().await?;
    store::ceremonies::insert(&mut tx, &new).await?;
    tx.commit(&app.hub).await?;
    Ok(id)
}

/// Removes and returns a ceremony of `kind`, in `tx`: if `tx` commits, the ceremony can never be
/// used again; if it rolls back, nothing happened. This is the first write of `tx`.
pub async fn take_ceremony<S: DeserializeOwned, C: DeserializeOwned>(
    app: &AppState,
    tx: &mut Tx,
    kind: &str,
    id: &str,
) -> Result<Ceremony<S, C>> {
    if id.len() > 64 {
        return Err(AppError::invalid("malformed ceremony id"));
    }
    let expired = |message: &'static str| {
        AppError::new(axum::http::StatusCode::BAD_REQUEST, inkan_api::ErrorCode::CeremonyExpired, message)
    };
    let taken = store::ceremonies::take(tx, id, kind)
        .await?
        .ok_or_else(|| expired("this passkey request is unknown or was already used; start again"))?;
    if taken.expires_at <= to_ms(app.clock.now()) {
        return Err(expired("this passkey request has expired; start again"));
    }
    Ok(Ceremony {
        account_id: taken.account_id,
        state: serde_json::from_str(&taken.state)?,
        context: serde_json::from_str(&taken.context)?,
    })
}

/// The passkeys of one device of an account: the only ones that may act for it.
pub async fn passkeys_of(app: &AppState, account_id: &str, device_id: &str) -> Result<Vec<Passkey>> {
    store::passkeys::of_device(app.db.reads(), account_id, device_id).await?.iter().map(decode).collect()
}

/// Every passkey of an account, whatever its device: for a new device's registration, so that an
/// authenticator does not register a second passkey for the same wallet.
pub async fn all_passkeys_of(app: &AppState, account_id: &str) -> Result<Vec<Passkey>> {
    store::passkeys::of_account(app.db.reads(), account_id).await?.iter().map(decode).collect()
}

/// A stored passkey with its counter. The counter is kept in its own column, written by every
/// assertion (`apply_counter`); the credential's JSON only when webauthn-rs's backup flags change
/// (rarely), so the JSON's own counter may be older. Set from the column here, webauthn-rs's check
/// of the counter (`finish_passkey_authentication`) judges against the real one.
fn decode(stored: &store::passkeys::Stored) -> Result<Passkey> {
    let mut credential = Credential::from(serde_json::from_str::<Passkey>(&stored.passkey)?);
    credential.counter = u32::try_from(stored.counter).map_err(AppError::internal)?;
    Ok(Passkey::from(credential))
}

/// A passkey request for one device of an account: what the authenticator needs, and the state to
/// keep. Only that device's passkeys can answer it.
pub async fn challenge(
    app: &AppState,
    account_id: &str,
    device_id: &str,
) -> Result<(RequestChallengeResponse, PasskeyAuthentication)> {
    let passkeys = passkeys_of(app, account_id, device_id).await?;
    if passkeys.is_empty() {
        return Err(AppError::not_found("account"));
    }
    app.webauthn.start_passkey_authentication(&passkeys).map_err(AppError::internal)
}

/// The passkey request a sign-in would get for a device that does not exist (an unknown account,
/// or an unknown device of a real one), shaped like a real one so that the answer does not tell
/// which account ids exist: a fresh challenge, and one credential id that the same ids always get
/// (a real device's passkey is the same on every request too), drawn by webauthn-rs's generator of
/// fake credential ids from a secret only the issuer's servers hold.
pub fn decoy_challenge(app: &AppState, account_id: &str, device_id: &str) -> Result<RequestChallengeResponse> {
    let name = format!("{account_id}\0{device_id}");
    // The generator sometimes makes no credential (an account without passkeys); an Inkan device
    // always has one, so the next draw of the same seed is taken.
    let mut id = None;
    for round in 0u8..16 {
        let mut seed = name.clone().into_bytes();
        seed.push(round);
        if let Some(first) = app.decoys.generate(&seed).map_err(AppError::internal)?.into_iter().next() {
            id = Some(first);
            break;
        }
    }
    let id = id.ok_or_else(|| AppError::internal("no fake credential id in 16 draws"))?;
    let challenge: [u8; 32] = crate::secrets::random(&app.rng)?;
    Ok(RequestChallengeResponse {
        public_key: webauthn_rs_proto::PublicKeyCredentialRequestOptions {
            challenge: challenge.to_vec(),
            timeout: u32::try_from(webauthn_rs::DEFAULT_AUTHENTICATOR_TIMEOUT.as_millis()).ok(),
            rp_id: app.settings.rp_id.clone(),
            allow_credentials: vec![webauthn_rs_proto::AllowCredentials {
                type_: "public-key".to_owned(),
                id,
                transports: None,
            }],
            user_verification: webauthn_rs_proto::UserVerificationPolicy::Required,
            hints: None,
            extensions: None,
        },
        mediation: None,
    })
}

/// Who a passkey assertion must come from: a passkey of this device of this account; and, for a
/// step-up or a payment, the session it comes with (its token's hash), against which a failure is
/// counted instead of against the device (`inkan_core::attempts::PASSKEY_IN_SESSION`).
#[derive(Debug, Clone, Copy)]
pub struct ActingDevice<'a> {
    pub account_id: &'a str,
    pub device_id: &'a str,
    pub session: Option<&'a str>,
}

/// Verifies an assertion against `state` for `device`, inside `tx`, and records the new
/// credential counter. Refuses a credential of another account or another device, one whose
/// device was removed, and a counter that did not move forward (a cloned authenticator, or a
/// replay of an older assertion); and, before anything, a wallet, device or address whose passkey
/// tries are locked (`attempts`).
/// A refusal is a notice to the wallet's devices (`during`: what the passkey was asked for), and a
/// failed try.
pub async fn accept_assertion(
    app: &AppState,
    tx: &mut Tx,
    device: ActingDevice<'_>,
    address: IpAddr,
    during: &'static str,
    state: &PasskeyAuthentication,
    credential: &PublicKeyCredential,
) -> Result<()> {
    check_tries(app, tx.conn(), device, address).await?;
    // The signature check on the blocking pool: the runtime's worker serves other requests
    // meanwhile (this transaction holds the writer either way).
    let outcome = match verify_assertion_off_workers(app, state.clone(), credential.clone()).await {
        Ok(verified) => record_assertion(tx, device, &verified).await,
        Err(e) => Err(e),
    };
    outcome.map_err(|e| note_refusal(e, device, address, during))
}

/// The counters of a passkey try by `device` from `address`: the device's at sign-in, the
/// session's within one.
fn tries(device: ActingDevice<'_>, address: IpAddr) -> Vec<crate::tries::Counter> {
    match device.session {
        None => crate::tries::Counter::of(Secret::Passkey, device.account_id, Some(device.device_id), address),
        Some(token_hash) => inkan_core::attempts::PASSKEY_IN_SESSION
            .iter()
            .filter_map(|against| match against {
                Against::Session => Some(crate::tries::Counter::session(Secret::Passkey, token_hash)),
                Against::Address => Some(crate::tries::Counter::address(Secret::Passkey, address)),
                Against::CardNumber | Against::Account | Against::Device => None,
            })
            .collect(),
    }
}

/// Refuses, with `attempts_locked`, a passkey try of a device or from an address whose tries are
/// locked (a passkey is not counted against its wallet: `Secret::counted_against`).
pub async fn check_tries(
    app: &AppState,
    conn: &mut crate::db::Conn,
    device: ActingDevice<'_>,
    address: IpAddr,
) -> Result<()> {
    let counters = tries(device, address);
    attempts::check(conn, &app.settings.attempts, &counters, Purpose::Access, app.clock.now())
        .await?
        .map_err(attempts::Locked::refusal)
}

/// If `error` refused a passkey, it carries a notice to the wallet's devices, recorded before the
/// refusal is answered, whatever became of the request's own transaction; and it counts as a
/// failed try of the device and the address.
pub fn note_refusal(error: AppError, device: ActingDevice<'_>, address: IpAddr, during: &'static str) -> AppError {
    if error.code != inkan_api::ErrorCode::PasskeyRejected {
        return error;
    }
    let notice = Notice::PasskeyRejected { device_id: Some(device.device_id.to_owned()), during: during.to_owned() };
    let failed = crate::tries::FailedTry {
        secret: Secret::Passkey,
        account_id: Some(device.account_id.to_owned()),
        counters: tries(device, address),
    };
    error.with_notice(device.account_id, notice).failed_try(failed)
}

/// The signature, challenge, origin and user verification of an assertion, checked by
/// webauthn-rs. Needs no database, so a handler can do it before it takes the writer; the
/// assertion counts only once [`record_assertion`] has passed in the transaction that acts on it.
pub fn verify_assertion(
    app: &AppState,
    state: &PasskeyAuthentication,
    credential: &PublicKeyCredential,
) -> Result<AuthenticationResult> {
    let result = app.webauthn.finish_passkey_authentication(credential, state).map_err(|e| {
        tracing::info!(error = %e, "passkey assertion refused");
        AppError::passkey_rejected()
    })?;
    if !result.user_verified() {
        return Err(AppError::passkey_rejected());
    }
    Ok(result)
}

/// As [`verify_assertion`], on the blocking pool (`cpu::off_workers`): the charge's confirmation
/// verifies so before it takes the writer, and [`accept_assertion`] inside its transaction.
pub async fn verify_assertion_off_workers(
    app: &AppState,
    state: PasskeyAuthentication,
    credential: PublicKeyCredential,
) -> Result<AuthenticationResult> {
    let app = app.clone();
    crate::cpu::off_workers(move || verify_assertion(&app, &state, &credential)).await?
}

/// Records a verified assertion inside `tx`: the credential must belong to `device` (and the
/// device be active) and its counter must move forward (a cloned authenticator, or a replay of an
/// older assertion, fails).
pub async fn record_assertion(tx: &mut Tx, device: ActingDevice<'_>, result: &AuthenticationResult) -> Result<()> {
    let update = counter_update(tx.conn(), device, result).await?;
    if !apply_counter(tx, &update).await? {
        // Another assertion with this credential committed in between.
        return Err(AppError::passkey_rejected());
    }
    Ok(())
}

/// The write that records an assertion: the credential's new counter, conditional on the counter
/// read with it, and its JSON only when webauthn-rs's backup flags changed. Read before the
/// transaction that applies it, it still fails there if another assertion with the credential
/// committed in between.
#[derive(Debug)]
pub struct CounterUpdate {
    cred_id: String,
    /// The credential's JSON, when it changed beyond its counter.
    passkey: Option<String>,
    counter: i64,
    stored: i64,
}

/// Reads the credential of a verified assertion and checks it: it must act for `device` (see
/// [`inkan_core::device_binding::passkey_acts_for`]) and its counter must move forward. On the
/// pool (`app.db.reads()`) before a transaction, or inside one; a device removed in between is
/// caught again by the removal's deletion of its passkeys, which makes [`apply_counter`] fail.
pub async fn counter_update(
    conn: impl sqlx::Executor<'_, Database = sqlx::Any>,
    device: ActingDevice<'_>,
    result: &AuthenticationResult,
) -> Result<CounterUpdate> {
    let cred_id = base64_id(result.cred_id().as_ref());
    let found = store::passkeys::by_id(conn, &cred_id).await?.ok_or_else(AppError::passkey_rejected)?;
    let owner =
        PasskeyOwner { account_id: &found.account_id, device_id: &found.device_id, device_active: found.active == 1 };
    if let Err(refusal) = passkey_acts_for(owner, device.account_id, device.device_id) {
        tracing::info!(account_id = %device.account_id, %refusal, "passkey refused for this device");
        return Err(AppError::passkey_rejected());
    }
    let account_id = device.account_id;
    let stored = found.stored.counter;
    let counter = i64::from(result.counter());
    // Authenticators that do not count report 0 every time; any that count must move forward.
    if (counter != 0 || stored != 0) && counter <= stored {
        tracing::warn!(%account_id, "passkey counter did not advance: possible cloned authenticator");
        return Err(AppError::passkey_rejected());
    }
    let before = decode(&found.stored)?;
    let mut after = before.clone();
    after.update_credential(result);
    let (before, after) = (Credential::from(before), Credential::from(after));
    let flags_changed = (before.backup_state, before.backup_eligible) != (after.backup_state, after.backup_eligible);
    let passkey = if flags_changed { Some(serde_json::to_string(&Passkey::from(after))?) } else { None };
    Ok(CounterUpdate { cred_id, passkey, counter, stored })
}

/// Applies a [`CounterUpdate`] inside `tx`. `false` (nothing written) if the counter moved since it
/// was read: another assertion with the credential committed in between.
pub async fn apply_counter(tx: &mut Tx, update: &CounterUpdate) -> Result<bool> {
    let (from, to) = (update.stored, update.counter);
    store::passkeys::move_counter(tx, &update.cred_id, (from, to), update.passkey.as_deref()).await
}

/// Verifies a new passkey against its registration ceremony and stores it for `device` (added in
/// the same `tx`: a device and its passkey are created together).
pub async fn register(
    app: &AppState,
    tx: &mut Tx,
    device: ActingDevice<'_>,
    credential: &RegisterPublicKeyCredential,
    state: &PasskeyRegistration,
) -> Result<()> {
    let (verifier, credential, state) = (app.clone(), credential.clone(), state.clone());
    let finished =
        crate::cpu::off_workers(move || verifier.webauthn.finish_passkey_registration(&credential, &state)).await?;
    let passkey = finished.map_err(|e| {
        tracing::info!(error = %e, "passkey registration refused");
        AppError::passkey_rejected()
    })?;
    // The counter the authenticator registered with, so that its first assertion must pass it.
    let counter = i64::from(Credential::from(passkey.clone()).counter);
    let new = store::passkeys::NewPasskey {
        cred_id: &base64_id(passkey.cred_id().as_ref()),
        account_id: device.account_id,
        device_id: device.device_id,
        stored: store::passkeys::Stored { passkey: serde_json::to_string(&passkey)?, counter },
        now: app.clock.now(),
    };
    store::passkeys::insert(tx, &new).await?;
    let notice = Notice::PasskeyAdded { device_id: device.device_id.to_owned() };
    crate::feed::append(tx, &app.issuer, device.account_id, &notice, app.clock.now()).await?;
    Ok(())
}

/// The stored id of a credential: its raw id in base64url.
pub fn base64_id(raw: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}
