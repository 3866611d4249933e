//! Why a terminal command failed, in terms a cashier can act on, and the exit code of each.

use std::path::PathBuf;

use inkan_api::{ApiError, ErrorCode};
use inkan_core::PaymentCodeError;

use crate::exit;

#[derive(Debug, thiserror::Error)]
pub enum PosError {
    #[error("the server URL {0} must start with http:// or https://")]
    ServerUrl(String),
    #[error("cannot set up the HTTP client: {0}")]
    HttpSetup(String),

    #[error("cannot read the image {path}: {source}")]
    ImageFile { path: PathBuf, source: std::io::Error },
    #[error("cannot read the payment code from standard input: {0}")]
    Stdin(std::io::Error),
    #[error("cannot use this image: {0}")]
    Image(inkan_qr::QrError),
    #[error("no QR code was found in the image: scan the shopper's screen again, closer and flat")]
    NoQrCode,
    #[error("a QR code was found but could not be read ({0}): scan again")]
    UnreadableQr(String),
    #[error("the image holds {0} different QR codes: scan only the shopper's payment code")]
    SeveralQrCodes(usize),
    #[error("this is not an Inkan payment code ({0}): ask the shopper to open the pay screen of the Inkan app")]
    NotAPaymentCode(PaymentCodeError),

    #[error("no terminal key: set INKAN_TERMINAL_KEY or pass --key-file PATH")]
    NoKey,
    #[error("cannot read the terminal key file {path}: {source}")]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error(
        "the terminal key file {path} can be read or changed by other users (mode {mode:03o}); \
         run `chmod 600 {path}` and try again",
        path = path.display()
    )]
    KeyFileExposed { path: PathBuf, mode: u32 },
    #[error("the terminal key from {origin} is empty or malformed (expected one line of printable ASCII)")]
    MalformedKey { origin: String },
    #[error("the terminal key was refused: ask the operator for a new one ({0})")]
    KeyRefused(ApiError),

    #[error("cannot reach the Inkan server at {server}: is it running? ({detail})")]
    Unreachable { server: String, detail: String },
    #[error("the connection to the Inkan server at {server} broke before it answered ({detail})")]
    ConnectionLost { server: String, detail: String },
    #[error("the Inkan server at {server} is failing (HTTP {status}{}); try again shortly", .error.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    ServerFailing { server: String, status: u16, error: Option<ApiError> },
    #[error("the server refused: {}: {}", .0.code.as_str(), .0.message)]
    Refused(ApiError),
    #[error("unexpected answer from the server (HTTP {status}): {detail}")]
    UnexpectedResponse { status: u16, detail: String },
    #[error(
        "no final answer for charge {charge_id} before it should have expired ({last_error}); \
         check it with `inkan-pos status {charge_id}`"
    )]
    OutcomeUnknown { charge_id: String, last_error: String },
}

impl PosError {
    /// The process exit code for this failure (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            PosError::ServerUrl(_) => exit::USAGE,
            PosError::HttpSetup(_) | PosError::UnexpectedResponse { .. } => exit::OTHER,
            PosError::ImageFile { .. }
            | PosError::Stdin(_)
            | PosError::Image(_)
            | PosError::NoQrCode
            | PosError::UnreadableQr(_)
            | PosError::SeveralQrCodes(_)
            | PosError::NotAPaymentCode(_) => exit::UNUSABLE_CODE,
            PosError::NoKey
            | PosError::KeyFile { .. }
            | PosError::KeyFileExposed { .. }
            | PosError::MalformedKey { .. }
            | PosError::KeyRefused(_) => exit::KEY,
            PosError::Unreachable { .. }
            | PosError::ConnectionLost { .. }
            | PosError::ServerFailing { .. }
            | PosError::OutcomeUnknown { .. } => exit::UNREACHABLE,
            PosError::Refused(_) => exit::REFUSED,
        }
    }

    /// The server's error code, when the server refused.
    pub fn api_code(&self) -> Option<ErrorCode> {
        match self {
            PosError::Refused(e) | PosError::KeyRefused(e) => Some(e.code),
            PosError::ServerFailing { error, .. } => error.as_ref().map(|e| e.code),
            _ => None,
        }
    }

    /// What the cashier should do next, when the message alone does not say.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self.api_code()? {
            ErrorCode::PaymentCodeUsed => "this code has already been used: ask the shopper to show a fresh one",
            ErrorCode::PaymentCodeExpired => "the code is too old: ask the shopper to show a fresh one",
            ErrorCode::PaymentCodeInvalid => "ask the shopper to reopen the pay screen and scan again",
            ErrorCode::LimitExceeded => "over the shopper's spending limit: ask for another way to pay",
            ErrorCode::InsufficientFunds => "the shopper's balance is too low: they can top up, or pay another way",
            ErrorCode::WalletFrozen => "the shopper's wallet is frozen: they must unfreeze it in the app first",
            ErrorCode::ChargesSuspended => "the operator has paused charges: take another way to pay",
            ErrorCode::AccountHeld => "Inkan has put the shopper's account on hold: take another way to pay",
            ErrorCode::RegionBlocked => {
                "this terminal is set up for a country Inkan does not serve: ask the operator to check its country"
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_show_the_servers_code_and_message() {
        let e = PosError::Refused(ApiError::new(ErrorCode::PaymentCodeUsed, "already used"));
        assert_eq!(e.to_string(), "the server refused: payment_code_used: already used");
        assert_eq!(e.exit_code(), exit::REFUSED);
        assert!(e.hint().is_some());
    }
}
