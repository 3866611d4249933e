//! The device's P-256 key: made on the device, kept only in the OS keystore, referred to by its
//! key id. It signs sign-ins, join steps and payment codes of version 1 offline. Beside it, once
//! the server has given them (with every new session), the device's payment code v2 keys: the
//! code key (with the device's index and the issuer's seal key) makes v2 codes offline, and the
//! approval key tags a pre-approval (docs/payment-code.md).

use inkan_api::Base64Url;
use inkan_api::wallet::{NewDevice, PaymentCodeKeys};
use inkan_core::payment_code::v2::{CodeIssuer, DeviceIndex, SealPublicKey, Secret32, system_rng};
use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey, JoinStep, PaymentCode, ShownCode};
use inkan_keystore::Keystore;
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::error::{ClientError, Result};

/// Each code is valid this long; the app shows a new one every [`REFRESH`].
pub const LIFETIME: Duration = Duration::seconds(60);
pub const REFRESH: Duration = Duration::seconds(30);

fn entry(key_id: DeviceKeyId) -> String {
    format!("device-key/{key_id}")
}

fn code_keys_entry(key_id: DeviceKeyId) -> String {
    format!("device-code-keys/{key_id}")
}

fn approval_key_entry(key_id: DeviceKeyId) -> String {
    format!("device-approval-key/{key_id}")
}

/// The v2 code keys as the keystore holds them (the approval key apart).
#[derive(Serialize, Deserialize)]
struct StoredCodeKeys {
    index: DeviceIndex,
    code_key: String,
    seal_key_id: u8,
    seal_key: String,
}

/// The keys the server sent, checked: 32-byte keys and a seal key id in use.
fn code_issuer(keys: &PaymentCodeKeys) -> Result<CodeIssuer> {
    let bytes32 = |b: &Base64Url| <[u8; 32]>::try_from(b.0.as_slice()).ok();
    let (Some(code_key), Some(seal)) = (bytes32(&keys.code_key), bytes32(&keys.seal_key)) else {
        return Err(ClientError::Protocol("the server sent payment code keys of the wrong size".into()));
    };
    if bytes32(&keys.approval_key).is_none() {
        return Err(ClientError::Protocol("the server sent payment code keys of the wrong size".into()));
    }
    let seal = SealPublicKey::new(keys.seal_key_id, seal).map_err(key_error)?;
    Ok(CodeIssuer { index: keys.index, code_key: Secret32::from_bytes(code_key), seal })
}

fn key_error(e: inkan_core::PaymentCodeError) -> ClientError {
    ClientError::Invalid(format!("device key: {e}"))
}

/// A device key loaded from the keystore, with its v2 code keys once it has them.
#[derive(Debug)]
pub struct DeviceKey {
    key: DeviceSigningKey,
    key_id: DeviceKeyId,
    codes: Option<CodeIssuer>,
}

impl DeviceKey {
    /// Makes a new key and stores it in `keystore`. Nothing else ever holds its private half.
    pub fn create(keystore: &Keystore) -> Result<DeviceKey> {
        let rng = SystemRandom::new();
        let (key, pkcs8) = DeviceSigningKey::generate(&rng).map_err(key_error)?;
        let key_id = DeviceKeyId::generate(&rng).map_err(key_error)?;
        keystore.put(&entry(key_id), &pkcs8)?;
        Ok(DeviceKey { key, key_id, codes: None })
    }

    pub fn load(keystore: &Keystore, key_id: DeviceKeyId) -> Result<DeviceKey> {
        let pkcs8 = keystore.get(&entry(key_id))?.ok_or(ClientError::DeviceKeyMissing)?;
        let key = DeviceSigningKey::from_pkcs8(&pkcs8, &SystemRandom::new()).map_err(key_error)?;
        let codes = match keystore.get(&code_keys_entry(key_id))? {
            None => None,
            Some(json) => {
                let stored: StoredCodeKeys = serde_json::from_slice(&json)
                    .map_err(|e| ClientError::Invalid(format!("the payment code keys in the keystore: {e}")))?;
                let hex32 = |s: &str| Secret32::from_hex(s).map(|k| *k.as_bytes());
                let (Some(code_key), Some(seal)) = (Secret32::from_hex(&stored.code_key), hex32(&stored.seal_key))
                else {
                    return Err(ClientError::Invalid("the payment code keys in the keystore are damaged".into()));
                };
                let seal = SealPublicKey::new(stored.seal_key_id, seal).map_err(key_error)?;
                Some(CodeIssuer { index: stored.index, code_key, seal })
            }
        };
        Ok(DeviceKey { key, key_id, codes })
    }

    pub fn forget(keystore: &Keystore, key_id: DeviceKeyId) -> Result<()> {
        keystore.delete(&entry(key_id))?;
        keystore.delete(&code_keys_entry(key_id))?;
        keystore.delete(&approval_key_entry(key_id))?;
        Ok(())
    }

    /// Keeps the payment code v2 keys a new session brought, in the keystore (written only when
    /// they differ from those kept). From then on this device shows v2 codes.
    pub fn keep_code_keys(&mut self, keystore: &Keystore, keys: &PaymentCodeKeys) -> Result<()> {
        let issuer = code_issuer(keys)?;
        let same = self.codes.as_ref().is_some_and(|kept| {
            kept.index == issuer.index && kept.code_key == issuer.code_key && kept.seal == issuer.seal
        });
        if same {
            return Ok(());
        }
        let stored = StoredCodeKeys {
            index: issuer.index,
            code_key: issuer.code_key.to_hex().to_string(),
            seal_key_id: issuer.seal.id(),
            seal_key: hex::encode(issuer.seal.x25519()),
        };
        let json = Zeroizing::new(serde_json::to_vec(&stored).map_err(|e| ClientError::Invalid(e.to_string()))?);
        drop(Zeroizing::new(stored.code_key));
        keystore.put(&approval_key_entry(self.key_id), &keys.approval_key.0)?;
        keystore.put(&code_keys_entry(self.key_id), &json)?;
        self.codes = Some(issuer);
        Ok(())
    }

    pub fn key_id(&self) -> DeviceKeyId {
        self.key_id
    }

    /// The registration of this key, with a proof of possession over `challenge`.
    pub fn registration(&self, challenge: &str, name: &str) -> Result<NewDevice> {
        let proof = self.key.prove(challenge.as_bytes(), &SystemRandom::new()).map_err(key_error)?;
        Ok(NewDevice {
            key_id: self.key_id,
            public_key: Base64Url(self.key.public_key().as_sec1().to_vec()),
            name: name.to_owned(),
            proof: Base64Url(proof),
        })
    }

    /// This device's half of a sign-in: its signature over the sign-in ceremony id, under the
    /// sign-in domain (never valid as a payment code or a proof of possession).
    pub fn sign_in(&self, ceremony_id: &str) -> Result<Base64Url> {
        Ok(Base64Url(self.key.sign_in(ceremony_id.as_bytes(), &SystemRandom::new()).map_err(key_error)?))
    }

    /// This device's signature over one step of its join (the join's later steps are refused
    /// without it).
    pub fn sign_join_step(&self, join_id: &str, step: JoinStep<'_>) -> Result<Base64Url> {
        Ok(Base64Url(self.key.sign_join_step(join_id, step, &SystemRandom::new()).map_err(key_error)?))
    }

    /// The short fingerprint of this device's key, which the approving device shows too.
    pub fn fingerprint(&self) -> String {
        self.key.public_key().fingerprint()
    }

    /// A payment code with `counter`, valid from `now` for [`LIFETIME`]: version 2 once the
    /// device has its v2 keys, version 1 until then. Works offline.
    pub fn code(&self, counter: u32, now: OffsetDateTime) -> Result<ShownCode> {
        match &self.codes {
            Some(issuer) => {
                Ok(ShownCode::V2(issuer.issue(counter, now, LIFETIME, None, &mut system_rng()).map_err(key_error)?))
            }
            None => Ok(ShownCode::V1(
                PaymentCode::issue(&self.key, self.key_id, counter, now, LIFETIME, &SystemRandom::new())
                    .map_err(key_error)?,
            )),
        }
    }

    /// Whether this device makes payment codes of version 2.
    pub fn has_code_keys(&self) -> bool {
        self.codes.is_some()
    }
}
