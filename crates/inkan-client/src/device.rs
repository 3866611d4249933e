//! The device's P-256 key: made on the device, kept only in the OS keystore, referred to by its
//! key id. It signs payment codes offline.

use inkan_api::Base64Url;
use inkan_api::wallet::NewDevice;
use inkan_core::payment_code::{DeviceKeyId, DeviceSigningKey, JoinStep, PaymentCode};
use inkan_keystore::Keystore;
use ring::rand::SystemRandom;
use time::{Duration, OffsetDateTime};

use crate::error::{ClientError, Result};

/// Each code is valid this long; the app shows a new one every [`REFRESH`].
pub const LIFETIME: Duration = Duration::seconds(60);
pub const REFRESH: Duration = Duration::seconds(30);

fn entry(key_id: DeviceKeyId) -> String {
    format!("device-key/{key_id}")
}

fn key_error(e: inkan_core::PaymentCodeError) -> ClientError {
    ClientError::Invalid(format!("device key: {e}"))
}

/// A device key loaded from the keystore.
#[derive(Debug)]
pub struct DeviceKey {
    key: DeviceSigningKey,
    key_id: DeviceKeyId,
}

impl DeviceKey {
    /// Makes a new key and stores it in `keystore`. Nothing else ever holds its private half.
    pub fn create(keystore: &Keystore) -> Result<DeviceKey> {
        let rng = SystemRandom::new();
        let (key, pkcs8) = DeviceSigningKey::generate(&rng).map_err(key_error)?;
        let key_id = DeviceKeyId::generate(&rng).map_err(key_error)?;
        keystore.put(&entry(key_id), &pkcs8)?;
        Ok(DeviceKey { key, key_id })
    }

    pub fn load(keystore: &Keystore, key_id: DeviceKeyId) -> Result<DeviceKey> {
        let pkcs8 = keystore.get(&entry(key_id))?.ok_or(ClientError::DeviceKeyMissing)?;
        let key = DeviceSigningKey::from_pkcs8(&pkcs8, &SystemRandom::new()).map_err(key_error)?;
        Ok(DeviceKey { key, key_id })
    }

    pub fn forget(keystore: &Keystore, key_id: DeviceKeyId) -> Result<()> {
        keystore.delete(&entry(key_id))?;
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

    /// A payment code with `counter`, valid from `now` for [`LIFETIME`]. Works offline.
    pub fn code(&self, counter: u32, now: OffsetDateTime) -> Result<PaymentCode> {
        PaymentCode::issue(&self.key, self.key_id, counter, now, LIFETIME, &SystemRandom::new()).map_err(key_error)
    }
}
