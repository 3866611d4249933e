//! The merchant terminal, as a library: read the shopper's payment code (typed or scanned from a
//! photo), charge it over the merchant API, wait for the shopper's passkey confirmation, and print
//! a receipt. `main.rs` only parses flags and calls [`run`]; tests call [`charge()`] directly.

pub mod charge;
pub mod cli;
pub mod client;
pub mod error;
pub mod exit;
pub mod key;
pub mod receipt;
mod run;
pub mod scan;

pub use charge::{ChargeRequest, CodeSource, Feedback, charge};
pub use client::{RetryPolicy, TerminalClient};
pub use error::PosError;
pub use key::TerminalKey;
pub use run::run;
