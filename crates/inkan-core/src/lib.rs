//! Inkan's domain, free of IO: money, payment codes, spending limits, charge states, and what a
//! device, its passkey and its sessions may do.
//!
//! Nothing in this crate reads the clock, the network, files or a database. Time comes in as a
//! `now` argument and randomness as a [`ring::rand::SecureRandom`], so every rule here is a pure
//! function that tests can drive to any instant without sleeping.

pub mod attempts;
pub mod cards;
pub mod charge;
pub mod closing;
pub mod device_binding;
pub mod freeze;
pub mod history;
pub mod limits;
pub mod money;
pub mod offline;
pub mod operator;
pub mod payment;
pub mod payment_code;
pub mod region;
pub mod risk;
pub mod session;
pub mod tally;
pub mod tokyo;
pub mod topup;

pub use charge::{ChargeEvent, ChargeStatus, InvalidTransition, Transition};
pub use limits::{LimitKind, LimitPolicy, LimitSettings, Spending};
pub use money::{Currency, Money, MoneyError};
pub use payment_code::{DeviceKeyId, PaymentCode, PaymentCodeError, ShownCode, VerifiedPaymentCode};
