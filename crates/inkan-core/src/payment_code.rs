//! Payment code v1: the short-lived, device-signed token a shopper shows as a QR code.
//!
//! The format is specified in `docs/payment-code.md`. In short, 93 bytes:
//!
//! ```text
//! version (1) | device key id (16) | counter (4, BE) | not_before (4, BE) | expires (4, BE) | signature (64)
//! ```
//!
//! The signature is ECDSA P-256 / SHA-256 (fixed r‖s form) over `DOMAIN ‖ first 29 bytes`. The
//! text form is base45 (RFC 9285), 140 characters, all in the QR alphanumeric alphabet.
//!
//! Decoding is a typestate: [`PaymentCode::parse`] checks only the shape and yields an
//! [`UnverifiedPaymentCode`] whose key id tells the server which public key to fetch;
//! [`UnverifiedPaymentCode::verify`] checks signature, validity window and counter and is the only
//! way to a [`VerifiedPaymentCode`].

use std::fmt;

use ring::rand::SecureRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

pub mod v2;

/// Signed-over prefix of a proof of possession of a device key (see [`DeviceSigningKey::prove`]).
pub const DEVICE_PROOF_DOMAIN: &[u8] = b"inkan/device-proof/v1\0";
/// The prefix of what a device key signs to start a session (a sign-in ceremony id): neither a
/// payment code nor a proof of possession, so no signature made for one purpose serves another.
pub const SIGN_IN_DOMAIN: &[u8] = b"inkan/sign-in/v1\0";
/// The prefix of what a joining device signs for each later step of its join (see [`JoinStep`]).
pub const JOIN_STEP_DOMAIN: &[u8] = b"inkan/join-step/v1\0";

/// A step of a device join after the device has submitted its key. Each is signed by that key
/// over the join id, so a join id alone, seen in a list or a log, lets nobody else act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinStep<'a> {
    /// Reading the join's state (`GET /v1/device-joins/{id}`).
    Status,
    /// Asking for the passkey registration challenge.
    PasskeyChallenge,
    /// Finishing with the passkey made for this (single-use) ceremony.
    Passkey { ceremony_id: &'a str },
}

impl JoinStep<'_> {
    /// `JOIN_STEP_DOMAIN ‖ join id ‖ 0 ‖ step ‖ 0 ‖ ceremony id`: each part is free of NUL bytes
    /// (ids are ASCII), so no two steps share a message.
    fn message(&self, join_id: &str) -> Vec<u8> {
        let (step, ceremony) = match self {
            JoinStep::Status => ("status", ""),
            JoinStep::PasskeyChallenge => ("passkey-challenge", ""),
            JoinStep::Passkey { ceremony_id } => ("passkey", *ceremony_id),
        };
        let mut message = JOIN_STEP_DOMAIN.to_vec();
        for (i, part) in [join_id, step, ceremony].into_iter().enumerate() {
            if i > 0 {
                message.push(0);
            }
            message.extend_from_slice(part.as_bytes());
        }
        message
    }
}

/// Version byte of the format this module writes and reads.
pub const VERSION: u8 = 1;
/// Signed-over prefix, so a payment-code signature can never be replayed as any other signature
/// made with the same key (and vice versa).
pub const DOMAIN: &[u8] = b"inkan/payment-code/v1\0";
/// Longest allowed gap between `not_before` and `expires`.
pub const MAX_LIFETIME: Duration = Duration::seconds(60);
/// How far in the future `not_before` may be, for a device clock that runs a little fast.
pub const CLOCK_SKEW: Duration = Duration::seconds(30);

const KEY_ID_LEN: usize = 16;
const SIGNED_LEN: usize = 1 + KEY_ID_LEN + 4 + 4 + 4;
const SIGNATURE_LEN: usize = 64;
/// Length of a v1 code in bytes.
pub const BINARY_LEN: usize = SIGNED_LEN + SIGNATURE_LEN;
/// Length of a v1 code's text form: base45 turns every 2 bytes into 3 characters, and a last
/// odd byte into 2.
pub const TEXT_LEN: usize = BINARY_LEN / 2 * 3 + (BINARY_LEN % 2) * 2;

const V2_ORDINARY: usize = v2::ORDINARY_TEXT_LEN;
const V2_APPROVED: usize = v2::APPROVED_TEXT_LEN;

const BASE45_ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why a payment code was refused. One variant per failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentCodeError {
    #[error(
        "a payment code is {TEXT_LEN} (version 1), {V2_ORDINARY} or {V2_APPROVED} (version 2) characters; this one has {0}"
    )]
    WrongLength(usize),
    #[error("a payment code holds only base45 characters")]
    NotBase45,
    #[error("payment code version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the payment code's validity window is not allowed")]
    BadValidityWindow,
    #[error("the payment code's signature does not verify")]
    BadSignature,
    #[error("the payment code is not valid yet")]
    NotYetValid,
    #[error("the payment code has expired")]
    Expired,
    #[error("a newer payment code of this device has been used")]
    CounterNotFresh,
    #[error("the device key cannot be used")]
    BadKey,
    #[error("the clock is outside the range a payment code can carry")]
    TimeOutOfRange,
    #[error("the payment code is sealed to issuer key {0}, which this server does not hold")]
    UnknownSealKey(u8),
    #[error("the payment code was not sealed to this issuer, or was changed")]
    NotOpenable,
    #[error("version 1 payment codes are no longer accepted")]
    VersionRetired,
    #[error("the payment code's counter is further ahead of the device's last payment than any device goes")]
    CounterOutOfReach,
}

/// How far ahead of the last counter used to pay a code's counter may be: 2²⁴ codes, 16 years of
/// a code every 30 seconds. Without a bound, one code with the counter at its maximum (made by
/// a thief who copied the code key, or by a bug) would kill every later code of the device for
/// good; with it, that takes 256 charges, each a notice the shopper sees.
pub const MAX_COUNTER_STEP: u32 = 1 << 24;

/// Refuses a counter more than [`MAX_COUNTER_STEP`] above `last_used`, the highest counter of the
/// device already used to pay (`None`: none yet).
pub fn within_reach(counter: u32, last_used: Option<u32>) -> Result<(), PaymentCodeError> {
    if counter > last_used.unwrap_or(0).saturating_add(MAX_COUNTER_STEP) {
        return Err(PaymentCodeError::CounterOutOfReach);
    }
    Ok(())
}

/// Opaque identifier of a device key: random, says nothing about the shopper. On the wire, 32
/// lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, pattern = "^[0-9a-f]{32}$", examples("3f8a1c0e9b7d4a6f2e5c8b1d0a9f7e6c"))
)]
pub struct DeviceKeyId([u8; KEY_ID_LEN]);

impl DeviceKeyId {
    /// A random key id whose codes are [`text safe`](DeviceKeyId::is_text_safe).
    pub fn generate(rng: &dyn SecureRandom) -> Result<DeviceKeyId, PaymentCodeError> {
        loop {
            let mut id = [0u8; KEY_ID_LEN];
            rng.fill(&mut id).map_err(|_| PaymentCodeError::BadKey)?;
            let id = DeviceKeyId(id);
            if id.is_text_safe() {
                return Ok(id);
            }
        }
    }

    /// Whether the text form of this device's codes starts with something other than a space.
    /// Base45 has a space in its alphabet, and a code's first character depends only on the
    /// version byte and the key id's first byte: for 6 of the 256 first bytes every code of the
    /// device would start with a space, which scanners, shells and copy-paste trim away. Such ids
    /// are never generated, and the server refuses to register them. (A code's last character can
    /// never be a space: the last byte alone encodes as two characters, the second below 6.)
    pub fn is_text_safe(&self) -> bool {
        (u16::from(VERSION) * 256 + u16::from(self.0[0])) % 45 != 36
    }

    pub const fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> DeviceKeyId {
        DeviceKeyId(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    /// Parses the 32-character lowercase hex form.
    pub fn from_hex(s: &str) -> Option<DeviceKeyId> {
        if s.len() != KEY_ID_LEN * 2 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        let mut id = [0u8; KEY_ID_LEN];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(DeviceKeyId(id))
    }
}

impl fmt::Display for DeviceKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for DeviceKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKeyId({self})")
    }
}

impl Serialize for DeviceKeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceKeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DeviceKeyId::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("device key id: expected 32 lowercase hex digits"))
    }
}

/// A device's public key: an uncompressed SEC1 P-256 point (65 bytes, leading `0x04`).
#[derive(Clone, PartialEq, Eq)]
pub struct DevicePublicKey([u8; 65]);

impl DevicePublicKey {
    /// Accepts the 65-byte uncompressed form. Whether the point is on the curve shows at the first
    /// verification: the server registers a key only with a proof of possession (a signature by it
    /// over the registration challenge), which no invalid point can give.
    pub fn from_sec1(bytes: &[u8]) -> Result<DevicePublicKey, PaymentCodeError> {
        let point: [u8; 65] = bytes.try_into().map_err(|_| PaymentCodeError::BadKey)?;
        if point[0] != 0x04 {
            return Err(PaymentCodeError::BadKey);
        }
        Ok(DevicePublicKey(point))
    }

    pub fn as_sec1(&self) -> &[u8] {
        &self.0
    }

    /// Checks a proof of possession made by [`DeviceSigningKey::prove`] over `challenge`. The
    /// server asks for one whenever a device key is registered, which also proves the point is on
    /// the curve.
    pub fn verify_proof(&self, challenge: &[u8], proof: &[u8]) -> Result<(), PaymentCodeError> {
        self.verify_message(&prefixed(DEVICE_PROOF_DOMAIN, challenge), proof)
    }

    /// Checks a sign-in signature made by [`DeviceSigningKey::sign_in`] over a sign-in ceremony id:
    /// the device itself, not only a passkey, asks for the session.
    pub fn verify_sign_in(&self, ceremony_id: &[u8], signature: &[u8]) -> Result<(), PaymentCodeError> {
        self.verify_message(&prefixed(SIGN_IN_DOMAIN, ceremony_id), signature)
    }

    /// Checks a joining device's signature over one step of its join
    /// ([`DeviceSigningKey::sign_join_step`]).
    pub fn verify_join_step(
        &self,
        join_id: &str,
        step: JoinStep<'_>,
        signature: &[u8],
    ) -> Result<(), PaymentCodeError> {
        self.verify_message(&step.message(join_id), signature)
    }

    /// A short fingerprint of the key, `XXXX-XXXX-XXXX-XXXX` (the first 64 bits of its SHA-256,
    /// in upper-case hex): the approving device and the joining one both show it, so that the
    /// person can see they are the same key, as Bluetooth pairing does.
    pub fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.0);
        let hex: String = digest.as_ref().iter().take(8).map(|b| format!("{b:02X}")).collect();
        hex.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
    }

    fn verify_message(&self, message: &[u8], signature: &[u8]) -> Result<(), PaymentCodeError> {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &self.0)
            .verify(message, signature)
            .map_err(|_| PaymentCodeError::BadSignature)
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({}…)", hex::encode(self.0.get(..8).unwrap_or_default()))
    }
}

/// A device's private signing key. It never prints, and its PKCS#8 form is handed out only in a
/// buffer that is wiped when dropped (for the OS keystore, and nowhere else).
pub struct DeviceSigningKey {
    pair: EcdsaKeyPair,
}

impl fmt::Debug for DeviceSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSigningKey(***)")
    }
}

impl DeviceSigningKey {
    /// Makes a new key. Returns it with its PKCS#8 encoding, which the caller stores in the OS
    /// keystore.
    pub fn generate(rng: &dyn SecureRandom) -> Result<(DeviceSigningKey, Zeroizing<Vec<u8>>), PaymentCodeError> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, rng)
            .map_err(|_| PaymentCodeError::BadKey)?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let key = DeviceSigningKey::from_pkcs8(&pkcs8, rng)?;
        Ok((key, pkcs8))
    }

    pub fn from_pkcs8(pkcs8: &[u8], rng: &dyn SecureRandom) -> Result<DeviceSigningKey, PaymentCodeError> {
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, rng)
            .map_err(|_| PaymentCodeError::BadKey)?;
        Ok(DeviceSigningKey { pair })
    }

    /// Signs `challenge` (a ceremony id the server chose) to prove this device holds the key,
    /// under a domain prefix that no payment code uses.
    pub fn prove(&self, challenge: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, PaymentCodeError> {
        self.sign_message(&prefixed(DEVICE_PROOF_DOMAIN, challenge), rng)
    }

    /// Signs a sign-in ceremony id, under its own domain prefix: the second proof of a sign-in,
    /// beside the passkey's (see [`DevicePublicKey::verify_sign_in`]).
    pub fn sign_in(&self, ceremony_id: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, PaymentCodeError> {
        self.sign_message(&prefixed(SIGN_IN_DOMAIN, ceremony_id), rng)
    }

    /// Signs one step of this device's join (see [`JoinStep`]).
    pub fn sign_join_step(
        &self,
        join_id: &str,
        step: JoinStep<'_>,
        rng: &dyn SecureRandom,
    ) -> Result<Vec<u8>, PaymentCodeError> {
        self.sign_message(&step.message(join_id), rng)
    }

    fn sign_message(&self, message: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, PaymentCodeError> {
        Ok(self.pair.sign(rng, message).map_err(|_| PaymentCodeError::BadKey)?.as_ref().to_vec())
    }

    pub fn public_key(&self) -> DevicePublicKey {
        let mut point = [0u8; 65];
        point.copy_from_slice(self.pair.public_key().as_ref());
        DevicePublicKey(point)
    }
}

/// What a payment code says, once its signature has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub key_id: DeviceKeyId,
    pub counter: u32,
    pub not_before: OffsetDateTime,
    pub expires: OffsetDateTime,
}

/// A payment code as issued by a device: its binary and text forms.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentCode {
    bytes: [u8; BINARY_LEN],
}

impl fmt::Debug for PaymentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole code is a bearer credential for its lifetime: never print it whole.
        write!(f, "PaymentCode({}…)", &self.text()[..12])
    }
}

fn unix_u32(t: OffsetDateTime) -> Result<u32, PaymentCodeError> {
    u32::try_from(t.unix_timestamp()).map_err(|_| PaymentCodeError::TimeOutOfRange)
}

fn from_unix_u32(secs: u32) -> OffsetDateTime {
    // Every u32 is a valid Unix time (1970..2106), well inside `time`'s range.
    OffsetDateTime::from_unix_timestamp(i64::from(secs)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `domain ‖ challenge`: what a device key signs for a purpose other than a payment code.
fn prefixed(domain: &[u8], challenge: &[u8]) -> Vec<u8> {
    let mut message = domain.to_vec();
    message.extend_from_slice(challenge);
    message
}

fn signed_message(header: &[u8; SIGNED_LEN]) -> [u8; DOMAIN.len() + SIGNED_LEN] {
    let mut message = [0u8; DOMAIN.len() + SIGNED_LEN];
    message[..DOMAIN.len()].copy_from_slice(DOMAIN);
    message[DOMAIN.len()..].copy_from_slice(header);
    message
}

impl PaymentCode {
    /// Issues a code valid from `now` for `lifetime` (at most [`MAX_LIFETIME`]). Needs no network:
    /// a device can make codes offline.
    pub fn issue(
        key: &DeviceSigningKey,
        key_id: DeviceKeyId,
        counter: u32,
        now: OffsetDateTime,
        lifetime: Duration,
        rng: &dyn SecureRandom,
    ) -> Result<PaymentCode, PaymentCodeError> {
        if lifetime <= Duration::ZERO || lifetime > MAX_LIFETIME {
            return Err(PaymentCodeError::BadValidityWindow);
        }
        let mut header = [0u8; SIGNED_LEN];
        header[0] = VERSION;
        header[1..17].copy_from_slice(key_id.as_bytes());
        header[17..21].copy_from_slice(&counter.to_be_bytes());
        header[21..25].copy_from_slice(&unix_u32(now)?.to_be_bytes());
        header[25..29].copy_from_slice(&unix_u32(now + lifetime)?.to_be_bytes());
        let signature = key.pair.sign(rng, &signed_message(&header)).map_err(|_| PaymentCodeError::BadKey)?;
        let mut bytes = [0u8; BINARY_LEN];
        bytes[..SIGNED_LEN].copy_from_slice(&header);
        bytes[SIGNED_LEN..].copy_from_slice(signature.as_ref());
        Ok(PaymentCode { bytes })
    }

    /// The text form that goes into the QR code.
    pub fn text(&self) -> String {
        base45::encode(self.bytes)
    }

    pub fn as_bytes(&self) -> &[u8; BINARY_LEN] {
        &self.bytes
    }

    /// Checks the shape of a code's text form: length, alphabet, base45 and version. Never
    /// panics, whatever the input. The result still has to be verified.
    pub fn parse(text: &str) -> Result<UnverifiedPaymentCode, PaymentCodeError> {
        if text.len() != TEXT_LEN {
            return Err(PaymentCodeError::WrongLength(text.chars().count()));
        }
        // RFC 9285 has exactly one encoding per byte string; refuse anything outside the
        // alphabet (lower case included) before decoding, so no two texts mean the same code.
        if !text.bytes().all(|b| BASE45_ALPHABET.contains(&b)) {
            return Err(PaymentCodeError::NotBase45);
        }
        let bytes = base45::decode(text).map_err(|_| PaymentCodeError::NotBase45)?;
        PaymentCode::parse_bytes(&bytes)
    }

    /// The same as [`PaymentCode::parse`], for the binary form.
    pub fn parse_bytes(bytes: &[u8]) -> Result<UnverifiedPaymentCode, PaymentCodeError> {
        let bytes: [u8; BINARY_LEN] = bytes.try_into().map_err(|_| PaymentCodeError::WrongLength(bytes.len()))?;
        if bytes[0] != VERSION {
            return Err(PaymentCodeError::UnsupportedVersion(bytes[0]));
        }
        let code = UnverifiedPaymentCode { code: PaymentCode { bytes } };
        if code.expires() <= code.not_before() || code.expires() - code.not_before() > MAX_LIFETIME {
            return Err(PaymentCodeError::BadValidityWindow);
        }
        Ok(code)
    }
}

/// A code whose shape is right but whose signature and validity are not checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedPaymentCode {
    code: PaymentCode,
}

impl UnverifiedPaymentCode {
    fn field(&self, at: usize) -> u32 {
        let b = &self.code.bytes;
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Which device key signed it (claimed; verified only by [`Self::verify`]).
    pub fn key_id(&self) -> DeviceKeyId {
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&self.code.bytes[1..17]);
        DeviceKeyId(id)
    }

    fn not_before(&self) -> OffsetDateTime {
        from_unix_u32(self.field(21))
    }

    fn expires(&self) -> OffsetDateTime {
        from_unix_u32(self.field(25))
    }

    /// Verifies the signature with the device's key, then the validity window at `now`, then that
    /// the counter is above `last_used`, the highest counter of this device already used to pay.
    pub fn verify(
        &self,
        key: &DevicePublicKey,
        now: OffsetDateTime,
        last_used: Option<u32>,
    ) -> Result<VerifiedPaymentCode, PaymentCodeError> {
        let mut header = [0u8; SIGNED_LEN];
        header.copy_from_slice(&self.code.bytes[..SIGNED_LEN]);
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, key.as_sec1())
            .verify(&signed_message(&header), &self.code.bytes[SIGNED_LEN..])
            .map_err(|_| PaymentCodeError::BadSignature)?;
        let claims = Claims {
            key_id: self.key_id(),
            counter: self.field(17),
            not_before: self.not_before(),
            expires: self.expires(),
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
        Ok(VerifiedPaymentCode { claims })
    }
}

/// A code whose signature, validity window and counter have been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedPaymentCode {
    claims: Claims,
}

impl VerifiedPaymentCode {
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// A payment code as a device shows it, of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShownCode {
    V1(PaymentCode),
    V2(v2::SealedCode),
}

impl ShownCode {
    /// The text form that goes into the QR code.
    pub fn text(&self) -> String {
        match self {
            ShownCode::V1(code) => code.text(),
            ShownCode::V2(code) => code.text(),
        }
    }

    pub const fn version(&self) -> u8 {
        match self {
            ShownCode::V1(_) => VERSION,
            ShownCode::V2(_) => v2::VERSION,
        }
    }

    /// Whether the code carries the shopper's pre-approval to pay offline (v2 only).
    pub fn is_pre_approved(&self) -> bool {
        matches!(self, ShownCode::V2(code) if code.is_pre_approved())
    }
}

/// A payment code as a till read it, of either version, its shape checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannedCode {
    V1(UnverifiedPaymentCode),
    V2(v2::SealedCode),
}

impl ScannedCode {
    /// Checks the shape of a text form of either version: its length says which. Never panics,
    /// whatever the input.
    pub fn parse(text: &str) -> Result<ScannedCode, PaymentCodeError> {
        match text.len() {
            TEXT_LEN => PaymentCode::parse(text).map(ScannedCode::V1),
            v2::ORDINARY_TEXT_LEN | v2::APPROVED_TEXT_LEN => v2::SealedCode::parse(text).map(ScannedCode::V2),
            _ => Err(PaymentCodeError::WrongLength(text.chars().count())),
        }
    }

    pub const fn version(&self) -> u8 {
        match self {
            ScannedCode::V1(_) => VERSION,
            ScannedCode::V2(_) => v2::VERSION,
        }
    }

    /// Whether the issuer still takes a code of this version at `now`: v2 always; v1 until the
    /// end of the migration window, `v1_until` (`None`: no end set).
    pub fn admitted(&self, v1_until: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<(), PaymentCodeError> {
        match (self, v1_until) {
            (ScannedCode::V1(_), Some(end)) if now >= end => Err(PaymentCodeError::VersionRetired),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
