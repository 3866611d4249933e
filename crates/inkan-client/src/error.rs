//! Errors a wallet device can meet, each with what a person can do about it.

use inkan_api::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the Inkan server at {url}: is it running, and is the address right?")]
    Unreachable { url: String, source: reqwest::Error },
    /// The server refused, with its stable code and safe message.
    #[error("{} ({})", .error.message, .error.code.as_str())]
    Api { status: u16, error: ApiError },
    #[error("the server's answer could not be understood: {0}")]
    Protocol(String),
    #[error(transparent)]
    Keystore(#[from] inkan_keystore::KeystoreError),
    #[error("the passkey could not be used: {0}")]
    Authenticator(String),
    /// The phone's biometric key refused or failed (cancelled, no biometric, invalidated, …).
    #[error(transparent)]
    KeySigner(#[from] crate::key_signer::KeySignerError),
    #[error("this wallet profile is not set up: {0}")]
    NoProfile(String),
    #[error("could not read or write the wallet profile {path}: {source}")]
    Profile { path: String, source: std::io::Error },
    #[error(
        "the device key is missing from the OS keystore: this device can no longer make payment codes; add it to the wallet again"
    )]
    DeviceKeyMissing,
    /// The history the server sends does not extend the one this device verified before: it was
    /// rewritten or cut short on the server.
    #[error("the history changed on the server: {0}. This device keeps what it verified; contact Inkan support")]
    HistoryChanged(#[from] inkan_core::history::HistoryChanged),
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    /// The server's code, when the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { error, .. } => Some(error.code),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
