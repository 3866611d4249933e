//! `inkan-bench`: what `cargo xtask bench` runs. See `docs/performance.md` for what each figure
//! means and how it is measured.
//!
//! - [`load`]: terminals and wallets doing the whole charge flow over HTTP, with feed timing.
//! - [`callgrind`]: the server's instructions per charge, counted under valgrind.
//! - [`ceiling`]: the per-charge cryptography of the server on every core (the ratio's divisor).
//! - [`codes`]: payment-code make / encode / render / decode timings.
//! - [`server`]: the real `inkan-server` binary as a child process; [`scrape`]: its metrics.
//! - [`verify`]: the ledger checked in the server's database after a run.
//! - [`report`], [`stats`], [`machine`]: the figures and how they are printed.

pub mod app;
pub mod callgrind;
pub mod ceiling;
pub mod codes;
pub mod load;
pub mod machine;
pub mod report;
pub mod scrape;
pub mod server;
pub mod stats;
pub mod verify;
