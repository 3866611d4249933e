//! Errors as the UI gets them: a code from one closed list, and an English sentence. The list (the
//! server's `ErrorCode` and this device's `DeviceErrorCode`) is exported to TypeScript
//! (`AppErrorCode` in `ui/src/bindings.ts`), where the Japanese and English tables are
//! `Record<AppErrorCode, …>`: a code added to either, here or in `inkan-api`, that they do not
//! word is a compile error there, not a shopper reading an English server message in a Japanese
//! app.

use inkan_api::ErrorCode;
use inkan_client::ClientError;
use inkan_client::key_signer::KeySignerError;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use ts_rs::TS;

/// What went wrong, for the UI to branch on and to word in the shopper's language: one of the
/// server's codes, under its own name, or one of this device's. On the wire both are a bare
/// string (`"limit_exceeded"`, `"unreachable"`); the two lists share no name (a test checks), so
/// a string reads back as what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(untagged)]
pub enum AppErrorCode {
    /// The server refused (`inkan_api::ErrorCode`).
    Server(ErrorCode),
    Device(DeviceErrorCode),
}

/// What this device itself could not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeviceErrorCode {
    /// The server could not be reached.
    Unreachable,
    /// The server answered something that is not Inkan's API.
    Protocol,
    /// The OS keystore (Secret Service, Keychain, Keystore) refused or is locked.
    Keystore,
    /// The passkey (software, security key or the phone's) failed.
    Passkey,
    /// The shopper cancelled the phone's biometric prompt.
    BiometricCancelled,
    /// The phone has no fingerprint or face enrolled.
    BiometricNotEnrolled,
    /// The phone has no biometric hardware the passkey can use.
    BiometricUnavailable,
    /// Biometrics changed on the phone, which switched the passkey off.
    PasskeyInvalidated,
    /// Too many biometric attempts: the phone wants its PIN first.
    BiometricLockout,
    /// The passkey's key is gone from the phone (app data cleared or reinstalled).
    PasskeyMissing,
    /// The phone's key store failed.
    KeyStoreFailed,
    /// The wallet's profile on this device could not be read or written.
    Profile,
    /// The profile names a device key that the keystore no longer holds.
    DeviceKeyMissing,
    /// The server's history no longer matches what this device verified.
    HistoryChanged,
    /// What the shopper typed cannot be sent (the server was not asked).
    InvalidInput,
    /// There is no wallet on this device yet.
    NoWallet,
    /// The history could not be exported to a file.
    Export,
    /// The payment code could not be drawn as a QR.
    Qr,
    /// A rejection that is not the app's: Tauri's own (an argument it could not read). Never sent
    /// by this crate; the UI names it when it gets a bare string.
    Unknown,
}

impl From<DeviceErrorCode> for AppErrorCode {
    fn from(code: DeviceErrorCode) -> AppErrorCode {
        AppErrorCode::Device(code)
    }
}

/// `error.code == DeviceErrorCode::NoWallet`, `error.code == ErrorCode::CardDeclined`.
impl PartialEq<DeviceErrorCode> for AppErrorCode {
    fn eq(&self, other: &DeviceErrorCode) -> bool {
        *self == AppErrorCode::Device(*other)
    }
}

impl PartialEq<ErrorCode> for AppErrorCode {
    fn eq(&self, other: &ErrorCode) -> bool {
        *self == AppErrorCode::Server(*other)
    }
}

impl From<&KeySignerError> for DeviceErrorCode {
    fn from(error: &KeySignerError) -> DeviceErrorCode {
        match error {
            KeySignerError::Cancelled => DeviceErrorCode::BiometricCancelled,
            KeySignerError::NotEnrolled => DeviceErrorCode::BiometricNotEnrolled,
            KeySignerError::NotAvailable { .. } => DeviceErrorCode::BiometricUnavailable,
            KeySignerError::KeyInvalidated => DeviceErrorCode::PasskeyInvalidated,
            KeySignerError::Lockout => DeviceErrorCode::BiometricLockout,
            KeySignerError::KeyMissing => DeviceErrorCode::PasskeyMissing,
            KeySignerError::Platform { .. } => DeviceErrorCode::KeyStoreFailed,
        }
    }
}

/// An error as the UI shows it: a stable code to branch on and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message} ({code:?})")]
pub struct AppError {
    pub code: AppErrorCode,
    pub message: String,
    /// After a failed try of a card's details, a passkey or a recovery code: one try is left
    /// before it is locked (the shopper is warned), or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tries_left: Option<u32>,
    /// When a lock of failed tries ends (RFC 3339), for a lock that ends on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub locked_until: Option<String>,
}

impl AppError {
    pub fn new(code: impl Into<AppErrorCode>, message: impl Into<String>) -> AppError {
        AppError { code: code.into(), message: message.into(), tries_left: None, locked_until: None }
    }

    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(DeviceErrorCode::InvalidInput, message)
    }

    pub fn no_wallet() -> AppError {
        AppError::new(DeviceErrorCode::NoWallet, "there is no wallet on this device yet: set one up first")
    }
}

impl From<ClientError> for AppError {
    fn from(e: ClientError) -> AppError {
        use DeviceErrorCode as D;
        let code = match &e {
            ClientError::Api { error, .. } => {
                let locked_until = error.locked_until.and_then(|at| at.format(&Rfc3339).ok());
                return AppError {
                    tries_left: error.tries_left,
                    locked_until,
                    ..AppError::new(AppErrorCode::Server(error.code), e.to_string())
                };
            }
            ClientError::Unreachable { .. } => D::Unreachable,
            ClientError::Protocol(_) => D::Protocol,
            ClientError::Keystore(_) => D::Keystore,
            ClientError::Authenticator(_) => D::Passkey,
            // `biometric_cancelled`, `passkey_invalidated`, …: each needs another answer on screen.
            ClientError::KeySigner(k) => k.into(),
            ClientError::NoProfile(_) | ClientError::Profile { .. } => D::Profile,
            ClientError::DeviceKeyMissing => D::DeviceKeyMissing,
            ClientError::HistoryChanged(_) => D::HistoryChanged,
            ClientError::Invalid(_) => D::InvalidInput,
        };
        AppError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of a unit-variant enum's values, as TypeScript sees them (`"a" | "b" | …`).
    fn names<T: TS>() -> Vec<String> {
        let declared = T::decl(&ts_rs::Config::new());
        let (_, union) = declared.split_once('=').unwrap();
        union.split('|').map(|name| name.trim().trim_end_matches(';').trim_matches('"').to_owned()).collect()
    }

    /// A code is a bare string, and reads back as the code it was: the server's under their own
    /// names, and no device code that the server also has (it would read back as the server's).
    #[test]
    fn every_code_is_a_bare_string_that_reads_back() {
        let server = names::<ErrorCode>();
        let device = names::<DeviceErrorCode>();
        assert!(server.len() >= 30 && device.len() >= 19, "{server:?} {device:?}");
        for name in server.iter().chain(&device) {
            let code: AppErrorCode = serde_json::from_value(name.as_str().into()).unwrap();
            assert_eq!(serde_json::to_value(code).unwrap(), name.as_str());
            let is_server = serde_json::from_value::<ErrorCode>(name.as_str().into()).is_ok();
            assert_eq!(matches!(code, AppErrorCode::Server(_)), is_server, "{name}");
            assert_eq!(is_server, server.contains(name), "{name} is both the server's and the device's");
        }
        assert!(serde_json::from_value::<AppErrorCode>("no_such_code".into()).is_err());
    }

    /// Each way the phone's key can fail needs its own answer on screen.
    #[test]
    fn every_key_signer_error_has_its_own_code() {
        let all = [
            KeySignerError::Cancelled,
            KeySignerError::NotEnrolled,
            KeySignerError::NotAvailable { detail: String::new() },
            KeySignerError::KeyInvalidated,
            KeySignerError::Lockout,
            KeySignerError::KeyMissing,
            KeySignerError::Platform { detail: String::new() },
        ];
        let codes: std::collections::HashSet<DeviceErrorCode> = all.iter().map(DeviceErrorCode::from).collect();
        assert_eq!(codes.len(), all.len());
    }
}
