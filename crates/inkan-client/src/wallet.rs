//! The operations a person performs on a wallet from this device. The CLI and the app call these
//! and only render the results.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use inkan_api::ErrorCode;
use inkan_api::devices::{FinishJoin, Join, JoinState, SubmitDevice};
use inkan_api::feed::{History, IssuerKeyInfo};
use inkan_api::wallet::{
    AddCard, Card, ConfirmCharge, Device, FinishRegistration, Limits, PendingCharge, Session, SetLimits, StepUpAction,
    TopUp, TopUpResult, Wallet as WalletState, WalletCharge,
};
use inkan_core::history::KnownHead;
use inkan_core::payment_code::JoinStep;
use inkan_core::{LimitPolicy, Money, ShownCode};
use inkan_keystore::Keystore;
use url::Url;

use crate::api::Api;
use crate::authenticator::{Approval, Authenticator, InsecureSoftPasskey};
use crate::device::DeviceKey;
use crate::error::{ClientError, Result};
use crate::feed::{self, Cursor, FeedSubscription};
use crate::history::Heads;
use crate::key_signer::SharedKeySigner;
use crate::platform_passkey::PlatformPasskey;
use crate::profile::{PasskeyKind, Profile, ProfileStore};

const SESSION_ENTRY: &str = "session";

/// A new session from the server (enrolment, join or sign-in): its token kept in the keystore and
/// used from now on, and the payment code v2 keys it brings kept beside the device key.
fn adopt_session(keystore: &Keystore, api: &Api, device: &mut DeviceKey, session: &Session) -> Result<()> {
    device.keep_code_keys(keystore, &session.payment_code)?;
    keystore.put(SESSION_ENTRY, session.token.as_bytes())?;
    api.set_token(Some(session.token.clone()));
    Ok(())
}
/// The keystore entry with the last verified point of the history, `SEQ:HEX-HASH`.
const HISTORY_HEAD_ENTRY: &str = "history-head";

/// Which passkey this device uses.
#[derive(Debug, Clone)]
pub enum PasskeyChoice {
    /// The software passkey: for demos and tests only, never for real money.
    InsecureSoftPasskey,
    /// A FIDO2 security key over USB. Only in builds with the `usb` feature; without it, choosing
    /// it is an error that says so.
    SecurityKey,
    /// The phone's own passkey: a key in its secure hardware, unlocked by a biometric for each use
    /// ([`PlatformPasskey`]). The mobile app's default.
    Platform(SharedKeySigner),
}

impl PasskeyChoice {
    /// Which kind of passkey this is, as a profile records it.
    pub fn kind(&self) -> PasskeyKind {
        match self {
            PasskeyChoice::InsecureSoftPasskey => PasskeyKind::InsecureSoftPasskey,
            PasskeyChoice::SecurityKey => PasskeyKind::SecurityKey,
            PasskeyChoice::Platform(_) => PasskeyKind::Platform,
        }
    }

    /// The phone's key signer, when this is the platform passkey.
    pub fn platform_signer(&self) -> Option<SharedKeySigner> {
        match self {
            PasskeyChoice::Platform(signer) => Some(signer.clone()),
            PasskeyChoice::InsecureSoftPasskey | PasskeyChoice::SecurityKey => None,
        }
    }
}

/// A new wallet, with the recovery codes to show once.
#[derive(Debug)]
pub struct Enrollment {
    pub wallet: Wallet,
    pub recovery_codes: Vec<String>,
}

/// Where the wallet lives: a server, and the origin its passkeys are bound to.
#[derive(Debug, Clone)]
pub struct Server {
    pub url: Url,
    pub origin: Url,
}

pub struct Wallet {
    store: ProfileStore,
    profile: Profile,
    keystore: Keystore,
    api: Arc<Api>,
    authenticator: Box<dyn Authenticator>,
    /// Which passkey `authenticator` is, to remove the right secrets in [`Wallet::forget`].
    passkey: PasskeyChoice,
    device: DeviceKey,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet").field("profile", &self.profile).finish_non_exhaustive()
    }
}

/// The passkey of `choice`. A new one (`create`) must be usable now; an existing security key is
/// looked for only when a passkey is needed, so that the wallet opens with the key unplugged.
fn make_authenticator(choice: &PasskeyChoice, keystore: &Keystore, create: bool) -> Result<Box<dyn Authenticator>> {
    match choice {
        PasskeyChoice::Platform(signer) => {
            let (store, signer) = (keystore.clone(), signer.clone());
            Ok(Box::new(if create {
                PlatformPasskey::create(store, signer)?
            } else {
                PlatformPasskey::load(store, signer)?
            }))
        }
        PasskeyChoice::InsecureSoftPasskey => {
            let store = keystore.clone();
            Ok(Box::new(if create { InsecureSoftPasskey::create(store)? } else { InsecureSoftPasskey::load(store)? }))
        }
        #[cfg(feature = "usb")]
        PasskeyChoice::SecurityKey if create => Ok(Box::new(crate::security_key::SecurityKey::find()?)),
        #[cfg(feature = "usb")]
        PasskeyChoice::SecurityKey => Ok(Box::<crate::security_key::SecurityKeyWhenNeeded>::default()),
        #[cfg(not(feature = "usb"))]
        PasskeyChoice::SecurityKey => Err(ClientError::Authenticator(
            "this build has no support for security keys over USB: build inkan with `--features usb`".into(),
        )),
    }
}

/// Removes what a passkey of `choice` keeps on this device: the software passkey's state, or the
/// phone's key and its record. (A security key keeps its credential on the key.)
fn forget_passkey(keystore: &Keystore, choice: &PasskeyChoice) -> Result<()> {
    InsecureSoftPasskey::forget(keystore)?;
    if let PasskeyChoice::Platform(signer) = choice {
        PlatformPasskey::forget(keystore, signer)?;
    }
    Ok(())
}

/// The issuer key a server publishes, to pin: the first well-formed one.
async fn issuer_key_of(api: &Api) -> Result<IssuerKeyInfo> {
    api.issuer_keys()
        .await?
        .keys
        .into_iter()
        .find(|k| k.key().is_some())
        .ok_or_else(|| ClientError::Protocol("the server publishes no issuer key to check histories with".into()))
}

impl Wallet {
    /// Creates an account on `server` with a new passkey and this device's new key.
    pub async fn enroll(
        store: ProfileStore,
        server: Server,
        display_name: &str,
        device_name: &str,
        passkey: PasskeyChoice,
    ) -> Result<Enrollment> {
        if store.exists() {
            return Err(ClientError::Invalid(format!(
                "profile {:?} already holds a wallet; pick another --profile",
                store.name()
            )));
        }
        let keystore = Keystore::open(&store.keystore_service())?;
        let api = Arc::new(Api::new(server.url.clone())?);
        // Ask the server first: if it cannot be reached, no secret has been made for nothing.
        let issuer_key = issuer_key_of(&api).await?;
        let challenge = api.begin_registration(display_name).await?;
        let mut authenticator = make_authenticator(&passkey, &keystore, true)?;
        let mut device = DeviceKey::create(&keystore)?;
        match Wallet::finish_enroll(
            store,
            server,
            display_name,
            device_name,
            &passkey,
            &keystore,
            &api,
            challenge,
            authenticator.as_mut(),
            &mut device,
            issuer_key,
        )
        .await
        {
            Ok((store, profile, recovery_codes)) => {
                let wallet = Wallet { store, profile, keystore, api, authenticator, passkey, device };
                Ok(Enrollment { wallet, recovery_codes })
            }
            Err(e) => {
                // Leave nothing behind: the keystore holds no half-made wallet.
                let _ = DeviceKey::forget(&keystore, device.key_id());
                let _ = forget_passkey(&keystore, &passkey);
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one step of enroll, split out so enroll can undo it")]
    async fn finish_enroll(
        store: ProfileStore,
        server: Server,
        display_name: &str,
        device_name: &str,
        passkey: &PasskeyChoice,
        keystore: &Keystore,
        api: &Api,
        challenge: inkan_api::wallet::RegistrationChallenge,
        authenticator: &mut dyn Authenticator,
        device: &mut DeviceKey,
        issuer_key: IssuerKeyInfo,
    ) -> Result<(ProfileStore, Profile, Vec<String>)> {
        let credential = authenticator.register(&server.origin, challenge.public_key)?;
        let registration = FinishRegistration {
            ceremony_id: challenge.ceremony_id.clone(),
            credential,
            device: device.registration(&challenge.ceremony_id, device_name)?,
        };
        let enrolled = api.finish_registration(&registration).await?;
        adopt_session(keystore, api, device, &enrolled.session)?;
        let profile = Profile {
            server: server.url,
            origin: server.origin,
            account_id: enrolled.account_id,
            device_id: enrolled.device_id,
            key_id: device.key_id(),
            display_name: display_name.to_owned(),
            counter: 0,
            passkey: passkey.kind(),
            issuer_key: Some(issuer_key),
        };
        store.save(&profile)?;
        Ok((store, profile, enrolled.recovery_codes))
    }

    /// Opens the wallet of a profile on this device.
    pub fn open(store: ProfileStore) -> Result<Wallet> {
        Wallet::open_with(store, None)
    }

    /// Opens the wallet of a profile on this device; `platform` is this phone's key signer, which
    /// a profile whose passkey is the phone's own needs.
    pub fn open_with(store: ProfileStore, platform: Option<SharedKeySigner>) -> Result<Wallet> {
        let profile = store.load()?;
        let keystore = Keystore::open(&store.keystore_service())?;
        let choice = match profile.passkey {
            PasskeyKind::InsecureSoftPasskey => PasskeyChoice::InsecureSoftPasskey,
            PasskeyKind::SecurityKey => PasskeyChoice::SecurityKey,
            PasskeyKind::Platform => PasskeyChoice::Platform(platform.ok_or_else(|| {
                ClientError::Authenticator(
                    "this wallet's passkey is a phone's biometric key: open it in the Inkan app on that phone".into(),
                )
            })?),
        };
        let authenticator = make_authenticator(&choice, &keystore, false)?;
        let device = DeviceKey::load(&keystore, profile.key_id)?;
        let api = Arc::new(Api::new(profile.server.clone())?);
        if let Some(token) = keystore.get(SESSION_ENTRY)? {
            api.set_token(String::from_utf8(token.to_vec()).ok());
        }
        Ok(Wallet { store, profile, keystore, api, authenticator, passkey: choice, device })
    }

    /// A new device joins an existing wallet: with `recovery_code` at once, otherwise after a
    /// signed-in device approves with its passkey (`waiting` is told each time it checks).
    pub async fn join(
        store: ProfileStore,
        server: Server,
        account_id: &str,
        device_name: &str,
        recovery_code: Option<String>,
        passkey: PasskeyChoice,
        mut waiting: impl FnMut(&Join),
    ) -> Result<Wallet> {
        if store.exists() {
            return Err(ClientError::Invalid(format!("profile {:?} already holds a wallet", store.name())));
        }
        let keystore = Keystore::open(&store.keystore_service())?;
        // A security key must be there before another device approves; a software passkey or the
        // phone's key is made only once the join is approved.
        let security_key = match passkey {
            PasskeyChoice::SecurityKey => Some(make_authenticator(&passkey, &keystore, true)?),
            PasskeyChoice::InsecureSoftPasskey | PasskeyChoice::Platform(_) => None,
        };
        let mut device = DeviceKey::create(&keystore)?;
        let key_id = device.key_id();
        let store_keys = keystore.clone();
        let chosen = passkey.clone();
        let outcome: Result<Wallet> = async move {
            let api = Arc::new(Api::new(server.url.clone())?);
            let issuer_key = issuer_key_of(&api).await?;
            let join = api.begin_join(account_id).await?;
            let submit = SubmitDevice { device: device.registration(&join.join_id, device_name)?, recovery_code };
            let mut join = api.submit_join_device(&join.join_id, &submit).await?;
            let join_id = join.join_id.clone();
            while join.state == JoinState::AwaitingApproval {
                waiting(&join);
                tokio::time::sleep(StdDuration::from_secs(1)).await;
                join = api.join(&join_id, &device.sign_join_step(&join_id, JoinStep::Status)?).await?;
            }
            if join.state != JoinState::Approved {
                return Err(ClientError::Invalid(format!("the request to join ended: {:?}", join.state)));
            }
            let mut authenticator = match security_key {
                Some(key) => key,
                None => make_authenticator(&passkey, &keystore, true)?,
            };
            let signature = device.sign_join_step(&join_id, JoinStep::PasskeyChallenge)?;
            let challenge = api.join_passkey_challenge(&join_id, &signature).await?;
            let credential = authenticator.register(&server.origin, challenge.public_key)?;
            let signature =
                device.sign_join_step(&join_id, JoinStep::Passkey { ceremony_id: &challenge.ceremony_id })?;
            let finish = FinishJoin { ceremony_id: challenge.ceremony_id, credential };
            let joined = api.finish_join(&join_id, &finish, &signature).await?;
            adopt_session(&keystore, &api, &mut device, &joined.session)?;
            let display_name = api.wallet().await?.display_name;
            let profile = Profile {
                server: server.url,
                origin: server.origin,
                account_id: joined.account_id,
                device_id: joined.device_id,
                key_id: device.key_id(),
                display_name,
                counter: 0,
                passkey: passkey.kind(),
                issuer_key: Some(issuer_key),
            };
            store.save(&profile)?;
            Ok(Wallet { store, profile, keystore, api, authenticator, passkey, device })
        }
        .await;
        if outcome.is_err() {
            // A join that did not finish leaves no secret behind in the keystore.
            let _ = DeviceKey::forget(&store_keys, key_id);
            let _ = forget_passkey(&store_keys, &chosen);
            let _ = store_keys.delete(SESSION_ENTRY);
        }
        outcome
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn api(&self) -> Arc<Api> {
        self.api.clone()
    }

    pub fn authenticator_description(&self) -> &'static str {
        self.authenticator.describe()
    }

    /// Signs in with the passkey and the device key together: a new session for this device.
    pub async fn sign_in(&mut self) -> Result<()> {
        let challenge = self.api.begin_sign_in(&self.profile.account_id, &self.profile.device_id).await?;
        let device_signature = self.device.sign_in(&challenge.ceremony_id)?;
        let credential =
            self.authenticator.authenticate(&self.profile.origin, challenge.public_key, &Approval::SignIn)?;
        let body = inkan_api::wallet::SignIn { ceremony_id: challenge.ceremony_id, credential, device_signature };
        let session = self.api.finish_sign_in(&body).await?;
        adopt_session(&self.keystore, &self.api, &mut self.device, &session)
    }

    /// Runs `op`, signing in first if there is no session or the session has ended.
    async fn signed_in<T, F, Fut>(&mut self, op: F) -> Result<T>
    where
        F: Fn(Arc<Api>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if self.api.token().is_none() {
            self.sign_in().await?;
        }
        match op(self.api.clone()).await {
            Err(e) if e.code() == Some(ErrorCode::Unauthorized) => {
                self.sign_in().await?;
                op(self.api.clone()).await
            }
            other => other,
        }
    }

    /// A passkey confirmation for `action`.
    async fn step_up(&mut self, action: StepUpAction) -> Result<inkan_api::wallet::Assertion> {
        let challenge = self.signed_in(|api| async move { api.begin_step_up(action).await }).await?;
        let credential =
            self.authenticator.authenticate(&self.profile.origin, challenge.public_key, &Approval::StepUp(action))?;
        Ok(inkan_api::wallet::Assertion { ceremony_id: challenge.ceremony_id, credential })
    }

    /// Measures the server's clock (codes are issued on it). Cheap; fine to call before codes.
    pub async fn sync_clock(&self) -> Result<()> {
        let url = self.api.url("/healthz")?;
        let response = self
            .api
            .http()
            .get(url)
            .timeout(crate::api::REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.profile.server.to_string(), source })?;
        self.api.observe(&response);
        Ok(())
    }

    /// A fresh payment code (version 2 once the device has its v2 keys). Needs no network: it uses
    /// the server clock last measured.
    pub fn payment_code(&mut self) -> Result<ShownCode> {
        let counter = self
            .profile
            .counter
            .checked_add(1)
            .ok_or_else(|| ClientError::Invalid("this device has used all its payment codes".into()))?;
        let code = self.device.code(counter, self.api.server_now())?;
        // Saved before the code is shown: a counter is never used twice.
        self.profile.counter = counter;
        self.store.save(&self.profile)?;
        Ok(code)
    }

    pub async fn status(&mut self) -> Result<WalletState> {
        self.signed_in(|api| async move { api.wallet().await }).await
    }

    pub async fn pending(&mut self) -> Result<Vec<PendingCharge>> {
        self.signed_in(|api| async move { api.pending().await }).await
    }

    /// The charge waiting with this id, to show before asking the passkey.
    pub async fn pending_charge(&mut self, charge_id: &str) -> Result<PendingCharge> {
        self.pending()
            .await?
            .into_iter()
            .find(|p| p.charge.id == charge_id)
            .ok_or_else(|| ClientError::Invalid(format!("no charge {charge_id} is waiting for this wallet")))
    }

    /// Pays `pending` with the passkey: the assertion is bound to exactly this charge. A phone's
    /// biometric prompt names the amount and the shop.
    pub async fn approve(&mut self, pending: &PendingCharge) -> Result<WalletCharge> {
        let approval = Approval::Pay { amount: pending.charge.amount, merchant: pending.charge.merchant_name.clone() };
        let credential =
            self.authenticator.authenticate(&self.profile.origin, pending.public_key.clone(), &approval)?;
        // The server checks the session before the assertion: an ended session is answered
        // before the assertion is looked at, so the same assertion still pays after signing in.
        let body = ConfirmCharge { credential };
        let id = pending.charge.id.clone();
        self.signed_in(|api| {
            let (id, body) = (id.clone(), body.clone());
            async move { api.confirm(&id, &body).await }
        })
        .await
    }

    pub async fn decline(&mut self, charge_id: &str, not_me: bool) -> Result<WalletCharge> {
        let id = charge_id.to_owned();
        self.signed_in(|api| {
            let id = id.clone();
            async move { api.decline(&id, not_me).await }
        })
        .await
    }

    pub async fn cards(&mut self) -> Result<Vec<Card>> {
        self.signed_in(|api| async move { api.cards().await }).await
    }

    pub async fn add_card(&mut self, card: AddCard) -> Result<Card> {
        let card = Arc::new(card);
        self.signed_in(|api| {
            let card = card.clone();
            async move { api.add_card(&card).await }
        })
        .await
    }

    pub async fn verify_card(&mut self, card_id: &str, code: &str) -> Result<Card> {
        let (id, code) = (card_id.to_owned(), code.to_owned());
        self.signed_in(|api| {
            let (id, code) = (id.clone(), code.clone());
            async move { api.verify_card(&id, &code).await }
        })
        .await
    }

    /// Tops up from a verified card. Every try of this one top-up (after a lost answer, or a
    /// sign-in) carries the same idempotency key: the card is charged once. The result may be
    /// `pending` (the card provider has not answered yet): the feed says how it ends.
    pub async fn top_up(&mut self, card_id: &str, amount: Money) -> Result<TopUpResult> {
        let body = TopUp { card_id: card_id.to_owned(), amount };
        let mut key = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| ClientError::Invalid("no randomness for the top-up's key".to_owned()))?;
        let key = format!("topup-{}", hex::encode(key));
        self.signed_in(|api| {
            let (body, key) = (body.clone(), key.clone());
            async move { api.top_up(&key, &body).await }
        })
        .await
    }

    /// Sets the limits; a raise is confirmed with the passkey and applies after the cooling-off.
    pub async fn set_limits(&mut self, limits: LimitPolicy) -> Result<Limits> {
        let plain = SetLimits { limits, step_up: None };
        let attempt = self
            .signed_in(|api| {
                let body = plain.clone();
                async move { api.set_limits(&body).await }
            })
            .await;
        match attempt {
            Err(e) if e.code() == Some(ErrorCode::StepUpRequired) => {
                let step_up = self.step_up(StepUpAction::RaiseLimits).await?;
                self.api.set_limits(&SetLimits { limits, step_up: Some(step_up) }).await
            }
            other => other,
        }
    }

    pub async fn freeze(&mut self) -> Result<()> {
        self.signed_in(|api| async move { api.freeze().await }).await
    }

    /// Lifts the freeze with this device's passkey: only a device that has been in the wallet for
    /// 72 hours, and since before its latest join, may (`unfreeze_not_allowed` otherwise).
    pub async fn unfreeze(&mut self) -> Result<()> {
        let step_up = self.step_up(StepUpAction::Unfreeze).await?;
        self.api.unfreeze(&step_up).await
    }

    /// Lifts the freeze with a recovery code, which is used up.
    pub async fn unfreeze_with_recovery_code(&mut self, recovery_code: &str) -> Result<()> {
        let code = recovery_code.trim().to_owned();
        if self.api.token().is_none() {
            self.sign_in().await?;
        }
        // A wrong code is `401` too, like an ended session: it is sent again, after a sign-in,
        // only if the session had really ended. Otherwise one wrong code would count, and be
        // told to every device, twice.
        match self.api.unfreeze_with_recovery_code(&code).await {
            Err(e) if e.code() == Some(ErrorCode::Unauthorized) && self.api.wallet().await.is_err() => {
                self.sign_in().await?;
                self.api.unfreeze_with_recovery_code(&code).await
            }
            other => other,
        }
    }

    /// Closes the wallet for good, confirmed with the passkey: its balance is paid back to its most
    /// recently verified card (`payout`; `None` if it was empty). No payment can be made from it
    /// again, and nothing unfreezes it.
    pub async fn close(&mut self) -> Result<inkan_api::wallet::ClosedWallet> {
        let step_up = self.step_up(StepUpAction::CloseWallet).await?;
        self.api.close_wallet(step_up).await
    }

    /// Ten new recovery codes, confirmed with the passkey; every older one stops working. Shown
    /// once: nothing keeps them.
    pub async fn replace_recovery_codes(&mut self) -> Result<Vec<String>> {
        let step_up = self.step_up(StepUpAction::ReplaceRecoveryCodes).await?;
        Ok(self.api.replace_recovery_codes(step_up).await?.recovery_codes)
    }

    pub async fn devices(&mut self) -> Result<Vec<Device>> {
        self.signed_in(|api| async move { api.devices().await }).await
    }

    /// Removes a device of the wallet, confirmed with this device's passkey.
    pub async fn revoke_device(&mut self, device_id: &str) -> Result<()> {
        let step_up = self.step_up(StepUpAction::RemoveDevice).await?;
        self.api.revoke_device(device_id, step_up).await
    }

    pub async fn waiting_joins(&mut self) -> Result<Vec<Join>> {
        self.signed_in(|api| async move { api.waiting_joins().await }).await
    }

    /// Lets a waiting device into the wallet, confirmed with the passkey.
    pub async fn approve_join(&mut self, join_id: &str) -> Result<Join> {
        let step_up = self.step_up(StepUpAction::AddDevice).await?;
        self.api.approve_join(join_id, step_up).await
    }

    /// The whole history, checked link by link, with the issuer's signatures under the key this
    /// device pinned, and against the head this device verified last time (kept in the keystore):
    /// a history rewritten, forged or cut short on the server fails with
    /// [`ClientError::HistoryChanged`], however consistent it is in itself. On success, its end is
    /// the new known head.
    pub async fn history(&mut self) -> Result<History> {
        let history = self.signed_in(|api| async move { api.history().await }).await?;
        if history.account_id != self.profile.account_id {
            return Err(ClientError::Protocol("the server sent the history of another wallet".into()));
        }
        let heads = self.heads().await?;
        let head = heads.verify(&history.events).map_err(|f| crate::history::changed(&f.error))?;
        let hash_at = |seq: u64| {
            let event = history.events.get(usize::try_from(seq.checked_sub(1)?).ok()?)?;
            crate::history::hash_of(event)
        };
        inkan_core::history::extends(self.known_head()?, head.seq, hash_at)?;
        self.remember_head(Cursor { seq: head.seq, hash: head.hash })?;
        Ok(history)
    }

    /// The verified history as the text of an export file (`history::export_text`), and how many
    /// notices it holds.
    pub async fn export_history(&mut self) -> Result<(u64, String)> {
        let history = self.history().await?;
        let key_id = self.heads().await?.key().id();
        let text = crate::history::export_text(&history, &key_id, time::OffsetDateTime::now_utc())?;
        Ok((u64::try_from(history.events.len()).unwrap_or(u64::MAX), text))
    }

    /// The checks of this wallet's history, with the issuer key pinned when this device enrolled
    /// or joined. A profile from before histories were signed pins the server's key now, once.
    pub async fn heads(&mut self) -> Result<Heads> {
        if self.profile.issuer_key.is_none() {
            let key = issuer_key_of(&self.api).await?;
            tracing::warn!(key_id = %key.key_id, "this profile had no issuer key yet: pinned the server's");
            self.profile.issuer_key = Some(key);
            self.store.save(&self.profile)?;
        }
        let key = self
            .profile
            .issuer_key
            .as_ref()
            .and_then(IssuerKeyInfo::key)
            .ok_or_else(|| ClientError::Protocol("the issuer key pinned in this profile is unreadable".into()))?;
        Ok(Heads::new(&self.profile.account_id, key))
    }

    /// The last point of the history this device verified ([`KnownHead::GENESIS`] before any).
    pub fn known_head(&self) -> Result<KnownHead> {
        let Some(stored) = self.keystore.get(HISTORY_HEAD_ENTRY)? else { return Ok(KnownHead::GENESIS) };
        feed::parse_head(&String::from_utf8_lossy(&stored))
            .ok_or_else(|| ClientError::Protocol("the verified history head kept in the keystore is unreadable".into()))
    }

    /// Keeps `cursor` as the verified head, if it is further than the one kept (a feed that
    /// follows the history calls this as it goes).
    pub fn remember_head(&self, cursor: Cursor) -> Result<()> {
        if cursor.seq > self.known_head()?.seq {
            self.keystore.put(HISTORY_HEAD_ENTRY, feed::format_head(cursor).as_bytes())?;
        }
        Ok(())
    }

    /// The live feed after `cursor`, a point of the history this device verified ([`Wallet::history`]).
    /// Signs in first if needed.
    pub async fn subscribe(&mut self, cursor: Cursor) -> Result<FeedSubscription> {
        self.status().await?;
        let heads = self.heads().await?;
        Ok(feed::subscribe(self.api.clone(), cursor, heads))
    }

    pub async fn sign_out(&mut self) -> Result<()> {
        let result = self.api.sign_out().await;
        self.keystore.delete(SESSION_ENTRY)?;
        self.api.set_token(None);
        result
    }

    /// Removes this profile from the device: its file and every secret in the keystore.
    pub fn forget(self) -> Result<()> {
        DeviceKey::forget(&self.keystore, self.profile.key_id)?;
        forget_passkey(&self.keystore, &self.passkey)?;
        self.keystore.delete(SESSION_ENTRY)?;
        self.keystore.delete(HISTORY_HEAD_ENTRY)?;
        self.store.remove()
    }
}
