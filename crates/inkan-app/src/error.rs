//! Errors as the UI gets them: a code from one closed list, and an English sentence. The list is
//! exported to TypeScript (`AppErrorCode` in `ui/src/bindings.ts`), where the Japanese and English
//! tables are `Record<AppErrorCode, …>`: a code added here that they do not word is a compile
//! error there, not a shopper reading an English server message in a Japanese app.

use inkan_api::ErrorCode;
use inkan_client::ClientError;
use inkan_client::key_signer::KeySignerError;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use ts_rs::TS;

/// What went wrong, for the UI to branch on and to word in the shopper's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AppErrorCode {
    // The server's refusals (`inkan_api::ErrorCode`), under the same names.
    PaymentCodeInvalid,
    PaymentCodeExpired,
    PaymentCodeUsed,
    LimitExceeded,
    InsufficientFunds,
    WalletFrozen,
    ChargesSuspended,
    TopUpsSuspended,
    EnrolmentSuspended,
    AccountHeld,
    RegionBlocked,
    Unauthorized,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    IdempotencyConflict,
    NotFound,
    InvalidState,
    PasskeyRejected,
    StepUpRequired,
    CeremonyExpired,
    CardDeclined,
    CardLocked,
    AttemptsLocked,
    DeviceRevoked,
    UnfreezeNotAllowed,
    TooManyRequests,
    RequestTimeout,
    Overloaded,
    Internal,
    // This device's own.
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

impl From<ErrorCode> for AppErrorCode {
    fn from(code: ErrorCode) -> AppErrorCode {
        use AppErrorCode as A;
        match code {
            ErrorCode::PaymentCodeInvalid => A::PaymentCodeInvalid,
            ErrorCode::PaymentCodeExpired => A::PaymentCodeExpired,
            ErrorCode::PaymentCodeUsed => A::PaymentCodeUsed,
            ErrorCode::LimitExceeded => A::LimitExceeded,
            ErrorCode::InsufficientFunds => A::InsufficientFunds,
            ErrorCode::WalletFrozen => A::WalletFrozen,
            ErrorCode::ChargesSuspended => A::ChargesSuspended,
            ErrorCode::TopUpsSuspended => A::TopUpsSuspended,
            ErrorCode::EnrolmentSuspended => A::EnrolmentSuspended,
            ErrorCode::AccountHeld => A::AccountHeld,
            ErrorCode::RegionBlocked => A::RegionBlocked,
            ErrorCode::Unauthorized => A::Unauthorized,
            ErrorCode::Forbidden => A::Forbidden,
            ErrorCode::InvalidRequest => A::InvalidRequest,
            ErrorCode::PayloadTooLarge => A::PayloadTooLarge,
            ErrorCode::IdempotencyConflict => A::IdempotencyConflict,
            ErrorCode::NotFound => A::NotFound,
            ErrorCode::InvalidState => A::InvalidState,
            ErrorCode::PasskeyRejected => A::PasskeyRejected,
            ErrorCode::StepUpRequired => A::StepUpRequired,
            ErrorCode::CeremonyExpired => A::CeremonyExpired,
            ErrorCode::CardDeclined => A::CardDeclined,
            ErrorCode::CardLocked => A::CardLocked,
            ErrorCode::AttemptsLocked => A::AttemptsLocked,
            ErrorCode::DeviceRevoked => A::DeviceRevoked,
            ErrorCode::UnfreezeNotAllowed => A::UnfreezeNotAllowed,
            ErrorCode::TooManyRequests => A::TooManyRequests,
            ErrorCode::RequestTimeout => A::RequestTimeout,
            ErrorCode::Overloaded => A::Overloaded,
            ErrorCode::Internal => A::Internal,
        }
    }
}

impl From<&KeySignerError> for AppErrorCode {
    fn from(error: &KeySignerError) -> AppErrorCode {
        match error {
            KeySignerError::Cancelled => AppErrorCode::BiometricCancelled,
            KeySignerError::NotEnrolled => AppErrorCode::BiometricNotEnrolled,
            KeySignerError::NotAvailable { .. } => AppErrorCode::BiometricUnavailable,
            KeySignerError::KeyInvalidated => AppErrorCode::PasskeyInvalidated,
            KeySignerError::Lockout => AppErrorCode::BiometricLockout,
            KeySignerError::KeyMissing => AppErrorCode::PasskeyMissing,
            KeySignerError::Platform { .. } => AppErrorCode::KeyStoreFailed,
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
    pub fn new(code: AppErrorCode, message: impl Into<String>) -> AppError {
        AppError { code, message: message.into(), tries_left: None, locked_until: None }
    }

    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(AppErrorCode::InvalidInput, message)
    }

    pub fn no_wallet() -> AppError {
        AppError::new(AppErrorCode::NoWallet, "there is no wallet on this device yet: set one up first")
    }
}

impl From<ClientError> for AppError {
    fn from(e: ClientError) -> AppError {
        use AppErrorCode as A;
        let code = match &e {
            ClientError::Api { error, .. } => {
                let locked_until = error.locked_until.and_then(|at| at.format(&Rfc3339).ok());
                return AppError {
                    tries_left: error.tries_left,
                    locked_until,
                    ..AppError::new(error.code.into(), e.to_string())
                };
            }
            ClientError::Unreachable { .. } => A::Unreachable,
            ClientError::Protocol(_) => A::Protocol,
            ClientError::Keystore(_) => A::Keystore,
            ClientError::Authenticator(_) => A::Passkey,
            // `biometric_cancelled`, `passkey_invalidated`, …: each needs another answer on screen.
            ClientError::KeySigner(k) => k.into(),
            ClientError::NoProfile(_) | ClientError::Profile { .. } => A::Profile,
            ClientError::DeviceKeyMissing => A::DeviceKeyMissing,
            ClientError::HistoryChanged(_) => A::HistoryChanged,
            ClientError::Invalid(_) => A::InvalidInput,
        };
        AppError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code, as TypeScript sees it (`"payment_code_invalid" | …`).
    fn every_code() -> Vec<String> {
        let declared = AppErrorCode::decl(&ts_rs::Config::new());
        let (_, union) = declared.split_once('=').unwrap();
        union.split('|').map(|name| name.trim().trim_end_matches(';').trim_matches('"').to_owned()).collect()
    }

    /// The server's codes reach the UI under the server's own names (the `From` match is what
    /// makes a new server code a compile error here).
    #[test]
    fn a_server_code_keeps_its_name() {
        let codes = every_code();
        assert!(codes.len() > 40 && codes.contains(&"unknown".to_owned()), "{codes:?}");
        let mut from_server = 0;
        for name in &codes {
            let ours: AppErrorCode = serde_json::from_value(name.as_str().into()).unwrap();
            if let Ok(server) = serde_json::from_value::<ErrorCode>(name.as_str().into()) {
                assert_eq!(AppErrorCode::from(server), ours, "{name}");
                from_server += 1;
            }
        }
        assert_eq!(from_server, 30, "the server has 30 codes; the app names {from_server} of them");
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
        let codes: std::collections::HashSet<AppErrorCode> = all.iter().map(AppErrorCode::from).collect();
        assert_eq!(codes.len(), all.len());
    }
}
