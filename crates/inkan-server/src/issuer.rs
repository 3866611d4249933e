//! The issuer key: an Ed25519 key, kept in a file outside the database, that signs the head of
//! every wallet's history as each notice is appended (`feed::append_at`). Whoever can write the
//! database can rewrite a history and recompute its hashes, but not sign it; devices pin the
//! public key when they enrol or join and check every history against it
//! (`inkan_core::history`).
//!
//! The file is PKCS#8 in PEM (`-----BEGIN PRIVATE KEY-----`), as `inkan-server admin issuer-key
//! create` writes it (mode 600) and as `openssl genpkey -algorithm ed25519` does. The server refuses
//! a key file that other users of the machine can read.

use std::path::Path;

use anyhow::{Context, bail};
use inkan_api::Base64Url;
use inkan_api::feed::{HeadSignature, IssuerKeyInfo, IssuerKeys};
use inkan_core::history::{IssuerKey, head_message};
use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

const PEM_LABEL: &str = "PRIVATE KEY";

/// The issuer's signing key.
pub struct Issuer {
    pair: Ed25519KeyPair,
    key: IssuerKey,
    id: String,
    /// The root of the server's other secrets (`Issuer::derive`).
    derived: ring::hmac::Key,
}

/// What the issuer key signs to make the root of the server's derived secrets. It is never signed
/// for anything else, and never published: no head message starts like it (they start with
/// `inkan_core::history::head_message`'s own domain).
const DERIVATION_MESSAGE: &[u8] = b"inkan issuer-derived secrets v1\0";

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("key_id", &self.id).finish_non_exhaustive()
    }
}

impl Issuer {
    /// A new random key, and its PKCS#8 document (to keep, or to drop for a throwaway key).
    pub fn generate(rng: &dyn SecureRandom) -> anyhow::Result<(Issuer, Vec<u8>)> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(rng).map_err(|_| anyhow::anyhow!("no randomness for a new key"))?;
        let issuer = Issuer::from_pkcs8(pkcs8.as_ref())?;
        Ok((issuer, pkcs8.as_ref().to_vec()))
    }

    /// A key from a PKCS#8 document (v1 as OpenSSL writes it, or v2 with the public key).
    pub fn from_pkcs8(der: &[u8]) -> anyhow::Result<Issuer> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 private key in PKCS#8 ({e})"))?;
        let key = IssuerKey::from_bytes(pair.public_key().as_ref()).context("an Ed25519 public key is 32 bytes")?;
        // Ed25519 signatures are deterministic: the same key gives the same root, whichever PKCS#8
        // form its file has.
        let root = ring::digest::digest(&ring::digest::SHA256, pair.sign(DERIVATION_MESSAGE).as_ref());
        let derived = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, root.as_ref());
        Ok(Issuer { id: key.id(), pair, key, derived })
    }

    /// A secret for one `purpose`, derived from the issuer key: the same for every instance that
    /// runs with the key, and unknown to whoever holds only the database. Used for keyed hashes
    /// (card fingerprints) and for the stand-ins of unknown wallets (`passkeys::decoy_challenge`).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let tag = ring::hmac::sign(&self.derived, purpose.as_bytes());
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&tag.as_ref()[..32]);
        secret
    }

    /// Reads the key file the operator points `serve` to.
    pub fn load(path: &Path) -> anyhow::Result<Issuer> {
        let shown = path.display();
        let metadata = std::fs::metadata(path).with_context(|| format!("reading the issuer key {shown}"))?;
        refuse_if_shared(path, &metadata)?;
        if metadata.len() > 16 * 1024 {
            bail!("the issuer key {shown} is too large to be a key");
        }
        let text = std::fs::read(path).with_context(|| format!("reading the issuer key {shown}"))?;
        let (label, der) = pem_rfc7468::decode_vec(&text)
            .map_err(|e| anyhow::anyhow!("the issuer key {shown} is not a PEM file ({e})"))?;
        if label != PEM_LABEL {
            bail!("the issuer key {shown} holds a \"{label}\", not a \"{PEM_LABEL}\"");
        }
        Issuer::from_pkcs8(&der).with_context(|| format!("the issuer key {shown}"))
    }

    /// Creates a new key in a new file at `path`, readable by its owner only; never overwrites.
    pub fn create_file(path: &Path, rng: &dyn SecureRandom) -> anyhow::Result<Issuer> {
        let (issuer, der) = Issuer::generate(rng)?;
        let pem = pem_rfc7468::encode_string(PEM_LABEL, pem_rfc7468::LineEnding::LF, &der)
            .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).with_context(|| {
            format!("creating {} (an existing key is never overwritten: choose another path)", path.display())
        })?;
        std::io::Write::write_all(&mut file, pem.as_bytes())?;
        file.sync_all()?;
        Ok(issuer)
    }

    pub fn key(&self) -> &IssuerKey {
        &self.key
    }

    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The signature on the head of `account_id`'s history at notice `seq` with chain hash `hash`.
    pub fn sign_head(&self, account_id: &str, seq: u64, hash: &[u8; 32]) -> HeadSignature {
        let signature = self.pair.sign(&head_message(account_id, seq, hash));
        HeadSignature { key_id: self.id.clone(), signature: Base64Url(signature.as_ref().to_vec()) }
    }

    /// What `GET /v1/issuer-keys` publishes.
    pub fn published(&self) -> IssuerKeys {
        IssuerKeys { keys: vec![IssuerKeyInfo::of(&self.key)] }
    }
}

#[cfg(unix)]
fn refuse_if_shared(path: &Path, metadata: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "the issuer key {} can be read by other users (mode {mode:o}): run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_if_shared(_: &Path, _: &std::fs::Metadata) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_file_loads_signs_and_is_never_overwritten_or_shared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.pem");
        let rng = ring::rand::SystemRandom::new();
        let created = Issuer::create_file(&path, &rng).unwrap();
        let loaded = Issuer::load(&path).unwrap();
        assert_eq!(created.key(), loaded.key());
        let hash = [9u8; 32];
        let signature = loaded.sign_head("acc_1", 4, &hash);
        assert_eq!(signature.key_id, created.key().id());
        assert!(created.key().signed_head("acc_1", 4, &hash, &signature.signature.0));
        assert!(!created.key().signed_head("acc_1", 5, &hash, &signature.signature.0));
        let again = Issuer::create_file(&path, &rng).unwrap_err().to_string();
        assert!(again.contains("never overwritten"), "{again}");
        assert_eq!(Issuer::load(&path).unwrap().key(), created.key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let shared = Issuer::load(&path).unwrap_err().to_string();
            assert!(shared.contains("chmod 600"), "{shared}");
        }
    }

    #[test]
    fn files_that_are_not_an_ed25519_key_are_refused_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            path
        };
        let cases: [(&str, &[u8], &str); 4] = [
            ("empty.pem", b"", "not a PEM file"),
            ("cert.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "CERTIFICATE"),
            ("junk.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not an Ed25519"),
            ("big.pem", &[b'A'; 20_000], "too large"),
        ];
        for (name, text, expected) in cases {
            let error = format!("{:#}", Issuer::load(&write(name, text)).unwrap_err());
            assert!(error.contains(expected), "{name}: {error}");
        }
        let missing = format!("{:#}", Issuer::load(&dir.path().join("none.pem")).unwrap_err());
        assert!(missing.contains("none.pem"), "{missing}");
    }
}
