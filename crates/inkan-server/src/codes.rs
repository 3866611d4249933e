//! The issuer's payment code keys (docs/payment-code.md, version 2): the seal key that opens
//! codes, and the master secret each device's code keys are derived from. Both are derived from
//! the issuer key (`Issuer::derive`), so every instance holds the same ones, no new secret file is
//! needed, and whoever holds only the database can neither open nor forge a code.

use inkan_api::Base64Url;
use inkan_api::wallet::PaymentCodeKeys;
use inkan_core::payment_code::PaymentCodeError;
use inkan_core::payment_code::v2::{CodeMaster, DeviceIndex, OpenedCode, SealKey, SealPublicKey, SealedCode, Secret32};

use crate::issuer::Issuer;

/// The id of the one seal key. Not built: rotation. The seal key and the master secret are both
/// derived from the issuer key, which has no rotation yet either (README); when it has, the master
/// secret needs a source of its own that outlives it (every device's keys are derived from it),
/// and seal keys a label per id, with the previous ones kept to open codes already shown.
const SEAL_KEY_ID: u8 = 1;

pub struct PaymentCodes {
    /// Every seal key the server opens codes with.
    seal: Vec<SealKey>,
    /// The one new devices seal to.
    current: SealPublicKey,
    master: CodeMaster,
}

impl std::fmt::Debug for PaymentCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentCodes").field("seal", &self.seal).finish_non_exhaustive()
    }
}

impl PaymentCodes {
    pub fn from_issuer(issuer: &Issuer) -> anyhow::Result<PaymentCodes> {
        let seed = Secret32::from_bytes(issuer.derive("payment code v2 seal key 1"));
        let seal = SealKey::derive(SEAL_KEY_ID, &seed)?;
        let master = CodeMaster::new(Secret32::from_bytes(issuer.derive("payment code v2 master")));
        Ok(PaymentCodes { current: *seal.public(), seal: vec![seal], master })
    }

    /// What the device with `index` is given when it opens a session.
    pub fn keys_for(&self, index: DeviceIndex) -> PaymentCodeKeys {
        let keys = self.master.device_keys(index);
        let seal = &self.current;
        PaymentCodeKeys {
            index,
            code_key: Base64Url(keys.code.as_bytes().to_vec()),
            approval_key: Base64Url(keys.approval.as_bytes().to_vec()),
            seal_key_id: seal.id(),
            seal_key: Base64Url(seal.x25519().to_vec()),
        }
    }

    /// Decrypts a code (an X25519 agreement: run it off the runtime's workers).
    pub fn open(&self, code: &SealedCode) -> Result<OpenedCode, PaymentCodeError> {
        code.open(&self.seal)
    }

    pub fn master(&self) -> &CodeMaster {
        &self.master
    }
}
