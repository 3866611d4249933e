//! The process exit codes of `inkan-pos`, one per thing a cashier or a script must tell apart.
//!
//! They are part of the command's contract (scripts at a till branch on them) and are listed in
//! `--help` ([`HELP`]); change neither without the other.

use inkan_core::ChargeStatus;

/// The charge succeeded (for `refund` and `status`: the command did what it was asked).
pub const SUCCEEDED: u8 = 0;
/// Anything not listed below: an answer from the server this terminal does not understand, a
/// charge refunded while the terminal waited, a failure to start.
pub const OTHER: u8 = 1;
/// Wrong usage: bad flags (clap's own code) or a server URL that is not http(s).
pub const USAGE: u8 = 2;
/// The shopper declined the charge.
pub const DECLINED: u8 = 3;
/// The shopper did not confirm in time; the charge expired.
pub const EXPIRED: u8 = 4;
/// The server refused the request; its error code and message are printed.
pub const REFUSED: u8 = 5;
/// The image or text is not a usable payment code; nothing was sent.
pub const UNUSABLE_CODE: u8 = 6;
/// The server could not be reached or kept failing, or the charge's outcome is unknown.
pub const UNREACHABLE: u8 = 7;
/// The terminal key is missing, unreadable, readable by others, or was refused by the server.
pub const KEY: u8 = 8;

/// The exit code table as `--help` shows it.
pub const HELP: &str = "\
Exit codes:
  0  the charge succeeded (refund, status: done)
  1  another error (an answer the terminal does not understand, a charge refunded meanwhile)
  2  wrong usage (bad flags, a server URL that is not http or https)
  3  the shopper declined the charge
  4  the charge expired: the shopper did not confirm in time
  5  the server refused; its error code and message are printed (payment_code_used,
     payment_code_expired, limit_exceeded, insufficient_funds, wallet_frozen, not_found, ...)
  6  no usable payment code: no QR in the image, several QR codes, or not an Inkan payment
     code; nothing was sent
  7  the server could not be reached or kept failing, or the outcome is unknown (check it
     with `inkan-pos status CHARGE_ID`)
  8  the terminal key is missing, unreadable, readable by other users, or was refused";

/// The exit code of a charge that has reached this status.
pub fn for_status(status: ChargeStatus) -> u8 {
    match status {
        ChargeStatus::Succeeded => SUCCEEDED,
        ChargeStatus::Declined => DECLINED,
        ChargeStatus::Expired => EXPIRED,
        // Neither is an answer to "did the shopper pay?": still waiting (for the shopper or for
        // Inkan's review), or paid and given back.
        ChargeStatus::PendingConfirmation | ChargeStatus::HeldForReview => UNREACHABLE,
        ChargeStatus::Refunded => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_code_once() {
        for code in [SUCCEEDED, OTHER, USAGE, DECLINED, EXPIRED, REFUSED, UNUSABLE_CODE, UNREACHABLE, KEY] {
            assert_eq!(HELP.matches(&format!("\n  {code}  ")).count(), 1, "exit code {code}");
        }
    }
}
