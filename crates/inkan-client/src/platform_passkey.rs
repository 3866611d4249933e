//! A passkey whose private key never leaves the phone's secure hardware and signs only after a
//! biometric: the WebAuthn authenticator of the mobile app, built on a [`KeySigner`].
//!
//! The platform gives us a key and a biometric prompt, not a WebAuthn authenticator, so the
//! messages an authenticator makes are made here: `webauthn-authenticator-rs` checks the origin
//! against the relying party and writes `clientDataJSON` (its `AuthenticatorBackendHashedClientData`
//! trait hands us only the hash), and [`PlatformPasskey`] writes the authenticator data
//! (rpIdHash, flags, sign counter, and at registration the credential with its COSE key), the
//! attestation object (`fmt: "none"`), and has the key sign `authenticatorData || clientDataHash`.
//!
//! - The credential id is 32 random bytes, kept in the OS keystore (`inkan-keystore`) with the
//!   key's alias, the relying party and the user handle, so the app finds its passkey again.
//! - Flags: user present and user verified on every use (the platform asked for the biometric),
//!   attested credential data at registration; backup-eligible and backed-up are clear, because a
//!   key in the Android Keystore or the Secure Enclave cannot be copied off the phone.
//! - The sign counter is always 0, which WebAuthn defines as "this authenticator does not count":
//!   a counter exists to catch cloned authenticators, and a hardware key cannot be cloned; a
//!   counter kept in software next to it would only pretend. Replay is stopped by the server's
//!   one-use challenges.
//! - At registration the new key signs once (the attestation's data), behind the first biometric
//!   prompt, and the signature is checked here: so the user-verified flag is true from the start,
//!   and a key store that does not sign what it is asked is caught before any money depends on it.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_api::Base64Url;
use inkan_keystore::Keystore;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_cbor_2::Value;
use url::Url;
use webauthn_authenticator_rs::error::WebauthnCError;
use webauthn_authenticator_rs::{AuthenticatorBackendHashedClientData, WebauthnAuthenticator};
use webauthn_rs_proto::{
    AuthenticationExtensionsClientOutputs, AuthenticatorAssertionResponseRaw, AuthenticatorAttachment,
    AuthenticatorAttestationResponseRaw, AuthenticatorTransport, CreationChallengeResponse, PublicKeyCredential,
    PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions, RegisterPublicKeyCredential,
    RegistrationExtensionsClientOutputs, RequestChallengeResponse, ResidentKeyRequirement,
};

use crate::authenticator::{Approval, Authenticator};
use crate::error::{ClientError, Result};
use crate::key_signer::{KeyAlias, KeySigner, KeySignerError, Prompt, PublicKeySec1};

/// Name of the keystore entry that holds this profile's platform credential (not the key: the
/// key stays in the platform's key store; this is how to find it).
const ENTRY: &str = "platform-passkey";

/// COSE algorithm ES256: ECDSA with P-256 and SHA-256, the one algorithm both Android's and
/// Apple's secure hardware sign with.
const ES256: i64 = -7;

/// Authenticator data flags (WebAuthn §6.1).
const FLAG_USER_PRESENT: u8 = 0x01;
const FLAG_USER_VERIFIED: u8 = 0x04;
const FLAG_ATTESTED_CREDENTIAL_DATA: u8 = 0x40;

/// With `fmt: "none"` the AAGUID is all zeros: we claim no make or model.
const AAGUID: [u8; 16] = [0; 16];

/// How to find this profile's passkey again. Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredCredential {
    alias: KeyAlias,
    credential_id: Base64Url,
    rp_id: String,
    user_handle: Base64Url,
}

impl StoredCredential {
    fn load(keystore: &Keystore) -> Result<Option<StoredCredential>> {
        let Some(bytes) = keystore.get(ENTRY)? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            ClientError::Authenticator(format!("this phone's passkey record in the OS keystore is damaged: {e}"))
        })
    }

    fn save(&self, keystore: &Keystore) -> Result<()> {
        let bytes = serde_json::to_vec(self).map_err(|e| ClientError::Invalid(e.to_string()))?;
        keystore.put(ENTRY, &bytes)?;
        Ok(())
    }
}

/// A passkey made and used by a [`KeySigner`]: on a phone, a key in the Android Keystore or the
/// Secure Enclave that signs only after the person's fingerprint or face.
pub struct PlatformPasskey<S: KeySigner> {
    signer: S,
    keystore: Keystore,
    credential: Option<StoredCredential>,
}

impl<S: KeySigner> std::fmt::Debug for PlatformPasskey<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformPasskey")
            .field("signer", &self.signer)
            .field("alias", &self.credential.as_ref().map(|c| &c.alias))
            .finish_non_exhaustive()
    }
}

impl<S: KeySigner> PlatformPasskey<S> {
    /// A passkey still to be made: [`Authenticator::register`] makes its key. A record left in
    /// `keystore` by an earlier attempt that did not finish is removed first, with its key.
    pub fn create(keystore: Keystore, signer: S) -> Result<PlatformPasskey<S>> {
        PlatformPasskey::forget(&keystore, &signer)?;
        Ok(PlatformPasskey { signer, keystore, credential: None })
    }

    /// The passkey recorded in `keystore`.
    pub fn load(keystore: Keystore, signer: S) -> Result<PlatformPasskey<S>> {
        let credential = StoredCredential::load(&keystore)?.ok_or(KeySignerError::KeyMissing)?;
        Ok(PlatformPasskey { signer, keystore, credential: Some(credential) })
    }

    /// Removes the passkey recorded in `keystore`: its key from the platform, then the record.
    /// Nothing recorded is not an error.
    pub fn forget(keystore: &Keystore, signer: &S) -> Result<()> {
        if let Some(credential) = StoredCredential::load(keystore)? {
            signer.delete_key(&credential.alias)?;
        }
        keystore.delete(ENTRY)?;
        Ok(())
    }

    /// The credential id the server knows this passkey by, once made.
    pub fn credential_id(&self) -> Option<&[u8]> {
        self.credential.as_ref().map(|c| c.credential_id.0.as_slice())
    }
}

impl<S: KeySigner> Authenticator for PlatformPasskey<S> {
    fn register(&mut self, origin: &Url, options: CreationChallengeResponse) -> Result<RegisterPublicKeyCredential> {
        if self.credential.is_some() {
            return Err(ClientError::Authenticator("this phone already holds a passkey for this wallet".into()));
        }
        let mut ceremony = Ceremony::new(&self.signer, &self.keystore, None, Approval::Setup.prompt());
        let outcome = off_the_async_workers(|| ceremony.do_registration(origin.clone(), options));
        let made = ceremony.made.take();
        match ceremony.finish(origin, outcome) {
            Ok(credential) => {
                self.credential = made;
                Ok(credential)
            }
            Err(e) => {
                if let Some(made) = made {
                    // Nothing half-made stays behind: not the key, not its record.
                    let _ = self.signer.delete_key(&made.alias);
                    let _ = self.keystore.delete(ENTRY);
                }
                Err(e)
            }
        }
    }

    fn authenticate(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        approval: &Approval,
    ) -> Result<PublicKeyCredential> {
        let mut ceremony = Ceremony::new(&self.signer, &self.keystore, self.credential.as_ref(), approval.prompt());
        let outcome = off_the_async_workers(|| ceremony.do_authentication(origin.clone(), options));
        ceremony.finish(origin, outcome)
    }

    fn describe(&self) -> &'static str {
        self.signer.describe()
    }
}

/// The prompt blocks until the person answers. On a multi-threaded tokio runtime, tell it so that
/// it moves its other tasks (the live feed) off this worker meanwhile.
fn off_the_async_workers<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// One registration or authentication. `webauthn-authenticator-rs` calls it back with the hash of
/// the `clientDataJSON` it wrote; its error type cannot carry ours, so ours waits in `failure`.
struct Ceremony<'a, S: KeySigner> {
    signer: &'a S,
    keystore: &'a Keystore,
    stored: Option<&'a StoredCredential>,
    prompt: Prompt,
    made: Option<StoredCredential>,
    failure: Option<ClientError>,
}

impl<'a, S: KeySigner> Ceremony<'a, S> {
    fn new(
        signer: &'a S,
        keystore: &'a Keystore,
        stored: Option<&'a StoredCredential>,
        prompt: Prompt,
    ) -> Ceremony<'a, S> {
        Ceremony { signer, keystore, stored, prompt, made: None, failure: None }
    }

    /// Records why the ceremony stopped, for [`Ceremony::finish`], and stops it.
    fn fail(&mut self, error: impl Into<ClientError>) -> WebauthnCError {
        self.failure = Some(error.into());
        WebauthnCError::Cancelled
    }

    fn finish<T>(mut self, origin: &Url, outcome: Result<T, WebauthnCError>) -> Result<T> {
        outcome.map_err(|e| match self.failure.take() {
            Some(failure) => failure,
            None => webauthn_error(origin, &e),
        })
    }

    fn new_credential(
        &mut self,
        client_data_hash: &[u8],
        options: &PublicKeyCredentialCreationOptions,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        check_creation_options(options).map_err(|e| self.fail(e))?;
        let rng = SystemRandom::new();
        let alias = KeyAlias::generate(&rng).map_err(|e| self.fail(e))?;
        let mut credential_id = vec![0u8; 32];
        rng.fill(&mut credential_id)
            .map_err(|_| self.fail(ClientError::Authenticator("no randomness for a credential id".into())))?;
        let public_key = self.signer.create_key(&alias).map_err(|e| self.fail(e))?;
        let made = StoredCredential {
            alias: alias.clone(),
            credential_id: Base64Url(credential_id.clone()),
            rp_id: options.rp.id.clone(),
            user_handle: Base64Url(options.user.id.clone()),
        };
        // Recorded at once, so that the key is found (and removed) if anything after this fails.
        if let Err(e) = made.save(self.keystore) {
            let _ = self.signer.delete_key(&alias);
            return Err(self.fail(e));
        }
        self.made = Some(made);

        let auth_data =
            registration_auth_data(&options.rp.id, &credential_id, &public_key).map_err(|e| self.fail(e))?;
        // The first biometric: the new key signs what a self-attestation would, and we check it.
        let signed = [auth_data.as_slice(), client_data_hash].concat();
        let signature = self.signer.sign(&alias, &signed, &self.prompt).map_err(|e| self.fail(e))?;
        if UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key.as_bytes()).verify(&signed, &signature).is_err() {
            return Err(self.fail(KeySignerError::Platform {
                detail: "the new key's signature does not verify with its public key".into(),
            }));
        }
        let attestation_object = attestation_object_none(auth_data).map_err(|e| self.fail(e))?;
        Ok(RegisterPublicKeyCredential {
            id: URL_SAFE_NO_PAD.encode(&credential_id),
            raw_id: credential_id,
            response: AuthenticatorAttestationResponseRaw {
                attestation_object,
                // Written by webauthn-authenticator-rs once we return.
                client_data_json: Vec::new(),
                transports: Some(vec![AuthenticatorTransport::Internal]),
            },
            type_: "public-key".to_owned(),
            extensions: RegistrationExtensionsClientOutputs::default(),
        })
    }

    fn assertion(
        &mut self,
        client_data_hash: &[u8],
        options: &PublicKeyCredentialRequestOptions,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        let stored = self.stored.ok_or_else(|| self.fail(KeySignerError::KeyMissing))?;
        if options.rp_id != stored.rp_id {
            return Err(self.fail(ClientError::Authenticator(format!(
                "the server asked for a passkey of {:?}, but this phone's passkey is for {:?}",
                options.rp_id, stored.rp_id
            ))));
        }
        let allowed = options.allow_credentials.is_empty()
            || options.allow_credentials.iter().any(|c| c.id == stored.credential_id.0);
        if !allowed {
            return Err(self.fail(ClientError::Authenticator(
                "the server asked for another passkey than this phone's: was this phone removed from the wallet?"
                    .into(),
            )));
        }
        let auth_data = assertion_auth_data(&stored.rp_id);
        let signed = [auth_data.as_slice(), client_data_hash].concat();
        let signature = self.signer.sign(&stored.alias, &signed, &self.prompt).map_err(|e| self.fail(e))?;
        Ok(PublicKeyCredential {
            id: URL_SAFE_NO_PAD.encode(&stored.credential_id.0),
            raw_id: stored.credential_id.0.clone(),
            response: AuthenticatorAssertionResponseRaw {
                authenticator_data: auth_data,
                // Written by webauthn-authenticator-rs once we return.
                client_data_json: Vec::new(),
                signature,
                user_handle: Some(stored.user_handle.0.clone()),
            },
            extensions: AuthenticationExtensionsClientOutputs::default(),
            type_: "public-key".to_owned(),
        })
    }
}

impl<S: KeySigner> AuthenticatorBackendHashedClientData for Ceremony<'_, S> {
    fn perform_register(
        &mut self,
        client_data_hash: Vec<u8>,
        options: PublicKeyCredentialCreationOptions,
        _timeout_ms: u32,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        self.new_credential(&client_data_hash, &options)
    }

    fn perform_auth(
        &mut self,
        client_data_hash: Vec<u8>,
        options: PublicKeyCredentialRequestOptions,
        _timeout_ms: u32,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        self.assertion(&client_data_hash, &options)
    }
}

/// What the server may ask of a new passkey that this one cannot give, refused with the reason.
fn check_creation_options(options: &PublicKeyCredentialCreationOptions) -> Result<()> {
    if !options.pub_key_cred_params.iter().any(|p| p.type_ == "public-key" && p.alg == ES256) {
        return Err(ClientError::Authenticator(
            "the server did not offer ES256 (ECDSA P-256 with SHA-256), the only algorithm this phone's secure \
             hardware signs with"
                .into(),
        ));
    }
    if let Some(selection) = &options.authenticator_selection {
        if selection.require_resident_key || selection.resident_key == Some(ResidentKeyRequirement::Required) {
            return Err(ClientError::Authenticator(
                "the server asked for a discoverable passkey; this phone's passkey is found by its credential id"
                    .into(),
            ));
        }
        if selection.authenticator_attachment == Some(AuthenticatorAttachment::CrossPlatform) {
            return Err(ClientError::Authenticator(
                "the server asked for a roaming authenticator (a security key), not this phone".into(),
            ));
        }
    }
    if options.user.id.is_empty() || options.user.id.len() > 64 {
        return Err(ClientError::Authenticator("the server's user handle must be 1 to 64 bytes".into()));
    }
    Ok(())
}

/// `webauthn-authenticator-rs`'s refusals, in words. It refuses before calling us when the origin
/// and the relying party do not fit together.
fn webauthn_error(origin: &Url, error: &WebauthnCError) -> ClientError {
    match error {
        WebauthnCError::Security => ClientError::Authenticator(format!(
            "the passkey request does not fit the origin {origin}: the relying party must be that site or a parent \
             domain of it, over https (http only on localhost)"
        )),
        other => ClientError::Authenticator(format!("the passkey request could not be answered: {other}")),
    }
}

fn rp_id_hash(rp_id: &str) -> [u8; 32] {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest(&SHA256, rp_id.as_bytes()).as_ref());
    hash
}

/// rpIdHash || flags || signCount (always 0).
fn assertion_auth_data(rp_id: &str) -> Vec<u8> {
    let mut data = rp_id_hash(rp_id).to_vec();
    data.push(FLAG_USER_PRESENT | FLAG_USER_VERIFIED);
    data.extend_from_slice(&0u32.to_be_bytes());
    data
}

/// The assertion's authenticator data plus the attested credential data: AAGUID, credential id
/// length and id, and the public key as a COSE key.
fn registration_auth_data(rp_id: &str, credential_id: &[u8], public_key: &PublicKeySec1) -> Result<Vec<u8>> {
    let id_len = u16::try_from(credential_id.len())
        .map_err(|_| ClientError::Authenticator("the credential id is too long".into()))?;
    let mut data = rp_id_hash(rp_id).to_vec();
    data.push(FLAG_USER_PRESENT | FLAG_USER_VERIFIED | FLAG_ATTESTED_CREDENTIAL_DATA);
    data.extend_from_slice(&0u32.to_be_bytes());
    data.extend_from_slice(&AAGUID);
    data.extend_from_slice(&id_len.to_be_bytes());
    data.extend_from_slice(credential_id);
    data.extend_from_slice(&cose_key(public_key)?);
    Ok(data)
}

/// The public key as a COSE_Key (RFC 9053): EC2, ES256, P-256, x, y.
fn cose_key(public_key: &PublicKeySec1) -> Result<Vec<u8>> {
    let map = BTreeMap::from([
        (Value::Integer(1), Value::Integer(2)),  // kty: EC2
        (Value::Integer(3), Value::Integer(-7)), // alg: ES256
        (Value::Integer(-1), Value::Integer(1)), // crv: P-256
        (Value::Integer(-2), Value::Bytes(public_key.x().to_vec())),
        (Value::Integer(-3), Value::Bytes(public_key.y().to_vec())),
    ]);
    serde_cbor_2::to_vec(&Value::Map(map)).map_err(|e| ClientError::Authenticator(format!("COSE key: {e}")))
}

/// `{"fmt": "none", "attStmt": {}, "authData": …}`: no attestation of make or model.
fn attestation_object_none(auth_data: Vec<u8>) -> Result<Vec<u8>> {
    let map = BTreeMap::from([
        (Value::Text("fmt".into()), Value::Text("none".into())),
        (Value::Text("attStmt".into()), Value::Map(BTreeMap::new())),
        (Value::Text("authData".into()), Value::Bytes(auth_data)),
    ]);
    serde_cbor_2::to_vec(&Value::Map(map)).map_err(|e| ClientError::Authenticator(format!("attestation object: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public_key() -> PublicKeySec1 {
        let mut bytes = vec![4u8];
        bytes.extend(1..=64u8);
        PublicKeySec1::new(bytes).unwrap()
    }

    #[test]
    fn assertion_authenticator_data_is_rp_id_hash_flags_and_a_zero_counter() {
        let data = assertion_auth_data("localhost");
        assert_eq!(data.len(), 37);
        assert_eq!(&data[..32], digest(&SHA256, b"localhost").as_ref());
        assert_eq!(data[32], 0b0000_0101, "user present and verified; not backup-eligible, not backed up");
        assert_eq!(&data[33..], &[0, 0, 0, 0]);
    }

    #[test]
    fn registration_authenticator_data_carries_the_credential_and_its_cose_key() {
        let id = [7u8; 32];
        let data = registration_auth_data("example.com", &id, &public_key()).unwrap();
        assert_eq!(&data[..32], digest(&SHA256, b"example.com").as_ref());
        assert_eq!(data[32], 0b0100_0101, "attested credential data, user verified, user present");
        assert_eq!(&data[33..37], &[0, 0, 0, 0]);
        assert_eq!(&data[37..53], &AAGUID);
        assert_eq!(&data[53..55], &[0, 32]);
        assert_eq!(&data[55..87], &id);
        let cose: BTreeMap<Value, Value> = serde_cbor_2::from_slice(&data[87..]).unwrap();
        assert_eq!(cose[&Value::Integer(1)], Value::Integer(2));
        assert_eq!(cose[&Value::Integer(3)], Value::Integer(-7));
        assert_eq!(cose[&Value::Integer(-1)], Value::Integer(1));
        assert_eq!(cose[&Value::Integer(-2)], Value::Bytes((1..=32).collect()));
        assert_eq!(cose[&Value::Integer(-3)], Value::Bytes((33..=64).collect()));
    }

    #[test]
    fn the_attestation_object_says_none_and_holds_the_authenticator_data() {
        let bytes = attestation_object_none(vec![1, 2, 3]).unwrap();
        let object: BTreeMap<String, Value> = serde_cbor_2::from_slice(&bytes).unwrap();
        assert_eq!(object["fmt"], Value::Text("none".into()));
        assert_eq!(object["attStmt"], Value::Map(BTreeMap::new()));
        assert_eq!(object["authData"], Value::Bytes(vec![1, 2, 3]));
    }
}
