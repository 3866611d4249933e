//! Passkeys behind one trait: whatever makes WebAuthn credentials and assertions for this device.
//!
//! [`InsecureSoftPasskey`] is a software passkey whose state lives in the OS keystore. It is for
//! demos and tests only (it claims user verification without asking anyone), and is reachable
//! from the CLI only through the loudly named `--insecure-soft-passkey` switch. A FIDO2 security
//! key over USB (`security_key`, feature `usb`), and the platform authenticators of the app,
//! implement the same trait; so does [`crate::platform_passkey::PlatformPasskey`], a phone's key in
//! secure hardware unlocked by a biometric.

use inkan_api::wallet::StepUpAction;
use inkan_core::Money;
use inkan_keystore::Keystore;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

use crate::error::{ClientError, Result};
use crate::key_signer::Prompt;

/// Makes passkeys and signs WebAuthn challenges for `origin`.
pub trait Authenticator: Send {
    /// Makes this device's passkey ([`Approval::Setup`]).
    fn register(&mut self, origin: &Url, options: CreationChallengeResponse) -> Result<RegisterPublicKeyCredential>;
    /// Answers a passkey request; `approval` is what the person approves by answering, for
    /// authenticators that can show it.
    fn authenticate(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        approval: &Approval,
    ) -> Result<PublicKeyCredential>;
    /// What to tell the person ("software passkey (insecure, for tests)").
    fn describe(&self) -> &'static str;
}

/// What one use of the passkey approves. A phone's biometric prompt shows it
/// ([`Approval::prompt`]); the software passkey and a security key cannot show anything.
///
/// The words are only what the person is told: the binding to the charge, its amount and payee is
/// the server's challenge, which the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Making this device's passkey (a new wallet, or this device joining one).
    Setup,
    SignIn,
    Pay {
        amount: Money,
        merchant: String,
    },
    StepUp(StepUpAction),
}

impl Approval {
    /// The words on the prompt.
    pub fn prompt(&self) -> Prompt {
        let (title, subtitle) = match self {
            Approval::Setup => {
                ("Set up Inkan on this phone".to_owned(), "Confirm it's you to make your passkey".to_owned())
            }
            Approval::SignIn => ("Sign in to Inkan".to_owned(), "Confirm it's you".to_owned()),
            Approval::Pay { amount, merchant } => (format!("Pay {amount}"), format!("to {merchant}")),
            Approval::StepUp(StepUpAction::RaiseLimits) => (
                "Raise your spending limits".to_owned(),
                "The new limits apply after the cooling-off period".to_owned(),
            ),
            Approval::StepUp(StepUpAction::Unfreeze) => {
                ("Unfreeze your wallet".to_owned(), "Payments work again".to_owned())
            }
            Approval::StepUp(StepUpAction::AddDevice) => {
                ("Add a device to your wallet".to_owned(), "It will be able to pay from this wallet".to_owned())
            }
            Approval::StepUp(StepUpAction::ReplaceRecoveryCodes) => {
                ("Replace your recovery codes".to_owned(), "Your old recovery codes stop working".to_owned())
            }
            Approval::StepUp(StepUpAction::RemoveDevice) => (
                "Remove a device from your wallet".to_owned(),
                "It is signed out at once and can no longer pay".to_owned(),
            ),
            Approval::StepUp(StepUpAction::CloseWallet) => {
                ("Close your wallet for good".to_owned(), "Your balance is paid back to your card".to_owned())
            }
        };
        Prompt { title, subtitle }
    }
}

/// Name of the keystore entry that holds the software passkey.
const SOFT_PASSKEY_ENTRY: &str = "insecure-soft-passkey";

/// A software passkey that claims user verification. Its state (private keys and signature
/// counter) lives in the OS keystore and is saved again after every use: a stale copy would be
/// caught by the server's counter check.
pub struct InsecureSoftPasskey {
    token: SoftToken,
    keystore: Keystore,
}

impl std::fmt::Debug for InsecureSoftPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InsecureSoftPasskey(***)")
    }
}

fn authenticator_error(e: impl std::fmt::Debug) -> ClientError {
    ClientError::Authenticator(format!("{e:?}"))
}

impl InsecureSoftPasskey {
    /// A new software passkey, saved in `keystore`.
    pub fn create(keystore: Keystore) -> Result<InsecureSoftPasskey> {
        let (token, _attestation_ca) = SoftToken::new(true).map_err(authenticator_error)?;
        let passkey = InsecureSoftPasskey { token, keystore };
        passkey.save()?;
        Ok(passkey)
    }

    /// The software passkey saved in `keystore`.
    pub fn load(keystore: Keystore) -> Result<InsecureSoftPasskey> {
        let saved = keystore
            .get(SOFT_PASSKEY_ENTRY)?
            .ok_or_else(|| ClientError::Authenticator("no software passkey is stored for this profile".into()))?;
        let token = SoftToken::from_cbor(&saved).map_err(authenticator_error)?;
        Ok(InsecureSoftPasskey { token, keystore })
    }

    fn save(&self) -> Result<()> {
        let bytes = zeroize::Zeroizing::new(self.token.to_cbor().map_err(authenticator_error)?);
        self.keystore.put(SOFT_PASSKEY_ENTRY, &bytes)?;
        Ok(())
    }

    /// Removes the stored passkey (when the profile is deleted).
    pub fn forget(keystore: &Keystore) -> Result<()> {
        keystore.delete(SOFT_PASSKEY_ENTRY)?;
        Ok(())
    }
}

impl Authenticator for InsecureSoftPasskey {
    fn register(&mut self, origin: &Url, options: CreationChallengeResponse) -> Result<RegisterPublicKeyCredential> {
        let credential = self.token.do_registration(origin.clone(), options).map_err(authenticator_error)?;
        self.save()?;
        Ok(credential)
    }

    fn authenticate(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        _approval: &Approval,
    ) -> Result<PublicKeyCredential> {
        let credential = self.token.do_authentication(origin.clone(), options).map_err(authenticator_error)?;
        self.save()?;
        Ok(credential)
    }

    fn describe(&self) -> &'static str {
        "software passkey (INSECURE: for demos and tests)"
    }
}
