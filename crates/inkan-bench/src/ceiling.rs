//! The machine's ceiling for the server's per-charge cryptography: each charge costs one
//! payment-code verification (`PaymentCode::parse` + `UnverifiedPaymentCode::verify`, ring P-256)
//! and one WebAuthn assertion verification (webauthn-rs `finish_passkey_authentication`), the
//! same calls with the same relying-party setup as `inkan-server`. Measured on every core at once;
//! nothing else of a charge (HTTP, JSON, SQL, fsync) is counted, so no server can beat it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use inkan_core::payment_code::{DeviceKeyId, DevicePublicKey, DeviceSigningKey, PaymentCode};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey,
};
use serde::Serialize;
use time::OffsetDateTime;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::stats::count_f64;

/// The relying party the bench's server runs with (and the software passkeys claim).
pub const RP_ID: &str = "localhost";
pub const RP_ORIGIN: &str = "http://localhost:8080";

/// One charge's worth of server-side verification, ready to run again and again.
pub struct Fixture {
    code: String,
    public_key: DevicePublicKey,
    now: OffsetDateTime,
    webauthn: Webauthn,
    state: PasskeyAuthentication,
    credential: PublicKeyCredential,
    /// A bare P-256 signature over a code-sized message, with its public key: the unit of VE.
    bare: (Vec<u8>, Vec<u8>, Vec<u8>),
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fixture(..)")
    }
}

/// The relying party as `inkan-server` builds it (`AppState::new`).
pub fn webauthn() -> Result<Webauthn> {
    let origin = Url::parse(RP_ORIGIN)?;
    Ok(WebauthnBuilder::new(RP_ID, &origin)?.rp_name("Inkan").build()?)
}

impl Fixture {
    /// A device key and a payment code; a passkey registered with webauthn-rs and one assertion
    /// of it for a fresh challenge (what a shopper sends to confirm a charge).
    pub fn new() -> Result<Fixture> {
        let rng = SystemRandom::new();
        let now = OffsetDateTime::now_utc();
        let (key, _) = DeviceSigningKey::generate(&rng).map_err(|e| anyhow!("device key: {e}"))?;
        let key_id = DeviceKeyId::generate(&rng).map_err(|e| anyhow!("key id: {e}"))?;
        let code = PaymentCode::issue(&key, key_id, 1, now, time::Duration::seconds(60), &rng)
            .map_err(|e| anyhow!("payment code: {e}"))?
            .text();

        let webauthn = webauthn()?;
        let origin = Url::parse(RP_ORIGIN)?;
        let mut passkey = SoftPasskey::new(true);
        let (creation, registration) =
            webauthn.start_passkey_registration(uuid::Uuid::new_v4(), "bench", "bench", None)?;
        let registered =
            passkey.do_registration(origin.clone(), creation).map_err(|e| anyhow!("soft passkey: {e:?}"))?;
        let stored = webauthn.finish_passkey_registration(&registered, &registration)?;
        let (request, state) = webauthn.start_passkey_authentication(&[stored])?;
        let credential = passkey.do_authentication(origin, request).map_err(|e| anyhow!("soft passkey: {e:?}"))?;
        let bare = bare_signature(&rng)?;
        let fixture = Fixture { code, public_key: key.public_key(), now, webauthn, state, credential, bare };
        fixture.verify_code()?;
        fixture.verify_assertion()?;
        fixture.verify_p256()?;
        Ok(fixture)
    }

    pub fn verify_code(&self) -> Result<()> {
        let code = PaymentCode::parse(&self.code).map_err(|e| anyhow!("{e}"))?;
        code.verify(&self.public_key, self.now, None).map_err(|e| anyhow!("{e}"))?;
        Ok(())
    }

    /// One ring P-256 verification and nothing else: the unit of VE (verify-equivalents).
    pub fn verify_p256(&self) -> Result<()> {
        let (public_key, message, signature) = &self.bare;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
            .verify(message, signature)
            .map_err(|_| anyhow!("the bare P-256 signature does not verify"))
    }

    pub fn verify_assertion(&self) -> Result<()> {
        let result = self.webauthn.finish_passkey_authentication(&self.credential, &self.state)?;
        if !result.user_verified() {
            return Err(anyhow!("the assertion is not user-verified"));
        }
        Ok(())
    }
}

/// A fresh P-256 key signs a short message (one SHA-256 block, as a payment code's signed part is).
fn bare_signature(rng: &SystemRandom) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng)
        .map_err(|_| anyhow!("generating a P-256 key"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng)
        .map_err(|_| anyhow!("reading a P-256 key"))?;
    let message = vec![7_u8; 40];
    let signature = pair.sign(rng, &message).map_err(|_| anyhow!("signing with P-256"))?;
    Ok((pair.public_key().as_ref().to_vec(), message, signature.as_ref().to_vec()))
}

/// The ceiling, measured.
#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    /// Threads run at once (every core the OS gives this process).
    pub threads: usize,
    pub seconds: f64,
    /// One payment-code verification + one WebAuthn verification = one charge's crypto.
    pub charges_per_s: f64,
    /// Single-threaded cost of each verification, in microseconds.
    pub code_verify_us: f64,
    pub webauthn_verify_us: f64,
    /// One bare ring P-256 verification, single core: the unit of VE (since schema 5).
    pub p256_verify_us: f64,
}

fn per_op_us(iterations: u32, mut op: impl FnMut() -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    for _ in 0..iterations {
        op()?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations))
}

/// Runs the charge crypto on every core for `duration` and times each half alone on one.
pub fn measure(duration: Duration) -> Result<Ceiling> {
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let fixtures: Vec<Fixture> = (0..threads).map(|_| Fixture::new()).collect::<Result<_>>()?;
    let single = fixtures.first().context("no fixture")?;
    let code_verify_us = per_op_us(2000, || single.verify_code())?;
    let webauthn_verify_us = per_op_us(1000, || single.verify_assertion())?;
    let p256_verify_us = per_op_us(2000, || single.verify_p256())?;

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = fixtures
        .into_iter()
        .map(|fixture| {
            let (stop, done) = (stop.clone(), done.clone());
            std::thread::spawn(move || -> Result<()> {
                while !stop.load(Ordering::Relaxed) {
                    fixture.verify_code()?;
                    fixture.verify_assertion()?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.join().map_err(|_| anyhow!("a ceiling thread panicked"))??;
    }
    let seconds = start.elapsed().as_secs_f64();
    let pairs = usize::try_from(done.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
    Ok(Ceiling {
        threads,
        seconds,
        charges_per_s: count_f64(pairs) / seconds,
        code_verify_us,
        webauthn_verify_us,
        p256_verify_us,
    })
}
