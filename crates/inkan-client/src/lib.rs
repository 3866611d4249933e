//! What an Inkan wallet device does, without a UI. The headless wallet `inkan` and the Tauri app
//! are both thin shells over [`Wallet`].
//!
//! - [`api`]: the typed HTTP SDK of the wallet API, with the server's clock.
//! - [`device`]: the device's P-256 key, kept only in the OS keystore, and its payment codes.
//! - [`authenticator`]: passkeys behind one trait (a software passkey for demos and tests).
//! - `security_key` (feature `usb`): passkeys on a FIDO2 security key over USB.
//! - [`key_signer`]: a key in the phone's secure hardware that signs only after a biometric.
//! - [`platform_passkey`]: the phone's passkey, a WebAuthn authenticator built on such a key.
//! - [`profile`]: the non-secret state of a wallet on this device (which server, which account).
//! - [`feed`]: the live feed subscriber, which reconnects and resumes by itself.
//! - [`history`]: the history's checks (chain, the issuer's signatures) and its export file.
//! - [`wallet`]: the operations a person performs, combining the above.

pub mod api;
pub mod authenticator;
pub mod device;
pub mod error;
pub mod feed;
pub mod history;
pub mod key_signer;
pub mod platform_passkey;
pub mod profile;
#[cfg(feature = "usb")]
pub mod security_key;
pub mod wallet;

pub use error::ClientError;
pub use wallet::Wallet;
