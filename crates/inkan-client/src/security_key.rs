//! Passkeys on a FIDO2 security key over USB (feature `usb`): the key makes and keeps the
//! credential, and asks for its PIN or built-in biometric (user verification) and a touch on every
//! use. The prompts go to the terminal through `webauthn-authenticator-rs`'s CLI callback (touch
//! and progress on stderr, the PIN read from the terminal without echo).
//!
//! Building it needs Debian's `libudev-dev` and `libclang-dev`. On Linux the person needs access
//! to the key's `/dev/hidraw*` node (systemd 252 and later grant it for FIDO tokens).
//!
//! The USB transport sleeps on tokio's timer while the key waits for a touch, and the CTAP2 layer
//! blocks on its own futures. So the work runs in the context of a small private runtime whose
//! worker drives that timer, whatever runtime (or none) the caller is on.

use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::ctap2::CtapAuthenticator;
use webauthn_authenticator_rs::transport::Transport;
use webauthn_authenticator_rs::ui::Cli;
use webauthn_authenticator_rs::usb::{USBToken, USBTransport};
use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

use crate::authenticator::{Approval, Authenticator};
use crate::error::{ClientError, Result};

/// How long [`SecurityKey::find`] may take to list the keys and ask each what it supports. A key
/// that answers needs milliseconds; a device that never answers must not hang the wallet.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(10);

/// Touch, progress and PIN prompts on the terminal.
static UI: Cli = Cli {};

/// The private runtime (one worker, which drives the timer); made on first use, never dropped.
static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

fn runtime() -> Result<Handle> {
    let mut slot = RUNTIME.lock().map_err(|_| key_error("the security key's runtime is unusable"))?;
    if let Some(runtime) = slot.as_ref() {
        return Ok(runtime.handle().clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("inkan-security-key")
        .enable_time()
        .build()
        .map_err(|e| key_error(&format!("could not start the security key's runtime: {e}")))?;
    let handle = runtime.handle().clone();
    *slot = Some(runtime);
    Ok(handle)
}

fn key_error(message: &str) -> ClientError {
    ClientError::Authenticator(message.to_owned())
}

fn ceremony_error(e: impl std::fmt::Debug) -> ClientError {
    ClientError::Authenticator(format!("the security key refused or failed: {e:?}"))
}

const NONE_FOUND: &str = "no FIDO2 security key found: plug one in (on Linux you need access to its /dev/hidraw* \
     device), or for a demo or a test use the insecure software passkey (`--insecure-soft-passkey`, never for real money)";

/// A FIDO2 security key on USB, found by [`SecurityKey::find`].
pub struct SecurityKey {
    key: CtapAuthenticator<'static, USBToken, Cli>,
    runtime: Handle,
}

impl std::fmt::Debug for SecurityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityKey(usb)")
    }
}

impl SecurityKey {
    /// The one FIDO2 security key plugged in over USB. Gives up after [`FIND_TIMEOUT`].
    pub fn find() -> Result<SecurityKey> {
        let runtime = runtime()?;
        let (sender, receiver) = mpsc::channel();
        let worker = runtime.clone();
        // Its own thread, so that a device that never answers (reads on it block) cannot hang the
        // caller: after the timeout the thread is left to end when the device does.
        std::thread::Builder::new()
            .name("inkan-find-security-key".into())
            .spawn(move || {
                let found = worker.block_on(find_keys());
                // The caller may have given up already; nothing to do then.
                let _ = sender.send(found);
            })
            .map_err(|e| key_error(&format!("could not look for a security key: {e}")))?;
        let mut keys = match receiver.recv_timeout(FIND_TIMEOUT) {
            Ok(found) => found?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(key_error(&format!(
                    "no FIDO2 security key answered within {} s: unplug the key and plug it in again",
                    FIND_TIMEOUT.as_secs()
                )));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(key_error("looking for a security key failed")),
        };
        match (keys.pop(), keys.is_empty()) {
            (None, _) => Err(key_error(NONE_FOUND)),
            (Some(key), true) => Ok(SecurityKey { key, runtime }),
            (Some(_), false) => {
                Err(key_error("more than one FIDO2 security key is plugged in: leave only the one for this wallet"))
            }
        }
    }
}

/// Every USB HID device that speaks CTAP 2.
async fn find_keys() -> Result<Vec<CtapAuthenticator<'static, USBToken, Cli>>> {
    let transport = USBTransport::new().await.map_err(|e| key_error(&format!("cannot use USB devices: {e:?}")))?;
    let tokens = transport.tokens().await.map_err(|e| key_error(&format!("cannot list USB devices: {e:?}")))?;
    let mut keys = Vec::new();
    for token in tokens {
        // `None`: not a CTAP 2 authenticator (a U2F-only key, or not a FIDO device at all).
        if let Some(key) = CtapAuthenticator::new(token, &UI).await {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// What both authenticators here are, for [`Authenticator::describe`].
const DESCRIPTION: &str = "FIDO2 security key over USB";

impl Authenticator for SecurityKey {
    fn register(&mut self, origin: &Url, options: CreationChallengeResponse) -> Result<RegisterPublicKeyCredential> {
        let _context = self.runtime.enter();
        self.key.do_registration(origin.clone(), options).map_err(ceremony_error)
    }

    fn authenticate(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        _approval: &Approval,
    ) -> Result<PublicKeyCredential> {
        let _context = self.runtime.enter();
        self.key.do_authentication(origin.clone(), options).map_err(ceremony_error)
    }

    fn describe(&self) -> &'static str {
        DESCRIPTION
    }
}

/// A security key looked for only when a passkey is needed, so that a wallet opens (and shows
/// payment codes, which need no passkey) with the key unplugged.
#[derive(Debug, Default)]
pub struct SecurityKeyWhenNeeded {
    key: Option<SecurityKey>,
}

impl SecurityKeyWhenNeeded {
    fn key(&mut self) -> Result<&mut SecurityKey> {
        if self.key.is_none() {
            self.key = Some(SecurityKey::find()?);
        }
        self.key.as_mut().ok_or_else(|| key_error(NONE_FOUND))
    }
}

impl Authenticator for SecurityKeyWhenNeeded {
    fn register(&mut self, origin: &Url, options: CreationChallengeResponse) -> Result<RegisterPublicKeyCredential> {
        self.key()?.register(origin, options)
    }

    fn authenticate(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        approval: &Approval,
    ) -> Result<PublicKeyCredential> {
        self.key()?.authenticate(origin, options, approval)
    }

    fn describe(&self) -> &'static str {
        DESCRIPTION
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// No key is plugged into the machines the tests run on: finding one must fail at once, with
    /// words that say what to do.
    #[test]
    fn without_a_key_find_says_so_quickly() {
        let started = Instant::now();
        let err = SecurityKey::find().expect_err("no security key is plugged in where the tests run");
        let elapsed = started.elapsed();
        assert!(elapsed < FIND_TIMEOUT, "find took {elapsed:?}");
        let message = err.to_string();
        assert!(message.contains("no FIDO2 security key found: plug one in"), "{message}");
        assert!(matches!(err, ClientError::Authenticator(_)));
    }

    /// From inside an async runtime too (the wallet calls it from one), and again (the private
    /// runtime is made once and kept).
    #[tokio::test]
    async fn find_works_from_inside_a_runtime() {
        for _ in 0..2 {
            let err = SecurityKey::find().expect_err("no security key is plugged in where the tests run");
            assert!(err.to_string().contains("no FIDO2 security key found"), "{err}");
        }
    }
}
