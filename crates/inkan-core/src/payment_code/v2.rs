//! Payment code v2: a code that no one but the issuer can link to its device, and that may carry
//! the shopper's pre-approval for a payment made while the phone is offline.
//!
//! The format is specified in `docs/payment-code.md`. In short:
//!
//! ```text
//! version (1) | seal key id (1) | HPKE enc (32) | HPKE ciphertext of the body (34 or 62) | AEAD tag (16)
//! body = device index (8) | counter (4) | not_before (4) | lifetime (1) | kind (1)
//!        | [pre-approval: number (4) | cap (4) | expires (4) | approval tag (16)] | device tag (16)
//! ```
//!
//! The body is sealed to the issuer with HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, ChaCha20-Poly1305), under a fresh ephemeral key per code: every byte after the
//! first two looks random to anyone without the issuer's private key, and there is no signature
//! from which a public key could be recovered. Inside, the device tag (HMAC-SHA256, truncated to
//! 16 bytes, under a key the issuer derived for this device alone) proves which device made the
//! code. The issuer finds the device from the index it reads inside: one lookup, no search.
//!
//! Decoding is a typestate, as in v1: [`SealedCode::parse_bytes`] checks the shape;
//! [`SealedCode::open`] decrypts with the issuer's key and yields an [`OpenedCode`] whose index
//! tells the server which device row to fetch (nothing in it is believed yet);
//! [`OpenedCode::verify`] checks the device tag, the pre-approval's tag, the validity window and
//! the counter, and is the only way to a [`VerifiedSealedCode`].

use std::fmt;

use hpke::aead::{AeadTag, ChaCha20Poly1305};
use hpke::inout::InOutBuf;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use ring::hmac;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::{BASE45_ALPHABET, CLOCK_SKEW, MAX_LIFETIME, PaymentCodeError, from_unix_u32, unix_u32};

pub use hpke::rand_core;

/// Version byte of this format.
pub const VERSION: u8 = 2;
/// HPKE's `info`: binds every sealed code to this format and purpose.
pub const INFO: &[u8] = b"inkan/payment-code/v2";
/// Prefix of what the device tag covers.
pub const DEVICE_TAG_DOMAIN: &[u8] = b"inkan/payment-code/v2/device\0";
/// Prefix of what a pre-approval's tag covers.
pub const APPROVAL_TAG_DOMAIN: &[u8] = b"inkan/pre-approval/v2\0";
/// Labels of the two keys the issuer derives for each device from its master secret.
const CODE_KEY_LABEL: &[u8] = b"inkan/payment-code/v2/code-key\0";
const APPROVAL_KEY_LABEL: &[u8] = b"inkan/payment-code/v2/approval-key\0";
/// Longest a pre-approval may be valid: the app asks for 5 minutes, and a device clock may run a
/// little fast.
pub const MAX_APPROVAL_LIFETIME: Duration = Duration::minutes(10);

type Kem = X25519HkdfSha256;
type Kdf = HkdfSha256;
type Aead = ChaCha20Poly1305;

const HEADER_LEN: usize = 2;
const ENC_LEN: usize = 32;
const AEAD_TAG_LEN: usize = 16;
const TAG_LEN: usize = 16;
const FIXED_BODY_LEN: usize = 8 + 4 + 4 + 1 + 1;
const APPROVAL_LEN: usize = 4 + 4 + 4 + TAG_LEN;
const ORDINARY_BODY_LEN: usize = FIXED_BODY_LEN + TAG_LEN;
const APPROVED_BODY_LEN: usize = FIXED_BODY_LEN + APPROVAL_LEN + TAG_LEN;
const OVERHEAD: usize = HEADER_LEN + ENC_LEN + AEAD_TAG_LEN;
/// Length in bytes of an ordinary v2 code.
pub const ORDINARY_LEN: usize = OVERHEAD + ORDINARY_BODY_LEN;
/// Length in bytes of a v2 code that carries a pre-approval.
pub const APPROVED_LEN: usize = OVERHEAD + APPROVED_BODY_LEN;
/// Lengths of the two text forms (base45: 3 characters per 2 bytes; both lengths are even).
pub const ORDINARY_TEXT_LEN: usize = ORDINARY_LEN / 2 * 3;
pub const APPROVED_TEXT_LEN: usize = APPROVED_LEN / 2 * 3;

const KIND_ORDINARY: u8 = 0;
const KIND_PRE_APPROVED: u8 = 1;

/// Whether a seal key id keeps every code's text form from starting with a space: the first
/// base45 character depends only on the version byte and the seal key id. Six ids of 256 would
/// make it a space; the issuer never uses them.
pub fn is_text_safe_seal_id(id: u8) -> bool {
    (u16::from(VERSION) * 256 + u16::from(id)) % 45 != 36
}

/// The issuer's number for a device, sealed inside each of its codes and never shown in clear.
/// Random, never reused (a revoked device's index stays with it). On the wire, 16 lowercase hex
/// digits, so that JavaScript's numbers cannot round it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, pattern = "^[0-9a-f]{16}$", examples("5b0e2f9a7c31d864"))
)]
pub struct DeviceIndex(u64);

impl DeviceIndex {
    /// A random, non-zero index. The store refuses a duplicate; the caller draws again.
    pub fn generate(rng: &dyn SecureRandom) -> Result<DeviceIndex, PaymentCodeError> {
        loop {
            let mut bytes = [0u8; 8];
            rng.fill(&mut bytes).map_err(|_| PaymentCodeError::BadKey)?;
            // Below 2^63, so it fits a signed 64-bit database column as it is.
            let value = u64::from_be_bytes(bytes) >> 1;
            if value != 0 {
                return Ok(DeviceIndex(value));
            }
        }
    }

    /// Any value below 2^63 except zero.
    pub fn new(value: u64) -> Option<DeviceIndex> {
        (value != 0 && value < 1 << 63).then_some(DeviceIndex(value))
    }

    pub const fn get(&self) -> u64 {
        self.0
    }

    /// Parses the 16-digit lowercase hex form.
    pub fn from_hex(s: &str) -> Option<DeviceIndex> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        DeviceIndex::new(u64::from_str_radix(s, 16).ok()?)
    }
}

impl fmt::Display for DeviceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for DeviceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceIndex({self})")
    }
}

impl Serialize for DeviceIndex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceIndex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DeviceIndex::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("device index: expected 16 lowercase hex digits"))
    }
}

/// A 32-byte secret that is wiped when dropped and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret32(Zeroizing<[u8; 32]>);

impl Secret32 {
    pub fn from_bytes(bytes: [u8; 32]) -> Secret32 {
        Secret32(Zeroizing::new(bytes))
    }

    pub fn generate(rng: &dyn SecureRandom) -> Result<Secret32, PaymentCodeError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(bytes.as_mut()).map_err(|_| PaymentCodeError::BadKey)?;
        Ok(Secret32(bytes))
    }

    /// Parses 64 lowercase or uppercase hex digits.
    pub fn from_hex(s: &str) -> Option<Secret32> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(s, bytes.as_mut()).ok()?;
        Some(Secret32(bytes))
    }

    /// The hex form, for a keystore or a secrets file; wiped when dropped.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn tag(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.as_ref());
        let mut context = hmac::Context::with_key(&key);
        for part in parts {
            context.update(part);
        }
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&context.sign().as_ref()[..TAG_LEN]);
        tag
    }
}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(***)")
    }
}

/// The issuer's master secret for device code keys. Each device's keys are derived from it and
/// the device's index (as card issuers derive each card's keys from a master key and the card
/// number), so the database holds no device secret: a copy of the database alone can neither
/// open nor forge a code.
#[derive(Clone, Debug)]
pub struct CodeMaster(Secret32);

impl CodeMaster {
    pub fn new(secret: Secret32) -> CodeMaster {
        CodeMaster(secret)
    }

    pub fn secret(&self) -> &Secret32 {
        &self.0
    }

    /// The two keys of the device with this index, handed to it once, when it enrols.
    pub fn device_keys(&self, index: DeviceIndex) -> DeviceCodeKeys {
        let derive = |label: &[u8]| {
            let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.as_bytes());
            let mut context = hmac::Context::with_key(&key);
            context.update(label);
            context.update(&index.0.to_be_bytes());
            let mut bytes = Zeroizing::new([0u8; 32]);
            bytes.copy_from_slice(context.sign().as_ref());
            Secret32(bytes)
        };
        DeviceCodeKeys { code: derive(CODE_KEY_LABEL), approval: derive(APPROVAL_KEY_LABEL) }
    }
}

/// A device's two code keys. The code key tags every code it makes; the approval key tags a
/// pre-approval, and on the device it is kept behind the shopper's biometric or passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCodeKeys {
    pub code: Secret32,
    pub approval: Secret32,
}

/// The public half of an issuer's seal key, with its id: what devices seal their codes to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SealPublicKey {
    id: u8,
    x25519: [u8; 32],
}

impl SealPublicKey {
    /// Refuses an id whose codes would start with a space (see [`is_text_safe_seal_id`]).
    pub fn new(id: u8, x25519: [u8; 32]) -> Result<SealPublicKey, PaymentCodeError> {
        if !is_text_safe_seal_id(id) {
            return Err(PaymentCodeError::BadKey);
        }
        Ok(SealPublicKey { id, x25519 })
    }

    pub const fn id(&self) -> u8 {
        self.id
    }

    pub const fn x25519(&self) -> &[u8; 32] {
        &self.x25519
    }
}

impl fmt::Debug for SealPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealPublicKey({}: {}…)", self.id, hex::encode(&self.x25519[..6]))
    }
}

/// The issuer's seal key: the X25519 private key that opens codes, with its id.
pub struct SealKey {
    id: u8,
    private: <Kem as hpke::Kem>::PrivateKey,
    public: SealPublicKey,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey({}, ***)", self.id)
    }
}

impl SealKey {
    /// A new key with this id, from 32 random bytes.
    pub fn generate(id: u8, rng: &dyn SecureRandom) -> Result<SealKey, PaymentCodeError> {
        SealKey::derive(id, &Secret32::generate(rng)?)
    }

    /// The key RFC 9180's `DeriveKeyPair` makes from `seed`: the server derives its seal key from
    /// its issuer key, so every instance holds the same one and no new secret has to be kept.
    pub fn derive(id: u8, seed: &Secret32) -> Result<SealKey, PaymentCodeError> {
        let (private, _) = Kem::derive_keypair(seed.as_bytes());
        SealKey::from_private(id, private)
    }

    /// The key stored by [`SealKey::private_bytes`].
    pub fn from_bytes(id: u8, private: &Secret32) -> Result<SealKey, PaymentCodeError> {
        let private =
            <Kem as hpke::Kem>::PrivateKey::from_bytes(private.as_bytes()).map_err(|_| PaymentCodeError::BadKey)?;
        SealKey::from_private(id, private)
    }

    fn from_private(id: u8, private: <Kem as hpke::Kem>::PrivateKey) -> Result<SealKey, PaymentCodeError> {
        let public = Kem::sk_to_pk(&private);
        let mut x25519 = [0u8; 32];
        public.write_exact(&mut x25519);
        Ok(SealKey { id, private, public: SealPublicKey::new(id, x25519)? })
    }

    pub fn private_bytes(&self) -> Secret32 {
        let mut bytes = [0u8; 32];
        self.private.write_exact(&mut bytes);
        Secret32::from_bytes(bytes)
    }

    pub const fn public(&self) -> &SealPublicKey {
        &self.public
    }
}

/// A shopper's approval, given once with their biometric or passkey, for one payment of at most
/// `cap` (in the wallet currency's minor units) until `expires`, made while the phone may be
/// offline. Numbered per device, upward, so that the issuer can refuse a used or cancelled one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreApproval {
    pub number: u32,
    pub cap: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
}

/// A pre-approval with its tag, made with the device's approval key: what every code shown for it
/// carries.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPreApproval {
    pub approval: PreApproval,
    tag: [u8; TAG_LEN],
}

impl fmt::Debug for SignedPreApproval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedPreApproval({:?}, ***)", self.approval)
    }
}

impl PreApproval {
    /// Tags the approval with the device's approval key. On a phone that key opens only after
    /// the shopper's biometric.
    pub fn sign(&self, index: DeviceIndex, approval_key: &Secret32) -> Result<SignedPreApproval, PaymentCodeError> {
        Ok(SignedPreApproval { approval: *self, tag: approval_key.tag(&self.tagged(index)?.each()) })
    }

    fn tagged(&self, index: DeviceIndex) -> Result<ApprovalBytes, PaymentCodeError> {
        let mut bytes = [0u8; 20];
        bytes[..8].copy_from_slice(&index.0.to_be_bytes());
        bytes[8..12].copy_from_slice(&self.number.to_be_bytes());
        bytes[12..16].copy_from_slice(&self.cap.to_be_bytes());
        bytes[16..20].copy_from_slice(&unix_u32(self.expires)?.to_be_bytes());
        Ok(ApprovalBytes(bytes))
    }
}

/// `index ‖ number ‖ cap ‖ expires`, what an approval tag covers after its domain.
struct ApprovalBytes([u8; 20]);

impl ApprovalBytes {
    fn each(&self) -> [&[u8]; 2] {
        [APPROVAL_TAG_DOMAIN, &self.0]
    }

    /// `number ‖ cap ‖ expires` as the code's body carries them.
    fn body_fields(&self) -> &[u8] {
        &self.0[8..]
    }
}

/// What a device needs to make v2 codes offline: its index, its code key and the issuer's seal
/// public key.
#[derive(Clone, Debug)]
pub struct CodeIssuer {
    pub index: DeviceIndex,
    pub code_key: Secret32,
    pub seal: SealPublicKey,
}

/// A v2 payment code as a device made it or as a till read it: its binary and text forms.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCode {
    bytes: Vec<u8>,
}

impl fmt::Debug for SealedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A bearer credential for its lifetime: never printed whole.
        write!(f, "SealedCode({}…)", &self.text()[..12])
    }
}

impl CodeIssuer {
    /// Makes a code valid from `now` for `lifetime` (at most [`MAX_LIFETIME`]), carrying
    /// `approval` if given. Needs no network. `rng` gives the ephemeral key: always
    /// [`system_rng`] outside tests. A seeded or reused generator would repeat ephemeral keys,
    /// which makes codes linkable and reuses the AEAD's key and nonce.
    pub fn issue(
        &self,
        counter: u32,
        now: OffsetDateTime,
        lifetime: Duration,
        approval: Option<&SignedPreApproval>,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<SealedCode, PaymentCodeError> {
        let seconds = u8::try_from(lifetime.whole_seconds()).map_err(|_| PaymentCodeError::BadValidityWindow)?;
        if lifetime <= Duration::ZERO || lifetime > MAX_LIFETIME || lifetime != Duration::seconds(seconds.into()) {
            return Err(PaymentCodeError::BadValidityWindow);
        }
        let header = [VERSION, self.seal.id];
        let mut body = Vec::with_capacity(APPROVED_BODY_LEN);
        body.extend_from_slice(&self.index.0.to_be_bytes());
        body.extend_from_slice(&counter.to_be_bytes());
        body.extend_from_slice(&unix_u32(now)?.to_be_bytes());
        unix_u32(now + lifetime)?;
        body.push(seconds);
        match approval {
            None => body.push(KIND_ORDINARY),
            Some(signed) => {
                body.push(KIND_PRE_APPROVED);
                body.extend_from_slice(signed.approval.tagged(self.index)?.body_fields());
                body.extend_from_slice(&signed.tag);
            }
        }
        let tag = self.code_key.tag(&[DEVICE_TAG_DOMAIN, &header, &body]);
        body.extend_from_slice(&tag);
        let public =
            <Kem as hpke::Kem>::PublicKey::from_bytes(&self.seal.x25519).map_err(|_| PaymentCodeError::BadKey)?;
        let (enc, aead_tag) = hpke::single_shot_seal_inout_detached_with_rng::<Aead, Kdf, Kem>(
            &OpModeS::Base,
            &public,
            INFO,
            InOutBuf::from(body.as_mut_slice()),
            &header,
            rng,
        )
        .map_err(|_| PaymentCodeError::BadKey)?;
        let mut bytes = Vec::with_capacity(OVERHEAD + body.len());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&enc.to_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&aead_tag.to_bytes());
        Ok(SealedCode { bytes })
    }
}

/// The operating system's random numbers, for [`CodeIssuer::issue`]. It panics only if the OS
/// cannot give random numbers at all, as HPKE's own default does.
pub fn system_rng() -> impl rand_core::CryptoRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

impl SealedCode {
    /// The text form that goes into the QR code.
    pub fn text(&self) -> String {
        base45::encode(&self.bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the code carries a pre-approval. Visible to anyone from its length alone: the
    /// till shows it, and it says nothing about who the shopper is.
    pub fn is_pre_approved(&self) -> bool {
        self.bytes.len() == APPROVED_LEN
    }

    /// Checks the shape: one of the two lengths, and the version. The seal key id is checked by
    /// [`SealedCode::open`].
    pub fn parse_bytes(bytes: &[u8]) -> Result<SealedCode, PaymentCodeError> {
        if bytes.len() != ORDINARY_LEN && bytes.len() != APPROVED_LEN {
            return Err(PaymentCodeError::WrongLength(bytes.len()));
        }
        if bytes[0] != VERSION {
            return Err(PaymentCodeError::UnsupportedVersion(bytes[0]));
        }
        Ok(SealedCode { bytes: bytes.to_vec() })
    }

    /// Parses the text form of a v2 code (a v1 text is refused; [`super::ScannedCode`] takes both).
    pub fn parse(text: &str) -> Result<SealedCode, PaymentCodeError> {
        if text.len() != ORDINARY_TEXT_LEN && text.len() != APPROVED_TEXT_LEN {
            return Err(PaymentCodeError::WrongLength(text.chars().count()));
        }
        if !text.bytes().all(|b| BASE45_ALPHABET.contains(&b)) {
            return Err(PaymentCodeError::NotBase45);
        }
        SealedCode::parse_bytes(&base45::decode(text).map_err(|_| PaymentCodeError::NotBase45)?)
    }

    /// Decrypts the body with the seal key the code names, among `keys` (the issuer's current
    /// and previous keys). Refuses a code sealed to any other key, or changed in any bit.
    pub fn open(&self, keys: &[SealKey]) -> Result<OpenedCode, PaymentCodeError> {
        let header = [self.bytes[0], self.bytes[1]];
        let key = keys.iter().find(|k| k.id == header[1]).ok_or(PaymentCodeError::UnknownSealKey(header[1]))?;
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&self.bytes[HEADER_LEN..HEADER_LEN + ENC_LEN])
            .map_err(|_| PaymentCodeError::NotOpenable)?;
        let tag = AeadTag::<Aead>::from_bytes(&self.bytes[self.bytes.len() - AEAD_TAG_LEN..])
            .map_err(|_| PaymentCodeError::NotOpenable)?;
        let mut body = Zeroizing::new(self.bytes[HEADER_LEN + ENC_LEN..self.bytes.len() - AEAD_TAG_LEN].to_vec());
        hpke::single_shot_open_inout_detached::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &key.private,
            &enc,
            INFO,
            InOutBuf::from(body.as_mut_slice()),
            &header,
            &tag,
        )
        .map_err(|_| PaymentCodeError::NotOpenable)?;
        OpenedCode::read(header, &body)
    }
}

/// A code the issuer has opened: its fields are readable, but nothing is believed until
/// [`OpenedCode::verify`] has checked the device's tag.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedCode {
    header: [u8; HEADER_LEN],
    body: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for OpenedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The index links a device's codes, and nothing in it is verified yet.
        f.write_str("OpenedCode(***)")
    }
}

/// What a v2 code says, once its device tag has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedClaims {
    pub index: DeviceIndex,
    pub counter: u32,
    pub not_before: OffsetDateTime,
    pub expires: OffsetDateTime,
    /// The shopper's pre-approval, its tag checked. Whether it may still be used (not expired,
    /// not used, not cancelled, within the limits) is the charge rules' decision.
    pub pre_approval: Option<PreApproval>,
}

impl OpenedCode {
    fn read(header: [u8; HEADER_LEN], body: &[u8]) -> Result<OpenedCode, PaymentCodeError> {
        let expected = match body[FIXED_BODY_LEN - 1] {
            KIND_ORDINARY => ORDINARY_BODY_LEN,
            KIND_PRE_APPROVED => APPROVED_BODY_LEN,
            _ => return Err(PaymentCodeError::BadValidityWindow),
        };
        let lifetime = body[FIXED_BODY_LEN - 2];
        // Anyone can seal a body to the issuer (its seal key is public): a wrong kind, length,
        // lifetime or index is refused here, before anything is looked up; the device tag is
        // what proves the device made it.
        if body.len() != expected || lifetime == 0 || Duration::seconds(lifetime.into()) > MAX_LIFETIME {
            return Err(PaymentCodeError::BadValidityWindow);
        }
        let code = OpenedCode { header, body: Zeroizing::new(body.to_vec()) };
        if DeviceIndex::new(code.raw_index()).is_none() {
            return Err(PaymentCodeError::BadValidityWindow);
        }
        Ok(code)
    }

    fn field(&self, at: usize) -> u32 {
        let b = &self.body;
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn raw_index(&self) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.body[..8]);
        u64::from_be_bytes(bytes)
    }

    /// Which device the code claims to be from: the server fetches that device's row (and its
    /// last used counter) by this index. Believed only after [`OpenedCode::verify`].
    pub fn index(&self) -> DeviceIndex {
        DeviceIndex(self.raw_index())
    }

    fn pre_approval(&self) -> Option<(PreApproval, &[u8])> {
        (self.body.len() == APPROVED_BODY_LEN).then(|| {
            let approval = PreApproval {
                number: self.field(FIXED_BODY_LEN),
                cap: self.field(FIXED_BODY_LEN + 4),
                expires: from_unix_u32(self.field(FIXED_BODY_LEN + 8)),
            };
            (approval, &self.body[FIXED_BODY_LEN + 12..FIXED_BODY_LEN + 12 + TAG_LEN])
        })
    }

    /// Checks the device tag with the keys `master` derives for the code's device, then the
    /// pre-approval's tag, then the validity window at `now`, then that the counter is above
    /// `last_used`, the highest counter of this device already used to pay (v1 and v2 codes of a
    /// device share one counter).
    pub fn verify(
        &self,
        master: &CodeMaster,
        now: OffsetDateTime,
        last_used: Option<u32>,
    ) -> Result<VerifiedSealedCode, PaymentCodeError> {
        let keys = master.device_keys(self.index());
        let (tagged, tag) = self.body.split_at(self.body.len() - TAG_LEN);
        let expected = keys.code.tag(&[DEVICE_TAG_DOMAIN, &self.header, tagged]);
        if !bool::from(expected.ct_eq(tag)) {
            return Err(PaymentCodeError::BadSignature);
        }
        let pre_approval = match self.pre_approval() {
            None => None,
            Some((approval, tag)) => {
                let expected = keys.approval.tag(&approval.tagged(self.index())?.each());
                if !bool::from(expected.ct_eq(tag)) {
                    return Err(PaymentCodeError::BadSignature);
                }
                Some(approval)
            }
        };
        let not_before = from_unix_u32(self.field(12));
        let claims = SealedClaims {
            index: self.index(),
            counter: self.field(8),
            not_before,
            expires: not_before + Duration::seconds(self.body[FIXED_BODY_LEN - 2].into()),
            pre_approval,
        };
        if now + CLOCK_SKEW < claims.not_before {
            return Err(PaymentCodeError::NotYetValid);
        }
        if now >= claims.expires {
            return Err(PaymentCodeError::Expired);
        }
        if last_used.is_some_and(|last| claims.counter <= last) {
            return Err(PaymentCodeError::CounterNotFresh);
        }
        Ok(VerifiedSealedCode { claims })
    }
}

/// A v2 code whose device tag, pre-approval tag, validity window and counter have been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSealedCode {
    claims: SealedClaims,
}

impl VerifiedSealedCode {
    pub fn claims(&self) -> &SealedClaims {
        &self.claims
    }
}

#[cfg(test)]
mod tests;
