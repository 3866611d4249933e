//! A P-256 key in the phone's secure hardware that signs only after a biometric: the
//! [`KeySigner`] trait that [`crate::platform_passkey::PlatformPasskey`] builds passkeys on.
//!
//! The biometric does not say "yes" to the app; it unlocks the key. On Android the key lives in
//! the Android Keystore (StrongBox where there is one), made with user authentication required for
//! every use by a strong biometric, and is opened for one signature through `BiometricPrompt` with
//! a `CryptoObject`. On iOS it lives in the Secure Enclave with the access control
//! `[.privateKeyUsage, .biometryCurrentSet]`. Both are invalidated when a fingerprint or face is
//! added. Those implementations are in the app's Tauri plugin (`src-tauri/plugins/inkan-passkey`);
//! [`InsecureSoftwareKeySigner`] is the stand-in that lets tests run the whole path on Linux.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};

/// The name a key is kept under in the platform's key store (an Android Keystore alias, an iOS
/// key's application tag): `inkan-passkey-` and 32 hex digits, random per passkey, so two wallet
/// profiles on one phone never share a key.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyAlias(String);

const ALIAS_PREFIX: &str = "inkan-passkey-";

impl KeyAlias {
    /// A new random alias.
    pub fn generate(rng: &dyn SecureRandom) -> Result<KeyAlias, KeySignerError> {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes)
            .map_err(|_| KeySignerError::Platform { detail: "no randomness for a key alias".into() })?;
        Ok(KeyAlias(format!("{ALIAS_PREFIX}{}", hex::encode(bytes))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyAlias {
    type Error = String;

    fn try_from(text: String) -> Result<KeyAlias, String> {
        let digits = text.strip_prefix(ALIAS_PREFIX).ok_or_else(|| format!("{text:?} is not an Inkan key alias"))?;
        if digits.len() != 32 || !digits.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(format!("{text:?} is not an Inkan key alias"));
        }
        Ok(KeyAlias(text))
    }
}

impl From<KeyAlias> for String {
    fn from(alias: KeyAlias) -> String {
        alias.0
    }
}

impl fmt::Debug for KeyAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyAlias({})", self.0)
    }
}

impl fmt::Display for KeyAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The words on the biometric prompt: what the person approves by touching the sensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prompt {
    /// `Pay ¥1,280`
    pub title: String,
    /// `to FamilyMart Shibuya`
    pub subtitle: String,
}

/// A P-256 public key as SEC1 uncompressed bytes: `04 || X || Y`, 65 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKeySec1(Vec<u8>);

impl PublicKeySec1 {
    /// Checks the shape (65 bytes starting with `04`); whether the point is on the curve is left
    /// to whoever verifies with it.
    pub fn new(bytes: Vec<u8>) -> Result<PublicKeySec1, KeySignerError> {
        if bytes.len() != 65 || bytes.first() != Some(&0x04) {
            return Err(KeySignerError::Platform {
                detail: format!(
                    "the key store returned a public key of {} bytes, not an uncompressed P-256 point",
                    bytes.len()
                ),
            });
        }
        Ok(PublicKeySec1(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The 32-byte X coordinate.
    pub fn x(&self) -> &[u8] {
        self.0.get(1..33).unwrap_or_default()
    }

    /// The 32-byte Y coordinate.
    pub fn y(&self) -> &[u8] {
        self.0.get(33..65).unwrap_or_default()
    }
}

impl fmt::Debug for PublicKeySec1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKeySec1({}…)", hex::encode(self.0.get(..9).unwrap_or_default()))
    }
}

/// Why the phone's key could not be made, used or removed. Each says what the person can do; the
/// app gives each its own error code (`inkan_app::DeviceErrorCode`), and the UI branches on that,
/// never on the words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySignerError {
    #[error("the fingerprint or face check was cancelled: nothing was signed")]
    Cancelled,
    #[error(
        "no fingerprint or face is set up on this phone: add one in the phone's settings, then try again \
         (Inkan's passkey is unlocked only by a biometric)"
    )]
    NotEnrolled,
    #[error(
        "this phone cannot use a strong biometric ({detail}): Inkan's passkey needs a fingerprint or face sensor \
         that unlocks keys in the phone's secure hardware"
    )]
    NotAvailable { detail: String },
    #[error(
        "a fingerprint or face was added or removed on this phone since this wallet's passkey was made, so the \
         phone has switched that passkey off: add this phone to your wallet again (approve it from another device, \
         or use a recovery code)"
    )]
    KeyInvalidated,
    #[error(
        "too many fingerprint or face attempts: unlock the phone with its PIN, pattern or passcode, then try again"
    )]
    Lockout,
    #[error(
        "this wallet's passkey is no longer on this phone (was the app reinstalled or its data cleared?): add \
         this phone to your wallet again"
    )]
    KeyMissing,
    #[error("the phone's key store failed: {detail}")]
    Platform { detail: String },
}

/// A P-256 key held by the platform, usable only after the person passes a biometric on the
/// platform's own prompt, every time.
///
/// The calls block until the person has answered the prompt; callers on an async runtime must
/// expect that (see `PlatformPasskey`, which moves them off the runtime's workers).
pub trait KeySigner: fmt::Debug + Send + Sync {
    /// Makes a new key under `alias` that signs only after a strong biometric, each time, and is
    /// invalidated when biometrics are added. Returns its public key. Shows no prompt.
    fn create_key(&self, alias: &KeyAlias) -> Result<PublicKeySec1, KeySignerError>;

    /// Shows `prompt`; once the person passes the biometric, signs `message` with the key under
    /// `alias`: ECDSA P-256 over SHA-256 of `message`, DER-encoded.
    fn sign(&self, alias: &KeyAlias, message: &[u8], prompt: &Prompt) -> Result<Vec<u8>, KeySignerError>;

    /// Removes the key under `alias`. Removing a key that is not there is not an error.
    fn delete_key(&self, alias: &KeyAlias) -> Result<(), KeySignerError>;

    /// What to tell the person ("this phone's biometric key").
    fn describe(&self) -> &'static str;
}

/// The signer a device offers, shared between the app's configuration and its wallet.
pub type SharedKeySigner = Arc<dyn KeySigner>;

impl<S: KeySigner + ?Sized> KeySigner for Arc<S> {
    fn create_key(&self, alias: &KeyAlias) -> Result<PublicKeySec1, KeySignerError> {
        (**self).create_key(alias)
    }

    fn sign(&self, alias: &KeyAlias, message: &[u8], prompt: &Prompt) -> Result<Vec<u8>, KeySignerError> {
        (**self).sign(alias, message, prompt)
    }

    fn delete_key(&self, alias: &KeyAlias) -> Result<(), KeySignerError> {
        (**self).delete_key(alias)
    }

    fn describe(&self) -> &'static str {
        (**self).describe()
    }
}

/// A [`KeySigner`] in software, for tests only: the keys live in this process's memory, no
/// biometric is asked for, and the prompt is only recorded (see
/// [`InsecureSoftwareKeySigner::prompts`]). It exists so that `PlatformPasskey` runs end to end
/// against the real server on a machine without a phone; it must never hold real money.
pub struct InsecureSoftwareKeySigner {
    keys: Mutex<HashMap<KeyAlias, EcdsaKeyPair>>,
    invalidated: Mutex<HashSet<KeyAlias>>,
    prompts: Mutex<Vec<Prompt>>,
    rng: SystemRandom,
}

impl fmt::Debug for InsecureSoftwareKeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InsecureSoftwareKeySigner(***)")
    }
}

impl InsecureSoftwareKeySigner {
    pub fn new() -> InsecureSoftwareKeySigner {
        InsecureSoftwareKeySigner {
            keys: Mutex::default(),
            invalidated: Mutex::default(),
            prompts: Mutex::default(),
            rng: SystemRandom::new(),
        }
    }

    /// Every prompt a signature was asked with, oldest first.
    pub fn prompts(&self) -> Vec<Prompt> {
        self.prompts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many keys it holds.
    pub fn key_count(&self) -> usize {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Forgets every key without deleting it properly: what a phone does to a biometric key when
    /// a fingerprint is added. The next use of any of them fails with
    /// [`KeySignerError::KeyInvalidated`].
    pub fn invalidate_all(&self) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let aliases: Vec<KeyAlias> = keys.keys().cloned().collect();
        keys.clear();
        self.invalidated.lock().unwrap_or_else(PoisonError::into_inner).extend(aliases);
    }
}

impl Default for InsecureSoftwareKeySigner {
    fn default() -> InsecureSoftwareKeySigner {
        InsecureSoftwareKeySigner::new()
    }
}

impl KeySigner for InsecureSoftwareKeySigner {
    fn create_key(&self, alias: &KeyAlias) -> Result<PublicKeySec1, KeySignerError> {
        let failed = |what: &str| KeySignerError::Platform { detail: format!("software key: {what}") };
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .map_err(|_| failed("could not generate"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &self.rng)
            .map_err(|_| failed("could not load"))?;
        let public = PublicKeySec1::new(pair.public_key().as_ref().to_vec())?;
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.contains_key(alias) {
            return Err(failed("a key with this alias exists already"));
        }
        keys.insert(alias.clone(), pair);
        Ok(public)
    }

    fn sign(&self, alias: &KeyAlias, message: &[u8], prompt: &Prompt) -> Result<Vec<u8>, KeySignerError> {
        if self.invalidated.lock().unwrap_or_else(PoisonError::into_inner).contains(alias) {
            return Err(KeySignerError::KeyInvalidated);
        }
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let pair = keys.get(alias).ok_or(KeySignerError::KeyMissing)?;
        self.prompts.lock().unwrap_or_else(PoisonError::into_inner).push(prompt.clone());
        let signature = pair
            .sign(&self.rng, message)
            .map_err(|_| KeySignerError::Platform { detail: "software key: could not sign".into() })?;
        Ok(signature.as_ref().to_vec())
    }

    fn delete_key(&self, alias: &KeyAlias) -> Result<(), KeySignerError> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).remove(alias);
        self.invalidated.lock().unwrap_or_else(PoisonError::into_inner).remove(alias);
        Ok(())
    }

    fn describe(&self) -> &'static str {
        "software key signer (INSECURE: for tests; no biometric)"
    }
}

#[cfg(test)]
mod tests {
    use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

    use super::*;

    fn prompt() -> Prompt {
        Prompt { title: "Pay ¥1,280".into(), subtitle: "to FamilyMart Shibuya".into() }
    }

    #[test]
    fn aliases_are_random_and_checked_when_read_back() {
        let rng = SystemRandom::new();
        let a = KeyAlias::generate(&rng).unwrap();
        let b = KeyAlias::generate(&rng).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), ALIAS_PREFIX.len() + 32);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<KeyAlias>(&json).unwrap(), a);
        for bad in [
            "\"inkan-passkey-\"",
            "\"other-00000000000000000000000000000000\"",
            "\"inkan-passkey-0000000000000000000000000000000G\"",
        ] {
            assert!(serde_json::from_str::<KeyAlias>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_software_signer_signs_ecdsa_p256_sha256_der_that_verifies() {
        let signer = InsecureSoftwareKeySigner::new();
        let alias = KeyAlias::generate(&SystemRandom::new()).unwrap();
        let public = signer.create_key(&alias).unwrap();
        let signature = signer.sign(&alias, b"message", &prompt()).unwrap();
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public.as_bytes());
        key.verify(b"message", &signature).unwrap();
        assert!(key.verify(b"other message", &signature).is_err());
        assert_eq!(signer.prompts(), vec![prompt()]);
    }

    #[test]
    fn the_software_signer_fails_as_a_phone_would() {
        let signer = InsecureSoftwareKeySigner::new();
        let alias = KeyAlias::generate(&SystemRandom::new()).unwrap();
        assert_eq!(signer.sign(&alias, b"m", &prompt()), Err(KeySignerError::KeyMissing));
        signer.create_key(&alias).unwrap();
        assert!(signer.create_key(&alias).is_err(), "one key per alias");
        signer.invalidate_all();
        assert_eq!(signer.sign(&alias, b"m", &prompt()), Err(KeySignerError::KeyInvalidated));
        signer.delete_key(&alias).unwrap();
        signer.delete_key(&alias).unwrap();
        assert_eq!(signer.key_count(), 0);
    }

    #[test]
    fn public_keys_must_be_uncompressed_p256_points() {
        assert!(PublicKeySec1::new(vec![4; 65]).is_ok());
        assert!(PublicKeySec1::new(vec![2; 33]).is_err());
        assert!(PublicKeySec1::new(vec![3; 65]).is_err());
    }
}
