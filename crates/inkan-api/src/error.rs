//! API errors: a stable machine code and a safe, human message.
//!
//! Clients branch on [`ErrorCode`], never on the message. Messages never carry internal details
//! (those go to the server log).

use serde::{Deserialize, Serialize};

/// The stable codes of the API. Adding one is backwards compatible; renaming one is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    PaymentCodeInvalid,
    PaymentCodeExpired,
    PaymentCodeUsed,
    LimitExceeded,
    InsufficientFunds,
    WalletFrozen,
    /// The operator has suspended charges (status 403): nothing was charged.
    ChargesSuspended,
    /// The operator has suspended top-ups and card registration (status 403).
    TopUpsSuspended,
    /// The operator has suspended new wallets and new devices (status 403).
    EnrolmentSuspended,
    /// The operator has put this account on hold (status 403): no payment, top-up or new device
    /// until the operator lifts it. The shopper cannot lift it.
    AccountHeld,
    RegionBlocked,
    Unauthorized,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    IdempotencyConflict,
    NotFound,
    /// The charge (or other object) is no longer in a state that allows this.
    InvalidState,
    /// The passkey assertion or attestation did not verify.
    PasskeyRejected,
    /// The action needs a fresh passkey confirmation (step-up).
    StepUpRequired,
    CeremonyExpired,
    CardDeclined,
    CardLocked,
    /// Too many failed tries of a passkey or a recovery code, for this wallet, this device or this
    /// address (status 403): locked until `locked_until`. Nothing was tried.
    AttemptsLocked,
    DeviceRevoked,
    /// This device's passkey may not lift the freeze (status 403): the device joined less than 72
    /// hours ago, or is the wallet's most recent one. A recovery code, or an older device, can.
    UnfreezeNotAllowed,
    /// Too many requests from this client: wait for `Retry-After` seconds (status 429).
    TooManyRequests,
    /// The request, or the sending of its body, took too long (status 408): nothing was kept.
    RequestTimeout,
    /// The server is at its limit of requests in flight, open live feeds and long-polls, or
    /// database connections: nothing was done; retry after `Retry-After` seconds (status 503).
    Overloaded,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// After a failed try of a secret (a card's details, a passkey, a recovery code): how many
    /// tries are left before it is locked, when that is one. The shopper is warned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
    /// A lock of failed tries that ends on its own: when. (A card's lock does not: it is lifted by
    /// the operator.)
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub locked_until: Option<time::OffsetDateTime>,
}

impl ApiError {
    /// An error with only its code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), tries_left: None, locked_until: None }
    }
}

/// `{"error": {"code": "...", "message": "..."}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ApiError,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}

impl std::error::Error for ApiError {}
